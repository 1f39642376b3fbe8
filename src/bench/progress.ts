// The bench's progress: one line per cell and an ETA for the whole matrix, estimated from the time
// the finished cells (and variant switches) of this session took.
import { CellKey } from "./results";
import { formatSize } from "../lab/units";

/** 750 -> "12m30s", 3725 -> "1h02m05s", 42 -> "42s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m${String(r).padStart(2, "0")}s`;
  if (m) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

export interface EtaInput {
  /** Cells still to run after the current point. */
  remainingCells: number;
  /** Variant switches still to come. */
  remainingSwitches: number;
  /** Seconds the cells finished in this session took, each. */
  cellSeconds: number[];
  /** Seconds the variant switches of this session took, each. */
  switchSeconds: number[];
  /** The test's own duration: the estimate for a cell before one has finished. */
  durationSeconds: number;
}

/** Assumed before anything was measured: a cell's fixed cost (SSH, samples) and a stack switch. */
export const GUESS_CELL_OVERHEAD_S = 2;
export const GUESS_SWITCH_S = 45;

/** Seconds until the matrix is done: the mean of what was measured, or the guesses above. */
export function estimateRemaining(i: EtaInput): number {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cell = i.cellSeconds.length ? mean(i.cellSeconds) : i.durationSeconds + GUESS_CELL_OVERHEAD_S;
  const sw = i.switchSeconds.length ? mean(i.switchSeconds) : GUESS_SWITCH_S;
  return i.remainingCells * cell + i.remainingSwitches * sw;
}

export interface CellFigures {
  throughputMbps: number | null;
  transactionsPerSec?: number | null;
  qemuCpuPct: number | null;
  vhostCpuPct: number | null;
  errors: string[];
}

const pct = (v: number | null) => (v === null ? "—" : `${Math.round(v)}%`);

/** "zerocopy TCP_STREAM 16K rep 2" (with the stream count when more than one). */
export function cellLabel(k: CellKey): string {
  return `${k.variant} ${k.test} ${formatSize(k.size)}${k.streams > 1 ? ` x${k.streams}` : ""} rep ${k.repetition}`;
}

/** "[3/24] zerocopy TCP_STREAM 16K rep 2: 1234 Mb/s, qemu 95%, vhost 20% (ETA 12m30s)". */
export function progressLine(index: number, total: number, k: CellKey, f: CellFigures, etaSeconds: number): string {
  let what: string;
  if (f.throughputMbps !== null) what = `${f.throughputMbps.toFixed(f.throughputMbps >= 100 ? 0 : 1)} Mb/s`;
  else if (f.transactionsPerSec != null) what = `${f.transactionsPerSec.toFixed(0)} trans/s`;
  else what = "FAILED";
  const vhost = f.vhostCpuPct === null ? "vhost —" : `vhost ${pct(f.vhostCpuPct)}`;
  const err = f.errors.length ? ` [${f.errors.length} error${f.errors.length > 1 ? "s" : ""}: ${f.errors[0]}]` : "";
  return `[${index}/${total}] ${cellLabel(k)}: ${what}, qemu ${pct(f.qemuCpuPct)}, ${vhost}${err} (ETA ${etaSeconds > 0 ? formatDuration(etaSeconds) : "done"})`;
}
