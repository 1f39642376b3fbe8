#!/usr/bin/env bash
# host-nic: a lab host's test NIC as the benchmark needs it: the lab's data address, the link's MTU,
# link up. The MTU it had before the lab is recorded at the first create and given back on delete,
# so a host leaves the lab as it came (other addresses on the NIC are never touched).
#   host-nic.sh create|delete|check --nic IF|PCI --address 198.19.0.1/24 --mtu 1500
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_nic='' opt_address='' opt_mtu=''
NIC='' PREV=''

do_create() {
  link_json "" "$NIC" >/dev/null || die "no interface $NIC on this host"
  if [ ! -f "$PREV" ]; then
    mkdir -p "$(dirname "$PREV")"
    link_get "" "$NIC" .mtu >"$PREV.tmp" && mv -f "$PREV.tmp" "$PREV"
    log "recorded the MTU $NIC had before the lab ($(cat "$PREV")) in $PREV"
  fi
  ensure_mtu "" "$NIC" "$opt_mtu" "$NIC"
  ensure_ipv4 "" "$NIC" "$opt_address" "$NIC"
  ensure_up "" "$NIC" "$NIC"
}

do_delete() {
  if ! link_json "" "$NIC" >/dev/null; then
    ok "$NIC is absent"
  else
    if [ -n "$opt_address" ] && has_ipv4 "" "$NIC" "$opt_address"; then
      ip addr del "$opt_address" dev "$NIC"
      changed "$NIC: removed address $opt_address"
    else
      ok "$NIC does not have address ${opt_address:-(none given)}"
    fi
    if [ -f "$PREV" ]; then
      ensure_mtu "" "$NIC" "$(cat "$PREV")" "$NIC (as before the lab)"
    else
      ok "no recorded MTU for $NIC"
    fi
  fi
  if [ -f "$PREV" ]; then rm -f "$PREV"; changed "removed record $PREV"; fi
  rmdir "$(dirname "$PREV")" 2>/dev/null || true
}

do_check() {
  local f up mtu addrs
  f=$(dev_facts "dev::$NIC")
  [ "$f" != absent ] || wrong "no interface $NIC"
  read -r _ _ _ _ _ up mtu _ _ _ addrs <<<"$f"
  has_addr "$addrs" "$opt_address" || wrong "$NIC lacks address $opt_address"
  [ "$mtu" = "$opt_mtu" ] || wrong "$NIC has MTU $mtu, not $opt_mtu"
  [ "$up" = up ] || wrong "$NIC is down"
}

main() {
  parse_args "create delete check" "nic address mtu" "$@"
  need_flags nic
  NIC=$(resolve_nic "$opt_nic")
  valid_ifname "$NIC" || usage_error "--nic '$opt_nic' is neither an interface name nor a PCI address with a network interface"
  [ -z "$opt_address" ] || valid_cidr "$opt_address" || usage_error "--address '$opt_address' is not ADDRESS/PREFIX"
  if [ "$ACTION" != delete ]; then
    need_flags address mtu
    if ! [[ $opt_mtu =~ ^[0-9]{2,5}$ ]] || [ "$opt_mtu" -lt 68 ] || [ "$opt_mtu" -gt 65535 ]; then
      usage_error "--mtu '$opt_mtu' is not 68-65535"
    fi
  fi
  PREV=$STATE_DIR/nic/$NIC.prev
  run_action
}

main "$@" </dev/null
