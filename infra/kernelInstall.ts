// KernelInstall: puts a built kernel where it runs and proves it boots. In a sim lab (and for guest
// kernels) that means booting it under QEMU on this machine and checking `uname -r` and the expected
// console lines from inside; this machine's own kernel and boot configuration are never touched.
import * as pulumi from "@pulumi/pulumi";
import { KernelBuild } from "./kernelBuild";
import { RoleRun } from "./resources/dynamic";

export interface KernelInstallArgs {
  build: KernelBuild;
  /** Console lines that must appear besides the release. */
  expect: string[];
  accel: "auto" | "kvm" | "tcg";
  /** Where the boot log is kept (so check and refresh can see the proof). */
  recordDir: string;
}

export class KernelInstall extends pulumi.ComponentResource {
  readonly boot: pulumi.Output<Record<string, unknown> | undefined>;

  constructor(name: string, args: KernelInstallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:KernelInstall", name, {}, opts);
    const a = args.build.artifact;
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
    this.boot = run.facts;
    this.registerOutputs({ boot: this.boot });
  }
}
