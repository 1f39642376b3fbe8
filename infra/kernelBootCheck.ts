// KernelBootCheck: proof that a built kernel boots, for sim labs and guest kernels: the bzImage
// started under QEMU on this machine with a tiny initramfs, `uname -r` and the expected console lines
// checked from inside. This machine's own kernel and boot configuration are never touched.
import * as pulumi from "@pulumi/pulumi";
import { KernelBootFacts } from "../src/lab/topology";
import { KernelBuild } from "./kernelBuild";
import { RoleRun } from "./resources/dynamic";

export interface KernelBootCheckArgs {
  build: KernelBuild;
  /** Console lines that must appear besides the release. */
  expect: string[];
  accel: "auto" | "kvm" | "tcg";
  /** Where the boot log is kept (so check and refresh can see the proof). */
  recordDir: string;
}

export class KernelBootCheck extends pulumi.ComponentResource {
  readonly boot: pulumi.Output<KernelBootFacts | undefined>;

  constructor(name: string, args: KernelBootCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    // Stacks made before the boot check had a component of its own knew it as a KernelInstall.
    super("ixlab:index:KernelBootCheck", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "ixlab:index:KernelInstall" }] });
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
    this.boot = run.facts as pulumi.Output<KernelBootFacts | undefined>;
    this.registerOutputs({ boot: this.boot });
  }
}
