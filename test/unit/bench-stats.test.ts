// Statistics against values computed by hand (each computation is written out next to its test).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { incompleteBeta, mean, median, outlierIndexes, sampleStdDev, summarize, T975, tCritical95, tQuantile975, WIDE_CI } from "../../src/bench/stats";

const close = (a: number | undefined, b: number, eps = 1e-6) => assert.ok(a !== undefined && Math.abs(a - b) <= eps, `${a} is not ${b} (+-${eps})`);

describe("Student's t", () => {
  it("the table matches the printed three-decimal tables", () => {
    // t(0.975, df) from any statistics textbook's table.
    const printed = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];
    printed.forEach((v, i) => close(T975[i + 1], v, 0.0005));
  });

  it("the table matches the distribution solved numerically, and closed forms for df 1 and 2", () => {
    for (let df = 1; df <= 30; df++) close(tQuantile975(df), T975[df], 1e-6);
    // df = 1 (Cauchy): t = tan(pi (0.975 - 0.5)) = tan(0.475 pi) = 12.7062047...
    close(tQuantile975(1), Math.tan(0.475 * Math.PI), 1e-7);
    // df = 2: t = (2p - 1) / sqrt(2 p (1 - p)) with p = 0.975: 0.95 / sqrt(0.04875) = 4.3026527...
    close(tQuantile975(2), 0.95 / Math.sqrt(2 * 0.975 * 0.025), 1e-7);
  });

  it("large df are computed and tend to the normal 1.959964", () => {
    close(tCritical95(60), 2.000298, 1e-6);
    close(tCritical95(120), 1.979930, 1e-6);
    close(tCritical95(1e6), 1.959966, 1e-5);
    assert.throws(() => tCritical95(0), /positive integer/);
  });

  it("incompleteBeta has I_x(1, 1) = x and I_x(a, b) = 1 - I_(1-x)(b, a)", () => {
    close(incompleteBeta(0.3, 1, 1), 0.3, 1e-12);
    close(incompleteBeta(0.2, 2.5, 0.5), 1 - incompleteBeta(0.8, 0.5, 2.5), 1e-12);
  });
});

describe("summaries", () => {
  it("mean, sd and 95% CI of three repetitions", () => {
    // x = 9000, 9100, 9200: mean 9100; deviations -100, 0, 100; squares sum 20000;
    // s^2 = 20000 / 2 = 10000, s = 100; half = t(0.975, 2) * s / sqrt(3) = 4.302653 * 100 / 1.7320508
    // = 248.414; CI [8851.586, 9348.414]; relative width 2 * 248.414 / 9100 = 0.054597 > 0.05: wide.
    const s = summarize([9000, 9100, 9200]);
    assert.equal(s.n, 3);
    close(s.mean, 9100);
    close(s.sd, 100);
    close(s.ci95?.half, 248.4138, 1e-4);
    close(s.ci95?.low, 8851.5862, 1e-4);
    close(s.ci95?.high, 9348.4138, 1e-4);
    close(s.relativeWidth, 0.0545964, 1e-6);
    assert.equal(s.wide, true);
    assert.deepEqual(s.outliers, []);
  });

  it("a tight cell has no warning", () => {
    // x = 9400, 9410, 9420: s = 10, half = 4.302653 * 10 / 1.7320508 = 24.84138; width 49.68 / 9410 = 0.00528.
    const s = summarize([9400, 9410, 9420]);
    close(s.ci95?.half, 24.84138, 1e-5);
    close(s.relativeWidth, 0.00527978, 1e-7);
    assert.equal(s.wide, false);
    assert.equal(WIDE_CI, 0.05);
  });

  it("five values with df = 4", () => {
    // x = 2, 4, 4, 5, 10: mean 25 / 5 = 5; squares 9 + 1 + 1 + 0 + 25 = 36; s^2 = 36 / 4 = 9, s = 3;
    // half = 2.776445 * 3 / sqrt(5) = 8.329335 / 2.2360680 = 3.724992.
    const xs = [2, 4, 4, 5, 10];
    close(mean(xs), 5);
    close(sampleStdDev(xs), 3);
    close(summarize(xs).ci95?.half, 3.724992, 1e-6);
    close(median(xs), 4);
    close(median([1, 2, 3, 10]), 2.5);
  });

  it("one repetition has a mean and no interval", () => {
    const s = summarize([9123.4]);
    assert.deepEqual(s, { n: 1, values: [9123.4], mean: 9123.4, wide: false, outliers: [] });
    assert.equal(sampleStdDev([1]), undefined);
  });
});

describe("outliers (modified z-score > 3.5), flagged and kept", () => {
  it("flags the one of three that disagrees", () => {
    // x = 9000, 9010, 7000: median 9000; |x - median| = 0, 10, 2000; MAD = 10;
    // M = 0.6745 * 2000 / 10 = 134.9 > 3.5 for 7000; 0.6745 * 10 / 10 = 0.67 for 9010.
    assert.deepEqual(outlierIndexes([9000, 9010, 7000]), [2]);
    const s = summarize([9000, 9010, 7000]);
    assert.deepEqual(s.outliers, [2]);
    close(s.mean, 25010 / 3); // kept in the mean
  });

  it("does not flag three values that spread evenly", () => {
    // x = 100, 101, 102.5: median 101, deviations 1, 0, 1.5, MAD 1; M(102.5) = 0.6745 * 1.5 = 1.01.
    assert.deepEqual(outlierIndexes([100, 101, 102.5]), []);
  });

  it("falls back to the mean absolute deviation when MAD is 0", () => {
    // x = 5, 5, 5, 5, 9: median 5, deviations 0, 0, 0, 0, 4; MAD 0; mean abs dev 4 / 5 = 0.8;
    // scale 0.8 * 1.253314 = 1.002651; M(9) = 4 / 1.002651 = 3.989 > 3.5.
    assert.deepEqual(outlierIndexes([5, 5, 5, 5, 9]), [4]);
    assert.deepEqual(outlierIndexes([5, 5, 5]), []);
    assert.deepEqual(outlierIndexes([1, 100]), []);
  });
});
