// Names and addresses every component agrees on, derived once from the validated lab: for a sim,
// namespace and interface names and the addresses handed out from sim.managementNet / sim.dataNet.
import { Lab } from "./model";
import { numberToIpv4, parseCidr } from "./net";

export const NETSERVER_PORT = 12865;
/**
 * A guest's management NIC lives in QEMU's user-mode network, which exists only inside QEMU (nothing
 * is routed out of it: restrict=on); its only way in is the SSH port forwarded from the host.
 * roles/guest.sh uses the same network.
 */
export const GUEST_MGMT_NET = "198.18.255.0/24";
/** A sim host's test NIC when the lab names none. */
export const DEFAULT_SIM_NIC = "eth1";

export interface HostPlan {
  name: string;
  role: "dut" | "peer" | "builder";
  ssh: { address: string; port: number; user: string };
  /** The test NIC; address with prefix length when the lab gives or the sim assigns one. */
  nic?: { name: string; address?: string; mtu: number };
  sim?: { ns: string; veth: string; managementCidr: string };
}

export interface LinkPlan {
  name: string;
  a: { host: string; nic: string };
  b: { host: string; nic: string };
  mtu: number;
  speedMbps: number;
}

export interface LabPlan {
  hosts: HostPlan[];
  links: LinkPlan[];
  sim?: { bridge: string; bridgeCidr: string };
  /** Where netserver listens: the first peer host's data address. */
  peer?: { host: string; address: string; port: number };
}

function offset(cidr: string, n: number): { address: string; prefix: number } {
  const c = parseCidr(cidr);
  if (!c) throw new Error(`not a network: ${cidr}`);
  return { address: numberToIpv4(c.network + n), prefix: c.prefix };
}

export function planLab(lab: Lab): LabPlan {
  const sim = lab.sim;
  const linkMtu = new Map<string, number>();
  for (const l of lab.links) for (const end of [l.a, l.b]) linkMtu.set(end.host, l.mtu);

  const hosts: HostPlan[] = lab.hosts.map((h, i) => {
    const nicName = h.nic?.name ?? h.nic?.pci ?? (sim ? DEFAULT_SIM_NIC : undefined);
    let nicAddress = h.nic?.address;
    let ssh = { address: h.address ?? "", port: h.ssh.port, user: h.ssh.user };
    let simPlan: HostPlan["sim"];
    if (sim) {
      const mgmt = h.address ? { address: h.address, prefix: parseCidr(sim.managementNet)!.prefix } : offset(sim.managementNet, 10 + i);
      ssh = { ...ssh, address: mgmt.address };
      const ns = `${sim.prefix}-${h.name}`;
      simPlan = { ns, veth: ns, managementCidr: `${mgmt.address}/${mgmt.prefix}` };
      if (!nicAddress) {
        const data = offset(sim.dataNet, 1 + i);
        nicAddress = `${data.address}/${data.prefix}`;
      }
    }
    return {
      name: h.name,
      role: h.role,
      ssh,
      nic: nicName ? { name: nicName, address: nicAddress, mtu: h.tuning?.mtu ?? linkMtu.get(h.name) ?? 1500 } : undefined,
      sim: simPlan,
    };
  });

  const byName = new Map(hosts.map((h) => [h.name, h]));
  const links: LinkPlan[] = lab.links.map((l, i) => ({
    name: l.name ?? `link${i}`,
    a: { host: l.a.host, nic: l.a.nic ?? byName.get(l.a.host)!.nic!.name },
    b: { host: l.b.host, nic: l.b.nic ?? byName.get(l.b.host)!.nic!.name },
    mtu: l.mtu,
    speedMbps: l.speedMbps,
  }));

  const peerHost = hosts.find((h) => h.role === "peer" && h.nic?.address);
  return {
    hosts,
    links,
    sim: sim ? { bridge: `${sim.prefix}br`, bridgeCidr: `${offset(sim.managementNet, 1).address}/${parseCidr(sim.managementNet)!.prefix}` } : undefined,
    peer: peerHost ? { host: peerHost.name, address: peerHost.nic!.address!.split("/")[0], port: NETSERVER_PORT } : undefined,
  };
}
