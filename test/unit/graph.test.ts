// The resource graph of the Pulumi program under Pulumi's mocks: which components and resources a lab
// declares, how they depend on each other, and that no secret reaches the topology. (The real engine
// runs the same program in test/integration.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { ROOT } from "../helpers";

/** A secret as a mock sees it: Pulumi's secret signature beside the value. */
const isSecret = (v: unknown) => typeof v === "object" && v !== null && (v as Record<string, unknown>)["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270";

interface Declared {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

/** What the engine is told besides inputs: parent, explicit dependencies and aliases, by name. */
interface Wiring {
  type: string;
  parent?: string;
  dependsOn: string[];
  /** Each alias as the URN, or the type (and parent) it names. */
  aliases: string[];
}

/** "Type name" of a URN, the type without its parents' (e.g. "HostNetwork dut"). */
const nameOf = (urn: string) => {
  const [, , type, name] = urn.split("::");
  return `${type.split("$").pop()!.split(":").pop()} ${name}`;
};

/** A kernel build's output directory as the mocks report it (a host kernel's packages are listed from it). */
const mockCache = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-graph-"));
process.on("exit", () => fs.rmSync(mockCache, { recursive: true, force: true }));

async function declare(stackFile: string, env: Record<string, string> = {}, edit: (lab: any) => void = () => {}): Promise<{ resources: Declared[]; outputs: Record<string, unknown>; wiring: Record<string, Wiring> }> {
  const lab = parse(fs.readFileSync(`${ROOT}/${stackFile}`, "utf8")).config["ixlab:lab"];
  edit(lab);
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
        if (args.name.includes("-bmc-password-")) state.password = `mockpw-${args.name}`;
        if (args.name.endsWith("-preflight")) state.stdout = 'ok: preflight\nfacts: {"kernelRelease":"6.1.0-mock","kvm":false}';
        if (args.name.endsWith("-qemu")) state.facts = { qemuPid: 4242, accel: "tcg", vhost: "off", vhostNote: "no /dev/vhost-net", hostKey: "ssh-ed25519 AAAAguest", release: "6.1.192-ixlab-guest" };
        if (args.name.endsWith("-macvtap")) state.facts = { name: "ixl-vm1", ifindex: 7 };
        if (args.name.endsWith("-vhostnet")) state.facts = { loaded: false, requested: 0, zcopytx: null, applied: false };
        if (args.name.endsWith("-build")) state.facts = { key: "k", release: "6.1.192-ixlab-guest", target: "bzImage", artifact: `${mockCache}/bzImage`, sha256: "ab".repeat(32), buildSeconds: 1, compiled: true };
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    },
    "ixlab",
    "graphtest",
    false,
  );
  // The mock monitor hands newResource only type, name and inputs; record the rest on the way in.
  const wiring: Record<string, Wiring> = {};
  const monitor = (pulumi.runtime as unknown as { getMonitor(): { registerResource(req: any, cb: unknown): unknown } }).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: unknown) => {
    wiring[`${req.getType().split(":").pop()} ${req.getName()}`] = {
      type: req.getType(),
      parent: req.getParent() ? nameOf(req.getParent()) : undefined,
      dependsOn: (req.getDependenciesList() as string[]).map(nameOf),
      aliases: (req.getAliasesList() as any[]).map((a) => {
        if (a.hasUrn()) return a.getUrn();
        const spec = a.getSpec();
        return `${spec.getType() || "(same type)"}${spec.getParenturn() ? ` under ${nameOf(spec.getParenturn())}` : ""}`;
      }),
    };
    return register(req, cb);
  };
  // A fresh program run per declaration (another stack file or environment).
  for (const m of Object.keys(require.cache)) if (m.startsWith(`${ROOT}/build/infra/`)) delete require.cache[m];
  const program = require(`${ROOT}/build/infra/index.js`);
  const outputs: Record<string, unknown> = {};
  for (const key of ["topology", "sshKeys", "sshKeyRefs"]) {
    outputs[key] = await new Promise((resolve) => pulumi.output(program[key]).apply(resolve));
  }
  // Registrations finish asynchronously (dynamic providers are serialized first): wait until quiet.
  for (let seen = -1; seen !== resources.length; ) {
    seen = resources.length;
    await new Promise((r) => setTimeout(r, 300));
  }
  return { resources, outputs, wiring };
}

describe("resource graph", () => {
  it("declares the sim lab: fabric, hosts, peer, one resource per real thing", async () => {
    const { resources, outputs, wiring } = await declare("Pulumi.sim.yaml");
    // Every dynamic resource has a type of its own (pulumi-nodejs:dynamic/ixlab:<Type>).
    const names = resources.map((r) => `${r.type.replace("pulumi-nodejs:dynamic/ixlab:", "dynamic ")} ${r.name}`).sort();
    assert.deepEqual(names, [
      "dynamic HostKeyPin dut-hostkey", "dynamic HostNic dut-nic", "command:remote:Command dut-packages", "command:remote:Command dut-preflight",
      "dynamic HostKeyPin peer-hostkey", "dynamic Netserver peer-netserver", "dynamic HostNic peer-nic", "command:remote:Command peer-packages", "command:remote:Command peer-preflight",
      "dynamic LabClaim sim-claim", "dynamic SimBridge sim-bridge", "dynamic SimHost sim-host-dut", "dynamic SimHost sim-host-peer", "dynamic SshKeyPair sim-key", "dynamic SimLink sim-link-wire",
      "ixlab:index:Host dut", "ixlab:index:Host peer", "ixlab:index:Peer peer", "ixlab:sim:Fabric sim",
      "ixlab:index:HostNetwork dut", "ixlab:index:HostNetwork peer",
      "dynamic KernelBuild kernel-guest-build", "dynamic KernelBootCheck kernel-guest-bootcheck", "ixlab:index:KernelBuild kernel-guest", "ixlab:index:KernelBootCheck kernel-guest",
      "command:remote:Command vm1-kernel-dir", "command:remote:CopyToRemote vm1-kernel-copy", "command:remote:Command vm1-kernel-check",
      "dynamic VhostNetParams dut-vhostnet", "dynamic Macvtap vm1-macvtap", "dynamic Qemu vm1-qemu", "ixlab:index:Guest vm1", "ixlab:index:VhostNet dut",
    ].sort());
    // Every child has its component as parent; every dynamic resource names its legacy type as an
    // alias (stacks from before the type names update in place), the moved ones their former parent.
    const parents = Object.fromEntries(Object.entries(wiring).filter(([, w]) => !w.type.startsWith("pulumi:")).map(([n, w]) => [n, w.parent ?? "(stack)"]));
    assert.deepEqual(parents, {
      "Fabric sim": "(stack)", "SshKeyPair sim-key": "Fabric sim", "LabClaim sim-claim": "Fabric sim", "SimBridge sim-bridge": "Fabric sim", "SimHost sim-host-dut": "Fabric sim", "SimHost sim-host-peer": "Fabric sim", "SimLink sim-link-wire": "Fabric sim",
      "Host dut": "(stack)", "HostKeyPin dut-hostkey": "Host dut", "Command dut-preflight": "Host dut", "Command dut-packages": "Host dut",
      "Host peer": "(stack)", "HostKeyPin peer-hostkey": "Host peer", "Command peer-preflight": "Host peer", "Command peer-packages": "Host peer",
      "KernelBuild kernel-guest": "(stack)", "KernelBuild kernel-guest-build": "KernelBuild kernel-guest",
      "KernelBootCheck kernel-guest": "(stack)", "KernelBootCheck kernel-guest-bootcheck": "KernelBootCheck kernel-guest",
      "HostNetwork dut": "(stack)", "HostNic dut-nic": "HostNetwork dut", "HostNetwork peer": "(stack)", "HostNic peer-nic": "HostNetwork peer",
      "VhostNet dut": "(stack)", "VhostNetParams dut-vhostnet": "VhostNet dut", "Peer peer": "(stack)", "Netserver peer-netserver": "Peer peer",
      "Guest vm1": "(stack)", "Command vm1-kernel-dir": "Guest vm1", "CopyToRemote vm1-kernel-copy": "Guest vm1", "Command vm1-kernel-check": "Guest vm1", "Macvtap vm1-macvtap": "Guest vm1", "Qemu vm1-qemu": "Guest vm1",
    });
    for (const [n, w] of Object.entries(wiring).filter(([, x]) => x.type.startsWith("pulumi-nodejs:dynamic/"))) {
      assert.ok(w.aliases.some((a) => a.includes("pulumi-nodejs:dynamic:Resource")), `${n} has no alias from pulumi-nodejs:dynamic:Resource: ${w.aliases}`);
    }
    const nic = wiring["HostNic dut-nic"];
    assert.deepEqual(nic.aliases, ["pulumi-nodejs:dynamic:Resource under HostNetwork dut", "pulumi-nodejs:dynamic:Resource under Host dut", "(same type) under Host dut"], "dut-nic keeps its place under Host");
    assert.ok(wiring["KernelBootCheck kernel-guest"].aliases.some((a) => a.includes("ixlab:index:KernelInstall")), "the boot check was a KernelInstall");
    // Ordering: the NIC after the host's packages; the guest's kernel copied after its build and the
    // host's network, checked after the copy; QEMU after the check, the boot check, its macvtap and
    // vhost_net; netserver after the NIC whose address it binds.
    assert.ok(nic.dependsOn.includes("Command dut-packages"), `${nic.dependsOn}`);
    const dirWiring = wiring["Command vm1-kernel-dir"];
    for (const d of ["KernelBuild kernel-guest-build", "HostNic dut-nic"]) assert.ok(dirWiring.dependsOn.includes(d), `the copy's directory waits for ${d}: ${dirWiring.dependsOn}`);
    assert.ok(wiring["CopyToRemote vm1-kernel-copy"].dependsOn.includes("Command vm1-kernel-dir"));
    assert.ok(wiring["Command vm1-kernel-check"].dependsOn.includes("CopyToRemote vm1-kernel-copy"));
    const qemuDeps = wiring["Qemu vm1-qemu"].dependsOn;
    for (const d of ["Command vm1-kernel-check", "KernelBootCheck kernel-guest-bootcheck", "Macvtap vm1-macvtap", "VhostNetParams dut-vhostnet"]) assert.ok(qemuDeps.includes(d), `QEMU waits for ${d}: ${qemuDeps}`);
    assert.ok(wiring["Netserver peer-netserver"].dependsOn.includes("HostNic peer-nic"));
    const byName = Object.fromEntries(resources.map((r) => [r.name, r]));
    assert.equal(byName["sim-host-dut"].inputs.role, "sim-host");
    assert.deepEqual(byName["sim-link-wire"].inputs.args, ["--a-ns", "ixl-dut", "--a-if", "eth1", "--b-ns", "ixl-peer", "--b-if", "eth1", "--mtu", "1500"]);
    assert.deepEqual(byName["peer-netserver"].inputs.args, ["--address", "198.19.0.2", "--port", "12865"]);
    assert.equal(byName["peer-netserver"].inputs.live, true);
    // One-shot steps are Commands over the host's one connection, its host key pinned, the role on stdin.
    const pre = byName["dut-preflight"].inputs;
    assert.match(pre.create, /^IXLAB_ROLE=host-preflight IXLAB_LIB_LOADED= bash -s -- facts --nic eth1/);
    assert.ok(pre.stdin.includes("host-preflight.sh facts|check"), "the role script goes on stdin");
    assert.deepEqual(pre.triggers.slice(0, 2), ["host-preflight", "facts"]);
    assert.ok(isSecret(pre.connection), "the connection (with its private key) goes to the provider as a secret");
    const conn = pre.connection.value;
    assert.equal(conn.hostKey, "ssh-ed25519 AAAAhost-dut-hostkey");
    assert.deepEqual({ host: conn.host, port: conn.port, user: conn.user }, { host: "198.18.0.10", port: 22, user: "root" });
    assert.equal(pre.delete, undefined, "preflight has nothing to undo");
    assert.match(byName["dut-packages"].inputs.create, /host-packages .*create --packages 'netperf ethtool iproute2 procps tcpdump qemu-system-x86/);
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
    assert.deepEqual(boot.slice(0, 6), ["--kernel", `${mockCache}/bzImage`, "--expect-release", "6.1.192-ixlab-guest", "--expect-line", "ixlab-demo: patch series applied"]);
    assert.equal(topology.kernels[0].release, "6.1.192-ixlab-guest");
    // The guest: macvtap on the dut's test NIC, QEMU booting the copied kernel, vhost as the variant
    // asks (falling back in a sim), the sim never touching modules.
    assert.deepEqual(byName["vm1-macvtap"].inputs.args.slice(0, 8), ["--guest", "vm1", "--nic", "eth1", "--name", "ixl-vm1", "--mode", "bridge"]);
    const qemu = byName["vm1-qemu"].inputs.args as string[];
    const key = build[build.indexOf("--key") + 1];
    assert.equal(qemu[qemu.indexOf("--kernel") + 1], `/run/ixlab/ixl-dut/state/kernel-packages/${key}/bzImage`);
    // The copy lands there and is checked by its sha256 (the build's), marking the directory its own.
    assert.equal(byName["vm1-kernel-copy"].inputs.remotePath, `/run/ixlab/ixl-dut/state/kernel-packages/${key}`);
    assert.deepEqual(Object.keys(await byName["vm1-kernel-copy"].inputs.source.assets), ["bzImage"]);
    const check = byName["vm1-kernel-check"].inputs;
    assert.ok(check.create.startsWith(`set -eu; d='/run/ixlab/ixl-dut/state/kernel-packages/${key}'; check() {`), check.create);
    assert.ok(check.create.endsWith(`exit 4; }; }; check bzImage ${"ab".repeat(32)}; touch "$d/.ixlab-copy"`), check.create);
    assert.equal(check.delete, undefined, "a check that runs again never removes the copy");
    const dir = byName["vm1-kernel-dir"].inputs;
    assert.equal(dir.create, `mkdir -p '/run/ixlab/ixl-dut/state/kernel-packages/${key}'`);
    assert.match(dir.delete, new RegExp(`^rm -rf '/run/ixlab/ixl-dut/state/kernel-packages/${key}'`));
    assert.deepEqual(dir.triggers, [`/run/ixlab/ixl-dut/state/kernel-packages/${key}`], "only another directory replaces it");
    assert.equal(qemu[qemu.indexOf("--vhost") + 1], "on");
    assert.ok(qemu.includes("--vhost-fallback"));
    assert.equal(qemu[qemu.indexOf("--mgmt") + 1], "198.18.0.10:2201");
    // A macvtap re-created under the guest (a new interface index) replaces its QEMU in the same up.
    assert.deepEqual(byName["vm1-qemu"].inputs.triggers, ["zcopytx=0", "macvtap=7"]);
    assert.deepEqual(byName["dut-vhostnet"].inputs.args, ["--zcopytx", "0", "--no-load"]);
    assert.equal(topology.guests[0].qemuPid, 4242);
    assert.equal(topology.guests[0].vhost.effective, false);
    assert.equal(topology.guests[0].zeroCopy.requested, false);
    assert.deepEqual([topology.defaultVariant, topology.runningVariant], ["baseline", "baseline"]);
  });

  it("a VM lab claims its names first: the claim under VmFabric, and its network waits for it", async () => {
    const { wiring } = await declare("Pulumi.vmlab.yaml");
    assert.equal(wiring["VmFabric vm"]?.type, "ixlab:sim:VmFabric");
    assert.equal(wiring["LabClaim vm-claim"]?.parent, "VmFabric vm");
    assert.ok(wiring["VmNetwork vm-net"].dependsOn.includes("LabClaim vm-claim"), JSON.stringify(wiring["VmNetwork vm-net"]));
  });

  it("a VM lab wires an emulated BMC to each VM: its QEMU gets the BMC's device, the BMC follows the VM, the install gets both", async () => {
    const { resources, wiring } = await declare("Pulumi.vmlab.yaml");
    const byName = Object.fromEntries(resources.map((r) => [r.name, r]));
    for (const [host, address, port] of [["dut", "198.18.20.253", "9100"], ["peer", "198.18.20.252", "9101"]]) {
      const bmc = wiring[`VmBmc vm-bmc-${host}`];
      assert.equal(bmc?.type, "pulumi-nodejs:dynamic/ixlab:VmBmc");
      assert.equal(bmc.parent, "VmFabric vm");
      assert.ok(bmc.dependsOn.includes(`VmHost vm-host-${host}`), JSON.stringify(bmc));
      const args = byName[`vm-bmc-${host}`].inputs.args as string[];
      assert.deepEqual([args[args.indexOf("--address") + 1], args[args.indexOf("--vm-port") + 1], args[args.indexOf("--user") + 1]], [address, port, "admin"]);
      assert.ok(!args.some((a) => a.includes("mockpw")), "the password is no flag");
      // Handed over as a secret (Pulumi's secret signature around it), so the state keeps it encrypted.
      assert.deepEqual(byName[`vm-bmc-${host}`].inputs.secretEnv, { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: { IXLAB_BMC_PASSWORD: `mockpw-vm-bmc-password-${host}` } });
      const vmArgs = byName[`vm-host-${host}`].inputs.args as string[];
      const qemuArgs = vmArgs.flatMap((a, i) => (a === "--qemu-arg" ? [vmArgs[i + 1]] : []));
      assert.deepEqual(qemuArgs, ["-chardev", `socket,id=ixlbmc,host=127.0.0.1,port=${port},reconnect=5`, "-device", "ipmi-bmc-extern,id=ixlbmc0,chardev=ixlbmc", "-device", "isa-ipmi-kcs,bmc=ixlbmc0"]);
      // The host's first contact waits for its BMC, so everything after it (the kernel install) does.
      assert.ok(wiring[`HostKeyPin ${host}-hostkey`].dependsOn.includes(`VmBmc vm-bmc-${host}`), JSON.stringify(wiring[`HostKeyPin ${host}-hostkey`]));
    }
    const install = resources.find((r) => r.type === "pulumi-nodejs:dynamic/ixlab:KernelHostInstall");
    assert.ok(install, resources.map((r) => r.type).join(" "));
    assert.deepEqual(install.inputs.bmc, { type: "ipmi", address: "198.18.20.253", user: "admin" });
    assert.equal(install.inputs.bmcPassword, "mockpw-vm-bmc-password-dut");
  });

  it("switches variants through the stack: IXLAB_VARIANT=zerocopy changes the zero-copy flag and the guest's trigger", async () => {
    const { resources, outputs } = await declare("Pulumi.sim.yaml", { IXLAB_VARIANT: "zerocopy" });
    delete process.env.IXLAB_VARIANT;
    const topology = outputs.topology as any;
    assert.deepEqual([topology.defaultVariant, topology.runningVariant, topology.guests[0].variant], ["baseline", "zerocopy", "zerocopy"]);
    const byName = Object.fromEntries(resources.map((r) => [r.name, r]));
    assert.deepEqual(byName["dut-vhostnet"].inputs.args, ["--zcopytx", "1", "--no-load"]);
    assert.deepEqual(byName["vm1-qemu"].inputs.triggers, ["zcopytx=1", "macvtap=7"]);
  });

  it("exports no key of a real lab: the outputs say where each host's key is, never the key", async () => {
    const tmp = fs.mkdtempSync(`${require("node:os").tmpdir()}/ixlab-graphkey-`);
    const keyFile = `${tmp}/id`;
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", keyFile]);
    const material = fs.readFileSync(keyFile, "utf8").split("\n")[1]; // a line of the key itself
    try {
      // The example's kernel tree is a path on the user's builder: a stand-in repository here.
      const git = (...a: string[]) => spawnSync("git", ["-C", `${tmp}/net-next.git`, "-c", "user.name=t", "-c", "user.email=t@t", ...a]);
      fs.mkdirSync(`${tmp}/net-next.git`);
      git("init", "-q", "-b", "vhost-zcopy-v6");
      git("commit", "-q", "--allow-empty", "-m", "stand-in");
      const { outputs } = await declare("Pulumi.example-lab.yaml", { LAB_SSH_KEY_FILE: keyFile, LAB_BMC_PASSWORD: "bmc-password-material" }, (lab) => {
        lab.kernels[0].source.url = `${tmp}/net-next.git`;
        lab.kernels[0].config.base = "defconfig"; // "running": this machine has no /boot/config
      });
      assert.deepEqual(outputs.sshKeys, {}, "the stack made no key, so it exports none");
      assert.deepEqual(outputs.sshKeyRefs, { dut: { env: "LAB_SSH_KEY_FILE" }, peer: { env: "LAB_SSH_KEY_FILE" } });
      const text = JSON.stringify(outputs);
      assert.ok(!text.includes(material) && !text.includes("bmc-password-material"), "no secret in any output");
    } finally {
      delete process.env.LAB_SSH_KEY_FILE;
      delete process.env.LAB_BMC_PASSWORD;
      fs.rmSync(tmp, { recursive: true });
    }
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
