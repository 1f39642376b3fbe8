import type { Scenario } from "./index";

export const SMALL_MESSAGE_SIZES = [64, 128, 256, 512, 1024, 2048];

/** Where a guest's TX queue overruns: many small sends. */
export const smallMessageSweep: Scenario = {
  name: "small-message-sweep",
  description: "message sizes 64 B to 2K, where the guest's TX overruns",
  sizes: SMALL_MESSAGE_SIZES,
};
