#!/usr/bin/env bash
# Builds one kernel variant on the builder: source + ordered patch series + config fragments merged
# onto a base config, verified (every option a fragment set must survive olddefconfig), compiled with
# ccache. Outputs land in --out, keyed by --key (a content hash of all inputs the caller computed), so
# the same inputs never compile twice; the build tree (--tree) is kept per kernel so a small change
# rebuilds incrementally.
#   kernel-build.sh create|check|delete --key K --out DIR --tree DIR
#       (--source-tarball FILE | --git-url URL|PATH --git-ref REF --git-commit SHA)
#       [--prepare-only] [--patch FILE]... [--base tinyconfig|defconfig|allnoconfig|running|FILE]
#       [--fragment FILE]... [--localversion -x] [--target bzImage|deb] [--jobs N] [--ccache DIR]
# --patch and --fragment repeat, one path each, in order: paths stay whole (a clone under a
# directory with a space in its name builds like any other).
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_key="" opt_out="" opt_tree="" opt_source_tarball="" opt_base=defconfig opt_target=bzImage
opt_patch=() opt_fragment=() opt_patches="" opt_fragments="" opt_localversion="" opt_jobs="" opt_ccache=""
opt_git_url="" opt_git_ref="" opt_git_commit="" opt_prepare_only=""

built() { [ -f "$opt_out/.complete" ] && [ "$(cat "$opt_out/.complete")" = "$opt_key" ]; }

# The tree is reused while its source and patches are the same; anything else starts it afresh.
prepare_tree() {
  if [ -n "$opt_git_commit" ]; then prepare_git_tree; else prepare_tarball_tree; fi
}

prepare_tarball_tree() {
  local identity tarball p
  tarball=$(sha256sum "$opt_source_tarball" | cut -d' ' -f1)
  identity=$({ echo "$tarball"; for p in "${opt_patch[@]}"; do sha256sum "$p" | cut -d' ' -f1; done; } | sha256sum | cut -d' ' -f1)
  if [ -f "$opt_tree/.ixlab-source" ] && [ "$(cat "$opt_tree/.ixlab-source")" = "$identity" ]; then
    ok "build tree $opt_tree has this source and patch series"
    # A tree from before patches were recorded: these are the ones it has.
    [ -d "$opt_tree/.ixlab-applied" ] || record_applied
    return
  fi
  # Another series on the same source (a series walk, a patch edited): take the recorded patches off
  # in reverse and keep the tree, so make rebuilds only what they touch. Anything else: a new tree.
  if [ "$(cat "$opt_tree/.ixlab-tarball" 2>/dev/null)" = "$tarball" ] && unpatch_tree; then
    log "kept build tree $opt_tree; took its previous patches off"
  else
    rm -rf "$opt_tree"
    mkdir -p "$opt_tree"
    log "unpacking $(basename "$opt_source_tarball")"
    tar -xf "$opt_source_tarball" -C "$opt_tree" --strip-components=1
    echo "$tarball" >"$opt_tree/.ixlab-tarball"
  fi
  mkdir -p "$opt_tree/.ixlab-applied"
  for p in "${opt_patch[@]}"; do
    if ! patch -d "$opt_tree" -p1 --forward --batch --no-backup-if-mismatch -r "$opt_tree/.rejected" <"$p" >"$opt_tree/.patch.log" 2>&1; then
      local why
      why=$(grep -E 'FAILED|malformed|can.t find file|Reversed' "$opt_tree/.patch.log" | head -5 | tr '\n' ' ')
      [ -s "$opt_tree/.rejected" ] && why="$why; rejected hunks: $(head -c 1500 "$opt_tree/.rejected" | tr '\n' '~' | sed 's/~/\\n/g')"
      rm -rf "$opt_tree"
      die "patch $(basename "$p") does not apply: $why"
    fi
    cp "$p" "$opt_tree/.ixlab-applied/$(printf '%04d' "$(find "$opt_tree/.ixlab-applied" -name '*.patch' | wc -l)")-$(basename "$p")"
    changed "applied $(basename "$p")"
  done
  echo "$identity" >"$opt_tree/.ixlab-source"
}

# record_applied: copies of the patches the tree has, in order, so a later series can take them off.
record_applied() {
  local p n=0
  mkdir -p "$opt_tree/.ixlab-applied"
  for p in "${opt_patch[@]}"; do cp "$p" "$opt_tree/.ixlab-applied/$(printf '%04d' "$n")-$(basename "$p")"; n=$((n + 1)); done
  sha256sum "$opt_source_tarball" | cut -d' ' -f1 >"$opt_tree/.ixlab-tarball"
}

# unpatch_tree: reverses the recorded patches, newest first; fails (tree to be replaced) if one does not.
unpatch_tree() {
  local f
  [ -d "$opt_tree/.ixlab-applied" ] || return 1
  rm -f "$opt_tree/.ixlab-source"
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    patch -d "$opt_tree" -p1 -R --batch --no-backup-if-mismatch -r - <"$f" >"$opt_tree/.patch.log" 2>&1 || return 1
    rm -f "$f"
    changed "took $(basename "$f" | cut -d- -f2-) off the tree"
  done < <(find "$opt_tree/.ixlab-applied" -name '*.patch' | sort -r)
}

# git in the build tree, as ixlab: the tree is ours, nothing of the user's git setup applies to it.
tgit() {
  git -C "$opt_tree" -c user.name=ixlab -c user.email=ixlab@localhost -c commit.gpgsign=false \
    -c core.hooksPath=/dev/null -c advice.detachedHead=false "$@"
}

# A git source: the tree is a clone of the one commit the plan resolved (fetched shallow, so a
# kernel's history never comes along), with the patch series committed on it by `git am`.
# Objects stay in the tree, next to the sources, as kernel developers build in their checkouts:
# `git checkout -f --detach COMMIT` resets tracked files only, rewriting just the files that differ
# (so kbuild's mtime and dependency tracking recompiles exactly what changed), and leaves .config and
# every object, which are untracked. `git clean -fdx` would throw that incremental build away, and
# `make O=<objdir>` would change the paths the compiler sees, so ccache could not reuse what a
# tarball tree of the same source compiled. Files a previous series added are tracked in the HEAD we
# leave, so the checkout removes them.
prepare_git_tree() {
  local identity p head
  identity=$({ echo "git:$opt_git_commit"; for p in "${opt_patch[@]}"; do sha256sum "$p" | cut -d' ' -f1; done; } | sha256sum | cut -d' ' -f1)
  if [ -d "$opt_tree/.git" ] && [ -f "$opt_tree/.git/ixlab-source" ] && [ ! -d "$opt_tree/.git/rebase-apply" ] &&
    [ "$(cat "$opt_tree/.git/ixlab-source")" = "$identity $(tgit rev-parse HEAD 2>/dev/null)" ] &&
    tgit diff --quiet HEAD -- 2>/dev/null; then
    ok "build tree $opt_tree is at ${opt_git_commit:0:12} with this patch series"
    return
  fi
  if [ -e "$opt_tree" ] && [ ! -d "$opt_tree/.git" ]; then
    rm -rf "$opt_tree"
    changed "removed $opt_tree (not a git clone: it held another kind of source)"
  fi
  if [ ! -d "$opt_tree/.git" ]; then
    git init -q "$opt_tree"
    changed "made a git clone in $opt_tree"
  fi
  rm -f "$opt_tree/.git/ixlab-source"
  [ -d "$opt_tree/.git/rebase-apply" ] && tgit am --abort
  if ! tgit cat-file -e "$opt_git_commit^{commit}" 2>/dev/null; then
    log "fetching ${opt_git_commit:0:12} ($opt_git_ref) from $opt_git_url"
    # By commit id first (local repositories and most servers allow it); else the ref, which then
    # must still name that commit (it moved since the plan otherwise: plan again).
    tgit fetch -q --no-tags --depth 1 -- "$opt_git_url" "$opt_git_commit" 2>/dev/null ||
      tgit fetch -q --no-tags --depth 1 -- "$opt_git_url" "$opt_git_ref" ||
      die "cannot fetch $opt_git_ref from $opt_git_url"
    tgit cat-file -e "$opt_git_commit^{commit}" 2>/dev/null ||
      die "$opt_git_url: $opt_git_ref is now $(tgit rev-parse FETCH_HEAD), not ${opt_git_commit} as planned; run the plan again"
    changed "fetched ${opt_git_commit:0:12} from $opt_git_url"
  fi
  tgit checkout -q -f --detach "$opt_git_commit"
  changed "checked out ${opt_git_commit:0:12} ($opt_git_ref), tracked files reset"
  for p in "${opt_patch[@]}"; do git_am "$p"; done
  head=$(tgit rev-parse HEAD)
  echo "$identity $head" >"$opt_tree/.git/ixlab-source"
}

# git_am FILE: one .patch file or an mbox of several, committed in order. A patch that does not
# apply leaves the tree at the planned commit (am --abort, then the earlier patches undone too) and
# stops the build naming the file, the patch in it and the hunks that did not apply.
git_am() {
  local p=$1 out why rej f
  if out=$(tgit am --reject -- "$p" 2>&1); then
    changed "applied $(basename "$p") ($(grep -c '^Applying: ' <<<"$out") commit(s))"
    return
  fi
  why=$(grep -E '^(error|Patch failed at|Patch format)' <<<"$out" | grep -v '^error: while searching' | head -6 | paste -sd ' ' -)
  rej=""
  while IFS= read -r f; do
    [ -f "$opt_tree/$f.rej" ] || continue
    rej="$rej$(head -c 1500 "$opt_tree/$f.rej")"$'\n'
    rm -f "$opt_tree/$f.rej"
  done < <(sed -nE 's/^Applying patch (.*) with [0-9]+ rejects?\.\.\.$/\1/p' <<<"$out")
  [ -d "$opt_tree/.git/rebase-apply" ] && tgit am --abort
  # Nor the patches before it: nothing half-patched is left to build from.
  tgit checkout -q -f --detach "$opt_git_commit"
  [ -n "$rej" ] && why="$why; rejected hunks: $(printf '%s' "${rej%$'\n'}" | tr '\n' '~' | sed 's/~/\\n/g')"
  die "patch $(basename "$p") does not apply (git am): $why"
}

base_config() {
  case "$opt_base" in
    tinyconfig | defconfig | allnoconfig) make -C "$opt_tree" -s "$opt_base" >/dev/null ;;
    running) cp "/boot/config-$(uname -r)" "$opt_tree/.config" ;;
    *) cp "$opt_base" "$opt_tree/.config" ;;
  esac
}

# Every option a fragment sets must have that value in the final .config; a dropped one is named with
# the dependency Kconfig gives for it, so "why is VHOST_NET gone" has its answer in the error.
verify_config() {
  local frag line opt want have where deps dropped=()
  for frag in "${opt_fragment[@]}"; do
    while IFS= read -r line; do
      if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        opt=${BASH_REMATCH[1]} want="$opt=${BASH_REMATCH[2]}"
      elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        opt=${BASH_REMATCH[1]} want="# $opt is not set"
      else
        continue
      fi
      have=$(grep -E "^($opt=|# $opt is not set)" "$opt_tree/.config" || true)
      [ "$want" = "$have" ] && continue
      # An option that is absent from .config is as good as "is not set".
      [ -z "$have" ] && [ "$want" = "# $opt is not set" ] && continue
      where=$(cd "$opt_tree" && grep -rlE --include='Kconfig*' "^(menu)?config ${opt#CONFIG_}\$" . | head -1)
      deps=""
      [ -n "$where" ] && deps=$(awk -v sym="${opt#CONFIG_}" '
        $0 ~ "^(menu)?config "sym"$" {on=1; next}
        on && /^(menu)?config |^endmenu|^menu |^if |^endif|^choice/ {on=0}
        on && /^[ \t]+depends on/ {sub(/^[ \t]+/, ""); print}' "$opt_tree/$where" | tr '\n' ';' | sed 's/;$//')
      dropped+=("$want (from ${frag##*/}) became '${have:-unset}'${where:+; ${where#./}: ${deps:-no depends on line; check select/choice}}")
    done <"$frag"
  done
  if [ ${#dropped[@]} -gt 0 ]; then
    printf '%s: error: %d option(s) a fragment set were dropped by olddefconfig:\n' "$IXLAB_ROLE" "${#dropped[@]}" >&2
    printf '  %s\n' "${dropped[@]}" >&2
    exit 1
  fi
  ok "all $(cat "${opt_fragment[@]}" /dev/null | grep -cE '^(CONFIG_|# CONFIG_)') fragment option(s) present in the final .config"
}

configure() {
  base_config
  if [ ${#opt_fragment[@]} -gt 0 ]; then
    (cd "$opt_tree" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m -O . .config "${opt_fragment[@]}" >/dev/null)
  fi
  "$opt_tree/scripts/config" --file "$opt_tree/.config" --set-str LOCALVERSION "$opt_localversion" --disable LOCALVERSION_AUTO
  make -C "$opt_tree" -s olddefconfig >/dev/null
  verify_config
}

ccache_stat() { ccache --print-stats 2>/dev/null | awk -F'\t' -v k="$1" '$1 == k {print $2}'; }

compile() {
  local jobs=${opt_jobs:-$(nproc)} start=$SECONDS hits misses release artifact sha
  # LOCALVERSION set (empty) keeps setlocalversion from adding "+" to the release of a git tree.
  export LOCALVERSION=
  export CCACHE_DIR=${opt_ccache:-${CCACHE_DIR:-$opt_tree.ccache}} CCACHE_BASEDIR=$opt_tree CCACHE_NOHASHDIR=1
  mkdir -p "$CCACHE_DIR"
  hits=$(ccache_stat direct_cache_hit)$'/'$(ccache_stat preprocessed_cache_hit) misses=$(ccache_stat cache_miss)
  log "compiling ($opt_target, -j$jobs); log: $opt_out/build.log"
  local goal=bzImage
  [ "$opt_target" = deb ] && goal=bindeb-pkg
  if ! make -C "$opt_tree" -j"$jobs" CC="ccache gcc" KBUILD_BUILD_USER=ixlab KBUILD_BUILD_HOST=ixlab "$goal" >"$opt_out/build.log" 2>&1; then
    die "build failed; last lines of $opt_out/build.log: $(grep -E 'error|Error' "$opt_out/build.log" | tail -5 | tr '\n' ' ')"
  fi
  release=$(make -C "$opt_tree" -s kernelrelease)
  if [ "$opt_target" = deb ]; then
    mv "$(dirname "$opt_tree")"/linux-*"$release"*.deb "$opt_out/"
    # bindeb-pkg's records of the build are left beside the tree too; they belong with its packages.
    local rec
    for rec in "$(dirname "$opt_tree")"/linux-upstream_"$release"-*_*.buildinfo "$(dirname "$opt_tree")"/linux-upstream_"$release"-*_*.changes; do
      [ ! -e "$rec" ] || mv -f "$rec" "$opt_out/"
    done
    artifact=$(ls "$opt_out"/linux-image-"$release"_*.deb)
  else
    cp "$opt_tree/arch/x86/boot/bzImage" "$opt_out/bzImage"
    artifact=$opt_out/bzImage
  fi
  cp "$opt_tree/.config" "$opt_out/config"
  sha=$(sha256sum "$artifact" | cut -d' ' -f1)
  local seconds=$((SECONDS - start))
  jq -cn --arg key "$opt_key" --arg release "$release" --arg artifact "$artifact" --arg sha "$sha" \
    --arg target "$opt_target" --argjson seconds "$seconds" \
    --arg before "$hits miss $misses" --arg after "$(ccache_stat direct_cache_hit)/$(ccache_stat preprocessed_cache_hit) miss $(ccache_stat cache_miss)" \
    '{key: $key, release: $release, target: $target, artifact: $artifact, sha256: $sha, buildSeconds: $seconds, compiled: true, ccache: {before: $before, after: $after}}' >"$opt_out/facts.json"
  echo "$opt_key" >"$opt_out/.complete"
  changed "built $release ($opt_target) in ${seconds}s"
}

do_create() {
  if built; then
    ok "kernel $opt_key already built in $opt_out (nothing compiled)"
    printf 'facts: %s\n' "$(jq -c '.compiled = false' "$opt_out/facts.json")"
    return
  fi
  mkdir -p "$(dirname "$opt_tree")"
  # Stacks of one lab share the tree: one build in it at a time.
  exec 8>"$opt_tree.lock"
  flock 8
  if [ -n "$opt_prepare_only" ]; then
    prepare_tree
    ok "sources prepared in $opt_tree (--prepare-only: not configured, nothing compiled)"
    return
  fi
  rm -rf "$opt_out"
  mkdir -p "$opt_out"
  prepare_tree
  configure
  compile
  printf 'facts: %s\n' "$(cat "$opt_out/facts.json")"
}

do_check() {
  built || wrong "kernel $opt_key is not built in $opt_out"
  local f artifact sha now
  f=$(jq -r '.artifact, .sha256' "$opt_out/facts.json")
  { read -r artifact && read -r sha; } <<<"$f"
  now=$(sha256sum "$artifact" 2>/dev/null) || now=""
  [ "${now%% *}" = "$sha" ] || wrong "$artifact is missing or changed since it was built"
}

do_delete() {
  # The build tree and ccache stay: they are caches that make the next build of this kernel fast.
  if [ -d "$opt_out" ]; then rm -rf "$opt_out"; changed "removed $opt_out"; else ok "$opt_out already gone"; fi
  # In ixlab's cache layout (kernels/out/STACK/KEY) the stack's directory goes with its last kernel.
  local stack_dir
  stack_dir=$(dirname "$opt_out")
  if [[ $(dirname "$stack_dir") == */kernels/out ]] && rmdir "$stack_dir" 2>/dev/null; then changed "removed empty $stack_dir"; fi
}

main() {
  parse_args "create check delete" "key out tree source-tarball git-url git-ref git-commit prepare-only! patch+ base fragment+ localversion target jobs ccache patches fragments" "$@"
  # --patches/--fragments (space-separated) are what stacks recorded before lists became repeated
  # flags; a refresh of such a stack replays them, so they are still read (those paths had no spaces).
  local legacy
  if [ -n "$opt_patches" ]; then read -ra legacy <<<"$opt_patches"; opt_patch+=("${legacy[@]}"); fi
  if [ -n "$opt_fragments" ]; then read -ra legacy <<<"$opt_fragments"; opt_fragment+=("${legacy[@]}"); fi
  need_flags key out
  [[ $opt_key =~ ^[0-9a-f]{16,64}$ ]] || usage_error "--key must be a hex digest"
  if [ "$ACTION" != delete ]; then
    need_flags tree
    if [ -n "$opt_git_url$opt_git_ref$opt_git_commit" ]; then
      need_flags git-url git-ref git-commit
      [ -z "$opt_source_tarball" ] || usage_error "give --source-tarball or --git-*, not both"
      [[ $opt_git_commit =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]] || usage_error "--git-commit must be a full commit id"
    else
      need_flags source-tarball
      [ -f "$opt_source_tarball" ] || usage_error "--source-tarball $opt_source_tarball does not exist"
    fi
    local f
    for f in "${opt_patch[@]}" "${opt_fragment[@]}"; do [ -f "$f" ] || usage_error "$f does not exist"; done
    [[ $opt_target =~ ^(bzImage|deb)$ ]] || usage_error "--target must be bzImage or deb"
  fi
  run_action
}

main "$@" </dev/null
