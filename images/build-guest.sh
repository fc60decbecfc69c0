#!/usr/bin/env bash
# Build what runs inside the VM against one guest kernel: hmmdev.ko, the
# guest tests, the upstream hmm-tests (unmodified, from the same kernel
# source, with the helpers its Makefile names) and the initramfs that holds
# them with busybox.
#   images/build-guest.sh SERIES [FLAVOUR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

series=${1:?usage: build-guest.sh SERIES [FLAVOUR]}
flavour=${2:-}
check_kernel "$series"
check_flavour "$flavour"
ktree=$(kernel_tree "$series" "$flavour")
ksrc=$ktree/src
kbuild=$ktree/build
[ -f "$kbuild/arch/x86/boot/bzImage" ] || die "Linux $series${flavour:+ $flavour} not built (images/build-kernel.sh $series $flavour)"
out=$(guest_dir "$series" "$flavour")
mkdir -p "$out/src" "$out/bin" "$out/root"

# -- hmmdev.ko: kbuild needs a writable tree; mirror the sources (content-
#    compared, so make only sees real edits) with the shared hw header.
(cd "$HMMDEV_TOP" && git ls-files -co --exclude-standard guest-driver 2>/dev/null ||
	find guest-driver -type f) | while read -r f; do
	case "$f" in *.o|*.ko|*.mod*|*.cmd) continue ;; esac
	[ -f "$HMMDEV_TOP/$f" ] && sync_file "$HMMDEV_TOP/$f" "$out/src/$f"
done
sync_file "$HMMDEV_TOP/qemu-device/hmmdev-hw.h" "$out/src/qemu-device/hmmdev-hw.h"
log "building hmmdev.ko for Linux $series"
make -s -C "$kbuild" M="$out/src/guest-driver" W=1 modules >"$out/driver.log" 2>&1 ||
	{ cat "$out/driver.log" >&2; die "hmmdev.ko build for Linux $series failed"; }
grep -E 'warning:' "$out/driver.log" >&2 && die "hmmdev.ko for Linux $series: compiler warnings" || true

# -- guest tests: static, kselftest.h from the same kernel source
cflags=(-static -O2 -Wall -Wextra -Werror -I"$HMMDEV_TOP/guest-driver/include/uapi"
	-I"$ktree/headers/include" -I"$ksrc/tools/testing/selftests"
	-I"$ksrc")
for c in "$HMMDEV_TOP"/guest-tests/*.c; do
	bin=$out/bin/$(basename "${c%.c}")
	if [ ! -x "$bin" ] || [ -n "$(find "$c" "$HMMDEV_TOP"/guest-tests/*.h \
		"$HMMDEV_TOP/guest-driver/include" -newer "$bin" 2>/dev/null)" ]; then
		log "building guest test $(basename "$bin")"
		gcc "${cflags[@]}" -o "$bin" "$c" -lpthread
	fi
done

# -- upstream hmm-tests, unmodified, with the helper sources that the
#    kernel's own selftest Makefile links it with ("$(TEST_GEN_FILES): ...")
mm=$ksrc/tools/testing/selftests/mm
if [ ! -x "$out/bin/hmm-tests" ] || [ "$mm/hmm-tests.c" -nt "$out/bin/hmm-tests" ]; then
	read -r -a helpers < <(sed -n 's/^\$(TEST_GEN_FILES): *//p' "$mm/Makefile")
	[ ${#helpers[@]} -gt 0 ] || die "no helper list in $mm/Makefile"
	log "building upstream hmm-tests of Linux $series (with ${helpers[*]})"
	(cd "$mm" && gcc -static -O2 -w -I"$ktree/headers/include" -I"$ksrc" \
		-I"$ksrc/tools/include" -I"$ksrc/tools/testing/selftests" \
		-o "$out/bin/hmm-tests" hmm-tests.c "${helpers[@]}" -lrt -lpthread -lm)
fi

# -- initramfs (uncompressed: fastest to unpack under TCG)
root=$out/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,work,lib/modules,usr/bin}
cp /bin/busybox "$root/bin/busybox"
cp "$HMMDEV_TOP/images/init" "$root/init"
echo "$series $(kernel_version "$series")${flavour:+ $flavour}" >"$root/kernel-series"
chmod 755 "$root/init"
cp "$out/src/guest-driver/hmmdev.ko" "$kbuild/lib/test_hmm.ko" "$root/lib/modules/"
cp "$out"/bin/* "$root/usr/bin/"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
ln -sfn "$kbuild/arch/x86/boot/bzImage" "$out/bzImage"
log "guest ready: $out/bzImage, $out/initramfs.cpio ($(du -h "$out/initramfs.cpio" | cut -f1))"
