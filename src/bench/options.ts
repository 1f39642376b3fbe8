// What `ixlab bench` runs: its flags checked against the topology's bench plan (every problem named
// by its flag, before anything runs), the named scenarios, and the run's options for run.json.
import { formatSize, parseDuration, parseSize } from "../lab/units";
import { BenchTest, RunOptions } from "./results";

export const TESTS: BenchTest[] = ["TCP_STREAM", "TCP_MAERTS", "TCP_RR", "UDP_STREAM"];

/** The reference experiment's stress scenarios, and what each changes in a cell. */
export const SCENARIOS = {
  "multi-stream": "N concurrent netperf streams per cell (--streams, default 4), throughput summed",
  "tcpdump-during-stream": "tcpdump on the dut host's test NIC for the whole stream (bounded by -c, stopped by its PID)",
  "sg-toggle-during-stream": "scatter-gather switched off and on on the dut host's test NIC during the stream; the original state restored; errors and retransmissions recorded",
  "small-message-sweep": "message sizes 64 B to 2K, where the guest's TX overruns",
} as const;
export type Scenario = keyof typeof SCENARIOS;

export const MULTI_STREAM_DEFAULT = 4;
export const SMALL_MESSAGE_SIZES = [64, 128, 256, 512, 1024, 2048];

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
}

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
export function benchOptions(flags: BenchFlags, plan: BenchPlan, lab: { variants: string[]; guests: string[] }): { options: RunOptions; guest?: string } {
  const problems: string[] = [];
  const bad = (flag: string, msg: string) => problems.push(`--${flag}: ${msg}`);

  let scenario: Scenario | null = null;
  if (flags.scenario !== undefined) {
    if (flags.scenario in SCENARIOS) scenario = flags.scenario as Scenario;
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

  let sizes = scenario === "small-message-sweep" ? SMALL_MESSAGE_SIZES : plan.sizes;
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

  let tests = plan.tests as BenchTest[];
  if (flags.tests !== undefined) {
    const given = list(flags.tests).map((t) => t.toUpperCase());
    const unknown = given.filter((t) => !TESTS.includes(t as BenchTest));
    if (unknown.length) bad("tests", `${unknown.map((t) => `"${t}"`).join(", ")}: not a test (known: ${TESTS.join(", ")})`);
    else if (duplicates(given).length) bad("tests", `${duplicates(given).join(", ")} given twice`);
    else tests = given as BenchTest[];
  }

  let streams = scenario === "multi-stream" ? MULTI_STREAM_DEFAULT : 1;
  if (flags.streams !== undefined) {
    if (!/^[0-9]+$/.test(flags.streams) || Number(flags.streams) < 1 || Number(flags.streams) > 64) bad("streams", `"${flags.streams}" is not a number of concurrent streams (1 to 64)`);
    else streams = Number(flags.streams);
  }
  if (streams > 1 && tests.some((t) => t === "TCP_RR")) bad("streams", "TCP_RR has no throughput to sum over streams; run it with one stream");

  if (flags.guest !== undefined && !lab.guests.includes(flags.guest)) bad("guest", `"${flags.guest}" is not a guest of this lab (guests: ${lab.guests.join(", ") || "none"})`);
  if (lab.guests.length === 0) problems.push("this lab has no guests: the bench runs netperf inside a guest (add one under lab.guests)");

  if (problems.length) throw new BenchFlagError(problems);
  const baseline = plan.baseline && variants.includes(plan.baseline) ? plan.baseline : undefined;
  const options: RunOptions = { variants, ...(baseline ? { baseline } : {}), tests, sizes, durationSeconds, repetitions, streams, scenario };
  return { options, ...(flags.guest ? { guest: flags.guest } : {}) };
}

/** Flags that shape the matrix: a resumed run takes its matrix from run.json, so these are refused. */
export const MATRIX_FLAGS = ["variants", "sizes", "duration", "reps", "tests", "scenario", "streams"] as const;

/** A new run's id: its start time, and the scenario when there is one (20250131T120000Z-multi-stream). */
export function runIdFor(started: string, scenario: string | null): string {
  return scenario ? `${started}-${scenario}` : started;
}
