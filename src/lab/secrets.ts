// A secret a lab file names by reference, read outside Pulumi: the one reading of `{ env: NAME }` (a
// variable ending in _FILE holds the path of a file with the secret) that the program and the CLI share.
import * as dotenv from "dotenv";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../paths";

/** Loads the repository's .env (local secrets for labs that do not use Pulumi secret config) into env. */
export function loadDotenv(env: NodeJS.ProcessEnv = process.env): void {
  dotenv.config({ path: path.join(repoRoot(), ".env"), quiet: true, processEnv: env as dotenv.DotenvPopulateInput });
}

/** The value of `{ env: name }`; `where` names the lab field in the error. */
export function readEnvSecret(name: string, where: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === "") throw new Error(`${where}: environment variable ${name} is not set (set it, or put it in .env)`);
  if (!name.endsWith("_FILE")) return value;
  try {
    return fs.readFileSync(value, "utf8");
  } catch (e) {
    throw new Error(`${where}: cannot read ${name}=${value}: ${(e as NodeJS.ErrnoException).code}`);
  }
}
