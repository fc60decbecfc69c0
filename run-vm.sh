#!/usr/bin/env bash
# Boot the hmmdev test VM: q35 under TCG (MTTCG), four hmmdev devices behind
# PCIe root ports, one of the project's guest kernels (Linux 7.3 by default,
# or 6.12) with its initramfs, hmmdev.ko loaded.  See --help.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
. "$top/images/lib.sh"

usage() {
	cat <<'USAGE'
usage: ./run-vm.sh [options] [-- extra QEMU arguments]

Builds what is missing (first run: QEMU and one kernel, ~20 min on 2
cores), boots the VM and gives a shell on the serial console (Ctrl-A X
quits QEMU; leaving the shell powers off).

  --kernel SERIES     the guest kernel: 7.3 (default) or 6.12, each a debug
                      kernel from Debian's linux-source-SERIES with its own
                      hmmdev.ko, tests and upstream hmm-tests

  --sanitize          the sanitizer flavour of that kernel: KASAN, KFENCE,
                      UBSAN and kmemleak on top of lockdep and DEBUG_VM
                      (images/kernel-sanitize.config); any report fails
                      --test
  --iommu             add QEMU's intel-iommu and turn DMA remapping on in
                      the guest (intel_iommu=on, strict invalidation): every
                      device DMA goes through the IOMMU

  --test              run the guest suites, power off, print TAP and a last
                      line "N passed, N failed, N skipped"; exit 1 on any
                      failure, guest kernel WARNING/BUG/oops/lockdep/KASAN/
                      UBSAN/KFENCE/kmemleak report, or timeout.  With --test
                      and --run the guest panics on an oops or a warning
                      (oops=panic panic_on_warn=1): the VM ends at once and
                      the verdict names the report
  --suite NAME        with --test: hmmdev (our suite), hmm-tests (upstream
                      hmm-tests on hmmdev) or baseline (upstream hmm-tests
                      on the kernel's test_hmm); repeatable; default: all
                      three.  bench: the mirror benchmark, hmmdev and
                      test_hmm in the same VM.  failure: devices that lose a
                      SYNC completion or report a broken fault-queue tail,
                      one that waits between a translation and its use, one
                      with a single engine (sets x-inject-drop-syncs,
                      x-inject-bad-fq-tail, x-inject-xlate-delay-us, engines
                      itself; 4 devices).
                      fuzz: the uapi fuzzer (hmmdev-uapi-fuzz), by default
                      one seed of 3000 operations (1500 with --sanitize)
  --fuzz-args 'ARGS'  hmmdev-uapi-fuzz's arguments for --suite fuzz, e.g.
                      '-s 1 -s 2 -s 3 -n 100000' (no commas)
  --add FILE          copy FILE into the VM's /work (repeatable)
  --run 'CMD'         run CMD in /work, print its output, power off, exit
                      with its status
  --qmp PATH          QMP socket at PATH (qom-get/qom-set, device_del, ...)
  --vram-prefault on|off
                      commit the devices' VRAM and the guest's RAM when
                      QEMU starts (the default, except for --test without
                      --suite bench: off saves ~3 s per boot; first uses
                      are slower)
  (--test/--run: a guest that has not reached /init after 60 s, 180 s
  with --sanitize, is stuck in its early boot: its vCPU registers go to
  boot-hang.txt in the log directory and it boots once more)
  --native-hotplug    the root ports' slots belong to Linux's pciehp, not to
                      ACPI hotplug (q35's default): a device that falls off
                      the bus (x-inject-surprise-removal) is removed by
                      pciehp's surprise-removal path; device_del then
                      takes pciehp's 5 s attention-button wait
  --devices N         number of hmmdev devices (0..4, default 4: hmmdev0,1
                      with device-private memory, hmmdev2,3 coherent, as
                      hmm-tests wants /dev/hmm_dmirror0..3)
  --trace PATTERN     enable QEMU trace events (e.g. 'hmmdev_*'), written to
                      the log directory
  --timeline FILE     with --run or --test: the protocol timeline of the
                      run, both sides on one time axis, as Chrome/Perfetto
                      trace JSON (open it in ui.perfetto.dev): the driver's
                      tracepoints (guest-driver/hmmdev_trace.h, the guest's
                      trace buffer, written out at the end) and the device's
                      protocol trace events, aligned by the driver's clock
                      pairs (images/timeline/); tracks per guest task, per
                      engine, command and fault queue; flows from a fault
                      record to the engine's resume, from a notifier to its
                      SYNC, from a job's submission to its completion
  --timeline-text FILE  the same timeline as text (implies the tracing)
  --oracle MODE       the devices' coherence oracle (SPEC.rst): off, count,
                      fail (default: a job that uses a translation the CPU
                      no longer has fails with ESTALE) or stop (the VM
                      pauses at that moment: with --gdb, inspect it).
                      Violations go to qemu.log in the log directory and
                      to qom-get hmmdevN oracle-log
  --gdb               QEMU's gdb stub on tcp::1234.  Attach with
                        gdb GUEST/vmlinux -ex 'target remote :1234'
                      (GUEST: the kernel's build directory under the
                      cache, printed at boot); 'cont' on the QMP socket
                      resumes a VM that --oracle stop paused
  --timeout SECONDS   bound for --test/--run (default 1500)
  --log-dir DIR       where the console, QEMU and trace logs go (default: a
                      new directory under the cache's logs/)
  --no-build          use what is built, do not check or build
  --tap               with --test: the summary line as a TAP comment (meson)
  -h, --help          this text

What each part of the VM is for:
  -M q35, pcie-root-port  a PCIe topology: each hmmdev is an endpoint behind
                          its own root port (hot-unplug needs that)
  -accel tcg,thread=multi -smp 2   no KVM here: multi-threaded TCG, vCPUs
                          and device engine threads run in parallel
  -nodefaults -display none   no default NIC/VGA/disks: boot to /init ~3 s
  -kernel/-initrd         the guest kernel (debug: lockdep, DEBUG_VM) and a
                          busybox initramfs with hmmdev.ko and the tests
  -no-reboot, panic=-1    a guest panic ends QEMU instead of hanging
  intel-iommu (--iommu)   DMA remapping, as on real machines: catches DMA-API
                          misuse (a leaf with an address never mapped faults)
  (no transparent_hugepage=) THP "always", the kernel's default
USAGE
}

mode=shell
kernel=$DEFAULT_KERNEL
flavour=
iommu=0
fuzz_args=
suites=()
adds=()
run_cmd=
qmp=
native_hotplug=0
prefault=
ndev=4
trace=
oracle=fail
gdb=0
timeline=
timeline_text=
timeout_s=1500
logdir=
build=1
tap_summary=0
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--test) mode=test ;;
	--kernel) kernel=${2:?--kernel needs a series (${KERNELS[*]})}; shift ;;
	--sanitize) flavour=sanitize ;;
	--iommu) iommu=1 ;;
	--suite) suites+=("${2:?--suite needs a name}"); shift ;;
	--add)
		[ -f "${2:?--add needs a file}" ] || die "--add: no such file: $2"
		adds+=("$2"); shift ;;
	--run) mode=run; run_cmd=${2:?--run needs a command}; shift ;;
	--qmp) qmp=${2:?--qmp needs a path}; shift ;;
	--native-hotplug) native_hotplug=1 ;;
	--vram-prefault) prefault=${2:?--vram-prefault needs on or off}; shift ;;
	--devices) ndev=${2:?--devices needs a number}; shift ;;
	--trace) trace=${2:?--trace needs a pattern}; shift ;;
	--timeline) timeline=${2:?--timeline needs a file}; shift ;;
	--timeline-text) timeline_text=${2:?--timeline-text needs a file}; shift ;;
	--oracle) oracle=${2:?--oracle needs a mode}; shift ;;
	--gdb) gdb=1 ;;
	--fuzz-args) fuzz_args=${2:?--fuzz-args needs arguments}; shift ;;
	--timeout) timeout_s=${2:?--timeout needs seconds}; shift ;;
	--log-dir) logdir=${2:?--log-dir needs a directory}; shift ;;
	--no-build) build=0 ;;
	--tap) tap_summary=1 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
	shift
done
case "$ndev" in [0-4]) ;; *) die "--devices must be 0..4" ;; esac
case "$oracle" in off|count|fail|stop) ;;
*) die "--oracle must be off, count, fail or stop (got '$oracle')" ;;
esac
check_kernel "$kernel"
[ ${#suites[@]} -gt 0 ] || suites=(hmmdev hmm-tests baseline)
for s in "${suites[@]}"; do
	case "$s" in hmmdev|hmm-tests|baseline|bench|failure|fuzz) ;;
	*) die "unknown suite '$s' (hmmdev, hmm-tests, baseline, bench, failure, fuzz)" ;;
	esac
done
[ ${#adds[@]} -eq 0 ] || [ "$mode" = run ] || die "--add goes with --run"
[ -z "$timeline$timeline_text" ] || [ "$mode" != shell ] ||
	die "--timeline goes with --run or --test"

if [ $build -eq 1 ]; then
	"$top/images/build.sh" --kernel "$kernel" ${flavour:+--$flavour} || die "build failed"
fi
qemu=$(qemu_binary)
guest=$(guest_dir "$kernel" "$flavour")
for f in "$qemu" "$guest/bzImage" "$guest/initramfs.cpio"; do
	[ -e "$f" ] || die "$f is missing: run without --no-build (or images/build.sh --kernel $kernel${flavour:+ --$flavour})"
done

[ -n "$logdir" ] || logdir=$HMMDEV_CACHE/logs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$logdir"
initrd=$guest/initramfs.cpio
if [ "$mode" = run ]; then
	# a second cpio archive, appended: the kernel unpacks both
	stage=$logdir/add
	mkdir -p "$stage/work"
	for f in "${adds[@]}"; do cp -p "$f" "$stage/work/"; done
	printf '%s\n' "$run_cmd" >"$stage/work/.hmmdev-run"
	(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$logdir/add.cpio"
	cat "$initrd" "$logdir/add.cpio" >"$logdir/initramfs.cpio"
	initrd=$logdir/initramfs.cpio
fi

# THP stays at the kernel's default, "always", as on most distributions.
append="console=ttyS0 panic=-1"
append+=" hmmdev.mode=$mode hmmdev.ndev=$ndev hmmdev.hugepages=64"
append+=" hmmdev.suites=$(IFS=,; echo "${suites[*]}")"
[ -z "$fuzz_args" ] || append+=" hmmdev.fuzz=$(echo "$fuzz_args" | tr ' ' ,)"
[ -z "$timeline$timeline_text" ] || append+=" hmmdev.timeline=1"
# --test/--run: an oops or a warning ends the VM at once (panic=-1); the
# console shows warnings and worse (loglevel=5), so a report that ends the
# VM is on it
[ "$mode" = shell ] || append+=" loglevel=5 oops=panic panic_on_warn=1"
[ $iommu -eq 0 ] || append+=" intel_iommu=on iommu.strict=1"
args=(-M q35 -accel tcg,thread=multi -cpu max -smp 2 -m 2G
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$guest/bzImage" -initrd "$initrd" -append "$append")
[ $native_hotplug -eq 0 ] ||
	args+=(-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off)
# the IOMMU comes before the devices whose DMA it remaps
[ $iommu -eq 0 ] || args+=(-device intel-iommu,intremap=off)
# 512 MiB of VRAM each: 384 MiB of device pages, room for the 256 MiB
# buffer of 7.3 hmm-tests' benchmark_thp_migration (test_hmm grows its
# device memory as needed)
# VRAM committed up front where something is measured (see --help)
if [ -z "$prefault" ]; then
	prefault=on
	[ "$mode" != test ] || [[ " ${suites[*]} " == *" bench "* ]] || prefault=off
fi
case "$prefault" in on | off) ;; *) die "--vram-prefault: on or off" ;; esac
# and the guest's RAM: else its first use after boot is the host's first
# touch (the first process to migrate back into fresh pages pays for it)
[ "$prefault" = off ] ||
	args+=(-object memory-backend-ram,id=ram0,size=2G,prealloc=on
	       -machine memory-backend=ram0)
for ((i = 0; i < ndev; i++)); do
	args+=(-device "pcie-root-port,id=rp$i,chassis=$((i + 1)),slot=$((i + 1))"
		-device "hmmdev,id=hmmdev$i,bus=rp$i,vram-size=512M,coherent=$([ $i -ge 2 ] && echo on || echo off),oracle=$oracle,prefault=$prefault")
done
[ -z "$qmp" ] || args+=(-qmp "unix:$qmp,server=on,wait=off")
# the failure suite: hmmdev0 loses a SYNC completion, hmmdev1 reports a
# fault-ring tail outside the ring, hmmdev2 waits 0.2 s between a
# translation and its use, hmmdev3 has a single engine
[[ " ${suites[*]} " != *" failure "* ]] || [ "$ndev" -lt 4 ] ||
	args+=(-set device.hmmdev0.x-inject-drop-syncs=1
		-set device.hmmdev1.x-inject-bad-fq-tail=1
		-set device.hmmdev2.x-inject-xlate-delay-us=200000
		-set device.hmmdev3.engines=1)
# the bench suite: hmmdev1 has four engines -- three jobs at once on
# virtual addresses: its concurrent faults row (hmmdev-bench)
[[ " ${suites[*]} " != *" bench "* ]] || [ "$ndev" -lt 2 ] ||
	args+=(-set device.hmmdev1.engines=4)
# device errors and oracle violations (LOG_GUEST_ERROR), and the trace
args+=(-d guest_errors)
qlog=$logdir/qemu.log
[ -z "$trace" ] || { qlog=$logdir/trace.log; args+=(-trace "$trace"); }
args+=(-D "$qlog")
# the timeline: the device's protocol events, and a second serial port
# for the guest's trace (images/init writes it there at the end)
serial2=()
if [ -n "$timeline$timeline_text" ]; then
	timeline_device_events >"$logdir/timeline-events"
	args+=(-trace "events=$logdir/timeline-events")
	serial2=(-serial "file:$logdir/guest-trace.txt.gz")
fi
[ $gdb -eq 0 ] || args+=(-gdb tcp::1234)

if [ "$mode" = shell ]; then
	echo "run-vm.sh: booting Linux $kernel${flavour:+ ($flavour)} ($(kernel_version "$kernel")) with $ndev hmmdev device(s)$([ $iommu -eq 0 ] || echo ", intel-iommu"); Ctrl-A X quits QEMU" >&2
	exec "$qemu" "${args[@]}" -serial mon:stdio "${extra[@]}"
fi

# --test / --run: console to a log, timestamps for the boot time
log=$logdir/console.log
# A guest that has not reached /init after boot_limit seconds is stuck in
# its early boot (seen once under TCG with the sanitizer kernel: 8 min on
# one line): its vCPUs' registers go to boot-hang.txt, QEMU is told to
# quit and the VM boots once more, instead of running into --timeout.
boot_limit=60
[ -z "$flavour" ] || boot_limit=180
boot_limit=${HMMDEV_BOOT_LIMIT:-$boot_limit}	# (a test of the watchdog)
qsock=$qmp
if [ -z "$qsock" ]; then
	qsock=$logdir/qmp.sock
	args+=(-qmp "unix:$qsock,server=on,wait=off")
fi
boot_watch() {
	local i
	for ((i = 0; i < boot_limit * 10; i++)); do
		grep -q '^HMMDEV-INIT' "$log" 2>/dev/null && return 0
		[ ! -e "$logdir/.qemu-done" ] || return 0
		sleep 0.1
	done
	: >"$logdir/.boot-hang"
	qmp "$qsock" '{"execute":"human-monitor-command","arguments":{"command-line":"info registers -a"}}' \
		>"$logdir/boot-hang.txt"
	qmp "$qsock" '{"execute":"quit"}' >/dev/null
}
set +e
for attempt in 1 2; do
	rm -f "$logdir/.qemu-done" "$logdir/.boot-hang"
	boot_watch &
	watcher=$!
	t_start=$EPOCHREALTIME
	timeout -k 10 "$timeout_s" "$qemu" "${args[@]}" -serial stdio "${serial2[@]}" "${extra[@]}" \
		</dev/null 2>"$logdir/qemu.stderr" |
		while IFS= read -r line; do
			line=${line%$'\r'}
			[[ $line == HMMDEV-INIT* ]] && printf 'HMMDEV-WALL %s\n' \
				"$(echo "$EPOCHREALTIME - $t_start" | bc)"
			printf '%s\n' "$line"
		done >"$log"
	qemu_rc=${PIPESTATUS[0]}
	: >"$logdir/.qemu-done"
	wait $watcher
	if [ -e "$logdir/.boot-hang" ] && [ $attempt -eq 2 ]; then
		echo "run-vm.sh: the guest did not reach /init in ${boot_limit} s, twice (vCPU registers in $logdir/boot-hang.txt)" >&2
	fi
	[ -e "$logdir/.boot-hang" ] && [ $attempt -eq 1 ] || break
	mv "$log" "$logdir/console-boot-hang.log"
	echo "run-vm.sh: the guest did not reach /init in ${boot_limit} s (an early-boot hang; vCPU registers in $logdir/boot-hang.txt, console in console-boot-hang.log); booting it again" >&2
done
set -e

# The timeline: both sides merged (images/timeline/)
timeline_rc=0
if [ -n "$timeline$timeline_text" ]; then
	gunzip -f "$logdir/guest-trace.txt.gz" ||
		echo "run-vm.sh: the guest's trace did not arrive whole ($logdir/guest-trace.txt.gz)" >&2
	targs=(--guest "$logdir/guest-trace.txt" --device "$qlog")
	[ -z "$timeline" ] || targs+=(--json "$timeline")
	[ -z "$timeline_text" ] || targs+=(--text "$timeline_text")
	"$(timeline_tool)" "${targs[@]}" >&2 || {
		timeline_rc=1
		echo "run-vm.sh: the timeline could not be made (guest trace $logdir/guest-trace.txt, device trace $qlog)" >&2
	}
fi

if [ "$mode" = run ]; then
	sed -n '/^HMMDEV-INIT/,/^HMMDEV-EXIT/{/^HMMDEV-/!p}' "$log"
	status=$(sed -n 's/^HMMDEV-EXIT //p' "$log")
	"$top/images/tap-report.sh" --kernel-log-only "$log" >&2 ||
		echo "run-vm.sh: guest kernel log has a report, see $log" >&2
	[ -n "$status" ] || { echo "run-vm.sh: the command did not finish (QEMU status $qemu_rc, log $log)" >&2; exit 1; }
	[ "$status" != 0 ] || exit $timeline_rc
	exit "$status"
fi
report_args=(--qemu-status "$qemu_rc" --timeout "$timeout_s"
	--kernel "$kernel${flavour:+-$flavour}$([ $iommu -eq 0 ] || echo -iommu)")
[ $tap_summary -eq 0 ] || report_args+=(--tap-summary)
set +e
"$top/images/tap-report.sh" "${report_args[@]}" "$log"
rc=$?
[ $rc -ne 0 ] || rc=$timeline_rc
exit $rc
