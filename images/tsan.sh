#!/usr/bin/env bash
# hmmdev's qtests and the randomized qtest against QEMU built with
# ThreadSanitizer (Debian's clang, --enable-tsan; built here if missing).
# TAP: one result per qtest program, then the verdict on data races: a
# report with a frame in hmmdev code fails; reports elsewhere in QEMU are
# counted, and only those named in images/tsan.supp (each with its reason)
# are suppressed.
#   images/tsan.sh [OPS [SEED]]        fuzz: default 20000 operations, seed 1
set -uo pipefail
here=$(dirname "$0")
. "$here/lib.sh"

# Debian's clang (the host's own suites)
command -v clang >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang >&2 ||
	{ echo "Bail out! cannot install clang"; exit 1; }
"$here/build-qemu.sh" --tsan >&2 || { echo "Bail out! TSan QEMU did not build"; exit 1; }
logs=$HMMDEV_CACHE/tsan-logs	# kept for reading, replaced by the next run
rm -rf "$logs"
mkdir -p "$logs"
# glib is not built with TSan; QEMU's threads use pthreads (QemuMutex),
# which TSan understands.  The qtests fork and exec QEMU from a threaded
# process (die_after_fork=0).  Reports go to files; the qtests still fail on
# their own assertions.
export TSAN_OPTIONS="suppressions=$HMMDEV_TOP/images/tsan.supp history_size=7 detect_deadlocks=0 die_after_fork=0 exitcode=0 log_path=$logs/tsan"
export HMMDEV_FUZZ_OPS=${1:-20000} HMMDEV_FUZZ_SEED=${2:-1}

programs=(hmmdev-test hmmdev-mmu-test hmmdev-quiesce-test hmmdev-fuzz)
echo "1..$((${#programs[@]} + 1))"
n=0 fail=0
for p in "${programs[@]}"; do
	n=$((n + 1))
	t0=$SECONDS
	if "$here/run-qtest.sh" --tsan "$p" >"$logs/$p.out" 2>&1; then
		echo "ok $n qtest $p under TSan ($((SECONDS - t0)) s)"
	else
		echo "not ok $n qtest $p under TSan ($((SECONDS - t0)) s)"
		grep -E '^not ok|Bail|assert|ERROR' "$logs/$p.out" | head -5 | sed 's/^/# /'
		fail=1
	fi
done

# One report per "WARNING: ThreadSanitizer" block, in the files TSan wrote.
reports=0 ours=0
for f in "$logs"/tsan*; do
	[ -e "$f" ] || continue
	reports=$((reports + $(grep -c 'WARNING: ThreadSanitizer' "$f")))
	ours=$((ours + $(awk '/WARNING: ThreadSanitizer/ { if (hit) n++; hit = 0 }
		/hw\/misc\/hmmdev\// { hit = 1 }
		END { if (hit) n++; print n + 0 }' "$f")))
done
n=$((n + 1))
if [ "$ours" -eq 0 ]; then
	echo "ok $n no ThreadSanitizer report in hmmdev code ($reports elsewhere in QEMU, not suppressed)"
else
	echo "not ok $n ThreadSanitizer: $ours report(s) in hmmdev code ($reports in all)"
	# the first hmmdev frame of each report (full reports: $logs)
	for f in "$logs"/tsan*; do
		awk '/WARNING: ThreadSanitizer/ { w = $0; done = 0 }
			/hw\/misc\/hmmdev\// && !done { sub(/^ +/, ""); print "# " w " -- " $2 " " $3; done = 1 }' "$f"
	done | sort | uniq -c | sort -rn | head -20 | sed 's/^ */# /'
	echo "# reports: $logs"
	fail=1
fi
exit $fail
