// The report's content, built from saved runs only: per test, one row per (message size, variant)
// with the statistics of each figure over the repetitions, % of line rate and the delta against the
// baseline; published reference rows beside them on request. Renderers only format this.
import { BenchTest, CellRecord, DEFAULT_LINE_RATE_MBPS, LoadedRun } from "../bench/results";
import { summarize, Summary } from "../bench/stats";
import { formatSize, parseSize } from "../lab/units";
import seed from "./reference/seed-results.json";

export interface ReportOptions {
  /** A variant label, a variant name or a run id; default: the first run's baseline (its first variant). */
  baseline?: string;
  /** Put the published reference figures beside the measured ones. */
  reference?: "seed";
}

export interface Row {
  test: BenchTest;
  size: number;
  sizeLabel: string;
  /** What the row is called in tables and plots: the variant, or run:variant when runs share variant names, or seed:variant. */
  label: string;
  variant: string;
  source: "measured" | "seed";
  run?: string;
  /** Repetitions planned, and found. */
  expected: number;
  found: number;
  /** Throughput (Mb/s) for stream tests, transactions/s for TCP_RR. */
  result?: Summary;
  /** The repetition number of each value in result.values (to name outliers). */
  repetitions: number[];
  qemuCpuPct?: Summary;
  vhostCpuPct?: Summary;
  irqPerSec?: Summary;
  /** Why irq/s is absent (e.g. none found on a veth). */
  irqNote?: string;
  lineRatePct?: number;
  /** Result against the baseline row of the same size, in percent; null for the baseline itself. */
  deltaPct?: number | null;
  errors: string[];
}

export interface Table {
  test: BenchTest;
  unit: "Mb/s" | "trans/s";
  lineRateMbps: number;
  rows: Row[];
}

export interface Report {
  runs: { dir: string; stack: string; run: string; started: string; ended: string | null; options: LoadedRun["record"]["options"]; environment: Record<string, unknown> }[];
  baseline: string;
  reference?: { source: string; note: string };
  tables: Table[];
  /** Missing cells, unfinished runs: shown, not fatal. */
  warnings: string[];
}

export class ReportError extends Error {}

interface Series {
  label: string;
  variant: string;
  run: LoadedRun;
}

export function buildReport(runs: LoadedRun[], opts: ReportOptions = {}): Report {
  if (runs.length === 0) throw new ReportError("no runs to report");
  const names = runs.flatMap((r) => r.record.options.variants);
  const shared = new Set(names).size !== names.length;
  const series: Series[] = runs.flatMap((run) => run.record.options.variants.map((variant) => ({ label: shared ? `${run.record.run}:${variant}` : variant, variant, run })));
  const baseline = resolveBaseline(series, runs, opts.baseline);
  const tests = [...new Set(runs.flatMap((r) => r.record.options.tests))];
  const lineRateMbps = runs[0].record.options.lineRateMbps ?? DEFAULT_LINE_RATE_MBPS;
  const tables: Table[] = tests.map((test) => {
    const sizes = [...new Set(runs.filter((r) => r.record.options.tests.includes(test)).flatMap((r) => r.record.options.sizes))].sort((a, b) => a - b);
    const rows: Row[] = [];
    for (const size of sizes) {
      const measured = series.filter((s) => s.run.record.options.tests.includes(test) && s.run.record.options.sizes.includes(size)).map((s) => measuredRow(s, test, size, lineRateMbps));
      withDeltas(measured, baseline);
      rows.push(...measured);
      if (opts.reference === "seed" && test === "TCP_STREAM") rows.push(...withDeltas(seedRows(size, lineRateMbps), "seed:baseline"));
    }
    return { test, unit: test === "TCP_RR" ? "trans/s" : "Mb/s", lineRateMbps, rows };
  });
  return {
    runs: runs.map((r) => ({ dir: r.dir, stack: r.record.stack, run: r.record.run, started: r.record.started, ended: r.record.ended, options: r.record.options, environment: r.record.environment })),
    baseline,
    ...(opts.reference === "seed" ? { reference: { source: seed.source, note: seed.setup.note } } : {}),
    tables,
    warnings: runs.flatMap((r) => r.warnings),
  };
}

function resolveBaseline(series: Series[], runs: LoadedRun[], wanted?: string): string {
  if (wanted === undefined) {
    const first = runs[0].record.options;
    const v = first.baseline ?? first.variants[0];
    return series.find((s) => s.run === runs[0] && s.variant === v)!.label;
  }
  const hit = series.find((s) => s.label === wanted) ?? series.find((s) => s.variant === wanted) ?? series.find((s) => s.run.record.run === wanted && s.variant === (s.run.record.options.baseline ?? s.run.record.options.variants[0]));
  if (!hit) throw new ReportError(`--baseline ${wanted}: not a variant or run in the report (variants: ${[...new Set(series.map((s) => s.label))].join(", ")}; runs: ${runs.map((r) => r.record.run).join(", ")})`);
  return hit.label;
}

function summaryOf(values: (number | null | undefined)[]): Summary | undefined {
  const xs = values.filter((v): v is number => typeof v === "number");
  return xs.length ? summarize(xs) : undefined;
}

function measuredRow(s: Series, test: BenchTest, size: number, lineRateMbps: number): Row {
  const cells: CellRecord[] = s.run.cells.filter((c) => c.variant === s.variant && c.test === test && c.size === size);
  const resultOf = (c: CellRecord) => (test === "TCP_RR" ? c.transactionsPerSec : c.throughputMbps);
  const withResult = cells.filter((c) => typeof resultOf(c) === "number");
  const result = summaryOf(withResult.map(resultOf));
  const notes = [...new Set(cells.map((c) => c.irqNote).filter((n): n is string => !!n))];
  return {
    test,
    size,
    sizeLabel: formatSize(size),
    label: s.label,
    variant: s.variant,
    source: "measured",
    run: s.run.record.run,
    expected: s.run.record.options.repetitions,
    found: cells.length,
    result,
    repetitions: withResult.map((c) => c.repetition),
    qemuCpuPct: summaryOf(cells.map((c) => c.qemuCpuPct)),
    vhostCpuPct: summaryOf(cells.map((c) => c.vhostCpuPct)),
    irqPerSec: summaryOf(cells.map((c) => c.irqPerSec)),
    ...(notes.length && cells.every((c) => c.irqPerSec === null) ? { irqNote: notes[0] } : {}),
    ...(result && test !== "TCP_RR" ? { lineRatePct: (result.mean / lineRateMbps) * 100 } : {}),
    errors: cells.flatMap((c) => c.errors.map((e) => `r${c.repetition}: ${e}`)),
  };
}

function withDeltas(rows: Row[], baselineLabel: string): Row[] {
  const base = rows.find((r) => r.label === baselineLabel)?.result?.mean;
  for (const r of rows) r.deltaPct = r.label === baselineLabel ? null : base && r.result ? ((r.result.mean - base) / base) * 100 : undefined;
  return rows;
}

type SeedRow = [string, string, number, number, number, number];

function seedRows(size: number, lineRateMbps: number): Row[] {
  return (seed.rows as SeedRow[])
    .filter(([label]) => parseSize(label) === size)
    .map(([label, variant, mbps, qemu, vhost, irq]) => ({
      test: "TCP_STREAM" as const,
      size,
      sizeLabel: label,
      label: `seed:${variant}`,
      variant,
      source: "seed" as const,
      expected: 1,
      found: 1,
      result: summarize([mbps]),
      repetitions: [1],
      qemuCpuPct: summarize([qemu]),
      vhostCpuPct: summarize([vhost]),
      irqPerSec: summarize([irq]),
      lineRatePct: (mbps / lineRateMbps) * 100,
      errors: [],
    }));
}
