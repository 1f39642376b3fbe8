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

/** The checkpoint directory of PROJECT in a file:// backend (undefined for other backends). */
export function stacksDir(backendUrl: string | undefined, project: string): string | undefined {
  if (!backendUrl?.startsWith("file://")) return undefined;
  return path.join(fileURLToPath(backendUrl.split("?")[0]), ".pulumi", "stacks", project);
}

/**
 * What a pulumi killed while saving STACK's checkpoint leaves in a file backend: the blob store's
 * metadata beside the checkpoint (`<stack>.json.attrs`) written in place and torn (empty, every later
 * command on any stack of that backend fails with "error: EOF"), and the half-written temp copy.
 * Called only once the stack's lock was found stale, so no live pulumi is writing them. Returns one
 * line per file removed; the checkpoint itself is replaced whole by a rename and is left alone.
 */
export function repairCheckpoint(dir: string | undefined, stack: string): string[] {
  if (!dir || !fs.existsSync(dir)) return [];
  const said: string[] = [];
  const tmp = new RegExp(`^${stack.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.json\\.[0-9a-f]+\\.tmp$`);
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (name === `${stack}.json.attrs` || name === `${stack}.json.bak.attrs`) {
      try {
        JSON.parse(fs.readFileSync(file, "utf8"));
        continue;
      } catch {
        fs.rmSync(file, { force: true });
        said.push(`removed ${name}, torn when pulumi was killed while saving the checkpoint`);
      }
    } else if (tmp.test(name)) {
      fs.rmSync(file, { force: true });
      said.push(`removed ${name}, a checkpoint the killed pulumi never finished writing`);
    }
  }
  return said;
}

