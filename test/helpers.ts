import * as path from "node:path";
import { repoRoot } from "../src/paths";

export const ROOT = repoRoot();
export const fixture = (...p: string[]) => path.join(ROOT, "test", "fixtures", ...p);

/**
 * Writes Pulumi.STACK.yaml (git-ignored): the sim lab under its own names and addresses, so a test's
 * lab never touches the sim stack or another test's: interface prefix PREFIX, management network
 * 198.18.N.0/24 and data network 198.19.N.0/24. EDIT changes the text further.
 */
export function simTestStack(stack: string, prefix: string, n: number, edit: (text: string) => string = (t) => t): string {
  /* eslint-disable @typescript-eslint/no-var-requires */
  const fs = require("node:fs") as typeof import("node:fs");
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
  /* eslint-disable @typescript-eslint/no-var-requires */
  const fs = require("node:fs") as typeof import("node:fs");
  let text = fs
    .readFileSync(path.join(ROOT, "Pulumi.vmlab.yaml"), "utf8")
    .replace(/^encryptionsalt:.*$/m, "")
    .replace("prefix: ixv", `prefix: ${prefix}`)
    .replace("managementNet: 198.18.20.0/24", `managementNet: 198.18.${n}.0/24`)
    .replace("dataNet: 198.19.20.0/24", `dataNet: 198.19.${n}.0/24`)
    .replace(/198\.19\.20\./g, `198.19.${n}.`);
  if (!opts.guest) text = text.replace(/\n {4}kernels:\n[\s\S]*?(?=\n {4}variants:)/, "").replace(/\n {4}guests:\n[\s\S]*?(?=\n {4}bench:)/, "");
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
