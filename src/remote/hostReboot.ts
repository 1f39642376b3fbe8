// Watching a host reboot from the outside, over SSH: it goes away, then answers again with a new
// boot id (/proc/sys/kernel/random/boot_id changes at every boot, kexec included), or a timeout says
// how long we waited and what we last saw.
import { Credentials, runRemote, SSH_FAILED, Target } from "./roles";

type SshTarget = Extract<Target, { kind: "ssh" }>;

export interface Probe {
  /** The host answered SSH and ran the command. */
  up: boolean;
  bootId?: string;
  /** Why not, when it did not (ssh's last line). */
  error?: string;
}

export interface WaitOptions {
  timeoutSeconds: number;
  /** Between probes (a probe itself may take up to ssh's ConnectTimeout, 10 s). */
  pollMs?: number;
  /** For tests: the probe to use. */
  probe?: (t: SshTarget, c: Credentials) => Promise<Probe>;
}

export async function probeHost(target: SshTarget, creds: Credentials): Promise<Probe> {
  const r = await runRemote(target, creds, "cat /proc/sys/kernel/random/boot_id");
  if (r.code === 0) return { up: true, bootId: r.stdout.trim() };
  return { up: false, error: r.code === SSH_FAILED ? r.stderr.trim().split("\n").pop() || "ssh exited 255" : `exit ${r.code}: ${r.stderr.trim()}` };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until SSH stops answering, or answers with a boot id other than `oldBootId` (a fast reboot
 * seen only afterwards). Resolves "down", "rebooted" or "timeout".
 */
export async function waitForSshDown(target: SshTarget, creds: Credentials, oldBootId: string | undefined, o: WaitOptions): Promise<{ result: "down" | "rebooted" | "timeout"; seconds: number; last?: Probe }> {
  const probe = o.probe ?? probeHost;
  const start = Date.now();
  let last: Probe | undefined;
  while ((Date.now() - start) / 1000 < o.timeoutSeconds) {
    last = await probe(target, creds);
    const seconds = (Date.now() - start) / 1000;
    if (!last.up) return { result: "down", seconds, last };
    if (oldBootId && last.bootId && last.bootId !== oldBootId) return { result: "rebooted", seconds, last };
    await sleep(o.pollMs ?? 2000);
  }
  return { result: "timeout", seconds: (Date.now() - start) / 1000, last };
}

/**
 * Waits until SSH answers again (with a boot id other than `oldBootId`, when given). `ok: false`
 * after the timeout, with the last thing seen.
 */
export async function waitForSshUp(target: SshTarget, creds: Credentials, oldBootId: string | undefined, o: WaitOptions): Promise<{ ok: boolean; seconds: number; bootId?: string; last?: Probe }> {
  const probe = o.probe ?? probeHost;
  const start = Date.now();
  let last: Probe | undefined;
  while ((Date.now() - start) / 1000 < o.timeoutSeconds) {
    last = await probe(target, creds);
    if (last.up && (!oldBootId || last.bootId !== oldBootId)) return { ok: true, seconds: (Date.now() - start) / 1000, bootId: last.bootId, last };
    await sleep(o.pollMs ?? 2000);
  }
  return { ok: false, seconds: (Date.now() - start) / 1000, last };
}

/** One line for an error: what the last probe saw. */
export function describeProbe(p: Probe | undefined, oldBootId?: string): string {
  if (!p) return "no probe finished";
  if (!p.up) return `SSH: ${p.error}`;
  return p.bootId === oldBootId ? `SSH answers with the same boot id ${p.bootId} (no reboot happened)` : `SSH answers, boot id ${p.bootId}`;
}
