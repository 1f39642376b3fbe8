// The report's content, built from saved runs only: per test, one row per (message size, variant)
// with the statistics of each figure over the repetitions, % of line rate, the delta against the
// baseline with its interval, tests and verdict per figure (verdict.ts), the datapath guard
// (datapath.ts) and, for a series walk, the per-patch table (series.ts); published reference rows
// beside them on request. Renderers only format this.
import * as path from "node:path";
import { BenchTest, CellRecord, DEFAULT_LINE_RATE_MBPS, LoadedRun } from "../bench/results";
import { holm, summarize, Summary } from "../bench/stats";
import { formatSize, parseSize } from "../lab/units";
import { effectiveDatapath, EffectiveDatapath, guard } from "./datapath";
import seed from "./reference/seed-results.json";
import { buildSeries, PatchTable } from "./series";
import { adjustFamily, ALPHA, changeText, compareMetric, DEFAULT_THRESHOLD_PCT, MetricComparison, metricsFor, pEquals, Verdict } from "./verdict";

export interface ReportOptions {
  /** A variant label, a variant name or a run id; default: the first run's baseline (its first variant). */
  baseline?: string;
  /** Put the published reference figures beside the measured ones. */
  reference?: "seed";
  /** A % change whose whole 95% interval lies within +-threshold is "no change"; default 2. */
  thresholdPct?: number;
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
  /** CPU per Gb/s, the service demand: (qemu + vhost CPU %) / throughput in Gb/s, per repetition. */
  cpuPerGbps?: Summary;
  /** Result against the baseline row of the same size, in percent; null for the baseline itself. */
  deltaPct?: number | null;
  /** What ran (null: not recorded). */
  datapath?: EffectiveDatapath | null;
  /** Against the baseline row of the same size (measured rows other than the baseline). */
  comparison?: RowComparison;
  errors: string[];
}

export interface RowComparison {
  against: string;
  /** The result's verdict, or "not comparable" for the whole row. */
  verdict: Verdict;
  /** Why not comparable. */
  reason?: string;
  /** One per figure both rows have; empty when not comparable. */
  metrics: MetricComparison[];
  /** What differs between the two sides besides the variants' own knobs (see datapath.ts). */
  differences: string[];
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
  /** The verdict rules' parameters and the size of the Holm family. */
  verdicts: { thresholdPct: number; alpha: number; tests: number };
  /** Per compared variant, a heading and one line per figure (or why not comparable), for the top of the report. */
  summary: SummaryItem[];
  /** Per patch of a series walk. */
  series?: PatchTable[];
  /** Missing cells, unfinished runs: shown, not fatal. */
  warnings: string[];
}

export interface SummaryItem {
  /** "zerocopy vs baseline" */
  heading: string;
  /** "throughput improved at 4K +50.0% [+47.3, +52.8], p=0.0006; inconclusive at 64K", or "not comparable: ..." */
  lines: string[];
}

export class ReportError extends Error {}

interface Side {
  label: string;
  variant: string;
  run: LoadedRun;
}

export function buildReport(runs: LoadedRun[], opts: ReportOptions = {}): Report {
  if (runs.length === 0) throw new ReportError("no runs to report");
  const names = runs.flatMap((r) => r.record.options.variants);
  const shared = new Set(names).size !== names.length;
  const series: Side[] = runs.flatMap((run) => run.record.options.variants.map((variant) => ({ label: shared ? `${run.record.run}:${variant}` : variant, variant, run })));
  const thresholdPct = opts.thresholdPct ?? DEFAULT_THRESHOLD_PCT;
  if (!(thresholdPct >= 0 && thresholdPct < 100)) throw new ReportError(`--threshold ${thresholdPct}: expected a percentage from 0 to 100`);
  const baseline = resolveBaseline(series, runs, opts.baseline);
  const tests = [...new Set(runs.flatMap((r) => r.record.options.tests))];
  const lineRateMbps = runs[0].record.options.lineRateMbps ?? DEFAULT_LINE_RATE_MBPS;
  const tables: Table[] = tests.map((test) => {
    const sizes = [...new Set(runs.filter((r) => r.record.options.tests.includes(test)).flatMap((r) => r.record.options.sizes))].sort((a, b) => a - b);
    const rows: Row[] = [];
    for (const size of sizes) {
      const measured = series.filter((s) => s.run.record.options.tests.includes(test) && s.run.record.options.sizes.includes(size)).map((s) => measuredRow(s, test, size, lineRateMbps));
      withDeltas(measured, baseline);
      withComparisons(measured, baseline, isSeriesRun(runs));
      rows.push(...measured);
      if (opts.reference === "seed" && test === "TCP_STREAM") rows.push(...withDeltas(seedRows(size, lineRateMbps), "seed:baseline"));
    }
    return { test, unit: test === "TCP_RR" ? "trans/s" : "Mb/s", lineRateMbps, rows };
  });
  const patchTables = buildSeries(runs, tables, compareRows);
  const family = dedupe([...tables.flatMap((t) => t.rows.flatMap((r) => r.comparison?.metrics ?? [])), ...patchTables.flatMap((p) => p.rows.flatMap((r) => [r.comparison]))]);
  const tested = adjustFamily(family, thresholdPct, holm);
  for (const t of tables) for (const r of t.rows) if (r.comparison && r.comparison.verdict !== "not comparable") r.comparison.verdict = r.comparison.metrics.find((m) => m.metric === "result")?.verdict ?? "inconclusive";
  return {
    runs: runs.map((r) => ({ dir: r.dir, stack: r.record.stack, run: r.record.run, started: r.record.started, ended: r.record.ended, options: r.record.options, environment: r.record.environment })),
    baseline,
    ...(opts.reference === "seed" ? { reference: { source: seed.source, note: seed.setup.note } } : {}),
    tables,
    verdicts: { thresholdPct, alpha: ALPHA, tests: tested },
    summary: summaryLines(tables, baseline),
    ...(patchTables.length ? { series: patchTables } : {}),
    warnings: [...runs.flatMap((r) => r.warnings), ...datapathWarnings(tables)],
  };
}

const isSeriesRun = (runs: LoadedRun[]) => runs.some((r) => r.record.options.series !== undefined);

/** The same two rows compared twice (the main table and the per-patch table) are one test. */
function dedupe(cs: MetricComparison[]): MetricComparison[] {
  return [...new Set(cs)];
}

/** Each measured row against the baseline row of its size: the guard, then one comparison per figure. */
function withComparisons(rows: Row[], baselineLabel: string, kernelIsKnob: boolean): void {
  const base = rows.find((r) => r.label === baselineLabel);
  if (!base) return;
  for (const r of rows) {
    // A row with no figure at all (its cells missing or failed) has nothing to compare: its table says so.
    if (r === base || !r.result) continue;
    r.comparison = compareRows(base, r, kernelIsKnob);
    // No percentage where there is nothing to compare: the renderers say why instead.
    if (r.comparison.verdict === "not comparable") r.deltaPct = undefined;
  }
}

const comparisonCache = new WeakMap<Row, Map<Row, RowComparison>>();

/** Two rows' comparison; the same pair always gives the same object, so a test is counted once by Holm. */
export function compareRows(base: Row, r: Row, kernelIsKnob: boolean): RowComparison {
  const hit = comparisonCache.get(base)?.get(r);
  if (hit) return hit;
  const g = guard(base.label, base.datapath ?? null, r.label, r.datapath ?? null, kernelIsKnob, base.variant === r.variant);
  const out: RowComparison = g.identical
    ? { against: base.label, verdict: "not comparable", reason: g.reason, metrics: [], differences: g.differences }
    : {
        against: base.label,
        verdict: "inconclusive",
        metrics: metricsFor(r.test).flatMap((m) => {
          const a = base[m.key]?.values;
          const b = r[m.key]?.values;
          return a?.length && b?.length ? [compareMetric(m, a, b)] : [];
        }),
        differences: g.differences,
      };
  if (!comparisonCache.has(base)) comparisonCache.set(base, new Map());
  comparisonCache.get(base)!.set(r, out);
  return out;
}

function resolveBaseline(series: Side[], runs: LoadedRun[], wanted?: string): string {
  if (wanted === undefined) {
    const first = runs[0].record.options;
    const v = first.baseline ?? first.variants[0];
    const hit = series.find((s) => s.run === runs[0] && s.variant === v);
    if (!hit) throw new ReportError(`${path.relative(process.cwd(), path.join(runs[0].dir, "run.json"))}: options.baseline: ${JSON.stringify(v)} is not one of options.variants (${first.variants.join(", ")})`);
    return hit.label;
  }
  const hit = series.find((s) => s.label === wanted) ?? series.find((s) => s.variant === wanted) ?? series.find((s) => s.run.record.run === wanted && s.variant === (s.run.record.options.baseline ?? s.run.record.options.variants[0]));
  if (!hit) throw new ReportError(`--baseline ${wanted}: not a variant or run in the report (variants: ${[...new Set(series.map((s) => s.label))].join(", ")}; runs: ${runs.map((r) => r.record.run).join(", ")})`);
  return hit.label;
}

function summaryOf(values: (number | null | undefined)[]): Summary | undefined {
  const xs = values.filter((v): v is number => typeof v === "number");
  return xs.length ? summarize(xs) : undefined;
}

function measuredRow(s: Side, test: BenchTest, size: number, lineRateMbps: number): Row {
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
    ...(test !== "TCP_RR" ? { cpuPerGbps: summaryOf(cells.map(serviceDemand)) } : {}),
    datapath: effectiveDatapath(s.run, s.variant, cells),
    errors: cells.flatMap((c) => c.errors.map((e) => `r${c.repetition}: ${e}`)),
  };
}

/** % of one CPU per Gb/s of throughput; vhost counts 0 where it was not measured (no vhost workers). */
function serviceDemand(c: CellRecord): number | null {
  if (typeof c.qemuCpuPct !== "number" || typeof c.throughputMbps !== "number" || c.throughputMbps <= 0) return null;
  return (c.qemuCpuPct + (c.vhostCpuPct ?? 0)) / (c.throughputMbps / 1000);
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
      cpuPerGbps: summarize([(qemu + vhost) / (mbps / 1000)]),
      errors: [],
    }));
}

/** One warning per compared pair whose sides differ in more than the variants' knobs. */
function datapathWarnings(tables: Table[]): string[] {
  const out = new Set<string>();
  for (const t of tables)
    for (const r of t.rows) {
      const c = r.comparison;
      if (c?.differences.length) out.add(`${r.label} vs ${c.against}: besides vhost, zero-copy and QEMU's arguments, these differ: ${c.differences.join("; ")} (unless a variant sets them, the comparison mixes causes)`);
      if (r.datapath?.mixed) out.add(`${r.sizeLabel} ${r.label}: its cells recorded different datapaths (the host changed during the run)`);
    }
  return [...out];
}

/**
 * The top of the report: per test and compared variant, one line: "not comparable: why", or per
 * figure the cells that improved or regressed with their change, interval and p, then the rest by verdict.
 */
export function summaryLines(tables: Table[], baseline: string): SummaryItem[] {
  const items: SummaryItem[] = [];
  for (const t of tables) {
    const labels = [...new Set(t.rows.filter((r) => r.source === "measured" && r.comparison).map((r) => r.label))];
    for (const label of labels) {
      const rows = t.rows.filter((r) => r.label === label && r.comparison);
      const head = `${label} vs ${baseline}${tables.length > 1 ? ` (${t.test})` : ""}`;
      const blocked = rows.filter((r) => r.comparison!.verdict === "not comparable");
      if (blocked.length === rows.length) {
        items.push({ heading: head, lines: [`not comparable: ${blocked[0].comparison!.reason}`] });
        continue;
      }
      const parts: string[] = [];
      if (blocked.length) parts.push(`not comparable at ${blocked.map((r) => r.sizeLabel).join(", ")}`);
      for (const m of metricsFor(t.test)) {
        const cells = rows.flatMap((r) => r.comparison!.metrics.filter((x) => x.metric === m.key).map((x) => ({ size: r.sizeLabel, c: x })));
        if (!cells.length) continue;
        const bits: string[] = [];
        for (const { size, c } of cells.filter((x) => x.c.verdict === "improved" || x.c.verdict === "regressed"))
          bits.push(`${c.verdict} at ${size} ${changeText(c.change)} ${pEquals(c.pHolm ?? c.welch!.p)}`);
        for (const v of ["no change", "inconclusive"] as const) {
          const at = cells.filter((x) => x.c.verdict === v).map((x) => x.size);
          if (at.length) bits.push(`${v} at ${at.join(", ")}`);
        }
        parts.push(`${m.name} ${bits.join("; ")}`);
      }
      items.push({ heading: head, lines: parts });
    }
  }
  return items;
}
