#!/usr/bin/env bash
# Runs a workflow of .github/workflows/ for real on this machine, as a forge would, before any forge is
# wired: nektos/act in host mode (no Docker), the real actions/checkout fetching from a bare copy of the
# repository served on loopback, the real actions/upload-artifact sending to act's artifact server, a
# generated event, secrets from a mode-0600 file that is removed afterwards, and the runner labels the
# workflows ask for mapped to this machine. act and upload-artifact are built from source once
# (tools/act/go.mod pins act; upload-artifact from the vendored sources), into the ixlab cache. Nothing
# calls home: ACT_DISABLE_VERSION_CHECK=1, no cache server, every address is 127.0.0.1.
#
#   scripts/act.sh [--check]                 build act and upload-artifact if missing (--check: only say)
#   scripts/act.sh run WORKFLOW EVENT [OPTION...]
#
# WORKFLOW is a file of .github/workflows/ without .yml (pull-request, deploy, drift, bench, destroy),
# read from the commit that runs; EVENT is pull_request, push, schedule or workflow_dispatch.
#   --repo DIR          the repository whose commits run (default: this one; uncommitted changes do not run)
#   --base REV          pull_request: the base (default main); the PR runs on its merge with the head,
#   --head REV            like GitHub's refs/pull/N/merge (default head: HEAD)
#   --before REV        push: where main was before the push (default main~1); the push is of main
#   --input NAME=VALUE  a workflow_dispatch input (repeatable)
#   --var NAME=VALUE    a repository variable (repeatable), e.g. IXLAB_STACKS=sim
#   --secret NAME       a secret whose value is this environment's $NAME (repeatable). Without any:
#                       PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE, by default those of scripts/env.sh
#   --out DIR           keep there: act.log, summaries/JOB.md (each job's summary) and artifacts/
# Exit status: act's (0 when every job succeeded), 2 for bad input.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
moddir="$here/tools/act"
cache=${IXLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ixlab}

say() { printf 'act: %s\n' "$*" >&2; }
die() { # die STATUS MESSAGE
  local status=$1
  shift
  say "$*"
  exit "$status"
}

version=$(sed -n 's|^require github.com/nektos/act \(v[^ ]*\)$|\1|p' "$moddir/go.mod")
[ -n "$version" ] || die 1 "no pinned version in tools/act/go.mod"
act_dest="$cache/tools/act-${version}_$(go env GOVERSION 2>/dev/null || echo nogo)"
act_bin="$act_dest/act"

# Third-party action sources, kept unmodified next to the project (see their README there).
vendor=${IXLAB_VENDOR:-}
if [ -z "$vendor" ]; then
  for v in "$here/../shared/vendor" "$here/../../shared/vendor"; do
    if [ -d "$v/checkout" ]; then vendor=$(cd "$v" && pwd) && break; fi
  done
fi
if [ -z "$vendor" ] || [ ! -f "$vendor/checkout/action.yml" ] || [ ! -f "$vendor/upload-artifact/package.json" ]; then
  die 1 "no vendored actions (checkout, upload-artifact) at ../shared/vendor from the project root; set IXLAB_VENDOR to their folder"
fi
upload_version=$(jq -r .version "$vendor/upload-artifact/package.json")
upload_dest="$cache/tools/upload-artifact-v$upload_version"

built() { # built DEST FILE
  [ -f "$1/.complete" ] && [ -e "$1/$2" ]
}

build_act() {
  built "$act_dest" act && return 0
  command -v go >/dev/null || die 1 "needs Go to build act $version from source"
  local work start=$SECONDS
  work=$(mktemp -d "$cache/tools/.act.XXXXXX")
  say "building github.com/nektos/act $version from the Go module proxy"
  cp -r "$moddir" "$work/mod"
  (cd "$work/mod" && GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS="-mod=readonly -trimpath" GOTOOLCHAIN=local \
    go build -o "$work/act" -ldflags "-s -w -X main.version=$version" github.com/nektos/act)
  ACT_DISABLE_VERSION_CHECK=1 "$work/act" --version >/dev/null
  rm -rf "$act_dest"
  mkdir -p "$act_dest"
  mv "$work/act" "$act_bin"
  rm -rf "$work"
  date -u +%FT%TZ >"$act_dest/.complete"
  say "built act in $((SECONDS - start)) s into $act_dest"
}

build_upload_artifact() {
  built "$upload_dest" dist/upload/index.js && return 0
  local work start=$SECONDS
  work=$(mktemp -d "$cache/tools/.upload-artifact.XXXXXX")
  say "building actions/upload-artifact $upload_version from its vendored source (npm ci, npm run release)"
  cp -r "$vendor/upload-artifact" "$work/src"
  chmod -R u+w "$work/src"
  (cd "$work/src" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null && npm run -s release >/dev/null)
  [ -f "$work/src/dist/upload/index.js" ] || die 1 "building upload-artifact gave no dist/upload/index.js"
  rm -rf "$upload_dest"
  mkdir -p "$upload_dest"
  cp -r "$work/src/action.yml" "$work/src/LICENSE" "$work/src/dist" "$upload_dest/"
  rm -rf "$work"
  date -u +%FT%TZ >"$upload_dest/.complete"
  say "built upload-artifact in $((SECONDS - start)) s into $upload_dest"
}

ensure() {
  if built "$act_dest" act && built "$upload_dest" dist/upload/index.js; then return 0; fi
  mkdir -p "$cache/tools"
  # One builder at a time per machine; a second caller waits, then finds the result.
  exec 9>"$cache/tools/.act.lock"
  flock 9
  build_act
  build_upload_artifact
  exec 9>&-
}

check() {
  local ok=0
  built "$act_dest" act || { say "not built: $act_bin is missing (run scripts/act.sh)"; ok=1; }
  built "$upload_dest" dist/upload/index.js || { say "not built: $upload_dest is missing (run scripts/act.sh)"; ok=1; }
  [ "$ok" = 0 ] && printf '%s\n%s\n' "$act_bin" "$upload_dest"
  return "$ok"
}

free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# The owner/name act and checkout see: from the repository's origin when it names one, else ixlab/ixlab.
repo_slug() {
  local url
  url=$(git -C "$1" config --get remote.origin.url 2>/dev/null || true)
  if [[ $url =~ [/:]([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$ ]]; then
    printf '%s/%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]%.git}"
  else
    echo ixlab/ixlab
  fi
}

tmp=""
server=""
act_pid=""
cleanup() {
  if [ -n "$act_pid" ]; then kill "$act_pid" 2>/dev/null || true; fi
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}

run() {
  local workflow=${1:-} event=${2:-} repo=$here base=main head=HEAD before="" out="" arg
  local inputs=() vars=() secrets=()
  [ $# -ge 2 ] || die 2 "usage: scripts/act.sh run WORKFLOW EVENT [OPTION...] (see the top of scripts/act.sh)"
  shift 2
  while [ $# -gt 0 ]; do
    arg=$1
    [ $# -ge 2 ] || die 2 "$arg: needs a value"
    case "$arg" in
      --repo) repo=$2 ;;
      --base) base=$2 ;;
      --head) head=$2 ;;
      --before) before=$2 ;;
      --out) out=$2 ;;
      --input | --var)
        [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_-]*= ]] || die 2 "$arg: \"$2\" is not NAME=VALUE"
        if [ "$arg" = --input ]; then inputs+=("$2"); else vars+=("$2"); fi
        ;;
      --secret)
        [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die 2 "--secret: \"$2\" is not a secret name"
        [ -n "${!2:-}" ] || die 2 "--secret $2: \$$2 is not set in this environment"
        secrets+=("$2")
        ;;
      *) die 2 "unknown option $arg (see the top of scripts/act.sh)" ;;
    esac
    shift 2
  done
  [[ $workflow =~ ^[A-Za-z0-9_.-]+$ ]] || die 2 "WORKFLOW: \"$workflow\" is not a workflow file name"
  case "$event" in pull_request | push | schedule | workflow_dispatch) ;; *) die 2 "EVENT: \"$event\" is not one of pull_request, push, schedule, workflow_dispatch" ;; esac
  git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die 2 "--repo: \"$repo\" is not a git repository"
  git -C "$repo" rev-parse -q --verify "refs/heads/main^{commit}" >/dev/null || die 2 "--repo: \"$repo\" has no branch main"
  git -C "$repo" cat-file -e "main:.github/workflows/$workflow.yml" 2>/dev/null ||
    [ "$event" = pull_request ] || die 2 "WORKFLOW: main has no .github/workflows/$workflow.yml"
  if [ ${#secrets[@]} -eq 0 ]; then
    # The local backend and passphrase, as scripts/env.sh sets them.
    export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$here/.ixlab/state}
    if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ]; then
      local pf=${PULUMI_CONFIG_PASSPHRASE_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/ixlab/passphrase}
      [ -s "$pf" ] || die 2 "no PULUMI_CONFIG_PASSPHRASE and no passphrase file $pf (run: npm run setup)"
      PULUMI_CONFIG_PASSPHRASE=$(cat "$pf")
      export PULUMI_CONFIG_PASSPHRASE
    fi
    secrets=(PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE)
  fi
  ensure

  trap cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ixlab-act.XXXXXX")
  [ -n "$out" ] || out="$tmp/out"
  mkdir -p "$out/summaries" "$out/artifacts"
  out=$(cd "$out" && pwd)

  # The forge: a bare copy of the repository, served over git's smart HTTP on loopback.
  local slug bare port url
  slug=$(repo_slug "$repo")
  bare="$tmp/git/$slug"
  git clone -q --bare "$repo" "$bare"
  git -C "$bare" symbolic-ref HEAD refs/heads/main
  # actions/checkout fetches the event's commit by its id.
  git -C "$bare" config uploadpack.allowAnySHA1InWant true
  node "$here/tools/act/git-http.js" "$tmp/git" "$tmp/git-http.port" &
  server=$!
  for _ in $(seq 100); do [ -s "$tmp/git-http.port" ] && break; sleep 0.1; done
  [ -s "$tmp/git-http.port" ] || die 1 "the loopback git server did not start"
  port=$(cat "$tmp/git-http.port")
  url="http://127.0.0.1:$port"

  # The event, as the forge would send it.
  local g=(git -C "$bare") sha main repository
  main=$("${g[@]}" rev-parse main)
  repository=$(jq -n --arg slug "$slug" --arg url "$url/$slug" \
    '{full_name: $slug, name: ($slug | split("/")[1]), owner: {login: ($slug | split("/")[0])}, default_branch: "main", html_url: $url, clone_url: $url}')
  case "$event" in
    pull_request)
      local base_sha head_sha tree
      base_sha=$(git -C "$repo" rev-parse --verify -q "$base^{commit}") || die 2 "--base: \"$base\" is not a commit of $repo"
      head_sha=$(git -C "$repo" rev-parse --verify -q "$head^{commit}") || die 2 "--head: \"$head\" is not a commit of $repo"
      # The forge publishes the head and the merge the PR would make; a PR that does not merge cleanly runs nothing.
      "${g[@]}" fetch -q "$repo" "$head_sha:refs/pull/1/head"
      tree=$("${g[@]}" merge-tree --write-tree "$base_sha" "$head_sha") || die 2 "the head $head does not merge cleanly into $base"
      sha=$(GIT_AUTHOR_NAME=act GIT_AUTHOR_EMAIL=act@localhost GIT_COMMITTER_NAME=act GIT_COMMITTER_EMAIL=act@localhost \
        "${g[@]}" commit-tree -p "$base_sha" -p "$head_sha" -m "Merge $head_sha into $base_sha" "$tree")
      "${g[@]}" update-ref refs/pull/1/merge "$sha"
      jq -n --arg base "$base_sha" --arg head "$head_sha" --arg head_ref "$(git -C "$repo" rev-parse --abbrev-ref "$head" 2>/dev/null || echo "$head")" \
        --argjson repository "$repository" \
        '{action: "synchronize", number: 1, repository: $repository, pull_request: {number: 1, title: "act", state: "open",
          base: {ref: "main", sha: $base, repo: $repository}, head: {ref: $head_ref, sha: $head, repo: $repository}}}' >"$tmp/event.json"
      ;;
    push)
      local before_sha
      if [ -z "$before" ]; then
        before_sha=$("${g[@]}" rev-parse -q --verify "main~1" || printf '0%.0s' {1..40})
      else
        before_sha=$(git -C "$repo" rev-parse --verify -q "$before^{commit}") || die 2 "--before: \"$before\" is not a commit of $repo"
      fi
      sha=$main
      jq -n --arg before "$before_sha" --arg after "$main" --argjson repository "$repository" \
        '{ref: "refs/heads/main", before: $before, after: $after, created: false, deleted: false, forced: false,
          head_commit: {id: $after}, repository: $repository}' >"$tmp/event.json"
      ;;
    schedule)
      sha=$main
      jq -n --argjson repository "$repository" '{repository: $repository}' >"$tmp/event.json"
      ;;
    workflow_dispatch)
      sha=$main
      # act ignores --input when given an event file: the inputs must be in the event itself.
      jq -n --arg after "$main" --argjson repository "$repository" \
        '{ref: "refs/heads/main", after: $after, deleted: false, repository: $repository,
          inputs: ($ARGS.positional | map(capture("^(?<key>[^=]+)=(?<value>.*)$"; "s")) | from_entries)}' \
        --args "${inputs[@]}" >"$tmp/event.json"
      ;;
  esac
  [ ${#inputs[@]} -eq 0 ] || [ "$event" = workflow_dispatch ] || die 2 "--input: only a workflow_dispatch event has inputs"

  # act reads the workflow, GITHUB_REPOSITORY (the origin) and GITHUB_SHA (HEAD) from a clone.
  git clone -q --no-checkout "$url/$slug" "$tmp/clone"
  git -C "$tmp/clone" fetch -q origin "$sha"
  git -C "$tmp/clone" checkout -q --detach "$sha"
  git -C "$tmp/clone" remote set-url origin "https://github.com/$slug"
  [ -f "$tmp/clone/.github/workflows/$workflow.yml" ] || die 2 "WORKFLOW: the commit that runs has no .github/workflows/$workflow.yml"

  # Secrets: a private file (JSON, which act reads as YAML), removed with $tmp when this ends.
  # A forge's token (checkout requires one); the loopback server ignores it.
  GITHUB_TOKEN=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  export GITHUB_TOKEN
  (umask 077 && jq -n '$ARGS.positional | map({key: ., value: $ENV[.]}) | from_entries' --args GITHUB_TOKEN "${secrets[@]}" >"$tmp/secrets.yml")

  # Runner labels: self-hosted and ixlab, and ixlab-STACK for each wired stack (IXLAB_STACKS), all this machine.
  local labels=(-P self-hosted=-self-hosted -P ixlab=-self-hosted) v s stacks=()
  for v in "${vars[@]}"; do
    if [ "${v%%=*}" = IXLAB_STACKS ]; then read -ra stacks <<<"${v#*=}"; fi
  done
  for s in ${stacks[@]+"${stacks[@]//,/ }"}; do labels+=(-P "ixlab-$s=-self-hosted"); done
  local var_args=()
  for v in "${vars[@]}"; do var_args+=(--var "$v"); done

  local cmd=("$act_bin" "$event" -C "$tmp/clone" -W ".github/workflows/$workflow.yml" -e "$tmp/event.json"
    "${labels[@]}" --secret-file "$tmp/secrets.yml" --env-file /dev/null --var-file /dev/null --input-file /dev/null
    ${var_args[@]+"${var_args[@]}"}
    --no-skip-checkout --local-repository "actions/checkout@v4=$vendor/checkout"
    --local-repository "actions/upload-artifact@v4=$upload_dest"
    --defaultbranch main
    --action-cache-path "$tmp/act" --no-cache-server --rm
    --artifact-server-path "$out/artifacts" --artifact-server-addr 127.0.0.1 --artifact-server-port "$(free_port)")
  # In host mode the jobs inherit act's environment: give it only what a runner's would have, and a
  # TMPDIR of the run's own, so nothing a job leaves there outlives the run.
  mkdir "$tmp/tmp"
  local keep=(HOME="$HOME" PATH="$PATH" LANG="${LANG:-C.UTF-8}" USER="${USER:-$(id -un)}" LOGNAME="${LOGNAME:-$(id -un)}" TMPDIR="$tmp/tmp")
  # The jobs see github.com, as the actions expect (upload-artifact refuses any other server), and
  # every git among them fetches github.com's URLs from the loopback server instead.
  keep+=(GIT_CONFIG_COUNT=1 "GIT_CONFIG_KEY_0=url.$url/.insteadOf" GIT_CONFIG_VALUE_0=https://github.com/)
  for v in IXLAB_CACHE XDG_CACHE_HOME XDG_CONFIG_HOME; do [ -z "${!v:-}" ] || keep+=("$v=${!v}"); done
  local status=0 start=$SECONDS
  say "running $workflow.yml on $event at ${sha:0:12} ($slug served at $url)"
  env -i "${keep[@]}" ACT_DISABLE_VERSION_CHECK=1 IXLAB_ACT_SUMMARY_DIR="$out/summaries" "${cmd[@]}" > >(tee "$out/act.log") 2>&1 &
  act_pid=$!
  wait "$act_pid" || status=$?
  act_pid=""
  say "$workflow.yml on $event: exit $status after $((SECONDS - start)) s"
  return "$status"
}

case "${1:-}" in
  "") ensure && check ;;
  --check) check ;;
  run)
    shift
    run "$@"
    ;;
  *) die 2 "usage: scripts/act.sh [--check] | scripts/act.sh run WORKFLOW EVENT [OPTION...] (see the top of scripts/act.sh)" ;;
esac
