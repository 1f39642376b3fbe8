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
        if (args.name.includes("-files-")) state.remotePaths = ["/state/kernel-packages/k/bzImage"];
        if (args.name.endsWith("-qemu")) state.facts = { qemuPid: 4242, accel: "tcg", vhost: "off", vhostNote: "no /dev/vhost-net", hostKey: "ssh-ed25519 AAAAguest", release: "6.1.192-ixlab-guest" };
        if (args.name.endsWith("-vhostnet")) state.facts = { loaded: false, requested: 0, zcopytx: null, applied: false };
        if (args.name.endsWith("-build")) state.facts = { key: "k", release: "6.1.192-ixlab-guest", target: "bzImage", artifact: "/cache/bzImage", sha256: "ab".repeat(32), buildSeconds: 1, compiled: true };
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "ixlab",
    "graphtest",
    false,
  );
  // A fresh program run per declaration (another stack file or environment).
  for (const m of Object.keys(require.cache)) if (m.startsWith(`${ROOT}/build/infra/`)) delete require.cache[m];
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
      "dynamic kernel-guest-files-dut", "dynamic dut-vhostnet", "dynamic vm1-macvtap", "dynamic vm1-qemu", "ixlab:index:Guest vm1", "ixlab:index:VhostNet dut",
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
    const patches = build.flatMap((a, i) => (a === "--patch" ? [build[i + 1]] : []));
    assert.equal(patches.length, 2);
    assert.match(patches[0], /patches\/sim-demo\/0001-.*\.patch$/);
    assert.match(patches[1], /patches\/sim-demo\/0002-.*\.patch$/);
    assert.match(build[build.indexOf("--key") + 1], /^[0-9a-f]{32}$/);
    const boot = byName["kernel-guest-bootcheck"].inputs.args as string[];
    assert.deepEqual(boot.slice(0, 6), ["--kernel", "/cache/bzImage", "--expect-release", "6.1.192-ixlab-guest", "--expect-line", "ixlab-demo: patch series applied"]);
    assert.equal(topology.kernels[0].release, "6.1.192-ixlab-guest");
    // The guest: macvtap on the dut's test NIC, QEMU booting the copied kernel, vhost as the variant
    // asks (falling back in a sim), the sim never touching modules.
    assert.deepEqual(byName["vm1-macvtap"].inputs.args.slice(0, 8), ["--guest", "vm1", "--nic", "eth1", "--name", "ixl-vm1", "--mode", "bridge"]);
    const qemu = byName["vm1-qemu"].inputs.args as string[];
    assert.equal(qemu[qemu.indexOf("--kernel") + 1], "/state/kernel-packages/k/bzImage");
    assert.equal(qemu[qemu.indexOf("--vhost") + 1], "on");
    assert.ok(qemu.includes("--vhost-fallback"));
    assert.equal(qemu[qemu.indexOf("--mgmt") + 1], "198.18.0.10:2201");
    assert.deepEqual(byName["vm1-qemu"].inputs.triggers, ["zcopytx=0"]);
    assert.deepEqual(byName["dut-vhostnet"].inputs.args, ["--zcopytx", "0", "--no-load"]);
    assert.equal(topology.guests[0].qemuPid, 4242);
    assert.equal(topology.guests[0].vhost.effective, false);
    assert.equal(topology.guests[0].zeroCopy.requested, false);
  });

  it("switches variants through the stack: IXLAB_VARIANT=zerocopy changes the zero-copy flag and the guest's trigger", async () => {
    const { resources } = await declare("Pulumi.sim.yaml", { IXLAB_VARIANT: "zerocopy" });
    delete process.env.IXLAB_VARIANT;
    const byName = Object.fromEntries(resources.map((r) => [r.name, r]));
    assert.deepEqual(byName["dut-vhostnet"].inputs.args, ["--zcopytx", "1", "--no-load"]);
    assert.deepEqual(byName["vm1-qemu"].inputs.triggers, ["zcopytx=1"]);
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
