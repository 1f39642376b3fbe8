// The dut host's CPU and interrupt counters: parsers for /proc/PID/task/TID/stat, /proc/stat and
// /proc/interrupts, the sample roles/bench-probe.sh sample prints, and the rates between two samples.
// CPU is given in percent of one CPU (a process busy on two CPUs shows 200%), like the reference.

export interface TaskStat {
  /** The process (thread group) the thread belongs to, from the path /proc/PID/task/TID/stat. */
  pid: number;
  tid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Clock ticks (CLK_TCK per second) spent in user and kernel mode. */
  utime: number;
  stime: number;
  /** Clock ticks after boot when the thread started; with tid it names a thread across samples. */
  starttime: number;
}

export class ProcParseError extends Error {}

/**
 * One line of /proc/PID/task/TID/stat. The name (comm) can hold spaces and parentheses, so it is
 * everything between the first "(" and the last ")"; the numbered fields follow that last ")".
 */
export function parseTaskStat(line: string, pid?: number): TaskStat {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) throw new ProcParseError(`not a stat line (no "(comm)"): ${JSON.stringify(line.slice(0, 80))}`);
  const tid = Number(line.slice(0, open).trim());
  const f = line.slice(close + 1).trim().split(/\s+/);
  // f[0] is field 3 (state) of proc(5), so field k is f[k - 3].
  const num = (k: number) => {
    const v = Number(f[k - 3]);
    if (!Number.isFinite(v)) throw new ProcParseError(`stat field ${k} is not a number in ${JSON.stringify(line.slice(0, 80))}`);
    return v;
  };
  if (!Number.isInteger(tid)) throw new ProcParseError(`not a stat line (no thread id): ${JSON.stringify(line.slice(0, 80))}`);
  return { pid: pid ?? tid, tid, comm: line.slice(open + 1, close), state: f[0], ppid: num(4), utime: num(14), stime: num(15), starttime: num(22) };
}

export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  /** Time running guests; already counted in user (and guestNice in nice). */
  guest: number;
  guestNice: number;
}

export interface ProcStat {
  /** The "cpu" line: all CPUs together. */
  total: CpuTimes;
  /** The "cpuN" lines, by N. */
  cpus: CpuTimes[];
}

const CPU_FIELDS: (keyof CpuTimes)[] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guestNice"];

export function parseProcStat(text: string): ProcStat {
  let total: CpuTimes | undefined;
  const cpus: CpuTimes[] = [];
  for (const line of text.split("\n")) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].trim().split(/\s+/).map(Number);
    const t = Object.fromEntries(CPU_FIELDS.map((k, i) => [k, v[i] ?? 0])) as unknown as CpuTimes;
    if (m[1] === "") total = t;
    else cpus[Number(m[1])] = t;
  }
  if (!total) throw new ProcParseError('no "cpu" line in /proc/stat');
  return { total, cpus };
}

export interface IrqLine {
  /** The IRQ number, or the name of an architecture counter (LOC, RES, ...). */
  irq: string;
  /** Count per CPU column. */
  counts: number[];
  total: number;
  /** Everything after the counts: chip, hardware IRQ and trigger, then the handlers' names. */
  description: string;
}

export interface Interrupts {
  cpus: string[];
  lines: IrqLine[];
}

export function parseInterrupts(text: string): Interrupts {
  const rows = text.split("\n");
  const header = rows.findIndex((l) => /^\s*CPU\d+/.test(l));
  if (header < 0) throw new ProcParseError("no CPU header line in /proc/interrupts");
  const cpus = rows[header].trim().split(/\s+/);
  const lines: IrqLine[] = [];
  for (const row of rows.slice(header + 1)) {
    const m = /^\s*([^:\s]+):(.*)$/.exec(row);
    if (!m) continue;
    const rest = m[2].trim().split(/\s+/);
    const counts: number[] = [];
    // Lines like ERR and MIS have one count, not one per CPU.
    while (counts.length < cpus.length && rest.length && /^\d+$/.test(rest[0])) counts.push(Number(rest.shift()));
    lines.push({ irq: m[1], counts, total: counts.reduce((a, b) => a + b, 0), description: rest.join(" ") });
  }
  return { cpus, lines };
}

/**
 * The interrupt lines of a NIC's queues: numbered IRQs whose description contains `match` (a
 * substring such as "eth1-TxRx", "eth1" or a PCI address, or a regular expression).
 */
export function nicIrqLines(interrupts: Interrupts, match: string | RegExp): IrqLine[] {
  const hit = typeof match === "string" ? (d: string) => d.includes(match) : (d: string) => match.test(d);
  return interrupts.lines.filter((l) => /^\d+$/.test(l.irq) && hit(l.description));
}

/**
 * What picks a test NIC's queue interrupts out of /proc/interrupts, from what they are named after
 * (the datapath probe's irqDevice): a virtio-net NIC's are its virtio device's input and output
 * queues (virtio2-input.0, not its config interrupt); other drivers' carry the NIC's name.
 */
export function nicIrqMatch(irqDevice: string): string | RegExp {
  return /^virtio\d+$/.test(irqDevice) ? new RegExp(`\\b${irqDevice}-(input|output)\\.\\d+$`) : irqDevice;
}

export interface ProcSample {
  clkTck: number;
  /** Seconds since boot (/proc/uptime) when the sample was taken. */
  uptime: number;
  tasks: TaskStat[];
  stat: ProcStat;
  interrupts: Interrupts;
  /** KVM exits since boot (debugfs), where the host exposes them. */
  kvmExits?: number;
}

/** Parses the output of roles/bench-probe.sh sample. */
export function parseProcSample(text: string): ProcSample {
  const lines = text.split("\n");
  if (lines[0] !== "ixlab-procsample 1") throw new ProcParseError(`not an ixlab /proc sample (first line ${JSON.stringify(lines[0])}, expected "ixlab-procsample 1")`);
  const clk = /^clk_tck (\d+)$/.exec(lines[1] ?? "");
  if (!clk) throw new ProcParseError('sample has no "clk_tck N" line');
  const sections: Record<string, string[]> = {};
  let current: string[] | undefined;
  for (const line of lines.slice(2)) {
    const m = /^== (\S+)$/.exec(line);
    if (m) sections[m[1]] = current = [];
    else current?.push(line);
  }
  for (const s of ["uptime", "tasks", "stat", "interrupts", "end"])
    if (!sections[s]) throw new ProcParseError(`sample has no "== ${s}" section${s === "end" ? " (cut short)" : ""}`);
  const uptime = Number((sections.uptime[0] ?? "").split(/\s+/)[0]);
  if (!Number.isFinite(uptime) || uptime <= 0) throw new ProcParseError(`bad uptime ${JSON.stringify(sections.uptime[0])}`);
  const tasks: TaskStat[] = [];
  for (const line of sections.tasks) {
    // The path has no ":" and is printed by grep -H; the comm after it may contain anything.
    const m = /^\/proc\/(\d+)\/task\/\d+\/stat:(.*)$/.exec(line);
    if (m) tasks.push(parseTaskStat(m[2], Number(m[1])));
  }
  const kvm = (sections["kvm-exits"] ?? []).find((l) => /^\d+$/.test(l.trim()));
  return {
    clkTck: Number(clk[1]),
    uptime,
    tasks,
    stat: parseProcStat(sections.stat.join("\n")),
    interrupts: parseInterrupts(sections.interrupts.join("\n")),
    ...(kvm !== undefined ? { kvmExits: Number(kvm) } : {}),
  };
}

/** The vhost workers serving qemu process `qemuPid`: kthreads before Linux 6.4, qemu threads since. */
export function vhostWorkerThreads(sample: ProcSample, qemuPid: number): TaskStat[] {
  return sample.tasks.filter((t) => t.comm === `vhost-${qemuPid}`);
}

/** Which vhost layout a sample shows: "kthread" (Linux < 6.4), "qemu-thread" (6.4+), or "none". */
export function vhostLayout(sample: ProcSample, qemuPid: number): "kthread" | "qemu-thread" | "none" {
  const w = vhostWorkerThreads(sample, qemuPid);
  if (w.length === 0) return "none";
  return w.some((t) => t.pid === qemuPid) ? "qemu-thread" : "kthread";
}

const taskKey = (t: TaskStat) => `${t.tid}@${t.starttime}`;

/**
 * CPU of the selected threads between two samples, in percent of one CPU: the ticks they spent
 * (utime + stime) over CLK_TCK and the elapsed time. A thread that started between the samples counts
 * from zero; the time of one that ended between them is lost (it is gone from /proc).
 */
export function threadsCpuPct(before: ProcSample, after: ProcSample, select: (t: TaskStat) => boolean): { pct: number; threads: number } {
  const elapsed = elapsedSeconds(before, after);
  const earlier = new Map(before.tasks.filter(select).map((t) => [taskKey(t), t]));
  let ticks = 0;
  let threads = 0;
  for (const t of after.tasks.filter(select)) {
    const b = earlier.get(taskKey(t));
    ticks += t.utime + t.stime - (b ? b.utime + b.stime : 0);
    threads++;
  }
  return { pct: (ticks / after.clkTck / elapsed) * 100, threads };
}

export function elapsedSeconds(before: ProcSample, after: ProcSample): number {
  const e = after.uptime - before.uptime;
  if (!(e > 0)) throw new ProcParseError(`the second sample is not later than the first (uptime ${before.uptime} then ${after.uptime})`);
  if (before.clkTck !== after.clkTck) throw new ProcParseError(`the samples disagree on CLK_TCK (${before.clkTck}, ${after.clkTck})`);
  return e;
}

/** qemu's own threads (vCPUs, I/O, main loop), without the vhost workers that live inside it since 6.4. */
export function qemuCpuPct(before: ProcSample, after: ProcSample, qemuPid: number): number {
  return threadsCpuPct(before, after, (t) => t.pid === qemuPid && t.comm !== `vhost-${qemuPid}`).pct;
}

export function vhostCpuPct(before: ProcSample, after: ProcSample, qemuPid: number): number {
  return threadsCpuPct(before, after, (t) => t.comm === `vhost-${qemuPid}`).pct;
}

export type IrqRate = { found: true; perSec: number; lines: string[] } | { found: false; note: string };

/** Interrupts per second of the lines that match, from two samples (all CPUs together). */
export function irqRate(before: Interrupts, after: Interrupts, elapsed: number, match: string | RegExp): IrqRate {
  const a = nicIrqLines(after, match);
  if (a.length === 0) return { found: false, note: `none found: no interrupt line matches ${match instanceof RegExp ? String(match) : JSON.stringify(match)} (a veth or other virtual NIC has none)` };
  const b = new Map(nicIrqLines(before, match).map((l) => [`${l.irq} ${l.description}`, l.total]));
  let delta = 0;
  for (const l of a) delta += l.total - (b.get(`${l.irq} ${l.description}`) ?? l.total);
  return { found: true, perSec: delta / elapsed, lines: a.map((l) => `${l.irq}: ${l.description}`) };
}

export interface HostCpu {
  /** Busy time (everything but idle and iowait) over all CPUs, in percent of one CPU. */
  busyPct: number;
  /** Time spent running guests (vCPUs in guest mode), in percent of one CPU. */
  guestPct: number;
  cpus: number;
}

/** Host-wide CPU between two /proc/stat samples; the total of all fields is the elapsed CPU time. */
export function hostCpu(before: ProcStat, after: ProcStat): HostCpu {
  const d = (k: keyof CpuTimes) => after.total[k] - before.total[k];
  const all = d("user") + d("nice") + d("system") + d("idle") + d("iowait") + d("irq") + d("softirq") + d("steal");
  const cpus = after.cpus.filter(Boolean).length;
  if (!(all > 0)) throw new ProcParseError("/proc/stat did not advance between the samples");
  const perCpu = all / cpus;
  return { busyPct: ((all - d("idle") - d("iowait")) / perCpu) * 100, guestPct: ((d("guest") + d("guestNice")) / perCpu) * 100, cpus };
}

export interface CellSamples {
  elapsedSeconds: number;
  qemuCpuPct: number | null;
  vhostCpuPct: number | null;
  vhostLayout: "kthread" | "qemu-thread" | "none" | null;
  irqPerSec: number | null;
  irqNote?: string;
  irqLines?: string[];
  kvmExitsPerSec: number | null;
  host: HostCpu;
}

/** Everything a cell records from the dut host's before/after samples. */
export function measureCell(before: ProcSample, after: ProcSample, opts: { qemuPid?: number; nic?: string | RegExp }): CellSamples {
  const elapsed = elapsedSeconds(before, after);
  const irq = opts.nic !== undefined ? irqRate(before.interrupts, after.interrupts, elapsed, opts.nic) : undefined;
  const q = opts.qemuPid;
  return {
    elapsedSeconds: elapsed,
    qemuCpuPct: q !== undefined ? qemuCpuPct(before, after, q) : null,
    vhostCpuPct: q !== undefined && vhostLayout(after, q) !== "none" ? vhostCpuPct(before, after, q) : null,
    vhostLayout: q !== undefined ? vhostLayout(after, q) : null,
    irqPerSec: irq?.found ? irq.perSec : null,
    ...(irq && !irq.found ? { irqNote: irq.note } : {}),
    ...(irq?.found ? { irqLines: irq.lines } : {}),
    kvmExitsPerSec: before.kvmExits !== undefined && after.kvmExits !== undefined ? (after.kvmExits - before.kvmExits) / elapsed : null,
    host: hostCpu(before.stat, after.stat),
  };
}
