// ixlab report on bad input (test/fixtures/bad-results/report/: each case a run directory, its
// ARGS, the EXPECT lines its output must hold and its STATUS, 2 unless said): one line per problem
// naming the path, no stack trace, no control character on the terminal, no temporary file left,
// caps on what a run can make it read; and --format email, --fail-on, --threshold.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { renderReport } from "../../src/report";
import { EMAIL_WIDTH } from "../../src/report/email";
import { LIMITS, neutralise, preflight } from "../../src/report/io";
import { fixture, ROOT } from "../helpers";
import { syntheticRun } from "../report-helpers";
import { normals, simEnvironmentWithoutVhost, scratch, writeSyntheticRun } from "../verdict-helpers";

const tmp = scratch("ixlab-report-in-");

function ixlab(args: string[], wrap?: string) {
  const bin = path.join(ROOT, "bin", "ixlab");
  const r = wrap ? spawnSync("bash", ["-c", wrap, "bash", bin, ...args], { cwd: ROOT, encoding: "utf8" }) : spawnSync(bin, args, { cwd: ROOT, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: r.stdout + r.stderr };
}

const listing = (dir: string): string[] =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).map(String).sort();

const corpus = fixture("bad-results", "report");
const cases = fs.readdirSync(corpus).filter((d) => fs.statSync(path.join(corpus, d)).isDirectory()).sort();

describe("ixlab report: the bad-input corpus", () => {
  it("has its cases", () => assert.ok(cases.length >= 10, `only ${cases.length}`));
  for (const name of cases)
    it(name, () => {
      const run = path.join(tmp(), name);
      fs.cpSync(path.join(corpus, name), run, { recursive: true });
      const before = listing(run);
      const read = (f: string) => fs.readFileSync(path.join(run, f), "utf8");
      const args = read("ARGS").split("\n").filter(Boolean).map((a) => a.replace(/^RUN/, run));
      const status = fs.existsSync(path.join(run, "STATUS")) ? Number(read("STATUS")) : 2;
      const r = ixlab(["report", run, ...args]);
      assert.equal(r.status, status, r.out);
      for (const e of read("EXPECT").split("\n").filter(Boolean)) assert.ok(r.out.includes(e), `expected ${JSON.stringify(e)} in:\n${r.out}`);
      assert.ok(!/^\s+at /m.test(r.stderr), `a stack trace:\n${r.stderr}`);
      assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/.test(r.out), `a control character reached the terminal:\n${JSON.stringify(r.out)}`);
      if (status === 2) assert.ok(r.stderr.trim().split("\n").length <= 3, `one line per problem:\n${r.stderr}`);
      assert.deepEqual(listing(run), before, "the report left or removed files");
    });
});

describe("ixlab report: caps and writes", () => {
  it("refuses a cell.json over the cap before reading it", () => {
    const dir = syntheticRun(tmp());
    const cell = path.join(dir, "cells", "baseline.tcp_stream.4K.s1.r1", "cell.json");
    fs.appendFileSync(cell, " ".repeat(LIMITS.cellJsonBytes));
    assert.throws(() => preflight(dir), /cell\.json: \d+ bytes; a cell\.json is at most 1048576 bytes/);
  });

  it("an HTML write that fails half-way (the file size limit) leaves no temporary file and says why in one line", () => {
    const dir = syntheticRun(tmp());
    const out = tmp();
    // SIGXFSZ ignored: the write fails with EFBIG instead of killing the process.
    const r = ixlab(["report", dir, "--html", path.join(out, "page.html")], `trap '' XFSZ; ulimit -f 4; exec "$@"`);
    assert.equal(r.status, 2, r.out);
    assert.match(r.stderr, /^ixlab report: --html .*page\.html: cannot write: EFBIG$/m);
    assert.deepEqual(fs.readdirSync(out), [], "no page, no temporary file");
  });

  it("neutralise writes control characters out and keeps the rest", () => {
    assert.equal(neutralise("a\u001b[31mb\u0007c\u202eé\t"), "a\\x1b[31mb\\x07c\\u202eé\\x09");
  });
});

describe("ixlab report --format email, --fail-on, --threshold", () => {
  it("email: 72 columns, the reference's table with CI and verdicts, the environment, the exact bench command", () => {
    const dir = syntheticRun(tmp());
    const r = ixlab(["report", dir, "--format", "email", "--reference", "seed", "--no-html"]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split("\n");
    for (const l of lines) assert.ok(l.length <= EMAIL_WIDTH, `${l.length} columns: ${l}`);
    assert.ok(!/[^\x0a\x20-\x7e]/.test(r.stdout), "plain ASCII");
    assert.match(r.stdout, /^zerocopy vs baseline:$/m);
    assert.match(r.stdout, /^ {2}- throughput improved at 4K \+50\.0% \[\+47\.3, \+52\.8\] p=0\.0006;$/m);
    assert.match(r.stdout, /^size variant +Mb\/s +\+- +qemu vhost irq\/s +delta verdict$/m);
    assert.match(r.stdout, /^ {2}4K zerocopy +7367\.3 144\.9 +92\.0 +22\.5 +1200 \+50\.0% improved$/m);
    assert.match(r.stdout, /^ {2}4K seed:zerocopy +7408\.6 +92\.1 +22\.6 +1229 \+50\.8% -$/m);
    assert.match(r.stdout, /^ {2}4K +zerocopy +throughput +\+50\.0% \[\+47\.3, \+52\.8\] +0\.0006 +improved$/m);
    assert.match(r.stdout, /^Environment:\n {2}QEMU 7\.2\.0$/m);
    assert.match(r.stdout, /^Reproduce:\n {2}lab Pulumi\.sim\.yaml at revision \(not recorded\), then\n {2}\$ npx ixlab bench --stack sim --variants baseline,zerocopy --sizes \\\n {6}4K,64K --duration 2 --reps 3$/m);
  });

  it("email of a sim run whose variants cannot differ: not comparable, the reason, the sim's environment", () => {
    const g = normals(11);
    const env = { ...simEnvironmentWithoutVhost(["baseline", "zerocopy"]), accel: "tcg", labRevision: { revision: "0123456789abcdef0123", dirty: false }, sim: { simulated: true } };
    const dir = writeSyntheticRun(tmp(), { variants: ["baseline", "zerocopy"], sizes: [4096, 65536], repetitions: 2, environment: env, figures: () => ({ mbps: g(300, 40), qemu: g(100, 2) }) });
    const r = ixlab(["report", dir, "--format", "email", "--no-html"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^zerocopy vs baseline:\n {2}- not comparable: baseline and zerocopy ran the same datapath here:\n {4}vhost not effective, no \/dev\/vhost-net$/m);
    assert.match(r.stdout, /^ {2}4K +zerocopy .* n\/c +not comparable$/m);
    assert.match(r.stdout, /^ {2}kernels: dut 6\.1\.0-28-amd64, peer 6\.1\.0-28-amd64$/m);
    assert.match(r.stdout, /^ {2}baseline, zerocopy: vhost not effective \(no \/dev\/vhost-net\)$/m);
    assert.match(r.stdout, /lab Pulumi\.sim\.yaml at revision 0123456789ab, then/);
    for (const l of r.stdout.split("\n")) assert.ok(l.length <= EMAIL_WIDTH, l);
  });

  it("--fail-on regressed exits 1 naming the figures; a clean run exits 0; --fail-on inconclusive is stricter", () => {
    const g = normals(12);
    const dir = writeSyntheticRun(tmp(), { variants: ["baseline", "patched"], sizes: [4096, 65536], repetitions: 5, figures: (v, size) => ({ mbps: v === "patched" && size === 65536 ? g(9000, 45) : g(10000, 50) }) });
    const bad = ixlab(["report", dir, "--no-html", "--fail-on", "regressed"]);
    assert.equal(bad.status, 1, bad.out);
    assert.match(bad.stderr, /^ixlab report: --fail-on regressed: 1 figure:\n {2}TCP_STREAM 64K patched throughput: regressed -10\.\d% \[/m);
    assert.match(bad.stdout, /^# ixlab report/, "the report is still printed");
    const ok = ixlab(["report", syntheticRun(tmp()), "--no-html", "--fail-on", "regressed"]);
    assert.equal(ok.status, 0, ok.out);
    const strict = ixlab(["report", syntheticRun(tmp()), "--no-html", "--fail-on", "inconclusive"]);
    assert.equal(strict.status, 1, "64K throughput is inconclusive in the synthetic run");
    assert.match(strict.stderr, /TCP_STREAM 64K zerocopy throughput: inconclusive \+0\.7%/);
  });

  it("--threshold widens the no-change band", () => {
    const g = normals(13);
    const dir = writeSyntheticRun(tmp(), { variants: ["baseline", "patched"], sizes: [4096], repetitions: 5, figures: (v) => ({ mbps: g(v === "patched" ? 10150 : 10000, 100) }) });
    const verdict = (t?: number) => renderReport([dir], { html: false, thresholdPct: t }).report.tables[0].rows[1].comparison!.verdict;
    // +1.1% [+0.2, +2.0x]: the interval reaches past +2%, and p < 0.05 after Holm: a small gain.
    assert.equal(verdict(), "improved");
    assert.equal(verdict(5), "no change");
    assert.match(ixlab(["report", dir, "--no-html", "--threshold", "5%"]).stdout, /^\| 4K \| patched \| .* \| no change \|$/m);
  });
});
