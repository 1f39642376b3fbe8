#!/usr/bin/env bash
# vm-bmc: an emulated IPMI BMC for one VM lab host, so a host that does not come back after a kernel
# install is power-cycled the way a real lab does it: `ipmitool -I lanplus -H ADDRESS -U USER -E
# chassis power cycle` over the management network (src/remote/bmc.ts). The BMC is OpenIPMI's
# ipmi_sim (Debian package openipmi) in the lab's namespace, speaking IPMI 2.0 (RMCP+) on ADDRESS:623,
# an address of its own on the management bridge. It is wired to the VM's QEMU twice:
#   - QEMU's ipmi-bmc-extern device connects to ipmi_sim's VM serial port (127.0.0.1:--vm-port in the
#     namespace), so chassis commands reach the machine (power off is an ACPI power button press,
#     reset a hardware reset); the VM needs these QEMU arguments, printed as facts.qemuArgs:
#       -chardev socket,id=ixlbmc,host=127.0.0.1,port=PORT,reconnect=5
#       -device ipmi-bmc-extern,id=ixlbmc0,chardev=ixlbmc -device isa-ipmi-kcs,bmc=ixlbmc0
#   - the machine's power is its QEMU process: ipmi_sim's startcmd is this BMC's power.sh, which
#     adopts the VM's running QEMU (roles/vm-host.sh started it) and lives as long as it does; power
#     off ends it (after --poweroff-wait s without an ACPI shutdown, as a hung kernel never does one),
#     power on starts QEMU again with the command line vm-host.sh recorded (qemu.args). So a power
#     cycle is a real cold boot: BIOS, GRUB (a one-shot entry already used up), the saved default.
# Runs as root on the machine running Pulumi (never over SSH), after vm-host.sh create.
#   vm-bmc.sh create|delete|check --ns NS --name HOST --dir DIR --vm-dir VMDIR --bridge BR
#             --address 198.18.30.2x --vm-port PORT --user USER [--password-file FILE] [--poweroff-wait 10]
# The password is the first line of FILE or, without --password-file, $IXLAB_BMC_PASSWORD (the
# Pulumi program hands it over that way, as a secret: never as a flag, which a process list shows).
# DIR (its last part is HOST) holds lan.conf (with the password: ipmi_sim has no other store; mode
# 0600 in a 0700 directory), ipmi_sim's state and pid file and power.sh. delete stops ipmi_sim and
# power.sh (not the VM: vm-host.sh delete does that) and removes DIR and the address.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MARKER=.ixlab-bmc
opt_ns='' opt_name='' opt_dir='' opt_vm_dir='' opt_bridge='' opt_address='' opt_vm_port='' opt_user=''
opt_password_file='' opt_poweroff_wait=10
NS='' DIR='' PASSWORD=''

ns_exists() { [ -e "/run/netns/$NS" ]; }
sim_pid() { pidfile_pid "$DIR/ipmi_sim.pid" "$DIR/lan.conf"; }
power_pid() { pidfile_pid "$DIR/power.pid" "$DIR/power.sh"; }
qemu_args() {
  printf '%s\n' -chardev "socket,id=ixlbmc,host=127.0.0.1,port=$opt_vm_port,reconnect=5" \
    -device ipmi-bmc-extern,id=ixlbmc0,chardev=ixlbmc -device isa-ipmi-kcs,bmc=ixlbmc0
}

# lan.conf (ipmi_lan(5)): one RMCP+ LAN channel, the VM serial port, the admin user, the power command.
lan_conf() {
  cat <<EOF
# Written by ixlab roles/vm-bmc.sh for VM $opt_name.
name "ixlab-$opt_name"
set_working_mc 0x20
  startlan 1
    addr $opt_address 623
    priv_limit admin
    allowed_auths_admin md5
    allowed_auths_operator md5
    guid $(printf '%s' "$NS/$opt_name" | md5sum | cut -c1-32)
  endlan
  serial 15 127.0.0.1 $opt_vm_port codec VM
  startcmd "$DIR/power.sh"
  startnow true
  poweroff_wait $opt_poweroff_wait
  kill_wait 5
  user 2 true "$opt_user" "$PASSWORD" admin 4 md5
EOF
}

# power.sh: the machine's power supply (see above). Adopts the VM's QEMU or starts it from qemu.args.
power_script() {
  cat <<EOF
#!/usr/bin/env bash
# Written by ixlab roles/vm-bmc.sh: the power of VM $opt_name, run by its BMC (ipmi_sim startcmd).
set -u
vm='$opt_vm_dir'
echo \$\$ >'$DIR/power.pid'
qemu_pid() { local p; p=\$(cat "\$vm/qemu.pid" 2>/dev/null) && [ -n "\$p" ] && tr '\0' ' ' </proc/"\$p"/cmdline 2>/dev/null | grep -q -- "\$vm/disk.qcow2" && echo "\$p"; }
pid=\$(qemu_pid) || {
  [ -s "\$vm/qemu.args" ] || { echo "power on: \$vm/qemu.args is missing (vm-host.sh create records it)" >&2; exit 1; }
  mapfile -t args <"\$vm/qemu.args"
  rm -f "\$vm/qemu.pid" "\$vm/qmp.sock"
  printf '\n==== ixlab: BMC power on %s ====\n' "\$(date -u +%FT%TZ)" >>"\$vm/console.log"
  "\${args[@]}" </dev/null >>"\$vm/qemu.log" 2>&1 || exit 1
  pid=\$(qemu_pid) || exit 1
}
off() { kill -TERM "\$pid" 2>/dev/null; for _ in \$(seq 50); do kill -0 "\$pid" 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL "\$pid" 2>/dev/null; exit 0; }
trap off TERM INT
while kill -0 "\$pid" 2>/dev/null; do sleep 1 & wait \$!; done
EOF
}

ensure_file() { # PATH MODE CONTENT WHAT
  if [ -f "$1" ] && [ "$(cat "$1")" = "$3" ]; then ok "$4 is up to date"; return 1; fi
  (umask 077 && printf '%s\n' "$3" >"$1.tmp") && chmod "$2" "$1.tmp" && mv -f "$1.tmp" "$1"
  changed "wrote $4"
}

do_create() {
  local restart=0 pid
  command -v ipmi_sim >/dev/null || die "ipmi_sim not found (Debian package openipmi)"
  ns_exists || die "namespace $NS does not exist (roles/vm-net.sh create makes it)"
  [ "$(link_get "$NS" "$opt_bridge" .linkinfo.info_kind)" = bridge ] || die "bridge $NS:$opt_bridge does not exist (roles/vm-net.sh create makes it)"
  [ -f "$opt_vm_dir/qemu.args" ] || die "$opt_vm_dir/qemu.args does not exist: create the VM (roles/vm-host.sh) first"
  grep -qx "ipmi-bmc-extern,id=ixlbmc0,chardev=ixlbmc" "$opt_vm_dir/qemu.args" ||
    die "the QEMU of $opt_name has no ipmi-bmc-extern device: pass facts.qemuArgs of this role to vm-host.sh (--qemu-arg)"
  if [ -d "$DIR" ]; then
    [ -e "$DIR/$MARKER" ] || die "$DIR exists but is not an ixlab BMC's directory; refusing to touch it"
  else
    mkdir -p "$(dirname "$DIR")" && mkdir -m 0700 "$DIR" "$DIR/state" && : >"$DIR/$MARKER"
    changed "created $DIR"
  fi
  ensure_file "$DIR/lan.conf" 0600 "$(lan_conf)" "$DIR/lan.conf" && restart=1
  ensure_file "$DIR/power.sh" 0700 "$(power_script)" "$DIR/power.sh" && restart=1
  ensure_file "$DIR/cmds" 0600 "$(printf '%s\n' 'mc_setbmc 0x20' 'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr' 'mc_enable 0x20')" "$DIR/cmds" && restart=1
  ensure_ipv4 "$NS" "$opt_bridge" "$opt_address/32" "bridge $NS:$opt_bridge (the BMC's address)"
  if pid=$(sim_pid); then
    # Its power.sh ends with the QEMU it adopted (a VM that died and was started again): a restarted
    # ipmi_sim runs a new one (startnow), which adopts the new QEMU.
    if [ "$restart" = 0 ] && power_pid >/dev/null; then ok "ipmi_sim of $opt_name runs (pid $pid)"; else stop_pid "$pid" "$DIR/lan.conf"; fi
  fi
  if ! sim_pid >/dev/null; then
    # ipmi_sim does not end its startcmd when it exits; the new one adopts the same QEMU.
    if pid=$(power_pid); then stop_pid "$pid" "$DIR/power.sh"; fi
    start_detached "$DIR/ipmi_sim.pid" "$DIR/ipmi_sim.log" ip netns exec "$NS" ipmi_sim -n -c "$DIR/lan.conf" -f "$DIR/cmds" -s "$DIR/state"
    wait_for 10 "ipmi_sim of $opt_name to listen on $opt_address:623" sim_listening
    wait_for 10 "power.sh of $opt_name to adopt its QEMU" power_pid
    changed "started ipmi_sim of $opt_name (pid $(sim_pid)) on $opt_address:623"
  fi
  printf 'facts: %s\n' "$(jq -cn --arg a "$opt_address" --arg u "$opt_user" --argjson pid "$(sim_pid)" \
    --arg q "$(qemu_args)" '{type: "ipmi", address: $a, user: $u, pid: $pid, qemuArgs: ($q | split("\n"))}')"
}

sim_listening() { ip netns exec "$NS" ss -Hlun "( src $opt_address and sport = :623 )" | grep -q .; }

do_delete() {
  local pid
  if pid=$(sim_pid); then stop_pid "$pid" "$DIR/lan.conf"; changed "stopped ipmi_sim of $opt_name (pid $pid)"; else ok "ipmi_sim of $opt_name is not running"; fi
  # Ends the wait on QEMU only: the VM itself is vm-host.sh's to stop.
  if pid=$(power_pid); then kill -KILL "$pid"; changed "stopped power.sh of $opt_name (pid $pid)"; fi
  if ns_exists && has_ipv4 "$NS" "$opt_bridge" "$opt_address/32"; then
    ip -n "$NS" addr del "$opt_address/32" dev "$opt_bridge"
    changed "removed the BMC address $opt_address from $NS:$opt_bridge"
  fi
  remove_owned_dir "$DIR" "$MARKER" "an ixlab BMC"
  rmdir "$(dirname "$DIR")" 2>/dev/null || true
}

do_check() {
  local pid
  pid=$(sim_pid) || wrong "ipmi_sim of $opt_name is not running"
  sim_listening || wrong "ipmi_sim of $opt_name (pid $pid) does not listen on $opt_address:623"
  power_pid >/dev/null || wrong "the power of $opt_name is off (no power.sh holding its QEMU)"
}

main() {
  parse_args "create delete check" "ns name dir vm-dir bridge address vm-port user password-file poweroff-wait" "$@"
  need_flags ns name dir bridge address
  [[ $opt_ns =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || usage_error "--ns '$opt_ns' is not a namespace name"
  [[ $opt_name =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || usage_error "--name '$opt_name' is not a host name (a-z 0-9 -)"
  [[ $opt_dir == /* && $(basename "$opt_dir") == "$opt_name" ]] || usage_error "--dir '$opt_dir' is not an absolute path ending in /$opt_name"
  valid_ifname "$opt_bridge" || usage_error "--bridge '$opt_bridge' is not an interface name"
  { valid_ipv4 "$opt_address" && in_bench_range "$opt_address"; } || usage_error "--address '$opt_address' is not an IPv4 address in 198.18.0.0/15"
  if [ "$ACTION" = create ]; then
    need_flags vm-dir vm-port user
    [[ $opt_vm_dir == /* ]] || usage_error "--vm-dir '$opt_vm_dir' is not an absolute path"
    { [[ $opt_vm_port =~ ^[1-9][0-9]{3,4}$ ]] && [ "$opt_vm_port" -le 65535 ]; } || usage_error "--vm-port '$opt_vm_port' is not a TCP port (1000-65535)"
    [[ $opt_user =~ ^[A-Za-z0-9._-]{1,16}$ ]] || usage_error "--user '$opt_user' is not an IPMI user name (1-16 of A-Z a-z 0-9 . _ -)"
    local from=IXLAB_BMC_PASSWORD
    if [ -n "$opt_password_file" ]; then
      [ -r "$opt_password_file" ] || usage_error "--password-file $opt_password_file is not a readable file"
      PASSWORD=$(head -n 1 "$opt_password_file") from="--password-file $opt_password_file"
    else
      PASSWORD=${IXLAB_BMC_PASSWORD:-}
      [ -n "$PASSWORD" ] || usage_error "give the password with --password-file FILE or in IXLAB_BMC_PASSWORD"
    fi
    # IPMI 2.0 allows 20 characters, but ipmi_sim opens no session with more than 16 (it takes them).
    [[ $PASSWORD =~ ^[A-Za-z0-9._~+-]{1,16}$ ]] || usage_error "$from: an IPMI password for this BMC is 1-16 characters of A-Z a-z 0-9 . _ ~ + -"
    [[ $opt_poweroff_wait =~ ^[1-9][0-9]{0,2}$ ]] || usage_error "--poweroff-wait '$opt_poweroff_wait' is not seconds (1-999)"
  fi
  NS=$opt_ns
  DIR=$opt_dir
  run_action
}

main "$@" </dev/null
