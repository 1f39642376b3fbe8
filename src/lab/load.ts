// Reads a stack file (Pulumi.<stack>.yaml) or a bare lab file and finds the ixlab:lab value in it,
// keeping the YAML document so problems can point at a line.
import * as fs from "node:fs";
import * as path from "node:path";
import { Document, isMap, isNode, LineCounter, parseDocument } from "yaml";
import { formatProblem, Problem } from "./validate";

export const LAB_KEY = "ixlab:lab";

export interface LoadedLab {
  file: string;
  /** The lab value, or undefined when the file has none. */
  raw: unknown;
  /** 1-based line of a path inside the lab value, when the file has it. */
  lineOf(pathInLab: (string | number)[]): number | undefined;
}

export class LabFileError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join("\n"));
  }
}

function labPrefix(doc: Document): (string | number)[] | undefined {
  // A stack file holds the lab under config["ixlab:lab"]; a bare lab file is the lab itself.
  if (doc.hasIn(["config", LAB_KEY])) return ["config", LAB_KEY];
  if (isMap(doc.contents) && doc.has("hosts")) return [];
  return undefined;
}

export function loadLabFile(file: string): LoadedLab {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new LabFileError([`${displayPath(file)}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new LabFileError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${displayPath(file)}:${pos ? `${pos.line}:${pos.col}` : "?"}: YAML syntax error: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`;
      }),
    );
  }
  const prefix = labPrefix(doc);
  const js = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown> | null;
  const raw = prefix?.reduce<unknown>((node, k) => (node as Record<string | number, unknown> | undefined)?.[k], js);
  return {
    file,
    raw,
    lineOf(p) {
      if (prefix === undefined) return undefined;
      // Walk up to the nearest ancestor present in the file (a missing field points at its parent).
      for (let n = p.length; n >= 0; n--) {
        const node = doc.getIn([...prefix, ...p.slice(0, n)], true);
        if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      }
      return undefined;
    },
  };
}

/** A path relative to the working directory when it lies below it, else as given. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

/** Formats problems as `lab.x.y: message (FILE:LINE)`. */
export function formatProblems(problems: Problem[], loaded?: LoadedLab): string[] {
  return problems.map((p) => {
    const line = loaded?.lineOf(p.path);
    const where = loaded ? ` (${displayPath(loaded.file)}${line ? `:${line}` : ""})` : "";
    return `${formatProblem(p)}${where}`;
  });
}
