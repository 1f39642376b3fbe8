// The Pulumi program: read and validate the lab, declare the components, export the topology.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { KernelPlanError, planHostKernelInstalls, planKernelBuild } from "../src/lab/kernel";
import { planLab } from "../src/lab/plan";
import { cacheDir, repoRoot } from "../src/paths";
import { KernelBuild } from "./kernelBuild";
import { KernelBootCheck } from "./kernelBootCheck";
import { KernelInstall } from "./kernelInstall";
import { labTopology } from "../src/lab/topology";
import { loadLab, resolveSecret, runningSeriesPrefix, runningVariant } from "./config";
import { Guest, VhostNet } from "./guest";
import { GUEST_HOST_PACKAGES, Host, hostPackages } from "./host";
import { HostNetwork } from "./hostNetwork";
import { planGuests } from "../src/lab/guest";
import { Peer } from "./peer";
import { SimFabric } from "./simFabric";
import { VmFabric } from "./vmFabric";
import { netnsSim, SecretRef } from "../src/lab/model";

const lab = loadLab();
const plan = planLab(lab);
const stack = pulumi.getStack();

const guestPlans = planGuests(lab, plan);
const extraPackages = (host: string) => (guestPlans.some((g) => g.host === host) ? GUEST_HOST_PACKAGES : []);
const claimArgs = (prefix: string) => ({ prefix, owner: `stack ${stack} of the clone at ${repoRoot()}` });
// VM labs: the hosts are VMs on this machine, and from their sshd on everything is a real lab's path.
const fabric = plan.vm
  ? new VmFabric("vm", { plan, stack, ...claimArgs(lab.sim!.prefix), accel: lab.sim!.accel, packages: [...new Set(lab.hosts.flatMap((h) => hostPackages(h, extraPackages(h.name))))] })
  : lab.sim ? new SimFabric("sim", { plan, stack, ...claimArgs(lab.sim.prefix) }) : undefined;
const variant = runningVariant(lab);
const prefix = runningSeriesPrefix(lab);

const hosts: Record<string, Host> = {};
// Keys this stack generated (the embedded labs'); a real lab's key stays where the lab file says it is.
const generatedKeys: Record<string, pulumi.Output<string>> = {};
const keyRefs: Record<string, SecretRef> = {};
for (const [i, spec] of lab.hosts.entries()) {
  const hostPlan = plan.hosts[i];
  if (fabric) generatedKeys[spec.name] = fabric.privateKey;
  else keyRefs[spec.name] = spec.ssh.key!;
  hosts[spec.name] = new Host(spec.name, {
    plan: hostPlan,
    spec,
    privateKey: fabric ? fabric.privateKey : resolveSecret(spec.ssh.key!, `lab.hosts[${i}].ssh.key`),
    publicKey: fabric?.publicKey,
    reachableAfter: fabric?.hostReady[spec.name],
    generation: fabric?.hostGeneration[spec.name],
    packages: extraPackages(spec.name),
  });
}

// A builder host is accepted in a lab file, but not used yet: say so rather than ignore it.
for (const h of lab.hosts.filter((x) => x.role === "builder")) {
  pulumi.log.warn(`host ${h.name} has role builder, but kernels are built on the machine running Pulumi (building on a lab host is not implemented yet)`);
}

// Kernels: built once per lab on this machine; in a netns sim (and for guests) proven by a boot under
// QEMU; a host kernel the active variant names is installed on the lab's dut hosts, VM lab hosts
// included (they boot it through GRUB like a real host).
const kernels: Record<string, { build: KernelBuild; bootCheck?: KernelBootCheck; install?: KernelInstall; patches: string[] }> = {};
const hostKernelInstalls = planHostKernelInstalls(lab, variant);
for (const [i, k] of lab.kernels.entries()) {
  let buildPlan;
  try {
    buildPlan = planKernelBuild(k, lab.name, stack, repoRoot(), cacheDir(), `lab.kernels[${i}]`, prefix?.kernel === k.name ? { patchPrefix: prefix.patches } : {});
  } catch (e) {
    if (e instanceof KernelPlanError) throw new pulumi.RunError(e.message);
    throw e;
  }
  const build = new KernelBuild(`kernel-${k.name}`, { plan: buildPlan });
  const onHosts = hostKernelInstalls.find((p) => p.kernel === k.name);
  let install: KernelInstall | undefined;
  let bootCheck: KernelBootCheck | undefined;
  if (netnsSim(lab) || k.for === "guest") {
    // The console lines a lab expects come from its whole series; a shorter prefix is checked by its release.
    const expect = buildPlan.patches.length < buildPlan.series.length ? [] : k.verify.console;
    bootCheck = new KernelBootCheck(`kernel-${k.name}`, { build, expect, accel: lab.sim?.accel ?? "auto", recordDir: path.join(cacheDir(), "kernels", "boot", stack) });
  } else if (onHosts) {
    // Real hosts and VM lab hosts: the packages go to every dut host of the active variant, installed and booted there.
    install = new KernelInstall(`kernel-${k.name}`, {
      build, kernel: k, features: onHosts.features,
      hosts: onHosts.hosts.map((name) => {
        const at = lab.hosts.findIndex((h) => h.name === name);
        // A VM lab host's BMC is the emulated one its fabric wired to the VM.
        const vmBmc = fabric instanceof VmFabric ? fabric.bmc[name] : undefined;
        if (vmBmc) return { host: hosts[name], bmc: vmBmc.bmc, bmcPassword: vmBmc.password };
        const bmc = lab.hosts[at].bmc;
        return { host: hosts[name], bmc, bmcPassword: bmc ? resolveSecret(bmc.password, `lab.hosts[${at}].bmc.password`) : undefined };
      }),
    });
  }
  kernels[k.name] = { build, bootCheck, install, patches: buildPlan.patches.map((p) => path.basename(p)) };
}

// Each host's test NIC and tuning, after a kernel install that reboots it.
const networks: Record<string, HostNetwork> = {};
for (const [name, host] of Object.entries(hosts)) {
  networks[name] = new HostNetwork(name, { host, after: Object.values(kernels).flatMap((k) => (k.install?.hostInstalls[name] ? [k.install.hostInstalls[name]] : [])) });
}

// Guests: the running variant decides vhost and zero-copy; one VhostNet per host that runs guests; a
// guest kernel is copied (sha256-checked) once to each host whose guests boot it, sim hosts included.
const guests: Record<string, Guest> = {};
const vhostNets: Record<string, VhostNet> = {};
const kernelCopies: Record<string, Guest> = {};
for (const g of guestPlans) {
  if (!variant) throw new pulumi.RunError(`lab.guests: guest ${g.name} needs a variant (lab.variants)`);
  const kernel = kernels[g.kernel!];
  const host = hosts[g.host];
  const network = networks[g.host];
  vhostNets[g.host] ??= new VhostNet(g.host, { host, network, zeroCopy: variant.zeroCopy, noLoad: netnsSim(lab) !== undefined });
  guests[g.name] = new Guest(g.name, {
    plan: g,
    host,
    network,
    kernel,
    kernelCopyOf: kernelCopies[`${g.host}/${g.kernel}`],
    variant,
    vhostNet: vhostNets[g.host],
    accel: lab.sim?.accel ?? "auto",
    vhostFallback: netnsSim(lab) !== undefined,
    // A VM lab's guest runs nested (TCG inside a TCG VM here): it gets the VMs' boot timeout.
    bootTimeout: plan.vm?.bootTimeoutSeconds,
  });
  kernelCopies[`${g.host}/${g.kernel}`] ??= guests[g.name];
}

const peer = plan.peer
  ? new Peer(`${plan.peer.host}`, { host: hosts[plan.peer.host], network: networks[plan.peer.host], address: plan.peer.address, port: plan.peer.port })
  : undefined;

const kernelFacts = pulumi.all(Object.fromEntries(Object.entries(kernels).map(([n, k]) => [n, pulumi.all([k.build.artifact, k.bootCheck?.boot ?? pulumi.output(undefined)])])));

const vmFacts = fabric instanceof VmFabric ? fabric.vmFacts : {};
// A host kernel install reboots the host after its facts were read: the kernel it runs is the install's.
const installedOn = (n: string) => Object.values(kernels).map((k) => k.install?.installed[n]).find((o) => o !== undefined) ?? pulumi.output(undefined);
const hostLive = pulumi.all(Object.fromEntries(Object.entries(hosts).map(([n, h]) => [n, pulumi.all([h.hostKey, h.facts, vmFacts[n] ?? pulumi.output(undefined), installedOn(n)])])));
const guestLive = pulumi.all(Object.fromEntries(Object.entries(guests).map(([n, g]) => [n, pulumi.all([g.facts, g.macvtap, vhostNets[g.hostName].facts])])));

export const topology = pulumi
  .all([hostLive, kernelFacts, guestLive])
  .apply(([live, kf, gl]) => labTopology(lab, plan, stack, {
    hosts: Object.fromEntries(Object.entries(live).map(([n, [hostKey, facts, vm, installed]]) => [n, { hostKey, facts: typeof installed?.running === "string" ? { ...facts, kernelRelease: installed.running } : facts, vm }])),
    peer: peer?.endpoint,
    kernels: Object.fromEntries(Object.entries(kf).map(([n, [artifact, boot]]) => [n, { artifact, boot, patches: kernels[n].patches }])),
    guests: Object.fromEntries(Object.entries(gl).map(([n, [facts, macvtap, vhostNet]]) => [n, { facts, macvtap, vhostNet }])),
    guestPlans,
    variant,
  }));

/**
 * SSH private keys by host that this stack generated, for `ixlab ssh` and the bench (a secret: shown only
 * with --show-secrets). A real lab's hosts are in `sshKeyRefs` instead: where the key is, never the key.
 */
export const sshKeys = pulumi.secret(pulumi.all(generatedKeys));
export const sshKeyRefs = keyRefs;
