// The assertion message of a failed pulumi run in the integration tests: the cause, not the whole log.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pulumiProblem } from "../helpers";

const failedUp = `Updating (simtest):
     +  pulumi:pulumi:Stack ixlab-simtest creating (0s)
     +  command:remote:Command dut-preflight creating (0s)
     +  command:remote:Command dut-preflight created (0.41s)
     +  command:remote:Command dut-packages creating (0s)
     +  command:remote:Command dut-packages creating failed (1s) error: Process exited with status 1
     +  pulumi-nodejs:dynamic/ixlab:Qemu vm1-qemu creating (0s)
    pulumi:pulumi:Stack ixlab-simtest  1 error
Diagnostics:
  command:remote:Command (dut-packages):
    error: host-packages: netperf missing on dut

Outputs:
  + topology: {
      + cells: 24
    }

Resources:
    + 2 created
    1 errored

Duration: 3s
`;

describe("pulumiProblem", () => {
  it("keeps the failed step, the diagnostics and the summary, and drops the outputs and the progress", () => {
    const p = pulumiProblem(failedUp);
    assert.match(p, /dut-packages creating failed .* error: Process exited with status 1/);
    assert.match(p, /error: host-packages: netperf missing on dut/);
    assert.match(p, /1 errored/);
    assert.match(p, /dut-preflight created \(0\.41s\)/, "a step that changed something is kept");
    assert.doesNotMatch(p, /cells: 24/);
    assert.doesNotMatch(p, /vm1-qemu creating \(0s\)/);
  });

  it("caps a long output, keeping its head and its tail", () => {
    const many = Array.from({ length: 500 }, (_, i) => `     +  command:remote:Command step-${i} created (0.1s)`).join("\n");
    const p = pulumiProblem(many, 20);
    assert.equal(p.split("\n").length, 21);
    assert.match(p, /step-0 created/);
    assert.match(p, /step-499 created/);
    assert.match(p, /\.\.\. \(480 lines\)/);
  });
});
