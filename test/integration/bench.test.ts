// ixlab bench for real on its own sim lab (stack benchtest, prefix ixb, 198.18.2.0/24 and
// 198.19.2.0/24): a short two-variant bench switched through the stack that ends in a report, bad
// flags refused before anything runs, a bench killed mid-run (by its PID) and continued with
// --resume without losing or repeating a cell, then destroy and nothing left.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadRun } from "../../src/bench/results";
import { capturePulumi, ensureStack } from "../../src/pulumi/cli";
import { ROOT, simTestStack } from "../helpers";
import { leftovers } from "../leftovers";

const STACK = "benchtest";
const PREFIX = "ixb";
const RESULTS = path.join(ROOT, "results", STACK);

function stackFile(): void {
  simTestStack(STACK, PREFIX, 2);
}

const ixlab = (args: string[], timeout = 600_000) => spawnSync(path.join(ROOT, "bin", "ixlab"), args, { cwd: ROOT, encoding: "utf8", timeout });
const runs = () => (fs.existsSync(RESULTS) ? new Set(fs.readdirSync(RESULTS)) : new Set<string>());
const newRun = (before: Set<string>) => [...runs()].filter((r) => !before.has(r));

describe("ixlab bench on the sim lab", () => {
  const pulumi = (...args: string[]) => capturePulumi([...args, "--stack", STACK, "--non-interactive"]);
  const made: string[] = [];

  before(() => {
    stackFile();
    ensureStack(STACK);
    const r = pulumi("up", "--yes", "--skip-preview");
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
  after(() => {
    pulumi("destroy", "--yes");
    capturePulumi(["stack", "rm", "--yes", "--force", "--stack", STACK]);
    fs.rmSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), { force: true });
    for (const r of made) fs.rmSync(path.join(RESULTS, r), { recursive: true, force: true });
    assert.deepEqual(leftovers(PREFIX), [], "nothing of the bench's lab is left");
  });

  it("refuses bad flags before anything runs, naming each flag", () => {
    const seen = runs();
    const r = ixlab(["bench", "--stack", STACK, "--sizes", "4K,big", "--reps", "x", "--variants", "baseline,nosuch"]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--variants: "nosuch" is not a variant of this lab/);
    assert.match(r.stderr, /--sizes: "big": not a message size/);
    assert.match(r.stderr, /--reps: "x" is not a number of repetitions/);
    assert.deepEqual(newRun(seen), [], "no run directory for a refused bench");
    const res = ixlab(["bench", "--stack", STACK, "--resume", "no-such-run"]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /--resume no-such-run: no run there/);
  });

  it("runs two variants through the stack, short cells, and ends with the report", () => {
    const seen = runs();
    const start = Date.now();
    const r = ixlab(["bench", "--stack", STACK, "--variants", "baseline,userspace", "--sizes", "4K,64K", "--duration", "2", "--reps", "1"]);
    const seconds = (Date.now() - start) / 1000;
    made.push(...newRun(seen));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /\[1\/4\] baseline TCP_STREAM 4K rep 1: [\d.]+ Mb\/s, qemu \d+%, vhost — \(ETA \d+(m\d\d)?s\)/);
    assert.match(r.stderr, /switching stack benchtest to variant userspace: pulumi up with IXLAB_VARIANT=userspace/);
    assert.match(r.stderr, /\[4\/4\] userspace TCP_STREAM 64K rep 1: .* \(ETA done\)/);
    assert.match(r.stderr, /switching stack benchtest to variant baseline \(the stack's own\)/);
    assert.match(r.stdout, /\| 4K +\| baseline +\| [\d.]+/);
    assert.match(r.stdout, /\| 64K +\| userspace +\| [\d.]+/);
    const [id] = newRun(seen);
    const dir = path.join(RESULTS, id);
    assert.ok(fs.existsSync(path.join(dir, "report.html")));
    const loaded = loadRun(dir);
    assert.equal(loaded.cells.length, 4);
    assert.notEqual(loaded.record.ended, null);
    for (const c of loaded.cells) {
      assert.ok(c.throughputMbps! > 0, `${c.id} has throughput`);
      assert.ok(c.qemuCpuPct! > 0, `${c.id} has qemu CPU`);
      assert.deepEqual(c.errors, []);
      for (const f of Object.values(c.raw)) assert.ok(fs.statSync(path.join(dir, "cells", c.id, f)).size > 0);
      // What ran, read from the dut host and the guest as the cell started.
      const d = c.datapath!;
      assert.ok(d, `${c.id} has a datapath`);
      assert.equal(d.vhost, false, "the sim's QEMU holds no /dev/vhost-net here");
      assert.match(d.qemuCmdlineSha256 ?? "", /^[0-9a-f]{64}$/);
      assert.equal(d.mtu, 1500);
      assert.equal(d.offloads?.["scatter-gather"], true);
      assert.match(d.guestKernel ?? "", /-ixlab-guest$/);
      assert.equal(d.hostKernel, require("node:os").release(), "a sim host runs this machine's kernel");
    }
    const digest = (v: string) => [...new Set(loaded.cells.filter((c) => c.variant === v).map((c) => c.datapath!.qemuCmdlineSha256))];
    assert.equal(digest("baseline").length, 1, "one QEMU command line per variant");
    // Without /dev/vhost-net the sim's baseline falls back to vhost=off: the same QEMU as userspace.
    const env0 = loaded.record.environment as Record<string, any>;
    if (env0.variants.baseline.vhost.effective === false) assert.deepEqual(digest("baseline"), digest("userspace"), "both ran the same datapath");
    else assert.notDeepEqual(digest("baseline"), digest("userspace"), "vhost=on and vhost=off are different QEMU command lines");
    // Sim hosts share this machine's /dev: without vhost-net the bench says so before it starts.
    if (!fs.existsSync("/dev/vhost-net")) assert.match(r.stderr, /^warning: variants baseline, userspace cannot differ on this lab: no \/dev\/vhost-net on the dut host/m);
    const env = loaded.record.environment as Record<string, any>;
    assert.deepEqual(Object.keys(env.variants), ["baseline", "userspace"]);
    assert.equal(env.variants.userspace.vhost.requested, false);
    assert.notEqual(env.variants.userspace.qemuPid, env.variants.baseline.qemuPid, "the switch restarted QEMU");
    assert.match(env.qemu, /^QEMU emulator version/);
    assert.match(env.labRevision.revision, /^[0-9a-f]{40}$/);
    assert.equal(env.sim.simulated, true);
    assert.ok(!fs.readFileSync(path.join(dir, "run.json"), "utf8").includes("PRIVATE KEY"));
    const topo = JSON.parse(pulumi("stack", "output", "topology", "--json").stdout);
    assert.equal(topo.guests[0].variant, "baseline", "the stack is back on its own variant");
    console.log(`bench 2 variants x 2 sizes x 2 s (TCG guest): ${seconds.toFixed(1)} s including two stack switches; ` + loaded.cells.map((c) => `${c.variant} ${c.sizeLabel} ${c.throughputMbps} Mb/s`).join(", "));
  });

  it("continues a killed run with --resume: no finished cell lost or repeated", async () => {
    const seen = runs();
    const child = spawn(path.join(ROOT, "bin", "ixlab"), ["bench", "--stack", STACK, "--variants", "baseline", "--sizes", "4K,64K", "--duration", "3", "--reps", "2", "--no-report"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
    // Kill it once two cells are on disk, in the middle of the third.
    const deadline = Date.now() + 120_000;
    let dir = "";
    while (Date.now() < deadline) {
      const [id] = newRun(seen);
      if (id) dir = path.join(RESULTS, id);
      if (dir && fs.existsSync(path.join(dir, "cells")) && fs.readdirSync(path.join(dir, "cells")).filter((d) => !d.startsWith(".")).length >= 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(dir, `no run started: ${err}`);
    made.push(path.basename(dir));
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(child.pid!, "SIGKILL");
    await exited;
    const cellsDir = path.join(dir, "cells");
    const finished = fs.readdirSync(cellsDir).filter((d) => fs.existsSync(path.join(cellsDir, d, "cell.json")));
    assert.ok(finished.length >= 2 && finished.length < 4, `killed mid-run (finished: ${finished.join(", ")})`);
    const before = Object.fromEntries(finished.map((d) => [d, fs.readFileSync(path.join(cellsDir, d, "cell.json"), "utf8")]));
    assert.equal(loadRun(dir).record.ended, null);

    const r = ixlab(["bench", "--resume", path.basename(dir), "--stack", STACK, "--no-report"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`resuming run ${path.basename(dir)}: ${4 - finished.length} of 4 cells to go`));
    const loaded = loadRun(dir);
    assert.equal(loaded.cells.length, 4);
    assert.deepEqual(loaded.missing, []);
    assert.notEqual(loaded.record.ended, null);
    for (const [d, text] of Object.entries(before)) assert.equal(fs.readFileSync(path.join(cellsDir, d, "cell.json"), "utf8"), text, `${d} kept as it was`);
    const reran = (r.stderr.match(/^\[\d\/4\] /gm) ?? []).length;
    assert.equal(reran, 4 - finished.length, "only the missing cells ran");
    assert.deepEqual(fs.readdirSync(cellsDir).filter((d) => d.startsWith(".")), [], "no temporary cell directories left");
  });
});
