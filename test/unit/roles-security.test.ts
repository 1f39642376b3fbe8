// What docs/security.md promises about the scripts ixlab runs as root on hosts: none downloads
// anything into a shell, none touches a host firewall, none disables host key checking for a host
// it has pinned.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { it } from "node:test";
import { ROOT } from "../helpers";

const ROLES = path.join(ROOT, "roles");
const scripts = fs.readdirSync(ROLES).filter((f) => f.endsWith(".sh")).map((f) => [f, fs.readFileSync(path.join(ROLES, f), "utf8")] as const);

const FORBIDDEN: [RegExp, string][] = [
  [/\b(curl|wget)\b[^\n|]*\|\s*(sudo\s+)?(ba|da|z)?sh\b/, "pipes a download into a shell"],
  [/\b(curl|wget)\s/, "downloads something (packages come from the distribution's package manager)"],
  [/\bufw\s+(disable|reset)\b|\biptables\s+(-F|--flush|-P\s+\w+\s+ACCEPT)|\bnft\s+flush\b|systemctl\s+(stop|disable|mask)\s+(firewalld|ufw|nftables|iptables)/, "changes a host firewall"],
];

it("finds the role scripts", () => assert.ok(scripts.length >= 10));

for (const [name, text] of scripts) {
  it(`roles/${name} downloads nothing and leaves firewalls alone`, () => {
    // Comments may talk about these things; only commands count.
    const code = text.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
    for (const [re, why] of FORBIDDEN) assert.doesNotMatch(code, re, `roles/${name} ${why}`);
  });
}

it("the checker itself catches what it forbids", () => {
  assert.match("curl -fsSL https://x | sh", FORBIDDEN[0][0]);
  assert.match("ufw disable", FORBIDDEN[2][0]);
  assert.match("systemctl stop firewalld", FORBIDDEN[2][0]);
  assert.doesNotMatch("apt-get install -y netperf", FORBIDDEN[1][0]);
});
