// The VM lab for real, on its own stack (t-vmfab-lab: prefix ixvt, management 198.18.21.0/24, data
// 198.19.21.0/24): `pulumi up` from nothing (the host image built once and cached, the lab's namespace,
// its Debian repository, the wire, two QEMU VMs booted through GRUB, each with an emulated IPMI BMC),
// then every host step over SSH on the real-host path: the hosts are Debian VMs with their own kernel,
// GRUB_DEFAULT=saved, packages installed by apt from the lab's repository, the data NICs on the wire
// with scatter-gather, netperf across it; each BMC answers ipmitool behind a password kept as a secret;
// a no-op up; a VM whose QEMU died is restarted by the next up, its BMC following; destroy leaves
// nothing (VMs, BMCs, taps, bridges, overlays, processes, mounts, loop devices) and keeps the image.
// Without a guest (IXLAB_VM_GUEST=1 adds the lab's nested guest). Run by `npm run test:vm`; minutes
// under TCG.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { capturePulumi, ensureStack } from "../../src/pulumi/cli";
import { cacheDir } from "../../src/paths";
import { ROOT, vmTestStack } from "../helpers";
import { vmLeftovers } from "../leftovers";

const STACK = "t-vmfab-lab";
const PREFIX = "ixvt";
const N = 21;
const VM_CACHE = path.join(cacheDir(), "vm");
const GUEST = process.env.IXLAB_VM_GUEST === "1";

function ssh(host: string, command: string, timeout = 120_000) {
  const r = spawnSync("bin/ixlab", ["ssh", "--stack", STACK, host, "--", command], { cwd: ROOT, encoding: "utf8", timeout });
  assert.equal(r.status, 0, `${host}: ${command}\n${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

// Two VMs booting under TCG and apt in them take about 10 minutes: more than `npm test` can spend on a
// new machine (see README, "The VM lab"); `npm run test:vm` runs it.
const skip = process.env.IXLAB_VM_TESTS === "1" ? false : "the VM lab's full test runs with `npm run test:vm` (about 10 min under TCG)";
describe("VM lab: up from nothing, real-host paths on VMs, no-op up, a dead VM restarted, destroy", { timeout: 90 * 60_000, skip }, () => {
  if (!skip) vmTestStack(STACK, PREFIX, N, { guest: GUEST });
  const pulumi = (...args: string[]) => capturePulumi([...args, "--stack", STACK, "--non-interactive"]);
  const timings: Record<string, number> = {};
  const timed = (label: string, ...args: string[]) => {
    const start = Date.now();
    const r = pulumi(...args);
    timings[label] = Math.round((Date.now() - start) / 100) / 10;
    return r;
  };

  before(() => {
    assert.doesNotMatch(spawnSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" }).stdout, /198\.18\.21\./, "198.18.21.0/24 is in use already; another run?");
    ensureStack(STACK);
    pulumi("destroy", "--yes");
  });
  after(() => {
    if (process.env.IXLAB_VM_KEEP !== "1") {
      pulumi("destroy", "--yes");
      capturePulumi(["stack", "rm", "--yes", "--force", "--stack", STACK]);
      fs.rmSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), { force: true });
    }
    console.log(`VM lab timings (s): ${JSON.stringify(timings)}`);
  });

  it("comes up from nothing: image (cached after the first), namespace, repository, wire, two VMs, hosts", () => {
    const r = timed("up", "up", "--yes", "--skip-preview");
    assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-6000));
  });

  let topology: any;
  it("outputs a topology of VM hosts: pinned host keys, QEMU, console logs, boot times", () => {
    const r = pulumi("stack", "output", "topology", "--json");
    assert.equal(r.status, 0, r.stderr);
    topology = JSON.parse(r.stdout);
    assert.equal(topology.simHosts, "vm");
    assert.deepEqual(topology.hosts.map((h: any) => h.name), ["dut", "peer"]);
    for (const h of topology.hosts) {
      assert.match(h.management.hostKey, /^ssh-ed25519 /);
      assert.match(h.management.address, /^198\.18\.21\.1[01]$/);
      assert.equal(h.sim, undefined, "no sim namespace: reached like a real host");
      assert.equal(h.vm.namespace, `${PREFIX}-lab`);
      assert.ok(Number.isInteger(h.vm.qemuPid) && fs.existsSync(`/proc/${h.vm.qemuPid}`), `QEMU of ${h.name} runs`);
      assert.ok(fs.statSync(h.vm.console).size > 0, "the serial console log is kept");
      assert.ok(fs.existsSync(h.vm.qmp), "the QMP socket (the VM's power button) is there");
      assert.match(h.vm.accel, /^(tcg|kvm)$/);
      timings[`bootToSsh_${h.name}`] = h.vm.bootSeconds;
    }
    assert.ok(!JSON.stringify(topology).includes("PRIVATE KEY"), "the topology holds no private key");
  });

  it("each host is a Debian 12 VM with its own kernel, booted by GRUB with GRUB_DEFAULT=saved", () => {
    for (const h of ["dut", "peer"]) {
      const out = ssh(h, "uname -r; cat /proc/cmdline; cat /etc/debian_version; readlink /proc/1/exe; grep ^GRUB_DEFAULT= /etc/default/grub; grep -c next_entry /boot/grub/grub.cfg; hostname");
      const [release, cmdline, debian, init, grubDefault, nextEntry, hostname] = out.split("\n");
      assert.notEqual(release, spawnSync("uname", ["-r"], { encoding: "utf8" }).stdout.trim(), "not this machine's kernel");
      assert.match(cmdline, /^BOOT_IMAGE=\/boot\/vmlinuz-/, "booted through GRUB");
      assert.match(debian, /^12\./);
      assert.equal(init, "/usr/lib/systemd/systemd", "readlink works (with -cpu max under TCG it returned garbage)");
      assert.equal(grubDefault, "GRUB_DEFAULT=saved");
      assert.ok(Number(nextEntry) > 0, "grub.cfg supports the one-shot boot (next_entry)");
      assert.equal(hostname, h);
    }
  });

  it("installed the lab's packages through apt, from the lab's repository on the management network", () => {
    const sources = ssh("peer", "cat /etc/apt/sources.list");
    assert.match(sources, new RegExp(`^deb \\[trusted=yes\\] http://198\\.18\\.${N}\\.1:8080/ \\./$`, "m"));
    const policy = ssh("peer", "apt-cache policy netperf");
    assert.match(policy, /Installed: 2\./);
    assert.match(policy, new RegExp(`http://198\\.18\\.${N}\\.1:8080 \\./ Packages`));
    assert.match(ssh("peer", "grep -c 'apt-get install' /var/log/apt/history.log || true"), /^[1-9]/, "apt-get installed something");
  });

  it("wires the data NICs with the link's MTU and scatter-gather, and netperf crosses the wire", () => {
    for (const h of topology.hosts) {
      const out = ssh(h.name, `ip -4 -o addr show dev eth1; cat /sys/class/net/eth1/mtu; ethtool -k eth1 | grep -E '^(scatter-gather|tcp-segmentation-offload):'`);
      assert.match(out, new RegExp(` ${h.data.address.replace(/\./g, "\\.")} `));
      assert.match(out, /^1500$/m);
      assert.match(out, /^scatter-gather: on/m, "the tap gives the VM's NIC scatter-gather (zero-copy needs it)");
    }
    const peer = topology.peer;
    const r = ssh("dut", `netperf -H ${peer.address} -p ${peer.port} -t TCP_STREAM -l 3 -- -m 16384`, 120_000);
    const row = r.split("\n").pop()!.trim().split(/\s+/).map(Number);
    assert.ok(row.length >= 5 && row[4] > 0, `no throughput in: ${r}`);
    console.log(`VM lab wire TCP_STREAM dut -> peer: ${row[4]} Mb/s (TCG, 3 s)`);
  });

  // Each VM's BMC, as a kernel install that hangs would use it: ipmitool over the management network
  // with the stack's generated password, which the state holds only encrypted.
  const bmcPassword = (host: string): string => {
    const state = JSON.parse(pulumi("stack", "export", "--show-secrets").stdout).deployment;
    const r = state.resources.find((x: any) => x.type === "pulumi-nodejs:dynamic/ixlab:BmcPassword" && x.urn.endsWith(`::vm-bmc-password-${host}`));
    // An exported secret: Pulumi's secret signature with the value as JSON text.
    const secret = r?.outputs?.password;
    assert.ok(typeof secret?.plaintext === "string", `no BMC password for ${host} in the state: ${JSON.stringify(Object.keys(r?.outputs ?? {}))}`);
    return JSON.parse(secret.plaintext);
  };
  const powerStatus = (address: string, password: string) =>
    spawnSync("ipmitool", ["-I", "lanplus", "-H", address, "-U", "admin", "-E", "chassis", "power", "status"], { encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH, IPMI_PASSWORD: password } });
  const BMC = { dut: `198.18.${N}.253`, peer: `198.18.${N}.252` };

  it("gives each VM an emulated IPMI BMC on the management network, behind a password that is a secret", () => {
    const raw = pulumi("stack", "export").stdout;
    for (const [host, address] of Object.entries(BMC)) {
      const password = bmcPassword(host);
      assert.match(password, /^[A-Za-z0-9_-]{16}$/);
      assert.ok(!raw.includes(password), `${host}'s BMC password is in the state in plain text`);
      const on = powerStatus(address, password);
      assert.equal(on.status, 0, on.stdout + on.stderr);
      assert.match(on.stdout, /^Chassis Power is on$/m);
      const wrong = powerStatus(address, "not-the-password");
      assert.notEqual(wrong.status, 0, "a wrong password is refused");
    }
  });

  it("reports no changes on a second up", () => {
    const r = timed("noopUp", "up", "--yes", "--skip-preview", "--expect-no-changes");
    assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-4000));
  });

  it("restarts a VM whose QEMU died: the refresh sees it, the next up boots it again", () => {
    const peer = topology.hosts.find((h: any) => h.name === "peer");
    process.kill(peer.vm.qemuPid, "SIGKILL");
    const r = timed("upAfterKill", "up", "--yes", "--skip-preview");
    assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-4000));
    assert.match(r.stdout, /vm-host-peer/);
    assert.match(r.stdout, /vm-bmc-peer/, "its BMC, whose power (the old QEMU) went off, is repaired too");
    const t = JSON.parse(pulumi("stack", "output", "topology", "--json").stdout);
    const again = t.hosts.find((h: any) => h.name === "peer");
    assert.notEqual(again.vm.qemuPid, peer.vm.qemuPid);
    assert.ok(fs.existsSync(`/proc/${again.vm.qemuPid}`));
    assert.equal(again.management.hostKey, peer.management.hostKey, "the same VM (overlay and host key kept)");
    assert.equal(ssh("peer", "hostname"), "peer");
    // The BMC follows the new QEMU (its power), and the lab is whole again.
    const on = powerStatus(BMC.peer, bmcPassword("peer"));
    assert.match(on.stdout, /^Chassis Power is on$/m, on.stdout + on.stderr);
    const noop = pulumi("up", "--yes", "--skip-preview", "--expect-no-changes");
    assert.equal(noop.status, 0, (noop.stdout + noop.stderr).slice(-4000));
  });

  it("destroys everything but the cached image: nothing left", () => {
    const r = timed("destroy", "destroy", "--yes");
    assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-4000));
    assert.deepEqual(vmLeftovers(PREFIX, VM_CACHE), []);
    const images = fs.readdirSync(path.join(VM_CACHE, "images")).filter((d) => fs.existsSync(path.join(VM_CACHE, "images", d, "disk.qcow2")));
    assert.ok(images.length > 0, "the image stays in the cache");
  });
});
