// Guest: one VM on a dut host. Its kernel is copied to the host (checkedCopy: CopyToRemote, then its
// sha256 checked there; shared by the host's guests that boot the same kernel); its NIC is a macvtap on the
// host's test NIC, served by vhost-net when the running variant asks (and the host has it); QEMU runs
// as a managed service on the host (pid file, restarted by `pulumi up` when it died, stopped on
// destroy); the guest's SSH port is forwarded from the host's management address and its host key is
// pinned. VhostNet: the variant's zero-copy switch
// on a host (vhost_net experimental_zcopytx). A zero-copy change replaces VhostNet and the guests on
// that host (a module reload needs them stopped); a vhost change replaces only the QEMU processes.
import * as pulumi from "@pulumi/pulumi";
import { GuestPlan } from "../src/lab/guest";
import { GuestFacts, MacvtapFacts, VhostNetFacts } from "../src/lab/topology";
import { RunningVariant } from "../src/lab/variant";
import { Host } from "./host";
import { HostNetwork } from "./hostNetwork";
import { KernelBuild } from "./kernelBuild";
import { checkedCopy } from "./resources/checkedCopy";
import { RoleRun } from "./resources/dynamic";

export interface VhostNetArgs {
  host: Host;
  /** The host as its services see it (after a kernel install, with its NIC). */
  network: HostNetwork;
  zeroCopy: boolean;
  /** Sim labs: never load or reload this machine's modules. */
  noLoad: boolean;
}

export class VhostNet extends pulumi.ComponentResource {
  readonly run: RoleRun;
  readonly facts: pulumi.Output<VhostNetFacts | undefined>;

  constructor(name: string, args: VhostNetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:VhostNet", name, {}, opts);
    this.run = new RoleRun(`${name}-vhostnet`, {
      ...args.host.access,
      title: `vhost_net experimental_zcopytx on host ${args.host.hostName}`,
      role: "vhost-net",
      args: ["--zcopytx", args.zeroCopy ? "1" : "0", ...(args.noLoad ? ["--no-load"] : [])],
      live: true,
    }, { parent: this, dependsOn: args.network.ready });
    this.facts = this.run.facts as pulumi.Output<VhostNetFacts | undefined>;
    this.registerOutputs({ facts: this.facts });
  }
}

/** A guest kernel on a host: the copy, its path there, and what proves it arrived intact. */
export interface GuestKernelCopy {
  path: pulumi.Output<string>;
  checked: pulumi.Resource;
}

export interface GuestArgs {
  plan: GuestPlan;
  host: Host;
  network: HostNetwork;
  /** The guest kernel's build, and its boot check. */
  kernel: { build: KernelBuild; bootCheck?: pulumi.Resource };
  /** Another guest on the same host booting the same kernel: use its copy. */
  kernelCopyOf?: Guest;
  variant: RunningVariant;
  vhostNet: VhostNet;
  accel: "auto" | "kvm" | "tcg";
  /** Sim labs: a host without /dev/vhost-net runs the guest without vhost and says so. */
  vhostFallback: boolean;
  /** Seconds the guest may take to answer SSH (roles/guest.sh's default otherwise): a VM lab's guest is nested. */
  bootTimeout?: number;
}

export class Guest extends pulumi.ComponentResource {
  readonly facts: pulumi.Output<GuestFacts | undefined>;
  readonly macvtap: pulumi.Output<MacvtapFacts | undefined>;
  readonly hostName: string;
  readonly kernelCopy: GuestKernelCopy;

  constructor(name: string, args: GuestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:Guest", name, {}, opts);
    const { plan, host } = args;
    this.hostName = plan.host;
    const ssh = host.access;
    // The kernel into the host's kernel-packages/<build key>/, checked there.
    const build = args.kernel.build;
    this.kernelCopy = args.kernelCopyOf?.kernelCopy ?? (() => {
      const c = checkedCopy(`${name}-kernel`, { host, dir: build.key, files: build.artifact.apply((a) => [{ path: a.artifact, sha256: a.sha256 }]), after: [build.build, ...args.network.ready] }, { parent: this });
      return { path: c.paths.apply((p) => p[0]), checked: c.checked };
    })();

    const macvtap = new RoleRun(`${name}-macvtap`, {
      ...ssh,
      title: `macvtap ${plan.macvtap.name} of guest ${plan.name} on host ${plan.host}`,
      role: "macvtap",
      args: ["--guest", plan.name, "--nic", host.nicName ?? "", "--name", plan.macvtap.name, "--mode", plan.macvtap.mode, "--mac", plan.macvtap.mac],
      live: true,
    }, { parent: this, dependsOn: args.network.ready });
    this.macvtap = macvtap.facts as pulumi.Output<MacvtapFacts | undefined>;

    const pin = plan.pin ?? {};
    const qemu = new RoleRun(`${name}-qemu`, {
      ...ssh,
      title: `guest ${plan.name} (QEMU) on host ${plan.host}`,
      role: "guest",
      // The stack's public key is authorized for root in the guest.
      args: pulumi.all([this.kernelCopy.path, host.publicKey]).apply(([kernel, pub]) => [
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
      // Pulumi stops the guest before the reload and starts it after. The value comes through the
      // VhostNet's id (not only dependsOn): Pulumi deletes a dependent ahead of a delete-before-replace
      // replacement only when one of its inputs comes from the replaced resource; without it the
      // reload ran first and was refused while this guest held /dev/vhost-net.
      // The macvtap's interface index too: a macvtap re-created in this up (its NIC deleted and made
      // again) leaves this QEMU holding a tap of a device that is gone, which the refresh before the
      // up could not see yet.
      triggers: pulumi.all([args.vhostNet.run.id, macvtap.facts]).apply(([, mv]) => [`zcopytx=${args.variant.zeroCopy ? 1 : 0}`, `macvtap=${(mv as MacvtapFacts | undefined)?.ifindex ?? "?"}`]),
      live: true,
    }, { parent: this, dependsOn: [macvtap, args.vhostNet.run, this.kernelCopy.checked, ...(args.kernel.bootCheck ? [args.kernel.bootCheck] : [])] });
    this.facts = qemu.facts as pulumi.Output<GuestFacts | undefined>;
    this.registerOutputs({ facts: this.facts, macvtap: this.macvtap });
  }
}
