// The SSH private key of each host of a stack, for `ixlab ssh` and the bench. An embedded lab's keys are
// the stack's own (the `sshKeys` secret output); a real lab's are read from where its lab file says
// (`sshKeyRefs`: an environment variable or .env, or the stack's secret config), so the stack never
// holds a copy of a key it did not make.
import { UsageError } from "../cli/exit";
import type { SecretRef } from "../lab/model";
import { loadDotenv, readEnvSecret } from "../lab/secrets";
import { capturePulumi } from "./cli";
import { stackOutput } from "./outputs";

/** One referenced key, read the way the program read it. */
export function readKeyRef(stack: string, host: string, ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  const where = `stack ${stack}: host ${host}'s ssh.key`;
  if (ref.env) {
    loadDotenv(env);
    try {
      return readEnvSecret(ref.env, where, env);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const r = capturePulumi(["config", "get", `ixlab:${ref.secret}`, "--stack", stack]);
  if (r.status !== 0) throw new UsageError(`${where}: cannot read secret config ixlab:${ref.secret}: ${r.stderr.trim().split("\n").pop()}`);
  return r.stdout.replace(/\n$/, "");
}

/** Private keys by host name. */
export function hostKeys(stack: string): Record<string, string> {
  // Both maps in one pulumi call (each call starts the CLI and decrypts the state).
  const outputs = stackOutput<{ sshKeys?: Record<string, string>; sshKeyRefs?: Record<string, SecretRef> }>(stack, "", true);
  if (!outputs.sshKeys) throw new UsageError(`stack ${stack} has no output sshKeys; run: ixlab pulumi up --stack ${stack}`);
  const keys = { ...outputs.sshKeys };
  const refs = outputs.sshKeyRefs ?? {};
  for (const [host, ref] of Object.entries(refs)) keys[host] = readKeyRef(stack, host, ref);
  return keys;
}
