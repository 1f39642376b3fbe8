// Host: one lab machine as ixlab needs it, reached over SSH (real and sim hosts alike): its host key
// pinned, one connection every component on it uses, its facts gathered (preflight; required
// features enforced) and packages present. Its test NIC and tuning are HostNetwork's.
import * as pulumi from "@pulumi/pulumi";
import { Host as HostSpec } from "../src/lab/model";
import { HostPlan } from "../src/lab/plan";
import { HostFacts } from "../src/lab/topology";
import { publicKeyOf } from "../src/remote/keys";
import { Target } from "../src/remote/roles";
import { HostKeyPin } from "./resources/dynamic";
import { RoleStep } from "./resources/roleStep";

/** How every Command and CopyToRemote reaches the host: @pulumi/command's ConnectionArgs shape. */
export interface HostConnection {
  host: string;
  port: number;
  user: string;
  /** A secret. */
  privateKey: string;
  /** The key pinned at first contact: a host presenting another is refused. */
  hostKey: string;
}

/** The same connection as the dynamic resources (src/remote) take it: target, key, pin. */
export interface HostAccess {
  target: Extract<Target, { kind: "ssh" }>;
  privateKey: pulumi.Input<string>;
  hostKey: pulumi.Output<string>;
}

export const BASE_PACKAGES = ["netperf", "ethtool", "iproute2", "procps", "tcpdump"];

export interface HostArgs {
  plan: HostPlan;
  spec: HostSpec;
  privateKey: pulumi.Output<string>;
  /** The public half of privateKey, when already known (the sim's key pair); else derived here. */
  publicKey?: pulumi.Output<string>;
  /** Resources that must exist before the host can be reached (a sim host and its links). */
  reachableAfter?: pulumi.Resource[];
  /** Changes when the machine behind the address is a new one (a re-created sim host): re-pin. */
  generation?: pulumi.Input<string>;
  /** Packages the host needs for what runs on it (e.g. QEMU for guests), besides the base ones. */
  packages?: string[];
}

/** What a host that runs guests needs: QEMU, and the guest userland ixlab puts in their initramfs. */
export const GUEST_HOST_PACKAGES = ["qemu-system-x86", "busybox-static", "dropbear-bin", "openssh-client"];

/** Where a sim host's files live on this machine (roles/sim-host.sh RUN_DIR/<namespace>). */
const SIM_RUN_DIR = "/run/ixlab";

/** The Debian packages host-packages makes sure of on a host (EXTRA: what runs on it, e.g. guests). */
export function hostPackages(spec: HostSpec, extra: string[] = []): string[] {
  return [...new Set([...BASE_PACKAGES, ...extra, ...spec.packages])];
}

export class Host extends pulumi.ComponentResource {
  /** The lab's name for the host. */
  readonly hostName: string;
  readonly plan: HostPlan;
  readonly spec: HostSpec;
  /** ixlab's state directory on the host (roles/lib.sh STATE_DIR; a sim host's sshd sets it). */
  readonly stateDir: string;
  readonly target: Extract<Target, { kind: "ssh" }>;
  /** The test NIC's name on the host. */
  readonly nicName?: string;
  readonly hostKey: pulumi.Output<string>;
  /** For Commands and copies on this host (privateKey a secret, hostKey pinned). */
  readonly connection: pulumi.Output<HostConnection>;
  /** For ixlab's dynamic resources on this host: the same connection. */
  readonly access: HostAccess;
  private knownPublicKey?: pulumi.Output<string>;
  private readonly privateKey: pulumi.Output<string>;
  readonly facts: pulumi.Output<HostFacts | undefined>;
  /** What anything on this host waits for (its packages; HostNetwork adds the NIC and tuning). */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:Host", name, {}, opts);
    const { plan, spec } = args;
    this.hostName = plan.name;
    this.plan = plan;
    this.spec = spec;
    this.stateDir = plan.sim ? `${SIM_RUN_DIR}/${plan.sim.ns}/state` : "/var/lib/ixlab";
    this.target = { kind: "ssh", host: plan.name, address: plan.ssh.address, port: plan.ssh.port, user: plan.ssh.user, ...(plan.sim ? { simNs: plan.sim.ns } : {}) };
    this.nicName = plan.nic?.name;
    const parent = { parent: this };

    const pin = new HostKeyPin(`${name}-hostkey`, {
      target: this.target,
      privateKey: args.privateKey,
      triggers: args.generation ? [args.generation] : [],
    }, { ...parent, dependsOn: args.reachableAfter });
    this.hostKey = pin.hostKey;
    this.access = { target: this.target, privateKey: args.privateKey, hostKey: pin.hostKey };
    const t = this.target;
    this.connection = pulumi.secret(pulumi.all([args.privateKey, pin.hostKey]).apply(([privateKey, hostKey]) => ({ host: t.address, port: t.port, user: t.user, privateKey, hostKey })));
    this.privateKey = args.privateKey;
    this.knownPublicKey = args.publicKey;

    // One-shot steps (Commands): what the host is (facts; required features enforced), and its
    // packages, which stay installed on destroy (other users of the host may need them).
    const nic = plan.nic?.name;
    const preflight = new RoleStep(`${name}-preflight`, {
      connection: this.connection,
      role: "host-preflight",
      action: "facts",
      args: [...(nic ? ["--nic", nic] : []), ...(spec.require.length ? ["--require", spec.require.join(",")] : [])],
    }, parent);
    this.facts = preflight.facts as pulumi.Output<HostFacts | undefined>;

    const packages = new RoleStep(`${name}-packages`, {
      connection: this.connection,
      role: "host-packages",
      action: "create",
      args: ["--packages", hostPackages(spec, args.packages).join(" ")],
    }, { ...parent, dependsOn: [preflight] });
    this.ready = [packages];
    this.registerOutputs({ hostKey: this.hostKey, facts: this.facts });
  }

  /** The public half of the host's key, e.g. to authorize it in a guest; derived on first use. */
  get publicKey(): pulumi.Output<string> {
    return (this.knownPublicKey ??= pulumi.unsecret(this.privateKey.apply(publicKeyOf)));
  }
}
