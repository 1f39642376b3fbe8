// Guest: one VM on a dut host. Its NIC is a macvtap on the host's test NIC, served by vhost-net when
// the active variant asks (and the host has it); QEMU runs as a managed service on the host (pid file,
// restarted by `pulumi up` when it died, stopped on destroy); the guest's SSH port is forwarded from
// the host's management address and its host key is pinned. VhostNet: the variant's zero-copy switch
// on a host (vhost_net experimental_zcopytx). A zero-copy change replaces VhostNet and the guests on
// that host (a module reload needs them stopped); a vhost change replaces only the QEMU processes.
import * as pulumi from "@pulumi/pulumi";
import { GuestPlan, VariantSettings } from "../src/lab/guest";
import { Host } from "./host";
import { RoleRun } from "./resources/dynamic";

export interface VhostNetArgs {
  host: Host;
  privateKey: pulumi.Input<string>;
  zeroCopy: boolean;
  /** Sim labs: never load or reload this machine's modules. */
  noLoad: boolean;
}

export class VhostNet extends pulumi.ComponentResource {
  readonly run: RoleRun;
  readonly facts: pulumi.Output<Record<string, unknown> | undefined>;

  constructor(name: string, args: VhostNetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:VhostNet", name, {}, opts);
    this.run = new RoleRun(`${name}-vhostnet`, {
      title: `vhost_net experimental_zcopytx on host ${args.host.target.host}`,
      role: "vhost-net",
      target: args.host.target,
      privateKey: args.privateKey,
      hostKey: args.host.hostKey,
      args: ["--zcopytx", args.zeroCopy ? "1" : "0", ...(args.noLoad ? ["--no-load"] : [])],
      live: true,
    }, { parent: this, dependsOn: args.host.ready });
    this.facts = this.run.facts;
    this.registerOutputs({ facts: this.facts });
  }
}

export interface GuestArgs {
  plan: GuestPlan;
  host: Host;
  privateKey: pulumi.Input<string>;
  /** The stack's public key, authorized for root in the guest. */
  publicKey: pulumi.Input<string>;
  /** The guest kernel (bzImage) as a path on the guest's host. */
  kernelPath: pulumi.Input<string>;
  variant: VariantSettings;
  vhostNet: VhostNet;
  accel: "auto" | "kvm" | "tcg";
  /** Sim labs: a host without /dev/vhost-net runs the guest without vhost and says so. */
  vhostFallback: boolean;
  /** Resources the guest's start must wait for (its kernel's build and boot check). */
  after: pulumi.Resource[];
  /** Seconds the guest may take to answer SSH (roles/guest.sh's default otherwise): a VM lab's guest is nested. */
  bootTimeout?: number;
}

export class Guest extends pulumi.ComponentResource {
  readonly facts: pulumi.Output<Record<string, unknown> | undefined>;
  readonly macvtap: pulumi.Output<Record<string, unknown> | undefined>;
  readonly hostName: string;

  constructor(name: string, args: GuestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:Guest", name, {}, opts);
    const { plan, host } = args;
    this.hostName = plan.host;
    const ssh = { target: host.target, privateKey: args.privateKey, hostKey: host.hostKey };

    const macvtap = new RoleRun(`${name}-macvtap`, {
      ...ssh,
      title: `macvtap ${plan.macvtap.name} of guest ${plan.name} on host ${plan.host}`,
      role: "macvtap",
      args: ["--guest", plan.name, "--nic", host.nicName ?? "", "--name", plan.macvtap.name, "--mode", plan.macvtap.mode, "--mac", plan.macvtap.mac],
      live: true,
    }, { parent: this, dependsOn: host.ready });
    this.macvtap = macvtap.facts;

    const pin = plan.pin ?? {};
    const qemu = new RoleRun(`${name}-qemu`, {
      ...ssh,
      title: `guest ${plan.name} (QEMU) on host ${plan.host}`,
      role: "guest",
      args: pulumi.all([args.kernelPath, args.publicKey]).apply(([kernel, pub]) => [
        "--guest", plan.name,
        "--kernel", kernel,
        "--mac", plan.macvtap.mac,
        "--address", plan.address,
        "--mgmt", `${plan.mgmt.address}:${plan.mgmt.port}`,
        "--authorized-key", pub.trim(),
        "--vcpus", String(plan.vcpus),
        "--memory", String(plan.memoryMiB),
        "--accel", args.accel,
        "--vhost", args.variant.vhost ? "on" : "off",
        ...(args.vhostFallback ? ["--vhost-fallback"] : []),
        ...(pin.vcpus ? ["--pin-vcpus", pin.vcpus.join(",")] : []),
        ...(pin.vhost !== undefined ? ["--pin-vhost", String(pin.vhost)] : []),
        ...args.variant.qemuArgs.flatMap((a) => ["--qemu-arg", a]),
        ...(args.bootTimeout ? ["--timeout", String(args.bootTimeout)] : []),
      ]),
      // vhost_net is reloaded only while no guest holds it: a zero-copy change replaces this too, so
      // Pulumi stops the guest before the reload and starts it after.
      triggers: [`zcopytx=${args.variant.zeroCopy ? 1 : 0}`],
      live: true,
    }, { parent: this, dependsOn: [macvtap, args.vhostNet.run, ...args.after] });
    this.facts = qemu.facts;
    this.registerOutputs({ facts: this.facts, macvtap: this.macvtap });
  }
}
