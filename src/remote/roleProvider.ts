// The behaviour behind every role-backed resource (see infra/resources/dynamic.ts): create converges
// the host with the role's `create`, delete undoes it, and for live state (services, devices, tuning)
// read asks the host with the role's `check` (Pulumi.yaml refreshes before every up), and diff turns
// an unhealthy read into a change. So a second `pulumi up` with nothing changed and nothing drifted
// reports no changes, and a service that died is found and restarted.
import { CHECK_WRONG, Credentials, describeFailure, RoleError, RoleResult, runRole, SSH_FAILED, Target } from "./roles";
import { spawnSync } from "node:child_process";

/** How the provider reaches hosts; tests hand in a fake. */
export interface RoleRunner {
  runRole(target: Target, creds: Credentials | undefined, role: string, action: string, args: string[], env?: Record<string, string>): Promise<RoleResult>;
  /** A sim host's namespace is gone (so everything that ran inside it is gone too). */
  simNamespaceGone(t: Target): boolean;
}

export interface RoleRunProps {
  /** Human name of what this manages, e.g. "netserver on peer". */
  title: string;
  role: string;
  target: Target;
  /** Flags passed to create, check and delete. */
  args: string[];
  /** The action that creates (default "create"; host-preflight uses "facts"). */
  createAction?: string;
  /** Whether the state is live (processes, devices, tuning): read then runs `check`. */
  live: boolean;
  /** Whether delete has anything to undo on the host (preflight has not). */
  deletes: boolean;
  privateKey?: string;
  hostKey?: string;
  /**
   * Environment for a role run on this machine that needs a secret (a BMC's password): a secret
   * input, never a flag, so it is in no process list and nowhere in the state in plain text.
   */
  secretEnv?: Record<string, string>;
  /** Values whose change replaces the resource though no flag changed (e.g. a re-created sim host). */
  triggers?: string[];
  /**
   * Flags whose values say which thing on the host this is (a kernel build's --key, its --out): when
   * set, a change of the other flags (their spelling, a moved repository) is no change at all.
   */
  identityFlags?: string[];
}

export interface RoleRunOutputs extends RoleRunProps {
  facts?: Record<string, unknown>;
  /** false once `check` or read found the state wrong; the next up converges it again. */
  healthy: boolean;
}

// Changing any of these means a different thing on the host: replace (delete the old one first,
// because the new one usually has the same names). Not the pinned host key: a renewed pin is the same
// host (re-keyed, or a sim host re-created), so an update re-runs create with it; a replace would
// delete the old thing over SSH with the old pin, which the host no longer matches.
const REPLACE_KEYS = ["role", "target", "args", "createAction", "triggers"] as const;

function creds(p: RoleRunProps): Credentials | undefined {
  return p.privateKey ? { privateKey: p.privateKey, hostKey: p.hostKey } : undefined;
}

/** Outputs go through protobuf Structs, which have no `undefined`: drop such fields. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

async function converge(run: RoleRunner, p: RoleRunProps): Promise<RoleRunOutputs> {
  const action = p.createAction ?? "create";
  const r = await run.runRole(p.target, creds(p), p.role, action, p.args, p.secretEnv);
  if (r.code !== 0) throw new RoleError(`${p.title}: ${describeFailure(p.target, p.role, action, r)}`, r);
  return plain({ ...p, facts: r.facts, healthy: true });
}

/**
 * Runs `check`; undefined means healthy, a string says what is wrong. An unreachable host counts as
 * unhealthy rather than failing the read, so a refresh still completes and the up or destroy that
 * follows reports the host by name.
 */
async function probe(run: RoleRunner, p: RoleRunProps, sshRetryDelayMs: number): Promise<string | undefined> {
  let r: RoleResult = await run.runRole(p.target, creds(p), p.role, "check", p.args, p.secretEnv);
  // One more try when SSH itself failed: a refresh checks every resource of a host at once, and a busy
  // host (a TCG VM running its nested guest) drops some of those connections (sshd's MaxStartups, a
  // banner exchange past ConnectTimeout); counted unhealthy, a live resource would re-run its create
  // on a no-op up. A host that is really gone fails the second try too.
  if (r.code === SSH_FAILED) {
    await new Promise((resolve) => setTimeout(resolve, sshRetryDelayMs));
    r = await run.runRole(p.target, creds(p), p.role, "check", p.args, p.secretEnv);
  }
  if (r.code === 0) return undefined;
  if (r.code === CHECK_WRONG || r.code === SSH_FAILED) return r.stderr.trim() || "check failed";
  throw new RoleError(`${p.title}: ${describeFailure(p.target, p.role, "check", r)}`, r);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The provider's methods, reaching hosts through RUN. */
export function roleRunProvider(run: RoleRunner = realRunner, opts: { sshRetryDelayMs?: number } = {}) {
  const sshRetryDelayMs = opts.sshRetryDelayMs ?? 5000;
  return {
    async create(p: RoleRunProps): Promise<{ id: string; outs: RoleRunOutputs }> {
      const outs = await converge(run, p);
      const where = p.target.kind === "local" ? "local" : p.target.host;
      return { id: `${where}:${p.role}:${Date.now().toString(36)}`, outs };
    },
    diff,
    async update(_olds: RoleRunOutputs, news: RoleRunProps): Promise<{ outs: RoleRunOutputs }> {
      return { outs: await converge(run, news) };
    },
    async read(id: string, props: RoleRunOutputs): Promise<{ id: string; props: RoleRunOutputs }> {
      if (!props.live) return { id, props };
      return { id, props: { ...props, healthy: (await probe(run, props, sshRetryDelayMs)) === undefined } };
    },
    async remove(props: RoleRunOutputs): Promise<void> {
      if (!props.deletes) return;
      const r = await run.runRole(props.target, creds(props), props.role, "delete", props.args, props.secretEnv);
      if (r.code === 0) return;
      // A sim host whose namespace is already gone took everything inside it along (processes, files).
      if (r.code === SSH_FAILED && run.simNamespaceGone(props.target)) return;
      throw new RoleError(`${props.title}: ${describeFailure(props.target, props.role, "delete", r)}`, r);
    },
  };
}

/** The values of FLAGS in ARGS, in order: what identifies a resource that names its identity flags. */
function flagValues(args: string[] | undefined, flags: string[]): (string | undefined)[] {
  return flags.map((f) => {
    const at = (args ?? []).indexOf(f);
    return at < 0 ? undefined : args![at + 1];
  });
}

export async function diff(olds: RoleRunOutputs, news: RoleRunProps) {
  const ids = news.identityFlags;
  const sameArgs = (a: RoleRunProps, b: RoleRunProps) => (ids ? same(flagValues(a.args, ids), flagValues(b.args, ids)) : same(a.args, b.args));
  const replaces = REPLACE_KEYS.filter((k) => (k === "args" ? !sameArgs(olds, news) : !same(olds[k], news[k])));
  if (replaces.length > 0) return { changes: true, replaces: [...replaces], deleteBeforeReplace: true };
  const otherChanges = !same(olds.title, news.title) || !same(olds.live, news.live) || !same(olds.deletes, news.deletes) || !same(olds.privateKey, news.privateKey) || !same(olds.hostKey, news.hostKey) || !same(olds.secretEnv, news.secretEnv);
  if (otherChanges) return { changes: true };
  // Live state was read from the host by the refresh that precedes every up and preview
  // (Pulumi.yaml: options.refresh: always); reads run in parallel, diffs do not.
  return { changes: news.live && olds.healthy === false };
}

function simNamespaceGone(t: Target): boolean {
  if (t.kind !== "ssh" || !t.simNs) return false;
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  return r.status === 0 && !r.stdout.split("\n").some((l) => l.split(" ")[0] === t.simNs);
}

// The provider's process lives for one pulumi command: its role runs share one connection per host.
const realRunner: RoleRunner = { runRole: (t, c, role, action, args, env) => runRole(t, c, role, action, args, undefined, { share: true, env }), simNamespaceGone };

// What infra/resources/dynamic.ts calls.
export const { create, update, read, remove } = roleRunProvider();
