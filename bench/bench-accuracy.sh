#!/usr/bin/env bash
# Benchmark: does `ixlab bench` measure what a person would? Prints, for one cell shape on a lab
# that is up:
#   - ixlab's throughput against netperf run by hand on the same path (guest -> peer), median of 3
#     runs each, same duration and message size;
#   - the dut host's sampler (src/bench/proc-sample.sh) CPU per sample, and as % of one CPU at one
#     sample at each cell's start and end;
#   - each cell's time beyond the test's own duration (SSH, samples, writing the cell).
# Usage: bench/bench-accuracy.sh STACK [DURATION_S] [SIZE]     (default: 10 16K)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
stack=${1:?usage: bench/bench-accuracy.sh STACK [DURATION_S] [SIZE]}
dur=${2:-10}
size=${3:-16K}
ixlab="$root/bin/ixlab"

topo=$(mktemp)
trap 'rm -f "$topo"' EXIT
# shellcheck source=../scripts/env.sh
source scripts/env.sh
pulumi stack output topology --json --stack "$stack" >"$topo"
read -r guest host peer port variant < <(jq -r '[.guests[0].name, .guests[0].host, .peer.address, .peer.port, .guests[0].variant] | @tsv' "$topo")
bytes=$(node -e 'const {parseSize}=require("./build/src/lab/units"); console.log(parseSize(process.argv[1]))' "$size")
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "stack $stack, guest $guest on $host, peer $peer:$port, variant $variant, TCP_STREAM $size, ${dur} s, 3 runs each"

# ixlab: one run of 3 repetitions; figures and cell times from its results.
runs() { { find "results/$stack" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null || true; } | sort; }
before=$(runs)
"$ixlab" bench --stack "$stack" --variants "$variant" --sizes "$size" --duration "$dur" --reps 3 --no-report >/dev/null 2>&1
run=$(comm -13 <(echo "$before") <(runs) | tail -1)
cells="results/$stack/$run/cells"
ixlab_tp=$(for c in "$cells"/*/cell.json; do jq -r .throughputMbps "$c"; done | median)
overhead=$(for c in "$cells"/*/cell.json; do node -e 'const c=require(process.argv[1]); console.log(((Date.parse(c.ended)-Date.parse(c.started))/1000 - Number(process.argv[2])).toFixed(2))' "$root/$c" "$dur"; done | sort -n | tr '\n' ' ')

# By hand: the same netperf line in the guest, over ixlab ssh.
hand_tp=$(for _ in 1 2 3; do
  "$ixlab" ssh --stack "$stack" "$guest" -- "netperf -H $peer -p $port -t TCP_STREAM -l $dur -c -C -- -m $bytes" | awk 'NF == 9 || NF == 5 {v = $5} END {print v}'
done | median)

# The sampler: CPU (user + sys) of 20 samples on the dut host (the line expands there, not here).
# shellcheck disable=SC2016
cpu=$("$ixlab" ssh --stack "$stack" "$host" -- 'f=$(mktemp); cat >"$f"; TIMEFORMAT="%U %S"; { time (for i in $(seq 20); do bash "$f" >/dev/null; done); } 2>&1 | tail -1; rm -f "$f"' <src/bench/proc-sample.sh)
per_sample_ms=$(echo "$cpu" | awk '{printf "%.1f", ($1 + $2) / 20 * 1000}')

diff_pct=$(awk -v a="$ixlab_tp" -v b="$hand_tp" 'BEGIN {printf "%+.2f", (a - b) / b * 100}')
printf '%-44s %s\n' "ixlab throughput, median of 3 (Mb/s)" "$ixlab_tp"
printf '%-44s %s\n' "hand-run netperf, median of 3 (Mb/s)" "$hand_tp"
printf '%-44s %s%%\n' "ixlab vs hand-run" "$diff_pct"
printf '%-44s %s ms\n' "sampler CPU per sample" "$per_sample_ms"
for d in "$dur" 120; do
  printf '%-44s %s%%\n' "sampler, % of one CPU (2 samples per ${d} s cell)" "$(awk -v ms="$per_sample_ms" -v d="$d" 'BEGIN {printf "%.3f", 2 * ms / 1000 / d * 100}')"
done
printf '%-44s %s\n' "per-cell time beyond the test duration (s)" "$overhead"
echo "run kept in results/$stack/$run"
