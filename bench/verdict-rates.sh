#!/usr/bin/env bash
# Benchmark of the report's verdict rules (src/report/verdict.ts) on synthetic cells with a known
# truth: for each scenario, N seeded draws of two normal samples, and how often each verdict comes
# out. A false "improved"/"regressed" on identical samples is the rules' false-alarm rate per test
# (before Holm); "improved" on a real +5% is their power. Usage: bench/verdict-rates.sh [N] (500)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${1:-500}
if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 100000 ]; then
  echo "bench/verdict-rates.sh: N must be a number from 1 to 100000" >&2
  exit 2
fi
npx tsc -p tsconfig.json
node - "$n" <<'JS'
const { compareMetric, decide, metricsFor } = require("./build/src/report/verdict.js");
const n = Number(process.argv[2]);
const metric = metricsFor("TCP_STREAM")[0];
// mulberry32 + Box-Muller, seeded per draw: the same figures on every machine.
function normals(seed) {
  let a = seed >>> 0;
  const u = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  return (m, sd) => m + sd * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}
const scenarios = [
  ["+5%, 1% noise, n=5", 5, 0.05, 0.01],
  ["+5%, 1% noise, n=3", 3, 0.05, 0.01],
  ["+5%, 1% noise, n=2", 2, 0.05, 0.01],
  ["identical, 0.5% noise, n=5", 5, 0, 0.005],
  ["identical, 1% noise, n=5", 5, 0, 0.01],
  ["identical, 1% noise, n=10", 10, 0, 0.01],
  ["identical, 10% noise, n=2", 2, 0, 0.1],
];
const names = ["improved", "regressed", "no change", "inconclusive"];
console.log(`scenario (${n} draws each)`.padEnd(32) + names.map((v) => v.padStart(13)).join(""));
for (const [label, reps, delta, noise] of scenarios) {
  const count = Object.fromEntries(names.map((v) => [v, 0]));
  for (let s = 1; s <= n; s++) {
    const g = normals(s * 7919);
    const a = Array.from({ length: reps }, () => g(10000, 10000 * noise));
    const b = Array.from({ length: reps }, () => g(10000 * (1 + delta), 10000 * (1 + delta) * noise));
    count[decide(compareMetric(metric, a, b), 2).verdict]++;
  }
  console.log(label.padEnd(32) + names.map((v) => `${((100 * count[v]) / n).toFixed(1)}%`.padStart(13)).join(""));
}
JS
