#!/usr/bin/env bash
# sim-bridge: the sim lab's management bridge in this machine's own (root) network namespace. It holds
# the management address, and every sim host's management veth is enslaved to it, so this machine
# reaches each sim host's sshd over it exactly as it would reach a real host over the lab network.
# Only the connected route: no forwarding, no NAT, and addresses only from 198.18.0.0/15.
#   sim-bridge.sh create|delete|check --name BR --address 198.18.0.1/24
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_name='' opt_address=''

do_create() {
  local kind
  if link_json "" "$opt_name" >/dev/null; then
    kind=$(link_get "" "$opt_name" .linkinfo.info_kind)
    [ "$kind" = bridge ] || die "$opt_name exists but is a ${kind:-plain} device, not a bridge; refusing to touch it"
    ok "bridge $opt_name exists"
  else
    ip link add name "$opt_name" type bridge
    no_ipv6_ll "" "$opt_name"
    changed "created bridge $opt_name"
  fi
  ensure_ipv4 "" "$opt_name" "$opt_address" "bridge $opt_name"
  ensure_up "" "$opt_name" "bridge $opt_name"
}

do_delete() {
  if ! link_json "" "$opt_name" >/dev/null; then
    ok "bridge $opt_name is absent"
    return 0
  fi
  [ "$(link_get "" "$opt_name" .linkinfo.info_kind)" = bridge ] || die "$opt_name is not a bridge; refusing to delete it"
  ip link del dev "$opt_name"
  changed "deleted bridge $opt_name"
}

do_check() {
  local f kind up addrs
  f=$(dev_facts "dev::$opt_name")
  [ "$f" != absent ] || wrong "bridge $opt_name does not exist"
  read -r kind _ _ _ _ up _ _ _ _ addrs <<<"$f"
  [ "$kind" = bridge ] || wrong "$opt_name is not a bridge"
  has_addr "$addrs" "$opt_address" || wrong "bridge $opt_name lacks address $opt_address"
  [ "$up" = up ] || wrong "bridge $opt_name is down"
}

main() {
  parse_args "create delete check" "name address" "$@"
  need_flags name
  valid_ifname "$opt_name" || usage_error "--name '$opt_name' is not an interface name (1-15 of A-Z a-z 0-9 _ . -)"
  [ "$ACTION" = delete ] || need_flags address
  if [ -n "$opt_address" ]; then
    valid_cidr "$opt_address" || usage_error "--address '$opt_address' is not ADDRESS/PREFIX"
    in_bench_range "$opt_address" || usage_error "--address $opt_address is outside 198.18.0.0/15, the only range a sim lab may use"
  fi
  run_action
}

main "$@" </dev/null
