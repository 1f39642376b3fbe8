// Runs the project's TypeScript as is, in any Node process ixlab starts (the Pulumi program, its
// dynamic-provider process, scripts): each .ts file of the repository is transpiled by swc when it is
// required. No type check and no TypeScript compiler to load, since this runs at every `pulumi up`,
// preview and refresh; `npm test` type-checks everything with tsc. Plain JavaScript, because it is
// what makes TypeScript loadable.
// The JavaScript swc makes is kept in the cache (IXLAB_CACHE, as src/paths.ts), named by a digest of
// the swc version, its options and the source, so a process whose sources did not change loads
// neither swc nor transpiles anything: at every up that was 0.2-0.3 s of CPU in the program and in
// each dynamic-provider process, on a machine of 2 cores.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { Module } = require("node:module");

/** The repository root: the nearest directory at or above START holding Pulumi.yaml. */
function findRoot(start) {
  let dir = start;
  while (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
    if (path.dirname(dir) === dir) throw new Error(`ixlab: no Pulumi.yaml above ${start}`);
    dir = path.dirname(dir);
  }
  return dir;
}

function cacheDir() {
  return process.env.IXLAB_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "ixlab");
}

/** Transpiles FILE's SOURCE, or takes what an earlier process made of the same source from DIR. */
function transpiler(root) {
  let swc;
  const swcPath = require.resolve("@swc/core", { paths: [root] });
  const swcVersion = JSON.parse(fs.readFileSync(path.join(path.dirname(swcPath), "package.json"), "utf8")).version;
  const dir = path.join(cacheDir(), "swc");
  return (file, source) => {
    const options = {
      filename: file,
      jsc: { parser: { syntax: "typescript" }, target: "es2022" },
      module: { type: "commonjs" },
      sourceMaps: "inline",
    };
    const digest = crypto.createHash("sha256").update(JSON.stringify([swcVersion, options])).update("\0").update(source).digest("hex");
    const cached = path.join(dir, `${digest}.js`);
    try {
      return fs.readFileSync(cached, "utf8");
    } catch {
      // not made yet
    }
    swc ??= require(swcPath);
    const code = swc.transformSync(source, options).code;
    try {
      fs.mkdirSync(dir, { recursive: true });
      const tmp = `${cached}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, code);
      fs.renameSync(tmp, cached);
    } catch {
      // A cache that cannot be written costs the next process a transpile, nothing more.
    }
    return code;
  };
}

/** Installs the .ts loader for the repository above START (once per process); returns the root. */
function register(start) {
  const g = globalThis;
  if (g.__ixlabRoot) return g.__ixlabRoot;
  const root = findRoot(start);
  const transpile = transpiler(root);
  const prefix = root + path.sep;
  const js = Module._extensions[".js"];
  Module._extensions[".ts"] = (m, file) => {
    if (!file.startsWith(prefix) || file.includes(`${path.sep}node_modules${path.sep}`)) return js(m, file);
    m._compile(transpile(file, fs.readFileSync(file, "utf8")), file);
  };
  g.__ixlabRoot = root;
  return root;
}

module.exports = { register, findRoot };
