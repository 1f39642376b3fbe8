// roles/kernel-boot.sh run for real: a built kernel booted under QEMU (no network device) with the
// role's own busybox initramfs, and each way a boot can fail told apart. It boots the sim stack's guest
// kernel (built by the project's kernel-build role) unless IXLAB_TEST_BZIMAGE names another. With no
// kernel every test here fails, saying so: a boot check that was never run is not a pass.
// The role runs with TMPDIR set to this test's private directory, so every QEMU it starts has that
// path on its command line; afterwards the test looks (read-only, pgrep) for any such QEMU left.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { buildSimGuestKernel, ROOT } from "../helpers";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

const ROLE = path.join(ROOT, "roles", "kernel-boot.sh");

function show(r: Run): string {
  return `exit ${r.status} after ${r.seconds.toFixed(1)} s\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

let tmp = "";

function role(action: string, args: string[], timeoutMs = 240_000): Run {
  const start = process.hrtime.bigint();
  const r = spawnSync("bash", [ROLE, action, ...args], {
    encoding: "utf8",
    input: "",
    env: { ...process.env, IXLAB_ROLE: "kernel-boot", TMPDIR: tmp },
    timeout: timeoutMs,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? String(r.error) : ""), seconds };
}

function facts(r: Run): Record<string, any> {
  const line = r.stdout.split("\n").find((l) => l.startsWith("facts: "));
  assert.ok(line, `no facts line\n${show(r)}`);
  return JSON.parse(line.slice("facts: ".length));
}

/** The release a bzImage announces in its setup header (kernel_version at 0x20E), first word. */
function headerRelease(file: string): string {
  const buf = fs.readFileSync(file);
  assert.ok(buf.length > 0x220 && buf.toString("latin1", 0x202, 0x206) === "HdrS", `${file} is not a bzImage (no HdrS setup header)`);
  const at = buf.readUInt16LE(0x20e) + 0x200;
  const end = buf.indexOf(0, at);
  return buf.toString("latin1", at, end).split(" ")[0];
}

/**
 * The kernel under test: IXLAB_TEST_BZIMAGE (release from IXLAB_TEST_RELEASE or its own header), else
 * the sim stack's guest kernel built by the project's own kernel-build role. Fails, never skips.
 */
let built: ReturnType<typeof buildSimGuestKernel> | undefined;
function kernel(): { file: string; release: string } {
  const given = process.env.IXLAB_TEST_BZIMAGE;
  if (given) {
    assert.ok(fs.existsSync(given), `no kernel to boot: IXLAB_TEST_BZIMAGE=${given} does not exist`);
    return { file: given, release: process.env.IXLAB_TEST_RELEASE || headerRelease(given) };
  }
  built ??= buildSimGuestKernel("roletest");
  assert.equal(headerRelease(built.bzImage), built.release, "the built bzImage announces its release");
  return { file: built.bzImage, release: built.release };
}
after(() => built?.remove());

/** Running processes whose command line contains this test's private directory (read-only look). */
function ourProcesses(): string[] {
  const r = spawnSync("pgrep", ["-a", "-f", tmp], { encoding: "utf8" });
  return (r.stdout ?? "").split("\n").filter((l) => l.trim() && !l.includes("pgrep"));
}

function assertNothingLeft(): void {
  assert.deepEqual(ourProcesses(), [], "a process started by the role is still running");
  const left = fs.readdirSync(tmp).filter((f) => f.startsWith("ixlab-kernel-boot."));
  assert.deepEqual(left, [], "the role left its temp dir behind");
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-kbt-"));
});

after(() => {
  const left = tmp ? ourProcesses() : [];
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  assert.deepEqual(left, [], "QEMU processes started by these tests are still running");
});

describe("kernel-boot role conventions", () => {
  it("header, lib guard, exit 2 naming an unknown action or flag, or a missing flag", () => {
    const lines = fs.readFileSync(ROLE, "utf8").split("\n");
    assert.equal(lines[0], "#!/usr/bin/env bash");
    assert.match(lines[1], /^# kernel-boot: /);
    assert.ok(lines.includes(`[ -n "\${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "\${BASH_SOURCE[0]}")/lib.sh"`));
    assert.equal(lines.filter((l) => l.trim()).pop(), `main "$@" </dev/null`);
    const bad = role("frobnicate", []);
    assert.equal(bad.status, 2, show(bad));
    assert.match(bad.stderr, /unknown action 'frobnicate'/);
    const flag = role("check", ["--frobnicate", "x"]);
    assert.equal(flag.status, 2, show(flag));
    assert.match(flag.stderr, /unknown flag '--frobnicate' \(known: --kernel --expect-release --expect-line --accel/);
    assert.equal(flag.stdout, "");
    const missing = role("create", ["--kernel", "/nonexistent/bzImage"]);
    assert.equal(missing.status, 2, show(missing));
    assert.match(missing.stderr, /create needs --expect-release/);
    const accel = role("create", ["--kernel", "/nonexistent/bzImage", "--expect-release", "1", "--accel", "xen"]);
    assert.equal(accel.status, 2, show(accel));
    const gone = role("create", ["--kernel", "/nonexistent/bzImage", "--expect-release", "1"]);
    assert.equal(gone.status, 1, show(gone));
    assert.match(gone.stderr, /^kernel-boot: error: kernel \/nonexistent\/bzImage does not exist/);
  });

  it("without --record, check has nothing to check (exit 0) and delete changes nothing", () => {
    const check = role("check", ["--kernel", "/nonexistent/bzImage", "--expect-release", "1"]);
    assert.equal(check.status, 0, show(check));
    const del = role("delete", ["--kernel", "/nonexistent/bzImage", "--expect-release", "1"]);
    assert.equal(del.status, 0, show(del));
    assert.match(del.stdout, /^ok: nothing recorded \(no --record\)\nsummary: changed=0\n$/);
  });
});

describe("kernel-boot: a kernel booted under QEMU", () => {
  it("create boots it and reports release and facts; without --record it boots again each time", (t) => {
    const k = kernel();
    const args = ["--kernel", k.file, "--expect-release", k.release, "--expect-line", "Linux version", "--expect-line", "IXLAB-FACT virtio_net="];
    const first = role("create", args);
    assert.equal(first.status, 0, show(first));
    const f = facts(first);
    assert.match(first.stdout, new RegExp(`^changed: booted ${k.file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} under QEMU \\((kvm|tcg)\\) in \\d+\\.\\d s, release ${k.release.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"), show(first));
    assert.match(first.stdout, /summary: changed=1\n$/, show(first));
    // --accel auto says which accelerator it chose, and why not KVM when it did not.
    assert.match(first.stdout, /^ok: (KVM is usable here \(firmware boot: .*\); booting with kvm|KVM not used: .*; booting with tcg)$/m, show(first));
    assert.equal(f.release, k.release);
    assert.match(f.accel, /^(kvm|tcg)$/);
    assert.equal(typeof f.bootSeconds, "number");
    assert.ok(f.bootSeconds > 0, show(first));
    assert.deepEqual(f.expectedLines, ["Linux version", "IXLAB-FACT virtio_net="]);
    assert.match(f.console, /IXLAB-DONE/);
    assert.ok(f.console.split("\n").length <= 20, "console holds at most the last 20 lines");
    if (f.accel === "tcg") assert.match(f.accelNote, /^KVM not used: /);
    assert.equal(f.guest.cpus, "1");
    assert.match(f.guest.virtio_net, /^(yes|no)$/);
    assert.match(f.guest.cmdline, /console=ttyS0 panic=-1 rdinit=\/init/);
    t.diagnostic(`${f.accel}: booted in ${f.bootSeconds} s (role ran ${first.seconds.toFixed(1)} s)`);

    // Again, forced onto TCG: a boot check without a record has no state, so it boots every time.
    const again = role("create", [...args, "--accel", "tcg"]);
    assert.equal(again.status, 0, show(again));
    assert.match(again.stdout, /^changed: booted .* under QEMU \(tcg\) in /m, show(again));
    assert.equal(facts(again).accel, "tcg");
    t.diagnostic(`tcg: booted in ${facts(again).bootSeconds} s (role ran ${again.seconds.toFixed(1)} s)`);
    assertNothingLeft();
  });

  it("with --record: create records the boot, a second create is ok: without booting, check and delete", () => {
    const k = kernel();
    const rec = path.join(tmp, "record");
    // A copy, so that the kernel's bytes can change under the record below.
    const copy = path.join(tmp, "bzImage");
    fs.copyFileSync(k.file, copy);
    const args = ["--kernel", copy, "--expect-release", k.release, "--expect-line", "IXLAB-FACT cpus=1", "--record", rec];
    const first = role("create", args);
    assert.equal(first.status, 0, show(first));
    assert.match(first.stdout, /^changed: booted /m);
    const log = fs.readFileSync(path.join(rec, "boot.log"), "utf8");
    assert.match(log, new RegExp(`^IXLAB-BOOT release=${k.release.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
    assert.doesNotMatch(log, /\r/);

    const second = role("create", args);
    assert.equal(second.status, 0, show(second));
    assert.match(second.stdout, /summary: changed=0\n$/, show(second));
    for (const line of second.stdout.trimEnd().split("\n")) assert.match(line, /^(ok|facts|summary): /, show(second));
    assert.match(second.stdout, /^ok: kernel .* booted under QEMU \((kvm|tcg)\) in [\d.]+ s, release .* \(recorded in .*boot\.log; not booted again\)$/m);
    assert.equal(facts(second).release, k.release);
    assert.equal(facts(second).bootSeconds, facts(first).bootSeconds);
    assert.ok(second.seconds < 5, `the second create should not boot (${second.seconds} s)`);

    const check = role("check", args);
    assert.equal(check.status, 0, show(check));
    const otherRelease = role("check", ["--kernel", k.file, "--expect-release", "0.0.0-other", "--record", rec]);
    assert.equal(otherRelease.status, 3, show(otherRelease));
    assert.match(otherRelease.stderr, /check failed: .*boot\.log records release .*, expected 0\.0\.0-other/);
    const otherLine = role("check", [...args, "--expect-line", "never printed by anyone"]);
    assert.equal(otherLine.status, 3, show(otherLine));
    assert.match(otherLine.stderr, /no line containing 'never printed by anyone'/);
    fs.appendFileSync(copy, Buffer.from([0]));
    const rebuilt = role("check", args);
    assert.equal(rebuilt.status, 3, show(rebuilt));
    assert.match(rebuilt.stderr, /check failed: .*boot\.log records a boot of other kernel bytes than .*bzImage has now/);

    const del = role("delete", args);
    assert.equal(del.status, 0, show(del));
    assert.match(del.stdout, /^changed: removed .*boot\.log$/m);
    const del2 = role("delete", args);
    assert.equal(del2.status, 0, show(del2));
    assert.match(del2.stdout, /summary: changed=0\n$/);
    const gone = role("check", args);
    assert.equal(gone.status, 3, show(gone));
    assert.match(gone.stderr, /check failed: no .*boot\.log/);
    assertNothingLeft();
  });

  it("a wrong --expect-release fails naming both releases", () => {
    const k = kernel();
    const r = role("create", ["--kernel", k.file, "--expect-release", "0.0.0-not-this"]);
    assert.equal(r.status, 1, show(r));
    assert.equal(r.stderr.trim().split("\n").length, 1, show(r));
    assert.ok(r.stderr.includes(`kernel ${k.file} booted release ${k.release}, expected 0.0.0-not-this`), show(r));
    assertNothingLeft();
  });

  it("a kernel that cannot start init fails quoting the panic, well before the timeout", () => {
    const k = kernel();
    const r = role("create", ["--kernel", k.file, "--expect-release", k.release, "--cmdline", "rdinit=/nonexistent", "--timeout", "120"]);
    assert.equal(r.status, 1, show(r));
    assert.equal(r.stderr.trim().split("\n").length, 1, show(r));
    assert.ok(r.stderr.includes(`kernel ${k.file} panicked`), show(r));
    assert.match(r.stderr, /Kernel panic - not syncing: (VFS: Unable to mount root fs|No working init found)/);
    assert.match(r.stderr, /CONFIG_BLK_DEV_INITRD/);
    assert.ok(r.seconds < 60, `took ${r.seconds} s; panic=-1 and -no-reboot should end QEMU at once`);
    assertNothingLeft();
  });

  it("a kernel that prints nothing on ttyS0 fails saying so after --timeout, leaving no QEMU", () => {
    const k = kernel();
    // No 8250 UARTs registered: no ttyS0 console, so nothing at all reaches the serial port.
    const r = role("create", ["--kernel", k.file, "--expect-release", k.release, "--cmdline", "8250.nr_uarts=0", "--timeout", "15"]);
    assert.equal(r.status, 1, show(r));
    assert.equal(r.stderr.trim().split("\n").length, 1, show(r));
    assert.ok(r.stderr.includes(`kernel ${k.file} printed nothing on ttyS0 within `), show(r));
    assert.match(r.stderr, /CONFIG_SERIAL_8250_CONSOLE/);
    assert.ok(r.seconds < 40, `took ${r.seconds} s with --timeout 15`);
    assertNothingLeft();
  });
});
