#!/usr/bin/env bash
# The GitOps pipeline's steps, one subcommand each. The workflows in .github/workflows/ call these
# through npm (`npm run ci:<step> -- ARGS`) and hold no logic of their own, so every step runs the
# same way on a laptop as on a lab's runner.
#
#   ci.sh stacks                       the stacks wired into GitOps, one a line
#   ci.sh changed-stacks BASE [HEAD]   the wired stacks that the change BASE...HEAD touches
#   ci.sh validate [STACK...]          the named stacks' lab files (each must be wired), or every lab file
#   ci.sh unit                         type-check, then the unit tests (IXLAB_UNIT_TESTS: only those)
#   ci.sh preview STACK                pulumi preview after a refresh; the plan goes to the job summary
#   ci.sh up STACK                     pulumi up
#   ci.sh drift STACK                  pulumi preview --refresh --expect-no-changes; exit 3 on drift
#   ci.sh bench STACK VARIANTS SIZES DURATION [REPS [BASELINE]]
#                                      ixlab bench (an empty argument keeps the lab's plan); reported
#                                      against BASELINE (a run directory in the repository) if given
#   ci.sh confirm STACK CONFIRM        exit 0 only when CONFIRM is exactly STACK, a wired stack
#   ci.sh destroy STACK CONFIRM        pulumi destroy, after the same confirmation
#
# Wired stacks: IXLAB_STACKS (space or comma separated; in GitHub, the repository variable of that
# name), else every Pulumi.<stack>.yaml committed here. Under GitHub Actions (GITHUB_ACTIONS=true) the
# lab steps insist on PULUMI_BACKEND_URL and a passphrase, and a LAB_SSH_KEY secret (the key's text)
# becomes a mode-0600 file named by LAB_SSH_KEY_FILE for the step's duration. Secrets are never printed.
# In GitHub, $GITHUB_OUTPUT gets `stacks=[...]` (JSON) or `run-dir=...`, and $GITHUB_STEP_SUMMARY the
# plan or report. Exit status: 0 ok, 1 failed, 2 bad input, 3 drift found.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
ixlab="$root/bin/ixlab"

# Paths whose change can alter every stack's plan: the program, its dependencies and its toolchain.
# A Pulumi.<stack>.yaml alters only its own stack; anything else (docs, tests, bench/) none.
SHARED_PATHS=(Pulumi.yaml package.json package-lock.json tsconfig.json
  'infra/*' 'roles/*' 'src/*' 'kernel-configs/*' 'patches/*' 'tools/toolchain/*' scripts/toolchain.sh scripts/env.sh)

say() { printf 'ci: %s\n' "$*" >&2; }
die() { # die STATUS MESSAGE
  local status=$1
  shift
  say "$*"
  exit "$status"
}
in_github() { [ "${GITHUB_ACTIONS:-}" = true ]; }
output() { # output KEY VALUE: a step output in GitHub, nothing elsewhere
  if [ -n "${GITHUB_OUTPUT:-}" ]; then printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"; fi
}
summary() { # summary < TEXT: appended to the job summary in GitHub, nothing elsewhere
  if [ -z "${GITHUB_STEP_SUMMARY:-}" ]; then
    cat >/dev/null
  elif [ "${ACT:-}" = true ] && [ -n "${IXLAB_ACT_SUMMARY_DIR:-}" ]; then
    # act drops step summaries; scripts/act.sh names a directory that keeps each job's.
    tee -a "$IXLAB_ACT_SUMMARY_DIR/${GITHUB_JOB:-job}.md" >>"$GITHUB_STEP_SUMMARY"
  else
    cat >>"$GITHUB_STEP_SUMMARY"
  fi
}
summary_log() { # summary_log TITLE FILE: a command's output as a fenced block (the summary holds 1 MiB)
  local limit=900000
  {
    printf '### %s\n\n```\n' "$1"
    head -c "$limit" "$2"
    [ "$(wc -c <"$2")" -le "$limit" ] || printf '\n[... cut at %s bytes; the job log has it all]\n' "$limit"
    printf '```\n\n'
  } | summary
}

valid_stack_name() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; }

committed_stacks() { # stacks with a Pulumi.<stack>.yaml in git at REV (default: the work tree's index)
  local f s
  if [ -n "${1:-}" ]; then git ls-tree -r --name-only "$1" -- ; else git ls-files; fi |
    while IFS= read -r f; do
      case "$f" in */*) continue ;; Pulumi.*.yaml) ;; *) continue ;; esac
      s=${f#Pulumi.}
      s=${s%.yaml}
      valid_stack_name "$s" && printf '%s\n' "$s"
    done | sort -u
}

wired_stacks() { # wired_stacks [REV]
  local s names
  if [ -n "${IXLAB_STACKS:-}" ]; then
    read -ra names <<<"${IXLAB_STACKS//,/ }"
    for s in "${names[@]}"; do
      valid_stack_name "$s" || die 2 "IXLAB_STACKS: \"$s\" is not a stack name"
      printf '%s\n' "$s"
    done | sort -u
  else
    committed_stacks "${1:-}"
  fi
}

json_list() { # stdin lines -> ["a","b"] (names are checked by valid_stack_name, so need no escaping)
  local out="" s
  while IFS= read -r s || [ -n "$s" ]; do out+="${out:+,}\"$s\""; done
  printf '[%s]' "$out"
}

need_stack() { # need_stack NAME: a wired stack with a lab file
  local s=${1:-}
  [ -n "$s" ] || die 2 "a stack name is required"
  valid_stack_name "$s" || die 2 "\"$s\" is not a stack name"
  [ -f "Pulumi.$s.yaml" ] || die 2 "no lab file Pulumi.$s.yaml for stack \"$s\""
  wired_stacks | grep -qxF -- "$s" || die 2 "stack \"$s\" is not wired into GitOps (IXLAB_STACKS: ${IXLAB_STACKS:-unset})"
}

cmd_stacks() {
  local list
  list=$(wired_stacks)
  [ -z "$list" ] || printf '%s\n' "$list"
  output stacks "$(printf '%s' "$list" | sed '/^$/d' | json_list)"
}

cmd_changed_stacks() {
  local base=${1:-} head=${2:-HEAD} mb="" all=0 f s p changed=() selected
  [ -n "$base" ] || die 2 "usage: ci.sh changed-stacks BASE [HEAD]"
  git rev-parse -q --verify "$head^{commit}" >/dev/null || die 2 "changed-stacks: HEAD \"$head\" is not a commit here"
  if git rev-parse -q --verify "$base^{commit}" >/dev/null && mb=$(git merge-base "$base" "$head" 2>/dev/null); then
    while IFS= read -r f; do
      for p in "${SHARED_PATHS[@]}"; do
        # shellcheck disable=SC2254 # the patterns are meant to glob
        case "$f" in $p) all=1 ;; esac
      done
      case "$f" in
        */*) ;;
        Pulumi.*.yaml)
          s=${f#Pulumi.}
          changed+=("${s%.yaml}")
          ;;
      esac
    done < <(git diff --name-only --no-renames "$mb" "$head")
  else
    # A first push, a force push or a shallow clone: the base is not here, so everything may have changed.
    say "base \"$base\" is not in this clone's history: every wired stack counts as changed"
    all=1
  fi
  selected=$(
    if [ "$all" = 1 ]; then wired_stacks "$head"; else
      [ ${#changed[@]} -eq 0 ] || printf '%s\n' "${changed[@]}" | sort -u | grep -xF -f <(wired_stacks "$head") || true
    fi
  )
  # A stack whose lab file the change deletes cannot be previewed or brought up; destroy it by hand.
  selected=$(printf '%s\n' "$selected" | sed '/^$/d' | grep -xF -f <(committed_stacks "$head") || true)
  [ -z "$selected" ] || printf '%s\n' "$selected"
  output stacks "$(printf '%s' "$selected" | sed '/^$/d' | json_list)"
}

cmd_validate() {
  local stacks=() files=() f s failed=0
  if [ $# -gt 0 ]; then
    for s in "$@"; do need_stack "$s"; stacks+=("$s"); done
  else
    mapfile -t stacks < <(committed_stacks)
  fi
  for s in "${stacks[@]}"; do files+=("Pulumi.$s.yaml"); done
  [ ${#files[@]} -gt 0 ] || die 2 "no lab files to validate"
  printf '### Lab files\n\n| file | result |\n| --- | --- |\n' | summary
  for f in "${files[@]}"; do
    if "$ixlab" validate "$f"; then
      printf '| %s | valid |\n' "$f" | summary
    else
      failed=1
      printf '| %s | **invalid** (the job log names each problem) |\n' "$f" | summary
    fi
  done
  [ "$failed" = 0 ] || die 2 "invalid lab file(s)"
}

cmd_unit() {
  local names=() n files=()
  # IXLAB_UNIT_TESTS (a repository variable; unset on a real forge): only these unit test files, by
  # name, e.g. `workflows` for test/unit/workflows.test.ts. Trying the pipeline under act uses it.
  read -ra names <<<"${IXLAB_UNIT_TESTS//,/ }"
  for n in ${names[@]+"${names[@]}"}; do
    if [[ ! $n =~ ^[A-Za-z0-9_-]+$ ]] || [ ! -f "test/unit/$n.test.ts" ]; then die 2 "IXLAB_UNIT_TESTS: \"$n\" names no test/unit/$n.test.ts"; fi
    files+=("build/test/unit/$n.test.js")
  done
  bash scripts/actionlint.sh >/dev/null
  rm -rf build
  npx tsc -p tsconfig.json
  node --test --test-concurrency=1 "${files[@]:-build/test/unit/}"
}

# The environment for steps that reach a lab: backend, passphrase and key file; the toolchain.
secrets_dir=""
cleanup() { if [ -n "$secrets_dir" ]; then rm -rf "$secrets_dir"; fi; }
trap cleanup EXIT
lab_env() {
  local v
  # GitHub passes a secret that is not set as an empty string; unset, the lab names what is missing.
  for v in PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE PULUMI_CONFIG_PASSPHRASE_FILE LAB_SSH_KEY LAB_SSH_KEY_FILE LAB_BMC_PASSWORD; do
    [ -n "${!v:-}" ] || unset "$v"
  done
  if in_github; then
    # The checkout (and with it .ixlab/state, the local default) is wiped between runs.
    [ -n "${PULUMI_BACKEND_URL:-}" ] || die 2 "PULUMI_BACKEND_URL is not set: add it as a repository secret (see docs/gitops.md)"
    [ -n "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] ||
      die 2 "PULUMI_CONFIG_PASSPHRASE is not set: add it as a repository secret (see docs/gitops.md)"
  fi
  if [ -n "${LAB_SSH_KEY:-}" ] && [ -z "${LAB_SSH_KEY_FILE:-}" ]; then
    secrets_dir=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ixlab-ci.XXXXXX")
    (umask 077 && printf '%s\n' "${LAB_SSH_KEY%$'\n'}" >"$secrets_dir/lab_ssh_key")
    export LAB_SSH_KEY_FILE="$secrets_dir/lab_ssh_key"
  fi
  unset LAB_SSH_KEY
  # A committed stack file has no encryptionsalt (the clean filter in .gitattributes drops it): take
  # the passphrase provider's salt from the stack's state instead of minting a new one.
  export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true
  bash scripts/toolchain.sh >/dev/null
}

pulumi_logged() { # pulumi_logged LOG ARGS...: ixlab pulumi, output to the job log and LOG; its status
  local log=$1
  shift
  local status=0
  "$ixlab" pulumi "$@" --non-interactive --color never 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
  return "$status"
}

# logged STACK VERB ARGS...: `pulumi VERB --stack STACK ARGS` for the stack's lab, its output in the
# job summary.
logged() {
  local stack=$1 verb=$2 log status=0
  shift 2
  lab_env
  log=$(mktemp)
  pulumi_logged "$log" "$verb" --stack "$stack" "$@" || status=$?
  summary_log "pulumi $verb --stack $stack (exit $status)" "$log"
  rm -f "$log"
  return "$status"
}

cmd_preview() {
  need_stack "${1:-}"
  logged "$1" preview --refresh --diff
}

cmd_up() {
  need_stack "${1:-}"
  logged "$1" up --yes --skip-preview --diff
}

cmd_drift() {
  need_stack "${1:-}"
  local stack=$1 log status=0
  lab_env
  log=$(mktemp)
  pulumi_logged "$log" preview --stack "$stack" --refresh --expect-no-changes --diff || status=$?
  if [ "$status" != 0 ] && grep -q 'no changes were expected' "$log"; then
    summary_log "DRIFT on stack $stack: the lab is not what its stack says" "$log"
    rm -f "$log"
    printf '::error title=ixlab drift on %s::the lab differs from its stack; the job summary has the diff; pulumi up (a push to main) puts it right\n' "$stack"
    return 3
  fi
  summary_log "drift check, stack $stack (exit $status)" "$log"
  rm -f "$log"
  return "$status"
}

cmd_bench() {
  (($# >= 4 && $# <= 6)) || die 2 "usage: ci.sh bench STACK VARIANTS SIZES DURATION [REPS [BASELINE]] (empty to keep the lab's plan, or to report the run on its own)"
  need_stack "$1"
  local stack=$1 variants=$2 sizes=$3 duration=$4 reps=${5:-} baseline=${6:-} args=() before after run status=0 against=()
  # ixlab bench checks what the values mean; here only that each is a plain comma-separated list.
  local input list='^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$'
  for input in "variants=$variants" "sizes=$sizes" "duration=$duration" "repetitions=$reps"; do
    [ -z "${input#*=}" ] || [[ ${input#*=} =~ $list ]] || die 2 "${input%%=*}: \"${input#*=}\" is not a comma-separated list of plain words"
  done
  if [ -n "$baseline" ]; then
    # A run kept in the repository (a reference run committed, say, under baselines/): the report
    # compares this run with it, and the gate fails the job when a figure regressed against it.
    [[ $baseline =~ ^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$ && ! /$baseline/ =~ /\.\.?/ ]] ||
      die 2 "baseline: \"$baseline\" is not a relative path inside the repository"
    [ -f "$baseline/run.json" ] || die 2 "baseline: $baseline is not a run directory (it has no run.json)"
    against=("$baseline")
  fi
  args=(bench --stack "$stack")
  [ -z "$variants" ] || args+=(--variants "$variants")
  [ -z "$sizes" ] || args+=(--sizes "$sizes")
  [ -z "$duration" ] || args+=(--duration "$duration")
  [ -z "$reps" ] || args+=(--reps "$reps")
  lab_env
  mkdir -p "results/$stack"
  before=$(ls -1 "results/$stack")
  "$ixlab" "${args[@]}" || status=$?
  # The run is the directory the bench made (finished or not: a killed run keeps its finished cells).
  after=$(ls -1t "results/$stack")
  run=$(grep -vxF -f <(printf '%s\n' "$before") <<<"$after" | head -n 1 || true)
  if [ -z "$run" ]; then
    say "ixlab bench made no run directory under results/$stack"
    return $((status == 0 ? 1 : status))
  fi
  output run-dir "results/$stack/$run"
  output run-id "$(printf '%s' "$run" | tr -c 'A-Za-z0-9._-' '-')"
  {
    printf '### Bench %s/%s (exit %s)\n\n' "$stack" "$run" "$status"
    "$ixlab" report ${against[@]+"${against[@]}"} "results/$stack/$run" --html "results/$stack/$run/report.html" || printf '\n(ixlab report failed; the job log says why)\n'
  } | summary
  # The text a maintainer pastes, kept with the run (and its artifact); a figure that regressed fails the job.
  local gate=0
  "$ixlab" report ${against[@]+"${against[@]}"} "results/$stack/$run" --format email --no-html --fail-on regressed >"results/$stack/$run/report-email.txt" || gate=$?
  [ "$gate" -eq 0 ] || say "ixlab report --fail-on regressed: exit $gate (results/$stack/$run/report-email.txt says which figures)"
  [ "$status" -ne 0 ] || status=$gate
  return "$status"
}

cmd_confirm() {
  [ $# -eq 2 ] || die 2 "usage: ci.sh confirm STACK CONFIRM (CONFIRM must be the stack's name)"
  [ "$2" = "$1" ] || die 2 "refusing to destroy stack \"$1\": the confirmation \"$2\" is not its name"
  need_stack "$1"
  say "stack \"$1\" confirmed for destroy"
}

cmd_destroy() {
  cmd_confirm "$@"
  local stack=$1 log status=0
  lab_env
  log=$(mktemp)
  pulumi_logged "$log" destroy --stack "$stack" --yes --skip-preview || status=$?
  summary_log "pulumi destroy --stack $stack (exit $status)" "$log"
  rm -f "$log"
  return "$status"
}

sub=${1:-}
[ $# -eq 0 ] || shift
case "$sub" in
  stacks) cmd_stacks ;;
  changed-stacks) cmd_changed_stacks "$@" ;;
  validate) cmd_validate "$@" ;;
  unit) cmd_unit ;;
  preview) cmd_preview "$@" ;;
  up) cmd_up "$@" ;;
  drift) cmd_drift "$@" ;;
  bench) cmd_bench "$@" ;;
  confirm) cmd_confirm "$@" ;;
  destroy) cmd_destroy "$@" ;;
  *) die 2 "usage: ci.sh stacks|changed-stacks|validate|unit|preview|up|drift|bench|confirm|destroy ... (see the top of scripts/ci.sh)" ;;
esac
