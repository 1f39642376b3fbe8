// Sizes and durations as people write them in lab files and on the command line.

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Parses 4K, 64K, 1M, 512, "1500" into bytes; returns undefined when it is not a size. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*([0-9]+)\s*([KMG]?)(i?B)?\s*$/i.exec(value);
  if (!m) return undefined;
  const bytes = Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()];
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** The shortest exact spelling of a byte count: 4096 -> "4K", 1500 -> "1500". */
export function formatSize(bytes: number): string {
  for (const unit of ["G", "M", "K"]) {
    const factor = SIZE_UNITS[unit];
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

const DURATION_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600 };

/** Parses 120, "120", "90s", "2m", "1h" into whole seconds; undefined when it is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*([0-9]+)\s*([smh]?)\s*$/.exec(value);
  if (!m) return undefined;
  const seconds = Number(m[1]) * DURATION_UNITS[m[2]];
  return seconds > 0 ? seconds : undefined;
}
