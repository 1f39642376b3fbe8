#!/usr/bin/env bash
# host-tune: the host settings a benchmark run depends on, beyond the NIC's address and MTU: NIC
# offloads (ethtool -K) and ring sizes (ethtool -G), irqbalance, the CPUs the NIC's interrupts go to,
# and the CPU frequency governor. Each value a create changes is recorded first (at the first create
# only, so the record is what the host had before the lab) under $IXLAB_STATE_DIR/tune/<nic>/, and
# delete puts every recorded value back, then removes the records.
#   host-tune.sh create|delete|check --nic IF|PCI [--offload sg=on,tso=off] [--rings rx=N,tx=N]
#                [--irqbalance on|off] [--irq-affinity CPULIST] [--governor NAME] [--dry-run]
# --dry-run prints what create or delete would change (as `changed: [dry-run] ...`) and changes
# nothing, records included. IXLAB_SYS_ROOT (tests only) prefixes /proc/interrupts, /proc/irq and
# /sys/devices/system/cpu, so the interrupt and governor logic can be shown a made-up host.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_nic='' opt_offload='' opt_rings='' opt_irqbalance='' opt_irq_affinity='' opt_governor='' opt_dry_run=''
NIC='' REC=''
SYS_ROOT=${IXLAB_SYS_ROOT:-}
problems=()

# --- records of previous values -----------------------------------------------------------------
# record KEY VALUE: keeps VALUE as the pre-lab value of KEY unless a record exists already.
record() {
  [ -z "$opt_dry_run" ] || return 0
  [ -f "$REC/$1" ] && return 0
  mkdir -p "$REC"
  printf '%s\n' "$2" >"$REC/$1.tmp" && mv -f "$REC/$1.tmp" "$REC/$1"
  log "recorded $1=$2 (as before the lab) in $REC/$1"
}

# apply WHAT COMMAND...: runs COMMAND and reports WHAT as changed; with --dry-run only reports it.
apply() {
  local what=$1
  shift
  if [ -n "$opt_dry_run" ]; then
    if [ "$1" = write_file ]; then changed "[dry-run] would $what"; else changed "[dry-run] would $what (runs: $*)"; fi
  else
    "$@" || die "could not $what ($*)"
    changed "$what"
  fi
}

# write_file FILE VALUE: the way sysfs and procfs settings are written.
write_file() { printf '%s\n' "$2" >"$1"; }

# --- offloads (ethtool -K) ------------------------------------------------------------------------
# ethtool -K takes short names; ethtool -k prints long ones.
offload_name() {
  case $1 in
    sg) echo scatter-gather ;;
    tso) echo tcp-segmentation-offload ;;
    gso) echo generic-segmentation-offload ;;
    gro) echo generic-receive-offload ;;
    lro) echo large-receive-offload ;;
    rx) echo rx-checksumming ;;
    tx) echo tx-checksumming ;;
    ufo) echo udp-fragmentation-offload ;;
    rxvlan) echo rx-vlan-offload ;;
    txvlan) echo tx-vlan-offload ;;
    ntuple) echo ntuple-filters ;;
    rxhash) echo receive-hashing ;;
    *) echo "$1" ;;
  esac
}
# offload_get FEATURE: "on" or "off", with " [fixed]" when the driver does not let it change.
offload_get() {
  ethtool -k "$NIC" 2>/dev/null | sed -n "s/^[[:space:]]*$(offload_name "$1"): \(.*\)$/\1/p" | head -n 1
}

offloads_create() {
  local kv k v cur
  for kv in ${opt_offload//,/ }; do
    k=${kv%%=*} v=${kv#*=}
    cur=$(offload_get "$k")
    [ -n "$cur" ] || die "$NIC has no offload feature '$k' (see ethtool -k $NIC)"
    if [ "${cur%% *}" = "$v" ]; then ok "$NIC: offload $k is $v"; continue; fi
    [[ $cur != *fixed* ]] || die "$NIC: offload $k is fixed at ${cur%% *} by its driver; cannot set it $v"
    record "offload.$k" "${cur%% *}"
    apply "set $NIC offload $k ${cur%% *} -> $v" ethtool -K "$NIC" "$k" "$v"
    [ -n "$opt_dry_run" ] || [ "$(offload_get "$k" | cut -d' ' -f1)" = "$v" ] ||
      die "$NIC: ethtool -K $NIC $k $v did not take effect (another feature may depend on it)"
  done
}

offloads_check() {
  local kv k v cur
  for kv in ${opt_offload//,/ }; do
    k=${kv%%=*} v=${kv#*=}
    cur=$(offload_get "$k")
    [ "${cur%% *}" = "$v" ] || problems+=("$NIC offload $k is ${cur:-unknown}, not $v")
  done
}

# --- rings (ethtool -G) ---------------------------------------------------------------------------
# ring_get rx|tx [max]: the current (or maximum) ring size from ethtool -g.
ring_get() {
  local section='Current hardware settings' key
  [ "${2:-}" != max ] || section='Pre-set maximums'
  key=$(tr '[:lower:]' '[:upper:]' <<<"$1")
  ethtool -g "$NIC" 2>/dev/null | awk -v s="$section" -v k="$key:" '
    index($0, s) == 1 { on = 1; next } /:$/ { on = 0 } on && $1 == k { print $2; exit }'
}

rings_supported() {
  local err
  err=$(ethtool -g "$NIC" 2>&1 >/dev/null) ||
    die "$NIC does not support ring settings, so --rings $opt_rings cannot be applied (ethtool -g $NIC: ${err:-failed})"
}

rings_create() {
  local kv k v cur max
  rings_supported
  for kv in ${opt_rings//,/ }; do
    k=${kv%%=*} v=${kv#*=}
    cur=$(ring_get "$k")
    [ -n "$cur" ] || die "$NIC reports no $k ring size (ethtool -g $NIC); cannot set rings $kv"
    if [ "$cur" = "$v" ]; then ok "$NIC: $k ring is $v"; continue; fi
    max=$(ring_get "$k" max)
    [ -z "$max" ] || [ "$v" -le "$max" ] || die "$NIC: $k ring $v is above the maximum $max"
    record "ring.$k" "$cur"
    apply "set $NIC $k ring $cur -> $v" ethtool -G "$NIC" "$k" "$v"
  done
}

rings_check() {
  local kv k v cur
  ethtool -g "$NIC" >/dev/null 2>&1 || { problems+=("$NIC does not support ring settings (ethtool -g)"); return 0; }
  for kv in ${opt_rings//,/ }; do
    k=${kv%%=*} v=${kv#*=}
    cur=$(ring_get "$k")
    [ "$cur" = "$v" ] || problems+=("$NIC $k ring is ${cur:-unknown}, not $v")
  done
}

# --- irqbalance ------------------------------------------------------------------------------------
# irqbalance_state: "active" or "inactive". Managed through systemd; without it only read.
systemd_booted() { [ -d /run/systemd/system ]; }
irqbalance_state() {
  if systemd_booted; then
    [ "$(systemctl is-active irqbalance 2>/dev/null)" = active ] && echo active || echo inactive
  else
    pgrep -x irqbalance >/dev/null 2>&1 && echo active || echo inactive
  fi
}

irqbalance_create() {
  local want=inactive verb=stop cur
  [ "$opt_irqbalance" = off ] || { want=active verb=start; }
  cur=$(irqbalance_state)
  if [ "$cur" = "$want" ]; then ok "irqbalance is $cur"; return 0; fi
  systemd_booted || [ -n "$opt_dry_run" ] || die "irqbalance is $cur and this host has no systemd to $verb it"
  record irqbalance "$cur"
  apply "$verb irqbalance" systemctl "$verb" irqbalance
}

irqbalance_check() {
  local want=inactive cur
  [ "$opt_irqbalance" = off ] || want=active
  cur=$(irqbalance_state)
  [ "$cur" = "$want" ] || problems+=("irqbalance is $cur, not $want")
}

# --- interrupt affinity ----------------------------------------------------------------------------
# nic_irqs: the IRQ numbers whose /proc/interrupts line names the NIC (eth1, eth1-TxRx-0, ...).
nic_irqs() {
  awk -v nic="$NIC" '
    $1 ~ /^[0-9]+:$/ {
      for (i = 2; i <= NF; i++) {
        n = split($i, parts, ",")
        for (j = 1; j <= n; j++) if (parts[j] == nic || index(parts[j], nic "-") == 1) { sub(":", "", $1); print $1; next }
      }
    }' "$SYS_ROOT/proc/interrupts"
}

# cpulist_expand LIST: "0-2,5" -> "0 1 2 5", to compare lists the kernel may print differently.
cpulist_expand() {
  local part
  for part in ${1//,/ }; do
    if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else printf '%s\n' "$part"; fi
  done | sort -nu | tr '\n' ' '
}

irqs_or_die() {
  local irqs
  irqs=$(nic_irqs)
  [ -n "$irqs" ] || die "no interrupts of $NIC in $SYS_ROOT/proc/interrupts, so --irq-affinity cannot be applied (virtual NICs such as veth have none)"
  printf '%s\n' "$irqs"
}

irq_affinity_create() {
  local irq f cur irqs
  irqs=$(irqs_or_die)
  for irq in $irqs; do
    f=$SYS_ROOT/proc/irq/$irq/smp_affinity_list
    cur=$(cat "$f") || die "cannot read $f"
    if [ "$(cpulist_expand "$cur")" = "$(cpulist_expand "$opt_irq_affinity")" ]; then ok "IRQ $irq ($NIC) goes to CPUs $cur"; continue; fi
    record "irq.$irq" "$cur"
    apply "write $opt_irq_affinity to $f (IRQ $irq of $NIC, was $cur)" write_file "$f" "$opt_irq_affinity"
  done
}

irq_affinity_check() {
  local irq cur irqs
  irqs=$(nic_irqs)
  [ -n "$irqs" ] || { problems+=("no interrupts of $NIC in $SYS_ROOT/proc/interrupts"); return 0; }
  for irq in $irqs; do
    cur=$(cat "$SYS_ROOT/proc/irq/$irq/smp_affinity_list" 2>/dev/null)
    [ "$(cpulist_expand "$cur")" = "$(cpulist_expand "$opt_irq_affinity")" ] || problems+=("IRQ $irq of $NIC goes to CPUs ${cur:-unknown}, not $opt_irq_affinity")
  done
}

# --- CPU frequency governor ------------------------------------------------------------------------
governor_files() {
  local f found=0
  for f in "$SYS_ROOT"/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor; do
    [ -e "$f" ] || continue
    found=1
    printf '%s\n' "$f"
  done
  [ "$found" = 1 ]
}

governor_create() {
  local f cpu cur avail files
  files=$(governor_files) || die "this host has no CPU frequency scaling ($SYS_ROOT/sys/devices/system/cpu/cpu*/cpufreq), so --governor $opt_governor cannot be applied"
  for f in $files; do
    cpu=$(basename "$(dirname "$(dirname "$f")")")
    cur=$(cat "$f")
    if [ "$cur" = "$opt_governor" ]; then ok "$cpu governor is $cur"; continue; fi
    avail=$(cat "$(dirname "$f")/scaling_available_governors" 2>/dev/null || true)
    [ -z "$avail" ] || [[ " $avail " == *" $opt_governor "* ]] || die "$cpu has no governor $opt_governor (available: $avail)"
    record "governor.$cpu" "$cur"
    apply "write $opt_governor to $f (was $cur)" write_file "$f" "$opt_governor"
  done
}

governor_check() {
  local f files
  files=$(governor_files) || { problems+=("no CPU frequency scaling on this host"); return 0; }
  for f in $files; do
    [ "$(cat "$f")" = "$opt_governor" ] || problems+=("$(basename "$(dirname "$(dirname "$f")")") governor is $(cat "$f"), not $opt_governor")
  done
}

# --- delete: put back every recorded value, newest kind first ---------------------------------------
restore() {
  local key=$1 prev=$2 cur f
  case $key in
    offload.*)
      cur=$(offload_get "${key#offload.}" | cut -d' ' -f1)
      if [ "$cur" = "$prev" ]; then ok "$NIC: offload ${key#offload.} is $prev (as before the lab)"; else
        apply "restore $NIC offload ${key#offload.} $cur -> $prev" ethtool -K "$NIC" "${key#offload.}" "$prev"
      fi ;;
    ring.*)
      cur=$(ring_get "${key#ring.}")
      if [ "$cur" = "$prev" ]; then ok "$NIC: ${key#ring.} ring is $prev (as before the lab)"; else
        apply "restore $NIC ${key#ring.} ring $cur -> $prev" ethtool -G "$NIC" "${key#ring.}" "$prev"
      fi ;;
    irqbalance)
      cur=$(irqbalance_state)
      if [ "$cur" = "$prev" ]; then ok "irqbalance is $prev (as before the lab)"
      elif [ "$prev" = active ]; then apply "start irqbalance (as before the lab)" systemctl start irqbalance
      else apply "stop irqbalance (as before the lab)" systemctl stop irqbalance
      fi ;;
    irq.*)
      f=$SYS_ROOT/proc/irq/${key#irq.}/smp_affinity_list
      if [ ! -e "$f" ]; then ok "IRQ ${key#irq.} is gone; nothing to restore"
      elif [ "$(cpulist_expand "$(cat "$f")")" = "$(cpulist_expand "$prev")" ]; then ok "IRQ ${key#irq.} goes to CPUs $prev (as before the lab)"
      else apply "write $prev to $f (as before the lab)" write_file "$f" "$prev"
      fi ;;
    governor.*)
      f=$SYS_ROOT/sys/devices/system/cpu/${key#governor.}/cpufreq/scaling_governor
      if [ "$(cat "$f" 2>/dev/null)" = "$prev" ]; then ok "${key#governor.} governor is $prev (as before the lab)"
      else apply "write $prev to $f (as before the lab)" write_file "$f" "$prev"
      fi ;;
    *) log "ignoring unknown record $REC/$key" ; return 0 ;;
  esac
  if [ -z "$opt_dry_run" ]; then rm -f "$REC/$key"; fi
}

do_delete() {
  local kind key found=0
  link_json "" "$NIC" >/dev/null || log "$NIC is absent; restoring what does not depend on it"
  for kind in 'governor.*' 'irq.*' irqbalance 'ring.*' 'offload.*'; do
    # shellcheck disable=SC2086 # $kind is a glob pattern
    for key in "$REC"/$kind; do
      [ -f "$key" ] || continue
      found=1
      key=$(basename "$key")
      if [[ $key == offload.* || $key == ring.* ]] && ! link_json "" "$NIC" >/dev/null; then
        ok "$NIC is gone; nothing to restore for $key"
        [ -n "$opt_dry_run" ] || rm -f "$REC/$key"
        continue
      fi
      restore "$key" "$(cat "$REC/$key")"
    done
  done
  [ "$found" = 1 ] || ok "no recorded tuning of $NIC to restore"
  if [ -z "$opt_dry_run" ] && [ -d "$REC" ]; then
    rmdir "$REC" 2>/dev/null || log "$REC still holds records it could not restore"
    rmdir "$(dirname "$REC")" 2>/dev/null || true
  fi
}

do_create() {
  if [ -n "$opt_offload$opt_rings" ]; then
    link_json "" "$NIC" >/dev/null || die "no interface $NIC on this host"
    command -v ethtool >/dev/null || die "ethtool not found (Debian package ethtool)"
  fi
  [ -z "$opt_offload" ] || offloads_create
  [ -z "$opt_rings" ] || rings_create
  [ -z "$opt_irqbalance" ] || irqbalance_create
  [ -z "$opt_irq_affinity" ] || irq_affinity_create
  [ -z "$opt_governor" ] || governor_create
  [ -n "$opt_offload$opt_rings$opt_irqbalance$opt_irq_affinity$opt_governor" ] || ok "no tuning asked for"
}

do_check() {
  if [ -n "$opt_offload$opt_rings" ]; then link_json "" "$NIC" >/dev/null || wrong "no interface $NIC"; fi
  [ -z "$opt_offload" ] || offloads_check
  [ -z "$opt_rings" ] || rings_check
  [ -z "$opt_irqbalance" ] || irqbalance_check
  [ -z "$opt_irq_affinity" ] || irq_affinity_check
  [ -z "$opt_governor" ] || governor_check
  if [ ${#problems[@]} -gt 0 ]; then
    local p msg=''
    for p in "${problems[@]}"; do msg+="${msg:+; }$p"; done
    wrong "$msg"
  fi
}

main() {
  parse_args "create delete check" "nic offload rings irqbalance irq-affinity governor dry-run!" "$@"
  need_flags nic
  NIC=$(resolve_nic "$opt_nic")
  valid_ifname "$NIC" || usage_error "--nic '$opt_nic' is neither an interface name nor a PCI address with a network interface"
  [ -z "$opt_offload" ] || [[ $opt_offload =~ ^[a-z][a-z0-9-]*=(on|off)(,[a-z][a-z0-9-]*=(on|off))*$ ]] ||
    usage_error "--offload '$opt_offload' is not feature=on|off[,feature=on|off...]"
  [ -z "$opt_rings" ] || [[ $opt_rings =~ ^(rx|tx)=[0-9]{1,6}(,(rx|tx)=[0-9]{1,6})?$ ]] ||
    usage_error "--rings '$opt_rings' is not rx=N[,tx=N]"
  [ -z "$opt_irqbalance" ] || [[ $opt_irqbalance =~ ^(on|off)$ ]] || usage_error "--irqbalance '$opt_irqbalance' is not on or off"
  [ -z "$opt_irq_affinity" ] || [[ $opt_irq_affinity =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
    usage_error "--irq-affinity '$opt_irq_affinity' is not a CPU list like 0-3,8"
  [ -z "$opt_governor" ] || [[ $opt_governor =~ ^[a-z][a-z0-9_]*$ ]] || usage_error "--governor '$opt_governor' is not a governor name"
  REC=$STATE_DIR/tune/$NIC
  run_action
}

main "$@" </dev/null
