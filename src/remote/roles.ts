// Runs a role script (roles/<name>.sh) on a host: locally as root for the sim fabric itself, or over
// SSH for every lab host, real or simulated. Over SSH the script travels on stdin (roles/lib.sh
// followed by the role), so hosts need nothing of ixlab installed.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeSecretDir } from "./secretDir";
import { shareConnection } from "./sshShare";
import { Credentials, sshArgs, Target, writeSshFiles } from "./sshTarget";
import { repoRoot } from "../paths";

export type { Credentials, Target } from "./sshTarget";
export { sshArgs, writeSshFiles } from "./sshTarget";

export interface RoleResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Parsed from the role's `facts: {...}` line, if any. */
  facts?: Record<string, unknown>;
  /** From the role's `summary: changed=N` line. */
  changed: number;
}

/** SSH exits 255 when it could not connect or authenticate: the role never ran. */
export const SSH_FAILED = 255;
/** Roles exit 3 from `check` when the state is wrong (see roles/lib.sh). */
export const CHECK_WRONG = 3;

export class RoleError extends Error {
  constructor(
    message: string,
    readonly result: RoleResult,
  ) {
    super(message);
  }
}

export function rolesDir(root = repoRoot()): string {
  return path.join(root, "roles");
}

export function parseRoleOutput(stdout: string): Pick<RoleResult, "facts" | "changed"> {
  let facts: Record<string, unknown> | undefined;
  let changed = 0;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("facts: ")) facts = JSON.parse(line.slice("facts: ".length)) as Record<string, unknown>;
    const m = /^summary: changed=(\d+)/.exec(line);
    if (m) changed = Number(m[1]);
  }
  return { facts, changed };
}

/** A private directory with the key and the pinned host key, removed when `fn` is done. */
export async function withSshFiles<T>(target: Extract<Target, { kind: "ssh" }>, creds: Credentials, fn: (key: string, knownHosts?: string) => Promise<T>): Promise<T> {
  const dir = makeSecretDir("ssh");
  try {
    const { key, knownHosts } = writeSshFiles(dir, target, creds);
    return await fn(key, knownHosts);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What a role or ssh inherits from ixlab's environment: what finds programs, names the user and the
 * locale, and the few settings roles read; never the rest, which holds the stack's passphrase
 * (PULUMI_CONFIG_PASSPHRASE), CI secrets (a BMC password) and whatever a .env file defined, and
 * which `make` in a kernel build, QEMU or a remote shell would otherwise all see.
 */
const ROLE_ENV = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "TMPDIR",
  "IXLAB_STATE_DIR", "IXLAB_SYS_ROOT", "IXLAB_CACHE", "CCACHE_DIR"];
/** Local roles also fetch git sources: the proxy settings and the SSH agent's socket (not its keys). */
const LOCAL_ROLE_ENV = [...ROLE_ENV, "SSH_AUTH_SOCK", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"];

export function minimalEnv(extra: NodeJS.ProcessEnv = {}, keep = ROLE_ENV, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (from[k] !== undefined) env[k] = from[k];
  return { ...env, ...extra };
}

/**
 * Runs CMD with INPUT on its stdin (a string, or a file streamed from disk) and collects its output;
 * resolves with the exit code (128 when killed by a signal).
 */
export function runProcess(cmd: string, args: string[], input: string | { file: string } | undefined, env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: env ?? minimalEnv() });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.on("error", () => undefined); // the remote side may exit before reading all input
    if (input !== undefined && typeof input !== "string") {
      const stream = fs.createReadStream(input.file);
      stream.on("error", (e) => { child.kill(); reject(e); });
      stream.pipe(child.stdin);
    } else {
      child.stdin.end(input ?? "");
    }
  });
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The script sent over SSH: the shared lib, then the role with its own `. lib.sh` skipped. */
export function roleScript(role: string, root = repoRoot()): string {
  const dir = rolesDir(root);
  return `${fs.readFileSync(path.join(dir, "lib.sh"), "utf8")}\n${fs.readFileSync(path.join(dir, `${role}.sh`), "utf8")}`;
}

/**
 * The remote command line that runs a role whose script (roleScript) arrives on stdin; the same
 * for ixlab's dynamic resources and for Commands.
 */
export function roleCommandLine(role: string, action: string, args: string[]): string {
  return `IXLAB_ROLE=${role} IXLAB_LIB_LOADED= bash -s -- ${[action, ...args].map(shellQuote).join(" ")}`;
}

const SSH_ATTEMPTS = 3;
/** ssh's words for a connection the server closed or reset before the session began. */
export const TRANSIENT_SSH = /kex_exchange_identification|Connection reset by peer|Connection closed by|Connection refused/;

/** ssh's words when a shared connection would not carry one more session (the host's MaxSessions). */
const SESSION_REFUSED = /session request failed|Session open refused|mux_client_request_session/;

export interface RunRoleOptions {
  /**
   * Use one connection per host and key for all role runs of this process (src/remote/sshShare.ts);
   * the dynamic provider does, whose process lives for one pulumi command.
   */
  share?: boolean;
  /** More environment for a role run on this machine (secrets that must not be flags); none over SSH. */
  env?: Record<string, string>;
}

/** One ssh run of a role over a shared connection; a login that failed counts as the run's failure. */
async function sharedRun(target: Extract<Target, { kind: "ssh" }>, creds: Credentials, command: string, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const s = await shareConnection(target, creds, (key, knownHosts) => sshArgs(target, key, knownHosts), minimalEnv());
  if (!("release" in s)) return s;
  try {
    const r = await runProcess("ssh", [...s.options, ...sshArgs(target, s.key, s.knownHosts), command], input);
    if (r.code !== SSH_FAILED || !SESSION_REFUSED.test(r.stderr)) return r;
    // A host that allows fewer sessions per connection than we use: this run gets a connection of its own.
    return await runProcess("ssh", ["-o", "ControlPath=none", ...sshArgs(target, s.key, s.knownHosts), command], input);
  } finally {
    s.release();
  }
}

/** Runs `roles/<role>.sh <action> <args...>` on the target; never throws for a non-zero exit. */
export async function runRole(target: Target, creds: Credentials | undefined, role: string, action: string, args: string[], root = repoRoot(), opts: RunRoleOptions = {}): Promise<RoleResult> {
  let r: { code: number; stdout: string; stderr: string };
  if (target.kind === "local") {
    r = await runProcess("bash", [path.join(rolesDir(root), `${role}.sh`), action, ...args], undefined, minimalEnv({ ...opts.env, IXLAB_ROLE: role }, LOCAL_ROLE_ENV));
  } else {
    if (!creds) throw new Error(`host ${target.host}: no SSH credentials`);
    // A remote shell would log or show what it is handed; nothing needs this yet.
    if (opts.env && Object.keys(opts.env).length) throw new Error(`host ${target.host}: role ${role}: a secret environment is for roles run on this machine only`);
    const command = roleCommandLine(role, action, args);
    const script = roleScript(role, root);
    const withRetries = async (ssh: () => Promise<{ code: number; stdout: string; stderr: string }>) => {
      let attempt = await ssh();
      // An sshd that drops connections (past its MaxStartups while an up opens many at once, or
      // restarting) is retried: roles are idempotent. A timeout, a refused key or host key is not.
      for (let i = 1; i < SSH_ATTEMPTS && attempt.code === SSH_FAILED && TRANSIENT_SSH.test(attempt.stderr); i++) {
        await new Promise((done) => setTimeout(done, 500 * i));
        attempt = await ssh();
      }
      return attempt;
    };
    r = opts.share
      ? await withRetries(() => sharedRun(target, creds, command, script))
      : await withSshFiles(target, creds, (key, knownHosts) => withRetries(() => runProcess("ssh", [...sshArgs(target, key, knownHosts), command], script)));
  }
  return { ...r, ...parseRoleOutput(r.stdout) };
}

/** Runs an arbitrary command on an SSH target (the bench and `ixlab ssh` use this path too). */
export async function runRemote(target: Extract<Target, { kind: "ssh" }>, creds: Credentials, command: string, input?: string) {
  return withSshFiles(target, creds, (key, knownHosts) => runProcess("ssh", [...sshArgs(target, key, knownHosts), command], input));
}

/** One line saying why a role failed, naming the host. */
export function describeFailure(target: Target, role: string, action: string, r: RoleResult): string {
  const where = target.kind === "local" ? "this machine" : `host ${target.host} (${target.user}@${target.address}:${target.port})`;
  const err = r.stderr.trim();
  if (target.kind === "ssh" && r.code === SSH_FAILED) {
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(err)) {
      return `${where}: SSH host key does not match the key pinned at first contact; refusing to connect. If the host was reinstalled on purpose, replace its pin with: pulumi up --replace <the host's hostKey resource URN>`;
    }
    return `${where}: cannot connect over SSH: ${err.split("\n").pop() || "ssh exited 255"}`;
  }
  const last = err.split("\n").filter((l) => l.trim()).slice(-3).join(" | ");
  return `${where}: role ${role} ${action} failed (exit ${r.code}): ${last || r.stdout.trim().split("\n").pop() || "no output"}`;
}
