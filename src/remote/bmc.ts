// Power-cycling a lab host through its BMC, for a host that does not come back after a kernel
// install. IPMI goes through ipmitool with the password in its environment (-E reads IPMI_PASSWORD),
// never on a command line; Redfish through a ComputerSystem.Reset POST over HTTPS with basic auth.
// Nothing returned or thrown here contains the password.
import { spawn } from "node:child_process";
import * as https from "node:https";

export interface BmcTarget {
  type: "ipmi" | "redfish";
  address: string;
  user: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}
export type Exec = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => Promise<ExecResult>;
export type HttpRequest = (method: "GET" | "POST", url: string, headers: Record<string, string>, body?: string) => Promise<{ status: number; body: string }>;

export class BmcError extends Error {}

const defaultExec: Exec = (cmd, args, env) => new Promise((resolve, reject) => {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  child.on("error", reject);
  child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
});

// BMCs with self-signed certificates: give their CA with NODE_EXTRA_CA_CERTS; verification stays on.
const defaultHttp: HttpRequest = (method, url, headers, body) => new Promise((resolve, reject) => {
  const req = https.request(url, { method, headers, timeout: 30_000 }, (res) => {
    let text = "";
    res.on("data", (d) => (text += d));
    res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
  });
  req.on("timeout", () => req.destroy(new Error("timed out after 30 s")));
  req.on("error", reject);
  req.end(body);
});

function scrub(text: string, password: string): string {
  return password ? text.split(password).join("***") : text;
}

/** ipmitool's arguments (the password is not among them) and its environment. */
export function ipmitoolCommand(bmc: BmcTarget, password: string, action: string[]): { args: string[]; env: NodeJS.ProcessEnv } {
  return {
    args: ["-I", "lanplus", "-H", bmc.address, "-U", bmc.user, "-E", ...action],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", IPMI_PASSWORD: password },
  };
}

function ipmi(bmc: BmcTarget, password: string, exec: Exec) {
  return async (action: string[]): Promise<string> => {
    const c = ipmitoolCommand(bmc, password, action);
    let r: ExecResult;
    try {
      r = await exec("ipmitool", c.args, c.env);
    } catch (e) {
      throw new BmcError(`BMC ${bmc.address}: cannot run ipmitool (Debian package ipmitool): ${(e as Error).message}`);
    }
    // One line: ipmitool says why over several ("Unable to Get Channel Cipher Suites", then "Error: ...").
    const why = (r.stderr.trim() || r.stdout.trim()).split("\n").map((l) => l.trim()).filter(Boolean).join(" | ");
    if (r.code !== 0) throw new BmcError(`BMC ${bmc.address}: ipmitool ${action.join(" ")} failed: ${scrub(why, password)}`);
    return r.stdout.trim();
  };
}

async function ipmiPowerCycle(bmc: BmcTarget, password: string, exec: Exec): Promise<string> {
  const run = ipmi(bmc, password, exec);
  const status = await run(["chassis", "power", "status"]);
  // "power cycle" does nothing to a chassis that is off.
  const action = /is off/i.test(status) ? ["chassis", "power", "on"] : ["chassis", "power", "cycle"];
  await run(action);
  return `ipmitool ${action.join(" ")} (was: ${status})`;
}

function redfish(bmc: BmcTarget, password: string, http: HttpRequest) {
  const base = `https://${bmc.address.includes(":") && !bmc.address.startsWith("[") ? `[${bmc.address}]` : bmc.address}`;
  const headers = { Authorization: `Basic ${Buffer.from(`${bmc.user}:${password}`).toString("base64")}`, Accept: "application/json", "Content-Type": "application/json" };
  const call = async (method: "GET" | "POST", p: string, body?: unknown) => {
    let r: { status: number; body: string };
    try {
      r = await http(method, base + p, headers, body === undefined ? undefined : JSON.stringify(body));
    } catch (e) {
      throw new BmcError(`BMC ${bmc.address}: Redfish ${method} ${p}: ${scrub((e as Error).message, password)}`);
    }
    if (r.status < 200 || r.status >= 300) throw new BmcError(`BMC ${bmc.address}: Redfish ${method} ${p} answered HTTP ${r.status}: ${scrub(r.body.slice(0, 200), password)}`);
    return r.body ? (JSON.parse(r.body) as Record<string, any>) : {};
  };
  const system = async () => {
    const systems = await call("GET", "/redfish/v1/Systems");
    const id = systems.Members?.[0]?.["@odata.id"] as string | undefined;
    if (!id) throw new BmcError(`BMC ${bmc.address}: Redfish lists no ComputerSystem under /redfish/v1/Systems`);
    return { id, state: (await call("GET", id)).PowerState as string | undefined };
  };
  return { call, system };
}

async function redfishPowerCycle(bmc: BmcTarget, password: string, http: HttpRequest): Promise<string> {
  const r = redfish(bmc, password, http);
  const { id, state } = await r.system();
  const resetType = state === "Off" ? "On" : "ForceRestart";
  await r.call("POST", `${id}/Actions/ComputerSystem.Reset`, { ResetType: resetType });
  return `Redfish ComputerSystem.Reset ${resetType} on ${id} (was: ${state ?? "unknown"})`;
}

/** Power-cycles (or powers on) the host behind `bmc`; returns one line saying what was done. */
export async function powerCycle(bmc: BmcTarget, password: string, deps: { exec?: Exec; http?: HttpRequest } = {}): Promise<string> {
  return bmc.type === "ipmi" ? ipmiPowerCycle(bmc, password, deps.exec ?? defaultExec) : redfishPowerCycle(bmc, password, deps.http ?? defaultHttp);
}

/**
 * The host's power state as its BMC reports it: proof that the BMC answers with these credentials,
 * asked before a kernel install reboots the host, so that a wrong address or password is found while
 * the host still runs its old kernel rather than when it hangs on the new one.
 */
export async function powerStatus(bmc: BmcTarget, password: string, deps: { exec?: Exec; http?: HttpRequest } = {}): Promise<string> {
  if (bmc.type === "ipmi") return ipmi(bmc, password, deps.exec ?? defaultExec)(["chassis", "power", "status"]);
  const { id, state } = await redfish(bmc, password, deps.http ?? defaultHttp).system();
  return `Redfish ${id} PowerState ${state ?? "unknown"}`;
}
