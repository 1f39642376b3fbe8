// Host: one lab machine as ixlab needs it, reached over SSH (real and sim hosts alike): its host key
// pinned, its facts gathered (preflight; required features enforced), packages present, the test NIC
// addressed and sized, and the tuning the lab asks for (each previous value restored on destroy).
import * as pulumi from "@pulumi/pulumi";
import { Host as HostSpec } from "../src/lab/model";
import { HostPlan } from "../src/lab/plan";
import { Target } from "../src/remote/roles";
import { HostKeyPin, RoleRun } from "./resources/dynamic";

export const BASE_PACKAGES = ["netperf", "ethtool", "iproute2", "procps", "tcpdump"];

export interface HostArgs {
  plan: HostPlan;
  spec: HostSpec;
  privateKey: pulumi.Input<string>;
  /** Resources that must exist before the host can be reached (a sim host and its links). */
  reachableAfter?: pulumi.Resource[];
  /** Changes when the machine behind the address is a new one (a re-created sim host): re-pin. */
  generation?: pulumi.Input<string>;
  /** Packages the host needs for what runs on it (e.g. QEMU for guests), besides the base ones. */
  packages?: string[];
}

/** What a host that runs guests needs: QEMU, and the guest userland ixlab puts in their initramfs. */
export const GUEST_HOST_PACKAGES = ["qemu-system-x86", "busybox-static", "dropbear-bin", "openssh-client"];

/** The Debian packages host-packages makes sure of on a host (EXTRA: what runs on it, e.g. guests). */
export function hostPackages(spec: HostSpec, extra: string[] = []): string[] {
  return [...new Set([...BASE_PACKAGES, ...extra, ...spec.packages])];
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

export class Host extends pulumi.ComponentResource {
  readonly target: Extract<Target, { kind: "ssh" }>;
  /** The test NIC's name on the host. */
  readonly nicName?: string;
  readonly hostKey: pulumi.Output<string>;
  readonly facts: pulumi.Output<Record<string, unknown> | undefined>;
  /** Everything a service on this host must wait for. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:Host", name, {}, opts);
    const { plan, spec } = args;
    this.target = { kind: "ssh", host: plan.name, address: plan.ssh.address, port: plan.ssh.port, user: plan.ssh.user, ...(plan.sim ? { simNs: plan.sim.ns } : {}) };
    this.nicName = plan.nic?.name;
    const parent = { parent: this };

    const pin = new HostKeyPin(`${name}-hostkey`, {
      target: this.target,
      privateKey: args.privateKey,
      triggers: args.generation ? [args.generation] : [],
    }, { ...parent, dependsOn: args.reachableAfter });
    this.hostKey = pin.hostKey;
    const ssh = { target: this.target, privateKey: args.privateKey, hostKey: pin.hostKey };

    const nic = plan.nic?.name;
    const preflight = new RoleRun(`${name}-preflight`, {
      ...ssh,
      title: `preflight of host ${plan.name}`,
      role: "host-preflight",
      createAction: "facts",
      args: [...(nic ? ["--nic", nic] : []), ...(spec.require.length ? ["--require", spec.require.join(",")] : [])],
      deletes: false,
    }, parent);
    this.facts = preflight.facts;

    const packages = new RoleRun(`${name}-packages`, {
      ...ssh,
      title: `packages on host ${plan.name}`,
      role: "host-packages",
      args: ["--packages", hostPackages(spec, args.packages).join(" ")],
      // Packages stay installed on destroy: other users of the host may need them.
      deletes: false,
    }, { ...parent, dependsOn: [preflight] });
    this.ready = [packages];
    this.pending = { name, plan, spec, ssh, preflight };
    this.registerOutputs({ hostKey: this.hostKey, facts: this.facts });
  }

  private pending?: { name: string; plan: HostPlan; spec: HostSpec; ssh: { target: Extract<Target, { kind: "ssh" }>; privateKey: pulumi.Input<string>; hostKey: pulumi.Output<string> }; preflight: RoleRun };

  /**
   * The test NIC and the tuning, declared once what may reboot the host is known: a kernel install
   * reboots it, which drops addresses and runtime tuning, so they come after it (AFTER) and a single
   * `pulumi up` ends with both in place. Called once per host by the program.
   */
  configure(after: pulumi.Resource[] = []): void {
    if (!this.pending) throw new Error("Host.configure called twice");
    const { name, plan, spec, ssh, preflight } = this.pending;
    this.pending = undefined;
    const parent = { parent: this };
    const dependsOn = [preflight, ...after];
    if (plan.nic?.address) {
      this.ready.push(new RoleRun(`${name}-nic`, {
        ...ssh,
        title: `test NIC ${plan.nic.name} of host ${plan.name}`,
        role: "host-nic",
        args: ["--nic", plan.nic.name, "--address", plan.nic.address, "--mtu", String(plan.nic.mtu)],
        live: true,
      }, { ...parent, dependsOn }));
    }
    const tune = tuneFlags(spec);
    if (plan.nic && tune.length > 0) {
      this.ready.push(new RoleRun(`${name}-tune`, {
        ...ssh,
        title: `tuning of host ${plan.name}`,
        role: "host-tune",
        args: ["--nic", plan.nic.name, ...tune],
        live: true,
      }, { ...parent, dependsOn }));
    }
  }
}
