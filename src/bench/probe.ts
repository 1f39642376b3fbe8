// roles/bench-probe.sh on the dut host over the bench's shared SSH session, and what its reads mean:
// the /proc sample, the tuning as found, and the datapath a cell actually ran on.
import { roleScript } from "../remote/roles";
import type { Datapath } from "./results";
import type { Exec, RunOpts } from "./session";

/** The part of an SSH session the probe needs (a fake in unit tests). */
export interface CommandRunner {
  run(command: string, opts?: RunOpts): Promise<Exec>;
}

function quote(s: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs `bench-probe.sh ACTION ARGS...` on the host, the role travelling as lib.sh + role on stdin. */
export function runProbe(host: CommandRunner, action: string, args: string[], opts: RunOpts = {}): Promise<Exec> {
  return host.run(`IXLAB_ROLE=bench-probe IXLAB_LIB_LOADED= bash -s -- ${[action, ...args].map(quote).join(" ")}`, { timeoutMs: 30_000, ...opts, input: roleScript("bench-probe") });
}

/** The `facts: {json}` line of a probe's output. */
export function probeFacts(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith("facts: "));
  if (!line) return undefined;
  try {
    return JSON.parse(line.slice(7)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export type { Datapath };

/**
 * A source of vhost-net zero-copy counters for one cell: started before the stream and read after
 * it. None is registered by default; where one is (setZeroCopyCounterProbe), each cell's datapath
 * gets `zeroCopyCounters`.
 */
export interface ZeroCopyCounterProbe {
  start(host: CommandRunner, qemuPid: number): Promise<void>;
  stop(host: CommandRunner, qemuPid: number): Promise<Datapath["zeroCopyCounters"]>;
}
let zeroCopyCounterProbe: ZeroCopyCounterProbe | undefined;
export function setZeroCopyCounterProbe(p: ZeroCopyCounterProbe | undefined): void {
  zeroCopyCounterProbe = p;
}
export function getZeroCopyCounterProbe(): ZeroCopyCounterProbe | undefined {
  return zeroCopyCounterProbe;
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The probe's datapath facts checked into the Datapath shape; a problem makes a note, never a guess. */
export function parseDatapath(stdout: string): Datapath {
  const f = probeFacts(stdout);
  if (!f) return { vhost: false, vhostWorkers: null, zeroCopy: null, hostKernel: null, guestKernel: null, qemuCmdlineSha256: null, mtu: null, offloads: null, note: `the datapath probe printed no facts: ${JSON.stringify(stdout.trim().slice(-200))}` };
  const offloads = f.offloads && typeof f.offloads === "object" ? Object.fromEntries(Object.entries(f.offloads as Record<string, unknown>).filter(([, v]) => typeof v === "boolean")) as Record<string, boolean> : null;
  const d: Datapath = {
    vhost: f.vhost === true,
    vhostWorkers: Array.isArray(f.vhostWorkers) ? (f.vhostWorkers as unknown[]).filter(isNum) : null,
    zeroCopy: typeof f.zeroCopy === "boolean" ? f.zeroCopy : null,
    hostKernel: typeof f.hostKernel === "string" && f.hostKernel ? f.hostKernel : null,
    guestKernel: typeof f.guestKernel === "string" && f.guestKernel ? f.guestKernel : null,
    qemuCmdlineSha256: typeof f.qemuCmdlineSha256 === "string" && /^[0-9a-f]{64}$/.test(f.qemuCmdlineSha256) ? f.qemuCmdlineSha256 : null,
    mtu: isNum(f.mtu) ? f.mtu : null,
    offloads,
  };
  if (typeof f.note === "string" && f.note) d.note = f.note;
  if (typeof f.irqDevice === "string" && f.irqDevice) d.irqDevice = f.irqDevice;
  return d;
}

/** Reads the datapath on the dut host (and the guest's kernel, from the guest). */
export async function readDatapath(host: CommandRunner, nic: string, qemuPid: number, signal?: AbortSignal): Promise<Datapath> {
  const r = await runProbe(host, "datapath", ["--nic", nic, "--qemu-pid", String(qemuPid)], { signal });
  const d = parseDatapath(r.stdout);
  if (r.code !== 0) d.note = [d.note, `datapath probe exited ${r.code}: ${r.stderr.trim().split("\n").pop() ?? ""}`].filter(Boolean).join("; ");
  return d;
}

/** What the variants ask for, as the topology lists them. */
export interface VariantAsk {
  name: string;
  vhost?: boolean;
  zeroCopy?: boolean;
  hostKernel?: string;
  moduleParams?: Record<string, Record<string, unknown>>;
}

/**
 * Why the variants to compare cannot differ on this lab, as warnings before the run: what tells
 * them apart (vhost, zero-copy, a host kernel) and what the dut host has (probed datapath) and the
 * lab is (a sim installs no host kernel). A series walk differs in its guest kernel and is not judged.
 */
export function indistinguishable(asks: VariantAsk[], host: { vhostDevice: boolean; zeroCopyParam: boolean }, sim: boolean): string[] {
  if (asks.length < 2) return [];
  const knobs = (v: VariantAsk) => ({
    vhost: host.vhostDevice ? v.vhost !== false : false,
    zeroCopy: host.vhostDevice && host.zeroCopyParam && v.vhost !== false ? v.zeroCopy === true : false,
    hostKernel: sim ? null : v.hostKernel ?? null,
    params: JSON.stringify(Object.fromEntries(Object.entries(v.moduleParams ?? {}).filter(([m]) => m !== "vhost_net" || (host.vhostDevice && host.zeroCopyParam)))),
  });
  const first = JSON.stringify(knobs(asks[0]));
  if (asks.every((v) => JSON.stringify(knobs(v)) === first)) {
    const why = [
      !host.vhostDevice ? "no /dev/vhost-net on the dut host, so vhost and zero-copy are not in effect for any of them" : !host.zeroCopyParam ? "vhost_net has no experimental_zcopytx parameter here" : "",
      sim && asks.some((v) => v.hostKernel) ? "a sim lab installs no host kernel" : "",
    ].filter(Boolean);
    return [`variants ${asks.map((v) => v.name).join(", ")} cannot differ on this lab: ${why.join("; ") || "they ask for the same datapath"}; their figures will differ only by noise`];
  }
  return [];
}
