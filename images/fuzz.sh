#!/usr/bin/env bash
# The randomized qtest against QEMU built with ASan+UBSan (built here if
# missing, ~7 min the first time).  Any sanitizer report aborts QEMU and
# fails the run.
#   images/fuzz.sh [OPS [SEED]]        default: 100000 operations, seed 1
set -euo pipefail
here=$(dirname "$0")
"$here/build-qemu.sh" --asan >&2
export HMMDEV_FUZZ_OPS=${1:-100000} HMMDEV_FUZZ_SEED=${2:-1}
exec "$here/run-qtest.sh" --asan hmmdev-fuzz
