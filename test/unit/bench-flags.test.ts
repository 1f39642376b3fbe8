// `ixlab bench` checks every flag, alone and against the stack's lab file, before it touches a stack:
// each bad flag is one line naming it, exit 2, and pulumi is never run (a recorder stands in for it).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumiCli from "../../src/pulumi/cli";
import { main } from "../../src/cli/main";

const calls: string[][] = [];
const original = pulumiCli.capturePulumi;
before(() => {
  (pulumiCli as { capturePulumi: typeof original }).capturePulumi = (args: string[]) => {
    calls.push(args);
    return { status: 1, stdout: "", stderr: "error: no stack named 'x' found" };
  };
});
after(() => ((pulumiCli as { capturePulumi: typeof original }).capturePulumi = original));

async function bench(...args: string[]): Promise<{ code: number; stderr: string }> {
  const lines: string[] = [];
  const err = console.error;
  console.error = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    calls.length = 0;
    const code = await main(["bench", ...args]);
    return { code, stderr: lines.join("\n") };
  } finally {
    console.error = err;
  }
}

describe("ixlab bench refuses bad flags before it touches a stack", () => {
  const cases: [string[], RegExp[]][] = [
    [["--stack", "sim", "--sizes", "huge"], [/^ixlab bench: --sizes: "huge": not a message size \(bytes, or with K\/M: 64, 4K, 64K\)$/m]],
    [["--stack", "sim", "--duration", "2h"], [/^ixlab bench: --duration: 7200 is out of range: 1 s to 3600 s \(the lab's limit for bench\.duration\)$/m]],
    [["--stack", "sim", "--duration", "0"], [/--duration: "0" is not a duration/]],
    [["--stack", "sim", "--sizes", "2M"], [/--sizes: 2M: larger than netperf's 1M send size limit here/]],
    [["--stack", "sim", "--reps", "101"], [/--reps: "101" is not a number of repetitions \(1 to 100\)/]],
    [["--stack", "sim", "--order", "shuffled"], [/--order: "shuffled" is not an order/]],
    [["--stack", "sim", "--until-ci", "-2%"], [/--until-ci: "-2%" is not a target/]],
    [["--stack", "sim", "--until-ci", "2%", "--max-reps", "200"], [/--max-reps: "200" is not a number of repetitions \(2 to 100\)/]],
    [["--stack", "sim", "--series", "host"], [/--series: "host" is not a kernel of this lab \(kernels: guest\)/]],
    [["--stack", "sim", "--series", "guest", "--variants", "baseline,zerocopy"], [/--variants: a series walk runs every prefix on one variant/]],
    [["--stack", "sim", "--variants", "fast", "--guest", "vm9"], [/--variants: "fast" is not a variant of this lab/, /--guest: "vm9" is not a guest of this lab \(guests: vm1\)/]],
    // No lab file: the flag is still named, beside the missing file, and not "no stack named".
    [["--stack", "nosuch", "--sizes", "huge"], [/--sizes: "huge": not a message size/, /--stack: no lab file Pulumi\.nosuch\.yaml for stack nosuch/]],
    [["--stack", "a;b"], [/--stack: "a;b" is not a stack name/]],
    [["--stack", "sim", "--resume", "x", "--order", "interleaved"], [/--resume continues a run with its own matrix \(run\.json\); drop --order/]],
  ];
  for (const [args, want] of cases) {
    it(args.join(" "), async () => {
      const r = await bench(...args);
      assert.equal(r.code, 2, r.stderr);
      for (const re of want) assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /no stack named|cannot read output/);
      assert.deepEqual(calls, [], "pulumi was not run");
    });
  }

  it("good flags get as far as the stack (here: the stand-in pulumi, which has no such stack)", async () => {
    const r = await bench("--stack", "sim", "--sizes", "4K,64K", "--reps", "2", "--duration", "5", "--order", "interleaved", "--until-ci", "2%", "--max-reps", "4");
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /stack sim: cannot read output topology/);
    assert.ok(calls.length > 0);
    const series = await bench("--stack", "sim", "--series", "guest", "--sizes", "4K,64K", "--reps", "2", "--duration", "5");
    assert.match(series.stderr, /stack sim: cannot read output topology/, "the sim's guest kernel has a series to walk");
  });

  it("reads a kernel's series from its directory, and refuses an mbox of several patches", () => {
    const { seriesOf } = require("../../src/bench/lab-facts") as typeof import("../../src/bench/lab-facts");
    const root = require("../helpers").ROOT as string;
    assert.deepEqual(seriesOf("patches/sim-demo", root).patches, ["0001-init-say-that-the-ixlab-demo-series-is-applied.patch", "0002-vhost_net-log-the-zero-copy-TX-switch-at-load.patch"]);
    const fs = require("node:fs") as typeof import("node:fs");
    const os = require("node:os") as typeof import("node:os");
    const path = require("node:path") as typeof import("node:path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-mbox-"));
    try {
      const mail = (n: number) => `From ${String(n).repeat(40)} Mon Sep 17 00:00:00 2001\nSubject: [PATCH ${n}/2] x\n\n---\n`;
      fs.writeFileSync(path.join(dir, "two.mbox"), mail(1) + mail(2));
      assert.deepEqual(seriesOf(path.join(dir, "two.mbox"), root), { patches: null, why: `${path.join(dir, "two.mbox")} is an mbox of 2 patches; a series walk needs a directory of .patch files` });
      fs.writeFileSync(path.join(dir, "one.patch"), mail(1));
      assert.deepEqual(seriesOf(path.join(dir, "one.patch"), root).patches, ["one.patch"]);
      assert.match(seriesOf(undefined, root).why!, /not set/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
