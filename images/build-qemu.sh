#!/usr/bin/env bash
# Build qemu-system-x86_64 with the hmmdev device and its qtest.
#
#   images/build-qemu.sh [--asan|--tsan]
#
# 1. QEMU's source tarball comes from images/fetch-sources.sh (sid's source
#    index, sha256 checked).
# 2. Extract it once per recipe, neutralise the edk2 blob unpacking (the +ds
#    tarball has no firmware blobs) and wire hw/misc/hmmdev/ into Kconfig,
#    meson and the trace-events list, and the qtest into tests/qtest.
# 3. Overlay qemu-device/ (only files whose content changed) and run ninja.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=
case "${1:-}" in --asan | --tsan) variant=${1#--} ;; esac
tree=$(qemu_tree $variant)
src=$tree/src
build=$tree/build
dl=$HMMDEV_CACHE/dl

# ninja_steps LOG: the last "[N/M]" ninja printed, as "N M"
ninja_steps() { grep -o '^\[[0-9]*/[0-9]*\]' "$1" | tail -1 | tr -d '[]' | tr / ' '; }

# Wire hw/misc/hmmdev and the qtest into a pristine tree (once).
wire_tree() {
	sed -i 's/^\( *\)unpack_edk2_blobs = bzip2.found()/\1unpack_edk2_blobs = false/' \
		"$src/meson.build"
	sed -i "s|^\( *\)'hw/misc',\$|&\n\1'hw/misc/hmmdev',|" "$src/meson.build"
	grep -q "'hw/misc/hmmdev'" "$src/meson.build" || die "trace-events wiring failed"
	echo "subdir('hmmdev')" >>"$src/hw/misc/meson.build"
	echo "source hmmdev/Kconfig" >>"$src/hw/misc/Kconfig"
	local names
	names=$(qemu_qtests | sed "s/.*/'&'/" | paste -sd, -)
	# like other optional devices: the qtests exist where the device does
	sed -i "s|^qtests_x86_64 = qtests_i386\$|&\nqtests_x86_64 += config_all_devices.has_key('CONFIG_HMMDEV') ? [$names] : []|" \
		"$src/tests/qtest/meson.build"
	# the quiesce test plays a TPM (tpm-crb's PPI page is a ram_device)
	sed -i "s|^\( *\)'tpm-crb-test': \[io, tpmemu_files\],\$|&\n\1'hmmdev-quiesce-test': [io, tpmemu_files],|" \
		"$src/tests/qtest/meson.build"
	grep -q "'hmmdev-test'" "$src/tests/qtest/meson.build" || die "qtest wiring failed"
	grep -q "'hmmdev-quiesce-test': \[io" "$src/tests/qtest/meson.build" ||
		die "qtest wiring (tpm emulator) failed"
}

overlay() {
	local f
	for f in "$HMMDEV_TOP"/qemu-device/*.[ch] "$HMMDEV_TOP"/qemu-device/meson.build \
		"$HMMDEV_TOP"/qemu-device/Kconfig "$HMMDEV_TOP"/qemu-device/trace-events; do
		sync_file "$f" "$src/hw/misc/hmmdev/${f##*/}"
	done
	for f in "$HMMDEV_TOP"/qemu-device/tests/*.[ch]; do
		sync_file "$f" "$src/tests/qtest/${f##*/}"
	done
	# A file removed from qemu-device/ must leave the tree too.
	for f in "$src"/hw/misc/hmmdev/*; do
		[ -e "$HMMDEV_TOP/qemu-device/${f##*/}" ] || rm -f "$f"
	done
}

if [ ! -f "$tree/.extracted" ]; then
	[ -f "$dl/$QEMU_ORIG.checked" ] || die "$QEMU_ORIG not fetched (images/fetch-sources.sh)"
	log "extracting QEMU $QEMU_VERSION into $tree"
	rm -rf "$tree"
	mkdir -p "$tree"
	tar xf "$dl/$QEMU_ORIG" -C "$tree"
	mv "$tree/qemu-$QEMU_VERSION" "$src"
	wire_tree
	touch "$tree/.extracted"
fi
overlay

if [ ! -f "$build/build.ninja" ]; then
	log "configuring QEMU ($variant${variant:+ }build in $build)"
	rm -rf "$build"
	mkdir -p "$build"
	mapfile -t flags < <(qemu_configure_flags $(qemu_variant_flags "$variant"))
	progress "configuring QEMU" 0 true "$tree/configure.log" \
		env -C "$build" "$src/configure" "${flags[@]}" ||
		{ tail -30 "$tree/configure.log" >&2; die "QEMU configure failed (log: $tree/configure.log)"; }
fi
mapfile -t targets < <(qemu_qtests | sed 's|^|tests/qtest/|')
progress "building QEMU $QEMU_VERSION${variant:+ ($variant)} (ninja steps)" 0 ninja_steps \
	"$tree/ninja.log" ninja -C "$build" -j"$JOBS" qemu-system-x86_64 "${targets[@]}" ||
	{ grep -E 'error|FAILED' "$tree/ninja.log" | head -40 >&2; die "QEMU build failed (log: $tree/ninja.log)"; }
# our sources build without warnings (QEMU's release builds have no -Werror)
if grep -E '(hw/misc/hmmdev/|tests/qtest/hmmdev-).*warning:' "$tree/ninja.log" >&2; then
	touch "$src"/hw/misc/hmmdev/*.c "$src"/tests/qtest/hmmdev-*.c	# warn again next time
	die "hmmdev device or qtest: compiler warnings (log: $tree/ninja.log)"
fi
# Firmware (SeaBIOS, option ROMs) comes from Debian's seabios and
# qemu-system-data; link it where a build-tree QEMU looks for its data, so
# that neither run-vm.sh nor the qtests need -L.
datadir=$build/qemu-bundle/usr/local/share/qemu
for f in /usr/share/seabios/*.bin /usr/share/qemu/*.bin /usr/share/qemu/*.rom; do
	[ -e "$datadir/${f##*/}" ] || ln -s "$f" "$datadir/${f##*/}"
done
ln -sfn "$tree" "$HMMDEV_CACHE/qemu${variant:+-$variant}-current"
log "QEMU ready: $build/qemu-system-x86_64"
