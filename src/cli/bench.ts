import * as fs from "node:fs";
import * as path from "node:path";
import { readLabFacts } from "../bench/lab-facts";
import { BenchFlagError, benchOptions, BenchPlan, MATRIX_FLAGS, runIdFor, SCENARIOS } from "../bench/options";
import { newRunId, openRun, ResultsError, Run } from "../bench/results";
import { setZeroCopyCounterProbe } from "../bench/probe";
import { runBench } from "../bench/runner";
import { vhostZeroCopyCounterProbe } from "../remote/zerocopyProbe";
import { readTopology } from "../pulumi/outputs";
import { repoRoot } from "../paths";
import { renderReport } from "../report";
import { parseArgs } from "./args";
import { EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, UsageError } from "./exit";

export const help = `Usage: ixlab bench [--stack NAME] [--variants a,b] [--sizes 4K,8K,16K,64K] [--duration 120]
                   [--reps N] [--tests TCP_STREAM] [--scenario NAME] [--streams N] [--guest NAME]
                   [--order blocked|interleaved] [--until-ci 2% [--max-reps N]] [--series KERNEL]
                   [--resume RUN] [--keep-variant] [--no-report]

Runs the lab's benchmark matrix (variants x tests x message sizes x repetitions) with netperf from a
guest to the peer's netserver, sampling the dut host's /proc (qemu and vhost CPU, NIC interrupts/s,
KVM exits) before and after each cell. Variants are switched through the stack (pulumi up with
IXLAB_VARIANT=<name>); at the end the stack goes back to its own variant unless --keep-variant.
Each cell is written to results/STACK/RUN/cells/ the moment it ends; a killed run continues with
--resume RUN and never repeats or loses a finished cell. Afterwards the report's table is printed
and its HTML page written to results/STACK/RUN/report.html (unless --no-report).

Every flag is checked, alone and against the stack's lab file (Pulumi.STACK.yaml: its variants,
guests, kernels and the limits of its bench section), before anything touches the stack. Defaults
come from the lab's bench section. Each cell records the datapath it actually ran on (read from the
dut host: vhost-net held by QEMU, zero-copy, kernels, QEMU's command line digest, MTU, offloads), and
the run warns first when the variants it compares cannot differ on this lab.
--variants   variants in run order (the first is the baseline unless the lab names another)
--sizes      message sizes: 64, 4K, 64K ...     --duration  seconds per cell (120, 2m)
--reps       repetitions per cell               --tests     TCP_STREAM, TCP_MAERTS, TCP_RR, UDP_STREAM
--scenario   ${Object.keys(SCENARIOS).join(", ")}
--streams    concurrent netperf streams per cell (multi-stream: 4)
--guest      the guest netperf runs in (default: the first)
--order      blocked (default): each variant's cells together, one switch per variant;
             interleaved: the variants alternate per repetition round (A B | B A | A B ...), so a slow
             drift of the machine falls on every variant alike. Each switch is a pulumi up (tens of
             seconds; a kernel rebuild for a series prefix): interleaved costs reps x (variants-1)
             switches instead of variants-1
--until-ci   P%: repeat each cell (from --reps, default at most 3) until its 95% CI half-width is
             within P% of its mean, at most --max-reps times (default 10); the ETA counts the
             repetitions the CI so far suggests
--series     KERNEL: walk the kernel's patch series: the same cells on the kernel built with each
             prefix (0..N patches), reported as variants p0..pN, on one variant of the lab (--variants
             NAME, or the lab's active one). Each prefix is a build keyed like any other, incremental
             in the kept tree; in a sim the guest kernel carries the series
--resume     RUN: a run directory, STACK/RUN under results/, or a run id; its matrix is run.json's

Examples:
  ixlab bench --stack sim
  ixlab bench --stack sim --variants baseline,userspace --sizes 4K,64K --duration 10 --reps 1
  ixlab bench --stack sim --scenario multi-stream --streams 8
  ixlab bench --stack sim --order interleaved --until-ci 2% --max-reps 8
  ixlab bench --stack sim --series guest --sizes 4K,64K --reps 2
  ixlab bench --stack sim --resume 20250131T120000Z

Exit status: 0 every cell measured, 1 a cell or the run failed, 2 bad arguments or results.`;

/** Stand-in defaults for checking flags on their own when the lab cannot be read. */
const FLAGS_ALONE_PLAN: BenchPlan = { tests: ["TCP_STREAM"], sizes: [4096], durationSeconds: 120, repetitions: 3, variants: [] };

/** The run directory --resume names, under results/<stack>/ (or a path). */
export function resolveResume(arg: string, stack: string | undefined, root = repoRoot()): string {
  const results = path.join(root, "results");
  const candidates = [path.resolve(arg), path.join(results, arg)];
  if (!arg.includes("/")) {
    if (stack) candidates.push(path.join(results, stack, arg));
    else if (fs.existsSync(results)) for (const s of fs.readdirSync(results)) candidates.push(path.join(results, s, arg));
  }
  const hits = [...new Set(candidates.filter((c) => fs.existsSync(c) && fs.statSync(c).isDirectory()))];
  if (hits.length > 1) throw new UsageError(`ixlab bench: --resume ${arg} is ambiguous: ${hits.map((h) => path.relative(process.cwd(), h)).join(", ")}`);
  if (hits.length === 0) throw new UsageError(`ixlab bench: --resume ${arg}: no run there (a run directory, STACK/RUN under results/, or a run id)`);
  if (!fs.existsSync(path.join(hits[0], "run.json"))) throw new UsageError(`ixlab bench: --resume ${arg}: ${path.relative(process.cwd(), hits[0]) || hits[0]} has no run.json; not a bench run`);
  return hits[0];
}

export async function run(argv: string[]): Promise<number> {
  // Each cell counts vhost-net's zero-copy sends, copies and completions where the dut host can
  // (kprobes on vhost_net); elsewhere (a sim host, no module) its datapath says null.
  setZeroCopyCounterProbe(vhostZeroCopyCounterProbe());
  const spec = { stack: "string", variants: "string", sizes: "string", duration: "string", reps: "string", tests: "string", scenario: "string", streams: "string", resume: "string", guest: "string", order: "string", "until-ci": "string", "max-reps": "string", series: "string", "keep-variant": "boolean", "no-report": "boolean" } as const;
  const { flags, positionals } = parseArgs(argv, spec, "bench");
  if (flags.help) {
    console.log(help);
    return EXIT_OK;
  }
  if (positionals.length) throw new UsageError(`ixlab bench: unexpected argument ${positionals[0]}; see ixlab bench --help`);
  const str = (k: string) => flags[k] as string | undefined;

  let resume: Run | undefined;
  if (flags.resume !== undefined) {
    const given = MATRIX_FLAGS.filter((f) => flags[f] !== undefined);
    if (given.length) throw new UsageError(`ixlab bench: --resume continues a run with its own matrix (run.json); drop ${given.map((f) => `--${f}`).join(", ")}`);
    const dir = resolveResume(str("resume")!, str("stack"));
    try {
      resume = openRun(dir);
    } catch (e) {
      if (e instanceof ResultsError) {
        for (const line of e.lines) console.error(line);
        return EXIT_BAD_INPUT;
      }
      throw e;
    }
    if (str("stack") && str("stack") !== resume.record.stack) throw new UsageError(`ixlab bench: --stack ${str("stack")}: run ${resume.record.run} was made on stack ${resume.record.stack}`);
    if (resume.pending().length === 0) console.error(`run ${resume.record.run} has every cell; nothing to run`);
  }
  const stack = resume?.record.stack ?? str("stack") ?? "sim";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(stack)) throw new UsageError(`ixlab bench: --stack: "${stack}" is not a stack name (letters, digits, dots, dashes, underscores)`);

  // Every flag, alone and against the lab file, before the stack is read.
  const labRead = readLabFacts(stack, repoRoot());
  let created: { create: import("../bench/results").RunOptions; id: string } | undefined;
  let guest = str("guest");
  let seriesVariant: string | undefined;
  const matrixFlags = { variants: str("variants"), sizes: str("sizes"), duration: str("duration"), reps: str("reps"), tests: str("tests"), scenario: str("scenario"), streams: str("streams"), guest, order: str("order"), untilCi: str("until-ci"), maxReps: str("max-reps"), series: str("series") };
  try {
    if (!labRead.ok) {
      // The flags alone first, so a typo is named even when the lab cannot be read.
      const alone: string[] = [];
      try {
        benchOptions(resume ? { guest } : matrixFlags, FLAGS_ALONE_PLAN, { variants: [], guests: [] });
      } catch (e) {
        if (!(e instanceof BenchFlagError)) throw e;
        alone.push(...e.lines.filter((l) => !/is not a (variant|guest|kernel) of this lab|this lab has no guests|could not be read|no variant to run/.test(l)));
      }
      throw new BenchFlagError([...alone, ...labRead.lines]);
    }
    if (resume) {
      if (guest !== undefined && !labRead.facts.guests.includes(guest)) throw new BenchFlagError([`--guest: "${guest}" is not a guest of this lab (guests: ${labRead.facts.guests.join(", ")})`]);
      const known = resume.record.options.series ? [resume.record.options.series.kernel].filter((k) => !labRead.facts.kernels?.some((x) => x.name === k)) : resume.record.options.variants.filter((v) => !labRead.facts.variants.includes(v));
      if (known.length) throw new BenchFlagError([`--resume: run ${resume.record.run} has ${resume.record.options.series ? "kernel" : "variants"} ${known.join(", ")} that stack ${stack}'s lab no longer has`]);
    } else {
      const r = benchOptions(matrixFlags, labRead.plan, labRead.facts);
      guest = r.guest;
      seriesVariant = r.seriesVariant;
      created = { create: r.options, id: runIdFor(newRunId(), r.options.series ? `series-${r.options.series.kernel}` : r.options.scenario) };
    }
  } catch (e) {
    if (e instanceof BenchFlagError) throw new UsageError(e.lines.map((l) => `ixlab bench: ${l}`));
    throw e;
  }
  // Only now the stack: its topology must have been made by `pulumi up`.
  const topology = readTopology(stack);
  if (!topology.guests?.length) throw new UsageError(`ixlab bench: stack ${stack}'s topology has no guests; run: ixlab pulumi up --stack ${stack}`);

  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    console.error(`\n${sig}: stopping after cleaning up the current cell; continue with: ixlab bench --stack ${stack} --resume <run>`);
    controller.abort();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const tty = process.stderr.isTTY;
  let liveShown = false;
  const io = {
    log: (line: string) => {
      if (liveShown) process.stderr.write("\r\x1b[K");
      liveShown = false;
      console.error(line);
    },
    ...(tty ? { live: (line: string) => ((liveShown = true), process.stderr.write(`\r\x1b[K${line}`)) } : {}),
  };
  let outcome;
  try {
    outcome = await runBench({ stack, resultsRoot: path.join(repoRoot(), "results"), run: resume ? { resume } : created!, guest, keepVariant: !!flags["keep-variant"], signal: controller.signal, seriesVariant }, io);
  } catch (e) {
    console.error(`ixlab bench: ${(e as Error).message}`);
    return EXIT_FAILED;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  const rel = path.relative(process.cwd(), outcome.run.dir) || outcome.run.dir;
  if (outcome.interrupted) {
    console.error(`interrupted after ${outcome.cellsRun} cell(s); finished cells are in ${rel}; continue with: ixlab bench --stack ${stack} --resume ${outcome.run.record.run}`);
    return 130;
  }
  if (!flags["no-report"]) {
    const rendered = renderReport([outcome.run.dir]);
    for (const w of rendered.report.warnings) console.error(`warning: ${w}`);
    process.stdout.write(rendered.markdown);
    if (rendered.htmlPath) console.error(`HTML report: ${path.relative(process.cwd(), path.resolve(rendered.htmlPath)) || rendered.htmlPath}`);
  }
  console.error(`results: ${rel}`);
  if (outcome.failedCells.length) {
    console.error(`${outcome.failedCells.length} cell(s) failed (recorded with their errors): ${outcome.failedCells.join(", ")}`);
    return EXIT_FAILED;
  }
  return EXIT_OK;
}
