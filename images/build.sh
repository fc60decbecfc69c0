#!/usr/bin/env bash
# Build everything the VM needs, reusing the cache: Debian packages and
# sources, QEMU with hmmdev, the guest kernels, then hmmdev.ko, tests and
# initramfs for each kernel.
#   images/build.sh [--asan] [--kernel SERIES]...
#     --asan     also the ASan+UBSan QEMU
#     --kernel   only this guest kernel (repeatable; default: all of
#                lib.sh's KERNELS)
set -euo pipefail
here=$(dirname "$0")
. "$here/lib.sh"

asan=0
kernels=()
while [ $# -gt 0 ]; do
	case "$1" in
	--asan) asan=1 ;;
	--kernel) check_kernel "${2:?--kernel needs a series}"; kernels+=("$2"); shift ;;
	*) die "unknown option $1 (--asan, --kernel SERIES)" ;;
	esac
	shift
done
[ ${#kernels[@]} -gt 0 ] || kernels=("${KERNELS[@]}")

t0=$SECONDS
"$here/bootstrap.sh" >&2
"$here/build-qemu.sh"
[ $asan -eq 0 ] || "$here/build-qemu.sh" --asan
for k in "${kernels[@]}"; do
	"$here/build-kernel.sh" "$k"
	"$here/build-guest.sh" "$k"
done
log "build done in $((SECONDS - t0)) s (kernels: ${kernels[*]})"
