// Per-patch attribution for a series walk (run options.series: prefix i of a kernel's patch series
// ran as one variant): per size, each patch's change against the previous prefix, with its interval
// and verdict, and its share of the whole series' change (prefix 0 to prefix N).
import { LoadedRun } from "../bench/results";
import type { Row, RowComparison, Table } from "./model";
import { MetricComparison } from "./verdict";

export interface PatchRow {
  sizeLabel: string;
  size: number;
  /** 1..N for patch i (prefix i against prefix i-1); 0 for the whole series (prefix N against prefix 0). */
  index: number;
  from: string;
  to: string;
  /** The patches prefix i adds to prefix i-1 (the whole series for index 0). */
  patches: string[];
  comparison: MetricComparison;
  /** (mean_i - mean_i-1) / (mean_N - mean_0), in percent; null where the whole series did not move. */
  sharePct: number | null;
}

export interface PatchTable {
  kernel: string;
  run: string;
  test: string;
  /** The figure attributed: throughput, or transactions/s. */
  metric: string;
  rows: PatchRow[];
}

/** compare: the report's own comparison of two rows (the same pair gives the same tests). */
export function buildSeries(runs: LoadedRun[], tables: Table[], compare: (a: Row, b: Row, kernelIsKnob: boolean) => RowComparison): PatchTable[] {
  const out: PatchTable[] = [];
  for (const run of runs) {
    const s = run.record.options.series;
    if (!s || s.prefixes.length < 2) continue;
    for (const t of tables) {
      const rows: PatchRow[] = [];
      const sizes = [...new Set(t.rows.filter((r) => r.run === run.record.run).map((r) => r.size))];
      for (const size of sizes) {
        const at = s.prefixes.map((p) => t.rows.find((r) => r.source === "measured" && r.run === run.record.run && r.variant === p.variant && r.size === size));
        // A run still going (or killed) has the first prefixes only: their patches are shown.
        const prefixRows = at as (Row | undefined)[];
        const ends = prefixRows[0]?.result && prefixRows[prefixRows.length - 1]?.result;
        const total = ends ? prefixRows[prefixRows.length - 1]!.result!.mean - prefixRows[0]!.result!.mean : 0;
        const patchRow = (index: number, a: Row, b: Row, patches: string[]): PatchRow | undefined => {
          const c = compare(a, b, true).metrics.find((m) => m.metric === "result");
          if (!c) return undefined;
          const share = index === 0 ? 100 : total !== 0 ? ((b.result!.mean - a.result!.mean) / total) * 100 : null;
          return { size, sizeLabel: a.sizeLabel, index, from: a.label, to: b.label, patches, comparison: c, sharePct: share };
        };
        for (let i = 1; i < prefixRows.length; i++) {
          const [a, b] = [prefixRows[i - 1], prefixRows[i]];
          if (!a?.result || !b?.result) continue;
          const before = new Set(s.prefixes[i - 1].patches);
          const added = s.prefixes[i].patches.filter((p) => !before.has(p));
          const r = patchRow(i, a, b, added);
          if (r) rows.push(r);
        }
        const whole = ends ? patchRow(0, prefixRows[0]!, prefixRows[prefixRows.length - 1]!, s.prefixes[s.prefixes.length - 1].patches) : undefined;
        if (whole) rows.push(whole);
      }
      if (rows.length) out.push({ kernel: s.kernel, run: run.record.run, test: t.test, metric: t.test === "TCP_RR" ? "transactions/s" : "throughput", rows });
    }
  }
  return out;
}
