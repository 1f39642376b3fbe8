// The `topology` stack output: what the bench and people read instead of re-reading the lab file.
// Built from the validated model plus live facts the components report; never holds a secret.
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
}

/** The full topology: the plan plus what the hosts reported. */
export interface KernelLive {
  artifact?: { key: string; release: string; target: string; sha256: string; buildSeconds: number; compiled: boolean };
  boot?: Record<string, unknown>;
}

export function labTopology(lab: Lab, plan: LabPlan, stack: string, live: Record<string, HostLive>, peer?: { host: string; address: string; port: number }, kernels: Record<string, KernelLive> = {}) {
  const base = planTopology(lab);
  const sender = plan.hosts.find((h) => h.role === "dut") ?? plan.hosts.find((h) => h.role !== "peer");
  const size = lab.derived.sizes[lab.derived.sizes.length - 1];
  const netperf = peer ? `netperf -H ${peer.address} -p ${peer.port} -t ${lab.bench.tests[0]} -l 10 -- -m ${size}` : undefined;
  return {
    ...base,
    stack,
    hosts: plan.hosts.map((h) => {
      const facts = live[h.name]?.facts;
      return {
        name: h.name,
        role: h.role,
        management: { ...h.ssh, hostKey: live[h.name]?.hostKey },
        data: h.nic ? { nic: h.nic.name, address: h.nic.address, mtu: h.nic.mtu } : undefined,
        kernel: facts?.kernelRelease,
        facts,
        ...(h.sim ? { sim: { namespace: h.sim.ns } } : {}),
      };
    }),
    links: plan.links,
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
      ssh: sender ? `npx ixlab ssh --stack ${stack} ${sender.name}` : undefined,
      netperf: sender && netperf ? `npx ixlab ssh --stack ${stack} ${sender.name} -- ${netperf}` : undefined,
      netperfOnHost: netperf,
    },
  };
}
