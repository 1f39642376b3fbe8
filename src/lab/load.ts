// Reads a stack file (Pulumi.<stack>.yaml) or a bare lab file and finds the ixlab:lab value in it,
// keeping the YAML document so problems can point at a line. Whatever the file holds, the answer is
// the lab or one line per problem, read in bounded time and memory: the file is capped in size,
// YAML aliases in number, and anything else the YAML reader throws becomes a line naming the file.
import * as fs from "node:fs";
import * as path from "node:path";
import { Document, isMap, isNode, isPair, isScalar, isSeq, LineCounter, Node, parseDocument } from "yaml";
import { formatProblem, Problem } from "./validate";

export const LAB_KEY = "ixlab:lab";
/** Fifty times the example lab (5 KiB); a bound on what the YAML reader is handed (about 1 s). */
export const MAX_LAB_FILE_BYTES = 256 * 1024;
/** YAML aliases (*name) expanded at most: a few are handy, an alias bomb is millions. */
const MAX_ALIASES = 100;
/** Nesting depth at most; a lab is about 6 deep. */
const MAX_DEPTH = 64;

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

/** The file's bytes, refusing what is not a regular file of bounded size before reading it. */
function readLabBytes(file: string): Buffer {
  const fail = (why: string) => new LabFileError([`${displayPath(file)}: ${why}`]);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw fail(`cannot read: ELOOP: it is a loop of symbolic links (ls -l ${displayPath(file)} shows where it points)`);
    if (code === "ENOENT") {
      let dangling = false;
      try {
        dangling = fs.lstatSync(file).isSymbolicLink();
      } catch {
        /* not there at all */
      }
      throw fail(dangling ? `cannot read: ENOENT: it is a symbolic link to ${fs.readlinkSync(file)}, which does not exist` : "cannot read: ENOENT: no such file");
    }
    throw fail(`cannot read: ${code ?? (e as Error).message}`);
  }
  if (st.isDirectory()) throw fail("is a directory, not a lab file");
  if (!st.isFile()) throw fail("is not a regular file (a pipe or device); give the path of a lab file");
  if (st.size > MAX_LAB_FILE_BYTES) throw fail(`is ${st.size} bytes; a lab file is at most ${MAX_LAB_FILE_BYTES} bytes (256 KiB)`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    // Read at most one byte past the cap: a file that grew since the stat is refused, not read whole.
    const buf = Buffer.alloc(MAX_LAB_FILE_BYTES + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = fs.readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_LAB_FILE_BYTES) throw fail(`is more than ${MAX_LAB_FILE_BYTES} bytes; a lab file is at most 256 KiB`);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof LabFileError) throw e;
    throw fail(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** UTF-8 text without a byte order mark, which is what Pulumi and ixlab both read the same way. */
function decodeLabText(bytes: Buffer, file: string): string {
  const fail = (why: string) => new LabFileError([`${displayPath(file)}: ${why}`]);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) throw fail("is UTF-16 (little-endian) text; save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8");
  if (bytes[0] === 0xfe && bytes[1] === 0xff) throw fail("is UTF-16 (big-endian) text; save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8");
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) throw fail("starts with a byte order mark (U+FEFF); save it as UTF-8 without one");
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw fail(`holds a NUL byte at offset ${nul}: it is not a text file${nul < 2 ? " (UTF-16 without a byte order mark? save it as UTF-8)" : ""}`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw fail("is not UTF-8 text; save it as UTF-8");
  }
}

/** The YAML reader's message in ixlab's words: what is wrong in the file, not which function to call. */
function yamlMessage(code: string, message: string): string {
  if (code === "MULTIPLE_DOCS") return "holds more than one YAML document (a second ---); a stack file is one document";
  return message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "").replace(/;? ?[Pp]lease use [^;]*$/, "");
}

/**
 * Plain integers that Pulumi's YAML reader (YAML 1.1 rules) reads differently from ixlab's (YAML
 * 1.2): a leading zero is octal there (010 is 8) and underscores group digits (1_000 is 1000).
 */
function ambiguousNumbers(doc: Document, prefix: (string | number)[]): Problem[] {
  const problems: Problem[] = [];
  const start = doc.getIn(prefix, true);
  const walk = (node: unknown, at: (string | number)[], depth: number) => {
    if (depth > MAX_DEPTH) return;
    if (isScalar(node)) {
      const src = node.source;
      if (node.type === "PLAIN" && typeof src === "string" && /^[-+]?(0[0-9_]+|[0-9]+_[0-9_]*)$/.test(src)) {
        const octal = /^[-+]?0[0-7_]+$/.test(src) ? `, which Pulumi's YAML reader reads as the octal number ${parseInt(src.replace(/_/g, ""), 8)}` : "";
        problems.push({ path: at, message: `${src} is a number written ${src.includes("_") ? "with _" : "with a leading zero"}${octal}, and ixlab as ${Number(src.replace(/_/g, ""))}; write ${Number(src.replace(/_/g, ""))} (or quote it if it is text)` });
      }
    } else if (isMap(node)) {
      for (const pair of node.items) if (isPair(pair)) walk(pair.value, [...at, isScalar(pair.key) ? String(pair.key.value) : String(pair.key)], depth + 1);
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...at, i], depth + 1));
    }
  };
  walk(start, [], 0);
  return problems;
}

/**
 * The deepest nesting of flow brackets ([ and {) outside quotes and comments, found in one pass
 * before the YAML reader, whose recursion a file of many thousand brackets would exhaust.
 */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
      else if (c === "\n" && quote === "#") quote = "";
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]))) quote = "#";
    else if (c === "[" || c === "{") max = Math.max(max, ++depth);
    else if ((c === "]" || c === "}") && depth > 0) depth--;
  }
  return max;
}

function nodeDepth(doc: Document): number {
  let max = 0;
  const walk = (node: unknown, depth: number) => {
    if (depth > max) max = depth;
    if (depth > MAX_DEPTH) return;
    if (isMap(node) || isSeq(node)) for (const item of node.items) walk(isPair(item) ? item.value : item, depth + 1);
  };
  walk(doc.contents, 0);
  return max;
}

export function loadLabFile(file: string): LoadedLab {
  const text = decodeLabText(readLabBytes(file), file);
  const where = displayPath(file);
  const tooDeep = () => new LabFileError([`${where}: nests more than ${MAX_DEPTH} levels deep; a lab is a few levels of maps and lists`]);
  if (flowDepth(text) > MAX_DEPTH) throw tooDeep();
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    throw new LabFileError([`${where}: cannot be read as YAML: ${(e as Error).message.split("\n")[0]}`]);
  }
  // Deep block nesting (indentation) exhausts the reader's recursion too; it says so as an error.
  if (doc.errors.some((e) => /call stack/i.test(e.message))) throw tooDeep();
  if (doc.errors.length > 0) {
    throw new LabFileError(
      doc.errors.slice(0, 20).map((e) => {
        const pos = e.linePos?.[0];
        return `${where}:${pos ? `${pos.line}:${pos.col}` : "1:1"}: YAML syntax error: ${yamlMessage(e.code, e.message)}`;
      }),
    );
  }
  if (nodeDepth(doc) > MAX_DEPTH) throw tooDeep();
  const prefix = labPrefix(doc);
  const lineOf = (p: (string | number)[]) => {
    if (prefix === undefined) return undefined;
    // Walk up to the nearest ancestor present in the file (a missing field points at its parent).
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn([...prefix, ...p.slice(0, n)], true);
      if (isNode(node) && (node as Node).range) return lineCounter.linePos((node as Node).range![0]).line;
    }
    return undefined;
  };
  const lineProblems = (problems: Problem[]) => new LabFileError(problems.map((p) => `${formatProblem(p)} (${where}${lineOf(p.path) ? `:${lineOf(p.path)}` : ""})`));
  if (prefix !== undefined) {
    const numbers = ambiguousNumbers(doc, prefix);
    if (numbers.length > 0) throw lineProblems(numbers);
  }
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    if (/alias/i.test((e as Error).message)) {
      throw new LabFileError([`${where}: expands YAML aliases (*name) more than ${MAX_ALIASES} times, which only a file built to exhaust memory does; write the values out`]);
    }
    throw new LabFileError([`${where}: cannot be read as YAML: ${(e as Error).message.split("\n")[0]}`]);
  }
  const raw = prefix?.reduce<unknown>((node, k) => (node as Record<string | number, unknown> | undefined)?.[k], js);
  if (raw && typeof raw === "object" && !Array.isArray(raw) && Object.keys(raw).length === 1 && "secure" in raw) {
    throw lineProblems([{ path: [], message: `is an encrypted value (secure: ..., as pulumi config set --secret writes it); ixlab:lab must be the lab itself in plain YAML, with secrets in keys of their own that it names ({ secret: NAME })` }]);
  }
  return { file, raw, lineOf };
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


