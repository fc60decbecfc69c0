# shellcheck shell=bash
# Common settings for the hmmdev build scripts.  Sourced, not run.
#
# Everything downloaded or built lives under $HMMDEV_CACHE, outside the clone,
# in directories keyed by the version and a hash of the recipe that made
# them, so a fresh clone reuses them and an edit to the device or the driver
# only rebuilds what changed.

HMMDEV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HMMDEV_CACHE=${HMMDEV_CACHE:-/var/cache/hmmdev}
JOBS=${JOBS:-$(nproc)}

QEMU_VERSION=10.0.2
QEMU_ORIG=qemu_${QEMU_VERSION}+ds.orig.tar.xz
KERNEL_SERIES=6.12
KERNEL_TARBALL=/usr/src/linux-source-${KERNEL_SERIES}.tar.xz

log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# short_hash STRING...: 12 hex digits identifying a recipe
short_hash() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }

# sync_file SRC DST: copy only when the content differs, so that mtimes (and
# with them ninja/make's idea of what is stale) move only on real edits.
sync_file() {
	if ! cmp -s "$1" "$2"; then
		mkdir -p "$(dirname "$2")"
		cp "$1" "$2"
	fi
}

qemu_configure_flags() {
	printf '%s\n' --target-list=x86_64-softmmu --without-default-features \
		--disable-docs --disable-install-blobs --python=/usr/bin/python3 "$@"
}

# Paths of the products, for the scripts that use them.
# The qtests of qemu-device/tests/, by name: they are wired into the tree.
qemu_qtests() {
	local f
	for f in "$HMMDEV_TOP"/qemu-device/tests/*.c; do basename "${f%.c}"; done
}
qemu_tree() { # [asan]
	local flags
	flags=$(qemu_configure_flags ${1:+--enable-asan --enable-ubsan})
	echo "$HMMDEV_CACHE/qemu-$QEMU_VERSION${1:+-$1}-$(short_hash "$flags" wiring-v2 $(qemu_qtests))"
}
kernel_tree() {
	local ver
	ver=$(dpkg-query -W -f='${Version}' linux-source-$KERNEL_SERIES 2>/dev/null)
	echo "$HMMDEV_CACHE/linux-$ver-$(short_hash "$ver" "$(cat "$HMMDEV_TOP/images/kernel.config")")"
}
guest_dir() { echo "$HMMDEV_CACHE/guest"; }
