import * as path from "node:path";
import { displayPath, formatProblems, LabFileError, loadLabFile } from "../lab/load";
import { validateLab } from "../lab/validate";
import { repoRoot, stackFile } from "../paths";
import { parseArgs } from "./args";
import { EXIT_BAD_INPUT, EXIT_OK, UsageError } from "./exit";

export const help = `Usage: ixlab validate [--stack NAME | FILE] [--json]

Checks a lab description (the ixlab:lab key of Pulumi.<stack>.yaml, or a bare lab file) against the
schema and the lab rules. Prints one line per problem with its path and line; touches nothing.

Examples:
  ixlab validate --stack sim
  ixlab validate Pulumi.example-lab.yaml
  ixlab validate --json my-lab.yaml

Exit status: 0 valid, 2 invalid or unreadable.`;

export async function run(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, { stack: "string", json: "boolean" }, "validate");
  if (flags.help) {
    console.log(help);
    return EXIT_OK;
  }
  if (flags.stack && positionals.length > 0) throw new UsageError("ixlab validate: give --stack NAME or FILE, not both");
  if (positionals.length > 1) throw new UsageError("ixlab validate: give one FILE");
  const root = repoRoot();
  const file = positionals[0] ? path.resolve(positionals[0]) : stackFile((flags.stack as string | undefined) ?? "sim", root);
  let lines: string[];
  let summary: object | undefined;
  try {
    const loaded = loadLabFile(file);
    const result = validateLab(loaded.raw, { baseDir: root });
    if (result.ok) {
      const lab = result.lab;
      summary = { hosts: lab.hosts.length, links: lab.links.length, kernels: lab.kernels.length, variants: lab.variants.length, guests: lab.guests.length, sim: lab.sim !== undefined };
      lines = [];
    } else {
      lines = formatProblems(result.problems, loaded);
    }
  } catch (e) {
    if (e instanceof LabFileError) lines = e.lines;
    else throw e;
  }
  if (flags.json) {
    console.log(JSON.stringify({ file, valid: lines.length === 0, problems: lines, summary }, null, 2));
  } else if (lines.length === 0) {
    console.log(`${displayPath(file)}: valid lab ${JSON.stringify(summary)}`);
  } else {
    for (const line of lines) console.error(line);
    console.error(`${lines.length} problem(s) in ${displayPath(file)}`);
  }
  return lines.length === 0 ? EXIT_OK : EXIT_BAD_INPUT;
}
