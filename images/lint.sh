#!/usr/bin/env bash
# Style checks as TAP: the kernel's checkpatch.pl --strict on the driver and
# the guest tests, QEMU's checkpatch.pl on the device model and its qtest
# (as overlaid into the QEMU tree, where QEMU's rules know the paths).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
ksrc=$(kernel_tree "$DEFAULT_KERNEL")/src	# the newest kernel's checkpatch
qsrc=$HMMDEV_CACHE/qemu-current/src
cd "$HMMDEV_TOP"
# (the TRACE_EVENT() header: the layout of the kernel's own trace headers,
# which --strict's alignment checks do not know; checked without --strict)
kfiles=($(ls guest-driver/*.[ch] guest-driver/include/uapi/linux/*.h | grep -v '_trace\.h$'))
tfiles=(guest-tests/*.[ch] guest-driver/hmmdev_trace.h)
qfiles=($(cd "$qsrc" && echo hw/misc/hmmdev/*.[ch] tests/qtest/hmmdev-*.[ch]))
echo "1..$(( ${#kfiles[@]} + ${#tfiles[@]} + ${#qfiles[@]} ))"
n=0 bad=0
check() { # label, output, status
	n=$((n + 1))
	if [ "$3" -eq 0 ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"
		printf '%s\n' "$2" | grep -E '^(ERROR|WARNING|CHECK)|^#' | sed 's/^/# /'
		bad=1
	fi
}
for f in "${kfiles[@]}"; do
	out=$("$ksrc/scripts/checkpatch.pl" --strict --no-tree --quiet -f "$f" 2>&1)
	check "kernel checkpatch --strict $f" "$out" $?
done
# user-space tests (and the trace header): kernel style, without --strict
for f in "${tfiles[@]}"; do
	out=$("$ksrc/scripts/checkpatch.pl" --no-tree --quiet -f "$f" 2>&1)
	check "kernel checkpatch $f" "$out" $?
done
# QEMU's checkpatch exits 0 on warnings (long lines among them): a
# warning fails here too
for f in "${qfiles[@]}"; do
	out=$(cd "$qsrc" && scripts/checkpatch.pl --no-tree -f "$f" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -qE '^(ERROR|WARNING)' && rc=1
	check "qemu checkpatch $f" "$out" $rc
done
exit $bad
