// Where `ixlab ssh` and the bench get a real lab's key: from the reference the lab file holds (the
// environment or .env, a _FILE variable naming a file, or the stack's secret config), never from a
// copy in the stack's outputs.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import "../helpers";
import { capturePulumi, ensureStack } from "../../src/pulumi/cli";
import { readKeyRef } from "../../src/pulumi/keys";

const STACK = "t-keys";

describe("real-lab keys from their reference", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-keys-"));
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    capturePulumi(["stack", "rm", "--yes", "--force", "--stack", STACK]);
  });

  it("reads a key file named by a _FILE variable, and a key held in a variable", () => {
    const file = path.join(dir, "id");
    fs.writeFileSync(file, "-----BEGIN OPENSSH PRIVATE KEY-----\nfile\n", { mode: 0o600 });
    assert.equal(readKeyRef("s", "dut", { env: "T_KEY_FILE" }, { T_KEY_FILE: file }), "-----BEGIN OPENSSH PRIVATE KEY-----\nfile\n");
    assert.equal(readKeyRef("s", "dut", { env: "T_KEY" }, { T_KEY: "inline" }), "inline");
  });

  it("names the host, the variable and the problem when the key is not there", () => {
    assert.throws(() => readKeyRef("s", "peer", { env: "T_UNSET_KEY_FILE" }, {}), /stack s: host peer's ssh\.key: environment variable T_UNSET_KEY_FILE is not set/);
    assert.throws(() => readKeyRef("s", "peer", { env: "T_KEY_FILE" }, { T_KEY_FILE: path.join(dir, "absent") }), /host peer's ssh\.key: cannot read T_KEY_FILE=.*absent: ENOENT/);
  });

  it("reads a key kept as the stack's secret config, and says which key is missing", () => {
    ensureStack(STACK);
    const set = capturePulumi(["config", "set", "--secret", "--stack", STACK, "ixlab:labKey", "--", "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret"]);
    assert.equal(set.status, 0, set.stderr);
    assert.equal(readKeyRef(STACK, "dut", { secret: "labKey" }), "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret");
    assert.throws(() => readKeyRef(STACK, "dut", { secret: "otherKey" }), /host dut's ssh\.key: cannot read secret config ixlab:otherKey/);
  });
});
