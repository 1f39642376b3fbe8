// The `topology` stack output: what the bench and people read instead of re-reading the lab file.
// Built from the validated model plus live facts the components report; never holds a secret.
import { GuestPlan, VariantSettings } from "./guest";
import { Lab } from "./model";
import { LabPlan } from "./plan";
import { formatSize } from "./units";

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

export function planTopology(lab: Lab) {
  return {
    lab: lab.name,
    simulated: lab.sim !== undefined,
    ...(lab.sim ? { simHosts: lab.sim.hosts } : {}),
    hosts: lab.hosts.map((h) => ({ name: h.name, role: h.role, address: h.address, sshUser: h.ssh.user, sshPort: h.ssh.port, nic: h.nic, require: h.require })),
    links: lab.links.map((l) => ({ name: l.name, a: l.a, b: l.b, speedMbps: l.speedMbps, mtu: l.mtu })),
    variants: lab.variants.map((v) => ({ name: v.name, hostKernel: v.hostKernel, moduleParams: v.moduleParams, vhost: v.vhost, zeroCopy: v.zeroCopy })),
    activeVariant: lab.derived.activeVariant,
    guests: lab.guests.map((g) => ({ name: g.name, host: g.host, vcpus: g.vcpus, memoryMiB: lab.derived.guestMemoryMiB[g.name], macvtapMode: g.macvtap.mode, address: g.address })),
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
  facts?: Record<string, unknown>;
  /** A VM lab host: what its QEMU reported (pid, console log, QMP socket, acceleration, boot time). */
  vm?: Record<string, unknown>;
}

/** The full topology: the plan plus what the hosts reported. */
export interface KernelLive {
  artifact?: { key: string; release: string; target: string; sha256: string; buildSeconds: number; compiled: boolean };
  boot?: Record<string, unknown>;
}

/** What a guest's components reported: QEMU (guest role), its macvtap, its host's vhost_net. */
export interface GuestLive {
  facts?: Record<string, unknown>;
  macvtap?: Record<string, unknown>;
  vhostNet?: Record<string, unknown>;
}

export interface LiveFacts {
  hosts: Record<string, HostLive>;
  peer?: { host: string; address: string; port: number };
  kernels?: Record<string, KernelLive>;
  guests?: Record<string, GuestLive>;
  guestPlans?: GuestPlan[];
  variant?: VariantSettings;
}

/** netperf as the bench runs it for one cell (-c -C: local and remote CPU). */
export function netperfCommand(peer: { address: string; port: number }, test: string, size: number, seconds: number): string {
  return `netperf -H ${peer.address} -p ${peer.port} -t ${test} -l ${seconds} -c -C -- -m ${size}`;
}

function guestTopology(g: GuestPlan, live: GuestLive | undefined, variant: VariantSettings | undefined) {
  const f = live?.facts as Record<string, any> | undefined;
  const v = live?.vhostNet as Record<string, any> | undefined;
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

export function labTopology(lab: Lab, plan: LabPlan, stack: string, live: LiveFacts) {
  const { peer, kernels = {}, guests = {}, guestPlans = [] } = live;
  const base = planTopology(lab);
  const sender = plan.hosts.find((h) => h.role === "dut") ?? plan.hosts.find((h) => h.role !== "peer");
  const size = lab.derived.sizes[lab.derived.sizes.length - 1];
  const netperf = peer ? `netperf -H ${peer.address} -p ${peer.port} -t ${lab.bench.tests[0]} -l 10 -- -m ${size}` : undefined;
  const firstGuest = guestPlans[0];
  return {
    ...base,
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
      // One line per cell of the matrix (variants and repetitions aside), for running a cell by hand.
      cells: firstGuest && peer
        ? lab.bench.tests.flatMap((t) => lab.derived.sizes.map((sz) => ({
          test: t, size: sz, sizeLabel: formatSize(sz),
          command: `npx ixlab ssh --stack ${stack} ${firstGuest.name} -- ${netperfCommand(peer, t, sz, lab.derived.durationSeconds)}`,
        })))
        : [],
    },
  };
}
