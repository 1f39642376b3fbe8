// The order of a run's cells (blocked, interleaved), the repetitions --until-ci adds, the series walk's
// variants and how they reach the stack, the datapath a cell records, and the warning that variants
// cannot differ on this lab.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { BenchFlagError, benchOptions, BenchPlan, LabFacts } from "../../src/bench/options";
import { indistinguishable, parseDatapath } from "../../src/bench/probe";
import { cellId, createRun, loadRun, NewCell, RunOptions } from "../../src/bench/results";
import { runningVariant, variantEnvironment } from "../../src/bench/runner";
import { baseMatrix, halfWidthPct, pendingCells, switchesFor } from "../../src/bench/schedule";
import { Topology, TopologyGuest } from "../../src/pulumi/outputs";

const plan: BenchPlan = { tests: ["TCP_STREAM"], sizes: [4096, 65536], durationSeconds: 5, repetitions: 2, variants: ["baseline", "zerocopy"], baseline: "baseline" };
const lab: LabFacts = { variants: ["baseline", "zerocopy", "userspace"], guests: ["vm1"], activeVariant: "baseline", kernels: [{ name: "guest", patches: ["0001-a.patch", "0002-b.patch"] }, { name: "host", patches: null, why: "lab.kernels[].patches is not set" }] };
const opts = (flags: Parameters<typeof benchOptions>[0]) => benchOptions(flags, plan, lab).options;
function errors(flags: Parameters<typeof benchOptions>[0], facts = lab): string[] {
  try {
    benchOptions(flags, plan, facts);
  } catch (e) {
    assert.ok(e instanceof BenchFlagError);
    return e.lines;
  }
  assert.fail("expected a BenchFlagError");
}

describe("--order", () => {
  it("blocked keeps each variant's cells together: one switch per variant", () => {
    const o = opts({ order: "blocked" });
    assert.equal(o.order, "blocked");
    const m = baseMatrix(o);
    assert.deepEqual(m.map(cellId), ["baseline.tcp_stream.4K.s1.r1", "baseline.tcp_stream.4K.s1.r2", "baseline.tcp_stream.64K.s1.r1", "baseline.tcp_stream.64K.s1.r2", "zerocopy.tcp_stream.4K.s1.r1", "zerocopy.tcp_stream.4K.s1.r2", "zerocopy.tcp_stream.64K.s1.r1", "zerocopy.tcp_stream.64K.s1.r2"]);
    assert.equal(switchesFor(m, "baseline"), 1);
  });

  it("interleaved alternates the variants per round, reversing every other round (A B | B A): reps x (variants-1) switches", () => {
    const o = opts({ order: "interleaved", reps: "3" });
    const m = baseMatrix(o);
    assert.deepEqual(m.map((k) => `${k.variant}.r${k.repetition}.${k.size}`), [
      "baseline.r1.4096", "baseline.r1.65536", "zerocopy.r1.4096", "zerocopy.r1.65536",
      "zerocopy.r2.4096", "zerocopy.r2.65536", "baseline.r2.4096", "baseline.r2.65536",
      "baseline.r3.4096", "baseline.r3.65536", "zerocopy.r3.4096", "zerocopy.r3.65536",
    ]);
    assert.equal(switchesFor(m, "baseline"), 3);
    assert.equal(switchesFor(baseMatrix(opts({ order: "interleaved", reps: "3", variants: "baseline,zerocopy,userspace" })), "baseline"), 3 * 2);
  });

  it("refuses another order, and leaves run.json without order when not asked", () => {
    assert.deepEqual(errors({ order: "random" }), ['--order: "random" is not an order (blocked: each variant\'s cells together; interleaved: variants alternate per repetition round)']);
    assert.equal(opts({}).order, undefined);
  });
});

type Fig = { variant: string; size: number; repetition: number; mbps: number | null };
const done = (o: RunOptions, figs: Fig[]) => figs.map((f) => ({ variant: f.variant, test: "TCP_STREAM" as const, size: f.size, streams: 1, repetition: f.repetition, throughputMbps: f.mbps }));

describe("--until-ci", () => {
  it("parses the target, starts from at least 2 repetitions and caps at --max-reps (default 10)", () => {
    const o = opts({ untilCi: "2%" });
    assert.equal(o.untilCi, 2);
    assert.equal(o.maxReps, 10);
    assert.equal(o.repetitions, 2);
    assert.equal(opts({ untilCi: "0.5", maxReps: "6", reps: "3" }).maxReps, 6);
    assert.deepEqual(errors({ untilCi: "0%" }), ['--until-ci: "0%" is not a target for the 95% CI half-width (a percentage of the mean above 0 and at most 50, e.g. 2%)']);
    assert.deepEqual(errors({ untilCi: "2%", reps: "1" }), ["--reps: 1: --until-ci needs at least 2 repetitions per cell to start from"]);
    assert.deepEqual(errors({ maxReps: "5" }), ["--max-reps: caps --until-ci; give --until-ci too (or use --reps for a fixed count)"]);
    assert.deepEqual(errors({ untilCi: "2", reps: "5", maxReps: "3" }), ["--max-reps: 3 is below --reps 5"]);
    assert.deepEqual(errors({ untilCi: "2", maxReps: "1000" }), ['--max-reps: "1000" is not a number of repetitions (2 to 100)']);
  });

  it("adds a repetition while a cell's CI is wider than the target, and stops when it is within or at the cap", () => {
    const o = opts({ untilCi: "2%", maxReps: "4", variants: "baseline", sizes: "4K" });
    assert.deepEqual(pendingCells(o, []).cells.map(cellId), ["baseline.tcp_stream.4K.s1.r1", "baseline.tcp_stream.4K.s1.r2"]);
    const wide = pendingCells(o, done(o, [{ variant: "baseline", size: 4096, repetition: 1, mbps: 1000 }, { variant: "baseline", size: 4096, repetition: 2, mbps: 1200 }]));
    assert.deepEqual(wide.cells.map(cellId), ["baseline.tcp_stream.4K.s1.r3"]);
    assert.equal(wide.open.length, 1);
    assert.ok(wide.open[0].halfWidthPct > 50, `${wide.open[0].halfWidthPct}`);
    assert.equal(wide.moreEstimate, 1, "the estimate never passes the cap: r3 now, r4 later");
    const narrow = pendingCells(o, done(o, [{ variant: "baseline", size: 4096, repetition: 1, mbps: 1000 }, { variant: "baseline", size: 4096, repetition: 2, mbps: 1001 }]));
    assert.deepEqual(narrow.cells, []);
    const capped = pendingCells(o, done(o, [1, 2, 3, 4].map((r) => ({ variant: "baseline", size: 4096, repetition: r, mbps: r % 2 ? 1000 : 1500 }))));
    assert.deepEqual(capped.cells, [], "at --max-reps nothing more, however wide");
    assert.ok(Math.abs(halfWidthPct([1000, 1001]) - 0.635) < 0.001, `${halfWidthPct([1000, 1001])}`); // t(1) = 12.706: 12.706 x 0.707 / sqrt(2) / 1000.5
  });

  it("under interleaved order a test and size get one more round for every variant while any is wide", () => {
    const o = opts({ untilCi: "2%", order: "interleaved", sizes: "4K" });
    const p = pendingCells(o, done(o, [
      { variant: "baseline", size: 4096, repetition: 1, mbps: 1000 }, { variant: "zerocopy", size: 4096, repetition: 1, mbps: 1000 },
      { variant: "zerocopy", size: 4096, repetition: 2, mbps: 1300 }, { variant: "baseline", size: 4096, repetition: 2, mbps: 1000 },
    ]));
    assert.deepEqual(p.cells.map(cellId), ["baseline.tcp_stream.4K.s1.r3", "zerocopy.tcp_stream.4K.s1.r3"]);
  });

  it("a run keeps repetitions beyond --reps up to --max-reps, and refuses one beyond", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-untilci-"));
    try {
      const o = opts({ untilCi: "2%", maxReps: "3", variants: "baseline", sizes: "4K" });
      const run = createRun(dir, { stack: "t", run: "r1", options: o, environment: {} });
      const cell = (repetition: number, mbps: number): NewCell => ({ variant: "baseline", test: "TCP_STREAM", size: 4096, streams: 1, repetition, scenario: null, started: "2026-01-01T00:00:00.000Z", ended: "2026-01-01T00:00:05.000Z", throughputMbps: mbps, netperf: { localCpuPct: null, remoteCpuPct: null }, qemuCpuPct: null, vhostCpuPct: null, guestCpuPct: null, irqPerSec: null, kvmExitsPerSec: null, errors: [], retransmissions: null, datapath: parseDatapath('facts: {"vhost":false,"vhostWorkers":null,"zeroCopy":null,"hostKernel":"6.1.0","guestKernel":null,"qemuCmdlineSha256":null,"mtu":1500,"offloads":{"scatter-gather":true},"note":"no /dev/vhost-net on this host"}') });
      run.writeCell(cell(1, 1000), { netperf: "x" });
      run.writeCell(cell(2, 1400), { netperf: "x" });
      assert.deepEqual(run.pending().map(cellId), ["baseline.tcp_stream.4K.s1.r3"]);
      run.writeCell(cell(3, 1200), { netperf: "x" });
      assert.deepEqual(run.pending(), []);
      assert.throws(() => run.writeCell(cell(4, 1200), { netperf: "x" }), /not in this run's matrix/);
      const loaded = loadRun(run.dir);
      assert.deepEqual(loaded.cells.map((c) => c.repetition), [1, 2, 3]);
      assert.equal(loaded.cells[0].datapath?.note, "no /dev/vhost-net on this host");
      assert.equal(loaded.record.options.untilCi, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("--series", () => {
  it("makes each prefix a variant p0..pN on the lab's active variant, p0 the baseline", () => {
    const r = benchOptions({ series: "guest" }, plan, lab);
    assert.deepEqual(r.options.series, { kernel: "guest", prefixes: [{ variant: "p0", patches: [] }, { variant: "p1", patches: ["0001-a.patch"] }, { variant: "p2", patches: ["0001-a.patch", "0002-b.patch"] }] });
    assert.deepEqual(r.options.variants, ["p0", "p1", "p2"]);
    assert.equal(r.options.baseline, "p0");
    assert.equal(r.seriesVariant, "baseline");
    assert.equal(benchOptions({ series: "guest", variants: "zerocopy" }, plan, lab).seriesVariant, "zerocopy");
  });

  it("refuses a kernel that is not there or has no series, and more than one variant", () => {
    assert.deepEqual(errors({ series: "nope" }), ['--series: "nope" is not a kernel of this lab (kernels: guest, host)']);
    assert.deepEqual(errors({ series: "host" }), ["--series: kernel host has no patch series to walk (lab.kernels[].patches is not set)"]);
    assert.deepEqual(errors({ series: "guest", variants: "baseline,zerocopy" }), ["--variants: a series walk runs every prefix on one variant of the lab; give one name (or none: the lab's active variant)"]);
  });

  it("reaches the stack as IXLAB_SERIES=KERNEL:N beside IXLAB_VARIANT, and back with both empty", () => {
    const o = opts({ series: "guest" });
    assert.deepEqual(variantEnvironment(o, "p1", "baseline"), { IXLAB_VARIANT: "baseline", IXLAB_SERIES: "guest:1" });
    assert.deepEqual(variantEnvironment(o, null, "baseline"), { IXLAB_VARIANT: "", IXLAB_SERIES: "" });
    assert.deepEqual(variantEnvironment(opts({}), "zerocopy", undefined), { IXLAB_VARIANT: "zerocopy", IXLAB_SERIES: "" });
  });

  it("tells the running prefix from the patches the topology's kernel was built with", () => {
    const o = opts({ series: "guest" });
    const guest = { name: "vm1", host: "dut", address: "x", management: { address: "x", port: 1, user: "root" }, variant: "baseline" } as TopologyGuest;
    const topo = (patches: string[]) => ({ kernels: [{ name: "guest", patches }] }) as unknown as Topology;
    assert.equal(runningVariant(topo(["0001-a.patch"]), guest, o, "baseline"), "p1");
    assert.equal(runningVariant(topo(["0001-a.patch", "0002-b.patch"]), guest, o, "baseline"), "p2");
    assert.equal(runningVariant(topo([]), guest, o, "baseline"), "p0");
    assert.equal(runningVariant(topo(["0002-b.patch"]), guest, o, "baseline"), undefined, "not a prefix");
    assert.equal(runningVariant(topo([]), guest, o, "zerocopy"), undefined, "another lab variant");
    assert.equal(runningVariant(topo([]), guest, opts({}), undefined), "baseline");
  });
});

describe("the datapath a cell ran on", () => {
  it("reads the probe's facts into exactly the cell's datapath shape", () => {
    const d = parseDatapath('facts: {"vhost":true,"vhostWorkers":[4242],"zeroCopy":true,"hostKernel":"6.1.0-ixlab","guestKernel":null,"qemuCmdlineSha256":"' + "a".repeat(64) + '","mtu":9000,"offloads":{"scatter-gather":true,"tcp-segmentation-offload":false}}');
    assert.deepEqual(d, { vhost: true, vhostWorkers: [4242], zeroCopy: true, hostKernel: "6.1.0-ixlab", guestKernel: null, qemuCmdlineSha256: "a".repeat(64), mtu: 9000, offloads: { "scatter-gather": true, "tcp-segmentation-offload": false } });
    const bad = parseDatapath("bench-probe: error: boom");
    assert.equal(bad.vhost, false);
    assert.match(bad.note ?? "", /printed no facts/);
  });

  it("warns before a run whose variants cannot differ here, and not when they can", () => {
    const asks = [{ name: "baseline", zeroCopy: false }, { name: "zerocopy", zeroCopy: true }];
    assert.deepEqual(indistinguishable(asks, { vhostDevice: false, zeroCopyParam: false }, true), ["variants baseline, zerocopy cannot differ on this lab: no /dev/vhost-net on the dut host, so vhost and zero-copy are not in effect for any of them; their figures will differ only by noise"]);
    assert.deepEqual(indistinguishable(asks, { vhostDevice: true, zeroCopyParam: true }, false), []);
    assert.match(indistinguishable(asks, { vhostDevice: true, zeroCopyParam: false }, false)[0], /vhost_net has no experimental_zcopytx parameter here/);
    assert.deepEqual(indistinguishable([{ name: "baseline" }, { name: "userspace", vhost: false }], { vhostDevice: true, zeroCopyParam: true }, true), []);
    assert.match(indistinguishable([{ name: "a", hostKernel: "k1" }, { name: "b", hostKernel: "k2" }], { vhostDevice: false, zeroCopyParam: false }, true)[0], /a sim lab installs no host kernel/);
  });
});

describe("--until-ci at the end of a run", () => {
  it("says per cell how wide its interval ended and why it stopped", async () => {
    const { ciSummary } = await import("../../src/bench/schedule");
    const o = opts({ untilCi: "2%", maxReps: "3", sizes: "4K" });
    const lines = ciSummary(o, done(o, [
      { variant: "baseline", size: 4096, repetition: 1, mbps: 1000 }, { variant: "baseline", size: 4096, repetition: 2, mbps: 1001 },
      { variant: "zerocopy", size: 4096, repetition: 1, mbps: 1000 }, { variant: "zerocopy", size: 4096, repetition: 2, mbps: 1500 }, { variant: "zerocopy", size: 4096, repetition: 3, mbps: 1200 },
    ]));
    assert.deepEqual(lines, ["baseline TCP_STREAM 4096: ±0.6% after 2 repetition(s)", "zerocopy TCP_STREAM 4096: ±50.7% after 3 repetition(s) (stopped at --max-reps)"]); // t(2) = 4.303, sd 251.7: 4.303 x 251.7 / sqrt(3) / 1233.3
    assert.deepEqual(ciSummary(opts({}), []), []);
  });
});
