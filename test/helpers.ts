import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot } from "../src/paths";

export const ROOT = repoRoot();
export const fixture = (...p: string[]) => path.join(ROOT, "test", "fixtures", ...p);

/**
 * Where the tests keep Pulumi state: a backend of their own, never the user's (PULUMI_BACKEND_URL, or
 * .ixlab/state with the sim stack `npm run demo` leaves up), so no test can read or change a stack
 * the user owns, whatever its name. Every pulumi and ixlab the tests start inherits it.
 */
export const TEST_STATE = path.join(ROOT, ".ixlab", "test-state");
export function useTestBackend(): void {
  fs.mkdirSync(TEST_STATE, { recursive: true });
  process.env.PULUMI_BACKEND_URL = pathToFileURL(TEST_STATE).href;
}

/** The pid's start time (clock ticks since boot), so a reused pid is not taken for the process. */
function startTime(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").pop()!.split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * Namespaces, links, /run/ixlab/<prefix>-* and the 198.18.N / 198.19.N networks are machine-wide,
 * and every clone's tests use the same prefixes: a test claims its names for as long as its process
 * runs, and one whose names another live test process holds (another clone's, or a second run of
 * this one) stops with that clone's path before anything is created. A claim of a process that is
 * gone is taken over.
 */
export function claimSimNames(prefix: string, n: number): void {
  for (const name of [`prefix-${prefix}`, `net-${n}`]) {
    const dir = path.join(os.tmpdir(), `ixlab-test-claim-${name}`);
    const me = { pid: process.pid, start: startTime(process.pid), root: ROOT };
    for (let attempt = 0; ; attempt++) {
      // The claim appears whole (made aside, then renamed into place), so a reader never sees it half-written.
      const draft = fs.mkdtempSync(`${dir}.draft-`);
      fs.writeFileSync(path.join(draft, "owner.json"), JSON.stringify(me));
      try {
        fs.renameSync(draft, dir);
        process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
        break;
      } catch (e) {
        fs.rmSync(draft, { recursive: true, force: true });
        if (!["EEXIST", "ENOTEMPTY"].includes((e as NodeJS.ErrnoException).code ?? "") || attempt > 2) throw e;
        let owner: { pid?: number; start?: string; root?: string } = {};
        try {
          owner = JSON.parse(fs.readFileSync(path.join(dir, "owner.json"), "utf8"));
        } catch {
          /* being written, or torn: judged by its pid below */
        }
        if (owner.pid === process.pid) break;
        if (owner.pid !== undefined && startTime(owner.pid) === owner.start && owner.start !== undefined) {
          throw new Error(`the sim names ${prefix}-* and 198.18.${n}.0/24 are in use by the tests of ${owner.root === ROOT ? "another run in this clone" : `the clone ${owner.root}`} (pid ${owner.pid}); namespaces are machine-wide, so run one clone's integration tests at a time (nothing was created)`);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}

/**
 * Writes Pulumi.STACK.yaml (git-ignored): the sim lab under its own names and addresses, so a test's
 * lab never touches the sim stack or another test's: interface prefix PREFIX, management network
 * 198.18.N.0/24 and data network 198.19.N.0/24, in the tests' own backend, with its names claimed
 * on this machine. EDIT changes the text further.
 */
export function simTestStack(stack: string, prefix: string, n: number, edit: (text: string) => string = (t) => t): string {
  useTestBackend();
  claimSimNames(prefix, n);
  const text = fs
    .readFileSync(path.join(ROOT, "Pulumi.sim.yaml"), "utf8")
    .replace(/^encryptionsalt:.*$/m, "")
    .replace("prefix: ixl", `prefix: ${prefix}`)
    .replace("managementNet: 198.18.0.0/24", `managementNet: 198.18.${n}.0/24`)
    .replace("dataNet: 198.19.0.0/24", `dataNet: 198.19.${n}.0/24`)
    .replace(/198\.19\.0\./g, `198.19.${n}.`);
  const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, edit(text));
  return file;
}

/**
 * Writes Pulumi.STACK.yaml (git-ignored): the VM lab (Pulumi.vmlab.yaml) under its own names and
 * addresses: prefix PREFIX (namespace PREFIX-lab), management 198.18.N.0/24, data 198.19.N.0/24.
 * Without GUEST, the lab has no guest and no kernel (the hosts, the wire and the peer only).
 */
export function vmTestStack(stack: string, prefix: string, n: number, opts: { guest?: boolean } = {}): string {
  useTestBackend();
  claimSimNames(prefix, n);
  let text = fs
    .readFileSync(path.join(ROOT, "Pulumi.vmlab.yaml"), "utf8")
    .replace(/^encryptionsalt:.*$/m, "")
    .replace("prefix: ixv", `prefix: ${prefix}`)
    .replace("managementNet: 198.18.20.0/24", `managementNet: 198.18.${n}.0/24`)
    .replace("dataNet: 198.19.20.0/24", `dataNet: 198.19.${n}.0/24`)
    .replace(/198\.19\.20\./g, `198.19.${n}.`);
  // Without the guest, without kernels: the variants keep the VMs' own kernel.
  if (!opts.guest) text = text.replace(/\n {4}kernels:\n[\s\S]*?(?=\n {4}variants:)/, "").replace(/\n {4}guests:\n[\s\S]*?(?=\n {4}bench:)/, "").replace(/^ {8}hostKernel: .*\n/gm, "");
  const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

/**
 * The sim stack's guest kernel, built by roles/kernel-build.sh with the flags the Pulumi program
 * plans (its tree is shared with the lab's stacks, so this costs a full build only on a new machine),
 * into its own output scope. Returns the bzImage and release, and a function that removes the output.
 */
export function buildSimGuestKernel(scope: string): { bzImage: string; release: string; remove(): void } {
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
  const { loadLabFile } = require("../src/lab/load") as typeof import("../src/lab/load");
  const { validateLab } = require("../src/lab/validate") as typeof import("../src/lab/validate");
  const { planKernelBuild } = require("../src/lab/kernel") as typeof import("../src/lab/kernel");
  const { cacheDir } = require("../src/paths") as typeof import("../src/paths");
  const r = validateLab(loadLabFile(path.join(ROOT, "Pulumi.sim.yaml")).raw, { baseDir: ROOT });
  if (!r.ok) throw new Error("Pulumi.sim.yaml is invalid");
  const plan = planKernelBuild(r.lab.kernels[0], r.lab.name, scope, ROOT, cacheDir(), "sim guest kernel");
  const role = path.join(ROOT, "roles", "kernel-build.sh");
  const b = spawnSync("bash", [role, "create", ...plan.args], { encoding: "utf8", timeout: 60 * 60 * 1000 });
  if (b.status !== 0) throw new Error(`building the sim guest kernel failed:\n${b.stdout}${b.stderr}`);
  const facts = JSON.parse(b.stdout.split("\n").find((l) => l.startsWith("facts: "))!.slice(7));
  return {
    bzImage: facts.artifact,
    release: facts.release,
    remove: () => void spawnSync("bash", [role, "delete", "--key", plan.key, "--out", plan.out], { encoding: "utf8" }),
  };
}

/**
 * What matters in a failed pulumi run's output, for an assertion message: the resource steps that
 * failed or changed, the Diagnostics section and the summary (a full `up` log with its topology output
 * would bury the cause, and CI shows only the tail of the test log). Capped at `max` lines.
 */
export function pulumiProblem(output: string, max = 80): string {
  const lines = output.split("\n");
  const picked: string[] = [];
  let section = "";
  for (const line of lines) {
    if (/^\S/.test(line)) section = line.trim();
    const step = /^\s+[+~\-]{1,2}\s+\S+:\S+ /.test(line) && !/ (creating|updating|deleting|replacing) \(/.test(line);
    if (section.startsWith("Diagnostics:") || section.startsWith("Resources:") || /^error:|\berror:|failed/.test(line) || step) picked.push(line);
  }
  const kept = picked.filter((l, i) => l.trim() !== "" || (i > 0 && picked[i - 1].trim() !== ""));
  return kept.length > max ? [...kept.slice(0, max / 2), `... (${kept.length - max} lines)`, ...kept.slice(-max / 2)].join("\n") : kept.join("\n");
}
