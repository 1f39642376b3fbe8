#!/usr/bin/env bash
# host-preflight: what a lab host is, read before anything is changed on it: kernel, test NIC (driver,
# firmware, speed), KVM, vhost-net and its zero-copy parameter, benchmark tools, CPUs. Read-only.
# `facts` prints them as one JSON line; `check` (and `facts` too, after printing them) exits 3 naming
# each feature the lab requires (--require) that the host lacks, so a lab never runs on the wrong host.
#   host-preflight.sh facts|check --nic IF|PCI [--require kvm,vhost-net,zerocopy,ixgbe,10000Mb/s]
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_nic='' opt_require=''
NIC=''
ZCOPY=/sys/module/vhost_net/parameters/experimental_zcopytx

# ethtool_field FLAGS FIELD: one "FIELD: value" of `ethtool FLAGS NIC`, empty when unknown.
ethtool_field() {
  command -v ethtool >/dev/null || return 0
  # shellcheck disable=SC2086 # FLAGS is one optional word
  ethtool $1 "$NIC" 2>/dev/null | sed -n "s/^[[:space:]]*$2: *//p" | head -n 1
}

nic_driver() {
  local d
  d=$(ethtool_field -i driver)
  [ -n "$d" ] || { [ -e "/sys/class/net/$NIC/device/driver" ] && d=$(basename "$(readlink -f "/sys/class/net/$NIC/device/driver")"); }
  printf '%s' "$d"
}

# The link speed in Mb/s; empty when unknown (link down, or a device that does not say).
nic_speed() {
  local s
  s=$(cat "/sys/class/net/$NIC/speed" 2>/dev/null) || s=''
  if ! [[ $s =~ ^[0-9]+$ ]] || [ "$s" -le 0 ]; then
    s=$(ethtool_field '' Speed)
    s=${s%Mb/s}
  fi
  [[ $s =~ ^[0-9]+$ ]] && [ "$s" -gt 0 ] && printf '%s' "$s"
  return 0
}

path_or_empty() { command -v "$1" 2>/dev/null || true; }

facts_json() {
  local present=false driver='' firmware='' speed='' mtu='' mac='' qemu=''
  if [ -e "/sys/class/net/$NIC" ]; then
    present=true
    driver=$(nic_driver)
    firmware=$(ethtool_field -i firmware-version)
    speed=$(nic_speed)
    mtu=$(cat "/sys/class/net/$NIC/mtu")
    mac=$(cat "/sys/class/net/$NIC/address")
  fi
  if command -v qemu-system-x86_64 >/dev/null; then qemu=$(qemu-system-x86_64 --version 2>/dev/null | head -n 1); fi
  jq -cn \
    --arg kernel "$(uname -r)" --arg hostname "$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)" \
    --arg name "$NIC" --argjson present "$present" --arg driver "$driver" --arg firmware "$firmware" \
    --arg speed "$speed" --arg mtu "$mtu" --arg mac "$mac" \
    --argjson kvm "$([ -c /dev/kvm ] && echo true || echo false)" \
    --argjson vhostDev "$([ -e /dev/vhost-net ] && echo true || echo false)" \
    --argjson vhostMod "$([ -e /sys/module/vhost_net ] && echo true || echo false)" \
    --arg zcopy "$(cat "$ZCOPY" 2>/dev/null || true)" \
    --arg qemu "$qemu" --arg netperf "$(path_or_empty netperf)" --arg netserver "$(path_or_empty netserver)" \
    --arg ethtool "$(path_or_empty ethtool)" --argjson cpus "$(nproc)" '
    def nonempty: if . == "" then null else . end;
    {
      kernelRelease: $kernel,
      hostname: $hostname,
      nic: {
        name: $name, present: $present, driver: ($driver | nonempty), firmware: ($firmware | nonempty),
        speedMbps: ($speed | nonempty | if . == null then null else tonumber end),
        mtu: ($mtu | nonempty | if . == null then null else tonumber end), mac: ($mac | nonempty)
      },
      kvm: $kvm,
      vhostNetDevice: $vhostDev,
      vhostNetModule: $vhostMod,
      zerocopyTx: ($zcopy | nonempty),
      qemu: ($qemu | nonempty),
      netperf: ($netperf | nonempty),
      netserver: ($netserver | nonempty),
      ethtool: ($ethtool | nonempty),
      cpus: $cpus
    }'
}

# Prints "feature (why)" for each required feature the host lacks, comma-separated; empty if none.
missing_features() {
  local f miss=() driver speed want
  local -a features=()
  IFS=, read -ra features <<<"$opt_require"
  [ -e "/sys/class/net/$NIC" ] || miss+=("nic ($NIC not present)")
  for f in "${features[@]}"; do
    case $f in
      kvm) [ -c /dev/kvm ] || miss+=("kvm (/dev/kvm not present)") ;;
      vhost-net) [ -c /dev/vhost-net ] || miss+=("vhost-net (/dev/vhost-net not present)") ;;
      zerocopy) [ -e "$ZCOPY" ] || miss+=("zerocopy (no vhost_net parameter experimental_zcopytx)") ;;
      ixgbe)
        driver=$(nic_driver)
        [ "$driver" = ixgbe ] || miss+=("ixgbe (driver of $NIC is ${driver:-unknown})")
        ;;
      *Mb/s)
        want=${f%Mb/s}
        speed=$(nic_speed)
        [ -n "$speed" ] && [ "$speed" -ge "$want" ] || miss+=("$f (speed of $NIC is ${speed:+${speed}Mb/s}${speed:-unknown})")
        ;;
    esac
  done
  local m out=''
  for m in "${miss[@]}"; do out+="${out:+, }$m"; done
  printf '%s' "$out"
}

main() {
  parse_args "facts check" "nic require" "$@"
  need_flags nic
  NIC=$(resolve_nic "$opt_nic")
  valid_ifname "$NIC" || usage_error "--nic '$opt_nic' is neither an interface name nor a PCI address with a network interface"
  local f required=()
  IFS=, read -ra required <<<"$opt_require"
  for f in "${required[@]}"; do
    [[ $f =~ ^(kvm|vhost-net|zerocopy|ixgbe|[0-9]+Mb/s)$ ]] || usage_error "unknown required feature '$f' (known: kvm, vhost-net, zerocopy, ixgbe, <N>Mb/s)"
  done
  local missing json
  if [ "$ACTION" = facts ]; then
    json=$(facts_json)
    printf 'facts: %s\n' "$json"
  fi
  missing=$(missing_features)
  [ -z "$missing" ] || wrong "missing: $missing"
  [ "$ACTION" = check ] || summary
}

main "$@" </dev/null
