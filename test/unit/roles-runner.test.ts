import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeFailure, parseRoleOutput, roleScript } from "../../src/remote/roles";
import { tuneFlags } from "../../infra/hostNetwork";

const target = { kind: "ssh" as const, host: "dut", address: "198.18.0.10", port: 22, user: "root" };

describe("role runner", () => {
  it("parses facts and the changed count from a role's stdout", () => {
    const out = parseRoleOutput('ok: a\nchanged: b\nfacts: {"kernelRelease":"6.1.0","kvm":false}\nsummary: changed=1\n');
    assert.deepEqual(out, { facts: { kernelRelease: "6.1.0", kvm: false }, changed: 1 });
    assert.deepEqual(parseRoleOutput("ok: x\nsummary: changed=0\n"), { facts: undefined, changed: 0 });
  });

  it("names the host and says so when its host key changed", () => {
    const msg = describeFailure(target, "netserver", "create", { code: 255, stdout: "", stderr: "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.", changed: 0 });
    assert.match(msg, /^host dut \(root@198\.18\.0\.10:22\): SSH host key does not match the key pinned at first contact/);
  });

  it("names the host when it cannot be reached", () => {
    const msg = describeFailure(target, "host-nic", "check", { code: 255, stdout: "", stderr: "ssh: connect to host 198.18.0.10 port 22: No route to host", changed: 0 });
    assert.equal(msg, "host dut (root@198.18.0.10:22): cannot connect over SSH: ssh: connect to host 198.18.0.10 port 22: No route to host");
  });

  it("quotes the role's own error for other failures", () => {
    const msg = describeFailure({ kind: "local" }, "sim-link", "create", { code: 1, stdout: "", stderr: "sim-link: error: ixl-dut:eth1 exists but its peer is not ixl-peer:eth1", changed: 0 });
    assert.match(msg, /^this machine: role sim-link create failed \(exit 1\): sim-link: error: ixl-dut:eth1 exists/);
  });

  it("sends lib.sh ahead of the role, so hosts need nothing installed", () => {
    const script = roleScript("netserver");
    assert.ok(script.indexOf("IXLAB_LIB_LOADED=1") < script.indexOf("netserver"));
  });

  it("turns lab tuning into host-tune flags", () => {
    const host = { name: "dut", role: "dut" as const, ssh: { user: "root", port: 22 }, require: [], packages: [], tuning: { offloads: { sg: true, tso: false }, rings: { rx: 4096 }, irqbalance: false, governor: "performance" } };
    assert.deepEqual(tuneFlags(host), ["--offload", "sg=on,tso=off", "--rings", "rx=4096", "--irqbalance", "off", "--governor", "performance"]);
    assert.deepEqual(tuneFlags({ ...host, tuning: { mtu: 9000 } }), []);
  });
});
