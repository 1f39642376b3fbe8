// The Pulumi program: read and validate the lab, declare the components, export the topology.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { KernelPlanError, planHostKernelInstalls, planKernelBuild } from "../src/lab/kernel";
import { planLab } from "../src/lab/plan";
import { cacheDir, repoRoot } from "../src/paths";
import { KernelBuild } from "./kernelBuild";
import { KernelInstall } from "./kernelInstall";
import { labTopology } from "../src/lab/topology";
import { loadLab, resolveSecret } from "./config";
import { Host } from "./host";
import { Peer } from "./peer";
import { SimFabric } from "./simFabric";

const lab = loadLab();
const plan = planLab(lab);
const stack = pulumi.getStack();

const fabric = lab.sim ? new SimFabric("sim", { plan, stack }) : undefined;

const hosts: Record<string, Host> = {};
const keys: Record<string, pulumi.Output<string>> = {};
for (const [i, spec] of lab.hosts.entries()) {
  const hostPlan = plan.hosts[i];
  keys[spec.name] = fabric ? fabric.privateKey : resolveSecret(spec.ssh.key!, `lab.hosts[${i}].ssh.key`);
  hosts[spec.name] = new Host(spec.name, {
    plan: hostPlan,
    spec,
    privateKey: keys[spec.name],
    reachableAfter: fabric?.hostReady[spec.name],
    generation: fabric?.hostGeneration[spec.name],
  });
}

// Kernels: built once per lab on this machine; in a sim (and for guests) proven by a boot under QEMU;
// a host kernel the active variant names is installed on the lab's dut hosts.
const kernels: Record<string, { build: KernelBuild; install?: KernelInstall }> = {};
const hostKernelInstalls = planHostKernelInstalls(lab);
for (const [i, k] of lab.kernels.entries()) {
  let buildPlan;
  try {
    buildPlan = planKernelBuild(k, lab.name, stack, repoRoot(), cacheDir(), `lab.kernels[${i}]`);
  } catch (e) {
    if (e instanceof KernelPlanError) throw new pulumi.RunError(e.message);
    throw e;
  }
  const build = new KernelBuild(`kernel-${k.name}`, { plan: buildPlan });
  const onHosts = hostKernelInstalls.find((p) => p.kernel === k.name);
  let install: KernelInstall | undefined;
  if (lab.sim || k.for === "guest") {
    install = new KernelInstall(`kernel-${k.name}`, { build, expect: k.verify.console, accel: lab.sim?.accel ?? "auto", recordDir: path.join(cacheDir(), "kernels", "boot") });
  } else if (onHosts) {
    // Real hosts: the packages go to every dut host of the active variant, installed and booted there.
    install = new KernelInstall(`kernel-${k.name}`, {
      build, kernel: k, features: onHosts.features,
      hosts: onHosts.hosts.map((name) => {
        const at = lab.hosts.findIndex((h) => h.name === name);
        const bmc = lab.hosts[at].bmc;
        return {
          name, target: hosts[name].target, privateKey: keys[name], hostKey: hosts[name].hostKey, after: hosts[name].ready, bmc,
          bmcPassword: bmc ? resolveSecret(bmc.password, `lab.hosts[${at}].bmc.password`) : undefined,
        };
      }),
    });
  }
  kernels[k.name] = { build, install };
}

const peer = plan.peer
  ? new Peer(`${plan.peer.host}`, { host: hosts[plan.peer.host], address: plan.peer.address, port: plan.peer.port, privateKey: keys[plan.peer.host] })
  : undefined;

const kernelFacts = pulumi.all(Object.fromEntries(Object.entries(kernels).map(([n, k]) => [n, pulumi.all([k.build.artifact, k.install?.boot ?? pulumi.output(undefined)])])));

export const topology = pulumi
  .all([pulumi.all(Object.fromEntries(Object.entries(hosts).map(([n, h]) => [n, pulumi.all([h.hostKey, h.facts])]))), kernelFacts])
  .apply(([live, kf]) => labTopology(
    lab, plan, stack,
    Object.fromEntries(Object.entries(live).map(([n, [hostKey, facts]]) => [n, { hostKey, facts }])),
    peer?.endpoint,
    Object.fromEntries(Object.entries(kf).map(([n, [artifact, boot]]) => [n, { artifact, boot }])),
  ));

/** SSH private keys by host, for `ixlab ssh` and the bench (a secret: shown only with --show-secrets). */
export const sshKeys = pulumi.secret(pulumi.all(keys));
