// The real-host half of KernelInstall without a real host: the resource graph of a real lab whose
// active variant names a host kernel, under Pulumi's mocks (packages and install per dut host, none
// for the peer, the BMC password a secret), and the BMC commands (password never on a command line
// or in a message).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { isRpcSecret } from "@pulumi/pulumi/runtime/rpc";
import { ipmitoolCommand, powerCycle, powerStatus } from "../../src/remote/bmc";
import { planHostKernelInstalls } from "../../src/lab/kernel";
import { resolveVariant } from "../../src/lab/variant";
import { validateLab } from "../../src/lab/validate";
import { ROOT } from "../helpers";

const PASSWORD = "bmc-pw-Zq81-never-shown";

function realLab(activeVariant = "zerocopy") {
  return {
    name: "zc-lab",
    hosts: [
      {
        name: "dut", role: "dut", address: "192.0.2.10", ssh: { key: { env: "IXK_TEST_KEY_FILE" } },
        nic: { name: "enp3s0f0", address: "198.19.1.1/24" },
        bmc: { type: "ipmi", address: "192.0.2.110", user: "admin", password: { env: "IXK_TEST_BMC_PASSWORD" } },
      },
      { name: "peer", role: "peer", address: "192.0.2.11", ssh: { key: { env: "IXK_TEST_KEY_FILE" } }, nic: { name: "enp3s0f0", address: "198.19.1.2/24" } },
    ],
    links: [{ name: "wire", a: { host: "dut" }, b: { host: "peer" } }],
    kernels: [{
      name: "zc", for: "host", source: { type: "debian-source" }, config: { base: "defconfig" }, localversion: "-ixlab-zc",
      cmdline: "mitigations=off", install: { panicSeconds: 20, rebootOnDestroy: true, features: ["/dev/vhost-net"] },
    }],
    variants: [
      { name: "baseline", moduleParams: { vhost_net: { experimental_zcopytx: 0 } } },
      { name: "zerocopy", hostKernel: "zc", moduleParams: { vhost_net: { experimental_zcopytx: 1 } } },
    ],
    activeVariant,
  };
}

interface Declared {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

/** Replaces every secret value with a marker, so what is left is what would be stored in plain text. */
function withoutSecrets(v: unknown): unknown {
  if (isRpcSecret(v)) return "[secret]";
  if (Array.isArray(v)) return v.map(withoutSecrets);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutSecrets(x)]));
  return v;
}

const haveSource = fs.existsSync("/usr/src") && fs.readdirSync("/usr/src").some((f) => /^linux-source-[0-9.]+\.tar\.xz$/.test(f));

describe("real-host kernel install", () => {
  it("plans the active variant's host kernel for the dut hosts only, with its module parameters to verify", () => {
    const r = validateLab(realLab(), { baseDir: ROOT });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.deepEqual(planHostKernelInstalls(r.lab, resolveVariant(r.lab, undefined)), [{ kernel: "zc", hosts: ["dut"], features: ["/sys/module/vhost_net/parameters/experimental_zcopytx", "/dev/vhost-net"] }]);
    assert.deepEqual(planHostKernelInstalls(r.lab, resolveVariant(r.lab, "baseline")), [], "baseline keeps the running kernel");
    assert.deepEqual(r.lab.kernels[0].install, { method: "grub", panicSeconds: 20, bootTimeout: 600, rebootOnDestroy: true, purgeOnDestroy: false, features: ["/dev/vhost-net"] });
  });

  it("plans the VM lab's host kernel for its dut VM (a VM lab host takes the real-host install), none for the netns sim", () => {
    const { loadLabFile } = require("../../src/lab/load") as typeof import("../../src/lab/load");
    for (const [file, want] of [["Pulumi.vmlab.yaml", [{ kernel: "host", hosts: ["dut"], features: ["/sys/module/vhost_net/parameters/experimental_zcopytx"] }]], ["Pulumi.sim.yaml", []]] as const) {
      const r = validateLab(loadLabFile(path.join(ROOT, file)).raw, { baseDir: ROOT });
      assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
      for (const v of r.lab.variants) assert.deepEqual(planHostKernelInstalls(r.lab, resolveVariant(r.lab, v.name)), want, `${file} ${v.name}`);
    }
  });

  it("declares packages and install for the dut host under Pulumi's mocks; the BMC password stays a secret", { skip: haveSource ? false : "linux-source is not installed (npm run setup)" }, async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-kunit-"));
    fs.writeFileSync(path.join(tmp, "key"), "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
    Object.assign(process.env, { IXK_TEST_KEY_FILE: path.join(tmp, "key"), IXK_TEST_BMC_PASSWORD: PASSWORD });
    // The build's output directory: the image (whose hash the build recorded) and the headers.
    const out = path.join(tmp, "out");
    fs.mkdirSync(out);
    const image = path.join(out, "linux-image-6.1.192-ixlab-zc_1_amd64.deb");
    fs.writeFileSync(image, "image");
    fs.writeFileSync(path.join(out, "linux-headers-6.1.192-ixlab-zc_1_amd64.deb"), "headers");
    fs.writeFileSync(path.join(out, "linux-libc-dev_1_amd64.deb"), "not for hosts");
    const headersSha = createHash("sha256").update("headers").digest("hex");
    delete process.env.IXLAB_VARIANT;
    const resources: Declared[] = [];
    pulumi.runtime.setAllConfig({ "ixlab:lab": JSON.stringify(realLab()) });
    await pulumi.runtime.setMocks({
      newResource: (args) => {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.name.endsWith("-hostkey")) state.hostKey = `ssh-ed25519 AAAAhost-${args.name}`;
        if (args.name.endsWith("-preflight")) state.facts = { kernelRelease: "6.1.0-18-amd64" };
        if (args.name.endsWith("-build")) state.facts = { key: "k", release: "6.1.192-ixlab-zc", target: "deb", artifact: image, sha256: "ab".repeat(32), buildSeconds: 1, compiled: true };
        return { id: `${args.name}-id`, state };
      },
      call: () => ({}),
    }, "ixlab", "kunit", false);
    const program = require(`${ROOT}/build/infra/index.js`);
    const topology = await new Promise((resolve) => (program.topology as pulumi.Output<unknown>).apply(resolve));
    for (let seen = -1; seen !== resources.length;) {
      seen = resources.length;
      await new Promise((r) => setTimeout(r, 300));
    }
    fs.rmSync(tmp, { recursive: true, force: true });

    const names = resources.map((r) => `${r.type.replace("pulumi-nodejs:dynamic/ixlab:", "dynamic ")} ${r.name}`);
    for (const n of ["ixlab:index:KernelBuild kernel-zc", "ixlab:index:KernelInstall kernel-zc", "dynamic KernelBuild kernel-zc-build",
      "command:remote:Command kernel-zc-packages-dut-dir", "command:remote:CopyToRemote kernel-zc-packages-dut-copy", "command:remote:Command kernel-zc-packages-dut-check", "dynamic KernelHostInstall kernel-zc-install-dut"]) {
      assert.ok(names.includes(n), `${n} missing from:\n${names.sort().join("\n")}`);
    }
    assert.ok(!names.some((n) => /kernel-zc-(packages|install)-peer|bootcheck/.test(n)), "nothing for the peer, no QEMU boot check on a real lab");
    const byName = Object.fromEntries(resources.map((r) => [r.name, r]));
    // The image and headers (not linux-libc-dev) into the host's kernel-packages/<build key>/ over
    // its pinned connection, then each checked there by its sha256.
    const key = byName["kernel-zc-build"].inputs.args[1];
    const dir = `/var/lib/ixlab/kernel-packages/${key}`;
    const cp = byName["kernel-zc-packages-dut-copy"].inputs;
    assert.equal(cp.remotePath, dir);
    assert.deepEqual(Object.keys(await cp.source.assets).sort(), ["linux-headers-6.1.192-ixlab-zc_1_amd64.deb", "linux-image-6.1.192-ixlab-zc_1_amd64.deb"]);
    assert.equal(cp.connection.value.host, "192.0.2.10");
    assert.equal(cp.connection.value.hostKey, "ssh-ed25519 AAAAhost-dut-hostkey");
    const ck = byName["kernel-zc-packages-dut-check"].inputs;
    assert.match(ck.create, new RegExp(`check linux-image-6\\.1\\.192-ixlab-zc_1_amd64\\.deb ${"ab".repeat(32)}; check linux-headers-6\\.1\\.192-ixlab-zc_1_amd64\\.deb ${headersSha}; touch "\\$d/\\.ixlab-copy"$`));
    assert.equal(byName["kernel-zc-packages-dut-dir"].inputs.delete, `rm -rf '${dir}'; rmdir '/var/lib/ixlab/kernel-packages' 2>/dev/null || true`);
    const inst = byName["kernel-zc-install-dut"].inputs;
    assert.deepEqual(
      { method: inst.method, panic: inst.panicSeconds, timeout: inst.bootTimeout, reboot: inst.rebootOnDestroy, cmdline: inst.cmdline, features: inst.features, packages: inst.packages, bmc: inst.bmc },
      {
        method: "grub", panic: 20, timeout: 600, reboot: true, cmdline: "mitigations=off",
        features: ["/sys/module/vhost_net/parameters/experimental_zcopytx", "/dev/vhost-net"],
        packages: [`${dir}/linux-image-6.1.192-ixlab-zc_1_amd64.deb`, `${dir}/linux-headers-6.1.192-ixlab-zc_1_amd64.deb`],
        bmc: { type: "ipmi", address: "192.0.2.110", user: "admin" },
      },
    );
    assert.ok(isRpcSecret(inst.bmcPassword), "the BMC password goes to the provider as a secret");
    assert.equal(inst.bmcPassword.value, PASSWORD);
    for (const r of resources) assert.ok(!JSON.stringify(withoutSecrets(r.inputs)).includes(PASSWORD), `${r.name} holds the BMC password in plain text`);
    assert.ok(!JSON.stringify(topology).includes(PASSWORD));
  });
});

describe("BMC power cycle", () => {
  const bmc = { type: "ipmi" as const, address: "192.0.2.110", user: "admin" };

  it("ipmitool gets the password through its environment (-E), never as an argument", async () => {
    const c = ipmitoolCommand(bmc, PASSWORD, ["chassis", "power", "cycle"]);
    assert.deepEqual(c.args, ["-I", "lanplus", "-H", "192.0.2.110", "-U", "admin", "-E", "chassis", "power", "cycle"]);
    assert.equal(c.env.IPMI_PASSWORD, PASSWORD);
    const calls: string[][] = [];
    const did = await powerCycle(bmc, PASSWORD, {
      exec: async (cmd, args, env) => {
        calls.push([cmd, ...args]);
        assert.equal(env.IPMI_PASSWORD, PASSWORD);
        return { code: 0, stdout: args.includes("status") ? "Chassis Power is off\n" : "Chassis Power Control: Up/On\n", stderr: "" };
      },
    });
    assert.equal(did, "ipmitool chassis power on (was: Chassis Power is off)", "a chassis that is off is powered on, not cycled");
    assert.ok(!JSON.stringify(calls).includes(PASSWORD));
    await assert.rejects(
      powerCycle(bmc, PASSWORD, { exec: async () => ({ code: 1, stdout: "", stderr: `Error: Unable to establish IPMI v2 session (password ${PASSWORD})` }) }),
      (e: Error) => e.message === "BMC 192.0.2.110: ipmitool chassis power status failed: Error: Unable to establish IPMI v2 session (password ***)",
    );
  });

  it("redfish finds the system and POSTs ComputerSystem.Reset with basic auth", async () => {
    const seen: string[] = [];
    const did = await powerCycle({ ...bmc, type: "redfish" }, PASSWORD, {
      http: async (method, url, headers, body) => {
        assert.equal(headers.Authorization, `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}`);
        seen.push(`${method} ${url}${body ? ` ${body}` : ""}`);
        if (url.endsWith("/Systems")) return { status: 200, body: JSON.stringify({ Members: [{ "@odata.id": "/redfish/v1/Systems/1" }] }) };
        if (method === "GET") return { status: 200, body: JSON.stringify({ PowerState: "On" }) };
        return { status: 204, body: "" };
      },
    });
    assert.deepEqual(seen, [
      "GET https://192.0.2.110/redfish/v1/Systems",
      "GET https://192.0.2.110/redfish/v1/Systems/1",
      'POST https://192.0.2.110/redfish/v1/Systems/1/Actions/ComputerSystem.Reset {"ResetType":"ForceRestart"}',
    ]);
    assert.equal(did, "Redfish ComputerSystem.Reset ForceRestart on /redfish/v1/Systems/1 (was: On)");
    await assert.rejects(
      powerCycle({ ...bmc, type: "redfish" }, PASSWORD, { http: async () => ({ status: 401, body: "bad credentials" }) }),
      /^Error: BMC 192\.0\.2\.110: Redfish GET \/redfish\/v1\/Systems answered HTTP 401: bad credentials$/,
    );
  });

  it("the power status, asked before a reboot, changes nothing and names a BMC that does not answer", async () => {
    const calls: string[][] = [];
    const exec = async (cmd: string, args: string[]) => (calls.push([cmd, ...args]), { code: 0, stdout: "Chassis Power is on\n", stderr: "" });
    assert.equal(await powerStatus(bmc, PASSWORD, { exec }), "Chassis Power is on");
    assert.deepEqual(calls, [["ipmitool", "-I", "lanplus", "-H", "192.0.2.110", "-U", "admin", "-E", "chassis", "power", "status"]]);
    await assert.rejects(
      powerStatus(bmc, PASSWORD, { exec: async () => ({ code: 1, stdout: "", stderr: `Unable to Get Channel Cipher Suites\nError: Unable to establish IPMI v2 / RMCP+ session (password ${PASSWORD})\n` }) }),
      (e: Error) => e.message === "BMC 192.0.2.110: ipmitool chassis power status failed: Unable to Get Channel Cipher Suites | Error: Unable to establish IPMI v2 / RMCP+ session (password ***)",
    );
    const seen: string[] = [];
    const http = async (method: "GET" | "POST", url: string) => {
      seen.push(`${method} ${url}`);
      return url.endsWith("/Systems") ? { status: 200, body: JSON.stringify({ Members: [{ "@odata.id": "/redfish/v1/Systems/1" }] }) } : { status: 200, body: JSON.stringify({ PowerState: "On" }) };
    };
    assert.equal(await powerStatus({ ...bmc, type: "redfish" }, PASSWORD, { http }), "Redfish /redfish/v1/Systems/1 PowerState On");
    assert.deepEqual(seen, ["GET https://192.0.2.110/redfish/v1/Systems", "GET https://192.0.2.110/redfish/v1/Systems/1"], "GETs only");
  });
});
