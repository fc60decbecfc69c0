#!/bin/sh
# One cell of a fault-injection campaign, in the VM (images/campaign.sh
# ships it with run-vm.sh --add and injects over QMP while it runs):
#   sh cell.sh WORKLOAD [GUEST-INJECTION AT]
# Runs the workload, waits for a failed device to come back, runs a probe
# (do new jobs work?), and prints "CAMPAIGN key value" lines for the host.
# A guest-side injection (flr: a Function Level Reset of hmmdev0 through
# sysfs) runs AT seconds into the workload.
w=$1 ginj=${2:-} gat=${3:-0}
# a hung engine is noticed after 12 s, not 30 (the job timeout; longer
# than the 10 s SYNC timeout, so a lost SYNC is what a lost SYNC trips)
echo 12 >/sys/module/hmmdev/parameters/job_timeout_s
# poison and removal say GO themselves, once their pages are in VRAM
case "$w" in poison | removal) ;; *) echo "CAMPAIGN-GO" ;; esac
case "$ginj" in
'') ;;
flr) (sleep "$gat"; echo 1 >/sys/class/misc/hmmdev0/device/reset &&
	echo "CAMPAIGN guest_injected flr") & ;;
*) echo "CAMPAIGN error unknown guest injection $ginj"; exit 2 ;;
esac
t0=$(cut -d' ' -f1 /proc/uptime)
case "$w" in
racer) hmmdev-racer 15 >/tmp/w.out 2>&1 ;;
hmm-tests) (cd / && hmm-tests -T benchmark_thp_migration) >/tmp/w.out 2>&1 ;;
pingpong)
	# migration to the device and back, again and again
	(cd / && for i in 1 2 3; do
		hmm-tests -r hmm.hmm_device_private.migrate_multiple \
			-r hmm.hmm_device_private.migrate_fault \
			-r hmm.hmm_device_private.migrate_anon_huge_fault \
			-r hmm.hmm_device_coherent.migrate_multiple || exit 1
	done) >/tmp/w.out 2>&1 ;;
fuzz) hmmdev-uapi-fuzz -s 1 -n 3000 >/tmp/w.out 2>&1 ;;
quick)
	# twice: ~2 s, the injection lands half a second in
	(cd / && for i in 1 2; do
		hmm-tests -r hmm.hmm_device_private.anon_read_multiple \
			-r hmm.hmm_device_private.anon_write \
			-r hmm.hmm_device_private.migrate_fault \
			-r hmm.hmm_device_private.migrate_multiple \
			-r hmm.hmm_device_private.anon_teardown \
			-r hmm.hmm_device_private.exclusive || exit 1
	done) >/tmp/w.out 2>&1 ;;
holes)
	# huge zero pages moving as 4 KiB pages (FAIL_ALLOC), once the
	# host's injection is in (it injects as soon as it sees GO); a
	# kernel without huge device pages (6.12) moves 4 KiB pages only
	sleep 2
	case $(uname -r) in
	6.*) t="-r hmm.hmm_device_private.migrate -r hmm.hmm_device_private.migrate_fault" ;;
	*) t="-r hmm.hmm_device_private.migrate_anon_huge_zero_err -r hmm.hmm_device_private.migrate_anon_huge_err" ;;
	esac
	(cd / && hmm-tests $t) >/tmp/w.out 2>&1 ;;
# these print to the console: their CAMPAIGN-GO and lose_* lines
poison) hmmdev-lose poison 4 ;;
removal) hmmdev-lose removal ;;
*) echo "CAMPAIGN error unknown workload $w"; exit 2 ;;
esac
echo "CAMPAIGN workload_rc $?"
echo "CAMPAIGN workload_s $(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime)"
wait	# the guest-side injection
cat /tmp/lose.out 2>/dev/null	# hmmdev-lose's lines again, whole
grep -E '^(not ok|# FAIL)' /tmp/w.out 2>/dev/null | head -3 | sed 's/^/CAMPAIGN workload_says /'
# the host ends the injection now (a persistent one would fail the probe)
echo "CAMPAIGN-DONE"
sleep 1
# a failed device recovers on its own (hmmdev_recover.c): give it 30 s
failed_now() { awk '$1 == "driver.failed" { n += $2 } END { print n + 0 }' /sys/kernel/debug/hmmdev/*/counters; }
t1=$(cut -d' ' -f1 /proc/uptime)
for i in $(seq 300); do [ "$(failed_now)" = 0 ] && break; sleep 0.1; done
echo "CAMPAIGN recovery_wait_s $(awk -v t0="$t1" '{ printf "%.1f", $1 - t0 }' /proc/uptime)"
# the probe: new jobs on every device
(cd / && hmm-tests -r hmm.hmm_device_private.anon_read \
	-r hmm.hmm_device_private.migrate \
	-r hmm.hmm_device_coherent.anon_read) >/tmp/p.out 2>&1
echo "CAMPAIGN probe_rc $?"
# counters: summed over the devices, and hmmdev0's injections
for k in driver.recoveries driver.failed driver.irqs_missed driver.faults_lost \
	driver.pages_lost driver.pages_rescued driver.job_errors driver.timeouts \
	driver.sync_timeouts driver.devmem_used driver.pt_pages \
	driver.stale_translations device.injected device.oracle-violations \
	device.dma-errors driver.aer_correctable driver.aer_nonfatal \
	driver.aer_fatal driver.function_resets driver.pages_poisoned \
	driver.pages_retired driver.pages_hwpoisoned; do
	echo "CAMPAIGN $k $(awk -v k="$k" '$1 == k { n += $2 } END { print n + 0 }' /sys/kernel/debug/hmmdev/*/counters)"
done
echo "CAMPAIGN tombstones $(dmesg | sed -n 's/.* \([0-9]*\) lost pages moved to tombstones.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')"
dmesg | grep -E 'recovered|declared failed|not recovering|page lost|poisoned|fell off|PCIe error|restarted' | head -6 |
	sed 's/^/CAMPAIGN dmesg /'
exit 0
