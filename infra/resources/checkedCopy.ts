// CheckedCopy: files from this machine into a directory on a host, as one-shot Commands over the
// host's connection: the directory (a Command whose delete removes it, keyed by the directory alone,
// so a new copy or check into the same directory never deletes it), a CopyToRemote into it, then a
// Command that checks each file's sha256 there (the bytes are trusted only once their hash matches).
// Kernel packages for a host kernel and a guest's bzImage go this way.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { copyCheckScript, PackageFile } from "../../src/remote/kernelPackages";
import type { Host } from "../host";

export interface CheckedCopyArgs {
  host: Host;
  /** kernel-packages/<DIR> under the host's state directory. */
  dir: string;
  files: pulumi.Output<PackageFile[]>;
  /** What must exist first (the build, the host's network). */
  after: pulumi.Resource[];
}

export interface CheckedCopy {
  /** The files' paths on the host. */
  paths: pulumi.Output<string[]>;
  /** Depend on this to use the files. */
  checked: command.remote.Command;
}

export function checkedCopy(name: string, args: CheckedCopyArgs, opts: { parent: pulumi.Resource }): CheckedCopy {
  const { host } = args;
  const dir = `${host.stateDir}/kernel-packages/${args.dir}`;
  const quiet = { logging: "stderr", addPreviousOutputInEnv: false } as const;
  const directory = new command.remote.Command(`${name}-dir`, {
    connection: host.connection,
    create: `mkdir -p '${dir}'`,
    delete: `rm -rf '${dir}'; rmdir '${host.stateDir}/kernel-packages' 2>/dev/null || true`,
    triggers: [dir],
    ...quiet,
  }, { ...opts, dependsOn: args.after });
  const copy = new command.remote.CopyToRemote(`${name}-copy`, {
    connection: host.connection,
    source: args.files.apply((fs) => new pulumi.asset.AssetArchive(Object.fromEntries(fs.map((f) => [path.basename(f.path), new pulumi.asset.FileAsset(f.path)])))),
    remotePath: dir,
    triggers: [args.dir],
  }, { ...opts, dependsOn: [directory] });
  const checked = new command.remote.Command(`${name}-check`, {
    connection: host.connection,
    create: args.files.apply((fs) => copyCheckScript(host.hostName, dir, fs)),
    triggers: args.files.apply((fs) => [args.dir, ...fs.map((f) => f.sha256)]),
    ...quiet,
  }, { ...opts, dependsOn: [copy] });
  return { paths: args.files.apply((fs) => fs.map((f) => `${dir}/${path.basename(f.path)}`)), checked };
}
