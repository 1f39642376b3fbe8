// The environment a bench run records in run.json: what the topology reported (kernels, NIC driver
// and firmware, acceleration, vhost and zero-copy per variant after its switch), what the dut host
// said (qemu version, tuning as found), the lab description's git revision, and for a sim lab what
// the sim cannot exercise, so nobody reads a sim figure as a real one.
import { Topology, TopologyGuest, TopologyHost } from "../pulumi/outputs";

export interface Probes {
  /** `qemu-system-x86_64 --version`, first line, on the dut host. */
  qemuVersion: string | null;
  /** `git rev-parse HEAD` and whether the tree had changes. */
  git: { revision: string | null; dirty: boolean | null };
  /** Tuning as found on the dut host (roles/bench-probe.sh tuning). */
  tuning: Record<string, unknown>;
  netperfVersion?: string | null;
}

/** What a variant looked like on the guest once the stack had converged on it. */
export function variantState(guest: TopologyGuest) {
  const g = guest as Record<string, any>;
  return {
    variant: g.variant ?? null,
    accel: g.accel ?? null,
    vhost: g.vhost ?? null,
    zeroCopy: g.zeroCopy ?? null,
    qemuPid: g.qemuPid ?? null,
    vhostWorkers: g.vhostWorkers?.how ?? null,
    guestKernel: g.kernel ?? null,
  };
}

/** What a sim lab (netns or VM hosts: `simHosts`) cannot show, from what its topology reports. */
export function simLimits(dut: TopologyHost, guest: TopologyGuest, simHosts?: string): string[] {
  const f = (dut.facts ?? {}) as Record<string, any>;
  const g = guest as Record<string, any>;
  const out: string[] = simHosts === "vm"
    ? [
      `the test NIC is a VM's ${f.nic?.driver ?? "virtio_net"} device on a tap, not an ixgbe 82599: no firmware; irq/s counts its virtio queues' interrupts`,
      "the peer is another VM on the same machine: both ends share its CPUs, so throughput is bounded by this machine, not by a 10GbE wire",
      "the hosts are QEMU VMs: host tuning applies inside them (no CPU governor), and their CPU figures are those of emulated CPUs",
    ]
    : [
      `the test NIC is a ${f.nic?.driver ?? "virtual"} device, not an ixgbe 82599: no firmware, no rings, no queue interrupts (irq/s not measured)`,
      "the peer is a network namespace on the same machine: both ends share its CPUs, so throughput is bounded by this machine, not by a 10GbE wire",
      "host-wide tuning (IRQ affinity, irqbalance, CPU governor) is not applied in a sim",
    ];
  if (g.accel === "tcg") out.push("the guest runs under QEMU TCG (software emulation), not KVM: guest throughput and qemu CPU are TCG figures, and KVM exits are not counted");
  if (g.vhost?.effective === false) out.push(`vhost-net is not serving the guest (${g.vhost?.note ?? "no /dev/vhost-net"}): vhost CPU is not measured and variants differing only in vhost_net parameters run the same datapath`);
  if (g.zeroCopy && g.zeroCopy.effective !== true) out.push("vhost-net TX zero-copy is never in effect here, whatever a variant requests");
  return out;
}

/** The run's environment, before any variant switch (each switch adds variants.<name>). */
export function assembleEnvironment(topology: Topology, guestName: string, probes: Probes): Record<string, unknown> {
  const guest = (topology.guests ?? []).find((g) => g.name === guestName);
  if (!guest) throw new Error(`guest ${guestName} is not in the topology`);
  const dut = topology.hosts.find((h) => h.name === guest.host);
  if (!dut) throw new Error(`guest ${guestName} runs on host ${guest.host}, which is not in the topology`);
  const facts = (dut.facts ?? {}) as Record<string, any>;
  return {
    lab: topology.lab,
    guest: guest.name,
    dut: dut.name,
    peer: topology.peer ?? null,
    kernels: {
      hosts: Object.fromEntries(topology.hosts.map((h) => [h.name, h.kernel ?? null])),
      guests: Object.fromEntries((topology.guests ?? []).map((g) => [g.name, (g as Record<string, any>).kernel ?? null])),
    },
    qemu: probes.qemuVersion ?? facts.qemu ?? null,
    netperf: probes.netperfVersion ?? null,
    nic: {
      name: dut.data?.nic ?? facts.nic?.name ?? null,
      driver: facts.nic?.driver ?? null,
      firmware: facts.nic?.firmware ?? null,
      speedMbps: facts.nic?.speedMbps ?? null,
      mtu: dut.data?.mtu ?? facts.nic?.mtu ?? null,
    },
    cpus: facts.cpus ?? null,
    tuning: probes.tuning,
    accel: (guest as Record<string, any>).accel ?? null,
    stackVariant: topology.defaultVariant ?? topology.activeVariant ?? null,
    variants: {},
    labRevision: probes.git,
    sim: topology.simulated ? { simulated: true, cannotExercise: simLimits(dut, guest, topology.simHosts) } : { simulated: false },
  };
}
