#!/usr/bin/env bash
# Benchmark: how long a no-op `pulumi up` of an ixlab stack takes, beside Pulumi's own floor: a no-op
# up of a stack with one trivial dynamic resource, with the same toolchain, options and backend
# kind, alternated with it in the same run so both see the same machine. Prints each run, the
# medians and their ratio. The stack must be up already (it is not changed: every up must report no
# changes, or the script stops).
#   bench/noop.sh [STACK] [ROUNDS]      (default: sim 5)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=../scripts/env.sh
source scripts/env.sh
stack=${1:-sim}
rounds=${2:-5}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "noop.sh: ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2; }
[ -f "Pulumi.$stack.yaml" ] || { echo "noop.sh: no Pulumi.$stack.yaml (STACK names a stack of this project)" >&2; exit 2; }

floor=$(mktemp -d "${TMPDIR:-/tmp}/ixlab-noop-floor.XXXXXX")
log=$(mktemp)
trap 'PULUMI_BACKEND_URL="file://$floor/state" pulumi destroy --yes --non-interactive --cwd "$floor" --stack floor >/dev/null 2>&1 || true; rm -rf "$floor" "$log"' EXIT
mkdir -p "$floor/state"
ln -s "$root/node_modules" "$floor/node_modules"
# The same runtime and options as the project (Pulumi.yaml): Node.js, a refresh before every up.
cat >"$floor/Pulumi.yaml" <<'YAML'
name: ixlab-noop-floor
runtime: nodejs
main: index.js
options:
  refresh: always
YAML
cat >"$floor/index.js" <<'JS'
const pulumi = require("@pulumi/pulumi");
const provider = { async create(inputs) { return { id: "floor", outs: inputs }; } };
new pulumi.dynamic.Resource(provider, "floor", { value: "1" }, {});
JS
floor_pulumi() { PULUMI_BACKEND_URL="file://$floor/state" pulumi "$@" --cwd "$floor" --stack floor --non-interactive; }
PULUMI_BACKEND_URL="file://$floor/state" pulumi stack init floor --cwd "$floor" --non-interactive >/dev/null 2>&1
floor_pulumi up --yes --skip-preview >/dev/null

seconds() { # seconds COMMAND... : the wall time of a no-op up, or fail with its output
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1 || { echo "noop.sh: not a no-op (or failed): $*" >&2; tail -20 "$log" >&2; return 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

noop=(up --yes --skip-preview --expect-no-changes)
printf '%-6s %-10s %-10s\n' round floor_s "${stack}_s"
f_all="" s_all=""
for ((i = 1; i <= rounds; i++)); do
  f=$(seconds floor_pulumi "${noop[@]}")
  s=$(seconds pulumi "${noop[@]}" --stack "$stack" --non-interactive)
  printf '%-6s %-10.2f %-10.2f\n' "$i" "$f" "$s"
  f_all+="$f"$'\n' s_all+="$s"$'\n'
done
fm=$(printf '%s' "$f_all" | median)
sm=$(printf '%s' "$s_all" | median)
printf 'median: floor %.2f s, %s %.2f s, ratio %.2f (load average %s)\n' "$fm" "$stack" "$sm" "$(echo "$sm / $fm" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
