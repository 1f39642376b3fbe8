// What ixlab report reads and writes, made safe: a run is checked against size caps before it is
// loaded (a run.json claiming 10^8 repetitions must not make the loader build 10^8 cells), strings
// recorded in it lose their control characters before they reach a terminal or a page, and the HTML
// page is written whole or not at all (its temporary file removed on failure), each problem one
// line naming the path.
import * as fs from "node:fs";
import * as path from "node:path";
import { ResultsError } from "../bench/results";
import { ReportError } from "./model";

/** Caps on what one run may make the report read. */
export const LIMITS = { runJsonBytes: 4 << 20, cellJsonBytes: 1 << 20, cells: 100_000 };

export function show(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return neutralise(rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file);
}

/** Checks a run directory's shape and sizes before loadRun reads it. Throws ResultsError. */
export function preflight(dir: string): void {
  const runFile = path.join(dir, "run.json");
  const st = statOrNull(runFile);
  if (st && st.isFile() && st.size > LIMITS.runJsonBytes) throw new ResultsError([`${show(runFile)}: ${st.size} bytes; a run.json is at most ${LIMITS.runJsonBytes} bytes`]);
  if (st && st.isFile()) {
    let claimed: number | undefined;
    try {
      const o = JSON.parse(fs.readFileSync(runFile, "utf8"))?.options;
      const n = (v: unknown) => (Array.isArray(v) ? v.length : 0);
      // Under --until-ci a cell may have up to maxReps repetitions.
      const reps = Math.max(typeof o?.repetitions === "number" ? o.repetitions : 0, typeof o?.maxReps === "number" ? o.maxReps : 0);
      if (o && typeof o === "object") claimed = n(o.variants) * n(o.tests) * n(o.sizes) * reps;
    } catch {
      // loadRun says what is wrong with the JSON
    }
    if (claimed !== undefined && claimed > LIMITS.cells)
      throw new ResultsError([`${show(runFile)}: options ask for ${claimed} cells (variants x tests x sizes x repetitions); ixlab report reads at most ${LIMITS.cells}`]);
  }
  const cells = path.join(dir, "cells");
  const cst = statOrNull(cells);
  if (!cst) return;
  if (!cst.isDirectory()) throw new ResultsError([`${show(cells)}: not a directory (a run keeps its cells in cells/<id>/cell.json)`]);
  const d = fs.opendirSync(cells);
  try {
    let count = 0;
    for (let e = d.readSync(); e; e = d.readSync()) {
      if (++count > LIMITS.cells) throw new ResultsError([`${show(cells)}: more than ${LIMITS.cells} entries; ixlab report reads at most ${LIMITS.cells} cells`]);
      const cell = path.join(cells, e.name, "cell.json");
      const s = statOrNull(cell);
      if (s && s.isFile() && s.size > LIMITS.cellJsonBytes) throw new ResultsError([`${show(cell)}: ${s.size} bytes; a cell.json is at most ${LIMITS.cellJsonBytes} bytes`]);
    }
  } finally {
    d.closeSync();
  }
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

// C0 and C1 controls (tab and newline too: no recorded string may break a table's line) and the
// bidirectional overrides that make text read differently from what it holds.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A string with its control characters written out as \xNN / \uNNNN, everything else as it was. */
export function neutralise(s: string): string {
  return s.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** The same value with every string (keys too) neutralised. */
export function neutraliseDeep<T>(v: T): T {
  if (typeof v === "string") return neutralise(v) as T;
  if (Array.isArray(v)) return v.map(neutraliseDeep) as T;
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [neutralise(k), neutraliseDeep(x)])) as T;
  return v;
}

/** Refuses an HTML path that cannot be a file: a directory, or under something that is not a directory. */
export function checkOutputPath(file: string, what = "--html"): void {
  const abs = path.resolve(file);
  const st = statOrNull(abs);
  if (st?.isDirectory()) throw new ReportError(`${what} ${show(file)}: is a directory; give the path of a file`);
  if (st && !st.isFile()) throw new ReportError(`${what} ${show(file)}: not a regular file`);
  // The nearest existing ancestor must be a directory (mkdir -p makes the rest).
  for (let dir = path.dirname(abs); ; dir = path.dirname(dir)) {
    const d = statOrNull(dir);
    if (d) {
      if (!d.isDirectory()) throw new ReportError(`${what} ${show(file)}: ${show(dir)} is not a directory`);
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}

/** Writes a file whole (temporary file, fsync, rename) or not at all; the temporary file never stays. */
export function writeWhole(file: string, content: string, what = "--html"): void {
  const abs = path.resolve(file);
  checkOutputPath(abs, what);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const fd = fs.openSync(tmp, "wx", 0o644);
    try {
      // write(2) may write less than asked (a full disk, a file size limit): go on until all is
      // written, so the failure surfaces here instead of a truncated page being renamed into place.
      const buf = Buffer.from(content);
      for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, abs);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new ReportError(`${what} ${show(file)}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
