#!/usr/bin/env bash
# guest: one QEMU guest as a managed service on its host. Its test NIC is the macvtap the macvtap
# role made (opened here as a tap fd and handed to QEMU, with vhost-net serving it when asked); its
# management NIC is QEMU user-mode networking, isolated (restrict=on), whose only way in is the guest's
# SSH port forwarded from MGMT (the host's management address). The guest boots the given kernel with
# an initramfs built here from this host's own static busybox, dropbear and netperf: /init sets the
# addresses (matched by MAC), starts dropbear with the stack's public key, and prints IXLAB-GUEST-READY.
# Its SSH host key is made here once and kept, so it can be pinned and stays valid across restarts.
#   guest.sh create|check|delete --guest NAME --kernel PATH --mac MAC --address CIDR --mgmt ADDR:PORT
#       --authorized-key KEY [--vcpus N] [--memory MiB] [--accel auto|kvm|tcg] [--vhost on|off]
#       [--vhost-fallback] [--pin-vcpus CPU,CPU...] [--pin-vhost CPU] [--cmdline EXTRA]
#       [--qemu-arg ARG]... [--timeout SECONDS]
# --vhost-fallback: with --vhost on but no /dev/vhost-net here, run without vhost and say so (sim labs)
# instead of failing. State in $IXLAB_STATE_DIR/guests/NAME: qemu.pid, qemu.cmdline (the command
# line it was started with: check compares it with the one these flags ask for), console.log,
# initrd.gz, hostkey (dropbear format, 0600), facts.json; the macvtap role's `tap` device node too.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_guest="" opt_kernel="" opt_mac="" opt_address="" opt_mgmt="" opt_authorized_key="" opt_vcpus=1
opt_memory=256 opt_accel=auto opt_vhost=on opt_vhost_fallback=0 opt_pin_vcpus="" opt_pin_vhost=""
opt_cmdline="" opt_qemu_arg=() opt_timeout=180
QEMU=qemu-system-x86_64
# Inside QEMU's user-mode network (never routed anywhere: restrict=on): the guest's management address.
MGMT_NET=198.18.255.0/24 MGMT_GW=198.18.255.2 MGMT_GUEST=198.18.255.15
DIR="" TAP="" ACCEL="" VHOST="" VHOST_WHY="" VHOST_MISSING=0 MGMT_MAC=""
QEMU_ARGS=()

running_pid() { pidfile_pid "$DIR/qemu.pid" "$DIR/"; }

# The management NIC's MAC: the data MAC with its fourth byte flipped, so the two never collide.
mgmt_mac() {
  local b4=${opt_mac:9:2}
  printf '%s%02x%s\n' "${opt_mac:0:9}" $((0x$b4 ^ 0xff)) "${opt_mac:11}"
}

choose() {
  case $opt_accel in
    kvm) ACCEL=kvm ;;
    tcg) ACCEL=tcg ;;
    auto) if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=kvm; else ACCEL=tcg; fi ;;
  esac
  VHOST=$opt_vhost VHOST_WHY=""
  if [ "$opt_vhost" = on ] && [ ! -c /dev/vhost-net ]; then
    if [ "$opt_vhost_fallback" = 1 ]; then
      VHOST=off VHOST_WHY="vhost requested, but this host has no /dev/vhost-net: QEMU's userspace virtio-net serves the NIC"
    else
      VHOST_MISSING=1
    fi
  fi
}

# The exact QEMU command line for these flags (check compares it with the running one).
qemu_args() {
  local netdev="tap,id=data,fd=3,vhost=$VHOST" append
  [ "$VHOST" = off ] || netdev+=",vhostfd=4"
  append="console=ttyS0 panic=-1 rdinit=/init ixlab.guest=$opt_guest${opt_cmdline:+ $opt_cmdline}"
  QEMU_ARGS=("$QEMU" -name "$opt_guest,debug-threads=on" -accel "$ACCEL" -smp "$opt_vcpus" -m "$opt_memory"
    -nodefaults -display none -no-reboot
    -kernel "$opt_kernel" -initrd "$DIR/initrd.gz" -append "$append"
    -serial "file:$DIR/console.log"
    -netdev "$netdev" -device "virtio-net-pci,netdev=data,mac=$opt_mac"
    -netdev "user,id=mgmt,net=$MGMT_NET,host=$MGMT_GW,ipv6=off,restrict=on,hostfwd=tcp:${opt_mgmt%:*}:${opt_mgmt##*:}-$MGMT_GUEST:22"
    -device "virtio-net-pci,netdev=mgmt,mac=$MGMT_MAC"
    -device virtio-rng-pci
    -pidfile "$DIR/qemu.pid" -daemonize
    "${opt_qemu_arg[@]}")
}

# add_binary ROOT FILE: FILE and the shared libraries it loads, at their own paths under ROOT.
add_binary() {
  local root=$1 file=$2 lib
  install -D -m 0755 "$file" "$root/$file"
  for lib in $(ldd "$file" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*' || true); do
    [ -e "$root/$lib" ] || install -D -m 0755 "$lib" "$root/$lib"
  done
}

build_initramfs() {
  local tmp root bb applet bin
  bb=$(command -v busybox) || die "busybox not found (Debian package busybox-static)"
  ! ldd "$bb" >/dev/null 2>&1 || die "$bb is dynamically linked; the guest needs a static one (Debian package busybox-static)"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ixlab-guest.XXXXXX")
  defer "rm -rf $(printf '%q' "$tmp")"
  root=$tmp/root
  mkdir -p "$root"/{bin,dev,proc,sys,tmp,root/.ssh,etc/dropbear,var/log}
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
  for bin in dropbear netperf netserver; do
    add_binary "$root" "$(command -v "$bin")" || die "$bin not found (Debian packages dropbear-bin, netperf)"
  done
  # dropbear runs the login shell from the passwd entry and refuses shells not in /etc/shells.
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  printf '/bin/sh\n' >"$root/etc/shells"
  printf '%s\n' "$opt_authorized_key" >"$root/root/.ssh/authorized_keys"
  chmod 0700 "$root/root/.ssh"
  chmod 0600 "$root/root/.ssh/authorized_keys"
  cp "$DIR/hostkey" "$root/etc/dropbear/hostkey"
  cat >"$root/etc/ixlab.conf" <<EOF
GUEST=$opt_guest
DATA_MAC=$opt_mac
DATA_ADDR=$opt_address
MGMT_MAC=$MGMT_MAC
MGMT_ADDR=$MGMT_GUEST/${MGMT_NET#*/}
MGMT_GW=$MGMT_GW
EOF
  cat >"$root/init" <<'EOF'
#!/bin/sh
# Written by ixlab's guest role; PID 1 of the guest. Addresses go to NICs by MAC, not by name order.
export PATH=/bin:/usr/bin:/usr/sbin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
if (: </dev/console) 2>/dev/null; then exec </dev/console >/dev/console 2>&1; fi
. /etc/ixlab.conf
hostname "$GUEST"
ip link set lo up
for d in /sys/class/net/*; do
  n=${d##*/}
  case $(cat "$d/address") in
    "$DATA_MAC") ip addr add "$DATA_ADDR" dev "$n"; ip link set "$n" up; echo "IXLAB-NIC data=$n" ;;
    "$MGMT_MAC") ip addr add "$MGMT_ADDR" dev "$n"; ip link set "$n" up; MGMT_DEV=$n; echo "IXLAB-NIC mgmt=$n" ;;
  esac
done
# A forwarded SSH connection keeps its client's address, so replies go back through QEMU's gateway
# (the data network stays on-link; QEMU routes nothing else: restrict=on).
[ -z "${MGMT_DEV:-}" ] || ip route add default via "$MGMT_GW" dev "$MGMT_DEV"
dropbear -r /etc/dropbear/hostkey -s -g -E -p 22 -P /tmp/dropbear.pid
echo "IXLAB-GUEST-READY release=$(uname -r)"
while :; do sleep 3600; done
EOF
  chmod 0755 "$root/init"
  # The archive holds the guest's SSH host private key: private (0600) from the moment it exists.
  # (A leftover .tmp of an older role, world-readable, is removed first: `>` would keep its mode.)
  rm -f "$DIR/initrd.gz.tmp"
  (umask 077 && cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet | gzip -1 >"$DIR/initrd.gz.tmp")
  mv "$DIR/initrd.gz.tmp" "$DIR/initrd.gz"
}

host_key_pub() { dropbearkey -y -f "$DIR/hostkey" 2>/dev/null | grep -E '^ssh-' | cut -d' ' -f1,2; }

ensure_host_key() {
  if [ -s "$DIR/hostkey" ]; then ok "guest $opt_guest has its SSH host key"; return 0; fi
  command -v dropbearkey >/dev/null || die "dropbearkey not found (Debian package dropbear-bin)"
  (umask 077 && dropbearkey -t ed25519 -f "$DIR/hostkey" >/dev/null 2>&1) || die "dropbearkey could not make $DIR/hostkey"
  changed "made guest $opt_guest's SSH host key ($(host_key_pub | cut -d' ' -f1))"
}

# The guest's SSH server answers on the forwarded port with the key made for it.
# ssh_serves_key [SECONDS]: the guest's sshd sends its host key within SECONDS (default 2). check
# waits longer: a guest nested in a TCG VM on a busy machine is slow to answer, not gone.
ssh_serves_key() {
  ssh-keyscan -T "${1:-2}" -t ed25519 -p "${opt_mgmt##*:}" "${opt_mgmt%:*}" 2>/dev/null | grep -qF "$(host_key_pub)"
}

ready() { grep -q 'IXLAB-GUEST-READY' "$DIR/console.log" 2>/dev/null && ssh_serves_key; }

# The vhost worker threads of QEMU PID: kthreads `vhost-PID` before Linux 6.4, threads of the QEMU
# process itself with that name since.
vhost_tids() {
  local pid=$1 t
  for t in /proc/"$pid"/task/*; do [ "$(cat "$t/comm" 2>/dev/null)" = "vhost-$pid" ] && echo "${t##*/}"; done
  for t in /proc/[0-9]*; do [ "$(cat "$t/comm" 2>/dev/null)" = "vhost-$pid" ] && echo "${t##*/}"; done
  return 0
}

vcpu_tids() {
  local pid=$1 t
  for t in /proc/"$pid"/task/*; do [[ $(cat "$t/comm" 2>/dev/null) == "CPU "*/* ]] && echo "${t##*/}"; done
  return 0
}

# pin_thread TID CPU WHAT: TID runs only on CPU (taskset), reported ok when it already does.
pin_thread() {
  local now
  now=$(taskset -pc "$1" 2>/dev/null | sed 's/.*: //')
  if [ "$now" = "$2" ]; then ok "$3 (thread $1) runs on CPU $2"; return 0; fi
  taskset -pc "$2" "$1" >/dev/null || die "could not pin $3 (thread $1) to CPU $2"
  changed "pinned $3 (thread $1) to CPU $2 (was $now)"
}

pin() {
  local pid=$1 i=0 tid cpus
  if [ -n "$opt_pin_vcpus" ]; then
    IFS=, read -r -a cpus <<<"$opt_pin_vcpus"
    for tid in $(vcpu_tids "$pid"); do
      [ "$i" -lt "${#cpus[@]}" ] || break
      pin_thread "$tid" "${cpus[$i]}" "vCPU $i"
      i=$((i + 1))
    done
  fi
  if [ -n "$opt_pin_vhost" ]; then
    if [ "$VHOST" = off ]; then
      ok "--pin-vhost $opt_pin_vhost: no vhost worker to pin (vhost is off)"
    else
      for tid in $(vhost_tids "$pid"); do pin_thread "$tid" "$opt_pin_vhost" "vhost worker"; done
    fi
  fi
}

facts() {
  local pid=$1 kernel_release major minor how
  kernel_release=$(uname -r)
  IFS=. read -r major minor _ <<<"$kernel_release"
  if [ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "${minor%%[!0-9]*}" -ge 4 ]; }; then
    how="threads named vhost-$pid inside the QEMU process (Linux $kernel_release >= 6.4)"
  else
    how="kernel threads named vhost-$pid (Linux $kernel_release < 6.4)"
  fi
  jq -cn --arg guest "$opt_guest" --argjson pid "$pid" --arg accel "$ACCEL" --arg vhost "$VHOST" --arg vreq "$opt_vhost" \
    --arg vwhy "$VHOST_WHY" --arg how "$how" --arg hostkey "$(host_key_pub)" --arg mgmt "$opt_mgmt" --arg mac "$opt_mac" \
    --arg address "$opt_address" --arg release "$(grep -oE 'IXLAB-GUEST-READY release=[^[:space:]]+' "$DIR/console.log" | head -n 1 | cut -d= -f2)" \
    --arg boot "${BOOT_SECONDS:-}" --arg vtids "$(vhost_tids "$pid" | tr '\n' ' ')" --arg ctids "$(vcpu_tids "$pid" | tr '\n' ' ')" '
    {guest: $guest, qemuPid: $pid, accel: $accel, vhost: $vhost, vhostRequested: $vreq, mac: $mac, address: $address,
     mgmt: {address: ($mgmt | sub(":[0-9]+$"; "")), port: ($mgmt | sub("^.*:"; "") | tonumber)},
     hostKey: $hostkey, release: $release, vhostWorkers: {how: $how, tids: ($vtids | split(" ") | map(select(. != "") | tonumber))},
     vcpuThreads: ($ctids | split(" ") | map(select(. != "") | tonumber))}
    + (if $vwhy == "" then {} else {vhostNote: $vwhy} end)
    + (if $boot == "" then {} else {bootSeconds: ($boot | tonumber)} end)'
}

# problem: why the running guest is not what these flags ask for (empty: it is).
problem() {
  local pid want argv=()
  pid=$(running_pid) || { echo "QEMU for guest $opt_guest is not running (no live pid in $DIR/qemu.pid)"; return; }
  want=$(printf '%s\n' "${QEMU_ARGS[@]}")
  [ "$(file_text "$DIR/qemu.cmdline")" = "$want" ] || { echo "guest $opt_guest (pid $pid) runs with other settings than asked"; return; }
  # Its arguments one a line, as `tr '\0' '\n' </proc/PID/cmdline` gave them (builtins: every refresh runs this).
  { mapfile -d '' argv </proc/"$pid"/cmdline; } 2>/dev/null || argv=()
  [ "$(printf '%s\n' "${argv[@]}")" = "$want" ] || { echo "guest $opt_guest (pid $pid) is not the QEMU this role started"; return; }
  [ -c "$TAP" ] || { echo "the guest's tap device $TAP is gone"; return; }
  # QEMU's tap fd stays on the device it opened: a macvtap re-created since (its NIC deleted and made
  # again, say) leaves the guest with a NIC that moves nothing. Guests started before this record
  # existed have no qemu.tap and are not judged by it.
  if [ -f "$DIR/qemu.tap" ] && [ "$(file_text "$DIR/qemu.tap")" != "$(file_text "$DIR/tap.ifindex")" ]; then
    echo "guest $opt_guest (pid $pid) holds macvtap interface $(file_text "$DIR/qemu.tap"), which was re-created since (now $(file_text "$DIR/tap.ifindex"))"
    return
  fi
}

stop_guest() {
  local pid
  if pid=$(running_pid); then stop_pid "$pid" "$DIR/"; changed "stopped guest $opt_guest (QEMU pid $pid)"; fi
  rm -f "$DIR/qemu.pid" "$DIR/qemu.cmdline" "$DIR/qemu.tap"
}

do_create() {
  local why pid start
  [ "$VHOST_MISSING" = 0 ] || die "guest $opt_guest asks for vhost-net, but this host has no /dev/vhost-net (load the vhost_net module)"
  [ -c "$TAP" ] || die "no tap device $TAP for guest $opt_guest (the macvtap role makes it)"
  [ -r "$opt_kernel" ] || die "guest kernel $opt_kernel does not exist or is not readable"
  command -v "$QEMU" >/dev/null || die "$QEMU not found (Debian package qemu-system-x86)"
  mkdir -p "$DIR"
  ensure_host_key
  why=$(problem)
  if [ -z "$why" ]; then
    pid=$(running_pid)
    ok "guest $opt_guest runs (QEMU pid $pid, $ACCEL, vhost $VHOST)"
    pin "$pid"
    printf 'facts: %s\n' "$(facts "$pid")"
    return 0
  fi
  case $why in *"not running"*) ;; *) log "$why; restarting it" ;; esac
  stop_guest
  listening "${opt_mgmt%:*}" "${opt_mgmt##*:}" && die "something else already listens on $opt_mgmt, the guest's SSH port"
  build_initramfs
  : >"$DIR/console.log"
  start=$EPOCHREALTIME
  # The tap (and vhost-net) fds are opened here and inherited: QEMU's -daemonize keeps them.
  if [ "$VHOST" = on ]; then
    "${QEMU_ARGS[@]}" 3<>"$TAP" 4<>/dev/vhost-net >"$DIR/qemu.log" 2>&1 || die "QEMU did not start guest $opt_guest: $(tail -n 3 "$DIR/qemu.log" | tr '\n' ' ')"
  else
    "${QEMU_ARGS[@]}" 3<>"$TAP" >"$DIR/qemu.log" 2>&1 || die "QEMU did not start guest $opt_guest: $(tail -n 3 "$DIR/qemu.log" | tr '\n' ' ')"
  fi
  printf '%s\n' "${QEMU_ARGS[@]}" >"$DIR/qemu.cmdline"
  file_text "$DIR/tap.ifindex" >"$DIR/qemu.tap"
  pid=$(running_pid) || die "QEMU for guest $opt_guest exited at once: $(tail -n 3 "$DIR/qemu.log" | tr '\n' ' ')"
  changed "started guest $opt_guest (QEMU pid $pid, $ACCEL, vhost $VHOST${VHOST_WHY:+: $VHOST_WHY})"
  local deadline=$((SECONDS + opt_timeout))
  until ready; do
    if ! pid_matches "$pid" "$DIR/"; then
      die "guest $opt_guest's QEMU exited during boot; last console lines: $(tail -n 5 "$DIR/console.log" | tr -d '\r' | tr '\n' '|')"
    fi
    if grep -q 'Kernel panic' "$DIR/console.log"; then
      stop_guest
      die "guest $opt_guest's kernel panicked: $(grep -m 1 'Kernel panic' "$DIR/console.log" | tr -d '\r')"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_guest
      die "guest $opt_guest did not answer SSH on $opt_mgmt within $opt_timeout s; last console lines: $(tail -n 5 "$DIR/console.log" | tr -d '\r' | tr '\n' '|')"
    fi
    sleep 0.2
  done
  BOOT_SECONDS=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  changed "guest $opt_guest answers SSH on $opt_mgmt with its pinned host key, $BOOT_SECONDS s after QEMU started"
  pin "$pid"
  facts "$pid" >"$DIR/facts.json"
  printf 'facts: %s\n' "$(cat "$DIR/facts.json")"
}

do_check() {
  local why
  why=$(problem)
  [ -z "$why" ] || wrong "$why"
  ssh_serves_key 20 || wrong "guest $opt_guest (pid $(running_pid)) does not answer SSH on $opt_mgmt with its host key"
}

do_delete() {
  local f
  if running_pid >/dev/null; then stop_guest; else ok "guest $opt_guest is not running"; rm -f "$DIR/qemu.pid" "$DIR/qemu.cmdline"; fi
  for f in hostkey initrd.gz console.log qemu.log facts.json; do
    if [ -e "$DIR/$f" ]; then rm -f "$DIR/$f"; changed "removed $DIR/$f"; fi
  done
  if [ -d "$DIR" ] && rmdir "$DIR" 2>/dev/null; then changed "removed empty $DIR"; fi
  ok "guest $opt_guest is gone"
}

main() {
  local cpu
  parse_args "create check delete" \
    "guest kernel mac address mgmt authorized-key vcpus memory accel vhost vhost-fallback! pin-vcpus pin-vhost cmdline qemu-arg+ timeout" "$@"
  need_flags guest kernel mac address mgmt authorized-key
  [[ $opt_guest =~ ^[a-z][a-z0-9-]{0,30}$ ]] || usage_error "--guest '$opt_guest' is not a guest name"
  [[ $opt_mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || usage_error "--mac '$opt_mac' is not a lower-case MAC address"
  valid_cidr "$opt_address" || usage_error "--address '$opt_address' is not an IPv4 address with a prefix length"
  { [[ $opt_mgmt =~ ^[0-9.]+:[0-9]{1,5}$ ]] && valid_ipv4 "${opt_mgmt%:*}"; } || usage_error "--mgmt '$opt_mgmt' is not ADDRESS:PORT"
  [[ $opt_authorized_key =~ ^ssh-[a-z0-9-]+\ [A-Za-z0-9+/=]+ ]] || usage_error "--authorized-key is not an OpenSSH public key"
  { [[ $opt_vcpus =~ ^[0-9]{1,2}$ ]] && [ "$opt_vcpus" -ge 1 ]; } || usage_error "--vcpus '$opt_vcpus' is not 1-99"
  { [[ $opt_memory =~ ^[0-9]{2,7}$ ]] && [ "$opt_memory" -ge 64 ]; } || usage_error "--memory '$opt_memory' is not a size in MiB (at least 64)"
  case $opt_accel in auto | kvm | tcg) ;; *) usage_error "--accel '$opt_accel' is not auto, kvm or tcg" ;; esac
  case $opt_vhost in on | off) ;; *) usage_error "--vhost '$opt_vhost' is not on or off" ;; esac
  for cpu in ${opt_pin_vcpus//,/ } $opt_pin_vhost; do [[ $cpu =~ ^[0-9]{1,4}$ ]] || usage_error "CPU '$cpu' in --pin-vcpus/--pin-vhost is not a CPU number"; done
  { [[ $opt_timeout =~ ^[0-9]{1,5}$ ]] && [ "$opt_timeout" -ge 1 ]; } || usage_error "--timeout '$opt_timeout' is not a number of seconds"
  [[ $opt_cmdline != *$'\n'* ]] || usage_error "--cmdline must be one line"
  DIR=$STATE_DIR/guests/$opt_guest
  TAP=$DIR/tap
  MGMT_MAC=$(mgmt_mac)
  choose
  qemu_args
  trap 'exit 143' TERM
  trap 'exit 130' INT
  run_action
}

main "$@" </dev/null
