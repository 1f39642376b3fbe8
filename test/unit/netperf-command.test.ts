// The one netperf command line the bench and the topology share.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { netperfCommand } from "../../src/lab/netperf";

describe("netperfCommand", () => {
  const peer = { address: "198.19.2.2", port: 12865 };
  it("sizes a stream test's send message with -m", () => {
    assert.equal(netperfCommand(peer, "TCP_STREAM", 4096, 120), "netperf -H 198.19.2.2 -p 12865 -t TCP_STREAM -l 120 -c -C -- -m 4096");
    assert.equal(netperfCommand(peer, "UDP_STREAM", 64, 10, false), "netperf -H 198.19.2.2 -p 12865 -t UDP_STREAM -l 10 -- -m 64");
  });
  it("sizes a request/response test's request and response with -r (netperf ignores -m there)", () => {
    assert.equal(netperfCommand(peer, "TCP_RR", 64, 10), "netperf -H 198.19.2.2 -p 12865 -t TCP_RR -l 10 -c -C -- -r 64,64");
  });
});
