// The reference experiment's stress scenarios behind one small interface: what a scenario changes in
// the matrix (sizes, streams), and what it runs on the dut host during each cell's stream.
import type { CommandRunner } from "../probe";
import { multiStream } from "./multi-stream";
import { sgToggleDuringStream } from "./sg-toggle-during-stream";
import { smallMessageSweep } from "./small-message-sweep";
import { tcpdumpDuringStream } from "./tcpdump-during-stream";

export interface ScenarioContext {
  host: CommandRunner;
  hostName: string;
  /** The dut host's test NIC. */
  nic: string;
  durationSeconds: number;
  signal?: AbortSignal;
}

export interface ScenarioReport {
  /** Raw outputs by role, written next to cell.json. */
  raw: Record<string, string>;
  /** Figures for cell.json's extra. */
  extra: Record<string, unknown>;
  errors: string[];
}

/** What runs on the host while the stream runs: started before it, stopped after it. */
export interface DuringStream {
  stop(): Promise<ScenarioReport>;
}

export interface Scenario {
  name: string;
  description: string;
  /** Message sizes the scenario runs unless --sizes says otherwise. */
  sizes?: number[];
  /** Concurrent streams unless --streams says otherwise. */
  streams?: number;
  /** Needs the dut host's test NIC. */
  needsNic?: boolean;
  during?(ctx: ScenarioContext): Promise<DuringStream>;
}

export const SCENARIO_LIST: Scenario[] = [multiStream, tcpdumpDuringStream, sgToggleDuringStream, smallMessageSweep];

export function scenarioNamed(name: string | null): Scenario | undefined {
  return SCENARIO_LIST.find((s) => s.name === name);
}
