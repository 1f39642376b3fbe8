// roles/kernel-build.sh for real: a patch that does not apply and an option olddefconfig drops fail
// with the patch's name and the option's missing dependency; a built key compiles nothing again.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { fixture, ROOT } from "../helpers";

const SOURCE = "/usr/src/linux-source-6.1.tar.xz";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-kbuild-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));

function build(...args: string[]) {
  const r = spawnSync("bash", [path.join(ROOT, "roles", "kernel-build.sh"), "create", ...args], { encoding: "utf8", env: { ...process.env, CCACHE_DIR: path.join(work, "ccache") } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("kernel-build role", () => {
  it("needs Debian's kernel source (npm run setup installs it)", () => assert.ok(fs.existsSync(SOURCE), `${SOURCE} is missing`));

  it("stops at the first patch that does not apply, naming it and its rejected hunk", () => {
    const r = build("--key", "a".repeat(32), "--out", path.join(work, "out-a"), "--tree", path.join(work, "tree-a"), "--source-tarball", SOURCE,
      "--patch", path.join(ROOT, "patches/sim-demo/0001-init-say-that-the-ixlab-demo-series-is-applied.patch"), "--patch", fixture("kernel", "does-not-apply.patch"));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /changed: applied 0001-init-say-that-the-ixlab-demo-series-is-applied\.patch/);
    assert.match(r.stderr, /kernel-build: error: patch does-not-apply\.patch does not apply: .*FAILED.*rejected hunks: .*This line is not in the source/s);
    assert.ok(!fs.existsSync(path.join(work, "tree-a")), "a half-patched tree must not be left to build from");
  });

  it("names an option olddefconfig dropped, with the dependency Kconfig gives", () => {
    const r = build("--key", "b".repeat(32), "--out", path.join(work, "out-b"), "--tree", path.join(work, "tree-b"), "--source-tarball", SOURCE,
      "--base", "tinyconfig", "--fragment", fixture("kernel", "vhost-on-tinyconfig.config"));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /1 option\(s\) a fragment set were dropped by olddefconfig/);
    assert.match(r.stderr, /CONFIG_VHOST_NET=y \(from vhost-on-tinyconfig\.config\) became 'unset'; drivers\/vhost\/Kconfig: depends on .*EVENTFD/);
    assert.ok(!fs.existsSync(path.join(work, "out-b", ".complete")));
  });
});
