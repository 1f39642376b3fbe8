// One SSH connection per lab machine for the length of a bench: the stack's key and the pinned host
// key in a private 0600 directory (src/remote/roles.ts sshArgs), and OpenSSH connection sharing
// (ControlMaster) so the samples and netperf runs of a cell do not each pay for a key exchange.
// The key never leaves that directory; close() removes it and stops the shared connection.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { socketSecretDir } from "../remote/secretDir";
import { sshArgs, Target } from "../remote/roles";

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the command was stopped for taking longer than timeoutMs. */
  timedOut?: boolean;
}

export interface RunOpts {
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const CONTROL = "cm";

/**
 * The session's private directory: under BASE (TMPDIR), unless the control socket's path would be too
 * long there (a CI job's deep temp directory), then in the user's own private directory under /tmp.
 */
export function sessionDir(base = os.tmpdir()): string {
  return socketSecretDir("bench", CONTROL, base);
}

export class SshSession {
  private closed = false;
  private constructor(
    public readonly name: string,
    private readonly dir: string,
    private readonly args: string[],
  ) {}

  /** A session to an SSH target; nothing connects until the first run(). */
  static open(name: string, target: Extract<Target, { kind: "ssh" }>, privateKey: string, hostKey: string): SshSession {
    const dir = sessionDir();
    const key = path.join(dir, "key");
    fs.writeFileSync(key, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    const knownHosts = path.join(dir, "known_hosts");
    fs.writeFileSync(knownHosts, `${target.port === 22 ? target.address : `[${target.address}]:${target.port}`} ${hostKey}\n`, { mode: 0o600 });
    // ControlPersist bounds how long a master outlives a bench that was killed.
    const share = ["-o", "ControlMaster=auto", "-o", `ControlPath=${path.join(dir, CONTROL)}`, "-o", "ControlPersist=60"];
    return new SshSession(name, dir, [...share, ...sshArgs(target, key, knownHosts)]);
  }

  /** Runs a command (a shell line on the far side); never throws for a non-zero exit. */
  run(command: string, opts: RunOpts = {}): Promise<Exec> {
    if (this.closed) return Promise.resolve({ code: 255, stdout: "", stderr: `${this.name}: session closed` });
    return new Promise((resolve, reject) => {
      const child = spawn("ssh", [...this.args, command], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), child.kill("SIGTERM")), opts.timeoutMs) : undefined;
      const abort = () => child.kill("SIGTERM");
      opts.signal?.addEventListener("abort", abort, { once: true });
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code, signal) => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener("abort", abort);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ...(timedOut ? { timedOut } : {}) });
      });
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.input ?? "");
    });
  }

  /** Stops the shared connection and removes the key. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      const c = spawn("ssh", ["-o", `ControlPath=${path.join(this.dir, CONTROL)}`, "-O", "exit", "ixlab-bench"], { stdio: "ignore" });
      c.on("error", () => resolve());
      c.on("close", () => resolve());
    });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
