// Pulumi dynamic resources: a role run on a host (RoleRun), the per-stack SSH key pair (SshKeyPair),
// a pinned SSH host key (HostKeyPin), and a host kernel installed on a host (KernelHostInstall).
// (Kernel packages were copied by a KernelPackages resource before Commands did it; its provider
// code stays, in src/remote/providers.ts, to retire such resources of older stacks.) Pulumi serializes provider objects into the state and runs
// them in a separate Node process, so the providers here stay thin: each method loads the real
// behaviour from src/remote/ at run time and the serialized code captures nothing but globals.
// Each resource has a type of its own (`pulumi-nodejs:dynamic/ixlab:Netserver`), so a preview and
// the state say what a row is; stacks made before that knew them all as
// `pulumi-nodejs:dynamic:Resource`, which each one names as an alias so those stacks update in place.
import * as pulumi from "@pulumi/pulumi";
import type { RoleRunProps } from "../../src/remote/roleProvider";
import type { PinProps } from "../../src/remote/keyProviders";
import type { Target } from "../../src/remote/roles";
import type { KernelHostInstallProps } from "../../src/remote/kernelInstallProvider";

/**
 * Loads a module of src/remote in the provider process, which starts in the program's directory
 * (infra/) and runs the project's TypeScript through infra/register.js (swc, no type check: this runs
 * at every refresh). The serialized code captures nothing but globals, so it finds the loader from
 * the working directory.
 */
function behaviour(name: string): any {
  const g = globalThis as { __ixlabRoot?: string };
  if (!g.__ixlabRoot) {
    const path = require("node:path");
    let dir = process.cwd();
    while (!require("node:fs").existsSync(path.join(dir, "infra", "register.js"))) {
      if (path.dirname(dir) === dir) throw new Error(`ixlab: no infra/register.js above ${process.cwd()}`);
      dir = path.dirname(dir);
    }
    require(path.join(dir, "infra", "register.js")).register(dir);
  }
  return require(`${g.__ixlabRoot}/src/remote/${name}`);
}

/** The one provider of every ixlab dynamic resource; src/remote/providers.ts dispatches each call. */
const provider: pulumi.dynamic.ResourceProvider = {
  create: (inputs: Record<string, unknown>) => behaviour("providers").create(inputs),
  diff: (_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) => behaviour("providers").diff(olds, news),
  update: (_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) => behaviour("providers").update(olds, news),
  read: (id: string, props: Record<string, unknown>) => behaviour("providers").read(id, props),
  delete: (_id: string, props: Record<string, unknown>) => behaviour("providers").remove(props),
};

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** The module of every ixlab dynamic resource type: `pulumi-nodejs:dynamic/ixlab:<Type>`. */
export const DYNAMIC_MODULE = "ixlab";
/** The one type every dynamic resource had before they got their own. */
const LEGACY_TYPE = "pulumi-nodejs:dynamic:Resource";

/** Where a resource used to live, for the aliases that keep an existing stack's resource in place. */
export interface Formerly {
  /** Its parent before a component was inserted above it. */
  formerParent?: pulumi.Resource;
}

/**
 * Options every ixlab dynamic resource gets: aliases from its legacy type (and from its former
 * parent, in either type), next to the caller's.
 */
function withLegacyAlias<T extends pulumi.CustomResourceOptions>(opts: T | undefined, formerly: Formerly = {}): T {
  const aliases: pulumi.Input<pulumi.Alias>[] = [{ type: LEGACY_TYPE }];
  if (formerly.formerParent) aliases.push({ type: LEGACY_TYPE, parent: formerly.formerParent }, { parent: formerly.formerParent });
  return { ...opts, aliases: [...(opts?.aliases ?? []), ...aliases] } as T;
}

/** The resource type of each role, named after what it manages on the host. */
export const ROLE_TYPES: Record<string, string> = {
  "lab-claim": "LabClaim",
  "sim-bridge": "SimBridge",
  "sim-host": "SimHost",
  "sim-link": "SimLink",
  "host-nic": "HostNic",
  "host-tune": "HostTuning",
  netserver: "Netserver",
  "vhost-net": "VhostNetParams",
  macvtap: "Macvtap",
  guest: "Qemu",
  "kernel-build": "KernelBuild",
  "kernel-boot": "KernelBootCheck",
  // The VM lab's fabric (infra/vmFabric.ts): what stands in for a real lab's machines, cables and mirror.
  "vm-image": "VmImage",
  "vm-net": "VmNetwork",
  "apt-repo": "AptRepository",
  "vm-wire": "VmWire",
  "vm-host": "VmHost",
};

export type RoleRunArgs = Inputs<Omit<RoleRunProps, "live" | "deletes">> & { live?: boolean; deletes?: boolean };

/** A role script converged on a host; see src/remote/roleProvider.ts for its life cycle. */
export class RoleRun extends pulumi.dynamic.Resource {
  declare readonly facts: pulumi.Output<Record<string, unknown> | undefined>;
  declare readonly healthy: pulumi.Output<boolean>;

  constructor(name: string, args: RoleRunArgs & { role: string }, opts?: pulumi.CustomResourceOptions, formerly?: Formerly) {
    const type = ROLE_TYPES[args.role];
    if (!type) throw new Error(`RoleRun ${name}: role ${args.role} has no resource type (infra/resources/dynamic.ts ROLE_TYPES)`);
    super(
      provider,
      name,
      { live: false, deletes: true, ...args, facts: undefined, healthy: undefined },
      // Names on hosts are reused by a replacement, so the old one must go first.
      withLegacyAlias({ ...opts, deleteBeforeReplace: true, additionalSecretOutputs: ["privateKey"] }, formerly),
      DYNAMIC_MODULE,
      type,
    );
  }
}

/** An ed25519 key pair for one stack; the private key exists only as a Pulumi secret. */
export class SshKeyPair extends pulumi.dynamic.Resource {
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly privateKey: pulumi.Output<string>;

  constructor(name: string, args: { comment: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, publicKey: undefined, privateKey: undefined }, withLegacyAlias({ ...opts, additionalSecretOutputs: ["privateKey"] }), DYNAMIC_MODULE, "SshKeyPair");
  }
}

/** The host's SSH key, recorded at first contact; every later connection must present it. */
export class HostKeyPin extends pulumi.dynamic.Resource {
  declare readonly hostKey: pulumi.Output<string>;

  constructor(name: string, args: { target: pulumi.Input<Extract<Target, { kind: "ssh" }>>; privateKey: pulumi.Input<string>; triggers?: pulumi.Input<pulumi.Input<string>[]> }, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, hostKey: undefined }, withLegacyAlias({ ...opts, additionalSecretOutputs: ["privateKey"] }), DYNAMIC_MODULE, "HostKeyPin");
  }
}

/**
 * A host kernel installed on one real host: staged as a one-shot GRUB boot (or kexec), rebooted
 * into, verified, then made the default; destroy restores the previous default. The BMC password is
 * a secret input and output.
 */
export class KernelHostInstall extends pulumi.dynamic.Resource {
  declare readonly facts: pulumi.Output<Record<string, unknown> | undefined>;
  declare readonly phases: pulumi.Output<{ phase: string; seconds: number; note?: string }[]>;

  constructor(name: string, args: Inputs<Omit<KernelHostInstallProps, "bmc" | "bmcPassword">> & { bmc?: pulumi.Input<KernelHostInstallProps["bmc"]>; bmcPassword?: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, facts: undefined, phases: undefined, healthy: undefined },
      // Rebooting a host and waiting for it (and once more after a BMC power cycle) takes long.
      withLegacyAlias({ customTimeouts: { create: "90m", update: "90m", delete: "60m" }, ...opts, deleteBeforeReplace: true, additionalSecretOutputs: ["privateKey", "bmcPassword"] }),
      DYNAMIC_MODULE, "KernelHostInstall");
  }
}
