// What a pulumi or ixlab killed outright leaves behind, and how the next command deals with it: a
// stale stack lock (removed only when its process is gone and was on this machine) and key material
// in private temp directories (swept once their process is gone).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { backendUrl, clearStaleLocks, lockDir, repairCheckpoint, stacksDir } from "../../src/pulumi/locks";
import { sessionDir } from "../../src/bench/session";
import { makeSecretDir, sweepSecretDirs } from "../../src/remote/secretDir";
import { claimSimNames, ROOT } from "../helpers";

/** A pid that certainly does not exist any more: a child that has exited. */
function deadPid(): number {
  const r = spawnSync("bash", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

describe("stale stack locks", () => {
  it("counts a killed pulumi that is a zombie (exited, not yet reaped) as gone", async () => {
    // bash starts a child, then becomes `sleep`, which never reaps it. The child outlives the exec
    // (a child that exited before it was reaped by bash itself: no zombie, no /proc entry).
    const parent = spawn("bash", ["-c", "sleep 0.5 & echo $!; exec sleep 10"], { stdio: ["ignore", "pipe", "ignore"] });
    const zombie = Number(await new Promise<string>((ok) => parent.stdout.once("data", (d) => ok(String(d).trim()))));
    try {
      for (let i = 0; i < 100 && !/\) Z/.test(fs.readFileSync(`/proc/${zombie}/stat`, "utf8")); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(fs.readFileSync(`/proc/${zombie}/stat`, "utf8"), /\) Z/, "the child is a zombie");
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-locktest-"));
      fs.writeFileSync(path.join(dir, "z.json"), JSON.stringify({ pid: zombie, hostname: os.hostname() }));
      assert.equal(clearStaleLocks(dir).length, 1, "its lock is stale");
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      parent.kill();
    }
  });

  it("repairs what a pulumi killed while saving the checkpoint leaves: torn metadata, a half-written copy", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-ckpttest-"));
    try {
      const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
      write("reltest.json", '{"version":3}');
      write("reltest.json.attrs", ""); // torn: every pulumi command then fails with "error: EOF"
      write("reltest.json.bak.attrs", '{"user.cache_control":""}');
      write("reltest.json.18ed280f6874cd5b.tmp", '{"version":3,"dep');
      write("reltest2.json.attrs", ""); // another stack's: not this repair's to judge
      assert.deepEqual(repairCheckpoint(dir, "reltest").sort(), [
        "removed reltest.json.attrs, torn when pulumi was killed while saving the checkpoint",
        "removed reltest.json.18ed280f6874cd5b.tmp, a checkpoint the killed pulumi never finished writing",
      ].sort());
      assert.deepEqual(fs.readdirSync(dir).sort(), ["reltest.json", "reltest.json.bak.attrs", "reltest2.json.attrs"]);
      assert.equal(stacksDir("file:///x/state?no_tmp_dir=true", "ixlab"), "/x/state/.pulumi/stacks/ixlab");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("finds the lock directory of a file backend only", () => {
    assert.equal(lockDir("file:///x/state?no_tmp_dir=true", "ixlab", "sim"), "/x/state/.pulumi/locks/organization/ixlab/sim");
    assert.equal(lockDir("https://api.pulumi.com", "ixlab", "sim"), undefined);
    assert.match(backendUrl({}), /^file:\/\/.*\/\.ixlab\/state$/);
    assert.equal(backendUrl({ PULUMI_BACKEND_URL: "s3://b" }), "s3://b");
  });

  it("removes a lock whose process on this host is gone, keeps a live one and another host's", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-locktest-"));
    try {
      const write = (name: string, lock: object | string) => fs.writeFileSync(path.join(dir, name), typeof lock === "string" ? lock : JSON.stringify(lock));
      const dead = deadPid();
      write("dead.json", { pid: dead, username: "root", hostname: os.hostname(), timestamp: "t0" });
      write("dead.json.attrs", "{}");
      write("live.json", { pid: process.pid, username: "root", hostname: os.hostname() });
      write("other.json", { pid: dead, username: "root", hostname: `${os.hostname()}-elsewhere` });
      write("torn.json", "{\"pid\":");
      const said = clearStaleLocks(dir);
      assert.deepEqual(said, [`removed a stale stack lock left by pulumi pid ${dead} (started t0, no longer running)`]);
      assert.deepEqual(fs.readdirSync(dir).sort(), ["live.json", "other.json", "torn.json"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("secret temp dirs", () => {
  it("are private, named after their process, and swept once it is gone", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-sweeptest-"));
    try {
      const mine = makeSecretDir("ssh", base);
      assert.equal(fs.statSync(mine).mode & 0o777, 0o700);
      assert.match(path.basename(mine), new RegExp(`^ixlab-secret-${process.pid}-ssh-`));
      const stale = path.join(base, `ixlab-secret-${deadPid()}-ssh-abc`);
      fs.mkdirSync(stale);
      fs.writeFileSync(path.join(stale, "key"), "not really a key", { mode: 0o600 });
      const unrelated = path.join(base, "something-else");
      fs.mkdirSync(unrelated);
      assert.deepEqual(sweepSecretDirs(base), [stale]);
      assert.ok(fs.existsSync(mine), "a live process's dir stays");
      assert.ok(fs.existsSync(unrelated), "only ixlab's secret dirs are touched");
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it("a bench session's directory leaves its control socket a path ssh can bind, even under a deep TMPDIR", () => {
    // act's job TMPDIR in the GitOps test was deep enough that ssh refused the socket ("too long for
    // Unix domain socket") and the bench could not reach its guest.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-deep-"));
    const deep = path.join(base, "a".repeat(40), "b".repeat(40));
    fs.mkdirSync(deep, { recursive: true });
    const dirs: string[] = [];
    try {
      for (const b of [base, deep]) {
        const d = sessionDir(b);
        dirs.push(d);
        assert.equal(fs.statSync(d).mode & 0o777, 0o700);
        assert.ok(Buffer.byteLength(path.join(d, "cm")) + 17 <= 103, `${d}: too long a socket path`);
      }
      assert.ok(dirs[0].startsWith(base + path.sep), "a short TMPDIR is used as it is");
      assert.ok(dirs[1].startsWith(`/tmp${path.sep}ixlab-secret-u`), `a deep one falls back to /tmp: ${dirs[1]}`);
      assert.deepEqual(fs.readdirSync(path.join(deep, "ixlab-secret-u" + process.getuid!())), [], "nothing stays in the deep one");
    } finally {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it("are per user: another user's stale directory in a shared /tmp does not get in the way", () => {
    // A shared, sticky temp dir as /tmp is; root leaves a stale secret dir there, then user nobody
    // asks for one. Before, the sweep tried to remove root's directory, failed with EACCES, and so
    // every key operation of nobody failed.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-shared-"));
    try {
      fs.chmodSync(base, 0o1777);
      const stale = path.join(base, `ixlab-secret-${deadPid()}-ssh-root`);
      fs.mkdirSync(stale, { mode: 0o700 });
      fs.writeFileSync(path.join(stale, "key"), "root's key", { mode: 0o600 });
      // User nobody runs a copy of the module from the shared dir: the clone may sit in a private
      // directory (as one made by mktemp -d is) that nobody cannot enter.
      const module = path.join(base, "secretDir.js");
      fs.copyFileSync(path.join(ROOT, "build", "src", "remote", "secretDir.js"), module);
      fs.chmodSync(module, 0o644);
      const code = `const s = require(${JSON.stringify(module)}); const d = s.makeSecretDir("ssh", ${JSON.stringify(base)}); const st = require("fs").statSync(d); console.log(JSON.stringify({ d, mode: st.mode & 0o777, parentMode: require("fs").statSync(require("path").dirname(d)).mode & 0o777 }));`;
      const r = spawnSync(process.execPath, ["-e", code], { encoding: "utf8", uid: 65534, gid: 65534 });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(path.dirname(out.d), path.join(base, "ixlab-secret-u65534"));
      assert.equal(out.mode, 0o700);
      assert.equal(out.parentMode, 0o700);
      assert.ok(fs.existsSync(path.join(stale, "key")), "another user's directory is not touched");
      // A directory of that name made by someone else first is refused, not used.
      fs.mkdirSync(path.join(base, "ixlab-secret-u0"), { mode: 0o777 });
      fs.chownSync(path.join(base, "ixlab-secret-u0"), 65534, 65534);
      assert.throws(() => makeSecretDir("ssh", base), /ixlab-secret-u0 is not a directory of this user \(uid 0\)/);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});

describe("sim names claimed by the tests", () => {
  it("a second test process (another clone's) is refused before anything exists; a dead one's claim is taken over", async () => {
    // The other clone: a process that claims prefix ixz and network 249, then waits.
    const code = `require(${JSON.stringify(path.join(ROOT, "build", "test", "helpers.js"))}).claimSimNames("ixz", 249); console.log("claimed"); setInterval(() => {}, 1000);`;
    const other = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve) => other.stdout!.on("data", (d) => String(d).includes("claimed") && resolve()));
      assert.throws(() => claimSimNames("ixz", 249), /the sim names ixz-\* and 198\.18\.249\.0\/24 are in use by the tests of another run in this clone \(pid \d+\); namespaces are machine-wide, so run one clone's integration tests at a time \(nothing was created\)/);
    } finally {
      other.kill("SIGKILL");
      await new Promise((resolve) => other.on("exit", resolve));
    }
    claimSimNames("ixz", 249); // the killed process's claim is stale now
    claimSimNames("ixz", 249); // and a second claim by the same process is a no-op
  });
});
