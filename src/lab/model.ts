// The typed lab model: what the rest of the program reads. It mirrors lab.schema.json after ajv has
// filled the schema's defaults; validate.ts is the only producer of a Lab.

export type Role = "dut" | "peer" | "builder";

export interface SecretRef {
  secret?: string;
  env?: string;
}

export interface Nic {
  name?: string;
  pci?: string;
  address?: string;
  driver?: string;
}

export interface Tuning {
  irqbalance?: boolean;
  irqAffinity?: string;
  governor?: string;
  mtu?: number;
  rings?: { rx?: number; tx?: number };
  offloads?: Record<string, boolean>;
}

export interface Bmc {
  type: "ipmi" | "redfish";
  address: string;
  user: string;
  password: SecretRef;
}

export interface Host {
  name: string;
  role: Role;
  address?: string;
  ssh: { user: string; port: number; key?: SecretRef };
  nic?: Nic;
  require: string[];
  packages: string[];
  tuning?: Tuning;
  bmc?: Bmc;
  /** VM lab hosts: this host's VM size, over sim.vm. */
  vm?: VmSize;
}

export interface LinkEnd {
  host: string;
  nic?: string;
}

export interface Link {
  name?: string;
  a: LinkEnd;
  b: LinkEnd;
  speedMbps: number;
  mtu: number;
}

export interface KernelSource {
  type: "debian-source" | "git" | "tarball";
  package?: string;
  url?: string;
  ref?: string;
  sha256?: string;
}

export interface Kernel {
  name: string;
  for: "host" | "guest";
  source: KernelSource;
  patches?: string;
  config: { base: string; fragments: string[] };
  localversion?: string;
  cmdline: string;
  verify: { console: string[] };
  /** Real hosts only (roles/kernel-install.sh). */
  install: KernelInstallOptions;
}

export interface KernelInstallOptions {
  method: "grub" | "kexec";
  panicSeconds: number;
  /** Seconds for SSH to come back after a reboot (and again after a BMC power cycle). */
  bootTimeout: number;
  rebootOnDestroy: boolean;
  purgeOnDestroy: boolean;
  /** Paths that must exist on the new kernel, besides the active variant's module parameters. */
  features: string[];
}

export type ModuleParams = Record<string, Record<string, number | string | boolean>>;

export interface Variant {
  name: string;
  description?: string;
  hostKernel?: string;
  moduleParams: ModuleParams;
  vhost: boolean;
  zeroCopy?: boolean;
  qemuArgs: string[];
}

export interface Guest {
  name: string;
  host: string;
  vcpus: number;
  memory: string | number;
  pin?: { vcpus?: number[]; vhost?: number };
  macvtap: { mode: "bridge" | "vepa" | "private" | "passthru"; mac?: string };
  address?: string;
  kernel?: string;
  image?: string;
}

export type BenchTest = "TCP_STREAM" | "TCP_MAERTS" | "TCP_RR" | "UDP_STREAM";
export type Scenario = "multi-stream" | "tcpdump-during-stream" | "sg-toggle-during-stream" | "small-message-sweep";

export interface Bench {
  tests: BenchTest[];
  sizes: (string | number)[];
  duration: string | number;
  repetitions: number;
  variants?: string[];
  baseline?: string;
  scenarios: Scenario[];
  streams: number;
}

export interface VmSize {
  cpus?: number;
  memory?: string | number;
}

export interface Sim {
  /** netns: hosts are namespaces sharing this machine's kernel; vm: QEMU VMs reached like real hosts. */
  hosts: "netns" | "vm";
  prefix: string;
  managementNet: string;
  dataNet: string;
  accel: "auto" | "tcg" | "kvm";
  vm?: { cpus: number; memory: string | number; bootTimeout: string | number; packages: string[] };
}

/**
 * The sim whose hosts are namespaces on this machine, where ixlab takes sim shortcuts (no module
 * loads, QEMU's own virtio-net instead of vhost, a boot check instead of an install); undefined for
 * real labs and for VM labs, whose hosts get the real-host code paths.
 */
export function netnsSim(lab: LabSpec): Sim | undefined {
  return lab.sim && lab.sim.hosts !== "vm" ? lab.sim : undefined;
}

/** The sim of a VM lab (sim.hosts: vm). */
export function vmSim(lab: LabSpec): Sim | undefined {
  return lab.sim?.hosts === "vm" ? lab.sim : undefined;
}

/** A lab description as written, with the schema's defaults filled in. */
export interface LabSpec {
  name: string;
  description?: string;
  hosts: Host[];
  links: Link[];
  kernels: Kernel[];
  variants: Variant[];
  activeVariant?: string;
  guests: Guest[];
  bench: Bench;
  sim?: Sim;
}

/** The validated model: the spec plus the values derived once (bytes, seconds, resolved names). */
export interface Lab extends LabSpec {
  derived: {
    /** Message sizes in bytes, in the order given. */
    sizes: number[];
    durationSeconds: number;
    /** Variants the bench compares, in order; the baseline first. */
    benchVariants: string[];
    baseline?: string;
    activeVariant?: string;
    /** Guest memory in MiB, by guest name. */
    guestMemoryMiB: Record<string, number>;
  };
}
