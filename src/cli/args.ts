// A small flag parser: `--name value`, `--name=value`, boolean `--flag`, positionals. Unknown flags
// are errors naming the flag, so a typo never silently falls back to a default.
import { UsageError } from "./exit";

export interface FlagSpec {
  [name: string]: "string" | "boolean";
}

export interface Parsed {
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseArgs(argv: string[], spec: FlagSpec, verb: string): Parsed {
  const flags: Parsed["flags"] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg !== "-" && arg !== "-h") throw new UsageError(`ixlab ${verb}: unknown option ${arg}; see ixlab ${verb} --help`);
      if (arg === "-h") flags.help = true;
      else positionals.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const kind = name === "help" ? "boolean" : spec[name];
    if (!kind) throw new UsageError(`ixlab ${verb}: unknown option --${name}; see ixlab ${verb} --help`);
    if (kind === "boolean") {
      if (inline !== undefined) throw new UsageError(`ixlab ${verb}: --${name} takes no value`);
      flags[name] = true;
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith("--"))) throw new UsageError(`ixlab ${verb}: --${name} needs a value`);
      flags[name] = value;
    }
  }
  return { flags, positionals };
}
