#!/usr/bin/env bash
# netserver: the far end of the benchmark, netperf's netserver bound to the peer's data address only,
# kept as a managed service: started in the foreground mode (-D) in a session of its own with every
# fd redirected, so the SSH session that ran this role can end while it runs on; its pid is recorded
# in $IXLAB_STATE_DIR/netserver.pid and it is stopped by that pid (after checking its command line).
#   netserver.sh create|delete|check --address 198.19.0.2 [--port 12865]
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_address='' opt_port=12865
PIDFILE=$STATE_DIR/netserver.pid
LOGFILE=$STATE_DIR/netserver.log
CMDLINE=''

DEFAULTS=/etc/default/netperf
DEFAULTS_REC=$STATE_DIR/netperf-default.orig

running_pid() { pidfile_pid "$PIDFILE" "$CMDLINE"; }

# Debian's netperf package starts a netserver of its own at boot on every address (/etc/init.d/netperf,
# NETSERVER_ENABLE=YES in /etc/default/netperf), which holds the port after any reboot (a kernel
# install, a power cycle), so ixlab's netserver, bound to the data address only, could not start.
# On a real host that is its service to switch off, recorded and restored on delete; a sim host
# shares this machine's /etc and starts nothing at boot, so it is left alone there.
distro_netserver_off() {
  [ -z "${IXLAB_SIM_NS:-}" ] && [ -f "$DEFAULTS" ] || return 0
  if grep -q '^NETSERVER_ENABLE=YES' "$DEFAULTS"; then
    mkdir -p "$STATE_DIR"
    [ -e "$DEFAULTS_REC" ] || cp "$DEFAULTS" "$DEFAULTS_REC"
    sed -i 's/^NETSERVER_ENABLE=YES/NETSERVER_ENABLE=NO/' "$DEFAULTS"
    changed "$DEFAULTS: NETSERVER_ENABLE=NO (Debian's boot-time netserver would hold port $opt_port; restored on delete)"
  fi
  if [ -x /etc/init.d/netperf ] && start-stop-daemon --status --exec "$(command -v netserver)" 2>/dev/null && ! running_pid >/dev/null; then
    /etc/init.d/netperf stop >/dev/null 2>&1 || true
    changed "stopped Debian's own netserver (/etc/init.d/netperf)"
  fi
}
up() { running_pid >/dev/null && listening "$opt_address" "$opt_port"; }

do_create() {
  local pid bin
  if pid=$(running_pid); then
    if listening "$opt_address" "$opt_port"; then
      ok "netserver runs (pid $pid) on $opt_address:$opt_port"
      return 0
    fi
    log "netserver (pid $pid) is not listening on $opt_address:$opt_port; restarting it"
    stop_pid "$pid" "$CMDLINE"
  fi
  bin=$(command -v netserver) || die "netserver not found (Debian package netperf, in non-free)"
  distro_netserver_off
  ip -j addr show 2>/dev/null | jq -e --arg a "$opt_address" 'any(.[].addr_info[]?; .local == $a)' >/dev/null ||
    die "$opt_address is not an address of this host (host-nic create assigns it)"
  listening "$opt_address" "$opt_port" && die "something else already listens on $opt_address:$opt_port"
  mkdir -p "$STATE_DIR"
  start_detached "$PIDFILE" "$LOGFILE" "$bin" -D -L "$opt_address" -p "$opt_port"
  # Up to 30 s: on a VM lab host just rebooted under TCG, netserver took longer than 5 s to listen.
  wait_for 30 "netserver to listen on $opt_address:$opt_port (see $LOGFILE)" up
  changed "started netserver (pid $(running_pid)) on $opt_address:$opt_port"
}

do_delete() {
  local pid
  if pid=$(running_pid); then
    stop_pid "$pid" "$CMDLINE"
    changed "stopped netserver (pid $pid)"
  else
    ok "netserver is not running"
  fi
  if [ -e "$PIDFILE" ]; then rm -f "$PIDFILE"; changed "removed $PIDFILE"; fi
  if [ -z "${IXLAB_SIM_NS:-}" ] && [ -f "$DEFAULTS_REC" ]; then
    cp "$DEFAULTS_REC" "$DEFAULTS" && rm -f "$DEFAULTS_REC"
    changed "restored $DEFAULTS"
  fi
}

do_check() {
  local pid
  pid=$(running_pid) || wrong "netserver is not running (no live pid in $PIDFILE)"
  listening "$opt_address" "$opt_port" || wrong "netserver (pid $pid) is not listening on $opt_address:$opt_port"
}

main() {
  parse_args "create delete check" "address port" "$@"
  need_flags address
  valid_ipv4 "$opt_address" || usage_error "--address '$opt_address' is not an IPv4 address"
  if ! [[ $opt_port =~ ^[0-9]{1,5}$ ]] || [ "$opt_port" -lt 1 ] || [ "$opt_port" -gt 65535 ]; then
    usage_error "--port '$opt_port' is not 1-65535"
  fi
  # What the pid file's process must be running; a reused pid never matches.
  CMDLINE="netserver -D -L $opt_address -p $opt_port"
  run_action
}

main "$@" </dev/null
