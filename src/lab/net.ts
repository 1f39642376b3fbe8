// Address parsing for lab files. IPv4 is what labs use for data paths; IPv6 and DNS names are
// accepted for management addresses.
import { isIP } from "node:net";

export interface Cidr {
  address: string;
  prefix: number;
  /** Network address as a 32-bit unsigned number (IPv4 only). */
  network: number;
}

export function ipv4ToNumber(address: string): number | undefined {
  if (isIP(address) !== 4) return undefined;
  return address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** Parses "198.19.0.1/24"; undefined when it is not an IPv4 address with a prefix length. */
export function parseCidr(text: string): Cidr | undefined {
  // Not trimmed: the text goes to `ip addr add` as written.
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  if (!m) return undefined;
  const n = ipv4ToNumber(m[1]);
  const prefix = Number(m[2]);
  if (n === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  return { address: m[1], prefix, network: n - (n % size) };
}

export function cidrContains(outer: Cidr, address: string): boolean {
  const n = ipv4ToNumber(address);
  if (n === undefined) return false;
  const size = 2 ** (32 - outer.prefix);
  return n >= outer.network && n < outer.network + size;
}

/** Whether one CIDR lies wholly inside another. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, numberToIpv4(inner.network));
}

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A management address: an IP address or a DNS name. */
export function isHostAddress(text: string): boolean {
  if (isIP(text) !== 0) return true;
  // A dotted string of digits that is not a valid IP (e.g. 10.0.0.300) is a typo, not a name.
  if (/^[0-9.]+$/.test(text)) return false;
  return HOSTNAME.test(text);
}

/** The benchmark range RFC 2544 sets aside; the only addresses the sim and tests may use. */
export const BENCHMARK_RANGE = parseCidr("198.18.0.0/15") as Cidr;

/** Whether two networks share any address (one lies inside the other, for CIDRs). */
export function cidrOverlap(a: Cidr, b: Cidr): boolean {
  return cidrWithin(a, b) || cidrWithin(b, a);
}

/** The host part of an address in its network: 0 is the network address, all ones the broadcast. */
export function hostPart(c: Cidr): { value: number; max: number } {
  return { value: (ipv4ToNumber(c.address) as number) - c.network, max: 2 ** (32 - c.prefix) - 1 };
}

/** A MAC whose first byte has the group bit set (multicast, broadcast): never a NIC's own address. */
export function isMulticastMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}
