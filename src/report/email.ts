// The report as plain text a maintainer can paste into a reply on a mailing list: at most 72
// columns, the reference table's shape (size, variant, throughput, qemu and vhost CPU, irq/s) with
// the interval, the change and the verdict, every figure's test, the environment in a few lines, and
// a reproducer: the lab file at its revision and the exact `ixlab bench` command.
import { formatSize } from "../lab/units";
import { Report, Row } from "./model";
import { deltaText, fixed, metricCells, metricRows, PATCH_NOTE, patchCells, patchTitle, verdictRules, verdictText } from "./text";
import { PatchRow } from "./series";

export const EMAIL_WIDTH = 72;

/** Words wrapped to the width, continuation lines indented. */
export function wrap(text: string, indent = "", first = "", width = EMAIL_WIDTH): string[] {
  const out: string[] = [];
  let line = first;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const sep = line === "" || line.endsWith(" ") ? "" : " ";
    if (line.length + sep.length + word.length > width && line.trim() !== "") {
      out.push(line);
      line = indent + word;
    } else line += sep + word;
  }
  if (line.trim() !== "") out.push(line);
  return out.map((l) => (l.length > width ? l.slice(0, width - 1) + "…" : l));
}

/**
 * A fixed-width table; right-aligned columns unless named in `left`. A row wider than the width
 * carries its last column on an indented line of its own.
 */
export function textTable(header: string[], rows: string[][], left: number[] = [], width = EMAIL_WIDTH): string[] {
  const cols = header.length;
  const w = Array.from({ length: cols }, (_, i) => Math.max(header[i].length, ...rows.map((r) => r[i].length)));
  const cell = (s: string, i: number) => (left.includes(i) ? s.padEnd(w[i]) : s.padStart(w[i]));
  // Two spaces between columns where that fits, else one.
  const gap = w.reduce((a, b) => a + b, 0) + 2 * (cols - 1) <= width ? "  " : " ";
  const line = (r: string[]) => r.map(cell).join(gap).trimEnd();
  const body = [header, ...rows].map((r) => {
    const full = line(r);
    if (full.length <= width) return [full];
    const head = r.slice(0, -1).map(cell).join(gap).trimEnd();
    return [head.slice(0, width), ...wrap(r[cols - 1], "      ", "      ", width)];
  });
  const rule = "-".repeat(Math.min(width, Math.max(...body.map((b) => b[0].length))));
  return [body[0][0], rule, ...body.slice(1).flat()];
}

export function renderEmail(report: Report, reproducer: { labFile?: string; command: string[] }): string {
  const out: string[] = [];
  const runs = report.runs.map((r) => `${r.stack}/${r.run}`).join(", ");
  out.push(...wrap(`ixlab report: ${runs}, baseline ${report.baseline}`));
  out.push("");
  for (const item of report.summary) {
    out.push(`${item.heading}:`);
    for (const l of item.lines) out.push(...wrap(l, "    ", "  - "));
  }
  if (report.summary.length) out.push(...wrap(`(${verdictRules(report)})`), "");
  for (const t of report.tables) {
    out.push(`${t.test}, ${t.unit === "Mb/s" ? "Mb/s" : "transactions/s"} +- 95% CI, CPU in % of one CPU:`, "");
    // Labels like 20250131T120000Z:baseline do not fit 72 columns: short names and a legend then.
    const long = [...new Set(t.rows.map((r) => r.label))];
    const short = new Map(long.map((l, i) => [l, Math.max(...long.map((x) => x.length)) > 14 ? `v${i + 1}` : l]));
    const name = (l: string) => short.get(l) ?? l;
    for (const [l, v] of short) if (v !== l) out.push(`  ${v} = ${l}`);
    if (long.some((l) => short.get(l) !== l)) out.push("");
    const rows = t.rows.map((r: Row) => [r.sizeLabel, name(r.label), fixed(r.result?.mean), r.result?.ci95 ? fixed(r.result.ci95.half) : "", fixed(r.qemuCpuPct?.mean), fixed(r.vhostCpuPct?.mean), fixed(r.irqPerSec?.mean, 0), shortDelta(r), verdictText(r)]);
    out.push(...textTable(["size", "variant", t.unit === "Mb/s" ? "Mb/s" : "trans/s", "+-", "qemu", "vhost", "irq/s", "delta", "verdict"], rows, [1, 8]));
    const per = metricRows(t).filter((m) => m.c);
    if (per.length) {
      out.push("", `Every figure against ${report.baseline} (p after Holm):`, "");
      out.push(
        ...textTable(
          ["size", "variant", "figure", "change [95% CI]", "p", "verdict"],
          per.map((m) => {
            const c = metricCells(m);
            return [c[0], name(c[1]), c[2], c[3], c[5], m.c!.verdict];
          }),
          [1, 2, 5],
        ),
      );
    }
    const blocked = [...new Set(t.rows.filter((r) => r.comparison?.verdict === "not comparable").map((r) => `${r.label}: not comparable: ${r.comparison!.reason}`))];
    for (const b of blocked) out.push(...wrap(b, "  ", "* "));
    out.push("");
  }
  for (const p of report.series ?? []) {
    out.push(...wrap(`${patchTitle(p)}:`), "");
    // Patch file names run past 72 columns beside the figures: numbers in the table, names above it.
    const names = new Map(p.rows.filter((r) => r.index > 0).map((r) => [r.index, r.patches.join(", ") || "(none new)"]));
    for (const [i, n] of names) out.push(...wrap(n, "      ", `  ${i} = `));
    out.push("");
    const label = (r: PatchRow) => (r.index === 0 ? "all" : String(r.index));
    out.push(...textTable(["size", "patch", "change [95% CI]", "verdict", "share"], p.rows.map((r) => { const c = patchCells(p, r); return [c[0], label(r), c[3], r.comparison.verdict, c[6]]; }), [1, 3]));
    out.push("", ...wrap(PATCH_NOTE), "");
  }
  out.push("Environment:");
  for (const r of report.runs) for (const l of environmentLines(r.environment)) out.push(...wrap(l, "    ", "  "));
  for (const w of report.warnings) out.push(...wrap(`warning: ${w}`, "    ", "  "));
  out.push("", "Reproduce:");
  const rev = report.runs[0].environment.labRevision as { revision?: string | null; dirty?: boolean | null } | undefined;
  const where = `${reproducer.labFile ?? `Pulumi.${report.runs[0].stack}.yaml`} at revision ${rev?.revision ? rev.revision.slice(0, 12) : "(not recorded)"}${rev?.dirty ? " (with uncommitted changes)" : ""}`;
  out.push(...wrap(`lab ${where}, then`, "    ", "  "));
  out.push(...shellLines(reproducer.command));
  return ascii(out.join("\n")) + "\n";
}

/** Plain ASCII for mail clients that mangle the rest; recorded strings keep their letters. */
function ascii(text: string): string {
  return text.replace(/±/g, "+-").replace(/→/g, "->").replace(/Δ/g, "delta").replace(/—/g, "-").replace(/⚠/g, "!");
}

/** "+50.0%" (the interval is in the per-figure table), "n/c" for not comparable, "base" for the baseline. */
function shortDelta(r: Row): string {
  const d = deltaText(r);
  if (d === "baseline") return "base";
  if (d === "not comparable") return "n/c";
  return d.split(" ")[0];
}

/** The run's environment in a few lines: kernels, QEMU, NIC, tuning, and what a sim cannot show. */
export function environmentLines(env: Record<string, any>): string[] {
  const lines: string[] = [];
  const hosts = env.kernels?.hosts ? Object.entries(env.kernels.hosts).map(([h, k]) => `${h} ${k ?? "?"}`) : [];
  const guests = env.kernels?.guests ? Object.entries(env.kernels.guests).map(([g, k]) => `${g} ${k ?? "?"}`) : [];
  if (hosts.length || guests.length) lines.push(`kernels: ${[...hosts, ...guests].join(", ")}`);
  const nic = env.nic ?? {};
  const bits = [env.qemu ? `QEMU ${String(env.qemu).replace(/^QEMU emulator version /, "")}${env.accel ? ` (${env.accel})` : ""}` : "", nic.driver ? `NIC ${nic.name ?? ""} ${nic.driver}${nic.speedMbps ? ` ${nic.speedMbps} Mb/s` : ""}${nic.mtu ? ` MTU ${nic.mtu}` : ""}` : "", env.tuning?.governor ? `governor ${env.tuning.governor}` : ""].filter(Boolean);
  if (bits.length) lines.push(bits.join("; "));
  // Variants whose state reads the same share a line.
  const states = new Map<string, string[]>();
  for (const [v, s] of Object.entries((env.variants ?? {}) as Record<string, any>)) {
    const state =
      s?.vhost?.effective === false
        ? `vhost not effective${s.vhost.note ? ` (${s.vhost.note})` : ""}`
        : `vhost ${s?.vhost?.effective === true ? "effective" : "?"}, zero-copy ${s?.zeroCopy?.effective === true ? "effective" : s?.zeroCopy?.effective === false ? "not effective" : "?"}`;
    states.set(state, [...(states.get(state) ?? []), v]);
  }
  for (const [state, vs] of states) lines.push(`${vs.join(", ")}: ${state}`);
  if (env.sim?.simulated) lines.push("a sim lab (namespaces on one machine): not a 10GbE wire; see the run's environment for what it cannot show");
  return lines;
}

/** A command as shell words, continued with backslashes to stay within the width. */
export function shellLines(words: string[], width = EMAIL_WIDTH): string[] {
  const quoted = words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`));
  const lines: string[] = [];
  let line = "  $";
  for (const w of quoted) {
    if (line.length + 1 + w.length > width - 2) {
      lines.push(line + " \\");
      line = "      " + w;
    } else line += " " + w;
  }
  lines.push(line);
  return lines;
}

/** The `ixlab bench` command that makes a run like this one, from its recorded options. */
export function benchCommand(report: Report): string[] {
  const r = report.runs[0];
  const o = r.options;
  const cmd = ["npx", "ixlab", "bench", "--stack", r.stack];
  if (o.series) cmd.push("--series", o.series.kernel);
  else cmd.push("--variants", o.variants.join(","));
  cmd.push("--sizes", o.sizes.map(formatSize).join(","), "--duration", String(o.durationSeconds), "--reps", String(o.repetitions));
  if (o.tests.join(",") !== "TCP_STREAM") cmd.push("--tests", o.tests.join(","));
  if (o.streams > 1) cmd.push("--streams", String(o.streams));
  if (o.scenario) cmd.push("--scenario", o.scenario);
  if (o.order && o.order !== "blocked") cmd.push("--order", o.order);
  return cmd;
}
