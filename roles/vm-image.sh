#!/usr/bin/env bash
# vm-image: the disk image every VM lab host boots (through a copy-on-write overlay of its own): Debian
# 12 with systemd, sshd, GRUB on BIOS (GRUB_DEFAULT=saved), initramfs-tools and Debian's kernel, built
# once per machine by mmdebstrap from Debian packages and kept in ixlab's cache, keyed by its package
# list. Runs as root on the machine running Pulumi (never over SSH).
#   vm-image.sh create|check|delete --cache DIR [--packages "extra packages"] [--size 6G]
#   vm-image.sh key --cache DIR [--packages ...]     prints the key and the image's path
# While it builds, its progress is also in DIR/images/.build-KEY.log (then KEY/build.log).
# create prints `facts: {"key":..., "image":..., "release":..., ...}`. delete keeps the image: it is a
# cache shared by every VM lab of this machine (remove DIR/images/KEY by hand to rebuild it).
#
# Built without a loop device or a mount: this machine's kernel has no partition-table support (a
# loop device gives no partition nodes), and a mount would be one more thing to leave behind. So the
# root file system is made from mmdebstrap's directory by `mke2fs -d`, copied into a disk file after
# a 1 MiB gap that holds the MBR and GRUB's core image, which are written by hand: grub-install needs
# a block device. The first grub.cfg is made by update-grub itself with grub-probe answering for
# the disk the VM will see (/dev/vda1): in the chroot it finds no device for /. Inside the VM,
# grub-install and update-grub then work as on any Debian host.
# shellcheck source=lib.sh
[ -n "${IXLAB_LIB_LOADED:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Bump when the build below changes what an image holds (the key then changes and images rebuild).
FORMAT=4
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
SECURITY=http://deb.debian.org/debian-security
# What every VM lab host has before the lab asks anything of it: a plain Debian server that boots
# through GRUB, plus jq, which every ixlab role runs on, and what a host of guests needs (QEMU and
# the guest userland, infra/host.ts GUEST_HOST_PACKAGES): installing those ~150 packages through apt
# took 13 minutes in a TCG VM on a busy machine. Everything else a lab asks for (netperf, ethtool,
# tcpdump, hosts[].packages) comes the normal way, through apt, from the lab's own repository.
BASE_PACKAGES="systemd-sysv udev dbus linux-image-amd64 grub-pc initramfs-tools zstd openssh-server e2fsprogs iproute2 kmod procps jq qemu-system-x86 busybox-static dropbear-bin openssh-client"
# The partition starts here (sectors of 512 bytes); GRUB's core image lives in the gap before it.
PART_START=2048
# The disk the VM sees and the root partition on it, for GRUB's first configuration.
VM_DISK=/dev/vda
VM_ROOT=/dev/vda1

opt_cache='' opt_packages='' opt_size=6G
KEY='' DIR='' PACKAGES=''

image_key() {
  printf 'format=%s suite=%s size=%s packages=%s\n' "$FORMAT" "$SUITE" "$opt_size" "$PACKAGES" | sha256sum | cut -c1-16
}

step() { log "[$1] $2 ($((SECONDS - T0))s)"; }

# The stand-in grub-probe update-grub runs in the chroot: answers for the VM's disk.
fake_grub_probe() {
  cat <<EOF
#!/bin/sh
# ixlab vm-image: answers update-grub's questions for the VM's disk during the image build only.
target=device
while [ \$# -gt 0 ]; do
  case \$1 in
    -t|--target) target=\$2; shift 2 ;;
    --target=*) target=\${1#--target=}; shift ;;
    -d|--device) shift; [ \$# -gt 0 ] && shift ;;
    *) shift ;;
  esac
done
case \$target in
  device) echo $VM_ROOT ;;
  fs) echo ext2 ;;
  fs_uuid) echo $1 ;;
  partmap) echo msdos ;;
  abstraction|cryptodisk_uuid) ;;
  drive) echo '(hd0,msdos1)' ;;
  compatibility_hint) echo hd0,msdos1 ;;
  hints_string) echo '--hint-bios=hd0,msdos1 --hint-efi=hd0,msdos1 --hint-baremetal=ahci0,msdos1' ;;
  *) exit 1 ;;
esac
EOF
}

# The unit that applies a VM's seed disk at every boot, before the network and sshd.
seed_unit() {
  cat <<'EOF'
[Unit]
Description=ixlab: apply this VM's seed disk (host key, authorized key, NIC names, management address, apt source)
DefaultDependencies=no
After=local-fs.target systemd-udev-trigger.service
Before=network-pre.target ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ixlab-seed

[Install]
WantedBy=multi-user.target
EOF
}

# The seed disk is a plain tar archive on a virtio disk with serial "ixlseed" (no file system, so any
# kernel with virtio_blk reads it); roles/vm-host.sh writes it. Its files: hostname, host key,
# authorized_keys, sources.list, nics ("MAC NAME" lines, management NIC first) and address (the
# management address with its prefix).
seed_script() {
  cat <<'EOF'
#!/bin/sh
# ixlab: apply this VM's seed disk (roles/vm-image.sh). Runs at every boot, so a re-made seed counts.
set -eu
# The seed disk by its serial, straight from sysfs: udev's by-id links come much later under TCG.
i=0 dev=''
while [ $i -lt 600 ]; do
  dev=$(grep -lx ixlseed /sys/block/*/serial 2>/dev/null | head -n 1 | cut -d/ -f4)
  [ -z "$dev" ] || break
  sleep 0.1; i=$((i + 1))
done
[ -n "$dev" ] || { echo "ixlab-seed: no seed disk (a virtio disk with serial ixlseed)" >&2; exit 1; }
dev=/dev/$dev
s=/run/ixlab-seed
rm -rf "$s" && mkdir -m 0700 "$s"
tar -xf "$dev" -C "$s"
hostname "$(cat "$s/hostname")"
cp "$s/hostname" /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$(cat "$s/hostname")" >/etc/hosts
install -m 0600 "$s/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 0644 "$s/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
install -d -m 0700 /root/.ssh
install -m 0600 "$s/authorized_keys" /root/.ssh/authorized_keys
[ ! -f "$s/sources.list" ] || install -m 0644 "$s/sources.list" /etc/apt/sources.list
# NIC names by MAC: net.ifnames=0 keeps udev from renaming anything, so each NIC is renamed once
# here, through a temporary name (a wanted name may be another NIC's kernel name, e.g. eth1).
n=0
while read -r mac name; do
  i=0
  while [ $i -lt 1200 ]; do
    dev=$(grep -lix "$mac" /sys/class/net/*/address 2>/dev/null | head -n 1 | cut -d/ -f5)
    [ -z "$dev" ] || break
    sleep 0.1; i=$((i + 1))
  done
  [ -n "$dev" ] || { echo "ixlab-seed: no NIC with MAC $mac" >&2; exit 1; }
  [ "$dev" = "$name" ] || ip link set dev "$dev" name "ixltmp$n"
  n=$((n + 1))
done <"$s/nics"
n=0
while read -r mac name; do
  [ ! -e "/sys/class/net/ixltmp$n" ] || ip link set dev "ixltmp$n" name "$name"
  n=$((n + 1))
done <"$s/nics"
mgmt=$(head -n 1 "$s/nics" | cut -d' ' -f2)
ip link set dev lo up
# IPv4 only, from 198.18.0.0/15: no IPv6 link-local address on any NIC (sysctl.d says so too, for
# NICs that come later); the data NICs are addressed by ixlab's host roles, as on a real host. A
# kernel built without IPv6 (the VM-host kernel) has no such knob, and must still get its address.
[ ! -d /proc/sys/net/ipv6 ] || sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link set dev "$mgmt" up
ip -4 addr replace "$(cat "$s/address")" dev "$mgmt"
EOF
}

# Runs inside mmdebstrap's customize hook: $1 is the root directory of the image being made.
customize() {
  local root=$1 uuid=$2
  printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" >"$root/etc/fstab"
  # GRUB: the saved default (ixlab's kernel install relies on it for its one-shot boot and fallback),
  # the serial console (the VM's console log), and kernel names for NICs (the seed names them).
  cat >"$root/etc/default/grub" <<'EOF'
# Written by ixlab roles/vm-image.sh.
GRUB_DEFAULT=saved
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200 net.ifnames=0"
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
EOF
  # The image's own initramfs is made with MODULES=most (in the chroot there is no device to probe);
  # every kernel installed later in the VM gets MODULES=dep: 2 minutes instead of 11 under TCG.
  printf '# Written by ixlab roles/vm-image.sh.\nMODULES=dep\n' >"$root/etc/initramfs-tools/conf.d/ixlab-vm"
  printf 'grub-pc grub-pc/install_devices multiselect %s\n' "$VM_DISK" | chroot "$root" debconf-set-selections
  # sshd: only the ed25519 host key the seed brings (its public half is pinned by ixlab).
  rm -f "$root"/etc/ssh/ssh_host_*
  printf '# Written by ixlab roles/vm-image.sh.\nHostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nUseDNS no\n' >"$root/etc/ssh/sshd_config.d/ixlab-vm.conf"
  seed_script >"$root/usr/local/sbin/ixlab-seed"
  chmod 0755 "$root/usr/local/sbin/ixlab-seed"
  seed_unit >"$root/etc/systemd/system/ixlab-seed.service"
  chroot "$root" systemctl enable ixlab-seed.service >/dev/null 2>&1
  # No network beyond the lab: nothing to fetch on a timer; no swap, no resume device to wait for.
  chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service >/dev/null 2>&1
  printf 'RESUME=none\n' >"$root/etc/initramfs-tools/conf.d/resume"
  # Under TCG on a busy machine a VM may get no CPU for minutes: no service watchdog or start timeout
  # may then fail the boot (udevd and logind did, with WatchdogSec=3min).
  mkdir -p "$root/etc/systemd/system.conf.d"
  printf '# Written by ixlab roles/vm-image.sh.\n[Manager]\nDefaultTimeoutStartSec=15min\nDefaultDeviceTimeoutSec=15min\n' >"$root/etc/systemd/system.conf.d/ixlab-vm.conf"
  local unit
  for unit in systemd-udevd systemd-logind systemd-journald systemd-networkd systemd-timesyncd; do
    mkdir -p "$root/etc/systemd/system/$unit.service.d"
    printf '# Written by ixlab roles/vm-image.sh.\n[Service]\nWatchdogSec=0\n' >"$root/etc/systemd/system/$unit.service.d/ixlab-vm.conf"
  done
  printf '# Written by ixlab roles/vm-image.sh: the lab network is IPv4 only.\nnet.ipv6.conf.all.disable_ipv6 = 1\nnet.ipv6.conf.default.disable_ipv6 = 1\n' \
    >"$root/etc/sysctl.d/60-ixlab-vm.conf"
  chroot "$root" systemctl set-default multi-user.target >/dev/null 2>&1
  printf '' >"$root/etc/machine-id"
  mv "$root/usr/sbin/grub-probe" "$root/usr/sbin/grub-probe.ixlab-real"
  fake_grub_probe "$uuid" >"$root/usr/sbin/grub-probe"
  chmod 0755 "$root/usr/sbin/grub-probe"
  chroot "$root" update-grub >&2
  mv -f "$root/usr/sbin/grub-probe.ixlab-real" "$root/usr/sbin/grub-probe"
  chroot "$root" grub-editenv /boot/grub/grubenv create
  # What grub-install would put in /boot/grub (it needs a block device): the modules GRUB loads at
  # boot and the core image that finds them, both from the image's own GRUB.
  mkdir -p "$root/boot/grub/i386-pc"
  cp -a "$root/usr/lib/grub/i386-pc/." "$root/boot/grub/i386-pc/"
  chroot "$root" grub-mkimage -O i386-pc -o /boot/grub/i386-pc/core.img -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
  rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages "$root"/var/lib/apt/lists/*_InRelease
}

# Writes GRUB's boot sector (boot.img's code, keeping the partition table) and core image (right
# after the MBR, where boot.img looks for it by default) into DISK, from the image root ROOT.
write_grub() {
  local disk=$1 root=$2 sectors
  sectors=$((($(stat -c %s "$root/boot/grub/i386-pc/core.img") + 511) / 512))
  [ "$sectors" -lt "$PART_START" ] || die "GRUB's core image ($sectors sectors) does not fit before the partition"
  dd if="$root/usr/lib/grub/i386-pc/boot.img" of="$disk" bs=440 count=1 conv=notrunc status=none
  dd if="$root/boot/grub/i386-pc/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none
}

build() {
  local tmp=$1 uuid size_bytes part_bytes hook
  T0=$SECONDS
  uuid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$tmp/root"
  step 1/3 "mmdebstrap $SUITE with: $PACKAGES (the first build downloads about 400 MB of Debian packages)"
  hook="bash -c 'IXLAB_CUSTOMIZE=1 . \"\$0\" customize \"\$1\" $uuid' $(realpath "${BASH_SOURCE[0]}") \"\$1\""
  mmdebstrap --mode=root --variant=apt --format=directory --components=main,non-free \
    --include="${PACKAGES// /,}" --customize-hook="$hook" \
    "$SUITE" "$tmp/root" "deb $MIRROR $SUITE main non-free" "deb $MIRROR $SUITE-updates main non-free" \
    "deb $SECURITY $SUITE-security main non-free" >&2 || die "mmdebstrap failed (see the lines above)"
  step 2/3 "assembling the disk: partition table, ext4 root file system by mke2fs -d ($(du -sh "$tmp/root" | cut -f1)), GRUB"
  size_bytes=$(numfmt --from=iec "$opt_size")
  part_bytes=$((size_bytes - PART_START * 512))
  truncate -s "$size_bytes" "$tmp/disk.raw"
  printf 'label: dos\nstart=%d, type=83, bootable\n' "$PART_START" | sfdisk -q "$tmp/disk.raw" >&2
  # Straight into the partition (mke2fs writes at an offset into the disk file: no copy, no loop device).
  mke2fs -q -t ext4 -U "$uuid" -L ixlab-root -E "offset=$((PART_START * 512))" -d "$tmp/root" \
    "$tmp/disk.raw" "$((part_bytes / 1024))k" >&2 || die "mke2fs -d failed"
  write_grub "$tmp/disk.raw" "$tmp/root"
  step 3/3 "converting to qcow2 (the base of every VM's overlay)"
  qemu-img convert -O qcow2 "$tmp/disk.raw" "$tmp/disk.qcow2"
  rm -f "$tmp/disk.raw"
  jq -n --arg key "$KEY" --arg packages "$PACKAGES" --arg uuid "$uuid" \
    --arg release "$(find "$tmp/root/lib/modules/" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tail -n 1)" \
    --argjson seconds "$((SECONDS - T0))" --arg built "$(date -u +%FT%TZ)" \
    '{key: $key, packages: ($packages | split(" ")), rootUuid: $uuid, release: $release, buildSeconds: $seconds, built: $built}' >"$tmp/manifest.json"
  rm -rf "$tmp/root"
}

facts() {
  jq -c --arg image "$DIR/disk.qcow2" --argjson bytes "$(stat -c %s "$DIR/disk.qcow2")" '. + {image: $image, bytes: $bytes}' "$DIR/manifest.json"
}

do_create() {
  local tmp
  local c
  for c in mmdebstrap mke2fs sfdisk qemu-img; do
    command -v "$c" >/dev/null || die "$c not found (Debian packages: mmdebstrap e2fsprogs fdisk qemu-utils)"
  done
  mkdir -p "$opt_cache/images"
  exec 9>"$opt_cache/images/.lock-$KEY"
  flock 9
  if [ -f "$DIR/manifest.json" ] && [ -f "$DIR/disk.qcow2" ]; then
    ok "image $KEY is built ($DIR)"
  else
    tmp=$opt_cache/images/.build-$KEY.$$
    rm -rf "$tmp" && mkdir -p "$tmp"
    defer "rm -rf '$tmp'"
    # Progress goes to the caller and to a log one can follow while Pulumi waits (`tail -f`).
    : >"$opt_cache/images/.build-$KEY.log"
    exec 2> >(tee -a "$opt_cache/images/.build-$KEY.log" >&2)
    build "$tmp"
    rm -rf "$DIR" && mv "$tmp" "$DIR"
    mv -f "$opt_cache/images/.build-$KEY.log" "$DIR/build.log"
    changed "built image $KEY in $(jq -r .buildSeconds "$DIR/manifest.json") s: $DIR/disk.qcow2 ($(du -h "$DIR/disk.qcow2" | cut -f1))"
  fi
  printf 'facts: %s\n' "$(facts)"
}

do_check() {
  if [ ! -f "$DIR/manifest.json" ] || [ ! -f "$DIR/disk.qcow2" ]; then wrong "image $KEY is not built ($DIR)"; fi
}

do_delete() {
  ok "image $KEY stays in the cache ($DIR)"
}

do_key() {
  printf '%s %s\n' "$KEY" "$DIR/disk.qcow2"
}

main() {
  parse_args "create check delete key" "cache packages size" "$@"
  need_flags cache
  [[ $opt_cache == /* ]] || usage_error "--cache '$opt_cache' is not an absolute path"
  [[ $opt_size =~ ^[0-9]+G$ ]] || usage_error "--size '$opt_size' is not a size in GiB (e.g. 6G)"
  local p
  read -ra extra <<<"$opt_packages"
  for p in "${extra[@]}"; do
    [[ $p =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || usage_error "--packages: not a Debian package name: '$p'"
  done
  # shellcheck disable=SC2086 # a list of names
  PACKAGES=$(printf '%s\n' $BASE_PACKAGES "${extra[@]}" | sort -u | tr '\n' ' ')
  PACKAGES=${PACKAGES% }
  KEY=$(image_key)
  DIR=$opt_cache/images/$KEY
  run_action
}

if [ -n "${IXLAB_CUSTOMIZE:-}" ]; then
  [ "$1" = customize ] && customize "$2" "$3"
else
  main "$@" </dev/null
fi
