// A host kernel's Debian packages, copied from the builder (the machine running Pulumi) to a lab host
// over SSH with the pinned host key, into the host's state dir, each checked there by its sha256.
// The files travel on ssh's stdin, one at a time; nothing of the host's is trusted before its hash
// matches the one computed here (or recorded by the build).
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Credentials, runProcess, runRemote, sshArgs, SSH_FAILED, Target, withSshFiles } from "./roles";

type SshTarget = Extract<Target, { kind: "ssh" }>;

export interface PackageFile {
  /** On the builder. */
  path: string;
  sha256: string;
}

/** Where a build's packages live on a host: its state dir (sim hosts set IXLAB_STATE_DIR). */
const REMOTE_BASE = '"${IXLAB_STATE_DIR:-/var/lib/ixlab}/kernel-packages"';
const SAFE = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/**
 * Marks a kernel-packages/<key>/ directory whose files a Command-made copy owns (its check writes it,
 * its delete removes the directory): a copy resource from before Commands, retired by the upgrade
 * that made the new one, leaves such a directory alone.
 */
export const KERNEL_COPY_MARKER = ".ixlab-copy";

export class PackageCopyError extends Error {}

export function sha256File(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/**
 * The packages a host needs from a bindeb-pkg output: the image (whose hash the build recorded) and,
 * when built, the headers (for out-of-tree modules). Not linux-libc-dev, which would replace the
 * host's own C library headers, nor the -dbg package.
 */
export function hostPackages(imageDeb: string, imageSha256: string, release: string): PackageFile[] {
  const dir = path.dirname(imageDeb);
  const headers = fs.readdirSync(dir).filter((f) => f.startsWith(`linux-headers-${release}_`) && f.endsWith(".deb")).sort();
  return [{ path: imageDeb, sha256: imageSha256 }, ...headers.map((f) => ({ path: path.join(dir, f), sha256: sha256File(path.join(dir, f)) }))];
}

function checkNames(dir: string, files: PackageFile[]): void {
  if (!SAFE.test(dir)) throw new PackageCopyError(`bad package directory name ${JSON.stringify(dir)}`);
  for (const f of files) {
    if (!SAFE.test(path.basename(f.path))) throw new PackageCopyError(`bad package file name ${JSON.stringify(path.basename(f.path))}`);
    if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw new PackageCopyError(`bad sha256 for ${path.basename(f.path)}`);
  }
}

/** Streams `file` into `command` on the host; resolves with ssh's exit code and output. */
function sendFile(target: SshTarget, creds: Credentials, command: string, file: string) {
  return withSshFiles(target, creds, (key, knownHosts) => runProcess("ssh", [...sshArgs(target, key, knownHosts), command], { file }));
}

function where(t: SshTarget): string {
  return `host ${t.host} (${t.user}@${t.address}:${t.port})`;
}

/**
 * What is already on the host: for each file, "ok" (present with the right hash) or "missing" / the
 * hash found. Returns the host's absolute directory too.
 */
export async function remotePackageState(target: SshTarget, creds: Credentials, dir: string, files: PackageFile[]): Promise<{ remoteDir: string; state: Record<string, string> }> {
  checkNames(dir, files);
  const names = files.map((f) => path.basename(f.path));
  const script = `d=${REMOTE_BASE}/${dir}; printf 'dir %s\\n' "$d"; for f in ${names.join(" ")}; do if [ -f "$d/$f" ]; then printf 'file %s %s\\n' "$f" "$(sha256sum "$d/$f" | cut -d' ' -f1)"; else printf 'file %s missing\\n' "$f"; fi; done`;
  const r = await runRemote(target, creds, script);
  if (r.code !== 0) throw new PackageCopyError(`${where(target)}: cannot look at its kernel packages${r.code === SSH_FAILED ? " over SSH" : ""}: ${r.stderr.trim().split("\n").pop() || `exit ${r.code}`}`);
  let remoteDir = "";
  const state: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const [kind, a, b] = line.split(" ");
    if (kind === "dir") remoteDir = line.slice(4);
    if (kind === "file") {
      const want = files.find((f) => path.basename(f.path) === a)!.sha256;
      state[a] = b === want ? "ok" : b;
    }
  }
  return { remoteDir, state };
}

/**
 * Copies each file whose copy on the host is missing or different into the host's
 * kernel-packages/<dir>/, then checks its sha256 there; a mismatch is an error naming the file (the
 * partial copy is removed). Returns the host paths and which files were copied.
 */
export async function copyPackages(target: SshTarget, creds: Credentials, dir: string, files: PackageFile[]): Promise<{ remoteDir: string; remotePaths: string[]; copied: string[] }> {
  checkNames(dir, files);
  for (const f of files) {
    if (!fs.existsSync(f.path)) throw new PackageCopyError(`kernel package ${f.path} does not exist on this machine (was the build's output removed?)`);
  }
  const { remoteDir, state } = await remotePackageState(target, creds, dir, files);
  const copied: string[] = [];
  for (const f of files) {
    const name = path.basename(f.path);
    if (state[name] === "ok") continue;
    const script = `set -eu; d=${REMOTE_BASE}/${dir}; mkdir -p "$d"; f="$d/${name}"; cat >"$f.part"; s=$(sha256sum "$f.part" | cut -d' ' -f1); ` +
      `if [ "$s" != ${f.sha256} ]; then rm -f "$f.part"; echo "sha256 mismatch: $f has $s, expected ${f.sha256}" >&2; exit 4; fi; mv -f "$f.part" "$f"`;
    const r = await sendFile(target, creds, script, f.path);
    if (r.code === 4) throw new PackageCopyError(`${where(target)}: copy of ${name} is corrupt: ${r.stderr.trim()}`);
    if (r.code !== 0) throw new PackageCopyError(`${where(target)}: copying ${name} failed${r.code === SSH_FAILED ? " (SSH)" : ""}: ${r.stderr.trim().split("\n").pop() || `exit ${r.code}`}`);
    copied.push(name);
  }
  return { remoteDir, remotePaths: files.map((f) => `${remoteDir}/${path.basename(f.path)}`), copied };
}

/** Undefined when every file is on the host with its hash; else one line saying what is not. */
export async function packagesProblem(target: SshTarget, creds: Credentials, dir: string, files: PackageFile[]): Promise<string | undefined> {
  const { state } = await remotePackageState(target, creds, dir, files);
  const bad = Object.entries(state).filter(([, s]) => s !== "ok").map(([n, s]) => (s === "missing" ? `${n} is missing` : `${n} has sha256 ${s}`));
  return bad.length ? `${where(target)}: ${bad.join("; ")}` : undefined;
}

/**
 * Removes kernel-packages/<dir>/ from the host (and kernel-packages/ when it is then empty), unless a
 * Command-made copy owns it now (KERNEL_COPY_MARKER).
 */
export async function removePackages(target: SshTarget, creds: Credentials, dir: string): Promise<void> {
  checkNames(dir, []);
  const r = await runRemote(target, creds, `d=${REMOTE_BASE}; [ -e "$d/${dir}/${KERNEL_COPY_MARKER}" ] && exit 0; rm -rf "$d/${dir}"; rmdir "$d" 2>/dev/null || true`);
  if (r.code !== 0) throw new PackageCopyError(`${where(target)}: removing its kernel packages failed: ${r.stderr.trim().split("\n").pop() || `exit ${r.code}`}`);
}
