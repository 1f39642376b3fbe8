// ixlab bench: the matrix of cells from the topology, variants switched through the stack, each
// cell sampled on the dut host around a netperf run in the guest and written the moment it ends.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { readTopology, stackOutput, Topology, TopologyGuest, TopologyHost } from "../pulumi/outputs";
import { streamPulumi } from "../pulumi/cli";
import { repoRoot } from "../paths";
import { guestCellScript, netperfCommand, parseGuestCell, parseSgToggle, parseTcpdump, SG_TOGGLE_SCRIPT, sgTogglePlan, TCPDUMP_SCRIPT } from "./cell";
import { assembleEnvironment, TUNING_PROBE, variantState } from "./environment";
import { measureCell, parseProcSample } from "./procstat";
import { estimateRemaining, formatDuration, progressLine, cellLabel } from "./progress";
import { CellKey, cellId, createRun, NewCell, Run } from "./results";
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
}

export interface BenchOutcome {
  run: Run;
  cellsRun: number;
  failedCells: string[];
  interrupted: boolean;
}

const PROC_SAMPLE = () => fs.readFileSync(path.join(repoRoot(), "src", "bench", "proc-sample.sh"), "utf8");

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

  constructor(
    public readonly stack: string,
    private readonly guestName: string | undefined,
  ) {
    this.topology = readTopology(stack);
    this.keys = stackOutput<Record<string, string>>(stack, "sshKeys", true);
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

  /** The variant the guest runs now, as the topology reports it. */
  get currentVariant(): string | undefined {
    return (this.guest as Record<string, any>).variant;
  }

  /** Converges the stack on a variant (null: the stack's own) and reads the topology again. */
  async switchTo(variant: string | null, io: BenchIo): Promise<number> {
    const start = Date.now();
    await this.closeSessions();
    io.log(`switching stack ${this.stack} to variant ${variant ?? `${(this.topology as any).activeVariant} (the stack's own)`}: pulumi up`);
    const r = await streamPulumi(["up", "--yes", "--skip-preview", "--non-interactive", "--stack", this.stack], { IXLAB_VARIANT: variant ?? "" }, (line) => {
      const l = line.trimEnd();
      // Resource steps and the summary; pulumi's progress dots and blank lines are noise here.
      if (/^\s+[+~\-]{1,2}\s|^\s+\+-|created|updated|replaced|deleted|Duration:|error:/i.test(l) && !/^@ /.test(l)) io.log(`  pulumi: ${l.trim()}`);
    });
    if (r.status !== 0) throw new Error(`pulumi up --stack ${this.stack} with IXLAB_VARIANT=${variant ?? ""} failed (exit ${r.status}):\n${r.output.split("\n").filter((l) => /error/i.test(l)).slice(-8).join("\n")}`);
    this.topology = readTopology(this.stack);
    this.bind();
    this.openSessions();
    const seconds = (Date.now() - start) / 1000;
    io.log(`stack ${this.stack} on variant ${this.currentVariant} after ${seconds.toFixed(1)} s (qemu pid ${this.guest.qemuPid})`);
    return seconds;
  }
}

async function sample(lab: Lab, signal?: AbortSignal): Promise<{ text: string; error?: string }> {
  const r = await lab.hostSession.run("bash -s", { input: PROC_SAMPLE(), timeoutMs: 30_000, signal });
  if (r.code !== 0) return { text: r.stdout + r.stderr, error: `proc sample on ${lab.dut.name} failed (exit ${r.code}): ${r.stderr.trim().split("\n").pop() ?? ""}` };
  return { text: r.stdout };
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

  const before = await sample(lab, signal);
  raw["proc-before"] = before.text;
  if (before.error) errors.push(before.error);

  let sgOriginal: string | null = null;
  let during: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
  if (scenario === "tcpdump-during-stream" || scenario === "sg-toggle-during-stream") {
    if (!nic) throw new Error(`host ${lab.dut.name} has no test NIC in the topology; scenario ${scenario} needs one`);
    if (scenario === "tcpdump-during-stream") {
      during = lab.hostSession.run(`bash -s -- ${nic} ${durationSeconds}`, { input: TCPDUMP_SCRIPT, timeoutMs: (durationSeconds + 60) * 1000, signal });
    } else {
      const q = await lab.hostSession.run(`ethtool -k ${nic} | awk '/^scatter-gather:/ {print $2}'`, { timeoutMs: 20_000 });
      sgOriginal = q.code === 0 && /^(on|off)$/.test(q.stdout.trim()) ? q.stdout.trim() : null;
      const plan = sgTogglePlan(durationSeconds);
      extra.sgToggle = plan;
      during = lab.hostSession.run(`bash -s -- ${nic} ${plan.intervalSeconds} ${plan.toggles}`, { input: SG_TOGGLE_SCRIPT, timeoutMs: (durationSeconds + 60) * 1000, signal });
    }
  }

  let guestOut: { code: number; stdout: string; stderr: string; timedOut?: boolean };
  try {
    guestOut = await lab.guestSession.run("sh -s", { input: guestCellScript(cmd, key.streams), timeoutMs: (durationSeconds * 2 + 90) * 1000, signal });
  } finally {
    if (during) {
      const d = await during;
      raw[scenario === "tcpdump-during-stream" ? "tcpdump" : "sg-toggle"] = d.stdout + (d.stderr ? `\n-- stderr --\n${d.stderr}` : "");
      if (scenario === "tcpdump-during-stream") {
        const t = parseTcpdump(d.stdout);
        extra.tcpdump = { captured: t.captured, receivedByFilter: t.receivedByFilter, droppedByKernel: t.droppedByKernel };
        errors.push(...t.errors.map((e) => `tcpdump: ${e}`));
      } else {
        const t = parseSgToggle(d.stdout);
        // The script restores on exit; if it was cut off, put scatter-gather back from here.
        if (sgOriginal && t.restored !== sgOriginal) {
          const fix = await lab.hostSession.run(`ethtool -K ${nic} sg ${sgOriginal}`, { timeoutMs: 20_000 });
          errors.push(`scatter-gather restored to ${sgOriginal} by the runner (${fix.code === 0 ? "ok" : `failed: ${fix.stderr.trim()}`})`);
        }
        extra.sgToggle = { ...(extra.sgToggle as object), original: t.original, restored: t.restored, toggles: t.toggles, nicErrors: t.nicErrors };
        errors.push(...t.errors.map((e) => `sg-toggle: ${e}`));
      }
    }
  }
  if (signal?.aborted) throw new Error("interrupted");
  raw.netperf = guestOut.stdout + (guestOut.stderr ? `\n-- stderr --\n${guestOut.stderr}` : "");
  if (guestOut.timedOut) errors.push(`the guest's netperf run did not end within ${durationSeconds * 2 + 90} s and was stopped`);
  else if (guestOut.code !== 0) errors.push(`the guest's script failed (exit ${guestOut.code}${guestOut.code === 255 ? ", SSH to the guest failed" : ""}): ${guestOut.stderr.trim().split("\n").pop() ?? ""}`);
  const g = parseGuestCell(guestOut.stdout, key.test, key.streams);
  errors.push(...g.errors);
  if (scenario === "sg-toggle-during-stream") extra.streamSurvived = g.errors.length === 0 && g.streams.every((s) => s.ok);

  const after = await sample(lab, signal);
  raw["proc-after"] = after.text;
  if (after.error) errors.push(after.error);

  let m: ReturnType<typeof measureCell> | undefined;
  if (!before.error && !after.error) {
    try {
      m = measureCell(parseProcSample(before.text), parseProcSample(after.text), { qemuPid: lab.guest.qemuPid, nic });
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
  };
  return { cell, raw };
}

/** Runs (or continues) a bench. Throws for what stops the whole run; a failed cell is recorded and counted. */
export async function runBench(opts: BenchRunOptions, io: BenchIo): Promise<BenchOutcome> {
  const lab = new Lab(opts.stack, opts.guest ?? ("resume" in opts.run ? (opts.run.resume.record.environment.guest as string | undefined) : undefined));
  lab.openSessions();
  const stackVariant = (lab.topology as Record<string, any>).activeVariant as string | undefined;
  let switched = false;
  let run: Run;
  const failed: string[] = [];
  let cellsRun = 0;
  try {
    if ("create" in opts.run) {
      const [qemu, netperfV, tuning] = await Promise.all([
        lab.hostSession.run("qemu-system-x86_64 --version", { timeoutMs: 30_000 }),
        lab.guestSession.run("netperf -V", { timeoutMs: 60_000 }),
        lab.hostSession.run(`bash -s -- ${lab.dut.data?.nic ?? "none"}`, { input: TUNING_PROBE, timeoutMs: 30_000 }),
      ]);
      if (netperfV.code === 255) throw new Error(`cannot reach guest ${lab.guest.name} over SSH: ${netperfV.stderr.trim().split("\n").pop()}`);
      let tuningFound: Record<string, unknown> = { error: tuning.stderr.trim() || `exit ${tuning.code}` };
      try {
        if (tuning.code === 0) tuningFound = JSON.parse(tuning.stdout.trim().split("\n").pop() ?? "");
      } catch {
        tuningFound = { raw: tuning.stdout.trim() };
      }
      const environment = assembleEnvironment(lab.topology, lab.guest.name, {
        qemuVersion: qemu.code === 0 ? qemu.stdout.split("\n")[0].trim() : null,
        netperfVersion: netperfV.code === 0 ? netperfV.stdout.trim() : null,
        git: gitRevision(),
        tuning: tuningFound,
      });
      run = createRun(opts.resultsRoot, { stack: opts.stack, run: opts.run.id, options: opts.run.create, environment });
      io.log(`run ${run.record.run}: results in ${path.relative(process.cwd(), run.dir) || run.dir}`);
    } else {
      run = opts.run.resume;
      const resumes = (run.record.environment.resumes as unknown[] | undefined) ?? [];
      run.updateEnvironment({ resumes: [...resumes, { at: new Date().toISOString(), labRevision: gitRevision() }] });
      io.log(`resuming run ${run.record.run}: ${run.pending().length} of ${run.pending().length + run.finished().size} cells to go`);
    }

    const pending = run.pending();
    const total = pending.length + run.finished().size;
    let index = run.finished().size;
    const cellSeconds: number[] = [];
    const switchSeconds: number[] = [];
    const todo = [...pending];
    let lastVariant = lab.currentVariant;
    const switchesAfter = (i: number) => {
      let n = 0;
      let v = lastVariant;
      for (const k of todo.slice(i)) if (k.variant !== v) ((v = k.variant), n++);
      return n;
    };
    for (let i = 0; i < todo.length; i++) {
      const key = todo[i];
      if (opts.signal?.aborted) break;
      if (key.variant !== lab.currentVariant) {
        const s = await lab.switchTo(key.variant, io);
        switched = true;
        switchSeconds.push(s);
      }
      lastVariant = lab.currentVariant;
      const envVariants = (run.record.environment.variants as Record<string, unknown> | undefined) ?? {};
      if (!(key.variant in envVariants)) run.updateEnvironment({ variants: { ...envVariants, [key.variant]: variantState(lab.guest) } });
      const t0 = Date.now();
      const label = cellLabel(key);
      const ticker = io.live ? setInterval(() => io.live!(`[${index + 1}/${total}] ${label}: running ${formatDuration((Date.now() - t0) / 1000)} of ${formatDuration(run.record.options.durationSeconds)}`), 1000) : undefined;
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
      const eta = estimateRemaining({ remainingCells: todo.length - i - 1, remainingSwitches: switchesAfter(i + 1), cellSeconds, switchSeconds, durationSeconds: run.record.options.durationSeconds });
      io.log(progressLine(index, total, key, cell, eta));
    }
    if (!opts.signal?.aborted && run.pending().length === 0) run.finish();
  } finally {
    if (!opts.signal?.aborted && !opts.keepVariant && stackVariant && (switched || lab.currentVariant !== stackVariant) && lab.currentVariant !== stackVariant) {
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
