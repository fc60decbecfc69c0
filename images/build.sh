#!/usr/bin/env bash
# Build everything the VM needs, reusing the cache: Debian packages, QEMU
# with hmmdev, the guest kernel, then hmmdev.ko, tests and initramfs.
#   images/build.sh [--asan]     (--asan: also the ASan+UBSan QEMU)
set -euo pipefail
here=$(dirname "$0")
. "$here/lib.sh"

t0=$(date +%s)
"$here/bootstrap.sh" >&2
"$here/build-qemu.sh"
[ "${1:-}" = --asan ] && "$here/build-qemu.sh" --asan
"$here/build-kernel.sh"
"$here/build-guest.sh"
log "build done in $(( $(date +%s) - t0 )) s"
