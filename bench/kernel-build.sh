#!/usr/bin/env bash
# Benchmark: the sim guest kernel's build times on this machine. Prints seconds for
#   cold      a build from an empty cache (unpack, patch, configure, compile with an empty ccache)
#   noop      the same inputs again (the key is built: nothing compiles)
#   warm      one more line in a config fragment: a new key, rebuilt in the same tree with ccache
# and the ratio warm/cold (goal <= 0.30). Uses its own cache (bench cache dir, removed afterwards)
# so your lab's builds are untouched. Usage: bench/kernel-build.sh [--keep]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cache=$(mktemp -d "${TMPDIR:-/tmp}/ixlab-kbench.XXXXXX")
[ "${1:-}" = --keep ] || trap 'rm -rf "$cache"' EXIT
frag="$cache/sim-guest-plus-one.config"
cp kernel-configs/sim-guest.config "$frag"
echo "CONFIG_HIGH_RES_TIMERS=y" >>"$frag"

# The role's flags exactly as the Pulumi program plans them, for the sim stack's guest kernel.
plan_args() { # FRAGMENT -> NUL-separated flags
  IXLAB_CACHE=$cache node -e '
    require("./infra/register").register(process.cwd());
    const { planKernelBuild } = require("./src/lab/kernel");
    const { loadLabFile } = require("./src/lab/load");
    const { validateLab } = require("./src/lab/validate");
    const r = validateLab(loadLabFile("Pulumi.sim.yaml").raw, { baseDir: "." });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const k = { ...r.lab.kernels[0], config: { ...r.lab.kernels[0].config, fragments: [process.argv[1]] } };
    process.stdout.write(planKernelBuild(k, "bench", "bench", process.cwd(), process.env.IXLAB_CACHE, "bench").args.join("\0"));
  ' "$1"
}

timed() { # label flags... -> seconds on stdout, role output in $cache/<label>.log
  local label=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  CCACHE_DIR="$cache/ccache" bash roles/kernel-build.sh create "$@" >"$cache/$label.log" 2>&1 || { cat "$cache/$label.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

mapfile -d '' base < <(plan_args "$root/kernel-configs/sim-guest.config")
mapfile -d '' plus < <(plan_args "$frag")
cold=$(timed cold "${base[@]}")
noop=$(timed noop "${base[@]}")
grep -q 'nothing compiled' "$cache/noop.log" || { echo "noop run compiled something" >&2; exit 1; }
warm=$(timed warm "${plus[@]}")
printf '%-8s %8s\n' phase seconds
printf '%-8s %8.1f\n' cold "$cold" noop "$noop" warm "$warm"
printf 'warm/cold = %.2f (goal <= 0.30)\n' "$(echo "$warm / $cold" | bc -l)"
