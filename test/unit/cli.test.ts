// The ixlab command as a user runs it: exit codes, messages on stderr, --json, --help.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { fixture, ROOT } from "../helpers";
import { pulumiCommand } from "../../src/pulumi/cli";

function ixlab(...args: string[]) {
  const r = spawnSync(path.join(ROOT, "bin", "ixlab"), args, { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("ixlab validate", () => {
  it("accepts the sim stack and exits 0", () => {
    const r = ixlab("validate", "--stack", "sim");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Pulumi\.sim\.yaml: valid lab/);
  });

  it("rejects a broken file with one line per problem on stderr and exit 2", () => {
    const r = ixlab("validate", fixture("bad-labs", "guest-unknown-host.yaml"));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^lab\.guests\[0\]\.host: "dut9" is not a host in lab\.hosts \(known: dut, peer\) \(test\/fixtures\/bad-labs\/guest-unknown-host\.yaml:\d+\)$/m);
    assert.equal(r.stdout, "");
  });

  it("points YAML syntax errors at the line", () => {
    const r = ixlab("validate", fixture("bad-labs", "yaml-syntax.yaml"));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /yaml-syntax\.yaml:6:3: YAML syntax error/);
  });

  it("speaks JSON for machines", () => {
    const r = ixlab("validate", "--json", fixture("bad-labs", "bench-size.yaml"));
    assert.equal(r.status, 2);
    const out = JSON.parse(r.stdout);
    assert.equal(out.valid, false);
    assert.ok(out.problems.some((p: string) => p.startsWith("lab.bench.sizes[1]:")));
  });

  it("names a missing file", () => {
    const r = ixlab("validate", "--stack", "nosuchstack");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /Pulumi\.nosuchstack\.yaml: cannot read: ENOENT/);
  });

  it("leaves the lab file untouched", () => {
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-")), "lab.yaml");
    fs.copyFileSync(fixture("bad-labs", "role-typo.yaml"), tmp);
    const before = fs.readFileSync(tmp, "utf8");
    ixlab("validate", tmp);
    assert.equal(fs.readFileSync(tmp, "utf8"), before);
  });

  it("refuses unknown options and conflicting arguments with exit 2", () => {
    assert.equal(ixlab("validate", "--stak", "sim").status, 2);
    assert.match(ixlab("validate", "--stak", "sim").stderr, /unknown option --stak/);
    assert.equal(ixlab("validate", "--stack", "sim", "x.yaml").status, 2);
    assert.equal(ixlab("frobnicate").status, 2);
  });

  it("shows an example in --help", () => {
    const r = ixlab("validate", "--help");
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Examples:\n\s+ixlab validate --stack sim/);
    assert.match(ixlab("--help").stdout, /validate/);
  });
});

describe("pulumi in ixlab's environment", () => {
  it("runs only pulumi from a clone whose path holds $(...), quotes and spaces", () => {
    // A made-up clone: its env.sh puts a stand-in pulumi on PATH. Before, the path was pasted into a
    // `bash -c` script, so the $(touch ...) in the directory name ran.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-clone-"));
    const pwned = path.join(base, "pwned");
    const root = path.join(base, `a $(touch ${pwned}) "b" 'c' \`touch ${pwned}\``);
    try {
      fs.mkdirSync(path.join(root, "scripts"), { recursive: true });
      fs.mkdirSync(path.join(base, "bin"));
      fs.writeFileSync(path.join(base, "bin", "pulumi"), '#!/bin/sh\necho "pulumi ran with: $*"\n', { mode: 0o755 });
      fs.writeFileSync(path.join(root, "scripts", "env.sh"), `export PATH=${JSON.stringify(path.join(base, "bin"))}:"$PATH"\n`);
      const [cmd, argv] = pulumiCommand(["stack", "ls", "--json"], root);
      assert.ok(!argv[1].includes(root), "the script text holds no path");
      const r = spawnSync(cmd, argv, { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "pulumi ran with: stack ls --json\n");
      assert.ok(!fs.existsSync(pwned), "nothing in the path ran");
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
