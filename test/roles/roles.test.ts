// The role scripts run for real, as root, against network namespaces: a management bridge, two sim
// hosts with their own sshd, the veth "cable" between them, the test NICs addressed, an offload
// changed, netserver on one host and a 2 s netperf across the cable. Roles that run on hosts travel
// over SSH as lib.sh + role on `bash -s`, the way the Pulumi components send them. Every role is
// created twice (the second changes nothing), checked, deleted twice and checked again (exit 3).
// Names carry this test run's pid; cleanup is registered before anything exists.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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
const P = `ixt${process.pid}`; // at most 10 characters: every name below stays within 15
const BR = `${P}br`;
const NS_A = `${P}a`;
const NS_B = `${P}b`;
const BR_CIDR = "198.18.250.1/24";
const MGMT = { [NS_A]: "198.18.250.11", [NS_B]: "198.18.250.12" };
const DATA = { [NS_A]: "198.19.250.1", [NS_B]: "198.19.250.2" };
const NIC = "eth1";
const PORT = "12865";

function show(r: Run): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function sh(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", input: opts.input ?? "", env: opts.env ?? process.env, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

/** A role run here, as root in the root namespace (the sim fabric's roles). */
function local(role: string, action: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  return sh("bash", [path.join(ROLES, `${role}.sh`), action, ...args], { env: { ...process.env, IXLAB_ROLE: role, ...env } });
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

let tmp = "";
const keyFile = () => path.join(tmp, "id");
const hostKeys: Record<string, string> = {};

function sshArgs(ns: string, opts: { key?: string; pinned?: string } = {}): string[] {
  const known = path.join(tmp, `known_hosts.${ns}`);
  fs.writeFileSync(known, `${MGMT[ns]} ${opts.pinned ?? hostKeys[ns]}\n`);
  return [
    "-F", "/dev/null",
    "-i", opts.key ?? keyFile(),
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=5",
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", `UserKnownHostsFile=${known}`,
    "-o", "StrictHostKeyChecking=yes",
    "-o", "LogLevel=ERROR",
    `root@${MGMT[ns]}`,
  ];
}

function ssh(ns: string, command: string, opts: { key?: string; pinned?: string; input?: string } = {}): Run {
  return sh("ssh", [...sshArgs(ns, opts), command], { input: opts.input });
}

/** A role run on a sim host over SSH: lib.sh, then the role, on `bash -s`. */
function remote(ns: string, role: string, action: string, args: string[]): Run {
  const script = fs.readFileSync(path.join(ROLES, "lib.sh"), "utf8") + "\n" + fs.readFileSync(path.join(ROLES, `${role}.sh`), "utf8");
  return ssh(ns, `IXLAB_ROLE=${role} IXLAB_LIB_LOADED= bash -s -- ${[action, ...args].map(shellQuote).join(" ")}`, { input: script });
}

type Runner = (action: string, args: string[]) => Run;

function facts(r: Run): Record<string, any> {
  const line = r.stdout.split("\n").find((l) => l.startsWith("facts: "));
  assert.ok(line, `no facts line\n${show(r)}`);
  return JSON.parse(line.slice("facts: ".length));
}

/** create twice (the second only ok:), then check exits 0; returns the first create. */
function converge(run: Runner, args: string[]): Run {
  const first = run("create", args);
  assert.equal(first.status, 0, show(first));
  assert.match(first.stdout, /^changed: /m, show(first));
  assert.match(first.stdout, /summary: changed=[1-9]\d*\n$/, show(first));
  const second = run("create", args);
  assert.equal(second.status, 0, show(second));
  assert.match(second.stdout, /summary: changed=0\n$/, show(second));
  for (const line of second.stdout.trimEnd().split("\n")) assert.match(line, /^(ok|facts|summary): /, show(second));
  const check = run("check", args);
  assert.equal(check.status, 0, show(check));
  return first;
}

/** delete twice (the second only ok:), then check exits 3 with one line saying why. */
function remove(run: Runner, args: string[], checkArgs = args): void {
  const first = run("delete", args);
  assert.equal(first.status, 0, show(first));
  assert.match(first.stdout, /^changed: /m, show(first));
  const second = run("delete", args);
  assert.equal(second.status, 0, show(second));
  assert.match(second.stdout, /summary: changed=0\n$/, show(second));
  for (const line of second.stdout.trimEnd().split("\n")) assert.match(line, /^(ok|summary): /, show(second));
  const check = run("check", checkArgs);
  assert.equal(check.status, 3, show(check));
  assert.match(check.stderr, /check failed: .+/, show(check));
}

const ROLE_FILES = ["sim-bridge", "sim-host", "sim-link", "host-preflight", "host-packages", "host-nic", "host-tune", "netserver", "macvtap", "vhost-net", "guest"];

describe("role conventions", () => {
  for (const role of ROLE_FILES) {
    it(`${role}.sh: header, lib guard, exit 2 naming an unknown action or flag`, () => {
      const lines = fs.readFileSync(path.join(ROLES, `${role}.sh`), "utf8").split("\n");
      assert.equal(lines[0], "#!/usr/bin/env bash");
      assert.match(lines[1], new RegExp(`^# ${role}: `));
      assert.ok(lines.includes(`[ -n "\${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "\${BASH_SOURCE[0]}")/lib.sh"`));
      assert.equal(lines.filter((l) => l.trim()).pop(), `main "$@" </dev/null`);
      const bad = local(role, "frobnicate", []);
      assert.equal(bad.status, 2, show(bad));
      assert.match(bad.stderr, /unknown action 'frobnicate'/);
      const flag = local(role, "check", ["--frobnicate", "x"]);
      assert.equal(flag.status, 2, show(flag));
      assert.match(flag.stderr, /unknown flag '--frobnicate'/);
      assert.equal(flag.stdout, "");
    });
  }

  it("sim-bridge and sim-host refuse addresses outside 198.18.0.0/15", () => {
    const r = local("sim-bridge", "create", ["--name", "ixtnever0", "--address", "10.1.2.3/24"]);
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /10\.1\.2\.3\/24 is outside 198\.18\.0\.0\/15/);
    const h = local("sim-host", "create", ["--ns", "ixtnever0", "--veth", "ixtnever0", "--bridge", "ixtnever0", "--address", "192.168.1.5/24", "--authorized-key", "ssh-ed25519 AAAA x"]);
    assert.equal(h.status, 2, show(h));
    assert.match(h.stderr, /outside 198\.18\.0\.0\/15/);
    assert.equal(sh("ip", ["link", "show", "ixtnever0"]).status !== 0, true, "nothing was created");
  });
});

describe("lab-claim: one stack of one clone owns a lab's machine-wide names", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-claims-"));
  const env = { IXLAB_CLAIM_DIR: dir };
  const claim = (action: string, owner: string) => local("lab-claim", action, ["--prefix", "ixq", "--owner", owner], env);
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("claims free names, says so once, and a second create changes nothing", () => {
    const a = claim("create", "stack sim of the clone at A");
    assert.equal(a.status, 0, show(a));
    assert.match(a.stdout, /changed: claimed names ixq-\*/);
    const again = claim("create", "stack sim of the clone at A");
    assert.equal(again.status, 0, show(again));
    assert.doesNotMatch(again.stdout, /changed:/);
    assert.equal(claim("check", "stack sim of the clone at A").status, 0);
  });

  it("refuses another clone's create naming the owner, and leaves the claim as it was", () => {
    const b = claim("create", "stack sim of the clone at B");
    assert.equal(b.status, 1, show(b));
    assert.match(b.stderr, /names ixq-\* on this machine belong to stack sim of the clone at A, whose lab is up; destroy it there first/);
    const c = claim("check", "stack sim of the clone at B");
    assert.equal(c.status, 3, show(c));
    assert.match(c.stderr, /claimed by stack sim of the clone at A/);
    assert.equal(fs.readFileSync(path.join(dir, "ixq"), "utf8"), "stack sim of the clone at A\n");
  });

  it("a delete by another owner leaves the claim; the owner's delete releases it", () => {
    assert.equal(claim("delete", "stack sim of the clone at B").status, 0);
    assert.ok(fs.existsSync(path.join(dir, "ixq")));
    const d = claim("delete", "stack sim of the clone at A");
    assert.equal(d.status, 0, show(d));
    assert.match(d.stdout, /changed: released/);
    assert.deepEqual(fs.readdirSync(dir), [], "no claim and no temp file left");
    assert.equal(claim("create", "stack sim of the clone at B").status, 0, "free names are anyone's");
  });
});

// Interrupt affinity, irqbalance and the CPU governor are real-host settings: here they are only ever
// shown a made-up /proc and /sys (IXLAB_SYS_ROOT) with --dry-run, and checked; nothing is written.
describe("host-tune: real-host settings, dry run against a made-up host", () => {
  let fake = "";
  before(() => {
    fake = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-fakesys-"));
    const w = (p: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(fake, p)), { recursive: true });
      fs.writeFileSync(path.join(fake, p), text);
    };
    w("proc/interrupts", "           CPU0       CPU1\n 40:  1  2  PCI-MSI 1-edge  eth9-TxRx-0\n 41:  3  4  PCI-MSI 2-edge  eth9-TxRx-1\n 42:  0  0  PCI-MSI 3-edge  eth90\n");
    for (const irq of [40, 41, 42]) w(`proc/irq/${irq}/smp_affinity_list`, "0-1\n");
    for (const cpu of [0, 1]) {
      w(`sys/devices/system/cpu/cpu${cpu}/cpufreq/scaling_governor`, "powersave\n");
      w(`sys/devices/system/cpu/cpu${cpu}/cpufreq/scaling_available_governors`, "performance powersave\n");
    }
    w("state/.keep", "");
  });
  after(() => fs.rmSync(fake, { recursive: true, force: true }));
  const env = () => ({ IXLAB_SYS_ROOT: fake, IXLAB_STATE_DIR: path.join(fake, "state") });
  const snapshot = () => ["proc/irq/40/smp_affinity_list", "proc/irq/41/smp_affinity_list", "proc/irq/42/smp_affinity_list", "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"].map((p) => fs.readFileSync(path.join(fake, p), "utf8"));

  it("--dry-run names each file it would write, writes nothing and records nothing", () => {
    const before = snapshot();
    const r = local("host-tune", "create", ["--nic", "eth9", "--irq-affinity", "1", "--governor", "performance", "--irqbalance", "off", "--dry-run"], env());
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /^(ok: irqbalance is inactive|changed: \[dry-run\] would stop irqbalance \(runs: systemctl stop irqbalance\))$/m);
    assert.match(r.stdout, new RegExp(`^changed: \\[dry-run\\] would write 1 to ${fake}/proc/irq/40/smp_affinity_list \\(IRQ 40 of eth9, was 0-1\\)$`, "m"));
    assert.match(r.stdout, /would write 1 to .*\/proc\/irq\/41\/smp_affinity_list/);
    assert.doesNotMatch(r.stdout, /irq\/42/, "eth90 is another NIC");
    assert.match(r.stdout, new RegExp(`^changed: \\[dry-run\\] would write performance to ${fake}/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor \\(was powersave\\)$`, "m"));
    assert.deepEqual(snapshot(), before);
    assert.deepEqual(fs.readdirSync(path.join(fake, "state")), [".keep"]);
  });

  it("check names each setting that differs, and passes when all match", () => {
    const r = local("host-tune", "check", ["--nic", "eth9", "--irq-affinity", "1", "--governor", "performance"], env());
    assert.equal(r.status, 3, show(r));
    assert.match(r.stderr, /IRQ 40 of eth9 goes to CPUs 0-1, not 1; IRQ 41 of eth9 goes to CPUs 0-1, not 1; cpu0 governor is powersave, not performance/);
    const good = local("host-tune", "check", ["--nic", "eth9", "--irq-affinity", "0,1", "--governor", "powersave"], env());
    assert.equal(good.status, 0, show(good));
  });

  it("refuses what the host cannot do, naming the NIC and the setting", () => {
    const r = local("host-tune", "create", ["--nic", "eth5", "--irq-affinity", "1", "--dry-run"], env());
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /no interrupts of eth5 in .*proc\/interrupts, so --irq-affinity cannot be applied/);
    const bad = local("host-tune", "create", ["--nic", "eth9", "--irq-affinity", "zero", "--dry-run"], env());
    assert.equal(bad.status, 2, show(bad));
    const gov = local("host-tune", "create", ["--nic", "eth9", "--governor", "turbo", "--dry-run"], env());
    assert.equal(gov.status, 1, show(gov));
    assert.match(gov.stderr, /cpu0 has no governor turbo \(available: performance powersave\)/);
  });
});

const whyNot = process.getuid?.() !== 0 ? "needs root" : ["sshd", "netperf", "ethtool"].find((t) => sh("bash", ["-c", `PATH=$PATH:/usr/sbin command -v ${t}`]).status !== 0);
describe("roles against network namespaces", { skip: whyNot ? `cannot run: ${whyNot === "needs root" ? whyNot : `${whyNot} missing (npm run setup)`}` : false }, () => {
  const runSshdExisted = fs.existsSync("/run/sshd");
  const bridgeArgs = ["--name", BR, "--address", BR_CIDR];
  const hostArgs = (ns: string, key = fs.readFileSync(keyFile() + ".pub", "utf8").trim()) =>
    ["--ns", ns, "--veth", ns, "--bridge", BR, "--address", `${MGMT[ns]}/24`, "--authorized-key", key];
  const linkArgs = ["--a-ns", NS_A, "--a-if", NIC, "--b-ns", NS_B, "--b-if", NIC, "--mtu", "1500"];
  const nicArgs = (ns: string) => ["--nic", NIC, "--address", `${DATA[ns]}/24`, "--mtu", "1400"];
  const tuneArgs = ["--nic", NIC, "--offload", "tso=off"];
  const netserverArgs = ["--address", DATA[NS_B], "--port", PORT];

  // Registered before anything exists: whatever a failing test left is removed.
  after(() => {
    for (const ns of [NS_B, NS_A]) local("sim-host", "delete", ["--ns", ns, "--veth", ns]);
    local("sim-bridge", "delete", ["--name", BR]);
    for (const ns of sh("ip", ["netns", "list"]).stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(P))) {
      for (const pid of sh("ip", ["netns", "pids", ns]).stdout.split("\n").filter(Boolean)) sh("kill", ["-KILL", pid]);
      sh("ip", ["netns", "del", ns]);
    }
    for (const dev of fs.readdirSync("/sys/class/net").filter((n) => n.startsWith(P))) sh("ip", ["link", "del", "dev", dev]);
    for (const d of ["/run/ixlab"].filter(fs.existsSync).flatMap((r) => fs.readdirSync(r).filter((n) => n.startsWith(P)).map((n) => path.join(r, n)))) {
      fs.rmSync(d, { recursive: true, force: true });
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  before(() => {
    const taken = sh("ip", ["-4", "-o", "addr", "show"]).stdout;
    assert.doesNotMatch(taken, /198\.18\.250\./, "198.18.250.0/24 is already in use in the root namespace; another test run?");
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-roles-"));
    for (const k of ["id", "other"]) {
      const r = sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `ixlab-test-${k}`, "-f", path.join(tmp, k)]);
      assert.equal(r.status, 0, show(r));
    }
  });

  it("sim-bridge: the management bridge in the root namespace", () => {
    converge((a, args) => local("sim-bridge", a, args), bridgeArgs);
    const addr = sh("ip", ["-4", "-o", "addr", "show", "dev", BR]).stdout;
    assert.match(addr, /inet 198\.18\.250\.1\/24/);
  });

  it("sim-host: two namespaces, each with its own sshd, facts with the host key", () => {
    for (const ns of [NS_A, NS_B]) {
      const first = converge((a, args) => local("sim-host", a, args), hostArgs(ns));
      const f = facts(first);
      assert.deepEqual({ address: f.address, ns: f.ns }, { address: MGMT[ns], ns });
      assert.match(f.hostKey, /^ssh-ed25519 [A-Za-z0-9+/=]+$/);
      hostKeys[ns] = f.hostKey;
      assert.equal(fs.statSync(`/run/ixlab/${ns}`).mode & 0o777, 0o700);
      assert.equal(sh("ip", ["-n", ns, "route", "show", "default"]).stdout, "", "no default route in a sim host");
    }
    assert.notEqual(hostKeys[NS_A], hostKeys[NS_B]);
  });

  it("ssh logs in with the stack key and the pinned host key; the session has the host's state dir", () => {
    for (const ns of [NS_A, NS_B]) {
      const r = ssh(ns, "true");
      assert.equal(r.status, 0, show(r));
      const env = ssh(ns, 'echo "$IXLAB_STATE_DIR $IXLAB_SIM_NS $SHLVL"; ip -4 -o addr show dev mgmt0');
      assert.equal(env.status, 0, show(env));
      // SHLVL 2: the session's bash is not a top-level shell, so it sources no ~/.bashrc of this machine.
      assert.match(env.stdout, new RegExp(`^/run/ixlab/${ns}/state ${ns} 2\n`));
      assert.match(env.stdout, new RegExp(`inet ${MGMT[ns].replace(/\./g, "\\.")}/24`));
    }
  });

  it("ssh refuses a changed host key and a key that is not authorized", () => {
    const wrongPin = ssh(NS_A, "true", { pinned: hostKeys[NS_B] });
    assert.equal(wrongPin.status, 255, show(wrongPin));
    assert.match(wrongPin.stderr, /Host key verification failed|HOST IDENTIFICATION HAS CHANGED/);
    const other = path.join(tmp, "other");
    const wrongKey = ssh(NS_A, "true", { key: other });
    assert.equal(wrongKey.status, 255, show(wrongKey));
    assert.match(wrongKey.stderr, /Permission denied/);
    // A new authorized key replaces the old one: the old key is refused from then on.
    const otherPub = fs.readFileSync(other + ".pub", "utf8").trim();
    const swap = local("sim-host", "create", hostArgs(NS_A, otherPub));
    assert.equal(swap.status, 0, show(swap));
    assert.match(swap.stdout, /^changed: wrote \/run\/ixlab\/.*\/authorized_keys$/m);
    assert.match(swap.stdout, /summary: changed=1\n$/);
    assert.equal(local("sim-host", "check", hostArgs(NS_A)).status, 3);
    assert.equal(ssh(NS_A, "true", { key: other }).status, 0);
    assert.equal(ssh(NS_A, "true").status, 255);
    assert.match(local("sim-host", "create", hostArgs(NS_A)).stdout, /summary: changed=1\n$/);
    assert.equal(ssh(NS_A, "true").status, 0);
  });

  it("sim-host: restarts a dead sshd", () => {
    const pid = fs.readFileSync(`/run/ixlab/${NS_B}/sshd.pid`, "utf8").trim();
    process.kill(Number(pid), "SIGTERM");
    for (let i = 0; i < 50 && fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8") !== ""; i++) sh("sleep", ["0.1"]);
    const check = local("sim-host", "check", hostArgs(NS_B));
    assert.equal(check.status, 3, show(check));
    assert.match(check.stderr, /sshd of .* is not running/);
    const r = local("sim-host", "create", hostArgs(NS_B));
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /^changed: started sshd/m);
    assert.equal(facts(r).hostKey, hostKeys[NS_B], "the host key survives a restart");
    assert.equal(ssh(NS_B, "true").status, 0);
  });

  it("sim-host: recreates a management veth that was deleted", () => {
    assert.equal(sh("ip", ["link", "del", "dev", NS_B]).status, 0);
    const check = local("sim-host", "check", hostArgs(NS_B));
    assert.equal(check.status, 3, show(check));
    assert.match(check.stderr, /veth .* is missing/);
    const r = local("sim-host", "create", hostArgs(NS_B));
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, new RegExp(`^changed: created veth ${NS_B} <-> ${NS_B}:mgmt0$`, "m"));
    assert.equal(local("sim-host", "check", hostArgs(NS_B)).status, 0);
    assert.equal(ssh(NS_B, "true").status, 0);
  });

  it("sim-link: the veth cable between the two namespaces", () => {
    converge((a, args) => local("sim-link", a, args), linkArgs);
    const wrongPeer = local("sim-link", "create", ["--a-ns", NS_A, "--a-if", NIC, "--b-ns", NS_B, "--b-if", "mgmt0", "--mtu", "1500"]);
    assert.equal(wrongPeer.status, 1, show(wrongPeer));
    assert.match(wrongPeer.stderr, new RegExp(`${NS_A}:${NIC} exists but its peer is not ${NS_B}:mgmt0`));
  });

  it("host-preflight facts and host-packages check, over SSH", () => {
    const r = remote(NS_A, "host-preflight", "facts", ["--nic", NIC]);
    assert.equal(r.status, 0, show(r));
    const f = facts(r);
    assert.equal(f.kernelRelease, os.release());
    assert.deepEqual({ name: f.nic.name, present: f.nic.present, driver: f.nic.driver, mtu: f.nic.mtu }, { name: NIC, present: true, driver: "veth", mtu: 1500 });
    assert.ok(f.nic.speedMbps === null || f.nic.speedMbps > 0);
    assert.equal(typeof f.kvm, "boolean");
    assert.ok(f.cpus >= 1);
    assert.match(f.netperf, /\/netperf$/);
    const missing = remote(NS_A, "host-preflight", "check", ["--nic", NIC, "--require", "kvm,vhost-net,zerocopy,ixgbe,10000Mb/s"]);
    assert.equal(missing.status, 3, show(missing));
    assert.match(missing.stderr, /missing: .*ixgbe \(driver of eth1 is veth\)/);
    const gone = remote(NS_A, "host-preflight", "check", ["--nic", "eth7"]);
    assert.equal(gone.status, 3, show(gone));
    assert.match(gone.stderr, /nic \(eth7 not present\)/);

    const pk = remote(NS_A, "host-packages", "check", ["--packages", "netperf ethtool iproute2"]);
    assert.equal(pk.status, 0, show(pk));
    // All present, so create installs nothing (it would only ever run apt-get for a missing one).
    const pkCreate = remote(NS_A, "host-packages", "create", ["--packages", "netperf ethtool iproute2"]);
    assert.equal(pkCreate.status, 0, show(pkCreate));
    assert.equal(pkCreate.stdout, "ok: package netperf installed\nok: package ethtool installed\nok: package iproute2 installed\nsummary: changed=0\n");
    const pkDelete = remote(NS_A, "host-packages", "delete", ["--packages", "netperf ethtool iproute2"]);
    assert.equal(pkDelete.status, 0, show(pkDelete));
    assert.match(pkDelete.stdout, /^ok: packages left installed: netperf ethtool iproute2\nsummary: changed=0\n$/);
    const pkMissing = remote(NS_A, "host-packages", "check", ["--packages", "netperf ixlab-no-such-package"]);
    assert.equal(pkMissing.status, 3, show(pkMissing));
    assert.match(pkMissing.stderr, /missing packages: ixlab-no-such-package$/m);
  });

  it("host-nic over SSH: data address and MTU on both ends, previous MTU recorded per host", () => {
    for (const ns of [NS_A, NS_B]) {
      converge((a, args) => remote(ns, "host-nic", a, args), nicArgs(ns));
      assert.equal(fs.readFileSync(`/run/ixlab/${ns}/state/nic/${NIC}.prev`, "utf8").trim(), "1500");
    }
  });

  it("host-tune over SSH: an offload changed and recorded; rings refused where unsupported", () => {
    converge((a, args) => remote(NS_A, "host-tune", a, args), tuneArgs);
    assert.equal(fs.readFileSync(`/run/ixlab/${NS_A}/state/tune/${NIC}/offload.tso`, "utf8").trim(), "on");
    if (sh("ip", ["netns", "exec", NS_A, "ethtool", "-g", NIC]).status !== 0) {
      const rings = remote(NS_A, "host-tune", "create", ["--nic", NIC, "--rings", "rx=512"]);
      assert.equal(rings.status, 1, show(rings));
      assert.match(rings.stderr, /eth1 does not support ring settings, so --rings rx=512 cannot be applied/);
    }
  });

  it("netserver over SSH: bound to the data address, survives the SSH session", () => {
    converge((a, args) => remote(NS_B, "netserver", a, args), netserverArgs);
    const pid = fs.readFileSync(`/run/ixlab/${NS_B}/state/netserver.pid`, "utf8").trim();
    assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "), new RegExp(`netserver -D -L ${DATA[NS_B]} -p ${PORT}`));
  });

  it("netperf TCP_STREAM for 2 s from host a to netserver on host b, across the cable", () => {
    const r = ssh(NS_A, `netperf -H ${DATA[NS_B]} -p ${PORT} -t TCP_STREAM -l 2 -P 0`);
    assert.equal(r.status, 0, show(r));
    const fields = r.stdout.trim().split("\n").pop()!.trim().split(/\s+/);
    const mbps = Number(fields[fields.length - 1]);
    assert.ok(mbps > 0, `throughput ${mbps} 10^6bits/s\n${show(r)}`);
  });

  const macvtapArgs = ["--guest", "vm1", "--nic", NIC, "--name", `${P}v`, "--mode", "bridge", "--mac", "52:54:00:12:34:56"];
  it("macvtap over SSH: a macvtap on the test NIC and its tap device node in the host's state dir", () => {
    const f = facts(converge((a, args) => remote(NS_A, "macvtap", a, args), macvtapArgs));
    assert.equal(f.lower, NIC);
    assert.equal(f.mac, "52:54:00:12:34:56");
    assert.equal(f.tapDevice, `/run/ixlab/${NS_A}/state/guests/vm1/tap`);
    assert.ok(fs.statSync(f.tapDevice).isCharacterDevice());
    const ifindexFile = `/run/ixlab/${NS_A}/state/guests/vm1/tap.ifindex`;
    assert.equal(fs.readFileSync(ifindexFile, "utf8").trim(), String(f.ifindex), "the device the node stands for is recorded");
    // Another mode asked: the device is re-created in that mode, with a new interface index (so a
    // guest started on the old one is told apart, roles/guest.sh).
    const vepa = remote(NS_A, "macvtap", "create", macvtapArgs.map((x) => (x === "bridge" ? "vepa" : x)));
    assert.equal(vepa.status, 0, show(vepa));
    assert.match(vepa.stdout, /changed: removed .*: .* is in mode bridge, not vepa/);
    assert.notEqual(fs.readFileSync(ifindexFile, "utf8").trim(), String(f.ifindex));
    assert.equal(fs.readFileSync(ifindexFile, "utf8").trim(), String(facts(vepa).ifindex));
    const check = remote(NS_A, "macvtap", "check", macvtapArgs);
    assert.equal(check.status, 3, show(check));
    assert.match(check.stderr, /is in mode vepa, not bridge/);
    assert.equal(remote(NS_A, "macvtap", "create", macvtapArgs).status, 0);
  });

  // The checks a refresh runs take all their facts in one look (roles/lib.sh dev_facts): each drift
  // they must see, made by hand one at a time, is named by check (exit 3) and put right by create.
  it("checks name each drift of the fabric, the NICs and the macvtap, and create puts it right", () => {
    const linkArgs1400 = linkArgs.map((x) => (x === "1500" ? "1400" : x)); // host-nic set both ends to 1400
    const ipn = (ns: string, ...args: string[]) => assert.equal(sh("ip", ["-n", ns, ...args]).status, 0, `ip -n ${ns} ${args.join(" ")}`);
    const ip = (...args: string[]) => assert.equal(sh("ip", args).status, 0, `ip ${args.join(" ")}`);
    const cases: { what: string; role: string; run: Runner; args: string[]; drift: () => void; says: RegExp }[] = [
      { what: "cable end MTU", role: "sim-link", run: (a, x) => local("sim-link", a, x), args: linkArgs1400, drift: () => ipn(NS_B, "link", "set", "dev", NIC, "mtu", "1300"), says: new RegExp(`${NS_B}:${NIC} has MTU 1300, not 1400`) },
      { what: "cable end down", role: "sim-link", run: (a, x) => local("sim-link", a, x), args: linkArgs1400, drift: () => ipn(NS_A, "link", "set", "dev", NIC, "down"), says: new RegExp(`${NS_A}:${NIC} is down`) },
      { what: "management NIC down", role: "sim-host", run: (a, x) => local("sim-host", a, x), args: hostArgs(NS_A), drift: () => ipn(NS_A, "link", "set", "dev", "mgmt0", "down"), says: new RegExp(`${NS_A}:mgmt0 is down`) },
      { what: "management address", role: "sim-host", run: (a, x) => local("sim-host", a, x), args: hostArgs(NS_A), drift: () => ipn(NS_A, "addr", "del", `${MGMT[NS_A]}/24`, "dev", "mgmt0"), says: new RegExp(`${NS_A}:mgmt0 lacks address ${MGMT[NS_A]}/24`) },
      { what: "management veth off the bridge", role: "sim-host", run: (a, x) => local("sim-host", a, x), args: hostArgs(NS_A), drift: () => ip("link", "set", "dev", NS_A, "nomaster"), says: new RegExp(`${NS_A} is not a port of bridge ${BR}`) },
      { what: "bridge address", role: "sim-bridge", run: (a, x) => local("sim-bridge", a, x), args: bridgeArgs, drift: () => ip("addr", "del", BR_CIDR, "dev", BR), says: new RegExp(`bridge ${BR} lacks address ${BR_CIDR}`) },
      { what: "bridge down", role: "sim-bridge", run: (a, x) => local("sim-bridge", a, x), args: bridgeArgs, drift: () => ip("link", "set", "dev", BR, "down"), says: new RegExp(`bridge ${BR} is down`) },
      { what: "data address", role: "host-nic", run: (a, x) => remote(NS_A, "host-nic", a, x), args: nicArgs(NS_A), drift: () => ipn(NS_A, "addr", "del", `${DATA[NS_A]}/24`, "dev", NIC), says: new RegExp(`${NIC} lacks address ${DATA[NS_A]}/24`) },
      { what: "data NIC MTU", role: "host-nic", run: (a, x) => remote(NS_A, "host-nic", a, x), args: nicArgs(NS_A), drift: () => ipn(NS_A, "link", "set", "dev", NIC, "mtu", "1300"), says: new RegExp(`${NIC} has MTU 1300, not 1400`) },
      { what: "macvtap down", role: "macvtap", run: (a, x) => remote(NS_A, "macvtap", a, x), args: macvtapArgs, drift: () => ipn(NS_A, "link", "set", "dev", `${P}v`, "down"), says: new RegExp(`${P}v is down`) },
      { what: "macvtap MAC", role: "macvtap", run: (a, x) => remote(NS_A, "macvtap", a, x), args: macvtapArgs, drift: () => ipn(NS_A, "link", "set", "dev", `${P}v`, "address", "52:54:00:12:34:57"), says: new RegExp(`${P}v has MAC 52:54:00:12:34:57, not 52:54:00:12:34:56`) },
    ];
    for (const c of cases) {
      const before = c.run("check", c.args);
      assert.equal(before.status, 0, `${c.role} check before ${c.what}: ${show(before)}`);
      c.drift();
      const check = c.run("check", c.args);
      assert.equal(check.status, 3, `${c.role} check after ${c.what}: ${show(check)}`);
      assert.match(check.stderr, c.says, `${c.role} check after ${c.what}: ${show(check)}`);
      const fix = c.run("create", c.args);
      assert.equal(fix.status, 0, `${c.role} create after ${c.what}: ${show(fix)}`);
      assert.match(fix.stdout, /^changed: /m, `${c.role} create after ${c.what}: ${show(fix)}`);
      const after = c.run("check", c.args);
      assert.equal(after.status, 0, `${c.role} check after create for ${c.what}: ${show(after)}`);
    }
    for (const ns of [NS_A, NS_B]) assert.equal(ssh(ns, "true").status, 0, `ssh to ${ns} after the repairs`);
  });

  it("guest refuses to start without the macvtap's tap device, naming it", () => {
    const r = remote(NS_B, "guest", "create", ["--guest", "vm9", "--kernel", "/nonexistent", "--mac", "52:54:00:00:00:09", "--address", "198.19.250.9/24",
      "--mgmt", `${MGMT[NS_B]}:2201`, "--authorized-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA", "--vhost", "off"]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, new RegExp(`no tap device /run/ixlab/${NS_B}/state/guests/vm9/tap for guest vm9`));
  });

  it("vhost-net --no-load never loads a module; it says what is there and what was asked", () => {
    const r = remote(NS_A, "vhost-net", "create", ["--zcopytx", "1", "--no-load"]);
    assert.equal(r.status, 0, show(r));
    const f = facts(r);
    assert.equal(f.requested, 1);
    assert.equal(f.loaded, fs.existsSync("/sys/module/vhost_net"));
    if (!f.loaded) assert.match(r.stdout, /not loaded here and a sim does not load it/);
    assert.ok(!fs.existsSync(`/run/ixlab/${NS_A}/state/modprobe.d`), "no modprobe config written in a sim");
  });

  it("deletes everything in reverse order, idempotently, and check says it is gone", () => {
    remove((a, args) => remote(NS_A, "macvtap", a, args), macvtapArgs);
    assert.ok(!fs.existsSync(`/run/ixlab/${NS_A}/state/guests/vm1`), "the guest's directory goes with its last file");
    remove((a, args) => remote(NS_B, "netserver", a, args), netserverArgs);
    remove((a, args) => remote(NS_A, "host-tune", a, args), tuneArgs);
    assert.ok(!fs.existsSync(`/run/ixlab/${NS_A}/state/tune`), "records removed");
    assert.equal(remote(NS_A, "host-tune", "check", ["--nic", NIC, "--offload", "tso=on"]).status, 0, "tso restored");
    for (const ns of [NS_B, NS_A]) {
      remove((a, args) => remote(ns, "host-nic", a, args), nicArgs(ns));
      assert.equal(sh("ip", ["-n", ns, "-j", "link", "show", "dev", NIC]).stdout.includes('"mtu":1500'), true, "MTU restored");
    }
    remove((a, args) => local("sim-link", a, args), linkArgs);
    for (const ns of [NS_B, NS_A]) remove((a, args) => local("sim-host", a, args), hostArgs(ns));
    remove((a, args) => local("sim-bridge", a, args), bridgeArgs);
  });

  it("leaves nothing behind", () => {
    const namespaces = sh("ip", ["netns", "list"]).stdout.split("\n").filter((l) => l.startsWith(P));
    assert.deepEqual(namespaces, []);
    assert.deepEqual(fs.readdirSync("/sys/class/net").filter((n) => n.startsWith(P)), []);
    const hostDirs = fs.existsSync("/run/ixlab") ? fs.readdirSync("/run/ixlab").filter((n) => !n.startsWith(".")) : [];
    assert.deepEqual(hostDirs.filter((n) => n.startsWith(P)), []);
    if (!runSshdExisted && hostDirs.length === 0) assert.ok(!fs.existsSync("/run/sshd"), "/run/sshd, created for the sim hosts, is removed with the last one");
    const ours = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ");
        return cmd.includes(`/run/ixlab/${P}`) || cmd.includes("netserver -D -L 198.19.250.");
      } catch {
        return false;
      }
    });
    assert.deepEqual(ours, []);
  });
});
