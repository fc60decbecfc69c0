#!/usr/bin/env bash
# Build one guest kernel (bzImage, modules, uapi headers) from Debian's
# linux-source-SERIES: tinyconfig + images/kernel.config (+ images/kernel-
# SERIES.config where the series needs its own lines, + images/kernel-
# FLAVOUR.config for a flavour), out of tree, in a cache directory keyed by
# the package version and the fragments' content.
#   images/build-kernel.sh SERIES [FLAVOUR]   (lib.sh's KERNELS, FLAVOURS)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

series=${1:?usage: build-kernel.sh SERIES [FLAVOUR]}
flavour=${2:-}
check_kernel "$series"
check_flavour "$flavour"
name=$series${flavour:+ ($flavour)}
tree=$(kernel_tree "$series" "$flavour")
src=$tree/src
build=$tree/build
mapfile -t fragments < <(kernel_fragments "$series" "$flavour")
tarball=$(kernel_tarball "$series")
stats=$HMMDEV_CACHE/stats
mkdir -p "$stats"

[ -f "$tarball" ] || die "$tarball missing (images/fetch-sources.sh)"

# kbuild_steps LOG: kbuild's step lines so far ("  CC      mm/hmm.o")
kbuild_steps() { grep -c '^  [A-Z]' "$1"; }

if [ ! -f "$tree/.extracted" ]; then
	rm -rf "$tree"
	mkdir -p "$tree"
	progress "extracting linux-source-$series $(kernel_version "$series")" 0 true \
		"$tree/extract.log" tar xf "$tarball" -C "$tree"
	mv "$tree/linux-source-$series" "$src"
	touch "$tree/.extracted"
fi

if [ ! -f "$build/.config.checked" ]; then
	log "configuring Linux $name: tinyconfig + ${fragments[*]##*/}"
	mkdir -p "$build"
	make -s -C "$src" O="$build" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "${fragments[@]}" >/dev/null
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
	done < <(cat "${fragments[@]}")
	[ $bad -eq 0 ] || die "kernel configuration of $name incomplete"
	touch "$build/.config.checked"
fi

# The source tree is a package's, never edited: a build newer than the
# configuration is up to date (make's own no-op check takes ~12 s).
stamp=$build/.hmmdev-built
if [ -f "$stamp" ] && [ "$stamp" -nt "$build/.config" ]; then
	log "Linux $name up to date: $build/arch/x86/boot/bzImage"
	exit 0
fi

# The estimate of a cold build's steps: what the last cold build of this
# series counted (first time: 1800, about what 6.12 and 7.3 count with our
# configuration: 1706 and 1804).
cold=0
[ -f "$build/vmlinux" ] || cold=1
total=0
[ $cold -eq 0 ] || total=$(cat "$stats/kernel-$series${flavour:+-$flavour}.steps" 2>/dev/null || echo 1800)
progress "building Linux $name bzImage and modules (kbuild steps)" "$total" kbuild_steps \
	"$tree/make.log" make -C "$src" O="$build" -j"$JOBS" bzImage modules ||
	{ grep -E 'error|Error' "$tree/make.log" | head -30 >&2; die "kernel $name build failed (log: $tree/make.log)"; }
[ $cold -eq 0 ] || kbuild_steps "$tree/make.log" >"$stats/kernel-$series${flavour:+-$flavour}.steps"
make -s -C "$src" O="$build" headers_install INSTALL_HDR_PATH="$tree/headers" >/dev/null
touch "$stamp"
log "Linux $name ready: $build/arch/x86/boot/bzImage"
