import type { Scenario } from "./index";

export const MULTI_STREAM_DEFAULT = 4;

/** N netperfs at once from the guest; the cell's throughput is their sum. */
export const multiStream: Scenario = {
  name: "multi-stream",
  description: "N concurrent netperf streams per cell (--streams, default 4), throughput summed",
  streams: MULTI_STREAM_DEFAULT,
};
