# Sourced by scripts/tiny-linux and scripts/anvil-agent: what both ramdisks share (see
# shared/reference/tiny-linux.md). Debian's cloud kernel, busybox-static with its applet links,
# the nine virtio modules in load order, the FAT modules (loaded when a disk is mounted), Debian's
# dropbear (SSH server) with the libraries it links, the udhcpc lease script, the stamp that says
# whether a build is current, and the cpio+gzip packing. The caller sets `name` (for messages) first.

# Order matters: each module depends on the ones before it (tiny-linux.md; modinfo -F depends).
INITRAMFS_MODULES=(
  drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/core/failover
  drivers/net/net_failover drivers/net/virtio_net drivers/block/virtio_blk
)
# Shipped, not loaded at boot: the /init loads them (in this order) before it mounts a FAT
# filesystem (ext4 is built into Debian's cloud kernel). Its default iocharset is ascii.
INITRAMFS_FAT_MODULES=(fs/fat/fat fs/fat/vfat fs/nls/nls_cp437 fs/nls/nls_ascii fs/nls/nls_utf8)
DROPBEAR=/usr/sbin/dropbear
INITRAMFS_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "scripts/${name:-initramfs}: $*" >&2; exit 1; }

# Sets busybox_bin to a static busybox (a dynamic one cannot run in an initramfs without libc).
initramfs_busybox() {
  command -v busybox >/dev/null || die "busybox is missing; install busybox-static (scripts/install)"
  busybox_bin="$(command -v busybox)"
  # ldd (from libc-bin, always there) fails on a static binary.
  if ldd "$busybox_bin" >/dev/null 2>&1; then
    die "$busybox_bin is dynamically linked; install busybox-static (it replaces busybox)"
  fi
}

# Checks that Debian's dropbear is there (package dropbear-bin).
initramfs_dropbear_check() {
  [ -x "$DROPBEAR" ] || die "$DROPBEAR is missing; install dropbear-bin (scripts/install)"
}

# Sets kernel_pkg and kernel_version. The meta-package depends on exactly one versioned kernel
# package: that is "the current one".
initramfs_kernel_pkg() {
  local query='s/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p'
  kernel_pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n "$query" | head -n1)"
  if [ -z "$kernel_pkg" ]; then
    # apt's lists may be missing on a fresh machine (apt-cache finds nothing before an update).
    [ "$(id -u)" = 0 ] || die "cannot resolve linux-image-cloud-amd64; run 'apt-get update' as root"
    apt-get update -q >/dev/null
    kernel_pkg="$(apt-cache depends linux-image-cloud-amd64 | sed -n "$query" | head -n1)"
  fi
  [ -n "$kernel_pkg" ] || die "apt-cache cannot resolve linux-image-cloud-amd64 to a kernel package"
  kernel_version="${kernel_pkg#linux-image-}"
}

# Prints the stamp of a build: the kernel package and the sha256 of every input file given
# (busybox, the calling script, this library and whatever the caller adds).
initramfs_stamp() {
  echo "$kernel_pkg $(sha256sum "$busybox_bin" "$DROPBEAR" "${BASH_SOURCE[0]}" "$INITRAMFS_LIB_DIR/udhcpc.script" "$@" | awk '{print $1}' | tr '\n' ' ')"
}

# True when OUT holds a complete build made from STAMP.
initramfs_up_to_date() {
  local out="$1" stamp="$2"
  [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ]
}

# Downloads the kernel package (kept in .tools/debs, so both ramdisks fetch it once) and
# unpacks it in WORK/kernel; sets moddir.
initramfs_fetch_kernel() {
  local work="$1" cache=.tools/debs deb
  deb="$(ls "$cache/${kernel_pkg}"_*.deb 2>/dev/null | head -n1 || true)"
  if [ -z "$deb" ]; then
    say "Downloading $kernel_pkg"
    mkdir -p "$work/download"
    (cd "$work/download" && apt-get download -q "$kernel_pkg" >/dev/null)
    rm -rf "$cache" && mkdir -p "$cache"
    mv "$work"/download/linux-image-*.deb "$cache/"
    deb="$(ls "$cache/${kernel_pkg}"_*.deb)"
  fi
  dpkg-deb -x "$deb" "$work/kernel" || { rm -f "$deb"; die "cannot unpack $deb (removed; run again)"; }
  moddir="$work/kernel/lib/modules/$kernel_version/kernel"
  [ -f "$work/kernel/boot/vmlinuz-$kernel_version" ] || die "$kernel_pkg has no boot/vmlinuz-$kernel_version"
}

# Makes ROOT: the directories, busybox with a link per applet (made now, not with --install at
# boot, so the image is complete as built) and the udhcpc lease script.
initramfs_root() {
  local root="$1" applet
  mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,lib/modules,usr/share/udhcpc}
  cp "$busybox_bin" "$root/bin/busybox"
  for applet in $("$busybox_bin" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  install -m 755 "$INITRAMFS_LIB_DIR/udhcpc.script" "$root/usr/share/udhcpc/default.script"
}

# dropbear as ROOT/bin/dropbear with every library ldd names (and the dynamic loader) at the same
# paths, root's entry in /etc/passwd (home /root, shell /bin/sh) and /etc/dropbear for the host
# keys it makes on first use (-R). Its PATH for commands is /usr/bin:/bin: busybox is in /bin.
initramfs_dropbear() {
  local root="$1" lib
  install -m 755 "$DROPBEAR" "$root/bin/dropbear"
  for lib in $(ldd "$DROPBEAR" | sed -n 's/^.*=> \(\/[^ ]*\) .*$/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*$/\1/p'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  mkdir -p "$root/etc/dropbear" "$root/root" "$root/dev/pts"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  echo 'root:x:0:' > "$root/etc/group"
  echo '/bin/sh' > "$root/etc/shells"
}

# Copies one module (decompressed if the package ships it as .ko.xz) into ROOT/lib/modules.
initramfs_module() {
  local root="$1" m="$2" src="$moddir/$2.ko"
  if [ ! -f "$src" ] && [ -f "$src.xz" ]; then
    xz -dc "$src.xz" > "$root/lib/modules/$(basename "$m").ko"
    return
  fi
  [ -f "$src" ] || die "module $m is not in $kernel_pkg"
  cp "$src" "$root/lib/modules/$(basename "$m").ko"
}

# The nine virtio modules, listed in ROOT/lib/modules/order for the /init to insmod in turn,
# the FAT modules, listed in ROOT/lib/modules/fat, and any further modules given (shipped, not loaded).
initramfs_modules() {
  local root="$1" m
  shift
  : > "$root/lib/modules/order"
  for m in "${INITRAMFS_MODULES[@]}"; do
    initramfs_module "$root" "$m"
    echo "$(basename "$m").ko" >> "$root/lib/modules/order"
  done
  for m in "${INITRAMFS_FAT_MODULES[@]}" "$@"; do initramfs_module "$root" "$m"; done
  for m in "${INITRAMFS_FAT_MODULES[@]}"; do echo "$(basename "$m").ko"; done > "$root/lib/modules/fat"
}

# Packs ROOT into OUT/initrd.gz, moves WORK's kernel to OUT/vmlinuz and writes the stamp last,
# so an interrupted build is never taken for a current one.
initramfs_finish() {
  local root="$1" work="$2" out="$3" stamp="$4"
  mkdir -p "$out"
  (cd "$root" && find . | LC_ALL=C sort | "$busybox_bin" cpio -o -H newc 2>/dev/null) | gzip -9 > "$out/initrd.gz.new"
  cp "$work/kernel/boot/vmlinuz-$kernel_version" "$out/vmlinuz.new"
  rm -f "$out/stamp"
  mv "$out/vmlinuz.new" "$out/vmlinuz"
  mv "$out/initrd.gz.new" "$out/initrd.gz"
  echo "$stamp" > "$out/stamp"
}
