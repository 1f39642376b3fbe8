#!/usr/bin/env bash
# Puts actionlint (the GitHub Actions workflow linter the tests run on .github/workflows/) on this
# machine without downloading a prebuilt binary: built from the Go module proxy at the version pinned in
# tools/actionlint/go.mod (go.sum checks every module), into the same per-user cache as the Pulumi
# toolchain. A second call costs a stat. actionlint runs shellcheck on `run:` blocks when it is on PATH.
#
#   scripts/actionlint.sh            ensure actionlint, print its path
#   scripts/actionlint.sh --check    exit 0 (printing the path) if it is built, 1 with the reason if not
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
moddir="$here/tools/actionlint"
version=$(sed -n 's|^require github.com/rhysd/actionlint \(v[^ ]*\)$|\1|p' "$moddir/go.mod")
[ -n "$version" ] || { echo "actionlint: no pinned version in tools/actionlint/go.mod" >&2; exit 1; }
cache=${IXLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ixlab}
dest="$cache/tools/actionlint-${version}_$(go env GOVERSION 2>/dev/null || echo nogo)"
bin="$dest/actionlint"
mode=${1:-ensure}

log() { printf 'actionlint: %s\n' "$*" >&2; }
complete() { [ -f "$dest/.complete" ] && [ -x "$bin" ]; }

if complete; then
  echo "$bin"
  exit 0
fi
if [ "$mode" = "--check" ]; then
  log "not built: $bin is missing (run scripts/actionlint.sh)"
  exit 1
fi
command -v go >/dev/null || { log "needs Go to build actionlint $version from source"; exit 1; }

mkdir -p "$cache/tools"
# One builder at a time per machine; a second caller waits, then finds the result.
exec 9>"$cache/tools/.actionlint.lock"
flock 9
if complete; then
  echo "$bin"
  exit 0
fi

export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS="-mod=readonly -trimpath" GOTOOLCHAIN=local
work=$(mktemp -d "$cache/tools/.actionlint.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS
log "building github.com/rhysd/actionlint $version from the Go module proxy"
cp -r "$moddir" "$work/mod"
(cd "$work/mod" && go build -o "$work/actionlint" \
  -ldflags "-s -w -X github.com/rhysd/actionlint.version=$version" github.com/rhysd/actionlint/cmd/actionlint)
"$work/actionlint" -version >/dev/null
rm -rf "$dest"
mkdir -p "$dest"
mv "$work/actionlint" "$bin"
date -u +%FT%TZ >"$dest/.complete"
log "built in $((SECONDS - start)) s into $dest"
echo "$bin"
