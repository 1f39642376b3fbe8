// The report as Markdown (stdout), CSV and JSON. Same rows, same numbers, only formatting here.
import { WIDE_CI } from "../bench/stats";
import { formatSize } from "../lab/units";
import { Report, Row, Table } from "./model";

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

export function deltaText(r: Row): string {
  if (r.deltaPct === null) return "baseline";
  if (r.deltaPct === undefined) return DASH;
  return `${r.deltaPct >= 0 ? "+" : ""}${r.deltaPct.toFixed(1)}%`;
}

export function tableNotes(t: Table): string[] {
  const notes: string[] = [];
  for (const r of t.rows) {
    const where = `${r.sizeLabel} ${r.label}`;
    if (r.source === "measured" && r.found < r.expected) notes.push(`${where}: ${r.expected - r.found} of ${r.expected} repetitions missing`);
    if (r.result?.wide) notes.push(`⚠ ${where}: the 95% interval is ${(r.result.relativeWidth! * 100).toFixed(1)}% of the mean (more than ${WIDE_CI * 100}%): run more repetitions or find the noise`);
    if (r.result?.outliers.length) notes.push(`* ${where}: outlier${r.result.outliers.length > 1 ? "s" : ""} ${r.result.outliers.map((i) => `r${r.repetitions[i]} = ${fixed(r.result!.values[i])}`).join(", ")} (kept in the figures)`);
    if (r.irqNote) notes.push(`${where}: irq/s ${r.irqNote}`);
    for (const e of r.errors) notes.push(`${where}: error ${e}`);
  }
  return notes;
}

export function renderMarkdown(report: Report): string {
  const out: string[] = ["# ixlab report", ""];
  for (const r of report.runs) {
    const o = r.options;
    out.push(`- run ${r.stack}/${r.run}: ${r.started} to ${r.ended ?? "(not ended)"}; variants ${o.variants.join(", ")}; ${o.tests.join(", ")}; sizes ${o.sizes.map(formatSize).join(", ")}; ${o.repetitions} x ${o.durationSeconds} s${o.streams > 1 ? `; ${o.streams} streams` : ""}${o.scenario ? `; scenario ${o.scenario}` : ""}`);
  }
  out.push(`- baseline: ${report.baseline}`);
  if (report.reference) out.push(`- reference (seed:*): ${report.reference.source}; ${report.reference.note}`);
  for (const w of report.warnings) out.push(`- warning: ${w}`);
  for (const t of report.tables) {
    out.push("", `## ${t.test}`, "");
    out.push(`| size | variant | ${t.unit === "Mb/s" ? "throughput Mb/s" : "transactions/s"} ± 95% CI | qemu CPU % | vhost CPU % | irq/s | ${lineRateHeader(t)} | Δ vs baseline |`);
    out.push("|---:|:---|---:|---:|---:|---:|---:|---:|");
    for (const r of t.rows) {
      out.push(`| ${r.sizeLabel} | ${r.label} | ${resultText(r)} | ${fixed(r.qemuCpuPct?.mean)} | ${fixed(r.vhostCpuPct?.mean)} | ${fixed(r.irqPerSec?.mean, 0)} | ${fixed(r.lineRatePct)} | ${deltaText(r)} |`);
    }
    const notes = tableNotes(t);
    if (notes.length) out.push("", ...notes.map((n) => `- ${n}`));
  }
  out.push(
    "",
    "CPU is percent of one CPU (a process busy on two CPUs shows 200%); qemu excludes its vhost workers. ± is the half-width of the 95% confidence interval (Student's t over the repetitions); ⚠ marks an interval wider than 5% of the mean; * marks outliers (modified z-score above 3.5), kept in every figure. Δ compares the mean with the baseline's at the same size.",
  );
  return out.join("\n") + "\n";
}

const CSV_COLUMNS = [
  "test", "size_bytes", "size", "variant", "label", "source", "run", "unit", "n", "expected_n", "mean", "sd", "ci95_low", "ci95_high", "ci95_relative_width", "ci_wide", "outliers",
  "qemu_cpu_pct", "vhost_cpu_pct", "irq_per_s", "line_rate_pct", "delta_pct",
] as const;

function csvField(v: unknown): string {
  if (v === undefined || v === null) return "";
  const s = typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, "").replace(/\.$/, "")) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

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
        delta_pct: r.deltaPct,
      };
      lines.push(CSV_COLUMNS.map((c) => csvField(row[c])).join(","));
    }
  return lines.join("\n") + "\n";
}

export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + "\n";
}
