// Every shell script in the project is shellcheck-clean.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { it } from "node:test";
import { ROOT } from "../helpers";

const dirs = ["scripts", "roles", ".ci", "bench"];
const scripts = dirs.flatMap((d) => {
  const dir = path.join(ROOT, d);
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".sh") || f === "run").map((f) => path.join(d, f)) : [];
});

it("finds the project's shell scripts", () => assert.ok(scripts.length >= 5, scripts.join(" ")));

for (const script of scripts) {
  it(`shellcheck ${script}`, () => {
    const r = spawnSync("shellcheck", ["-x", "-P", "SCRIPTDIR", script], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.error, undefined, "shellcheck is not installed (npm run setup installs it)");
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
}
