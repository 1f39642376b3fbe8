// Peer: the far end of the benchmark, netserver bound to the peer host's data address, kept running
// as a managed service (pid file on the host; restarted by `pulumi up` when it died; stopped on destroy).
import * as pulumi from "@pulumi/pulumi";
import { Host } from "./host";
import { HostNetwork } from "./hostNetwork";
import { RoleRun } from "./resources/dynamic";

export interface PeerArgs {
  host: Host;
  /** netserver binds to the host's data address: it waits for the NIC. */
  network: HostNetwork;
  address: string;
  port: number;
}

export class Peer extends pulumi.ComponentResource {
  readonly endpoint: { host: string; address: string; port: number };

  constructor(name: string, args: PeerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:Peer", name, {}, opts);
    this.endpoint = { host: args.host.hostName, address: args.address, port: args.port };
    new RoleRun(`${name}-netserver`, {
      ...args.host.access,
      title: `netserver on host ${args.host.hostName}`,
      role: "netserver",
      args: ["--address", args.address, "--port", String(args.port)],
      live: true,
    }, { parent: this, dependsOn: args.network.ready });
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
