// The bad-input corpus: every file in test/fixtures/bad-labs must be rejected, and each `# expect:`
// line at its top must appear in what ixlab reports (the same text `ixlab validate` prints).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
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

describe("bad lab corpus", () => {
  it("has at least 40 fixtures", () => assert.ok(files.length >= 40, `only ${files.length} fixtures`));
  for (const name of files) {
    it(name, () => {
      const file = `${dir}/${name}`;
      const expected = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("# expect: ")).map((l) => l.slice("# expect: ".length));
      assert.ok(expected.length > 0, `${name} has no '# expect:' line`);
      const lines = report(file);
      assert.ok(lines.length > 0, `${name} was accepted`);
      for (const e of expected) assert.ok(lines.some((l) => l.includes(e)), `${name}: expected a line containing\n  ${e}\ngot:\n  ${lines.join("\n  ")}`);
      // Each problem line names a path in the lab (or the file, for YAML errors) and says what is wrong.
      for (const l of lines) assert.match(l, /^(lab[.[:]|\S+\.yaml:\d+:\d+: )/, `unexpected line format: ${l}`);
    });
  }
});
