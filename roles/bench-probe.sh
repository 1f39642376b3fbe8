#!/usr/bin/env bash
# bench-probe: what `ixlab bench` runs on the device-under-test host around each cell.
#   bench-probe.sh sample                      one /proc sample (CPU of every thread, interrupts, KVM exits)
#   bench-probe.sh tuning --nic IF             tuning as it is (governor, irqbalance, MTU, offloads, rings)
#   bench-probe.sh datapath --nic IF --qemu-pid PID
#                                              what runs: vhost-net held by QEMU, its workers, zero-copy,
#                                              kernel, QEMU's command line digest, MTU, offloads
#   bench-probe.sh tcpdump-start --nic IF [--count N] / tcpdump-stop --nic IF
#                                              a capture on the test NIC, bounded, stopped by its pid
#   bench-probe.sh sg-toggle --nic IF --interval S --toggles N / sg-restore --nic IF
#                                              scatter-gather off and on N times, then back as it was
#   bench-probe.sh check --nic IF              exit 3 while a capture runs or a toggle was cut short
# The reads print data only (sample: the sections parseProcSample reads; tuning and datapath: one
# `facts: {json}` line). A toggle records the value it found in the same record host-tune keeps
# (tune/<nic>/offload.sg, only when host-tune has none), so a toggle killed half-way is put back by
# sg-restore, by the next toggle, or by host-tune's delete when the lab goes.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_nic='' opt_qemu_pid='' opt_count=100000000 opt_interval='' opt_toggles=''
NIC='' BENCH_DIR=''

# --- reads ---------------------------------------------------------------------------------------
# Every thread's stat line (grep -H prefixes the path, which carries the process id), so vhost
# workers are found as kthreads of their own (vhost-<qemu pid>, Linux < 6.4) or as qemu's threads.
do_sample() {
  echo "ixlab-procsample 1"
  echo "clk_tck $(getconf CLK_TCK)"
  echo "== uptime"
  cat /proc/uptime
  echo "== tasks"
  grep -H '' /proc/[0-9]*/task/[0-9]*/stat 2>/dev/null || true
  echo "== stat"
  cat /proc/stat
  echo "== interrupts"
  cat /proc/interrupts
  echo "== kvm-exits"
  cat /sys/kernel/debug/kvm/exits 2>/dev/null || true
  echo "== end"
}

# offloads_json: ethtool -k of the NIC as {"feature": true|false}; {} when ethtool says nothing.
offloads_json() {
  { ethtool -k "$NIC" 2>/dev/null || true; } | awk -F': ' 'NR > 1 && NF == 2 { gsub(/^[ \t]+/, "", $1); split($2, v, " "); print $1 "\t" v[1] }' |
    jq -Rsc 'split("\n") | map(select(length > 0) | split("\t") | {(.[0] | ltrimstr(" ") | ltrimstr("\t")): (.[1] == "on")}) | add // {}'
}

do_tuning() {
  local gov irqb mtu rings
  gov=$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo none)
  irqb=$( (pgrep -x irqbalance >/dev/null 2>&1 && echo running) || echo "not running")
  mtu=$(cat "/sys/class/net/$NIC/mtu" 2>/dev/null || echo unknown)
  rings=$({ ethtool -g "$NIC" 2>/dev/null || true; } | awk '/^Current/ {c=1} c && /^(RX|TX):/ {sub(":", "", $1); print $1 "\t" $2}' |
    jq -Rsc 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): .[1]}) | add // {}')
  printf 'facts: %s\n' "$(jq -nc --arg governor "$gov" --arg irqbalance "$irqb" --arg mtu "$mtu" \
    --argjson offloads "$(offloads_json | jq -c 'with_entries(.value |= (if . then "on" else "off" end))')" --argjson rings "$rings" \
    '{governor: $governor, irqbalance: $irqbalance, mtu: $mtu, offloads: $offloads, rings: $rings}')"
}

# vhost_tids PID: the vhost workers serving QEMU process PID, by thread id.
vhost_tids() {
  local f comm
  for f in /proc/[0-9]*/task/[0-9]*/comm; do
    comm=$(cat "$f" 2>/dev/null) || continue
    [ "$comm" != "vhost-$1" ] || { f=${f%/comm}; printf '%s\n' "${f##*/}"; }
  done
}

do_datapath() {
  local pid=$opt_qemu_pid vhost=false workers=null zc=null mtu=null digest=null offloads=null note='' p irqdev
  # pid_matches with no text: a live process with a command line. A zombie (a QEMU killed whose
  # parent has not reaped it yet) keeps its /proc entry, with an empty one.
  if pid_matches "$pid" ""; then
    for p in /proc/"$pid"/fd/*; do
      [ "$(readlink "$p" 2>/dev/null)" != /dev/vhost-net ] || { vhost=true; break; }
    done
    digest=$(sha256sum "/proc/$pid/cmdline" | cut -d' ' -f1 | jq -R .)
    if [ "$vhost" = true ]; then workers=$(vhost_tids "$pid" | jq -Rsc 'split("\n") | map(select(length > 0) | tonumber)'); fi
  else
    note="QEMU pid $pid is not running"
  fi
  [ "$vhost" = true ] || [ -n "$note" ] || { [ -e /dev/vhost-net ] && note="QEMU does not hold /dev/vhost-net" || note="no /dev/vhost-net on this host"; }
  p=/sys/module/vhost_net/parameters/experimental_zcopytx
  if [ -r "$p" ]; then case $(cat "$p") in 1 | Y) zc=true ;; *) zc=false ;; esac; fi
  if [ -r "/sys/class/net/$NIC/mtu" ]; then mtu=$(cat "/sys/class/net/$NIC/mtu"); offloads=$(offloads_json); fi
  # A virtio-net NIC's queue interrupts are named after its virtio device (virtio2-input.0), not
  # after the interface as ixgbe's are (eth1-TxRx-0): say which, so irq/s finds them.
  irqdev=$(readlink -f "/sys/class/net/$NIC/device" 2>/dev/null || true)
  case ${irqdev##*/} in virtio[0-9]*) irqdev=${irqdev##*/} ;; *) irqdev=$NIC ;; esac
  printf 'facts: %s\n' "$(jq -nc --argjson vhost "$vhost" --argjson vhostWorkers "$workers" --argjson zeroCopy "$zc" \
    --arg hostKernel "$(uname -r)" --argjson qemuCmdlineSha256 "$digest" --argjson mtu "$mtu" --argjson offloads "$offloads" --arg note "$note" --arg irqDevice "$irqdev" \
    '{vhost: $vhost, vhostWorkers: $vhostWorkers, zeroCopy: $zeroCopy, hostKernel: $hostKernel, guestKernel: null,
      qemuCmdlineSha256: $qemuCmdlineSha256, mtu: $mtu, offloads: $offloads, irqDevice: $irqDevice} + (if $note == "" then {} else {note: $note} end)')"
}

# --- tcpdump ---------------------------------------------------------------------------------------
tcpdump_pid() { pidfile_pid "$BENCH_DIR/tcpdump.$NIC.pid" "tcpdump -i $NIC"; }

do_tcpdump_start() {
  if tcpdump_pid >/dev/null; then ok "tcpdump on $NIC is running (pid $(tcpdump_pid))"; return 0; fi
  command -v tcpdump >/dev/null || die "tcpdump not found (Debian package tcpdump)"
  link_json "" "$NIC" >/dev/null || die "no interface $NIC on this host"
  mkdir -p "$BENCH_DIR"
  : >"$BENCH_DIR/tcpdump.$NIC.log"
  # -c bounds the capture even if nobody stops it; nothing is written but the counts.
  # --immediate-mode: packets reach tcpdump as they arrive, not in buffered blocks, so the count it
  # prints when stopped is every packet it saw (a short capture otherwise counted 0).
  start_detached "$BENCH_DIR/tcpdump.$NIC.pid" "$BENCH_DIR/tcpdump.$NIC.log" tcpdump -i "$NIC" --immediate-mode -w /dev/null -c "$opt_count"
  wait_for 10 "tcpdump on $NIC to start" grep -q 'listening on' "$BENCH_DIR/tcpdump.$NIC.log" ||
    die "tcpdump on $NIC did not start: $(tail -n 3 "$BENCH_DIR/tcpdump.$NIC.log" | tr '\n' ' ')"
  changed "started tcpdump on $NIC (pid $(head -n 1 "$BENCH_DIR/tcpdump.$NIC.pid"))"
}

do_tcpdump_stop() {
  local pid log=$BENCH_DIR/tcpdump.$NIC.log
  if pid=$(tcpdump_pid); then
    # SIGINT makes tcpdump print its counts; stop_pid's SIGTERM/SIGKILL only if it does not end.
    kill -INT "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do pid_matches "$pid" "tcpdump -i $NIC" || break; sleep 0.2; done
    stop_pid "$pid" "tcpdump -i $NIC"
    changed "stopped tcpdump on $NIC (pid $pid)"
  elif [ -f "$BENCH_DIR/tcpdump.$NIC.pid" ]; then
    echo "error: tcpdump on $NIC had already exited"
  else
    ok "no tcpdump on $NIC"
  fi
  if [ -f "$log" ]; then cat "$log"; rm -f "$log"; fi
  rm -f "$BENCH_DIR/tcpdump.$NIC.pid"
}

# --- scatter-gather toggle -----------------------------------------------------------------------
sg_get() { { ethtool -k "$NIC" 2>/dev/null || true; } | awk '/^scatter-gather:/ {print $2; exit}'; }
nic_stats() { local s; for s in tx_errors rx_errors tx_dropped rx_dropped; do printf '%s=%s ' "$s" "$(cat "/sys/class/net/$NIC/statistics/$s")"; done; echo; }
# The record host-tune keeps of the NIC's scatter-gather before the lab (see host-tune.sh).
tune_record() { printf '%s\n' "$STATE_DIR/tune/$NIC/offload.sg"; }

# sg_restore_pending: a toggle that did not finish left $BENCH_DIR/sg.$NIC (the value it found);
# put that back, then drop the host-tune record if the toggle made it.
sg_restore_pending() {
  local mark=$BENCH_DIR/sg.$NIC want cur
  [ -f "$mark" ] || return 1
  want=$(head -n 1 "$mark")
  cur=$(sg_get)
  if [ "$cur" = "$want" ]; then ok "$NIC: scatter-gather is $want (as before the toggle)"; else
    ethtool -K "$NIC" sg "$want" >/dev/null 2>&1 || die "could not restore scatter-gather $want on $NIC"
    changed "restored $NIC scatter-gather $cur -> $want"
  fi
  if [ "$(sed -n 2p "$mark")" = made-record ]; then rm -f "$(tune_record)"; rmdir "$STATE_DIR/tune/$NIC" "$STATE_DIR/tune" 2>/dev/null || true; fi
  rm -f "$mark"
}

do_sg_restore() { sg_restore_pending || ok "no scatter-gather toggle of $NIC to restore"; }

# Also when the toggle is cut short: scatter-gather back, then what the parser reads.
sg_toggle_end() {
  sg_restore_pending >/dev/null || true
  echo "sg restored $(sg_get)"
  echo "stats-after $(nic_stats)"
}

do_sg_toggle() {
  local orig out i=0 made=''
  link_json "" "$NIC" >/dev/null || die "no interface $NIC on this host"
  sg_restore_pending || true
  orig=$(sg_get)
  [[ $orig =~ ^(on|off)$ ]] || die "$NIC reports no scatter-gather state (ethtool -k $NIC)"
  mkdir -p "$BENCH_DIR" "$STATE_DIR/tune/$NIC"
  if [ ! -f "$(tune_record)" ]; then printf '%s\n' "$orig" >"$(tune_record)"; made="made-record"; fi
  printf '%s\n%s\n' "$orig" "$made" >"$BENCH_DIR/sg.$NIC"
  defer sg_toggle_end
  echo "sg original $orig"
  echo "stats-before $(nic_stats)"
  while [ "$i" -lt "$opt_toggles" ]; do
    i=$((i + 1))
    sleep "$opt_interval"
    if out=$(ethtool -K "$NIC" sg off 2>&1); then echo "toggle $i sg off"; else echo "error: ethtool -K $NIC sg off: $out"; fi
    sleep "$opt_interval"
    if out=$(ethtool -K "$NIC" sg on 2>&1); then echo "toggle $i sg on"; else echo "error: ethtool -K $NIC sg on: $out"; fi
  done
}

do_check() {
  local problems=''
  if tcpdump_pid >/dev/null; then problems="tcpdump on $NIC is running (pid $(tcpdump_pid))"; fi
  [ ! -f "$BENCH_DIR/sg.$NIC" ] || problems+="${problems:+; }a scatter-gather toggle of $NIC was cut short (sg-restore puts back $(head -n 1 "$BENCH_DIR/sg.$NIC"))"
  [ -z "$problems" ] || wrong "$problems"
}

main() {
  parse_args "sample tuning datapath tcpdump-start tcpdump-stop sg-toggle sg-restore check" "nic qemu-pid count interval toggles" "$@"
  [ "$ACTION" = sample ] && { do_sample; return 0; }
  need_flags nic
  NIC=$(resolve_nic "$opt_nic")
  valid_ifname "$NIC" || usage_error "--nic '$opt_nic' is neither an interface name nor a PCI address with a network interface"
  BENCH_DIR=$STATE_DIR/bench
  case $ACTION in
    datapath) need_flags qemu-pid; [[ $opt_qemu_pid =~ ^[0-9]{1,9}$ ]] || usage_error "--qemu-pid '$opt_qemu_pid' is not a process id" ;;
    tcpdump-start) [[ $opt_count =~ ^[0-9]{1,10}$ ]] || usage_error "--count '$opt_count' is not a packet count" ;;
    sg-toggle)
      need_flags interval toggles
      [[ $opt_interval =~ ^[0-9]{1,4}(\.[0-9]{1,3})?$ ]] || usage_error "--interval '$opt_interval' is not a number of seconds"
      [[ $opt_toggles =~ ^[0-9]{1,3}$ ]] || usage_error "--toggles '$opt_toggles' is not a count (0 to 999)" ;;
  esac
  case $ACTION in
    tuning | datapath | check) "do_${ACTION//-/_}" ;;
    sg-toggle) "do_sg_toggle" ;;
    *) "do_${ACTION//-/_}"; summary ;;
  esac
}

main "$@" </dev/null
