#!/usr/bin/env bash
# The main job on the sim lab (npm run demo): set up, validate the lab, bring the sim lab up with
# `pulumi up` (hosts, wire, netserver, the guest kernel built and boot-checked, a QEMU guest on a
# macvtap), print its topology, run one cell of the benchmark by hand from inside the guest with the
# topology's own command (5 s), then a short bench of the lab's two variants (switched through the
# stack; 5 s cells, 2 repetitions) and its report with the published reference beside it. The lab
# stays up; `npx ixlab pulumi destroy --stack sim --yes` takes it down.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
echo "==> ixlab validate --stack sim"
bin/ixlab validate --stack sim
echo "==> pulumi up --stack sim"
bin/ixlab pulumi up --stack sim --yes --skip-preview --non-interactive
echo "==> topology (pulumi stack output topology --json)"
bin/ixlab pulumi stack output topology --json --stack sim | tee .ixlab/topology-sim.json
# The largest message size's cell, 5 s instead of the bench's duration.
cmd=$(jq -r '.commands.cells[-1].command' .ixlab/topology-sim.json | sed -E 's/ -l [0-9]+ / -l 5 /')
echo "==> guest $(jq -r '.guests[0] | "\(.name): kernel \(.kernel), QEMU pid \(.qemuPid) (\(.accel)), vhost \(.vhost.effective), zero-copy \(.zeroCopy.effective)"' .ixlab/topology-sim.json)"
echo "==> one cell by hand, from inside the guest: $cmd"
# Run as printed, with the local ixlab instead of npx.
bash -c "${cmd/#npx ixlab/bin/ixlab}"
echo "==> a short bench: ixlab bench --stack sim --sizes 4K,64K --duration 5 --reps 2"
bin/ixlab bench --stack sim --sizes 4K,64K --duration 5 --reps 2 --no-report
run=$(find results/sim -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tail -n 1)
echo "==> its report, beside the published figures: ixlab report results/sim/$run --reference seed"
bin/ixlab report "results/sim/$run" --reference seed
cat <<'TXT'

The sim lab is up. Try:
  npx ixlab ssh --stack sim dut                   # a shell on the device-under-test host
  npx ixlab ssh --stack sim vm1                   # a shell in the guest
  npx ixlab pulumi preview --stack sim            # no changes while nothing drifted
  npx ixlab bench --stack sim                     # the whole matrix: 2 variants x 4 sizes x 3 reps x 120 s
  npx ixlab pulumi destroy --stack sim --yes      # take it all down
TXT
