// In what order a run's cells go, and how many repetitions each gets: blocked (each variant's cells
// together, one switch per variant) or interleaved (variants alternate per repetition round, so a slow
// drift of the machine falls on every variant alike), and with --until-ci the repetitions a cell still
// needs before its 95% CI half-width is within the target. Plain functions over keys and figures.
import { summarize } from "./stats";
import type { CellKey, RunOptions } from "./results";

/** The figure a cell's repetitions are judged by: throughput, or transactions/s for TCP_RR. */
export function cellFigure(cell: { throughputMbps: number | null; transactionsPerSec?: number | null }): number | null {
  return cell.throughputMbps ?? cell.transactionsPerSec ?? null;
}

/**
 * The variants of round `round` (1-based) in interleaved order: forward in odd rounds, backward in
 * even ones (A B | B A | A B), so consecutive rounds share their boundary variant and a linear drift
 * cancels between variants. Blocked order has one round.
 */
export function roundVariants(variants: string[], round: number): string[] {
  return round % 2 === 1 ? variants : [...variants].reverse();
}

/** Where a cell goes in the run: a key to sort by. */
export function orderKey(options: RunOptions, k: CellKey): number[] {
  const t = options.tests.indexOf(k.test);
  const s = options.sizes.indexOf(k.size);
  if (options.order === "interleaved") return [k.repetition, roundVariants(options.variants, k.repetition).indexOf(k.variant), t, s];
  return [options.variants.indexOf(k.variant), t, s, k.repetition];
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

export function sortCells<T extends CellKey>(options: RunOptions, cells: T[]): T[] {
  return [...cells].sort((a, b) => compareKeys(orderKey(options, a), orderKey(options, b)));
}

/** The cells every run has: variants x tests x sizes x the first `repetitions` repetitions, in run order. */
export function baseMatrix(options: RunOptions): CellKey[] {
  const cells: CellKey[] = [];
  for (const variant of options.variants)
    for (const test of options.tests)
      for (const size of options.sizes)
        for (let repetition = 1; repetition <= options.repetitions; repetition++) cells.push({ variant, test, size, streams: options.streams, repetition });
  return sortCells(options, cells);
}

/** The most repetitions a cell of this run may have. */
export function repetitionCap(options: RunOptions): number {
  return options.untilCi !== undefined ? Math.max(options.maxReps ?? options.repetitions, options.repetitions) : options.repetitions;
}

/** One group of repetitions judged together: a variant's cell, or under interleaved order a test and size across all variants (they get the same count, so they stay comparable). */
function groupOf(options: RunOptions, k: CellKey): string {
  return options.order === "interleaved" ? `${k.test}/${k.size}` : `${k.variant}/${k.test}/${k.size}`;
}

export interface Finished extends CellKey {
  throughputMbps: number | null;
  transactionsPerSec?: number | null;
}

/** The relative 95% CI half-width of the figures, in percent; Infinity with fewer than two. */
export function halfWidthPct(values: number[]): number {
  if (values.length < 2) return Infinity;
  const s = summarize(values);
  if (!s.ci95) return Infinity;
  return s.mean === 0 ? (s.ci95.half === 0 ? 0 : Infinity) : (100 * s.ci95.half) / Math.abs(s.mean);
}

export interface Pending {
  /** Cells known to be needed now, in run order. */
  cells: CellKey[];
  /** --until-ci: estimated further cells beyond `cells` (from each open group's CI so far). */
  moreEstimate: number;
  /** --until-ci: groups still short of the target, with their half-width now (percent). */
  open: { group: string; n: number; halfWidthPct: number }[];
}

/**
 * What is left to run given the finished cells: the base matrix's missing cells, and under --until-ci
 * one more repetition for each group whose base is complete but whose CI is still wider than the
 * target (below the cap). Recomputed after every cell.
 */
export function pendingCells(options: RunOptions, finished: Finished[]): Pending {
  const done = new Map(finished.map((c) => [key(c), c]));
  const missing = baseMatrix(options).filter((k) => !done.has(key(k)));
  if (options.untilCi === undefined) return { cells: missing, moreEstimate: 0, open: [] };
  const cap = repetitionCap(options);
  const target = options.untilCi;
  const groups = new Map<string, Finished[]>();
  for (const c of finished) {
    const g = groupOf(options, c);
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  const missingGroups = new Set(missing.map((k) => groupOf(options, k)));
  const extra: CellKey[] = [];
  const open: Pending["open"] = [];
  let moreEstimate = 0;
  for (const variant of options.variants)
    for (const test of options.tests)
      for (const size of options.sizes) {
        const probe = { variant, test, size, streams: options.streams, repetition: 1 };
        const g = groupOf(options, probe);
        if (missingGroups.has(g)) continue;
        const cells = groups.get(g) ?? [];
        // Under interleaved order a group spans the variants; each is judged, and all get one more.
        const members = options.order === "interleaved" ? options.variants : [variant];
        if (options.order === "interleaved" && variant !== options.variants[0]) continue;
        const reps = Math.max(0, ...cells.map((c) => c.repetition));
        const widths = members.map((v) => halfWidthPct(cells.filter((c) => c.variant === v).map(cellFigure).filter((x): x is number => x !== null)));
        const worst = Math.max(...widths);
        if (worst <= target || reps >= cap) continue;
        open.push({ group: g, n: reps, halfWidthPct: worst });
        for (const v of members) {
          const next = { variant: v, test, size, streams: options.streams, repetition: reps + 1 };
          if (!done.has(key(next))) extra.push(next);
        }
        // The CI shrinks as 1/sqrt(n): about n * (worst/target)^2 repetitions in all.
        const needed = Number.isFinite(worst) ? Math.min(cap, Math.ceil(reps * (worst / target) ** 2)) : cap;
        moreEstimate += Math.max(0, needed - reps - 1) * members.length;
      }
  return { cells: sortCells(options, [...missing, ...extra]), moreEstimate, open };
}

/** --until-ci at the end: per variant, test and size, its repetitions and half-width, and whether it met the target. */
export function ciSummary(options: RunOptions, finished: Finished[]): string[] {
  if (options.untilCi === undefined) return [];
  const out: string[] = [];
  for (const variant of options.variants)
    for (const test of options.tests)
      for (const size of options.sizes) {
        const cells = finished.filter((c) => c.variant === variant && c.test === test && c.size === size);
        const w = halfWidthPct(cells.map(cellFigure).filter((x): x is number => x !== null));
        const met = w <= options.untilCi;
        out.push(`${variant} ${test} ${size}: ±${Number.isFinite(w) ? w.toFixed(1) : "∞"}% after ${cells.length} repetition(s)${met ? "" : cells.length >= repetitionCap(options) ? " (stopped at --max-reps)" : " (not finished)"}`);
      }
  return out;
}

function key(k: CellKey): string {
  return `${k.variant}\u0000${k.test}\u0000${k.size}\u0000${k.streams}\u0000${k.repetition}`;
}

/** Variant switches the cells need, starting from `current` (each one a `pulumi up`). */
export function switchesFor(cells: CellKey[], current: string | undefined): number {
  let n = 0;
  let v = current;
  for (const k of cells) if (k.variant !== v) ((v = k.variant), n++);
  return n;
}
