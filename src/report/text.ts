// The report as Markdown (stdout), CSV and JSON. Same rows, same numbers, only formatting here.
import { WIDE_CI } from "../bench/stats";
import { formatSize } from "../lab/units";
import { Report, Row, Table } from "./model";
import { PatchRow, PatchTable } from "./series";
import { changeText, MetricComparison, pText } from "./verdict";

const DASH = "—";

export const fixed = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? DASH : v.toFixed(digits));

export function lineRateHeader(t: Table): string {
  return t.lineRateMbps === 10000 ? "% of 10GbE" : `% of ${t.lineRateMbps} Mb/s`;
}

/** "7408.6 ± 12.3", with ⚠ for a wide interval and * for outliers; "missing" when there is nothing. */
export function resultText(r: Row): string {
  if (!r.result) return r.found === 0 ? "missing" : "failed";
  const s = r.result;
  let text = s.ci95 ? `${fixed(s.mean)} ± ${fixed(s.ci95.half)}` : fixed(s.mean);
  if (r.source === "measured" && r.found < r.expected) text += ` (n=${s.n} of ${r.expected})`;
  else if (r.source === "measured" && s.n === 1 && r.expected > 1) text += " (n=1)";
  if (s.wide) text += " ⚠";
  if (s.outliers.length) text += " *";
  return text;
}

/** "+50.0% [+47.3, +52.8]" for a measured row, "+50.8%" for a published one, "not comparable", "baseline". */
export function deltaText(r: Row): string {
  if (r.deltaPct === null) return "baseline";
  if (r.comparison?.verdict === "not comparable") return "not comparable";
  const main = r.comparison?.metrics.find((m) => m.metric === "result");
  if (main?.change) return changeText(main.change);
  if (r.deltaPct === undefined) return DASH;
  return `${r.deltaPct >= 0 ? "+" : ""}${r.deltaPct.toFixed(1)}%`;
}

/** The row's verdict: empty for the baseline, a dash for published figures (one value each: no test). */
export function verdictText(r: Row): string {
  if (r.deltaPct === null) return "";
  return r.comparison?.verdict ?? DASH;
}

/** One row per figure of every compared row: the per-metric table. */
export function metricRows(t: Table): { row: Row; c?: MetricComparison }[] {
  return t.rows.filter((r) => r.comparison).flatMap((row) => (row.comparison!.verdict === "not comparable" || !row.comparison!.metrics.length ? [{ row }] : row.comparison!.metrics.map((c) => ({ row, c }))));
}

export const pCell = (p: number | undefined) => (p === undefined ? DASH : pText(p));

export function metricCells(m: { row: Row; c?: MetricComparison }): string[] {
  const { row, c } = m;
  if (!c) return [row.sizeLabel, row.label, "all", row.comparison!.verdict === "not comparable" ? "not comparable" : DASH, DASH, DASH, DASH, row.comparison!.verdict];
  return [row.sizeLabel, row.label, c.name, changeText(c.change), pCell(c.welch?.p), pCell(c.pHolm), pCell(c.mannWhitney?.p), c.verdict + (c.why ? ` (${c.why})` : "")];
}
export const METRIC_HEADER = ["size", "variant", "figure", "Δ vs baseline [95% CI]", "p (Welch)", "p (Holm)", "p (Mann-Whitney)", "verdict"];

/** The verdicts' rules in one sentence, for the top of every format. */
export function verdictRules(report: Report): string {
  const v = report.verdicts;
  const tests = v.tests
    ? `Welch's t on the repetitions, Mann-Whitney U where n allows, Holm over the ${v.tests} test${v.tests === 1 ? "" : "s"} of this report (alpha ${v.alpha})`
    : "no figure here could be tested: none has two comparable sides with repetitions";
  return `${tests}; "no change": the 95% interval of the change lies within ±${v.thresholdPct}%.`;
}

export function patchCells(t: PatchTable, r: PatchRow): string[] {
  const whole = t.rows.find((x) => x.size === r.size && x.index === 0);
  const settled = whole && (whole.comparison.verdict === "improved" || whole.comparison.verdict === "regressed");
  const share = r.sharePct === null || !settled ? DASH : `${r.sharePct.toFixed(0)}%`;
  const name = r.index === 0 ? `whole series (${r.patches.length} patch${r.patches.length === 1 ? "" : "es"})` : `${r.index}: ${r.patches.join(", ") || "(none new)"}`;
  return [r.sizeLabel, name, `${r.from} → ${r.to}`, changeText(r.comparison.change), pCell(r.comparison.pHolm), r.comparison.verdict + (r.comparison.why ? ` (${r.comparison.why})` : ""), share];
}
export const PATCH_HEADER = ["size", "patch", "prefixes", "Δ vs previous [95% CI]", "p (Holm)", "verdict", "share of the series' Δ"];
export const patchTitle = (t: PatchTable) => `Per patch: kernel ${t.kernel}, ${t.test} ${t.metric} (run ${t.run})`;
export const PATCH_NOTE = "The share is shown where the whole series' change is established (improved or regressed); shares of a change that may be noise would mean nothing.";

export function tableNotes(t: Table): string[] {
  const notes: string[] = [];
  for (const r of t.rows) {
    const where = `${r.sizeLabel} ${r.label}`;
    if (r.source === "measured" && r.found < r.expected) notes.push(`${where}: ${r.expected - r.found} of ${r.expected} repetitions missing`);
    if (r.result?.wide) notes.push(`⚠ ${where}: the 95% interval is ${(r.result.relativeWidth! * 100).toFixed(1)}% of the mean (more than ${WIDE_CI * 100}%): run more repetitions or find the noise`);
    if (r.result?.outliers.length) notes.push(`* ${where}: outlier${r.result.outliers.length > 1 ? "s" : ""} ${r.result.outliers.map((i) => `r${r.repetitions[i]} = ${fixed(r.result!.values[i])}`).join(", ")} (kept in the figures)`);
    if (r.irqNote) notes.push(`${where}: irq/s ${r.irqNote}`);
    const main = r.comparison?.metrics.find((m) => m.metric === "result");
    if (main?.verdict === "inconclusive" && main.why) notes.push(`${where}: inconclusive: ${main.why}`);
    for (const e of r.errors) notes.push(`${where}: error ${e}`);
  }
  // One note per variant that could not be compared, with the sizes it concerns.
  const blocked = new Map<string, string[]>();
  for (const r of t.rows) if (r.comparison?.verdict === "not comparable") blocked.set(`${r.label}\u0000${r.comparison.reason}`, [...(blocked.get(`${r.label}\u0000${r.comparison.reason}`) ?? []), r.sizeLabel]);
  for (const [k, sizes] of blocked) {
    const [label, reason] = k.split("\u0000");
    notes.unshift(`${sizes.join(", ")} ${label}: not comparable: ${reason}`);
  }
  return notes;
}

const mdRow = (cells: string[]) => `| ${cells.join(" | ")} |`;

export function renderMarkdown(report: Report): string {
  const out: string[] = ["# ixlab report", ""];
  if (report.summary.length) {
    for (const item of report.summary) out.push(`**${item.heading}**`, "", ...item.lines.map((l) => `- ${l}`), "");
    out.push(`Verdicts: ${verdictRules(report)}`, "");
  }
  for (const r of report.runs) {
    const o = r.options;
    out.push(`- run ${r.stack}/${r.run}: ${r.started} to ${r.ended ?? "(not ended)"}; variants ${o.variants.join(", ")}; ${o.tests.join(", ")}; sizes ${o.sizes.map(formatSize).join(", ")}; ${o.repetitions} x ${o.durationSeconds} s${o.streams > 1 ? `; ${o.streams} streams` : ""}${o.scenario ? `; scenario ${o.scenario}` : ""}`);
  }
  out.push(`- baseline: ${report.baseline}`);
  if (report.reference) out.push(`- reference (seed:*): ${report.reference.source}; ${report.reference.note}`);
  for (const w of report.warnings) out.push(`- warning: ${w}`);
  for (const t of report.tables) {
    out.push("", `## ${t.test}`, "");
    out.push(`| size | variant | ${t.unit === "Mb/s" ? "throughput Mb/s" : "transactions/s"} ± 95% CI | qemu CPU % | vhost CPU % | irq/s | ${lineRateHeader(t)} | Δ vs baseline [95% CI] | verdict |`);
    out.push("|---:|:---|---:|---:|---:|---:|---:|---:|:---|");
    for (const r of t.rows) {
      out.push(`| ${r.sizeLabel} | ${r.label} | ${resultText(r)} | ${fixed(r.qemuCpuPct?.mean)} | ${fixed(r.vhostCpuPct?.mean)} | ${fixed(r.irqPerSec?.mean, 0)} | ${fixed(r.lineRatePct)} | ${deltaText(r)} | ${verdictText(r)} |`);
    }
    const notes = tableNotes(t);
    if (notes.length) out.push("", ...notes.map((n) => `- ${n}`));
    const per = metricRows(t);
    if (per.length) {
      out.push("", `### ${t.test}: every figure against ${report.baseline}`, "", mdRow(METRIC_HEADER), "|---:|:---|:---|---:|---:|---:|---:|:---|");
      for (const m of per) out.push(mdRow(metricCells(m)));
    }
  }
  for (const p of report.series ?? []) {
    out.push("", `## ${patchTitle(p)}`, "", mdRow(PATCH_HEADER), "|---:|:---|:---|---:|---:|:---|---:|");
    for (const r of p.rows) out.push(mdRow(patchCells(p, r)));
    out.push("", PATCH_NOTE);
  }
  out.push(
    "",
    "CPU is percent of one CPU (a process busy on two CPUs shows 200%); qemu excludes its vhost workers. ± is the half-width of the 95% confidence interval (Student's t over the repetitions); ⚠ marks an interval wider than 5% of the mean; * marks outliers (modified z-score above 3.5), kept in every figure. Δ compares the mean with the baseline's at the same size, with the 95% interval of that change (Fieller's, which counts the baseline's noise too). CPU per Gb/s is (qemu + vhost CPU) over throughput; throughput counts up, CPU, irq/s and CPU per Gb/s count down.",
  );
  return out.join("\n") + "\n";
}

const CSV_COLUMNS = [
  "test", "size_bytes", "size", "variant", "label", "source", "run", "unit", "n", "expected_n", "mean", "sd", "ci95_low", "ci95_high", "ci95_relative_width", "ci_wide", "outliers",
  "qemu_cpu_pct", "vhost_cpu_pct", "irq_per_s", "line_rate_pct", "cpu_per_gbps", "delta_pct", "delta_ci95_low", "delta_ci95_high", "p_welch", "p_holm", "p_mann_whitney", "verdict",
] as const;

function csvField(v: unknown): string {
  if (v === undefined || v === null) return "";
  const s = typeof v === "number" ? (Number.isInteger(v) ? String(v) : Math.abs(v) < 0.001 ? v.toPrecision(4) : v.toFixed(4).replace(/0+$/, "").replace(/\.$/, "")) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const main = (r: Row) => r.comparison?.metrics.find((m) => m.metric === "result");

export function renderCsv(report: Report): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const t of report.tables)
    for (const r of t.rows) {
      const s = r.result;
      const row: Record<(typeof CSV_COLUMNS)[number], unknown> = {
        test: r.test,
        size_bytes: r.size,
        size: r.sizeLabel,
        variant: r.variant,
        label: r.label,
        source: r.source,
        run: r.run,
        unit: t.unit,
        n: s?.n ?? 0,
        expected_n: r.expected,
        mean: s?.mean,
        sd: s?.sd,
        ci95_low: s?.ci95?.low,
        ci95_high: s?.ci95?.high,
        ci95_relative_width: s?.relativeWidth,
        ci_wide: s ? s.wide : undefined,
        outliers: s?.outliers.map((i) => `r${r.repetitions[i]}`).join(" "),
        qemu_cpu_pct: r.qemuCpuPct?.mean,
        vhost_cpu_pct: r.vhostCpuPct?.mean,
        irq_per_s: r.irqPerSec?.mean,
        line_rate_pct: r.lineRatePct,
        cpu_per_gbps: r.cpuPerGbps?.mean,
        delta_pct: r.deltaPct,
        delta_ci95_low: main(r)?.change?.ci?.low,
        delta_ci95_high: main(r)?.change?.ci?.high,
        p_welch: main(r)?.welch?.p,
        p_holm: main(r)?.pHolm,
        p_mann_whitney: main(r)?.mannWhitney?.p,
        verdict: r.comparison?.verdict,
      };
      lines.push(CSV_COLUMNS.map((c) => csvField(row[c])).join(","));
    }
  return lines.join("\n") + "\n";
}

export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + "\n";
}
