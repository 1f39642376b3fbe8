// The VM lab's fabric roles run for real, as root: the lab's namespace with its management bridge and
// uplink, a wire of two taps, the lab's Debian repository (a tiny one, fetched with this machine's
// apt and served over HTTP inside the namespace), each created twice (the second changes nothing),
// checked, deleted twice and checked again. The image and the VMs themselves take minutes under TCG:
// test/integration/vm-lab.test.ts boots them; here vm-image and vm-host only show their key and
// refuse bad input before touching anything. Names carry this run's pid; cleanup comes first.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "../helpers";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

const ROLES = path.join(ROOT, "roles");
const P = `ixw${process.pid % 100000}`;
const NS = `${P}-lab`;
const UPLINK = `${P}up`;
const NET = "198.18.249";

function show(r: Run): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function sh(cmd: string, args: string[], timeout = 120_000, env?: NodeJS.ProcessEnv): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", input: "", timeout, env });
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

function role(name: string, action: string, args: string[]): Run {
  return sh("bash", [path.join(ROLES, `${name}.sh`), action, ...args]);
}

function facts(r: Run): Record<string, any> {
  const line = r.stdout.split("\n").find((l) => l.startsWith("facts: "));
  assert.ok(line, `no facts line\n${show(r)}`);
  return JSON.parse(line.slice("facts: ".length));
}

function converge(name: string, args: string[]): Run {
  const first = role(name, "create", args);
  assert.equal(first.status, 0, show(first));
  assert.match(first.stdout, /^changed: /m, show(first));
  const second = role(name, "create", args);
  assert.equal(second.status, 0, show(second));
  assert.match(second.stdout, /summary: changed=0\n$/, show(second));
  const check = role(name, "check", args);
  assert.equal(check.status, 0, show(check));
  return first;
}

function remove(name: string, args: string[]): void {
  const first = role(name, "delete", args);
  assert.equal(first.status, 0, show(first));
  assert.match(first.stdout, /^changed: /m, show(first));
  const second = role(name, "delete", args);
  assert.equal(second.status, 0, show(second));
  assert.match(second.stdout, /summary: changed=0\n$/, show(second));
  const check = role(name, "check", args);
  assert.equal(check.status, 3, show(check));
}

const VM_ROLES = ["vm-image", "vm-host", "vm-net", "vm-wire", "apt-repo", "vm-bmc"];

describe("VM lab roles: conventions and bad input", () => {
  for (const name of VM_ROLES) {
    it(`${name}.sh: header, lib guard, shellcheck-clean, exit 2 naming an unknown action or flag`, () => {
      const lines = fs.readFileSync(path.join(ROLES, `${name}.sh`), "utf8").split("\n");
      assert.equal(lines[0], "#!/usr/bin/env bash");
      assert.match(lines[1], new RegExp(`^# ${name}: `));
      assert.ok(lines.includes(`[ -n "\${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "\${BASH_SOURCE[0]}")/lib.sh"`));
      const bad = role(name, "frobnicate", []);
      assert.equal(bad.status, 2, show(bad));
      assert.match(bad.stderr, /unknown action 'frobnicate'/);
      const flag = role(name, "check", ["--frobnicate", "x"]);
      assert.equal(flag.status, 2, show(flag));
      assert.match(flag.stderr, /unknown flag '--frobnicate'/);
    });
  }

  it("vm-image: the key follows the package list, and a bad package or cache path is refused", () => {
    const cache = "/nonexistent/ixlab-vm-cache";
    const a = role("vm-image", "key", ["--cache", cache]);
    const b = role("vm-image", "key", ["--cache", cache, "--packages", "netperf"]);
    const c = role("vm-image", "key", ["--cache", cache, "--packages", "netperf jq"]);
    for (const r of [a, b, c]) assert.equal(r.status, 0, show(r));
    const key = (r: Run) => r.stdout.split(" ")[0];
    assert.match(key(a), /^[0-9a-f]{16}$/);
    assert.notEqual(key(a), key(b), "another package is another image");
    assert.equal(key(b), key(c), "jq is in the base list already: the same image");
    assert.match(a.stdout, new RegExp(`^${key(a)} ${cache}/images/${key(a)}/disk.qcow2\n`));
    const bad = role("vm-image", "create", ["--cache", cache, "--packages", "Not_A_Package"]);
    assert.equal(bad.status, 2, show(bad));
    assert.match(bad.stderr, /not a Debian package name: 'Not_A_Package'/);
    assert.equal(role("vm-image", "create", ["--cache", "relative/dir"]).status, 2);
    assert.equal(fs.existsSync(cache), false, "nothing was made");
  });

  it("vm-host, vm-net and apt-repo refuse addresses outside 198.18.0.0/15 and bad NICs, touching nothing", () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE6mKrJcYQxc8b8A0NwyS0xrgSs2sUq7hOQfQ3M1x2Ex test";
    const hostArgs = (over: Record<string, string>) => Object.entries({
      "--ns": "ixwnever-lab", "--name": "dut", "--dir": "/nonexistent/ixlab/dut", "--image": "/nonexistent.qcow2", "--bridge": "mgmt",
      "--tap": "m-dut", "--mac": "52:54:00:12:34:56", "--address": "198.18.249.10/24", "--authorized-key": key, ...over,
    }).flat();
    let r = role("vm-host", "create", hostArgs({ "--address": "10.0.0.10/24" }));
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--address 10\.0\.0\.10\/24 is outside 198\.18\.0\.0\/15/);
    r = role("vm-host", "create", [...hostArgs({}), "--nic", "52:54:00:12:34:57,eth1,d-dut-0"]);
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--nic '52:54:00:12:34:57,eth1,d-dut-0' is not MAC,NAME,TAP,MTU/);
    r = role("vm-host", "create", hostArgs({ "--dir": "/nonexistent/ixlab/other" }));
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--dir '\/nonexistent\/ixlab\/other' is not an absolute path ending in \/dut/);
    r = role("vm-net", "create", ["--ns", "ixwnever-lab", "--bridge", "mgmt", "--address", "192.168.7.1/24", "--uplink", "ixwneverup", "--uplink-address", "198.18.249.254/24"]);
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /192\.168\.7\.1\/24 is outside 198\.18\.0\.0\/15/);
    r = role("apt-repo", "create", ["--ns", "ixwnever-lab", "--listen", "0.0.0.0:8080", "--cache", "/nonexistent", "--packages", "bc"]);
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--listen '0\.0\.0\.0:8080' is not ADDRESS:PORT with an address in 198\.18\.0\.0\/15/);
    assert.equal(sh("ip", ["netns", "list"]).stdout.includes("ixwnever"), false, "no namespace was made");
  });

  it("vm-bmc refuses a missing or malformed password (from its file or IXLAB_BMC_PASSWORD) before touching anything", () => {
    const dir = "/nonexistent/ixlab-bmc/dut";
    const args = ["--ns", "ixwnever-lab", "--name", "dut", "--dir", dir, "--vm-dir", "/nonexistent/ixlab/dut", "--bridge", "mgmt",
      "--address", "198.18.249.253", "--vm-port", "9100", "--user", "admin"];
    const bmc = (env: Record<string, string>, extra: string[] = []) =>
      sh("bash", [path.join(ROLES, "vm-bmc.sh"), "create", ...args, ...extra], 30_000, { PATH: process.env.PATH, ...env });
    let r = bmc({});
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /give the password with --password-file FILE or in IXLAB_BMC_PASSWORD/);
    r = bmc({ IXLAB_BMC_PASSWORD: "has space" });
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /IXLAB_BMC_PASSWORD: an IPMI password for this BMC is 1-16 characters/);
    assert.doesNotMatch(r.stdout + r.stderr, /has space/, "the password is not echoed");
    r = bmc({ IXLAB_BMC_PASSWORD: "a".repeat(17) }); // ipmi_sim would take it, then refuse every login
    assert.equal(r.status, 2, show(r));
    r = bmc({}, ["--password-file", "/nonexistent/pw"]);
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--password-file \/nonexistent\/pw is not a readable file/);
    r = bmc({ IXLAB_BMC_PASSWORD: "Good-pw_1" }, ["--address", "10.1.2.3"]);
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--address '10\.1\.2\.3' is not an IPv4 address in 198\.18\.0\.0\/15/);
    assert.equal(fs.existsSync("/nonexistent/ixlab-bmc"), false, "nothing was made");
  });
});

const whyNot = process.getuid?.() !== 0 ? "needs root" : ["apt-ftparchive", "busybox"].find((t) => sh("bash", ["-c", `command -v ${t}`]).status !== 0);
describe("VM lab network, wire and repository, for real", { skip: whyNot ? `cannot run: ${whyNot === "needs root" ? whyNot : `${whyNot} missing (npm run setup)`}` : false }, () => {
  let cache = "";
  const netArgs = ["--ns", NS, "--bridge", "mgmt", "--address", `${NET}.1/24`, "--uplink", UPLINK, "--uplink-address", `${NET}.254/24`];
  const wireArgs = ["--ns", NS, "--bridge", "w-wire", "--tap", "d-dut-0", "--tap", "d-peer-0", "--mtu", "9000"];
  const repoArgs = () => ["--ns", NS, "--listen", `${NET}.1:8080`, "--cache", cache, "--packages", "bc", "--run-dir", `/run/ixlab/vm/${NS}`];

  after(() => {
    role("apt-repo", "delete", repoArgs());
    role("vm-net", "delete", ["--ns", NS, "--uplink", UPLINK]);
    if (fs.existsSync(`/run/netns/${NS}`)) sh("ip", ["netns", "del", NS]);
    if (fs.existsSync(`/sys/class/net/${UPLINK}`)) sh("ip", ["link", "del", UPLINK]);
    if (cache) fs.rmSync(cache, { recursive: true, force: true });
  });

  before(() => {
    assert.doesNotMatch(sh("ip", ["-4", "-o", "addr", "show"]).stdout, new RegExp(`${NET.replace(/\./g, "\\.")}\\.`), `${NET}.0/24 is in use here already; another test run?`);
    cache = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-vm-roles-"));
  });

  it("vm-net: the namespace, its management bridge and the uplink from the root namespace", () => {
    converge("vm-net", netArgs);
    assert.match(sh("ip", ["-n", NS, "-4", "-o", "addr", "show", "dev", "mgmt"]).stdout, new RegExp(` ${NET}\\.1/24 `));
    assert.match(sh("ip", ["-4", "-o", "addr", "show", "dev", UPLINK]).stdout, new RegExp(` ${NET}\\.254/24 `));
    // This machine reaches a server on the bridge's address inside the namespace, over the uplink.
    const server = spawn("ip", ["netns", "exec", NS, "busybox", "nc", "-l", "-p", "8099", "-e", "echo", "hello-from-the-lab"], { stdio: "ignore" });
    try {
      let got = "";
      for (let i = 0; i < 50 && !got.includes("hello"); i++) {
        got = sh("bash", ["-c", `exec 3<>/dev/tcp/${NET}.1/8099 && cat <&3`], 5_000).stdout;
        if (!got) spawnSync("sleep", ["0.2"]);
      }
      assert.match(got, /hello-from-the-lab/, "the bridge's address answers from this machine over the uplink");
    } finally {
      server.kill();
    }
    assert.equal(sh("ip", ["-n", NS, "route", "show", "default"]).stdout.trim(), "", "no default route");
  });

  it("vm-wire: a bridge with two taps at the link's MTU", () => {
    converge("vm-wire", wireArgs);
    for (const t of ["d-dut-0", "d-peer-0"]) {
      const link = JSON.parse(sh("ip", ["-n", NS, "-d", "-j", "link", "show", "dev", t]).stdout)[0];
      assert.equal(link.linkinfo.info_kind, "tun");
      assert.equal(link.mtu, 9000);
      assert.equal(link.master, "w-wire");
    }
    sh("ip", ["-n", NS, "link", "set", "dev", "d-peer-0", "nomaster"]);
    const drifted = role("vm-wire", "check", wireArgs);
    assert.equal(drifted.status, 3, show(drifted));
    assert.match(drifted.stderr, /d-peer-0 is not a port of w-wire/);
    assert.equal(role("vm-wire", "create", wireArgs).status, 0);
    remove("vm-wire", wireArgs);
  });

  it("apt-repo: fetches the packages with their dependencies, indexes them, serves them on the bridge only", () => {
    const first = converge("apt-repo", repoArgs());
    const f = facts(first);
    assert.equal(f.url, `http://${NET}.1:8080/`);
    assert.equal(f.source, `deb [trusted=yes] http://${NET}.1:8080/ ./`);
    assert.ok(f.packages >= 1, `at least bc itself: ${JSON.stringify(f)}`);
    const index = fs.readFileSync(path.join(f.dir, "Packages"), "utf8");
    assert.match(index, /^Package: bc$/m);
    // What a VM's apt fetches first, over the bridge from inside the namespace.
    const get = sh("ip", ["netns", "exec", NS, "bash", "-c", `exec 3<>/dev/tcp/${NET}.1/8080; printf 'GET /Packages HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`]);
    assert.match(get.stdout, /^HTTP\/1\.[01] 200/);
    assert.match(get.stdout, /^Package: bc$/m);
    // Not on this machine's side of the uplink: the server is bound to the bridge's address inside the namespace.
    assert.notEqual(sh("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/8080`], 10_000).status, 0, "nothing listens on this machine's loopback");
    const again = role("apt-repo", "create", repoArgs());
    assert.match(again.stdout, /ok: repository [0-9a-f]{16} exists/);
    remove("apt-repo", repoArgs());
    assert.ok(fs.existsSync(path.join(f.dir, "Packages")), "delete keeps the packages as a cache");
  });

  it("vm-net delete: the namespace, its bridges and taps and the uplink are gone", () => {
    converge("vm-wire", wireArgs);
    remove("vm-net", netArgs);
    assert.equal(fs.existsSync(`/run/netns/${NS}`), false);
    assert.equal(fs.existsSync(`/sys/class/net/${UPLINK}`), false);
  });
});
