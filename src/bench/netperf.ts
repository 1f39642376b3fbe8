// Parsing netperf 2.x "classic" output (the default, or -P 0 without the banner and headers) for the
// tests the bench runs. Figures are taken by column position, which is fixed per test and per
// whether CPU measurement (-c / -C) was asked for; the banner names the test when it is present.

export type NetperfTest = "TCP_STREAM" | "TCP_MAERTS" | "TCP_RR" | "UDP_STREAM";

export interface NetperfResult {
  test: NetperfTest;
  elapsedSeconds: number;
  /** Stream tests: 10^6 bits/s as netperf prints it (Mb/s). UDP_STREAM: what the receiver got. */
  throughputMbps?: number;
  /** TCP_RR: transactions per second. */
  transactionsPerSec?: number;
  /** CPU utilization in percent of all CPUs of that side (netperf's own measure, -c / -C). */
  localCpuPct?: number;
  remoteCpuPct?: number;
  /** Service demand: microseconds of CPU per KB (stream tests) or per transaction (TCP_RR). */
  localServiceDemand?: number;
  remoteServiceDemand?: number;
  serviceDemandUnit?: "us/KB" | "us/Tr";
  /** Send size (stream tests) or request size (TCP_RR), bytes. */
  messageSize?: number;
  responseSize?: number;
  /** UDP_STREAM only: the sender's view, to show loss (sent vs received). */
  udp?: { sentMessages: number; sendErrors: number; receivedMessages: number; sendThroughputMbps: number };
}

export type NetperfParse = { ok: true; result: NetperfResult } | { ok: false; error: string };

const BANNERS: [RegExp, NetperfTest][] = [
  [/\bTCP STREAM TEST\b/, "TCP_STREAM"],
  [/\bTCP MAERTS TEST\b/, "TCP_MAERTS"],
  [/\bTCP REQUEST\/RESPONSE TEST\b/, "TCP_RR"],
  [/\bUDP STREAM TEST\b/, "UDP_STREAM"],
];

// Lines netperf prints when a test did not run or broke off; the first one found is the error.
const ERROR_LINES = [
  /^establish control: .*/m,
  /^netperf: .*(?:failed|error|refused|reset|unable|cannot|could not).*/im,
  /^(?:send_data|recv_data|send_omni|recv_response|send_response)\b.*/m,
  /^.*: (?:Connection refused|Connection reset by peer|No route to host|Network is unreachable|Broken pipe)\s*$/m,
];

const NUMERIC_LINE = /^\s*-?\d+(?:\.\d+)?(?:\s+-?\d+(?:\.\d+)?)*\s*$/;

/** A CPU or service-demand figure; netperf prints -1 (or leaves it out) when it did not measure. */
function measured(v: number | undefined): number | undefined {
  return v === undefined || v < 0 ? undefined : v;
}

/**
 * Parses one netperf invocation's output (stdout, or stdout and stderr together). `test` is needed
 * only for -P 0 output, which has no banner; when both are there they must agree.
 */
export function parseNetperf(text: string, opts: { test?: NetperfTest } = {}): NetperfParse {
  for (const re of ERROR_LINES) {
    const m = re.exec(text);
    if (m) return { ok: false, error: m[0].trim() };
  }
  const banner = BANNERS.find(([re]) => re.test(text))?.[1];
  if (banner && opts.test && banner !== opts.test) return { ok: false, error: `netperf ran ${banner}, expected ${opts.test}` };
  const test = banner ?? opts.test;
  if (!test) return { ok: false, error: "netperf output has no test banner (run with -P 1, or tell the parser which test ran)" };
  const rows = text
    .split("\n")
    .filter((l) => NUMERIC_LINE.test(l))
    .map((l) => l.trim().split(/\s+/).map(Number));
  const fail = (why: string): NetperfParse => ({ ok: false, error: `${test}: ${why}; output was: ${JSON.stringify(text.trim().slice(0, 300))}` });
  if (rows.length === 0) return fail("no result line");

  switch (test) {
    case "TCP_STREAM":
    case "TCP_MAERTS": {
      // recv-socket send-socket message elapsed throughput [local-cpu remote-cpu local-sd remote-sd]
      const r = rows.find((x) => x.length === 5 || x.length === 9);
      if (!r) return fail("no line with 5 or 9 figures");
      return {
        ok: true,
        result: {
          test,
          messageSize: r[2],
          elapsedSeconds: r[3],
          throughputMbps: r[4],
          ...cpu(r.length === 9 ? r.slice(5) : [], "us/KB"),
        },
      };
    }
    case "TCP_RR": {
      // send-socket recv-socket request response elapsed rate [local-cpu remote-cpu local-sd remote-sd]
      const r = rows.find((x) => x.length === 6 || x.length === 10);
      if (!r) return fail("no line with 6 or 10 figures");
      return {
        ok: true,
        result: {
          test,
          messageSize: r[2],
          responseSize: r[3],
          elapsedSeconds: r[4],
          transactionsPerSec: r[5],
          ...cpu(r.length === 10 ? r.slice(6) : [], "us/Tr"),
        },
      };
    }
    case "UDP_STREAM": {
      // sender:   socket message elapsed okay errors throughput [cpu sd]
      // receiver: socket elapsed okay throughput [cpu sd]
      const i = rows.findIndex((x) => x.length === 6 || x.length === 8);
      const send = rows[i];
      const recv = i < 0 ? undefined : rows.slice(i + 1).find((x) => x.length === 4 || x.length === 6);
      if (!send || !recv) return fail("no sender and receiver lines");
      const local = send.length === 8 ? send.slice(6) : [];
      const remote = recv.length === 6 ? recv.slice(4) : [];
      return {
        ok: true,
        result: {
          test,
          messageSize: send[1],
          elapsedSeconds: recv[1],
          throughputMbps: recv[3],
          localCpuPct: measured(local[0]),
          remoteCpuPct: measured(remote[0]),
          localServiceDemand: measured(local[1]),
          remoteServiceDemand: measured(remote[1]),
          ...(local.length || remote.length ? { serviceDemandUnit: "us/KB" as const } : {}),
          udp: { sentMessages: send[3], sendErrors: send[4], receivedMessages: recv[2], sendThroughputMbps: send[5] },
        },
      };
    }
  }
}

function cpu(f: number[], unit: "us/KB" | "us/Tr"): Partial<NetperfResult> {
  if (f.length === 0) return {};
  return { localCpuPct: measured(f[0]), remoteCpuPct: measured(f[1]), localServiceDemand: measured(f[2]), remoteServiceDemand: measured(f[3]), serviceDemandUnit: unit };
}
