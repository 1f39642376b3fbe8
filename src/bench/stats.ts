// Statistics over a cell's repetitions: mean, sample standard deviation, a 95% confidence interval
// from Student's t, a warning when that interval is wide, and outliers flagged (never dropped).

/**
 * Two-sided 95% critical values of Student's t, t(0.975, df), for df = 1..30 (index = df), to six
 * decimals. They agree with the usual printed tables (12.706, 4.303, 3.182, ...) and with
 * tQuantile975 below; larger df are computed.
 */
export const T975: readonly number[] = [
  NaN, 12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
  2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
  2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272,
];

/** t(0.975, df): from the table up to df 30, solved from the t distribution above it. */
export function tCritical95(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  return df < T975.length ? T975[df] : tQuantile975(df);
}

/** Solves P(T > t) = 0.025 for Student's t with df degrees of freedom (bisection on the exact CDF). */
export function tQuantile975(df: number): number {
  const upperTail = (t: number) => 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  let lo = 0;
  let hi = 100;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (upperTail(mid) > 0.025) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9); accurate to ~1e-15 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-15) break;
  }
  return (front * (f - 1)) / a;
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
