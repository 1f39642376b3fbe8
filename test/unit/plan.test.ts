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
});
