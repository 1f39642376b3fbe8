#!/usr/bin/env bash
# zerocopy-probe: proves from the kernel whether vhost-net's TX zero-copy ran, with tracefs kprobe
# hit counters on three functions of drivers/vhost/net.c (Linux 6.1):
#   sends        handle_tx_zerocopy       a TX batch taken by the zero-copy path (the socket is
#                                         zero-copy capable and experimental_zcopytx=1)
#   copies       handle_tx_copy           a TX batch taken by the copying path
#   completions  vhost_zerocopy_callback  a zero-copy buffer released by the lower device (or by
#                                         macvtap/tun when it had to copy after all, e.g. no SG)
# The counters are the kernel's own (kprobe_profile), cumulative since the probes were made: a cell
# reads them before and after its stream and takes the difference (src/bench/zerocopy.ts), so this
# role keeps no state. The events are enabled only in a tracing instance of their own with recording
# off, so they count without filling any trace buffer and the host's global tracing is untouched.
#   zerocopy-probe.sh start|read|stop|check
#   start  make the probes (on the functions as /proc/kallsyms names them: gcc may have renamed a
#          clone, e.g. handle_tx_copy.isra.0) and enable them; then what read prints
#   read   the counters: `facts: {"available":true,"bootId":...,"zcopytx":0|1,"probes":{"sends":
#          {"symbol":...,"hits":N,"misses":N},...}}`; {"available":false,"reason":...} where the host
#          has no vhost_net (or is a sim host, which shares this machine's kernel)
#   stop   disable and remove the probes and the instance
#   check  changes nothing; exit 3 unless every probe exists and is enabled
# Probes name the module (vhost_net:SYMBOL), so they survive a reload of vhost_net (a variant switch).
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GROUP=ixlab_zc
INSTANCE=ixlab-zerocopy
MOD=/sys/module/vhost_net
COUNTERS=(sends copies completions)
declare -A FUNC=([sends]=handle_tx_zerocopy [copies]=handle_tx_copy [completions]=vhost_zerocopy_callback)
TRACEFS=''
unavailable=''

find_tracefs() {
  local m
  for m in /sys/kernel/tracing /sys/kernel/debug/tracing; do
    [ -f "$m/kprobe_events" ] && { TRACEFS=$m; return 0; }
  done
  return 1
}

# check_available: sets `unavailable` to why this host cannot count (empty when it can) and TRACEFS;
# start mounts tracefs where systemd did not.
check_available() {
  unavailable=''
  if [ -n "${IXLAB_SIM_NS:-}" ]; then
    unavailable="sim host $IXLAB_SIM_NS shares this machine's kernel: ixlab adds no kprobes to it"
  elif [ ! -d "$MOD" ]; then
    unavailable="vhost_net is not loaded (no guest with vhost on, or a kernel without CONFIG_VHOST_NET)"
  elif ! find_tracefs; then
    if [ "$ACTION" = start ] && grep -qw tracefs /proc/filesystems && mount -t tracefs nodev /sys/kernel/tracing; then
      changed "mounted tracefs on /sys/kernel/tracing"
      find_tracefs && return 0
    fi
    unavailable="no tracefs with kprobe_events (a kernel without CONFIG_KPROBE_EVENTS, or tracefs not mountable)"
  fi
}

# symbol NAME: the function as kallsyms lists it (NAME or a clone of it such as NAME.isra.0), with the
# module prefix when vhost_net is a module; fails when gcc inlined it away.
symbol() {
  local s
  s=$(awk -v f="$1" '($2 == "t" || $2 == "T") && ($3 == f || index($3, f ".") == 1) { print $3 ($4 == "" ? "" : " " $4); exit }' /proc/kallsyms)
  [ -n "$s" ] || return 1
  case $s in
    *" [vhost_net]") printf 'vhost_net:%s\n' "${s% *}" ;;
    *" ["*) return 1 ;;
    *) printf '%s\n' "$s" ;;
  esac
}

event_dir() { printf '%s/events/%s/ixlab_zc_%s\n' "$TRACEFS" "$GROUP" "$1"; }
enable_file() { printf '%s/instances/%s/events/%s/ixlab_zc_%s/enable\n' "$TRACEFS" "$INSTANCE" "$GROUP" "$1"; }
# The symbol a probe was made on (empty when there is no probe).
probe_symbol() { awk -v e="$GROUP/ixlab_zc_$1" '{ split($1, a, ":"); if (a[2] == e) { print $2; exit } }' "$TRACEFS/kprobe_events"; }

profile_line() { awk -v e="ixlab_zc_$1" '$1 == e { print $2, $3; exit }' "$TRACEFS/kprobe_profile"; }

facts() {
  local c hits misses json='{}'
  if [ -n "$unavailable" ]; then
    printf 'facts: %s\n' "$(jq -cn --arg r "$unavailable" '{available: false, reason: $r}')"
    return 0
  fi
  for c in "${COUNTERS[@]}"; do
    read -r hits misses <<<"$(profile_line "$c")"
    json=$(jq -c --arg c "$c" --arg s "$(probe_symbol "$c")" --arg h "${hits:-}" --arg m "${misses:-}" \
      '.[$c] = (if $h == "" then null else {symbol: $s, hits: ($h | tonumber), misses: ($m | tonumber)} end)' <<<"$json")
  done
  printf 'facts: %s\n' "$(jq -cn --argjson p "$json" --arg boot "$(cat /proc/sys/kernel/random/boot_id)" \
    --arg z "$(cat "$MOD/parameters/experimental_zcopytx" 2>/dev/null)" \
    '{available: true, bootId: $boot, zcopytx: (if $z == "" then null elif $z == "Y" then 1 elif $z == "N" then 0 else ($z | tonumber) end), probes: $p}')"
}

do_start() {
  local c sym have
  check_available
  if [ -n "$unavailable" ]; then ok "nothing to count: $unavailable"; facts; return 0; fi
  for c in "${COUNTERS[@]}"; do
    sym=$(symbol "${FUNC[$c]}") ||
      die "${FUNC[$c]} is not in /proc/kallsyms (inlined by the compiler?): the $c counter cannot be probed on this kernel"
    have=$(probe_symbol "$c")
    if [ "$have" = "$sym" ]; then
      ok "kprobe $GROUP/ixlab_zc_$c on $sym exists"
      continue
    fi
    if [ -n "$have" ]; then
      [ -d "$TRACEFS/instances/$INSTANCE" ] && echo 0 >"$(enable_file "$c")"
      echo "-:$GROUP/ixlab_zc_$c" >>"$TRACEFS/kprobe_events"
    fi
    echo "p:$GROUP/ixlab_zc_$c $sym" >>"$TRACEFS/kprobe_events" || die "could not add a kprobe on $sym"
    changed "added kprobe $GROUP/ixlab_zc_$c on $sym"
  done
  if [ ! -d "$TRACEFS/instances/$INSTANCE" ]; then
    mkdir "$TRACEFS/instances/$INSTANCE"
    changed "made tracing instance $INSTANCE"
  fi
  # Counting needs the events enabled; recording them is not needed, so this instance records nothing.
  [ "$(cat "$TRACEFS/instances/$INSTANCE/tracing_on")" = 0 ] || { echo 0 >"$TRACEFS/instances/$INSTANCE/tracing_on"; changed "recording off in instance $INSTANCE"; }
  for c in "${COUNTERS[@]}"; do
    if [ "$(cat "$(enable_file "$c")")" = 1 ]; then ok "ixlab_zc_$c is enabled"
    else echo 1 >"$(enable_file "$c")"; changed "enabled ixlab_zc_$c"; fi
  done
  facts
}

do_read() {
  check_available
  [ -n "$unavailable" ] || [ -n "$(probe_symbol sends)" ] || die "no zero-copy probes on this host; run start first"
  facts
}

do_stop() {
  local c
  if ! find_tracefs; then ok "no tracefs: no probes to remove"; return 0; fi
  for c in "${COUNTERS[@]}"; do
    if [ -f "$(enable_file "$c")" ] && [ "$(cat "$(enable_file "$c")")" != 0 ]; then echo 0 >"$(enable_file "$c")"; changed "disabled ixlab_zc_$c"; fi
  done
  if [ -d "$TRACEFS/instances/$INSTANCE" ]; then rmdir "$TRACEFS/instances/$INSTANCE"; changed "removed tracing instance $INSTANCE"; fi
  for c in "${COUNTERS[@]}"; do
    if [ -n "$(probe_symbol "$c")" ]; then echo "-:$GROUP/ixlab_zc_$c" >>"$TRACEFS/kprobe_events"; changed "removed kprobe ixlab_zc_$c"
    else ok "no kprobe ixlab_zc_$c"; fi
  done
}

do_check() {
  local c problems=()
  check_available
  [ -z "$unavailable" ] || wrong "$unavailable"
  for c in "${COUNTERS[@]}"; do
    if [ -z "$(probe_symbol "$c")" ]; then problems+=("no kprobe ixlab_zc_$c"); continue; fi
    [ "$(cat "$(enable_file "$c")" 2>/dev/null)" = 1 ] || problems+=("ixlab_zc_$c is not enabled")
  done
  [ ${#problems[@]} -eq 0 ] || wrong "$(printf '%s; ' "${problems[@]}" | sed 's/; $//')"
  [ -d "$(event_dir sends)" ] || wrong "event directory $(event_dir sends) is missing"
}

main() {
  parse_args "start read stop check" "" "$@"
  run_action
}

main "$@" </dev/null
