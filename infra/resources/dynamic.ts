// Pulumi dynamic resources: a role run on a host (RoleRun), the per-stack SSH key pair (SshKeyPair),
// a pinned SSH host key (HostKeyPin), a generated password (BmcPassword), and a host kernel installed
// on a host (KernelHostInstall).
// (Kernel packages were copied by a KernelPackages resource before Commands did it; its provider
// code stays, in src/remote/providers.ts, to retire such resources of older stacks.) Pulumi keeps a
// dynamic provider's code in the state and runs it in a separate Node process, so the provider here
// is thin and written out as text (PROVIDER_MODULE): each method loads the real behaviour from
// src/remote/ at run time.
// Each resource has a type of its own (`pulumi-nodejs:dynamic/ixlab:Netserver`), so a preview and
// the state say what a row is; stacks made before that knew them all as
// `pulumi-nodejs:dynamic:Resource`, which each one names as an alias so those stacks update in place.
import * as pulumi from "@pulumi/pulumi";
import type { RoleRunProps } from "../../src/remote/roleProvider";
import type { PinProps } from "../../src/remote/keyProviders";
import type { Target } from "../../src/remote/roles";
import type { KernelHostInstallProps } from "../../src/remote/kernelInstallProvider";

/**
 * The provider's code, as Pulumi keeps it with each resource (`__provider`) and its dynamic-provider
 * process loads it (`require-from-string`, then `handler()`): every method loads the real behaviour
 * from src/remote at run time, through infra/register.js (swc, no type check: this runs at every
 * refresh), found from the working directory, the program's (infra/). Written out here instead of
 * letting pulumi.dynamic.Resource serialize a closure, which at every program run loads the
 * TypeScript compiler and npm's arborist and parses the functions' text (loading those alone took
 * 0.7 s at a load average of 5, at every up, preview and refresh). Plain JavaScript that may use only
 * globals and `require`; a test loads and runs it.
 */
export const PROVIDER_MODULE = `exports.handler = function () {
  function behaviour(name) {
    const g = globalThis;
    if (!g.__ixlabRoot) {
      const path = require("node:path");
      let dir = process.cwd();
      while (!require("node:fs").existsSync(path.join(dir, "infra", "register.js"))) {
        if (path.dirname(dir) === dir) throw new Error("ixlab: no infra/register.js above " + process.cwd());
        dir = path.dirname(dir);
      }
      require(path.join(dir, "infra", "register.js")).register(dir);
    }
    return require(g.__ixlabRoot + "/src/remote/" + name);
  }
  // The one provider of every ixlab dynamic resource; src/remote/providers.ts dispatches each call.
  return {
    create: (inputs) => behaviour("providers").create(inputs),
    diff: (_id, olds, news) => behaviour("providers").diff(olds, news),
    update: (_id, olds, news) => behaviour("providers").update(olds, news),
    read: (id, props) => behaviour("providers").read(id, props),
    delete: (_id, props) => behaviour("providers").remove(props),
  };
};
`;

/**
 * A resource of the ixlab dynamic provider, of type `pulumi-nodejs:dynamic/ixlab:<Type>`: what
 * pulumi.dynamic.Resource registers, with the provider's code given as written, not serialized.
 */
class IxlabDynamicResource extends pulumi.CustomResource {
  constructor(type: string, name: string, props: Record<string, unknown>, opts: pulumi.CustomResourceOptions) {
    if ("__provider" in props) throw new Error("A dynamic resource must not define the __provider key");
    super(`pulumi-nodejs:dynamic/${DYNAMIC_MODULE}:${type}`, name, { ...props, __provider: PROVIDER_MODULE }, opts);
  }
}

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
  "vm-bmc": "VmBmc",
};

export type RoleRunArgs = Inputs<Omit<RoleRunProps, "live" | "deletes" | "secretEnv">> & { live?: boolean; deletes?: boolean; secretEnv?: pulumi.Input<Record<string, string>> };

/** A role script converged on a host; see src/remote/roleProvider.ts for its life cycle. */
export class RoleRun extends IxlabDynamicResource {
  declare readonly facts: pulumi.Output<Record<string, unknown> | undefined>;
  declare readonly healthy: pulumi.Output<boolean>;

  constructor(name: string, args: RoleRunArgs & { role: string }, opts?: pulumi.CustomResourceOptions, formerly?: Formerly) {
    const type = ROLE_TYPES[args.role];
    if (!type) throw new Error(`RoleRun ${name}: role ${args.role} has no resource type (infra/resources/dynamic.ts ROLE_TYPES)`);
    super(
      type,
      name,
      { live: false, deletes: true, ...args, facts: undefined, healthy: undefined },
      // Names on hosts are reused by a replacement, so the old one must go first.
      withLegacyAlias({ ...opts, deleteBeforeReplace: true, additionalSecretOutputs: ["privateKey", "secretEnv"] }, formerly),
    );
  }
}

/** An ed25519 key pair for one stack; the private key exists only as a Pulumi secret. */
export class SshKeyPair extends IxlabDynamicResource {
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly privateKey: pulumi.Output<string>;

  constructor(name: string, args: { comment: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super("SshKeyPair", name, { ...args, publicKey: undefined, privateKey: undefined }, withLegacyAlias({ ...opts, additionalSecretOutputs: ["privateKey"] }));
  }
}

/**
 * A password made for one thing (a VM lab host's emulated BMC), kept only as a Pulumi secret. A type
 * of its own, never aliased: no older stack has one.
 */
export class BmcPassword extends IxlabDynamicResource {
  declare readonly password: pulumi.Output<string>;

  constructor(name: string, args: { passwordFor: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super("BmcPassword", name, { ...args, password: undefined }, { ...opts, additionalSecretOutputs: ["password"] });
  }
}

/** The host's SSH key, recorded at first contact; every later connection must present it. */
export class HostKeyPin extends IxlabDynamicResource {
  declare readonly hostKey: pulumi.Output<string>;

  constructor(name: string, args: { target: pulumi.Input<Extract<Target, { kind: "ssh" }>>; privateKey: pulumi.Input<string>; triggers?: pulumi.Input<pulumi.Input<string>[]> }, opts?: pulumi.CustomResourceOptions) {
    super("HostKeyPin", name, { ...args, hostKey: undefined }, withLegacyAlias({ ...opts, additionalSecretOutputs: ["privateKey"] }));
  }
}

/**
 * A host kernel installed on one real host: staged as a one-shot GRUB boot (or kexec), rebooted
 * into, verified, then made the default; destroy restores the previous default. The BMC password is
 * a secret input and output.
 */
export class KernelHostInstall extends IxlabDynamicResource {
  declare readonly facts: pulumi.Output<Record<string, unknown> | undefined>;
  declare readonly phases: pulumi.Output<{ phase: string; seconds: number; note?: string }[]>;

  constructor(name: string, args: Inputs<Omit<KernelHostInstallProps, "bmc" | "bmcPassword">> & { bmc?: pulumi.Input<KernelHostInstallProps["bmc"]>; bmcPassword?: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super("KernelHostInstall", name, { ...args, facts: undefined, phases: undefined, healthy: undefined },
      // Rebooting a host and waiting for it (and once more after a BMC power cycle) takes long.
      withLegacyAlias({ customTimeouts: { create: "90m", update: "90m", delete: "60m" }, ...opts, deleteBeforeReplace: true, additionalSecretOutputs: ["privateKey", "bmcPassword"] }));
  }
}
