// RoleStep: a one-shot role run on a host as a @pulumi/command remote.Command: the role's script
// travels on stdin over the host's one connection (host key pinned), exactly like the dynamic
// resources' runs. For steps with no live state to read back (preflight facts, packages): nothing
// is asked of the host on refresh, and the step runs again only when its triggers change.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { parseRoleOutput, roleCommandLine, roleScript } from "../../src/remote/roles";
import type { HostConnection } from "../host";

export interface RoleStepArgs {
  connection: pulumi.Input<HostConnection>;
  role: string;
  /** The action that does the step (e.g. "create", or "facts" for preflight). */
  action: string;
  args: string[];
  /** The action that undoes it on destroy, if anything must be undone. */
  deleteAction?: string;
}

export class RoleStep extends command.remote.Command {
  /** The role's `facts:` line, parsed. */
  readonly facts: pulumi.Output<Record<string, unknown> | undefined>;

  constructor(name: string, args: RoleStepArgs, opts?: pulumi.CustomResourceOptions) {
    super(name, {
      connection: args.connection,
      create: roleCommandLine(args.role, args.action, args.args),
      ...(args.deleteAction ? { delete: roleCommandLine(args.role, args.deleteAction, args.args) } : {}),
      stdin: roleScript(args.role),
      // The inputs that make it another step: a change runs it again (as a replacement).
      triggers: [args.role, args.action, ...args.args],
      // stderr carries the role's reason for a failure; stdout only its report.
      logging: "stderr",
      // The host's sshd accepts no client environment (AcceptEnv); do not try.
      addPreviousOutputInEnv: false,
    }, opts);
    this.facts = this.stdout.apply((out) => parseRoleOutput(out ?? "").facts);
  }
}
