// A real `pulumi preview` of the sim lab with the project's own toolchain, and a bad lab that the
// real engine stops before any resource exists. Each on a stack of its own in the tests' backend:
// the user's `sim` stack (which `npm run demo` leaves up) is never read, whatever state it is in.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { capturePulumi, ensureStack } from "../../src/pulumi/cli";
import { ROOT, simTestStack, TEST_STATE, useTestBackend } from "../helpers";

const STACK = `t-preview-${process.pid}`;
const PREFIX = "ixp";

function badStackFile(): string {
  const text = fs.readFileSync(path.join(ROOT, "Pulumi.sim.yaml"), "utf8").replace("role: peer", "role: peeer").replace(/^encryptionsalt:.*$/m, "");
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-bad-")), "Pulumi.bad.yaml");
  fs.writeFileSync(file, text);
  return file;
}

describe("pulumi preview of the sim lab", () => {
  const file = simTestStack(STACK, PREFIX, 7);
  after(() => {
    capturePulumi(["stack", "rm", "--yes", "--force", "--stack", STACK]);
    fs.rmSync(file, { force: true });
  });

  it("runs in the tests' own backend, not the user's", () => {
    assert.equal(process.env.PULUMI_BACKEND_URL, pathToFileURL(TEST_STATE).href);
  });

  it("runs the program with the real engine and shows the topology", () => {
    ensureStack(STACK);
    const r = capturePulumi(["preview", "--stack", STACK, "--non-interactive", "--diff"]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /pulumi:pulumi:Stack/);
    for (const name of ["sim-bridge", "sim-host-dut", "sim-link-wire", "dut-hostkey", "peer-netserver"]) assert.match(r.stdout, new RegExp(`\\+ [^\\n]*\\(create\\)\\n\\s*\\[urn=[^\\]]*::${name}\\]`), `${name} is to be created`);
    assert.match(r.stdout, /topology/);
    assert.match(r.stdout, new RegExp(`${PREFIX}-dut`), "under the test's own names");
  });

  it("stops a bad lab before any resource, naming the field", () => {
    const r = capturePulumi(["preview", "--stack", STACK, "--non-interactive", "--config-file", badStackFile()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /lab\.hosts\[1\]\.role: "peeer" is not one of dut, peer, builder/);
  });
});

describe("pulumi up with a bad lab", () => {
  const stack = `badlab-${process.pid}`;
  useTestBackend();
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
