// Stack locks of a file ("DIY") backend. Pulumi takes one per update and removes it at the end; a
// pulumi killed outright (SIGKILL, power loss) leaves its lock behind and every later command on the
// stack then fails with "the stack is currently locked". A lock whose process was on this machine and
// no longer exists is stale by construction, so ixlab removes it (saying so); a lock held by a live
// process, or taken on another machine, is left alone: a second `up` on the same stack then fails
// with Pulumi's own clear message instead of touching the lab twice at once.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { repoRoot } from "../paths";
import { processAlive } from "../remote/secretDir";

interface LockFile {
  pid: number;
  username?: string;
  hostname?: string;
  timestamp?: string;
}

/** The backend ixlab's pulumi runs use: PULUMI_BACKEND_URL, else the sim's state (scripts/env.sh). */
export function backendUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.PULUMI_BACKEND_URL || pathToFileURL(path.join(repoRoot(), ".ixlab", "state")).href;
}

/** The lock directory of STACK in a file:// backend (undefined for other backends). */
export function lockDir(backendUrl: string | undefined, project: string, stack: string): string | undefined {
  if (!backendUrl?.startsWith("file://")) return undefined;
  const root = fileURLToPath(backendUrl.split("?")[0]);
  return path.join(root, ".pulumi", "locks", "organization", project, stack);
}

/**
 * Removes the stack's stale locks (taken on this host by a process that is gone); returns one line
 * per lock removed, for the caller to print.
 */
export function clearStaleLocks(dir: string | undefined, host = os.hostname(), isAlive = processAlive): string[] {
  if (!dir || !fs.existsSync(dir)) return [];
  const said: string[] = [];
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    const file = path.join(dir, name);
    let lock: LockFile;
    try {
      lock = JSON.parse(fs.readFileSync(file, "utf8")) as LockFile;
    } catch {
      continue; // being written right now, or not ours to judge
    }
    if (!Number.isInteger(lock.pid) || lock.hostname !== host || isAlive(lock.pid)) continue;
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.attrs`, { force: true }); // the blob store's metadata beside it
    said.push(`removed a stale stack lock left by pulumi pid ${lock.pid} (started ${lock.timestamp ?? "?"}, no longer running)`);
  }
  return said;
}
