// SSH identities: a key pair generated per stack (the private half lives only in Pulumi state, as a
// secret, and in short-lived 0600 temp files while ssh runs), and host keys pinned at first contact.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeSecretDir } from "./secretDir";
import { describeFailure, runRemote, Target } from "./roles";

export function generateKeyPair(comment: string): { publicKey: string; privateKey: string } {
  const dir = makeSecretDir("keygen");
  try {
    const file = path.join(dir, "id_ed25519");
    const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr || r.error}`);
    return { publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim(), privateKey: fs.readFileSync(file, "utf8") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The public half of an OpenSSH private key (ssh-keygen -y), e.g. to authorize it in a guest. */
export function publicKeyOf(privateKey: string): string {
  const dir = makeSecretDir("pub");
  try {
    const file = path.join(dir, "key");
    fs.writeFileSync(file, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    const r = spawnSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ssh-keygen -y could not read the lab's SSH private key: ${(r.stderr || String(r.error)).trim()}`);
    return r.stdout.trim();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function keyscan(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh-keyscan", ["-T", "5", "-p", String(port), "-t", "ed25519", address], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
}

/**
 * Trust on first use: reads the host's ed25519 key, then proves it by logging in with the lab key
 * against exactly that pin. Retries for a few seconds while a fresh host's sshd is starting.
 */
export async function pinHostKey(target: Extract<Target, { kind: "ssh" }>, privateKey: string, timeoutMs = 15000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let line = "";
  while (Date.now() < deadline) {
    line = (await keyscan(target.address, target.port)).split("\n").find((l) => / ssh-ed25519 /.test(l)) ?? "";
    if (line) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  if (!line) throw new Error(`host ${target.host}: no SSH server answered on ${target.address}:${target.port} within ${timeoutMs / 1000} s (is sshd running, and is the address right?)`);
  const hostKey = line.split(" ").slice(1, 3).join(" ");
  const r = await runRemote(target, { privateKey, hostKey }, "true");
  if (r.code !== 0) throw new Error(describeFailure(target, "ssh", "login", { ...r, changed: 0 }));
  return hostKey;
}
