// Synthetic bench runs with known differences, written with the results API, for the verdict tests:
// a seeded normal generator, so every run is the same on every machine.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after } from "node:test";
import { createRun, Datapath, NewCell, RunOptions } from "../src/bench/results";

/** A maker of temporary directories, all removed after the test file. */
export function scratch(prefix: string): () => string {
  const made: string[] = [];
  after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

/** mulberry32 with Box-Muller: reproducible N(mean, sd) draws from a seed. */
export function normals(seed: number): (mean: number, sd: number) => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (mean, sd) => mean + sd * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

export interface Figures {
  mbps: number;
  qemu?: number | null;
  vhost?: number | null;
  irq?: number | null;
}

export interface SyntheticSpec {
  stack?: string;
  run?: string;
  variants: string[];
  sizes: number[];
  repetitions: number;
  /** The figures of one cell. */
  figures: (variant: string, size: number, repetition: number) => Figures;
  environment?: Record<string, unknown>;
  datapath?: (variant: string, size: number) => Datapath | undefined;
  options?: Partial<RunOptions>;
}

export function writeSyntheticRun(root: string, spec: SyntheticSpec): string {
  const options: RunOptions = { variants: spec.variants, tests: ["TCP_STREAM"], sizes: spec.sizes, durationSeconds: 5, repetitions: spec.repetitions, streams: 1, scenario: null, ...spec.options };
  const r = createRun(root, { stack: spec.stack ?? "sim", run: spec.run ?? "r1", started: new Date("2026-01-01T12:00:00Z"), options, environment: spec.environment ?? {} });
  for (const variant of spec.variants)
    for (const size of spec.sizes)
      for (let repetition = 1; repetition <= spec.repetitions; repetition++) {
        const f = spec.figures(variant, size, repetition);
        const dp = spec.datapath?.(variant, size);
        const cell: NewCell = {
          variant,
          test: "TCP_STREAM",
          size,
          streams: 1,
          repetition,
          scenario: null,
          started: "2026-01-01T12:00:00.000Z",
          ended: "2026-01-01T12:00:05.000Z",
          throughputMbps: +f.mbps.toFixed(2),
          netperf: { localCpuPct: null, remoteCpuPct: null },
          qemuCpuPct: f.qemu ?? null,
          vhostCpuPct: f.vhost ?? null,
          guestCpuPct: null,
          irqPerSec: f.irq ?? null,
          kvmExitsPerSec: null,
          errors: [],
          retransmissions: null,
          ...(dp ? { datapath: dp } : {}),
        };
        r.writeCell(cell, { netperf: `${f.mbps}\n` });
      }
  r.finish(new Date("2026-01-01T12:30:00Z"));
  return r.dir;
}

/** The old (ixlab-run/1, no cell datapath) environment of a sim run where vhost-net is absent. */
export function simEnvironmentWithoutVhost(variants: string[]): Record<string, unknown> {
  return {
    dut: "dut",
    kernels: { hosts: { dut: "6.1.0-28-amd64", peer: "6.1.0-28-amd64" } },
    qemu: "QEMU emulator version 7.2.15",
    nic: { name: "eth1", driver: "veth", mtu: 1500 },
    tuning: { governor: "none", mtu: "1500" },
    variants: Object.fromEntries(
      variants.map((v) => [v, { variant: v, accel: "tcg", vhost: { requested: true, effective: false, note: "no /dev/vhost-net" }, zeroCopy: { requested: v === "zerocopy", effective: false }, guestKernel: "6.1.158-ixlab-guest" }]),
    ),
  };
}

export const datapath = (over: Partial<Datapath> = {}): Datapath => ({
  vhost: true,
  vhostWorkers: [4242],
  zeroCopy: false,
  hostKernel: "6.1.0-28-amd64",
  guestKernel: "6.1.158-ixlab-guest",
  qemuCmdlineSha256: "a".repeat(64),
  mtu: 1500,
  offloads: { "tcp-segmentation-offload": true, "scatter-gather": true },
  ...over,
});
