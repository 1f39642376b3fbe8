// The behaviour behind the real-host kernel resources (see infra/resources/dynamic.ts):
// KernelPackages copies a build's .deb files to a host and checks them there; KernelHostInstall
// drives roles/kernel-install.sh through stage, a check that the BMC answers, reboot, wait for SSH
// (BMC power cycle when the host does not come back), verify and commit. Any failure names the
// host, the phase and what was seen, and leaves the host on its previous kernel: the one-shot GRUB
// entry falls back by itself after a reboot, and a failure after the stage also restores the
// previous default (role delete) and, when the new kernel did boot but failed verification, reboots
// the host once more into the old one.
import { BmcTarget, powerCycle, powerStatus } from "./bmc";
import { describeProbe, waitForSshDown, waitForSshUp } from "./hostReboot";
import { copyPackages, hostPackages, PackageFile, packagesProblem, removePackages } from "./kernelPackages";
import { plain } from "./roleProvider";
import { CHECK_WRONG, Credentials, describeFailure, RoleResult, runRole, SSH_FAILED, Target } from "./roles";

type SshTarget = Extract<Target, { kind: "ssh" }>;

// --- KernelPackages -----------------------------------------------------------------------------

export interface KernelPackagesProps {
  title: string;
  target: SshTarget;
  privateKey: string;
  hostKey: string;
  /** The build key: the packages' directory on the host. */
  key: string;
  release: string;
  /** The linux-image .deb on the builder and its sha256 as the build recorded it. */
  image: string;
  imageSha256: string;
}

export interface KernelPackagesOutputs extends KernelPackagesProps {
  files: PackageFile[];
  remoteDir: string;
  remotePaths: string[];
  healthy: boolean;
}

const creds = (p: { privateKey: string; hostKey: string }): Credentials => ({ privateKey: p.privateKey, hostKey: p.hostKey });

async function copy(p: KernelPackagesProps): Promise<KernelPackagesOutputs> {
  const files = hostPackages(p.image, p.imageSha256, p.release);
  const r = await copyPackages(p.target, creds(p), p.key, files);
  return plain({ ...p, files, remoteDir: r.remoteDir, remotePaths: r.remotePaths, healthy: true });
}

export const packages = {
  async create(p: KernelPackagesProps) {
    return { id: `${p.target.host}:kernel-packages:${p.key}`, outs: await copy(p) };
  },
  async diff(olds: KernelPackagesOutputs, news: KernelPackagesProps) {
    // A renewed host key pin is the same host: update (copy again, checked) rather than replace.
    const replaces = (["target", "key", "release", "image", "imageSha256"] as const).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    if (replaces.length) return { changes: true, replaces: [...replaces], deleteBeforeReplace: true };
    return { changes: olds.healthy === false || olds.title !== news.title || olds.privateKey !== news.privateKey || olds.hostKey !== news.hostKey };
  },
  async update(_olds: KernelPackagesOutputs, news: KernelPackagesProps) {
    return { outs: await copy(news) };
  },
  async read(id: string, props: KernelPackagesOutputs) {
    let problem: string | undefined;
    try {
      problem = await packagesProblem(props.target, creds(props), props.key, props.files);
    } catch (e) {
      problem = (e as Error).message;
    }
    return { id, props: { ...props, healthy: problem === undefined } };
  },
  async remove(props: KernelPackagesOutputs) {
    await removePackages(props.target, creds(props), props.key);
  },
};

// --- KernelHostInstall ----------------------------------------------------------------------------

export interface KernelHostInstallProps {
  title: string;
  target: SshTarget;
  privateKey: string;
  hostKey: string;
  release: string;
  /** The packages' paths on the host (KernelPackages.remotePaths). */
  packages: string[];
  /** Their hashes: new bytes with the same names are a new install. */
  packagesSha256: string[];
  method: "grub" | "kexec";
  panicSeconds: number;
  cmdline: string;
  features: string[];
  bootTimeout: number;
  /**
   * How long to wait for SSH after a BMC power cycle (a cold boot of the previous kernel, firmware
   * first); bootTimeout when not given. Lets a caller give up on a hung kernel early without giving
   * up on the cold boot that follows (the VM lab's test waits 60 s, then up to 360 s).
   */
  powerCycleBootTimeout?: number;
  rebootOnDestroy: boolean;
  purgeOnDestroy: boolean;
  bmc?: BmcTarget;
  /** A secret (additionalSecretOutputs); never in a message. */
  bmcPassword?: string;
}

export interface KernelHostInstallOutputs extends KernelHostInstallProps {
  facts?: Record<string, unknown>;
  /** Phases with their seconds, for the record. */
  phases: { phase: string; seconds: number; note?: string }[];
  healthy: boolean;
}

export class KernelInstallError extends Error {}

/** The dependencies of the install flow, replaceable in tests. */
export interface Deps {
  runRole: typeof runRole;
  waitForSshDown: typeof waitForSshDown;
  waitForSshUp: typeof waitForSshUp;
  powerCycle: typeof powerCycle;
  powerStatus: typeof powerStatus;
  pollMs?: number;
}
const realDeps: Deps = { runRole, waitForSshDown, waitForSshUp, powerCycle, powerStatus };

function roleArgs(p: KernelHostInstallProps, extra: string[] = []): string[] {
  return [
    "--release", p.release,
    ...p.packages.flatMap((f) => ["--package", f]),
    "--method", p.method,
    "--panic", String(p.panicSeconds),
    ...(p.cmdline ? ["--cmdline", p.cmdline] : []),
    ...p.features.flatMap((f) => ["--feature", f]),
    ...extra,
  ];
}

// Not hostKey: a renewed pin is the same host (an update keeps the install and its record).
const HOST_KEYS = ["release", "packages", "packagesSha256", "method", "panicSeconds", "cmdline", "target"] as const;

/** One install run on one host; `phases` grows as it goes, so a failure can say how far it got. */
export class InstallRun {
  readonly phases: KernelHostInstallOutputs["phases"] = [];
  private started = Date.now();
  /** What the BMC did, once this run power-cycled the host: every later error says so. */
  private powerCycled?: string;

  constructor(readonly p: KernelHostInstallProps, readonly deps: Deps = realDeps) {}

  private get creds(): Credentials {
    return { privateKey: this.p.privateKey, hostKey: this.p.hostKey };
  }

  private mark(phase: string, note?: string) {
    const now = Date.now();
    this.phases.push({ phase, seconds: Math.round((now - this.started) / 100) / 10, ...(note ? { note } : {}) });
    this.started = now;
  }

  fail(phase: string, seen: string, after?: string): never {
    const cycled = this.powerCycled && !seen.includes(this.powerCycled) ? `; the host did not come back by itself and was power-cycled through its BMC (${this.powerCycled})` : "";
    throw new KernelInstallError(`host ${this.p.target.host}: kernel ${this.p.release}, phase ${phase}: ${seen}${cycled}${after ? `; ${after}` : ""}`);
  }

  async role(action: string, extra: string[] = []): Promise<RoleResult> {
    return this.deps.runRole(this.p.target, this.creds, "kernel-install", action, roleArgs(this.p, extra));
  }

  /** The role's failure in one line, without the "host ..." prefix fail() adds anyway. */
  private why(action: string, r: RoleResult): string {
    if (r.code === CHECK_WRONG) return r.stderr.trim().split("\n").pop()!.replace(/^kernel-install: check failed: /, "");
    return describeFailure(this.p.target, "kernel-install", action, r);
  }

  /** Waits for the host to go down and come back; power-cycles it through the BMC once if it does not. */
  async awaitReboot(phase: string, oldBootId: string | undefined): Promise<string | undefined> {
    const o = { timeoutSeconds: Math.min(this.p.bootTimeout, 300), pollMs: this.deps.pollMs };
    const down = await this.deps.waitForSshDown(this.p.target, this.creds, oldBootId, o);
    if (down.result === "timeout") this.fail(phase, `the host did not go down within ${o.timeoutSeconds} s of the reboot (${describeProbe(down.last, oldBootId)})`);
    let up = await this.deps.waitForSshUp(this.p.target, this.creds, oldBootId, { timeoutSeconds: this.p.bootTimeout, pollMs: this.deps.pollMs });
    if (!up.ok) {
      const seen = `not back within ${this.p.bootTimeout} s (${describeProbe(up.last, oldBootId)})`;
      if (!this.p.bmc) this.fail(phase, seen, "no BMC configured to power-cycle it; the host boots its previous kernel at the next reset (the one-shot entry is used up)");
      let did: string;
      try {
        did = await this.deps.powerCycle(this.p.bmc, this.p.bmcPassword ?? "");
      } catch (e) {
        this.fail(phase, seen, `power cycle through the BMC failed: ${(e as Error).message}`);
      }
      this.powerCycled = did;
      this.mark(`${phase}: bmc power cycle`, did);
      const again = this.p.powerCycleBootTimeout ?? this.p.bootTimeout;
      up = await this.deps.waitForSshUp(this.p.target, this.creds, oldBootId, { timeoutSeconds: again, pollMs: this.deps.pollMs });
      if (!up.ok) this.fail(phase, `${seen}; after a BMC power cycle (${did}) still not back within ${again} s (${describeProbe(up.last, oldBootId)})`);
    }
    this.mark(phase);
    return up.bootId;
  }

  /** After a failure past the stage: the previous default back, no one-shot left; a reboot when the host runs the new kernel. */
  async rollBack(phase: string, seen: string, runningNew: boolean, bootId: string | undefined): Promise<never> {
    const undo = await this.role("delete");
    if (undo.code !== 0) this.fail(phase, seen, `rolling back failed too: ${this.why("delete", undo)}`);
    if (!runningNew) this.fail(phase, seen, "the host runs its previous kernel, which stays the default");
    const reboot = await this.deps.runRole(this.p.target, this.creds, "kernel-install", "reboot", roleArgs({ ...this.p, method: "grub" }));
    if (reboot.code !== 0) this.fail(phase, seen, `the previous default is restored but rebooting into it failed: ${this.why("reboot", reboot)}`);
    await this.awaitReboot(`${phase} (rollback reboot)`, bootId);
    this.fail(phase, seen, "rolled back: the host was rebooted into its previous kernel, which stays the default");
  }

  async install(): Promise<Record<string, unknown> | undefined> {
    const stage = await this.role("create");
    if (stage.code !== 0) this.fail("stage", this.why("create", stage), "nothing was rebooted; the previous default is unchanged");
    this.mark("stage");
    const staged = stage.facts ?? {};
    if (staged.running !== this.p.release) {
      if (this.p.bmc) {
        // The BMC is the way back from a hung kernel: it must answer before the host is rebooted.
        const status = await this.deps.powerStatus(this.p.bmc, this.p.bmcPassword ?? "")
          .catch((e: Error) => this.rollBack("bmc check", `the BMC, the way back if the new kernel hangs, does not answer: ${e.message}`, false, undefined));
        this.mark("bmc check", status);
      }
      const reboot = await this.role("reboot");
      if (reboot.code !== 0) {
        const seen = this.why("reboot", reboot);
        await this.rollBack("reboot", seen, false, undefined);
      }
      this.mark("reboot", this.p.method === "kexec" ? "kexec" : "grub one-shot");
      await this.awaitReboot("wait for SSH", (reboot.facts?.bootId as string | undefined) ?? (staged.bootId as string | undefined));
    }
    const verify = await this.role("verify");
    if (verify.code !== 0) {
      if (verify.code === SSH_FAILED) this.fail("verify", this.why("verify", verify));
      const seen = this.why("verify", verify);
      const runningNew = !/running kernel is /.test(seen);
      await this.rollBack("verify", seen, runningNew, undefined);
    }
    this.mark("verify");
    const commit = await this.role("commit");
    if (commit.code !== 0) {
      await this.rollBack("commit", this.why("commit", commit), true, undefined);
    }
    this.mark("commit");
    return commit.facts;
  }

  async uninstall(): Promise<void> {
    const undo = await this.role("delete");
    if (undo.code !== 0) this.fail("restore previous default", this.why("delete", undo));
    this.mark("restore previous default");
    // Whether the host runs the kernel now: verify without the features checks just the release.
    const probe = await this.deps.runRole(this.p.target, this.creds, "kernel-install", "verify", roleArgs({ ...this.p, features: [] }));
    const runsNew = probe.code === 0;
    if (runsNew && this.p.rebootOnDestroy) {
      const reboot = await this.deps.runRole(this.p.target, this.creds, "kernel-install", "reboot", roleArgs({ ...this.p, method: "grub" }));
      if (reboot.code !== 0) this.fail("reboot into the previous kernel", this.why("reboot", reboot));
      await this.awaitReboot("wait for SSH after the destroy reboot", probe.facts?.bootId as string | undefined);
    }
    if (this.p.purgeOnDestroy) {
      const purge = await this.role("delete", ["--purge"]);
      if (purge.code !== 0) this.fail("purge packages", this.why("delete", purge));
    }
  }
}

async function converge(p: KernelHostInstallProps, deps?: Deps): Promise<KernelHostInstallOutputs> {
  const run = new InstallRun(p, deps);
  const facts = await run.install();
  return plain({ ...p, facts, phases: run.phases, healthy: true });
}

export const install = {
  async create(p: KernelHostInstallProps) {
    return { id: `${p.target.host}:kernel-install:${p.release}`, outs: await converge(p) };
  },
  async diff(olds: KernelHostInstallOutputs, news: KernelHostInstallProps) {
    const replaces = HOST_KEYS.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    if (replaces.length) return { changes: true, replaces: [...replaces], deleteBeforeReplace: true };
    const other = (["title", "features", "bootTimeout", "powerCycleBootTimeout", "rebootOnDestroy", "purgeOnDestroy", "bmc", "bmcPassword", "privateKey", "hostKey"] as const).some((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    return { changes: other || olds.healthy === false };
  },
  async update(olds: KernelHostInstallOutputs, news: KernelHostInstallProps) {
    // Settings of the destroy or the wait only: nothing to do on the host. Else the install again
    // (the stage finds what is already right; a host running the kernel is verified, not rebooted).
    const onHost = olds.healthy === false || JSON.stringify(olds.features) !== JSON.stringify(news.features);
    if (!onHost) return { outs: plain({ ...news, facts: olds.facts, phases: olds.phases, healthy: true }) };
    return { outs: await converge(news) };
  },
  async read(id: string, props: KernelHostInstallOutputs) {
    const r = await runRole(props.target, creds(props), "kernel-install", "check", roleArgs(props, ["--committed"]));
    if (r.code !== 0 && r.code !== CHECK_WRONG && r.code !== SSH_FAILED) {
      throw new KernelInstallError(`${props.title}: ${describeFailure(props.target, "kernel-install", "check", r)}`);
    }
    return { id, props: { ...props, healthy: r.code === 0 } };
  },
  async remove(props: KernelHostInstallOutputs) {
    await new InstallRun(props).uninstall();
  },
};
