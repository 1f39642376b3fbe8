// The Pulumi program: read and validate the lab, declare the components, export the topology.
import * as pulumi from "@pulumi/pulumi";
import { planLab } from "../src/lab/plan";
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

const peer = plan.peer
  ? new Peer(`${plan.peer.host}`, { host: hosts[plan.peer.host], address: plan.peer.address, port: plan.peer.port, privateKey: keys[plan.peer.host] })
  : undefined;

export const topology = pulumi
  .all(Object.fromEntries(Object.entries(hosts).map(([n, h]) => [n, pulumi.all([h.hostKey, h.facts])])))
  .apply((live) => labTopology(lab, plan, stack, Object.fromEntries(Object.entries(live).map(([n, [hostKey, facts]]) => [n, { hostKey, facts }])), peer?.endpoint));

/** SSH private keys by host, for `ixlab ssh` and the bench (a secret: shown only with --show-secrets). */
export const sshKeys = pulumi.secret(pulumi.all(keys));
