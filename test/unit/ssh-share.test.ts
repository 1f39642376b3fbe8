// The dynamic provider's shared SSH connections (src/remote/sshShare.ts), with a fake ssh first on
// PATH that logs how it was called: one master per host and key, every role run through its socket,
// a failed login reported like a failed ssh (and retried when transient), and nothing left behind,
// not even by a process killed outright.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { ROOT } from "../helpers";
import { describeFailure, runRole } from "../../src/remote/roles";
import { closeSharedConnections, sharedMasters } from "../../src/remote/sshShare";

const dut = { kind: "ssh" as const, host: "dut", address: "198.18.9.10", port: 22, user: "root" };
const peer = { ...dut, host: "peer", address: "198.18.9.11" };
const creds = { privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----", hostKey: "ssh-ed25519 AAAApin" };

let bin = "";
let log = "";
const savedPath = process.env.PATH;

/** What the fake ssh was asked to do, one line a call: "master <address> <socket>" or "session <address> <socket|none>". */
function calls(): string[] {
  return fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
}

function ownMuxDirs(pid = process.pid): string[] {
  const base = path.join(os.tmpdir(), `ixlab-secret-u${process.getuid!()}`);
  return fs.existsSync(base) ? fs.readdirSync(base).filter((d) => d.startsWith(`ixlab-secret-${pid}-mux-`)) : [];
}

describe("shared SSH connections of the dynamic provider", () => {
  before(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-fake-ssh-"));
    log = path.join(bin, "calls.log");
    // A master binds its socket, then lives until its stdin ends; a session reads the script and
    // answers like a role. FAIL_LOGINS (a file holding a count and a message) fails that many logins.
    fs.writeFileSync(path.join(bin, "ssh"), `#!/usr/bin/env bash
set -u
sock=none master=0
for a in "$@"; do
  case $a in ControlPath=*) sock=\${a#ControlPath=} ;; ControlMaster=yes) master=1 ;; esac
done
for a in "$@"; do case $a in *@*) addr=\${a#*@} ;; esac; done
fail=${JSON.stringify(bin)}/fail
if [ "$master" = 1 ]; then
  echo "master $addr $sock" >>${JSON.stringify(log)}
  if [ -s "$fail" ]; then
    read -r n msg <"$fail"
    if [ "$n" -gt 0 ]; then echo "$((n - 1)) $msg" >"$fail"; echo "$msg" >&2; exit 255; fi
  fi
  : >"$sock"
  cat >/dev/null
  rm -f "$sock"
  exit 0
fi
echo "session $addr $sock" >>${JSON.stringify(log)}
cat >/dev/null
echo "ok: fake check"
echo "summary: changed=0"
`, { mode: 0o755 });
    process.env.PATH = `${bin}:${savedPath}`;
  });
  afterEach(async () => {
    await closeSharedConnections();
    fs.rmSync(log, { force: true });
    fs.rmSync(path.join(bin, "fail"), { force: true });
  });
  after(() => {
    process.env.PATH = savedPath;
    fs.rmSync(bin, { recursive: true, force: true });
  });

  it("logs in once per host and key, and runs every role through that connection", async () => {
    const runs = await Promise.all([
      ...[1, 2, 3, 4, 5, 6].map(() => runRole(dut, creds, "host-nic", "check", ["--nic", "eth1"], ROOT, { share: true })),
      runRole(peer, creds, "netserver", "check", [], ROOT, { share: true }),
      runRole(dut, { ...creds, privateKey: creds.privateKey.replace("fake", "other") }, "host-nic", "check", [], ROOT, { share: true }),
    ]);
    assert.deepEqual(runs.map((r) => r.code), [0, 0, 0, 0, 0, 0, 0, 0]);
    const masters = calls().filter((c) => c.startsWith("master "));
    assert.deepEqual(masters.map((m) => m.split(" ")[1]).sort(), ["198.18.9.10", "198.18.9.10", "198.18.9.11"], "one for dut, one for peer, one for dut with another key");
    const sessions = calls().filter((c) => c.startsWith("session "));
    assert.equal(sessions.length, 8);
    const sockets = new Set(masters.map((m) => m.split(" ")[2]));
    for (const s of sessions) assert.ok(sockets.has(s.split(" ")[2]), `a session over a master's socket: ${s}`);
    assert.equal(sharedMasters().length, 3);
    // A second round reuses them.
    await Promise.all([1, 2, 3].map(() => runRole(dut, creds, "host-nic", "check", [], ROOT, { share: true })));
    assert.equal(calls().filter((c) => c.startsWith("master ")).length, 3);
  });

  it("reports a login that failed like the failed ssh it is, naming the host, and keeps no master of it", async () => {
    fs.writeFileSync(path.join(bin, "fail"), "9 Host key verification failed.\n");
    const r = await runRole(dut, creds, "host-nic", "check", [], ROOT, { share: true });
    assert.equal(r.code, 255);
    assert.match(describeFailure(dut, "host-nic", "check", r), /^host dut \(root@198\.18\.9\.10:22\): SSH host key does not match the key pinned/);
    assert.deepEqual(sharedMasters(), []);
    assert.equal(calls().filter((c) => c.startsWith("session ")).length, 0, "no role ran");
    fs.rmSync(path.join(bin, "fail"));
    assert.equal((await runRole(dut, creds, "host-nic", "check", [], ROOT, { share: true })).code, 0, "the next run logs in afresh");
  });

  it("retries a login the host dropped, as a direct ssh would be", async () => {
    fs.writeFileSync(path.join(bin, "fail"), "1 kex_exchange_identification: Connection closed by remote host\n");
    const r = await runRole(dut, creds, "host-nic", "check", [], ROOT, { share: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(calls().filter((c) => c.startsWith("master ")).length, 2);
  });

  it("connects directly without share, as every caller but the provider does", async () => {
    assert.equal((await runRole(dut, creds, "host-nic", "check", [], ROOT)).code, 0);
    assert.deepEqual(calls(), ["session 198.18.9.10 none"]);
  });

  it("leaves no master and no key behind when its process is killed outright", async () => {
    const code = `const { runRole } = require(${JSON.stringify(path.join(ROOT, "build", "src", "remote", "roles.js"))});
      runRole(${JSON.stringify(dut)}, ${JSON.stringify(creds)}, "host-nic", "check", [], ${JSON.stringify(ROOT)}, { share: true })
        .then((r) => { console.log("ran " + r.code); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"], env: process.env });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    for (let i = 0; i < 300 && !out.includes("ran"); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /ran 0/);
    const socket = calls().find((c) => c.startsWith("master "))!.split(" ")[2];
    assert.ok(fs.existsSync(socket), "the master is up while its process lives");
    assert.equal(ownMuxDirs(child.pid).length, 1);
    child.kill("SIGKILL");
    let left: string[] = [];
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = ownMuxDirs(child.pid);
      if (left.length === 0 && !fs.existsSync(socket)) break;
    }
    assert.deepEqual(left, [], "its directory (key, pin, socket) is removed");
    assert.ok(!fs.existsSync(socket), "the master ended");
  });

  it("removes its directories when closed", async () => {
    await runRole(dut, creds, "host-nic", "check", [], ROOT, { share: true });
    assert.equal(ownMuxDirs().length, 1);
    await closeSharedConnections();
    assert.deepEqual(ownMuxDirs(), []);
    assert.deepEqual(sharedMasters(), []);
  });
});
