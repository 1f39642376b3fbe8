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
        if (args.name.endsWith("-build")) state.facts = { key: "k", release: "6.1.192-ixlab-guest", target: "bzImage", artifact: "/cache/bzImage", sha256: "ab".repeat(32), buildSeconds: 1, compiled: true };
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
      "dynamic kernel-guest-build", "dynamic kernel-guest-bootcheck", "ixlab:index:KernelBuild kernel-guest", "ixlab:index:KernelInstall kernel-guest",
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
    // The guest kernel: built from Debian's source with the demo series and the fragment, then booted.
    const build = byName["kernel-guest-build"].inputs.args as string[];
    assert.equal(build[build.indexOf("--base") + 1], "tinyconfig");
    assert.match(build[build.indexOf("--patches") + 1], /patches\/sim-demo\/0001-.*\.patch .*patches\/sim-demo\/0002-.*\.patch$/);
    assert.match(build[build.indexOf("--key") + 1], /^[0-9a-f]{32}$/);
    const boot = byName["kernel-guest-bootcheck"].inputs.args as string[];
    assert.deepEqual(boot.slice(0, 6), ["--kernel", "/cache/bzImage", "--expect-release", "6.1.192-ixlab-guest", "--expect-line", "ixlab-demo: patch series applied"]);
    assert.equal(topology.kernels[0].release, "6.1.192-ixlab-guest");
  });

  it("keys kernel builds by content: same inputs, same key; a changed fragment, a new key", async () => {
    const { planKernelBuild } = await import("../../src/lab/kernel");
    const { validateLab } = await import("../../src/lab/validate");
    const lab = parse(fs.readFileSync(`${ROOT}/Pulumi.sim.yaml`, "utf8")).config["ixlab:lab"];
    const r = validateLab(lab, { baseDir: ROOT });
    assert.ok(r.ok);
    const k = r.lab.kernels[0];
    const a = planKernelBuild(k, "sim", "sim", ROOT, "/cache", "k");
    assert.equal(planKernelBuild(k, "sim", "sim", ROOT, "/cache", "k").key, a.key);
    const tmp = fs.mkdtempSync(`${require("node:os").tmpdir()}/ixlab-frag-`);
    fs.writeFileSync(`${tmp}/f.config`, fs.readFileSync(`${ROOT}/kernel-configs/sim-guest.config`, "utf8") + "CONFIG_HIGH_RES_TIMERS=y\n");
    const b = planKernelBuild({ ...k, config: { ...k.config, fragments: [`${tmp}/f.config`] } }, "sim", "sim", ROOT, "/cache", "k");
    assert.notEqual(b.key, a.key);
    assert.equal(b.tree, a.tree, "a changed kernel rebuilds in the same tree, incrementally");
    fs.rmSync(tmp, { recursive: true });
  });
});
