// What one cell runs and how its outputs are read: the guest's script (netperf, one or N concurrent
// streams, between two readings of the guest's TCP counters and CPU), and the outputs of the
// scenarios' host steps (roles/bench-probe.sh). Plain functions; the runner does the SSH.
import { parseNetperf, NetperfResult } from "./netperf";
import { hostCpu, parseProcStat } from "./procstat";
import { BenchTest } from "./results";

/** netperf as the bench runs it: the one command line ixlab builds (src/lab/netperf.ts). */
export { netperfCommand } from "../lab/netperf";

/**
 * The guest side of a cell (busybox sh): TCP counters and /proc/stat, `streams` netperfs started
 * together and waited for, the counters again. Sections start with "== name".
 */
export function guestCellScript(netperf: string, streams: number): string {
  return [
    "d=/tmp/ixlab-cell; rm -rf $d; mkdir -p $d",
    "echo '== uname'; uname -r",
    "echo '== snmp-before'; cat /proc/net/snmp",
    "echo '== stat-before'; cat /proc/stat",
    // The guest's clock around the streams: netperf times its test and computes its figures with it.
    "echo '== clock-before'; cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null; cat /proc/uptime",
    `i=1; while [ $i -le ${streams} ]; do ( ${netperf}; echo "== rc $?" ) > $d/$i 2>&1 & i=$((i+1)); done`,
    "wait",
    "echo '== clock-after'; cat /proc/uptime",
    "echo '== stat-after'; cat /proc/stat",
    "echo '== snmp-after'; cat /proc/net/snmp",
    `i=1; while [ $i -le ${streams} ]; do echo "== stream $i"; cat $d/$i; i=$((i+1)); done`,
    "rm -rf $d",
    "echo '== end'",
  ].join("\n");
}

export function sections(text: string): Record<string, string> {
  const out: Record<string, string[]> = {};
  let cur: string[] | undefined;
  for (const line of text.split("\n")) {
    const m = /^== (uname|snmp-before|stat-before|clock-before|clock-after|stat-after|snmp-after|stream \d+|end)$/.exec(line);
    if (m) out[m[1]] = cur = [];
    else cur?.push(line);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.join("\n")]));
}

/** A counter from /proc/net/snmp ("Tcp", "RetransSegs"): a header line and a value line per protocol. */
export function snmpCounter(text: string, proto: string, field: string): number | undefined {
  const rows = text.split("\n").filter((l) => l.startsWith(`${proto}:`));
  if (rows.length < 2) return undefined;
  const names = rows[0].split(/\s+/).slice(1);
  const values = rows[1].split(/\s+/).slice(1);
  const i = names.indexOf(field);
  return i < 0 ? undefined : Number(values[i]);
}

export interface GuestCell {
  /** Per stream: the parsed result, or why it failed. */
  streams: ({ ok: true; result: NetperfResult } | { ok: false; error: string })[];
  /** Stream tests: summed over the streams; null when a stream failed or the test has none. */
  throughputMbps: number | null;
  transactionsPerSec: number | null;
  localCpuPct: number | null;
  remoteCpuPct: number | null;
  localServiceDemand: number | null;
  remoteServiceDemand: number | null;
  serviceDemandUnit: "us/KB" | "us/Tr" | null;
  retransmissions: number | null;
  guestCpuPct: number | null;
  /** The guest's `uname -r` when the cell started. */
  guestKernel: string | null;
  /** The guest's clocksource and how many seconds its clock counted from before the streams to after them. */
  guestClock: { clocksource: string | null; seconds: number | null };
  errors: string[];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Reads the guest script's output; a failed or missing stream is an error, never a zero. */
export function parseGuestCell(text: string, test: BenchTest, streams: number): GuestCell {
  const s = sections(text);
  const errors: string[] = [];
  const results: GuestCell["streams"] = [];
  for (let i = 1; i <= streams; i++) {
    const out = s[`stream ${i}`];
    if (out === undefined) {
      results.push({ ok: false, error: `stream ${i}: no output (the guest script was cut short)` });
      continue;
    }
    const rc = /^== rc (\d+)$/m.exec(out);
    const p = parseNetperf(out.replace(/^== rc \d+$/m, ""), { test });
    if (!p.ok) results.push({ ok: false, error: `stream ${i}: ${p.error}${rc && rc[1] !== "0" ? ` (netperf exit ${rc[1]})` : ""}` });
    else if (rc && rc[1] !== "0") results.push({ ok: false, error: `stream ${i}: netperf exited ${rc[1]}` });
    else results.push(p);
  }
  for (const r of results) if (!r.ok) errors.push(r.error);
  const ok = results.filter((r): r is { ok: true; result: NetperfResult } => r.ok).map((r) => r.result);
  const all = ok.length === streams;
  const sum = (k: "throughputMbps" | "transactionsPerSec") => (all && ok.every((r) => r[k] !== undefined) ? ok.reduce((a, r) => a + (r[k] as number), 0) : null);
  const fig = (k: "localCpuPct" | "remoteCpuPct" | "localServiceDemand" | "remoteServiceDemand") => mean(ok.map((r) => r[k]).filter((v): v is number => v !== undefined));
  const rb = s["snmp-before"] !== undefined ? snmpCounter(s["snmp-before"], "Tcp", "RetransSegs") : undefined;
  const ra = s["snmp-after"] !== undefined ? snmpCounter(s["snmp-after"], "Tcp", "RetransSegs") : undefined;
  let guestCpuPct: number | null = null;
  try {
    if (s["stat-before"] !== undefined && s["stat-after"] !== undefined) guestCpuPct = hostCpu(parseProcStat(s["stat-before"]), parseProcStat(s["stat-after"])).busyPct;
  } catch {
    guestCpuPct = null;
  }
  return {
    streams: results,
    throughputMbps: sum("throughputMbps"),
    transactionsPerSec: sum("transactionsPerSec"),
    localCpuPct: fig("localCpuPct"),
    remoteCpuPct: fig("remoteCpuPct"),
    localServiceDemand: fig("localServiceDemand"),
    remoteServiceDemand: fig("remoteServiceDemand"),
    serviceDemandUnit: ok[0]?.serviceDemandUnit ?? null,
    retransmissions: rb !== undefined && ra !== undefined && ra >= rb ? ra - rb : null,
    guestCpuPct,
    guestKernel: s.uname?.trim().split("\n")[0] || null,
    guestClock: guestClockOf(s["clock-before"], s["clock-after"]),
    errors,
  };
}

/** /proc/uptime's first figure on the last line of a section that has one. */
function uptimeOf(text: string | undefined): number | null {
  const line = (text ?? "").split("\n").reverse().find((l) => /^\d+(\.\d+)? \d+(\.\d+)?$/.test(l.trim()));
  return line ? Number(line.trim().split(" ")[0]) : null;
}

function guestClockOf(before: string | undefined, after: string | undefined): GuestCell["guestClock"] {
  const clocksource = (before ?? "").split("\n").map((l) => l.trim()).find((l) => /^[a-z][\w-]*$/i.test(l)) ?? null;
  const [b, a] = [uptimeOf(before), uptimeOf(after)];
  return { clocksource, seconds: b !== null && a !== null && a >= b ? Math.round((a - b) * 100) / 100 : null };
}

/** Clocksources that only count timer ticks: a vCPU that misses ticks (TCG, an overloaded host) loses time. */
export const TICK_CLOCKSOURCES = ["jiffies", "refined-jiffies"];

export interface GuestClock {
  clocksource: string | null;
  /**
   * Seconds the guest's clock counted across the streams, and seconds of the bench's own clock across
   * the guest's whole script. Not a clock rate: the second also holds SSH to the guest and the
   * counters around the streams (2.5-12 s per cell on the VM lab's nested TCG guest).
   */
  guestSeconds: number | null;
  wallSeconds: number;
  warning?: string;
}

/**
 * Whether the guest's clock can be trusted for a cell: netperf times `-l` and divides by its elapsed
 * time on that clock, while the peer's netserver gives up `-l` + 4 s after the test began on its own
 * (a receiver's pad, netperf's PAD_TIME). A guest on a tick-counting clocksource (no TSC calibration:
 * a nested TCG guest without HPET or ACPI PM timer) runs slow, so its streams overrun that pad and
 * are reset mid-stream, and whatever survives is a rate per guest second.
 */
export function guestClockCheck(clock: GuestCell["guestClock"], wallSeconds: number, durationSeconds: number): GuestClock {
  const out: GuestClock = { clocksource: clock.clocksource, guestSeconds: clock.seconds, wallSeconds: Math.round(wallSeconds * 100) / 100 };
  if (clock.clocksource && TICK_CLOCKSOURCES.includes(clock.clocksource)) {
    const ran = clock.seconds !== null ? `; it counted ${clock.seconds} s across the streams, ${out.wallSeconds} s went by across the guest's script` : "";
    out.warning = `the guest's clocksource is ${clock.clocksource}, which loses time when the guest misses timer ticks${ran}: netperf's -l ${durationSeconds} can outlast the peer's netserver (-l + 4 s, then it closes the connection) and its figures are per guest second (give the guest's kernel an HPET or kvm-clock)`;
  }
  return out;
}

/** Counts from tcpdump's closing lines. */
export function parseTcpdump(text: string): { captured: number | null; receivedByFilter: number | null; droppedByKernel: number | null; errors: string[] } {
  const n = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  const errors = text.split("\n").filter((l) => /^error: |^tcpdump: .*(error|denied|No such|doesn't exist)/i.test(l));
  const captured = n(/^(\d+) packets? captured/m);
  if (captured === null && errors.length === 0) errors.push(`tcpdump printed no packet counts: ${JSON.stringify(text.trim().slice(-200))}`);
  return { captured, receivedByFilter: n(/^(\d+) packets? received by filter/m), droppedByKernel: n(/^(\d+) packets? dropped by kernel/m), errors };
}

/** Toggles in a stream of `seconds`: one off/on pair per 4 s, 1 to 5 pairs, inside the stream. */
export function sgTogglePlan(seconds: number): { toggles: number; intervalSeconds: number } {
  const toggles = Math.max(1, Math.min(5, Math.floor(seconds / 4)));
  return { toggles, intervalSeconds: Math.round((seconds / (2 * toggles + 1)) * 100) / 100 };
}

export function parseSgToggle(text: string): { original: string | null; restored: string | null; toggles: number; nicErrors: Record<string, number>; errors: string[] } {
  const one = (re: RegExp) => re.exec(text)?.[1] ?? null;
  const stat = (line: string | null) => Object.fromEntries((line ?? "").trim().split(/\s+/).filter(Boolean).map((kv) => kv.split("=")).map(([k, v]) => [k, Number(v)]));
  const before = stat(one(/^stats-before (.*)$/m));
  const after = stat(one(/^stats-after (.*)$/m));
  const nicErrors = Object.fromEntries(Object.keys(after).filter((k) => k in before).map((k) => [k, after[k] - before[k]]));
  const original = one(/^sg original (\S+)/m);
  const restored = one(/^sg restored (\S+)/m);
  const errors = text.split("\n").filter((l) => l.startsWith("error: ")).map((l) => l.slice(7));
  if (original && restored !== original) errors.push(`scatter-gather is ${restored ?? "unknown"} after the cell, was ${original}`);
  for (const [k, v] of Object.entries(nicErrors)) if (v > 0) errors.push(`${k} +${v} during the stream`);
  return { original, restored, toggles: (text.match(/^toggle \d+ sg on$/gm) ?? []).length, nicErrors, errors };
}
