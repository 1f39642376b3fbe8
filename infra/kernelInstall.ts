// KernelInstall: puts a built kernel where it runs and proves it boots. In a sim lab (and for guest
// kernels) that means booting it under QEMU on this machine and checking `uname -r` and the expected
// console lines from inside; this machine's own kernel and boot configuration are never touched.
// On real hosts it copies the build's Debian packages to each host that needs them (KernelPackages,
// sha256 checked on the host) and installs them there (KernelHostInstall: a one-shot GRUB boot with
// panic=N, reboot, wait for SSH with a BMC power cycle as the last resort, verify, then default).
import * as pulumi from "@pulumi/pulumi";
import { Bmc, Kernel } from "../src/lab/model";
import { KernelBootFacts } from "../src/lab/topology";
import { Host } from "./host";
import { KernelBuild } from "./kernelBuild";
import { KernelHostInstall, KernelPackages, RoleRun } from "./resources/dynamic";

/** A real host the kernel goes to. */
export interface KernelInstallHost {
  host: Host;
  bmc?: Bmc;
  /** The BMC password, a secret (infra/config.ts resolveSecret). */
  bmcPassword?: pulumi.Output<string>;
}

/** Boot check under QEMU (sim labs, guest kernels). */
export interface KernelBootCheckArgs {
  build: KernelBuild;
  /** Console lines that must appear besides the release. */
  expect: string[];
  accel: "auto" | "kvm" | "tcg";
  /** Where the boot log is kept (so check and refresh can see the proof). */
  recordDir: string;
}

/** Install on real hosts (a `for: host` kernel named by the active variant). */
export interface KernelHostInstallArgs {
  build: KernelBuild;
  kernel: Kernel;
  hosts: KernelInstallHost[];
  /** Paths that must exist once the host runs the kernel. */
  features: string[];
}

export type KernelInstallArgs = KernelBootCheckArgs | KernelHostInstallArgs;

export class KernelInstall extends pulumi.ComponentResource {
  /** The QEMU boot check's facts (undefined on real hosts). */
  readonly boot: pulumi.Output<KernelBootFacts | undefined>;
  /** Per real host: what the install saw (release running, previous default, phases). */
  readonly installed: Record<string, pulumi.Output<Record<string, unknown> | undefined>> = {};
  /** Per real host: the install resource, for what must wait for the host's new kernel. */
  readonly hostInstalls: Record<string, KernelHostInstall> = {};

  constructor(name: string, args: KernelInstallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:KernelInstall", name, {}, opts);
    const a = args.build.artifact;
    if ("hosts" in args) {
      this.boot = pulumi.output(undefined);
      for (const h of args.hosts) this.installOn(name, args, h);
    } else {
      const run = new RoleRun(`${name}-bootcheck`, {
        title: `boot check of kernel ${name} under QEMU`,
        role: "kernel-boot",
        target: { kind: "local" },
        args: a.apply((art) => [
          "--kernel", art.artifact,
          "--expect-release", art.release,
          ...args.expect.flatMap((l) => ["--expect-line", l]),
          "--accel", args.accel,
          "--record", `${args.recordDir}/${art.sha256.slice(0, 16)}`,
        ]),
        live: true,
      }, { parent: this, dependsOn: [args.build.build] });
      this.boot = run.facts as pulumi.Output<KernelBootFacts | undefined>;
    }
    this.registerOutputs({ boot: this.boot, installed: this.installed });
  }

  private installOn(name: string, args: KernelHostInstallArgs, h: KernelInstallHost) {
    const art = args.build.artifact;
    const ssh = h.host.access;
    const hostName = h.host.hostName;
    const packages = new KernelPackages(`${name}-packages-${hostName}`, {
      ...ssh,
      title: `packages of kernel ${args.kernel.name} on host ${hostName}`,
      key: args.build.key,
      release: art.apply((x) => x.release),
      image: art.apply((x) => x.artifact),
      imageSha256: art.apply((x) => x.sha256),
    }, { parent: this, dependsOn: [args.build.build, ...h.host.ready] });
    const o = args.kernel.install;
    const install = new KernelHostInstall(`${name}-install-${hostName}`, {
      ...ssh,
      title: `kernel ${args.kernel.name} on host ${hostName}`,
      release: art.apply((x) => x.release),
      packages: packages.remotePaths,
      packagesSha256: packages.files.apply((fs) => fs.map((f) => f.sha256)),
      method: o.method,
      panicSeconds: o.panicSeconds,
      cmdline: args.kernel.cmdline,
      features: args.features,
      bootTimeout: o.bootTimeout,
      rebootOnDestroy: o.rebootOnDestroy,
      purgeOnDestroy: o.purgeOnDestroy,
      ...(h.bmc ? { bmc: { type: h.bmc.type, address: h.bmc.address, user: h.bmc.user }, bmcPassword: h.bmcPassword } : {}),
    }, { parent: this, dependsOn: [packages] });
    this.installed[hostName] = install.facts;
    this.hostInstalls[hostName] = install;
  }
}
