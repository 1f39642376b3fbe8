import * as fs from "node:fs";
import * as path from "node:path";
import { BenchFlagError, benchOptions, BenchPlan, MATRIX_FLAGS, runIdFor, SCENARIOS } from "../bench/options";
import { newRunId, openRun, ResultsError, Run } from "../bench/results";
import { runBench } from "../bench/runner";
import { readTopology } from "../pulumi/outputs";
import { repoRoot } from "../paths";
import { renderReport } from "../report";
import { parseArgs } from "./args";
import { EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, UsageError } from "./exit";

export const help = `Usage: ixlab bench [--stack NAME] [--variants a,b] [--sizes 4K,8K,16K,64K] [--duration 120]
                   [--reps N] [--tests TCP_STREAM] [--scenario NAME] [--streams N] [--guest NAME]
                   [--resume RUN] [--keep-variant] [--no-report]

Runs the lab's benchmark matrix (variants x tests x message sizes x repetitions) with netperf from a
guest to the peer's netserver, sampling the dut host's /proc (qemu and vhost CPU, NIC interrupts/s,
KVM exits) before and after each cell. Variants are switched through the stack (pulumi up with
IXLAB_VARIANT=<name>); at the end the stack goes back to its own variant unless --keep-variant.
Each cell is written to results/STACK/RUN/cells/ the moment it ends; a killed run continues with
--resume RUN and never repeats or loses a finished cell. Afterwards the report's table is printed
and its HTML page written to results/STACK/RUN/report.html (unless --no-report).

Defaults come from the topology's bench plan (the lab's bench section).
--variants   variants in run order (the first is the baseline unless the lab names another)
--sizes      message sizes: 64, 4K, 64K ...     --duration  seconds per cell (120, 2m)
--reps       repetitions per cell               --tests     TCP_STREAM, TCP_MAERTS, TCP_RR, UDP_STREAM
--scenario   ${Object.keys(SCENARIOS).join(", ")}
--streams    concurrent netperf streams per cell (multi-stream: 4)
--guest      the guest netperf runs in (default: the first)
--resume     RUN: a run directory, STACK/RUN under results/, or a run id; its matrix is run.json's

Examples:
  ixlab bench --stack sim
  ixlab bench --stack sim --variants baseline,userspace --sizes 4K,64K --duration 10 --reps 1
  ixlab bench --stack sim --scenario multi-stream --streams 8
  ixlab bench --stack sim --resume 20250131T120000Z

Exit status: 0 every cell measured, 1 a cell or the run failed, 2 bad arguments or results.`;

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
  const spec = { stack: "string", variants: "string", sizes: "string", duration: "string", reps: "string", tests: "string", scenario: "string", streams: "string", resume: "string", guest: "string", "keep-variant": "boolean", "no-report": "boolean" } as const;
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

  const topology = readTopology(stack);
  const plan: BenchPlan | undefined = topology.bench;
  if (!plan) throw new UsageError(`ixlab bench: stack ${stack}'s topology has no bench plan; run: ixlab pulumi up --stack ${stack}`);
  const labVariants = (topology.variants ?? []).map((v) => v.name);
  const guests = (topology.guests ?? []).map((g) => g.name);
  let created: { create: import("../bench/results").RunOptions; id: string } | undefined;
  let guest = str("guest");
  try {
    if (resume) {
      if (guest !== undefined && !guests.includes(guest)) throw new BenchFlagError([`--guest: "${guest}" is not a guest of this lab (guests: ${guests.join(", ")})`]);
      const missing = resume.record.options.variants.filter((v) => !labVariants.includes(v));
      if (missing.length) throw new BenchFlagError([`--resume: run ${resume.record.run} has variants ${missing.join(", ")} that stack ${stack} no longer has`]);
    } else {
      const r = benchOptions({ variants: str("variants"), sizes: str("sizes"), duration: str("duration"), reps: str("reps"), tests: str("tests"), scenario: str("scenario"), streams: str("streams"), guest }, plan, { variants: labVariants, guests });
      guest = r.guest;
      created = { create: r.options, id: runIdFor(newRunId(), r.options.scenario) };
    }
  } catch (e) {
    if (e instanceof BenchFlagError) throw new UsageError(e.lines.map((l) => `ixlab bench: ${l}`));
    throw e;
  }

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
    outcome = await runBench({ stack, resultsRoot: path.join(repoRoot(), "results"), run: resume ? { resume } : created!, guest, keepVariant: !!flags["keep-variant"], signal: controller.signal }, io);
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
