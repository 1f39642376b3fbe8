import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { loadLabFile } from "../../src/lab/load";
import { benchMatrix, planTopology } from "../../src/lab/topology";
import { validateLab } from "../../src/lab/validate";
import { ROOT } from "../helpers";

function stackLab(stack: string): unknown {
  return loadLabFile(`${ROOT}/Pulumi.${stack}.yaml`).raw;
}

describe("good labs", () => {
  for (const stack of ["sim", "example-lab"]) {
    it(`Pulumi.${stack}.yaml is valid`, () => {
      const r = validateLab(stackLab(stack), { baseDir: ROOT });
      assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.problems, null, 2));
    });
  }

  it("fills every default from the schema, in one place", () => {
    const r = validateLab({ name: "tiny", hosts: [{ name: "a", role: "peer", address: "192.0.2.1", ssh: { key: { env: "K_FILE" } } }] });
    assert.ok(r.ok);
    const lab = r.lab;
    assert.deepEqual(lab.hosts[0].ssh, { user: "root", port: 22, key: { env: "K_FILE" } });
    assert.deepEqual(lab.hosts[0].require, []);
    assert.deepEqual(lab.links, []);
    assert.deepEqual(lab.bench.tests, ["TCP_STREAM"]);
    assert.deepEqual(lab.derived.sizes, [4096, 8192, 16384, 65536]);
    assert.equal(lab.derived.durationSeconds, 120);
    assert.equal(lab.bench.repetitions, 3);
    assert.equal(lab.derived.activeVariant, undefined);
  });

  it("fills guest, link and sim defaults", () => {
    const r = validateLab(stackLab("sim"), { baseDir: ROOT });
    assert.ok(r.ok);
    assert.equal(r.lab.guests[0].macvtap.mode, "bridge");
    assert.equal(r.lab.derived.guestMemoryMiB.vm1, 256);
    assert.equal(r.lab.sim?.accel, "tcg", "the sim stack asks for software emulation");
    const bare = validateLab({ name: "s", sim: {}, hosts: [{ name: "a", role: "peer" }] });
    assert.ok(bare.ok);
    assert.deepEqual(bare.lab.sim, { hosts: "netns", prefix: "ixl", managementNet: "198.18.0.0/24", dataNet: "198.19.0.0/24", accel: "auto" });
    assert.equal(r.lab.variants[0].vhost, true);
    assert.equal(r.lab.derived.activeVariant, "baseline");
    assert.equal(r.lab.derived.baseline, "baseline");
  });

  it("never changes its input", () => {
    const raw = stackLab("sim");
    const before = JSON.stringify(raw);
    validateLab(raw, { baseDir: ROOT });
    assert.equal(JSON.stringify(raw), before);
  });

  it("reports every problem of a file at once", () => {
    const r = validateLab({ name: "x", hosts: [{ name: "a", role: "dut", address: "192.0.2.1", ssh: { key: { secret: "k" } }, nic: { name: "e" } }], guests: [{ name: "g", host: "b", memory: "1Q" }], bench: { duration: "9h" } });
    assert.ok(!r.ok);
    const paths = r.problems.map((p) => p.path.join("."));
    for (const p of ["guests.0.host", "guests.0.memory", "bench.duration", "variants"]) assert.ok(paths.includes(p), `${p} not in ${paths}`);
  });
});

describe("topology plan", () => {
  it("expands the bench matrix: tests x sizes x variants x repetitions", () => {
    const r = validateLab(stackLab("sim"), { baseDir: ROOT });
    assert.ok(r.ok);
    const cells = benchMatrix(r.lab);
    assert.equal(cells.length, 1 * 4 * 2 * 3);
    assert.deepEqual(cells[0], { test: "TCP_STREAM", size: 4096, sizeLabel: "4K", variant: "baseline", repetition: 1 });
    assert.equal(planTopology(r.lab).bench.cells, 24);
  });

  it("holds no secret reference values", () => {
    const r = validateLab(stackLab("example-lab"), { baseDir: ROOT });
    assert.ok(r.ok);
    const text = JSON.stringify(planTopology(r.lab));
    assert.ok(!text.includes("LAB_BMC_PASSWORD") && !text.includes("bmc"), text);
  });
});

describe("schema", () => {
  it("is draft 2020-12 and every $defs entry is used", () => {
    const text = fs.readFileSync(`${ROOT}/src/lab/lab.schema.json`, "utf8");
    const schema = JSON.parse(text);
    assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
    for (const name of Object.keys(schema.$defs)) assert.ok(text.includes(`"#/$defs/${name}"`), `unused $defs/${name}`);
  });
  it("the sim stack file parses as plain YAML too", () => assert.ok(parse(fs.readFileSync(`${ROOT}/Pulumi.sim.yaml`, "utf8")).config["ixlab:lab"]));
});
