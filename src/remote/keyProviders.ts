// Behaviour behind the SshKeyPair and HostKeyPin resources (infra/resources/keys.ts).
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
