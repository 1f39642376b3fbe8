// The VM lab's datapath for real, on the vmlab lab as written (prefix ixv, management 198.18.20.0/24,
// data 198.19.20.0/24; its own stack t-vmlab-bench, so the user's `vmlab` stack is left alone: don't
// run both at once): `pulumi up` installs the lab's host kernel on the dut VM through GRUB and boots
// the nested guest with vhost=on; the variant switch baseline -> zerocopy reloads vhost_net and
// experimental_zcopytx is read back from the host; a bench of 2 variants x 2 sizes x 2 repetitions
// (10 s cells) whose report has vhost CPU and irq/s, and whose kprobe counters show zero-copy sends
// under zerocopy and none under baseline, every cell measured on a guest clock that keeps time;
// destroy leaves nothing. Run by `npm run test:vm` (about
// 30-40 min under TCG); `IXLAB_VM_KEEP=1` leaves the lab up, `IXLAB_VM_RUN_COPY=DIR` copies the run.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { GuestClock, TICK_CLOCKSOURCES } from "../../src/bench/cell";
import { loadRun } from "../../src/bench/results";
import { capturePulumi, ensureStack } from "../../src/pulumi/cli";
import { cacheDir } from "../../src/paths";
import { ROOT, vmTestStack } from "../helpers";
import { vmLeftovers } from "../leftovers";

const STACK = "t-vmlab-bench";
const PREFIX = "ixv";
const N = 20;
const ZCOPY = "/sys/module/vhost_net/parameters/experimental_zcopytx";
const RESULTS = path.join(ROOT, "results", STACK);

const ixlab = (args: string[], timeout = 60 * 60_000) => spawnSync(path.join(ROOT, "bin", "ixlab"), args, { cwd: ROOT, encoding: "utf8", timeout, maxBuffer: 64 << 20 });
function ssh(host: string, command: string): string {
  const r = ixlab(["ssh", "--stack", STACK, host, "--", command], 120_000);
  assert.equal(r.status, 0, `${host}: ${command}\n${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

const skip = process.env.IXLAB_VM_TESTS === "1" ? false : "the VM lab's bench test runs with `npm run test:vm` (30-40 min under TCG)";
describe("VM lab: host kernel, variant switch with experimental_zcopytx read back, a bench with vhost CPU, irq/s and zero-copy counters", { timeout: 120 * 60_000, skip }, () => {
  if (!skip) vmTestStack(STACK, PREFIX, N, { guest: true });
  // IXLAB_VARIANT picks the variant for one up, as `ixlab bench` switches it.
  const pulumi = (args: string[], variant?: string) => {
    if (variant) process.env.IXLAB_VARIANT = variant;
    try {
      return capturePulumi([...args, "--stack", STACK, "--non-interactive"]);
    } finally {
      delete process.env.IXLAB_VARIANT;
    }
  };
  const timings: Record<string, number> = {};
  const timed = <T>(label: string, f: () => T): T => {
    const start = Date.now();
    try {
      return f();
    } finally {
      timings[label] = Math.round((Date.now() - start) / 100) / 10;
    }
  };
  const topology = () => JSON.parse(capturePulumi(["stack", "output", "topology", "--json", "--stack", STACK]).stdout);
  let release = "";

  before(() => {
    assert.doesNotMatch(spawnSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" }).stdout, /198\.18\.20\./, "198.18.20.0/24 is in use already (the vmlab stack up?)");
    ensureStack(STACK);
    pulumi(["destroy", "--yes"]);
  });
  after(() => {
    console.log(`# vmlab-bench timings (s): ${JSON.stringify(timings)}`);
    if (process.env.IXLAB_VM_KEEP === "1") return;
    pulumi(["destroy", "--yes"]);
    capturePulumi(["stack", "rm", "--yes", "--force", "--stack", STACK]);
    fs.rmSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), { force: true });
  });

  it("comes up on the baseline variant: the host kernel installed through GRUB, the guest on vhost, zero-copy off as read from the host", () => {
    const r = timed("up", () => pulumi(["up", "--yes", "--skip-preview"]));
    assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-6000));
    const t = topology();
    const dut = t.hosts.find((h: any) => h.name === "dut");
    release = ssh("dut", "uname -r");
    assert.match(release, /-ixlab-host$/, "the dut runs the lab's host kernel");
    assert.equal(dut.kernel, release, "the topology's host kernel is the running one");
    assert.match(ssh("dut", "cat /proc/cmdline"), /^BOOT_IMAGE=\/boot\/vmlinuz-\S+-ixlab-host /, "booted through GRUB");
    assert.match(ssh("dut", "grub-editenv list"), new RegExp(`^saved_entry=ixlab-${release.replace(/\./g, "\\.")}$`, "m"), "committed as GRUB's default");
    assert.match(ssh("dut", `cat ${ZCOPY}`), /^(0|N)$/);
    const g = t.guests[0];
    assert.equal(g.variant, "baseline");
    assert.equal(g.vhost.effective, true, JSON.stringify(g.vhost));
    assert.equal(g.zeroCopy.effective, false, JSON.stringify(g.zeroCopy));
    assert.match(ssh("dut", `cat /proc/${g.qemuPid}/cmdline | tr '\\0' ' '`), /vhost=on,vhostfd=/);
    // The nested guest's clock keeps time (an HPET found through ACPI), so netperf's -l is real seconds.
    const clocksource = ssh(g.name, "cat /sys/devices/system/clocksource/clocksource0/current_clocksource");
    console.log(`# the nested guest's clocksource: ${clocksource}`);
    assert.ok(!TICK_CLOCKSOURCES.includes(clocksource), `the guest's clocksource is ${clocksource}`);
  });

  it("switches baseline -> zerocopy: vhost_net reloaded, experimental_zcopytx read back 1, the topology says so", () => {
    const before = topology().guests[0];
    const r = timed("switchToZerocopy", () => pulumi(["up", "--yes", "--skip-preview"], "zerocopy"));
    assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-6000));
    const read = ssh("dut", `cat ${ZCOPY}`);
    console.log(`# experimental_zcopytx read back from dut after the switch: ${read}`);
    assert.match(read, /^(1|Y)$/);
    const g = topology().guests[0];
    assert.equal(g.variant, "zerocopy");
    assert.equal(g.vhost.effective, true);
    assert.equal(g.zeroCopy.effective, true, JSON.stringify(g.zeroCopy));
    assert.notEqual(g.qemuPid, before.qemuPid, "the guest was restarted around the reload");
    assert.equal(ssh("dut", "uname -r"), release, "a switch between variants on the same host kernel does not reinstall it");
  });

  it("benches 2 variants x 2 sizes x 2 repetitions: vhost CPU and irq/s in every cell and the report, zero-copy sends only under zerocopy", () => {
    const seen = new Set(fs.existsSync(RESULTS) ? fs.readdirSync(RESULTS) : []);
    const r = timed("bench", () => ixlab(["bench", "--stack", STACK, "--variants", "baseline,zerocopy", "--sizes", "4K,64K", "--duration", "10", "--reps", "2"]));
    const [id] = (fs.existsSync(RESULTS) ? fs.readdirSync(RESULTS) : []).filter((d) => !seen.has(d));
    assert.ok(id, `no run directory: ${r.stdout}${r.stderr}`);
    const dir = path.join(RESULTS, id);
    fs.writeFileSync(path.join(dir, "bench-output.txt"), `${r.stdout}\n--- stderr\n${r.stderr}`);
    if (process.env.IXLAB_VM_RUN_COPY) fs.cpSync(dir, path.join(process.env.IXLAB_VM_RUN_COPY, id), { recursive: true });
    console.log(`# bench run ${dir}\n${r.stdout}`);
    const loaded = loadRun(dir);
    assert.equal(loaded.cells.length, 8, r.stdout + r.stderr);
    for (const c of loaded.cells) {
      const z = c.datapath?.zeroCopyCounters;
      console.log(`# ${c.id}: ${c.throughputMbps ?? "-"} Mb/s, vhost ${c.vhostCpuPct} %, irq/s ${c.irqPerSec}, zero-copy ${JSON.stringify(z)}, guest clock ${JSON.stringify(c.extra?.guestClock)}${c.errors.length ? `, errors: ${c.errors.join("; ")}` : ""}`);
    }
    // Every cell measured: before the guest kernel had an HPET its clock ran at 0.77 of real time,
    // its netperf -l 10 outlasted the peer's netserver (10 s + 4 s) and 6 of 8 streams were reset.
    assert.deepEqual(loaded.cells.filter((c) => c.errors.length > 0).map((c) => `${c.id}: ${c.errors.join("; ")}`), []);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const c of loaded.cells) {
      assert.ok(c.throughputMbps! > 0, `${c.id}: throughput ${c.throughputMbps}`);
      const clock = c.extra?.guestClock as GuestClock;
      assert.ok(clock?.clocksource && !TICK_CLOCKSOURCES.includes(clock.clocksource), `${c.id}: the guest's clocksource ${clock?.clocksource} keeps time`);
      assert.ok(clock.guestSeconds! >= 10 && clock.guestSeconds! <= clock.wallSeconds, `${c.id}: the guest's clock counted ${clock.guestSeconds} s across the streams, ${clock.wallSeconds} s went by across its script`);
      assert.equal(clock.warning, undefined);
      assert.ok(c.vhostCpuPct !== null && c.vhostCpuPct! > 0, `${c.id}: vhost CPU ${c.vhostCpuPct}`);
      assert.ok(c.irqPerSec !== null && c.irqPerSec! > 0, `${c.id}: irq/s ${c.irqPerSec} (${c.irqNote ?? ""})`);
      const d = c.datapath!;
      assert.equal(d.vhost, true, `${c.id} ran on vhost`);
      assert.equal(d.hostKernel, release);
      assert.match(d.irqDevice ?? "", /^virtio\d+$/, "the virtio data NIC's queues");
      const z = d.zeroCopyCounters;
      assert.ok(z, `${c.id} has zero-copy counters`);
      if (c.variant === "zerocopy") {
        assert.equal(d.zeroCopy, true);
        assert.ok(z!.sends > 0, `${c.id}: zero-copy sends ${JSON.stringify(z)}`);
      } else {
        assert.equal(d.zeroCopy, false);
        assert.equal(z!.sends, 0, `${c.id}: no zero-copy send with experimental_zcopytx=0 ${JSON.stringify(z)}`);
        assert.ok(z!.copies > 0, `${c.id}: copies ${JSON.stringify(z)}`);
      }
    }
    // The report's rows, every vhost CPU % and irq/s filled: its first table (the comparison tables
    // below it have rows per size and variant too, once every cell is measured).
    const lines = r.stdout.split("\n");
    const head = lines.findIndex((l) => /^\| size \| variant \| throughput Mb\/s/.test(l));
    assert.ok(head >= 0, r.stdout);
    const table = lines.slice(head + 2);
    const end = table.findIndex((l) => !l.startsWith("|"));
    const rows = (end < 0 ? table : table.slice(0, end)).filter((l) => /^\| (4K|64K) +\| (baseline|zerocopy) /.test(l));
    assert.equal(rows.length, 4, r.stdout);
    for (const row of rows) {
      const cols = row.split("|").map((s) => s.trim());
      assert.match(cols[5], /^\d/, `vhost CPU % in: ${row}`);
      assert.match(cols[6], /^\d/, `irq/s in: ${row}`);
    }
  });

  it("destroys everything but the cached image and kernel: nothing left", () => {
    if (process.env.IXLAB_VM_KEEP === "1") return;
    const r = timed("destroy", () => pulumi(["destroy", "--yes"]));
    assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-4000));
    assert.deepEqual(vmLeftovers(PREFIX, path.join(cacheDir(), "vm")), []);
  });
});
