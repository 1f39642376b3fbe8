// Verdicts on synthetic runs with a known difference (seeded, so the same values everywhere), Holm
// across the cells of one report, the datapath guard for old and new runs, and the per-patch table.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { renderReport } from "../../src/report";
import { compareMetric, decide, metricsFor } from "../../src/report/verdict";
import { datapath, normals, simEnvironmentWithoutVhost, scratch, writeSyntheticRun } from "../verdict-helpers";

const tmp = scratch("ixlab-verdict-");

const throughput = metricsFor("TCP_STREAM")[0];
const rowOf = (r: ReturnType<typeof renderReport>, size: number, label: string) => r.report.tables[0].rows.find((x) => x.size === size && x.label === label)!;
const mainOf = (r: ReturnType<typeof renderReport>, size: number, label: string) => rowOf(r, size, label).comparison!.metrics.find((m) => m.metric === "result")!;

describe("verdicts on synthetic runs", () => {
  it("+5% with 1% noise at n=5: improved, with the interval around +5%", () => {
    const g = normals(1);
    const dir = writeSyntheticRun(tmp(), { variants: ["baseline", "patched"], sizes: [4096], repetitions: 5, figures: (v) => ({ mbps: v === "baseline" ? g(10000, 100) : g(10500, 105) }) });
    const r = renderReport([dir], { html: false });
    const c = mainOf(r, 4096, "patched");
    assert.equal(c.verdict, "improved");
    assert.ok(c.change!.ci!.low > 2 && c.change!.ci!.high < 8, JSON.stringify(c.change));
    assert.ok(c.pHolm! < 0.001);
    assert.ok(c.mannWhitney && c.mannWhitney.p < 0.05, "at 5 and 5 Mann-Whitney runs, exactly");
    assert.match(r.markdown, /^- throughput improved at 4K \+\d\.\d% \[\+\d\.\d, \+\d\.\d\] p[=<]0\.\d+$/m);
    assert.match(r.markdown, /^\| 4K \| patched \| .* \| \+\d\.\d% \[\+\d\.\d, \+\d\.\d\] \| improved \|$/m);
  });

  it("identical distributions: no change (n=5, 0.5% noise: the interval inside +-2%)", () => {
    const g = normals(2);
    const dir = writeSyntheticRun(tmp(), { variants: ["baseline", "same"], sizes: [4096], repetitions: 5, figures: () => ({ mbps: g(10000, 50) }) });
    const r = renderReport([dir], { html: false });
    const c = mainOf(r, 4096, "same");
    assert.equal(c.verdict, "no change");
    assert.ok(c.change!.ci!.low >= -2 && c.change!.ci!.high <= 2);
    // A tighter threshold than the interval's reach makes the same data inconclusive.
    assert.equal(mainOf(renderReport([dir], { html: false, thresholdPct: 0.1 }), 4096, "same").verdict, "inconclusive");
  });

  it("n=2 with a wide spread: inconclusive, saying why", () => {
    const dir = writeSyntheticRun(tmp(), { variants: ["baseline", "patched"], sizes: [4096], repetitions: 2, figures: (v, s, rep) => ({ mbps: v === "baseline" ? [9000, 11000][rep - 1] : [9500, 12500][rep - 1] }) });
    const r = renderReport([dir], { html: false });
    const c = mainOf(r, 4096, "patched");
    assert.equal(c.verdict, "inconclusive");
    assert.match(c.why!, /too wide to tell|does not close/);
    assert.equal(c.mannWhitney, null, "2 and 2 can never reach 5%");
    assert.match(r.markdown, /4K patched: inconclusive: /);
  });

  it("one repetition per side: inconclusive (too few repetitions)", () => {
    const c = compareMetric(throughput, [10000], [12000]);
    assert.deepEqual(decide(c, 2), { verdict: "inconclusive", why: "too few repetitions (n=1 and 1)" });
  });

  it("8 cells where one differs: only that one survives Holm (a fluke at raw p<0.05 does not)", () => {
    const g = normals(3);
    const sizes = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072];
    // 16K: a fluke, +2.6% at raw p = 0.02 with 2% noise; 64K: the real +5% (1% noise); the rest identical.
    const fluke = { baseline: [10010, 9790, 10150, 9880, 10170], patched: [10240, 10390, 10120, 10480, 10140] };
    const dir = writeSyntheticRun(tmp(), {
      variants: ["baseline", "patched"],
      sizes,
      repetitions: 5,
      figures: (v, size, rep) => {
        if (size === 16384) return { mbps: fluke[v as "baseline" | "patched"][rep - 1] };
        return { mbps: size === 65536 && v === "patched" ? g(10500, 105) : g(10000, 100) };
      },
    });
    const r = renderReport([dir], { html: false });
    assert.equal(r.report.verdicts.tests, 8, "throughput only: no CPU or irq figures in this run");
    const raw = sizes.map((s) => mainOf(r, s, "patched"));
    assert.ok(raw[4].welch!.p < 0.05, `the fluke's raw p is ${raw[4].welch!.p}`);
    assert.ok(raw[4].pHolm! >= 0.05, `Holm: ${raw[4].pHolm}`);
    const survivors = sizes.filter((s, i) => raw[i].pHolm! < 0.05);
    assert.deepEqual(survivors, [65536]);
    assert.deepEqual(
      sizes.filter((s, i) => raw[i].verdict === "improved" || raw[i].verdict === "regressed"),
      [65536],
    );
    assert.equal(raw[4].verdict, "inconclusive");
    assert.match(raw[4].why!, /alone, .* after Holm/);
  });

  it("Holm counts every figure: CPU, irq/s and CPU per Gb/s join the family", () => {
    const g = normals(4);
    const dir = writeSyntheticRun(tmp(), {
      variants: ["baseline", "zerocopy"],
      sizes: [4096, 65536],
      repetitions: 5,
      figures: (v) => (v === "baseline" ? { mbps: g(5000, 50), qemu: g(118, 1), vhost: g(84, 1), irq: g(2100, 30) } : { mbps: g(7400, 70), qemu: g(92, 1), vhost: g(22.5, 0.5), irq: g(1200, 20) }),
    });
    const r = renderReport([dir], { html: false });
    assert.equal(r.report.verdicts.tests, 2 * 5);
    const m = Object.fromEntries(rowOf(r, 4096, "zerocopy").comparison!.metrics.map((x) => [x.metric, x.verdict]));
    // CPU down is better: every figure improved.
    assert.deepEqual(m, { result: "improved", qemuCpuPct: "improved", vhostCpuPct: "improved", irqPerSec: "improved", cpuPerGbps: "improved" });
    assert.match(r.markdown, /^- vhost CPU improved at 4K -73\.\d% \[-7\d\.\d, -7\d\.\d\] p[=<]/m);
    assert.match(r.markdown, /^\| 4K \| zerocopy \| CPU per Gb\/s \| -\d+\.\d% /m);
    assert.match(r.csv.split("\n")[2], /,improved$/);
    const slower = writeSyntheticRun(tmp(), { run: "r2", variants: ["baseline", "slower"], sizes: [4096], repetitions: 5, figures: (v) => ({ mbps: v === "baseline" ? g(5000, 25) : g(4500, 25) }) });
    assert.equal(mainOf(renderReport([slower], { html: false }), 4096, "slower").verdict, "regressed");
  });
});

describe("the datapath guard", () => {
  it("an old run (no cell datapath) whose variants both ran without vhost: not comparable, with the reason, no percentage", () => {
    const g = normals(5);
    const dir = writeSyntheticRun(tmp(), { variants: ["baseline", "zerocopy"], sizes: [4096, 65536], repetitions: 2, environment: simEnvironmentWithoutVhost(["baseline", "zerocopy"]), figures: (v) => ({ mbps: g(v === "baseline" ? 1000 : 1170, 150) }) });
    const r = renderReport([dir], { html: false });
    const row = rowOf(r, 4096, "zerocopy");
    assert.equal(row.comparison!.verdict, "not comparable");
    assert.equal(row.deltaPct, undefined);
    const reason = "not comparable: baseline and zerocopy ran the same datapath here: vhost not effective, no /dev/vhost-net";
    assert.match(r.markdown, new RegExp(`^- ${reason.replace(/[/]/g, "\\/")}$`, "m"));
    assert.match(r.markdown, /^\| 4K \| zerocopy \| .* \| not comparable \| not comparable \|$/m);
    assert.match(r.markdown, /^- 4K, 64K zerocopy: not comparable: baseline and zerocopy ran the same datapath here/m);
    assert.ok(!/\| [+-]\d+\.\d%/.test(r.markdown), "no percentage anywhere in the tables");
    assert.equal(r.report.verdicts.tests, 0);
    assert.match(r.html, /not comparable: baseline and zerocopy ran the same datapath here: vhost not effective, no \/dev\/vhost-net/);
  });

  it("new runs: identical cell datapaths are not comparable; a zero-copy that took effect is; another MTU is warned about", () => {
    const g = normals(6);
    const same = writeSyntheticRun(tmp(), { variants: ["baseline", "zerocopy"], sizes: [4096], repetitions: 3, datapath: () => datapath(), figures: () => ({ mbps: g(9000, 90) }) });
    const a = renderReport([same], { html: false });
    assert.equal(rowOf(a, 4096, "zerocopy").comparison!.reason, "baseline and zerocopy ran the same datapath here: vhost effective, zero-copy not effective");
    const differ = writeSyntheticRun(tmp(), {
      variants: ["baseline", "zerocopy"],
      sizes: [4096],
      repetitions: 3,
      datapath: (v) => datapath(v === "zerocopy" ? { zeroCopy: true, mtu: 9000 } : {}),
      figures: (v) => ({ mbps: g(v === "baseline" ? 5000 : 7400, 50) }),
    });
    const b = renderReport([differ], { html: false });
    assert.equal(rowOf(b, 4096, "zerocopy").comparison!.verdict, "improved");
    assert.ok(
      b.report.warnings.some((w) => /^zerocopy vs baseline: besides vhost, zero-copy and QEMU's arguments, these differ: MTU 1500 \(baseline\) vs 9000 \(zerocopy\)/.test(w)),
      b.report.warnings.join("\n"),
    );
  });

  it("one variant across two runs on the same datapath (a regression check): a verdict, not 'not comparable'", () => {
    const g = normals(8);
    const sim = (run: string, mbps: number) =>
      writeSyntheticRun(tmp(), { run, variants: ["baseline", "zerocopy"], sizes: [4096], repetitions: 5, datapath: () => datapath(), figures: () => ({ mbps: g(mbps, mbps / 100) }) });
    const r = renderReport([sim("day1", 9000), sim("day2", 8100)], { html: false, baseline: "day1:baseline" });
    const again = rowOf(r, 4096, "day2:baseline").comparison!;
    assert.equal(again.verdict, "regressed", JSON.stringify(again));
    assert.equal(again.reason, undefined);
    // Another variant on that same datapath is still no evidence either way.
    assert.equal(rowOf(r, 4096, "day1:zerocopy").comparison!.verdict, "not comparable");
    assert.equal(rowOf(r, 4096, "day2:zerocopy").comparison!.verdict, "not comparable");
  });

  it("a run with no datapath and no per-variant environment is compared as before", () => {
    const g = normals(7);
    const dir = writeSyntheticRun(tmp(), { variants: ["baseline", "zerocopy"], sizes: [4096], repetitions: 3, figures: (v) => ({ mbps: g(v === "baseline" ? 5000 : 7400, 50) }) });
    assert.equal(rowOf(renderReport([dir], { html: false }), 4096, "zerocopy").comparison!.verdict, "improved");
  });
});

// As long as the demo series' real names, which overflowed a 72-column row.
const P1 = "0001-vhost_net-zero-copy-TX-for-macvtap-with-a-longer-name.patch";
const P2 = "0002-macvtap-zero-copy-completion-for-the-guest-transmit-path.patch";

describe("per-patch table of a series walk", () => {
  it("each patch against the previous prefix, with its share of the series' change", () => {
    const g = normals(8);
    // 4K: p0 -> p1 +3%, p1 -> p2 +2% of p0 (shares 60% and 40%); 64K: p2 adds only +0.2%. Noise 0.2%.
    const mean = (v: string, size: number) => (size === 4096 ? { p0: 5000, p1: 5150, p2: 5250 } : { p0: 9000, p1: 9450, p2: 9470 })[v as "p0"]!;
    const dir = writeSyntheticRun(tmp(), {
      variants: ["p0", "p1", "p2"],
      sizes: [4096, 65536],
      repetitions: 5,
      options: { series: { kernel: "guest", prefixes: [{ variant: "p0", patches: [] }, { variant: "p1", patches: [P1] }, { variant: "p2", patches: [P1, P2] }] } },
      datapath: (v) => datapath({ guestKernel: "6.1.158-ixlab-guest" }),
      figures: (v, size) => ({ mbps: g(mean(v, size), mean(v, size) * 0.002) }),
    });
    const r = renderReport([dir], { html: false });
    const p = r.report.series![0];
    assert.equal(p.kernel, "guest");
    const at4k = p.rows.filter((x) => x.size === 4096);
    assert.deepEqual(at4k.map((x) => [x.index, x.patches, x.comparison.verdict]), [
      [1, [P1], "improved"],
      [2, [P2], "improved"],
      [0, [P1, P2], "improved"],
    ]);
    assert.ok(Math.abs(at4k[0].sharePct! - 60) < 6 && Math.abs(at4k[1].sharePct! - 40) < 6, `${at4k[0].sharePct} ${at4k[1].sharePct}`);
    const p2at64k = p.rows.find((x) => x.size === 65536 && x.index === 2)!;
    assert.notEqual(p2at64k.comparison.verdict, "improved", "+0.2% is not a gain");
    // Identical recorded datapaths, but the kernel is what a series changes: the guard stays out.
    assert.equal(rowOf(r, 4096, "p1").comparison!.verdict, "improved");
    assert.match(r.markdown, /^## Per patch: kernel guest, TCP_STREAM throughput \(run r1\)$/m);
    assert.match(r.markdown, /^\| 4K \| 1: 0001-vhost_net-zero-copy-TX-for-macvtap-with-a-longer-name\.patch \| p0 → p1 \| \+[23]\.\d% \[\+\d\.\d, \+\d\.\d\] \| [0-9.<]+ \| improved \| (5[5-9]|6[0-5])% \|$/m);
    assert.match(r.markdown, /^\| 4K \| whole series \(2 patches\) \| p0 → p2 \| \+5\.\d% .* \| improved \| 100% \|$/m);
    assert.match(r.html, /<table class="patches">/);
    assert.match(r.email, /^Per patch: kernel guest, TCP_STREAM throughput \(run r1\):$/m);
    // Numbers in the table and the names above it: the names do not fit beside the figures.
    assert.match(r.email, /^ {2}1 = 0001-vhost_net-zero-copy-TX-for-macvtap-with-a-longer-name\.patch$/m);
    assert.match(r.email, /^ {2}4K +1 +\+[23]\.\d% \[\+\d\.\d, \+\d\.\d\] +improved +(5[5-9]|6[0-5])%$/m);
    assert.match(r.email, /^ {2}4K +all +\+5\.\d% \[\+\d\.\d, \+\d\.\d\] +improved +100%$/m);
    for (const l of r.email.split("\n")) assert.ok(l.length <= 72, l);
  });

  it("a walk still going (the last prefix missing): the patches measured so far, no whole-series row, no verdict for the missing", () => {
    const g = normals(9);
    const spec = {
      variants: ["p0", "p1", "p2"],
      sizes: [4096],
      repetitions: 3,
      options: { series: { kernel: "guest", prefixes: [{ variant: "p0", patches: [] }, { variant: "p1", patches: ["a.patch"] }, { variant: "p2", patches: ["a.patch", "b.patch"] }] } },
      figures: (v: string) => ({ mbps: g(v === "p0" ? 5000 : 5200, 10) }),
    };
    // The whole walk written, then a copy of it without p2's cells (as a killed or running walk has).
    const full = writeSyntheticRun(tmp(), spec);
    const dir = path.join(tmp(), "partial");
    fs.cpSync(full, dir, { recursive: true });
    for (const c of fs.readdirSync(path.join(dir, "cells")).filter((c) => c.startsWith("p2."))) fs.rmSync(path.join(dir, "cells", c), { recursive: true });
    const r = renderReport([dir], { html: false });
    assert.deepEqual(r.report.series![0].rows.map((x) => [x.index, x.comparison.verdict]), [[1, "improved"]]);
    assert.equal(rowOf(r, 4096, "p2").comparison, undefined);
    assert.match(r.markdown, /^\| 4K \| p2 \| missing \| .* \| — \|$/m);
    assert.ok(!r.report.summary.some((s) => s.heading.startsWith("p2")));
  });
});
