// The resource graph of the Pulumi program under Pulumi's mocks: which components and resources a lab
// declares, how they depend on each other, and that no secret reaches the topology. (The real engine
// runs the same program in test/integration.)
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { ROOT } from "../helpers";

interface Declared {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

async function declare(stackFile: string, env: Record<string, string> = {}): Promise<{ resources: Declared[]; outputs: Record<string, unknown> }> {
  const lab = parse(fs.readFileSync(`${ROOT}/${stackFile}`, "utf8")).config["ixlab:lab"];
  Object.assign(process.env, env);
  const resources: Declared[] = [];
  pulumi.runtime.setAllConfig({ "ixlab:lab": JSON.stringify(lab) });
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.name.endsWith("-key")) Object.assign(state, { publicKey: "ssh-ed25519 AAAAmock", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----mock" });
        if (args.name.endsWith("-hostkey")) state.hostKey = `ssh-ed25519 AAAAhost-${args.name}`;
        if (args.name.endsWith("-preflight")) state.facts = { kernelRelease: "6.1.0-mock", kvm: false };
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "ixlab",
    "graphtest",
    false,
  );
  const program = require(`${ROOT}/build/infra/index.js`);
  const outputs: Record<string, unknown> = {};
  for (const key of ["topology", "sshKeys"]) {
    outputs[key] = await new Promise((resolve) => (program[key] as pulumi.Output<unknown>).apply(resolve));
  }
  // Registrations finish asynchronously (dynamic providers are serialized first): wait until quiet.
  for (let seen = -1; seen !== resources.length; ) {
    seen = resources.length;
    await new Promise((r) => setTimeout(r, 300));
  }
  return { resources, outputs };
}

describe("resource graph", () => {
  it("declares the sim lab: fabric, hosts, peer, one resource per real thing", async () => {
    const { resources, outputs } = await declare("Pulumi.sim.yaml");
    const names = resources.map((r) => `${r.type.replace("pulumi-nodejs:dynamic:Resource", "dynamic")} ${r.name}`).sort();
    assert.deepEqual(names, [
      "dynamic dut-hostkey", "dynamic dut-nic", "dynamic dut-packages", "dynamic dut-preflight",
      "dynamic peer-hostkey", "dynamic peer-netserver", "dynamic peer-nic", "dynamic peer-packages", "dynamic peer-preflight",
      "dynamic sim-bridge", "dynamic sim-host-dut", "dynamic sim-host-peer", "dynamic sim-key", "dynamic sim-link-wire",
      "ixlab:index:Host dut", "ixlab:index:Host peer", "ixlab:index:Peer peer", "ixlab:sim:Fabric sim",
    ].sort());
    const byName = Object.fromEntries(resources.map((r) => [r.name, r]));
    assert.equal(byName["sim-host-dut"].inputs.role, "sim-host");
    assert.deepEqual(byName["sim-link-wire"].inputs.args, ["--a-ns", "ixl-dut", "--a-if", "eth1", "--b-ns", "ixl-peer", "--b-if", "eth1", "--mtu", "1500"]);
    assert.deepEqual(byName["peer-netserver"].inputs.args, ["--address", "198.19.0.2", "--port", "12865"]);
    assert.equal(byName["peer-netserver"].inputs.live, true);
    assert.equal(byName["dut-preflight"].inputs.live, false);
    const topology = outputs.topology as any;
    assert.equal(topology.hosts[0].management.hostKey, "ssh-ed25519 AAAAhost-dut-hostkey");
    assert.equal(topology.hosts[0].kernel, "6.1.0-mock");
    assert.ok(!JSON.stringify(topology).includes("PRIVATE KEY"));
  });
});
