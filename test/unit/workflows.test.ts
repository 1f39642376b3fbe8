// The GitOps workflows (.github/workflows/) and scripts/ci.sh, where all their logic lives: actionlint
// (built from source) passes on them and fails on broken copies; every step only calls the npm scripts
// a person runs locally; each job that touches a lab holds that lab's concurrency group; destroy needs
// its confirmation; the changed-stack detection and the lab steps behave, the latter against a
// stand-in ixlab in a throwaway repository.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import YAML from "yaml";
import { ROOT } from "../helpers";

const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const workflowFiles = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();

type Step = { id?: string; name?: string; uses?: string; run?: string; if?: string; env?: Record<string, string>; with?: Record<string, unknown> };
type Job = {
  "runs-on": string | string[];
  needs?: string | string[];
  if?: string;
  environment?: string;
  concurrency?: { group: string; "cancel-in-progress"?: boolean };
  steps: Step[];
};
type Workflow = { name: string; on: Record<string, any>; permissions?: Record<string, string>; jobs: Record<string, Job> };

const workflows: Record<string, Workflow> = Object.fromEntries(
  workflowFiles.map((f) => [f, YAML.parse(fs.readFileSync(path.join(WORKFLOWS, f), "utf8")) as Workflow]),
);
const allJobs = Object.entries(workflows).flatMap(([file, wf]) => Object.entries(wf.jobs).map(([name, job]) => ({ file, name, job })));
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };

/** The npm script a step runs (`npm run ci:up -- "$STACK"` -> "ci:up"), if any. */
const npmScript = (run: string | undefined) => run?.match(/^npm run ([\w:-]+)/)?.[1];
const LAB_SCRIPTS = ["ci:preview", "ci:up", "ci:drift", "ci:bench", "ci:destroy"];

function actionlint(): string {
  const r = spawnSync("bash", [path.join(ROOT, "scripts", "actionlint.sh")], { encoding: "utf8", timeout: 15 * 60 * 1000 });
  assert.equal(r.status, 0, `building actionlint failed:\n${r.stderr}`);
  return r.stdout.trim();
}

function lint(bin: string, dir: string) {
  const files = fs.readdirSync(path.join(dir, ".github", "workflows")).map((f) => path.join(".github", "workflows", f));
  const r = spawnSync(bin, ["-config-file", path.join(".github", "actionlint.yaml"), "-shellcheck", "shellcheck", "-no-color", ...files], { cwd: dir, encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe("workflows: actionlint", () => {
  let bin = "";
  let tmp = "";
  before(() => {
    bin = actionlint();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-actionlint-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A copy of .github/ in a temp dir with one file edited. */
  function brokenCopy(name: string, file: string, from: string | RegExp, to: string): string {
    const dir = path.join(tmp, name);
    fs.cpSync(path.join(ROOT, ".github"), path.join(dir, ".github"), { recursive: true });
    const p = path.join(dir, ".github", "workflows", file);
    const text = fs.readFileSync(p, "utf8");
    const edited = text.replace(from, to);
    assert.notEqual(edited, text, `the edit of ${file} changed nothing`);
    fs.writeFileSync(p, edited);
    return dir;
  }

  it("finds the five workflows", () => {
    assert.deepEqual(workflowFiles, ["bench.yml", "deploy.yml", "destroy.yml", "drift.yml", "pull-request.yml"]);
  });

  it("is the pinned version, built from source", () => {
    const r = spawnSync(bin, ["-version"], { encoding: "utf8" });
    const pinned = fs.readFileSync(path.join(ROOT, "tools", "actionlint", "go.mod"), "utf8").match(/^require github\.com\/rhysd\/actionlint (v\S+)$/m)?.[1];
    assert.ok(pinned);
    assert.match(r.stdout, new RegExp(`^${pinned.replace(/\./g, "\\.")}\\n`));
    assert.match(r.stdout, /installed by building from source/);
  });

  it("passes on every workflow file (shellcheck included)", () => {
    const r = lint(bin, ROOT);
    assert.equal(r.status, 0, r.out);
  });

  it("fails on an expression naming an input the workflow does not have", () => {
    const r = lint(bin, brokenCopy("expr", "destroy.yml", "if: inputs.confirm == inputs.stack", "if: inputs.confirmation == inputs.stack"));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /destroy\.yml:\d+:\d+: property "confirmation" is not defined/);
  });

  it("fails on a run: script shellcheck objects to", () => {
    const r = lint(bin, brokenCopy("shellcheck", "drift.yml", "run: npm run ci:stacks", "run: echo $IXLAB_STACKS"));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /drift\.yml:\d+:\d+: shellcheck reported issue in this script: SC2086/);
  });

  it("fails on a runner label that is not a lab's", () => {
    const r = lint(bin, brokenCopy("label", "deploy.yml", "runs-on: [self-hosted, ixlab]", "runs-on: [self-hosted, lab]"));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /deploy\.yml:\d+:\d+: label "lab" is unknown/);
  });
});

describe("workflows: the steps hold no logic", () => {
  const steps = allJobs.flatMap(({ file, name, job }) => job.steps.map((step, i) => ({ where: `${file} ${name} step ${i + 1}`, step })));

  it("every run: step is one call of npm ci, an npm script or a project script, with plain arguments", () => {
    const runs = steps.filter((s) => s.step.run !== undefined);
    assert.ok(runs.length >= 15, `${runs.length} run steps`);
    for (const { where, step } of runs) {
      const run = step.run!.trim();
      assert.doesNotMatch(run, /\n/, `${where}: more than one line`);
      assert.match(run, /^(npm ci|npm run [\w:-]+( -- ("\$[A-Z_]+"( |$))+)?|bash scripts\/[\w-]+\.sh( [\w-]+)*)$/, `${where}: ${run}`);
      // Inputs and secrets reach a step only through env, never spliced into its script.
      assert.doesNotMatch(run, /\$\{\{/, `${where}: an expression inside run`);
    }
  });

  it("every npm script a workflow runs exists, and each ci:* script is a scripts/ci.sh subcommand", () => {
    for (const { where, step } of steps) {
      const s = npmScript(step.run);
      if (s) assert.ok(pkg.scripts[s], `${where}: no npm script ${s}`);
    }
    const ci = Object.entries(pkg.scripts).filter(([k]) => k.startsWith("ci:"));
    assert.ok(ci.length >= 8);
    for (const [k, v] of ci) assert.equal(v, `bash scripts/ci.sh ${k.slice(3)}`, k);
  });

  it("uses: steps are only checkout and artifact upload, at a major version", () => {
    for (const { where, step } of steps.filter((s) => s.step.uses)) {
      assert.match(step.uses!, /^actions\/(checkout|upload-artifact)@v\d+$/, where);
      if (step.uses!.startsWith("actions/checkout")) assert.equal(step.with?.["persist-credentials"], false, `${where}: keeps the token in .git/config`);
    }
  });

  it("secrets reach only the lab steps, as env, never the setup (npm ci runs packages' install scripts)", () => {
    for (const { where, step } of steps) {
      const text = JSON.stringify(step);
      if (!text.includes("secrets.")) continue;
      assert.ok(LAB_SCRIPTS.includes(npmScript(step.run) ?? ""), `${where}: secrets given to ${step.run ?? step.uses}`);
      for (const [k, v] of Object.entries(step.env ?? {})) {
        if (v.includes("secrets.")) assert.equal(v, `\${{ secrets.${k} }}`, `${where}: ${k}`);
      }
    }
    for (const { file, name, job } of allJobs) {
      assert.doesNotMatch(JSON.stringify({ ...job, steps: [] }), /secrets\./, `${file} ${name}: secrets at job level`);
    }
  });

  it("every workflow reads the repository with a read-only token", () => {
    for (const [file, wf] of Object.entries(workflows)) assert.deepEqual(wf.permissions, { contents: "read" }, file);
  });

  it("scripts/ci.sh never traces its commands (a trace would print secrets)", () => {
    const text = fs.readFileSync(path.join(ROOT, "scripts", "ci.sh"), "utf8");
    assert.doesNotMatch(text, /set -[a-z]*x|xtrace/);
    assert.match(text, /^set -euo pipefail$/m);
  });
});

describe("workflows: triggers and one lab at a time", () => {
  it("has the triggers the pipeline promises", () => {
    assert.ok("pull_request" in workflows["pull-request.yml"].on);
    assert.deepEqual(workflows["deploy.yml"].on.push, { branches: ["main"] });
    assert.ok(Array.isArray(workflows["drift.yml"].on.schedule) && workflows["drift.yml"].on.schedule[0].cron);
    assert.deepEqual(Object.keys(workflows["bench.yml"].on.workflow_dispatch.inputs).sort(), ["baseline", "duration", "repetitions", "sizes", "stack", "variants"]);
    assert.deepEqual(Object.keys(workflows["destroy.yml"].on), ["workflow_dispatch"]);
  });

  it("each workflow step that changes or reads a lab runs in that lab's job, runner and concurrency group", () => {
    const seen = new Set<string>();
    for (const { file, name, job } of allJobs) {
      const lab = job.steps.filter((s) => LAB_SCRIPTS.includes(npmScript(s.run) ?? ""));
      if (lab.length === 0) continue;
      seen.add(npmScript(lab[0].run)!);
      const stack = lab[0].env?.STACK;
      assert.match(stack ?? "", /^\$\{\{ (matrix|inputs)\.stack \}\}$/, `${file} ${name}: STACK`);
      const expr = stack!.slice(4, -3);
      assert.deepEqual(job.concurrency, { group: `ixlab-\${{ ${expr} }}`, "cancel-in-progress": false }, `${file} ${name}: concurrency`);
      assert.deepEqual(job["runs-on"], ["self-hosted", `ixlab-\${{ ${expr} }}`], `${file} ${name}: runner`);
      assert.equal(job.environment, `ixlab-\${{ ${expr} }}`, `${file} ${name}: environment`);
      for (const s of lab) assert.match(s.run!, /^npm run ci:[a-z]+ -- "\$STACK"/, `${file} ${name}`);
    }
    assert.deepEqual([...seen].sort(), [...LAB_SCRIPTS].sort());
  });

  it("stack-wide jobs wait for the wiring (no runner would ever take them otherwise)", () => {
    for (const file of ["pull-request.yml", "deploy.yml", "drift.yml"]) {
      const first = Object.values(workflows[file].jobs)[0];
      assert.equal(first.if, "vars.IXLAB_STACKS != ''", file);
      assert.deepEqual(first["runs-on"], ["self-hosted", "ixlab"], file);
    }
  });
});

describe("workflows: destroy needs its confirmation", () => {
  const wf = workflows["destroy.yml"];

  it("asks for the stack and its name again, both required", () => {
    const inputs = wf.on.workflow_dispatch.inputs;
    assert.equal(inputs.stack.required, true);
    assert.equal(inputs.confirm.required, true);
  });

  it("checks it in a job of its own, and runs destroy only after that job and only on a match", () => {
    const check = wf.jobs.check.steps.find((s) => npmScript(s.run) === "ci:confirm");
    assert.ok(check, "no ci:confirm step");
    assert.equal(check.run, 'npm run ci:confirm -- "$STACK" "$CONFIRM"');
    assert.equal(check.env?.CONFIRM, "${{ inputs.confirm }}");
    assert.equal(wf.jobs.destroy.needs, "check");
    assert.equal(wf.jobs.destroy.if, "inputs.confirm == inputs.stack");
    const destroy = wf.jobs.destroy.steps.find((s) => npmScript(s.run) === "ci:destroy");
    assert.equal(destroy?.run, 'npm run ci:destroy -- "$STACK" "$CONFIRM"');
    assert.equal(destroy?.env?.CONFIRM, "${{ inputs.confirm }}");
  });
});

// ---- scripts/ci.sh in a throwaway repository, with stand-ins for bin/ixlab and the toolchain ----

const FAKE_IXLAB = `#!/usr/bin/env bash
# Stand-in for bin/ixlab: logs its arguments, and what it can see of the SSH key file.
set -euo pipefail
printf 'ixlab %s\\n' "$*" >>"$FAKE_LOG"
if [ -n "\${LAB_SSH_KEY_FILE:-}" ]; then
  printf 'keyfile %s %s %s\\n' "$LAB_SSH_KEY_FILE" "$(stat -c %a "$LAB_SSH_KEY_FILE")" "$(sha256sum <"$LAB_SSH_KEY_FILE" | cut -c1-16)" >>"$FAKE_LOG"
fi
printf 'env fallback=%s\\n' "\${PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER:-}" >>"$FAKE_LOG"
case "$1 \${2:-}" in
  "pulumi preview")
    if [ "\${FAKE_DRIFT:-}" = 1 ]; then
      echo "    ~ 1 to update"; echo "error: no changes were expected for preview but changes were proposed"; exit 255
    fi
    if [ "\${FAKE_FAIL:-}" = 1 ]; then echo "error: ssh: connect to host dut: Connection refused"; exit 255; fi
    echo "Resources:"; echo "    3 unchanged" ;;
  "pulumi "*) echo "Resources: 3 changed" ;;
  "bench "*)
    mkdir -p "results/$3/20250101T000000Z/cells"
    echo '{}' >"results/$3/20250101T000000Z/run.json"
    exit "\${FAKE_BENCH_STATUS:-0}" ;;
  "report "*) echo "| size | variant | throughput Mb/s |" ;;
  "validate "*) echo "$2: valid lab" ;;
esac
`;

class Sandbox {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-ci-"));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-ci-scratch-"));
  log = path.join(this.scratch, "fake.log");

  constructor() {
    this.write("scripts/ci.sh", fs.readFileSync(path.join(ROOT, "scripts", "ci.sh"), "utf8"));
    this.write("scripts/toolchain.sh", "#!/usr/bin/env bash\necho /nonexistent\n");
    this.write("bin/ixlab", FAKE_IXLAB, 0o755);
    for (const f of ["Pulumi.yaml", "Pulumi.alpha.yaml", "Pulumi.beta.yaml", "README.md", "infra/index.ts", "src/lab/model.ts", "test/unit/x.test.ts"]) this.write(f, `${f}\n`);
    this.git("init", "-q", "-b", "main");
    this.commit("base");
    this.git("tag", "base");
  }
  write(rel: string, text: string, mode = 0o644) {
    fs.mkdirSync(path.dirname(path.join(this.dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(this.dir, rel), text, { mode });
  }
  git(...args: string[]) {
    const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd: this.dir, encoding: "utf8" });
    assert.equal(r.status, 0, `git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  }
  commit(message: string) {
    this.git("add", "-A");
    this.git("commit", "-q", "--allow-empty", "-m", message);
  }
  /** A branch off base with the given files changed (or removed, for null), committed. */
  change(branch: string, files: Record<string, string | null>) {
    this.git("checkout", "-q", "-B", branch, "base");
    for (const [f, text] of Object.entries(files)) {
      if (text === null) fs.rmSync(path.join(this.dir, f));
      else this.write(f, text);
    }
    this.commit(branch);
  }
  /** Runs ci.sh with a clean environment: none of the runner's GitHub, Pulumi or lab variables. */
  ci(args: string[], env: Record<string, string> = {}) {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(GITHUB_|RUNNER_|PULUMI_|LAB_|IXLAB_STACKS$|ACT$|IXLAB_ACT_)/.test(k)));
    const out = path.join(this.scratch, "output"), summary = path.join(this.scratch, "summary");
    for (const f of [out, summary, this.log]) fs.rmSync(f, { force: true });
    const r = spawnSync("bash", ["scripts/ci.sh", ...args], {
      cwd: this.dir,
      encoding: "utf8",
      env: { ...base, GITHUB_OUTPUT: out, GITHUB_STEP_SUMMARY: summary, FAKE_LOG: this.log, ...env },
    });
    const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "");
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: read(out), summary: read(summary), log: read(this.log) };
  }
  remove() {
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.rmSync(this.scratch, { recursive: true, force: true });
  }
}

describe("scripts/ci.sh changed-stacks", () => {
  let sb: Sandbox;
  before(() => (sb = new Sandbox()));
  after(() => sb.remove());

  const changed = (env: Record<string, string> = {}) => {
    const r = sb.ci(["changed-stacks", "base"], env);
    assert.equal(r.status, 0, r.stderr);
    return { stacks: r.stdout.split("\n").filter(Boolean), output: r.output };
  };

  it("a lab file changed: that stack only", () => {
    sb.change("one-lab", { "Pulumi.beta.yaml": "changed\n" });
    assert.deepEqual(changed(), { stacks: ["beta"], output: 'stacks=["beta"]\n' });
  });

  it("docs and tests changed: no stack, and an empty list for the matrix", () => {
    sb.change("docs", { "README.md": "more\n", "test/unit/x.test.ts": "more\n", "docs/gitops.md": "new\n" });
    assert.deepEqual(changed(), { stacks: [], output: "stacks=[]\n" });
  });

  for (const f of ["infra/index.ts", "src/lab/model.ts", "roles/host-nic.sh", "kernel-configs/x.config", "patches/s/0001.patch", "Pulumi.yaml", "package-lock.json"]) {
    it(`${f} changed: every stack`, () => {
      sb.change(`shared-${f.replace(/\W/g, "-")}`, { [f]: "changed\n" });
      assert.deepEqual(changed().stacks, ["alpha", "beta"]);
    });
  }

  it("only wired stacks (IXLAB_STACKS) count, comma or space separated", () => {
    sb.change("wired", { "roles/host-tune.sh": "x\n" });
    assert.deepEqual(changed({ IXLAB_STACKS: "beta" }).stacks, ["beta"]);
    assert.deepEqual(changed({ IXLAB_STACKS: "beta, alpha" }).stacks, ["alpha", "beta"]);
    sb.change("unwired-lab", { "Pulumi.alpha.yaml": "changed\n" });
    assert.deepEqual(changed({ IXLAB_STACKS: "beta" }).stacks, []);
  });

  it("a new lab file is a changed stack; a deleted one is not previewed", () => {
    sb.change("new-lab", { "Pulumi.gamma.yaml": "new\n", "Pulumi.beta.yaml": null });
    assert.deepEqual(changed().stacks, ["gamma"]);
  });

  it("a base this clone does not have (force push, first push): every stack, said on stderr", () => {
    sb.change("unknown-base", { "README.md": "x\n" });
    const r = sb.ci(["changed-stacks", "0000000000000000000000000000000000000000"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").filter(Boolean), ["alpha", "beta"]);
    assert.match(r.stderr, /is not in this clone's history: every wired stack counts as changed/);
  });

  it("diffs against the merge base, so main moving on does not count as the branch's change", () => {
    sb.change("topic", { "Pulumi.alpha.yaml": "topic\n" });
    sb.git("checkout", "-q", "-B", "main-later", "base");
    sb.write("Pulumi.beta.yaml", "main moved\n");
    sb.commit("main moved");
    sb.git("checkout", "-q", "topic");
    const r = sb.ci(["changed-stacks", "main-later"]);
    assert.deepEqual(r.stdout.split("\n").filter(Boolean), ["alpha"]);
  });

  it("stacks: the wired list as lines and as JSON for a matrix; a bad name is refused", () => {
    sb.git("checkout", "-q", "base");
    let r = sb.ci(["stacks"]);
    assert.equal(r.stdout, "alpha\nbeta\n");
    assert.equal(r.output, 'stacks=["alpha","beta"]\n');
    r = sb.ci(["stacks"], { IXLAB_STACKS: "alpha *" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /IXLAB_STACKS: "\*" is not a stack name/);
  });
});

describe("scripts/ci.sh lab steps (stand-in ixlab)", () => {
  let sb: Sandbox;
  before(() => {
    sb = new Sandbox();
    sb.git("checkout", "-q", "base");
  });
  after(() => sb.remove());
  const github = { GITHUB_ACTIONS: "true", PULUMI_BACKEND_URL: "file:///nonexistent", PULUMI_CONFIG_PASSPHRASE: "pass" };

  it("preview: pulumi preview after a refresh, its output in the job summary", () => {
    const r = sb.ci(["preview", "alpha"], github);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.log, /^ixlab pulumi preview --stack alpha --refresh --diff --non-interactive --color never$/m);
    assert.match(r.log, /^env fallback=true$/m);
    assert.match(r.summary, /^### pulumi preview --stack alpha \(exit 0\)\n\n```\nResources:\n {4}3 unchanged\n```/m);
  });

  it("up and destroy: pulumi up --yes, and destroy only with the stack's name as confirmation", () => {
    assert.equal(sb.ci(["up", "alpha"], github).log.split("\n")[0], "ixlab pulumi up --stack alpha --yes --skip-preview --diff --non-interactive --color never");
    for (const confirm of ["alph", "beta", "", "alpha "]) {
      const r = sb.ci(["destroy", "alpha", confirm], github);
      assert.equal(r.status, 2, confirm);
      assert.match(r.stderr, /refusing to destroy stack "alpha": the confirmation ".*" is not its name/);
      assert.equal(r.log, "", "ixlab ran");
    }
    assert.equal(sb.ci(["destroy", "alpha"], github).status, 2);
    const r = sb.ci(["destroy", "alpha", "alpha"], github);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.log.split("\n")[0], "ixlab pulumi destroy --stack alpha --yes --skip-preview --non-interactive --color never");
  });

  it("drift: exit 3, an error annotation and the diff in the summary; another failure is not called drift", () => {
    let r = sb.ci(["drift", "alpha"], { ...github, FAKE_DRIFT: "1" });
    assert.equal(r.status, 3);
    assert.match(r.log, /^ixlab pulumi preview --stack alpha --refresh --expect-no-changes --diff /m);
    assert.match(r.stdout, /^::error title=ixlab drift on alpha::/m);
    assert.match(r.summary, /^### DRIFT on stack alpha/m);
    assert.match(r.summary, /~ 1 to update/);
    r = sb.ci(["drift", "alpha"], { ...github, FAKE_FAIL: "1" });
    assert.equal(r.status, 255);
    assert.doesNotMatch(r.summary + r.stdout, /DRIFT|::error/);
    assert.equal(sb.ci(["drift", "alpha"], github).status, 0);
  });

  it("bench: flags from the inputs, the run directory as a step output, the report in the summary", () => {
    let r = sb.ci(["bench", "alpha", "baseline,zerocopy", "4K,64K", "10"], github);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.log, /^ixlab bench --stack alpha --variants baseline,zerocopy --sizes 4K,64K --duration 10$/m);
    assert.match(r.log, /^ixlab report results\/alpha\/20250101T000000Z --html results\/alpha\/20250101T000000Z\/report.html$/m);
    assert.match(r.log, /^ixlab report results\/alpha\/20250101T000000Z --format email --no-html --fail-on regressed$/m);
    assert.equal(r.output, "run-dir=results/alpha/20250101T000000Z\nrun-id=20250101T000000Z\n");
    assert.match(r.summary, /^### Bench alpha\/20250101T000000Z \(exit 0\)\n\n\| size \| variant/m);
    fs.rmSync(path.join(sb.dir, "results"), { recursive: true });
    r = sb.ci(["bench", "alpha", "", "", ""], { ...github, FAKE_BENCH_STATUS: "1" });
    assert.equal(r.status, 1, "a failed bench fails the step");
    assert.match(r.log, /^ixlab bench --stack alpha$/m);
    assert.match(r.output, /^run-dir=results\/alpha\/20250101T000000Z$/m, "a failed run is still uploaded");
    fs.rmSync(path.join(sb.dir, "results"), { recursive: true });
    r = sb.ci(["bench", "alpha", "", "4K", "2", "1"], github);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.log, /^ixlab bench --stack alpha --sizes 4K --duration 2 --reps 1$/m);
  });

  it("bench against a baseline run in the repository: both reports and the gate compare with it", () => {
    sb.write("baselines/alpha/r0/run.json", "{}\n");
    fs.rmSync(path.join(sb.dir, "results"), { recursive: true, force: true });
    const r = sb.ci(["bench", "alpha", "", "4K", "2", "3", "baselines/alpha/r0"], github);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.log, /^ixlab report baselines\/alpha\/r0 results\/alpha\/20250101T000000Z --html results\/alpha\/20250101T000000Z\/report.html$/m);
    assert.match(r.log, /^ixlab report baselines\/alpha\/r0 results\/alpha\/20250101T000000Z --format email --no-html --fail-on regressed$/m);
    for (const bad of ["/etc", "../x", "baselines/../../x", "baselines/./alpha/r0", "baselines/alpha", "a b"]) {
      const refused = sb.ci(["bench", "alpha", "", "", "", "", bad], github);
      assert.equal(refused.status, 2, bad);
      assert.match(refused.stderr, /baseline: /, bad);
      assert.doesNotMatch(refused.log, /^ixlab bench/m, `${bad}: nothing runs`);
    }
  });

  it("bench: inputs that are not plain lists are refused before anything runs", () => {
    for (const [v, s, d, n] of [["a;reboot", "", "", ""], ["", "4K 64K", "", ""], ["", "", "10;id", ""], ["", "", "$(id)", ""], ["", "", "", "1 2"]]) {
      const r = sb.ci(["bench", "alpha", v, s, d, n], github);
      assert.equal(r.status, 2, `${v}|${s}|${d}|${n}`);
      assert.equal(r.log, "");
    }
  });

  it("the LAB_SSH_KEY secret becomes a 0600 file for the step only, and is never printed", () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END OPENSSH PRIVATE KEY-----";
    const r = sb.ci(["preview", "alpha"], { ...github, LAB_SSH_KEY: key, RUNNER_TEMP: sb.scratch });
    assert.equal(r.status, 0, r.stderr);
    const m = r.log.match(/^keyfile (\S+) (\d+) ([0-9a-f]+)$/m);
    assert.ok(m, r.log);
    assert.equal(m[2], "600");
    const sha = spawnSync("sha256sum", { input: `${key}\n`, encoding: "utf8" }).stdout.slice(0, 16);
    assert.equal(m[3], sha, "the file holds the key with one final newline");
    assert.equal(fs.existsSync(m[1]), false, "the key file outlived the step");
    assert.equal(fs.readdirSync(sb.scratch).filter((f) => f.startsWith("ixlab-ci.")).length, 0);
    assert.doesNotMatch(r.stdout + r.stderr + r.summary, /c2VjcmV0/);
  });

  it("under GitHub Actions a lab step needs the backend and passphrase secrets", () => {
    let r = sb.ci(["up", "alpha"], { GITHUB_ACTIONS: "true", PULUMI_BACKEND_URL: "", PULUMI_CONFIG_PASSPHRASE: "pass" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /PULUMI_BACKEND_URL is not set: add it as a repository secret/);
    r = sb.ci(["up", "alpha"], { GITHUB_ACTIONS: "true", PULUMI_BACKEND_URL: "file:///x" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /PULUMI_CONFIG_PASSPHRASE is not set/);
    assert.equal(r.log, "");
  });

  it("a stack that is not wired, or has no lab file, is refused", () => {
    let r = sb.ci(["preview", "beta"], { ...github, IXLAB_STACKS: "alpha" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /stack "beta" is not wired into GitOps/);
    r = sb.ci(["confirm", "gamma", "gamma"], github);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no lab file Pulumi\.gamma\.yaml/);
    r = sb.ci(["preview", "../x"], github);
    assert.equal(r.status, 2);
    assert.equal(r.log, "");
  });

  it("validate: the named stacks, or every lab file, a line each in the summary", () => {
    let r = sb.ci(["validate"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.log.split("\n").filter((l) => l.startsWith("ixlab")), ["ixlab validate Pulumi.alpha.yaml", "ixlab validate Pulumi.beta.yaml"]);
    assert.match(r.summary, /\| Pulumi\.beta\.yaml \| valid \|/);
    r = sb.ci(["validate", "beta"], { IXLAB_STACKS: "alpha" });
    assert.equal(r.status, 2);
  });
});
