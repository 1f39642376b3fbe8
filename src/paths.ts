// Where things live. Paths in lab files are relative to the repository root (the directory holding
// Pulumi.yaml); caches and state live outside git.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The project root: the nearest ancestor of this module holding Pulumi.yaml. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find Pulumi.yaml above " + __dirname);
    dir = parent;
  }
  return dir;
}

export function stackFile(stack: string, root = repoRoot()): string {
  return path.join(root, `Pulumi.${stack}.yaml`);
}

/** Per-user cache (toolchain builds, kernel build trees): $IXLAB_CACHE or ~/.cache/ixlab. */
export function cacheDir(): string {
  return process.env.IXLAB_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "ixlab");
}
