// KernelBuild: one kernel variant built on the builder (the machine running Pulumi), keyed by a
// content hash of its inputs, so unchanged inputs show no diff and compile nothing.
import * as pulumi from "@pulumi/pulumi";
import { KernelBuildPlan } from "../src/lab/kernel";
import { KernelArtifactFacts } from "../src/lab/topology";
import { RoleRun } from "./resources/dynamic";

export interface KernelBuildArgs {
  plan: KernelBuildPlan;
}

/** What a build produced (roles/kernel-build.sh's facts). */
export type KernelArtifact = KernelArtifactFacts;

export class KernelBuild extends pulumi.ComponentResource {
  readonly key: string;
  readonly artifact: pulumi.Output<KernelArtifact>;
  readonly build: RoleRun;

  constructor(name: string, args: KernelBuildArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:KernelBuild", name, {}, opts);
    this.key = args.plan.key;
    this.build = new RoleRun(`${name}-build`, {
      title: `kernel ${args.plan.name} (${args.plan.target}, key ${args.plan.key})`,
      role: "kernel-build",
      target: { kind: "local" },
      args: args.plan.args,
      live: true,
    }, { parent: this, customTimeouts: { create: "90m", update: "90m" } });
    this.artifact = this.build.facts.apply((f) => f as unknown as KernelArtifact);
    this.registerOutputs({ key: this.key, artifact: this.artifact });
  }
}
