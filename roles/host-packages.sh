#!/usr/bin/env bash
# host-packages: the Debian packages a lab host needs (netperf, ethtool, ...), installed with apt-get
# when missing. An install never starts a service: netperf's and openssh-server's maintainer scripts
# would otherwise start a netserver or sshd on the host, outside ixlab's control (a policy-rc.d that
# exits 101 tells invoke-rc.d "not now"; ours is there only during the install).
#   host-packages.sh create|check|delete --packages "netperf ethtool ..."
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POLICY=/usr/sbin/policy-rc.d
opt_packages=''
packages=()

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

do_create() {
  local p missing=()
  for p in "${packages[@]}"; do
    if installed "$p"; then ok "package $p installed"; else missing+=("$p"); fi
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ ! -e "$POLICY" ]; then
    defer "rm -f '$POLICY'"
    printf '#!/bin/sh\n# Written by ixlab host-packages for the duration of an install: start no service.\nexit 101\n' >"$POLICY"
    chmod 0755 "$POLICY"
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
  for p in "${missing[@]}"; do
    installed "$p" || die "package $p is still not installed after apt-get install"
    changed "installed package $p"
  done
}

do_check() {
  local p missing=()
  for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] || wrong "missing packages: ${missing[*]}"
}

# Uninstalls nothing: the packages may have been on the host before the lab, other users of the host
# may need them, and removing them would not give back the host's previous state anyway
# (dependencies pulled in, configuration files). A lab leaves software behind, never removes it.
do_delete() {
  ok "packages left installed: ${packages[*]}"
}

main() {
  parse_args "create check delete" "packages" "$@"
  need_flags packages
  read -ra packages <<<"$opt_packages"
  local p
  for p in "${packages[@]}"; do
    [[ $p =~ ^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?$ ]] || usage_error "not a Debian package name: '$p'"
  done
  [ ${#packages[@]} -gt 0 ] || usage_error "--packages names no package"
  run_action
}

main "$@" </dev/null
