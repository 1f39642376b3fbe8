// The dynamic provider behind every RoleRun (src/remote/roleProvider.ts), against a fake role
// runner: what create, read, diff and delete ask of the host and what they make of its answers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RoleRunner, RoleRunOutputs, RoleRunProps, diff, roleRunProvider } from "../../src/remote/roleProvider";
import { CHECK_WRONG, RoleResult, SSH_FAILED, Target } from "../../src/remote/roles";

const target: Target = { kind: "ssh", host: "peer", address: "198.18.9.11", port: 22, user: "root", simNs: "ixu-peer" };
const props: RoleRunProps = {
  title: "netserver on host peer", role: "netserver", target, args: ["--address", "198.19.9.2", "--port", "12865"],
  live: true, deletes: true, privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----fake", hostKey: "ssh-ed25519 AAAApin",
};

/** Answers each role action with the given result and records the calls. */
function fake(answers: Record<string, Partial<RoleResult>>, namespaceGone = false) {
  const calls: { role: string; action: string; args: string[]; hostKey?: string; env?: Record<string, string> }[] = [];
  const runner: RoleRunner = {
    async runRole(_t, creds, role, action, args, env) {
      calls.push({ role, action, args, hostKey: creds?.hostKey, ...(env ? { env } : {}) });
      return { code: 0, stdout: "", stderr: "", changed: 0, ...answers[action] };
    },
    simNamespaceGone: () => namespaceGone,
  };
  return { provider: roleRunProvider(runner, { sshRetryDelayMs: 0 }), calls };
}

const outs = (o: Partial<RoleRunOutputs> = {}): RoleRunOutputs => ({ ...props, healthy: true, ...o });

describe("role provider: create", () => {
  it("runs the role's create with the pinned host key and keeps its facts", async () => {
    const { provider, calls } = fake({ create: { facts: { pid: 42 } } });
    const r = await provider.create(props);
    assert.deepEqual(calls, [{ role: "netserver", action: "create", args: props.args, hostKey: "ssh-ed25519 AAAApin" }]);
    assert.match(r.id, /^peer:netserver:/);
    assert.deepEqual([r.outs.facts, r.outs.healthy], [{ pid: 42 }, true]);
  });

  it("fails naming the host, the role and the reason", async () => {
    const { provider } = fake({ create: { code: 1, stderr: "netserver: error: port 12865 in use" } });
    await assert.rejects(provider.create(props), /^Error: netserver on host peer: host peer \(root@198\.18\.9\.11:22\): role netserver create failed \(exit 1\): netserver: error: port 12865 in use$/);
  });

  it("says a changed host key is refused, not just that SSH failed", async () => {
    const { provider } = fake({ create: { code: SSH_FAILED, stderr: "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@" } });
    await assert.rejects(provider.create(props), /host peer \(root@198\.18\.9\.11:22\): SSH host key does not match the key pinned at first contact/);
  });
});

describe("role provider: read", () => {
  it("a healthy check keeps the resource healthy", async () => {
    const { provider, calls } = fake({ check: { code: 0 } });
    assert.equal((await provider.read("id", outs())).props.healthy, true);
    assert.deepEqual(calls.map((c) => c.action), ["check"]);
  });

  it("a check that finds the state wrong, or a host that does not answer, marks it unhealthy", async () => {
    for (const code of [CHECK_WRONG, SSH_FAILED]) {
      const { provider } = fake({ check: { code, stderr: "netserver is not running" } });
      assert.equal((await provider.read("id", outs())).props.healthy, false, `exit ${code}`);
    }
  });

  it("a check whose SSH connection failed is tried once more: a dropped connection is not a change", async () => {
    const codes = [SSH_FAILED, 0];
    const calls: string[] = [];
    const runner: RoleRunner = {
      async runRole(_t, _c, _role, action) {
        calls.push(action);
        return { code: codes.shift() ?? 0, stdout: "", stderr: "Connection timed out during banner exchange", changed: 0 };
      },
      simNamespaceGone: () => false,
    };
    assert.equal((await roleRunProvider(runner, { sshRetryDelayMs: 0 }).read("id", outs())).props.healthy, true);
    assert.deepEqual(calls, ["check", "check"]);
    const { provider, calls: twice } = fake({ check: { code: SSH_FAILED, stderr: "ssh: connect to host 198.18.9.11 port 22: No route to host" } });
    assert.equal((await provider.read("id", outs())).props.healthy, false, "a host that does not answer twice is unhealthy");
    assert.deepEqual(twice.map((c) => c.action), ["check", "check"]);
  });

  it("a check that breaks (bad flags, a bug) fails the read, naming the host", async () => {
    const { provider } = fake({ check: { code: 2, stderr: "netserver: error: unknown flag '--prot'" } });
    await assert.rejects(provider.read("id", outs()), /host peer .*role netserver check failed \(exit 2\)/);
  });

  it("asks nothing of the host for state that is not live", async () => {
    const { provider, calls } = fake({});
    assert.equal((await provider.read("id", outs({ live: false }))).props.healthy, true);
    assert.deepEqual(calls, []);
  });
});

describe("role provider: diff", () => {
  it("nothing changed and healthy: no changes", async () => assert.deepEqual(await diff(outs(), props), { changes: false }));

  it("unhealthy live state is a change (the up converges it), with no replace", async () => {
    assert.deepEqual(await diff(outs({ healthy: false }), props), { changes: true });
  });

  it("another role, target, flag set or trigger replaces, deleting the old one first", async () => {
    assert.deepEqual(await diff(outs(), { ...props, args: ["--address", "198.19.9.3", "--port", "12865"] }), { changes: true, replaces: ["args"], deleteBeforeReplace: true });
    assert.deepEqual((await diff(outs(), { ...props, triggers: ["zcopytx=1"] })).replaces, ["triggers"]);
    assert.deepEqual((await diff(outs(), { ...props, target: { ...target, port: 2222 } })).replaces, ["target"]);
  });

  it("a renewed host key pin or a new title updates in place (the old pin could not delete it)", async () => {
    assert.deepEqual(await diff(outs(), { ...props, hostKey: "ssh-ed25519 AAAAnewpin" }), { changes: true });
    assert.deepEqual(await diff(outs(), { ...props, title: "netserver on the peer" }), { changes: true });
  });

  it("a new secret environment (a BMC's new password) updates in place: the same BMC, told its new password", async () => {
    const bmc = { ...props, target: { kind: "local" } as Target, secretEnv: { IXLAB_BMC_PASSWORD: "old-pw" } };
    assert.deepEqual(await diff(outs(bmc), { ...bmc, secretEnv: { IXLAB_BMC_PASSWORD: "new-pw" } }), { changes: true });
    assert.deepEqual(await diff(outs(bmc), bmc), { changes: false });
  });

  it("with identity flags, only their values decide (a kernel build recorded with older flag spellings)", async () => {
    const build = { ...props, target: { kind: "local" } as Target, identityFlags: ["--key", "--out"] };
    const old = outs({ ...build, args: ["--key", "ab12", "--out", "o/ab12", "--patches", "p/1 p/2"] });
    assert.deepEqual(await diff(old, { ...build, args: ["--key", "ab12", "--out", "o/ab12", "--patch", "p/1", "--patch", "p/2"] }), { changes: false });
    assert.deepEqual((await diff(old, { ...build, args: ["--key", "cd34", "--out", "o/cd34", "--patch", "p/1"] })).replaces, ["args"]);
  });
});

describe("role provider: update and delete", () => {
  it("update runs create again with the new inputs", async () => {
    const { provider, calls } = fake({ create: { facts: { pid: 43 } } });
    const r = await provider.update(outs(), { ...props, hostKey: "ssh-ed25519 AAAAnewpin" });
    assert.deepEqual(calls, [{ role: "netserver", action: "create", args: props.args, hostKey: "ssh-ed25519 AAAAnewpin" }]);
    assert.deepEqual(r.outs.facts, { pid: 43 });
  });

  it("the secret environment reaches every action of the role (create, check, delete), never its flags", async () => {
    const secretEnv = { IXLAB_BMC_PASSWORD: "s3cret-pw" };
    const bmc = { ...props, target: { kind: "local" } as Target, secretEnv };
    const { provider, calls } = fake({});
    await provider.create(bmc);
    await provider.read("id", outs(bmc));
    await provider.remove(outs(bmc));
    assert.deepEqual(calls.map((c) => [c.action, c.env]), [["create", secretEnv], ["check", secretEnv], ["delete", secretEnv]]);
    assert.ok(calls.every((c) => !c.args.join(" ").includes("s3cret")));
  });

  it("delete runs the role's delete; nothing for a resource that has nothing to undo", async () => {
    const { provider, calls } = fake({});
    await provider.remove(outs());
    await provider.remove(outs({ deletes: false }));
    assert.deepEqual(calls.map((c) => c.action), ["delete"]);
  });

  it("deleting on a sim host that is already gone succeeds: everything inside went with it", async () => {
    const { provider } = fake({ delete: { code: SSH_FAILED, stderr: "ssh: connect to host 198.18.9.11 port 22: No route to host" } }, true);
    await provider.remove(outs());
  });

  it("deleting on a host that is there but does not answer fails, naming it", async () => {
    const { provider } = fake({ delete: { code: SSH_FAILED, stderr: "ssh: connect to host 198.18.9.11 port 22: Connection timed out" } }, false);
    await assert.rejects(provider.remove(outs()), /netserver on host peer: host peer \(root@198\.18\.9\.11:22\): cannot connect over SSH: ssh: connect to host 198\.18\.9\.11 port 22: Connection timed out/);
  });
});
