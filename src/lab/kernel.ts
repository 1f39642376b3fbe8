// What a kernel build consumes, resolved on the builder (the machine running Pulumi), and the content
// hash that keys it: same inputs, same key, nothing compiled; any input changed, a new build.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Kernel, Lab, netnsSim } from "./model";
import { RunningVariant } from "./variant";

/** Bump when the way a build turns inputs into outputs changes. */
const BUILD_FORMAT = 1;

export interface KernelBuildPlan {
  name: string;
  key: string;
  target: "bzImage" | "deb";
  /** Set for debian-source and tarball sources. */
  sourceTarball?: string;
  /** Set for git sources: the repository (a local path made absolute), the ref, the commit it named at plan time. */
  git?: GitSource;
  sourceIdentity: string;
  /** The patches this build applies, in order (a prefix of `series` under IXLAB_SERIES). */
  patches: string[];
  /** The kernel's whole patch series. */
  series: string[];
  fragments: string[];
  base: string;
  localversion: string;
  out: string;
  tree: string;
  /** Flags of roles/kernel-build.sh. */
  args: string[];
}

export class KernelPlanError extends Error {
  /** The field under the kernel (e.g. "source.ref") and what is wrong with it, when one is to blame. */
  constructor(message: string, readonly field?: string, readonly detail?: string) {
    super(message);
  }
}

function fieldError(where: string, field: string, detail: string): KernelPlanError {
  return new KernelPlanError(`${where}.${field}: ${detail}`, field, detail);
}

export interface GitSource {
  url: string;
  ref: string;
  commit: string;
}

/** A URL git reaches over the network (scheme://... or scp-like host:path); anything else is a local path. */
export function isRemoteGitUrl(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/]*:/.test(url);
}

function git(args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync("git", args, { encoding: "utf8", env: { ...process.env, GIT_TERMINAL_PROMPT: "0" }, timeout: 120_000 });
  if (r.error) throw new KernelPlanError(`git is needed for git kernel sources: ${r.error.message}`);
  return { ok: r.status === 0, out: r.stdout.trim(), err: r.stderr.trim().split("\n").pop() ?? "" };
}

/**
 * The commit a git source's ref names now. A local repository answers with rev-parse (any ref,
 * tag or commit id); a remote one with ls-remote, which knows branches and tags only, so a commit id
 * is taken as written. The commit, not the ref, keys the build: a moved branch builds again.
 */
export function resolveGitRef(url: string, ref: string, root: string, where: string): GitSource {
  if (!isRemoteGitUrl(url)) {
    const repo = path.resolve(root, url);
    if (!fs.existsSync(repo)) throw fieldError(where, "source.url", `${url} does not exist (a local path is relative to the repository root)`);
    // The repository itself (bare, or its top level), not a directory that happens to be inside one.
    const at = git(["-C", repo, "rev-parse", "--is-bare-repository", "--show-cdup"]);
    if (!at.ok || !/^(true|false)$/.test(at.out)) throw fieldError(where, "source.url", `${url} is not a git repository (its top level, or a bare one)`);
    const r = git(["-C", repo, "rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`]);
    if (!r.ok) throw fieldError(where, "source.ref", `"${ref}" names no commit in the git repository ${url}`);
    return { url: repo, ref, commit: r.out };
  }
  if (/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(ref)) return { url, ref, commit: ref };
  const r = git(["ls-remote", "--", url, ref, `${ref}^{}`]);
  if (!r.ok) throw fieldError(where, "source.url", `git ls-remote ${url} failed: ${r.err}`);
  const refs = new Map(r.out.split("\n").filter(Boolean).map((l) => { const [id, name] = l.split("\t"); return [name, id] as [string, string]; }));
  // A tag's own line names the tag object; its peeled line (^{}) names the commit.
  const names = ref.startsWith("refs/") || ref === "HEAD" ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
  for (const n of names) {
    const id = refs.get(`${n}^{}`) ?? refs.get(n);
    if (id) return { url, ref, commit: id };
  }
  const others = [...refs.keys()].filter((n) => !n.endsWith("^{}"));
  if (others.length === 1) return { url, ref, commit: refs.get(`${others[0]}^{}`) ?? refs.get(others[0])! };
  if (others.length > 1) throw fieldError(where, "source.ref", `"${ref}" is ambiguous in the git repository ${url} (${others.join(", ")}); write the full ref name`);
  throw fieldError(where, "source.ref", `"${ref}" is not a branch or tag of the git repository ${url}`);
}

function sha256File(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** The builder's running config (what kernel-build.sh's `--base running` copies), or why there is none. */
function runningConfig(where: string): string {
  const file = `/boot/config-${run("uname", ["-r"])}`;
  if (!fs.existsSync(file)) throw fieldError(where, "config.base", `"running" takes this machine's running kernel config, but ${file} does not exist here; name a config file, or use defconfig or tinyconfig`);
  return file;
}

function run(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Debian's linux-source-X.Y ships /usr/src/linux-source-X.Y.tar.xz; "linux-source" means the newest. */
function debianSource(pkg: string, where: string): { tarball: string; identity: string } {
  const candidates = fs.existsSync("/usr/src") ? fs.readdirSync("/usr/src").filter((f) => /^linux-source-[0-9.]+\.tar\.xz$/.test(f)) : [];
  const wanted = pkg === "linux-source" ? candidates.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop() : candidates.find((f) => f === `${pkg}.tar.xz`);
  if (!wanted) throw new KernelPlanError(`${where}: Debian package ${pkg} is not installed on the builder (no /usr/src/${pkg === "linux-source" ? "linux-source-*" : pkg}.tar.xz); run npm run setup or apt-get install ${pkg === "linux-source" ? "linux-source-6.1" : pkg}`);
  const name = wanted.replace(/\.tar\.xz$/, "");
  const version = run("dpkg-query", ["-W", "-f", "${Version}", name]);
  const tarball = `/usr/src/${wanted}`;
  const st = fs.statSync(tarball);
  return { tarball, identity: `debian:${name}=${version ?? `size${st.size}-mtime${st.mtimeMs}`}` };
}

function patchFiles(spec: string, root: string, where: string): string[] {
  const p = path.resolve(root, spec);
  if (!fs.existsSync(p)) throw new KernelPlanError(`${where}.patches: ${spec} does not exist`);
  if (fs.statSync(p).isDirectory()) {
    const files = fs.readdirSync(p).filter((f) => f.endsWith(".patch")).sort().map((f) => path.join(p, f));
    if (files.length === 0) throw new KernelPlanError(`${where}.patches: ${spec} holds no .patch files`);
    return files;
  }
  return [p];
}

/**
 * Outputs belong to a stack (its destroy removes them); the build tree belongs to the lab's kernel and
 * is shared by the stacks of that lab, so a second stack of the same lab rebuilds nothing.
 */
export function planKernelBuild(k: Kernel, labName: string, stack: string, root: string, cache: string, where: string, opts: { patchPrefix?: number } = {}): KernelBuildPlan {
  const target = k.for === "guest" ? "bzImage" : "deb";
  let source: { tarball?: string; git?: GitSource; identity: string };
  if (k.source.type === "git" && k.source.url && k.source.ref) {
    const g = resolveGitRef(k.source.url, k.source.ref, root, where);
    source = { git: g, identity: `git:${g.commit}` };
  } else if (k.source.type === "debian-source") source = debianSource(k.source.package ?? "linux-source", where);
  else if (k.source.type === "tarball" && k.source.url && !/^[a-z]+:\/\//.test(k.source.url)) {
    const tarball = path.resolve(root, k.source.url);
    if (!fs.existsSync(tarball)) throw new KernelPlanError(`${where}.source.url: ${k.source.url} does not exist`);
    const digest = sha256File(tarball);
    if (k.source.sha256 && k.source.sha256 !== digest) throw new KernelPlanError(`${where}.source.sha256: ${k.source.url} has sha256 ${digest}, not ${k.source.sha256}`);
    source = { tarball, identity: `tarball:${digest}` };
  } else {
    throw new KernelPlanError(`${where}.source: ${k.source.type === "git" ? "a git source needs url and ref" : "downloaded tarballs are not built yet; use debian-source, git or a local tarball path"}`);
  }
  const series = k.patches ? patchFiles(k.patches, root, where) : [];
  if (opts.patchPrefix !== undefined && opts.patchPrefix > series.length) throw new KernelPlanError(`IXLAB_SERIES: kernel ${k.name}'s series has ${series.length} patch(es), not ${opts.patchPrefix}`);
  // A series walk builds the first N patches (IXLAB_SERIES); the key then covers exactly those.
  const patches = opts.patchPrefix !== undefined ? series.slice(0, opts.patchPrefix) : series;
  const fragments = k.config.fragments.map((f) => path.resolve(root, f));
  const base = ["tinyconfig", "defconfig", "allnoconfig", "running"].includes(k.config.base) ? k.config.base : path.resolve(root, k.config.base);
  const inputs = {
    format: BUILD_FORMAT,
    target,
    source: source.identity,
    patches: patches.map((p) => [path.basename(p), sha256File(p)]),
    fragments: fragments.map((f) => [path.relative(root, f), sha256File(f)]),
    base: base === k.config.base ? base : `file:${sha256File(base)}`,
    runningConfig: base === "running" ? sha256File(runningConfig(where)) : undefined,
    localversion: k.localversion ?? "",
    compiler: run("gcc", ["--version"])?.split("\n")[0] ?? "gcc missing",
  };
  const key = createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 32);
  const out = path.join(cache, "kernels", "out", stack, key);
  const tree = path.join(cache, "kernels", "tree", `${labName}-${k.name}`);
  const args = [
    "--key", key, "--out", out, "--tree", tree,
    ...(source.git ? ["--git-url", source.git.url, "--git-ref", source.git.ref, "--git-commit", source.git.commit] : ["--source-tarball", source.tarball as string]),
    "--base", base, "--target", target, "--localversion", k.localversion ?? "",
    "--ccache", path.join(cache, "kernels", "ccache"),
    // One flag per path, so a path with a space stays one path down to the role.
    ...patches.flatMap((p) => ["--patch", p]),
    ...fragments.flatMap((f) => ["--fragment", f]),
  ];
  return { name: k.name, key, target, sourceTarball: source.tarball, git: source.git, sourceIdentity: source.identity, patches, series, fragments, base, localversion: k.localversion ?? "", out, tree, args };
}

/** A host kernel to install on real hosts: the dut hosts whose active variant names it. */
export interface HostKernelInstallPlan {
  kernel: string;
  hosts: string[];
  /** Paths verify checks after the reboot: the variant's module parameters and install.features. */
  features: string[];
}

/**
 * What the running variant asks to install on real hosts and VM lab hosts; empty for netns sim labs,
 * whose hosts share this machine's kernel (their kernels only boot under QEMU), and for a variant that
 * keeps the hosts' own kernel.
 */
export function planHostKernelInstalls(lab: Lab, variant: RunningVariant | undefined): HostKernelInstallPlan[] {
  if (netnsSim(lab) || !variant) return [];
  const kernel = lab.kernels.find((k) => k.name === variant.hostKernel && k.for === "host");
  if (!kernel) return [];
  return [{
    kernel: kernel.name,
    hosts: lab.hosts.filter((h) => h.role === "dut").map((h) => h.name),
    features: [...new Set([...variant.verifyPaths, ...kernel.install.features])],
  }];
}
