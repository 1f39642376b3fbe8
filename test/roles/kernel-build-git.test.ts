// roles/kernel-build.sh with a git source, for real. A small repository made here covers the fast
// cases with --prepare-only (clone, checkout of the planned commit, `git am` of the series, a patch
// that does not apply, a moved branch, idempotence); then the sim guest kernel is built from a git
// repository of the Debian linux-source tree with the demo series applied by `git am`, and booted.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { planKernelBuild } from "../../src/lab/kernel";
import { Kernel } from "../../src/lab/model";
import { cacheDir } from "../../src/paths";
import { ROOT } from "../helpers";

const ROLE = path.join(ROOT, "roles", "kernel-build.sh");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-kbuild-git-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const git = (dir: string, ...a: string[]) =>
  execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", ...a], { encoding: "utf8" }).trim();

function role(...args: string[]) {
  const r = spawnSync("bash", [ROLE, ...args], { encoding: "utf8", env: { ...process.env, CCACHE_DIR: path.join(work, "ccache") }, timeout: 60 * 60 * 1000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, all: r.stdout + r.stderr };
}

const kernel = (url: string, ref: string, patches?: string, fragments: string[] = []): Kernel => ({
  name: "guest", for: "guest", source: { type: "git", url, ref }, patches, config: { base: "tinyconfig", fragments },
  localversion: "-ixlab-git", cmdline: "", verify: { console: [] },
  install: { method: "grub", panicSeconds: 10, bootTimeout: 300, rebootOnDestroy: false, purgeOnDestroy: false, features: [] },
});

// A tiny "kernel": init/main.c, and a series of two patches on it made with git format-patch.
const up = path.join(work, "up");
fs.mkdirSync(path.join(up, "init"), { recursive: true });
git(up, "init", "-q");
fs.writeFileSync(path.join(up, "init", "main.c"), ["int main(void)", "{", "\tstart();", "\treturn 0;", "}", ""].join("\n"));
git(up, "add", ".");
git(up, "commit", "-q", "-m", "base");
git(up, "checkout", "-q", "-b", "series");
fs.writeFileSync(path.join(up, "init", "main.c"), ["int main(void)", "{", "\tsay_hello();", "\tstart();", "\treturn 0;", "}", ""].join("\n"));
git(up, "commit", "-q", "-am", "init: say hello");
fs.writeFileSync(path.join(up, "init", "hello.c"), "void say_hello(void) {}\n");
git(up, "add", ".");
git(up, "commit", "-q", "-m", "init: add hello.c");
const series = path.join(work, "series");
git(up, "format-patch", "-q", "-o", series, "main..series");
const mbox = path.join(work, "series.mbox");
fs.writeFileSync(mbox, git(up, "format-patch", "--stdout", "main..series") + "\n");
git(up, "checkout", "-q", "main");
git(up, "branch", "-q", "-D", "series");

describe("kernel-build role, git source", () => {
  const tree = path.join(work, "tree");
  const prepare = (k: Kernel, ...extra: string[]) => {
    const p = planKernelBuild(k, "lab", "st", work, work, "lab.kernels[0]");
    return { plan: p, run: role("create", ...p.args.map((a) => (a === p.tree ? tree : a)), "--prepare-only", ...extra) };
  };

  it("clones the planned commit and commits the patch series on it with git am", () => {
    const { plan, run } = prepare(kernel("up", "main", "series"));
    assert.equal(run.status, 0, run.all);
    assert.match(run.stdout, /changed: made a git clone in /);
    assert.match(run.stdout, /changed: fetched [0-9a-f]{12} from /);
    assert.match(run.stdout, /changed: applied 0001-init-say-hello\.patch \(1 commit\(s\)\)/);
    assert.match(run.stdout, /changed: applied 0002-init-add-hello\.c\.patch/);
    assert.match(run.stdout, /--prepare-only: not configured, nothing compiled/);
    assert.equal(git(tree, "rev-parse", "HEAD~2"), plan.git?.commit);
    assert.equal(git(tree, "log", "--format=%s", "-2"), "init: add hello.c\ninit: say hello");
    assert.match(fs.readFileSync(path.join(tree, "init", "main.c"), "utf8"), /say_hello\(\);/);
    assert.ok(!fs.existsSync(path.join(plan.out, ".complete")), "nothing built");
  });

  it("finds the same commit and series already in place the second time: nothing changed", () => {
    const { run } = prepare(kernel("up", "main", "series"));
    assert.equal(run.status, 0, run.all);
    assert.match(run.stdout, /ok: build tree .* is at [0-9a-f]{12} with this patch series/);
    assert.match(run.stdout, /summary: changed=0/);
  });

  it("follows a moved branch: a new key, the new commit checked out, build objects kept, the series again", () => {
    const before = planKernelBuild(kernel("up", "main", "series"), "lab", "st", work, work, "k").key;
    fs.writeFileSync(path.join(tree, "init", "main.o"), "an object of the previous build\n");
    fs.writeFileSync(path.join(up, "README"), "moved\n");
    git(up, "add", "README");
    git(up, "commit", "-q", "-m", "move main");
    const { plan, run } = prepare(kernel("up", "main", "series"));
    assert.notEqual(plan.key, before);
    assert.equal(run.status, 0, run.all);
    assert.match(run.stdout, /changed: checked out [0-9a-f]{12} \(main\), tracked files reset/);
    assert.equal(git(tree, "rev-parse", "HEAD~2"), git(up, "rev-parse", "main"));
    assert.ok(fs.existsSync(path.join(tree, "README")));
    assert.ok(fs.existsSync(path.join(tree, "init", "main.o")), "untracked build objects survive the checkout (incremental build)");
  });

  it("applies an mbox of several patches; without a series a file the old series added is gone", () => {
    let { run } = prepare(kernel("up", "main", "series.mbox"));
    assert.equal(run.status, 0, run.all);
    assert.match(run.stdout, /changed: applied series\.mbox \(2 commit\(s\)\)/);
    ({ run } = prepare(kernel("up", "main")));
    assert.equal(run.status, 0, run.all);
    assert.equal(git(tree, "rev-parse", "HEAD"), git(up, "rev-parse", "main"));
    assert.ok(!fs.existsSync(path.join(tree, "init", "hello.c")), "hello.c came from the series");
    assert.equal(git(tree, "status", "--porcelain", "--untracked-files=no"), "");
  });

  it("stops at a patch that does not apply, naming it and its rejected hunk, and leaves the tree at the commit", () => {
    const bad = path.join(work, "bad");
    fs.mkdirSync(bad);
    fs.copyFileSync(path.join(series, "0001-init-say-hello.patch"), path.join(bad, "0001-init-say-hello.patch"));
    fs.writeFileSync(path.join(bad, "0002-does-not-apply.patch"), [
      "From: t <t@t>", "Date: Wed, 25 Nov 2026 12:00:00 +0000", "Subject: [PATCH] does not apply", "", "---",
      "--- a/init/main.c", "+++ b/init/main.c", "@@ -1,3 +1,4 @@", " int main(void)", " {", " \tThis line is not in the source;", "+\tmore();", "-- ", "2.39.5", "",
    ].join("\n"));
    const { plan, run } = prepare(kernel("up", "main", "bad"));
    assert.equal(run.status, 1, run.all);
    assert.match(run.stdout, /changed: applied 0001-init-say-hello\.patch/);
    assert.match(run.stderr, /kernel-build: error: patch 0002-does-not-apply\.patch does not apply \(git am\): .*patch failed: init\/main\.c:1.*Patch failed at 0001 does not apply; rejected hunks: .*This line is not in the source/s);
    assert.equal(git(tree, "rev-parse", "HEAD"), plan.git?.commit, "git am --abort: back at the commit, the first patch not kept either");
    assert.equal(git(tree, "status", "--porcelain"), "?? init/main.o", "no .rej left, nothing half-applied");
    assert.ok(!fs.existsSync(path.join(tree, ".git", "rebase-apply")));
    const again = prepare(kernel("up", "main", "bad")).run;
    assert.equal(again.status, 1, "a failed series is tried again, not taken as prepared");
    assert.doesNotMatch(again.stdout, /ok: build tree/);
  });

  it("refuses a commit the repository does not have", () => {
    const run = role("create", "--key", "c".repeat(32), "--out", path.join(work, "out-c"), "--tree", tree, "--git-url", up, "--git-ref", "main", "--git-commit", "1".repeat(40), "--prepare-only");
    assert.equal(run.status, 1, run.all);
    assert.match(run.stderr, /kernel-build: error: .*up: main is now [0-9a-f]{40}, not 1{40} as planned; run the plan again/);
  });

  it("needs all three --git-* flags and not --source-tarball with them", () => {
    const base = ["create", "--key", "c".repeat(32), "--out", path.join(work, "o"), "--tree", tree];
    assert.match(role(...base, "--git-url", up, "--git-ref", "main").stderr, /create needs --git-commit/);
    assert.match(role(...base, "--git-url", up, "--git-ref", "main", "--git-commit", "abc").stderr, /--git-commit must be a full commit id/);
    assert.equal(role(...base, "--git-url", up, "--git-ref", "main", "--git-commit", "1".repeat(40), "--source-tarball", "/dev/null").status, 2);
  });
});

// A git repository of the Debian linux-source tree the sim already builds from (one commit, made
// once and kept in the cache: the sim builds offline, so this is the git source a sim can have).
const SOURCE = "/usr/src/linux-source-6.1.tar.xz";
describe("kernel-build role, the sim guest kernel from git", { skip: !fs.existsSync(SOURCE) && `${SOURCE} is missing` }, () => {
  it("builds it with the demo series applied by git am, boots it, and builds nothing for the same commit again", () => {
    const repo = path.join(cacheDir(), "kernels", "git", "linux-source-6.1");
    if (!fs.existsSync(path.join(repo, ".git", "ixlab-made"))) {
      fs.rmSync(repo, { recursive: true, force: true });
      fs.mkdirSync(repo, { recursive: true });
      execFileSync("tar", ["-xf", SOURCE, "-C", repo, "--strip-components=1"]);
      git(repo, "init", "-q");
      // No delta search for this one-commit repository (75k files): the role's shallow fetch from it
      // then packs without one (about 40 s here instead of about 6 min), and no background gc
      // (`git commit` starts one for that many loose objects) competes with the fetch for the CPU.
      git(repo, "config", "pack.window", "0");
      git(repo, "config", "gc.auto", "0");
      git(repo, "add", "-A", "-f", ".");
      git(repo, "commit", "-q", "-m", "Debian linux-source-6.1");
      fs.writeFileSync(path.join(repo, ".git", "ixlab-made"), `${SOURCE}\n`);
    }
    // The sim guest's own inputs, localversion included: the sim lab's build (earlier in npm test) then
    // left ccache a direct hit for every object. Another localversion changes CONFIG_LOCALVERSION in
    // autoconf.h, which every file includes, and each compile would run the preprocessor to find its hit.
    const k = { ...kernel(repo, "main", "patches/sim-demo", ["kernel-configs/sim-guest.config"]), localversion: "-ixlab-guest" };
    // Its own lab name, so its tree never replaces the sim's tarball tree.
    const plan = planKernelBuild({ ...k, config: { ...k.config, fragments: k.config.fragments.map((f) => path.join(ROOT, f)) } }, "gittest", "kbuild-git-test", ROOT, cacheDir(), "k");
    after(() => role("delete", "--key", plan.key, "--out", plan.out));
    let t = Date.now();
    const b = role("create", ...plan.args);
    const seconds = (Date.now() - t) / 1000;
    assert.equal(b.status, 0, b.all);
    // The tree is a cache: a first run applies the series, a later run finds it applied.
    assert.match(b.stdout, /changed: applied 0001-init-say-that-the-ixlab-demo-series-is-applied\.patch \(1 commit\(s\)\)|ok: build tree .* is at [0-9a-f]+ with this patch series/);
    // Either way the series is there as git am commits on the planned commit.
    const subjects = git(plan.tree, "log", "--format=%s", "-n", "3").trim().split("\n");
    assert.deepEqual(subjects, ["vhost_net: log the zero-copy TX switch at load", "init: say that the ixlab demo series is applied", "Debian linux-source-6.1"]);
    const facts = JSON.parse(b.stdout.split("\n").find((l) => l.startsWith("facts: "))!.slice(7));
    assert.match(facts.release, /^6\.1\.[0-9]+-ixlab-guest$/, "no '+' from setlocalversion in a git tree");
    console.log(`# git build: ${seconds.toFixed(0)} s (${facts.compiled ? "compiled" : "already built"}), ccache ${facts.ccache?.before} -> ${facts.ccache?.after}`);
    t = Date.now();
    const again = role("create", ...plan.args);
    assert.equal(again.status, 0, again.all);
    assert.match(again.stdout, /nothing compiled/);
    console.log(`# same commit again: ${((Date.now() - t) / 1000).toFixed(2)} s`);
    // The sim boots with TCG (sim.accel in Pulumi.sim.yaml); the demo patch's marker must be on the console.
    const boot = spawnSync("bash", [path.join(ROOT, "roles", "kernel-boot.sh"), "create", "--kernel", facts.artifact, "--expect-release", facts.release,
      "--expect-line", "ixlab-demo: patch series applied", "--accel", "tcg", "--timeout", "300"], { encoding: "utf8", env: { ...process.env, IXLAB_ROLE: "kernel-boot" } });
    assert.equal(boot.status, 0, boot.stdout + boot.stderr);
    assert.match(boot.stdout, /changed: booted .* under QEMU \(tcg\) in [0-9.]+ s, release 6\.1\.[0-9]+-ixlab-guest/);
    console.log(`# ${boot.stdout.split("\n").find((l) => l.startsWith("changed: booted"))}`);
  });
});
