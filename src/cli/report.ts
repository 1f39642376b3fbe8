import * as fs from "node:fs";
import * as path from "node:path";
import { ResultsError } from "../bench/results";
import { repoRoot } from "../paths";
import { renderReport, ReportError } from "../report";
import { parseArgs } from "./args";
import { EXIT_BAD_INPUT, EXIT_OK, UsageError } from "./exit";

export const help = `Usage: ixlab report RUN [RUN...] [--baseline RUN|VARIANT] [--reference seed]
                    [--format md|json|csv] [--html PATH | --no-html]

Renders saved bench results (no lab, no Pulumi needed): per test, a table of message size x variant
with throughput and its 95% confidence interval, qemu and vhost CPU (% of one CPU), interrupts/s,
% of 10GbE line rate and the change against the baseline. Markdown (or JSON, CSV) on stdout; an HTML
page with plots is written to RUN/report.html (the first RUN) unless --html or --no-html says
otherwise. Missing cells are shown as missing and warned about on stderr.

RUN is a run directory, STACK/RUN under results/, or a run id found under results/*/.
--baseline   the variant (or run) the others are compared with; default: the first run's first variant
--reference  seed: put the published zero-copy figures (src/report/reference/) beside the measured ones

Examples:
  ixlab report sim/20250131T120000Z
  ixlab report results/sim/20250131T120000Z --reference seed
  ixlab report sim/r1 sim/r2 --baseline r1 --format csv > compare.csv

Exit status: 0 rendered, 2 bad arguments or broken result files.`;

/** A run directory from what the user typed. */
export function resolveRunDir(arg: string, root = repoRoot()): string {
  const results = path.join(root, "results");
  const candidates = [path.resolve(arg), path.join(results, arg)];
  if (!arg.includes("/") && fs.existsSync(results)) for (const stack of fs.readdirSync(results)) candidates.push(path.join(results, stack, arg));
  const hits = [...new Set(candidates.filter((c) => fs.existsSync(path.join(c, "run.json"))))];
  if (hits.length > 1) throw new UsageError(`ixlab report: ${arg} is ambiguous: ${hits.map((h) => path.relative(process.cwd(), h)).join(", ")}`);
  if (hits.length === 0) throw new UsageError(`ixlab report: ${arg}: no run there (a directory with run.json, STACK/RUN under results/, or a run id)`);
  return hits[0];
}

export async function run(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, { baseline: "string", reference: "string", format: "string", html: "string", "no-html": "boolean" }, "report");
  if (flags.help) {
    console.log(help);
    return EXIT_OK;
  }
  if (positionals.length === 0) throw new UsageError("ixlab report: give at least one RUN; see ixlab report --help");
  const format = (flags.format as string | undefined) ?? "md";
  if (!["md", "json", "csv"].includes(format)) throw new UsageError(`ixlab report: --format ${format}: expected md, json or csv`);
  if (flags.reference !== undefined && flags.reference !== "seed") throw new UsageError(`ixlab report: --reference ${flags.reference}: the only reference is "seed"`);
  if (flags.html && flags["no-html"]) throw new UsageError("ixlab report: give --html PATH or --no-html, not both");
  const dirs = positionals.map((p) => resolveRunDir(p));
  let rendered;
  try {
    rendered = renderReport(dirs, {
      baseline: flags.baseline as string | undefined,
      reference: flags.reference as "seed" | undefined,
      html: flags["no-html"] ? false : (flags.html as string | undefined),
    });
  } catch (e) {
    if (e instanceof ResultsError) {
      for (const line of e.lines) console.error(line);
      return EXIT_BAD_INPUT;
    }
    if (e instanceof ReportError) throw new UsageError(`ixlab report: ${e.message}`);
    throw e;
  }
  for (const w of rendered.report.warnings) console.error(`warning: ${w}`);
  process.stdout.write(format === "md" ? rendered.markdown : format === "json" ? rendered.json : rendered.csv);
  if (rendered.htmlPath) console.error(`HTML report: ${path.relative(process.cwd(), path.resolve(rendered.htmlPath)) || rendered.htmlPath}`);
  return EXIT_OK;
}
