// The bench runner's plain parts: flags checked against the topology's plan (each error names its
// flag), cell planning with scenarios, the ETA, the progress line, the environment a run records,
// and reading the guest's and the scenario scripts' outputs (netperf output captured on this machine).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { guestCellScript, guestClockCheck, netperfCommand, parseGuestCell, parseSgToggle, parseTcpdump, sgTogglePlan, snmpCounter } from "../../src/bench/cell";
import { assembleEnvironment, variantState } from "../../src/bench/environment";
import { BenchFlagError, benchOptions, BenchPlan, runIdFor, SMALL_MESSAGE_SIZES } from "../../src/bench/options";
import { estimateRemaining, formatDuration, progressLine } from "../../src/bench/progress";
import { cellId, runMatrix } from "../../src/bench/results";
import { Topology } from "../../src/pulumi/outputs";
import { fixture } from "../helpers";

const plan: BenchPlan = { tests: ["TCP_STREAM"], sizes: [4096, 8192, 16384, 65536], durationSeconds: 120, repetitions: 3, variants: ["baseline", "zerocopy"], baseline: "baseline", scenarios: ["multi-stream"] };
const lab = { variants: ["baseline", "zerocopy", "userspace"], guests: ["vm1"] };

function flagErrors(flags: Parameters<typeof benchOptions>[0]): string[] {
  try {
    benchOptions(flags, plan, lab);
  } catch (e) {
    assert.ok(e instanceof BenchFlagError);
    return e.lines;
  }
  assert.fail("expected a BenchFlagError");
}

describe("bench flags", () => {
  it("default to the topology's bench plan", () => {
    const { options, guest } = benchOptions({}, plan, lab);
    assert.deepEqual(options, { variants: ["baseline", "zerocopy"], baseline: "baseline", tests: ["TCP_STREAM"], sizes: [4096, 8192, 16384, 65536], durationSeconds: 120, repetitions: 3, streams: 1, scenario: null });
    assert.equal(guest, undefined);
    assert.equal(runMatrix(options).length, 24);
  });

  it("override the plan and keep the order given", () => {
    const { options } = benchOptions({ variants: "userspace,baseline", sizes: "64K,4K", duration: "2m", reps: "1", tests: "tcp_rr", guest: "vm1" }, plan, lab);
    assert.deepEqual(options.variants, ["userspace", "baseline"]);
    assert.equal(options.baseline, "baseline");
    assert.deepEqual(options.sizes, [65536, 4096]);
    assert.equal(options.durationSeconds, 120);
    assert.deepEqual(options.tests, ["TCP_RR"]);
    assert.deepEqual(runMatrix(options).map(cellId), ["userspace.tcp_rr.64K.s1.r1", "userspace.tcp_rr.4K.s1.r1", "baseline.tcp_rr.64K.s1.r1", "baseline.tcp_rr.4K.s1.r1"]);
  });

  it("name the flag of every problem, all at once", () => {
    assert.deepEqual(flagErrors({ variants: "baseline,fast", sizes: "4K,huge", duration: "soon", reps: "0", tests: "TCP_CRR", scenario: "storm", streams: "-1", guest: "vm9" }), [
      '--scenario: "storm" is not a scenario (known: multi-stream, tcpdump-during-stream, sg-toggle-during-stream, small-message-sweep)',
      '--variants: "fast" is not a variant of this lab (known: baseline, zerocopy, userspace)',
      '--sizes: "huge": not a message size (bytes, or with K/M: 64, 4K, 64K)',
      '--duration: "soon" is not a duration (whole seconds, or 90s, 2m)',
      '--reps: "0" is not a number of repetitions (1 to 100)',
      '--tests: "TCP_CRR": not a test (known: TCP_STREAM, TCP_MAERTS, TCP_RR, UDP_STREAM)',
      '--streams: "-1" is not a number of concurrent streams (1 to 64)',
      '--guest: "vm9" is not a guest of this lab (guests: vm1)',
    ]);
    assert.deepEqual(flagErrors({ variants: "baseline,baseline" }), ["--variants: baseline given twice"]);
    assert.deepEqual(flagErrors({ sizes: "4K,4096" }), ["--sizes: 4K given twice"]);
    assert.deepEqual(flagErrors({ variants: "" }), ['--variants: "" has an empty name (give names separated by commas)']);
    assert.deepEqual(flagErrors({ tests: "TCP_RR", streams: "2" }), ["--streams: TCP_RR has no throughput to sum over streams; run it with one stream"]);
  });

  it("refuse a lab without guests", () => {
    assert.throws(() => benchOptions({}, plan, { variants: lab.variants, guests: [] }), /this lab has no guests/);
  });
});

describe("bench cell planning with scenarios", () => {
  it("multi-stream: 4 streams by default, --streams overrides, in the cell ids", () => {
    const a = benchOptions({ scenario: "multi-stream", reps: "1", sizes: "16K", variants: "baseline" }, plan, lab).options;
    assert.equal(a.streams, 4);
    assert.deepEqual(runMatrix(a).map(cellId), ["baseline.tcp_stream.16K.s4.r1"]);
    assert.equal(benchOptions({ scenario: "multi-stream", streams: "8" }, plan, lab).options.streams, 8);
  });

  it("small-message-sweep: 64 B to 2K unless --sizes says otherwise", () => {
    const o = benchOptions({ scenario: "small-message-sweep" }, plan, lab).options;
    assert.deepEqual(o.sizes, SMALL_MESSAGE_SIZES);
    assert.deepEqual(o.sizes, [64, 128, 256, 512, 1024, 2048]);
    assert.equal(runMatrix(o).length, 2 * 6 * 3);
    assert.deepEqual(benchOptions({ scenario: "small-message-sweep", sizes: "64,1K" }, plan, lab).options.sizes, [64, 1024]);
  });

  it("tcpdump and sg-toggle keep the plan's matrix and mark the run", () => {
    for (const s of ["tcpdump-during-stream", "sg-toggle-during-stream"]) {
      const o = benchOptions({ scenario: s }, plan, lab).options;
      assert.equal(o.scenario, s);
      assert.equal(o.streams, 1);
      assert.equal(runMatrix(o).length, 24);
    }
    assert.equal(runIdFor("20250131T120000Z", "multi-stream"), "20250131T120000Z-multi-stream");
    assert.equal(runIdFor("20250131T120000Z", null), "20250131T120000Z");
  });

  it("sg-toggle: one off/on pair per 4 s of stream, 1 to 5, all inside the stream", () => {
    assert.deepEqual(sgTogglePlan(2), { toggles: 1, intervalSeconds: 0.67 });
    assert.deepEqual(sgTogglePlan(8), { toggles: 2, intervalSeconds: 1.6 });
    assert.deepEqual(sgTogglePlan(120), { toggles: 5, intervalSeconds: 10.91 });
    for (const d of [2, 8, 120]) {
      const p = sgTogglePlan(d);
      assert.ok(2 * p.toggles * p.intervalSeconds < d);
    }
  });
});

describe("bench ETA and progress", () => {
  it("estimates from the cells and switches measured, or from the duration before any", () => {
    assert.equal(estimateRemaining({ remainingCells: 10, remainingSwitches: 1, cellSeconds: [], switchSeconds: [], durationSeconds: 120 }), 10 * 122 + 45);
    assert.equal(estimateRemaining({ remainingCells: 3, remainingSwitches: 1, cellSeconds: [121, 123], switchSeconds: [30], durationSeconds: 120 }), 3 * 122 + 30);
    assert.equal(estimateRemaining({ remainingCells: 0, remainingSwitches: 0, cellSeconds: [5], switchSeconds: [], durationSeconds: 2 }), 0);
  });

  it("formats durations", () => {
    assert.equal(formatDuration(750), "12m30s");
    assert.equal(formatDuration(42), "42s");
    assert.equal(formatDuration(3725), "1h02m05s");
  });

  it("prints one line per cell in the reference's terms", () => {
    const k = { variant: "zerocopy", test: "TCP_STREAM" as const, size: 16384, streams: 1, repetition: 2 };
    assert.equal(progressLine(3, 24, k, { throughputMbps: 1234.4, qemuCpuPct: 95.2, vhostCpuPct: 20.4, errors: [] }, 750), "[3/24] zerocopy TCP_STREAM 16K rep 2: 1234 Mb/s, qemu 95%, vhost 20% (ETA 12m30s)");
    assert.equal(
      progressLine(24, 24, { ...k, streams: 4 }, { throughputMbps: null, qemuCpuPct: null, vhostCpuPct: null, errors: ["stream 1: establish control: are you sure there is a netserver listening on 198.19.2.2 at port 12865?"] }, 0),
      "[24/24] zerocopy TCP_STREAM 16K x4 rep 2: FAILED, qemu —, vhost — [1 error: stream 1: establish control: are you sure there is a netserver listening on 198.19.2.2 at port 12865?] (ETA done)",
    );
  });
});

const topology = {
  lab: "sim",
  stack: "benchtest",
  simulated: true,
  activeVariant: "baseline",
  hosts: [
    { name: "dut", role: "dut", management: { address: "198.18.2.10", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA" }, data: { nic: "eth1", address: "198.19.2.1/24", mtu: 1500 }, kernel: "6.1.0-host", facts: { cpus: 2, qemu: "QEMU emulator version 7.2.22", nic: { driver: "veth", firmware: null, speedMbps: 10000, mtu: 1500, name: "eth1" } } },
    { name: "peer", role: "peer", management: { address: "198.18.2.11", port: 22, user: "root" }, kernel: "6.1.0-peer" },
  ],
  guests: [{ name: "vm1", host: "dut", address: "198.19.2.10/24", kernel: "6.1.192-ixlab-guest", variant: "baseline", accel: "tcg", qemuPid: 4242, vhost: { requested: true, effective: false, note: "no /dev/vhost-net" }, zeroCopy: { requested: false, effective: false }, vhostWorkers: { how: "threads named vhost-4242", tids: [] }, management: { address: "198.18.2.10", port: 2201, user: "root", hostKey: "ssh-ed25519 BBBB" } }],
  peer: { host: "peer", address: "198.19.2.2", port: 12865 },
  commands: {},
} as unknown as Topology;

describe("bench environment", () => {
  it("records kernels, qemu, NIC, tuning, the lab's revision and what the sim cannot show", () => {
    const env = assembleEnvironment(topology, "vm1", { qemuVersion: null, git: { revision: "abc123", dirty: true }, tuning: { governor: "none" }, netperfVersion: "Netperf version 2.7.0" }) as Record<string, any>;
    assert.deepEqual(env.kernels, { hosts: { dut: "6.1.0-host", peer: "6.1.0-peer" }, guests: { vm1: "6.1.192-ixlab-guest" } });
    assert.equal(env.qemu, "QEMU emulator version 7.2.22", "falls back to the host's facts");
    assert.deepEqual(env.nic, { name: "eth1", driver: "veth", firmware: null, speedMbps: 10000, mtu: 1500 });
    assert.deepEqual(env.labRevision, { revision: "abc123", dirty: true });
    assert.equal(env.accel, "tcg");
    assert.equal(env.sim.simulated, true);
    const limits = env.sim.cannotExercise.join("\n");
    assert.match(limits, /veth device, not an ixgbe/);
    assert.match(limits, /QEMU TCG/);
    assert.match(limits, /vhost-net is not serving the guest \(no \/dev\/vhost-net\)/);
    assert.match(limits, /zero-copy is never in effect/);
    assert.ok(!JSON.stringify(env).includes("ssh-ed25519"), "no keys in the environment");
  });

  it("records a variant's state as the topology reported it after the switch", () => {
    assert.deepEqual(variantState(topology.guests![0]), {
      variant: "baseline", accel: "tcg", vhost: { requested: true, effective: false, note: "no /dev/vhost-net" }, zeroCopy: { requested: false, effective: false }, qemuPid: 4242, vhostWorkers: "threads named vhost-4242", guestKernel: "6.1.192-ixlab-guest",
    });
    assert.throws(() => assembleEnvironment(topology, "vm9", { qemuVersion: null, git: { revision: null, dirty: null }, tuning: {} }), /guest vm9 is not in the topology/);
  });
});

const snmp = (retrans: number) => `Ip: Forwarding DefaultTTL\nIp: 2 64\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\nTcp: 1 200 120000 -1 4 2 0 0 1 250 1900 ${retrans} 0 0 0\n`;
const stat = (busy: number, idle: number) => `cpu  ${busy} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 ${busy} 0 0 ${idle} 0 0 0 0 0 0\n`;
const stream = fs.readFileSync(fixture("netperf", "tcp_stream_cpu.txt"), "utf8");
const noServer = fs.readFileSync(fixture("netperf", "error_no_netserver.txt"), "utf8");

describe("bench guest cell output", () => {
  it("runs the topology's netperf line, N streams at once", () => {
    assert.equal(netperfCommand({ address: "198.19.2.2", port: 12865 }, "TCP_STREAM", 4096, 120), "netperf -H 198.19.2.2 -p 12865 -t TCP_STREAM -l 120 -c -C -- -m 4096");
    assert.equal(netperfCommand({ address: "198.19.2.2", port: 12865 }, "TCP_RR", 64, 10), "netperf -H 198.19.2.2 -p 12865 -t TCP_RR -l 10 -c -C -- -r 64,64");
    assert.match(guestCellScript("netperf -x", 4), /while \[ \$i -le 4 \]; do \( netperf -x; echo "== rc \$\?" \) > \$d\/\$i 2>&1 &/);
  });

  it("sums throughput over streams, takes retransmissions and guest CPU from the counters", () => {
    const out = ["== snmp-before", snmp(10), "== stat-before", stat(100, 100), "== stat-after", stat(150, 150), "== snmp-after", snmp(13), "== stream 1", stream, "== rc 0", "== stream 2", stream, "== rc 0", "== end"].join("\n");
    const g = parseGuestCell(out, "TCP_STREAM", 2);
    assert.deepEqual(g.errors, []);
    assert.equal(Math.round(g.throughputMbps! * 100) / 100, 2 * 3634.19);
    assert.equal(g.localCpuPct, 99.75);
    assert.equal(g.retransmissions, 3);
    assert.equal(g.guestCpuPct, 50);
    assert.equal(snmpCounter(snmp(7), "Tcp", "RetransSegs"), 7);
  });

  it("records a failed or missing stream as an error and no throughput, never a zero", () => {
    const out = ["== snmp-before", snmp(1), "== stat-before", stat(1, 1), "== stat-after", stat(2, 2), "== snmp-after", snmp(1), "== stream 1", stream, "== rc 0", "== stream 2", noServer, "== rc 1", "== end"].join("\n");
    const g = parseGuestCell(out, "TCP_STREAM", 3);
    assert.equal(g.throughputMbps, null);
    assert.equal(g.errors.length, 2);
    assert.match(g.errors[0], /^stream 2: establish control/);
    assert.match(g.errors[1], /^stream 3: no output/);
    assert.equal(parseGuestCell("", "TCP_STREAM", 1).retransmissions, null);
  });

  it("reads the guest's clocksource and how far its clock went across the streams", () => {
    const script = guestCellScript("netperf -x", 1);
    assert.ok(script.indexOf("== clock-before") < script.indexOf("netperf -x") && script.indexOf("netperf -x") < script.indexOf("== clock-after"), script);
    assert.match(script, /current_clocksource/);
    const out = (cs: string, a: string, b: string) => ["== clock-before", cs, a, "== stream 1", stream, "== rc 0", "== clock-after", b, "== end"].join("\n");
    assert.deepEqual(parseGuestCell(out("hpet", "244.63 152.90", "256.71 153.06"), "TCP_STREAM", 1).guestClock, { clocksource: "hpet", seconds: 12.08 });
    // No clocksource file (an old kernel): the time still counts; no sections at all: nothing.
    assert.deepEqual(parseGuestCell(out("", "10.00 1.00", "20.50 2.00"), "TCP_STREAM", 1).guestClock, { clocksource: null, seconds: 10.5 });
    assert.deepEqual(parseGuestCell("", "TCP_STREAM", 1).guestClock, { clocksource: null, seconds: null });
  });

  it("warns when the guest's clock only counts ticks: the clock that reset 6 of 8 streams on the VM lab", () => {
    // The VM lab's nested TCG guest before it had an HPET: refined-jiffies; its /proc/uptime went
    // 31.93 s while three `sleep 10` took 41.38 s of this machine's clock.
    const slow = guestClockCheck({ clocksource: "refined-jiffies", seconds: 31.93 }, 41.38, 10);
    assert.deepEqual({ ...slow, warning: undefined }, { clocksource: "refined-jiffies", guestSeconds: 31.93, wallSeconds: 41.38, warning: undefined });
    assert.match(slow.warning!, /^the guest's clocksource is refined-jiffies, which loses time .*counted 31\.93 s across the streams, 41\.38 s went by .*: netperf's -l 10 can outlast the peer's netserver \(-l \+ 4 s/);
    assert.match(guestClockCheck({ clocksource: "jiffies", seconds: null }, 12, 10).warning!, /^the guest's clocksource is jiffies, which loses time when the guest misses timer ticks: /);
    for (const cs of ["tsc", "hpet", "kvm-clock", "acpi_pm", null]) assert.deepEqual(guestClockCheck({ clocksource: cs, seconds: 13.73 }, 20.0234, 10), { clocksource: cs, guestSeconds: 13.73, wallSeconds: 20.02 }, String(cs));
  });
});

describe("bench scenario outputs", () => {
  it("tcpdump: packet counts from its closing lines; none is an error", () => {
    const t = parseTcpdump("tcpdump pid 77 on eth1\ntcpdump stopped, exit 0\ntcpdump: listening on eth1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n17979 packets captured\n17987 packets received by filter\n4 packets dropped by kernel\n");
    assert.deepEqual(t, { captured: 17979, receivedByFilter: 17987, droppedByKernel: 4, errors: [] });
    assert.match(parseTcpdump("tcpdump: eth9: No such device exists\n").errors[0], /No such device/);
  });

  it("sg-toggle: toggles, NIC error deltas, and the restored state checked", () => {
    const ok = parseSgToggle("sg original on\nstats-before tx_errors=0 rx_errors=0 tx_dropped=2 rx_dropped=0 \ntoggle 1 sg off\ntoggle 1 sg on\nsg restored on\nstats-after tx_errors=0 rx_errors=0 tx_dropped=5 rx_dropped=0 \n");
    assert.equal(ok.toggles, 1);
    assert.deepEqual(ok.nicErrors, { tx_errors: 0, rx_errors: 0, tx_dropped: 3, rx_dropped: 0 });
    assert.deepEqual(ok.errors, ["tx_dropped +3 during the stream"]);
    const bad = parseSgToggle("sg original on\nerror: ethtool -K eth1 sg off: Could not change any device features\nsg restored off\n");
    assert.deepEqual(bad.errors, ["ethtool -K eth1 sg off: Could not change any device features", "scatter-gather is off after the cell, was on"]);
  });
});
