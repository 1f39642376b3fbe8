// The sim lab for real: `pulumi up` from nothing (hosts, wire, netserver, guest kernel, a QEMU guest on
// a macvtap), a second up with no changes, netperf across the veth wire with the topology's own
// command and from inside the guest, the plan of a variant switch, a netserver and a guest that died
// found and restarted, `pulumi destroy`, and nothing left on the machine. Runs as its own stack with its own names and addresses, so a sim
// lab someone has up (stack sim) is not touched.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { capturePulumi, ensureStack } from "../../src/pulumi/cli";
import { cacheDir } from "../../src/paths";
import { pulumiProblem, ROOT, simTestStack } from "../helpers";
import { leftovers } from "../leftovers";

const STACK = "simtest";
// A second stack with the same lab names: another clone's, or a copy of this stack.
const TWIN = "simtest-twin";
const PREFIX = "ixt";

function stackFile(): string {
  // The vCPU thread pinned (CPU 0 exists everywhere).
  return simTestStack(STACK, PREFIX, 1, (t) => t.replace("        vcpus: 1\n", "        vcpus: 1\n        pin: {vcpus: [0]}\n"));
}

/** Resources a preview would replace, by name (Pulumi's JSON plan: one step per resource). */
function replaced(previewJson: string): string[] {
  const steps = (JSON.parse(previewJson).steps ?? []) as { op: string; urn: string }[];
  const names = steps.filter((st) => ["replace", "create-replacement", "delete-replaced"].includes(st.op)).map((st) => st.urn.split("::").pop()!);
  return [...new Set(names)].sort();
}

/** netperf's TCP_STREAM result row: recv socket, send socket, message size, time, throughput (Mb/s). */
function throughput(stdout: string): number {
  const row = stdout.trim().split("\n").pop()!.trim().split(/\s+/).map(Number);
  assert.ok(row.length >= 5 && row[4] > 0, `no throughput in: ${stdout}`);
  return row[4];
}

describe("sim lab: up, no-op up, netperf, drift, destroy", () => {
  stackFile();
  const pulumi = (...args: string[]) => capturePulumi([...args, "--stack", STACK, "--non-interactive"]);
  const timings: Record<string, number> = {};
  const timed = (label: string, ...args: string[]) => {
    const start = Date.now();
    const r = pulumi(...args);
    timings[label] = (Date.now() - start) / 1000;
    return r;
  };

  before(() => {
    ensureStack(STACK);
    pulumi("destroy", "--yes"); // converge from whatever an interrupted earlier run left
  });
  after(() => {
    for (const st of [TWIN, STACK]) capturePulumi(["destroy", "--yes", "--stack", st, "--non-interactive"]);
    capturePulumi(["stack", "rm", "--yes", "--force", "--stack", TWIN]);
    capturePulumi(["stack", "rm", "--yes", "--force", "--stack", STACK]);
    console.log(`sim lab timings (s): ${JSON.stringify(timings)}`);
  });

  it("comes up from nothing", () => {
    const r = timed("up", "up", "--yes", "--skip-preview");
    assert.equal(r.status, 0, pulumiProblem(r.stdout + r.stderr));
  });

  it("reports no changes on a second up", () => {
    const r = timed("noopUp", "up", "--yes", "--skip-preview", "--expect-no-changes");
    assert.equal(r.status, 0, pulumiProblem(r.stdout + r.stderr));
  });

  it("refuses a second stack whose lab uses the same names, naming the owner, and leaves the lab as it was", () => {
    simTestStack(TWIN, PREFIX, 1);
    ensureStack(TWIN);
    const r = capturePulumi(["up", "--yes", "--skip-preview", "--non-interactive", "--stack", TWIN]);
    assert.notEqual(r.status, 0, "the twin's up must stop");
    assert.match(r.stdout + r.stderr, /the lab names ixt-\* on this machine belong to stack simtest of the clone at \S+, whose lab is up; destroy it there first/);
    assert.doesNotMatch(r.stdout, /SimBridge sim-bridge created|SimHost \S+ created/, "nothing of the lab was touched");
    const still = pulumi("preview", "--expect-no-changes");
    assert.equal(still.status, 0, pulumiProblem(still.stdout + still.stderr));
    const down = capturePulumi(["destroy", "--yes", "--non-interactive", "--stack", TWIN]);
    assert.equal(down.status, 0, pulumiProblem(down.stdout + down.stderr));
    capturePulumi(["stack", "rm", "--yes", "--force", "--stack", TWIN]);
  });

  let topology: any;
  it("outputs a topology with pinned host keys, facts and a peer", () => {
    const r = pulumi("stack", "output", "topology", "--json");
    assert.equal(r.status, 0, r.stderr);
    topology = JSON.parse(r.stdout);
    assert.equal(topology.simulated, true);
    assert.deepEqual(topology.hosts.map((h: any) => h.name), ["dut", "peer"]);
    for (const h of topology.hosts) {
      assert.match(h.management.hostKey, /^ssh-ed25519 /);
      assert.match(h.management.address, /^198\.18\.1\./);
      assert.equal(typeof h.kernel, "string");
      assert.equal(h.facts.kvm, fs.existsSync("/dev/kvm"), "kvm fact must say what this machine has");
    }
    assert.deepEqual(topology.peer, { host: "peer", address: "198.19.1.2", port: 12865 });
    assert.match(topology.commands.netperf, /ixlab ssh --stack simtest dut -- netperf -H 198\.19\.1\.2 -p 12865 -t TCP_STREAM/);
    const text = JSON.stringify(topology);
    assert.ok(!text.includes("PRIVATE KEY"), "the topology holds no private key");
  });

  it("runs netperf across the wire with the topology's command", () => {
    const cmd = topology.commands.netperf.replace(/^npx ixlab/, "bin/ixlab").replace("-l 10", "-l 3");
    const r = spawnSync("bash", ["-c", cmd], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // The last line of netperf's TCP_STREAM table: recv socket, send socket, message size, time, throughput (10^6 bits/s).
    console.log(`sim wire TCP_STREAM: ${throughput(r.stdout)} Mb/s (veth, 3 s)`);
  });

  it("outputs the guest: macvtap, QEMU pid, acceleration, vhost and zero-copy as they are, SSH pinned", () => {
    assert.equal(topology.guests.length, 1);
    const g = topology.guests[0];
    assert.equal(g.name, "vm1");
    assert.equal(g.host, "dut");
    assert.equal(g.address, "198.19.1.10/24");
    assert.deepEqual({ name: g.macvtap.name, mode: g.macvtap.mode }, { name: `${PREFIX}-vm1`, mode: "bridge" });
    assert.equal(g.accel, "tcg");
    assert.ok(Number.isInteger(g.qemuPid) && g.qemuPid > 1);
    assert.match(g.kernel, /-ixlab-guest$/);
    assert.equal(g.variant, "baseline");
    // This machine has no /dev/vhost-net: the guest runs without vhost and the topology says so.
    assert.equal(g.vhost.requested, true);
    assert.equal(g.vhost.effective, fs.existsSync("/dev/vhost-net"));
    if (!fs.existsSync("/dev/vhost-net")) assert.match(g.vhost.note, /no \/dev\/vhost-net/);
    assert.equal(g.zeroCopy.requested, false);
    assert.deepEqual(g.management.address, "198.18.1.10");
    assert.match(g.management.hostKey, /^ssh-ed25519 /);
    assert.match(g.vhostWorkers.how, /vhost-/);
    assert.ok(g.bootSeconds > 0);
    assert.equal(g.vcpuThreads.length, 1);
    const allowed = fs.readFileSync(`/proc/${g.vcpuThreads[0]}/status`, "utf8").match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1];
    assert.equal(allowed, "0", "the vCPU thread is pinned as the lab asks");
    console.log(`guest boot to SSH: ${g.bootSeconds} s (QEMU ${g.accel})`);
    assert.match(topology.commands.bench, /ixlab bench --stack simtest/);
    assert.equal(topology.commands.cells.length, 4);
    assert.match(topology.commands.cells[0].command, /ixlab ssh --stack simtest vm1 -- netperf -H 198\.19\.1\.2 -p 12865 -t TCP_STREAM -l 120 -c -C -- -m 4096/);
  });

  it("runs netperf from inside the guest, through its macvtap over the wire, to the peer", () => {
    const r = spawnSync("bin/ixlab", ["ssh", "--stack", STACK, "vm1", "--", "netperf -H 198.19.1.2 -p 12865 -t TCP_STREAM -l 3 -- -m 16384"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    console.log(`guest -> peer TCP_STREAM: ${throughput(r.stdout)} Mb/s (QEMU software emulation, 3 s)`);
    const u = spawnSync("bin/ixlab", ["ssh", "--stack", STACK, "vm1", "--", "uname -r"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    assert.equal(u.stdout.trim(), topology.guests[0].kernel);
  });

  it("plans a zero-copy switch as a replacement of vhost_net's setting and the guest only", () => {
    process.env.IXLAB_VARIANT = "zerocopy";
    try {
      const r = pulumi("preview", "--json");
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.deepEqual(replaced(r.stdout), ["dut-vhostnet", "vm1-qemu"]);
    } finally {
      delete process.env.IXLAB_VARIANT;
    }
  });

  it("plans a vhost switch as a replacement of the guest's QEMU only", () => {
    process.env.IXLAB_VARIANT = "userspace";
    try {
      const r = pulumi("preview", "--json");
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.deepEqual(replaced(r.stdout), ["vm1-qemu"]);
    } finally {
      delete process.env.IXLAB_VARIANT;
    }
  });

  it("finds a guest whose QEMU was killed and brings it back", () => {
    const old = topology.guests[0].qemuPid;
    const kill = spawnSync("bin/ixlab", ["ssh", "--stack", STACK, "dut", "--", `kill -9 ${old}`], { cwd: ROOT, encoding: "utf8" });
    assert.equal(kill.status, 0, kill.stderr);
    // A bench now would read the CPU of a process that is gone: it stops before writing anything.
    const results = path.join(ROOT, "results", STACK);
    const runsBefore = fs.existsSync(results) ? fs.readdirSync(results) : [];
    const bench = spawnSync("bin/ixlab", ["bench", "--stack", STACK, "--variants", "baseline", "--sizes", "4K", "--duration", "1", "--reps", "1", "--no-report"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    assert.equal(bench.status, 1, bench.stdout + bench.stderr);
    assert.match(bench.stderr, new RegExp(`ixlab bench: guest vm1 on host dut: QEMU pid ${old} is not running \\(the pid in stack ${STACK}'s topology\\): the lab changed since its last up\\. Run \`npx ixlab pulumi up --stack ${STACK}\` to bring the guest back, then the bench again`));
    assert.deepEqual(fs.existsSync(results) ? fs.readdirSync(results) : [], runsBefore, "no run directory for a refused bench");
    assert.notEqual(pulumi("preview", "--expect-no-changes").status, 0, "preview must see the dead guest");
    const up = pulumi("up", "--yes", "--skip-preview");
    assert.equal(up.status, 0, pulumiProblem(up.stdout + up.stderr));
    const now = JSON.parse(pulumi("stack", "output", "topology", "--json").stdout);
    assert.notEqual(now.guests[0].qemuPid, old);
    const r = spawnSync("bin/ixlab", ["ssh", "--stack", STACK, "vm1", "--", "cat /proc/uptime"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const after = pulumi("preview", "--expect-no-changes");
    assert.equal(after.status, 0, pulumiProblem(after.stdout + after.stderr));
  });

  it("finds a guest whose macvtap was re-created under it (the test NIC deleted and made again) and restarts it", () => {
    const old = JSON.parse(pulumi("stack", "output", "topology", "--json").stdout).guests[0].qemuPid;
    // The dut's end of the wire goes, and with it the macvtap on it; the guest's QEMU lives on,
    // holding a tap of a device that is gone.
    const del = spawnSync("ip", ["-n", `${PREFIX}-dut`, "link", "del", "eth1"], { encoding: "utf8" });
    assert.equal(del.status, 0, del.stderr);
    const up = pulumi("up", "--yes", "--skip-preview");
    assert.equal(up.status, 0, pulumiProblem(up.stdout + up.stderr));
    const now = JSON.parse(pulumi("stack", "output", "topology", "--json").stdout);
    assert.notEqual(now.guests[0].qemuPid, old, "the guest was restarted on the new macvtap");
    const r = spawnSync("bin/ixlab", ["ssh", "--stack", STACK, "vm1", "--", "ping -c 3 -W 5 198.19.1.2"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `the guest reaches the peer again:\n${r.stdout}${r.stderr}`);
    const after = pulumi("preview", "--expect-no-changes");
    assert.equal(after.status, 0, pulumiProblem(after.stdout + after.stderr));
  });

  it("finds a netserver that died and restarts it", () => {
    const kill = spawnSync("bin/ixlab", ["ssh", "--stack", STACK, "peer", "--", 'kill "$(cat "$IXLAB_STATE_DIR/netserver.pid")"'], { cwd: ROOT, encoding: "utf8" });
    assert.equal(kill.status, 0, kill.stderr);
    const preview = pulumi("preview", "--expect-no-changes");
    assert.notEqual(preview.status, 0, "preview must see the dead netserver");
    const up = pulumi("up", "--yes", "--skip-preview");
    assert.equal(up.status, 0, pulumiProblem(up.stdout + up.stderr));
    const after = pulumi("preview", "--expect-no-changes");
    assert.equal(after.status, 0, pulumiProblem(after.stdout + after.stderr));
  });

  it("destroys everything and leaves nothing behind", () => {
    const r = timed("destroy", "destroy", "--yes");
    assert.equal(r.status, 0, pulumiProblem(r.stdout + r.stderr));
    assert.deepEqual(leftovers(PREFIX), []);
    // The stack's kernel outputs and boot records go too, with their per-stack directories (build
    // trees and ccache stay: caches). Boot records are per stack: another stack booting the same
    // kernel bytes keeps its own.
    for (const kind of ["out", "boot"]) {
      const dir = path.join(cacheDir(), "kernels", kind, STACK);
      assert.equal(fs.existsSync(dir), false, `${dir} is left: ${fs.existsSync(dir) ? fs.readdirSync(dir).join(", ") || "(empty)" : ""}`);
    }
  });
});
