// The zero-copy proof of a bench cell: roles/zerocopy-probe.sh reads the kernel's kprobe hit counters
// of vhost-net's zero-copy send (handle_tx_zerocopy), copying send (handle_tx_copy) and zero-copy
// completion (vhost_zerocopy_callback) on the dut host before and after the stream; the cell records
// the difference as datapath.zeroCopyCounters. The counters are cumulative since the probes were made,
// so a reboot in between (new boot id) or counters that went back are refused, never guessed at.
import { Credentials, describeFailure, parseRoleOutput, roleScript, runRole, Target } from "./roles";

export const ZERO_COPY_COUNTERS = ["sends", "copies", "completions"] as const;
export type ZeroCopyCounter = (typeof ZERO_COPY_COUNTERS)[number];

export interface ZeroCopyCounters {
  sends: number;
  copies: number;
  completions: number;
}

export interface ProbeCounter {
  /** The function the probe sits on, as kprobe_events names it (vhost_net:handle_tx_copy). */
  symbol: string;
  hits: number;
  misses: number;
}

export type ZeroCopyReading =
  | { available: true; bootId: string; zcopytx: 0 | 1 | null; probes: Record<ZeroCopyCounter, ProbeCounter> }
  | { available: false; reason: string };

export class ZeroCopyProbeError extends Error {}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** One reading from the role's facts (a `read` or `start`); `where` names it in errors. */
export function parseZeroCopyReading(facts: unknown, where: string): ZeroCopyReading {
  const bad = (what: string): never => {
    throw new ZeroCopyProbeError(`${where}: ${what}`);
  };
  if (typeof facts !== "object" || facts === null) bad("expected the zerocopy-probe facts object, got " + JSON.stringify(facts));
  const f = facts as Record<string, unknown>;
  if (f.available === false) {
    if (typeof f.reason !== "string" || !f.reason) bad("available is false but no reason is given");
    return { available: false, reason: f.reason as string };
  }
  if (f.available !== true) bad(`available: expected true or false, got ${JSON.stringify(f.available)}`);
  if (typeof f.bootId !== "string" || !/^[0-9a-f-]{36}$/.test(f.bootId)) bad(`bootId: expected a boot id, got ${JSON.stringify(f.bootId)}`);
  if (!(f.zcopytx === 0 || f.zcopytx === 1 || f.zcopytx === null)) bad(`zcopytx: expected 0, 1 or null, got ${JSON.stringify(f.zcopytx)}`);
  const probes = f.probes as Record<string, unknown> | undefined;
  if (typeof probes !== "object" || probes === null) bad("probes: expected an object");
  const out = {} as Record<ZeroCopyCounter, ProbeCounter>;
  for (const c of ZERO_COPY_COUNTERS) {
    const p = (probes as Record<string, unknown>)[c] as Record<string, unknown> | null | undefined;
    if (!p) bad(`probes.${c}: missing (the probe is not in kprobe_profile; run zerocopy-probe start)`);
    const q = p as Record<string, unknown>;
    if (typeof q.symbol !== "string" || !q.symbol) bad(`probes.${c}.symbol: expected a function name`);
    if (!isCount(q.hits)) bad(`probes.${c}.hits: expected a count, got ${JSON.stringify(q.hits)}`);
    if (!isCount(q.misses)) bad(`probes.${c}.misses: expected a count, got ${JSON.stringify(q.misses)}`);
    out[c] = { symbol: q.symbol as string, hits: q.hits as number, misses: q.misses as number };
  }
  return { available: true, bootId: f.bootId as string, zcopytx: f.zcopytx as 0 | 1 | null, probes: out };
}

/**
 * What happened between two readings: null when the host cannot count (the reason is in the
 * readings). Refuses a reboot or a probe re-made in between, and missed hits (kprobe_profile's
 * second column: the kernel could not run the handler, so the count would be low).
 */
export function zeroCopyCounters(before: ZeroCopyReading, after: ZeroCopyReading, where: string): ZeroCopyCounters | null {
  if (!before.available || !after.available) return null;
  if (before.bootId !== after.bootId) throw new ZeroCopyProbeError(`${where}: the host rebooted between the two readings (boot id ${before.bootId} then ${after.bootId}); the counters cannot be compared`);
  const out = {} as ZeroCopyCounters;
  for (const c of ZERO_COPY_COUNTERS) {
    const a = before.probes[c];
    const b = after.probes[c];
    if (a.symbol !== b.symbol) throw new ZeroCopyProbeError(`${where}: the ${c} probe moved from ${a.symbol} to ${b.symbol} between the readings`);
    if (b.hits < a.hits) throw new ZeroCopyProbeError(`${where}: the ${c} counter went back from ${a.hits} to ${b.hits} (probe re-made?)`);
    if (b.misses > a.misses) throw new ZeroCopyProbeError(`${where}: ${b.misses - a.misses} ${c} hit(s) were missed by the kernel; the count is not exact`);
    out[c] = b.hits - a.hits;
  }
  return out;
}

/** Whether the counters show zero-copy at work: zero-copy sends, and completions of them. */
export function zeroCopyRan(c: ZeroCopyCounters): boolean {
  return c.sends > 0 && c.completions > 0;
}

type SshTarget = Extract<Target, { kind: "ssh" }>;

/** Runs the role (start, read or stop) on the dut host and returns its reading (stop: undefined). */
export async function zeroCopyProbe(target: SshTarget, creds: Credentials, action: "start" | "read" | "stop"): Promise<ZeroCopyReading | undefined> {
  const r = await runRole(target, creds, "zerocopy-probe", action, []);
  if (r.code !== 0) throw new ZeroCopyProbeError(describeFailure(target, "zerocopy-probe", action, r));
  if (action === "stop") return undefined;
  return parseZeroCopyReading(r.facts, `host ${target.host}: zerocopy-probe ${action}`);
}

/** The part of the bench's SSH session (src/bench/session.ts) the probe needs. */
export interface ProbeSession {
  run(command: string, opts?: { input?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
}

async function sessionReading(host: ProbeSession, action: "start" | "read"): Promise<ZeroCopyReading> {
  const r = await host.run(`IXLAB_ROLE=zerocopy-probe IXLAB_LIB_LOADED= bash -s -- ${action}`, { input: roleScript("zerocopy-probe"), timeoutMs: 30_000 });
  if (r.code !== 0) throw new ZeroCopyProbeError(`zerocopy-probe ${action} exited ${r.code}: ${r.stderr.trim().split("\n").pop() ?? ""}`);
  return parseZeroCopyReading(parseRoleOutput(r.stdout).facts, `zerocopy-probe ${action}`);
}

/**
 * The bench's ZeroCopyCounterProbe (src/bench/probe.ts: start before the stream, stop after it,
 * giving datapath.zeroCopyCounters), over the bench's SSH session to the dut host. Register it with
 * setZeroCopyCounterProbe(vhostZeroCopyCounterProbe()). Counters are null where the host cannot
 * count (no vhost_net, a sim host); a failed read is an error of the cell, never a guessed count.
 */
export function vhostZeroCopyCounterProbe(): { start(host: ProbeSession, qemuPid: number): Promise<void>; stop(host: ProbeSession, qemuPid: number): Promise<ZeroCopyCounters | null> } {
  const before = new Map<ProbeSession, ZeroCopyReading>();
  return {
    async start(host) {
      before.set(host, await sessionReading(host, "start"));
    },
    async stop(host, qemuPid) {
      const first = before.get(host);
      before.delete(host);
      if (!first) throw new ZeroCopyProbeError("zerocopy-probe: stop without start");
      return zeroCopyCounters(first, await sessionReading(host, "read"), `zero-copy counters of the guest of QEMU ${qemuPid}`);
    },
  };
}
