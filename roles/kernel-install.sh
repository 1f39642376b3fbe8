#!/usr/bin/env bash
# kernel-install: puts a host kernel built by kernel-build (Debian packages) on a real GRUB host so
# that it boots exactly once, and makes it the default only after it was seen running. Steps, one
# action each, driven by the Pulumi side (src/remote/kernelInstallProvider.ts):
#   create  install the packages (dpkg -i); write a menu entry `ixlab-RELEASE` to /boot/grub/custom.cfg
#           (Debian's grub.cfg sources it at boot) copied from the entry update-grub made for the
#           release, with panic=N (and --cmdline) added, so a panicking kernel reboots; record the
#           current default (saved_entry) once per host; with --method grub, `grub-reboot` the entry:
#           GRUB boots it once and then the saved default again, so any failed boot falls back.
#   reboot  fire and forget: grub: `systemctl reboot` a moment later; kexec: `kexec -l` the installed
#           vmlinuz/initrd with the running command line plus panic=N, then `systemctl kexec`.
#   verify  the running release (/proc/sys/kernel/osrelease, i.e. `uname -r`) is --release and every
#           --feature path exists (a /sys/module/M/ path loads module M first); exit 3 naming what not.
#   commit  verify again, then `grub-set-default ixlab-RELEASE`.
#   check   changes nothing: packages, entry and record in place, the entry staged or the default;
#           with --committed also the default, running and verified.
#   delete  restore the recorded default (only where it is still ours), drop the one-shot boot and the
#           entry; with --purge also `dpkg --purge` the packages, unless the host runs that kernel.
#   kernel-install.sh create|reboot|verify|commit|check|delete --release RELEASE [--package FILE.deb]...
#       [--method grub|kexec] [--panic SECONDS] [--cmdline EXTRA] [--feature PATH]... [--committed]
#       [--purge] [--dry-run]
# GRUB_DEFAULT=saved is required (in /etc/default/grub and in the generated grub.cfg): without it
# the fallback after a one-shot boot is entry 0, which may well be the new kernel.
# --dry-run prints each command create, reboot, commit or delete would run (`changed: [dry-run] would
# ... (runs: ...)`) and changes nothing, records included. IXLAB_SYS_ROOT (tests only) prefixes /boot,
# /etc/default/grub, /proc/sys/kernel/osrelease, /proc/cmdline, the feature paths and dpkg's root, so
# the whole role can run against a made-up host; reboot then refuses to run without --dry-run.
# grubenv is edited with grub-editenv (via grub-reboot / grub-set-default) where those exist, else by
# this role in GRUB's documented format: one 1024-byte block, `# GRUB Environment Block` then
# key=value lines, padded with '#'.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_release='' opt_package=() opt_method=grub opt_panic=10 opt_cmdline='' opt_feature=()
opt_committed='' opt_purge='' opt_dry_run=''
SYS_ROOT=${IXLAB_SYS_ROOT:-}
GRUB_DIR=$SYS_ROOT/boot/grub
GRUB_CFG=$GRUB_DIR/grub.cfg
GRUBENV=$GRUB_DIR/grubenv
CUSTOM_CFG=$GRUB_DIR/custom.cfg
DEFAULT_GRUB=$SYS_ROOT/etc/default/grub
REC=$STATE_DIR/kernel-install
PREV_REC=$REC/previous-default
RELEASE='' ENTRY='' BEGIN_MARK='' END_MARK=''
DPKG=(dpkg) DPKG_QUERY=(dpkg-query)
problems=()

# apply WHAT COMMAND...: runs COMMAND (its output to stderr) and reports WHAT as changed; with
# --dry-run only says what it would run.
apply() {
  local what=$1
  shift
  if [ -n "$opt_dry_run" ]; then
    if [ "$1" = write_block ]; then changed "[dry-run] would $what (rewrites $CUSTOM_CFG)"; else changed "[dry-run] would $what (runs: $*)"; fi
  else
    "$@" >&2 || die "could not $what ($*)"
    changed "$what"
  fi
}

# A sim host is a namespace of the machine running the tests: installing or booting a kernel there
# would change this machine. Only a made-up root or a dry run is allowed.
refuse_on_sim() {
  [ -n "${IXLAB_SIM_NS:-}" ] && [ -z "$SYS_ROOT" ] && [ -z "$opt_dry_run" ] &&
    die "sim host $IXLAB_SIM_NS shares this machine's kernel and /boot; refusing to $1 (sim kernels boot under QEMU)"
  return 0
}

running_release() { cat "$SYS_ROOT/proc/sys/kernel/osrelease" 2>/dev/null || uname -r; }

# --- GRUB configuration -------------------------------------------------------------------------
# The effective GRUB_DEFAULT: the last assignment in /etc/default/grub and grub.d/*.cfg, which
# update-grub sources in that order.
grub_default_setting() {
  local f files=("$DEFAULT_GRUB")
  for f in "$DEFAULT_GRUB".d/*.cfg; do [ -f "$f" ] && files+=("$f"); done
  sed -n 's/^[[:space:]]*GRUB_DEFAULT=//p' "${files[@]}" 2>/dev/null | tail -n 1 | tr -d "\"'"
}

need_grub() {
  local v
  [ -f "$GRUB_CFG" ] || die "$GRUB_CFG does not exist: this host does not boot with GRUB (or /boot is not mounted)"
  [ -f "$DEFAULT_GRUB" ] || die "$DEFAULT_GRUB does not exist; GRUB_DEFAULT=saved is required"
  v=$(grub_default_setting)
  [ "$v" = saved ] || die "GRUB_DEFAULT is '${v:-unset}' in $DEFAULT_GRUB, not 'saved': a one-shot boot falls back to the saved default only with GRUB_DEFAULT=saved (set it, run update-grub, retry)"
  # shellcheck disable=SC2016 # GRUB's own variable, matched literally
  grep -q 'default="${saved_entry}"' "$GRUB_CFG" ||
    die "$GRUB_CFG does not boot the saved default (it was generated before GRUB_DEFAULT=saved); run update-grub and retry"
  grep -q 'next_entry' "$GRUB_CFG" || die "$GRUB_CFG has no one-shot boot support (next_entry); run update-grub and retry"
  grep -q 'custom.cfg' "$GRUB_CFG" ||
    die "$GRUB_CFG does not source custom.cfg, where ixlab puts its entry (/etc/grub.d/41_custom missing?); restore it and run update-grub"
}

# awk functions both menu readers share: quoted(s) is the first quoted word of s; ident(s, title) the
# --id (or $menuentry_id_option) of a menuentry/submenu line, else its title. q is a single quote.
# shellcheck disable=SC2016 # awk code, expanded by awk
MENU_AWK='
    function quoted(s) {
      if (match(s, q "[^" q "]*" q) || match(s, /"[^"]*"/)) return substr(s, RSTART + 1, RLENGTH - 2)
      return ""
    }
    function ident(s, title,   t) {
      t = s
      if (match(t, /\$menuentry_id_option[ \t]+/) || match(t, /--id[ \t=]+/)) {
        t = substr(t, RSTART + RLENGTH)
        if (substr(t, 1, 1) == q || substr(t, 1, 1) == "\"") return quoted(t)
        split(t, w, /[ \t]/); return w[1]
      }
      return title
    }
'

# find_entry RELEASE: the first normal (not recovery) menu entry whose linux line boots
# /vmlinuz-RELEASE; prints "ID-PATH<TAB>TITLE" (submenu ids joined by '>', as grub-reboot takes
# them; the title where an entry has no id) and then the entry's body lines. Fails when none.
find_entry() {
  awk -v want="/vmlinuz-$1" -v q="'" "$MENU_AWK"'
    /^[ \t]*(submenu|menuentry)[ \t]/ && /\{[ \t]*$/ {
      depth++; kind[depth] = $1; title[depth] = quoted($0); id[depth] = ident($0, title[depth])
      if ($1 == "menuentry") { entry = depth; body = ""; hit = 0 }
      next
    }
    /\{[ \t]*$/ { depth++; kind[depth] = "other"; next }
    /^[ \t]*\}[ \t]*$/ {
      if (depth == entry && hit) {
        path = ""
        for (i = 1; i <= depth; i++) if (kind[i] != "other") path = path (path == "" ? "" : ">") id[i]
        printf "%s\t%s\n%s", path, title[depth], body
        found = 1; exit
      }
      if (depth == entry) entry = 0
      depth--; next
    }
    entry && depth == entry {
      body = body $0 "\n"
      if ($1 ~ /^linux(16|efi)?$/ && substr($2, length($2) - length(want) + 1) == want &&
          $0 !~ /[ \t]single([ \t]|$)/ && title[depth] !~ /recovery mode/) hit = 1
    }
    END { exit found ? 0 : 1 }' "$GRUB_CFG"
}

# entry_release NAME: the release the menu entry NAME boots, NAME as GRUB's default takes it: an id
# or title path (submenu parts joined by '>') or an index path ("1>0"); empty when it names no entry.
# A saved default of "gnulinux-simple-..." or "0" is the top entry, which update-grub gives to the
# newest kernel: after an install that is the new kernel, so it cannot be the fallback.
entry_release() {
  awk -v want="$1" -v q="'" "$MENU_AWK"'
    function join(kind_,   i, p) { p = ""; for (i = 1; i <= depth; i++) if (kind[i] != "other") p = p (p == "" ? "" : ">") (kind_ == "id" ? id[i] : kind_ == "title" ? title[i] : idx[i]); return p }
    /^[ \t]*(submenu|menuentry)[ \t]/ && /\{[ \t]*$/ {
      n = depth + 1; idx[n] = (n in count) ? count[n] : 0; count[n] = idx[n] + 1; delete count[n + 1]
      depth = n; kind[depth] = $1; title[depth] = quoted($0); id[depth] = ident($0, title[depth])
      if ($1 == "menuentry") { entry = depth; rel = "" }
      next
    }
    /\{[ \t]*$/ { depth++; kind[depth] = "other"; next }
    /^[ \t]*\}[ \t]*$/ {
      if (depth == entry && kind[depth] == "menuentry") {
        if (join("id") == want || join("title") == want || join("index") == want) { print rel; exit }
        entry = 0
      }
      depth--; next
    }
    entry && depth == entry && $1 ~ /^linux(16|efi)?$/ { r = $2; sub(/.*\/vmlinuz-/, "", r); rel = r }' "$GRUB_CFG"
}

# The releases grub.cfg has entries for, for an error message.
grub_releases() { sed -n 's|^[[:space:]]*linux[0-9a-z]*[[:space:]]\+[^[:space:]]*/vmlinuz-\([^[:space:]]*\).*|\1|p' "$GRUB_CFG" | sort -u | tr '\n' ' '; }

# entry_block: the custom.cfg block for RELEASE, from its update-grub entry.
entry_block() {
  local found head body
  found=$(find_entry "$RELEASE") || return 1
  head=${found%%$'\n'*}
  body=${found#*$'\n'}
  printf '%s\n' "$BEGIN_MARK"
  printf '# Written by ixlab roles/kernel-install.sh; removed by its delete. The entry %s\n' "${head%%$'\t'*}"
  printf '# with panic=%s, so a kernel that panics reboots into the saved default (the previous kernel).\n' "$opt_panic"
  printf "menuentry 'ixlab: %s (panic=%s)' --id %s {\n" "${head#*$'\t'}" "$opt_panic" "$ENTRY"
  # savedefault would make this entry the default as soon as it boots, defeating the one-shot boot.
  printf '%s' "$body" | awk -v extra=" panic=$opt_panic${opt_cmdline:+ $opt_cmdline}" '
    $1 == "savedefault" { next }
    $1 ~ /^linux(16|efi)?$/ { print $0 extra; next }
    { print }'
  printf '}\n%s\n' "$END_MARK"
}

# current_block: our block in custom.cfg as it is now (empty when absent).
current_block() {
  [ -f "$CUSTOM_CFG" ] || return 0
  awk -v b="$BEGIN_MARK" -v e="$END_MARK" '$0 == b { on = 1 } on { print } $0 == e { on = 0 }' "$CUSTOM_CFG"
}

# write_block TEXT: custom.cfg with our block replaced by TEXT (removed when TEXT is empty); other
# content (someone's own entries, other releases' blocks) is kept as it is.
write_block() {
  local tmp=$CUSTOM_CFG.ixlab-tmp
  {
    [ -f "$CUSTOM_CFG" ] && awk -v b="$BEGIN_MARK" -v e="$END_MARK" '$0 == b { on = 1 } !on { print } $0 == e { on = 0 }' "$CUSTOM_CFG"
    [ -z "$1" ] || printf '%s\n' "$1"
  } >"$tmp"
  if [ -s "$tmp" ] && grep -q '[^[:space:]]' "$tmp"; then mv -f "$tmp" "$CUSTOM_CFG"; else rm -f "$tmp" "$CUSTOM_CFG"; fi
}

# --- grubenv --------------------------------------------------------------------------------------
env_get() {
  [ -f "$GRUBENV" ] || return 0
  sed -n "s/^$1=//p" "$GRUBENV" | head -n 1
}

# grubenv_write KEY=VALUE|-KEY...: rewrites the environment block with each KEY set (or, written
# -KEY, removed), as grub-editenv does: the header line, key=value lines, '#' up to 1024 bytes.
grubenv_write() {
  local kv block pad tmp=$GRUBENV.ixlab-tmp order=()
  local -A vals=()
  if [ -f "$GRUBENV" ]; then
    while IFS= read -r kv; do
      [[ $kv == \#* || $kv != *=* ]] && continue
      vals[${kv%%=*}]=${kv#*=}
      order+=("${kv%%=*}")
    done <"$GRUBENV"
  fi
  for kv in "$@"; do
    if [[ $kv == -* ]]; then unset "vals[${kv#-}]"; continue; fi
    [ -n "${vals[${kv%%=*}]+x}" ] || order+=("${kv%%=*}")
    vals[${kv%%=*}]=${kv#*=}
  done
  block=$'# GRUB Environment Block\n'
  for kv in "${order[@]}"; do
    [ -n "${vals[$kv]+x}" ] || continue
    block+="$kv=${vals[$kv]}"$'\n'
    unset "vals[$kv]"
  done
  [ "${#block}" -le 1024 ] || die "$GRUBENV would exceed its 1024 bytes"
  printf -v pad '%*s' $((1024 - ${#block})) ''
  printf '%s%s' "$block" "${pad// /#}" >"$tmp" && mv -f "$tmp" "$GRUBENV"
}

# The commands that set the one-shot and the saved default: GRUB's own tools where installed.
set_next_cmd() {
  if command -v grub-reboot >/dev/null; then CMD=(grub-reboot "--boot-directory=$SYS_ROOT/boot" "$1")
  else CMD=(grubenv_write "next_entry=$1"); fi
}
set_default_cmd() {
  if command -v grub-set-default >/dev/null; then CMD=(grub-set-default "--boot-directory=$SYS_ROOT/boot" "$1")
  else CMD=(grubenv_write "saved_entry=$1"); fi
}
unset_next_cmd() {
  if command -v grub-editenv >/dev/null; then CMD=(grub-editenv "$GRUBENV" unset next_entry)
  else CMD=(grubenv_write -next_entry); fi
}

# --- packages -------------------------------------------------------------------------------------
# pkg_name FILE.deb: Debian's file naming, name_version_arch.deb (no need for the file to exist).
pkg_name() { local b; b=$(basename "$1"); printf '%s\n' "${b%%_*}"; }
pkg_installed_version() {
  # shellcheck disable=SC2016 # dpkg-query's format, not ours
  "${DPKG_QUERY[@]}" -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | sed -n 's/^install ok installed //p' || true
}

packages_to_install() {
  local f want have
  TO_INSTALL=()
  for f in "${opt_package[@]}"; do
    [ -f "$f" ] || die "package $f does not exist on this host (the copy step puts it there)"
    want=$(dpkg-deb -f "$f" Version) || die "$f is not a Debian package"
    have=$(pkg_installed_version "$(pkg_name "$f")")
    if [ "$have" = "$want" ]; then ok "package $(pkg_name "$f") $want is installed"; else TO_INSTALL+=("$f"); fi
  done
}

# --- the default boot entry -------------------------------------------------------------------------
# record_previous: keeps the host's default entry before ixlab's first install (never overwritten
# while an ixlab entry exists); an unset saved_entry (GRUB then boots entry 0, possibly the new kernel)
# is pinned to the running kernel's entry first.
record_previous() {
  local cur found
  if [ -s "$PREV_REC" ]; then
    ok "previous default boot entry recorded: $(cat "$PREV_REC")"
    return 0
  fi
  cur=$(env_get saved_entry)
  if [ -n "$cur" ] && [[ $cur != ixlab-* ]] && [ "$(entry_release "$cur")" != "$(running_release)" ]; then
    # Falling back to it would not boot the kernel that runs now (the known good one).
    found=$(find_entry "$(running_release)") ||
      die "saved_entry $cur boots '$(entry_release "$cur")', not the running kernel $(running_release), which has no entry in $GRUB_CFG; set a default with grub-set-default and retry"
    set_default_cmd "${found%%$'\t'*}"
    apply "pin the default boot entry to the running kernel's ${found%%$'\t'*} (saved_entry $cur boots '$(entry_release "$cur")', not $(running_release))" "${CMD[@]}"
    cur=${found%%$'\t'*}
  fi
  [[ $cur != ixlab-* ]] ||
    die "the default boot entry is ixlab's own $cur but no record of the one before exists ($PREV_REC); set the default with grub-set-default and retry"
  if [ -z "$cur" ]; then
    found=$(find_entry "$(running_release)") ||
      die "saved_entry is unset in $GRUBENV and the running kernel $(running_release) has no entry in $GRUB_CFG; set a default with grub-set-default and retry"
    cur=${found%%$'\t'*}
    set_default_cmd "$cur"
    apply "pin the default boot entry to the running kernel's $cur (saved_entry was unset, so GRUB would fall back to entry 0)" "${CMD[@]}"
  fi
  if [ -n "$opt_dry_run" ]; then
    changed "[dry-run] would record the previous default boot entry $cur in $PREV_REC"
    return 0
  fi
  mkdir -p "$REC"
  printf '%s\n' "$cur" >"$PREV_REC.tmp" && mv -f "$PREV_REC.tmp" "$PREV_REC"
  changed "recorded the previous default boot entry $cur in $PREV_REC"
}

# --- verification ---------------------------------------------------------------------------------
verify_problems() {
  local f running m
  running=$(running_release)
  [ "$running" = "$RELEASE" ] ||
    problems+=("running kernel is $running, not $RELEASE (the new kernel did not boot, or it panicked and GRUB fell back to the saved default)")
  for f in "${opt_feature[@]}"; do
    if [ ! -e "$SYS_ROOT$f" ] && [ "$1" = load ] && [ -z "$SYS_ROOT" ] && [[ $f =~ ^/sys/module/([A-Za-z0-9_-]+)/ ]]; then
      m=${BASH_REMATCH[1]}
      # A module parameter shows up only once its module is loaded.
      if modprobe "$m" >/dev/null 2>&1; then changed "loaded module $m (for $f)"; fi
    fi
    [ -e "$SYS_ROOT$f" ] || problems+=("missing feature $f")
  done
}

report_problems() {
  [ ${#problems[@]} -gt 0 ] || return 0
  local p msg=''
  for p in "${problems[@]}"; do msg+="${msg:+; }$p"; done
  wrong "$msg"
}

facts() {
  printf 'facts: %s\n' "$(jq -cn --arg release "$RELEASE" --arg entry "$ENTRY" --arg running "$(running_release)" \
    --arg previous "$(cat "$PREV_REC" 2>/dev/null)" --arg default "$(env_get saved_entry)" --arg next "$(env_get next_entry)" \
    --arg bootId "$(cat "$SYS_ROOT/proc/sys/kernel/random/boot_id" 2>/dev/null || cat /proc/sys/kernel/random/boot_id)" --arg method "$opt_method" \
    '{release: $release, entry: $entry, running: $running, previous: $previous, default: $default, next: $next, bootId: $bootId, method: $method}')"
}

# --- actions --------------------------------------------------------------------------------------
do_create() {
  local want have
  refuse_on_sim "install a kernel"
  need_grub
  packages_to_install
  if [ ${#TO_INSTALL[@]} -gt 0 ]; then
    apply "install $(for f in "${TO_INSTALL[@]}"; do printf '%s ' "$(pkg_name "$f")"; done | sed 's/ $//')" "${DPKG[@]}" -i "${TO_INSTALL[@]}"
  fi
  if [ -z "$opt_dry_run" ] || [ ${#TO_INSTALL[@]} -eq 0 ]; then
    [ -f "$SYS_ROOT/boot/vmlinuz-$RELEASE" ] || die "the packages are installed but $SYS_ROOT/boot/vmlinuz-$RELEASE is not there; is --release $RELEASE their release?"
  fi
  if ! find_entry "$RELEASE" >/dev/null && [ -z "$SYS_ROOT" ] && command -v update-grub >/dev/null; then
    # The linux-image postinst runs update-grub through /etc/kernel/postinst.d; where it did not, once more.
    apply "regenerate $GRUB_CFG (no entry for $RELEASE yet)" update-grub
  fi
  if [ -z "$opt_dry_run" ] || [ ${#TO_INSTALL[@]} -eq 0 ]; then
    want=$(entry_block) || die "no GRUB menu entry boots /vmlinuz-$RELEASE in $GRUB_CFG (entries for: $(grub_releases)); run update-grub"
    have=$(current_block)
    if [ "$have" = "$want" ]; then ok "menu entry $ENTRY in $CUSTOM_CFG is up to date"
    else apply "write menu entry $ENTRY (from $(find_entry "$RELEASE" | head -n 1 | cut -f 1), panic=$opt_panic) to $CUSTOM_CFG" write_block "$want"; fi
  else
    changed "[dry-run] would write menu entry $ENTRY (from the entry update-grub makes for $RELEASE, panic=$opt_panic) to $CUSTOM_CFG"
  fi
  record_previous
  if [ "$opt_method" = grub ]; then
    if [ "$(running_release)" = "$RELEASE" ]; then ok "the host runs $RELEASE already; no one-shot boot needed"
    elif [ "$(env_get next_entry)" = "$ENTRY" ]; then ok "$ENTRY boots once at the next reboot"
    else set_next_cmd "$ENTRY"; apply "make $ENTRY boot once at the next reboot" "${CMD[@]}"; fi
  else
    ok "method kexec: the reboot action loads $RELEASE with kexec; GRUB keeps booting the saved default"
  fi
  [ -n "$opt_dry_run" ] || facts
}

do_reboot() {
  local vmlinuz initrd cmdline later
  refuse_on_sim "reboot"
  [ -z "$SYS_ROOT" ] || [ -n "$opt_dry_run" ] || die "IXLAB_SYS_ROOT is set: this is a made-up host; reboot runs only with --dry-run there"
  [ -n "$opt_dry_run" ] || facts
  # Started by systemd a moment later, so this SSH session returns before the host goes down.
  if command -v systemd-run >/dev/null; then later=(systemd-run --quiet --on-active=3 --unit=ixlab-kernel-reboot); else later=(setsid -f sh -c 'sleep 3; exec "$@"' sh); fi
  if [ "$opt_method" = kexec ]; then
    vmlinuz=$SYS_ROOT/boot/vmlinuz-$RELEASE
    initrd=$SYS_ROOT/boot/initrd.img-$RELEASE
    [ -f "$vmlinuz" ] || die "$vmlinuz does not exist; run create first"
    command -v kexec >/dev/null || [ -n "$opt_dry_run" ] || die "kexec not found (Debian package kexec-tools)"
    # BOOT_IMAGE names the image GRUB loaded; kexec boots another one.
    cmdline=$(sed 's/\(^\| \)BOOT_IMAGE=[^ ]*//' "$SYS_ROOT/proc/cmdline" | sed 's/^ *//')
    cmdline+=" panic=$opt_panic${opt_cmdline:+ $opt_cmdline}"
    if [ -f "$initrd" ]; then
      apply "load $RELEASE with kexec" kexec -l "$vmlinuz" "--initrd=$initrd" "--command-line=$cmdline"
    else
      apply "load $RELEASE with kexec" kexec -l "$vmlinuz" "--command-line=$cmdline"
    fi
    apply "boot $RELEASE with kexec in 3 s" "${later[@]}" systemctl kexec
  else
    [ -n "$opt_dry_run" ] || [ "$(env_get next_entry)" = "$ENTRY" ] || [ "$(running_release)" = "$RELEASE" ] ||
      die "next_entry is '$(env_get next_entry)', not $ENTRY: run create first, or the boot would not be the new kernel"
    apply "reboot in 3 s (GRUB boots $ENTRY once)" "${later[@]}" systemctl reboot
  fi
}

do_verify() {
  verify_problems load
  report_problems
  ok "the host runs $RELEASE with every expected feature"
  facts
}

do_commit() {
  refuse_on_sim "change the default kernel"
  need_grub
  verify_problems load
  report_problems
  [ -n "$(current_block)" ] || die "no menu entry $ENTRY in $CUSTOM_CFG; run create first"
  if [ "$(env_get saved_entry)" = "$ENTRY" ]; then ok "$ENTRY is the default boot entry"
  else set_default_cmd "$ENTRY"; apply "make $ENTRY the default boot entry" "${CMD[@]}"; fi
  # GRUB clears the one-shot when it boots it; one left over (kexec, a boot by hand) is now moot.
  if [ "$(env_get next_entry)" = "$ENTRY" ]; then unset_next_cmd; apply "clear the leftover one-shot boot of $ENTRY" "${CMD[@]}"; fi
  [ -n "$opt_dry_run" ] || facts
}

do_check() {
  local f have want
  need_grub
  for f in "${opt_package[@]}"; do
    want=$(dpkg-deb -f "$f" Version 2>/dev/null) || { problems+=("package file $f is missing"); continue; }
    have=$(pkg_installed_version "$(pkg_name "$f")")
    [ "$have" = "$want" ] || problems+=("package $(pkg_name "$f") is ${have:-not installed}, not $want")
  done
  want=$(entry_block) || problems+=("no GRUB menu entry boots /vmlinuz-$RELEASE in $GRUB_CFG")
  [ -z "$want" ] || [ "$(current_block)" = "$want" ] || problems+=("menu entry $ENTRY in $CUSTOM_CFG is missing or out of date")
  [ -s "$PREV_REC" ] || problems+=("no record of the previous default boot entry ($PREV_REC)")
  if [ -n "$opt_committed" ]; then
    [ "$(env_get saved_entry)" = "$ENTRY" ] || problems+=("default boot entry is '$(env_get saved_entry)', not $ENTRY")
    verify_problems no-load
  elif [ "$opt_method" = grub ] && [ "$(env_get next_entry)" != "$ENTRY" ] && [ "$(env_get saved_entry)" != "$ENTRY" ] && [ "$(running_release)" != "$RELEASE" ]; then
    problems+=("$ENTRY is neither staged for the next boot nor the default")
  fi
  report_problems
}

do_delete() {
  local prev cur f names=()
  refuse_on_sim "change the boot configuration"
  if [ "$(env_get next_entry)" = "$ENTRY" ]; then unset_next_cmd; apply "cancel the one-shot boot of $ENTRY" "${CMD[@]}"
  else ok "$ENTRY is not staged for the next boot"; fi
  cur=$(env_get saved_entry)
  prev=$(cat "$PREV_REC" 2>/dev/null || true)
  if [ "$cur" = "$ENTRY" ]; then
    [ -n "$prev" ] || die "the default boot entry is $ENTRY but no previous one is recorded in $PREV_REC; set one with grub-set-default"
    set_default_cmd "$prev"
    apply "restore the default boot entry $prev (was $ENTRY)" "${CMD[@]}"
  elif [ -n "$prev" ] && [ "$cur" != "$prev" ] && [[ $cur != ixlab-* ]]; then
    ok "default boot entry is $cur (not ixlab's); left as it is"
  else
    ok "default boot entry is ${cur:-unset}, not $ENTRY"
  fi
  if [ -n "$(current_block)" ]; then apply "remove menu entry $ENTRY from $CUSTOM_CFG" write_block ""
  else ok "no menu entry $ENTRY in $CUSTOM_CFG"; fi
  # The record belongs to the host, not to one release: kept while another ixlab entry remains.
  if [ -e "$PREV_REC" ] && { [ -n "$opt_dry_run" ] || ! grep -q '^### BEGIN ixlab kernel-install ' "$CUSTOM_CFG" 2>/dev/null; }; then
    if [ -n "$opt_dry_run" ]; then changed "[dry-run] would remove the record $PREV_REC"
    else rm -f "$PREV_REC"; rmdir "$REC" 2>/dev/null || true; changed "removed the record $PREV_REC"; fi
  fi
  [ -n "$opt_purge" ] || return 0
  if [ "$(running_release)" = "$RELEASE" ]; then
    ok "packages of $RELEASE left installed: the host runs it (reboot into the previous kernel, then delete --purge again)"
    return 0
  fi
  for f in "${opt_package[@]}"; do
    if "${DPKG_QUERY[@]}" -W "$(pkg_name "$f")" >/dev/null 2>&1; then names+=("$(pkg_name "$f")")
    else ok "package $(pkg_name "$f") is not installed"; fi
  done
  [ ${#names[@]} -eq 0 ] || apply "purge ${names[*]}" "${DPKG[@]}" --purge "${names[@]}"
}

main() {
  local f
  parse_args "create reboot verify commit check delete" "release package+ method panic cmdline feature+ committed! purge! dry-run!" "$@"
  need_flags release
  [[ $opt_release =~ ^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$ ]] || usage_error "--release '$opt_release' is not a kernel release (letters, digits, . _ + ~ -)"
  case $opt_method in grub | kexec) ;; *) usage_error "--method '$opt_method' is not grub or kexec" ;; esac
  [[ $opt_panic =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "--panic '$opt_panic' must be a number of seconds (1-9999)"
  # The command line becomes part of a GRUB script line: a line break or brace would end it and start
  # GRUB commands of the caller's choosing; the rest is GRUB's (and a shell's) quoting.
  [[ $opt_cmdline =~ ^[^\'\"\\\`$\;\&\|\<\>{}[:cntrl:]]*$ ]] ||
    usage_error "--cmdline may not hold control characters (line breaks, tabs), quotes, \\, \`, \$, ;, &, |, <, >, { or }"
  for f in "${opt_package[@]}"; do [[ $f == *.deb ]] || usage_error "--package '$f' is not a .deb file"; done
  for f in "${opt_feature[@]}"; do [[ $f == /* ]] || usage_error "--feature '$f' is not an absolute path"; done
  [ "$ACTION" != create ] || [ ${#opt_package[@]} -gt 0 ] || usage_error "create needs at least one --package"
  RELEASE=$opt_release
  ENTRY=ixlab-$RELEASE
  BEGIN_MARK="### BEGIN ixlab kernel-install $RELEASE"
  END_MARK="### END ixlab kernel-install $RELEASE"
  if [ -n "$SYS_ROOT" ]; then DPKG+=("--root=$SYS_ROOT"); DPKG_QUERY+=("--root=$SYS_ROOT"); fi
  run_action
}

main "$@" </dev/null
