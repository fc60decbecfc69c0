#!/usr/bin/env bash
# Turn a test VM's console log into one TAP stream and a verdict.
#
#   images/tap-report.sh [--qemu-status N] [--timeout S] [--tap-summary]
#                        [--kernel SERIES[-VARIANT...]] LOG
#   images/tap-report.sh --kernel-log-only LOG
#
# Each suite's results (between HMMDEV-SUITE-BEGIN/END) are renumbered and
# prefixed with the kernel and the suite name ("linux-7.3 hmmdev: ...").
# Added checks: every suite
# finished and produced the number of results it planned; the guest kernel
# log (dmesg and kmemleak's report, between HMMDEV-DMESG-BEGIN/END) has no
# WARNING, BUG, oops, lockdep, KASAN, KFENCE, UBSAN or kmemleak report; the
# VM did not time out.  A guest that panicked (oops=panic, panic_on_warn)
# never prints its log: the first report on the console is named instead.
# Failures of the "baseline" suite (the kernel's own test_hmm, our
# reference) are marked TODO: reported, counted apart, not failures of
# hmmdev.
#
# Output ends with "N passed, N failed, N skipped"; exit status 1 on any
# failure.
set -euo pipefail

qemu_status=0 timeout_s=0 tap_summary=0 klog_only=0 kernel=unknown
while [ $# -gt 1 ]; do
	case "$1" in
	--qemu-status) qemu_status=$2; shift ;;
	--timeout) timeout_s=$2; shift ;;
	--tap-summary) tap_summary=1 ;;
	--kernel-log-only) klog_only=1 ;;
	--kernel) kernel=$2; shift ;;
	*) echo "tap-report.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
log=${1:?usage: tap-report.sh [options] LOG}

# What fails a run when the guest kernel prints it.
KERNEL_BAD='WARNING:|BUG:|Oops|general protection fault|kernel BUG|Kernel panic|'
KERNEL_BAD+='possible circular locking|possible recursive locking|inconsistent lock state|'
KERNEL_BAD+='lock held when returning|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|'
KERNEL_BAD+='INFO: task .* blocked|Call Trace:|UBSAN:|unreferenced object'

exec awk -v qemu_status="$qemu_status" -v timeout_s="$timeout_s" \
	-v tap_summary="$tap_summary" -v klog_only="$klog_only" \
	-v bad_re="$KERNEL_BAD" -v kernel="$kernel" '
function emit(ok, desc,    line) {
	line = (ok ? "ok " : "not ok ") (++n) " linux-" kernel " " desc
	print line
	if (desc ~ /# *[Ss][Kk][Ii][Pp]/) skipped++
	else if (desc ~ /# *TODO/) { if (ok) passed++; else todo++ }
	else if (ok) passed++
	else failed++
}
/^HMMDEV-WALL / { wall = $2; next }
/^HMMDEV-NOTE / { notes[++nnotes] = substr($0, 13); next }
/^# bench: / { notes[++nnotes] = substr($0, 3); next }
/^HMMDEV-INIT / { sub(/.*uptime=/, ""); uptime = $0; next }
/^HMMDEV-SUITE-BEGIN / { suite = $2; order[++nsuites] = suite; next }
/^HMMDEV-SUITE-END / { done[suite] = 1; suite = ""; next }
/^HMMDEV-DMESG-BEGIN/ { in_dmesg = 1; saw_dmesg = 1; next }
/^HMMDEV-DMESG-END/ { in_dmesg = 0; dmesg_done = 1; next }
in_dmesg {
	if (bad_line == "" && $0 ~ bad_re) bad_line = $0
	next
}
# the kernel console lines ("[   12.345678] ..."), before a panic
/^\[ *[0-9]+\.[0-9]+\] / {
	if (console_bad == "" && $0 ~ bad_re) console_bad = $0
	if (panic_line == "" && $0 ~ /Kernel panic/) panic_line = $0
}
# each program of a suite prints its own plan
suite != "" && /^1\.\.[0-9]+/ { plan[suite] += substr($1, 4); planned[suite] = 1; next }
suite != "" && /^(not )?ok [0-9]+/ {
	ok = ($1 == "ok")
	desc = $0
	sub(/^(not )?ok [0-9]+ *(- )?/, "", desc)
	results[suite]++
	if (suite == "baseline") {
		b_total++
		if (desc ~ /# *[Ss][Kk][Ii][Pp]/) b_skip++
		else if (ok) b_pass++
		else if (desc ~ /# *TODO/) b_fail++
		else { b_fail++; desc = desc " # TODO baseline reference (test_hmm), not an hmmdev result" }
	}
	emit(ok, suite ": " desc)
	next
}
END {
	if (klog_only) {
		if (bad_line != "") { print "guest kernel log: " bad_line; exit 1 }
		if (console_bad != "") { print "guest kernel died: " console_bad; exit 1 }
		exit 0
	}
	for (i = 1; i <= nsuites; i++) {
		s = order[i]
		if (!done[s])
			emit(0, s ": suite did not finish (VM died or timed out; see the console log)")
		else if (planned[s] && results[s] != plan[s])
			emit(0, s ": " results[s] " results of " plan[s] " planned")
		else if (results[s] == 0)
			emit(0, s ": no results")
	}
	if (nsuites == 0)
		emit(0, "no suite ran (the VM did not reach /init?)")
	if (qemu_status == 124 || qemu_status == 137)
		emit(0, "VM timed out after " timeout_s " s")
	if (!dmesg_done && console_bad != "")
		emit(0, "guest kernel died: " console_bad (panic_line != "" && panic_line != console_bad ? " -- " panic_line : ""))
	else if (!dmesg_done)
		emit(0, "guest kernel log: missing (the VM did not finish)")
	else if (bad_line != "")
		emit(0, "guest kernel log: " bad_line)
	else
		emit(1, "guest kernel log: no WARNING, BUG, oops, lockdep, KASAN, KFENCE, UBSAN or kmemleak report")
	if (wall != "")
		printf "# boot to /init: %.2f s wall, guest uptime %s s\n", wall, uptime
	for (i = 1; i <= nnotes; i++)
		print "# note: " notes[i]
	if (b_total)
		printf "# baseline (upstream hmm-tests on test_hmm): %d passed, %d failed, %d skipped\n", \
			b_pass, b_fail, b_skip
	print "1.." n
	summary = sprintf("%d passed, %d failed, %d skipped", passed, failed, skipped)
	print (tap_summary ? "# " : "") summary
	exit failed > 0
}' "$log"
