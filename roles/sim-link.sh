#!/usr/bin/env bash
# sim-link: the sim lab's stand-in for the 10GbE cable between two hosts' test NICs: a veth pair with
# one end in each sim host's namespace, named as the lab names those NICs, up, with the link's MTU.
# Runs as root in the root namespace. The pair is made here under temporary names, then each end is
# moved into its namespace and renamed (the NIC names, e.g. eth1, may exist in the root namespace).
#   sim-link.sh create|delete|check --a-ns NSA --a-if IFA --b-ns NSB --b-if IFB --mtu 1500
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_a_ns='' opt_a_if='' opt_b_ns='' opt_b_if='' opt_mtu=''
A='' B=''

paired() { veth_pair "$opt_a_ns" "$opt_a_if" "$opt_b_ns" "$opt_b_if"; }

do_create() {
  local ns
  for ns in "$opt_a_ns" "$opt_b_ns"; do
    [ -e "/run/netns/$ns" ] || die "namespace $ns does not exist (sim-host create makes it)"
  done
  if paired; then
    ok "veth $A <-> $B exists"
  else
    link_json "$opt_a_ns" "$opt_a_if" >/dev/null && die "$A exists but its peer is not $B; refusing to touch it"
    link_json "$opt_b_ns" "$opt_b_if" >/dev/null && die "$B exists but its peer is not $A; refusing to touch it"
    local ta="ixlt$$a" tb="ixlt$$b"
    defer "ip link del dev '$ta' 2>/dev/null"
    ip link add name "$ta" type veth peer name "$tb"
    ip link set dev "$ta" netns "$opt_a_ns"
    ip -n "$opt_a_ns" link set dev "$ta" name "$opt_a_if" || { ip -n "$opt_a_ns" link del dev "$ta"; die "cannot name $ta $opt_a_if in $opt_a_ns"; }
    ip link set dev "$tb" netns "$opt_b_ns" || { ip -n "$opt_a_ns" link del dev "$opt_a_if"; die "cannot move $tb into $opt_b_ns"; }
    ip -n "$opt_b_ns" link set dev "$tb" name "$opt_b_if" || { ip -n "$opt_a_ns" link del dev "$opt_a_if"; die "cannot name $tb $opt_b_if in $opt_b_ns"; }
    # After the move: a device's IPv6 settings are made anew in each namespace it enters.
    no_ipv6_ll "$opt_a_ns" "$opt_a_if"
    no_ipv6_ll "$opt_b_ns" "$opt_b_if"
    changed "created veth $A <-> $B"
  fi
  ensure_mtu "$opt_a_ns" "$opt_a_if" "$opt_mtu" "$A"
  ensure_mtu "$opt_b_ns" "$opt_b_if" "$opt_mtu" "$B"
  ensure_up "$opt_a_ns" "$opt_a_if" "$A"
  ensure_up "$opt_b_ns" "$opt_b_if" "$B"
}

do_delete() {
  if ! [ -e "/run/netns/$opt_a_ns" ] || ! link_json "$opt_a_ns" "$opt_a_if" >/dev/null; then
    ok "$A is absent"
    return 0
  fi
  paired || die "$A exists but its peer is not $B; refusing to delete it"
  # Deleting one end of a veth pair deletes both.
  ip -n "$opt_a_ns" link del dev "$opt_a_if"
  changed "deleted veth $A <-> $B"
}

do_check() {
  local ns f a b mtu_a mtu_b up_a up_b
  for ns in "$opt_a_ns" "$opt_b_ns"; do [ -e "/run/netns/$ns" ] || wrong "namespace $ns does not exist"; done
  # Both ends and each namespace's id for the other, in one look (dev_facts); then the questions.
  f=$(dev_facts "dev:$opt_a_ns:$opt_a_if" "dev:$opt_b_ns:$opt_b_if" "nsid:$opt_a_ns:$opt_b_ns" "nsid:$opt_b_ns:$opt_a_ns")
  mapfile -t f <<<"$f"
  a=${f[0]} b=${f[1]}
  [ "$a" != absent ] || wrong "$A does not exist"
  veth_pair_of "$a" "$b" "${f[2]}" "${f[3]}" || wrong "$A is not a veth whose peer is $B"
  read -r _ _ _ _ _ up_a mtu_a _ <<<"$a"
  read -r _ _ _ _ _ up_b mtu_b _ <<<"$b"
  [ "$mtu_a" = "$opt_mtu" ] || wrong "$A has MTU $mtu_a, not $opt_mtu"
  [ "$mtu_b" = "$opt_mtu" ] || wrong "$B has MTU $mtu_b, not $opt_mtu"
  [ "$up_a" = up ] || wrong "$A is down"
  [ "$up_b" = up ] || wrong "$B is down"
}

main() {
  parse_args "create delete check" "a-ns a-if b-ns b-if mtu" "$@"
  need_flags a-ns a-if b-ns b-if
  local ns
  for ns in "$opt_a_ns" "$opt_b_ns"; do
    [[ $ns =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || usage_error "'$ns' is not a namespace name"
  done
  [ "$opt_a_ns" != "$opt_b_ns" ] || usage_error "--a-ns and --b-ns are both $opt_a_ns; a link joins two hosts"
  valid_ifname "$opt_a_if" || usage_error "--a-if '$opt_a_if' is not an interface name"
  valid_ifname "$opt_b_if" || usage_error "--b-if '$opt_b_if' is not an interface name"
  if [ "$ACTION" != delete ]; then
    need_flags mtu
    if ! [[ $opt_mtu =~ ^[0-9]{2,5}$ ]] || [ "$opt_mtu" -lt 68 ] || [ "$opt_mtu" -gt 65535 ]; then
      usage_error "--mtu '$opt_mtu' is not 68-65535"
    fi
  fi
  A="$opt_a_ns:$opt_a_if" B="$opt_b_ns:$opt_b_if"
  run_action
}

main "$@" </dev/null
