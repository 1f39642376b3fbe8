#!/usr/bin/env bash
# vm.sh: VM lab hosts by hand, without Pulumi, from the same roles a VM lab uses (roles/vm-*.sh), for
# trying things on a VM host (kernels, reboots, vhost-net) before a lab is written for them.
#   scripts/vm.sh image                        build (once) and print the host image
#   scripts/vm.sh --ns NS --net 198.18.X.0/24 boot NAME [--wire W]... [--cpus N] [--memory MiB] [--qemu-arg A]...
#   scripts/vm.sh --ns NS ssh NAME [-- COMMAND...]
#   scripts/vm.sh --ns NS stop NAME            stop the VM and remove its overlay
#   scripts/vm.sh --ns NS destroy              every VM, wire and the namespace
# boot makes the namespace NS with its management bridge at .1 of --net (this machine at .254), the
# VM at .10 and up (in boot order), one data NIC per --wire (eth1, eth2, ... inside; VMs naming the
# same wire are cabled together), and waits for its sshd. State (the key, known_hosts, which VM has
# which address) lives in /run/ixlab/vm-try/NS. Use a namespace and a /24 of your own in
# 198.18.0.0/15 (the uplink's route would clash with another lab's).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${IXLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ixlab}/vm
die() { printf 'vm.sh: error: %s\n' "$*" >&2; exit 2; }

ns='' net=''
while [ $# -gt 0 ]; do
  case $1 in
    --ns) ns=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "no command (image, boot, ssh, stop, destroy)"
cmd=$1
shift

image() { bash "$root/roles/vm-image.sh" create --cache "$cache" | sed -n 's/^facts: //p' | jq -r .image; }

[ "$cmd" = image ] && { image; exit 0; }
[ -n "$ns" ] || die "--ns NS is required"
state=/run/ixlab/vm-try/$ns
base() { jq -r .net "$state/lab.json"; }
addr() { local n; n=$(awk -v h="$1" '$1 == h {print $2}' "$state/hosts"); [ -n "$n" ] || die "no VM $1 in $ns"; printf '%s.%s\n' "$(base | cut -d. -f1-3)" "$n"; }
mac() { printf '52:54:00:%s\n' "$(printf '%s' "$*" | sha256sum | sed -E 's/^(..)(..)(..).*/\1:\2:\3/')"; }

case $cmd in
  boot)
    name=${1:?boot needs a VM name}
    shift
    wires=() qemu=() cpus=1 memory=1024
    while [ $# -gt 0 ]; do
      case $1 in
        --wire) wires+=("$2"); shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --memory) memory=$2; shift 2 ;;
        --qemu-arg) qemu+=(--qemu-arg "$2"); shift 2 ;;
        *) die "boot: unknown flag $1" ;;
      esac
    done
    mkdir -p "$state" && chmod 0700 "$state"
    if [ ! -f "$state/lab.json" ]; then
      [[ $net =~ ^198\.1[89]\.[0-9]+\.0/24$ ]] || die "--net must be a /24 in 198.18.0.0/15 (e.g. 198.18.30.0/24)"
      jq -n --arg net "$net" '{net: $net}' >"$state/lab.json"
      ssh-keygen -q -t ed25519 -N '' -C "ixlab-vm-try-$ns" -f "$state/id_ed25519"
      : >"$state/hosts"
    fi
    pre=$(base | cut -d. -f1-3)
    bash "$root/roles/vm-net.sh" create --ns "$ns" --bridge mgmt --address "$pre.1/24" --uplink "${ns:0:15}" --uplink-address "$pre.254/24" >/dev/null
    grep -q "^$name " "$state/hosts" || echo "$name $((10 + $(wc -l <"$state/hosts")))" >>"$state/hosts"
    n=$(awk -v h="$name" '$1 == h {print $2}' "$state/hosts")
    nics=() i=1
    for w in "${wires[@]}"; do
      tap="d$n.$w"
      tap=${tap:0:15}
      echo "$w $tap" >>"$state/wires"
      sort -u -o "$state/wires" "$state/wires"
      mapfile -t taps < <(awk -v w="$w" '$1 == w {print "--tap\n" $2}' "$state/wires")
      bash "$root/roles/vm-wire.sh" create --ns "$ns" --bridge "w.$w" "${taps[@]}" --mtu 1500 >/dev/null
      nics+=(--nic "$(mac "$ns" "$name" "$w"),eth$i,$tap,1500")
      i=$((i + 1))
    done
    img=$(image)
    bash "$root/roles/vm-host.sh" create --ns "$ns" --name "$name" --dir "$cache/try/$ns/$name" --image "$img" \
      --bridge mgmt --tap "m$n" --mac "$(mac "$ns" "$name" mgmt)" --address "$pre.$n/24" \
      --authorized-key "$(cat "$state/id_ed25519.pub")" --cpus "$cpus" --memory "$memory" "${nics[@]}" "${qemu[@]}" |
      tee "$state/$name.out" | grep -v '^facts:'
    jq -r '"\(.address) \(.hostKey)"' < <(sed -n 's/^facts: //p' "$state/$name.out") >"$state/$name.known_hosts"
    echo "ssh: scripts/vm.sh --ns $ns ssh $name   (console: $cache/try/$ns/$name/console.log, QMP: $cache/try/$ns/$name/qmp.sock)"
    ;;
  ssh)
    name=${1:?ssh needs a VM name}
    shift
    [ "${1:-}" != -- ] || shift
    exec ssh -i "$state/id_ed25519" -o UserKnownHostsFile="$state/$name.known_hosts" -o StrictHostKeyChecking=yes \
      -o BatchMode=yes -o ConnectTimeout=10 "root@$(addr "$name")" "$@"
    ;;
  stop)
    name=${1:?stop needs a VM name}
    n=$(awk -v h="$name" '$1 == h {print $2}' "$state/hosts")
    bash "$root/roles/vm-host.sh" delete --ns "$ns" --name "$name" --dir "$cache/try/$ns/$name" --tap "m$n"
    ;;
  destroy)
    if [ -f "$state/hosts" ]; then
      while read -r name n; do
        bash "$root/roles/vm-host.sh" delete --ns "$ns" --name "$name" --dir "$cache/try/$ns/$name" --tap "m$n" | grep -v '^ok:' || true
      done <"$state/hosts"
    fi
    bash "$root/roles/vm-net.sh" delete --ns "$ns" --uplink "${ns:0:15}"
    rm -rf "$state" "$cache/try/$ns"
    rmdir "$cache/try" 2>/dev/null || true
    rmdir "$(dirname "$state")" 2>/dev/null || true
    ;;
  *) die "unknown command $cmd (image, boot, ssh, stop, destroy)" ;;
esac
