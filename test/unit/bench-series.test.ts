// A series prefix through the stack: IXLAB_SERIES=KERNEL:N, read once by the program, checked against
// the lab, and the kernel's build planned with the first N patches under a key of its own.
import assert from "node:assert/strict";
import * as path from "node:path";
import { describe, it } from "node:test";
import { planKernelBuild } from "../../src/lab/kernel";
import { loadLabFile } from "../../src/lab/load";
import { seriesPrefix } from "../../src/lab/series";
import { validateLab } from "../../src/lab/validate";
import { cacheDir } from "../../src/paths";
import { ROOT } from "../helpers";

const r = validateLab(loadLabFile(path.join(ROOT, "Pulumi.sim.yaml")).raw, { baseDir: ROOT });
if (!r.ok) throw new Error("Pulumi.sim.yaml is invalid");
const lab = r.lab;

describe("IXLAB_SERIES", () => {
  it("names a kernel of the lab and a number of patches; unset is the whole series", () => {
    assert.equal(seriesPrefix(lab, {}), undefined);
    assert.deepEqual(seriesPrefix(lab, { IXLAB_SERIES: "guest:1" }), { kernel: "guest", patches: 1 });
    assert.throws(() => seriesPrefix(lab, { IXLAB_SERIES: "guest" }), /^Error: IXLAB_SERIES: "guest" is not KERNEL:N/);
    assert.throws(() => seriesPrefix(lab, { IXLAB_SERIES: "host:1" }), /IXLAB_SERIES: "host" is not a kernel in lab.kernels \(known: guest\)/);
  });

  it("plans each prefix as a build of its own: 0, 1 and 2 patches, three keys, the whole series the lab's own key", () => {
    const plan = (n?: number) => planKernelBuild(lab.kernels[0], lab.name, "t-unit", ROOT, cacheDir(), "lab.kernels[0]", n === undefined ? {} : { patchPrefix: n });
    const [p0, p1, p2, whole] = [plan(0), plan(1), plan(2), plan()];
    assert.deepEqual([p0, p1, p2].map((p) => p.patches.map((f) => path.basename(f))), [[], ["0001-init-say-that-the-ixlab-demo-series-is-applied.patch"], ["0001-init-say-that-the-ixlab-demo-series-is-applied.patch", "0002-vhost_net-log-the-zero-copy-TX-switch-at-load.patch"]]);
    assert.equal(new Set([p0.key, p1.key, p2.key]).size, 3);
    assert.equal(p2.key, whole.key, "the last prefix is the stack's own build");
    assert.equal(p0.tree, whole.tree, "every prefix builds in the kept tree");
    assert.deepEqual(p0.series, whole.patches);
    assert.ok(!p0.args.includes("--patches"));
    assert.throws(() => plan(3), /IXLAB_SERIES: kernel guest's series has 2 patch\(es\), not 3/);
  });
});
