// A series walk in the kept build tree: roles/kernel-build.sh --prepare-only on a tiny source
// tarball with a two-patch series, walked 2 -> 0 -> 1 -> 2 patches. The tree is kept (an object file
// placed in it survives every step), each step takes the previous patches off and applies the new
// prefix, and only the files a patch touches change; a tree whose patches cannot come off is replaced.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { ROOT } from "../helpers";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-kseries-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd = work) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

const tree = path.join(work, "tree");
function prepare(patches: string[]) {
  const r = spawnSync("bash", [path.join(ROOT, "roles", "kernel-build.sh"), "create", "--key", "c".repeat(32), "--out", path.join(work, "out"), "--tree", tree,
    "--source-tarball", path.join(work, "src.tar.xz"), "--prepare-only", ...(patches.length ? ["--patches", patches.join(" ")] : [])], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout + r.stderr;
}
const read = (f: string) => fs.readFileSync(path.join(tree, f), "utf8");

describe("kernel-build: a patch series walked in the kept tree", () => {
  // linux-x/init.c and linux-x/net.c; patch 1 changes init.c, patch 2 net.c.
  fs.mkdirSync(path.join(work, "linux-x"));
  fs.writeFileSync(path.join(work, "linux-x", "init.c"), "int init(void) { return 0; }\n");
  fs.writeFileSync(path.join(work, "linux-x", "net.c"), "int net(void) { return 0; }\n");
  sh("tar", ["-cJf", "src.tar.xz", "linux-x"]);
  const patch = (name: string, file: string, from: string, to: string) => {
    const p = path.join(work, name);
    fs.writeFileSync(p, `--- a/${file}\n+++ b/${file}\n@@ -1 +1 @@\n-${from}\n+${to}\n`);
    return p;
  };
  const p1 = patch("0001-init.patch", "init.c", "int init(void) { return 0; }", "int init(void) { return 1; }");
  const p2 = patch("0002-net.patch", "net.c", "int net(void) { return 0; }", "int net(void) { return 2; }");

  it("prefix 2, then 0, 1, 2: the tree is kept and holds exactly the prefix", () => {
    prepare([p1, p2]);
    assert.match(read("init.c"), /return 1/);
    assert.match(read("net.c"), /return 2/);
    fs.writeFileSync(path.join(tree, "init.o"), "an object make would keep");
    const netBefore = fs.statSync(path.join(tree, "net.c")).mtimeMs;

    const to0 = prepare([]);
    assert.match(to0, /kept build tree .*took its previous patches off/);
    assert.match(to0, /changed: took 0002-net.patch off the tree\nchanged: took 0001-init.patch off the tree/);
    assert.match(read("init.c"), /return 0/);
    assert.match(read("net.c"), /return 0/);

    const to1 = prepare([p1]);
    assert.match(to1, /changed: applied 0001-init.patch/);
    assert.match(read("init.c"), /return 1/);
    assert.match(read("net.c"), /return 0/);

    prepare([p1, p2]);
    assert.match(read("net.c"), /return 2/);
    assert.ok(fs.existsSync(path.join(tree, "init.o")), "the tree's objects survive the walk (nothing unpacked afresh)");
    assert.ok(fs.statSync(path.join(tree, "net.c")).mtimeMs >= netBefore);
    const again = prepare([p1, p2]);
    assert.match(again, /ok: build tree .* has this source and patch series/);
  });

  it("a tree whose recorded patch no longer comes off is unpacked afresh", () => {
    fs.writeFileSync(path.join(tree, "net.c"), "edited by hand\n");
    const r = prepare([p1]);
    assert.match(r, /unpacking src\.tar\.xz/);
    assert.ok(!fs.existsSync(path.join(tree, "init.o")));
    assert.match(read("init.c"), /return 1/);
    assert.match(read("net.c"), /return 0/);
  });
});
