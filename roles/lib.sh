# shellcheck shell=bash
# Shared by every role script. A role runs on a host (over SSH, real or sim) as one of:
#   <role> create|delete|check [--flag value...]
# and reports each step as `ok:` (already right) or `changed:`, like an Ansible task, so a second
# create says it changed nothing. `check` changes nothing and exits non-zero naming what is wrong.
# Over SSH a role travels as this file followed by the role on `bash -s` (the caller sets IXLAB_ROLE,
# since $0 is then "bash"), so a role may rely on nothing else of the repository. A role keeps its
# steps in functions and ends with `main "$@" </dev/null`: then no command it runs can read the rest
# of a script arriving on stdin.
set -euo pipefail

# Roles skip sourcing lib.sh when this is set (it arrived before them on stdin). Not exported.
# shellcheck disable=SC2034
IXLAB_LIB_LOADED=1
IXLAB_ROLE=${IXLAB_ROLE:-$(basename "$0" .sh)}
# Where a host keeps what a role must remember (pid files, logs, previous values to restore). Sim
# hosts share one filesystem, so each sim host's sshd sets its own.
# shellcheck disable=SC2034
STATE_DIR=${IXLAB_STATE_DIR:-/var/lib/ixlab}
# Non-login SSH sessions and minimal PATHs may lack the sbin directories (ip, sshd, ethtool).
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
_ixlab_changed=0

log() { printf '%s: %s\n' "$IXLAB_ROLE" "$*" >&2; }
ok() { printf 'ok: %s\n' "$*"; }
changed() { _ixlab_changed=$((_ixlab_changed + 1)); printf 'changed: %s\n' "$*"; }
die() { printf '%s: error: %s\n' "$IXLAB_ROLE" "$*" >&2; exit 1; }
# remove_owned_dir DIR MARKER OWNER [WHAT]: removes a directory ixlab made (it holds MARKER), refusing
# one it did not make, so a wrong path can never remove someone else's files.
remove_owned_dir() {
  if [ -d "$1" ]; then
    [ -e "$1/$2" ] || die "$1 is not $3's directory; refusing to remove it"
    rm -rf "$1"
    changed "removed $1${4:+ ($4)}"
  else
    ok "$1 is absent"
  fi
}
# Exit status 2: the role was called wrongly (unknown action or flag, bad value).
usage_error() { printf '%s: error: %s\n' "$IXLAB_ROLE" "$*" >&2; exit 2; }
# Exit status 3 from check means "state is wrong", distinct from a failure to check at all.
wrong() { printf '%s: check failed: %s\n' "$IXLAB_ROLE" "$*" >&2; exit 3; }

# Summary line callers parse; printed once at the end of create/delete.
summary() { printf 'summary: changed=%d\n' "$_ixlab_changed"; }

# run_action: calls the role's do_create / do_delete (then the summary) or do_check, per ACTION.
run_action() {
  "do_$ACTION"
  [ "$ACTION" = check ] || summary
}

# parse_args "ACTIONS" "FLAGS" "$@": sets ACTION to the first argument, which must be one of ACTIONS,
# and opt_<flag> (dashes as underscores) for each `--flag value`; a FLAG written `name!` is a switch
# without a value (sets opt_name=1), one written `name+` may be repeated and appends each value to the
# array opt_name. Anything else exits 2 naming it. Roles set defaults beforehand.
parse_args() {
  local actions=$1 flags=$2 name known
  shift 2
  [ $# -gt 0 ] || usage_error "no action given (one of: $actions)"
  ACTION=$1
  shift
  [[ " $actions " == *" $ACTION "* ]] || usage_error "unknown action '$ACTION' (one of: $actions)"
  while [ $# -gt 0 ]; do
    [[ $1 == --?* ]] || usage_error "unexpected argument '$1' (flags are --name value)"
    name=${1#--}
    [[ $name =~ ^[a-z][a-z0-9-]*$ ]] || usage_error "unknown flag '$1'"
    if [[ " $flags " == *" $name! "* ]]; then
      printf -v "opt_${name//-/_}" 1
      shift
      continue
    fi
    if [[ " $flags " == *" $name+ "* ]]; then
      [ $# -ge 2 ] || usage_error "flag --$name needs a value"
      local -n _ixlab_values="opt_${name//-/_}"
      _ixlab_values+=("$2")
      unset -n _ixlab_values
      shift 2
      continue
    fi
    if [[ " $flags " != *" $name "* ]]; then
      known=${flags//!/}
      read -ra known <<<"${known//+/}"
      usage_error "unknown flag '--$name' (known:$(printf ' --%s' "${known[@]}"))"
    fi
    [ $# -ge 2 ] || usage_error "flag --$name needs a value"
    printf -v "opt_${name//-/_}" '%s' "$2"
    shift 2
  done
}

# need_flags NAME...: each --NAME was given a non-empty value, or exit 2.
need_flags() {
  local name var
  for name in "$@"; do
    var=opt_${name//-/_}
    [ -n "${!var:-}" ] || usage_error "$ACTION needs --$name"
  done
}

# valid_ifname NAME: a Linux interface name (1-15 chars, no slash, space or colon).
valid_ifname() { [[ $1 =~ ^[A-Za-z0-9_.-]{1,15}$ ]]; }

# valid_ipv4 ADDR: dotted quad, each part 0-255.
valid_ipv4() {
  local IFS=. part
  [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  for part in $1; do [ "$((10#$part))" -le 255 ] || return 1; done
}

# valid_cidr ADDR/LEN: an IPv4 address with a prefix length.
valid_cidr() { [[ $1 == */* ]] && valid_ipv4 "${1%/*}" && [[ ${1#*/} =~ ^[0-9]{1,2}$ ]] && [ "$((10#${1#*/}))" -le 32 ]; }

# in_bench_range ADDR[/LEN]: inside 198.18.0.0/15 (RFC 2544's benchmarking range), the only
# addresses a sim lab may use, so the sim never clashes with a real network.
in_bench_range() {
  local a=${1%/*}
  valid_ipv4 "$a" && [[ $a == 198.18.* || $a == 198.19.* ]]
}

# resolve_nic NAME|PCI: prints the interface name; a PCI address (0000:03:00.0) names the interface
# of that device. Prints the argument unchanged when nothing resolves, so callers report it missing.
resolve_nic() {
  local dev n
  if [[ $1 =~ ^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; then
    dev=$1
    [[ $dev == ????:* ]] || dev=0000:$dev
    for n in /sys/bus/pci/devices/"$dev"/net/*; do
      [ -e "$n" ] && { basename "$n"; return 0; }
    done
  fi
  printf '%s\n' "$1"
}

# pid_matches PID TEXT: PID is alive and its command line contains TEXT, so a pid file left by a
# process that died (and a pid reused since) never makes us signal someone else's process.
# (Builtins only, here and in pidfile_pid: checks call these at every refresh.)
pid_matches() {
  local pid=$1 text=$2 cmd argv=()
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # The arguments, each NUL-terminated, joined by spaces (with one after the last, as `tr '\0' ' '` did).
  { mapfile -d '' argv </proc/"$pid"/cmdline; } 2>/dev/null || return 1
  [ "${#argv[@]}" -gt 0 ] || return 1
  printf -v cmd '%s ' "${argv[@]}"
  [[ $cmd == *"$text"* ]]
}

# file_text FILE: FILE's content as `$(cat FILE 2>/dev/null)` gives it (nothing when unreadable), without cat.
file_text() { if [ -r "$1" ] && [ -f "$1" ]; then printf '%s' "$(<"$1")"; fi; }

# pidfile_pid FILE TEXT: prints the pid recorded in FILE when that process is alive and matches TEXT.
pidfile_pid() {
  local pid=""
  [ -r "$1" ] || return 1
  { IFS= read -r pid || [ -n "$pid" ]; } <"$1" || return 1
  pid_matches "$pid" "$2" || return 1
  printf '%s\n' "$pid"
}

# stop_pid PID TEXT: SIGTERM, then SIGKILL after 5 s, each only while PID still matches TEXT.
stop_pid() {
  local pid=$1 text=$2 i
  for ((i = 0; i < 25; i++)); do
    pid_matches "$pid" "$text" || return 0
    [ "$i" -gt 0 ] || kill -TERM "$pid" 2>/dev/null || true
    sleep 0.2
  done
  pid_matches "$pid" "$text" || return 0
  log "pid $pid ($text) ignored SIGTERM for 5 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait_for 5 "pid $pid to exit after SIGKILL" not pid_matches "$pid" "$text"
}

# start_detached PIDFILE LOGFILE COMMAND...: runs COMMAND in a session of its own with every standard
# fd away from the caller (an SSH session running the role can then end), and records its pid.
start_detached() {
  local pidfile=$1 logfile=$2
  shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  printf '%s\n' "$!" >"$pidfile"
}

# listening ADDR PORT: a TCP socket listens on ADDR:PORT in this network namespace.
listening() { [ -n "$(ss -Hltn "( src $1 and sport = :$2 )" 2>/dev/null)" ]; }

not() { ! "$@"; }

# Links and addresses; NS "" means this network namespace.
# ipn NS ARGS...: `ip ARGS` inside network namespace NS.
ipn() {
  local ns=$1
  shift
  if [ -n "$ns" ]; then ip -n "$ns" "$@"; else ip "$@"; fi
}
# link_json NS DEV: DEV's `ip -d -j link` object; fails when there is no such device.
link_json() { ipn "$1" -d -j link show dev "$2" 2>/dev/null | jq -ce '.[0] // empty' 2>/dev/null; }
# link_get NS DEV JQ: one field of DEV's link object (empty when absent).
link_get() { link_json "$1" "$2" | jq -r "$3 // empty"; }
# dev_facts SPEC...: one line per SPEC, from one `ip` call each and a single jq for them all. Checks
# run at every refresh, all of a lab's at once on the machine running Pulumi, and jq's start-up
# (20-25 ms a call on a loaded machine) was most of what they cost: a check takes its facts here in
# one go, then asks its questions of them. SPEC is one of
#   dev:NS:DEV    "kind ifindex peer-ifindex peer-nsid master up|down mtu lower mode mac [ADDR/LEN...]"
#                 ("-" for an absent field; lower is the device DEV sits on when it is in NS, mode a
#                 macvlan/macvtap mode; then each IPv4 address that `ip -o -4 addr` shows as
#                 `inet ADDR/LEN`), or "absent" when NS has no device DEV
#   nsid:NS:NAME  the id network namespace NS knows namespace NAME by, or "none"
# NS "" is this network namespace. Names never hold a colon (valid_ifname, the roles' namespace names).
# shellcheck disable=SC2016 # jq's own variables
_DEV_FACTS_JQ='if type == "object" then (.name as $n | [(.list // [])[] | select(.name == $n) | .id // empty]
    | if length > 0 then .[0] | tostring else "none" end)
  elif . == null or length == 0 then "absent"
  else .[0] | [(.linkinfo.info_kind // "-"), .ifindex, (.link_index // "-"), (.link_netnsid // "-"), (.master // "-"),
    (if (.flags | index("UP")) then "up" else "down" end), .mtu, (.link // "-"), (.linkinfo.info_data.mode // "-"),
    (.address // "-")]
    + [(.addr_info // [])[] | select(.family == "inet" and (has("address") | not)) | "\(.local)/\(.prefixlen)"]
    | map(tostring) | join(" ") end'
dev_facts() {
  local spec kind ns name out
  for spec in "$@"; do
    IFS=: read -r kind ns name <<<"$spec"
    case $kind in
      dev) out=$(ipn "$ns" -d -j addr show dev "$name" 2>/dev/null) || out="" && printf '%s\n' "${out:-null}" ;;
      nsid) out=$(ipn "$ns" -j netns list 2>/dev/null) || out="" && printf '{"name":"%s","list":%s}\n' "$name" "${out:-[]}" ;;
      *) die "dev_facts: unknown spec '$spec'" ;;
    esac
  done | jq -r "$_DEV_FACTS_JQ"
}
# has_addr "ADDR/LEN..." CIDR: CIDR is one of the addresses of a dev_facts line's tail.
has_addr() { [[ " $1 " == *" $2 "* ]]; }
# link_info NS DEV: the first seven fields of DEV's dev_facts line; fails when there is no such device.
link_info() {
  local f k i p n m u t
  f=$(dev_facts "dev:$1:$2") && [ "$f" != absent ] || return 1
  read -r k i p n m u t _ <<<"$f"
  printf '%s %s %s %s %s %s %s\n' "$k" "$i" "$p" "$n" "$m" "$u" "$t"
}
link_is_up() { local f; f=$(link_info "$1" "$2") || return 1; read -r _ _ _ _ _ f _ <<<"$f"; [ "$f" = up ]; }
has_ipv4() {
  ipn "$1" -o -4 addr show dev "$2" 2>/dev/null | grep -q " inet ${3//./\\.} "
}
# nsid_of FROM NAME: the id network namespace FROM knows namespace NAME by (empty if none yet).
nsid_of() { local id; id=$(dev_facts "nsid:$1:$2") || return 1; [ "$id" = none ] || printf '%s\n' "$id"; }
# veth_pair_of A B [NSID_AB [NSID_BA]]: A and B (dev_facts lines) are the two ends of one veth pair,
# and, where given, A's peer is in the namespace its own knows by NSID_AB (a dev_facts nsid line), B's
# in the one its own knows by NSID_BA. Interface indexes alone are ambiguous across namespaces.
veth_pair_of() {
  local ka ia pa na kb ib pb nb
  read -r ka ia pa na _ <<<"$1"
  read -r kb ib pb nb _ <<<"$2"
  [ "$ka" = veth ] && [ "$kb" = veth ] && [ "$pa" = "$ib" ] && [ "$pb" = "$ia" ] || return 1
  [ -z "${3:-}" ] || [ "$na" = "$3" ] || return 1
  [ -z "${4:-}" ] || [ "$nb" = "$4" ]
}
# veth_pair NS_A DEV_A NS_B DEV_B: DEV_A in NS_A is a veth whose peer is DEV_B in NS_B (each peer in
# the other's namespace; "" is this one, which needs no id).
veth_pair() {
  local f ab="" ba=""
  f=$(dev_facts "dev:$1:$2" "dev:$3:$4" ${3:+"nsid:$1:$3"} ${1:+"nsid:$3:$1"}) || return 1
  mapfile -t f <<<"$f"
  local i=2
  if [ -n "$3" ]; then ab=${f[i]}; i=$((i + 1)); fi
  if [ -n "$1" ]; then ba=${f[i]}; fi
  veth_pair_of "${f[0]}" "${f[1]}" "$ab" "$ba"
}
# ensure_veth_to_ns OUTER NS INNER: a veth OUTER in the root namespace whose peer is INNER in NS, made
# if missing, never adopting a device of another's (a same-named one that is not that pair stops the
# role). Sets VETH_CREATED=1 when it made the pair, so a caller can drop state tied to the old one.
ensure_veth_to_ns() {
  VETH_CREATED=0
  if veth_pair "" "$1" "$2" "$3"; then ok "veth $1 <-> $2:$3 exists"; return 0; fi
  link_json "" "$1" >/dev/null && die "$1 exists but is not the veth peer of $3 in namespace $2; refusing to touch it"
  link_json "$2" "$3" >/dev/null && die "namespace $2 has a $3 whose peer is not $1 here; refusing to touch it"
  ip link add name "$1" type veth peer name "$3" netns "$2"
  no_ipv6_ll "" "$1"
  no_ipv6_ll "$2" "$3"
  # shellcheck disable=SC2034 # read by the role that called this
  VETH_CREATED=1
  changed "created veth $1 <-> $2:$3"
}
# ensure_ipv4 NS DEV CIDR WHAT / ensure_up NS DEV WHAT / ensure_mtu NS DEV MTU WHAT: converge one
# setting, reporting ok: or changed: (WHAT names the device for humans). Other addresses are left.
ensure_ipv4() {
  if has_ipv4 "$1" "$2" "$3"; then ok "$4 has address $3"; else ipn "$1" addr add "$3" dev "$2"; changed "$4: added address $3"; fi
}
ensure_up() {
  if link_is_up "$1" "$2"; then ok "$3 is up"; else ipn "$1" link set dev "$2" up; changed "$3: set up"; fi
}
ensure_mtu() {
  local cur
  cur=$(link_get "$1" "$2" .mtu)
  if [ "$cur" = "$3" ]; then ok "$4 has MTU $3"; else ipn "$1" link set dev "$2" mtu "$3"; changed "$4: MTU $cur -> $3"; fi
}
# ensure_bridge NS NAME / ensure_tap NS NAME: a bridge or a persistent tap device NAME exists in NS,
# made without an IPv6 link-local address; a device of another kind by that name is refused.
ensure_bridge() { _ensure_dev "$1" "$2" bridge bridge ipn "$1" link add name "$2" type bridge; }
ensure_tap() { _ensure_dev "$1" "$2" tun tap ipn "$1" tuntap add dev "$2" mode tap; }
_ensure_dev() {
  local ns=$1 dev=$2 kind=$3 what=$4 have
  shift 4
  if link_json "$ns" "$dev" >/dev/null; then
    have=$(link_get "$ns" "$dev" .linkinfo.info_kind)
    [ "$have" = "$kind" ] || die "${ns:+$ns:}$dev exists but is a ${have:-plain} device, not a $what; refusing to touch it"
    ok "$what ${ns:+$ns:}$dev exists"
  else
    "$@"
    no_ipv6_ll "$ns" "$dev"
    changed "created $what ${ns:+$ns:}$dev"
  fi
}
# ensure_port NS DEV BRIDGE: DEV in NS is a port of BRIDGE.
ensure_port() {
  if [ "$(link_get "$1" "$2" .master)" = "$3" ]; then
    ok "${1:+$1:}$2 is a port of $3"
  else
    ipn "$1" link set dev "$2" master "$3"
    changed "${1:+$1:}$2: a port of bridge $3"
  fi
}
# no_ipv6_ll NS DEV: no IPv6 link-local address on a device ixlab creates, so the sim sends nothing
# from outside its 198.18.0.0/15 addresses (per device, set before it goes up; no sysctl changed).
no_ipv6_ll() { ipn "$1" link set dev "$2" addrgenmode none 2>/dev/null || true; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds, or dies naming DESCRIPTION.
wait_for() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
}

# stop_ns_processes NS: ends everything still running in network namespace NS (it all belongs to the
# lab thing that owns NS: sshd, netserver, qemu, SSH sessions): SIGTERM, then SIGKILL after 5 s.
ns_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }
stop_ns_processes() {
  local ns=$1 pids left i
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  [ -n "${pids// /}" ] || { ok "no processes left in namespace $ns"; return 0; }
  # shellcheck disable=SC2086 # a list of pids
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    ns_empty "$ns" && break
    sleep 0.2
  done
  left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  if [ -n "${left// /}" ]; then
    log "processes in $ns ignored SIGTERM for 5 s; sending SIGKILL to $left"
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $left 2>/dev/null || true
    wait_for 5 "processes of namespace $ns to exit" ns_empty "$ns"
  fi
  changed "stopped processes left in namespace $ns: ${pids% }"
}

# Cleanups registered before the thing they undo exists; run in reverse order on any exit.
_ixlab_cleanups=()
defer() { _ixlab_cleanups+=("$*"); }
_ixlab_run_cleanups() {
  local i
  for ((i = ${#_ixlab_cleanups[@]} - 1; i >= 0; i--)); do eval "${_ixlab_cleanups[$i]}" || true; done
}
trap _ixlab_run_cleanups EXIT
