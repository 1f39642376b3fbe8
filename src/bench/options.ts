// What `ixlab bench` runs: its flags checked against the topology's bench plan (every problem named
// by its flag, before anything runs), the named scenarios, and the run's options for run.json.
import { formatSize, parseDuration, parseSize } from "../lab/units";
import { BenchTest, RunOptions } from "./results";
import { scenarioNamed, SCENARIO_LIST } from "./scenarios";
import { MULTI_STREAM_DEFAULT } from "./scenarios/multi-stream";
import { SMALL_MESSAGE_SIZES } from "./scenarios/small-message-sweep";

export const TESTS: BenchTest[] = ["TCP_STREAM", "TCP_MAERTS", "TCP_RR", "UDP_STREAM"];

/** The reference experiment's stress scenarios (src/bench/scenarios/), by name: what each changes in a cell. */
export const SCENARIOS: Record<string, string> = Object.fromEntries(SCENARIO_LIST.map((s) => [s.name, s.description]));
export type Scenario = string;
export { MULTI_STREAM_DEFAULT, SMALL_MESSAGE_SIZES };

/** The topology's bench plan (`topology.bench`). */
export interface BenchPlan {
  tests: string[];
  sizes: number[];
  durationSeconds: number;
  repetitions: number;
  variants: string[];
  baseline?: string;
  scenarios?: string[];
}

/** The flags as parsed (strings), before checking. */
export interface BenchFlags {
  variants?: string;
  sizes?: string;
  duration?: string;
  reps?: string;
  tests?: string;
  scenario?: string;
  streams?: string;
  guest?: string;
  order?: string;
  untilCi?: string;
  maxReps?: string;
  series?: string;
}

/** What the lab file says that the flags are checked against (see labLimits in src/cli/bench.ts). */
export interface LabFacts {
  variants: string[];
  guests: string[];
  /** Kernels and their patch series (file names in order), for --series; null: no series. */
  kernels?: { name: string; patches: string[] | null; why?: string }[];
  /** The variant a series walk runs its prefixes on (the lab's active variant). */
  activeVariant?: string;
  /**
   * The lab's own rules for its bench section with the flags' values put in: one problem per flag
   * (e.g. { flag: "duration", message: "..." }), so a flag never accepts what the lab file refuses.
   */
  benchRules?: (bench: { sizes?: number[]; durationSeconds?: number; repetitions?: number }) => { flag: string; message: string }[];
}

export const ORDERS = ["blocked", "interleaved"] as const;
export type Order = (typeof ORDERS)[number];
/** --max-reps when --until-ci is given without it. */
export const DEFAULT_MAX_REPS = 10;

export class BenchFlagError extends Error {
  constructor(public readonly lines: string[]) {
    super(lines.join("\n"));
  }
}

function list(value: string): string[] {
  return value.split(",").map((s) => s.trim());
}

function duplicates(items: (string | number)[]): (string | number)[] {
  return items.filter((x, i) => items.indexOf(x) !== i);
}

/**
 * The run's options from the flags and the topology's bench plan. Throws BenchFlagError with one
 * line per problem, each naming its flag. `variants` are the lab's variant names, `guests` its guests.
 */
export function benchOptions(flags: BenchFlags, plan: BenchPlan, lab: LabFacts): { options: RunOptions; guest?: string; seriesVariant?: string } {
  const problems: string[] = [];
  const bad = (flag: string, msg: string) => problems.push(`--${flag}: ${msg}`);

  let scenario: Scenario | null = null;
  if (flags.scenario !== undefined) {
    if (scenarioNamed(flags.scenario)) scenario = flags.scenario;
    else bad("scenario", `"${flags.scenario}" is not a scenario (known: ${Object.keys(SCENARIOS).join(", ")})`);
  }

  let variants = plan.variants;
  if (flags.variants !== undefined) {
    variants = list(flags.variants);
    const unknown = variants.filter((v) => !lab.variants.includes(v));
    if (variants.some((v) => v === "")) bad("variants", `"${flags.variants}" has an empty name (give names separated by commas)`);
    else if (unknown.length) bad("variants", `${unknown.map((v) => `"${v}"`).join(", ")} ${unknown.length > 1 ? "are not variants" : "is not a variant"} of this lab (known: ${lab.variants.join(", ")})`);
    else if (duplicates(variants).length) bad("variants", `${duplicates(variants).join(", ")} given twice`);
  }

  let sizes = scenarioNamed(scenario)?.sizes ?? plan.sizes;
  if (flags.sizes !== undefined) {
    const parsed = list(flags.sizes).map((s) => ({ s, n: parseSize(s) }));
    const wrong = parsed.filter((p) => p.n === undefined);
    if (wrong.length) bad("sizes", `${wrong.map((p) => JSON.stringify(p.s)).join(", ")}: not a message size (bytes, or with K/M: 64, 4K, 64K)`);
    else {
      sizes = parsed.map((p) => p.n!);
      const big = sizes.filter((n) => n > 1024 * 1024);
      if (big.length) bad("sizes", `${big.map(formatSize).join(", ")}: larger than netperf's 1M send size limit here`);
      if (duplicates(sizes).length) bad("sizes", `${duplicates(sizes).map((n) => formatSize(n as number)).join(", ")} given twice`);
    }
  }

  let durationSeconds = plan.durationSeconds;
  if (flags.duration !== undefined) {
    const d = parseDuration(flags.duration);
    if (d === undefined) bad("duration", `"${flags.duration}" is not a duration (whole seconds, or 90s, 2m)`);
    else durationSeconds = d;
  }

  let repetitions = plan.repetitions;
  if (flags.reps !== undefined) {
    if (!/^[0-9]+$/.test(flags.reps) || Number(flags.reps) < 1 || Number(flags.reps) > 100) bad("reps", `"${flags.reps}" is not a number of repetitions (1 to 100)`);
    else repetitions = Number(flags.reps);
  }

  let order: Order = "blocked";
  if (flags.order !== undefined) {
    if ((ORDERS as readonly string[]).includes(flags.order)) order = flags.order as Order;
    else bad("order", `"${flags.order}" is not an order (blocked: each variant's cells together; interleaved: variants alternate per repetition round)`);
  }

  let untilCi: number | undefined;
  if (flags.untilCi !== undefined) {
    const m = /^([0-9]+(?:\.[0-9]+)?)%?$/.exec(flags.untilCi.trim());
    if (!m || Number(m[1]) <= 0 || Number(m[1]) > 50) bad("until-ci", `"${flags.untilCi}" is not a target for the 95% CI half-width (a percentage of the mean above 0 and at most 50, e.g. 2%)`);
    else untilCi = Number(m[1]);
  }
  let maxReps: number | undefined;
  if (flags.maxReps !== undefined) {
    if (!/^[0-9]+$/.test(flags.maxReps) || Number(flags.maxReps) < 2 || Number(flags.maxReps) > 100) bad("max-reps", `"${flags.maxReps}" is not a number of repetitions (2 to 100)`);
    else if (untilCi === undefined && flags.untilCi === undefined) bad("max-reps", "caps --until-ci; give --until-ci too (or use --reps for a fixed count)");
    else maxReps = Number(flags.maxReps);
  }
  if (untilCi !== undefined) {
    // A CI needs two values; --reps is where every cell starts.
    if (flags.reps === undefined) repetitions = Math.min(repetitions, 3);
    if (repetitions < 2) bad("reps", `${repetitions}: --until-ci needs at least 2 repetitions per cell to start from`);
    maxReps ??= Math.max(DEFAULT_MAX_REPS, repetitions);
    if (maxReps < repetitions) bad("max-reps", `${maxReps} is below --reps ${repetitions}`);
  }

  let series: RunOptions["series"];
  if (flags.series !== undefined) {
    const k = lab.kernels?.find((x) => x.name === flags.series);
    if (!lab.kernels) bad("series", "the lab file could not be read, so its kernels are unknown");
    else if (!k) bad("series", `"${flags.series}" is not a kernel of this lab (kernels: ${lab.kernels.map((x) => x.name).join(", ") || "none"})`);
    else if (!k.patches || k.patches.length === 0) bad("series", `kernel ${k.name} has no patch series to walk (${k.why ?? "lab.kernels[].patches is not set"})`);
    else {
      series = { kernel: k.name, prefixes: Array.from({ length: k.patches.length + 1 }, (_, n) => ({ variant: `p${n}`, patches: k.patches!.slice(0, n) })) };
      if (flags.variants !== undefined && variants.length !== 1) bad("variants", "a series walk runs every prefix on one variant of the lab; give one name (or none: the lab's active variant)");
      if (flags.variants === undefined && !lab.activeVariant) bad("series", "the lab has no variant to run the prefixes on (lab.variants)");
    }
  }

  let tests = plan.tests as BenchTest[];
  if (flags.tests !== undefined) {
    const given = list(flags.tests).map((t) => t.toUpperCase());
    const unknown = given.filter((t) => !TESTS.includes(t as BenchTest));
    if (unknown.length) bad("tests", `${unknown.map((t) => `"${t}"`).join(", ")}: not a test (known: ${TESTS.join(", ")})`);
    else if (duplicates(given).length) bad("tests", `${duplicates(given).join(", ")} given twice`);
    else tests = given as BenchTest[];
  }

  let streams = scenarioNamed(scenario)?.streams ?? 1;
  if (flags.streams !== undefined) {
    if (!/^[0-9]+$/.test(flags.streams) || Number(flags.streams) < 1 || Number(flags.streams) > 64) bad("streams", `"${flags.streams}" is not a number of concurrent streams (1 to 64)`);
    else streams = Number(flags.streams);
  }
  if (streams > 1 && tests.some((t) => t === "TCP_RR")) bad("streams", "TCP_RR has no throughput to sum over streams; run it with one stream");

  if (flags.guest !== undefined && !lab.guests.includes(flags.guest)) bad("guest", `"${flags.guest}" is not a guest of this lab (guests: ${lab.guests.join(", ") || "none"})`);
  if (lab.guests.length === 0) problems.push("this lab has no guests: the bench runs netperf inside a guest (add one under lab.guests)");

  if (lab.benchRules && problems.length === 0) for (const p of lab.benchRules({ sizes, durationSeconds, repetitions: maxReps ?? repetitions })) bad(p.flag, p.message);

  if (problems.length) throw new BenchFlagError(problems);
  let baseline = plan.baseline && variants.includes(plan.baseline) ? plan.baseline : undefined;
  let seriesVariant: string | undefined;
  if (series) {
    seriesVariant = flags.variants !== undefined ? variants[0] : lab.activeVariant!;
    variants = series.prefixes.map((p) => p.variant);
    baseline = "p0";
  }
  const options: RunOptions = {
    variants, ...(baseline ? { baseline } : {}), tests, sizes, durationSeconds, repetitions, streams, scenario,
    ...(flags.order !== undefined ? { order } : {}),
    ...(untilCi !== undefined ? { untilCi, maxReps } : {}),
    ...(series ? { series } : {}),
  };
  return { options, ...(flags.guest ? { guest: flags.guest } : {}), ...(seriesVariant ? { seriesVariant } : {}) };
}

/** Flags that shape the matrix: a resumed run takes its matrix from run.json, so these are refused. */
export const MATRIX_FLAGS = ["variants", "sizes", "duration", "reps", "tests", "scenario", "streams", "order", "until-ci", "max-reps", "series"] as const;

/** A new run's id: its start time, and the scenario when there is one (20250131T120000Z-multi-stream). */
export function runIdFor(started: string, scenario: string | null): string {
  return scenario ? `${started}-${scenario}` : started;
}
