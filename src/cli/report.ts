import * as fs from "node:fs";
import * as path from "node:path";
import { ResultsError } from "../bench/results";
import { repoRoot } from "../paths";
import { renderReport, Report, ReportError } from "../report";
import { neutralise } from "../report/io";
import { changeText } from "../report/verdict";
import { parseArgs } from "./args";
import { EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, UsageError } from "./exit";

export const help = `Usage: ixlab report RUN [RUN...] [--baseline RUN|VARIANT] [--reference seed]
                    [--format md|json|csv|email] [--html PATH | --no-html]
                    [--threshold PCT] [--fail-on regressed|inconclusive]

Renders saved bench results (no lab, no Pulumi needed): per test, a table of message size x variant
with throughput and its 95% confidence interval, qemu and vhost CPU (% of one CPU), interrupts/s,
% of 10GbE line rate, the change against the baseline with its 95% interval, and a verdict per
figure (throughput, qemu CPU, vhost CPU, irq/s, CPU per Gb/s): improved, regressed, no change (the
interval within +-threshold), inconclusive, or not comparable (both sides ran the same datapath:
the reason is given). Tests: Welch's t on the repetitions, Mann-Whitney U where n allows, Holm's
correction over every test in the report. A series walk (ixlab bench --series) adds a per-patch
table. Markdown (or JSON, CSV, or email: plain text in 72 columns with the environment and a
reproducer) on stdout; an HTML page with plots is written to RUN/report.html (the first RUN) unless
--html or --no-html says otherwise. Missing cells are shown as missing and warned about on stderr.

RUN is a run directory, STACK/RUN under results/, or a run id found under results/*/.
--baseline   the variant (or run) the others are compared with; default: the first run's first variant
--reference  seed: put the published zero-copy figures (src/report/reference/) beside the measured ones
--threshold  the "no change" band, in percent (default 2)
--fail-on    exit 1 when any figure regressed, or (inconclusive) when any is not clearly improved
             or unchanged: regressed, inconclusive or not comparable

Examples:
  ixlab report sim/20250131T120000Z
  ixlab report results/sim/20250131T120000Z --reference seed --format email
  ixlab report sim/r1 sim/r2 --baseline r1 --format csv > compare.csv
  ixlab report sim/r1 --fail-on regressed --no-html

Exit status: 0 rendered, 1 a --fail-on verdict found, 2 bad arguments or broken result files.`;

/** A run directory from what the user typed. */
export function resolveRunDir(arg: string, root = repoRoot()): string {
  const results = path.join(root, "results");
  const candidates = [path.resolve(arg), path.join(results, arg)];
  if (!arg.includes("/") && isDir(results)) for (const stack of fs.readdirSync(results)) candidates.push(path.join(results, stack, arg));
  const hits = [...new Set(candidates.filter((c) => fs.existsSync(path.join(c, "run.json"))))];
  if (hits.length > 1) throw new UsageError(`ixlab report: ${arg} is ambiguous: ${hits.map((h) => path.relative(process.cwd(), h)).join(", ")}`);
  if (hits.length === 0) throw new UsageError(`ixlab report: ${arg}: no run there (a directory with run.json, STACK/RUN under results/, or a run id)`);
  return hits[0];
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** "2", "2%", "0.5%": a percentage from 0 to 50. */
export function parseThreshold(v: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)%?$/.exec(v);
  if (!m || Number(m[1]) > 50) throw new UsageError(`ixlab report: --threshold ${v}: expected a percentage from 0 to 50, e.g. 2 or 2%`);
  return Number(m[1]);
}

/** The figures that trip --fail-on LEVEL, in words. */
export function failing(report: Report, level: "regressed" | "inconclusive"): string[] {
  const bad = (v: string) => v === "regressed" || (level === "inconclusive" && (v === "inconclusive" || v === "not comparable"));
  const out: string[] = [];
  for (const t of report.tables)
    for (const r of t.rows) {
      const c = r.comparison;
      if (!c) continue;
      if (c.verdict === "not comparable") {
        if (bad(c.verdict)) out.push(`${t.test} ${r.sizeLabel} ${r.label}: not comparable`);
        continue;
      }
      for (const m of c.metrics) if (bad(m.verdict)) out.push(`${t.test} ${r.sizeLabel} ${r.label} ${m.name}: ${m.verdict} ${changeText(m.change)}`);
    }
  for (const p of report.series ?? []) for (const r of p.rows) if (r.index > 0 && bad(r.comparison.verdict)) out.push(`${p.test} ${r.sizeLabel} patch ${r.index} (${r.to}): ${r.comparison.verdict} ${changeText(r.comparison.change)}`);
  return out;
}

export async function run(argv: string[]): Promise<number> {
  try {
    return await report(argv);
  } catch (e) {
    // Arguments and paths may hold anything: no control character reaches the terminal.
    if (e instanceof UsageError) throw new UsageError(neutralise(e.message));
    throw e;
  }
}

async function report(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, { baseline: "string", reference: "string", format: "string", html: "string", "no-html": "boolean", threshold: "string", "fail-on": "string" }, "report");
  if (flags.help) {
    console.log(help);
    return EXIT_OK;
  }
  if (positionals.length === 0) throw new UsageError("ixlab report: give at least one RUN; see ixlab report --help");
  const format = (flags.format as string | undefined) ?? "md";
  if (!["md", "json", "csv", "email"].includes(format)) throw new UsageError(`ixlab report: --format ${format}: expected md, json, csv or email`);
  if (flags.reference !== undefined && flags.reference !== "seed") throw new UsageError(`ixlab report: --reference ${flags.reference}: the only reference is "seed"`);
  if (flags.html && flags["no-html"]) throw new UsageError("ixlab report: give --html PATH or --no-html, not both");
  const failOn = flags["fail-on"] as string | undefined;
  if (failOn !== undefined && failOn !== "regressed" && failOn !== "inconclusive") throw new UsageError(`ixlab report: --fail-on ${failOn}: expected regressed or inconclusive`);
  const thresholdPct = flags.threshold === undefined ? undefined : parseThreshold(flags.threshold as string);
  const dirs = positionals.map((p) => resolveRunDir(p));
  let rendered;
  try {
    rendered = renderReport(dirs, {
      baseline: flags.baseline as string | undefined,
      reference: flags.reference as "seed" | undefined,
      html: flags["no-html"] ? false : (flags.html as string | undefined),
      thresholdPct,
    });
  } catch (e) {
    if (e instanceof ResultsError) {
      for (const line of e.lines) console.error(neutralise(line));
      return EXIT_BAD_INPUT;
    }
    if (e instanceof ReportError) throw new UsageError(`ixlab report: ${e.message}`);
    // A file system error the checks above did not foresee: still one line, naming the path.
    const err = e as NodeJS.ErrnoException;
    if (err.code && err.path) throw new UsageError(`ixlab report: ${path.relative(process.cwd(), err.path) || err.path}: ${err.code} (${err.syscall ?? "I/O"})`);
    throw e;
  }
  for (const w of rendered.report.warnings) console.error(`warning: ${w}`);
  const out = { md: rendered.markdown, json: rendered.json, csv: rendered.csv, email: rendered.email }[format as "md"];
  process.stdout.write(out);
  if (rendered.htmlPath) console.error(`HTML report: ${path.relative(process.cwd(), path.resolve(rendered.htmlPath)) || rendered.htmlPath}`);
  if (failOn) {
    const found = failing(rendered.report, failOn as "regressed");
    if (found.length) {
      console.error(`ixlab report: --fail-on ${failOn}: ${found.length} figure${found.length === 1 ? "" : "s"}:`);
      for (const f of found.slice(0, 20)) console.error(`  ${f}`);
      if (found.length > 20) console.error(`  ... and ${found.length - 20} more`);
      return EXIT_FAILED;
    }
  }
  return EXIT_OK;
}
