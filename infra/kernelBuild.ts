// KernelBuild: one kernel variant built on the builder (the machine running Pulumi), keyed by a
// content hash of its inputs, so unchanged inputs show no diff and compile nothing.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { KernelBuildPlan } from "../src/lab/kernel";
import { KernelArtifactFacts } from "../src/lab/topology";
import { cacheDir, repoRoot } from "../src/paths";
import { RoleRun } from "./resources/dynamic";

export interface KernelBuildArgs {
  plan: KernelBuildPlan;
}

/** What a build produced (roles/kernel-build.sh's facts). */
export type KernelArtifact = KernelArtifactFacts;

/**
 * The build's arguments with the checkout's files (patches, config fragments, a base config) replaced
 * by copies in the cache under the build's key. The key hashes their content, so the copies are the
 * same files; the arguments then read the same from any checkout (a moved clone, another runner's
 * workspace), where the checkout's own paths would make a refresh from elsewhere a replace, and its
 * check would look for files that are gone.
 */
function checkoutIndependent(args: string[], root = repoRoot(), cache = cacheDir()): string[] {
  const key = args[args.indexOf("--key") + 1];
  const copy = (p: string) => {
    if (!p.startsWith(root + path.sep) || !fs.statSync(p, { throwIfNoEntry: false })?.isFile()) return p;
    const dest = path.join(cache, "kernels", "inputs", key, path.relative(root, p));
    if (!fs.existsSync(dest) || !fs.readFileSync(dest).equals(fs.readFileSync(p))) {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(p, dest);
    }
    return dest;
  };
  return args.map((a) => a.split(" ").map(copy).join(" "));
}

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
      args: checkoutIndependent(args.plan.args),
      // The key is a digest of every input, so the rest of the flags cannot change what is built.
      identityFlags: ["--key", "--out", "--tree", "--target"],
      live: true,
    }, { parent: this, customTimeouts: { create: "90m", update: "90m" } });
    this.artifact = this.build.facts.apply((f) => f as unknown as KernelArtifact);
    this.registerOutputs({ key: this.key, artifact: this.artifact });
  }
}
