// Lab description -> validated model. Two passes: the JSON Schema (shape, types, defaults) and the
// rules a schema cannot say (names that must resolve, uniqueness, parsable addresses and sizes, what a
// simulated lab can do). Every problem is reported, each as `lab.<path>: <what was expected>`.
import Ajv2020, { ErrorObject } from "ajv/dist/2020";
import standaloneCode from "ajv/dist/standalone";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { Module } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import schema from "./lab.schema.json";
import { isRemoteGitUrl, KernelPlanError, resolveGitRef } from "./kernel";
import { Lab, LabSpec } from "./model";
import { DEFAULT_SIM_NIC, GUEST_MGMT_NET, vmBmc } from "./plan";
import { BENCHMARK_RANGE, Cidr, cidrContains, cidrOverlap, cidrWithin, hostPart, ipv4ToNumber, isHostAddress, isMulticastMac, numberToIpv4, parseCidr } from "./net";
import { parseDuration, parseSize } from "./units";
import { cacheDir } from "../paths";

export interface Problem {
  /** Path segments inside the lab object, e.g. ["guests", 0, "host"]. */
  path: (string | number)[];
  message: string;
}

export type Validation = { ok: true; lab: Lab } | { ok: false; problems: Problem[] };

export interface ValidateOptions {
  /** Directory that relative paths in the lab (patches, kernel-configs fragments) are resolved from. */
  baseDir?: string;
}

const MIN_DURATION_S = 1;
const MAX_DURATION_S = 3600;
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MIN_GUEST_MIB = 64;
/** 1 TiB: more than any guest of a networking bench needs, and a bound on what a typo can ask for. */
const MAX_GUEST_MIB = 1024 * 1024;
/** The kernel's largest NR_CPUS (x86-64): CPU numbers above it exist on no host. */
const MAX_CPU = 8191;
/** Longest text value in a lab; lists and counts have their own bounds in the schema. */
const MAX_TEXT = 4096;
/** Problems reported at most: a huge broken list gives a screenful, not a million lines. */
const MAX_PROBLEMS = 50;
/** Linux's interface name limit (IFNAMSIZ - 1). */
const IFNAME_MAX = 15;

type Validator = ReturnType<Ajv2020["compile"]>;
let compiled: Validator | undefined;
const AJV_OPTIONS = { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true } as const;

/**
 * The schema's validator. Compiling it is most of what validation costs (0.2-0.3 s of CPU, at every
 * preview and up), so the code Ajv generates is kept in the cache (IXLAB_CACHE/ajv), named by a
 * digest of Ajv's version, its options and the schema, and later processes load that module instead.
 */
function schemaValidator(): Validator {
  if (compiled) return compiled;
  const ajvVersion = (JSON.parse(fs.readFileSync(require.resolve("ajv/package.json"), "utf8")) as { version: string }).version;
  const digest = createHash("sha256").update(JSON.stringify([ajvVersion, AJV_OPTIONS, schema])).digest("hex");
  const file = path.join(cacheDir(), "ajv", `lab-schema-${digest}.js`);
  let code: string | undefined;
  try {
    code = fs.readFileSync(file, "utf8");
  } catch {
    // not made yet
  }
  if (code === undefined) {
    const ajv = new Ajv2020({ ...AJV_OPTIONS, code: { source: true } });
    code = standaloneCode(ajv, ajv.compile(schema));
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(`${file}.${process.pid}.tmp`, code);
      fs.renameSync(`${file}.${process.pid}.tmp`, file);
    } catch {
      // A cache that cannot be written costs the next process a compile, nothing more.
    }
  }
  // The generated module requires Ajv's runtime helpers (ajv/dist/runtime/...): found from here.
  const m = new Module(file, module);
  m.filename = file;
  m.paths = module.paths;
  (m as unknown as { _compile(code: string, file: string): void })._compile(code, file);
  compiled = ((m.exports as { default?: Validator }).default ?? m.exports) as Validator;
  return compiled;
}

/** `lab.guests[0].host` from ["guests", 0, "host"]. */
export function formatPath(segments: (string | number)[]): string {
  return segments.reduce<string>(
    (acc, s) => (typeof s === "number" ? `${acc}[${s}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `${acc}.${s}` : `${acc}[${JSON.stringify(s)}]`),
    "lab",
  );
}

export function formatProblem(p: Problem): string {
  return `${formatPath(p.path)}: ${p.message}`;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
}

function closest(word: string, candidates: string[]): string | undefined {
  if (word.length > 64) return undefined; // no hint for a long word: the distance costs its length squared
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return row[b.length];
  };
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

function schemaProblem(e: ErrorObject, data: unknown): Problem | undefined {
  const at = pointerToPath(e.instancePath);
  // The schema object the keyword sits in (ajv's verbose mode), for its description and field names;
  // schemaPath is relative to whichever $ref it went through, so it cannot be looked up from the root.
  const parentSchema = e.parentSchema as Record<string, unknown> | undefined;
  const value = at.reduce<unknown>((node, k) => (node as Record<string | number, unknown> | undefined)?.[k], data);
  switch (e.keyword) {
    case "additionalProperties": {
      // Named at its own full path, so the line is the field's and the path says which object.
      const field = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((parentSchema?.properties as object) ?? {});
      if (at.includes("moduleParams")) {
        return { path: [...at, field], message: `is not a module parameter ixlab applies (it applies vhost_net.experimental_zcopytx); a parameter it does not apply would change nothing, so it is refused` };
      }
      const hint = closest(field, known);
      return { path: [...at, field], message: `unknown field${hint ? ` (did you mean "${hint}"?)` : ""}; expected one of ${known.join(", ")}${at.length ? ` in ${formatPath(at)}` : ""}` };
    }
    case "required":
      return { path: at, message: `missing required field "${(e.params as { missingProperty: string }).missingProperty}"` };
    case "enum": {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      const hint = typeof value === "string" ? closest(value, allowed.map(String)) : undefined;
      return { path: at, message: `${describe(value)} is not one of ${allowed.join(", ")}${hint ? ` (did you mean "${hint}"?)` : ""}` };
    }
    case "type":
      return { path: at, message: `expected ${(e.params as { type: string | string[] }).type.toString().replace(",", " or ")}, got ${Array.isArray(value) ? "a list" : value === null ? "null" : typeof value}` };
    case "pattern": {
      const expected = (parentSchema?.description as string | undefined) ?? `text matching ${(e.params as { pattern: string }).pattern}`;
      return { path: at, message: `${describe(value)} is not valid: ${expected}` };
    }
    case "minItems":
      return { path: at, message: `needs at least ${(e.params as { limit: number }).limit} item(s)` };
    case "maxItems":
      return { path: at, message: `allows at most ${(e.params as { limit: number }).limit} item(s)` };
    case "uniqueItems":
      return { path: at, message: `lists the same value twice (items ${(e.params as { j: number; i: number }).j} and ${(e.params as { i: number }).i})` };
    case "minimum":
    case "maximum":
      return { path: at, message: `${describe(value)} is out of range: must be ${e.keyword === "minimum" ? ">=" : "<="} ${(e.params as { limit: number }).limit}` };
    case "minProperties":
      return { path: at, message: `must not be empty; expected one of ${Object.keys((parentSchema?.properties as object) ?? {}).join(", ")}` };
    case "maxProperties":
      return { path: at, message: `give exactly one of ${Object.keys((parentSchema?.properties as object) ?? {}).join(", ")}` };
    case "propertyNames":
      return undefined; // reported again, with the offending name, as a "pattern" error
    default:
      return { path: at, message: e.message ?? "is not valid" };
  }
}

function duplicates<T>(items: T[], key: (t: T) => string | undefined): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  items.forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    const at = seen.get(k);
    if (at) at.push(i);
    else seen.set(k, [i]);
  });
  return new Map([...seen].filter(([, idx]) => idx.length > 1));
}

/** The rules the schema cannot express. Runs only on data the schema accepted. */
function semanticProblems(spec: LabSpec, opts: ValidateOptions): Problem[] {
  const problems: Problem[] = [];
  const add = (p: (string | number)[], message: string) => problems.push({ path: p, message });

  for (const [list, items] of [
    ["hosts", spec.hosts],
    ["links", spec.links],
    ["kernels", spec.kernels],
    ["variants", spec.variants],
    ["guests", spec.guests],
  ] as const) {
    for (const [name, idx] of duplicates<{ name?: string }>(items, (x) => x.name)) {
      add([list, idx[1], "name"], `"${name}" is already the name of lab.${list}[${idx[0]}]; names must be unique`);
    }
  }

  // With duplicate names the first entry wins, so only the duplicate itself is reported.
  const byName = <T extends { name: string }>(items: T[]) => new Map([...items].reverse().map((x) => [x.name, x]));
  const hosts = byName(spec.hosts);
  const kernels = byName(spec.kernels);
  const variants = byName(spec.variants);
  const hostList = () => [...new Set(spec.hosts.map((h) => h.name))].join(", ") || "none";

  // Hosts: addresses, NICs, BMC.
  spec.hosts.forEach((h, i) => {
    if (h.address !== undefined && !isHostAddress(h.address)) add(["hosts", i, "address"], `"${h.address}" is not an IP address or DNS name`);
    if (h.nic?.address !== undefined && !parseCidr(h.nic.address)) add(["hosts", i, "nic", "address"], `"${h.nic.address}" is not an IPv4 address with prefix length, e.g. 198.19.0.1/24`);
    if (h.bmc && !isHostAddress(h.bmc.address)) add(["hosts", i, "bmc", "address"], `"${h.bmc.address}" is not an IP address or DNS name`);
    if (h.role === "dut" && !h.nic && !spec.sim) add(["hosts", i], `a dut host needs its test NIC: set nic.name or nic.pci`);
    if (h.address === undefined && !spec.sim) add(["hosts", i], `missing required field "address" (the management address ixlab reaches over SSH)`);
    if (h.ssh.key === undefined && !spec.sim) add(["hosts", i, "ssh"], `missing required field "key" (where the SSH private key comes from: { env: NAME } or { secret: NAME })`);
    if (h.vm && !spec.sim) add(["hosts", i, "vm"], `applies only to VM lab hosts (sim.hosts: vm)`);
  });
  // IPv4 duplicates, with guests and sim-assigned addresses, are networkProblems' job; names are not.
  for (const [addr, idx] of duplicates(spec.hosts, (h) => (h.address !== undefined && ipv4ToNumber(h.address) === undefined ? h.address.toLowerCase() : undefined))) {
    add(["hosts", idx[1], "address"], `"${addr}" is already the address of lab.hosts[${idx[0]}]`);
  }

  // Links: ends resolve, one link per NIC.
  const nicUse = new Map<string, string>();
  spec.links.forEach((l, i) => {
    if (l.a.host === l.b.host) {
      add(["links", i, "b", "host"], `a link joins two different hosts; both ends are "${l.a.host}"`);
      return;
    }
    for (const end of ["a", "b"] as const) {
      const e = l[end];
      const host = hosts.get(e.host);
      if (!host) {
        add(["links", i, end, "host"], `"${e.host}" is not a host in lab.hosts (known: ${hostList()})`);
        continue;
      }
      const nic = e.nic ?? host.nic?.name ?? host.nic?.pci ?? (spec.sim ? DEFAULT_SIM_NIC : undefined);
      if (!nic) {
        add(["links", i, end, "nic"], `host "${e.host}" has no test NIC; name it here or set nic in lab.hosts`);
        continue;
      }
      if (e.nic && host.nic?.name && e.nic !== host.nic.name && !spec.sim) {
        add(["links", i, end, "nic"], `"${e.nic}" is not the test NIC of host "${e.host}" (its nic.name is "${host.nic.name}")`);
      }
      const key = `${e.host}/${nic}`;
      const prior = nicUse.get(key);
      if (prior) add(["links", i, end], `NIC ${nic} of host "${e.host}" is already wired by ${prior}; one link per NIC`);
      else nicUse.set(key, `lab.links[${i}].${end}`);
    }
  });

  // Kernels: source fields, files that must exist.
  spec.kernels.forEach((k, i) => {
    const s = k.source;
    if (s.type === "git" && (!s.url || !s.ref)) add(["kernels", i, "source"], `a git source needs url and ref`);
    if (s.type === "tarball" && !s.url) add(["kernels", i, "source"], `a tarball source needs url`);
    if (s.type === "tarball" && s.url && /^[a-z]+:\/\//.test(s.url) && !s.sha256) add(["kernels", i, "source", "sha256"], `a downloaded tarball needs its sha256 so builds stay reproducible`);
    if (s.type === "debian-source" && (s.url || s.ref)) add(["kernels", i, "source"], `a debian-source source takes only package, not url or ref`);
    if (s.type !== "tarball" && s.sha256) add(["kernels", i, "source", "sha256"], `sha256 applies only to tarball sources`);
    // A local repository that is here has its ref checked now; one that is not (it lives on the builder,
    // and this may be CI) and a remote one are resolved at plan time, on the builder.
    if (opts.baseDir && s.type === "git" && s.url && s.ref && !isRemoteGitUrl(s.url) && fs.existsSync(path.resolve(opts.baseDir, s.url))) {
      try {
        resolveGitRef(s.url, s.ref, opts.baseDir, `lab.kernels[${i}]`);
      } catch (e) {
        if (!(e instanceof KernelPlanError && e.field)) throw e;
        add(["kernels", i, ...e.field.split(".")], e.detail as string);
      }
    }
    const credentials = s.url === undefined ? undefined : urlCredentials(s.url);
    if (credentials) add(["kernels", i, "source", "url"], `holds ${credentials}; it would be kept in plain text in resource inputs, previews and logs: use an SSH key or a git credential helper, and a URL without them`);
    const patchesOut = k.patches === undefined ? undefined : outsideRepository(k.patches, opts.baseDir);
    if (patchesOut) add(["kernels", i, "patches"], `${patchesOut}; a patch series is part of the repository (a path relative to its root)`);
    const fragmentsOut = k.config.fragments.map((f) => outsideRepository(f, opts.baseDir));
    fragmentsOut.forEach((why, j) => why && add(["kernels", i, "config", "fragments", j], `${why}; config fragments are part of the repository (kernel-configs/...)`));
    if (opts.baseDir) {
      if (k.patches !== undefined && !patchesOut && !fs.existsSync(path.resolve(opts.baseDir, k.patches))) add(["kernels", i, "patches"], `${k.patches} does not exist (paths are relative to the repository root)`);
      k.config.fragments.forEach((f, j) => {
        if (!fragmentsOut[j] && !fs.existsSync(path.resolve(opts.baseDir as string, f))) add(["kernels", i, "config", "fragments", j], `${f} does not exist`);
      });
      const base = k.config.base;
      if (!["defconfig", "tinyconfig", "running", "allnoconfig"].includes(base) && !fs.existsSync(path.resolve(opts.baseDir, base))) {
        add(["kernels", i, "config", "base"], `"${base}" is not defconfig, tinyconfig, allnoconfig, running or an existing file`);
      }
    }
  });

  // Variants.
  spec.variants.forEach((v, i) => {
    if (v.hostKernel !== undefined) {
      const k = kernels.get(v.hostKernel);
      if (!k) add(["variants", i, "hostKernel"], `"${v.hostKernel}" is not a kernel in lab.kernels`);
      else if (k.for !== "host") add(["variants", i, "hostKernel"], `kernel "${v.hostKernel}" is built for guests (for: ${k.for}); a variant's hostKernel needs for: host`);
    }
    const zc = v.moduleParams.vhost_net?.experimental_zcopytx;
    if (zc !== undefined && ![0, 1, "0", "1", true, false].includes(zc)) add(["variants", i, "moduleParams", "vhost_net", "experimental_zcopytx"], `${describe(zc)} must be 0 or 1`);
    if (zc !== undefined && v.zeroCopy !== undefined && Boolean(Number(zc)) !== v.zeroCopy) {
      add(["variants", i, "zeroCopy"], `contradicts moduleParams.vhost_net.experimental_zcopytx=${zc}; set one of them`);
    }
    if (v.zeroCopy === true && v.vhost === false) add(["variants", i, "zeroCopy"], `zero-copy TX is a vhost-net feature; it needs vhost: true`);
  });
  if (spec.activeVariant !== undefined && !variants.has(spec.activeVariant)) add(["activeVariant"], `"${spec.activeVariant}" is not a variant in lab.variants`);

  // Guests.
  spec.guests.forEach((g, i) => {
    const host = hosts.get(g.host);
    if (!host) add(["guests", i, "host"], `"${g.host}" is not a host in lab.hosts (known: ${hostList()})`);
    else if (host.role !== "dut") add(["guests", i, "host"], `host "${g.host}" has role ${host.role}; guests run on dut hosts`);
    if (g.kernel !== undefined) {
      const k = kernels.get(g.kernel);
      if (!k) add(["guests", i, "kernel"], `"${g.kernel}" is not a kernel in lab.kernels`);
      else if (k.for !== "guest") add(["guests", i, "kernel"], `kernel "${g.kernel}" is built for hosts (for: ${k.for}); a guest kernel needs for: guest`);
    }
    if (g.kernel !== undefined && g.image !== undefined) add(["guests", i], `give either kernel or image, not both`);
    if (g.kernel === undefined && g.image === undefined) add(["guests", i], `needs a kernel (a lab.kernels entry with for: guest) or an image`);
    const mib = (parseSize(g.memory) ?? 0) / (1024 * 1024);
    if (parseSize(g.memory) === undefined) add(["guests", i, "memory"], `${describe(g.memory)} is not a size like 512M or 2G`);
    else if (mib < MIN_GUEST_MIB || !Number.isInteger(mib)) add(["guests", i, "memory"], `${describe(g.memory)} must be a whole number of MiB, at least ${MIN_GUEST_MIB}M`);
    else if (mib > MAX_GUEST_MIB) add(["guests", i, "memory"], `${describe(g.memory)} is more than the 1T a guest may have`);
    if (g.pin?.vcpus && g.pin.vcpus.length !== g.vcpus) add(["guests", i, "pin", "vcpus"], `lists ${g.pin.vcpus.length} CPU(s) for ${g.vcpus} vCPU(s); give one per vCPU`);
    if (g.address !== undefined && !parseCidr(g.address)) add(["guests", i, "address"], `"${g.address}" is not an IPv4 address with prefix length, e.g. 198.19.0.10/24`);
    if (g.address !== undefined && parseCidr(g.address) && cidrContains(parseCidr(GUEST_MGMT_NET)!, g.address.split("/")[0])) add(["guests", i, "address"], `${g.address} is inside ${GUEST_MGMT_NET}, the network of the guest's own management NIC`);
    if (g.address === undefined && spec.sim === undefined) add(["guests", i, "address"], `is required in a lab that is not simulated (the guest's data address with prefix length, e.g. 198.19.0.10/24)`);
    if (g.image !== undefined && spec.sim === undefined) add(["guests", i, "image"], `disk-image guests (cloud-init) are not supported yet; boot a built kernel (kernel:, a lab.kernels entry with for: guest)`);
  });
  for (const [mac, idx] of duplicates(spec.guests, (g) => g.macvtap.mac)) add(["guests", idx[1], "macvtap", "mac"], `"${mac}" is already the MAC of lab.guests[${idx[0]}]`);
  if (spec.guests.length > 0 && !spec.hosts.some((h) => h.role === "peer")) add(["hosts"], `guests need a peer host (role: peer) to send to`);

  // Bench plan.
  const b = spec.bench;
  const sizes = b.sizes.map((s, i) => {
    const bytes = parseSize(s);
    if (bytes === undefined) add(["bench", "sizes", i], `${describe(s)} is not a size like 4K, 64K or 1500`);
    else if (bytes > MAX_MESSAGE_BYTES) add(["bench", "sizes", i], `${describe(s)} is larger than netperf's useful maximum of 16M`);
    return bytes;
  });
  const firstOfSize = new Map<number, number>();
  sizes.forEach((bytes, i) => {
    if (bytes === undefined) return;
    const first = firstOfSize.get(bytes);
    if (first === undefined) firstOfSize.set(bytes, i);
    else add(["bench", "sizes", i], `${describe(b.sizes[i])} is the same size as lab.bench.sizes[${first}]`);
  });
  const seconds = parseDuration(b.duration);
  if (seconds === undefined) add(["bench", "duration"], `${describe(b.duration)} is not a duration like 120, 90s or 2m`);
  else if (seconds < MIN_DURATION_S || seconds > MAX_DURATION_S) add(["bench", "duration"], `${describe(b.duration)} is out of range: ${MIN_DURATION_S} s to ${MAX_DURATION_S} s`);
  (b.variants ?? []).forEach((name, i) => {
    if (!variants.has(name)) add(["bench", "variants", i], `"${name}" is not a variant in lab.variants`);
  });
  const compared = b.variants ?? spec.variants.map((v) => v.name);
  if (b.baseline !== undefined && !compared.includes(b.baseline)) {
    add(["bench", "baseline"], variants.has(b.baseline) ? `"${b.baseline}" is not among the compared variants (${compared.join(", ")})` : `"${b.baseline}" is not a variant in lab.variants`);
  }
  if (spec.guests.length > 0 && spec.variants.length === 0) add(["variants"], `a lab with guests needs at least one variant`);

  problems.push(...networkProblems(spec), ...nameAndCpuProblems(spec));
  if (spec.sim) problems.push(...simProblems(spec));
  return problems;
}

/**
 * Text that reaches host files and command lines: one line of printable characters, of bounded
 * length. Walks the lab as given (keys too), before the schema, so a line break is named as such
 * wherever it is; linear in the size of the lab.
 */
function textProblems(data: unknown): Problem[] {
  const problems: Problem[] = [];
  const check = (text: string, at: (string | number)[], what: string) => {
    // Descriptions are prose for people (topology, reports), never a host's config or command line:
    // they may span lines; no other control character is allowed in them either.
    const prose = at[at.length - 1] === "description" && what === "the value";
    // eslint-disable-next-line no-control-regex
    const m = (prose ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/ : /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/).exec(text);
    if (m) problems.push({ path: at, message: `${what} holds a control character (U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}${m[0] === "\n" ? ", a line break" : m[0] === "\t" ? ", a tab" : ""}) at character ${m.index + 1}; ${prose ? "a description is printable text (line breaks and tabs allowed)" : "lab values are one line of printable text"}` });
    else if (text.length > MAX_TEXT) problems.push({ path: at, message: `${what} is ${text.length} characters long; at most ${MAX_TEXT}` });
  };
  const walk = (node: unknown, at: (string | number)[]) => {
    if (typeof node === "string") check(node, at, "the value");
    else if (Array.isArray(node)) node.forEach((x, i) => walk(x, [...at, i]));
    else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        check(k, at, `the field name ${JSON.stringify(k.slice(0, 40))}`);
        walk(v, [...at, k]);
      }
    }
  };
  walk(data, []);
  return problems;
}

/** Every IPv4 address a lab uses, as given or as the sim hands it out, with who uses it. */
interface AddressUse {
  path: (string | number)[];
  address: string;
  /** How the owner is named in a message, e.g. "the data address of lab.hosts[0]". */
  owner: string;
  /** Given in the file (reported), or assigned by the sim (only ever the earlier use). */
  given: boolean;
}

/** The data CIDR of each host (given, or the one the sim plans), by host index. */
function hostDataCidrs(spec: LabSpec): (Cidr | undefined)[] {
  const data = spec.sim ? parseCidr(spec.sim.dataNet) : undefined;
  return spec.hosts.map((h, i) => {
    if (h.nic?.address) return parseCidr(h.nic.address);
    if (!data) return undefined;
    return parseCidr(`${numberToIpv4(data.network + 1 + i)}/${data.prefix}`);
  });
}

/** Addresses, subnets, wires and MTUs: what `ip` would accept but the lab could not use. */
function networkProblems(spec: LabSpec): Problem[] {
  const problems: Problem[] = [];
  const add = (p: (string | number)[], message: string) => problems.push({ path: p, message });
  const sim = spec.sim;
  const mgmt = sim ? parseCidr(sim.managementNet) : undefined;
  const dataNet = sim ? parseCidr(sim.dataNet) : undefined;
  const hostCidrs = hostDataCidrs(spec);
  const hostIndex = new Map<string, number>();
  spec.hosts.forEach((h, i) => hostIndex.has(h.name) || hostIndex.set(h.name, i));

  // One address, one owner. Sim-assigned addresses go first, so a given one that takes the place of
  // one the sim hands out is the one reported.
  const uses: AddressUse[] = [];
  if (mgmt) uses.push({ path: ["sim", "managementNet"], address: numberToIpv4(mgmt.network + 1), owner: "the address of the sim's bridge (first of sim.managementNet)", given: false });
  spec.hosts.forEach((h, i) => {
    if (mgmt && h.address === undefined) uses.push({ path: ["hosts", i], address: numberToIpv4(mgmt.network + 10 + i), owner: `the management address the sim gives lab.hosts[${i}]`, given: false });
    if (dataNet && !h.nic?.address && hostCidrs[i]) uses.push({ path: ["hosts", i], address: hostCidrs[i]!.address, owner: `the data address the sim gives lab.hosts[${i}]`, given: false });
  });
  if (mgmt && sim?.hosts === "vm") {
    const last = mgmt.network + 2 ** (32 - mgmt.prefix) - 2;
    uses.push({ path: ["sim", "managementNet"], address: numberToIpv4(last), owner: "the address of this machine's uplink into the VM lab (last of sim.managementNet)", given: false });
    spec.hosts.forEach((_h, i) => uses.push({ path: ["hosts", i], address: vmBmc(mgmt, i).address, owner: `the address of the emulated BMC the VM lab gives lab.hosts[${i}]`, given: false }));
    const lowestBmc = ipv4ToNumber(vmBmc(mgmt, spec.hosts.length - 1).address)!;
    if (mgmt.network + 10 + spec.hosts.length > lowestBmc) add(["sim", "managementNet"], `${sim.managementNet} is too small for ${spec.hosts.length} VM hosts and their BMCs; use a larger network, like a /24`);
  }
  spec.guests.forEach((g, i) => {
    if (dataNet && g.address === undefined) uses.push({ path: ["guests", i], address: numberToIpv4(dataNet.network + 10 + i), owner: `the address the sim gives lab.guests[${i}]`, given: false });
  });
  spec.hosts.forEach((h, i) => {
    if (h.address !== undefined && ipv4ToNumber(h.address) !== undefined) uses.push({ path: ["hosts", i, "address"], address: h.address, owner: `the address of lab.hosts[${i}]`, given: true });
    if (h.nic?.address && parseCidr(h.nic.address)) uses.push({ path: ["hosts", i, "nic", "address"], address: parseCidr(h.nic.address)!.address, owner: `the data address of lab.hosts[${i}]`, given: true });
  });
  spec.guests.forEach((g, i) => {
    if (g.address !== undefined && parseCidr(g.address)) uses.push({ path: ["guests", i, "address"], address: parseCidr(g.address)!.address, owner: `the address of lab.guests[${i}]`, given: true });
  });
  const owners = new Map<string, AddressUse>();
  for (const u of uses) {
    const first = owners.get(u.address);
    if (!first) owners.set(u.address, u);
    else if (u.given) add(u.path, `"${u.address}" is already ${first.owner}`);
    else if (first.given) add(first.path, `"${u.address}" is ${u.owner}; pick another address`);
  }

  // Network and broadcast addresses name a subnet, not a host.
  const hostAddress = (c: Cidr | undefined, at: (string | number)[], text: string) => {
    if (!c || c.prefix > 30) return;
    const { value, max } = hostPart(c);
    const net = `${numberToIpv4(c.network)}/${c.prefix}`;
    if (value === 0) add(at, `${text} is the network address of ${net}; use an address inside it, e.g. ${numberToIpv4(c.network + 1)}/${c.prefix}`);
    else if (value === max) add(at, `${text} is the broadcast address of ${net}; use an address inside it, e.g. ${numberToIpv4(c.network + 1)}/${c.prefix}`);
  };
  spec.hosts.forEach((h, i) => h.nic?.address && hostAddress(parseCidr(h.nic.address), ["hosts", i, "nic", "address"], h.nic.address));
  spec.guests.forEach((g, i) => g.address && hostAddress(parseCidr(g.address), ["guests", i, "address"], g.address));

  // A wire is one subnet: both ends, and the guests on its hosts, in it.
  const subnet = (c: Cidr) => `${numberToIpv4(c.network)}/${c.prefix}`;
  const linkNets: { i: number; net: Cidr }[] = [];
  spec.links.forEach((l, i) => {
    const ia = hostIndex.get(l.a.host);
    const ib = hostIndex.get(l.b.host);
    if (ia === undefined || ib === undefined || ia === ib) return;
    const a = hostCidrs[ia];
    const b = hostCidrs[ib];
    if (a && b && (a.network !== b.network || a.prefix !== b.prefix)) {
      add(["links", i], `its ends are on different subnets: host "${l.a.host}" has ${a.address}/${a.prefix} (${subnet(a)}), host "${l.b.host}" has ${b.address}/${b.prefix} (${subnet(b)}); a wire is one subnet`);
    } else if (a) linkNets.push({ i, net: a });
    for (const [end, hi] of [["a", ia], ["b", ib]] as const) {
      const mtu = spec.hosts[hi].tuning?.mtu;
      if (mtu !== undefined && mtu !== l.mtu) add(["hosts", hi, "tuning", "mtu"], `${mtu} differs from the MTU of lab.links[${i}] (${l.mtu}), which host "${l[end].host}" is an end of; give the MTU once, on the link`);
    }
  });
  if (!sim) {
    // Sorted by first address, two wires overlap when one starts before an earlier one ends.
    const sorted = [...linkNets].sort((x, y) => x.net.network - y.net.network);
    let reach: { i: number; net: Cidr; end: number } | undefined;
    for (const x of sorted) {
      const end = x.net.network + 2 ** (32 - x.net.prefix);
      if (reach && x.net.network < reach.end) add(["links", x.i], `its subnet ${subnet(x.net)} overlaps the subnet ${subnet(reach.net)} of lab.links[${reach.i}]; give each wire its own subnet`);
      if (!reach || end > reach.end) reach = { ...x, end };
    }
  }
  spec.guests.forEach((g, i) => {
    const hi = hostIndex.get(g.host);
    const c = g.address !== undefined ? parseCidr(g.address) : undefined;
    const hc = hi === undefined ? undefined : hostCidrs[hi];
    if (!c || !hc) return;
    if (dataNet && !cidrContains(dataNet, c.address)) return; // reported as outside sim.dataNet
    if (!cidrContains(hc, c.address) || c.prefix !== hc.prefix) add(["guests", i, "address"], `${g.address} is outside the subnet of its host's wire: host "${g.host}" has ${hc.address}/${hc.prefix} (${subnet(hc)}); the guest's macvtap is on that wire`);
  });
  return problems;
}

/** Names that must stay apart after Linux cuts interface names to 15 characters, and CPUs. */
function nameAndCpuProblems(spec: LabSpec): Problem[] {
  const problems: Problem[] = [];
  const add = (p: (string | number)[], message: string) => problems.push({ path: p, message });
  const prefix = spec.sim?.prefix ?? "ixl";
  const hostNames = new Map<string, number>();
  spec.hosts.forEach((h, i) => hostNames.has(h.name) || hostNames.set(h.name, i));
  const ifnames = new Map<string, string>();
  if (spec.sim) spec.hosts.forEach((h, i) => ifnames.set(`${prefix}-${h.name}`.slice(0, IFNAME_MAX), `sim host lab.hosts[${i}]'s namespace and link`));
  spec.guests.forEach((g, i) => {
    const h = hostNames.get(g.name);
    if (h !== undefined) add(["guests", i, "name"], `"${g.name}" is already the name of lab.hosts[${h}]; guests and hosts share one set of names (ixlab ssh NAME, the topology)`);
    const full = `${prefix}-${g.name}`;
    const ifname = full.slice(0, IFNAME_MAX);
    const prior = ifnames.get(ifname);
    if (prior) add(["guests", i, "name"], `"${g.name}" makes the interface name "${ifname}"${full.length > IFNAME_MAX ? ` (${full} cut to Linux's ${IFNAME_MAX} characters)` : ""}, the same as ${prior}'s; shorten or rename one of them`);
    else ifnames.set(ifname, `lab.guests[${i}]`);
    if (g.macvtap.mac && (isMulticastMac(g.macvtap.mac) || /^(00:){5}00$/.test(g.macvtap.mac))) {
      add(["guests", i, "macvtap", "mac"], `"${g.macvtap.mac}" is ${/^(00:){5}00$/.test(g.macvtap.mac) ? "the all-zero MAC" : "a multicast MAC (the lowest bit of its first byte is set)"}; a NIC needs a unicast MAC, e.g. 52:54:00:12:34:56`);
    }
  });

  // CPUs: a range the host-tune role walks must be bounded and in order; a sim pins on this machine.
  const cpus = spec.sim ? os.cpus().length : MAX_CPU + 1;
  const where = spec.sim ? `this machine has CPUs 0-${cpus - 1} (a sim pins on it)` : `no host has CPUs above ${MAX_CPU}`;
  spec.hosts.forEach((h, i) => {
    const list = h.tuning?.irqAffinity;
    if (list === undefined) return;
    list.split(",").forEach((part) => {
      const [lo, hi = lo] = part.split("-").map(Number);
      if (hi < lo) add(["hosts", i, "tuning", "irqAffinity"], `"${part}" is a range that runs backwards; write ${hi}-${lo}`);
      else if (hi > MAX_CPU) add(["hosts", i, "tuning", "irqAffinity"], `CPU ${hi} does not exist: ${where}`);
    });
  });
  spec.guests.forEach((g, i) => {
    (g.pin?.vcpus ?? []).forEach((c, j) => c >= cpus && add(["guests", i, "pin", "vcpus", j], `CPU ${c} does not exist: ${where}`));
    if (g.pin?.vhost !== undefined && g.pin.vhost >= cpus) add(["guests", i, "pin", "vhost"], `CPU ${g.pin.vhost} does not exist: ${where}`);
  });
  return problems;
}

/** A path inside the repository as written (no absolute path, no `..` out of it) and as it resolves (no symlink out of it). */
function outsideRepository(p: string, baseDir: string | undefined): string | undefined {
  if (path.isAbsolute(p)) return `${p} is an absolute path`;
  const root = baseDir ?? "/repo";
  const rel = path.relative(root, path.resolve(root, p));
  if (rel === ".." || rel.startsWith(`..${path.sep}`)) return `${p} leads out of the repository`;
  if (!baseDir) return undefined;
  try {
    const real = path.relative(fs.realpathSync(baseDir), fs.realpathSync(path.resolve(baseDir, p)));
    if (real === ".." || real.startsWith(`..${path.sep}`) || path.isAbsolute(real)) return `${p} is a symbolic link to a file outside the repository`;
  } catch {
    return undefined; // a missing file is reported as missing
  }
  return undefined;
}

/** A URL with a user name and password or token in it: git prints it, and it lands in resource inputs. */
function urlCredentials(url: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)@/i.exec(url);
  if (!m) return undefined;
  if (m[2].includes(":")) return "a user name and password";
  // ssh://git@host is a login name; over http(s) the name is where tokens go.
  return /^https?$/i.test(m[1]) ? "a user name or token" : undefined;
}

/** What a simulated lab cannot honestly do on one machine: it refuses these rather than fake them. */
function simProblems(spec: LabSpec): Problem[] {
  const problems: Problem[] = [];
  const add = (p: (string | number)[], message: string) => problems.push({ path: p, message });
  const sim = spec.sim!;
  const nets: Record<string, Cidr | undefined> = {};
  for (const key of ["managementNet", "dataNet"] as const) {
    const c = parseCidr(sim[key]);
    nets[key] = c;
    if (!c) add(["sim", key], `"${sim[key]}" is not an IPv4 network like 198.18.0.0/24`);
    else if (!cidrWithin(c, BENCHMARK_RANGE)) add(["sim", key], `${sim[key]} is outside 198.18.0.0/15; the sim uses only the benchmark range`);
    else if (c.prefix > 28 || c.prefix < 16) add(["sim", key], `${sim[key]} must have a prefix length between /16 and /28`);
  }
  if (nets.managementNet && nets.dataNet && (cidrWithin(nets.managementNet, nets.dataNet) || cidrWithin(nets.dataNet, nets.managementNet))) {
    add(["sim", "dataNet"], `overlaps sim.managementNet; the test wire and management need separate networks`);
  }
  const vm = sim.hosts === "vm";
  const kind = vm ? "VM lab host" : "sim host";
  if (!vm && sim.vm) add(["sim", "vm"], `applies only to VM labs (sim.hosts: vm)`);
  if (vm) {
    const timeout = parseDuration(sim.vm?.bootTimeout ?? "10m");
    if (timeout === undefined || timeout < 30) add(["sim", "vm", "bootTimeout"], `${describe(sim.vm?.bootTimeout)} is not a duration of at least 30s, like 10m`);
    if (sim.vm?.memory !== undefined && (parseSize(sim.vm.memory) ?? 0) < 256 * 1024 * 1024) add(["sim", "vm", "memory"], `${describe(sim.vm.memory)} is not a size of at least 256M, like 1024M`);
    spec.links.forEach((l, i) => {
      const name = l.name ?? `link${i}`;
      if (`w-${name}`.length > 15) add(["links", i, "name"], `"${name}" is too long for a VM lab wire: its bridge "w-${name}" must fit a 15-character interface name`);
    });
  }
  spec.hosts.forEach((h, i) => {
    // A VM lab gives each VM an emulated BMC of its own (its address and password are the lab's).
    if (h.bmc) add(["hosts", i, "bmc"], vm ? `a VM lab host gets its BMC from the lab (an emulated IPMI BMC, roles/vm-bmc.sh); remove bmc` : `a sim host has no BMC; remove bmc from simulated labs`);
    if (h.nic?.pci) add(["hosts", i, "nic", "pci"], vm ? `a VM lab host's data NIC is named by the lab; use nic.name` : `a sim host's NIC is a veth with no PCI address; use nic.name`);
    if (h.address !== undefined && nets.managementNet && !cidrContains(nets.managementNet, h.address)) {
      add(["hosts", i, "address"], `${h.address} is outside sim.managementNet ${sim.managementNet}`);
    }
    if (h.nic?.address && nets.dataNet && !cidrContains(nets.dataNet, h.nic.address.split("/")[0])) {
      add(["hosts", i, "nic", "address"], `${h.nic.address} is outside sim.dataNet ${sim.dataNet}`);
    }
    const hw = h.require.filter((r) => r !== "zerocopy" && r !== "vhost-net" && r !== "kvm");
    if (hw.length > 0) add(["hosts", i, "require"], `a ${kind} has ${vm ? "virtio-net" : "veth"} NICs and cannot require ${hw.join(", ")}`);
    if (h.tuning) {
      // A VM is a whole machine of its own: its IRQs and irqbalance may be tuned; it has no cpufreq.
      for (const key of vm ? (["governor"] as const) : (["irqbalance", "governor", "irqAffinity"] as const)) {
        if (h.tuning[key] === undefined) continue;
        add(["hosts", i, "tuning", key], vm ? `a VM has no CPU frequency scaling; remove governor from VM lab hosts` : `changes the whole machine, which a sim must not do; allowed in a sim: mtu, offloads, rings`);
      }
    }
    if (h.ssh.key) add(["hosts", i, "ssh", "key"], `${kind}s use a key generated per stack; remove ssh.key`);
    if (h.ssh.port !== 22) add(["hosts", i, "ssh", "port"], `${kind}s listen on port 22${vm ? "" : " in their own namespace"}; remove ssh.port`);
    if (vm) {
      // Its taps in the lab's namespace: m-NAME (management) and d-NAME-N (one per wire).
      if (`d-${h.name}-0`.length > 15) add(["hosts", i, "name"], `"${h.name}" is too long for a VM lab host: at most 11 characters (its taps are named after it)`);
      if (h.vm?.memory !== undefined && (parseSize(h.vm.memory) ?? 0) < 256 * 1024 * 1024) add(["hosts", i, "vm", "memory"], `${describe(h.vm.memory)} is not a size of at least 256M, like 1536M`);
    } else {
      if (`${sim.prefix}-${h.name}`.length > 15) add(["hosts", i, "name"], `"${h.name}" is too long for a sim host: "${sim.prefix}-${h.name}" must fit a 15-character interface name`);
      if (h.vm) add(["hosts", i, "vm"], `applies only to VM lab hosts (sim.hosts: vm)`);
    }
  });
  spec.guests.forEach((g, i) => {
    if (g.image !== undefined) add(["guests", i, "image"], `a sim guest boots a built kernel (kernel:), not a disk image`);
    if (g.address && nets.dataNet && parseCidr(g.address) && !cidrContains(nets.dataNet, g.address.split("/")[0])) add(["guests", i, "address"], `${g.address} is outside sim.dataNet ${sim.dataNet}`);
  });
  spec.kernels.forEach((k, i) => {
    if (k.config.base === "running") add(["kernels", i, "config", "base"], `a sim never builds from this machine's running config; use defconfig, tinyconfig or a file`);
    if (k.source.url && (/^[a-z]+:\/\//.test(k.source.url) || (k.source.type === "git" && isRemoteGitUrl(k.source.url)))) add(["kernels", i, "source", "url"], `a sim builds offline: use debian-source or a local path, not ${k.source.url}`);
  });
  if (spec.hosts.length > 16) add(["hosts"], `a sim lab has at most 16 hosts on one machine`);
  return problems;
}

function derive(spec: LabSpec): Lab {
  const compared = spec.bench.variants ?? spec.variants.map((v) => v.name);
  return {
    ...spec,
    derived: {
      sizes: spec.bench.sizes.map((s) => parseSize(s) as number),
      durationSeconds: parseDuration(spec.bench.duration) as number,
      benchVariants: compared,
      baseline: spec.bench.baseline ?? compared[0],
      activeVariant: spec.activeVariant ?? spec.variants[0]?.name,
      guestMemoryMiB: Object.fromEntries(spec.guests.map((g) => [g.name, (parseSize(g.memory) as number) / (1024 * 1024)])),
    },
  };
}

/** Validates a lab description (the value of ixlab:lab). Never mutates its argument. */
export function validateLab(input: unknown, opts: ValidateOptions = {}): Validation {
  if (input === undefined || input === null) return { ok: false, problems: [{ path: [], message: "is missing: set the stack config key ixlab:lab" }] };
  const data = structuredClone(input);
  const text = textProblems(data);
  const textAt = new Set(text.map((p) => formatPath(p.path)));
  const validate = schemaValidator();
  if (!validate(data)) {
    // A value with a line break also fails its pattern; the line break is the better message.
    const problems = [...text, ...capped((validate.errors ?? []).map((e) => schemaProblem(e, data)).filter((p): p is Problem => p !== undefined && !textAt.has(formatPath(p.path))))];
    return { ok: false, problems: capped(dedupe([...problems, ...bestEffortSemantic(data as LabSpec, opts, problems)])) };
  }
  const spec = data as LabSpec;
  const problems = [...text, ...semanticProblems(spec, opts).filter((p) => !textAt.has(formatPath(p.path)))];
  if (problems.length > 0) return { ok: false, problems: capped(dedupe(problems)) };
  return { ok: true, lab: derive(spec) };
}

/** At most MAX_PROBLEMS problems, the last one saying how many more there were. */
function capped(problems: Problem[]): Problem[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  return [...problems.slice(0, MAX_PROBLEMS - 1), { path: [], message: `${problems.length - MAX_PROBLEMS + 1} more problem(s) not shown; fix the ones above first` }];
}

/**
 * The lab rules on data the schema rejected, so one run reports every problem it can. The rules
 * assume the schema's shape; where the data breaks that assumption they give up silently, and the
 * schema's own messages stand. Problems under a path the schema already reported are left out.
 */
function bestEffortSemantic(spec: LabSpec, opts: ValidateOptions, schemaProblems: Problem[]): Problem[] {
  let extra: Problem[];
  try {
    extra = semanticProblems(spec, opts);
  } catch {
    return [];
  }
  // A rule's problem is left out when the schema reported its path, an ancestor or a descendant of it.
  const reported = new Set<string>();
  const ancestorsReported = new Set<string>();
  for (const p of schemaProblems) {
    reported.add(formatPath(p.path));
    for (let n = 0; n < p.path.length; n++) ancestorsReported.add(formatPath(p.path.slice(0, n)));
  }
  return extra.filter((p) => {
    for (let n = 0; n <= p.path.length; n++) if (reported.has(formatPath(p.path.slice(0, n)))) return false;
    return !ancestorsReported.has(formatPath(p.path));
  });
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
