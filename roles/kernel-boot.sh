#!/usr/bin/env bash
# kernel-boot: proves a built kernel boots, under QEMU on the machine that runs this role, before any
# host or guest is asked to run it. A tiny initramfs (static busybox and an /init script) is built in
# a private temp dir; QEMU boots the kernel with it, with no network device and the serial console
# captured; /init prints `IXLAB-BOOT release=$(uname -r)`, `IXLAB-FACT key=value` lines (cpus,
# virtio_net, cmdline), the kernel's dmesg lines mentioning ixlab as `IXLAB-DMESG ...`, then
# `IXLAB-DONE`, and powers off. The boot passes when the release is --expect-release, every
# --expect-line text is somewhere on the console and IXLAB-DONE was reached within --timeout.
#   kernel-boot.sh create|check|delete --kernel PATH/bzImage --expect-release RELEASE
#       [--expect-line TEXT]... [--accel auto|kvm|tcg] [--timeout SECONDS] [--memory MiB]
#       [--cmdline EXTRA] [--record DIR]
#   kernel-boot.sh accel [--accel auto|kvm|tcg]   only the choice below, as facts {accel, accelNote}
# --expect-line may be given more than once. --accel auto uses KVM when QEMU runs a guest with it at
# a useful speed here (probed once: QEMU's firmware under TCG, then under KVM; ~0.3 s, at most ~1.3 s
# where KVM is slow), else TCG, and says which and why in an `ok:` line and in facts (accelNote);
# --accel kvm fails only when QEMU cannot use KVM at all. --cmdline is appended after
# `console=ttyS0 panic=-1 rdinit=/init`, so a later parameter of the same name wins.
# State: a boot check has none of its own. Without --record, create boots every time (`changed:`)
# and check has nothing to look at and exits 0. With --record DIR, a passing create writes the console
# log to DIR/boot.log and its facts (with the kernel's sha256) to DIR/boot.json; a later create whose
# record matches (same kernel bytes, release, expected lines, --cmdline, and --accel unless auto)
# says `ok:` and does not boot again; check exits 0 when the record matches, else 3 naming why; a
# failed create writes DIR/boot-failed.log and removes a previous boot.log/boot.json; delete removes
# those three files, and DIR when it is then empty. Nothing outside the temp dir and DIR is written.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

opt_kernel="" opt_expect_release="" opt_expect_line=() opt_accel=auto opt_timeout=120 opt_memory=128
opt_cmdline="" opt_record=""
QEMU=qemu-system-x86_64
TMP="" QEMU_PID="" TIMEOUT_PID=""
# Set by a boot: what it found.
ACCEL="" ACCEL_NOTE="" BOOT_SECONDS="" RELEASE=""

# Microseconds since the epoch, without a fork.
now_us() { local t=$EPOCHREALTIME; printf '%s\n' "${t/./}"; }
# seconds_since START_US: elapsed time as N.N.
seconds_since() { local d=$(($(now_us) - $1)); printf '%d.%d\n' $((d / 1000000)) $((d / 100000 % 10)); }

# The QEMU this role started (and the `timeout` around it), stopped by pid: both command lines contain
# this run's private temp dir, so a pid reused by anyone else is never signalled.
stop_qemu() {
  [ -n "$TMP" ] || return 0
  if [ -n "$QEMU_PID" ]; then stop_pid "$QEMU_PID" "$TMP/"; fi
  if [ -n "$TIMEOUT_PID" ]; then stop_pid "$TIMEOUT_PID" "$TMP/"; fi
  QEMU_PID="" TIMEOUT_PID=""
}

make_tmp() {
  [ -z "$TMP" ] || return 0
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/ixlab-kernel-boot.XXXXXX")
  defer "rm -rf $(printf '%q' "$TMP")"
  # Registered after the rm, so it runs before it: QEMU is gone before its files are.
  defer stop_qemu
}

# The initramfs: static busybox, one symlink per applet, and /init.
build_initramfs() {
  local bb root=$TMP/root applet
  bb=$(command -v busybox) || die "busybox not found (Debian package busybox-static)"
  ! ldd "$bb" >/dev/null 2>&1 || die "$bb is dynamically linked; the guest needs a static one (Debian package busybox-static)"
  mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  # No `init` or `sh` links: the kernel falls back to /sbin/init, /etc/init, /bin/init and /bin/sh when
  # rdinit= names nothing, and a kernel that cannot run /init must panic, not start a shell.
  for applet in $("$bb" --list); do
    case $applet in busybox | init | sh | linuxrc) ;; *) ln -s busybox "$root/bin/$applet" ;; esac
  done
  cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# Written by ixlab's kernel-boot role; runs as PID 1 of a throw-away QEMU guest.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
# Reopened on devtmpfs in case the kernel found no /dev/console to give init (checked first: a failed
# redirection on exec would end the script).
if (: </dev/console) 2>/dev/null; then exec </dev/console >/dev/console 2>&1; fi
echo "IXLAB-BOOT release=$(uname -r)"
echo "IXLAB-FACT cpus=$(nproc)"
if [ -d /sys/bus/virtio/drivers/virtio_net ]; then echo "IXLAB-FACT virtio_net=yes"; else echo "IXLAB-FACT virtio_net=no"; fi
echo "IXLAB-FACT cmdline=$(cat /proc/cmdline)"
dmesg | grep ixlab | sed 's/^/IXLAB-DMESG /'
echo "IXLAB-DONE"
poweroff -f
EOF
  chmod 0755 "$root/init"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$TMP/initrd.gz"
}

# firmware_seconds ACCEL BUDGET: how long QEMU's firmware (SeaBIOS) takes under ACCEL, on a machine
# with no disks, to reach its boot attempt; sets PROBE_SECONDS (N.N), or fails setting PROBE_WHY (QEMU
# refused ACCEL, or the firmware got nowhere within BUDGET seconds). ~0.2 s where the accelerator works.
PROBE_SECONDS="" PROBE_WHY=""
firmware_seconds() {
  local accel=$1 budget=$2 out=$TMP/probe-$1.log start status=0
  start=$(now_us)
  # -nographic is what makes QEMU ask SeaBIOS to print on the serial port.
  timeout -k 2 "$budget" "$QEMU" -accel "$accel" -nographic -nodefaults -serial stdio -no-reboot -nic none \
    -m 32 -pidfile "$TMP/probe-$accel.pid" </dev/null >"$out" 2>"$out.err" &
  TIMEOUT_PID=$!
  until grep -qE 'Booting from|No bootable device|Boot failed' "$out" 2>/dev/null; do
    if ! kill -0 "$TIMEOUT_PID" 2>/dev/null; then
      wait "$TIMEOUT_PID" || status=$?
      TIMEOUT_PID=""
      if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        PROBE_WHY="QEMU's firmware did not boot within $budget s under $accel"
      else
        PROBE_WHY="QEMU cannot use $accel: $(grep -v 'warning:' "$out.err" | grep -m 1 . || echo "exit $status")"
      fi
      return 1
    fi
    sleep 0.05
  done
  PROBE_SECONDS=$(seconds_since "$start")
  stop_qemu
}

# kvm_usable: QEMU can run a guest with KVM here at a useful speed: its firmware reaches the boot
# attempt within max(1 s, 3x the time TCG takes). A /dev/kvm that opens but runs guests slowly (nested
# KVM without hardware support: here the kernel's decompressor took minutes) counts as unusable.
# Sets KVM_WHY when not (and KVM_SLOW=1 when KVM works, only slowly), KVM_HOW when it is.
KVM_WHY="" KVM_HOW="" KVM_SLOW=0
kvm_usable() {
  local tcg budget_us
  if [ ! -e /dev/kvm ]; then KVM_WHY="no /dev/kvm"; return 1; fi
  if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then KVM_WHY="/dev/kvm is not readable and writable by $(id -un)"; return 1; fi
  firmware_seconds tcg 20 || die "QEMU does not run here: $PROBE_WHY"
  tcg=$PROBE_SECONDS
  budget_us=$((3 * 10#${tcg/./}00000))
  [ "$budget_us" -ge 1000000 ] || budget_us=1000000
  if ! firmware_seconds kvm "$((budget_us / 1000000)).$((budget_us / 100000 % 10))"; then
    KVM_WHY="$PROBE_WHY (TCG: $tcg s)"
    if [[ $PROBE_WHY == *"did not boot within"* ]]; then
      KVM_SLOW=1 KVM_WHY="$KVM_WHY: KVM runs guests too slowly here"
    fi
    return 1
  fi
  KVM_HOW="firmware boot: $PROBE_SECONDS s under kvm, $tcg s under tcg"
}

choose_accel() {
  case $opt_accel in
    tcg) ACCEL=tcg ;;
    kvm)
      # Asked for by name: used unless QEMU cannot use it at all; slowness is only reported.
      ACCEL=kvm
      if ! kvm_usable; then
        [ "$KVM_SLOW" = 1 ] || die "kernel $opt_kernel not booted: --accel kvm, but $KVM_WHY"
        ACCEL_NOTE=$KVM_WHY
        ok "$KVM_WHY; booting with kvm as asked (--timeout $opt_timeout s)"
      fi
      ;;
    auto)
      if kvm_usable; then
        ACCEL=kvm
        ok "KVM is usable here ($KVM_HOW); booting with kvm"
      else
        ACCEL=tcg ACCEL_NOTE="KVM not used: $KVM_WHY"
        ok "$ACCEL_NOTE; booting with tcg"
      fi
      ;;
  esac
}

# run_qemu: one boot with $ACCEL; the console lands in $TMP/console.log, QEMU's own messages in
# $TMP/qemu.err. Sets QEMU_STATUS (124: the timeout stopped it), DONE (1 when IXLAB-DONE appeared) and
# BOOT_SECONDS (until IXLAB-DONE, or until QEMU ended).
run_qemu() {
  local start append="console=ttyS0 panic=-1 rdinit=/init${opt_cmdline:+ $opt_cmdline}" i
  rm -f "$TMP/console.log" "$TMP/qemu.err" "$TMP/qemu.pid"
  DONE=0 QEMU_STATUS=0
  start=$(now_us)
  # `timeout` bounds QEMU even if this script is killed outright; the loop below stops it sooner.
  timeout -k 5 "$opt_timeout" "$QEMU" -kernel "$opt_kernel" -initrd "$TMP/initrd.gz" -append "$append" \
    -nographic -no-reboot -nic none -m "$opt_memory" -accel "$ACCEL" -pidfile "$TMP/qemu.pid" \
    </dev/null >"$TMP/console.log" 2>"$TMP/qemu.err" &
  TIMEOUT_PID=$!
  while kill -0 "$TIMEOUT_PID" 2>/dev/null; do
    if [ -z "$QEMU_PID" ] && [ -s "$TMP/qemu.pid" ]; then QEMU_PID=$(head -n 1 "$TMP/qemu.pid"); fi
    if grep -q 'IXLAB-DONE' "$TMP/console.log" 2>/dev/null; then DONE=1; break; fi
    sleep 0.1
  done
  BOOT_SECONDS=$(seconds_since "$start")
  if [ "$DONE" = 1 ]; then
    # /init powers off. A kernel without ACPI power-off only halts (`reboot: System halted`), and
    # QEMU then runs on: it is stopped at once then, and after 3 s in any case.
    for ((i = 0; i < 30; i++)); do
      kill -0 "$TIMEOUT_PID" 2>/dev/null || break
      grep -q 'reboot: System halted' "$TMP/console.log" && break
      sleep 0.1
    done
    if kill -0 "$TIMEOUT_PID" 2>/dev/null; then
      grep -q 'reboot: System halted' "$TMP/console.log" ||
        log "the guest did not power off within 3 s of IXLAB-DONE; stopping QEMU"
      stop_qemu
    fi
  elif grep -q 'IXLAB-DONE' "$TMP/console.log"; then
    DONE=1 # QEMU powered off between the last look and its exit
  fi
  if [ -n "$TIMEOUT_PID" ]; then wait "$TIMEOUT_PID" || QEMU_STATUS=$?; fi
  QEMU_PID="" TIMEOUT_PID=""
  clean_console "$TMP/console.log" >"$TMP/console.txt"
}

# clean_console LOG: what the kernel and /init printed: carriage returns and terminal escapes removed,
# and the firmware's own output (SeaBIOS, up to its `Booting from ROM...`) left out, so that a kernel
# that printed nothing is told apart from one that did.
clean_console() {
  tr -d '\r' <"$1" | sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|c)//g' | awk '
    { line[NR] = $0 }
    /Booting from ROM/ { rom = NR }
    END {
      first = 1
      if (rom) { sub(/.*Booting from ROM\.*/, "", line[rom]); first = line[rom] == "" ? rom + 1 : rom }
      for (i = first; i <= NR; i++) if (line[i] !~ /^SeaBIOS \(version /) print line[i]
    }'
}

# A failed boot: keep the console beside the record (if any) and say what happened on one line.
fail() {
  if [ -n "$opt_record" ] && [ -n "$TMP" ] && [ -f "$TMP/console.txt" ]; then
    mkdir -p "$opt_record"
    cp "$TMP/console.txt" "$opt_record/boot-failed.log"
    rm -f "$opt_record/boot.log" "$opt_record/boot.json"
  fi
  die "kernel $opt_kernel $*"
}

last_lines() { tail -n "$1" "$TMP/console.txt" | sed '/^[[:space:]]*$/d' | tr '\n' '|' | sed 's/|$//; s/|/ | /g'; }

# slow_kvm_hint BEFORE AFTER: under kvm, a word that KVM may be too slow here, between BEFORE and AFTER.
slow_kvm_hint() { [ "$ACCEL" != kvm ] || printf '%sunder kvm, KVM may be too slow here: try --accel tcg%s' "$1" "$2"; }

# panic_hint PANIC: which kernel options or arguments the panic points at, from what the console shows.
panic_hint() {
  local c=$TMP/console.txt rd
  rd=$(grep -oE '(^| )rdinit=[^ ]*' <<<" $opt_cmdline" | tail -n 1 | tr -d ' ' || true)
  case $1 in
    *"No working init found"* | *"Unable to mount root fs"*)
      if grep -qE '(Failed to execute|Requested init) /init.*error -8' "$c"; then
        echo "; /init could not be executed (error -8, ENOEXEC): it is a busybox script, so needs CONFIG_BINFMT_SCRIPT and CONFIG_BINFMT_ELF"
      elif ! grep -q 'Run /init as init process' "$c"; then
        echo "; the kernel never ran /init: ${rd:+--cmdline sets $rd, which names no file in the initramfs; or }the initramfs was not unpacked (needs CONFIG_BLK_DEV_INITRD and CONFIG_RD_GZIP)"
      else
        echo "; /init failed to run (needs CONFIG_BINFMT_ELF and CONFIG_BINFMT_SCRIPT)"
      fi
      ;;
    *"Attempted to kill init"*)
      echo "; /init died (needs CONFIG_DEVTMPFS, CONFIG_PROC_FS, CONFIG_SYSFS)" ;;
  esac
}

# release_in FILE: the release of the first IXLAB-BOOT line.
release_in() { grep -oE 'IXLAB-BOOT release=[^[:space:]]+' "$1" | head -n 1 | sed 's/^IXLAB-BOOT release=//'; }

# missing_lines FILE: each --expect-line text not found in FILE, one per line.
missing_lines() {
  local text
  for text in "${opt_expect_line[@]}"; do grep -qF -- "$text" "$1" || printf '%s\n' "$text"; done
}

# diagnose: the boot in $TMP passed, or fail with the most specific reason.
diagnose() {
  local why panic early seen rel missing
  if [ "$DONE" != 1 ]; then
    if [ -z "$(tr -d '[:space:]' <"$TMP/console.txt" | head -c 1)" ]; then
      if [ "$QEMU_STATUS" = 124 ] || [ "$QEMU_STATUS" = 137 ]; then
        fail "printed nothing on ttyS0 within $opt_timeout s (is CONFIG_SERIAL_8250_CONSOLE set, and console=ttyS0 on its command line?$(slow_kvm_hint " Or, " ""))"
      fi
      why=$(grep -v 'warning:' "$TMP/qemu.err" | grep -v '^[[:space:]]*$' | head -n 1 || true)
      if [ "$QEMU_STATUS" != 0 ] && [ -n "$why" ]; then
        fail "could not be booted by QEMU ($ACCEL, exit $QEMU_STATUS): $why"
      fi
      fail "printed nothing on ttyS0 within $BOOT_SECONDS s, when QEMU exited (status $QEMU_STATUS) (is CONFIG_SERIAL_8250_CONSOLE set, and console=ttyS0 on its command line?)"
    fi
    panic=$(grep -m 1 -oE 'Kernel panic - not syncing:.*' "$TMP/console.txt" || true)
    if [ -n "$panic" ]; then
      # The line before the panic often names the cause (`Failed to execute /x (error -2)`).
      early=$(grep -m 1 -E 'Failed to execute|Requested init .* failed|Initramfs unpacking failed|VFS: Cannot open root device' "$TMP/console.txt" || true)
      panic=${panic%%  Try passing init=*}
      fail "panicked after $BOOT_SECONDS s: ${panic%%[[:space:]]}${early:+ (after: $early)}$(panic_hint "$panic")"
    fi
    if [ "$QEMU_STATUS" = 124 ] || [ "$QEMU_STATUS" = 137 ]; then
      fail "did not reach IXLAB-DONE within $opt_timeout s$(slow_kvm_hint " (" ")"); last console lines: $(last_lines 5)"
    fi
    fail "stopped before IXLAB-DONE (QEMU exited with status $QEMU_STATUS after $BOOT_SECONDS s); last console lines: $(last_lines 5)"
  fi
  seen=$(grep -c 'IXLAB-BOOT release=' "$TMP/console.txt" || true)
  [ "$seen" -ge 1 ] || fail "reached IXLAB-DONE without an IXLAB-BOOT line; last console lines: $(last_lines 5)"
  rel=$(release_in "$TMP/console.txt")
  [ "$rel" = "$opt_expect_release" ] || fail "booted release $rel, expected $opt_expect_release"
  missing=$(missing_lines "$TMP/console.txt")
  if [ -n "$missing" ]; then
    fail "booted release $rel, but the console has no line containing '${missing//$'\n'/"', '"}'"
  fi
  RELEASE=$rel
}

# The --expect-line texts as a JSON array.
expected_json() {
  if [ ${#opt_expect_line[@]} -eq 0 ]; then echo '[]'; return; fi
  printf '%s\n' "${opt_expect_line[@]}" | jq -Rsc 'split("\n") | .[:-1]'
}

facts_json() {
  local expected
  expected=$(expected_json)
  jq -Rsc --arg release "$RELEASE" --arg accel "$ACCEL" --arg note "$ACCEL_NOTE" --argjson seconds "$BOOT_SECONDS" \
    --argjson expected "$expected" --arg kernel "$opt_kernel" '
    split("\n") | (if .[-1] == "" then .[:-1] else . end) as $lines
    | {release: $release, accel: $accel, bootSeconds: $seconds, expectedLines: $expected,
       console: ($lines[-20:] | join("\n")), kernel: $kernel,
       guest: ([$lines[] | capture("IXLAB-FACT (?<k>[a-z_]+)=(?<v>.*)$")] | map({(.k): .v}) | add // {}),
       dmesg: [$lines[] | capture("IXLAB-DMESG (?<m>.*)$").m]}
    + (if $note == "" then {} else {accelNote: $note} end)' <"$TMP/console.txt"
}

# record_problem: why DIR's record does not show this kernel passing this check (empty: it does).
record_problem() {
  local log=$opt_record/boot.log json=$opt_record/boot.json rel missing sha rec
  [ -f "$log" ] || { echo "no $log"; return; }
  rel=$(release_in "$log")
  [ -n "$rel" ] || { echo "$log has no IXLAB-BOOT release= line"; return; }
  [ "$rel" = "$opt_expect_release" ] || { echo "$log records release $rel, expected $opt_expect_release"; return; }
  grep -q 'IXLAB-DONE' "$log" || { echo "$log has no IXLAB-DONE line"; return; }
  missing=$(missing_lines "$log")
  [ -z "$missing" ] || { echo "$log has no line containing '${missing%%$'\n'*}'"; return; }
  [ -f "$json" ] || { echo "no $json"; return; }
  [ -f "$opt_kernel" ] || { echo "kernel $opt_kernel does not exist"; return; }
  sha=$(sha256sum "$opt_kernel")
  # The record's three fields in one jq (this runs at every refresh); a cmdline is one line (main).
  rec=$(jq -r '(.sha256 // ""), (.cmdline // ""), .accel' "$json")
  mapfile -t rec <<<"$rec"
  [ "${rec[0]}" = "${sha%% *}" ] || { echo "$log records a boot of other kernel bytes than $opt_kernel has now"; return; }
  [ "${rec[1]}" = "$opt_cmdline" ] || { echo "$log records a boot with --cmdline '${rec[1]}'"; return; }
  if [ "$opt_accel" != auto ] && [ "${rec[2]}" != "$opt_accel" ]; then
    echo "$log records a boot with ${rec[2]}, not $opt_accel"
  fi
}

do_create() {
  local facts sha problem=""
  if [ ! -f "$opt_kernel" ] || [ ! -r "$opt_kernel" ]; then die "kernel $opt_kernel does not exist or is not readable"; fi
  if [ -n "$opt_record" ]; then
    problem=$(record_problem)
    if [ -z "$problem" ]; then
      facts=$(jq -c 'del(.sha256, .cmdline) | .expectedLines = $e' --argjson e "$(expected_json)" "$opt_record/boot.json")
      ok "kernel $opt_kernel booted under QEMU ($(jq -r .accel <<<"$facts")) in $(jq -r .bootSeconds <<<"$facts") s, release $opt_expect_release (recorded in $opt_record/boot.log; not booted again)"
      printf 'facts: %s\n' "$facts"
      return 0
    fi
  fi
  command -v "$QEMU" >/dev/null || die "$QEMU not found (Debian package qemu-system-x86)"
  make_tmp
  build_initramfs
  choose_accel
  run_qemu
  if [ "$DONE" != 1 ] && [ "$opt_accel" = auto ] && [ "$ACCEL" = kvm ] && [ "$QEMU_STATUS" != 0 ] && [ "$QEMU_STATUS" != 124 ] &&
    [ -z "$(tr -d '[:space:]' <"$TMP/console.txt" | head -c 1)" ] && grep -qi 'kvm' "$TMP/qemu.err"; then
    ACCEL=tcg ACCEL_NOTE="KVM failed at run time: $(grep -i -m 1 'kvm' "$TMP/qemu.err")"
    ok "$ACCEL_NOTE; booting again with tcg"
    run_qemu
  fi
  diagnose
  facts=$(facts_json)
  if [ -n "$opt_record" ]; then
    mkdir -p "$opt_record"
    sha=$(sha256sum "$opt_kernel" | cut -d' ' -f1)
    cp "$TMP/console.txt" "$opt_record/boot.log.tmp"
    jq -c --arg sha "$sha" --arg cmdline "$opt_cmdline" '. + {sha256: $sha, cmdline: $cmdline}' <<<"$facts" >"$opt_record/boot.json.tmp"
    mv "$opt_record/boot.log.tmp" "$opt_record/boot.log"
    mv "$opt_record/boot.json.tmp" "$opt_record/boot.json"
    rm -f "$opt_record/boot-failed.log"
  fi
  changed "booted $opt_kernel under QEMU ($ACCEL) in $BOOT_SECONDS s, release $RELEASE"
  printf 'facts: %s\n' "$facts"
}

# The acceleration choice alone, for other QEMU users (the VM lab's hosts, roles/vm-host.sh).
do_accel() {
  command -v "$QEMU" >/dev/null || die "$QEMU not found (Debian package qemu-system-x86)"
  make_tmp
  choose_accel
  printf 'facts: %s\n' "$(jq -cn --arg accel "$ACCEL" --arg note "$ACCEL_NOTE" '{accel: $accel} + (if $note == "" then {} else {accelNote: $note} end)')"
}

do_check() {
  local problem
  # Without --record a boot check leaves nothing behind, so there is nothing to check.
  [ -n "$opt_record" ] || return 0
  problem=$(record_problem)
  [ -z "$problem" ] || wrong "$problem"
}

do_delete() {
  local f
  if [ -z "$opt_record" ]; then
    ok "nothing recorded (no --record)"
    return 0
  fi
  for f in boot.log boot.json boot-failed.log; do
    if [ -e "$opt_record/$f" ]; then rm -f "$opt_record/$f"; changed "removed $opt_record/$f"; else ok "no $opt_record/$f"; fi
  done
  # The record directory goes too once nothing else is in it; a directory with other files stays.
  if [ -d "$opt_record" ] && rmdir "$opt_record" 2>/dev/null; then changed "removed empty $opt_record"; fi
  # In ixlab's cache layout (kernels/boot/STACK/DIGEST) the stack's directory goes with its last record.
  local stack_dir
  stack_dir=$(dirname "$opt_record")
  if [[ $(dirname "$stack_dir") == */kernels/boot ]] && rmdir "$stack_dir" 2>/dev/null; then changed "removed empty $stack_dir"; fi
}

main() {
  local text
  parse_args "create check delete accel" "kernel expect-release expect-line+ accel timeout memory cmdline record" "$@"
  if [ "$ACTION" != accel ]; then
    need_flags kernel expect-release
    [[ $opt_expect_release =~ ^[^[:space:]]+$ ]] || usage_error "--expect-release '$opt_expect_release' must be one word"
  fi
  case $opt_accel in auto | kvm | tcg) ;; *) usage_error "--accel '$opt_accel' is not auto, kvm or tcg" ;; esac
  if ! [[ $opt_timeout =~ ^[0-9]{1,5}$ ]] || [ "$opt_timeout" -lt 1 ]; then usage_error "--timeout '$opt_timeout' is not a number of seconds (1-99999)"; fi
  if ! [[ $opt_memory =~ ^[0-9]{1,7}$ ]] || [ "$opt_memory" -lt 16 ]; then usage_error "--memory '$opt_memory' is not a size in MiB (at least 16)"; fi
  for text in "${opt_expect_line[@]}"; do
    [[ -n $text && $text != *$'\n'* ]] || usage_error "--expect-line must be one non-empty line"
  done
  [[ $opt_cmdline != *$'\n'* ]] || usage_error "--cmdline must be one line"
  # A signal still runs the cleanups (QEMU stopped, temp dir removed).
  trap 'exit 143' TERM
  trap 'exit 130' INT
  trap 'exit 129' HUP
  run_action
}

main "$@" </dev/null
