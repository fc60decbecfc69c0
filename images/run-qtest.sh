#!/usr/bin/env bash
# Run one of hmmdev's QEMU qtests (TAP) against the built QEMU.
#   images/run-qtest.sh [--asan|--tsan] [NAME [glib test options]]
#       NAME: hmmdev-test (default), hmmdev-mmu-test, hmmdev-quiesce-test,
#       hmmdev-fuzz
# The fuzz test takes HMMDEV_FUZZ_OPS and HMMDEV_FUZZ_SEED from the
# environment.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
variant=
case "${1:-}" in --asan | --tsan) variant=-${1#--}; shift ;; esac
name=${1:-hmmdev-test}
[ $# -eq 0 ] || shift
build=$HMMDEV_CACHE/qemu$variant-current/build
[ -x "$build/tests/qtest/$name" ] || die "qtest $name not built (images/build-qemu.sh${variant:+ -$variant})"
cd "$build"
export QTEST_QEMU_BINARY=./qemu-system-x86_64
exec "./tests/qtest/$name" --tap -k "$@"
