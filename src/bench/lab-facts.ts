// What `ixlab bench` checks its flags against before it touches a stack: the stack's lab file
// (Pulumi.<stack>.yaml), validated as `ixlab validate` does, its bench defaults, variants, guests and
// kernels' patch series, and the lab's own rules for the bench section, applied to the flags' values.
import * as fs from "node:fs";
import * as path from "node:path";
import { displayPath, formatProblems, LabFileError, loadLabFile } from "../lab/load";
import { Lab } from "../lab/model";
import { validateLab } from "../lab/validate";
import { stackFile } from "../paths";
import type { BenchPlan, LabFacts } from "./options";

/** The patch file names of a kernel's series, in order; null with why when it cannot be walked. */
export function seriesOf(patches: string | undefined, root: string): { patches: string[] | null; why?: string } {
  if (!patches) return { patches: null, why: "lab.kernels[].patches is not set" };
  const p = path.resolve(root, patches);
  if (!fs.existsSync(p)) return { patches: null, why: `${patches} does not exist` };
  if (fs.statSync(p).isDirectory()) return { patches: fs.readdirSync(p).filter((f) => f.endsWith(".patch")).sort() };
  const mails = (fs.readFileSync(p, "utf8").match(/^From [0-9a-f]{40} /gm) ?? []).length;
  if (mails > 1) return { patches: null, why: `${patches} is an mbox of ${mails} patches; a series walk needs a directory of .patch files` };
  return { patches: [path.basename(p)] };
}

const FLAG_OF: Record<string, string> = { sizes: "sizes", duration: "duration", repetitions: "reps", tests: "tests", variants: "variants", streams: "streams" };

export type LabRead = { ok: true; lab: Lab; facts: LabFacts; plan: BenchPlan } | { ok: false; lines: string[] };

export function readLabFacts(stack: string, root: string): LabRead {
  const file = stackFile(stack, root);
  if (!fs.existsSync(file)) return { ok: false, lines: [`--stack: no lab file ${displayPath(file)} for stack ${stack} (a stack's lab is Pulumi.<stack>.yaml in the repository)`] };
  let loaded;
  try {
    loaded = loadLabFile(file);
  } catch (e) {
    if (e instanceof LabFileError) return { ok: false, lines: e.lines };
    throw e;
  }
  const result = validateLab(loaded.raw, { baseDir: root });
  if (!result.ok) return { ok: false, lines: [...formatProblems(result.problems, loaded), `${displayPath(file)}: the lab description is invalid (run: ixlab validate --stack ${stack})`] };
  const lab = result.lab;
  const raw = loaded.raw as Record<string, unknown>;
  const facts: LabFacts = {
    variants: lab.variants.map((v) => v.name),
    guests: lab.guests.map((g) => g.name),
    kernels: lab.kernels.map((k) => ({ name: k.name, ...seriesOf(k.patches, root) })),
    activeVariant: lab.derived.activeVariant ?? lab.variants[0]?.name,
    benchRules: (b) => {
      const bench = { ...(raw.bench as Record<string, unknown> | undefined) };
      if (b.sizes) bench.sizes = b.sizes;
      if (b.durationSeconds !== undefined) bench.duration = b.durationSeconds;
      if (b.repetitions !== undefined) bench.repetitions = b.repetitions;
      const r = validateLab({ ...raw, bench }, { baseDir: root });
      if (r.ok) return [];
      return r.problems
        .filter((p) => p.path[0] === "bench" && typeof p.path[1] === "string" && FLAG_OF[p.path[1]])
        .map((p) => ({ flag: FLAG_OF[p.path[1] as string], message: `${p.message.replace(/lab\.bench\.sizes\[\d+\]/g, "another size")} (the lab's limit for bench.${p.path[1]})` }));
    },
  };
  const plan: BenchPlan = { tests: lab.bench.tests, sizes: lab.derived.sizes, durationSeconds: lab.derived.durationSeconds, repetitions: lab.bench.repetitions, variants: lab.derived.benchVariants, baseline: lab.derived.baseline, scenarios: lab.bench.scenarios };
  return { ok: true, lab, facts, plan };
}
