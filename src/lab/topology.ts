// The `topology` stack output: what the bench and people read instead of re-reading the lab file.
// Built from the validated model plus live facts the components report; never holds a secret. Its
// shape is the `Topology` type below, which the producer (infra/index.ts) and every reader share.
import { GuestPlan } from "./guest";
import { BenchTest, Lab, ModuleParams, Role, Scenario } from "./model";
import { netperfCommand } from "./netperf";
import { LabPlan, LinkPlan } from "./plan";
import { formatSize } from "./units";
import { RunningVariant } from "./variant";

export interface MatrixCell {
  test: string;
  size: number;
  sizeLabel: string;
  variant: string;
  repetition: number;
}

/** The bench plan expanded: tests x sizes x variants x repetitions, in run order. */
export function benchMatrix(lab: Lab): MatrixCell[] {
  const cells: MatrixCell[] = [];
  for (const variant of lab.derived.benchVariants)
    for (const test of lab.bench.tests)
      for (const size of lab.derived.sizes)
        for (let repetition = 1; repetition <= lab.bench.repetitions; repetition++)
          cells.push({ test, size, sizeLabel: formatSize(size), variant, repetition });
  return cells;
}

// --- What the roles report (their `facts:` lines) ----------------------------------------------

/** roles/host-preflight.sh. */
export interface HostFacts {
  kernelRelease?: string;
  hostname?: string;
  nic?: { name: string; present: boolean; driver: string | null; firmware: string | null; speedMbps: number | null; mtu: number | null; mac: string | null };
  kvm?: boolean;
  vhostNetDevice?: boolean;
  vhostNetModule?: boolean;
  zerocopyTx?: string | null;
  qemu?: string | null;
  cpus?: number;
  [fact: string]: unknown;
}

/** roles/guest.sh. */
export interface GuestFacts {
  guest: string;
  qemuPid: number;
  accel: "kvm" | "tcg";
  vhost: "on" | "off";
  vhostRequested: "on" | "off";
  vhostNote?: string;
  mac: string;
  address: string;
  mgmt: { address: string; port: number };
  hostKey: string;
  release: string;
  vhostWorkers: { how: string; tids: number[] };
  vcpuThreads: number[];
  bootSeconds?: number;
}

/** roles/vhost-net.sh. */
export interface VhostNetFacts {
  loaded: boolean;
  devVhostNet: boolean;
  requested: number;
  zcopytx: number | null;
  users: number;
  applied: boolean;
}

/** roles/macvtap.sh. */
export interface MacvtapFacts {
  name: string;
  lower: string;
  mode: string;
  mac: string;
  ifindex: number;
  tapDevice: string;
  devNumbers: string;
}

/** roles/kernel-build.sh. */
export interface KernelArtifactFacts {
  key: string;
  release: string;
  target: string;
  artifact: string;
  sha256: string;
  buildSeconds: number;
  compiled: boolean;
}

/** roles/kernel-boot.sh (the fields the topology keeps). */
export interface KernelBootFacts {
  release: string;
  accel: string;
  bootSeconds: number;
  [fact: string]: unknown;
}

// --- The topology ----------------------------------------------------------------------------

export interface TopologyHost {
  name: string;
  role: Role;
  management: { address: string; port: number; user: string; hostKey?: string };
  data?: { nic: string; address?: string; mtu: number };
  kernel?: string;
  facts?: HostFacts;
  sim?: { namespace: string };
  vm?: Record<string, unknown>;
}

export interface TopologyGuest {
  name: string;
  host: string;
  address: string;
  mac: string;
  macvtap: { name: string; mode: string; tapDevice?: string };
  vcpus: number;
  memoryMiB: number;
  kernel?: string;
  variant?: string;
  accel?: "kvm" | "tcg";
  vhost: { requested?: boolean; effective?: boolean; note?: string };
  zeroCopy: { requested?: boolean; effective?: boolean; vhostNet?: { loaded: boolean; experimental_zcopytx: number | null } };
  qemuPid?: number;
  vcpuThreads?: number[];
  vhostWorkers?: { how: string; tids: number[] };
  bootSeconds?: number;
  management: { address: string; port: number; user: string; hostKey?: string };
}

export interface TopologyKernel {
  name: string;
  for: "guest" | "host";
  key?: string;
  release?: string;
  sha256?: string;
  buildSeconds?: number;
  /** The patches the build applied (file names, in order); a prefix of the series during a series walk. */
  patches?: string[];
  bootCheck?: { release: string; accel: string; bootSeconds: number };
}

export interface TopologyBench {
  tests: BenchTest[];
  sizes: number[];
  durationSeconds: number;
  repetitions: number;
  variants: string[];
  baseline?: string;
  scenarios: Scenario[];
  cells: number;
}

export interface TopologyVariant {
  name: string;
  hostKernel?: string;
  moduleParams: ModuleParams;
  vhost: boolean;
  zeroCopy?: boolean;
}

export interface Topology {
  lab: string;
  stack: string;
  simulated: boolean;
  /** Sim labs: what the hosts are ("netns", or "vm" for the VM lab). */
  simHosts?: string;
  hosts: TopologyHost[];
  links: LinkPlan[];
  variants: TopologyVariant[];
  /** The lab's own variant (lab.activeVariant, else the first). */
  defaultVariant?: string;
  /** The variant this stack was last converged to (what the bench switched it to, else the default). */
  runningVariant?: string;
  /** @deprecated the same as defaultVariant, kept while readers move to defaultVariant / runningVariant. */
  activeVariant?: string;
  guests: TopologyGuest[];
  kernels: TopologyKernel[];
  peer?: { host: string; address: string; port: number };
  bench: TopologyBench;
  commands: {
    bench: string;
    ssh?: string;
    netperf?: string;
    netperfOnHost?: string;
    guestSsh?: string;
    /** One line per cell of the matrix (variants and repetitions aside), for running a cell by hand. */
    cells: { test: BenchTest; size: number; sizeLabel: string; command: string }[];
  };
}

/** The parts of the topology that need nothing but the lab. */
export function planTopology(lab: Lab): Pick<Topology, "lab" | "simulated" | "simHosts" | "variants" | "defaultVariant" | "activeVariant" | "bench"> {
  return {
    lab: lab.name,
    simulated: lab.sim !== undefined,
    ...(lab.sim ? { simHosts: lab.sim.hosts } : {}),
    variants: lab.variants.map((v) => ({ name: v.name, hostKernel: v.hostKernel, moduleParams: v.moduleParams, vhost: v.vhost, zeroCopy: v.zeroCopy })),
    defaultVariant: lab.derived.activeVariant,
    activeVariant: lab.derived.activeVariant,
    bench: {
      tests: lab.bench.tests,
      sizes: lab.derived.sizes,
      durationSeconds: lab.derived.durationSeconds,
      repetitions: lab.bench.repetitions,
      variants: lab.derived.benchVariants,
      baseline: lab.derived.baseline,
      scenarios: lab.bench.scenarios,
      cells: benchMatrix(lab).length,
    },
  };
}

export interface HostLive {
  hostKey: string;
  facts?: HostFacts;
  /** A VM lab host: what its QEMU reported (pid, console log, QMP socket, acceleration, boot time). */
  vm?: Record<string, unknown>;
}

export interface KernelLive {
  artifact?: KernelArtifactFacts;
  boot?: KernelBootFacts;
  /** The patches the build applied (file names, in order): a prefix of the series during a series walk. */
  patches?: string[];
}

/** What a guest's components reported: QEMU (guest role), its macvtap, its host's vhost_net. */
export interface GuestLive {
  facts?: GuestFacts;
  macvtap?: MacvtapFacts;
  vhostNet?: VhostNetFacts;
}

export interface LiveFacts {
  hosts: Record<string, HostLive>;
  peer?: { host: string; address: string; port: number };
  kernels?: Record<string, KernelLive>;
  guests?: Record<string, GuestLive>;
  guestPlans?: GuestPlan[];
  variant?: RunningVariant;
}

function guestTopology(g: GuestPlan, live: GuestLive | undefined, variant: RunningVariant | undefined): TopologyGuest {
  const f = live?.facts;
  const v = live?.vhostNet;
  return {
    name: g.name,
    host: g.host,
    address: g.address,
    mac: g.macvtap.mac,
    macvtap: { name: g.macvtap.name, mode: g.macvtap.mode, tapDevice: live?.macvtap?.tapDevice },
    vcpus: g.vcpus,
    memoryMiB: g.memoryMiB,
    kernel: f?.release,
    variant: variant?.name,
    accel: f?.accel,
    vhost: { requested: variant?.vhost, effective: f ? f.vhost === "on" : undefined, ...(f?.vhostNote ? { note: f.vhostNote } : {}) },
    zeroCopy: {
      requested: variant?.zeroCopy,
      // Only a loaded vhost_net with the value, serving this guest, makes zero-copy real.
      effective: v && f ? f.vhost === "on" && v.applied === true && v.zcopytx === 1 : undefined,
      vhostNet: v ? { loaded: v.loaded, experimental_zcopytx: v.zcopytx } : undefined,
    },
    qemuPid: f?.qemuPid,
    vcpuThreads: f?.vcpuThreads,
    vhostWorkers: f?.vhostWorkers,
    bootSeconds: f?.bootSeconds,
    management: { address: g.mgmt.address, port: g.mgmt.port, user: "root", hostKey: f?.hostKey },
  };
}

export function labTopology(lab: Lab, plan: LabPlan, stack: string, live: LiveFacts): Topology {
  const { peer, kernels = {}, guests = {}, guestPlans = [] } = live;
  const sender = plan.hosts.find((h) => h.role === "dut") ?? plan.hosts.find((h) => h.role !== "peer");
  const size = lab.derived.sizes[lab.derived.sizes.length - 1];
  const netperf = peer ? netperfCommand(peer, lab.bench.tests[0], size, 10, false) : undefined;
  const firstGuest = guestPlans[0];
  return {
    ...planTopology(lab),
    runningVariant: live.variant?.name,
    stack,
    hosts: plan.hosts.map((h) => {
      const facts = live.hosts[h.name]?.facts;
      return {
        name: h.name,
        role: h.role,
        management: { ...h.ssh, hostKey: live.hosts[h.name]?.hostKey },
        data: h.nic ? { nic: h.nic.name, address: h.nic.address, mtu: h.nic.mtu } : undefined,
        kernel: facts?.kernelRelease,
        facts,
        ...(h.sim ? { sim: { namespace: h.sim.ns } } : {}),
        ...(h.vm ? { vm: { cpus: h.vm.cpus, memoryMiB: h.vm.memoryMiB, managementMac: h.vm.mac, nics: h.vm.nics, namespace: plan.vm?.ns, ...live.hosts[h.name]?.vm } } : {}),
      };
    }),
    links: plan.links,
    guests: guestPlans.map((g) => guestTopology(g, guests[g.name], live.variant)),
    kernels: lab.kernels.map((k) => {
      const a = kernels[k.name]?.artifact;
      const b = kernels[k.name]?.boot;
      return {
        name: k.name,
        for: k.for,
        key: a?.key,
        release: a?.release,
        sha256: a?.sha256,
        buildSeconds: a?.buildSeconds,
        patches: kernels[k.name]?.patches,
        bootCheck: b ? { release: b.release, accel: b.accel, bootSeconds: b.bootSeconds } : undefined,
      };
    }),
    peer,
    commands: {
      bench: `npx ixlab bench --stack ${stack}`,
      ssh: sender ? `npx ixlab ssh --stack ${stack} ${sender.name}` : undefined,
      netperf: sender && netperf ? `npx ixlab ssh --stack ${stack} ${sender.name} -- ${netperf}` : undefined,
      netperfOnHost: netperf,
      ...(firstGuest ? { guestSsh: `npx ixlab ssh --stack ${stack} ${firstGuest.name}` } : {}),
      cells: firstGuest && peer
        ? lab.bench.tests.flatMap((t) => lab.derived.sizes.map((sz) => ({
          test: t, size: sz, sizeLabel: formatSize(sz),
          command: `npx ixlab ssh --stack ${stack} ${firstGuest.name} -- ${netperfCommand(peer, t, sz, lab.derived.durationSeconds)}`,
        })))
        : [],
    },
  };
}
