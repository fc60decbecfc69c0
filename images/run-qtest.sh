#!/usr/bin/env bash
# Run hmmdev's QEMU qtest (TAP) against the built QEMU.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=$HMMDEV_CACHE/qemu-current/build
[ -x "$build/tests/qtest/hmmdev-test" ] || die "qtest not built (images/build.sh)"
cd "$build"
export QTEST_QEMU_BINARY=./qemu-system-x86_64
exec ./tests/qtest/hmmdev-test --tap -k "$@"
