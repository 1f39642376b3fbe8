// ixlab report's engine, also called by the bench runner after a run: load saved runs, build the
// report, render it, and write the HTML page next to the (first) run.
import * as path from "node:path";
import { loadRun, LoadedRun } from "../bench/results";
import { checkOutputPath, neutralise, neutraliseDeep, preflight, writeWhole } from "./io";
import { buildReport, Report, ReportOptions } from "./model";
import { renderHtml } from "./html";
import { renderCsv, renderJson, renderMarkdown } from "./text";
import { benchCommand, renderEmail } from "./email";

export { buildReport, ReportError } from "./model";
export type { Report, ReportOptions, Row, Table } from "./model";
export { renderCsv, renderJson, renderMarkdown } from "./text";
export { renderHtml } from "./html";
export { renderEmail } from "./email";

export interface RenderOptions extends ReportOptions {
  /** Where to write the HTML page; default <first run>/report.html; false: do not write one. */
  html?: string | false;
}

export interface Rendered {
  report: Report;
  markdown: string;
  csv: string;
  json: string;
  /** Plain text in 72 columns, for a mailing list. */
  email: string;
  html: string;
  htmlPath?: string;
  runs: LoadedRun[];
}

/**
 * Renders a report from saved run directories (results/<stack>/<run>). Throws ResultsError for
 * broken result files and ReportError for a bad option; missing cells are in report.warnings.
 */
export function renderReport(runDirs: string[], opts: RenderOptions = {}): Rendered {
  const htmlPath = opts.html === false ? undefined : (opts.html ?? path.join(runDirs[0], "report.html"));
  if (htmlPath) checkOutputPath(htmlPath);
  const runs = runDirs.map((d) => readRun(d));
  const report = buildReport(runs, opts);
  const html = renderHtml(report);
  if (htmlPath) writeWhole(htmlPath, html);
  const email = renderEmail(report, { command: benchCommand(report) });
  return { report, markdown: renderMarkdown(report), csv: renderCsv(report), json: renderJson(report), email, html, htmlPath, runs };
}

/** A run loaded within the caps, its recorded strings neutralised (the directory keeps its name). */
export function readRun(dir: string): LoadedRun {
  preflight(dir);
  const run = loadRun(dir);
  return { dir: run.dir, record: neutraliseDeep(run.record), cells: neutraliseDeep(run.cells), missing: run.missing, warnings: run.warnings.map(neutralise) };
}
