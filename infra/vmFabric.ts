// VmFabric: what a VM lab's hosts stand on, made on this machine: the host image (built once,
// cached), the lab's network namespace with its management bridge and uplink, the lab's Debian
// repository on that bridge, one wire (a bridge with two taps) per link, and one QEMU VM per host
// booting an overlay of the image through GRUB, with an emulated IPMI BMC of its own (OpenIPMI's
// ipmi_sim, on the management bridge, owning the VM's power) and a generated BMC password that lives
// only as a Pulumi secret. From each VM's sshd on, everything is the real-host
// path (Host, kernel install, VhostNet, Guest, Peer over SSH); this component only stands in for the
// machines, cables and mirror a real lab has. Declared only for sim.hosts: vm.
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { bmcQemuArgs, LabPlan } from "../src/lab/plan";
import { cacheDir, repoRoot } from "../src/paths";
import { LabClaimArgs, labClaim } from "./labClaim";
import { BmcPassword, RoleRun, SshKeyPair } from "./resources/dynamic";
import type { Bmc } from "../src/lab/model";

export interface VmFabricArgs extends LabClaimArgs {
  plan: LabPlan;
  /** Used in the key comment so a key found anywhere says where it belongs. */
  stack: string;
  accel: "auto" | "tcg" | "kvm";
  /** What the hosts install through apt (the union over hosts): the lab's repository holds these. */
  packages: string[];
}

export class VmFabric extends pulumi.ComponentResource {
  readonly privateKey: pulumi.Output<string>;
  readonly publicKey: pulumi.Output<string>;
  /** Per host: its VM and the wires plugged into it (dependents wait for them). */
  readonly hostReady: Record<string, pulumi.Resource[]> = {};
  /** Per host: changes when the VM is re-created (a new overlay and host key), so its pin is renewed. */
  readonly hostGeneration: Record<string, pulumi.Output<string>> = {};
  /** Per host: the VM's facts (QEMU pid, console log, QMP socket, acceleration, boot time). */
  readonly vmFacts: Record<string, pulumi.Output<Record<string, unknown> | undefined>> = {};
  readonly accel: pulumi.Output<string>;
  /** Per host: its BMC as a real lab's host names one, and the password (a secret). */
  readonly bmc: Record<string, { bmc: Pick<Bmc, "type" | "address" | "user">; password: pulumi.Output<string> }> = {};

  constructor(name: string, args: VmFabricArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:sim:VmFabric", name, {}, opts);
    const vm = args.plan.vm;
    if (!vm) throw new Error("VmFabric needs a VM lab (sim.hosts: vm)");
    const local = { kind: "local" as const };
    const parent = { parent: this };
    const cache = path.join(cacheDir(), "vm");

    const key = new SshKeyPair(`${name}-key`, { comment: `ixlab-${args.stack}` }, parent);
    this.privateKey = key.privateKey;
    this.publicKey = key.publicKey;

    const imageArgs = ["--cache", cache, ...(vm.imagePackages.length ? ["--packages", vm.imagePackages.join(" ")] : [])];
    announceImageBuild(imageArgs);
    const image = new RoleRun(`${name}-image`, {
      title: "VM host image",
      role: "vm-image",
      target: local,
      args: imageArgs,
      live: true,
      // The image is a cache shared by the machine's VM labs: destroy keeps it.
      deletes: false,
    }, parent);

    // The image is a machine-wide cache, not the lab's: only what carries the lab's names waits.
    const claim = labClaim(name, "VM", args, this);
    const net = new RoleRun(`${name}-net`, {
      title: `VM lab network (namespace ${vm.ns}, bridge ${vm.bridge} ${vm.bridgeCidr})`,
      role: "vm-net",
      target: local,
      args: ["--ns", vm.ns, "--bridge", vm.bridge, "--address", vm.bridgeCidr, "--uplink", vm.uplink, "--uplink-address", vm.uplinkCidr],
      live: true,
    }, { ...parent, dependsOn: [claim] });

    // KVM where QEMU runs a guest with it at a useful speed (roles/kernel-boot.sh's probe), else TCG.
    const accel = new RoleRun(`${name}-accel`, {
      title: "QEMU acceleration for the VM hosts",
      role: "kernel-boot",
      target: local,
      createAction: "accel",
      args: ["--accel", args.accel],
      deletes: false,
    }, parent);
    this.accel = accel.facts.apply((f) => String(f?.accel ?? "tcg"));

    const repo = new RoleRun(`${name}-repo`, {
      title: `the lab's Debian repository on ${vm.repoListen}`,
      role: "apt-repo",
      target: local,
      args: ["--ns", vm.ns, "--listen", vm.repoListen, "--cache", cache, "--packages", [...args.packages].sort().join(" "), "--run-dir", `/run/ixlab/vm/${vm.ns}`],
      live: true,
    }, { ...parent, dependsOn: [net] });

    const wires: Record<string, RoleRun> = {};
    for (const w of vm.wires) {
      wires[w.link] = new RoleRun(`${name}-wire-${w.link}`, {
        title: `VM lab wire ${w.link} (${w.taps.join(" <-> ")})`,
        role: "vm-wire",
        target: local,
        args: ["--ns", vm.ns, "--bridge", w.bridge, "--tap", w.taps[0], "--tap", w.taps[1], "--mtu", String(w.mtu)],
        live: true,
      }, { ...parent, dependsOn: [net] });
    }

    const source = `deb [trusted=yes] http://${vm.repoListen}/ ./`;
    for (const h of args.plan.hosts) {
      const v = h.vm!;
      const mine = args.plan.links.filter((l) => l.a.host === h.name || l.b.host === h.name).map((l) => wires[l.name]);
      const host = new RoleRun(`${name}-host-${h.name}`, {
        title: `VM lab host ${h.name} (QEMU, ${v.managementCidr})`,
        role: "vm-host",
        target: local,
        args: pulumi.all([key.publicKey, image.facts, this.accel]).apply(([pub, img, acc]) => [
          "--ns", vm.ns, "--name", h.name, "--dir", path.join(cache, "labs", vm.ns, h.name), "--image", String(img?.image),
          "--bridge", vm.bridge, "--tap", v.tap, "--mac", v.mac, "--address", v.managementCidr, "--authorized-key", pub,
          ...v.nics.flatMap((n) => ["--nic", `${n.mac},${n.name},${n.tap},${n.mtu}`]),
          "--apt-source", source, "--cpus", String(v.cpus), "--memory", String(v.memoryMiB), "--accel", acc,
          "--boot-timeout", String(vm.bootTimeoutSeconds),
          ...bmcQemuArgs(v.bmc.vmPort).flatMap((a) => ["--qemu-arg", a]),
        ]),
        live: true,
      }, { ...parent, dependsOn: [net, image, repo, ...mine] });
      // The BMC adopts the VM's QEMU as its power: a new VM (a replaced host) needs a new BMC.
      const password = new BmcPassword(`${name}-bmc-password-${h.name}`, { passwordFor: `BMC of ${args.stack} host ${h.name}` }, parent).password;
      const bmc = new RoleRun(`${name}-bmc-${h.name}`, {
        title: `VM lab host ${h.name}'s BMC (IPMI on ${v.bmc.address}:623)`,
        role: "vm-bmc",
        target: local,
        args: ["--ns", vm.ns, "--name", h.name, "--dir", path.join(cache, "labs", vm.ns, "bmc", h.name), "--vm-dir", path.join(cache, "labs", vm.ns, h.name),
          "--bridge", vm.bridge, "--address", v.bmc.address, "--vm-port", String(v.bmc.vmPort), "--user", v.bmc.user],
        secretEnv: pulumi.secret(password.apply((pw) => ({ IXLAB_BMC_PASSWORD: pw }))),
        triggers: host.id.apply((id) => [id]),
        live: true,
      }, { ...parent, dependsOn: [host] });
      this.bmc[h.name] = { bmc: { type: "ipmi", address: v.bmc.address, user: v.bmc.user }, password };
      this.hostReady[h.name] = [host, bmc, repo, ...mine];
      this.hostGeneration[h.name] = host.id;
      this.vmFacts[h.name] = host.facts;
    }
    this.registerOutputs({ publicKey: this.publicKey });
  }
}

/** Says, before the engine runs, that the first `up` on this machine builds the image (minutes). */
function announceImageBuild(imageArgs: string[]): void {
  const r = spawnSync("bash", [path.join(repoRoot(), "roles", "vm-image.sh"), "key", ...imageArgs], { encoding: "utf8" });
  if (r.status !== 0) return;
  const [k, image] = r.stdout.split("\n")[0].trim().split(" ");
  if (k && image && !require("node:fs").existsSync(image)) {
    pulumi.log.info(`the VM host image ${k} is not built yet: this up builds it once (about 4 minutes; progress: ${path.join(path.dirname(image), "..", `.build-${k}.log`)})`);
  }
}
