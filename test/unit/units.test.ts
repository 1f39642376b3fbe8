import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatSize, parseDuration, parseSize } from "../../src/lab/units";
import { cidrContains, cidrWithin, isHostAddress, parseCidr } from "../../src/lab/net";

describe("parseSize", () => {
  it("reads the reference sizes", () => assert.deepEqual(["4K", "8K", "16K", "64K"].map(parseSize), [4096, 8192, 16384, 65536]));
  it("reads plain numbers, lower case and KiB/MB spellings", () => {
    assert.equal(parseSize(1500), 1500);
    assert.equal(parseSize("1500"), 1500);
    assert.equal(parseSize("2k"), 2048);
    assert.equal(parseSize("64KiB"), 65536);
    assert.equal(parseSize("1MB"), 1048576);
    assert.equal(parseSize("2G"), 2 * 1024 ** 3);
  });
  it("rejects what is not a size", () => {
    for (const v of ["", "K", "4X", "-4K", "4.5K", 0, -1, 1.5, "1 gig", null, {}]) assert.equal(parseSize(v), undefined, String(v));
  });
  it("formats sizes back to their shortest exact spelling", () => {
    assert.deepEqual([4096, 65536, 1500, 1048576, 3 * 1024 ** 3, 1536].map(formatSize), ["4K", "64K", "1500", "1M", "3G", "1536"]);
  });
});

describe("parseDuration", () => {
  it("reads seconds, minutes, hours", () => assert.deepEqual([120, "120", "90s", "2m", "1h"].map(parseDuration), [120, 120, 90, 120, 3600]));
  it("rejects the rest", () => {
    for (const v of ["2d", "", "1.5m", 0, "0s", -5, "two minutes"]) assert.equal(parseDuration(v), undefined, String(v));
  });
});

describe("addresses", () => {
  it("parses CIDRs and finds the network", () => {
    assert.deepEqual(parseCidr("198.19.0.10/24"), { address: "198.19.0.10", prefix: 24, network: (198 * 256 ** 3) + (19 * 256 ** 2) });
    assert.equal(parseCidr("198.19.0.10"), undefined);
    assert.equal(parseCidr("198.19.0.300/24"), undefined);
    assert.equal(parseCidr("198.19.0.1/33"), undefined);
  });
  it("knows the benchmark range", () => {
    const range = parseCidr("198.18.0.0/15")!;
    assert.ok(cidrContains(range, "198.19.255.255"));
    assert.ok(!cidrContains(range, "198.20.0.0"));
    assert.ok(!cidrContains(range, "10.0.0.1"));
    assert.ok(cidrWithin(parseCidr("198.18.4.0/24")!, range));
    assert.ok(!cidrWithin(parseCidr("198.16.0.0/12")!, range));
  });
  it("accepts IPs and DNS names as management addresses", () => {
    for (const a of ["192.0.2.1", "2001:db8::1", "dut1.lab.example.org", "dut1"]) assert.ok(isHostAddress(a), a);
    for (const a of ["192.0.2.300", "1.2.3", "-dut", "a..b", ""]) assert.ok(!isHostAddress(a), a);
  });
});
