// HostNetwork: a host's test NIC (address, MTU) and the tuning the lab asks for (each previous value
// restored on destroy), as services on the host see them. A kernel install reboots the host, which
// drops addresses and runtime tuning, so both come after the installs the program hands in: one
// `pulumi up` ends with the new kernel and the network in place.
import * as pulumi from "@pulumi/pulumi";
import { Host as HostSpec } from "../src/lab/model";
import { Host } from "./host";
import { RoleRun } from "./resources/dynamic";

export interface HostNetworkArgs {
  host: Host;
  /** What may reboot the host first (its kernel installs). */
  after: pulumi.Resource[];
}

/** The flags of roles/host-tune.sh for what the lab asks; empty when it asks nothing. */
export function tuneFlags(spec: HostSpec): string[] {
  const t = spec.tuning ?? {};
  const flags: string[] = [];
  if (t.offloads && Object.keys(t.offloads).length > 0) flags.push("--offload", Object.entries(t.offloads).map(([k, v]) => `${k}=${v ? "on" : "off"}`).join(","));
  if (t.rings && (t.rings.rx || t.rings.tx)) flags.push("--rings", Object.entries(t.rings).map(([k, v]) => `${k}=${v}`).join(","));
  if (t.irqbalance !== undefined) flags.push("--irqbalance", t.irqbalance ? "on" : "off");
  if (t.irqAffinity) flags.push("--irq-affinity", t.irqAffinity);
  if (t.governor) flags.push("--governor", t.governor);
  return flags;
}

export class HostNetwork extends pulumi.ComponentResource {
  /** Everything a service on the host waits for: the host itself, its installs, NIC and tuning. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: HostNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:HostNetwork", name, {}, opts);
    const { host } = args;
    const { plan, spec } = host;
    // Stacks made before this component had these under the Host.
    const formerly = { formerParent: host };
    const dependsOn = [...host.ready, ...args.after];
    this.ready = [...dependsOn];
    if (plan.nic?.address) {
      this.ready.push(new RoleRun(`${name}-nic`, {
        ...host.access,
        title: `test NIC ${plan.nic.name} of host ${plan.name}`,
        role: "host-nic",
        args: ["--nic", plan.nic.name, "--address", plan.nic.address, "--mtu", String(plan.nic.mtu)],
        live: true,
      }, { parent: this, dependsOn }, formerly));
    }
    const tune = tuneFlags(spec);
    if (plan.nic && tune.length > 0) {
      this.ready.push(new RoleRun(`${name}-tune`, {
        ...host.access,
        title: `tuning of host ${plan.name}`,
        role: "host-tune",
        args: ["--nic", plan.nic.name, ...tune],
        live: true,
      }, { parent: this, dependsOn }, formerly));
    }
    this.registerOutputs({});
  }
}
