// The GitOps pipeline for real: each workflow of .github/workflows/ run end to end by nektos/act in host
// mode (scripts/act.sh), in the order a repository sees them, on a sim lab of its own (stack t-gitops,
// prefix ixg, 198.18.60.0/24 and 198.19.60.0/24) with a state directory of its own. The repository is
// its own too: main is a snapshot of this work tree, and a pull request adds the lab's file.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { cacheDir } from "../../src/paths";
import { pulumiCommand } from "../../src/pulumi/cli";
import { ROOT, simTestStack } from "../helpers";
import { leftovers } from "../leftovers";
import { normals, writeSyntheticRun } from "../verdict-helpers";

const STACK = "t-gitops";
const PREFIX = "ixg";
// Made by before(): a file that is only loaded (the suite skipped, as in npm test) leaves nothing.
const scratch = path.join(os.tmpdir(), `ixlab-gitops-${randomBytes(3).toString("hex")}`);
const repo = path.join(scratch, "repo");
const state = path.join(scratch, "state");
// scripts/act.sh keeps each run here, its secrets file and act's workspaces included: empty after every run.
const tmp = path.join(scratch, "tmp");
const passphrase = randomBytes(24).toString("base64");
// A fake key, passed as the LAB_SSH_KEY secret: it must never show in a log or the state.
const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n${randomBytes(48).toString("base64")}\n-----END OPENSSH PRIVATE KEY-----`;
const secretEnv = { PULUMI_BACKEND_URL: `file://${state}`, PULUMI_CONFIG_PASSPHRASE: passphrase, LAB_SSH_KEY: key };
const VARS = ["--var", `IXLAB_STACKS=${STACK}`];

function git(...args: string[]): string {
  const r = spawnSync("git", ["-c", "user.name=ixlab test", "-c", "user.email=test@ixlab.invalid", ...args], { cwd: repo, encoding: "utf8" });
  assert.equal(r.status, 0, `git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A repository whose main is this work tree's files (committed or not, as git would add them). */
function makeRepo(): void {
  const files = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(files.status, 0, files.stderr);
  for (const f of files.stdout.split("\0").filter(Boolean)) {
    const from = path.join(ROOT, f);
    if (f === `Pulumi.${STACK}.yaml` || !fs.existsSync(from) || fs.lstatSync(from).isDirectory()) continue;
    fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    fs.copyFileSync(from, path.join(repo, f));
    fs.chmodSync(path.join(repo, f), fs.statSync(from).mode);
  }
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "ixlab as it is in the work tree");
}

interface Run {
  status: number;
  log: string;
  seconds: number;
  out: string;
  summary(job: string): string;
}

const times: Record<string, number> = {};
let running = 0;

/** scripts/act.sh run WORKFLOW EVENT ARGS..., its output kept under LABEL; resolves when it ends. */
function act(label: string, workflow: string, event: string, args: string[], onLine?: (line: string) => void): Promise<Run> {
  const out = path.join(scratch, "out", label.replace(/[^A-Za-z0-9_-]+/g, "-"));
  const start = Date.now();
  running++;
  const child = spawn("bash", ["scripts/act.sh", "run", workflow, event, "--repo", repo, "--out", out, ...args, "--secret", "PULUMI_BACKEND_URL", "--secret", "PULUMI_CONFIG_PASSPHRASE", "--secret", "LAB_SSH_KEY"], {
    cwd: ROOT,
    env: { ...process.env, ...secretEnv, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  let partial = "";
  const take = (d: Buffer) => {
    log += d;
    const lines = (partial + d).split("\n");
    partial = lines.pop() ?? "";
    if (onLine) lines.forEach(onLine);
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  const closed = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
  return closed.then((code) => {
    running--;
    const seconds = (Date.now() - start) / 1000;
    times[label] = Math.round(seconds);
    // Each step's time, as act gives it, for the README's figures.
    const steps = [...log.matchAll(/^\[([^\]]+)\] +(?:✅ +Success|❌ +Failure) - Main (.*) \[(?:(\d+)m)?([\d.]+)(m?s)\]$/gm)].map(
      (m) => `${m[1].split("/").pop()}: ${m[2]} ${(Number(m[3] ?? 0) * 60 + Number(m[4]) / (m[5] === "ms" ? 1000 : 1)).toFixed(1)} s`,
    );
    console.log(`${label}: exit ${code} in ${seconds.toFixed(0)} s (${steps.join("; ")})`);
    assert.ok(!log.includes(passphrase) && !log.includes(key.split("\n")[1]), `${label}: a secret is in the log`);
    if (running === 0) assert.deepEqual(fs.readdirSync(tmp), [], `${label}: act.sh or act left files in TMPDIR`);
    const summary = (job: string) => {
      const f = path.join(out, "summaries", `${job}.md`);
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
    };
    return { status: code, log, seconds, out, summary };
  });
}

/** pulumi on the test's own state (for checks and the last-resort cleanup, never for the pipeline's work). */
function pulumi(...args: string[]) {
  const [cmd, argv] = pulumiCommand([...args, "--stack", STACK, "--non-interactive"]);
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...secretEnv, PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER: "true" } });
  return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function resources(): { type: string; urn: string }[] {
  const r = pulumi("stack", "export");
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout).deployment;
  assert.deepEqual(d.pending_operations ?? [], [], "no operation left pending");
  return d.resources ?? [];
}

/** PIDs of processes whose command line names the test's scratch directory (act, its jobs, the git server). */
function ownProcesses(): string[] {
  return fs.readdirSync("/proc").filter((p) => {
    if (!/^[0-9]+$/.test(p) || Number(p) === process.pid) return false;
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(scratch);
    } catch {
      return false;
    }
  });
}

/** Files under DIR that contain TEXT. */
function filesWith(dir: string, text: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => {
    const p = path.join(dir, f);
    return fs.statSync(p).isFile() && fs.readFileSync(p, "utf8").includes(text);
  });
}

function netserverPid(): number {
  const pid = Number(fs.readFileSync(`/run/ixlab/${PREFIX}-peer/state/netserver.pid`, "utf8").trim());
  assert.equal(fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim(), "netserver");
  return pid;
}

// 14-17 min on 2 cores (twelve job checkouts, each with its own npm ci): with the one-time builds a
// new machine's `npm test` would pass CI's hour, so it runs with `npm run test:gitops`.
const skip = process.env.IXLAB_GITOPS_TESTS === "1" ? false : "the GitOps pipeline test runs with `npm run test:gitops` (14-17 min under act)";

describe("the GitOps pipeline under act, on its own sim lab", { timeout: 40 * 60_000, skip }, () => {
  const start = Date.now();
  let actCacheBefore = false;

  before(() => {
    actCacheBefore = fs.existsSync(path.join(os.homedir(), ".cache", "act"));
    fs.mkdirSync(scratch, { mode: 0o700 });
    fs.mkdirSync(tmp);
    fs.mkdirSync(state);
    // act and upload-artifact are built once per machine; that is not any workflow's time.
    const built = spawnSync("bash", ["scripts/act.sh"], { cwd: ROOT, encoding: "utf8", timeout: 15 * 60_000 });
    assert.equal(built.status, 0, built.stderr);
    makeRepo();
  });

  after(() => {
    // Last resort after a failure: the lab goes the way the destroy workflow would have taken it.
    if (fs.existsSync(path.join(state, ".pulumi")) && pulumi("stack", "ls").status === 0) {
      pulumi("destroy", "--yes", "--skip-preview");
      pulumi("stack", "rm", "--yes", "--force");
    }
    const procs = ownProcesses();
    fs.rmSync(scratch, { recursive: true, force: true });
    // pulumi writes the stack's settings (its salt) next to Pulumi.yaml when it runs on the stack here.
    fs.rmSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), { force: true });
    console.log(`gitops under act, wall time (s): ${JSON.stringify(times)}; whole test ${Math.round((Date.now() - start) / 1000)} s`);
    assert.deepEqual(procs, [], "no act, job or git server process is left");
    assert.deepEqual(leftovers(PREFIX), [], "nothing of the lab is left");
    const out = path.join(cacheDir(), "kernels", "out", STACK);
    assert.deepEqual(fs.existsSync(out) ? fs.readdirSync(out) : [], [], "no kernel output of the stack is left");
    if (fs.existsSync(out)) fs.rmdirSync(out);
    assert.equal(fs.existsSync(path.join(os.homedir(), ".cache", "act")), actCacheBefore, "act kept its workspaces in the run's own directory");
  });

  let mainBefore = "";
  let recorded64K = 0;
  it("pull_request: validates, runs the unit tests, and previews the stack it adds into the job summary", async () => {
    mainBefore = git("rev-parse", "main");
    git("checkout", "-q", "-b", "lab");
    const file = simTestStack(STACK, PREFIX, 60);
    fs.copyFileSync(file, path.join(repo, `Pulumi.${STACK}.yaml`));
    fs.rmSync(file);
    git("add", "-f", `Pulumi.${STACK}.yaml`);
    git("commit", "-q", "-m", `lab ${STACK}`);
    git("checkout", "-q", "main");
    // The unit step runs one file (the workflows' own tests, actionlint included): npm test runs them all.
    const r = await act("pull_request", "pull-request", "pull_request", ["--base", "main", "--head", "lab", ...VARS, "--var", "IXLAB_UNIT_TESTS=workflows"]);
    assert.equal(r.status, 0, r.log);
    assert.match(r.log, /\[pull request\/checks[^\]]*\] .*Success - Main Unit tests/);
    assert.match(r.log, /set-output:: stacks=\["t-gitops"\]/);
    assert.match(r.summary("checks"), /^\| Pulumi\.t-gitops\.yaml \| valid \|$/m);
    const preview = r.summary("preview");
    assert.match(preview, /^### pulumi preview --stack t-gitops \(exit 0\)$/m);
    for (const t of ["ixlab:index:Host: \\(create\\)", "ixlab:index:Guest: \\(create\\)", "::peer-netserver\\]"]) assert.match(preview, new RegExp(t));
    assert.deepEqual(resources(), [], "a preview creates nothing");
    console.log(`preview job summary:\n${preview.split("\n").slice(0, 12).join("\n")}\n[...]\n${preview.split("\n").slice(-8).join("\n")}`);
  });

  it("push to main: pulumi up of the stack; a second deploy that overlaps it is refused and the state stays intact", async () => {
    git("merge", "-q", "--ff-only", "lab");
    // act enforces no `concurrency:` group, so a second run of the push (a forge would queue it) starts
    // as soon as the first one's up job does: their pulumi ups overlap, and Pulumi's stack lock
    // refuses whichever comes second.
    let second: Promise<Run> | undefined;
    const first = act("push", "deploy", "push", ["--before", mainBefore, ...VARS], (line) => {
      if (!second && /\[deploy\/up[^\]]*\] +⭐ Run Main Set up/.test(line)) second = act("push (overlapping)", "deploy", "push", ["--before", mainBefore, ...VARS]);
    });
    const runs = [await first];
    assert.ok(second, `the overlapping run started: ${runs[0].log}`);
    runs.push(await second!);
    const won = runs.filter((r) => r.status === 0);
    assert.equal(won.length, 1, `exactly one deploy succeeds: ${runs.map((r) => r.status).join(", ")}\n${runs.map((r) => r.log).join("\n")}`);
    assert.match(won[0].summary("up"), /^### pulumi up --stack t-gitops \(exit 0\)$/m);
    const refused = runs.find((r) => r.status !== 0)!;
    assert.match(refused.log, /the stack is currently locked by 1 lock\(s\)/, refused.log);
    assert.match(refused.summary("up"), /^### pulumi up --stack t-gitops \(exit [1-9][0-9]*\)$/m);
    console.log(`the overlapping deploy: ${refused.log.split("\n").find((l) => /currently locked/.test(l))?.trim()}`);
    const names = resources().map((x) => x.urn.split("::").pop());
    for (const n of ["dut", "peer", "vm1", "peer-netserver"]) assert.ok(names.includes(n), `${n} is in the state`);
    assert.ok(netserverPid() > 0);
  });

  it("schedule: drift finds nothing; a netserver killed by its PID fails it with exit 3, naming it; deploy converges", async () => {
    let r = await act("schedule (no drift)", "drift", "schedule", VARS);
    assert.equal(r.status, 0, r.log);
    assert.match(r.summary("drift"), /^### drift check, stack t-gitops \(exit 0\)$/m);

    const pid = netserverPid();
    process.kill(pid, "SIGKILL");
    r = await act("schedule (drift)", "drift", "schedule", VARS);
    assert.notEqual(r.status, 0);
    assert.match(r.log, /\[drift\/drift[^\]]*\] .*exit status 3/);
    assert.match(r.log, /::error title=ixlab drift on t-gitops::the lab differs from its stack/);
    const drift = r.summary("drift");
    assert.match(drift, /^### DRIFT on stack t-gitops: the lab is not what its stack says$/m);
    assert.match(drift, /peer-netserver/);
    console.log(`drift failure:\n${r.log.split("\n").filter((l) => /::error|exit status 3|Job failed/.test(l)).join("\n")}\n${drift.split("\n").filter((l) => /DRIFT|netserver|error:/.test(l)).join("\n")}`);

    // Re-running the merge's deploy (GitHub's "Re-run jobs") puts it right.
    r = await act("push (converge)", "deploy", "push", ["--before", mainBefore, ...VARS]);
    assert.equal(r.status, 0, r.log);
    assert.notEqual(netserverPid(), pid, "a new netserver runs");
    // From this work tree, another checkout than any job's: the plan must not depend on where it is.
    const converged = pulumi("preview", "--expect-no-changes", "--config-file", path.join(repo, `Pulumi.${STACK}.yaml`));
    assert.equal(converged.status, 0, `converged: ${converged.stdout}${converged.stderr}`);
  });

  it("workflow_dispatch bench with inputs: the run directory goes to act's artifact server through upload-artifact", async () => {
    const r = await act("workflow_dispatch bench", "bench", "workflow_dispatch", [
      ...VARS,
      ...["--input", `stack=${STACK}`, "--input", "variants=baseline", "--input", "sizes=4K,64K", "--input", "duration=2", "--input", "repetitions=1"],
    ]);
    assert.equal(r.status, 0, r.log);
    assert.match(r.log, /\[bench\/bench[^\]]*\] .*Success - Main Upload the run and its report/);
    const summary = r.summary("bench");
    assert.match(summary, /^### Bench t-gitops\/\S+ \(exit 0\)$/m);
    assert.match(summary, /\| 64K +\| baseline +\| [\d.]+/);
    const zips = spawnSync("find", [path.join(r.out, "artifacts"), "-type", "f"], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
    assert.equal(zips.length, 1, `one artifact file: ${zips.join(", ")}`);
    const list = spawnSync("unzip", ["-Z1", zips[0]], { encoding: "utf8" });
    assert.equal(list.status, 0, list.stderr);
    const files = list.stdout.trim().split("\n").sort();
    // report-email.txt: the verdict gate's text (`ixlab report --fail-on regressed`), which passed.
    for (const f of ["run.json", "report.html", "report-email.txt"]) assert.ok(files.includes(f), `${f} in the artifact`);
    assert.equal(files.filter((f) => /^cells\/[^/]+\/cell\.json$/.test(f)).length, 2, "two cells");
    const json = spawnSync("unzip", ["-p", zips[0], "run.json"], { encoding: "utf8" }).stdout;
    assert.ok(!json.includes("PRIVATE KEY"));
    console.log(`artifact ${path.relative(r.out, zips[0])}:\n${files.join("\n")}`);
    for (const f of files.filter((f) => /^cells\/[^/]+\/cell\.json$/.test(f))) {
      const cell = JSON.parse(spawnSync("unzip", ["-p", zips[0], f], { encoding: "utf8" }).stdout);
      if (cell.size === 65536) recorded64K = cell.throughputMbps;
    }
    assert.ok(recorded64K > 0, "the 64K cell has a throughput");
  });

  it("workflow_dispatch bench against a baseline that was faster: the verdict gate fails the job, the run is still uploaded", async () => {
    // The regressed run, the cheapest honest way: a baseline run kept in the repository, written by the
    // verdict tests' helper from the 64K cell this lab just recorded (the artifact above) at ten times
    // its throughput (5 repetitions, seeded 1% noise, no recorded datapath, so the report compares the
    // two). The bench then measures 3 real repetitions on the lab, about 90% below it.
    const g = normals(60);
    const made = writeSyntheticRun(path.join(scratch, "baseline"), {
      stack: STACK,
      run: "fast",
      variants: ["baseline"],
      sizes: [65536],
      repetitions: 5,
      figures: () => ({ mbps: g(10 * recorded64K, 0.1 * recorded64K) }),
    });
    fs.cpSync(made, path.join(repo, "baselines", STACK, "fast"), { recursive: true });
    git("add", "baselines");
    git("commit", "-q", "-m", `a baseline run of ${STACK}`);
    const r = await act("workflow_dispatch bench (regressed)", "bench", "workflow_dispatch", [
      ...VARS,
      ...["--input", `stack=${STACK}`, "--input", "variants=baseline", "--input", "sizes=64K", "--input", "duration=2", "--input", "repetitions=3"],
      ...["--input", `baseline=baselines/${STACK}/fast`],
    ]);
    assert.notEqual(r.status, 0, "the job fails");
    assert.match(r.log, /\[bench\/bench[^\]]*\] .*Failure - Main ixlab bench/);
    assert.match(r.log, /ixlab report: --fail-on regressed: 1 figure:/);
    assert.match(r.log, /TCP_STREAM 64K \S+:baseline throughput: regressed -\d+\.\d%/);
    assert.match(r.log, /\[bench\/bench[^\]]*\] .*Success - Main Upload the run and its report/);
    const summary = r.summary("bench");
    assert.match(summary, /^### Bench t-gitops\/\S+ \(exit 0\)$/m, "the bench itself succeeded");
    assert.match(summary, /throughput regressed at 64K -\d/);
    const zips = spawnSync("find", [path.join(r.out, "artifacts"), "-type", "f"], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
    assert.equal(zips.length, 1, `one artifact file: ${zips.join(", ")}`);
    const files = spawnSync("unzip", ["-Z1", zips[0]], { encoding: "utf8" }).stdout.trim().split("\n");
    assert.equal(files.filter((f) => /^cells\/[^/]+\/cell\.json$/.test(f)).length, 3, "three cells");
    const email = spawnSync("unzip", ["-p", zips[0], "report-email.txt"], { encoding: "utf8" }).stdout;
    assert.match(email, /vs fast:baseline:\n\s+- throughput regressed at 64K/);
    console.log(`the gate:\n${r.log.split("\n").filter((l) => /--fail-on|regressed -|Failure - Main|Job failed/.test(l)).join("\n")}`);
  });

  it("workflow_dispatch destroy: a wrong confirmation is refused, the right one destroys and nothing is left", async () => {
    let r = await act("workflow_dispatch destroy (wrong)", "destroy", "workflow_dispatch", [...VARS, "--input", `stack=${STACK}`, "--input", "confirm=t-gitop"]);
    assert.notEqual(r.status, 0);
    assert.match(r.log, /refusing to destroy stack "t-gitops": the confirmation "t-gitop" is not its name/);
    assert.doesNotMatch(r.log, /\[destroy\/destroy[^\]]*\] +⭐ Run Main pulumi destroy/);
    assert.notDeepEqual(leftovers(PREFIX), [], "the lab is still up");

    r = await act("workflow_dispatch destroy", "destroy", "workflow_dispatch", [...VARS, "--input", `stack=${STACK}`, "--input", `confirm=${STACK}`]);
    assert.equal(r.status, 0, r.log);
    assert.match(r.summary("destroy"), /^### pulumi destroy --stack t-gitops \(exit 0\)$/m);
    assert.deepEqual(resources(), []);
    assert.deepEqual(leftovers(PREFIX), []);
    assert.deepEqual(filesWith(state, key.split("\n")[1]), [], "the key is nowhere in the state");
    assert.equal(pulumi("stack", "rm", "--yes").status, 0);
  });
});
