// The one dynamic provider's dispatch (src/remote/providers.ts): every kind of ixlab dynamic resource,
// as its inputs or as its state from an older stack, reaches its own behaviour.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, diff, kindOf, read } from "../../src/remote/providers";

const target = { kind: "ssh", host: "dut", address: "198.18.9.10", port: 22, user: "root" };

describe("dynamic provider dispatch", () => {
  it("tells each kind by its properties", () => {
    assert.equal(kindOf({ title: "t", role: "netserver", target, args: [], live: true, deletes: true }), "role");
    assert.equal(kindOf({ comment: "ixlab-sim", publicKey: "k", privateKey: "p", __provider: "x" }), "keyPair");
    assert.equal(kindOf({ target, privateKey: "p", triggers: [], hostKey: "h" }), "pin");
    assert.equal(kindOf({ title: "t", target, key: "k", release: "r", image: "i", imageSha256: "ab" }), "kernelPackages");
    assert.equal(kindOf({ title: "t", target, release: "r", packages: [], packagesSha256: [] }), "kernelInstall");
    assert.equal(kindOf({ passwordFor: "BMC of vmlab host dut", password: "p", __provider: "x" }), "password");
    assert.throws(() => kindOf({ foo: 1 }), /cannot tell what resource these properties belong to \(foo\)/);
  });

  it("routes diff and read to the kind's behaviour", async () => {
    assert.deepEqual(await diff({ comment: "a" }, { comment: "b" }), { changes: true, replaces: ["comment"] });
    assert.deepEqual(await diff({ comment: "a" }, { comment: "a" }), { changes: false });
    const role = { title: "t", role: "netserver", target, args: ["--port", "1"], live: false, deletes: true, healthy: true };
    assert.deepEqual(await diff(role, { ...role, args: ["--port", "2"] }), { changes: true, replaces: ["args"], deleteBeforeReplace: true });
    // Kinds without a read (the key pair, the pin) keep their state as it is; state that is not live asks nothing.
    assert.deepEqual(await read("pin:dut", { target, privateKey: "p", hostKey: "h" }), { id: "pin:dut", props: { target, privateKey: "p", hostKey: "h" } });
    assert.deepEqual(await read("id", role), { id: "id", props: role });
  });
});

describe("generated passwords (a VM lab host's BMC)", () => {
  it("are 16 random characters that need no quoting, new each time; only their purpose is an input", async () => {
    const made = await Promise.all([1, 2, 3].map(() => create({ passwordFor: "BMC of t host dut" })));
    for (const m of made) {
      assert.match(m.outs.password, /^[A-Za-z0-9_-]{16}$/);
      assert.equal(m.id, "password:BMC of t host dut");
    }
    assert.equal(new Set(made.map((m) => m.outs.password)).size, 3);
    assert.deepEqual(await diff(made[0].outs, { passwordFor: "BMC of t host dut" }), { changes: false });
    assert.deepEqual(await diff(made[0].outs, { passwordFor: "BMC of t host peer" }), { changes: true, replaces: ["passwordFor"] });
  });
});

describe("RoleRun resource types", () => {
  it("every role a component declares as a RoleRun has a resource type (a missing one fails only at pulumi up)", () => {
    /* eslint-disable @typescript-eslint/no-var-requires */
    const fs = require("node:fs") as typeof import("node:fs");
    const path = require("node:path") as typeof import("node:path");
    const { ROOT } = require("../helpers") as typeof import("../helpers");
    const { ROLE_TYPES } = require("../../infra/resources/dynamic") as typeof import("../../infra/resources/dynamic");
    const used = new Set<string>();
    for (const f of fs.readdirSync(path.join(ROOT, "infra")).filter((n) => n.endsWith(".ts"))) {
      const text = fs.readFileSync(path.join(ROOT, "infra", f), "utf8");
      // The first role: of each `new RoleRun(` call.
      for (const m of text.matchAll(/new RoleRun\([^]*?\brole: "([a-z-]+)"/g)) used.add(m[1]);
    }
    assert.ok(used.has("vm-host") && used.has("guest"), [...used].join(" "));
    assert.deepEqual([...used].filter((r) => !ROLE_TYPES[r]), []);
  });
});

describe("the provider's code as Pulumi stores it", () => {
  it("loads the way Pulumi's dynamic-provider process loads it, and dispatches to src/remote", async () => {
    /* eslint-disable @typescript-eslint/no-var-requires */
    const requireFromString = require("require-from-string") as (code: string) => { handler: () => Record<string, (...a: unknown[]) => Promise<unknown>> };
    const { PROVIDER_MODULE } = require("../../infra/resources/dynamic") as typeof import("../../infra/resources/dynamic");
    const { ROOT } = require("../helpers") as typeof import("../helpers");
    const cwd = process.cwd();
    process.chdir(require("node:path").join(ROOT, "infra")); // where the provider process starts
    try {
      const provider = requireFromString(PROVIDER_MODULE).handler();
      assert.deepEqual(Object.keys(provider).sort(), ["create", "delete", "diff", "read", "update"]);
      // A state that is not live is read back as it is, without reaching any host.
      const props = { title: "t", role: "netserver", target: { kind: "local" }, args: [], live: false, deletes: true, healthy: true };
      assert.deepEqual(await provider.read("id1", props), { id: "id1", props });
      assert.deepEqual(await provider.diff("id1", props, { ...props }), { changes: false });
      assert.deepEqual(await provider.diff("id1", { comment: "a" }, { comment: "b" }), { changes: true, replaces: ["comment"] });
    } finally {
      process.chdir(cwd);
    }
  });
});
