#!/usr/bin/env bash
# The project's test command: install what is missing (Debian packages),
# build everything (cached), run every suite registered with meson (host
# qtests, the guest suite, the baseline), print every TAP result and end
# with "N passed, N failed, N skipped".  Exit status 1 on any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
builddir=${HMMDEV_BUILDDIR:-$top/build}

"$top/images/bootstrap.sh" || exit 1
if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" >/dev/null || exit 1
fi
echo "== building (log: $builddir/meson-logs/)"
if ! meson compile -C "$builddir" >"$builddir/compile.log" 2>&1; then
	tail -40 "$builddir/compile.log"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

echo "== meson test"
meson test -C "$builddir" --print-errorlogs "$@" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Expected Fail|Timeout):'
meson_rc=${PIPESTATUS[0]}

# Every TAP line of every suite, from meson's log, and the totals.
awk -v meson_rc="$meson_rc" '
/^test: / { test = $NF; next }
/^(not )?ok [0-9]+/ {
	print test ": " $0
	if ($0 ~ /# *[Ss][Kk][Ii][Pp]/) skipped++
	else if ($0 ~ /^not ok/ && $0 ~ /# *TODO/) todo++
	else if ($0 ~ /^ok/) passed++
	else failed++
	next
}
/^# (boot to|baseline|note)/ { notes[++nn] = test ": " substr($0, 3) }
END {
	for (i = 1; i <= nn; i++) print "# " notes[i]
	if (meson_rc != 0 && failed == 0) {
		print "not ok meson test failed without a failing TAP line (timeout or crash?)"
		failed++
	}
	if (todo) printf "# %d expected failures (TODO: the baseline reference, test_hmm)\n", todo
	printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
	exit failed > 0
}' "$builddir/meson-logs/testlog.txt"
