// A real `pulumi preview` of the sim stack with the project's own toolchain, and a bad lab that the
// real engine stops before any resource exists.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { capturePulumi, ensureStack } from "../../src/pulumi/cli";
import { ROOT } from "../helpers";

function badStackFile(): string {
  const text = fs.readFileSync(path.join(ROOT, "Pulumi.sim.yaml"), "utf8").replace("role: peer", "role: peeer").replace(/^encryptionsalt:.*$/m, "");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-bad-")), "Pulumi.bad.yaml");
  fs.writeFileSync(file, text);
  return file;
}

describe("pulumi preview --stack sim", () => {
  it("runs the program with the real engine and shows the topology", () => {
    ensureStack("sim");
    const r = capturePulumi(["preview", "--stack", "sim", "--non-interactive", "--diff"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /pulumi:pulumi:Stack/);
    for (const name of ["sim-bridge", "sim-host-dut", "sim-link-wire", "dut-hostkey", "peer-netserver"]) assert.match(r.stdout, new RegExp(`::${name}\\]`));
    assert.match(r.stdout, /topology/);
  });

  it("stops a bad lab before any resource, naming the field", () => {
    const file = badStackFile();
    const r = capturePulumi(["preview", "--stack", "sim", "--non-interactive", "--config-file", file]);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /lab\.hosts\[1\]\.role: "peeer" is not one of dut, peer, builder/);
  });
});

describe("pulumi up with a bad lab", () => {
  const stack = `badlab-${process.pid}`;
  after(() => capturePulumi(["stack", "rm", "--yes", "--force", "--stack", stack]));

  it("fails and leaves the stack with no resources", () => {
    ensureStack(stack);
    const r = capturePulumi(["up", "--yes", "--stack", stack, "--non-interactive", "--config-file", badStackFile()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /lab\.hosts\[1\]\.role/);
    const exported = capturePulumi(["stack", "export", "--stack", stack]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.deepEqual(JSON.parse(exported.stdout).deployment.resources ?? [], []);
  });
});
