// infra/register.js, the .ts loader of the Pulumi program and its provider processes: what swc makes
// is cached by a digest of the source, so a second process loads the same module without swc, and a
// changed source is transpiled anew rather than served stale.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { ROOT } from "../helpers";

describe("register.js: the swc cache", () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-register-"));
  // A module of the repository's own, made for this test (the loader only transpiles files under the root).
  const file = path.join(ROOT, "src", `.register-test-${process.pid}.ts`);
  after(() => {
    fs.rmSync(cache, { recursive: true, force: true });
    fs.rmSync(file, { force: true });
  });

  /** Loads FILE in a new Node process; returns its export and whether swc was loaded to get it. */
  function load(): { value: string; swcLoaded: boolean } {
    const script = `require(${JSON.stringify(path.join(ROOT, "infra", "register.js"))}).register(${JSON.stringify(ROOT)});
const value = require(${JSON.stringify(file)}).value;
const swcLoaded = Object.keys(require.cache).some((k) => k.includes("/@swc/core/"));
process.stdout.write(JSON.stringify({ value, swcLoaded }));`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, IXLAB_CACHE: cache } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { value: string; swcLoaded: boolean };
  }

  it("transpiles once, then serves the same module from the cache without swc", () => {
    fs.writeFileSync(file, `const v: string = "one";\nexport const value = v;\n`);
    assert.deepEqual(load(), { value: "one", swcLoaded: true });
    assert.equal(fs.readdirSync(path.join(cache, "swc")).filter((f) => f.endsWith(".js")).length, 1);
    assert.deepEqual(load(), { value: "one", swcLoaded: false });
  });

  it("a changed source is transpiled again", () => {
    fs.writeFileSync(file, `const v: string = "two";\nexport const value = v;\n`);
    assert.deepEqual(load(), { value: "two", swcLoaded: true });
    assert.equal(fs.readdirSync(path.join(cache, "swc")).filter((f) => f.endsWith(".js")).length, 2);
    assert.deepEqual(load(), { value: "two", swcLoaded: false });
  });
});
