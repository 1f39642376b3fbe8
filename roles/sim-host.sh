#!/usr/bin/env bash
# sim-host: one simulated lab host: a network namespace with its own sshd, reached from this machine
# over the management bridge, so every later role reaches it over SSH exactly like a real host. Its
# management interface is mgmt0, one end of a veth pair whose other end (--veth) is enslaved to the
# bridge. Runs as root in the root namespace (never over SSH). Files live in /run/ixlab/NS/ (mode
# 0700): host key, authorized_keys, sshd_config, sshd.pid, sshd.log and state/, which the sshd hands
# to SSH sessions as IXLAB_STATE_DIR (the namespaces share this machine's filesystem).
#   sim-host.sh create|delete|check --ns NS --veth VETH --bridge BR --address 198.18.0.X/24
#               --authorized-key "ssh-ed25519 AAAA... comment"
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_DIR=/run/ixlab
# sshd's privilege separation directory; when we had to create it, this marker says so, and the
# last sim host's delete removes it again.
PRIVSEP_DIR=/run/sshd
PRIVSEP_MARKER=$RUN_DIR/.created-run-sshd
SSHD=/usr/sbin/sshd
MGMT_IF=mgmt0

opt_ns='' opt_veth='' opt_bridge='' opt_address='' opt_authorized_key=''
NS='' HOST_DIR='' ADDR=''

ns_exists() { [ -e "/run/netns/$NS" ]; }

# SHLVL=1: bash, as the login shell of a session sshd started, sources ~/.bashrc even for a command,
# unless it is not the top-level shell; the sim hosts share this machine's home directories, whose
# interactive setup (a version manager's init runs dozens of programs) would otherwise run at every
# role run (0.4-0.5 s a session, measured on a loaded machine).
sshd_config() {
  local c
  # read, not cat: no process for what every check compares (the text ends at the first NUL: none).
  IFS= read -r -d '' c <<EOF || true
# Written by ixlab roles/sim-host.sh: the sshd of sim host $NS (network namespace $NS).
ListenAddress $ADDR
Port 22
HostKey $HOST_DIR/ssh_host_ed25519_key
AuthorizedKeysFile $HOST_DIR/authorized_keys
PidFile $HOST_DIR/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding no
AllowStreamLocalForwarding no
PermitTunnel no
PermitUserEnvironment no
SetEnv IXLAB_STATE_DIR=$HOST_DIR/state IXLAB_SIM_NS=$NS SHLVL=1
Subsystem sftp internal-sftp
EOF
  printf '%s' "$c"
}

# The sshd of this host: its pid file names a live process started with our config, in our namespace.
sshd_pid() {
  local pid
  pid=$(pidfile_pid "$HOST_DIR/sshd.pid" "$HOST_DIR/sshd_config") || return 1
  # -ef: the same file (device and inode) as the namespace's bind mount, i.e. the same network namespace.
  ns_exists && [ "/proc/$pid/ns/net" -ef "/run/netns/$NS" ] || return 1
  printf '%s\n' "$pid"
}
# ss -N enters the namespace itself (no `ip netns exec`, which also remounts /sys for the command).
sshd_listening() { [ -n "$(ss -N "$NS" -Hltn "( src $ADDR and sport = :22 )" 2>/dev/null)" ]; }
# shellcheck disable=SC2016 # $1 expands in the inner bash
sshd_answers() { sshd_pid >/dev/null && ip netns exec "$NS" bash -c ': </dev/tcp/$1/22' _ "$ADDR"; }

# write_if_different FILE CONTENT WHAT: returns 0 when it wrote (changed), 1 when FILE was right.
write_if_different() {
  if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then
    ok "$3 is up to date"
    return 1
  fi
  (umask 077 && printf '%s\n' "$2" >"$1.tmp") && mv -f "$1.tmp" "$1"
  changed "wrote $3"
}

do_create() {
  local restart=0 pid hostkey
  [ -x "$SSHD" ] || die "$SSHD not found (Debian package openssh-server)"
  command -v ssh-keygen >/dev/null || die "ssh-keygen not found (Debian package openssh-client)"
  [ "$(link_get "" "$opt_bridge" .linkinfo.info_kind)" = bridge ] || die "bridge $opt_bridge does not exist (sim-bridge create makes it)"

  if ns_exists; then ok "namespace $NS exists"; else ip netns add "$NS"; changed "created namespace $NS"; fi
  ensure_up "$NS" lo "$NS: lo"

  ensure_veth_to_ns "$opt_veth" "$NS" "$MGMT_IF"
  # A re-created host has a new MAC behind its old address: drop the stale ARP entry this machine
  # holds for it (only for this sim address), or SSH waits for the entry to time out.
  [ "$VETH_CREATED" = 0 ] || ip neigh flush to "${opt_address%/*}" dev "$opt_bridge" 2>/dev/null || true
  if [ "$(link_get "" "$opt_veth" .master)" = "$opt_bridge" ]; then
    ok "$opt_veth is a port of $opt_bridge"
  else
    ip link set dev "$opt_veth" master "$opt_bridge"
    changed "$opt_veth: enslaved to bridge $opt_bridge"
  fi
  ensure_up "" "$opt_veth" "$opt_veth"
  ensure_ipv4 "$NS" "$MGMT_IF" "$opt_address" "$NS:$MGMT_IF"
  ensure_up "$NS" "$MGMT_IF" "$NS:$MGMT_IF"
  # A sim host reaches only its management and data networks: no default route.
  if [ -n "$(ip -n "$NS" route show default)" ]; then
    ip -n "$NS" route flush exact 0.0.0.0/0
    changed "$NS: removed default route"
  else
    ok "$NS has no default route"
  fi

  if [ -d "$HOST_DIR" ]; then ok "$HOST_DIR exists"; else mkdir -p "$RUN_DIR" && mkdir -m 0700 "$HOST_DIR"; changed "created $HOST_DIR"; fi
  if [ "$(stat -c %a "$HOST_DIR")" != 700 ]; then chmod 0700 "$HOST_DIR"; changed "$HOST_DIR: mode 0700"; fi
  if [ -d "$HOST_DIR/state" ]; then ok "$HOST_DIR/state exists"; else mkdir -m 0700 "$HOST_DIR/state"; changed "created $HOST_DIR/state"; fi
  if [ -s "$HOST_DIR/ssh_host_ed25519_key" ] && [ -s "$HOST_DIR/ssh_host_ed25519_key.pub" ]; then
    ok "host key exists"
  else
    rm -f "$HOST_DIR/ssh_host_ed25519_key" "$HOST_DIR/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "ixlab-sim-$NS" -f "$HOST_DIR/ssh_host_ed25519_key" >&2
    changed "generated host key of $NS"
    restart=1
  fi
  write_if_different "$HOST_DIR/authorized_keys" "$opt_authorized_key" "$HOST_DIR/authorized_keys" || true
  write_if_different "$HOST_DIR/sshd_config" "$(sshd_config)" "$HOST_DIR/sshd_config" && restart=1

  if [ -d "$PRIVSEP_DIR" ]; then
    ok "$PRIVSEP_DIR exists"
  else
    mkdir -m 0755 "$PRIVSEP_DIR"
    : >"$PRIVSEP_MARKER"
    changed "created $PRIVSEP_DIR (sshd privilege separation; removed with the last sim host)"
  fi

  if pid=$(sshd_pid); then
    if [ "$restart" = 1 ]; then
      stop_pid "$pid" "$HOST_DIR/sshd_config"
      log "restarting sshd of $NS for its new configuration or host key"
    elif sshd_listening; then
      ok "sshd of $NS runs (pid $pid) on $ADDR:22"
    else
      stop_pid "$pid" "$HOST_DIR/sshd_config"
      log "sshd of $NS (pid $pid) was not listening on $ADDR:22; restarting it"
    fi
  fi
  if ! sshd_pid >/dev/null; then
    rm -f "$HOST_DIR/sshd.pid"
    ip netns exec "$NS" "$SSHD" -f "$HOST_DIR/sshd_config" -E "$HOST_DIR/sshd.log" ||
      die "sshd of $NS failed to start: $(tail -n 3 "$HOST_DIR/sshd.log" 2>/dev/null | tr '\n' ' ')"
    wait_for 10 "sshd of $NS to answer on $ADDR:22 (see $HOST_DIR/sshd.log)" sshd_answers
    changed "started sshd of $NS (pid $(sshd_pid)) on $ADDR:22"
  fi

  hostkey=$(cut -d' ' -f1,2 <"$HOST_DIR/ssh_host_ed25519_key.pub")
  printf 'facts: %s\n' "$(jq -cn --arg k "$hostkey" --arg a "$ADDR" --arg n "$NS" '{hostKey: $k, address: $a, ns: $n}')"
}

do_delete() {
  local pid
  if pid=$(sshd_pid); then
    stop_pid "$pid" "$HOST_DIR/sshd_config"
    changed "stopped sshd of $NS (pid $pid)"
  else
    ok "sshd of $NS is not running"
  fi
  if ns_exists; then stop_ns_processes "$NS"; fi
  if link_json "" "$opt_veth" >/dev/null; then
    [ "$(link_get "" "$opt_veth" .linkinfo.info_kind)" = veth ] || die "$opt_veth is not a veth; refusing to delete it"
    if ns_exists && ! veth_pair "" "$opt_veth" "$NS" "$MGMT_IF"; then
      die "$opt_veth is not the peer of $MGMT_IF in namespace $NS; refusing to delete it"
    fi
    ip link del dev "$opt_veth"
    changed "deleted veth $opt_veth"
  else
    ok "veth $opt_veth is absent"
  fi
  if ns_exists; then ip netns del "$NS"; changed "deleted namespace $NS"; else ok "namespace $NS is absent"; fi
  if [ -e "$HOST_DIR" ]; then rm -rf "$HOST_DIR"; changed "removed $HOST_DIR"; else ok "$HOST_DIR is absent"; fi

  # The last sim host gone: remove the privilege separation directory if we created it.
  local d
  for d in "$RUN_DIR"/*/; do [ -d "$d" ] && return 0; done
  if [ -e "$PRIVSEP_MARKER" ]; then
    if rmdir "$PRIVSEP_DIR" 2>/dev/null || [ ! -e "$PRIVSEP_DIR" ]; then
      rm -f "$PRIVSEP_MARKER"
      changed "removed $PRIVSEP_DIR (created for the sim hosts)"
    else
      log "$PRIVSEP_DIR is not empty; leaving it"
    fi
  fi
  rmdir "$RUN_DIR" 2>/dev/null || true
}

do_check() {
  local pid f master up_veth up_mgmt addrs
  ns_exists || wrong "namespace $NS does not exist"
  # Both ends of the management veth and this namespace's id for the host's, in one look (dev_facts).
  f=$(dev_facts "dev::$opt_veth" "dev:$NS:$MGMT_IF" "nsid::$NS")
  mapfile -t f <<<"$f"
  veth_pair_of "${f[0]}" "${f[1]}" "${f[2]}" || wrong "veth $opt_veth <-> $NS:$MGMT_IF is missing"
  read -r _ _ _ _ master up_veth _ <<<"${f[0]}"
  read -r _ _ _ _ _ up_mgmt _ _ _ _ addrs <<<"${f[1]}"
  [ "$master" = "$opt_bridge" ] || wrong "$opt_veth is not a port of bridge $opt_bridge"
  [ "$up_veth" = up ] || wrong "$opt_veth is down"
  [ "$up_mgmt" = up ] || wrong "$NS:$MGMT_IF is down"
  has_addr "$addrs" "$opt_address" || wrong "$NS:$MGMT_IF lacks address $opt_address"
  [ -s "$HOST_DIR/ssh_host_ed25519_key" ] || wrong "host key $HOST_DIR/ssh_host_ed25519_key is missing"
  [ "$(file_text "$HOST_DIR/authorized_keys")" = "$opt_authorized_key" ] ||
    wrong "$HOST_DIR/authorized_keys does not hold exactly the given key"
  [ "$(file_text "$HOST_DIR/sshd_config")" = "$(sshd_config)" ] || wrong "$HOST_DIR/sshd_config is out of date"
  pid=$(sshd_pid) || wrong "sshd of $NS is not running"
  sshd_listening || wrong "sshd of $NS (pid $pid) is not listening on $ADDR:22"
}

main() {
  parse_args "create delete check" "ns veth bridge address authorized-key" "$@"
  need_flags ns veth
  [[ $opt_ns =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] || usage_error "--ns '$opt_ns' is not a namespace name (letters, digits, _ . -)"
  valid_ifname "$opt_veth" || usage_error "--veth '$opt_veth' is not an interface name (1-15 of A-Z a-z 0-9 _ . -)"
  if [ "$ACTION" != delete ]; then
    need_flags bridge address authorized-key
    valid_ifname "$opt_bridge" || usage_error "--bridge '$opt_bridge' is not an interface name"
    valid_cidr "$opt_address" || usage_error "--address '$opt_address' is not ADDRESS/PREFIX"
    in_bench_range "$opt_address" || usage_error "--address $opt_address is outside 198.18.0.0/15, the only range a sim lab may use"
    [[ $opt_authorized_key =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp[0-9]+|sk-[A-Za-z0-9@.-]+)\ [A-Za-z0-9+/]+=*(\ [^[:cntrl:]]*)?$ ]] ||
      usage_error "--authorized-key is not one OpenSSH public key line"
  fi
  NS=$opt_ns
  HOST_DIR=$RUN_DIR/$NS
  ADDR=${opt_address%/*}
  run_action
}

main "$@" </dev/null
