#!/usr/bin/env bash
# Installs everything ixlab needs on this machine, idempotently: Debian packages, npm packages, the
# Pulumi toolchain and actionlint (built from source once), the sim's passphrase file and git's
# filter for the machine-specific line Pulumi writes into stack files. Quick when all is already there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
step() { printf '==> %s\n' "$*"; }

# Debian packages: the list lives in one file so CI, the README and this script agree.
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' scripts/debian-packages.txt)
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  [ "$(id -u)" = 0 ] || { echo "setup: installing packages needs root (or: sudo apt-get install ${missing[*]})" >&2; exit 1; }
  # netperf lives in Debian's non-free component.
  if ! grep -rqs 'non-free\b' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    step "enabling Debian's non-free component (for netperf)"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed -i -E '/^Components:/{/non-free( |$)/!s/$/ non-free/}' /etc/apt/sources.list.d/debian.sources
    else
      sed -i -E '/^deb /{/ non-free( |$)/!s/$/ non-free/}' /etc/apt/sources.list
    fi
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # openssh-server and netperf would start their daemons on this machine; the sim starts its own,
  # inside namespaces. policy-rc.d exiting 101 tells the packages' scripts not to start services.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  step "Debian packages: all ${#wanted[@]} present"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
else
  step "npm packages: up to date"
fi

step "Pulumi toolchain"
bin=$(scripts/toolchain.sh)
"$bin/pulumi" version | sed 's/^/    pulumi /'

step "actionlint (the workflow tests lint .github/workflows/ with it; built from source once)"
scripts/actionlint.sh >/dev/null

conf="${XDG_CONFIG_HOME:-$HOME/.config}/ixlab"
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] && [ ! -s "$conf/passphrase" ]; then
  step "generating this machine's passphrase for sim stack secrets ($conf/passphrase, mode 0600)"
  mkdir -p "$conf"
  (umask 077 && head -c 32 /dev/urandom | base64 >"$conf/passphrase")
fi

# Pulumi writes the stack's encryptionsalt (tied to this machine's passphrase) into Pulumi.sim.yaml;
# this clean filter keeps that line out of commits (see .gitattributes).
if git rev-parse --git-dir >/dev/null 2>&1; then
  git config filter.ixlab-stack-salt.clean "sed -e '/^encryptionsalt: /d'"
  git config filter.ixlab-stack-salt.smudge cat
fi
step "ready"
