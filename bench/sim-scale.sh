#!/usr/bin/env bash
# Benchmark: how the sim lab's `pulumi up` / no-op up / destroy times grow with the number of hosts.
# Independent hosts come up in parallel in Pulumi's graph, so 8 hosts should take well under 4x the
# time of 2. Prints one row per lab size. Usage: bench/sim-scale.sh [SIZES...]   (default: 2 8)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=../scripts/env.sh
source scripts/env.sh
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(2 8)

lab_file() { # N -> a lab of N hosts wired in dut/peer pairs, in its own names and addresses
  local n=$1 i
  printf 'config:\n  ixlab:lab:\n    name: scale%s\n    sim: { prefix: ixs, managementNet: 198.18.2.0/24, dataNet: 198.19.2.0/24 }\n    hosts:\n' "$n"
  for ((i = 1; i <= n; i++)); do
    if ((i % 2)); then role=dut; else role=peer; fi
    printf '      - { name: h%d, role: %s, nic: { name: eth1 } }\n' "$i" "$role"
  done
  printf '    links:\n'
  for ((i = 1; i < n; i += 2)); do
    printf '      - { name: l%d, a: { host: h%d }, b: { host: h%d } }\n' "$i" "$i" "$((i + 1))"
  done
}

timeit() { local t0 t1; t0=$(date +%s.%N); "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }; t1=$(date +%s.%N); printf '%.1f' "$(echo "$t1 - $t0" | bc)"; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
printf '%-6s %-10s %-12s %-12s %-10s\n' hosts up_s noop_up_s destroy_s leftovers
for n in "${sizes[@]}"; do
  stack="scale$n"
  lab_file "$n" >"Pulumi.$stack.yaml"
  pulumi stack init "$stack" --secrets-provider passphrase >/dev/null 2>&1 || true
  up=$(timeit pulumi up --yes --skip-preview --non-interactive --stack "$stack")
  noop=$(timeit pulumi up --yes --skip-preview --non-interactive --expect-no-changes --stack "$stack")
  down=$(timeit pulumi destroy --yes --non-interactive --stack "$stack")
  left=$( (ip netns list | grep -c '^ixs-') || true)
  pulumi stack rm --yes --force "$stack" >/dev/null
  printf '%-6s %-10s %-12s %-12s %-10s\n' "$n" "$up" "$noop" "$down" "$left"
done
