#!/usr/bin/env bash
# Build everything the VM needs, reusing the cache: Debian packages and
# sources, QEMU with hmmdev, the guest kernels, then hmmdev.ko, tests and
# initramfs for each kernel.
#   images/build.sh [--asan] [--kernel SERIES]... [--sanitize]
#     --asan       also the ASan+UBSan QEMU
#     --kernel     only this guest kernel (repeatable)
#     --sanitize   the sanitizer flavour of those kernels instead of the
#                  plain one
#   Without --kernel: every kernel of lib.sh's KERNELS, and the sanitizer
#   flavour of SANITIZE_KERNELS.
set -euo pipefail
here=$(dirname "$0")
. "$here/lib.sh"

asan=0
sanitize=0
kernels=()
while [ $# -gt 0 ]; do
	case "$1" in
	--asan) asan=1 ;;
	--kernel) check_kernel "${2:?--kernel needs a series}"; kernels+=("$2"); shift ;;
	--sanitize) sanitize=1 ;;
	*) die "unknown option $1 (--asan, --kernel SERIES, --sanitize)" ;;
	esac
	shift
done
# builds: "SERIES" or "SERIES FLAVOUR"
builds=()
if [ ${#kernels[@]} -eq 0 ] && [ $sanitize -eq 0 ]; then
	builds=("${KERNELS[@]}")
	for k in "${SANITIZE_KERNELS[@]}"; do builds+=("$k sanitize"); done
else
	[ ${#kernels[@]} -gt 0 ] || kernels=("${KERNELS[@]}")
	flavour=
	[ $sanitize -eq 0 ] || flavour=" sanitize"
	for k in "${kernels[@]}"; do builds+=("$k$flavour"); done
fi

t0=$SECONDS
"$here/bootstrap.sh" >&2
# the timeline merge tool: seconds to build
tool=$(timeline_tool)
if [ ! -x "$tool" ] || [ -n "$(find "$here/timeline" -newer "$tool")" ]; then
	log "building $(basename "$tool")"
	mkdir -p "$(dirname "$tool")"
	gcc -O2 -Wall -Wextra -Werror -o "$tool.tmp" "$here"/timeline/*.c
	mv "$tool.tmp" "$tool"
fi
"$here/build-qemu.sh"
[ $asan -eq 0 ] || "$here/build-qemu.sh" --asan
for b in "${builds[@]}"; do
	# shellcheck disable=SC2086 # "SERIES [FLAVOUR]"
	"$here/build-kernel.sh" $b
	# shellcheck disable=SC2086
	"$here/build-guest.sh" $b
done
log "build done in $((SECONDS - t0)) s (kernels: $(IFS=,; echo "${builds[*]}"))"
