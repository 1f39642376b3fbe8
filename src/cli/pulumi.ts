import { capturePulumi, ensureStack, runPulumi } from "../pulumi/cli";
import { backendUrl, clearStaleLocks, lockDir, repairCheckpoint, stacksDir } from "../pulumi/locks";
import { EXIT_OK } from "./exit";

export const help = `Usage: ixlab pulumi <pulumi arguments...>

Runs the pulumi CLI with ixlab's toolchain, state backend and passphrase (the same as
\`source scripts/env.sh\`). When the arguments name a stack with --stack NAME (or -s NAME) that this
backend does not have yet, it is created first with the passphrase secrets provider. A stack lock
left by a pulumi that was killed on this machine (its process is gone) is removed first, saying so;
a lock held by a running pulumi is left alone, so a second update of one stack fails clearly. The
killed pulumi's pending creates are then dropped from the state (the next up creates them again; every
create converges what it finds).

Examples:
  ixlab pulumi preview --stack sim
  ixlab pulumi up --stack sim --yes
  ixlab pulumi stack output topology --json --stack sim
  ixlab pulumi destroy --stack sim --yes`;

/**
 * A pulumi killed outright also leaves "pending creates" in the state: resources it had asked for
 * without hearing back. Every ixlab create converges what it finds on the host (a half-made
 * namespace, a running QEMU), so they are dropped and the next `up` simply creates them again.
 */
function clearPendingCreates(stack: string): void {
  console.error(`ixlab: stack ${stack}: dropping the killed pulumi's pending creates (pulumi refresh --clear-pending-creates); the next up converges them`);
  const r = capturePulumi(["refresh", "--clear-pending-creates", "--yes", "--skip-preview", "--non-interactive", "--stack", stack]);
  if (r.status !== 0) console.error(`ixlab: stack ${stack}: that refresh failed; its last lines:\n${(r.stdout + r.stderr).trim().split("\n").slice(-5).join("\n")}`);
}

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
    console.log(help);
    return EXIT_OK;
  }
  const i = argv.findIndex((a) => a === "--stack" || a === "-s");
  const stack = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith("--stack="))?.slice("--stack=".length);
  if (stack && argv[0] !== "stack") {
    // A killed pulumi's leftovers first: a torn checkpoint file fails even the `stack ls` below.
    const removed = clearStaleLocks(lockDir(backendUrl(), "ixlab", stack));
    if (removed.length > 0) removed.push(...repairCheckpoint(stacksDir(backendUrl(), "ixlab"), stack));
    for (const line of removed) console.error(`ixlab: stack ${stack}: ${line}`);
    ensureStack(stack);
    if (removed.length > 0) clearPendingCreates(stack);
  }
  return runPulumi(argv);
}
