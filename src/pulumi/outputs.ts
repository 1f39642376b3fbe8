// Reading a stack's outputs: the topology (the interface between `pulumi up` and everything after it)
// and, for SSH, the secret key map.
import { UsageError } from "../cli/exit";
import { capturePulumi } from "./cli";

export interface TopologyHost {
  name: string;
  role: string;
  management: { address: string; port: number; user: string; hostKey?: string };
  data?: { nic: string; address?: string; mtu: number };
  kernel?: string;
  facts?: Record<string, unknown>;
  sim?: { namespace: string };
}

export interface TopologyGuest {
  name: string;
  host: string;
  address: string;
  management: { address: string; port: number; user: string; hostKey?: string };
  qemuPid?: number;
  [key: string]: unknown;
}

export interface Topology {
  lab: string;
  stack: string;
  simulated: boolean;
  hosts: TopologyHost[];
  guests?: TopologyGuest[];
  peer?: { host: string; address: string; port: number };
  commands: Record<string, unknown>;
  [key: string]: unknown;
}

export function stackOutput<T>(stack: string, name: string, secret = false): T {
  const r = capturePulumi(["stack", "output", name, "--json", "--stack", stack, ...(secret ? ["--show-secrets"] : [])]);
  if (r.status !== 0) {
    throw new UsageError(`stack ${stack}: cannot read output ${name}: ${r.stderr.trim().split("\n").pop()} (has \`ixlab pulumi up --stack ${stack}\` run?)`);
  }
  const value = JSON.parse(r.stdout) as T | null;
  if (value === null || value === undefined) throw new UsageError(`stack ${stack} has no output ${name}; run: ixlab pulumi up --stack ${stack}`);
  return value;
}

export function readTopology(stack: string): Topology {
  return stackOutput<Topology>(stack, "topology");
}
