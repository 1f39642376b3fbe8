// The sim lab for real: `pulumi up` from nothing, a second up with no changes, netperf across the veth
// wire with the topology's own command, a netserver that died found and restarted, `pulumi destroy`,
// and nothing left on the machine. Runs as its own stack with its own names and addresses, so a sim
// lab someone has up (stack sim) is not touched.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { capturePulumi, ensureStack } from "../../src/pulumi/cli";
import { cacheDir } from "../../src/paths";
import { ROOT } from "../helpers";
import { leftovers } from "../leftovers";

const STACK = "simtest";
const PREFIX = "ixt";

function stackFile(): string {
  const text = fs
    .readFileSync(path.join(ROOT, "Pulumi.sim.yaml"), "utf8")
    .replace(/^encryptionsalt:.*$/m, "")
    .replace("prefix: ixl", `prefix: ${PREFIX}`)
    .replace("managementNet: 198.18.0.0/24", "managementNet: 198.18.1.0/24")
    .replace("dataNet: 198.19.0.0/24", "dataNet: 198.19.1.0/24")
    .replace(/198\.19\.0\./g, "198.19.1.");
  // The stack's own config file (git-ignored), so every pulumi command reads it like a user's stack.
  const file = path.join(ROOT, `Pulumi.${STACK}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

describe("sim lab: up, no-op up, netperf, drift, destroy", () => {
  stackFile();
  const pulumi = (...args: string[]) => capturePulumi([...args, "--stack", STACK, "--non-interactive"]);
  const timings: Record<string, number> = {};
  const timed = (label: string, ...args: string[]) => {
    const start = Date.now();
    const r = pulumi(...args);
    timings[label] = (Date.now() - start) / 1000;
    return r;
  };

  before(() => {
    ensureStack(STACK);
    pulumi("destroy", "--yes"); // converge from whatever an interrupted earlier run left
  });
  after(() => {
    pulumi("destroy", "--yes");
    capturePulumi(["stack", "rm", "--yes", "--force", "--stack", STACK]);
    console.log(`sim lab timings (s): ${JSON.stringify(timings)}`);
  });

  it("comes up from nothing", () => {
    const r = timed("up", "up", "--yes", "--skip-preview");
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it("reports no changes on a second up", () => {
    const r = timed("noopUp", "up", "--yes", "--skip-preview", "--expect-no-changes");
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  let topology: any;
  it("outputs a topology with pinned host keys, facts and a peer", () => {
    const r = pulumi("stack", "output", "topology", "--json");
    assert.equal(r.status, 0, r.stderr);
    topology = JSON.parse(r.stdout);
    assert.equal(topology.simulated, true);
    assert.deepEqual(topology.hosts.map((h: any) => h.name), ["dut", "peer"]);
    for (const h of topology.hosts) {
      assert.match(h.management.hostKey, /^ssh-ed25519 /);
      assert.match(h.management.address, /^198\.18\.1\./);
      assert.equal(typeof h.kernel, "string");
      assert.equal(h.facts.kvm, fs.existsSync("/dev/kvm"), "kvm fact must say what this machine has");
    }
    assert.deepEqual(topology.peer, { host: "peer", address: "198.19.1.2", port: 12865 });
    assert.match(topology.commands.netperf, /ixlab ssh --stack simtest dut -- netperf -H 198\.19\.1\.2 -p 12865 -t TCP_STREAM/);
    const text = JSON.stringify(topology);
    assert.ok(!text.includes("PRIVATE KEY"), "the topology holds no private key");
  });

  it("runs netperf across the wire with the topology's command", () => {
    const cmd = topology.commands.netperf.replace(/^npx ixlab/, "bin/ixlab").replace("-l 10", "-l 3");
    const r = spawnSync("bash", ["-c", cmd], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // The last line of netperf's TCP_STREAM table: recv socket, send socket, message size, time, throughput (10^6 bits/s).
    const row = r.stdout.trim().split("\n").pop()!.trim().split(/\s+/).map(Number);
    assert.equal(row.length, 5, r.stdout);
    assert.ok(row[4] > 0, `throughput ${row[4]}`);
    console.log(`sim wire TCP_STREAM: ${row[4]} Mb/s (veth, 3 s)`);
  });

  it("finds a netserver that died and restarts it", () => {
    const kill = spawnSync("bin/ixlab", ["ssh", "--stack", STACK, "peer", "--", 'kill "$(cat "$IXLAB_STATE_DIR/netserver.pid")"'], { cwd: ROOT, encoding: "utf8" });
    assert.equal(kill.status, 0, kill.stderr);
    const preview = pulumi("preview", "--expect-no-changes");
    assert.notEqual(preview.status, 0, "preview must see the dead netserver");
    const up = pulumi("up", "--yes", "--skip-preview");
    assert.equal(up.status, 0, up.stdout + up.stderr);
    assert.equal(pulumi("preview", "--expect-no-changes").status, 0);
  });

  it("destroys everything and leaves nothing behind", () => {
    const r = timed("destroy", "destroy", "--yes");
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(leftovers(PREFIX), []);
    // The stack's kernel outputs and boot records go too (build trees and ccache stay: caches).
    const out = path.join(cacheDir(), "kernels", "out", STACK);
    assert.deepEqual(fs.existsSync(out) ? fs.readdirSync(out) : [], []);
    const boot = path.join(cacheDir(), "kernels", "boot");
    assert.deepEqual(fs.existsSync(boot) ? fs.readdirSync(boot).filter((d) => topology.kernels.some((k: any) => k.sha256?.startsWith(d))) : [], []);
  });
});
