// The toolchain the project builds for itself: a real Pulumi CLI, language host, launcher and the
// command provider, and the engine running a Command through that provider without fetching anything.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../helpers";

describe("toolchain", () => {
  const check = spawnSync("bash", [path.join(ROOT, "scripts", "toolchain.sh"), "--check"], { encoding: "utf8" });

  it("is built and complete (scripts/toolchain.sh --check)", () => assert.equal(check.status, 0, check.stderr));

  const bin = check.stdout.trim();
  it("has the CLI, the Node.js language host, the dynamic-provider launcher and the command provider", () => {
    for (const name of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs", "pulumi-resource-command"]) {
      fs.accessSync(path.join(bin, name), fs.constants.X_OK);
    }
  });

  it("runs pulumi 3.x", () => {
    const r = spawnSync(path.join(bin, "pulumi"), ["version"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^v3\.\d+\.\d+$/);
  });

  it("lives outside the repository", () => assert.ok(!path.resolve(bin).startsWith(ROOT + path.sep), bin));

  it("runs a local Command through the built command provider 1.2.1, offline", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-cmdprov-"));
    try {
      fs.mkdirSync(path.join(dir, "state"));
      fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
      fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: cmdprov\nruntime: nodejs\nmain: index.js\n");
      fs.writeFileSync(path.join(dir, "index.js"),
        'const command = require("@pulumi/command");\nconst c = new command.local.Command("hello", { create: "echo built-here" });\nexports.out = c.stdout;\n');
      const env = {
        ...process.env, PATH: `${bin}:${process.env.PATH}`, PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE: "test",
        // As scripts/env.sh runs it: plugins from beside the CLI and from the plugin cache, never fetched.
        PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true", PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
      };
      const run = (...args: string[]) => spawnSync("pulumi", [...args, "--non-interactive"], { cwd: dir, env, encoding: "utf8", timeout: 120_000 });
      assert.equal(run("stack", "init", "t").status, 0);
      const up = run("up", "--yes", "--skip-preview");
      assert.equal(up.status, 0, up.stdout + up.stderr);
      assert.doesNotMatch(up.stdout + up.stderr, /from \$PATH/, "the provider comes from the plugin cache, without a warning");
      assert.equal(run("stack", "output", "out").stdout.trim(), "built-here");
      const state = JSON.parse(run("stack", "export").stdout);
      const provider = state.deployment.resources.find((r: { type: string }) => r.type === "pulumi:providers:command");
      assert.equal(provider?.inputs?.version, "1.2.1", "the engine ran the command provider the SDK asked for");
      assert.equal(run("destroy", "--yes").status, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
