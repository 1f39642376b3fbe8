// /proc parsers and the rates between two samples, against files captured on this machine (see
// test/fixtures/proc/README.md). Expected figures are computed by hand from the raw lines, shown in
// the comments.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import {
  hostCpu,
  irqRate,
  measureCell,
  nicIrqLines,
  nicIrqMatch,
  parseInterrupts,
  parseProcSample,
  parseProcStat,
  parseTaskStat,
  ProcSample,
  qemuCpuPct,
  threadsCpuPct,
  vhostCpuPct,
  vhostLayout,
  vhostWorkerThreads,
} from "../../src/bench/procstat";
import { fixture, ROOT } from "../helpers";

const read = (name: string) => fs.readFileSync(fixture("proc", name), "utf8");
const qemu = Number(read("fake-qemu.pid").trim()); // 11497
const before = parseProcSample(read("sample-before.txt"));
const after = parseProcSample(read("sample-after.txt"));
const close = (a: number | null | undefined, b: number, eps = 1e-3) => assert.ok(a != null && Math.abs(a - b) <= eps, `${a} is not ${b} (+-${eps})`);

describe("task stat lines", () => {
  it("takes the name between the first ( and the last ), spaces and parentheses included", () => {
    const line = read("sample-after.txt").split("\n").find((l) => l.includes("(a) (b c)"))!;
    const t = parseTaskStat(line.slice(line.indexOf(":") + 1), qemu);
    assert.equal(t.comm, "a) (b c");
    assert.equal(t.tid, 11544);
    assert.equal(t.pid, qemu);
    assert.equal(t.state, "S");
    assert.equal(t.utime, 21);
    assert.equal(t.stime, 0);
    assert.equal(t.starttime, 1093802);
  });

  it("names with a space and a slash, like qemu's vCPU threads", () => {
    const kvm = after.tasks.find((t) => t.tid === 11542)!;
    assert.equal(kvm.comm, "CPU 0/KVM");
    assert.equal(kvm.utime, 60);
  });

  it("refuses a line that is not one", () => assert.throws(() => parseTaskStat("hello"), /not a stat line/));
});

describe("a sample from roles/bench-probe.sh sample", () => {
  it("has the clock tick, uptime, every thread, /proc/stat and /proc/interrupts", () => {
    assert.equal(before.clkTck, 100);
    assert.equal(before.uptime, 10938.28);
    assert.equal(after.uptime, 10940.35);
    assert.ok(after.tasks.length > 50, `${after.tasks.length} tasks`);
    assert.equal(after.tasks.filter((t) => t.pid === qemu).length, 4);
    assert.equal(after.interrupts.cpus.length, 2);
    assert.equal(after.kvmExits, undefined); // no debugfs kvm/exits on this machine
  });

  it("finds vhost workers in both layouts: a thread in qemu (6.4+) and a kthread of its own (< 6.4)", () => {
    const w = vhostWorkerThreads(after, qemu);
    assert.deepEqual(w.map((t) => [t.pid, t.tid]).sort(), [[11497, 11543], [11541, 11541]]);
    assert.equal(vhostLayout(after, qemu), "qemu-thread");
    const preLinux64: ProcSample = { ...after, tasks: after.tasks.filter((t) => t.tid !== 11543) };
    assert.equal(vhostLayout(preLinux64, qemu), "kthread");
    assert.equal(vhostLayout(after, 1), "none");
  });

  it("qemu and vhost CPU in percent of one CPU", () => {
    // elapsed = 10940.35 - 10938.28 = 2.07 s, CLK_TCK 100.
    // qemu without its vhost thread: main 7+2 -> 7+2 (0), "CPU 0/KVM" 7 -> 60 (53), "a) (b c" 2 -> 21 (19):
    //   72 ticks = 0.72 s; 0.72 / 2.07 = 34.7826%.
    close(qemuCpuPct(before, after, qemu), 34.7826);
    // vhost-11497: the thread in qemu 6 -> 60 (54) and the separate process 5 -> 39 (34): 88 ticks;
    //   0.88 / 2.07 = 42.5121%.
    close(vhostCpuPct(before, after, qemu), 42.5121);
    // A thread that appears only in the second sample counts from zero.
    const fresh = { ...after, tasks: [...after.tasks, { pid: qemu, tid: 99999, comm: "worker", state: "R", ppid: 1, utime: 10, stime: 5, starttime: 1094000 }] };
    close(threadsCpuPct(before, fresh, (t) => t.pid === qemu).pct, ((72 + 54 + 15) / 100 / 2.07) * 100);
  });

  it("host CPU from /proc/stat", () => {
    // cpu deltas: user 737185-736836 = 349, nice 0, system 386204-386147 = 57, idle 3, iowait 1,
    // irq 0, softirq 0, steal 1 (guest 0, already inside user): all 411 over 2 CPUs = 205.5 per CPU;
    // busy = 411 - 3 - 1 = 407 -> 407 / 205.5 = 198.054% of one CPU.
    const h = hostCpu(before.stat, after.stat);
    close(h.busyPct, 198.0535);
    assert.equal(h.guestPct, 0);
    assert.equal(h.cpus, 2);
  });

  it("interrupts/s of the lines that match, and 'none found' for a NIC without IRQs", () => {
    // virtio1-req.0 (IRQ 36): CPU1 1435616 -> 1435667 = 51 in 2.07 s = 24.6377/s.
    const r = irqRate(before.interrupts, after.interrupts, 2.07, "virtio1-req");
    assert.ok(r.found);
    close(r.found ? r.perSec : null, 24.6377);
    // eth0 here is virtio2: its queue lines exist and did not move: a measured zero.
    const eth0 = irqRate(before.interrupts, after.interrupts, 2.07, /virtio2-(input|output)\.\d+$/);
    assert.deepEqual(eth0, { found: true, perSec: 0, lines: ["38: PCI-MSIX-0000:00:03.0 1-edge virtio2-input.0", "39: PCI-MSIX-0000:00:03.0 2-edge virtio2-output.0"] });
    // The datapath probe's irqDevice picks the same lines: a virtio NIC's queues, not its config IRQ.
    assert.deepEqual(irqRate(before.interrupts, after.interrupts, 2.07, nicIrqMatch("virtio2")), eth0);
    assert.equal(nicIrqMatch("eth1"), "eth1", "other drivers name their queue lines after the NIC");
    const veth = irqRate(before.interrupts, after.interrupts, 2.07, "ixr-np-va");
    assert.equal(veth.found, false);
    assert.match(!veth.found ? veth.note : "", /^none found: no interrupt line matches "ixr-np-va"/);
  });

  it("measureCell puts it together; unknown figures are null, not 0", () => {
    const m = measureCell(before, after, { qemuPid: qemu, nic: "eth1-TxRx" });
    close(m.elapsedSeconds, 2.07, 1e-9);
    close(m.qemuCpuPct, 34.7826);
    close(m.vhostCpuPct, 42.5121);
    assert.equal(m.vhostLayout, "qemu-thread");
    assert.equal(m.irqPerSec, null);
    assert.match(m.irqNote ?? "", /^none found/);
    assert.equal(m.kvmExitsPerSec, null);
    const none = measureCell(before, after, {});
    assert.equal(none.qemuCpuPct, null);
    assert.equal(none.vhostCpuPct, null);
    assert.throws(() => measureCell(after, before, {}), /not later than the first/);
  });

  it("refuses a sample that was cut short", () => {
    const text = read("sample-after.txt");
    assert.throws(() => parseProcSample(text.slice(0, text.indexOf("== interrupts"))), /no "== interrupts" section/);
    assert.throws(() => parseProcSample(text.slice(0, text.indexOf("== end"))), /no "== end" section \(cut short\)/);
    assert.throws(() => parseProcSample("hello\n"), /not an ixlab \/proc sample/);
  });
});

describe("plain /proc files", () => {
  it("/proc/interrupts: per-CPU columns, names, and the one-count lines", () => {
    const irq = parseInterrupts(read("interrupts.txt"));
    assert.deepEqual(irq.cpus, ["CPU0", "CPU1"]);
    const tty = irq.lines.find((l) => l.irq === "26")!;
    assert.deepEqual(tty, { irq: "26", counts: [0, 10], total: 10, description: "IO-APIC 4-edge ttyS0" });
    const loc = irq.lines.find((l) => l.irq === "LOC")!;
    assert.deepEqual(loc.counts, [3516232, 3420621]);
    assert.equal(loc.description, "Local timer interrupts");
    assert.deepEqual(irq.lines.find((l) => l.irq === "ERR"), { irq: "ERR", counts: [0], total: 0, description: "" });
    // Architecture counters are never a NIC's, even when their text matches.
    assert.deepEqual(nicIrqLines(irq, "timer"), []);
    assert.deepEqual(nicIrqLines(irq, "0000:00:02.0").map((l) => l.irq), ["35", "36"]);
  });

  it("/proc/stat: the all-CPU line and each CPU", () => {
    const s = parseProcStat(read("stat.txt"));
    assert.deepEqual(s.total, { user: 736748, nice: 4285, system: 386125, idle: 1014789, iowait: 19820, irq: 0, softirq: 9353, steal: 7640, guest: 10, guestNice: 22 });
    assert.equal(s.cpus.length, 2);
    assert.equal(s.cpus[1].user, 386606);
    assert.throws(() => parseProcStat("intr 1 2 3\n"), /no "cpu" line/);
  });
});

it("the sampler script is shellcheck-clean", () => {
  const r = spawnSync("shellcheck", ["-x", "test/fixtures/proc/capture.sh", "test/fixtures/netperf/capture.sh"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
