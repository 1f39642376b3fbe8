// The variant a stack runs, decided once: its name (what the bench asks through IXLAB_VARIANT, else
// lab.activeVariant, else the first variant) and everything derived from it that the components and
// the topology use: vhost, zero-copy, the module parameters to apply, the host kernel and the paths a
// host running that kernel must show.
import { Lab, ModuleParams } from "./model";

export interface RunningVariant {
  name: string;
  /** The lab's own variant (lab.activeVariant, else the first): what runs when nothing asks otherwise. */
  defaultName: string;
  vhost: boolean;
  /** vhost_net experimental_zcopytx, from `zeroCopy` or the module parameter (validation makes them agree). */
  zeroCopy: boolean;
  moduleParams: ModuleParams;
  qemuArgs: string[];
  /** A `for: host` kernel this variant boots on its dut hosts (real labs). */
  hostKernel?: string;
  /** Paths that exist on a host running this variant: one per module parameter. */
  verifyPaths: string[];
}

export class VariantError extends Error {}

/**
 * The running variant for REQUESTED (a name, or undefined for the lab's own); undefined for a lab
 * with no variants. An unknown name is refused, naming where it came from (WHERE).
 */
export function resolveVariant(lab: Lab, requested: string | undefined, where = "IXLAB_VARIANT"): RunningVariant | undefined {
  const defaultName = lab.derived.activeVariant;
  const name = requested || defaultName;
  if (name === undefined || defaultName === undefined) {
    if (requested) throw new VariantError(`${where}: "${requested}" is not a variant: the lab has no variants`);
    return undefined;
  }
  const v = lab.variants.find((x) => x.name === name);
  if (!v) throw new VariantError(`${where}: "${name}" is not a variant in lab.variants (known: ${lab.variants.map((x) => x.name).join(", ")})`);
  const zc = v.moduleParams.vhost_net?.experimental_zcopytx;
  const zeroCopy = v.zeroCopy ?? (zc === undefined ? false : zc === true || Number(zc) === 1);
  const params: ModuleParams = { ...v.moduleParams };
  if (v.zeroCopy !== undefined || zc !== undefined) params.vhost_net = { ...params.vhost_net, experimental_zcopytx: zeroCopy ? 1 : 0 };
  const verifyPaths = Object.entries(params).flatMap(([mod, ps]) => Object.keys(ps).map((p) => `/sys/module/${mod}/parameters/${p}`));
  return {
    name: v.name,
    defaultName,
    vhost: v.vhost,
    zeroCopy,
    moduleParams: params,
    qemuArgs: v.qemuArgs,
    ...(v.hostKernel ? { hostKernel: v.hostKernel } : {}),
    verifyPaths,
  };
}
