// Faults injected into the sim lab, with the real engine: `pulumi up` interrupted at six points
// (Ctrl-C and SIGKILL to its whole process group, as a terminal or an OOM killer would), then one
// `up` that must converge to the same lab with nothing duplicated; a host whose sshd hangs; two
// updates of one stack at once; a changed SSH host key; secrets grepped for in state, outputs and
// logs; and a destroy after a partial up that must leave nothing. Runs as its own stack (reltest,
// prefix ixf, 198.18.3.0/24 and 198.19.3.0/24). Prints a table of what was injected and how it ended.
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { pulumiProblem, ROOT, simTestStack, TEST_STATE } from "../helpers";
import { leftovers } from "../leftovers";

const STACK = "reltest";
const PREFIX = "ixf";
const IXLAB = path.join(ROOT, "bin", "ixlab");

function stackFile(): void {
  simTestStack(STACK, PREFIX, 3);
}

interface Outcome {
  fault: string;
  times: number;
  outcome: string;
  lost: number;
}
const table: Outcome[] = [];
const logs: string[] = [];

function ixlab(...args: string[]): { status: number; out: string; stdout: string } {
  const r = spawnSync(IXLAB, ["pulumi", ...args, "--stack", STACK, "--non-interactive"], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const out = (r.stdout ?? "") + (r.stderr ?? "");
  logs.push(out);
  return { status: r.status ?? 1, out, stdout: r.stdout ?? "" };
}

/** `pulumi stack export` as an object. */
function exported(): { resources?: { urn: string }[]; pending_operations?: unknown[] } {
  return JSON.parse(ixlab("stack", "export").stdout).deployment;
}

function waitExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.on("exit", (code) => resolve(code))));
}

/**
 * `ixlab pulumi up` in a process group of its own, sent SIGNAL (to the whole group, like a terminal's
 * Ctrl-C) as soon as it starts creating RESOURCE. Resolves to whether that point was reached.
 */
async function interruptedUp(signal: NodeJS.Signals, resource: string, why: string[] = []): Promise<boolean> {
  const child = spawn(IXLAB, ["pulumi", "up", "--yes", "--skip-preview", "--stack", STACK, "--non-interactive"], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let reached = false;
  const point = new RegExp(`${resource} creating`);
  const onData = (d: Buffer) => {
    out += d;
    if (!reached && point.test(out)) {
      reached = true;
      process.kill(-child.pid!, signal);
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const killer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 300_000);
  await waitExit(child);
  clearTimeout(killer);
  // After SIGINT, pulumi lets in-flight steps end; anything it started is in our group: wait for it.
  for (let i = 0; i < 100 && groupAlive(child.pid!); i++) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(child.pid!)) process.kill(-child.pid!, "SIGKILL");
  logs.push(out);
  // An up that ended before the point: what stopped it (an up after an interruption must converge).
  if (!reached) why.push(`${signal} at ${resource} never reached; that up ended with:\n${pulumiProblem(out, 30)}`);
  return reached;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line contains TEXT. */
function processes(text: string): string[] {
  return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ").includes(text);
    } catch {
      return false;
    }
  });
}

/** The lab as this machine shows it: one of each thing, or a list of what is doubled or missing. */
function labProblems(): string[] {
  const problems: string[] = [];
  const ns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(`${PREFIX}-`)).sort();
  if (JSON.stringify(ns) !== JSON.stringify([`${PREFIX}-dut`, `${PREFIX}-peer`])) problems.push(`namespaces: ${ns.join(", ")}`);
  for (const host of ["dut", "peer"]) {
    // The listener's command line names its config; sessions retitle themselves ("sshd: root@notty").
    const listeners = processes(`/run/ixlab/${PREFIX}-${host}/sshd_config`);
    if (listeners.length !== 1) problems.push(`${host}: ${listeners.length} sshd listeners`);
  }
  const netservers = processes("netserver -D -L 198.19.3.2");
  if (netservers.length !== 1) problems.push(`${netservers.length} netservers`);
  const qemus = processes(`/run/ixlab/${PREFIX}-dut/state/guests/vm1/`).filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith("qemu-system"));
  if (qemus.length !== 1) problems.push(`${qemus.length} QEMU processes for vm1`);
  const deployment = exported();
  const urns = (deployment.resources ?? []).map((r: { urn: string }) => r.urn);
  if (new Set(urns).size !== urns.length) problems.push("duplicate resources in the state");
  if ((deployment.pending_operations ?? []).length > 0) problems.push(`${deployment.pending_operations!.length} pending operations in the state`);
  return problems;
}

/** Plugins (provider launchers, language hosts) whose pulumi is gone, re-parented to init. */
function orphanedPlugins(): string[] {
  return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8");
      return /pulumi-resource-pulumi-nodejs|pulumi-language-nodejs/.test(cmd) && /^PPid:\s*1$/m.test(fs.readFileSync(`/proc/${p}/status`, "utf8"));
    } catch {
      return false;
    }
  });
}
// Orphans from before this test (another session's killed pulumi) are not this test's to judge.
const orphansBefore = new Set(orphanedPlugins());

/** Orphaned plugins this test's killed pulumi runs left: none may stay. */
async function newOrphans(): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 3000)); // the wrappers look for their engine every second
  return orphanedPlugins().filter((p) => !orphansBefore.has(p));
}

function sshdPid(host: string): number {
  return Number(fs.readFileSync(`/run/ixlab/${PREFIX}-${host}/sshd.pid`, "utf8").trim());
}

describe("reliability: faults injected into the sim lab", { timeout: 60 * 60 * 1000 }, () => {
  stackFile();
  let resourceCount = 0;

  before(() => {
    ixlab("destroy", "--yes"); // converge from whatever an earlier run left
  });
  after(() => {
    ixlab("destroy", "--yes");
    spawnSync(IXLAB, ["pulumi", "stack", "rm", "--yes", "--force", "--stack", STACK], { cwd: ROOT });
    fs.rmSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), { force: true });
    console.log("fault injected | how often | outcome | anything lost");
    console.log("--- | --- | --- | ---");
    for (const t of table) console.log(`${t.fault} | ${t.times} | ${t.outcome} | ${t.lost}`);
  });

  const points: [NodeJS.Signals, string][] = [
    ["SIGINT", "sim-host-dut"],
    ["SIGKILL", "sim-link-wire"],
    ["SIGINT", "dut-nic"],
    ["SIGKILL", "peer-netserver"],
    ["SIGINT", "vm1-macvtap"],
    ["SIGKILL", "vm1-qemu"],
  ];

  it("converges after `pulumi up` is interrupted at six points, with nothing duplicated", async () => {
    let reached = 0;
    const why: string[] = [];
    for (const [signal, resource] of points) {
      // Independent branches run in parallel, so an earlier up may have finished this point before
      // its signal landed (seen under load): take it and what depends on it down, so it is reached.
      const urn = (exported().resources ?? []).map((r) => r.urn).find((u) => u.endsWith(`::${resource}`));
      if (urn) {
        const down = ixlab("destroy", "--yes", "--skip-preview", "--target", urn, "--target-dependents");
        assert.equal(down.status, 0, pulumiProblem(down.out));
      }
      if (await interruptedUp(signal, resource, why)) reached++;
    }
    assert.equal(reached, points.length, `the interruption points reached: ${reached} of ${points.length}\n${why.join("\n")}`);
    const up = ixlab("up", "--yes", "--skip-preview");
    assert.equal(up.status, 0, pulumiProblem(up.out));
    assert.equal(ixlab("preview", "--expect-no-changes").status, 0, "a converged lab previews no changes");
    assert.deepEqual(labProblems(), []);
    assert.deepEqual(await newOrphans(), [], "the plugins of the killed pulumi runs ended with them");
    resourceCount = exported().resources?.length ?? 0;
    table.push({ fault: "pulumi up interrupted (SIGINT x3, SIGKILL x3 to its process group), then up", times: reached, outcome: "converged, nothing duplicated", lost: 0 });
  });

  it("runs netperf from the guest to the peer on the converged lab", () => {
    const r = spawnSync(IXLAB, ["ssh", "--stack", STACK, "vm1", "--", "netperf -H 198.19.3.2 -p 12865 -t TCP_STREAM -l 2"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it("refuses a second update of the stack while one runs, and the state stays whole", async () => {
    const first = spawn(IXLAB, ["pulumi", "up", "--yes", "--skip-preview", "--stack", STACK, "--non-interactive", "--refresh"], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    first.stdout!.on("data", (d) => (out += d));
    for (let i = 0; i < 300 && !/Refreshing|updating|refreshing/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    const second = ixlab("up", "--yes", "--skip-preview");
    const code = await waitExit(first);
    assert.notEqual(second.status, 0, "the second update must not run alongside the first");
    assert.match(second.out, /the stack is currently locked/);
    assert.equal(code, 0, out);
    assert.equal(ixlab("preview", "--expect-no-changes").status, 0);
    table.push({ fault: "two pulumi up at once on one stack", times: 1, outcome: "second refused: stack is locked; first converged", lost: 0 });
  });

  it("names the host whose sshd hangs, leaves the others alone, and converges once it answers", () => {
    const pid = sshdPid("peer");
    // A hung host: its sshd accepts TCP but never answers. Its netserver dies meanwhile.
    process.kill(pid, "SIGSTOP");
    try {
      const ns = Number(fs.readFileSync(`/run/ixlab/${PREFIX}-peer/state/netserver.pid`, "utf8").trim());
      process.kill(ns, "SIGKILL");
      const up = ixlab("up", "--yes", "--skip-preview");
      assert.notEqual(up.status, 0);
      assert.match(up.out, /of host peer: host peer \(root@198\.18\.3\.11:22\): cannot connect over SSH/);
      assert.doesNotMatch(up.out, /host dut \(root@/, "nothing failed on the other host");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    const again = ixlab("up", "--yes", "--skip-preview");
    assert.equal(again.status, 0, again.out);
    assert.equal(ixlab("preview", "--expect-no-changes").status, 0);
    assert.deepEqual(labProblems(), []);
    table.push({ fault: "peer's sshd hung (SIGSTOP) and its netserver killed", times: 1, outcome: "clear error naming host peer; converged after sshd answered", lost: 0 });
  });

  it("refuses a changed SSH host key, naming the host, until the pin is renewed on purpose", () => {
    const dir = `/run/ixlab/${PREFIX}-dut`;
    // Someone re-keys the host: a new key, sshd restarted on it (the fabric sees a live sshd again).
    fs.rmSync(`${dir}/ssh_host_ed25519_key`);
    fs.rmSync(`${dir}/ssh_host_ed25519_key.pub`);
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ssh_host_ed25519_key`]);
    process.kill(sshdPid("dut"), "SIGHUP"); // sshd re-executes itself and reads the new key
    const qemu = JSON.parse(ixlab("stack", "output", "topology", "--json").stdout).guests[0].qemuPid;
    process.kill(qemu, "SIGKILL"); // something the next up must repair on that host
    const up = ixlab("up", "--yes", "--skip-preview");
    assert.notEqual(up.status, 0);
    assert.match(up.out, /host dut \([^)]*\): SSH host key does not match the key pinned at first contact/);
    const urn = (exported().resources ?? []).map((r) => r.urn).find((u) => u.endsWith("::dut-hostkey"))!;
    const renew = ixlab("up", "--yes", "--skip-preview", "--replace", urn);
    assert.equal(renew.status, 0, renew.out);
    assert.equal(ixlab("preview", "--expect-no-changes").status, 0);
    assert.deepEqual(labProblems(), []);
    table.push({ fault: "dut's SSH host key changed", times: 1, outcome: "clear error naming host dut; converged after --replace of its pin", lost: 0 });
  });

  it("never shows a secret: not in outputs, not in plain text in the state, not in any log", () => {
    const keys = JSON.parse(ixlab("stack", "output", "sshKeys", "--json", "--show-secrets").stdout) as Record<string, string>;
    logs.pop(); // that output is the one place a secret may appear: asked for with --show-secrets
    const needles = Object.values(keys).map((k) => k.split("\n")[1]).filter(Boolean);
    assert.ok(needles.length > 0 && needles.every((n) => n.length > 40));
    const outputs = ixlab("stack", "output", "--json").stdout;
    const stateFile = path.join(TEST_STATE, ".pulumi", "stacks", "ixlab", `${STACK}.json`);
    const haystacks: [string, string][] = [["stack outputs", outputs], ["state file", fs.readFileSync(stateFile, "utf8")], ["pulumi logs", logs.join("\n")]];
    for (const dir of [`/run/ixlab/${PREFIX}-dut`, `/run/ixlab/${PREFIX}-peer`]) {
      const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.isFile() ? [path.join(d, e.name)] : []));
      for (const f of walk(dir).filter((f) => /\.(log|json|txt)$/.test(f))) haystacks.push([f, fs.readFileSync(f, "latin1")]);
    }
    for (const [where, text] of haystacks) {
      assert.ok(!text.includes("PRIVATE KEY"), `a private key in ${where}`);
      for (const n of needles) assert.ok(!text.includes(n), `the stack's private key in ${where}`);
    }
    const own = `/tmp/ixlab-secret-u${process.getuid!()}`;
    const secretDirs = [...fs.readdirSync("/tmp"), ...(fs.existsSync(own) ? fs.readdirSync(own) : [])].filter((d) => /^ixlab-secret-\d+-/.test(d));
    const stale = secretDirs.filter((d) => !fs.existsSync(`/proc/${d.split("-")[2]}`));
    assert.deepEqual(stale, [], "no key material left by a killed process after the next command");
    table.push({ fault: "secrets grep (outputs, state, pulumi and host logs, temp dirs)", times: haystacks.length, outcome: "no private key found", lost: 0 });
  });

  it("destroys a partial lab (up killed mid-way) and leaves nothing", async () => {
    assert.ok(resourceCount > 20);
    assert.equal(ixlab("destroy", "--yes").status, 0);
    assert.ok(await interruptedUp("SIGKILL", "vm1-qemu"), "the up reached the guest before it was killed");
    const destroy = ixlab("destroy", "--yes");
    assert.equal(destroy.status, 0, destroy.out);
    assert.deepEqual(leftovers(PREFIX), []);
    assert.deepEqual(await newOrphans(), [], "no plugin of the killed pulumi is left");
    table.push({ fault: "destroy after an up killed at the guest", times: 1, outcome: "nothing left (namespaces, links, processes, files)", lost: 0 });
  });
});
