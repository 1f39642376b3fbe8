// The one dynamic provider every ixlab dynamic resource shares (infra/resources/dynamic.ts): Pulumi
// serializes a provider's code once per provider object at every program run, so one object costs
// one serialization instead of five. Each call is dispatched by the shape of the resource's
// properties, which every kind has had since before this provider existed, so the state of older
// stacks dispatches the same way.
import * as keys from "./keyProviders";
import { install, packages } from "./kernelInstallProvider";
import * as roles from "./roleProvider";

type Props = Record<string, any>;

interface Kind {
  create(inputs: Props): Promise<{ id: string; outs: Props }>;
  diff(olds: Props, news: Props): Promise<{ changes: boolean; replaces?: string[]; deleteBeforeReplace?: boolean }>;
  update?(olds: Props, news: Props): Promise<{ outs: Props }>;
  read?(id: string, props: Props): Promise<{ id: string; props: Props }>;
  remove?(props: Props): Promise<void>;
}

const kinds: Record<string, Kind> = {
  role: roles as unknown as Kind,
  keyPair: {
    create: (i) => keys.createKeyPair(i as keys.KeyPairProps),
    // A new comment alone would need a new key; nothing else is an input.
    diff: async (o, n) => (o.comment !== n.comment ? { changes: true, replaces: ["comment"] } : { changes: false }),
  },
  pin: {
    create: (i) => keys.createPin(i as keys.PinProps),
    diff: (o, n) => keys.diffPin(o as keys.PinProps, n as keys.PinProps),
    // A new lab key keeps the pin: it is checked at the next login.
    update: async (o, n) => ({ outs: { ...n, hostKey: o.hostKey } }),
  },
  password: {
    create: (i) => keys.createPassword(i as keys.PasswordProps),
    diff: async (o, n) => (o.passwordFor !== n.passwordFor ? { changes: true, replaces: ["passwordFor"] } : { changes: false }),
  },
  kernelPackages: packages as unknown as Kind,
  kernelInstall: install as unknown as Kind,
};

/** Which kind of resource PROPS belong to (inputs or outputs, of any stack since the first). */
export function kindOf(props: Props): string {
  if ("role" in props) return "role";
  if ("comment" in props) return "keyPair";
  if ("passwordFor" in props) return "password";
  if ("imageSha256" in props) return "kernelPackages";
  if ("packagesSha256" in props) return "kernelInstall";
  if ("target" in props) return "pin";
  throw new Error(`ixlab dynamic provider: cannot tell what resource these properties belong to (${Object.keys(props).join(", ")})`);
}

const kind = (props: Props) => kinds[kindOf(props)];

export const create = (inputs: Props) => kind(inputs).create(inputs);
export const diff = (olds: Props, news: Props) => kind(news).diff(olds, news);
export async function update(olds: Props, news: Props) {
  const k = kind(news);
  if (!k.update) throw new Error(`ixlab dynamic provider: a ${kindOf(news)} resource is never updated in place`);
  return k.update(olds, news);
}
export async function read(id: string, props: Props) {
  const k = kind(props);
  return k.read ? k.read(id, props) : { id, props };
}
export async function remove(props: Props) {
  await kind(props).remove?.(props);
}
