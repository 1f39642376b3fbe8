// Private temp directories for key material (an SSH private key while ssh runs, a key being
// generated). Each is 0700, named after the process that made it, and removed when its work is
// done. A process killed outright (SIGKILL) cannot remove its own, so every new one first sweeps
// those whose process is gone: a key never outlives the next ixlab command on this machine.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const PATTERN = /^ixlab-secret-(\d+)-/;

/** PID names a process that exists (possibly another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
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
    fs.rmSync(path.join(base, name), { recursive: true, force: true });
    removed.push(path.join(base, name));
  }
  return removed;
}

/** A new private directory for KIND (e.g. "ssh"), after sweeping stale ones. */
export function makeSecretDir(kind: string, base = os.tmpdir()): string {
  sweepSecretDirs(base);
  return fs.mkdtempSync(path.join(base, `ixlab-secret-${process.pid}-${kind}-`));
}
