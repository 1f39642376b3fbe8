// The results format: writing a run cell by cell (atomic, never overwriting), resuming after a kill,
// and loading with clear errors (the bad-results corpus, each with its expected message).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { cellId, createRun, loadRun, NewCell, newRunId, openRun, ResultsError, RunOptions, runMatrix } from "../../src/bench/results";
import { fixture } from "../helpers";

const corpus = fixture("bad-results");
// report/ holds the cases for ixlab report itself (test/unit/report-inputs.test.ts).
const cases = fs.readdirSync(corpus).filter((d) => d !== "report" && fs.statSync(path.join(corpus, d)).isDirectory()).sort();

function problems(dir: string): string[] {
  try {
    loadRun(dir);
    return [];
  } catch (e) {
    if (e instanceof ResultsError) return e.lines;
    throw e;
  }
}

describe("bad results corpus", () => {
  it("has at least 20 cases", () => assert.ok(cases.length >= 20, `only ${cases.length}`));
  for (const name of cases) {
    it(name, () => {
      const expected = fs.readFileSync(path.join(corpus, name, "EXPECT"), "utf8").split("\n").filter(Boolean);
      const lines = problems(path.join(corpus, name));
      assert.ok(lines.length > 0, `${name} was accepted`);
      for (const e of expected) assert.ok(lines.some((l) => l.includes(e)), `${name}: expected a line containing\n  ${e}\ngot:\n  ${lines.join("\n  ")}`);
      // Every line names the file it is about.
      for (const l of lines) assert.match(l, /(run|cell)\.json: /, l);
    });
  }
});

const options: RunOptions = { variants: ["baseline", "zerocopy"], tests: ["TCP_STREAM"], sizes: [4096, 65536], durationSeconds: 2, repetitions: 2, streams: 1, scenario: null };

function cell(variant: string, size: number, repetition: number, throughputMbps: number): NewCell {
  return {
    variant,
    test: "TCP_STREAM",
    size,
    streams: 1,
    repetition,
    scenario: null,
    started: "2025-01-01T12:00:00.000Z",
    ended: "2025-01-01T12:00:02.000Z",
    throughputMbps,
    netperf: { localCpuPct: 12.5, remoteCpuPct: 20.25, localServiceDemand: 1.1, remoteServiceDemand: 1.3, serviceDemandUnit: "us/KB" },
    qemuCpuPct: 90,
    vhostCpuPct: 25,
    guestCpuPct: null,
    irqPerSec: null,
    irqNote: "none found: veth",
    kvmExitsPerSec: null,
    errors: [],
    retransmissions: null,
  };
}

const made: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-results-"));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

describe("writing and resuming a run", () => {
  it("cell ids are deterministic and the matrix is in run order", () => {
    assert.equal(cellId({ variant: "zerocopy", test: "TCP_STREAM", size: 4096, streams: 1, repetition: 2 }), "zerocopy.tcp_stream.4K.s1.r2");
    assert.equal(cellId({ variant: "a", test: "UDP_STREAM", size: 1500, streams: 4, repetition: 1 }), "a.udp_stream.1500.s4.r1");
    assert.deepEqual(runMatrix(options).map(cellId), [
      "baseline.tcp_stream.4K.s1.r1",
      "baseline.tcp_stream.4K.s1.r2",
      "baseline.tcp_stream.64K.s1.r1",
      "baseline.tcp_stream.64K.s1.r2",
      "zerocopy.tcp_stream.4K.s1.r1",
      "zerocopy.tcp_stream.4K.s1.r2",
      "zerocopy.tcp_stream.64K.s1.r1",
      "zerocopy.tcp_stream.64K.s1.r2",
    ]);
    assert.equal(newRunId(new Date("2025-01-31T12:34:56.789Z")), "20250131T123456Z");
  });

  it("writes run.json and each cell with its raw outputs; never overwrites", () => {
    const root = tmp();
    const run = createRun(root, { stack: "sim", run: "r1", started: new Date("2025-01-01T12:00:00Z"), options, environment: { qemu: "7.2" } });
    assert.equal(run.dir, path.join(root, "sim", "r1"));
    const dir = run.writeCell(cell("baseline", 4096, 1, 4900), { netperf: "netperf output\n", "proc-before": "b", "proc-after": "a", "tcpdump.log": "x" });
    assert.deepEqual(fs.readdirSync(dir).sort(), ["cell.json", "netperf.txt", "proc-after.txt", "proc-before.txt", "tcpdump.log"]);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, "cell.json"), "utf8"));
    assert.equal(saved.schema, "ixlab-cell/1");
    assert.equal(saved.id, "baseline.tcp_stream.4K.s1.r1");
    assert.equal(saved.sizeLabel, "4K");
    assert.deepEqual(saved.raw, { netperf: "netperf.txt", "proc-before": "proc-before.txt", "proc-after": "proc-after.txt", "tcpdump.log": "tcpdump.log" });
    assert.throws(() => run.writeCell(cell("baseline", 4096, 1, 1), {}), /exists; results are never overwritten/);
    assert.throws(() => run.writeCell(cell("other", 4096, 1, 1), {}), /other\.tcp_stream\.4K\.s1\.r1 is not in this run's matrix/);
    assert.throws(() => run.writeCell({ ...cell("zerocopy", 4096, 1, 1), qemuCpuPct: -1 }, {}), /cell zerocopy\.tcp_stream\.4K\.s1\.r1: qemuCpuPct: -1 is out of range/);
    assert.throws(() => createRun(root, { stack: "sim", run: "r1", options, environment: {} }), /exists; a run is never overwritten/);
    assert.throws(() => createRun(root, { stack: "sim", run: "r2", options: { ...options, repetitions: 0 }, environment: {} }), /run\.json: options\.repetitions: 0 is out of range/);
    // No temporary files are left behind.
    assert.deepEqual(fs.readdirSync(run.cellsDir), ["baseline.tcp_stream.4K.s1.r1"]);
    assert.deepEqual(fs.readdirSync(run.dir).sort(), ["cells", "run.json"]);
  });

  it("resumes after a kill: finished cells are kept, a half-written one is swept, the rest is pending", () => {
    const root = tmp();
    const run = createRun(root, { stack: "sim", run: "r1", options, environment: {} });
    run.writeCell(cell("baseline", 4096, 1, 4900), { netperf: "x" });
    run.writeCell(cell("baseline", 4096, 2, 4950), { netperf: "x" });
    // What a kill in the middle of writeCell leaves: a temporary directory without the rename.
    const partial = path.join(run.cellsDir, `.baseline.tcp_stream.64K.s1.r1.tmp-4242-abcdef`);
    fs.mkdirSync(partial);
    fs.writeFileSync(path.join(partial, "netperf.txt"), "half");
    const loaded = loadRun(run.dir);
    assert.equal(loaded.cells.length, 2);
    assert.equal(loaded.missing.length, 6);
    assert.ok(loaded.warnings.some((w) => w.includes("6 of 8 cells missing: baseline.tcp_stream.64K.s1.r1, ")), loaded.warnings.join("\n"));
    assert.ok(loaded.warnings.some((w) => w.includes("the run has not ended")));
    assert.ok(loaded.warnings.some((w) => w.includes("an unfinished cell's temporary directory")));

    const resumed = openRun(run.dir);
    assert.equal(fs.existsSync(partial), false);
    assert.deepEqual(resumed.pending().map(cellId).slice(0, 2), ["baseline.tcp_stream.64K.s1.r1", "baseline.tcp_stream.64K.s1.r2"]);
    for (const k of resumed.pending()) resumed.writeCell(cell(k.variant, k.size, k.repetition, 9000), { netperf: "x" });
    resumed.updateEnvironment({ zeroCopy: true });
    resumed.finish(new Date("2025-01-01T13:00:00Z"));
    const done = loadRun(run.dir);
    assert.deepEqual(done.missing, []);
    assert.deepEqual(done.warnings, []);
    assert.equal(done.record.ended, "2025-01-01T13:00:00.000Z");
    assert.deepEqual(done.record.environment, { zeroCopy: true });
    assert.deepEqual(done.cells.map((c) => c.id), runMatrix(options).map(cellId));
  });
});
