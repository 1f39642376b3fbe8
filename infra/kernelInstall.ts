// KernelInstall: a built host kernel on the real hosts that boot it: the build's Debian packages
// copied to each host (checkedCopy: CopyToRemote, then each sha256 checked there) and installed there
// (KernelHostInstall: a one-shot GRUB boot with panic=N, reboot, wait for SSH with a BMC power cycle
// as the last resort, verify, then default). Sim labs and guest kernels get a KernelBootCheck instead.
import * as pulumi from "@pulumi/pulumi";
import { Bmc, Kernel } from "../src/lab/model";
import { Host } from "./host";
import { KernelBuild } from "./kernelBuild";
import { hostPackages } from "../src/remote/kernelPackages";
import { checkedCopy } from "./resources/checkedCopy";
import { KernelHostInstall } from "./resources/dynamic";

/** A real host the kernel goes to. */
export interface KernelInstallHost {
  host: Host;
  /** Where its BMC answers and as whom (the password comes apart, as a secret). */
  bmc?: Pick<Bmc, "type" | "address" | "user">;
  /** The BMC password, a secret (infra/config.ts resolveSecret). */
  bmcPassword?: pulumi.Output<string>;
}

/** Install on real hosts (a `for: host` kernel named by the active variant). */
export interface KernelHostInstallArgs {
  build: KernelBuild;
  kernel: Kernel;
  hosts: KernelInstallHost[];
  /** Paths that must exist once the host runs the kernel. */
  features: string[];
}


export class KernelInstall extends pulumi.ComponentResource {
  /** Per real host: what the install saw (release running, previous default, phases). */
  readonly installed: Record<string, pulumi.Output<Record<string, unknown> | undefined>> = {};
  /** Per real host: the install resource, for what must wait for the host's new kernel. */
  readonly hostInstalls: Record<string, KernelHostInstall> = {};

  constructor(name: string, args: KernelHostInstallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:KernelInstall", name, {}, opts);
    for (const h of args.hosts) this.installOn(name, args, h);
    this.registerOutputs({ installed: this.installed });
  }

  private installOn(name: string, args: KernelHostInstallArgs, h: KernelInstallHost) {
    const art = args.build.artifact;
    const ssh = h.host.access;
    const hostName = h.host.hostName;
    // The image (and headers) .deb files, copied into the host's kernel-packages/<build key>/ and
    // checked there by their sha256.
    const files = art.apply((x) => hostPackages(x.artifact, x.sha256, x.release));
    const packages = checkedCopy(`${name}-packages-${hostName}`, { host: h.host, dir: args.build.key, files, after: [args.build.build, ...h.host.ready] }, { parent: this });
    const o = args.kernel.install;
    const install = new KernelHostInstall(`${name}-install-${hostName}`, {
      ...ssh,
      title: `kernel ${args.kernel.name} on host ${hostName}`,
      release: art.apply((x) => x.release),
      packages: packages.paths,
      packagesSha256: files.apply((fs) => fs.map((f) => f.sha256)),
      method: o.method,
      panicSeconds: o.panicSeconds,
      cmdline: args.kernel.cmdline,
      features: args.features,
      bootTimeout: o.bootTimeout,
      rebootOnDestroy: o.rebootOnDestroy,
      purgeOnDestroy: o.purgeOnDestroy,
      ...(h.bmc ? { bmc: { type: h.bmc.type, address: h.bmc.address, user: h.bmc.user }, bmcPassword: h.bmcPassword } : {}),
    }, { parent: this, dependsOn: [packages.checked] });
    this.installed[hostName] = install.facts;
    this.hostInstalls[hostName] = install;
  }
}
