// Runs the pulumi CLI in ixlab's environment (scripts/env.sh: toolchain on PATH, backend, passphrase),
// so `ixlab` and a person who sourced env.sh see the same stacks.
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { repoRoot } from "../paths";

/**
 * The command line that runs pulumi in ixlab's environment (for callers that manage the process).
 * The script is a constant: env.sh's path travels as an argument, so a clone in a directory whose
 * name holds `$(...)`, quotes or spaces runs nothing but pulumi.
 */
export function pulumiCommand(args: string[], root = repoRoot()): [string, string[]] {
  const env = path.join(root, "scripts", "env.sh");
  return ["bash", ["-c", 'source "$1" && shift && exec "$@"', "ixlab-pulumi", env, "pulumi", ...args]];
}

/**
 * Runs pulumi with the terminal attached; resolves to its exit code. On Ctrl-C (or SIGTERM) pulumi
 * cancels cleanly and releases the stack's lock: ixlab waits for that instead of exiting at once and
 * leaving pulumi running on behind the user's prompt (and the next command on a locked stack).
 */
export function runPulumi(args: string[]): Promise<number> {
  const [cmd, argv] = pulumiCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: repoRoot(), stdio: "inherit" });
    // Ctrl-C reaches pulumi from the terminal (it signals the whole foreground group); passing it on
    // as well would be pulumi's second Ctrl-C, "terminate immediately". SIGTERM is sent to one
    // process (a service manager, a CI runner): pass it on.
    const onInt = () => undefined;
    const onTerm = () => {
      if (child.exitCode === null) child.kill("SIGTERM");
    };
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    const done = () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    };
    child.on("error", (e) => { done(); reject(e); });
    child.on("exit", (code, signal) => { done(); resolve(code ?? (signal ? 128 + 1 : 1)); });
  });
}

/** Runs pulumi and captures its output (for stack outputs and existence checks). */
export function capturePulumi(args: string[]): { status: number; stdout: string; stderr: string } {
  const [cmd, argv] = pulumiCommand(args);
  const r = spawnSync(cmd, argv, { cwd: repoRoot(), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Creates the stack with the passphrase secrets provider if this backend does not have it yet. */
export function ensureStack(stack: string): void {
  const ls = capturePulumi(["stack", "ls", "--json"]);
  if (ls.status !== 0) throw new Error(`pulumi stack ls failed: ${ls.stderr.trim()}`);
  const names = (JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name.split("/").pop());
  if (names.includes(stack)) return;
  const init = capturePulumi(["stack", "init", stack, "--secrets-provider", "passphrase"]);
  if (init.status !== 0) throw new Error(`pulumi stack init ${stack} failed: ${init.stderr.trim()}`);
}

/**
 * Runs pulumi with extra environment (e.g. IXLAB_VARIANT) and hands each output line to `onLine` as
 * it comes, so a long `up` shows what it is doing; resolves to the exit code and the whole output.
 */
export function streamPulumi(args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): Promise<{ status: number; output: string }> {
  const [cmd, argv] = pulumiCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: repoRoot(), env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let partial = "";
    const take = (d: Buffer) => {
      output += d;
      const lines = (partial + d).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) onLine(l);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (partial) onLine(partial);
      resolve({ status: code ?? (signal ? 129 : 1), output });
    });
  });
}
