// A series walk (`ixlab bench --series KERNEL`) runs the stack with a kernel built from a prefix of
// its patch series. The bench asks for a prefix through the environment (IXLAB_SERIES=KERNEL:N, like
// IXLAB_VARIANT), read once by the Pulumi program; the kernel's build is then keyed by those N
// patches like any other build.
import { Lab } from "./model";

export interface SeriesPrefix {
  kernel: string;
  /** How many patches of the series, from the first. */
  patches: number;
}

/** The prefix IXLAB_SERIES asks for, checked against the lab; undefined when unset. Throws naming the variable. */
export function seriesPrefix(lab: Lab, env: NodeJS.ProcessEnv = process.env): SeriesPrefix | undefined {
  const value = env.IXLAB_SERIES;
  if (!value) return undefined;
  const m = /^([a-z][a-z0-9-]*):([0-9]{1,4})$/.exec(value);
  if (!m) throw new Error(`IXLAB_SERIES: "${value}" is not KERNEL:N (a kernel of lab.kernels and a number of patches)`);
  const k = lab.kernels.find((x) => x.name === m[1]);
  if (!k) throw new Error(`IXLAB_SERIES: "${m[1]}" is not a kernel in lab.kernels (known: ${lab.kernels.map((x) => x.name).join(", ")})`);
  if (!k.patches) throw new Error(`IXLAB_SERIES: kernel ${k.name} has no patch series`);
  return { kernel: k.name, patches: Number(m[2]) };
}
