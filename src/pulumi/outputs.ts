// Reading a stack's outputs: the topology (the interface between `pulumi up` and everything after it)
// and, for SSH, the secret key map.
import { UsageError } from "../cli/exit";
import { capturePulumi } from "./cli";
import type { Topology } from "../lab/topology";

// The shape is defined once, beside the code that produces it.
export type { Topology, TopologyGuest, TopologyHost } from "../lab/topology";

/** Every output of the stack in one pulumi call (NAME empty), or one of them. */
export function stackOutput<T>(stack: string, name: string, secret = false): T {
  const r = capturePulumi(["stack", "output", ...(name ? [name] : []), "--json", "--stack", stack, ...(secret ? ["--show-secrets"] : [])]);
  if (r.status !== 0) {
    throw new UsageError(`stack ${stack}: cannot read ${name ? `output ${name}` : "outputs"}: ${r.stderr.trim().split("\n").pop()} (has \`ixlab pulumi up --stack ${stack}\` run?)`);
  }
  const value = JSON.parse(r.stdout) as T | null;
  if (value === null || value === undefined) throw new UsageError(`stack ${stack} has no output ${name}; run: ixlab pulumi up --stack ${stack}`);
  return value;
}

export function readTopology(stack: string): Topology {
  return stackOutput<Topology>(stack, "topology");
}
