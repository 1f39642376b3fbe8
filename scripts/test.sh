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
# The VM lab's kernel test runs beside the others, started first: it has a namespace, addresses and
# build tree of its own and spends most of its 15-25 minutes waiting on one TCG VM (one core), while
# the other tests mostly keep one core busy. In turn it would add those minutes to the run.
vm_test=build/test/integration/vmlab-kernel.test.js
node --test \
  --test-reporter=spec --test-reporter-destination=build/vmlab-kernel.log \
  --test-reporter=tap --test-reporter-destination=build/test-results-vm.tap \
  "$@" "$vm_test" &
vm_pid=$!
# The rest one file at a time: integration tests share the sim stack and this machine's namespaces.
# Every .js under build/test, as `node --test build/test/` picks them (all of them are under test/).
mapfile -t files < <(find build/test -name '*.js' ! -path "$vm_test" | LC_ALL=C sort)
status=0
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=build/test-results.tap \
  "$@" "${files[@]}" || status=$?
echo "==> the VM lab's kernel test (ran beside the others; waiting for it)"
wait "$vm_pid" || status=1
cat build/vmlab-kernel.log
count() { local n; n=$(sed -n "s/^# $1 //p" "$2" 2>/dev/null | tail -n 1); echo "${n:-0}"; }
pass=$(( $(count pass build/test-results.tap) + $(count pass build/test-results-vm.tap) ))
fail=$(( $(count fail build/test-results.tap) + $(count fail build/test-results-vm.tap) ))
echo "tests: $pass passed, $fail failed"
exit "$status"
