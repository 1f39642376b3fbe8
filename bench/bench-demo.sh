#!/usr/bin/env bash
# The bench's own demonstrations on a sim lab of its own (stack t-bench-demo, prefix ixe,
# 198.18.40.0/24 and 198.19.40.0/24, lab name ixe-demo so its guest kernel has a build tree of its
# own and a series walk never moves the tree other stacks build in):
#   bench/bench-demo.sh up          the lab up (the guest kernel built once in its tree)
#   bench/bench-demo.sh series      ixlab bench --series guest: prefixes 0,1,2 of patches/sim-demo,
#                                   4K and 64K, 2 repetitions, 5 s cells; its wall time
#   bench/bench-demo.sh interleaved baseline and zerocopy interleaved, 2 sizes, 3 repetitions
#   bench/bench-demo.sh until-ci    --until-ci 2% --max-reps 5 at 64K
#   bench/bench-demo.sh scenarios   tcpdump-during-stream and sg-toggle-during-stream, one 8 s cell each
#   bench/bench-demo.sh destroy     the lab down, the stack and its lab file removed
# Each bench prints its run directory (results/t-bench-demo/RUN) and ends with the report.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
stack=t-bench-demo
file=Pulumi.$stack.yaml

lab_file() {
  sed -e '/^encryptionsalt:/d' -e 's/^    name: sim$/    name: ixe-demo/' -e 's/prefix: ixl/prefix: ixe/' \
    -e 's#managementNet: 198.18.0.0/24#managementNet: 198.18.40.0/24#' -e 's#dataNet: 198.19.0.0/24#dataNet: 198.19.40.0/24#' \
    -e 's/198\.19\.0\./198.19.40./g' Pulumi.sim.yaml >"$file"
}

timed() {
  local t0 rc=0
  t0=$(date +%s.%N)
  "$@" || rc=$?
  printf 'wall time: %.1f s (%s)\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$*" >&2
  return "$rc"
}

case ${1:-} in
  up)
    lab_file
    bin/ixlab pulumi stack select --create --secrets-provider passphrase "$stack" >/dev/null
    timed bin/ixlab pulumi up --stack "$stack" --yes --skip-preview --non-interactive ;;
  series) timed bin/ixlab bench --stack "$stack" --series guest --sizes 4K,64K --reps 2 --duration 5 ;;
  interleaved) timed bin/ixlab bench --stack "$stack" --order interleaved --sizes 4K,64K --reps 3 --duration 5 ;;
  until-ci) timed bin/ixlab bench --stack "$stack" --until-ci 2% --max-reps 5 --sizes 64K --duration 5 ;;
  scenarios)
    for s in tcpdump-during-stream sg-toggle-during-stream; do
      timed bin/ixlab bench --stack "$stack" --scenario "$s" --variants baseline --sizes 16K --reps 1 --duration 8 --no-report
    done ;;
  destroy)
    bin/ixlab pulumi destroy --stack "$stack" --yes --non-interactive
    bin/ixlab pulumi stack rm --yes --force --stack "$stack"
    rm -f "$file" ;;
  *) echo "usage: bench/bench-demo.sh up|series|interleaved|until-ci|scenarios|destroy" >&2; exit 2 ;;
esac
