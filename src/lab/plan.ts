// Names and addresses every component agrees on, derived once from the validated lab: for a sim,
// namespace and interface names and the addresses handed out from sim.managementNet / sim.dataNet.
import { createHash } from "node:crypto";
import { Lab } from "./model";
import { Cidr, numberToIpv4, parseCidr } from "./net";
import { parseDuration, parseSize } from "./units";

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
  vm?: VmHostPlan;
}

/** A VM lab host: its VM's size, its taps in the lab's namespace and the NICs the VM sees. */
export interface VmHostPlan {
  managementCidr: string;
  /** The management NIC (mgmt0 inside): its tap on the lab's management bridge and its MAC. */
  tap: string;
  mac: string;
  /** One data NIC per wire: its name inside the VM, MAC, tap on the wire's bridge, MTU. */
  nics: { name: string; mac: string; tap: string; mtu: number }[];
  cpus: number;
  memoryMiB: number;
  /**
   * Its emulated BMC (roles/vm-bmc.sh): an IPMI LAN address of its own on the management bridge,
   * counted down from just below the uplink so the hosts' addresses (counted up from .10) stay
   * clear, and the port of the VM's serial link to it on the namespace's loopback.
   */
  bmc: { address: string; vmPort: number; user: string };
}

/** A VM lab's network: a namespace with the management bridge (and the apt repository on its address) and one bridge per wire. */
export interface VmLabPlan {
  ns: string;
  bridge: string;
  bridgeCidr: string;
  /** The veth from this machine's root namespace to the bridge, and its address. */
  uplink: string;
  uplinkCidr: string;
  /** Where the lab's Debian repository listens (on the bridge's address). */
  repoListen: string;
  bootTimeoutSeconds: number;
  imagePackages: string[];
  wires: { link: string; bridge: string; taps: [string, string]; mtu: number }[];
}

/** The port the VM lab's apt repository listens on. */
export const VM_REPO_PORT = 8080;
/** Host i's VM reaches its BMC on 127.0.0.1:(this + i) in the lab's namespace. */
export const VM_BMC_PORT = 9100;

/** A stable locally administered MAC (QEMU's 52:54:00 prefix) for one NIC of one lab host. */
export function vmMac(ns: string, host: string, nic: string): string {
  const h = createHash("sha256").update(`${ns}/${host}/${nic}`).digest("hex");
  return `52:54:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
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
  vm?: VmLabPlan;
  /** Where netserver listens: the first peer host's data address. */
  peer?: { host: string; address: string; port: number };
}

function offset(cidr: string, n: number): { address: string; prefix: number } {
  const c = parseCidr(cidr);
  if (!c) throw new Error(`not a network: ${cidr}`);
  return { address: numberToIpv4(c.network + n), prefix: c.prefix };
}

/** The uplink takes the last host address of the management network; BMC i the one I below it. */
export function vmBmc(mgmt: Cidr, i: number): VmHostPlan["bmc"] {
  return { address: numberToIpv4(mgmt.network + 2 ** (32 - mgmt.prefix) - 3 - i), vmPort: VM_BMC_PORT + i, user: "admin" };
}

/** What the VM's QEMU needs to reach its BMC (roles/vm-bmc.sh, which reports the same as its qemuArgs fact): a socket chardev and the KCS device. */
export function bmcQemuArgs(port: number): string[] {
  return ["-chardev", `socket,id=ixlbmc,host=127.0.0.1,port=${port},reconnect=5`, "-device", "ipmi-bmc-extern,id=ixlbmc0,chardev=ixlbmc", "-device", "isa-ipmi-kcs,bmc=ixlbmc0"];
}

export function planLab(lab: Lab): LabPlan {
  const sim = lab.sim;
  const vm = sim?.hosts === "vm";
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
      if (!vm) simPlan = { ns, veth: ns, managementCidr: `${mgmt.address}/${mgmt.prefix}` };
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

  let vmPlan: VmLabPlan | undefined;
  if (sim && vm) {
    const ns = `${sim.prefix}-lab`;
    const mgmt = parseCidr(sim.managementNet)!;
    const bridge = offset(sim.managementNet, 1);
    // This machine's end of the uplink: the last address of the management network.
    const uplink = numberToIpv4(mgmt.network + 2 ** (32 - mgmt.prefix) - 2);
    vmPlan = {
      ns,
      bridge: "mgmt",
      bridgeCidr: `${bridge.address}/${bridge.prefix}`,
      uplink: `${sim.prefix}up`,
      uplinkCidr: `${uplink}/${mgmt.prefix}`,
      repoListen: `${bridge.address}:${VM_REPO_PORT}`,
      bootTimeoutSeconds: parseDuration(sim.vm?.bootTimeout ?? "10m") ?? 600,
      imagePackages: sim.vm?.packages ?? [],
      wires: links.map((l) => ({ link: l.name, bridge: `w-${l.name}`, taps: [`d-${l.a.host}-${wireIndex(links, l, l.a.host)}`, `d-${l.b.host}-${wireIndex(links, l, l.b.host)}`], mtu: l.mtu })),
    };
    for (const [i, h] of hosts.entries()) {
      const spec = lab.hosts[i];
      const mine = links.filter((l) => l.a.host === h.name || l.b.host === h.name);
      h.vm = {
        managementCidr: `${h.ssh.address}/${mgmt.prefix}`,
        tap: `m-${h.name}`,
        mac: vmMac(ns, h.name, "mgmt0"),
        nics: mine.map((l) => {
          const name = l.a.host === h.name ? l.a.nic : l.b.nic;
          return { name, mac: vmMac(ns, h.name, name), tap: `d-${h.name}-${wireIndex(links, l, h.name)}`, mtu: l.mtu };
        }),
        bmc: vmBmc(mgmt, i),
        cpus: spec.vm?.cpus ?? sim.vm?.cpus ?? 1,
        memoryMiB: Math.round((parseSize(spec.vm?.memory ?? sim.vm?.memory ?? "1024M") ?? 1024 * 1024 * 1024) / (1024 * 1024)),
      };
    }
  }

  const peerHost = hosts.find((h) => h.role === "peer" && h.nic?.address);
  return {
    hosts,
    links,
    vm: vmPlan,
    sim: sim && !vm ? { bridge: `${sim.prefix}br`, bridgeCidr: `${offset(sim.managementNet, 1).address}/${parseCidr(sim.managementNet)!.prefix}` } : undefined,
    peer: peerHost ? { host: peerHost.name, address: peerHost.nic!.address!.split("/")[0], port: NETSERVER_PORT } : undefined,
  };
}

/** Which of HOST's wires LINK is (0, 1, ...), in lab order: its tap's number. */
function wireIndex(links: LinkPlan[], link: LinkPlan, host: string): number {
  return links.filter((l) => l.a.host === host || l.b.host === host).indexOf(link);
}
