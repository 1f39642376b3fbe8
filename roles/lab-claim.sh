#!/usr/bin/env bash
# lab-claim: which stack of which clone owns an embedded lab's names on this machine. The names of a
# sim or VM lab (namespaces, bridges, veths, taps: PREFIX-*) are machine-wide, but each clone keeps its
# own Pulumi state, so without a claim a second clone's `up` would adopt the first one's lab and its
# `destroy` would take it down. The claim is made before anything else of the lab and refused, naming
# the owner, when another stack holds it.
#   lab-claim.sh create|delete|check --prefix PREFIX --owner OWNER
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLAIM_DIR=${IXLAB_CLAIM_DIR:-/run/ixlab/claims}
opt_prefix='' opt_owner=''

claim_file() { printf '%s/%s' "$CLAIM_DIR" "$opt_prefix"; }
holder() { cat "$(claim_file)" 2>/dev/null || true; }

refuse_other() {
  die "the lab names $opt_prefix-* on this machine belong to $1, whose lab is up; destroy it there first (ixlab pulumi destroy), or give this lab another sim.prefix"
}

do_create() {
  local file tmp held
  file=$(claim_file)
  held=$(holder)
  if [ "$held" = "$opt_owner" ]; then ok "names $opt_prefix-* are claimed by this stack"; return 0; fi
  [ -z "$held" ] || refuse_other "$held"
  mkdir -p "$CLAIM_DIR"
  tmp=$(mktemp "$CLAIM_DIR/.claim.XXXXXX")
  printf '%s\n' "$opt_owner" >"$tmp"
  # ln fails if the file exists: of two stacks claiming at once, exactly one wins.
  if ! ln "$tmp" "$file" 2>/dev/null; then
    rm -f "$tmp"
    held=$(holder)
    [ "$held" = "$opt_owner" ] || refuse_other "$held"
  fi
  rm -f "$tmp"
  changed "claimed names $opt_prefix-* for $opt_owner"
}

do_delete() {
  local held
  held=$(holder)
  if [ -z "$held" ]; then ok "names $opt_prefix-* are not claimed"; return 0; fi
  [ "$held" = "$opt_owner" ] || { ok "names $opt_prefix-* are claimed by $held, not this stack: left alone"; return 0; }
  rm -f "$(claim_file)"
  changed "released names $opt_prefix-*"
}

do_check() {
  local held
  held=$(holder)
  [ -n "$held" ] || wrong "names $opt_prefix-* are not claimed"
  [ "$held" = "$opt_owner" ] || wrong "names $opt_prefix-* are claimed by $held"
}

main() {
  parse_args "create delete check" "prefix owner" "$@"
  need_flags prefix owner
  [[ $opt_prefix =~ ^[a-z][a-z0-9]{0,5}$ ]] || usage_error "--prefix '$opt_prefix' is not a lab prefix (a lowercase letter, then up to 5 lowercase letters or digits)"
  [[ $opt_owner != *$'\n'* && -n $opt_owner ]] || usage_error "--owner must be one line"
  run_action
}

main "$@" </dev/null
