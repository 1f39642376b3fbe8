#!/usr/bin/env bash
# The main job on the sim lab (npm run demo): set up, validate the lab, bring the sim lab up with
# `pulumi up`, print its topology and run the topology's own netperf command across the sim wire.
# The lab stays up; `npx ixlab pulumi destroy --stack sim --yes` takes it down. Later stages (guests,
# bench, report) join here as they land.
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
cmd=$(jq -r '.commands.netperf' .ixlab/topology-sim.json)
echo "==> the topology's netperf command: $cmd"
# Run it exactly as printed, with the local ixlab instead of npx.
bash -c "${cmd/#npx ixlab/bin/ixlab}"
cat <<'TXT'

The sim lab is up. Try:
  npx ixlab ssh --stack sim dut                   # a shell on the device-under-test host
  npx ixlab pulumi preview --stack sim            # no changes while nothing drifted
  npx ixlab pulumi destroy --stack sim --yes      # take it all down
TXT
