import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadLabFile } from "../../src/lab/load";
import { planLab } from "../../src/lab/plan";
import { validateLab } from "../../src/lab/validate";
import { ROOT } from "../helpers";

function lab(stack: string) {
  const r = validateLab(loadLabFile(`${ROOT}/Pulumi.${stack}.yaml`).raw, { baseDir: ROOT });
  assert.ok(r.ok);
  return r.lab;
}

describe("planLab", () => {
  it("names sim namespaces and interfaces after the prefix and host", () => {
    const p = planLab(lab("sim"));
    assert.deepEqual(p.sim, { bridge: "ixlbr", bridgeCidr: "198.18.0.1/24" });
    assert.deepEqual(p.hosts.map((h) => h.sim), [
      { ns: "ixl-dut", veth: "ixl-dut", managementCidr: "198.18.0.10/24" },
      { ns: "ixl-peer", veth: "ixl-peer", managementCidr: "198.18.0.11/24" },
    ]);
    assert.deepEqual(p.hosts.map((h) => h.ssh), [
      { address: "198.18.0.10", port: 22, user: "root" },
      { address: "198.18.0.11", port: 22, user: "root" },
    ]);
  });

  it("keeps given data addresses and takes the link MTU", () => {
    const p = planLab(lab("sim"));
    assert.deepEqual(p.hosts[1].nic, { name: "eth1", address: "198.19.0.2/24", mtu: 1500 });
    assert.deepEqual(p.links, [{ name: "wire", a: { host: "dut", nic: "eth1" }, b: { host: "peer", nic: "eth1" }, mtu: 1500, speedMbps: 10000 }]);
    assert.deepEqual(p.peer, { host: "peer", address: "198.19.0.2", port: 12865 });
  });

  it("assigns sim data addresses when the lab gives none, all inside the benchmark range", () => {
    const r = validateLab({ name: "s", sim: {}, hosts: [{ name: "a", role: "dut" }, { name: "b", role: "peer" }], links: [{ a: { host: "a" }, b: { host: "b" } }] });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const p = planLab(r.lab);
    assert.deepEqual(p.hosts.map((h) => h.nic?.address), ["198.19.0.1/24", "198.19.0.2/24"]);
    assert.equal(p.links[0].name, "link0");
  });

  it("uses real management addresses as written", () => {
    const p = planLab(lab("example-lab"));
    assert.equal(p.sim, undefined);
    assert.deepEqual(p.hosts[0].ssh, { address: "192.0.2.10", port: 22, user: "root" });
    assert.equal(p.hosts[0].nic?.name, "0000:03:00.0");
    assert.equal(p.hosts[0].sim, undefined);
  });

  it("a VM lab host's bmc is refused: the VM lab gives each VM an emulated BMC of its own", () => {
    const raw = loadLabFile(`${ROOT}/Pulumi.vmlab.yaml`).raw as { hosts: Record<string, unknown>[] };
    raw.hosts[0].bmc = { type: "ipmi", address: "198.18.20.210", user: "admin", password: { env: "IXLAB_NO_SUCH" } };
    const r = validateLab(raw, { baseDir: ROOT });
    assert.ok(!r.ok);
    assert.deepEqual(r.problems.map((p) => p.path), [["hosts", 0, "bmc"]]);
    assert.match(r.problems[0].message, /^a VM lab host gets its BMC from the lab \(an emulated IPMI BMC, roles\/vm-bmc\.sh\); remove bmc$/);
  });

  it("a VM lab host's BMC: an address counted down below the uplink, a serial port per host, the admin user", () => {
    const p = planLab(lab("vmlab"));
    assert.deepEqual(p.hosts.map((h) => h.vm!.bmc), [
      { address: "198.18.20.253", vmPort: 9100, user: "admin" },
      { address: "198.18.20.252", vmPort: 9101, user: "admin" },
    ]);
    assert.equal(p.vm!.uplinkCidr, "198.18.20.254/24");
  });

  it("a VM lab refuses a host address its BMCs or uplink own, and a management network too small for both", () => {
    const raw = () => loadLabFile(`${ROOT}/Pulumi.vmlab.yaml`).raw as { sim: Record<string, unknown>; hosts: Record<string, unknown>[] };
    let bad = raw();
    bad.hosts[1].address = "198.18.20.253";
    let r = validateLab(bad, { baseDir: ROOT });
    assert.ok(!r.ok);
    assert.deepEqual(r.problems.map((p) => [p.path, p.message]), [[["hosts", 1, "address"], `"198.18.20.253" is already the address of the emulated BMC the VM lab gives lab.hosts[0]`]]);
    bad = raw();
    bad.hosts[0].address = "198.18.20.254";
    r = validateLab(bad, { baseDir: ROOT });
    assert.ok(!r.ok);
    assert.match(r.problems.map((p) => p.message).join("\n"), /"198\.18\.20\.254" is already the address of this machine's uplink into the VM lab/);
    bad = raw();
    bad.sim.managementNet = "198.18.20.0/28";
    bad.hosts.push({ ...bad.hosts[1], name: "peer2", nic: { name: "eth1", address: "198.19.20.3/24" } });
    r = validateLab(bad, { baseDir: ROOT });
    assert.ok(!r.ok);
    assert.ok(r.problems.some((p) => p.path.join(".") === "sim.managementNet" && /is too small for 3 VM hosts and their BMCs; use a larger network, like a \/24$/.test(p.message)), JSON.stringify(r.problems));
  });

  it("a VM lab: one namespace with the management bridge, a tap per NIC, stable MACs, no sim namespaces", () => {
    const p = planLab(lab("vmlab"));
    assert.equal(p.sim, undefined, "no netns sim bridge");
    assert.deepEqual({ ...p.vm, wires: undefined }, {
      ns: "ixv-lab", bridge: "mgmt", bridgeCidr: "198.18.20.1/24", uplink: "ixvup", uplinkCidr: "198.18.20.254/24",
      repoListen: "198.18.20.1:8080", bootTimeoutSeconds: 600, imagePackages: [], wires: undefined,
    });
    assert.deepEqual(p.vm!.wires, [{ link: "wire", bridge: "w-wire", taps: ["d-dut-0", "d-peer-0"], mtu: 1500 }]);
    assert.deepEqual(p.hosts.map((h) => h.sim), [undefined, undefined], "VM hosts are reached like real hosts: no sim namespace");
    const [dut, peer] = p.hosts.map((h) => h.vm!);
    assert.equal(dut.managementCidr, "198.18.20.10/24");
    assert.equal(peer.managementCidr, "198.18.20.11/24");
    assert.deepEqual([dut.cpus, dut.memoryMiB, peer.cpus, peer.memoryMiB], [2, 1536, 1, 1024], "hosts[].vm over sim.vm");
    assert.equal(dut.tap, "m-dut");
    assert.deepEqual(dut.nics.map((n) => [n.name, n.tap, n.mtu]), [["eth1", "d-dut-0", 1500]]);
    for (const mac of [dut.mac, peer.mac, dut.nics[0].mac, peer.nics[0].mac]) assert.match(mac, /^52:54:00(:[0-9a-f]{2}){3}$/);
    assert.equal(new Set([dut.mac, peer.mac, dut.nics[0].mac, peer.nics[0].mac]).size, 4, "every NIC has its own MAC");
    assert.deepEqual(planLab(lab("vmlab")).hosts.map((h) => h.vm!.mac), [dut.mac, peer.mac], "the same on every run");
  });
});
