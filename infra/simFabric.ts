// SimFabric: the part of a simulated lab that real labs get from hardware. On this machine: a
// management bridge, one network namespace per host with its own sshd (reached over SSH exactly like
// a real host), and a veth pair per link standing for the 10GbE cable. Declared only for sim labs.
import * as pulumi from "@pulumi/pulumi";
import { LabPlan } from "../src/lab/plan";
import { LabClaimArgs, labClaim } from "./labClaim";
import { RoleRun, SshKeyPair } from "./resources/dynamic";

export interface SimFabricArgs extends LabClaimArgs {
  plan: LabPlan;
  /** Used in the key comment so a key found anywhere says where it belongs. */
  stack: string;
}

export class SimFabric extends pulumi.ComponentResource {
  /** The stack's SSH key: the private half is a secret; the public half is authorized on every host. */
  readonly privateKey: pulumi.Output<string>;
  readonly publicKey: pulumi.Output<string>;
  /** Per host: the resource that brings it up, and the links wired to it (dependents wait for both). */
  readonly hostReady: Record<string, pulumi.Resource[]> = {};
  /** Per host: changes when the namespace is re-created, so its pinned host key is renewed. */
  readonly hostGeneration: Record<string, pulumi.Output<string>> = {};

  constructor(name: string, args: SimFabricArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:sim:Fabric", name, {}, opts);
    const sim = args.plan.sim;
    if (!sim) throw new Error("SimFabric needs a sim lab");
    const local = { kind: "local" as const };

    const key = new SshKeyPair(`${name}-key`, { comment: `ixlab-${args.stack}` }, { parent: this });
    this.privateKey = key.privateKey;
    this.publicKey = key.publicKey;

    const claim = labClaim(name, "sim", args, this);

    const bridge = new RoleRun(`${name}-bridge`, {
      title: `sim management bridge ${sim.bridge}`,
      role: "sim-bridge",
      target: local,
      args: ["--name", sim.bridge, "--address", sim.bridgeCidr],
      live: true,
    }, { parent: this, dependsOn: [claim] });

    const hosts: Record<string, RoleRun> = {};
    for (const h of args.plan.hosts) {
      const s = h.sim!;
      hosts[h.name] = new RoleRun(`${name}-host-${h.name}`, {
        title: `sim host ${h.name} (namespace ${s.ns})`,
        role: "sim-host",
        target: local,
        args: pulumi.all([key.publicKey]).apply(([pub]) => ["--ns", s.ns, "--veth", s.veth, "--bridge", sim.bridge, "--address", s.managementCidr, "--authorized-key", pub]),
        live: true,
      }, { parent: this, dependsOn: [bridge] });
      this.hostReady[h.name] = [hosts[h.name]];
      this.hostGeneration[h.name] = hosts[h.name].id;
    }

    for (const l of args.plan.links) {
      const [a, b] = [args.plan.hosts.find((h) => h.name === l.a.host)!, args.plan.hosts.find((h) => h.name === l.b.host)!];
      const link = new RoleRun(`${name}-link-${l.name}`, {
        title: `sim link ${l.name} (${l.a.host}:${l.a.nic} <-> ${l.b.host}:${l.b.nic})`,
        role: "sim-link",
        target: local,
        args: ["--a-ns", a.sim!.ns, "--a-if", l.a.nic, "--b-ns", b.sim!.ns, "--b-if", l.b.nic, "--mtu", String(l.mtu)],
        live: true,
      }, { parent: this, dependsOn: [hosts[a.name], hosts[b.name]] });
      this.hostReady[a.name].push(link);
      this.hostReady[b.name].push(link);
    }

    this.registerOutputs({ publicKey: this.publicKey });
  }
}
