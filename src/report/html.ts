// The report as one self-contained HTML page: the tables and inline SVG bar charts (per message
// size, variants side by side, error bars = 95% confidence interval). No scripts, no external files.
import { Summary } from "../bench/stats";
import { Report, Row, Table } from "./model";
import { deltaText, fixed, lineRateHeader, METRIC_HEADER, metricCells, metricRows, PATCH_HEADER, PATCH_NOTE, patchCells, patchTitle, resultText, tableNotes, verdictRules, verdictText } from "./text";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

interface Bar {
  series: string;
  /** Lighter fill: the second figure of a pair (vhost beside qemu). */
  light?: boolean;
  summary?: Summary;
}

interface Chart {
  title: string;
  yLabel: string;
  groups: { label: string; bars: Bar[] }[];
  /** Series in legend order, with their colour and whether they are reference figures. */
  legend: { name: string; color: string; reference: boolean; light?: boolean }[];
}

/** One grouped bar chart as an <svg> element. Bars without a figure are left out of their slot. */
export function barChart(c: Chart): string {
  const W = 760;
  const H = 360;
  const m = { top: 40, right: 20, bottom: 70, left: 70 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const top = Math.max(1, ...c.groups.flatMap((g) => g.bars.map((b) => (b.summary ? (b.summary.ci95?.high ?? b.summary.mean) : 0))));
  const { max, step } = niceScale(top);
  const y = (v: number) => m.top + ph - (v / max) * ph;
  const color = new Map(c.legend.map((l) => [l.name, l]));
  const gw = pw / Math.max(1, c.groups.length);
  const slots = Math.max(1, ...c.groups.map((g) => g.bars.length));
  const bw = (gw * 0.8) / slots;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(c.title)}">`];
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(c.title)}</text>`);
  for (let v = 0; v <= max + 1e-9; v += step) {
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${+v.toFixed(6)}</text>`);
  }
  parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(c.yLabel)}</text>`);
  parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`);
  c.groups.forEach((g, gi) => {
    const gx = m.left + gi * gw + gw * 0.1;
    parts.push(`<text x="${(m.left + gi * gw + gw / 2).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle" font-size="12">${esc(g.label)}</text>`);
    g.bars.forEach((b, bi) => {
      if (!b.summary) return;
      const l = color.get(b.series)!;
      const x = gx + bi * bw;
      const h = (b.summary.mean / max) * ph;
      const dash = l.reference ? ` stroke="${l.color}" stroke-dasharray="4 2" fill-opacity="0.35"` : b.light ? ` fill-opacity="0.5"` : "";
      parts.push(`<rect class="bar" x="${x.toFixed(1)}" y="${y(b.summary.mean).toFixed(1)}" width="${(bw * 0.9).toFixed(1)}" height="${Math.max(0, h).toFixed(1)}" fill="${l.color}"${dash}><title>${esc(`${g.label} ${b.series}: ${fixed(b.summary.mean)}${b.summary.ci95 ? ` ± ${fixed(b.summary.ci95.half)}` : ""}`)}</title></rect>`);
      if (b.summary.ci95) {
        const cx = (x + bw * 0.45).toFixed(1);
        const lo = y(Math.max(0, b.summary.ci95.low)).toFixed(1);
        const hi = y(b.summary.ci95.high).toFixed(1);
        const cap = (bw * 0.2).toFixed(1);
        parts.push(
          `<g class="errorbar" stroke="#000" stroke-width="1.2"><line x1="${cx}" x2="${cx}" y1="${lo}" y2="${hi}"/><line x1="${(+cx - +cap).toFixed(1)}" x2="${(+cx + +cap).toFixed(1)}" y1="${lo}" y2="${lo}"/><line x1="${(+cx - +cap).toFixed(1)}" x2="${(+cx + +cap).toFixed(1)}" y1="${hi}" y2="${hi}"/></g>`,
        );
      }
    });
  });
  c.legend.forEach((l, i) => {
    const lx = m.left + (i % 4) * 170;
    const ly = H - 36 + Math.floor(i / 4) * 16;
    const style = l.reference ? ` stroke="${l.color}" stroke-dasharray="4 2" fill-opacity="0.35"` : l.light ? ` fill-opacity="0.5"` : "";
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="10" fill="${l.color}"${style}/><text x="${lx + 16}" y="${ly}" font-size="11">${esc(l.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** A round axis top and tick step above `top`. */
function niceScale(top: number): { max: number; step: number } {
  const raw = top / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  return { max: Math.ceil((top * 1.05) / step) * step, step };
}

function sizesOf(t: Table): string[] {
  return [...new Set(t.rows.map((r) => r.sizeLabel))];
}

function labelsOf(t: Table): { name: string; reference: boolean }[] {
  const seen = new Map<string, boolean>();
  for (const r of t.rows) seen.set(r.label, r.source === "seed");
  return [...seen].map(([name, reference]) => ({ name, reference }));
}

function colours(t: Table): Map<string, string> {
  // A reference row takes the colour of the measured variant of the same name, so they pair up.
  const measured = labelsOf(t).filter((l) => !l.reference);
  const map = new Map(measured.map((l, i) => [l.name, PALETTE[i % PALETTE.length]]));
  let next = measured.length;
  for (const l of labelsOf(t).filter((x) => x.reference)) {
    const twin = t.rows.find((r) => r.source === "measured" && r.variant === l.name.replace(/^seed:/, ""))?.label;
    map.set(l.name, (twin && map.get(twin)) ?? PALETTE[next++ % PALETTE.length]);
  }
  return map;
}

export function resultChart(t: Table): string {
  const col = colours(t);
  const labels = labelsOf(t);
  return barChart({
    title: `${t.test}: ${t.unit === "Mb/s" ? "throughput" : "transactions"} per message size`,
    yLabel: t.unit === "Mb/s" ? "throughput, Mb/s" : "transactions/s",
    groups: sizesOf(t).map((size) => ({ label: size, bars: labels.map((l) => ({ series: l.name, summary: t.rows.find((r) => r.sizeLabel === size && r.label === l.name)?.result })) })),
    legend: labels.map((l) => ({ name: l.name, color: col.get(l.name)!, reference: l.reference })),
  });
}

export function cpuChart(t: Table): string {
  const col = colours(t);
  const labels = labelsOf(t);
  const legend = labels.flatMap((l) => [
    { name: `${l.name} qemu`, color: col.get(l.name)!, reference: l.reference },
    { name: `${l.name} vhost`, color: col.get(l.name)!, reference: l.reference, light: true },
  ]);
  const find = (size: string, label: string) => t.rows.find((r) => r.sizeLabel === size && r.label === label);
  return barChart({
    title: `${t.test}: CPU per message size (qemu and vhost, % of one CPU)`,
    yLabel: "CPU, % of one CPU",
    groups: sizesOf(t).map((size) => ({
      label: size,
      bars: labels.flatMap((l) => [
        { series: `${l.name} qemu`, summary: find(size, l.name)?.qemuCpuPct },
        { series: `${l.name} vhost`, light: true, summary: find(size, l.name)?.vhostCpuPct },
      ]),
    })),
    legend,
  });
}

function tableHtml(t: Table): string {
  const rows = t.rows.map(
    (r: Row) =>
      `<tr class="${r.source}"><td>${esc(r.sizeLabel)}</td><td>${esc(r.label)}</td><td>${esc(resultText(r))}</td><td>${fixed(r.qemuCpuPct?.mean)}</td><td>${fixed(r.vhostCpuPct?.mean)}</td><td>${fixed(r.irqPerSec?.mean, 0)}</td><td>${fixed(r.lineRatePct)}</td><td>${esc(deltaText(r))}</td>${verdictCell(verdictText(r))}</tr>`,
  );
  const notes = tableNotes(t);
  return [
    `<table><thead><tr><th>size</th><th>variant</th><th>${t.unit === "Mb/s" ? "throughput Mb/s" : "transactions/s"} ± 95% CI</th><th>qemu CPU %</th><th>vhost CPU %</th><th>irq/s</th><th>${esc(lineRateHeader(t))}</th><th>Δ vs baseline [95% CI]</th><th>verdict</th></tr></thead>`,
    `<tbody>${rows.join("\n")}</tbody></table>`,
    notes.length ? `<ul class="notes">${notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : "",
    simpleTable(METRIC_HEADER, metricRows(t).map(metricCells), "metrics", `${t.test}: every figure against the baseline`),
  ].join("\n");
}

/** The verdict as a cell whose class colours it (improved green, regressed red, the rest grey). */
function verdictCell(v: string): string {
  const cls = v.startsWith("improved") ? "improved" : v.startsWith("regressed") ? "regressed" : v ? "undecided" : "";
  return `<td class="verdict ${cls}">${esc(v)}</td>`;
}

/** A table whose last text column is a verdict: the per-figure and per-patch tables. */
function simpleTable(header: string[], rows: string[][], cls: string, caption?: string, verdictAt = header.indexOf("verdict")): string {
  if (!rows.length) return "";
  const tr = (cells: string[]) => `<tr>${cells.map((c, i) => (i === verdictAt ? verdictCell(c) : `<td>${esc(c)}</td>`)).join("")}</tr>`;
  return `<table class="${cls}">${caption ? `<caption>${esc(caption)}</caption>` : ""}<thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map(tr).join("\n")}</tbody></table>`;
}

export function renderHtml(report: Report): string {
  const runs = report.runs.map((r) => `<li>${esc(`${r.stack}/${r.run}: ${r.started} to ${r.ended ?? "(not ended)"}; variants ${r.options.variants.join(", ")}; ${r.options.repetitions} x ${r.options.durationSeconds} s`)}</li>`).join("");
  const env = report.runs.map((r) => `<details><summary>environment of ${esc(r.run)}</summary><pre>${esc(JSON.stringify(r.environment, null, 2))}</pre></details>`).join("\n");
  const sections = report.tables.map((t) => {
    const plots = [resultChart(t), ...(t.rows.some((r) => r.qemuCpuPct || r.vhostCpuPct) ? [cpuChart(t)] : [])];
    return `<section><h2>${esc(t.test)}</h2>\n${tableHtml(t)}\n<div class="plots">${plots.join("\n")}</div></section>`;
  });
  for (const p of report.series ?? [])
    sections.push(`<section><h2>${esc(patchTitle(p))}</h2>\n${simpleTable(PATCH_HEADER, p.rows.map((r) => patchCells(p, r)), "patches")}<p class="notes">${esc(PATCH_NOTE)}</p></section>`);
  const summary = report.summary.length
    ? `<section class="summary"><h2>Verdicts</h2>${report.summary.map((i) => `<p><b>${esc(i.heading)}</b></p><ul>${i.lines.map((l) => `<li>${esc(l)}</li>`).join("")}</ul>`).join("")}<p>${esc(verdictRules(report))}</p></section>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ixlab report: ${esc(report.runs.map((r) => `${r.stack}/${r.run}`).join(", "))}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:nth-child(2), th:nth-child(2) { text-align: left; }
tr.seed td { color: #666; font-style: italic; }
.notes { color: #8a4b00; }
.plots svg { display: block; margin: 16px 0; }
td.verdict, th:last-child { text-align: left; }
table:not(.metrics):not(.patches) td.verdict { white-space: nowrap; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
td.improved { color: #1a7f37; font-weight: bold; }
td.regressed { color: #c62828; font-weight: bold; }
td.undecided { color: #666; }
table.metrics td:nth-child(3), table.patches td:nth-child(2), table.patches td:nth-child(3) { text-align: left; }
</style></head><body>
<h1>ixlab report</h1>
${summary}
<ul>${runs}<li>baseline: ${esc(report.baseline)}</li>${report.reference ? `<li>reference (seed:*, dashed bars): ${esc(report.reference.source)}; ${esc(report.reference.note)}</li>` : ""}${report.warnings.map((w) => `<li class="notes">warning: ${esc(w)}</li>`).join("")}</ul>
${sections.join("\n")}
<p>CPU is percent of one CPU (a process busy on two CPUs shows 200%); qemu excludes its vhost workers. Error bars and ± are the 95% confidence interval (Student's t over the repetitions); ⚠ marks an interval wider than 5% of the mean; * marks outliers (modified z-score above 3.5), kept in every figure.</p>
${env}
</body></html>
`;
}
