import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { planKernelBuild } from "../../src/lab/kernel";
import { Kernel } from "../../src/lab/model";
import { ROOT } from "../helpers";
import { describeFailure, parseRoleOutput, roleScript, runRole } from "../../src/remote/roles";
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

describe("lab paths reach the kernel-build role whole", () => {
  it("a clone under a directory with a space builds from its patches and fragments (plan, then the role)", () => {
    // Before, the plan joined patch and fragment paths with spaces and the role split them again:
    // "/home/me/My Labs/ixlab/patches/x.patch" became two paths that do not exist.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab space "));
    try {
      const src = path.join(root, "src", "linux-0.1");
      fs.mkdirSync(src, { recursive: true });
      fs.writeFileSync(path.join(src, "hello.c"), "int main(void) { return 0; }\n");
      const tarball = path.join(root, "linux-0.1.tar.gz");
      assert.equal(spawnSync("tar", ["-czf", tarball, "-C", path.join(root, "src"), "linux-0.1"]).status, 0);
      fs.mkdirSync(path.join(root, "my patches"));
      fs.writeFileSync(path.join(root, "my patches", "0001-say-hello.patch"),
        "--- a/hello.c\n+++ b/hello.c\n@@ -1 +1,2 @@\n int main(void) { return 0; }\n+/* patched */\n");
      fs.mkdirSync(path.join(root, "kernel-configs"));
      fs.writeFileSync(path.join(root, "kernel-configs", "x.config"), "CONFIG_X=y\n");
      const kernel: Kernel = {
        name: "k", for: "guest", source: { type: "tarball", url: "linux-0.1.tar.gz" }, patches: "my patches",
        config: { base: "tinyconfig", fragments: ["kernel-configs/x.config"] }, cmdline: "", verify: { console: [] },
        install: { method: "grub", panicSeconds: 10, bootTimeout: 600, rebootOnDestroy: false, purgeOnDestroy: false, features: [] },
      };
      const plan = planKernelBuild(kernel, "lab", "stack", root, path.join(root, "cache"), "lab.kernels[0]");
      const r = spawnSync("bash", [path.join(ROOT, "roles", "kernel-build.sh"), "create", ...plan.args, "--prepare-only"], { encoding: "utf8", env: { ...process.env, IXLAB_ROLE: "kernel-build" } });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /changed: applied 0001-say-hello\.patch/);
      assert.match(fs.readFileSync(path.join(plan.tree, "hello.c"), "utf8"), /patched/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("private files on hosts", () => {
  it("the guest's initramfs, which holds its SSH host private key, is 0600 from the moment it exists", () => {
    // Runs the guest role's own build_initramfs (the role minus its main) under a umask of 022.
    // Before, the archive was written world-readable (0644), host key inside.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-initrd-"));
    try {
      const script = `umask 022; . ${JSON.stringify(path.join(ROOT, "roles", "lib.sh"))}; ` +
        `eval "$(sed '/^main "\\$@"/d' ${JSON.stringify(path.join(ROOT, "roles", "guest.sh"))})"; ` +
        `DIR=$1; opt_guest=vm1; opt_mac=52:54:00:12:34:56; opt_address=198.19.250.10/24; opt_authorized_key='ssh-ed25519 AAAAtest'; ` +
        `MGMT_MAC=$(mgmt_mac); ensure_host_key >/dev/null; printf 'stale' >"$DIR/initrd.gz.tmp"; chmod 0644 "$DIR/initrd.gz.tmp"; build_initramfs; stat -c %a "$DIR/initrd.gz"`;
      const r = spawnSync("bash", ["-c", script, "guest-test", dir], { encoding: "utf8", env: { ...process.env, IXLAB_ROLE: "guest" } });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(r.stdout.trim().split("\n").pop(), "600");
      const listing = spawnSync("bash", ["-c", 'gzip -dc "$1" | cpio -t --quiet', "list", path.join(dir, "initrd.gz")], { encoding: "utf8" });
      assert.match(listing.stdout, /^etc\/dropbear\/hostkey$/m, "the archive does hold the host key");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("what roles inherit", () => {
  it("a local role and ssh see a minimal environment: no passphrase, no BMC password, no .env secrets", async () => {
    // Before, both inherited ixlab's whole environment: `make` in a kernel build saw
    // PULUMI_CONFIG_PASSPHRASE, and in CI the BMC password.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-env-"));
    const saved = { ...process.env };
    try {
      fs.mkdirSync(path.join(root, "roles"));
      fs.copyFileSync(path.join(ROOT, "roles", "lib.sh"), path.join(root, "roles", "lib.sh"));
      fs.writeFileSync(path.join(root, "roles", "envdump.sh"), '. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"\nenv\n');
      fs.mkdirSync(path.join(root, "bin"));
      fs.writeFileSync(path.join(root, "bin", "ssh"), "#!/bin/sh\nenv\n", { mode: 0o755 });
      Object.assign(process.env, { PULUMI_CONFIG_PASSPHRASE: "stack-passphrase", LAB_BMC_PASSWORD: "bmc-secret", LAB_SSH_KEY: "key-text", PATH: `${path.join(root, "bin")}:${process.env.PATH}` });
      const local = await runRole({ kind: "local" }, undefined, "envdump", "create", [], root);
      assert.equal(local.code, 0, local.stderr);
      const remote = await runRole(target, { privateKey: "not a key" }, "envdump", "create", [], root);
      for (const [where, out] of [["local role", local.stdout], ["ssh", remote.stdout]]) {
        assert.match(out, /^PATH=/m, `${where} has PATH`);
        for (const secret of ["stack-passphrase", "bmc-secret", "key-text"]) assert.ok(!out.includes(secret), `${where} sees ${secret}:\n${out}`);
      }
      assert.match(local.stdout, /^IXLAB_ROLE=envdump$/m);
      // A secret the role needs (a BMC's password) is handed to it alone, by name, and only locally.
      const told = await runRole({ kind: "local" }, undefined, "envdump", "create", [], root, { env: { IXLAB_BMC_PASSWORD: "for-this-role" } });
      assert.match(told.stdout, /^IXLAB_BMC_PASSWORD=for-this-role$/m);
      assert.ok(!told.stdout.includes("bmc-secret"));
      await assert.rejects(runRole(target, { privateKey: "not a key" }, "envdump", "create", [], root, { env: { IXLAB_BMC_PASSWORD: "x" } }), /a secret environment is for roles run on this machine only/);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("retries an SSH connection the server drops before the session (3 attempts), and then names the host", async () => {
    // An "sshd" on loopback that accepts and closes at once, as one past its MaxStartups does.
    const net = await import("node:net");
    let connections = 0;
    const server = net.createServer((sock) => {
      connections++;
      sock.destroy();
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const port = (server.address() as { port: number }).port;
    try {
      const t = { kind: "ssh" as const, host: "dut", address: "127.0.0.1", port, user: "root" };
      const r = await runRole(t, { privateKey: "unused: the server closes before authentication" }, "netserver", "check", []);
      assert.equal(r.code, 255);
      assert.equal(connections, 3, "two retries after the first drop");
      assert.match(describeFailure(t, "netserver", "check", r), /^host dut \(root@127\.0\.0\.1:\d+\): cannot connect over SSH: .*(Connection closed|Connection reset|kex_exchange_identification)/);
    } finally {
      server.close();
    }
  });

  it("does not retry what a retry cannot fix: a refused key", async () => {
    const { TRANSIENT_SSH } = await import("../../src/remote/roles");
    assert.equal(TRANSIENT_SSH.test("root@198.18.0.10: Permission denied (publickey)."), false);
    assert.equal(TRANSIENT_SSH.test("Host key verification failed."), false);
    assert.equal(TRANSIENT_SSH.test("ssh: connect to host 198.18.0.10 port 22: Connection timed out"), false);
    assert.equal(TRANSIENT_SSH.test("kex_exchange_identification: read: Connection reset by peer"), true);
  });
});
