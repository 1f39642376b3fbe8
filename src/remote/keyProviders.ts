// Behaviour behind the SshKeyPair, HostKeyPin and BmcPassword resources (infra/resources/dynamic.ts).
import { randomBytes } from "node:crypto";
import { generateKeyPair, pinHostKey } from "./keys";
import { Target } from "./roles";

export interface KeyPairProps {
  comment: string;
}

export async function createKeyPair(p: KeyPairProps) {
  const pair = generateKeyPair(p.comment);
  return { id: `key:${p.comment}`, outs: { ...p, ...pair } };
}

export interface PinProps {
  target: Extract<Target, { kind: "ssh" }>;
  privateKey: string;
  /** Values whose change re-pins (a re-created sim host has a new host key). */
  triggers?: string[];
}

export async function createPin(p: PinProps) {
  const hostKey = await pinHostKey(p.target, p.privateKey);
  return { id: `pin:${p.target.host}`, outs: JSON.parse(JSON.stringify({ ...p, hostKey })) as PinProps & { hostKey: string } };
}

export async function diffPin(olds: PinProps, news: PinProps) {
  const replaces = (["target", "triggers"] as const).filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
  // A new lab key needs no new pin; it is checked at the next login.
  return { changes: replaces.length > 0 || olds.privateKey !== news.privateKey, replaces };
}

export interface PasswordProps {
  /** What the password is for, e.g. "BMC of vmlab host dut": its identity, and where it is used. */
  passwordFor: string;
}

/**
 * 16 characters, 96 random bits, none that needs quoting anywhere. IPMI 2.0 allows 20, but ipmi_sim
 * (the VM lab's BMC) opens no session with a password longer than 16: it takes it, then every
 * ipmitool login fails.
 */
export function newPassword(): string {
  return randomBytes(12).toString("base64").replace(/\//g, "_").replace(/\+/g, "-");
}

export async function createPassword(p: PasswordProps) {
  return { id: `password:${p.passwordFor}`, outs: { ...p, password: newPassword() } };
}
