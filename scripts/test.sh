#!/usr/bin/env bash
# The test command (npm test, and CI): sets up whatever is missing, type-checks, then runs every test
# with node's test runner: unit tests, the bad-input corpus, shellcheck, and the integration tests
# that drive the real Pulumi engine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
echo "==> type-check and compile (tsc)"
rm -rf build
npx tsc -p tsconfig.json
echo "==> tests"
# One file at a time: integration tests share the sim stack and this machine's namespaces.
status=0
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=build/test-results.tap \
  "$@" build/test/ || status=$?
pass=$(sed -n 's/^# pass //p' build/test-results.tap | tail -n 1)
fail=$(sed -n 's/^# fail //p' build/test-results.tap | tail -n 1)
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit "$status"
