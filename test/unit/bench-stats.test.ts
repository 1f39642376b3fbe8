// Statistics against values computed by hand (each computation is written out next to its test) and
// against SciPy/statsmodels values in test/fixtures/stats/stats.json (made by make.py beside it).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fs from "node:fs";
import { holm, mannWhitney, mannWhitneyFloor, mean, median, outlierIndexes, percentChange, sampleStdDev, summarize, tCritical95, WIDE_CI, welch } from "../../src/bench/stats";
import { fixture } from "../helpers";

const close = (a: number | undefined, b: number, eps = 1e-6) => assert.ok(a !== undefined && Math.abs(a - b) <= eps, `${a} is not ${b} (+-${eps})`);

const ref = JSON.parse(fs.readFileSync(fixture("stats", "stats.json"), "utf8")) as {
  cases: { name: string; a: number[]; b: number[]; summaryA: { mean: number; sd: number; half: number }; welch?: { t: number; df: number; p: number }; mannWhitney: { u: number; p: number; method: string }; pct: number; pctCi: [number, number] | null }[];
  quantiles: { df: number; t975: number }[];
  holm: { p: number[]; adjusted: number[] }[];
};
const rel = (a: number | undefined, b: number, eps = 1e-9) => assert.ok(a !== undefined && Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} is not ${b} (relative +-${eps})`);

describe("against SciPy and statsmodels (test/fixtures/stats/make.py)", () => {
  it("t(0.975, df), integer and fractional df", () => {
    for (const q of ref.quantiles) rel(tCritical95(q.df), q.t975, 1e-9);
    // and the printed tables' three decimals
    close(tCritical95(2), 4.303, 0.0005);
    assert.throws(() => tCritical95(0), /positive/);
  });

  for (const c of ref.cases)
    it(`${c.name}: summary, Welch, Mann-Whitney, % change and its Fieller interval`, () => {
      const s = summarize(c.a);
      rel(s.mean, c.summaryA.mean);
      rel(s.sd, c.summaryA.sd);
      rel(s.ci95?.half, c.summaryA.half, 1e-9);
      const w = welch(c.a, c.b);
      if (c.welch) {
        rel(w?.t, c.welch.t, 1e-9);
        rel(w?.df, c.welch.df, 1e-9);
        rel(w?.p, c.welch.p, 1e-7);
      }
      const m = mannWhitney(c.a, c.b);
      if (mannWhitneyFloor(c.a.length, c.b.length) > 0.05) assert.equal(m, null, "n too small for the test to reach 5%");
      else {
        assert.equal(m?.method, c.mannWhitney.method);
        rel(m?.u, c.mannWhitney.u);
        rel(m?.p, c.mannWhitney.p, 1e-9);
      }
      const pc = percentChange(c.a, c.b);
      rel(pc?.pct, c.pct);
      if (c.pctCi === null) assert.equal(pc?.ci, null);
      else {
        rel(pc?.ci?.low, c.pctCi[0], 1e-9);
        rel(pc?.ci?.high, c.pctCi[1], 1e-9);
      }
    });

  it("Holm's adjustment", () => {
    for (const f of ref.holm) holm(f.p).forEach((p, i) => rel(p, f.adjusted[i], 1e-12));
    assert.deepEqual(holm([]), []);
  });

  it("edge cases: one value, no spread on either side, the smallest reachable Mann-Whitney p", () => {
    assert.equal(welch([1], [1, 2]), null);
    assert.deepEqual(welch([5, 5], [5, 5]), { t: 0, df: 2, p: 1 });
    assert.equal(welch([5, 5], [6, 6])?.p, 0);
    assert.deepEqual(percentChange([100, 100], [110, 110]), { pct: 10.000000000000009, ci: { low: 10.000000000000009, high: 10.000000000000009 } });
    assert.deepEqual(percentChange([100], [110, 111])?.ci, null);
    assert.equal(percentChange([0, 0], [1, 2]), null, "no % of a zero baseline");
    // 2 / C(6, 3) = 0.1; 2 / C(8, 4) = 2 / 70
    close(mannWhitneyFloor(3, 3), 0.1, 1e-12);
    close(mannWhitneyFloor(4, 4), 2 / 70, 1e-12);
    assert.equal(mannWhitney([1, 2, 3], [4, 5, 6]), null);
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
