// One SSH connection per host for the life of a process (the dynamic provider's, which makes every
// read, create and delete of an up): an OpenSSH ControlMaster per host and key, which later role
// runs use through its socket instead of each paying for a TCP connection, a key exchange, a login
// and a fresh sshd. The master is a child of this process whose remote command ends at the EOF of
// its stdin, a pipe only this process holds: when the process ends, however it ends (SIGKILL too),
// the pipe closes and the master with it. Its key, pinned host key and socket live in a private
// directory of this process (src/remote/secretDir.ts), removed when the master ends, and otherwise
// swept by the user's next ixlab command like every other key directory of a dead process.
import { ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Credentials, Target, writeSshFiles } from "./sshTarget";
import { socketSecretDir } from "./secretDir";

type SshTarget = Extract<Target, { kind: "ssh" }>;

/** What an ssh invocation gets to use a master; `undefined` means connect directly. */
export interface Shared {
  /** Options naming the master's socket; with them ssh falls back to its own connection if it is gone. */
  options: string[];
  key: string;
  knownHosts?: string;
  /** Gives the session slot back. */
  release(): void;
}

/** How the master failed to come up: what ssh said, as a failed ssh run would. */
export interface MasterFailure {
  code: number;
  stdout: string;
  stderr: string;
}

interface Master {
  dir: string;
  socket: string;
  key: string;
  knownHosts?: string;
  child: ChildProcess;
  ready: Promise<MasterFailure | undefined>;
  active: number;
  waiting: (() => void)[];
}

// sshd's MaxSessions (10 by default) counts the master's own session: stay below it.
const SESSIONS_PER_MASTER = 8;
const CONTROL = "cm";
/** How long a master may take to log in (ssh's ConnectTimeout bounds the TCP part alone). */
const LOGIN_TIMEOUT_MS = 60_000;

const masters = new Map<string, Master>();
let exitHook = false;

function masterKey(target: SshTarget, creds: Credentials): string {
  // Another key or another pin is another login: it never shares a connection made with the first.
  return createHash("sha256").update(JSON.stringify([target.user, target.address, target.port, creds.privateKey, creds.hostKey ?? null])).digest("hex");
}

/** Ends every master now and removes its key (at the exit of the process, which waits for nothing). */
function stopAll(): void {
  for (const m of masters.values()) {
    try {
      process.kill(-m.child.pid!, "SIGTERM"); // the shell and its ssh
    } catch {
      // already gone
    }
    fs.rmSync(m.dir, { recursive: true, force: true });
  }
  masters.clear();
}

function startMaster(id: string, target: SshTarget, creds: Credentials, sshArgs: (key: string, knownHosts?: string) => string[], env: NodeJS.ProcessEnv): Master {
  const dir = socketSecretDir("mux", CONTROL);
  const { key, knownHosts } = writeSshFiles(dir, target, creds);
  const socket = path.join(dir, CONTROL);
  // `cat` ends at EOF, which ssh passes on when our end of its stdin closes; ControlPersist=no keeps
  // the master from outliving its session (it still waits for the sessions it carries). A shell of
  // its own process group (out of reach of the signals Pulumi sends its plugin's group) removes the
  // key once ssh is gone, also when this process was killed.
  const child = spawn("sh", ["-c", 'd=$1; shift; ssh "$@"; c=$?; rm -rf -- "$d"; exit "$c"', "ixlab-ssh-master", dir,
    "-o", "ControlMaster=yes", "-o", `ControlPath=${socket}`, "-o", "ControlPersist=no", ...sshArgs(key, knownHosts), "exec cat >/dev/null"],
  { stdio: ["pipe", "ignore", "pipe"], env, detached: true });
  // Neither the master nor its pipes keep this process alive: its life is the process's, not longer.
  child.unref();
  (child.stdin as unknown as { unref?: () => void })?.unref?.();
  (child.stderr as unknown as { unref?: () => void })?.unref?.();
  child.stdin!.on("error", () => undefined);
  let stderr = "";
  let exited: number | undefined;
  child.stderr!.on("data", (d) => { if (stderr.length < 65536) stderr += d; });
  const m: Master = { dir, socket, key, knownHosts, child, ready: Promise.resolve(undefined), active: 0, waiting: [] };
  const gone = new Promise<void>((resolve) => {
    const done = (code: number | null, signal?: NodeJS.Signals | null) => {
      if (exited !== undefined) return;
      exited = code ?? (signal ? 128 : 255);
      if (masters.get(id) === m) masters.delete(id);
      // A session started just before may yet fall back to a connection of its own, with this key.
      if (m.active === 0) fs.rmSync(dir, { recursive: true, force: true });
      resolve();
    };
    child.on("exit", done);
    child.on("error", (e) => { stderr += `ssh: ${e.message}\n`; done(255); });
  });
  m.ready = (async () => {
    const deadline = Date.now() + LOGIN_TIMEOUT_MS;
    // ssh binds its control socket once it has verified the host key and logged in.
    while (exited === undefined && !fs.existsSync(socket)) {
      if (Date.now() > deadline) {
        child.kill();
        await gone;
        return { code: 255, stdout: "", stderr: `${stderr}ssh: no login to ${target.address} within ${LOGIN_TIMEOUT_MS / 1000} s\n` };
      }
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10))]);
    }
    if (exited !== undefined) return { code: exited === 0 ? 255 : exited, stdout: "", stderr };
    return undefined;
  })();
  if (!exitHook) {
    exitHook = true;
    process.on("exit", stopAll);
  }
  return m;
}

/**
 * A slot on the shared connection to TARGET, logging in first if there is none; or the failure of
 * that login (a host key that does not match the pin, a host that is down or dropped the
 * connection), which the caller reports like the failure of its own ssh. A failed master is not kept,
 * so a retry logs in afresh.
 */
export async function shareConnection(target: SshTarget, creds: Credentials, sshArgs: (key: string, knownHosts?: string) => string[], env: NodeJS.ProcessEnv): Promise<Shared | MasterFailure> {
  const id = masterKey(target, creds);
  let m = masters.get(id);
  if (!m) {
    m = startMaster(id, target, creds, sshArgs, env);
    masters.set(id, m);
  }
  const failure = await m.ready;
  if (failure) return failure;
  if (m.active >= SESSIONS_PER_MASTER) await new Promise<void>((resolve) => m!.waiting.push(resolve));
  m.active++;
  const master = m;
  let released = false;
  return {
    options: ["-o", "ControlMaster=no", "-o", `ControlPath=${master.socket}`],
    key: master.key,
    knownHosts: master.knownHosts,
    release() {
      if (released) return;
      released = true;
      master.active--;
      master.waiting.shift()?.();
      if (master.active === 0 && (master.child.exitCode !== null || master.child.signalCode !== null)) fs.rmSync(master.dir, { recursive: true, force: true });
    },
  };
}

/** The masters this process holds, by pid (for tests). */
export function sharedMasters(): number[] {
  return [...masters.values()].map((m) => m.child.pid!).filter(Boolean);
}

/** Ends every master of this process and waits (up to 5 s) for them to go. */
export async function closeSharedConnections(): Promise<void> {
  const pids = sharedMasters();
  stopAll();
  // The masters do not hold this process's event loop (they are unref'd): poll, with a timer that does.
  for (let i = 0; i < 500 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not reaped yet: its parent is this process) runs no more.
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
