// ixlab report from a small synthetic run written with the results API: the Markdown table exactly,
// the reference rows, the HTML page's plots and error bars, CSV and JSON, and the CLI's exit codes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { buildReport, renderReport } from "../../src/report";
import { loadRun } from "../../src/bench/results";
import { fixture, ROOT } from "../helpers";
import { syntheticRun } from "../report-helpers";

const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-report-"));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

describe("report", () => {
  it("renders the reference-shaped Markdown table exactly", () => {
    const dir = syntheticRun(tmp());
    const { markdown } = renderReport([dir], { html: false });
    // Hand computation, t(0.975, 2) = 4.302653, half = t * s / sqrt(3):
    // baseline 4K: 4900 4910 4920: mean 4910, s 10, half 24.84; 4910 / 10000 = 49.1% of line rate.
    // zerocopy 4K: 7400 7402 7300: mean 7367.33; deviations 32.67, 34.67, -67.33, squares sum 6802.67,
    //   s = sqrt(3401.33) = 58.32, half 144.88; width 289.75 / 7367.33 = 3.9% (no warning);
    //   median 7400, MAD = median(0, 2, 100) = 2, M(7300) = 0.6745 * 100 / 2 = 33.7 > 3.5: r3 outlier;
    //   delta (7367.33 - 4910) / 4910 = +50.0%; Fieller's 95% interval [+47.3, +52.8] and Welch's p
    //   0.000127 are SciPy's (test/fixtures/stats, case n3-reference-like).
    // baseline 64K: 9000 9100 9200: s 100, half 248.41, width 496.83 / 9100 = 5.5% > 5%: warning.
    // zerocopy 64K: 9150 9170 (r3 missing): s 14.142, t(0.975, 1) = 12.706205, half = 12.706205 * 14.142
    //   / sqrt(2) = 127.06; delta (9160 - 9100) / 9100 = +0.7%, its interval [-1.9, +3.4] crosses 0 and
    //   leaves +-2%: inconclusive.
    // Holm over the 9 tests (5 figures at 4K, 4 at 64K where the baseline has no irq/s): 4K throughput
    //   is 6th smallest (p 0.000127 x 4 = 0.000506), but 4K qemu CPU before it has 0.000119 x 5 =
    //   0.000593 and Holm's adjusted p never decrease: 0.0006.
    const expected = `# ixlab report

**zerocopy vs baseline**

- throughput improved at 4K +50.0% [+47.3, +52.8] p=0.0006; inconclusive at 64K
- qemu CPU improved at 4K -22.4% [-23.2, -21.5] p=0.0006; improved at 64K -22.4% [-22.4, -22.4] p<0.0001
- vhost CPU improved at 4K -73.2% [-73.2, -73.2] p<0.0001; improved at 64K -70.7% [-70.7, -70.7] p<0.0001
- irq/s improved at 4K -42.9% [-48.9, -35.2] p=0.0082
- CPU per Gb/s improved at 4K -62.3% [-63.1, -61.6] p<0.0001; improved at 64K -42.8% [-44.3, -41.3] p=0.0006

Verdicts: Welch's t on the repetitions, Mann-Whitney U where n allows, Holm over the 9 tests of this report (alpha 0.05); "no change": the 95% interval of the change lies within ±2%.

- run sim/r1: 2025-01-01T12:00:00.000Z to 2025-01-01T12:10:00.000Z; variants baseline, zerocopy; TCP_STREAM; sizes 4K, 64K; 3 x 2 s
- baseline: baseline
- warning: RUN: 1 of 12 cells missing: zerocopy.tcp_stream.64K.s1.r3

## TCP_STREAM

| size | variant | throughput Mb/s ± 95% CI | qemu CPU % | vhost CPU % | irq/s | % of 10GbE | Δ vs baseline [95% CI] | verdict |
|---:|:---|---:|---:|---:|---:|---:|---:|:---|
| 4K | baseline | 4910.0 ± 24.8 | 118.5 | 84.0 | 2100 | 49.1 | baseline |  |
| 4K | zerocopy | 7367.3 ± 144.9 * | 92.0 | 22.5 | 1200 | 73.7 | +50.0% [+47.3, +52.8] | improved |
| 64K | baseline | 9100.0 ± 248.4 ⚠ | 116.0 | 82.0 | — | 91.0 | baseline |  |
| 64K | zerocopy | 9160.0 ± 127.1 (n=2 of 3) | 90.0 | 24.0 | 1250 | 91.6 | +0.7% [-1.9, +3.4] | inconclusive |

- * 4K zerocopy: outlier r3 = 7300.0 (kept in the figures)
- ⚠ 64K baseline: the 95% interval is 5.5% of the mean (more than 5%): run more repetitions or find the noise
- 64K baseline: irq/s none found: no interrupt line matches "eth1" (a veth or other virtual NIC has none)
- 64K zerocopy: 1 of 3 repetitions missing
- 64K zerocopy: inconclusive: interval [-1.9, +3.4] too wide to tell

### TCP_STREAM: every figure against baseline

| size | variant | figure | Δ vs baseline [95% CI] | p (Welch) | p (Holm) | p (Mann-Whitney) | verdict |
|---:|:---|:---|---:|---:|---:|---:|:---|
| 4K | zerocopy | throughput | +50.0% [+47.3, +52.8] | 0.0001 | 0.0006 | — | improved |
| 4K | zerocopy | qemu CPU | -22.4% [-23.2, -21.5] | 0.0001 | 0.0006 | — | improved |
| 4K | zerocopy | vhost CPU | -73.2% [-73.2, -73.2] | <0.0001 | <0.0001 | — | improved |
| 4K | zerocopy | irq/s | -42.9% [-48.9, -35.2] | 0.0041 | 0.0082 | — | improved |
| 4K | zerocopy | CPU per Gb/s | -62.3% [-63.1, -61.6] | <0.0001 | <0.0001 | — | improved |
| 64K | zerocopy | throughput | +0.7% [-1.9, +3.4] | 0.408 | 0.408 | — | inconclusive (interval [-1.9, +3.4] too wide to tell) |
| 64K | zerocopy | qemu CPU | -22.4% [-22.4, -22.4] | <0.0001 | <0.0001 | — | improved |
| 64K | zerocopy | vhost CPU | -70.7% [-70.7, -70.7] | <0.0001 | <0.0001 | — | improved |
| 64K | zerocopy | CPU per Gb/s | -42.8% [-44.3, -41.3] | 0.0002 | 0.0006 | — | improved |

CPU is percent of one CPU (a process busy on two CPUs shows 200%); qemu excludes its vhost workers. ± is the half-width of the 95% confidence interval (Student's t over the repetitions); ⚠ marks an interval wider than 5% of the mean; * marks outliers (modified z-score above 3.5), kept in every figure. Δ compares the mean with the baseline's at the same size, with the 95% interval of that change (Fieller's, which counts the baseline's noise too). CPU per Gb/s is (qemu + vhost CPU) over throughput; throughput counts up, CPU, irq/s and CPU per Gb/s count down.
`;
    assert.equal(markdown.split(path.relative(process.cwd(), dir) || dir).join("RUN").split(dir).join("RUN"), expected);
  });

  it("puts the published reference beside the measured rows with --reference seed, deltas within each source", () => {
    const { report, markdown } = renderReport([syntheticRun(tmp())], { html: false, reference: "seed", baseline: "zerocopy" });
    assert.equal(report.baseline, "zerocopy");
    const rows4k = report.tables[0].rows.filter((r) => r.sizeLabel === "4K").map((r) => [r.label, r.deltaPct === null ? "base" : r.deltaPct?.toFixed(1)]);
    // Seed 4K: zerocopy 7408.57, baseline 4913.17: (7408.57 - 4913.17) / 4913.17 = +50.8% against seed:baseline.
    assert.deepEqual(rows4k, [["baseline", "-33.4"], ["zerocopy", "base"], ["seed:zerocopy", "50.8"], ["seed:baseline", "base"]]);
    // Published figures are one value each: a delta, no test, no verdict.
    assert.match(markdown, /^\| 4K \| seed:zerocopy \| 7408\.6 \| 92\.1 \| 22\.6 \| 1229 \| 74\.1 \| \+50\.8% \| — \|$/m);
    assert.match(markdown, /^\| 64K \| seed:baseline \| 9085\.9 \| 115\.9 \| 82\.4 \| 2229 \| 90\.9 \| baseline \|  \|$/m);
    assert.match(markdown, /reference \(seed:\*\): vhost-net TX zero-copy patch series V6/);
  });

  it("compares runs that share variant names by run:variant, and takes --baseline RUN", () => {
    const root = tmp();
    const a = loadRun(syntheticRun(root, "before", ["baseline"]));
    const b = loadRun(syntheticRun(root, "after", ["baseline", "patched"]));
    const report = buildReport([a, b], { baseline: "after" });
    assert.equal(report.baseline, "after:baseline");
    assert.deepEqual(report.tables[0].rows.filter((r) => r.size === 4096).map((r) => r.label), ["before:baseline", "after:baseline", "after:patched"]);
    assert.throws(() => buildReport([a], { baseline: "nope" }), /--baseline nope: not a variant or run in the report \(variants: baseline; runs: before\)/);
  });

  it("writes a self-contained HTML page next to the run: one SVG per plot, error bars, no external references", () => {
    const dir = syntheticRun(tmp());
    const r = renderReport([dir], { reference: "seed" });
    assert.equal(r.htmlPath, path.join(dir, "report.html"));
    const html = fs.readFileSync(r.htmlPath!, "utf8");
    assert.equal(html.match(/<svg /g)?.length, 2, "a throughput plot and a CPU plot");
    assert.match(html, /TCP_STREAM: throughput per message size/);
    assert.match(html, /TCP_STREAM: CPU per message size/);
    // Error bars: one per measured bar with an interval: throughput 4 rows; CPU 2 figures x 4 rows.
    // qemu/vhost values that do not vary have a zero-width interval but still get their bar.
    assert.equal(html.match(/class="errorbar"/g)?.length, 4 + 8);
    assert.ok(!/(src|href)=["']?https?:/.test(html), "no external resources");
    assert.ok(!/<script/.test(html));
    assert.match(html, /<tr class="seed"><td>4K<\/td><td>seed:zerocopy<\/td>/);
    // The loader ignores the report next to the run.
    assert.equal(loadRun(dir).cells.length, 11);
  });

  it("exports CSV and JSON with the same figures", () => {
    const r = renderReport([syntheticRun(tmp())], { html: false });
    const lines = r.csv.trim().split("\n");
    assert.equal(lines[0], "test,size_bytes,size,variant,label,source,run,unit,n,expected_n,mean,sd,ci95_low,ci95_high,ci95_relative_width,ci_wide,outliers,qemu_cpu_pct,vhost_cpu_pct,irq_per_s,line_rate_pct,cpu_per_gbps,delta_pct,delta_ci95_low,delta_ci95_high,p_welch,p_holm,p_mann_whitney,verdict");
    assert.equal(lines.length, 5);
    // baseline 4K: half 24.8414 -> [4885.1586, 4934.8414]; width 49.6828 / 4910 = 0.0101; CPU per Gb/s
    // per repetition (118 + 84) / 4.900 = 41.2245, 202.5 / 4.910 = 41.2424, 203 / 4.920 = 41.2602: mean 41.2423.
    assert.equal(lines[1], "TCP_STREAM,4096,4K,baseline,baseline,measured,r1,Mb/s,3,3,4910,10,4885.1586,4934.8414,0.0101,false,,118.5,84,2100,49.1,41.2423,,,,,,,");
    // The change's interval, Welch's p (SciPy: 0.000126516), Holm's (see the Markdown test) and the verdict.
    assert.match(lines[2], /^TCP_STREAM,4096,4K,zerocopy,zerocopy,measured,r1,Mb\/s,3,3,7367\.3333,.*,false,r3,92,22\.5,1200,73\.6733,15\.5422,50\.0475,47\.3198,52\.7814,0\.0001265,0\.0005932,,improved$/);
    const json = JSON.parse(r.json);
    assert.equal(json.tables[0].rows[3].result.n, 2);
    assert.deepEqual(json.tables[0].rows[1].result.outliers, [2]);
  });
});

function ixlab(...args: string[]) {
  const r = spawnSync(path.join(ROOT, "bin", "ixlab"), args, { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("ixlab report (CLI)", () => {
  it("prints Markdown, warns on stderr, writes the HTML next to the run, exits 0", () => {
    const dir = syntheticRun(tmp());
    const r = ixlab("report", dir, "--reference", "seed");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^# ixlab report/);
    assert.match(r.stdout, /\| 4K \| zerocopy \| 7367\.3 ± 144\.9 \* \|/);
    assert.match(r.stderr, /^warning: .*1 of 12 cells missing/m);
    assert.match(r.stderr, /^HTML report: .*report\.html$/m);
    assert.ok(fs.existsSync(path.join(dir, "report.html")));
  });

  it("--format csv / json and --html PATH", () => {
    const dir = syntheticRun(tmp());
    const html = path.join(tmp(), "out", "page.html");
    const csv = ixlab("report", dir, "--format", "csv", "--html", html);
    assert.equal(csv.status, 0, csv.stderr);
    assert.match(csv.stdout, /^test,size_bytes,/);
    assert.ok(fs.existsSync(html));
    const json = ixlab("report", dir, "--format=json", "--no-html");
    assert.equal(json.status, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).baseline, "baseline");
  });

  it("exits 2 naming the file and field for broken results, and for bad arguments", () => {
    const bad = ixlab("report", fixture("bad-results", "cell-throughput-string"), "--no-html");
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /cells\/zerocopy\.tcp_stream\.4K\.s1\.r1\/cell\.json: throughputMbps: expected number or null, got the string "7408\.57"/);
    assert.equal(bad.stdout, "");
    assert.equal(ixlab("report").status, 2);
    assert.match(ixlab("report", "no/such-run").stderr, /no\/such-run: no run there/);
    assert.equal(ixlab("report", "no/such-run").status, 2);
    const dir = syntheticRun(tmp());
    assert.match(ixlab("report", dir, "--format", "xml").stderr, /--format xml: expected md, json, csv or email/);
    assert.match(ixlab("report", dir, "--reference", "lkml").stderr, /the only reference is "seed"/);
    const base = ixlab("report", dir, "--baseline", "nope", "--no-html");
    assert.equal(base.status, 2);
    assert.match(base.stderr, /--baseline nope: not a variant or run/);
    const help = ixlab("report", "--help");
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Examples:\n  ixlab report sim\//);
  });
});
