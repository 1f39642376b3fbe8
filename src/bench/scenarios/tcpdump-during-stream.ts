import { parseTcpdump } from "../cell";
import { runProbe } from "../probe";
import type { Scenario } from "./index";

/** A capture on the dut host's test NIC for the whole stream: what a packet tap costs the datapath. */
export const tcpdumpDuringStream: Scenario = {
  name: "tcpdump-during-stream",
  description: "tcpdump on the dut host's test NIC for the whole stream (bounded by -c, stopped by its PID)",
  needsNic: true,
  async during(ctx) {
    const start = await runProbe(ctx.host, "tcpdump-start", ["--nic", ctx.nic], { signal: ctx.signal });
    const startErr = start.code === 0 ? [] : [`tcpdump-start on ${ctx.hostName} failed (exit ${start.code}): ${start.stderr.trim().split("\n").pop() ?? ""}`];
    return {
      async stop() {
        // Stopped even when the cell was interrupted: a capture never outlives its cell.
        const r = await runProbe(ctx.host, "tcpdump-stop", ["--nic", ctx.nic]);
        const out = `${start.stdout}${start.stderr ? `-- stderr --\n${start.stderr}` : ""}${r.stdout}${r.stderr ? `\n-- stderr --\n${r.stderr}` : ""}`;
        const t = parseTcpdump(r.stdout);
        return {
          raw: { tcpdump: out },
          extra: { tcpdump: { captured: t.captured, receivedByFilter: t.receivedByFilter, droppedByKernel: t.droppedByKernel } },
          errors: [...startErr, ...t.errors.map((e) => `tcpdump: ${e}`), ...(r.code !== 0 ? [`tcpdump-stop exited ${r.code}: ${r.stderr.trim().split("\n").pop() ?? ""}`] : [])],
        };
      },
    };
  },
};
