// What an SSH login to a lab host needs: where the host is, the stack's key and the pinned host key,
// ssh's options, and the private files ssh reads them from. Shared by the role runner (roles.ts) and
// its connection sharing (sshShare.ts), which each would otherwise import the other.
import * as fs from "node:fs";
import * as path from "node:path";

export type Target =
  | { kind: "local" }
  | {
      kind: "ssh";
      /** Lab host name, for messages. */
      host: string;
      address: string;
      port: number;
      user: string;
      /** Sim hosts: the namespace, so a delete can tell "host gone" from "host unreachable". */
      simNs?: string;
    };

export interface Credentials {
  privateKey: string;
  /** The pinned host key ("ssh-ed25519 AAAA..."); absent only while pinning it. */
  hostKey?: string;
}

export function sshArgs(target: Extract<Target, { kind: "ssh" }>, keyFile: string, knownHosts: string | undefined): string[] {
  return [
    "-i", keyFile,
    "-p", String(target.port),
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    "-o", "ServerAliveInterval=15",
    "-o", "GlobalKnownHostsFile=/dev/null",
    ...(knownHosts
      ? ["-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes"]
      : ["-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no"]),
    "-o", "LogLevel=ERROR",
    `${target.user}@${target.address}`,
  ];
}

/** Writes the key and the pinned host key (if any) into the private directory DIR, each 0600. */
export function writeSshFiles(dir: string, target: Extract<Target, { kind: "ssh" }>, creds: Credentials): { key: string; knownHosts?: string } {
  const key = path.join(dir, "key");
  fs.writeFileSync(key, creds.privateKey.endsWith("\n") ? creds.privateKey : creds.privateKey + "\n", { mode: 0o600 });
  if (!creds.hostKey) return { key };
  const knownHosts = path.join(dir, "known_hosts");
  const name = target.port === 22 ? target.address : `[${target.address}]:${target.port}`;
  fs.writeFileSync(knownHosts, `${name} ${creds.hostKey}\n`, { mode: 0o600 });
  return { key, knownHosts };
}

