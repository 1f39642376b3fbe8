// roles/bench-probe.sh for real against two network namespaces joined by a veth (the sim's hosts,
// without their sshd): the role travels as lib.sh + role on `bash -s`, as the bench sends it. The
// /proc sample parses, tuning and datapath read the NIC, a capture starts and stops idempotently and
// counts real packets, and a scatter-gather toggle puts the NIC back, also when it is killed half-way
// (through host-tune's record, or sg-restore). Names carry this run's pid; cleanup comes first.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseTcpdump, parseSgToggle } from "../../src/bench/cell";
import { parseDatapath, probeFacts } from "../../src/bench/probe";
import { parseProcSample } from "../../src/bench/procstat";
import { QEMU_GONE } from "../../src/bench/runner";
import { ROOT } from "../helpers";

const P = `ixe${process.pid % 100000}`;
const A = `${P}a`;
const B = `${P}b`;
const NIC = "eth1";
const state = fs.mkdtempSync(path.join(os.tmpdir(), "ixe-probe-"));
const script = fs.readFileSync(path.join(ROOT, "roles", "lib.sh"), "utf8") + "\n" + fs.readFileSync(path.join(ROOT, "roles", "bench-probe.sh"), "utf8");

function sh(cmd: string, args: string[], input = "") {
  const r = spawnSync(cmd, args, { encoding: "utf8", input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
const show = (r: { status: number | null; stdout: string; stderr: string }) => `exit ${r.status}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

/** bench-probe in namespace A, sent on stdin the way the bench sends it over SSH. */
function probe(action: string, ...args: string[]) {
  return sh("ip", ["netns", "exec", A, "env", `IXLAB_STATE_DIR=${state}`, "IXLAB_ROLE=bench-probe", "IXLAB_LIB_LOADED=", "bash", "-s", "--", action, ...args], script);
}
function role(name: string, ...args: string[]) {
  return sh("ip", ["netns", "exec", A, "env", `IXLAB_STATE_DIR=${state}`, "bash", path.join(ROOT, "roles", `${name}.sh`), ...args]);
}
const sg = () => /scatter-gather: (on|off)/.exec(sh("ip", ["netns", "exec", A, "ethtool", "-k", NIC]).stdout)?.[1];

const whyNot = process.getuid?.() !== 0 ? "needs root" : ["tcpdump", "ethtool", "jq"].find((t) => sh("sh", ["-c", `command -v ${t}`]).status !== 0);

describe("bench-probe against namespaces", { skip: whyNot ? `cannot run: ${whyNot}` : false }, () => {
  const cleanup = () => {
    for (const ns of [A, B]) {
      for (const pid of sh("ip", ["netns", "pids", ns]).stdout.split("\n").filter(Boolean)) sh("kill", ["-KILL", pid]);
      sh("ip", ["netns", "del", ns]);
    }
  };
  before(() => {
    cleanup();
    for (const ns of [A, B]) assert.equal(sh("ip", ["netns", "add", ns]).status, 0);
    assert.equal(sh("ip", ["-n", A, "link", "add", NIC, "type", "veth", "peer", "name", NIC, "netns", B]).status, 0);
    for (const [ns, addr] of [[A, "198.19.40.201/24"], [B, "198.19.40.202/24"]]) {
      sh("ip", ["-n", ns, "link", "set", NIC, "addrgenmode", "none"]);
      assert.equal(sh("ip", ["-n", ns, "addr", "add", addr, "dev", NIC]).status, 0);
      assert.equal(sh("ip", ["-n", ns, "link", "set", NIC, "up"]).status, 0);
    }
  });
  after(() => {
    cleanup();
    fs.rmSync(state, { recursive: true, force: true });
  });

  it("follows the role conventions: header, lib guard, exit 2 naming a bad action or flag", () => {
    const lines = fs.readFileSync(path.join(ROOT, "roles", "bench-probe.sh"), "utf8").split("\n");
    assert.equal(lines[0], "#!/usr/bin/env bash");
    assert.match(lines[1], /^# bench-probe: /);
    assert.equal(lines.filter((l) => l.trim()).pop(), `main "$@" </dev/null`);
    const bad = probe("frobnicate");
    assert.equal(bad.status, 2, show(bad));
    assert.match(bad.stderr, /unknown action 'frobnicate'/);
    const flag = probe("check", "--frobnicate", "x");
    assert.equal(flag.status, 2, show(flag));
    assert.match(flag.stderr, /unknown flag '--frobnicate'/);
    const nic = probe("tuning", "--nic", "no/such");
    assert.equal(nic.status, 2, show(nic));
    assert.match(nic.stderr, /--nic 'no\/such' is neither an interface name/);
    const pid = probe("datapath", "--nic", NIC, "--qemu-pid", "12;rm");
    assert.equal(pid.status, 2, show(pid));
  });

  it("sample: the sections parseProcSample reads, with every thread", () => {
    const r = probe("sample");
    assert.equal(r.status, 0, show(r));
    const s = parseProcSample(r.stdout);
    assert.ok(s.tasks.some((t) => t.pid === 1), "pid 1's threads are in the sample");
    assert.ok(s.uptime > 0);
  });

  it("tuning and datapath: the NIC as it is, QEMU's fds and command line", async () => {
    const t = probeFacts(probe("tuning", "--nic", NIC).stdout);
    assert.equal(t?.mtu, "1500");
    assert.equal((t?.offloads as Record<string, string>)["scatter-gather"], "on");
    // A stand-in for QEMU: a process of ours whose command line the digest must match.
    const stand = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const r = probe("datapath", "--nic", NIC, "--qemu-pid", String(stand.pid));
      assert.equal(r.status, 0, show(r));
      const d = parseDatapath(r.stdout);
      assert.equal(d.vhost, false);
      assert.equal(d.vhostWorkers, null);
      assert.equal(d.qemuCmdlineSha256, createHash("sha256").update(fs.readFileSync(`/proc/${stand.pid}/cmdline`)).digest("hex"));
      assert.equal(d.mtu, 1500);
      assert.equal(d.offloads?.["scatter-gather"], true);
      assert.equal(d.hostKernel, os.release());
      assert.equal(d.irqDevice, NIC, "a veth is not a virtio device: its interrupt lines would carry its own name");
      assert.equal(d.zeroCopy, fs.existsSync("/sys/module/vhost_net/parameters/experimental_zcopytx") ? /^(1|Y)/.test(fs.readFileSync("/sys/module/vhost_net/parameters/experimental_zcopytx", "utf8")) : null);
      assert.match(d.note ?? "", fs.existsSync("/dev/vhost-net") ? /QEMU does not hold \/dev\/vhost-net/ : /no \/dev\/vhost-net on this host/);
    } finally {
      stand.kill("SIGKILL");
    }
    const gone = parseDatapath(probe("datapath", "--nic", NIC, "--qemu-pid", "999999999").stdout);
    assert.equal(gone.note, "QEMU pid 999999999 is not running");
    assert.match(gone.note, QEMU_GONE, "the words the bench stops on before a run");
    assert.equal(gone.qemuCmdlineSha256, null);
    // A QEMU killed but not yet reaped is a zombie: its /proc entry is there, its command line empty.
    // The child outlives the shell's exec into `sleep`, which never reaps it.
    const parent = spawn("sh", ["-c", "sleep 0.5 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const zombie = await new Promise<string>((resolve) => parent.stdout.once("data", (d) => resolve(String(d).trim())));
      const state = () => fs.readFileSync(`/proc/${zombie}/stat`, "utf8").split(") ").pop()!.split(" ")[0];
      for (let i = 0; i < 100 && state() !== "Z"; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(state(), "Z", "a zombie to probe");
      assert.equal(parseDatapath(probe("datapath", "--nic", NIC, "--qemu-pid", zombie).stdout).note, `QEMU pid ${zombie} is not running`);
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("tcpdump: start twice (the second changes nothing), real packets counted, stop twice, check", () => {
    const first = probe("tcpdump-start", "--nic", NIC);
    assert.equal(first.status, 0, show(first));
    assert.match(first.stdout, /changed: started tcpdump on eth1 \(pid \d+\)\nsummary: changed=1/);
    const second = probe("tcpdump-start", "--nic", NIC);
    assert.match(second.stdout, /^ok: tcpdump on eth1 is running/m);
    assert.match(second.stdout, /summary: changed=0/);
    const busy = probe("check", "--nic", NIC);
    assert.equal(busy.status, 3, show(busy));
    assert.match(busy.stderr, /check failed: tcpdump on eth1 is running/);
    // Ten UDP datagrams across the cable (to the discard port; A answers each with ICMP unreachable).
    const send = sh("ip", ["netns", "exec", B, "bash", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo x >/dev/udp/198.19.40.201/9; sleep 0.05; done"]);
    assert.equal(send.status, 0, show(send));
    const stop = probe("tcpdump-stop", "--nic", NIC);
    assert.equal(stop.status, 0, show(stop));
    const t = parseTcpdump(stop.stdout);
    assert.deepEqual(t.errors, []);
    assert.ok((t.captured ?? 0) >= 10, `${t.captured} packets captured (10 datagrams and their replies)`);
    const again = probe("tcpdump-stop", "--nic", NIC);
    assert.match(again.stdout, /^ok: no tcpdump on eth1\nsummary: changed=0\n$/);
    assert.equal(probe("check", "--nic", NIC).status, 0);
  });

  it("sg-toggle: off and on, back as it was, nothing recorded afterwards", () => {
    const r = probe("sg-toggle", "--nic", NIC, "--interval", "0.1", "--toggles", "2");
    assert.equal(r.status, 0, show(r));
    const t = parseSgToggle(r.stdout);
    assert.deepEqual(t.errors, []);
    assert.equal(t.toggles, 2);
    assert.equal(t.original, "on");
    assert.equal(t.restored, "on");
    assert.equal(sg(), "on");
    assert.ok(!fs.existsSync(path.join(state, "tune", NIC)), "the host-tune record the toggle made is gone again");
    assert.equal(probe("check", "--nic", NIC).status, 0);
  });

  it("a toggle killed half-way: check says so, host-tune's delete restores through the same record, sg-restore clears it", async () => {
    const child = spawn("ip", ["netns", "exec", A, "env", `IXLAB_STATE_DIR=${state}`, "IXLAB_ROLE=bench-probe", "IXLAB_LIB_LOADED=", "bash", "-s", "--", "sg-toggle", "--nic", NIC, "--interval", "1", "--toggles", "5"], { stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end(script);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    for (let i = 0; i < 50 && !/toggle 1 sg off/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /toggle 1 sg off/);
    child.kill("SIGKILL"); // ip netns exec execs env, then bash: this is the role's shell, no trap runs
    await new Promise((r) => child.on("close", r));
    assert.equal(sg(), "off");
    assert.equal(fs.readFileSync(path.join(state, "tune", NIC, "offload.sg"), "utf8").trim(), "on", "the value before the toggle, in host-tune's record");
    const check = probe("check", "--nic", NIC);
    assert.equal(check.status, 3, show(check));
    assert.match(check.stderr, /a scatter-gather toggle of eth1 was cut short \(sg-restore puts back on\)/);
    // The lab going away (host-tune delete) restores it from the shared record ...
    const del = role("host-tune", "delete", "--nic", NIC);
    assert.equal(del.status, 0, show(del));
    assert.match(del.stdout, /changed: restore eth1 offload sg off -> on/);
    assert.equal(sg(), "on");
    // ... and sg-restore finds it right and clears the bench's mark; a second one changes nothing.
    const restore = probe("sg-restore", "--nic", NIC);
    assert.match(restore.stdout, /^ok: eth1: scatter-gather is on \(as before the toggle\)/m);
    assert.match(probe("sg-restore", "--nic", NIC).stdout, /^ok: no scatter-gather toggle of eth1 to restore\nsummary: changed=0\n$/);
    assert.equal(probe("check", "--nic", NIC).status, 0);
  });

  it("a toggle on a NIC host-tune set keeps host-tune's record and returns to the tuned value", () => {
    const tune = role("host-tune", "create", "--nic", NIC, "--offload", "sg=off");
    assert.equal(tune.status, 0, show(tune));
    const r = probe("sg-toggle", "--nic", NIC, "--interval", "0.1", "--toggles", "1");
    assert.equal(parseSgToggle(r.stdout).restored, "off", show(r));
    assert.equal(sg(), "off");
    assert.equal(fs.readFileSync(path.join(state, "tune", NIC, "offload.sg"), "utf8").trim(), "on", "host-tune's own record (the value before the lab) untouched");
    assert.equal(role("host-tune", "delete", "--nic", NIC).status, 0);
    assert.equal(sg(), "on");
  });
});
