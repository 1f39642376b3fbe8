// netperf's classic output, parsed: every fixture was captured on this machine (see
// test/fixtures/netperf/README.md); the expected figures are read off the files by eye.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { NetperfResult, parseNetperf } from "../../src/bench/netperf";
import { fixture } from "../helpers";

const read = (name: string) => fs.readFileSync(fixture("netperf", `${name}.txt`), "utf8");
function ok(name: string, test?: NetperfResult["test"]): NetperfResult {
  const r = parseNetperf(read(name), { test });
  assert.ok(r.ok, `${name}: ${!r.ok && r.error}`);
  return r.result;
}

describe("parseNetperf", () => {
  it("TCP_STREAM without CPU figures", () => {
    assert.deepEqual(ok("tcp_stream"), { test: "TCP_STREAM", messageSize: 16384, elapsedSeconds: 2.0, throughputMbps: 8256.27 });
  });

  it("TCP_STREAM with -c -C: throughput, local/remote CPU, service demand", () => {
    assert.deepEqual(ok("tcp_stream_cpu"), {
      test: "TCP_STREAM",
      messageSize: 4096,
      elapsedSeconds: 2.0,
      throughputMbps: 3634.19,
      localCpuPct: 99.75,
      remoteCpuPct: 99.75,
      localServiceDemand: 4.497,
      remoteServiceDemand: 4.497,
      serviceDemandUnit: "us/KB",
    });
  });

  it("-P 0 output (no banner) when told the test, and refuses it otherwise", () => {
    const r = ok("tcp_stream_nohdr", "TCP_STREAM");
    assert.equal(r.throughputMbps, 9409.21);
    assert.equal(r.messageSize, 65536);
    assert.equal(r.localCpuPct, 100);
    assert.equal(r.remoteServiceDemand, 1.741);
    const bare = parseNetperf(read("tcp_stream_nohdr"));
    assert.equal(bare.ok, false);
    assert.match(!bare.ok ? bare.error : "", /no test banner/);
  });

  it("TCP_RR: transactions per second, and its CPU figures per transaction", () => {
    assert.deepEqual(ok("tcp_rr"), { test: "TCP_RR", messageSize: 1, responseSize: 1, elapsedSeconds: 2.0, transactionsPerSec: 42206.43 });
    const c = ok("tcp_rr_cpu");
    assert.equal(c.transactionsPerSec, 40927.59);
    assert.equal(c.messageSize, 64);
    assert.equal(c.localCpuPct, 100);
    assert.equal(c.localServiceDemand, 48.867);
    assert.equal(c.serviceDemandUnit, "us/Tr");
  });

  it("UDP_STREAM: the receiver's throughput is the result, the sender's kept for loss", () => {
    const r = ok("udp_stream");
    assert.equal(r.throughputMbps, 516.88);
    assert.deepEqual(r.udp, { sentMessages: 197951, sendErrors: 0, receivedMessages: 126206, sendThroughputMbps: 810.71 });
    assert.equal(r.localCpuPct, undefined);
    const c = ok("udp_stream_cpu");
    assert.equal(c.throughputMbps, 669.9);
    assert.equal(c.messageSize, 1472);
    assert.equal(c.localCpuPct, 100);
    assert.equal(c.remoteCpuPct, 100);
    assert.equal(c.remoteServiceDemand, 15.464);
    assert.equal(c.udp?.receivedMessages, 113807);
  });

  it("TCP_MAERTS, with and without CPU", () => {
    assert.deepEqual(ok("tcp_maerts"), { test: "TCP_MAERTS", messageSize: 16384, elapsedSeconds: 2.0, throughputMbps: 9090.93 });
    const c = ok("tcp_maerts_cpu");
    assert.equal(c.throughputMbps, 5976.96);
    assert.equal(c.remoteServiceDemand, 2.734);
  });

  it("a missing netserver is an error with netperf's own words", () => {
    const r = parseNetperf(read("error_no_netserver"));
    assert.deepEqual(r, { ok: false, error: "establish control: are you sure there is a netserver listening on 198.18.7.1 at port 12999?" });
    const u = parseNetperf(read("error_unreachable"));
    assert.equal(u.ok, false);
    assert.match(!u.ok ? u.error : "", /^establish control: .*198\.19\.255\.254 at port 12866\?$/);
  });

  it("a banner for another test than the one asked for is an error", () => {
    const r = parseNetperf(read("tcp_rr"), { test: "TCP_STREAM" });
    assert.deepEqual(r, { ok: false, error: "netperf ran TCP_RR, expected TCP_STREAM" });
  });

  it("output cut off before the result line is an error that quotes it", () => {
    const cut = read("tcp_stream").split("\n").slice(0, 5).join("\n");
    const r = parseNetperf(cut);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : "", /^TCP_STREAM: no result line; output was: "MIGRATED TCP STREAM TEST/);
  });
});
