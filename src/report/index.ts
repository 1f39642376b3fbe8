// ixlab report's engine, also called by the bench runner after a run: load saved runs, build the
// report, render it, and write the HTML page next to the (first) run.
import * as fs from "node:fs";
import * as path from "node:path";
import { loadRun, LoadedRun, writeFileAtomic } from "../bench/results";
import { buildReport, Report, ReportOptions } from "./model";
import { renderHtml } from "./html";
import { renderCsv, renderJson, renderMarkdown } from "./text";

export { buildReport, ReportError } from "./model";
export type { Report, ReportOptions, Row, Table } from "./model";
export { renderCsv, renderJson, renderMarkdown } from "./text";
export { renderHtml } from "./html";

export interface RenderOptions extends ReportOptions {
  /** Where to write the HTML page; default <first run>/report.html; false: do not write one. */
  html?: string | false;
}

export interface Rendered {
  report: Report;
  markdown: string;
  csv: string;
  json: string;
  html: string;
  htmlPath?: string;
  runs: LoadedRun[];
}

/**
 * Renders a report from saved run directories (results/<stack>/<run>). Throws ResultsError for
 * broken result files and ReportError for a bad option; missing cells are in report.warnings.
 */
export function renderReport(runDirs: string[], opts: RenderOptions = {}): Rendered {
  const runs = runDirs.map((d) => loadRun(d));
  const report = buildReport(runs, opts);
  const html = renderHtml(report);
  let htmlPath: string | undefined;
  if (opts.html !== false) {
    htmlPath = opts.html ?? path.join(runDirs[0], "report.html");
    fs.mkdirSync(path.dirname(path.resolve(htmlPath)), { recursive: true });
    writeFileAtomic(path.resolve(htmlPath), html);
  }
  return { report, markdown: renderMarkdown(report), csv: renderCsv(report), json: renderJson(report), html, htmlPath, runs };
}
