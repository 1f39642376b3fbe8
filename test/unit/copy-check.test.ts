// The check after a Command-made copy (copyCheckScript), run for real by bash on a directory here.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { copyCheckScript, KERNEL_COPY_MARKER } from "../../src/remote/kernelPackages";

describe("copy check", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-copycheck-"));
  fs.writeFileSync(path.join(dir, "bzImage"), "kernel bytes");
  const sha = createHash("sha256").update("kernel bytes").digest("hex");

  it("passes files with their hash and marks the directory as the copy's", () => {
    const r = spawnSync("bash", ["-c", copyCheckScript("dut", dir, [{ path: "/cache/out/bzImage", sha256: sha }])], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(dir, KERNEL_COPY_MARKER)));
  });

  it("fails with exit 4 naming the host, the file and both hashes when the bytes differ", () => {
    fs.rmSync(path.join(dir, KERNEL_COPY_MARKER));
    const r = spawnSync("bash", ["-c", copyCheckScript("dut", dir, [{ path: "/cache/out/bzImage", sha256: "0".repeat(64) }])], { encoding: "utf8" });
    assert.equal(r.status, 4);
    assert.equal(r.stderr.trim(), `host dut: ${dir}/bzImage has sha256 ${sha}, expected ${"0".repeat(64)} (the copy is corrupt)`);
    assert.ok(!fs.existsSync(path.join(dir, KERNEL_COPY_MARKER)), "a failed check does not claim the directory");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses names that are not plain file names", () => {
    assert.throws(() => copyCheckScript("dut", "/var/lib/ixlab/kernel-packages/k", [{ path: "/x/a;rm -rf", sha256: sha }]), /bad package file name/);
    assert.throws(() => copyCheckScript("dut", "relative/k", [{ path: "/x/bzImage", sha256: sha }]), /bad directory/);
  });
});
