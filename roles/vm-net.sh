#!/usr/bin/env bash
# vm-net: the network a VM lab lives in: a network namespace of its own holding the management bridge
# (every VM's management tap is a port of it; the lab's apt repository listens on its address) and
# the lab's wires (roles/vm-wire.sh), plus one veth from this machine's root namespace to the bridge,
# so Pulumi reaches each VM's sshd over it exactly as it would reach a real host over the lab
# network. Only connected routes: no forwarding, no NAT, no default route, 198.18.0.0/15 only.
# Runs as root on the machine running Pulumi (never over SSH).
#   vm-net.sh create|delete|check --ns NS --bridge BR --address 198.18.20.1/24
#             --uplink VETH --uplink-address 198.18.20.254/24
# delete also stops whatever still runs in the namespace (a VM or server whose own delete was
# skipped), so the lab leaves nothing behind.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_ns='' opt_bridge='' opt_address='' opt_uplink='' opt_uplink_address=''
NS=''
# The uplink's end inside the namespace, a port of the bridge.
INNER=uplink

ns_exists() { [ -e "/run/netns/$NS" ]; }

do_create() {
  if ns_exists; then ok "namespace $NS exists"; else ip netns add "$NS"; changed "created namespace $NS"; fi
  ensure_up "$NS" lo "$NS: lo"
  ensure_bridge "$NS" "$opt_bridge"
  ensure_ipv4 "$NS" "$opt_bridge" "$opt_address" "bridge $NS:$opt_bridge"
  ensure_up "$NS" "$opt_bridge" "bridge $NS:$opt_bridge"

  ensure_veth_to_ns "$opt_uplink" "$NS" "$INNER"
  ensure_port "$NS" "$INNER" "$opt_bridge"
  ensure_up "$NS" "$INNER" "$NS:$INNER"
  ensure_ipv4 "" "$opt_uplink" "$opt_uplink_address" "$opt_uplink"
  ensure_up "" "$opt_uplink" "$opt_uplink"
}

do_delete() {
  if ! ns_exists; then
    ok "namespace $NS is absent"
  else
    stop_ns_processes "$NS"
    # Deleting the namespace deletes its bridges, taps and the uplink's inner end, which takes the
    # outer end along.
    ip netns del "$NS"
    changed "deleted namespace $NS (its bridges, taps and the uplink $opt_uplink)"
    # The kernel dismantles a deleted namespace in the background, the uplink's outer end with it.
    wait_for 10 "the uplink $opt_uplink to go with namespace $NS" not link_json "" "$opt_uplink"
    return 0
  fi
  if link_json "" "$opt_uplink" >/dev/null; then
    [ "$(link_get "" "$opt_uplink" .linkinfo.info_kind)" = veth ] || die "$opt_uplink is not a veth; refusing to delete it"
    ip link del dev "$opt_uplink"
    changed "deleted veth $opt_uplink"
  fi
}

do_check() {
  ns_exists || wrong "namespace $NS does not exist"
  [ "$(link_get "$NS" "$opt_bridge" .linkinfo.info_kind)" = bridge ] || wrong "bridge $NS:$opt_bridge does not exist"
  has_ipv4 "$NS" "$opt_bridge" "$opt_address" || wrong "bridge $NS:$opt_bridge lacks address $opt_address"
  link_is_up "$NS" "$opt_bridge" || wrong "bridge $NS:$opt_bridge is down"
  veth_pair "" "$opt_uplink" "$NS" "$INNER" || wrong "veth $opt_uplink <-> $NS:$INNER is missing"
  [ "$(link_get "$NS" "$INNER" .master)" = "$opt_bridge" ] || wrong "$NS:$INNER is not a port of $opt_bridge"
  link_is_up "" "$opt_uplink" || wrong "$opt_uplink is down"
  has_ipv4 "" "$opt_uplink" "$opt_uplink_address" || wrong "$opt_uplink lacks address $opt_uplink_address"
}

main() {
  parse_args "create delete check" "ns bridge address uplink uplink-address" "$@"
  need_flags ns uplink
  [[ $opt_ns =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || usage_error "--ns '$opt_ns' is not a namespace name (letters, digits, _ . -)"
  valid_ifname "$opt_uplink" || usage_error "--uplink '$opt_uplink' is not an interface name (1-15 of A-Z a-z 0-9 _ . -)"
  if [ "$ACTION" != delete ]; then
    need_flags bridge address uplink-address
    valid_ifname "$opt_bridge" || usage_error "--bridge '$opt_bridge' is not an interface name"
    local a
    for a in "$opt_address" "$opt_uplink_address"; do
      valid_cidr "$a" || usage_error "'$a' is not ADDRESS/PREFIX"
      in_bench_range "$a" || usage_error "$a is outside 198.18.0.0/15, the only range a VM lab may use"
    done
  fi
  NS=$opt_ns
  run_action
}

main "$@" </dev/null
