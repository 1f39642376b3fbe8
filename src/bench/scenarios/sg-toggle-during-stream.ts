import { parseSgToggle, sgTogglePlan } from "../cell";
import { runProbe } from "../probe";
import type { Scenario } from "./index";

/**
 * Scatter-gather off and on on the test NIC while the stream runs: the datapath must survive a
 * feature change under load. The toggle restores what it found (through host-tune's record), and
 * if it was cut short the runner's sg-restore does.
 */
export const sgToggleDuringStream: Scenario = {
  name: "sg-toggle-during-stream",
  description: "scatter-gather switched off and on on the dut host's test NIC during the stream; the original state restored; errors and retransmissions recorded",
  needsNic: true,
  async during(ctx) {
    const plan = sgTogglePlan(ctx.durationSeconds);
    const toggling = runProbe(ctx.host, "sg-toggle", ["--nic", ctx.nic, "--interval", String(plan.intervalSeconds), "--toggles", String(plan.toggles)], { timeoutMs: (ctx.durationSeconds + 60) * 1000, signal: ctx.signal });
    return {
      async stop() {
        const d = await toggling;
        const t = parseSgToggle(d.stdout);
        const errors = t.errors.map((e) => `sg-toggle: ${e}`);
        let restore = "";
        if (t.restored !== t.original || d.code !== 0) {
          const r = await runProbe(ctx.host, "sg-restore", ["--nic", ctx.nic]);
          restore = `\n-- sg-restore (exit ${r.code}) --\n${r.stdout}${r.stderr}`;
          errors.push(`scatter-gather put back by sg-restore after the toggle ${d.code !== 0 ? `exited ${d.code}` : "ended unrestored"} (${r.code === 0 ? "ok" : `failed: ${r.stderr.trim()}`})`);
        }
        return {
          raw: { "sg-toggle": d.stdout + (d.stderr ? `\n-- stderr --\n${d.stderr}` : "") + restore },
          extra: { sgToggle: { ...plan, original: t.original, restored: t.restored, toggles: t.toggles, nicErrors: t.nicErrors } },
          errors,
        };
      },
    };
  },
};
