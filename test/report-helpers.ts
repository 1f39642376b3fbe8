// A small synthetic bench run written with the results API, for report tests.
import { createRun, NewCell, RunOptions } from "../src/bench/results";

const options: RunOptions = { variants: ["baseline", "zerocopy"], tests: ["TCP_STREAM"], sizes: [4096, 65536], durationSeconds: 2, repetitions: 3, streams: 1, scenario: null };

type Fig = [number, number, number, number | null];
// variant, size -> per repetition [throughput, qemu, vhost, irq/s]; zerocopy 64K r3 is missing.
const figures: Record<string, Record<number, Fig[]>> = {
  baseline: {
    4096: [[4900, 118, 84, 2000], [4910, 118.5, 84, 2100], [4920, 119, 84, 2200]],
    65536: [[9000, 116, 82, null], [9100, 116, 82, null], [9200, 116, 82, null]],
  },
  zerocopy: {
    4096: [[7400, 92, 22.5, 1200], [7402, 92, 22.5, 1200], [7300, 92, 22.5, 1200]],
    65536: [[9150, 90, 24, 1250], [9170, 90, 24, 1250]],
  },
};

export function syntheticRun(root: string, run = "r1", variants = options.variants): string {
  const r = createRun(root, { stack: "sim", run, started: new Date("2025-01-01T12:00:00Z"), options: { ...options, variants }, environment: { qemu: "7.2.0", zeroCopy: { zerocopy: true } } });
  for (const variant of variants)
    for (const size of options.sizes)
      figures[variant === "patched" ? "zerocopy" : variant][size].forEach(([mbps, qemu, vhost, irq], i) => {
        const cell: NewCell = {
          variant,
          test: "TCP_STREAM",
          size,
          streams: 1,
          repetition: i + 1,
          scenario: null,
          started: "2025-01-01T12:00:00.000Z",
          ended: "2025-01-01T12:00:02.000Z",
          throughputMbps: mbps,
          netperf: { localCpuPct: null, remoteCpuPct: null },
          qemuCpuPct: qemu,
          vhostCpuPct: vhost,
          guestCpuPct: null,
          irqPerSec: irq,
          ...(irq === null ? { irqNote: 'none found: no interrupt line matches "eth1" (a veth or other virtual NIC has none)' } : {}),
          kvmExitsPerSec: null,
          errors: [],
          retransmissions: null,
        };
        r.writeCell(cell, { netperf: `${mbps}\n` });
      });
  r.finish(new Date("2025-01-01T12:10:00Z"));
  return r.dir;
}
