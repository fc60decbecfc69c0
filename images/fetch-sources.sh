#!/usr/bin/env bash
# Fetch the sources the build needs, through the private apt configuration
# (images/bootstrap.sh), into $HMMDEV_CACHE/dl, each file checked against
# the sha256 of the index it came from:
#   - QEMU's orig tarball, qemu_$QEMU_VERSION+ds.orig.tar.xz (sid's Sources);
#   - linux-source-SERIES for every guest kernel (binary packages, arch all:
#     the .deb is checked, then only its tarball is kept; nothing is
#     installed).  The version fetched is recorded; the kernel trees are
#     keyed by it.
# Idempotent: what is there and checked is not fetched again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dl=$HMMDEV_CACHE/dl
mkdir -p "$dl"

# dir_bytes DIR: bytes below DIR, for progress()
dir_bytes() { du -sb "$watch_dir" 2>/dev/null | cut -f1; }

fetch_qemu() {
	[ -f "$dl/$QEMU_ORIG.checked" ] && return 0
	local want have ver size
	# the source version whose file list has our tarball, its sha256, size
	read -r ver want size < <(apt_private apt-cache showsrc qemu | awk -v f="$QEMU_ORIG" '
		/^Version:/ { v = $2 }
		/^Checksums-Sha256:/ { in_sums = 1; next }
		/^[^ ]/ { in_sums = 0 }
		in_sums && $3 == f { print v, $1, $2; exit }') || true
	[ -n "$want" ] || die "sid's source index lists no $QEMU_ORIG (images/bootstrap.sh)"
	mkdir -p "$dl/qemu.partial"
	watch_dir=$dl/qemu.partial
	# The .dsc and .debian.tar.xz may be missing from the archive: the orig
	# tarball is all we need, and its checksum is the verdict.
	(cd "$dl/qemu.partial" && progress "downloading $QEMU_ORIG (bytes)" "$size" dir_bytes \
		"$dl/qemu.download.log" apt_private apt-get source --download-only "qemu=$ver") || true
	[ -f "$dl/qemu.partial/$QEMU_ORIG" ] || die "could not download $QEMU_ORIG (log: $dl/qemu.download.log)"
	have=$(sha256sum "$dl/qemu.partial/$QEMU_ORIG" | cut -d' ' -f1)
	[ "$have" = "$want" ] || die "$QEMU_ORIG: sha256 $have, sid's Sources index says $want"
	mv "$dl/qemu.partial/$QEMU_ORIG" "$dl/$QEMU_ORIG"
	rm -rf "$dl/qemu.partial"
	echo "$want" >"$dl/$QEMU_ORIG.checked"
	log "$QEMU_ORIG: sha256 matches sid's Sources index"
}

fetch_kernel() { # SERIES
	local series=$1 pkg=linux-source-$1 dir ver want have size deb
	dir=$(kernel_dl_dir "$series")
	ver=$(apt_private apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] ||
		die "no $pkg in the private apt index (images/bootstrap.sh)"
	[ "$(kernel_version "$series")" = "$ver" ] && [ -f "$(kernel_tarball "$series")" ] && return 0
	read -r want size < <(apt_private apt-cache show "$pkg=$ver" |
		awk '/^SHA256:/ { s = $2 } /^Size:/ { z = $2 } /^$/ { exit } END { print s, z }')
	rm -rf "$dir" && mkdir -p "$dir/partial"
	watch_dir=$dir/partial
	(cd "$dir/partial" && progress "downloading $pkg $ver (bytes)" "$size" dir_bytes \
		"$dir/download.log" apt_private apt-get download "$pkg=$ver") ||
		die "could not download $pkg $ver (log: $dir/download.log)"
	deb=$(echo "$dir"/partial/*.deb)
	have=$(sha256sum "$deb" | cut -d' ' -f1)
	[ "$have" = "$want" ] || die "$pkg $ver: sha256 $have, the Packages index says $want"
	log "$pkg $ver: sha256 matches the Packages index; unpacking its tarball"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$pkg.tar.xz" >"$(kernel_tarball "$series")"
	rm -rf "$dir/partial"
	echo "$ver" >"$dir/version"
}

fetch_qemu
for k in "${KERNELS[@]}"; do fetch_kernel "$k"; done
