// Verdicts: one cell's figure against the baseline's at the same size, tested on the repetitions
// (Welch's t, and Mann-Whitney U where the sample sizes can reach the level at all), the 95% interval
// of the % change, and Holm's correction over every test of one report. The rules, in order:
//   inconclusive  fewer than two repetitions on a side, or an interval that does not close
//   no change     the whole interval of the % change lies within +-threshold
//   improved /    Holm-adjusted Welch p below alpha, the interval on one side of 0, and Mann-Whitney
//   regressed     (when it runs) agreeing; the metric's better direction names which
//   inconclusive  anything else: too noisy or too few repetitions to tell
import { mannWhitney, MannWhitney, percentChange, PercentChange, welch, Welch } from "../bench/stats";

export type Verdict = "improved" | "regressed" | "no change" | "inconclusive" | "not comparable";
export type MetricKey = "result" | "qemuCpuPct" | "vhostCpuPct" | "irqPerSec" | "cpuPerGbps";

export interface Metric {
  key: MetricKey;
  /** Throughput for stream tests, transactions/s for TCP_RR. */
  name: string;
  better: "higher" | "lower";
}

export function metricsFor(test: string): Metric[] {
  return [
    { key: "result", name: test === "TCP_RR" ? "transactions/s" : "throughput", better: "higher" },
    { key: "qemuCpuPct", name: "qemu CPU", better: "lower" },
    { key: "vhostCpuPct", name: "vhost CPU", better: "lower" },
    { key: "irqPerSec", name: "irq/s", better: "lower" },
    ...(test === "TCP_RR" ? [] : [{ key: "cpuPerGbps" as const, name: "CPU per Gb/s", better: "lower" as const }]),
  ];
}

export const DEFAULT_THRESHOLD_PCT = 2;
export const ALPHA = 0.05;

export interface MetricComparison {
  metric: MetricKey;
  name: string;
  better: "higher" | "lower";
  nA: number;
  nB: number;
  /** % change of the mean and its 95% interval (null: unbounded); null when the baseline's mean is not positive. */
  change: PercentChange | null;
  welch: Welch | null;
  mannWhitney: MannWhitney | null;
  /** Welch's p after Holm over the report's family; set by adjustFamily. */
  pHolm?: number;
  verdict: Verdict;
  /** Why, in a few words (for inconclusive and not comparable). */
  why?: string;
}

/** A figure of one cell against the baseline's: the tests, before Holm (verdict filled by decide). */
export function compareMetric(metric: Metric, a: readonly number[], b: readonly number[]): MetricComparison {
  return { metric: metric.key, name: metric.name, better: metric.better, nA: a.length, nB: b.length, change: percentChange(a, b), welch: welch(a, b), mannWhitney: mannWhitney(a, b, ALPHA), verdict: "inconclusive" };
}

/** Holm over every comparison that has a Welch p (one family per report), then each verdict. */
export function adjustFamily(all: MetricComparison[], thresholdPct: number, holmOf: (ps: number[]) => number[]): number {
  const tested = all.filter((c) => c.welch && c.verdict !== "not comparable");
  const adjusted = holmOf(tested.map((c) => c.welch!.p));
  tested.forEach((c, i) => (c.pHolm = adjusted[i]));
  for (const c of all) if (c.verdict !== "not comparable") Object.assign(c, decide(c, thresholdPct));
  return tested.length;
}

export function decide(c: MetricComparison, thresholdPct: number, alpha = ALPHA): { verdict: Verdict; why?: string } {
  if (c.nA < 2 || c.nB < 2) return { verdict: "inconclusive", why: `too few repetitions (n=${c.nA} and ${c.nB})` };
  if (!c.change) return { verdict: "inconclusive", why: "no % change of a baseline at or below 0" };
  const ci = c.change.ci;
  if (!ci) return { verdict: "inconclusive", why: "the interval does not close (the baseline is too noisy)" };
  if (ci.low >= -thresholdPct && ci.high <= thresholdPct) return { verdict: "no change" };
  const p = c.pHolm ?? c.welch?.p ?? 1;
  const oneSide = ci.low > 0 || ci.high < 0;
  if (p < alpha && oneSide) {
    if (c.mannWhitney && c.mannWhitney.p >= alpha) return { verdict: "inconclusive", why: `Welch's t says p=${pText(p)}, Mann-Whitney U does not (p=${pText(c.mannWhitney.p)})` };
    const up = ci.low > 0;
    return { verdict: up === (c.better === "higher") ? "improved" : "regressed" };
  }
  if (p >= alpha && c.welch && c.welch.p < alpha) return { verdict: "inconclusive", why: `p=${pText(c.welch.p)} alone, ${pText(p)} after Holm` };
  return { verdict: "inconclusive", why: `interval ${intervalText(ci)} too wide to tell` };
}

export function pText(p: number): string {
  if (p < 0.0001) return "<0.0001";
  return p < 0.01 ? p.toFixed(4) : p.toFixed(3);
}

/** "p=0.003", "p<0.0001" */
export const pEquals = (p: number) => (p < 0.0001 ? "p<0.0001" : `p=${pText(p)}`);

export const signed = (v: number, digits = 1) => `${v >= 0 ? "+" : "-"}${Math.abs(v).toFixed(digits)}`;

export function intervalText(ci: { low: number; high: number }): string {
  return `[${signed(ci.low)}, ${signed(ci.high)}]`;
}

/** "+50.0% [+47.3, +52.8]" */
export function changeText(c: PercentChange | null): string {
  if (!c) return "—";
  return `${signed(c.pct)}%${c.ci ? ` ${intervalText(c.ci)}` : ""}`;
}
