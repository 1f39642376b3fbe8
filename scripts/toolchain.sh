#!/usr/bin/env bash
# Puts a real Pulumi toolchain on this machine without downloading any prebuilt binary: the CLI, the
# Node.js language host and the dynamic-provider launcher, built from the Go module proxy at pinned
# versions into a per-user cache keyed by those versions, and the command provider
# (pulumi-resource-command), built from its vendored source with its dependencies from the proxy.
# A second call costs a stat.
#
#   scripts/toolchain.sh            ensure the toolchain, print its bin directory
#   scripts/toolchain.sh --check    exit 0 if it is there and complete, 1 (with the reason) if not
#
# Where a pulumi 3.x CLI is already on PATH (and it is not ours), that one is used instead.
set -euo pipefail

PULUMI_VERSION=v3.274.1
# The language host has had its own go.mod (and no tags) since v3.69.0; the module proxy here serves
# no pseudo-version of it, so the host comes from the last sdk/v3 release that still contained it.
# It speaks the same LanguageRuntime protocol; the CLI and the @pulumi/pulumi npm package are current.
NODEJS_HOST_VERSION=v3.68.0
# The command provider the @pulumi/command npm package (package.json) drives; the module proxy
# refuses its module, so it is built from ../shared/vendor/pulumi-command (unmodified upstream).
COMMAND_VERSION=1.2.1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${IXLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ixlab}
key="pulumi-${PULUMI_VERSION}_nodejs-${NODEJS_HOST_VERSION}_$(go env GOVERSION 2>/dev/null || echo nogo)"
dest="$cache/toolchain/$key"
mode=${1:-ensure}

log() { printf 'toolchain: %s\n' "$*" >&2; }

foreign_pulumi() {
  local p
  p=$(command -v pulumi 2>/dev/null) || return 1
  case "$p" in "$cache"/*) return 1 ;; esac
  "$p" version 2>/dev/null | grep -q '^v3\.' && dirname "$p"
}

cli_complete() {
  [ -f "$dest/.complete" ] && [ -x "$dest/bin/pulumi" ] && [ -x "$dest/bin/pulumi-language-nodejs" ] &&
    [ -x "$dest/bin/pulumi-resource-pulumi-nodejs" ]
}
# The provider is a piece of its own: a toolchain built before it gets it without a CLI rebuild. It is
# registered in Pulumi's plugin cache, where the engine finds the version the SDK asks for; env.sh
# turns off the engine's search of PATH (which would warn at every run that it uses an ambient plugin).
command_bin="$dest/bin/pulumi-resource-command"
plugin_dir="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-command-v$COMMAND_VERSION"
command_built() {
  [ -x "$command_bin" ] && [ "$(cat "$dest/.command-version" 2>/dev/null)" = "$COMMAND_VERSION" ]
}
command_registered() {
  # Same size as the build: cheap enough for every env.sh, and a new build differs in size.
  [ -x "$plugin_dir/pulumi-resource-command" ] && [ ! -e "$plugin_dir.partial" ] &&
    [ "$(stat -c %s "$command_bin")" = "$(stat -c %s "$plugin_dir/pulumi-resource-command")" ]
}
register_command() {
  "$dest/bin/pulumi" plugin install resource command "$COMMAND_VERSION" --file "$command_bin" --reinstall >/dev/null
}
command_complete() { command_built && command_registered; }
complete() { cli_complete && command_complete; }

# The vendored sources sit beside the repository (../shared/vendor); a git worktree elsewhere finds
# them beside its main checkout.
vendor_dir() {
  local d common
  for d in "${IXLAB_VENDOR:-}" "$here/../shared/vendor"; do
    [ -n "$d" ] && [ -d "$d/pulumi-command/provider" ] && { (cd "$d" && pwd); return 0; }
  done
  common=$(git -C "$here" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) || return 1
  d="$(dirname "$common")/../shared/vendor"
  [ -d "$d/pulumi-command/provider" ] && (cd "$d" && pwd)
}

if dir=$(foreign_pulumi); then
  echo "$dir"
  exit 0
fi
# The plugins the CLI starts are ixlab's own wrappers (tools/toolchain/): Pulumi's launcher and
# language host, each ending when its engine is gone. A built toolchain gets the current ones without
# a rebuild.
WRAPPERS="pulumi-resource-pulumi-nodejs pulumi-language-nodejs"
wrappers_current() {
  local f
  [ -x "$1/pulumi-language-nodejs.real" ] || return 1
  for f in $WRAPPERS; do cmp -s "$here/tools/toolchain/$f" "$1/$f" || return 1; done
}
install_wrappers() { # install_wrappers BINDIR
  local f
  # A toolchain built before the wrappers has the language host itself under the wrapper's name;
  # copied, then replaced atomically, so a pulumi starting meanwhile always finds one.
  if [ ! -e "$1/pulumi-language-nodejs.real" ]; then
    cp -p "$1/pulumi-language-nodejs" "$1/.pulumi-language-nodejs.real.new"
    mv "$1/.pulumi-language-nodejs.real.new" "$1/pulumi-language-nodejs.real"
  fi
  for f in $WRAPPERS; do
    install -m 0755 "$here/tools/toolchain/$f" "$1/.$f.new"
    mv "$1/.$f.new" "$1/$f"
  done
}
# Two small files, no build: --check puts them right too, and registers a built provider.
if cli_complete && ! wrappers_current "$dest/bin"; then
  install_wrappers "$dest/bin"
  log "updated the plugin wrappers in $dest"
fi
if cli_complete && command_built && ! command_registered; then
  register_command
  log "registered the command provider $COMMAND_VERSION in $plugin_dir"
fi
if complete; then
  echo "$dest/bin"
  exit 0
fi
if [ "$mode" = "--check" ]; then
  if cli_complete; then
    log "not built: the command provider $COMMAND_VERSION is missing from $dest/bin (run scripts/toolchain.sh)"
  else
    log "not built: $dest is missing or incomplete (run scripts/toolchain.sh)"
  fi
  exit 1
fi
command -v go >/dev/null || { log "needs Go (1.26 or newer) to build the Pulumi toolchain from source"; exit 1; }

mkdir -p "$cache/toolchain"
# One builder at a time per machine; a second caller waits, then finds the result.
exec 9>"$cache/toolchain/.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if complete; then
  echo "$dest/bin"
  exit 0
fi

export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS="-mod=readonly -trimpath" GOTOOLCHAIN=local
work=$(mktemp -d "$cache/toolchain/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
start=$SECONDS

build() { # build NAME MODULE_DIR PACKAGE VERSION_VAR VERSION
  local name=$1 moddir=$2 pkg=$3 var=$4 version=$5
  cp -r "$here/tools/toolchain/$moddir" "$work/$moddir"
  log "[$name] downloading modules and compiling $pkg@$version (cold: minutes on 2 cores)"
  (cd "$work/$moddir" && go build -o "$work/bin/$name" -ldflags "-s -w -X $var=$version" "$pkg")
  log "[$name] done at $((SECONDS - start)) s"
}

if ! cli_complete; then
  build pulumi cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    github.com/pulumi/pulumi/sdk/v3/go/common/version.Version "$PULUMI_VERSION"
  build pulumi-language-nodejs nodejs-host github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
    github.com/pulumi/pulumi/sdk/v3/go/common/version.Version "$NODEJS_HOST_VERSION"
  # The launcher for dynamic providers (Pulumi's, from the SDK's sources) and the language host, each
  # with a watch on its engine.
  install_wrappers "$work/bin"
  "$work/bin/pulumi" version >/dev/null
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$work/bin" "$dest/bin"
  date -u +%FT%TZ >"$dest/.complete"
  log "built the CLI in $((SECONDS - start)) s into $dest"
fi

if ! command_built; then
  src=$(vendor_dir) || { log "needs the command provider's source in ../shared/vendor/pulumi-command (or IXLAB_VENDOR=DIR)"; exit 1; }
  mkdir -p "$work/command"
  log "[pulumi-resource-command] downloading modules and compiling $COMMAND_VERSION from $src/pulumi-command (cold: about 3.5 min on 2 cores)"
  # Built in place: go build writes only to the Go caches and -o, never into the vendored tree.
  (cd "$src/pulumi-command" && go build -o "$work/command/pulumi-resource-command" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_VERSION" ./provider/cmd/pulumi-resource-command)
  mv "$work/command/pulumi-resource-command" "$command_bin"
  echo "$COMMAND_VERSION" >"$dest/.command-version"
  log "[pulumi-resource-command] done at $((SECONDS - start)) s"
fi
command_registered || register_command
log "ready in $((SECONDS - start)) s: $dest ($(du -sh "$dest" | cut -f1); Go caches: $(du -sh "$cache/go" | cut -f1))"
echo "$dest/bin"
