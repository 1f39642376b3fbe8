// The `topology` stack output: what the bench and people read instead of re-reading the lab file.
// Built from the validated model plus live facts the components report; never holds a secret.
import { Lab } from "./model";
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
