// The toolchain the project builds for itself: a real Pulumi CLI, language host and launcher.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers";

describe("toolchain", () => {
  const check = spawnSync("bash", [path.join(ROOT, "scripts", "toolchain.sh"), "--check"], { encoding: "utf8" });

  it("is built and complete (scripts/toolchain.sh --check)", () => assert.equal(check.status, 0, check.stderr));

  const bin = check.stdout.trim();
  it("has the CLI, the Node.js language host and the dynamic-provider launcher", () => {
    for (const name of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
      fs.accessSync(path.join(bin, name), fs.constants.X_OK);
    }
  });

  it("runs pulumi 3.x", () => {
    const r = spawnSync(path.join(bin, "pulumi"), ["version"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^v3\.\d+\.\d+$/);
  });

  it("lives outside the repository", () => assert.ok(!path.resolve(bin).startsWith(ROOT + path.sep), bin));
});
