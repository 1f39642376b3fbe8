#!/usr/bin/env bash
# vhost-net: the zero-copy switch of a variant, vhost_net's experimental_zcopytx module parameter. It
# can only be set when the module loads, so a different value means unloading and reloading
# vhost_net, which the kernel allows only while no guest holds /dev/vhost-net: then this refuses,
# naming the users (pulumi up stops the guests first, since they depend on this). On a real host the
# value is also written to /etc/modprobe.d/ixlab-vhost_net.conf so it survives the reboot a kernel
# install makes.
#   vhost-net.sh create|check|delete --zcopytx 0|1 [--no-load]
# --no-load (sim labs): never load, unload or configure modules, which would change the whole
# machine: report what is there and what was asked instead (vhost_net absent: nothing to apply, the
# guests run QEMU's userspace virtio; present with another value: an error).
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_zcopytx="" opt_no_load=0
MOD=/sys/module/vhost_net
CONF=${IXLAB_SYS_ROOT:-}/etc/modprobe.d/ixlab-vhost_net.conf

current() { cat "$MOD/parameters/experimental_zcopytx" 2>/dev/null; }
# The parameter reads Y/N on some kernels and 1/0 on others.
as_bit() { case $1 in 1 | Y | y) echo 1 ;; *) echo 0 ;; esac; }
users() { cat "$MOD/refcnt" 2>/dev/null || echo 0; }

facts() {
  jq -cn --arg loaded "$([ -d "$MOD" ] && echo true || echo false)" --arg cur "$(current || true)" --arg want "$opt_zcopytx" \
    --arg dev "$([ -c /dev/vhost-net ] && echo true || echo false)" --arg users "$(users)" '
    {loaded: ($loaded == "true"), devVhostNet: ($dev == "true"), requested: ($want | tonumber),
     zcopytx: (if $cur == "" then null else ($cur | if . == "Y" then 1 elif . == "N" then 0 else tonumber end) end),
     users: ($users | tonumber)}
    | .applied = (.zcopytx == .requested)'
}

reload() {
  local n
  n=$(users)
  [ "$n" = 0 ] || die "vhost_net has experimental_zcopytx=$(current) and is held by $n user(s) (guests with vhost on); stop them before switching to $opt_zcopytx"
  modprobe -r vhost_net || die "could not unload vhost_net to change experimental_zcopytx"
  modprobe vhost_net "experimental_zcopytx=$opt_zcopytx" || die "could not load vhost_net experimental_zcopytx=$opt_zcopytx"
}

do_create() {
  local cur
  if [ -d "$MOD" ]; then
    cur=$(as_bit "$(current)")
    if [ "$cur" = "$opt_zcopytx" ]; then
      ok "vhost_net is loaded with experimental_zcopytx=$cur"
    elif [ "$opt_no_load" = 1 ]; then
      die "vhost_net on this machine has experimental_zcopytx=$cur, not $opt_zcopytx, and a sim never reloads this machine's modules"
    else
      reload
      changed "reloaded vhost_net: experimental_zcopytx $cur -> $opt_zcopytx"
    fi
  elif [ "$opt_no_load" = 1 ]; then
    ok "vhost_net is not loaded here and a sim does not load it: experimental_zcopytx=$opt_zcopytx is not applied (guests use QEMU's userspace virtio-net)"
  else
    modprobe vhost_net "experimental_zcopytx=$opt_zcopytx" ||
      die "could not load vhost_net (is the running kernel built with CONFIG_VHOST_NET? see kernel-configs/kvm-host-vhost.config)"
    changed "loaded vhost_net with experimental_zcopytx=$opt_zcopytx"
  fi
  if [ "$opt_no_load" = 0 ]; then
    if [ "$(cat "$CONF" 2>/dev/null)" = "options vhost_net experimental_zcopytx=$opt_zcopytx" ]; then
      ok "$CONF keeps experimental_zcopytx=$opt_zcopytx across reboots"
    else
      mkdir -p "$(dirname "$CONF")"
      printf 'options vhost_net experimental_zcopytx=%s\n' "$opt_zcopytx" >"$CONF"
      changed "wrote $CONF (experimental_zcopytx=$opt_zcopytx)"
    fi
  fi
  printf 'facts: %s\n' "$(facts)"
}

do_check() {
  if [ -d "$MOD" ]; then
    [ "$(as_bit "$(current)")" = "$opt_zcopytx" ] || wrong "vhost_net has experimental_zcopytx=$(current), not $opt_zcopytx"
  elif [ "$opt_no_load" = 0 ]; then
    wrong "vhost_net is not loaded"
  fi
}

do_delete() {
  # The module stays loaded: unloading would take vhost from guests ixlab does not manage.
  if [ "$opt_no_load" = 0 ] && [ -e "$CONF" ]; then rm -f "$CONF"; changed "removed $CONF"; else ok "nothing to undo"; fi
}

main() {
  parse_args "create check delete" "zcopytx no-load!" "$@"
  need_flags zcopytx
  case $opt_zcopytx in 0 | 1) ;; *) usage_error "--zcopytx '$opt_zcopytx' is not 0 or 1" ;; esac
  run_action
}

main "$@" </dev/null
