// The zero-copy proof's parser: roles/zerocopy-probe.sh facts (as captured from a VM lab dut host)
// into readings, and two readings into a cell's datapath.zeroCopyCounters; bad input is named.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers";
import { parseZeroCopyReading, ProbeSession, vhostZeroCopyCounterProbe, ZeroCopyProbeError, zeroCopyCounters, zeroCopyRan } from "../../src/remote/zerocopyProbe";

const BOOT = "0c5d2f4e-8a1b-4c3d-9e7f-112233445566";
function facts(sends: number, copies: number, completions: number, o: { boot?: string; misses?: number; zcopytx?: 0 | 1 } = {}) {
  const p = (symbol: string, hits: number) => ({ symbol, hits, misses: o.misses ?? 0 });
  return {
    available: true, bootId: o.boot ?? BOOT, zcopytx: o.zcopytx ?? 1,
    probes: { sends: p("vhost_net:handle_tx_zerocopy", sends), copies: p("vhost_net:handle_tx_copy", copies), completions: p("vhost_net:vhost_zerocopy_callback", completions) },
  };
}

describe("zero-copy probe readings", () => {
  it("a zero-copy cell: the difference of two readings", () => {
    const before = parseZeroCopyReading(facts(100, 7, 120), "before");
    const after = parseZeroCopyReading(facts(2998, 7, 3020), "after");
    const c = zeroCopyCounters(before, after, "cell zerocopy.tcp_stream.16K.s1.r1");
    assert.deepEqual(c, { sends: 2898, copies: 0, completions: 2900 });
    assert.equal(zeroCopyRan(c!), true);
  });

  it("a copying cell: copies only, so zero-copy did not run", () => {
    const c = zeroCopyCounters(parseZeroCopyReading(facts(5, 10, 5, { zcopytx: 0 }), "a"), parseZeroCopyReading(facts(5, 4010, 5, { zcopytx: 0 }), "b"), "cell");
    assert.deepEqual(c, { sends: 0, copies: 4000, completions: 0 });
    assert.equal(zeroCopyRan(c!), false);
  });

  it("a host that cannot count gives null counters, with its reason kept", () => {
    const r = parseZeroCopyReading({ available: false, reason: "vhost_net is not loaded" }, "read");
    assert.deepEqual(r, { available: false, reason: "vhost_net is not loaded" });
    assert.equal(zeroCopyCounters(r, r, "cell"), null);
  });

  it("refuses a reboot, counters that went back and missed hits", () => {
    const a = parseZeroCopyReading(facts(10, 0, 10), "a");
    assert.throws(() => zeroCopyCounters(a, parseZeroCopyReading(facts(20, 0, 20, { boot: "ffffffff-8a1b-4c3d-9e7f-112233445566" }), "b"), "cell X"),
      (e: Error) => e instanceof ZeroCopyProbeError && /^cell X: the host rebooted between the two readings/.test(e.message));
    assert.throws(() => zeroCopyCounters(a, parseZeroCopyReading(facts(3, 0, 20), "b"), "cell X"), /cell X: the sends counter went back from 10 to 3/);
    assert.throws(() => zeroCopyCounters(a, parseZeroCopyReading(facts(20, 0, 20, { misses: 2 }), "b"), "cell X"), /2 sends hit\(s\) were missed/);
  });

  it("names the field of a broken reading", () => {
    const cases: [unknown, RegExp][] = [
      [null, /^r: expected the zerocopy-probe facts object/],
      [{ available: "yes" }, /^r: available: expected true or false, got "yes"/],
      [{ available: false }, /^r: available is false but no reason/],
      [{ ...facts(1, 1, 1), bootId: "x" }, /^r: bootId: expected a boot id, got "x"/],
      [{ ...facts(1, 1, 1), zcopytx: 2 }, /^r: zcopytx: expected 0, 1 or null, got 2/],
      [{ ...facts(1, 1, 1), probes: { sends: facts(1, 1, 1).probes.sends } }, /^r: probes.copies: missing/],
      [{ ...facts(1, 1, 1), probes: { ...facts(1, 1, 1).probes, copies: { symbol: "f", hits: -1, misses: 0 } } }, /^r: probes.copies.hits: expected a count, got -1/],
      [{ ...facts(1, 1, 1), probes: { ...facts(1, 1, 1).probes, sends: { symbol: "f", hits: "7", misses: 0 } } }, /^r: probes.sends.hits: expected a count, got "7"/],
    ];
    for (const [input, want] of cases) assert.throws(() => parseZeroCopyReading(input, "r"), (e: Error) => e instanceof ZeroCopyProbeError && want.test(e.message), JSON.stringify(input));
  });
});

describe("roles/zerocopy-probe.sh without a vhost_net host", () => {
  const role = path.join(ROOT, "roles", "zerocopy-probe.sh");
  it("a sim host is never probed: start reports why and changes nothing", () => {
    const r = spawnSync("bash", [role, "start"], { encoding: "utf8", env: { ...process.env, IXLAB_SIM_NS: "ixk-dut" } });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split("\n").find((l) => l.startsWith("facts: "))!;
    const reading = parseZeroCopyReading(JSON.parse(line.slice(7)), "start");
    assert.equal(reading.available, false);
    assert.match((reading as { reason: string }).reason, /sim host ixk-dut shares this machine's kernel/);
    assert.match(r.stdout, /summary: changed=0/);
  });
  it("bad input exits 2 naming it", () => {
    const r = spawnSync("bash", [role, "begin"], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /zerocopy-probe: error: unknown action 'begin' \(one of: start read stop check\)/);
    const f = spawnSync("bash", [role, "read", "--all"], { encoding: "utf8" });
    assert.equal(f.status, 2);
    assert.match(f.stderr, /unknown flag '--all'/);
  });
});

describe("the bench's zero-copy counter probe over a session", () => {
  // A session that runs commands here, as the bench's SSH session runs them on the dut host.
  const local = (env: NodeJS.ProcessEnv): ProbeSession => ({
    run: async (command, opts) => {
      const r = spawnSync("sh", ["-c", command], { input: opts?.input, encoding: "utf8", env: { ...process.env, ...env } });
      return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
    },
  });
  it("ships the role on stdin; a host that cannot count gives null counters", async () => {
    const p = vhostZeroCopyCounterProbe();
    const host = local({ IXLAB_SIM_NS: "ixk-dut" });
    await p.start(host, 123);
    assert.equal(await p.stop(host, 123), null);
  });
  it("a failing probe is an error naming the action, and stop needs a start", async () => {
    const p = vhostZeroCopyCounterProbe();
    const broken: ProbeSession = { run: async () => ({ code: 1, stdout: "", stderr: "zerocopy-probe: error: could not add a kprobe on vhost_net:handle_tx_copy\n" }) };
    await assert.rejects(p.start(broken, 1), (e: Error) => e instanceof ZeroCopyProbeError && /^zerocopy-probe start exited 1: zerocopy-probe: error: could not add a kprobe/.test(e.message));
    await assert.rejects(p.stop(broken, 1), /stop without start/);
  });
});
