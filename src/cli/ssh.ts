import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeSecretDir } from "../remote/secretDir";
import { hostKeys } from "../pulumi/keys";
import { readTopology } from "../pulumi/outputs";
import { parseArgs } from "./args";
import { EXIT_OK, UsageError } from "./exit";

export const help = `Usage: ixlab ssh [--stack NAME] HOST|GUEST [-- COMMAND...]

Opens an SSH session (or runs COMMAND) on a lab host or guest, with the stack's key and the host key
pinned at first contact (a guest: the key made for it), from the stack's topology output. A guest is
reached through the SSH port its QEMU forwards on its host's management address. Nothing is written outside a temporary 0600 directory
that is removed afterwards.

Examples:
  ixlab ssh --stack sim dut
  ixlab ssh --stack sim dut -- netperf -H 198.19.0.2 -p 12865 -t TCP_STREAM -l 10
  ixlab ssh --stack sim vm1 -- uname -r`;

export async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf("--");
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const { flags, positionals } = parseArgs(own, { stack: "string" }, "ssh");
  if (flags.help) {
    console.log(help);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("ixlab ssh: name one host or guest; see ixlab ssh --help");
  const stack = (flags.stack as string | undefined) ?? "sim";
  const topology = readTopology(stack);
  const name = positionals[0];
  const host = topology.hosts.find((h) => h.name === name);
  const guest = topology.guests?.find((g) => g.name === name);
  if (!host && !guest) {
    const known = [...topology.hosts.map((h) => h.name), ...(topology.guests ?? []).map((g) => g.name)];
    throw new UsageError(`ixlab ssh: "${name}" is not a host or guest of stack ${stack} (known: ${known.join(", ")})`);
  }
  const m = host ? host.management : guest!.management;
  if (!m.hostKey) throw new UsageError(`ixlab ssh: ${host ? "host" : "guest"} ${name} has no pinned host key yet; run: ixlab pulumi up --stack ${stack}`);
  // A guest authorizes the key of the host it runs on.
  const keyOf = host ? host.name : guest!.host;
  const key = hostKeys(stack)[keyOf];
  if (!key) throw new UsageError(`ixlab ssh: stack ${stack} has no SSH key for host ${keyOf}; run: ixlab pulumi up --stack ${stack}`);
  const dir = makeSecretDir("ssh");
  try {
    fs.writeFileSync(path.join(dir, "key"), key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "known_hosts"), `${m.port === 22 ? m.address : `[${m.address}]:${m.port}`} ${m.hostKey}\n`, { mode: 0o600 });
    const args = ["-i", path.join(dir, "key"), "-p", String(m.port), "-o", "IdentitiesOnly=yes", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`, "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", ...(command.length === 0 && process.stdin.isTTY ? ["-t"] : []), `${m.user}@${m.address}`, ...command];
    return await new Promise<number>((resolve, reject) => {
      const child = spawn("ssh", args, { stdio: "inherit" });
      child.on("error", reject);
      child.on("exit", (code) => resolve(code ?? 1));
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
