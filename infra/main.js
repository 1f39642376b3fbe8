// The Pulumi program's entry point (Pulumi.yaml `main`): the .ts loader, then the program itself,
// whose exports are the stack's outputs.
"use strict";
const path = require("node:path");
const { Module } = require("node:module");

/**
 * Loads npm's Arborist (with pacote, sigstore and the rest of npm's fetching code: 0.15-0.3 s of
 * the program's start on 2 cores) only if something uses it. @pulumi/pulumi requires it when it
 * loads, for one thing: finding the packages a serialized function needs (closure serialization),
 * which ixlab does not do (infra/resources/dynamic.ts writes its provider out as text). The module
 * stands in the require cache as a proxy that loads the real one at its first use.
 */
function deferArborist() {
  let file;
  try {
    file = require.resolve("@npmcli/arborist", { paths: [path.dirname(require.resolve("@pulumi/pulumi/package.json"))] });
  } catch {
    return; // another layout of node_modules: load as usual
  }
  if (require.cache[file]) return;
  let real;
  const load = () => {
    if (!real) {
      delete require.cache[file];
      real = require(file);
    }
    return real;
  };
  const stub = new Module(file);
  stub.filename = file;
  stub.loaded = true;
  // __esModule: TypeScript's __importStar then keeps the module object itself instead of copying it.
  stub.exports = new Proxy({}, { get: (_, key) => (key === "__esModule" ? true : load()[key]), has: (_, key) => key in load() });
  require.cache[file] = stub;
}

/**
 * Has the engine start the dynamic-provider process now. The engine starts a package's provider
 * (a Node.js process that loads @pulumi/pulumi: a second or more, in which it registers nothing) at
 * the first call that needs it, and before this that was the program's first dynamic resource,
 * which comes only after the program has loaded its modules and validated the lab; so those two
 * waited one after the other. An invoke needs the provider as a resource does; the dynamic provider
 * has no functions, so it answers "unknown function", which is the expected answer here. Only the
 * SDK's invoke module is loaded for it (0.16 s, where all of @pulumi/pulumi takes 0.6 s), so the
 * request leaves before the rest loads.
 */
function startDynamicProvider() {
  require("@pulumi/pulumi/runtime/invoke").invoke("pulumi-nodejs:dynamic:ixlabStartProvider", {}).catch(() => undefined);
}

// V8's own stack formatting, not source-map-support's, which Pulumi's runner installs: Pulumi reads
// the stack of every promise and every resource it makes (debuggablePromise, Resource.callsites),
// and source-map-support's per-frame work on those was 0.2-0.4 s of the program's CPU at every up.
// It mapped only @pulumi/pulumi's own frames: ours, transpiled by swc from .ts files that carry no
// source map on disk, showed swc's positions with it and show the same without.
Error.prepareStackTrace = undefined;

// Exported as a function, which Pulumi runs and awaits: the invoke's request goes out while this
// waits one timer turn, then the program's synchronous loading (which holds the event loop) runs
// beside the provider's start-up. (Were the request still queued, it would merely start later.)
module.exports = async () => {
  deferArborist();
  startDynamicProvider();
  await new Promise((resolve) => setTimeout(resolve, 10));
  require("./register").register(__dirname);
  return require("./index.ts");
};
