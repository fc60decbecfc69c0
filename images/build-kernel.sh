#!/usr/bin/env bash
# Build the guest kernel (bzImage, modules, uapi headers) from Debian's
# linux-source-6.12: tinyconfig + images/kernel.config, out of tree, in a
# cache directory keyed by the package version and the fragment's content.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tree=$(kernel_tree)
src=$tree/src
build=$tree/build
fragment=$HMMDEV_TOP/images/kernel.config

[ -f "$KERNEL_TARBALL" ] || die "$KERNEL_TARBALL missing (run images/bootstrap.sh)"

if [ ! -f "$tree/.extracted" ]; then
	log "extracting $KERNEL_TARBALL into $tree"
	rm -rf "$tree"
	mkdir -p "$tree"
	tar xf "$KERNEL_TARBALL" -C "$tree"
	mv "$tree/linux-source-$KERNEL_SERIES" "$src"
	touch "$tree/.extracted"
fi

if [ ! -f "$build/.config.checked" ]; then
	log "configuring: tinyconfig + $(basename "$fragment")"
	mkdir -p "$build"
	make -s -C "$src" O="$build" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment" >/dev/null
	make -s -C "$src" O="$build" olddefconfig >/dev/null
	# Every symbol of the fragment must have survived olddefconfig.
	bad=0
	while IFS= read -r line; do
		case "$line" in CONFIG_*=n)
			sym=${line%%=*}
			if grep -q "^$sym=" "$build/.config"; then
				echo "kernel config: $sym wanted off, got $(grep "^$sym=" "$build/.config")" >&2
				bad=1
			fi ;;
		CONFIG_*)
			grep -qx "$line" "$build/.config" || {
				echo "kernel config: $line did not stick (dependency missing?)" >&2
				bad=1
			} ;;
		esac
	done <"$fragment"
	[ $bad -eq 0 ] || die "kernel configuration incomplete"
	touch "$build/.config.checked"
fi

log "building bzImage and modules"
make -C "$src" O="$build" -j"$JOBS" bzImage modules >"$tree/make.log" 2>&1 ||
	{ grep -E 'error|Error' "$tree/make.log" | head -30 >&2; die "kernel build failed (log: $tree/make.log)"; }
make -s -C "$src" O="$build" headers_install INSTALL_HDR_PATH="$tree/headers" >/dev/null
ln -sfn "$tree" "$HMMDEV_CACHE/linux-current"
log "kernel ready: $build/arch/x86/boot/bzImage"
