#!/usr/bin/env bash
# vm-host: one VM lab host: a QEMU virtual machine booting, through BIOS and GRUB, a copy-on-write
# overlay of the lab's image (roles/vm-image.sh), with a management NIC on the lab's bridge and one
# virtio-net data NIC per wire, reached by ixlab over SSH exactly like a real host from then on. QEMU
# runs in the lab's namespace (its taps live there) and survives reboots inside the VM (a guest
# reboot restarts the machine in the same process), so a kernel install can reboot it for real.
# Runs as root on the machine running Pulumi (never over SSH).
#   vm-host.sh create|delete|check --ns NS --name HOST --dir DIR --image BASE.qcow2 --bridge BR
#              --tap TAP --mac MAC --address 198.18.20.10/24 --authorized-key KEY
#              [--nic MAC,NAME,TAP,MTU]... [--apt-source LINE] [--cpus 1] [--memory 1024]
#              [--accel auto|kvm|tcg] [--boot-timeout 600] [--qemu-arg ARG]...
# DIR (its last part is HOST) holds the overlay, the seed disk, the host key, QEMU's pid file and
# QMP socket (qmp.sock: `system_reset` is the VM's power button) and the serial console log
# (console.log, kept across reboots). The host key is made here and brought in by the seed disk, so
# it is known (and pinned) before the VM first boots. --nic names a data NIC inside the VM (the seed
# renames it by MAC) and the tap it is plugged into (made by roles/vm-wire.sh), with the wire's MTU.
# --accel auto is decided by the caller (roles/kernel-boot.sh's probe); here it means tcg.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QEMU=qemu-system-x86_64
MARKER=.ixlab-vm
opt_ns='' opt_name='' opt_dir='' opt_image='' opt_bridge='' opt_tap='' opt_mac='' opt_address=''
opt_authorized_key='' opt_apt_source='' opt_cpus=1 opt_memory=1024 opt_accel=tcg opt_boot_timeout=600
opt_nic=() opt_qemu_arg=()
NS='' DIR='' ADDR='' ID='' ACCEL=''
QEMU_ARGS=()

ns_exists() { [ -e "/run/netns/$NS" ]; }
# The QEMU of this VM: its pid file names a live process whose command line carries the VM's id.
running_pid() { pidfile_pid "$DIR/qemu.pid" "$ID"; }
# sshd answers within SECONDS (default 3): the first bytes on port 22 are its SSH banner. A TCG VM on
# a busy machine took 2.6 s to send it, so check gives it longer before calling the VM unhealthy.
# shellcheck disable=SC2016 # $1 expands in the inner bash
sshd_answers() { timeout "${1:-3}" bash -c 'exec 3<>"/dev/tcp/$1/22" && head -c 4 <&3 | grep -q "^SSH-"' _ "$ADDR" 2>/dev/null; }

tap_ok() { # NS TAP BRIDGE|"" MTU|"": a tap device in NS, up, a port of BRIDGE, with MTU
  local info kind master state mtu
  info=$(link_info "$1" "$2") || return 1
  read -r kind _ _ _ master state mtu <<<"$info"
  [ "$kind" = tun ] && [ "$state" = up ] || return 1
  [ -z "$3" ] || [ "$master" = "$3" ] || return 1
  [ -z "$4" ] || [ "$mtu" = "$4" ]
}

# shellcheck disable=SC2054 # QEMU's option values are comma lists
qemu_args() {
  # Under TCG QEMU's plain qemu64 CPU: with -cpu max (QEMU 7.2) the VM's kernel built every path
  # wrong (readlink /proc/self/exe gave "xxxxxxxx", so ldconfig aborted in apt's triggers). qemu64
  # has SVM, which TCG emulates: the VM's own guests get /dev/kvm and run nested KVM on it (a guest
  # reached SSH in 74 s here). Under KVM the host CPU, nested KVM included where the host allows.
  local nic mac name tap mtu i=0 accel_args=(-accel "tcg,thread=multi" -cpu qemu64)
  [ "$ACCEL" != kvm ] || accel_args=(-accel kvm -cpu host)
  QEMU_ARGS=("$QEMU" -name "$ID,debug-threads=on" "${accel_args[@]}" -machine pc -smp "$opt_cpus" -m "$opt_memory"
    -nodefaults -display none -vga none
    -drive "file=$DIR/disk.qcow2,if=none,id=disk,format=qcow2,discard=unmap" -device virtio-blk-pci,drive=disk
    -drive "file=$DIR/seed.tar,if=none,id=seed,format=raw,readonly=on" -device virtio-blk-pci,drive=seed,serial=ixlseed
    -netdev "tap,id=mgmt,ifname=$opt_tap,script=no,downscript=no"
    -device "virtio-net-pci,netdev=mgmt,mac=$opt_mac")
  for nic in "${opt_nic[@]}"; do
    IFS=, read -r mac name tap mtu <<<"$nic"
    # A tap, not -netdev socket: the data NIC then has scatter-gather and TSO, which vhost-net's
    # zero-copy transmit needs inside the VM (over a socket netdev every attempt falls back to a copy).
    QEMU_ARGS+=(-netdev "tap,id=data$i,ifname=$tap,script=no,downscript=no"
      -device "virtio-net-pci,netdev=data$i,mac=$mac,host_mtu=$mtu")
    i=$((i + 1))
  done
  QEMU_ARGS+=(-device virtio-rng-pci
    -chardev "file,id=console,path=$DIR/console.log,append=on" -serial chardev:console
    -qmp "unix:$DIR/qmp.sock,server=on,wait=off"
    -pidfile "$DIR/qemu.pid" -daemonize
    "${opt_qemu_arg[@]}")
}

# The seed disk's files (see roles/vm-image.sh: its ixlab-seed service applies them at every boot).
write_seed() {
  local s=$1 nic mac name
  mkdir -p "$s"
  printf '%s\n' "$opt_name" >"$s/hostname"
  cp "$DIR/ssh_host_ed25519_key" "$DIR/ssh_host_ed25519_key.pub" "$s/"
  printf '%s\n' "$opt_authorized_key" >"$s/authorized_keys"
  printf '%s\n' "$opt_address" >"$s/address"
  printf '%s mgmt0\n' "$opt_mac" >"$s/nics"
  for nic in "${opt_nic[@]}"; do
    IFS=, read -r mac name _ <<<"$nic"
    printf '%s %s\n' "$mac" "$name" >>"$s/nics"
  done
  if [ -n "$opt_apt_source" ]; then
    printf '# Written by ixlab: the lab'"'"'s local Debian repository on the management network.\n%s\n' "$opt_apt_source" >"$s/sources.list"
  fi
}

ensure_seed() {
  local tmp
  tmp=$(mktemp -d)
  defer "rm -rf '$tmp'"
  write_seed "$tmp/seed"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$tmp/seed" -cf "$tmp/seed.tar" .
  if cmp -s "$tmp/seed.tar" "$DIR/seed.tar"; then
    ok "seed disk is up to date"
    return 1
  fi
  mv -f "$tmp/seed.tar" "$DIR/seed.tar"
  changed "wrote the seed disk $DIR/seed.tar"
}

# The management tap: this VM's port on the lab's management bridge.
ensure_mgmt_tap() {
  ensure_tap "$NS" "$opt_tap"
  ensure_port "$NS" "$opt_tap" "$opt_bridge"
  ensure_up "$NS" "$opt_tap" "$NS:$opt_tap"
}

wait_for_sshd() {
  local start=$SECONDS next=30
  log "waiting for sshd of $opt_name on $ADDR:22 (booting through GRUB under $ACCEL; console: $DIR/console.log)"
  until sshd_answers; do
    running_pid >/dev/null || die "QEMU of $opt_name exited while booting; console: $(tail -c 600 "$DIR/console.log" 2>/dev/null | tr -s '\r\n' '  ')"
    if [ $((SECONDS - start)) -ge "$opt_boot_timeout" ]; then
      die "sshd of $opt_name did not answer on $ADDR:22 within $opt_boot_timeout s; console: $(tail -c 600 "$DIR/console.log" 2>/dev/null | tr -s '\r\n' '  ')"
    fi
    if [ $((SECONDS - start)) -ge "$next" ]; then
      log "still booting $opt_name after $((SECONDS - start)) s: $(tail -n 1 "$DIR/console.log" 2>/dev/null | tr -d '\r' | cut -c1-120)"
      next=$((next + 30))
    fi
    sleep 1
  done
  BOOT_SECONDS=$((SECONDS - start))
}

do_create() {
  local restart=0 pid want nic tap mtu backing
  BOOT_SECONDS=0
  command -v "$QEMU" >/dev/null || die "$QEMU not found (Debian package qemu-system-x86)"
  command -v qemu-img >/dev/null || die "qemu-img not found (Debian package qemu-utils)"
  ns_exists || die "namespace $NS does not exist (roles/vm-net.sh create makes it)"
  [ "$(link_get "$NS" "$opt_bridge" .linkinfo.info_kind)" = bridge ] || die "bridge $NS:$opt_bridge does not exist (roles/vm-net.sh create makes it)"
  [ -f "$opt_image" ] || die "image $opt_image does not exist (roles/vm-image.sh create builds it)"
  for nic in "${opt_nic[@]}"; do
    IFS=, read -r _ _ tap mtu <<<"$nic"
    tap_ok "$NS" "$tap" "" "$mtu" || die "data tap $NS:$tap is missing, down or without MTU $mtu (roles/vm-wire.sh create makes it)"
  done

  if [ -d "$DIR" ]; then
    [ -e "$DIR/$MARKER" ] || die "$DIR exists but is not an ixlab VM's directory; refusing to touch it"
    ok "$DIR exists"
  else
    mkdir -p "$(dirname "$DIR")" && mkdir -m 0700 "$DIR" && : >"$DIR/$MARKER"
    changed "created $DIR"
  fi
  if [ -s "$DIR/ssh_host_ed25519_key" ] && [ -s "$DIR/ssh_host_ed25519_key.pub" ]; then
    ok "host key exists"
  else
    rm -f "$DIR/ssh_host_ed25519_key" "$DIR/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "ixlab-vm-$opt_name" -f "$DIR/ssh_host_ed25519_key" >&2
    changed "generated the host key of $opt_name"
    restart=1
  fi
  if [ -f "$DIR/disk.qcow2" ]; then
    backing=$(qemu-img info -U --output=json "$DIR/disk.qcow2" | jq -r '."backing-filename" // empty')
    [ "$backing" = "$opt_image" ] || die "$DIR/disk.qcow2 is an overlay of ${backing:-nothing}, not of $opt_image; delete the VM to start it from the new image"
    ok "overlay $DIR/disk.qcow2 of $opt_image exists"
  else
    qemu-img create -q -f qcow2 -F qcow2 -b "$opt_image" "$DIR/disk.qcow2" >&2
    changed "created overlay $DIR/disk.qcow2 of $opt_image"
  fi
  ensure_seed && restart=1
  ensure_mgmt_tap

  qemu_args
  want=$(printf '%s\n' "${QEMU_ARGS[@]}")
  if pid=$(running_pid); then
    if [ "$restart" = 0 ] && [ "$(cat "$DIR/qemu.args" 2>/dev/null)" = "$want" ]; then
      ok "QEMU of $opt_name runs (pid $pid)"
    else
      log "restarting $opt_name: its QEMU command line, seed disk or host key changed"
      stop_pid "$pid" "$ID"
    fi
  fi
  if ! running_pid >/dev/null; then
    rm -f "$DIR/qemu.pid" "$DIR/qmp.sock"
    printf '%s\n' "$want" >"$DIR/qemu.args"
    printf '\n==== ixlab: QEMU started %s ====\n' "$(date -u +%FT%TZ)" >>"$DIR/console.log"
    ip netns exec "$NS" "${QEMU_ARGS[@]}" </dev/null >"$DIR/qemu.log" 2>&1 ||
      die "QEMU of $opt_name failed to start: $(grep -v warning: "$DIR/qemu.log" | tail -n 3 | tr '\n' ' ')"
    changed "started QEMU of $opt_name (pid $(running_pid), $ACCEL)"
  fi
  sshd_answers || wait_for_sshd
  [ "$BOOT_SECONDS" = 0 ] || changed "$opt_name answers on $ADDR:22 after $BOOT_SECONDS s"
  printf 'facts: %s\n' "$(jq -cn --arg k "$(cut -d' ' -f1,2 <"$DIR/ssh_host_ed25519_key.pub")" --arg a "$ADDR" --arg ns "$NS" \
    --argjson pid "$(running_pid)" --arg dir "$DIR" --arg accel "$ACCEL" --argjson boot "$BOOT_SECONDS" \
    '{hostKey: $k, address: $a, ns: $ns, qemuPid: $pid, console: ($dir + "/console.log"), qmp: ($dir + "/qmp.sock"), accel: $accel, bootSeconds: $boot}')"
}

do_delete() {
  local pid
  if pid=$(running_pid); then
    stop_pid "$pid" "$ID"
    changed "stopped QEMU of $opt_name (pid $pid)"
  else
    ok "QEMU of $opt_name is not running"
  fi
  if ns_exists && link_json "$NS" "$opt_tap" >/dev/null; then
    [ "$(link_get "$NS" "$opt_tap" .linkinfo.info_kind)" = tun ] || die "$NS:$opt_tap is not a tap; refusing to delete it"
    ip -n "$NS" link del dev "$opt_tap"
    changed "deleted tap $NS:$opt_tap"
  else
    ok "tap $NS:$opt_tap is absent"
  fi
  remove_owned_dir "$DIR" "$MARKER" "an ixlab VM" "overlay, seed disk, host key, console log"
  rmdir "$(dirname "$DIR")" "$(dirname "$(dirname "$DIR")")" 2>/dev/null || true
}

do_check() {
  local pid
  [ -f "$DIR/disk.qcow2" ] || wrong "overlay $DIR/disk.qcow2 is missing"
  pid=$(running_pid) || wrong "QEMU of $opt_name is not running"
  qemu_args
  [ "$(cat "$DIR/qemu.args" 2>/dev/null)" = "$(printf '%s\n' "${QEMU_ARGS[@]}")" ] || wrong "QEMU of $opt_name (pid $pid) runs with another command line"
  tap_ok "$NS" "$opt_tap" "$opt_bridge" "" || wrong "management tap $NS:$opt_tap is missing, down or not a port of $opt_bridge"
  sshd_answers 30 || wrong "sshd of $opt_name does not answer on $ADDR:22 within 30 s"
}

main() {
  parse_args "create delete check" \
    "ns name dir image bridge tap mac address authorized-key nic+ apt-source cpus memory accel boot-timeout qemu-arg+" "$@"
  need_flags ns name dir tap
  [[ $opt_ns =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || usage_error "--ns '$opt_ns' is not a namespace name"
  [[ $opt_name =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || usage_error "--name '$opt_name' is not a host name (a-z 0-9 -)"
  [[ $opt_dir == /* && $(basename "$opt_dir") == "$opt_name" ]] || usage_error "--dir '$opt_dir' is not an absolute path ending in /$opt_name"
  valid_ifname "$opt_tap" || usage_error "--tap '$opt_tap' is not an interface name"
  if [ "$ACTION" != delete ]; then
    need_flags image bridge mac address authorized-key
    valid_ifname "$opt_bridge" || usage_error "--bridge '$opt_bridge' is not an interface name"
    [[ $opt_mac =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] || usage_error "--mac '$opt_mac' is not a MAC address (lower case)"
    valid_cidr "$opt_address" || usage_error "--address '$opt_address' is not ADDRESS/PREFIX"
    in_bench_range "$opt_address" || usage_error "--address $opt_address is outside 198.18.0.0/15, the only range a VM lab may use"
    [[ $opt_authorized_key =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp[0-9]+)\ [A-Za-z0-9+/]+=*(\ [^[:cntrl:]]*)?$ ]] ||
      usage_error "--authorized-key is not one OpenSSH public key line"
    local nic mac name tap mtu
    for nic in "${opt_nic[@]}"; do
      IFS=, read -r mac name tap mtu <<<"$nic"
      if ! [[ $mac =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] || ! valid_ifname "$name" || ! valid_ifname "$tap" || ! [[ $mtu =~ ^[0-9]{2,5}$ ]]; then
        usage_error "--nic '$nic' is not MAC,NAME,TAP,MTU"
      fi
      [ "$mac" != "$opt_mac" ] || usage_error "--nic $nic has the management NIC's MAC"
    done
    [[ $opt_cpus =~ ^[1-9][0-9]?$ ]] || usage_error "--cpus '$opt_cpus' is not 1-99"
    [[ $opt_memory =~ ^[1-9][0-9]{2,5}$ ]] || usage_error "--memory '$opt_memory' is not MiB (100-999999)"
    [[ $opt_boot_timeout =~ ^[1-9][0-9]*$ ]] || usage_error "--boot-timeout '$opt_boot_timeout' is not seconds"
    [[ $opt_apt_source != *$'\n'* ]] || usage_error "--apt-source is one sources.list line"
    case $opt_accel in auto | tcg) ACCEL=tcg ;; kvm) ACCEL=kvm ;; *) usage_error "--accel '$opt_accel' is not auto, kvm or tcg" ;; esac
  fi
  NS=$opt_ns
  DIR=$opt_dir
  ADDR=${opt_address%/*}
  ID=ixlab-vm:$NS:$opt_name
  run_action
}

main "$@" </dev/null
