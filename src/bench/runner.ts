// ixlab bench: the matrix of cells from the topology, variants switched through the stack, each
// cell sampled on the dut host around a netperf run in the guest and written the moment it ends.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { hostKeys } from "../pulumi/keys";
import { readTopology, Topology, TopologyGuest, TopologyHost } from "../pulumi/outputs";
import { streamPulumi } from "../pulumi/cli";
import { repoRoot } from "../paths";
import { guestCellScript, guestClockCheck, netperfCommand, parseGuestCell } from "./cell";
import { assembleEnvironment, variantState } from "./environment";
import { Datapath, getZeroCopyCounterProbe, indistinguishable, probeFacts, readDatapath, runProbe, VariantAsk } from "./probe";
import { measureCell, nicIrqMatch, parseProcSample } from "./procstat";
import { estimateRemaining, formatDuration, progressLine, cellLabel } from "./progress";
import { CellKey, cellId, createRun, NewCell, Run, RunOptions } from "./results";
import { scenarioNamed } from "./scenarios";
import { ciSummary, switchesFor } from "./schedule";
import { formatSize } from "../lab/units";
import { SshSession } from "./session";
import * as path from "node:path";

export interface BenchIo {
  /** Progress and messages (stderr-like); `live` lines may be overwritten on a TTY. */
  log(line: string): void;
  live?(line: string): void;
}

export interface BenchRunOptions {
  stack: string;
  resultsRoot: string;
  /** A new run: its options; or an open run to continue. */
  run: { create: import("./results").RunOptions; id: string } | { resume: Run };
  guest?: string;
  keepVariant?: boolean;
  signal?: AbortSignal;
  /** A series walk: the lab variant every prefix runs on (the run's environment keeps it for --resume). */
  seriesVariant?: string;
}

/** How the stack is asked to run a bench variant: IXLAB_VARIANT, and for a series prefix IXLAB_SERIES=KERNEL:N. */
export function variantEnvironment(options: RunOptions, variant: string | null, seriesVariant: string | undefined): Record<string, string> {
  if (variant === null) return { IXLAB_VARIANT: "", IXLAB_SERIES: "" };
  const prefix = options.series?.prefixes.findIndex((p) => p.variant === variant) ?? -1;
  if (options.series && prefix >= 0) return { IXLAB_VARIANT: seriesVariant ?? "", IXLAB_SERIES: `${options.series.kernel}:${prefix}` };
  return { IXLAB_VARIANT: variant, IXLAB_SERIES: "" };
}

/** The bench variant the stack runs now: the lab variant, or under a series walk the prefix its kernel was built with. */
export function runningVariant(topology: Topology, guest: TopologyGuest, options: RunOptions | undefined, seriesVariant: string | undefined): string | undefined {
  const labVariant = guest.variant;
  if (!options?.series) return labVariant;
  if (seriesVariant && labVariant !== seriesVariant) return undefined;
  const k = topology.kernels?.find((x) => x.name === options.series!.kernel);
  if (!k?.patches) return undefined;
  const p = options.series.prefixes.find((x) => x.patches.length === k.patches!.length && x.patches.every((n, i) => n === k.patches![i]));
  return p?.variant;
}

export interface BenchOutcome {
  run: Run;
  cellsRun: number;
  failedCells: string[];
  interrupted: boolean;
}

function gitRevision(): { revision: string | null; dirty: boolean | null } {
  const rev = spawnSync("git", ["rev-parse", "HEAD"], { cwd: repoRoot(), encoding: "utf8" });
  const st = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repoRoot(), encoding: "utf8" });
  return { revision: rev.status === 0 ? rev.stdout.trim() : null, dirty: st.status === 0 ? st.stdout.trim() !== "" : null };
}

class Lab {
  topology: Topology;
  guest!: TopologyGuest;
  dut!: TopologyHost;
  hostSession!: SshSession;
  guestSession!: SshSession;
  private keys: Record<string, string>;

  options?: RunOptions;
  seriesVariant?: string;

  constructor(
    public readonly stack: string,
    private readonly guestName: string | undefined,
  ) {
    this.topology = readTopology(stack);
    this.keys = hostKeys(stack);
    this.bind();
  }

  private bind(): void {
    const guests = this.topology.guests ?? [];
    const g = this.guestName ? guests.find((x) => x.name === this.guestName) : guests[0];
    if (!g) throw new Error(`stack ${this.stack}: ${this.guestName ? `no guest ${this.guestName}` : "no guest in the topology"}`);
    const dut = this.topology.hosts.find((h) => h.name === g.host);
    if (!dut) throw new Error(`stack ${this.stack}: guest ${g.name} runs on ${g.host}, not a host of the topology`);
    if (!g.management.hostKey) throw new Error(`guest ${g.name} has no pinned host key (is it up? ixlab pulumi up --stack ${this.stack})`);
    if (!dut.management.hostKey) throw new Error(`host ${dut.name} has no pinned host key (ixlab pulumi up --stack ${this.stack})`);
    if (typeof g.qemuPid !== "number") throw new Error(`guest ${g.name}: the topology has no qemuPid (is it running?)`);
    if (!this.topology.peer) throw new Error(`stack ${this.stack}: the topology has no peer (netserver)`);
    this.guest = g;
    this.dut = dut;
  }

  openSessions(): void {
    const m = this.dut.management;
    this.hostSession = SshSession.open(this.dut.name, { kind: "ssh", host: this.dut.name, address: m.address, port: m.port, user: m.user }, this.keys[this.dut.name], m.hostKey!);
    const gm = this.guest.management;
    this.guestSession = SshSession.open(this.guest.name, { kind: "ssh", host: this.guest.name, address: gm.address, port: gm.port, user: gm.user }, this.keys[this.guest.host], gm.hostKey!);
  }

  async closeSessions(): Promise<void> {
    await Promise.all([this.hostSession?.close(), this.guestSession?.close()]);
  }

  /** The bench variant the stack runs now, as the topology reports it. */
  get currentVariant(): string | undefined {
    return runningVariant(this.topology, this.guest, this.options, this.seriesVariant);
  }

  /** Converges the stack on a variant (null: the stack's own) and reads the topology again. */
  async switchTo(variant: string | null, io: BenchIo): Promise<number> {
    const start = Date.now();
    await this.closeSessions();
    const env = this.options ? variantEnvironment(this.options, variant, this.seriesVariant) : { IXLAB_VARIANT: variant ?? "" };
    const said = Object.entries(env).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(" ");
    io.log(`switching stack ${this.stack} to variant ${variant ?? `${this.topology.defaultVariant ?? this.topology.activeVariant} (the stack's own)`}: pulumi up${said ? ` with ${said}` : ""}`);
    const r = await streamPulumi(["up", "--yes", "--skip-preview", "--non-interactive", "--stack", this.stack], env, (line) => {
      const l = line.trimEnd();
      // Resource steps and the summary; pulumi's progress dots and blank lines are noise here.
      if (/^\s+[+~\-]{1,2}\s|^\s+\+-|created|updated|replaced|deleted|Duration:|error:/i.test(l) && !/^@ /.test(l)) io.log(`  pulumi: ${l.trim()}`);
    });
    if (r.status !== 0) throw new Error(`pulumi up --stack ${this.stack} with ${said || "the stack's own variant"} failed (exit ${r.status}):\n${r.output.split("\n").filter((l) => /error/i.test(l)).slice(-8).join("\n")}`);
    this.topology = readTopology(this.stack);
    this.bind();
    this.openSessions();
    const seconds = (Date.now() - start) / 1000;
    // Back on its own, a series stack runs the whole series, which is also the walk's last prefix.
    const now = variant === null ? `back on its own variant ${this.guest.variant}${this.options?.series && this.currentVariant ? ` (the whole series, as ${this.currentVariant})` : ""}` : `on variant ${this.currentVariant}`;
    io.log(`stack ${this.stack} ${now} after ${seconds.toFixed(1)} s (qemu pid ${this.guest.qemuPid})`);
    return seconds;
  }
}

async function sample(lab: Lab, signal?: AbortSignal): Promise<{ text: string; error?: string }> {
  const r = await runProbe(lab.hostSession, "sample", [], { signal });
  if (r.code !== 0) return { text: r.stdout + r.stderr, error: `proc sample on ${lab.dut.name} failed (exit ${r.code}): ${r.stderr.trim().split("\n").pop() ?? ""}` };
  return { text: r.stdout };
}

function kernelKeyOf(topology: Topology, kernel: string): string | null {
  return topology.kernels?.find((k) => k.name === kernel)?.key ?? null;
}

/** Runs one cell and writes it. Returns the figures for the progress line. */
async function runCell(lab: Lab, run: Run, key: CellKey, signal?: AbortSignal): Promise<{ cell: NewCell; raw: Record<string, string> }> {
  const { durationSeconds } = run.record.options;
  const scenario = run.record.options.scenario;
  const nic = lab.dut.data?.nic;
  const peer = lab.topology.peer!;
  const started = new Date();
  const errors: string[] = [];
  const raw: Record<string, string> = {};
  const extra: Record<string, unknown> = { qemuPid: lab.guest.qemuPid, guest: lab.guest.name, dut: lab.dut.name };
  const cmd = netperfCommand(peer, key.test, key.size, durationSeconds);
  extra.netperfCommand = cmd;

  // What runs, read when the cell starts (beside the first sample, so it costs no time of its own).
  const [before, datapath] = await Promise.all([sample(lab, signal), nic ? readDatapath(lab.hostSession, nic, lab.guest.qemuPid!, signal) : Promise.resolve(undefined)]);
  raw["proc-before"] = before.text;
  if (before.error) errors.push(before.error);
  const counters = getZeroCopyCounterProbe();
  if (counters) await counters.start(lab.hostSession, lab.guest.qemuPid!);

  const sc = scenarioNamed(scenario);
  if (sc?.needsNic && !nic) throw new Error(`host ${lab.dut.name} has no test NIC in the topology; scenario ${scenario} needs one`);
  const during = sc?.during ? await sc.during({ host: lab.hostSession, hostName: lab.dut.name, nic: nic!, durationSeconds, signal }) : undefined;

  let guestOut: { code: number; stdout: string; stderr: string; timedOut?: boolean };
  const guestStart = Date.now();
  try {
    guestOut = await lab.guestSession.run("sh -s", { input: guestCellScript(cmd, key.streams), timeoutMs: (durationSeconds * 2 + 90) * 1000, signal });
  } finally {
    if (during) {
      const d = await during.stop();
      Object.assign(raw, d.raw);
      Object.assign(extra, d.extra);
      errors.push(...d.errors);
    }
  }
  if (signal?.aborted) throw new Error("interrupted");
  raw.netperf = guestOut.stdout + (guestOut.stderr ? `\n-- stderr --\n${guestOut.stderr}` : "");
  if (guestOut.timedOut) errors.push(`the guest's netperf run did not end within ${durationSeconds * 2 + 90} s and was stopped`);
  else if (guestOut.code !== 0) errors.push(`the guest's script failed (exit ${guestOut.code}${guestOut.code === 255 ? ", SSH to the guest failed" : ""}): ${guestOut.stderr.trim().split("\n").pop() ?? ""}`);
  const g = parseGuestCell(guestOut.stdout, key.test, key.streams);
  errors.push(...g.errors);
  extra.guestClock = guestClockCheck(g.guestClock, (Date.now() - guestStart) / 1000, durationSeconds);
  if (scenario === "sg-toggle-during-stream") extra.streamSurvived = g.errors.length === 0 && g.streams.every((s) => s.ok);
  let dp: Datapath | undefined;
  if (datapath) {
    dp = { ...datapath, guestKernel: g.guestKernel };
    if (counters) dp.zeroCopyCounters = await counters.stop(lab.hostSession, lab.guest.qemuPid!);
  }
  const prefix = run.record.options.series?.prefixes.find((p) => p.variant === key.variant);
  if (prefix) extra.series = { kernel: run.record.options.series!.kernel, patches: prefix.patches, kernelKey: kernelKeyOf(lab.topology, run.record.options.series!.kernel) };

  const after = await sample(lab, signal);
  raw["proc-after"] = after.text;
  if (after.error) errors.push(after.error);

  let m: ReturnType<typeof measureCell> | undefined;
  if (!before.error && !after.error) {
    try {
      m = measureCell(parseProcSample(before.text), parseProcSample(after.text), { qemuPid: lab.guest.qemuPid, nic: datapath?.irqDevice ? nicIrqMatch(datapath.irqDevice) : nic });
      extra.hostCpu = m.host;
      extra.vhostLayout = m.vhostLayout;
      extra.sampledSeconds = Math.round(m.elapsedSeconds * 100) / 100;
      if (m.irqLines) extra.irqLines = m.irqLines;
    } catch (e) {
      errors.push(`samples: ${(e as Error).message}`);
    }
  }
  const nonNeg = (v: number | null | undefined) => (v === null || v === undefined || !(v >= 0) ? null : v);
  const cell: NewCell = {
    ...key,
    scenario,
    started: started.toISOString(),
    ended: new Date().toISOString(),
    throughputMbps: key.test === "TCP_RR" ? null : nonNeg(g.throughputMbps),
    ...(key.test === "TCP_RR" ? { transactionsPerSec: nonNeg(g.transactionsPerSec) } : {}),
    netperf: { localCpuPct: nonNeg(g.localCpuPct), remoteCpuPct: nonNeg(g.remoteCpuPct), localServiceDemand: g.localServiceDemand, remoteServiceDemand: g.remoteServiceDemand, serviceDemandUnit: g.serviceDemandUnit },
    qemuCpuPct: nonNeg(m?.qemuCpuPct),
    vhostCpuPct: nonNeg(m?.vhostCpuPct),
    guestCpuPct: nonNeg(g.guestCpuPct),
    irqPerSec: nonNeg(m?.irqPerSec),
    ...(m?.irqNote ? { irqNote: m.irqNote } : {}),
    kvmExitsPerSec: nonNeg(m?.kvmExitsPerSec),
    errors,
    retransmissions: g.retransmissions,
    extra,
    ...(dp ? { datapath: dp } : {}),
  };
  return { cell, raw };
}

/** The datapath probe's words for a QEMU pid that names no process (roles/bench-probe.sh datapath). */
export const QEMU_GONE = /^QEMU pid \d+ is not running$/;

/**
 * The datapath on the dut before a run. The guest's QEMU must be the one the stack's topology names:
 * its pid is whose CPU, vhost workers and zero-copy counters every cell reads, so a guest that died
 * or was started again since the last `up` stops the run here, before anything is written.
 */
async function datapathBefore(lab: Lab, stack: string): Promise<Datapath | undefined> {
  const nic = lab.dut.data?.nic;
  if (!nic || !lab.guest.qemuPid) return undefined;
  const d = await readDatapath(lab.hostSession, nic, lab.guest.qemuPid);
  if (d.note && QEMU_GONE.test(d.note)) {
    throw new Error(`guest ${lab.guest.name} on host ${lab.dut.name}: ${d.note} (the pid in stack ${stack}'s topology): the lab changed since its last up. Run \`npx ixlab pulumi up --stack ${stack}\` to bring the guest back, then the bench again`);
  }
  return d;
}

/** Warnings before a run: the variants it compares cannot differ on this lab (read from the dut host). */
async function datapathWarnings(lab: Lab, options: RunOptions, d: Datapath | undefined): Promise<string[]> {
  if (options.series || !d) return [];
  const dev = await lab.hostSession.run("test -e /dev/vhost-net", { timeoutMs: 20_000 });
  const all: VariantAsk[] = lab.topology.variants ?? [];
  const asks = options.variants.map((v) => all.find((a) => a.name === v) ?? { name: v });
  return indistinguishable(asks, { vhostDevice: dev.code === 0 || d.vhost, zeroCopyParam: d.zeroCopy !== null }, !!lab.topology.simulated && lab.topology.simHosts !== "vm");
}

/** Runs (or continues) a bench. Throws for what stops the whole run; a failed cell is recorded and counted. */
export async function runBench(opts: BenchRunOptions, io: BenchIo): Promise<BenchOutcome> {
  const lab = new Lab(opts.stack, opts.guest ?? ("resume" in opts.run ? (opts.run.resume.record.environment.guest as string | undefined) : undefined));
  lab.options = "create" in opts.run ? opts.run.create : opts.run.resume.record.options;
  lab.seriesVariant = opts.seriesVariant ?? ("resume" in opts.run ? ((opts.run.resume.record.environment.series as { variant?: string } | undefined)?.variant) : undefined);
  lab.openSessions();
  const stackVariant = lab.topology.defaultVariant ?? lab.topology.activeVariant;
  // Under a series walk the stack's own state is the full series on its own variant: a switch back is due whenever a prefix ran.
  let switched = false;
  let run: Run;
  const failed: string[] = [];
  let cellsRun = 0;
  let clockWarned = false;
  try {
    for (const w of await datapathWarnings(lab, lab.options, await datapathBefore(lab, opts.stack))) io.log(`warning: ${w}`);
    if ("create" in opts.run) {
      const nic = lab.dut.data?.nic ?? "none";
      const [qemu, netperfV, tuning] = await Promise.all([
        lab.hostSession.run("qemu-system-x86_64 --version", { timeoutMs: 30_000 }),
        lab.guestSession.run("netperf -V", { timeoutMs: 60_000 }),
        runProbe(lab.hostSession, "tuning", ["--nic", nic]),
      ]);
      if (netperfV.code === 255) throw new Error(`cannot reach guest ${lab.guest.name} over SSH: ${netperfV.stderr.trim().split("\n").pop()}`);
      const tuningFound: Record<string, unknown> = (tuning.code === 0 && probeFacts(tuning.stdout)) || { error: tuning.stderr.trim() || `exit ${tuning.code}`, raw: tuning.stdout.trim() };
      const environment = assembleEnvironment(lab.topology, lab.guest.name, {
        qemuVersion: qemu.code === 0 ? qemu.stdout.split("\n")[0].trim() : null,
        netperfVersion: netperfV.code === 0 ? netperfV.stdout.trim() : null,
        git: gitRevision(),
        tuning: tuningFound,
      });
      if (lab.options.series) environment.series = { variant: lab.seriesVariant ?? null };
      run = createRun(opts.resultsRoot, { stack: opts.stack, run: opts.run.id, options: opts.run.create, environment });
      io.log(`run ${run.record.run}: results in ${path.relative(process.cwd(), run.dir) || run.dir}`);
    } else {
      run = opts.run.resume;
      const resumes = (run.record.environment.resumes as unknown[] | undefined) ?? [];
      run.updateEnvironment({ resumes: [...resumes, { at: new Date().toISOString(), labRevision: gitRevision() }] });
      io.log(`resuming run ${run.record.run}: ${run.pending().length} of ${run.pending().length + run.finished().size} cells to go`);
    }

    const cellSeconds: number[] = [];
    const switchSeconds: number[] = [];
    let index = run.finished().size;
    const options = run.record.options;
    for (;;) {
      if (opts.signal?.aborted) break;
      const schedule = run.schedule();
      const key = schedule.cells[0];
      if (!key) break;
      const total = index + schedule.cells.length;
      if (key.variant !== lab.currentVariant) {
        const s = await lab.switchTo(key.variant, io);
        switched = true;
        switchSeconds.push(s);
        if (lab.currentVariant !== key.variant) throw new Error(`stack ${opts.stack} does not run variant ${key.variant} after the switch (it runs ${lab.currentVariant ?? "something else"})`);
      }
      const envVariants = (run.record.environment.variants as Record<string, unknown> | undefined) ?? {};
      if (!(key.variant in envVariants)) run.updateEnvironment({ variants: { ...envVariants, [key.variant]: variantState(lab.guest) } });
      const t0 = Date.now();
      const label = cellLabel(key);
      const ticker = io.live ? setInterval(() => io.live!(`[${index + 1}/${total}${schedule.moreEstimate ? `+~${schedule.moreEstimate}` : ""}] ${label}: running ${formatDuration((Date.now() - t0) / 1000)} of ${formatDuration(options.durationSeconds)}`), 1000) : undefined;
      let done: { cell: NewCell; raw: Record<string, string> };
      try {
        done = await runCell(lab, run, key, opts.signal);
      } catch (e) {
        if (opts.signal?.aborted) break;
        throw e;
      } finally {
        if (ticker) clearInterval(ticker);
      }
      const { cell, raw } = done;
      run.writeCell(cell, raw);
      cellsRun++;
      index++;
      cellSeconds.push((Date.now() - t0) / 1000);
      if (cell.errors.length && (cell.throughputMbps === null && cell.transactionsPerSec == null)) failed.push(cellId(key));
      const next = run.schedule();
      const eta = estimateRemaining({ remainingCells: next.cells.length + next.moreEstimate, remainingSwitches: switchesFor(next.cells, lab.currentVariant), cellSeconds, switchSeconds, durationSeconds: options.durationSeconds });
      const ci = options.untilCi !== undefined ? ` until CI ≤${options.untilCi}%: ${next.open.length ? `${next.open.length} cell(s) open, widest ±${Math.max(...next.open.map((o) => o.halfWidthPct)).toFixed(1)}%, ~${next.moreEstimate + next.cells.length} more` : "none open"}` : "";
      io.log(progressLine(index, index + next.cells.length, key, cell, eta) + ci);
      const clockWarning = (cell.extra?.guestClock as { warning?: string } | undefined)?.warning;
      if (clockWarning && !clockWarned) io.log(`warning: ${cellId(key)}: ${clockWarning} (every cell records its guest clock in extra.guestClock)`);
      clockWarned ||= !!clockWarning;
    }
    for (const line of ciSummary(run.record.options, run.finishedCells())) io.log(`until CI ≤${run.record.options.untilCi}%: ${line.replace(/ (\d+):/, (_, n) => ` ${formatSize(Number(n))}:`)}`);
    if (!opts.signal?.aborted && run.pending().length === 0) run.finish();
  } finally {
    const own = lab.options?.series ? switched : lab.currentVariant !== stackVariant;
    if (!opts.signal?.aborted && !opts.keepVariant && stackVariant && (switched || own) && own) {
      try {
        await lab.switchTo(null, io);
      } catch (e) {
        io.log(`warning: could not put stack ${opts.stack} back on its own variant ${stackVariant}: ${(e as Error).message}`);
      }
    }
    await lab.closeSessions();
  }
  return { run: run!, cellsRun, failedCells: failed, interrupted: !!opts.signal?.aborted };
}

export { cellId };
