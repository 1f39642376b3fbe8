// Runs the project's TypeScript as is, in any Node process ixlab starts (the Pulumi program, its
// dynamic-provider process, scripts): each .ts file of the repository is transpiled by swc when it is
// required. No type check and no TypeScript compiler to load, since this runs at every `pulumi up`,
// preview and refresh; `npm test` type-checks everything with tsc. Plain JavaScript, because it is
// what makes TypeScript loadable.
"use strict";
const fs = require("node:fs");
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

/** Installs the .ts loader for the repository above START (once per process); returns the root. */
function register(start) {
  const g = globalThis;
  if (g.__ixlabRoot) return g.__ixlabRoot;
  const root = findRoot(start);
  const swc = require(require.resolve("@swc/core", { paths: [root] }));
  const prefix = root + path.sep;
  const js = Module._extensions[".js"];
  Module._extensions[".ts"] = (m, file) => {
    if (!file.startsWith(prefix) || file.includes(`${path.sep}node_modules${path.sep}`)) return js(m, file);
    const out = swc.transformSync(fs.readFileSync(file, "utf8"), {
      filename: file,
      jsc: { parser: { syntax: "typescript" }, target: "es2022" },
      module: { type: "commonjs" },
      sourceMaps: "inline",
    });
    m._compile(out.code, file);
  };
  g.__ixlabRoot = root;
  return root;
}

module.exports = { register, findRoot };
