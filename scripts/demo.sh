#!/usr/bin/env bash
# The main job on the sim lab (npm run demo): set up, validate the lab, and preview the sim stack with
# the real Pulumi engine. Later stages (lab up, bench, report) join here as they land.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
echo "==> ixlab validate --stack sim"
bin/ixlab validate --stack sim
echo "==> pulumi preview --stack sim"
bin/ixlab pulumi preview --stack sim --non-interactive
