// Private temp directories for key material (an SSH private key while ssh runs, a key being
// generated). Each is 0700, named after the process that made it, inside a directory of the user's
// own (ixlab-secret-u<uid>, 0700, checked to be theirs and not a link), and removed when its work is
// done. A process killed outright (SIGKILL) cannot remove its own, so every new one first sweeps
// those of the user's processes that are gone: a key never outlives the user's next ixlab command.
// Another user's directories are never looked into, so what they left cannot get in the way.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const PATTERN = /^ixlab-secret-(\d+)-/;

/** PID names a process that exists (possibly another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie answers signal 0 until it is reaped, which an orphan waits for: it runs no more.
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc here: signal 0 is all there is to go on
  }
}

function uid(): number {
  return typeof process.getuid === "function" ? process.getuid() : 0;
}

/** The user's own directory under BASE, made 0700 if absent; refused if someone else made it. */
export function userSecretBase(base = os.tmpdir()): string {
  const dir = path.join(base, `ixlab-secret-u${uid()}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const st = fs.lstatSync(dir);
  // In a shared /tmp another user could have made it first, to read keys put into it.
  if (!st.isDirectory() || st.uid !== uid()) throw new Error(`${dir} is not a directory of this user (uid ${uid()}); remove it or set TMPDIR to a private directory`);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
  return dir;
}

/** Removes secret dirs left in BASE by processes that no longer exist; returns what it removed. */
export function sweepSecretDirs(base = os.tmpdir(), isAlive = processAlive): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(base);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = PATTERN.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const p = path.join(base, name);
    try {
      // Only the user's own: one of another user's cannot be removed, and is not ours to judge.
      if (fs.lstatSync(p).uid !== uid()) continue;
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      // Gone meanwhile, or not removable: the next sweep tries again; the new directory is unaffected.
    }
  }
  return removed;
}

/** A new private directory for KIND (e.g. "ssh"), after sweeping stale ones. */
export function makeSecretDir(kind: string, base = os.tmpdir()): string {
  const own = userSecretBase(base);
  sweepSecretDirs(own);
  sweepSecretDirs(base); // directories of the layout before the per-user one
  return fs.mkdtempSync(path.join(own, `ixlab-secret-${process.pid}-${kind}-`));
}

// A Unix socket's path holds at most 108 bytes on Linux (104 on the BSDs), and ssh binds a master at
// its ControlPath plus ".<16 random characters>" before renaming it.
const SOCKET_PATH_MAX = 103;

/**
 * A new private directory for KIND that will hold an ssh control socket named LEAF: under BASE
 * (TMPDIR), unless the socket's path would be too long there (a CI job's deep temp directory), then
 * in the user's own private directory under /tmp.
 */
export function socketSecretDir(kind: string, leaf: string, base = os.tmpdir()): string {
  const dir = makeSecretDir(kind, base);
  if (Buffer.byteLength(path.join(dir, leaf)) + 17 <= SOCKET_PATH_MAX) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  return makeSecretDir(kind, "/tmp");
}
