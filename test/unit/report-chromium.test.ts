// The HTML report opened in a real browser: Debian's chromium, headless, screenshots the page.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { it } from "node:test";
import { renderReport } from "../../src/report";
import { syntheticRun } from "../report-helpers";

it("headless Chromium renders the report page to a non-trivial PNG", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ixlab-chromium-"));
  const { htmlPath } = renderReport([syntheticRun(root)], { reference: "seed" });
  const png = path.join(root, "report.png");
  const profile = path.join(root, "profile");
  const r = spawnSync(
    "chromium",
    ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", `--user-data-dir=${profile}`, "--window-size=1100,1700", `--screenshot=${png}`, `file://${htmlPath}`],
    { encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(r.error, undefined, "chromium is not installed (npm run setup installs Debian's chromium)");
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const bytes = fs.readFileSync(png);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG file");
  // A blank 1100x1700 page compresses to a few KB; tables and two plots make far more.
  assert.ok(bytes.length > 40_000, `screenshot is only ${bytes.length} bytes`);
  // IHDR: width and height as asked.
  assert.equal(bytes.readUInt32BE(16), 1100);
  assert.equal(bytes.readUInt32BE(20), 1700);
  fs.rmSync(root, { recursive: true, force: true });
});
