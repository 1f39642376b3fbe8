import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { repoRoot } from "../paths";
import { parseArgs } from "./args";
import { EXIT_FAILED, EXIT_OK } from "./exit";

export const help = `Usage: ixlab toolchain [--check]

Builds (once per machine, from the Go module proxy, no prebuilt downloads) or locates the Pulumi CLI,
the Node.js language host, the dynamic-provider launcher and the command provider (from its vendored
source), and prints the directory holding them.
--check only reports whether they are there (exit 1 with the reason when not).

Example:
  export PATH="$(ixlab toolchain):$PATH"`;

export async function run(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, { check: "boolean" }, "toolchain");
  if (flags.help) {
    console.log(help);
    return EXIT_OK;
  }
  const script = path.join(repoRoot(), "scripts", "toolchain.sh");
  const r = spawnSync("bash", [script, ...(flags.check ? ["--check"] : [])], { stdio: ["ignore", "inherit", "inherit"] });
  return r.status === 0 ? EXIT_OK : EXIT_FAILED;
}
