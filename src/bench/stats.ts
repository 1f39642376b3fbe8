// Statistics over a cell's repetitions: mean, sample standard deviation, a 95% confidence interval
// from Student's t, a warning when that interval is wide, and outliers flagged (never dropped); and
// the comparison of two cells: Welch's t, Mann-Whitney U, the 95% interval of the % change (Fieller)
// and Holm's correction. Distributions and tests come from stdlib (@stdlib/*), not from here.
import normalCdf from "@stdlib/stats-base-dists-normal-cdf";
import tQuantile from "@stdlib/stats-base-dists-t-quantile";
import padjust from "@stdlib/stats-padjust";
import ttest2 from "@stdlib/stats-ttest2";

/** t(0.975, df), the two-sided 95% critical value of Student's t (stdlib's quantile; df may be fractional, as Welch's is). */
export function tCritical95(df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  return tQuantile(0.975, df);
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("mean of no values");
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (divides by n - 1); undefined for fewer than two values. */
export function sampleStdDev(xs: readonly number[]): number | undefined {
  if (xs.length < 2) return undefined;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Relative width above which a cell's interval gets a warning: the full width (upper - lower) over the mean. */
export const WIDE_CI = 0.05;

/**
 * Outliers by the modified z-score of Iglewicz and Hoaglin: M = 0.6745 (x - median) / MAD, flagged
 * when |M| > 3.5. Chosen over Tukey's 1.5 IQR fences and |z| > 2 because a cell has 3 repetitions
 * by default, and neither of those can ever flag one of three values (the largest |z| of three
 * values is 2/sqrt(3) = 1.155; the type-7 fences always enclose the extremes of three). When more
 * than half the values are equal (MAD = 0) the mean absolute deviation scaled by 1.2533 stands in.
 */
export const OUTLIER_MODIFIED_Z = 3.5;

export function outlierIndexes(xs: readonly number[]): number[] {
  if (xs.length < 3) return [];
  const med = median(xs);
  const dev = xs.map((x) => Math.abs(x - med));
  const mad = median(dev);
  let scale: number;
  if (mad > 0) scale = mad / 0.6745;
  else {
    const meanAd = mean(dev);
    if (meanAd === 0) return [];
    scale = meanAd * 1.253314;
  }
  return xs.map((x, i) => [Math.abs(x - med) / scale, i]).filter(([m]) => m > OUTLIER_MODIFIED_Z).map(([, i]) => i);
}

export interface Summary {
  n: number;
  values: number[];
  mean: number;
  sd?: number;
  /** 95% interval: mean +- half; absent for a single value. */
  ci95?: { low: number; high: number; half: number };
  /** (high - low) / |mean|. */
  relativeWidth?: number;
  /** The interval is wider than WIDE_CI of the mean: more repetitions or a quieter machine needed. */
  wide: boolean;
  /** Indexes into values of the outliers; they stay in every figure above. */
  outliers: number[];
}

export function summarize(values: readonly number[]): Summary {
  const xs = [...values];
  const m = mean(xs);
  const sd = sampleStdDev(xs);
  if (sd === undefined) return { n: xs.length, values: xs, mean: m, wide: false, outliers: [] };
  const half = (tCritical95(xs.length - 1) * sd) / Math.sqrt(xs.length);
  const relativeWidth = m === 0 ? (half === 0 ? 0 : Infinity) : (2 * half) / Math.abs(m);
  return { n: xs.length, values: xs, mean: m, sd, ci95: { low: m - half, high: m + half, half }, relativeWidth, wide: relativeWidth > WIDE_CI, outliers: outlierIndexes(xs) };
}

/** Welch's two-sample t test (unequal variances), two-sided; null when either side has fewer than two values. */
export interface Welch {
  t: number;
  df: number;
  p: number;
}

export function welch(a: readonly number[], b: readonly number[]): Welch | null {
  if (a.length < 2 || b.length < 2) return null;
  const va = sampleStdDev(a)! ** 2 / a.length;
  const vb = sampleStdDev(b)! ** 2 / b.length;
  // stdlib answers NaN when both sides have no spread; the answer is then certain either way.
  if (va + vb === 0) return mean(a) === mean(b) ? { t: 0, df: a.length + b.length - 2, p: 1 } : { t: mean(b) > mean(a) ? Infinity : -Infinity, df: a.length + b.length - 2, p: 0 };
  const r = ttest2([...b], [...a], { variance: "unequal" });
  return { t: r.statistic, df: r.df, p: r.pValue };
}

/** Mann-Whitney U of b against a (U counts pairs with b above a, ties half), two-sided. */
export interface MannWhitney {
  u: number;
  p: number;
  /** Exact permutation distribution (no ties, small samples) or the normal approximation with tie and continuity corrections. */
  method: "exact" | "normal";
}

/** Samples this small or smaller get the exact distribution when there are no ties. */
export const MWU_EXACT_MAX = 40;

/**
 * The smallest two-sided p the Mann-Whitney test can reach with these sample sizes, 2 / C(na + nb, na):
 * 0.1 for 3 and 3, so at the default 3 repetitions it can never reach 5% and is not run.
 */
export function mannWhitneyFloor(na: number, nb: number): number {
  let c = 1;
  for (let i = 1; i <= na; i++) c = (c * (nb + i)) / i;
  return Math.min(1, 2 / c);
}

/** null when the sample sizes cannot reach alpha at all (see mannWhitneyFloor). */
export function mannWhitney(a: readonly number[], b: readonly number[], alpha = 0.05): MannWhitney | null {
  const na = a.length;
  const nb = b.length;
  if (na === 0 || nb === 0 || mannWhitneyFloor(na, nb) > alpha) return null;
  let u = 0;
  for (const y of b) for (const x of a) u += y > x ? 1 : y === x ? 0.5 : 0;
  const all = [...a, ...b].sort((x, y) => x - y);
  const tieGroups: number[] = [];
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j] === all[i]) j++;
    if (j - i > 1) tieGroups.push(j - i);
    i = j;
  }
  if (tieGroups.length === 0 && na + nb <= MWU_EXACT_MAX) {
    const dist = exactUDistribution(na, nb);
    let below = 0;
    let above = 0;
    dist.forEach((pr, k) => {
      if (k <= u) below += pr;
      if (k >= u) above += pr;
    });
    return { u, p: Math.min(1, 2 * Math.min(below, above)), method: "exact" };
  }
  const n = na + nb;
  const mu = (na * nb) / 2;
  const sigma = Math.sqrt(((na * nb) / 12) * (n + 1 - tieGroups.reduce((s, t) => s + t ** 3 - t, 0) / (n * (n - 1))));
  if (sigma === 0) return { u, p: 1, method: "normal" };
  const z = (Math.abs(u - mu) - 0.5) / sigma;
  return { u, p: Math.min(1, 2 * (1 - normalCdf(Math.max(0, z), 0, 1))), method: "normal" };
}

/**
 * P(U = k) for k = 0..na*nb under H0. The largest of all values is b's with probability n / (m + n)
 * and then lies above all m of a's (U gains m), else it is a's and adds nothing:
 * P(m, n, k) = n/(m+n) P(m, n-1, k-m) + m/(m+n) P(m-1, n, k).
 */
function exactUDistribution(na: number, nb: number): number[] {
  // f[m][n] as arrays over k, built up in n for each m; probabilities keep the numbers finite.
  let prev: number[][] = Array.from({ length: nb + 1 }, () => [1]); // m = 0: U = 0 with certainty
  for (let m = 1; m <= na; m++) {
    const cur: number[][] = [[1]]; // n = 0
    for (let n = 1; n <= nb; n++) {
      const size = m * n + 1;
      const f = new Array<number>(size).fill(0);
      prev[n].forEach((p, k) => (f[k] += (m / (m + n)) * p));
      cur[n - 1].forEach((p, k) => (f[k + m] += (n / (m + n)) * p));
      cur.push(f);
    }
    prev = cur;
  }
  return prev[nb];
}

/**
 * The % change of b's mean over a's, (mean(b) / mean(a) - 1) * 100, with its 95% interval by
 * Fieller's theorem for a ratio of two independent means, with Welch-type degrees of freedom taken
 * at the estimated ratio (Tamhane and Logan 2004). Unlike "CI of the difference / baseline mean" it
 * counts the baseline's own noise. The interval is null (unbounded) when a's mean is not clearly
 * away from zero, or either side has a single value.
 */
export interface PercentChange {
  pct: number;
  ci: { low: number; high: number } | null;
}

export function percentChange(a: readonly number[], b: readonly number[]): PercentChange | null {
  const ma = mean(a);
  const mb = mean(b);
  if (!(ma > 0) || mb < 0) return null;
  const r = mb / ma;
  const pct = (r - 1) * 100;
  if (a.length < 2 || b.length < 2) return { pct, ci: null };
  const va = sampleStdDev(a)! ** 2 / a.length;
  const vb = sampleStdDev(b)! ** 2 / b.length;
  if (va + vb === 0) return { pct, ci: { low: pct, high: pct } };
  const df = (vb + r * r * va) ** 2 / (vb ** 2 / (b.length - 1) + (r ** 4 * va ** 2) / (a.length - 1));
  const t = tCritical95(df);
  const denom = ma * ma - t * t * va;
  if (denom <= 0) return { pct, ci: null };
  const root = t * Math.sqrt(ma * ma * vb + mb * mb * va - t * t * va * vb);
  return { pct, ci: { low: ((ma * mb - root) / denom - 1) * 100, high: ((ma * mb + root) / denom - 1) * 100 } };
}

/** Holm's step-down adjustment of a family of p-values (stdlib padjust), in the order given. */
export function holm(ps: readonly number[]): number[] {
  return ps.length ? padjust([...ps], "holm") : [];
}
