// The on-disk results of a bench run, kept like LKP-tests and pbench keep theirs: one directory per
// run, raw tool output next to parsed JSON, never overwritten.
//
//   results/<stack>/<run>/run.json                  what was asked (options) and the environment
//   results/<stack>/<run>/cells/<cellId>/cell.json  one finished cell: its figures
//   results/<stack>/<run>/cells/<cellId>/*.txt      its raw outputs (netperf, /proc samples, ...)
//
// A cell's directory appears only complete: it is written under a temporary name and renamed, so a
// killed run leaves finished cells and nothing half-written, and --resume runs what is missing.
import Ajv2020, { ErrorObject, ValidateFunction } from "ajv/dist/2020";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseSize, formatSize } from "../lab/units";
import schema from "./results.schema.json";
import { baseMatrix, pendingCells, Pending, repetitionCap, sortCells } from "./schedule";

export type BenchTest = "TCP_STREAM" | "TCP_MAERTS" | "TCP_RR" | "UDP_STREAM";

export const RUN_SCHEMA = "ixlab-run/1";
export const CELL_SCHEMA = "ixlab-cell/1";
export const DEFAULT_LINE_RATE_MBPS = 10000;

export interface RunOptions {
  /** Variants in run order; the first is the baseline unless `baseline` says otherwise. */
  variants: string[];
  baseline?: string;
  tests: BenchTest[];
  /** Message sizes in bytes. */
  sizes: number[];
  durationSeconds: number;
  repetitions: number;
  /** Concurrent netperf streams per cell (1 unless the multi-stream scenario). */
  streams: number;
  scenario: string | null;
  /** The link's line rate for "% of line rate"; 10000 (10GbE) when absent. */
  lineRateMbps?: number;
  /** blocked (absent: each variant's cells together) or interleaved (variants alternate per repetition round). */
  order?: "blocked" | "interleaved";
  /** Repeat a cell until its 95% CI half-width is within this percentage of its mean ... */
  untilCi?: number;
  /** ... or until it has this many repetitions. */
  maxReps?: number;
  /** A series walk: each prefix of a kernel's patch series is a variant p0 (no patches) .. pN. */
  series?: { kernel: string; prefixes: { variant: string; patches: string[] }[] };
}

/** What actually ran for a cell, read from the dut host when it started (results.schema.json#/$defs/datapath). */
export interface Datapath {
  vhost: boolean;
  vhostWorkers: number[] | null;
  zeroCopy: boolean | null;
  hostKernel: string | null;
  guestKernel: string | null;
  qemuCmdlineSha256: string | null;
  mtu: number | null;
  offloads: Record<string, boolean> | null;
  note?: string;
  /** What the test NIC's queue interrupts are named after in /proc/interrupts (virtio2 for virtio-net, else the NIC). */
  irqDevice?: string;
  zeroCopyCounters?: { sends: number; copies: number; completions: number } | null;
}

export interface RunRecord {
  schema: typeof RUN_SCHEMA;
  stack: string;
  run: string;
  started: string;
  /** null while the run goes on, and after it was killed. */
  ended: string | null;
  options: RunOptions;
  /** Free-form: kernels, qemu version, NIC driver and firmware, tuning, zero-copy state, lab git revision. */
  environment: Record<string, unknown>;
}

/** What names a cell: the same key always gives the same id, so --resume can skip finished cells. */
export interface CellKey {
  variant: string;
  test: BenchTest;
  size: number;
  streams: number;
  repetition: number;
}

export interface CellRecord extends CellKey {
  schema: typeof CELL_SCHEMA;
  id: string;
  sizeLabel: string;
  scenario: string | null;
  started: string;
  ended: string;
  /** Stream tests: Mb/s (10^6 bits/s) summed over streams. null for TCP_RR and failed cells. */
  throughputMbps: number | null;
  transactionsPerSec?: number | null;
  netperf: { localCpuPct: number | null; remoteCpuPct: number | null; localServiceDemand?: number | null; remoteServiceDemand?: number | null; serviceDemandUnit?: "us/KB" | "us/Tr" | null };
  /** Percent of one CPU: qemu's threads without the vhost workers. */
  qemuCpuPct: number | null;
  /** Percent of one CPU: every vhost-<qemu pid> worker. */
  vhostCpuPct: number | null;
  guestCpuPct: number | null;
  irqPerSec: number | null;
  /** Why irqPerSec is null, e.g. "none found: ..." on a veth. */
  irqNote?: string;
  kvmExitsPerSec: number | null;
  errors: string[];
  retransmissions: number | null;
  /** The raw files in the cell's directory, by role (netperf, proc-before, proc-after, ...). */
  raw: Record<string, string>;
  extra?: Record<string, unknown>;
  /** Absent in runs written before cells recorded it. */
  datapath?: Datapath;
}

/** A cell as the runner hands it over: the record without what writeCell fills in. */
export type NewCell = Omit<CellRecord, "schema" | "id" | "sizeLabel" | "raw"> & { sizeLabel?: string };

export class ResultsError extends Error {
  constructor(public readonly lines: string[]) {
    super(lines.join("\n"));
  }
}

/** e.g. zerocopy.tcp_stream.4K.s1.r2: variant, test, size, streams, repetition. */
export function cellId(key: CellKey): string {
  return `${key.variant}.${key.test.toLowerCase()}.${formatSize(key.size)}.s${key.streams}.r${key.repetition}`;
}

/** Every cell a run has at least, in run order (see schedule.ts: blocked or interleaved). */
export function runMatrix(options: RunOptions): CellKey[] {
  return baseMatrix(options);
}

/** A run id from its start time: 20250131T120000Z. */
export function newRunId(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** results/<stack>/<run> under a results root (the repository's results/ by default for the runner). */
export function runDirectory(resultsRoot: string, stack: string, run: string): string {
  return path.join(resultsRoot, stack, run);
}

/** Writes a file so that readers see the old content or the new, never a part: temp file, fsync, rename. */
export function writeFileAtomic(file: string, content: string | Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const fd = fs.openSync(tmp, "wx", 0o644);
  try {
    fs.writeSync(fd, typeof content === "string" ? Buffer.from(content) : content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDir(path.dirname(file));
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const TEMP = /^\..*\.tmp-\d+-[a-z0-9]+$/;

function rawFileName(role: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(role)) throw new Error(`raw output role ${JSON.stringify(role)} is not a plain file name`);
  return role.includes(".") ? role : `${role}.txt`;
}

/** An open run directory: the runner writes cells to it as they finish. */
export class Run {
  constructor(
    public readonly dir: string,
    public record: RunRecord,
  ) {}

  get cellsDir(): string {
    return path.join(this.dir, "cells");
  }

  /** Ids of the cells whose directory holds a cell.json (written last, so they are complete). */
  finished(): Set<string> {
    if (!fs.existsSync(this.cellsDir)) return new Set();
    return new Set(fs.readdirSync(this.cellsDir).filter((d) => !TEMP.test(d) && fs.existsSync(path.join(this.cellsDir, d, "cell.json"))));
  }

  /** The finished cells' records (their keys and figures), in run order. */
  finishedCells(): CellRecord[] {
    const cells = [...this.finished()].map((id) => JSON.parse(fs.readFileSync(path.join(this.cellsDir, id, "cell.json"), "utf8")) as CellRecord);
    return sortCells(this.record.options, cells);
  }

  /** What is still to run, in run order, and under --until-ci what more may come. */
  schedule(): Pending {
    return pendingCells(this.record.options, this.finishedCells());
  }

  /** The cells still to run, in run order (under --until-ci: those known to be needed now). */
  pending(): CellKey[] {
    return this.schedule().cells;
  }

  /**
   * Writes one finished cell: its raw outputs (by role: netperf -> netperf.txt, "proc-before" ->
   * proc-before.txt, a role with a dot is the file name itself) and cell.json, under a temporary
   * directory renamed into place. Refuses to overwrite a cell. Returns the cell's directory.
   */
  writeCell(cell: NewCell, raw: Record<string, string | Buffer>): string {
    const id = cellId(cell);
    if (cellProblems({ ...cell, id, sizeLabel: cell.sizeLabel ?? formatSize(cell.size) } as CellRecord, this.record.options, id).length) throw new Error(`cell ${id} is not in this run's matrix`);
    const final = path.join(this.cellsDir, id);
    if (fs.existsSync(final)) throw new Error(`${final} exists; results are never overwritten`);
    fs.mkdirSync(this.cellsDir, { recursive: true });
    const tmp = path.join(this.cellsDir, `.${id}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    fs.mkdirSync(tmp);
    const files: Record<string, string> = {};
    for (const [role, content] of Object.entries(raw)) {
      files[role] = rawFileName(role);
      writeFileAtomic(path.join(tmp, files[role]), content);
    }
    const record: CellRecord = { schema: CELL_SCHEMA, id, ...cell, sizeLabel: cell.sizeLabel ?? formatSize(cell.size), raw: files };
    const schemaErrors = schemaProblems(validators().cell, record);
    const problems = schemaErrors.length ? schemaErrors : cellProblems(record, this.record.options, id);
    if (problems.length) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new ResultsError(problems.map((p) => `cell ${id}: ${p}`));
    }
    writeFileAtomic(path.join(tmp, "cell.json"), JSON.stringify(record, null, 2) + "\n");
    fs.renameSync(tmp, final);
    syncDir(this.cellsDir);
    return final;
  }

  /** Records more of the environment (e.g. what a variant switch reported) in run.json. */
  updateEnvironment(more: Record<string, unknown>): void {
    this.record = { ...this.record, environment: { ...this.record.environment, ...more } };
    writeFileAtomic(path.join(this.dir, "run.json"), JSON.stringify(this.record, null, 2) + "\n");
  }

  /** Marks the run ended (all cells done, or given up on). */
  finish(ended = new Date()): void {
    this.record = { ...this.record, ended: ended.toISOString() };
    writeFileAtomic(path.join(this.dir, "run.json"), JSON.stringify(this.record, null, 2) + "\n");
  }
}

/** Starts a new run directory results/<stack>/<run>/ with its run.json. Never reuses a directory. */
export function createRun(
  resultsRoot: string,
  init: { stack: string; run?: string; started?: Date; options: RunOptions; environment: Record<string, unknown> },
): Run {
  const started = init.started ?? new Date();
  const record: RunRecord = { schema: RUN_SCHEMA, stack: init.stack, run: init.run ?? newRunId(started), started: started.toISOString(), ended: null, options: init.options, environment: init.environment };
  const problems = schemaProblems(validators().run, record);
  if (problems.length) throw new ResultsError(problems.map((p) => `run.json: ${p}`));
  const dir = runDirectory(resultsRoot, record.stack, record.run);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new Error(`${dir} exists; a run is never overwritten (use --resume to continue it)`);
    throw e;
  }
  fs.mkdirSync(path.join(dir, "cells"));
  writeFileAtomic(path.join(dir, "run.json"), JSON.stringify(record, null, 2) + "\n");
  return new Run(dir, record);
}

/**
 * Opens an existing run to continue it (--resume): checks run.json and every finished cell, and
 * removes the temporary directories of cells a kill interrupted. Throws ResultsError on bad files.
 */
export function openRun(dir: string): Run {
  const loaded = loadRun(dir);
  const cells = path.join(dir, "cells");
  if (fs.existsSync(cells)) for (const d of fs.readdirSync(cells)) if (TEMP.test(d)) fs.rmSync(path.join(cells, d), { recursive: true, force: true });
  return new Run(dir, loaded.record);
}

export interface LoadedRun {
  dir: string;
  record: RunRecord;
  /** Finished cells, in run order. */
  cells: CellRecord[];
  /** Cells of the matrix with no result (the run was killed, or is still going). */
  missing: CellKey[];
  /** Not fatal: missing cells, an unfinished run, leftovers. */
  warnings: string[];
}

/** Reads and checks a run directory. Problems with files are fatal (ResultsError); missing cells are warnings. */
export function loadRun(dir: string): LoadedRun {
  const runFile = path.join(dir, "run.json");
  const problems: string[] = [];
  const data = readJson(runFile);
  const runErrors = schemaProblems(validators().run, data);
  if (runErrors.length) throw new ResultsError(runErrors.map((p) => `${show(runFile)}: ${p}`));
  const record = data as RunRecord;
  const warnings: string[] = [];
  const cellsDir = path.join(dir, "cells");
  const byId = new Map<string, CellRecord>();
  const entries = fs.existsSync(cellsDir) ? fs.readdirSync(cellsDir).sort() : [];
  for (const d of entries) {
    if (TEMP.test(d)) {
      warnings.push(`${show(path.join(cellsDir, d))}: an unfinished cell's temporary directory (removed by --resume)`);
      continue;
    }
    const file = path.join(cellsDir, d, "cell.json");
    if (!fs.existsSync(file)) {
      warnings.push(`${show(path.join(cellsDir, d))}: no cell.json; the cell counts as missing`);
      continue;
    }
    let cell: unknown;
    try {
      cell = readJson(file);
    } catch (e) {
      if (e instanceof ResultsError) {
        problems.push(...e.lines);
        continue;
      }
      throw e;
    }
    const errs = schemaProblems(validators().cell, cell);
    const more = errs.length ? [] : cellProblems(cell as CellRecord, record.options, d);
    for (const p of [...errs, ...more]) problems.push(`${show(file)}: ${p}`);
    if (errs.length === 0 && more.length === 0) byId.set(d, cell as CellRecord);
    if (errs.length === 0 && more.length === 0) for (const [role, f] of Object.entries((cell as CellRecord).raw)) if (!fs.existsSync(path.join(cellsDir, d, f))) warnings.push(`${show(file)}: raw.${role}: ${f} is not in the cell's directory`);
  }
  if (problems.length) throw new ResultsError(problems);
  const matrix = runMatrix(record.options);
  const missing = matrix.filter((k) => !byId.has(cellId(k)));
  if (missing.length) warnings.push(`${show(dir)}: ${missing.length} of ${matrix.length} cells missing: ${missing.map(cellId).join(", ")}`);
  if (record.ended === null) warnings.push(`${show(runFile)}: the run has not ended (still going, or killed; ixlab bench --resume ${record.run} continues it)`);
  // Repetitions beyond the base matrix (--until-ci) count too, in run order.
  return { dir, record, cells: sortCells(record.options, [...byId.values()]), missing, warnings };
}

/** Checks that schema cannot express: the id, the size label, membership in the run's matrix, times. */
function cellProblems(cell: CellRecord, options: RunOptions, dirName: string): string[] {
  const p: string[] = [];
  const id = cellId(cell);
  if (cell.id !== id) p.push(`id: ${JSON.stringify(cell.id)} does not match its fields (expected ${JSON.stringify(id)})`);
  else if (dirName !== id) p.push(`id: ${JSON.stringify(cell.id)} is not the name of its directory ${JSON.stringify(dirName)}`);
  if (parseSize(cell.sizeLabel) !== cell.size) p.push(`sizeLabel: ${JSON.stringify(cell.sizeLabel)} is not ${cell.size} bytes`);
  if (!options.variants.includes(cell.variant)) p.push(`variant: ${JSON.stringify(cell.variant)} is not in the run's options.variants (${options.variants.join(", ")})`);
  if (!options.tests.includes(cell.test)) p.push(`test: ${JSON.stringify(cell.test)} is not in the run's options.tests (${options.tests.join(", ")})`);
  if (!options.sizes.includes(cell.size)) p.push(`size: ${cell.size} is not in the run's options.sizes (${options.sizes.join(", ")})`);
  const cap = repetitionCap(options);
  if (cell.repetition > cap) p.push(`repetition: ${cell.repetition} is more than the run's ${options.untilCi !== undefined ? `options.maxReps (${cap})` : `options.repetitions (${cap})`}`);
  if (cell.streams !== options.streams) p.push(`streams: ${cell.streams} is not the run's options.streams (${options.streams})`);
  if (Date.parse(cell.ended) < Date.parse(cell.started)) p.push(`ended: ${cell.ended} is before started ${cell.started}`);
  return p;
}

function show(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ResultsError([`${show(file)}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  try {
    return JSON.parse(text);
  } catch {
    if (text.trim() === "") throw new ResultsError([`${show(file)}: empty file (not JSON)`]);
    const bad = jsonErrorAt(text);
    if (bad.offset >= text.trimEnd().length) throw new ResultsError([`${show(file)}: truncated JSON: the text ends at line ${text.trimEnd().split("\n").length} before the value is complete`]);
    const before = text.slice(0, bad.offset).split("\n");
    throw new ResultsError([`${show(file)}: invalid JSON at line ${before.length}, column ${before[before.length - 1].length + 1}: ${bad.why}`]);
  }
}

/**
 * Where JSON text goes wrong (JSON.parse's messages differ between Node versions and do not always
 * say where): a small recursive-descent scan that returns the offset of the first bad character,
 * or the text's length when it ends too early.
 */
export function jsonErrorAt(text: string): { offset: number; why: string } {
  let i = 0;
  class Bad {
    constructor(public offset: number, public why: string) {}
  }
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const fail = (why: string): never => {
    throw new Bad(i, i >= text.length ? "the text ends early" : `${why}, found ${JSON.stringify(text[i])}`);
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a quoted field name");
        str();
        ws();
        if (text[i] !== ":") fail('expected ":"');
        i++;
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return void i++;
        else fail('expected "," or "}"');
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return void i++;
        else fail('expected "," or "]"');
      }
    } else if (c === '"') str();
    else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
      if (!m) fail("expected a value");
      i += m![0].length;
    }
  };
  const str = () => {
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (i >= text.length) fail("unterminated string");
    i++;
  };
  try {
    value();
    ws();
    if (i < text.length) fail("expected the end of the text");
    return { offset: -1, why: "" };
  } catch (e) {
    if (e instanceof Bad) return { offset: e.offset, why: e.why };
    throw e;
  }
}

let compiled: { run: ValidateFunction; cell: ValidateFunction } | undefined;
function validators() {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    ajv.addSchema(schema);
    compiled = { run: ajv.compile({ $ref: `${schema.$id}#/$defs/run` }), cell: ajv.compile({ $ref: `${schema.$id}#/$defs/cell` }) };
  }
  return compiled;
}

/** `options.sizes[1]` from /options/sizes/1. */
function fieldPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
}

function schemaProblems(validate: ValidateFunction, data: unknown): string[] {
  if (validate(data)) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of validate.errors ?? []) {
    const line = describeError(e, data);
    if (line && !seen.has(line)) {
      seen.add(line);
      out.push(line);
    }
  }
  return out;
}

function describeError(e: ErrorObject, data: unknown): string | undefined {
  const where = fieldPath(e.instancePath);
  const value = e.instancePath
    .split("/")
    .slice(1)
    .reduce<unknown>((n, k) => (n as Record<string, unknown> | undefined)?.[k], data);
  const at = (field: string, msg: string) => `${field || "(top level)"}: ${msg}`;
  const got = Array.isArray(value) ? "a list" : value === null ? "null" : typeof value === "string" ? `the string ${JSON.stringify(value)}` : typeof value;
  switch (e.keyword) {
    case "required": {
      const f = (e.params as { missingProperty: string }).missingProperty;
      return at(where ? `${where}.${f}` : f, "missing");
    }
    case "additionalProperties":
      return at(where, `unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`);
    case "type":
      return at(where, `expected ${String((e.params as { type: string | string[] }).type).replace(",", " or ")}, got ${got}`);
    case "const":
      return at(where, `${JSON.stringify(value)} is not supported (this ixlab reads ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)})`);
    case "enum":
      return at(where, `${JSON.stringify(value)} is not one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`);
    case "pattern":
      return at(where, `${JSON.stringify(value)} is not valid (${e.parentSchema && (e.parentSchema as { description?: string }).description ? (e.parentSchema as { description: string }).description : `must match ${(e.params as { pattern: string }).pattern}`})`);
    case "minimum":
    case "exclusiveMinimum":
      return at(where, `${JSON.stringify(value)} is out of range (${e.message})`);
    case "anyOf":
      return undefined; // the branches' own errors say more
    default:
      return at(where, e.message ?? "is not valid");
  }
}
