// Guests as the components and the topology see them: names, MACs, addresses and ports derived once
// from the validated lab. How a guest runs (vhost, zero-copy) is the running variant's (variant.ts).
import { createHash } from "node:crypto";
import { Lab } from "./model";
import { parseCidr, numberToIpv4 } from "./net";
import { LabPlan } from "./plan";

/** Guest SSH ports on the host's management address: the first guest gets this one. */
export const GUEST_SSH_PORT_BASE = 2201;

export interface GuestPlan {
  name: string;
  host: string;
  vcpus: number;
  memoryMiB: number;
  kernel?: string;
  pin?: { vcpus?: number[]; vhost?: number };
  macvtap: { name: string; mode: "bridge" | "vepa" | "private" | "passthru"; mac: string };
  /** Data address with prefix length. */
  address: string;
  /** Where the guest's SSH port is forwarded to, on its host. */
  mgmt: { address: string; port: number };
}

/** A locally administered MAC (QEMU's 52:54:00 prefix) stable for this lab and guest. */
export function guestMac(lab: string, guest: string): string {
  const h = createHash("sha256").update(`${lab}/${guest}`).digest();
  return ["52", "54", "00", ...[0, 1, 2].map((i) => h[i].toString(16).padStart(2, "0"))].join(":");
}

export function planGuests(lab: Lab, plan: LabPlan): GuestPlan[] {
  const prefix = lab.sim?.prefix ?? "ixl";
  const hostIndex = new Map(plan.hosts.map((h) => [h.name, h]));
  return lab.guests.map((g, i) => {
    const host = hostIndex.get(g.host)!;
    let address = g.address;
    if (!address) {
      // Sim labs: guests after the hosts in sim.dataNet (validation refuses a real guest without one).
      const net = parseCidr(lab.sim!.dataNet)!;
      address = `${numberToIpv4(net.network + 10 + i)}/${net.prefix}`;
    }
    return {
      name: g.name,
      host: g.host,
      vcpus: g.vcpus,
      memoryMiB: lab.derived.guestMemoryMiB[g.name],
      kernel: g.kernel,
      pin: g.pin,
      macvtap: { name: `${prefix}-${g.name}`.slice(0, 15), mode: g.macvtap.mode, mac: g.macvtap.mac ?? guestMac(lab.name, g.name) },
      address,
      // QEMU forwards on an IPv4 address; a host known by name or IPv6 gets it on every address.
      mgmt: { address: /^[0-9.]+$/.test(host.ssh.address) ? host.ssh.address : "0.0.0.0", port: GUEST_SSH_PORT_BASE + i },
    };
  });
}
