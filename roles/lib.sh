# shellcheck shell=bash
# Shared by every role script. A role runs on a host (over SSH, real or sim) as one of:
#   <role> create|delete|check [args...]
# and reports each step as `ok:` (already right) or `changed:`, like an Ansible task, so a second
# create says it changed nothing. `check` changes nothing and exits non-zero naming what is wrong.
set -euo pipefail

IXLAB_ROLE=${IXLAB_ROLE:-$(basename "$0" .sh)}
_ixlab_changed=0

log() { printf '%s: %s\n' "$IXLAB_ROLE" "$*" >&2; }
ok() { printf 'ok: %s\n' "$*"; }
changed() { _ixlab_changed=$((_ixlab_changed + 1)); printf 'changed: %s\n' "$*"; }
die() { printf '%s: error: %s\n' "$IXLAB_ROLE" "$*" >&2; exit 1; }
# Exit status 3 from check means "state is wrong", distinct from a failure to check at all.
wrong() { printf '%s: check failed: %s\n' "$IXLAB_ROLE" "$*" >&2; exit 3; }

# Summary line callers parse; printed once at the end of create/delete.
summary() { printf 'summary: changed=%d\n' "$_ixlab_changed"; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds, or dies naming DESCRIPTION.
wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
}

# Cleanups registered before the thing they undo exists; run in reverse order on any exit.
_ixlab_cleanups=()
defer() { _ixlab_cleanups+=("$*"); }
_ixlab_run_cleanups() {
  local i
  for ((i = ${#_ixlab_cleanups[@]} - 1; i >= 0; i--)); do eval "${_ixlab_cleanups[$i]}" || true; done
}
trap _ixlab_run_cleanups EXIT
