// Peer: the far end of the benchmark, netserver bound to the peer host's data address, kept running
// as a managed service (pid file on the host; restarted by `pulumi up` when it died; stopped on destroy).
import * as pulumi from "@pulumi/pulumi";
import { Host } from "./host";
import { RoleRun } from "./resources/dynamic";

export interface PeerArgs {
  host: Host;
  address: string;
  port: number;
  privateKey: pulumi.Input<string>;
}

export class Peer extends pulumi.ComponentResource {
  readonly endpoint: { host: string; address: string; port: number };

  constructor(name: string, args: PeerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ixlab:index:Peer", name, {}, opts);
    this.endpoint = { host: args.host.target.host, address: args.address, port: args.port };
    new RoleRun(`${name}-netserver`, {
      title: `netserver on host ${args.host.target.host}`,
      role: "netserver",
      target: args.host.target,
      privateKey: args.privateKey,
      hostKey: args.host.hostKey,
      args: ["--address", args.address, "--port", String(args.port)],
      live: true,
    }, { parent: this, dependsOn: args.host.ready });
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
