# shellcheck shell=bash
# Source this to run `pulumi` by hand the way ixlab's own commands do:
#   source scripts/env.sh && pulumi preview --stack sim
# It puts the toolchain on PATH and, unless you set them yourself, points Pulumi at the local state
# directory and at this machine's generated passphrase file. It changes nothing else.
IXLAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export IXLAB_ROOT
export IXLAB_CACHE=${IXLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ixlab}
if _ixlab_bin=$("$IXLAB_ROOT/scripts/toolchain.sh" --check 2>/dev/null); then
  case ":$PATH:" in *":$_ixlab_bin:"*) ;; *) export PATH="$_ixlab_bin:$PATH" ;; esac
  # ixlab's own toolchain: the engine takes its language host and launcher from beside the CLI and
  # the command provider from the plugin cache (toolchain.sh registers it), not from PATH.
  case $_ixlab_bin in "$IXLAB_CACHE"/*) export PULUMI_IGNORE_AMBIENT_PLUGINS=true ;; esac
else
  echo "ixlab: the Pulumi toolchain is not built yet; run: npm run setup" >&2
fi
unset _ixlab_bin
# Real labs set PULUMI_BACKEND_URL (and their own secrets provider); the sim keeps state in .ixlab/state.
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="file://$IXLAB_ROOT/.ixlab/state"
  mkdir -p "$IXLAB_ROOT/.ixlab/state"
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE_FILE="${XDG_CONFIG_HOME:-$HOME/.config}/ixlab/passphrase"
fi
export PULUMI_SKIP_UPDATE_CHECK=true
# The CLI must never try to fetch a plugin from the internet; every plugin is on PATH.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Type checking is `npm run build`'s job; the program itself starts faster without it.
export PULUMI_NODEJS_TRANSPILE_ONLY=${PULUMI_NODEJS_TRANSPILE_ONLY:-true}
