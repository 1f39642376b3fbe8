import { ensureStack, runPulumi } from "../pulumi/cli";
import { backendUrl, clearStaleLocks, lockDir } from "../pulumi/locks";
import { EXIT_OK } from "./exit";

export const help = `Usage: ixlab pulumi <pulumi arguments...>

Runs the pulumi CLI with ixlab's toolchain, state backend and passphrase (the same as
\`source scripts/env.sh\`). When the arguments name a stack with --stack NAME (or -s NAME) that this
backend does not have yet, it is created first with the passphrase secrets provider. A stack lock
left by a pulumi that was killed on this machine (its process is gone) is removed first, saying so;
a lock held by a running pulumi is left alone, so a second update of one stack fails clearly.

Examples:
  ixlab pulumi preview --stack sim
  ixlab pulumi up --stack sim --yes
  ixlab pulumi stack output topology --json --stack sim
  ixlab pulumi destroy --stack sim --yes`;

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
    console.log(help);
    return EXIT_OK;
  }
  const i = argv.findIndex((a) => a === "--stack" || a === "-s");
  const stack = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith("--stack="))?.slice("--stack=".length);
  if (stack && argv[0] !== "stack") {
    ensureStack(stack);
    for (const line of clearStaleLocks(lockDir(backendUrl(), "ixlab", stack))) console.error(`ixlab: stack ${stack}: ${line}`);
  }
  return runPulumi(argv);
}
