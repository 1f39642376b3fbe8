// The datapath guard: what actually ran for a row (its cells' recorded datapath, or for runs written
// before cells recorded one, the per-variant vhost/zero-copy state in run.json's environment), so
// the report gives no verdict between two variants that ran the same datapath, and says what else
// differs between two sides besides the variants' own knobs (vhost, zero-copy, QEMU's arguments).
import { CellRecord, LoadedRun } from "../bench/results";

export interface EffectiveDatapath {
  /** Where it was read: the cells' own records, or the run's environment. */
  source: "cells" | "environment";
  vhost: boolean | null;
  zeroCopy: boolean | null;
  /** Why vhost is as it is, e.g. "no /dev/vhost-net". */
  note: string | null;
  hostKernel: string | null;
  guestKernel: string | null;
  qemuCmdlineSha256: string | null;
  mtu: number | null;
  offloads: Record<string, boolean | string> | null;
  governor: string | null;
  qemu: string | null;
  /** The cells of the row disagree among themselves (the machine changed during the run). */
  mixed: boolean;
}

type Env = Record<string, any>;

/** The datapath of one row's cells; null when nothing about vhost was recorded. */
export function effectiveDatapath(run: LoadedRun, variant: string, cells: CellRecord[]): EffectiveDatapath | null {
  const env = run.record.environment as Env;
  const tuning = (env.tuning ?? {}) as Env;
  const common = {
    governor: typeof tuning.governor === "string" && tuning.governor !== "none" ? tuning.governor : null,
    qemu: typeof env.qemu === "string" ? env.qemu : null,
  };
  const recorded = cells.map((c) => c.datapath).filter((d) => d !== undefined);
  if (recorded.length) {
    const d = recorded[0]!;
    const mixed = recorded.some((x) => JSON.stringify(key(x)) !== JSON.stringify(key(d)));
    return { source: "cells", vhost: d.vhost, zeroCopy: d.zeroCopy, note: d.note ?? null, hostKernel: d.hostKernel, guestKernel: d.guestKernel, qemuCmdlineSha256: d.qemuCmdlineSha256, mtu: d.mtu, offloads: d.offloads, ...common, mixed };
  }
  const v = (env.variants ?? {})[variant] as Env | undefined;
  if (!v || typeof v !== "object") return null;
  const vhost = typeof v.vhost?.effective === "boolean" ? v.vhost.effective : null;
  const zeroCopy = typeof v.zeroCopy?.effective === "boolean" ? v.zeroCopy.effective : null;
  if (vhost === null && zeroCopy === null) return null;
  const hostKernel = env.kernels?.hosts?.[env.dut];
  const mtu = Number(env.nic?.mtu ?? tuning.mtu);
  return {
    source: "environment",
    vhost,
    zeroCopy,
    note: typeof v.vhost?.note === "string" ? v.vhost.note : null,
    hostKernel: typeof hostKernel === "string" ? hostKernel : null,
    guestKernel: typeof v.guestKernel === "string" ? v.guestKernel : null,
    qemuCmdlineSha256: null,
    mtu: Number.isFinite(mtu) && mtu > 0 ? mtu : null,
    offloads: tuning.offloads && typeof tuning.offloads === "object" && Object.keys(tuning.offloads).length ? tuning.offloads : null,
    ...common,
    mixed: false,
  };
}

function key(d: NonNullable<CellRecord["datapath"]>) {
  return [d.vhost, d.zeroCopy, d.hostKernel, d.guestKernel, d.qemuCmdlineSha256, d.mtu, d.offloads];
}

const same = (a: unknown, b: unknown) => a === null || b === null || JSON.stringify(a) === JSON.stringify(b);

/** In words: "vhost not effective, no /dev/vhost-net", "vhost effective, zero-copy not effective". */
export function describeDatapath(d: EffectiveDatapath): string {
  // The topology's note starts with what was asked ("vhost requested, but ..."); the reason is the rest.
  if (d.vhost === false) return `vhost not effective${d.note ? `, ${d.note.replace(/^vhost requested, but /, "")}` : ""}`;
  const vhost = d.vhost === true ? "vhost effective" : "vhost unknown";
  return `${vhost}, zero-copy ${d.zeroCopy === true ? "effective" : d.zeroCopy === false ? "not effective" : "unknown"}`;
}

export interface Guard {
  /** Both sides ran the same datapath: no verdict. */
  identical: boolean;
  /** "baseline and zerocopy ran the same datapath here: vhost not effective, no /dev/vhost-net" */
  reason?: string;
  /** What differs besides the variants' own knobs: "host kernel 6.1.0-a vs 6.1.0-b". */
  differences: string[];
}

/**
 * Compares two rows' datapaths. `kernelIsKnob`: in a series walk the kernel is what the variants
 * change, so the two sides are different builds by construction and kernels are not reported.
 * `sameVariant`: one variant in two runs (a regression check across days or revisions), where the
 * same datapath on both sides is the point of the comparison, not a reason to withhold a verdict.
 */
export function guard(aLabel: string, a: EffectiveDatapath | null, bLabel: string, b: EffectiveDatapath | null, kernelIsKnob: boolean, sameVariant = false): Guard {
  if (!a || !b) return { identical: false, differences: [] };
  const differences: string[] = [];
  const diff = (what: string, x: unknown, y: unknown) => {
    if (!same(x, y)) differences.push(`${what} ${show(x)} (${aLabel}) vs ${show(y)} (${bLabel})`);
  };
  if (!kernelIsKnob) {
    diff("host kernel", a.hostKernel, b.hostKernel);
    diff("guest kernel", a.guestKernel, b.guestKernel);
  }
  diff("MTU", a.mtu, b.mtu);
  diff("NIC offloads", a.offloads, b.offloads);
  diff("CPU governor", a.governor, b.governor);
  diff("QEMU", a.qemu, b.qemu);
  const knownVhost = a.vhost !== null && a.vhost === b.vhost;
  const zeroCopySame = a.vhost === false || (a.zeroCopy !== null && a.zeroCopy === b.zeroCopy);
  const identical =
    !kernelIsKnob && !sameVariant && knownVhost && zeroCopySame && same(a.qemuCmdlineSha256, b.qemuCmdlineSha256) && differences.length === 0 && !a.mixed && !b.mixed;
  return identical ? { identical, reason: `${aLabel} and ${bLabel} ran the same datapath here: ${describeDatapath(a)}`, differences } : { identical, differences };
}

function show(v: unknown): string {
  if (v && typeof v === "object")
    return Object.entries(v)
      .map(([k, x]) => `${k}=${x}`)
      .join(",");
  return String(v);
}
