// Guest planning: names, MACs, addresses and ports every component agrees on; the active variant.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { guestMac, planGuests } from "../../src/lab/guest";
import { resolveVariant } from "../../src/lab/variant";
import { loadLabFile } from "../../src/lab/load";
import { planLab } from "../../src/lab/plan";
import { validateLab } from "../../src/lab/validate";
import { ROOT } from "../helpers";

function simLab() {
  const r = validateLab(loadLabFile(`${ROOT}/Pulumi.sim.yaml`).raw, { baseDir: ROOT });
  assert.ok(r.ok);
  return r.lab;
}

describe("planGuests", () => {
  it("plans the sim guest: macvtap on the dut, an address after the hosts, SSH on the dut's management address", () => {
    const lab = simLab();
    const [g] = planGuests(lab, planLab(lab));
    assert.equal(g.name, "vm1");
    assert.equal(g.host, "dut");
    assert.equal(g.macvtap.name, "ixl-vm1");
    assert.equal(g.macvtap.mode, "bridge");
    assert.match(g.macvtap.mac, /^52:54:00(:[0-9a-f]{2}){3}$/);
    assert.equal(g.address, "198.19.0.10/24");
    assert.deepEqual(g.mgmt, { address: "198.18.0.10", port: 2201 });
    assert.equal(g.memoryMiB, 256);
  });

  it("derives a stable MAC per lab and guest, different across labs", () => {
    assert.equal(guestMac("sim", "vm1"), guestMac("sim", "vm1"));
    assert.notEqual(guestMac("sim", "vm1"), guestMac("sim", "vm2"));
    assert.notEqual(guestMac("sim", "vm1"), guestMac("other", "vm1"));
  });

  it("keeps a MAC the lab gives", () => {
    const lab = simLab();
    lab.guests[0].macvtap.mac = "52:54:00:aa:bb:cc";
    assert.equal(planGuests(lab, planLab(lab))[0].macvtap.mac, "52:54:00:aa:bb:cc");
  });
});

describe("resolveVariant: the one decision of what runs", () => {
  const withVariant = (v: Record<string, unknown>) => {
    const lab = simLab();
    lab.variants = [{ name: "v", vhost: true, qemuArgs: [], moduleParams: {}, ...v }];
    lab.derived.activeVariant = "v";
    return lab;
  };

  it("reads zero-copy from moduleParams or zeroCopy, and applies it as the module parameter", () => {
    assert.equal(resolveVariant(withVariant({}), undefined)?.zeroCopy, false);
    assert.deepEqual(resolveVariant(withVariant({}), undefined)?.verifyPaths, []);
    const one = resolveVariant(withVariant({ moduleParams: { vhost_net: { experimental_zcopytx: 1 } } }), undefined)!;
    assert.equal(one.zeroCopy, true);
    assert.deepEqual(one.moduleParams, { vhost_net: { experimental_zcopytx: 1 } });
    assert.deepEqual(one.verifyPaths, ["/sys/module/vhost_net/parameters/experimental_zcopytx"]);
    assert.equal(resolveVariant(withVariant({ moduleParams: { vhost_net: { experimental_zcopytx: "0" } } }), undefined)?.zeroCopy, false);
    const flag = resolveVariant(withVariant({ zeroCopy: true }), undefined)!;
    assert.equal(flag.zeroCopy, true);
    assert.deepEqual(flag.moduleParams, { vhost_net: { experimental_zcopytx: 1 } }, "zeroCopy: true is the module parameter");
  });

  it("runs the lab's own variant unless a name is asked for, says both, and refuses an unknown one", () => {
    const lab = simLab();
    const own = resolveVariant(lab, undefined)!;
    assert.deepEqual([own.name, own.defaultName], ["baseline", "baseline"]);
    const zc = resolveVariant(lab, "zerocopy")!;
    assert.deepEqual([zc.name, zc.defaultName, zc.zeroCopy], ["zerocopy", "baseline", true]);
    assert.throws(() => resolveVariant(lab, "nope"), /IXLAB_VARIANT: "nope" is not a variant in lab.variants \(known: baseline, zerocopy/);
  });
});
