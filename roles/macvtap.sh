#!/usr/bin/env bash
# macvtap: a guest's NIC on the host's test NIC. A macvtap device NAME on NIC in MODE with the guest's
# MAC address (macvtap hands the guest only frames for that MAC), and its character device made as
# $IXLAB_STATE_DIR/guests/GUEST/tap from the device numbers in sysfs: /dev/tapN is named by interface
# index, which is per network namespace, so two sim hosts may both have a /dev/tap3.
#   macvtap.sh create|check|delete --guest NAME --nic NIC --name DEV [--mode bridge|vepa|private|passthru]
#       --mac 52:54:00:xx:xx:xx
# A device of the right name but another kind, lower NIC, mode or MAC is re-created (a running guest
# on it loses its NIC). GUEST/tap.ifindex records which device the node stands for: interface
# indexes are never reused within a namespace, while a re-created device may get its old tap minor
# back, so the guest role compares the index its QEMU was started with to tell a re-created device.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_guest="" opt_nic="" opt_name="" opt_mode=bridge opt_mac=""
DIR="" NODE="" NIC_FACTS="" DEV_FACTS=""

# look: the test NIC's and the device's dev_facts lines, in one go, into NIC_FACTS and DEV_FACTS.
look() {
  local f
  f=$(dev_facts "dev::$opt_nic" "dev::$opt_name")
  mapfile -t f <<<"$f"
  NIC_FACTS=${f[0]} DEV_FACTS=${f[1]}
}

# problem: why the device is not as asked (empty: it is), from what `look` saw.
problem() {
  local kind lower mode mac
  [ "$NIC_FACTS" != absent ] || { echo "the test NIC $opt_nic does not exist"; return; }
  [ "$DEV_FACTS" != absent ] || { echo "no device $opt_name"; return; }
  read -r kind _ _ _ _ _ _ lower mode mac _ <<<"$DEV_FACTS"
  # `ip -j` names a lower device in the same namespace by name (.link), one elsewhere by index.
  if [ "$kind" != macvtap ]; then echo "$opt_name is a ${kind/#-/plain device}, not a macvtap"
  elif [ "$lower" != "$opt_nic" ]; then echo "$opt_name is on ${lower/#-/a device in another namespace}, not $opt_nic"
  elif [ "$mode" != "$opt_mode" ]; then echo "$opt_name is in mode $mode, not $opt_mode"
  elif [ "$mac" != "$opt_mac" ]; then echo "$opt_name has MAC $mac, not $opt_mac"
  fi
}

# dev_numbers: MAJOR:MINOR of the device's tap character device.
dev_numbers() {
  local f
  for f in /sys/class/net/"$opt_name"/macvtap/tap*/dev; do [ -r "$f" ] && file_text "$f" && echo && return 0; done
  return 1
}

# The device's interface index, as written to $DIR/tap.ifindex.
ifindex_now() { file_text "/sys/class/net/$opt_name/ifindex"; }

node_matches() {
  local nums
  nums=$(dev_numbers) || return 1
  [ -c "$NODE" ] && [ "$(stat -c '%t:%T' "$NODE")" = "$(printf '%x:%x' "${nums%:*}" "${nums#*:}")" ]
}

facts() {
  jq -cn --arg name "$opt_name" --arg nic "$opt_nic" --arg mode "$opt_mode" --arg mac "$opt_mac" \
    --arg node "$NODE" --arg dev "$(dev_numbers)" --argjson ifindex "$(link_get "" "$opt_name" .ifindex)" \
    '{name: $name, lower: $nic, mode: $mode, mac: $mac, ifindex: $ifindex, tapDevice: $node, devNumbers: $dev}'
}

do_create() {
  local why nums
  look
  why=$(problem)
  case $why in
    "") ok "macvtap $opt_name on $opt_nic (mode $opt_mode, MAC $opt_mac)" ;;
    "the test NIC"*) die "$why (host-nic create prepares it)" ;;
    *)
      if link_json "" "$opt_name" >/dev/null; then ip link del dev "$opt_name"; changed "removed $opt_name: $why"; fi
      ip link add link "$opt_nic" name "$opt_name" address "$opt_mac" type macvtap mode "$opt_mode"
      no_ipv6_ll "" "$opt_name"
      changed "created macvtap $opt_name on $opt_nic (mode $opt_mode, MAC $opt_mac)"
      ;;
  esac
  ensure_up "" "$opt_name" "$opt_name"
  nums=$(dev_numbers) || die "$opt_name has no tap character device in /sys/class/net/$opt_name/macvtap (is sysfs mounted for this network namespace?)"
  if node_matches; then
    ok "$NODE is the character device $nums"
  else
    mkdir -p "$DIR"
    rm -f "$NODE"
    mknod -m 0600 "$NODE" c "${nums%:*}" "${nums#*:}"
    changed "made $NODE (character device $nums)"
  fi
  if [ "$(file_text "$DIR/tap.ifindex")" != "$(ifindex_now)" ]; then
    ifindex_now >"$DIR/tap.ifindex"
    changed "recorded $opt_name's interface index $(ifindex_now) in $DIR/tap.ifindex"
  fi
  printf 'facts: %s\n' "$(facts)"
}

do_check() {
  local why up
  look
  why=$(problem)
  [ -z "$why" ] || wrong "$why"
  read -r _ _ _ _ _ up _ <<<"$DEV_FACTS"
  [ "$up" = up ] || wrong "$opt_name is down"
  node_matches || wrong "$NODE is not the character device of $opt_name"
  [ "$(file_text "$DIR/tap.ifindex")" = "$(ifindex_now)" ] || wrong "$DIR/tap.ifindex does not name $opt_name (interface index $(ifindex_now))"
}

do_delete() {
  if link_json "" "$opt_name" >/dev/null && [ "$(link_get "" "$opt_name" .linkinfo.info_kind)" = macvtap ]; then
    ip link del dev "$opt_name"
    changed "removed macvtap $opt_name"
  else
    ok "no macvtap $opt_name"
  fi
  if [ -e "$NODE" ]; then rm -f "$NODE"; changed "removed $NODE"; else ok "no $NODE"; fi
  rm -f "$DIR/tap.ifindex"
  # The guest's directory goes when nothing else of the guest is left in it.
  if [ -d "$DIR" ] && rmdir "$DIR" 2>/dev/null; then changed "removed empty $DIR"; fi
}

main() {
  parse_args "create check delete" "guest nic name mode mac" "$@"
  need_flags guest nic name mac
  [[ $opt_guest =~ ^[a-z][a-z0-9-]{0,30}$ ]] || usage_error "--guest '$opt_guest' is not a guest name"
  valid_ifname "$opt_nic" || usage_error "--nic '$opt_nic' is not an interface name"
  valid_ifname "$opt_name" || usage_error "--name '$opt_name' is not an interface name (at most 15 characters)"
  case $opt_mode in bridge | vepa | private | passthru) ;; *) usage_error "--mode '$opt_mode' is not bridge, vepa, private or passthru" ;; esac
  [[ $opt_mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || usage_error "--mac '$opt_mac' is not a lower-case MAC address"
  DIR=$STATE_DIR/guests/$opt_guest
  NODE=$DIR/tap
  run_action
}

main "$@" </dev/null
