#!/usr/bin/env bash
# vm-wire: a VM lab's stand-in for the cable between two hosts' test NICs: a bridge in the lab's
# namespace with one tap per end, each with the link's MTU; each VM's QEMU plugs a virtio-net data
# NIC into its tap (roles/vm-host.sh --nic). Taps rather than QEMU's socket netdev: a tap gives the
# VM's NIC scatter-gather and TSO, without which vhost-net's zero-copy falls back to copying.
# Runs as root on the machine running Pulumi (never over SSH).
#   vm-wire.sh create|delete|check --ns NS --bridge BR --tap TAP_A --tap TAP_B --mtu 1500
# A lab link has two ends; more (or one, to start with) make the bridge a switch.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_ns='' opt_bridge='' opt_mtu='' opt_tap=()
NS=''

kind_of() { link_get "$NS" "$1" .linkinfo.info_kind; }

do_create() {
  local t
  [ -e "/run/netns/$NS" ] || die "namespace $NS does not exist (roles/vm-net.sh create makes it)"
  if link_json "$NS" "$opt_bridge" >/dev/null; then
    [ "$(kind_of "$opt_bridge")" = bridge ] || die "$NS:$opt_bridge exists but is not a bridge; refusing to touch it"
    ok "bridge $NS:$opt_bridge exists"
  else
    ip -n "$NS" link add name "$opt_bridge" type bridge
    no_ipv6_ll "$NS" "$opt_bridge"
    changed "created bridge $NS:$opt_bridge"
  fi
  for t in "${opt_tap[@]}"; do
    if link_json "$NS" "$t" >/dev/null; then
      [ "$(kind_of "$t")" = tun ] || die "$NS:$t exists but is not a tap; refusing to touch it"
      ok "tap $NS:$t exists"
    else
      ip -n "$NS" tuntap add dev "$t" mode tap
      no_ipv6_ll "$NS" "$t"
      changed "created tap $NS:$t"
    fi
    ensure_mtu "$NS" "$t" "$opt_mtu" "$NS:$t"
    if [ "$(link_get "$NS" "$t" .master)" = "$opt_bridge" ]; then
      ok "$NS:$t is a port of $opt_bridge"
    else
      ip -n "$NS" link set dev "$t" master "$opt_bridge"
      changed "$NS:$t: a port of bridge $opt_bridge"
    fi
    ensure_up "$NS" "$t" "$NS:$t"
  done
  # A bridge takes the smallest MTU of its ports; set it anyway, so it is the link's from the start.
  ensure_mtu "$NS" "$opt_bridge" "$opt_mtu" "bridge $NS:$opt_bridge"
  ensure_up "$NS" "$opt_bridge" "bridge $NS:$opt_bridge"
}

do_delete() {
  local d
  if [ ! -e "/run/netns/$NS" ]; then
    ok "namespace $NS is absent (and the wire with it)"
    return 0
  fi
  # A tap a QEMU still holds goes when that QEMU ends (deleting it only clears its persistence).
  for d in "${opt_tap[@]}" "$opt_bridge"; do
    if link_json "$NS" "$d" >/dev/null; then
      case $(kind_of "$d") in tun | bridge) ;; *) die "$NS:$d is neither a tap nor a bridge; refusing to delete it" ;; esac
      if [ "$(kind_of "$d")" = tun ]; then ip -n "$NS" tuntap del dev "$d" mode tap; else ip -n "$NS" link del dev "$d"; fi
      changed "deleted $NS:$d"
    else
      ok "$NS:$d is absent"
    fi
  done
}

do_check() {
  local t
  [ -e "/run/netns/$NS" ] || wrong "namespace $NS does not exist"
  [ "$(kind_of "$opt_bridge")" = bridge ] || wrong "bridge $NS:$opt_bridge does not exist"
  link_is_up "$NS" "$opt_bridge" || wrong "bridge $NS:$opt_bridge is down"
  for t in "${opt_tap[@]}"; do
    [ "$(kind_of "$t")" = tun ] || wrong "tap $NS:$t does not exist"
    [ "$(link_get "$NS" "$t" .master)" = "$opt_bridge" ] || wrong "$NS:$t is not a port of $opt_bridge"
    [ "$(link_get "$NS" "$t" .mtu)" = "$opt_mtu" ] || wrong "$NS:$t has MTU $(link_get "$NS" "$t" .mtu), not $opt_mtu"
    link_is_up "$NS" "$t" || wrong "$NS:$t is down"
  done
}

main() {
  parse_args "create delete check" "ns bridge tap+ mtu" "$@"
  need_flags ns bridge
  [[ $opt_ns =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || usage_error "--ns '$opt_ns' is not a namespace name"
  valid_ifname "$opt_bridge" || usage_error "--bridge '$opt_bridge' is not an interface name"
  [ ${#opt_tap[@]} -ge 1 ] || usage_error "a wire needs its ends: give --tap for each"
  local t
  for t in "${opt_tap[@]}"; do valid_ifname "$t" || usage_error "--tap '$t' is not an interface name"; done
  [ "$(printf '%s\n' "${opt_tap[@]}" | sort -u | wc -l)" = ${#opt_tap[@]} ] || usage_error "a --tap is given twice"
  if [ "$ACTION" != delete ]; then
    need_flags mtu
    if ! [[ $opt_mtu =~ ^[0-9]{2,5}$ ]] || [ "$opt_mtu" -lt 68 ] || [ "$opt_mtu" -gt 65521 ]; then
      usage_error "--mtu '$opt_mtu' is not 68-65521"
    fi
  fi
  NS=$opt_ns
  run_action
}

main "$@" </dev/null
