// Git kernel sources at plan time: the ref resolves to a commit (local repositories with rev-parse,
// remote ones with ls-remote, here over file://), the build key holds that commit, and a ref that
// names nothing is refused naming lab.kernels[i].source.ref and the repository.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { KernelPlanError, planKernelBuild, resolveGitRef } from "../../src/lab/kernel";
import { Kernel } from "../../src/lab/model";
import { ROOT } from "../helpers";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-kgit-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const repo = path.join(work, "linux");
const git = (...a: string[]) => execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", ...a], { encoding: "utf8" }).trim();
fs.mkdirSync(repo);
git("init", "-q", "-b", "main");
fs.writeFileSync(path.join(repo, "Makefile"), "VERSION = 6\n");
git("add", "Makefile");
git("commit", "-q", "-m", "one");
git("tag", "-a", "v1", "-m", "v1");
const first = git("rev-parse", "HEAD");

const kernel = (ref: string, url = "linux"): Kernel => ({
  name: "k", for: "guest", source: { type: "git", url, ref }, config: { base: "tinyconfig", fragments: ["kernel-configs/sim-guest.config"] },
  localversion: "-t", cmdline: "", verify: { console: [] },
  install: { method: "grub", panicSeconds: 10, bootTimeout: 300, rebootOnDestroy: false, purgeOnDestroy: false, features: [] },
});
const plan = (k: Kernel) => planKernelBuild({ ...k, config: { ...k.config, fragments: k.config.fragments.map((f) => path.join(ROOT, f)) } }, "lab", "st", work, "/cache", "lab.kernels[2]");

function refusal(f: () => unknown): KernelPlanError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof KernelPlanError, String(e));
    return e;
  }
  assert.fail("was not refused");
}

describe("git kernel sources, planned", () => {
  it("resolves a branch, an annotated tag and a commit id of a local repository (relative or absolute) to the commit", () => {
    assert.deepEqual(resolveGitRef("linux", "main", work, "k"), { url: repo, ref: "main", commit: first });
    assert.equal(resolveGitRef(repo, "v1", "/", "k").commit, first, "an annotated tag peels to its commit");
    assert.equal(resolveGitRef("linux", first.slice(0, 10), work, "k").commit, first);
  });

  it("resolves a remote repository with ls-remote: branch, peeled tag, full commit id taken as written", () => {
    const url = `file://${repo}`;
    assert.equal(resolveGitRef(url, "main", work, "k").commit, first);
    assert.equal(resolveGitRef(url, "v1", work, "k").commit, first);
    assert.equal(resolveGitRef(url, "refs/heads/main", work, "k").commit, first);
    assert.equal(resolveGitRef(url, "f".repeat(40), work, "k").commit, "f".repeat(40));
    const e = refusal(() => resolveGitRef(url, "nope", work, "lab.kernels[0]"));
    assert.equal(e.message, `lab.kernels[0].source.ref: "nope" is not a branch or tag of the git repository ${url}`);
  });

  it("refuses a ref that names no commit, naming the field and the repository", () => {
    const e = refusal(() => plan(kernel("no-such-branch")));
    assert.equal(e.message, `lab.kernels[2].source.ref: "no-such-branch" names no commit in the git repository linux`);
    assert.equal(e.field, "source.ref");
  });

  it("refuses a path that is missing or not a git repository, naming source.url", () => {
    assert.match(refusal(() => plan(kernel("main", "nowhere"))).message, /^lab\.kernels\[2\]\.source\.url: nowhere does not exist/);
    fs.mkdirSync(path.join(work, "plain"));
    assert.equal(refusal(() => plan(kernel("main", "plain"))).message, "lab.kernels[2].source.url: plain is not a git repository (its top level, or a bare one)");
    fs.mkdirSync(path.join(repo, "sub"));
    assert.match(refusal(() => plan(kernel("main", "linux/sub"))).message, /^lab\.kernels\[2\]\.source\.url: linux\/sub is not a git repository/, "a directory inside a repository is not that repository");
    fs.rmdirSync(path.join(repo, "sub"));
  });

  it("keys the build by the commit: an unchanged branch keeps its key, a moved one gets a new key in the same tree", () => {
    const a = plan(kernel("main"));
    assert.equal(a.sourceIdentity, `git:${first}`);
    assert.deepEqual(a.git, { url: repo, ref: "main", commit: first });
    assert.equal(a.sourceTarball, undefined);
    const at = a.args.indexOf("--git-commit");
    assert.deepEqual(a.args.slice(at - 4, at + 2), ["--git-url", repo, "--git-ref", "main", "--git-commit", first]);
    assert.ok(!a.args.includes("--source-tarball"));
    assert.equal(plan(kernel("main")).key, a.key, "same commit, same key");
    assert.equal(plan(kernel("v1")).key, a.key, "another ref naming the same commit builds nothing new");
    fs.writeFileSync(path.join(repo, "Makefile"), "VERSION = 6\nPATCHLEVEL = 1\n");
    git("commit", "-q", "-am", "two");
    const b = plan(kernel("main"));
    assert.notEqual(b.key, a.key, "a moved branch rebuilds");
    assert.equal(b.git?.commit, git("rev-parse", "HEAD"));
    assert.equal(b.tree, a.tree, "in the same tree, incrementally");
    assert.equal(plan(kernel("v1")).key, a.key, "the tag did not move");
  });
});
