// Stack config -> validated lab model, for the Pulumi program. A bad lab stops the program before any
// resource is declared, with the same one-line-per-problem messages as `ixlab validate`.
import * as pulumi from "@pulumi/pulumi";
import { Lab, SecretRef } from "../src/lab/model";
import { loadDotenv, readEnvSecret } from "../src/lab/secrets";
import { SeriesPrefix, seriesPrefix } from "../src/lab/series";
import { resolveVariant, RunningVariant } from "../src/lab/variant";
import { formatProblem, validateLab } from "../src/lab/validate";
import { repoRoot } from "../src/paths";

export function loadLab(): Lab {
  const root = repoRoot();
  // .env holds local secrets (key paths, BMC passwords) for labs that do not use Pulumi secret config.
  loadDotenv();
  const raw = new pulumi.Config("ixlab").getObject<unknown>("lab");
  const result = validateLab(raw, { baseDir: root });
  if (!result.ok) {
    const stack = pulumi.getStack();
    const lines = result.problems.map(formatProblem);
    throw new pulumi.RunError(`Pulumi.${stack}.yaml: the lab description is invalid (run: ixlab validate --stack ${stack}):\n  ${lines.join("\n  ")}`);
  }
  return result.lab;
}

/**
 * A secret named by a lab file, as a Pulumi secret Output: from secret config (`secret`) or from the
 * environment / .env (`env`; a variable ending in _FILE holds the path of a file with the secret).
 */
export function resolveSecret(ref: SecretRef, where: string): pulumi.Output<string> {
  if (ref.secret) return new pulumi.Config("ixlab").requireSecret(ref.secret);
  try {
    return pulumi.secret(readEnvSecret(ref.env as string, where));
  } catch (e) {
    throw new pulumi.RunError((e as Error).message);
  }
}

/**
 * The variant this run converges the lab to. The one place the program reads IXLAB_VARIANT (how
 * `ixlab bench` switches variants through the stack); unset, the lab's own variant runs.
 */
export function runningVariant(lab: Lab, env: NodeJS.ProcessEnv = process.env): RunningVariant | undefined {
  try {
    return resolveVariant(lab, env.IXLAB_VARIANT, "IXLAB_VARIANT");
  } catch (e) {
    throw new pulumi.RunError((e as Error).message);
  }
}

/**
 * The prefix of a kernel's patch series this run builds, for a series walk (`ixlab bench --series`
 * sets IXLAB_SERIES=KERNEL:N); unset, every kernel builds its whole series.
 */
export function runningSeriesPrefix(lab: Lab, env: NodeJS.ProcessEnv = process.env): SeriesPrefix | undefined {
  try {
    return seriesPrefix(lab, env);
  } catch (e) {
    throw new pulumi.RunError((e as Error).message);
  }
}
