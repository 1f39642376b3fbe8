// What a sim lab leaves on this machine, by name prefix: namespaces, root-namespace interfaces,
// host directories under /run/ixlab, and processes running inside its namespaces.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

function lines(cmd: string, args: string[]): string[] {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n").filter(Boolean) : [];
}

/** Every process here with its command line (arguments joined by spaces). */
function processes(): [string, string][] {
  const out: [string, string][] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^[0-9]+$/.test(p))) {
    try {
      out.push([pid, fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ")]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function leftovers(prefix: string): string[] {
  const found: string[] = [];
  const namespaces = lines("ip", ["netns", "list"]).map((l) => l.split(" ")[0]).filter((n) => n.startsWith(`${prefix}-`));
  for (const ns of namespaces) {
    found.push(`namespace ${ns}`);
    for (const pid of lines("ip", ["netns", "pids", ns])) found.push(`process ${pid} in ${ns}`);
  }
  for (const l of lines("ip", ["-o", "link", "show"])) {
    const name = l.split(":")[1]?.trim().split("@")[0];
    if (name && (name.startsWith(`${prefix}-`) || name === `${prefix}br`)) found.push(`interface ${name}`);
  }
  if (fs.existsSync("/run/ixlab")) for (const d of fs.readdirSync("/run/ixlab")) if (d.startsWith(`${prefix}-`)) found.push(`directory /run/ixlab/${d}`);
  if (fs.existsSync(`/run/ixlab/claims/${prefix}`)) found.push(`claim /run/ixlab/claims/${prefix}`);
  // A process that outlived its namespace (a guest's QEMU) still names its host's state directory.
  for (const [pid, cmd] of processes()) if (cmd.includes(`/run/ixlab/${prefix}-`)) found.push(`process ${pid}: ${cmd.slice(0, 120)}`);
  return found;
}

/**
 * What a VM lab with this prefix leaves: its namespace and uplink, its VMs' QEMU processes, their
 * directories (overlays, seed disks, console logs), the repository server's run directory, and any
 * loop device or mount of ixlab's VM cache (the image build uses neither; this proves it).
 */
export function vmLeftovers(prefix: string, vmCache: string): string[] {
  const found: string[] = [];
  const ns = `${prefix}-lab`;
  if (lines("ip", ["netns", "list"]).some((l) => l.split(" ")[0] === ns)) found.push(`namespace ${ns}`);
  if (fs.existsSync(`/sys/class/net/${prefix}up`)) found.push(`interface ${prefix}up`);
  for (const [pid, cmd] of processes()) {
    if (cmd.includes(`ixlab-vm:${ns}:`) || cmd.includes(`/run/ixlab/vm/${ns}`) || cmd.includes(`${vmCache}/labs/${ns}`)) found.push(`process ${pid}: ${cmd.slice(0, 120)}`);
  }
  for (const d of [`${vmCache}/labs/${ns}`, `/run/ixlab/vm/${ns}`]) if (fs.existsSync(d)) found.push(`directory ${d}`);
  if (fs.existsSync(`/run/ixlab/claims/${prefix}`)) found.push(`claim /run/ixlab/claims/${prefix}`);
  for (const l of lines("losetup", ["-a"])) if (l.includes(vmCache)) found.push(`loop device ${l}`);
  for (const l of fs.readFileSync("/proc/self/mounts", "utf8").split("\n")) if (l.includes(vmCache)) found.push(`mount ${l}`);
  return found;
}
