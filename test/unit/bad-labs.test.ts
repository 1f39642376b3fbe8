// The bad-input corpus: every file in test/fixtures/bad-labs must be rejected, and each `# expect:`
// line at its top must appear in what ixlab reports (the same text `ixlab validate` prints).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { formatProblems, LabFileError, loadLabFile } from "../../src/lab/load";
import { validateLab } from "../../src/lab/validate";
import { fixture, ROOT } from "../helpers";

const dir = fixture("bad-labs");
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();

function report(file: string): string[] {
  try {
    const loaded = loadLabFile(file);
    const result = validateLab(loaded.raw, { baseDir: ROOT });
    return result.ok ? [] : formatProblems(result.problems, loaded);
  } catch (e) {
    if (e instanceof LabFileError) return e.lines;
    throw e;
  }
}

/** A fixture's text in its own encoding (a UTF-16 fixture states its expectation in UTF-16). */
function ownText(file: string): string {
  const bytes = fs.readFileSync(file);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString("utf16le");
  return bytes.toString("utf8").replace(/^\uFEFF/, "");
}

describe("bad lab corpus", () => {
  it("has at least 40 fixtures", () => assert.ok(files.length >= 40, `only ${files.length} fixtures`));
  for (const name of files) {
    it(name, () => {
      const file = `${dir}/${name}`;
      const expected = ownText(file).split("\n").filter((l) => l.startsWith("# expect: ")).map((l) => l.slice("# expect: ".length));
      assert.ok(expected.length > 0, `${name} has no '# expect:' line`);
      const lines = report(file);
      assert.ok(lines.length > 0, `${name} was accepted`);
      for (const e of expected) assert.ok(lines.some((l) => l.includes(e)), `${name}: expected a line containing\n  ${e}\ngot:\n  ${lines.join("\n  ")}`);
      // Each problem line names a path in the lab, or the file (with the line for YAML errors).
      for (const l of lines) assert.match(l, /^(lab[.[:]|\S+\.yaml:\d+:\d+: |\S+\.yaml: )/, `unexpected line format: ${l}`);
    });
  }
});

// Files no corpus entry can be: too big to keep in git, or links. Each gives one line naming the file.
describe("bad lab files made on the spot", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-badfiles-"));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const one = (file: string, expected: RegExp) => {
    const lines = report(file);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], expected);
  };

  it("a huge file is refused before it is read", () => {
    const file = path.join(tmp, "huge.yaml");
    fs.writeFileSync(file, "config:\n  ixlab:lab:\n    description: " + "x".repeat(64 * 1024 * 1024) + "\n");
    one(file, /huge\.yaml: is 671089\d\d bytes; a lab file is at most 262144 bytes \(256 KiB\)$/);
  });

  it("a loop of symbolic links, a link to nothing, a directory", () => {
    fs.symlinkSync("b.yaml", path.join(tmp, "a.yaml"));
    fs.symlinkSync("a.yaml", path.join(tmp, "b.yaml"));
    one(path.join(tmp, "a.yaml"), /a\.yaml: cannot read: ELOOP: it is a loop of symbolic links/);
    fs.symlinkSync("gone.yaml", path.join(tmp, "dangling.yaml"));
    one(path.join(tmp, "dangling.yaml"), /dangling\.yaml: cannot read: ENOENT: it is a symbolic link to gone\.yaml, which does not exist$/);
    one(tmp, /: is a directory, not a lab file$/);
  });

  it("a list of a million sizes is one line, found in linear time", () => {
    // Quadratic duplicate checks took minutes here; the schema's bound and the problem cap keep it short.
    const sizes = Array.from({ length: 1_000_000 }, (_, i) => i + 1);
    const r = validateLab({ name: "x", hosts: [{ name: "a", role: "peer", address: "192.0.2.1", ssh: { key: { env: "K" } } }], bench: { sizes } });
    assert.ok(!r.ok);
    assert.deepEqual(r.problems.map((p) => `${p.path.join(".")}: ${p.message}`), ["bench.sizes: allows at most 64 item(s)"]);
  });
});

