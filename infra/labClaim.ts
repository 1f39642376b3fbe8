// The lab's machine-wide names (sim.prefix-*), claimed before anything of an embedded lab is made: a
// lab of another clone or stack using them stops this one there, before anything of theirs is adopted.
import * as pulumi from "@pulumi/pulumi";
import { RoleRun } from "./resources/dynamic";

export interface LabClaimArgs {
  /** The lab's name prefix (sim.prefix): the names on this machine that this stack claims. */
  prefix: string;
  /** Who claims them: this stack of this clone, as a user would be told it. */
  owner: string;
}

export function labClaim(name: string, kind: string, args: LabClaimArgs, parent: pulumi.Resource): RoleRun {
  return new RoleRun(`${name}-claim`, {
    title: `${kind} lab names ${args.prefix}-*`,
    role: "lab-claim",
    target: { kind: "local" },
    args: ["--prefix", args.prefix, "--owner", args.owner],
    live: true,
  }, { parent });
}
