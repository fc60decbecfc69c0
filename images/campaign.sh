#!/usr/bin/env bash
# Fault-injection campaign: a matrix of injection x workload x kernel, each
# cell in a fresh VM (run-vm.sh), the injection made over QMP (qom-set on
# hmmdev0) while the workload runs, and a results table: Markdown for
# people, JSON for tools.
#
#   images/campaign.sh [--short] [-j N] [--out DIR] [--kernel K]...
#                      [--injection NAME]... [--workload NAME]... [--tap]
#                      [--sshlogin LOGIN]...
#
# --short: one cell per injection (workload "quick" unless the table
# names another, Linux 7.3 unless --kernel says), as CI runs it.  Without it: every injection x racer, hmm-tests, pingpong, fuzz
# x every kernel (--kernel, --injection, --workload narrow it).  Cells run
# N at a time (default 1: each VM has 2 vCPUs).  Where GNU parallel is
# installed (Debian package "parallel") the cells go through it, and
# --sshlogin passes its machines on (the tree, the built cache and DIR must
# be at the same paths there: a shared file system).  --tap prints a TAP
# line per cell.  Results: DIR/results.md, DIR/results.json and a
# directory per cell with the VM's output (default DIR: a new directory
# under the cache's logs/).  The guest side of a cell is
# images/campaign/cell.sh.  Exit status 1 when a cell's verdict is not OK.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/images/lib.sh"

# name | actions | seconds after the workload started | expect | the
# workload of --short (default quick; "=W": W is this injection's only
# workload, also in the full matrix) | counters (a+b) that must end >= 1
# (they show the driver saw it; without one, device.injected must) |
# "full": not in the --short matrix.
# Actions, comma-separated: PROP=VAL (qom-set on hmmdev0, set back to 0 once
# the workload is done), !PROP=VAL (never set back), DEV/PROP=VAL (another
# device), hmp:COMMAND (QMP human-monitor-command: QEMU's AER injection),
# guest:NAME (images/campaign/cell.sh does it in the guest: flr),
# unplug:DEV (device_del right after the other actions; it must complete),
# native-hotplug (run-vm.sh --native-hotplug: pciehp owns the slots, so a
# device that falls off the bus takes pciehp's surprise-removal path;
# without it, q35's ACPI hot-plug tells the guest nothing and the driver
# notices by itself).
# Expect clean: the workload passes, no recovery; recover: the device fails
# and comes back (recoveries >= 1); errors: the workload may see errors
# (EIO), nothing is lost; lost: data is really gone -- the workload
# (hmmdev-lose) checks that exactly those pages give SIGBUS and every other
# page is intact.  (hmm-tests counts device faults exactly: spurious faults
# make it fail, so their --short cell runs the fuzzer.  dma-errors-holes:
# huge zero pages moving as 4 KiB device pages (HMM_DMIRROR_FLAG_FAIL_ALLOC)
# while every other engine access fails -- the kernel oopsed in
# migrate_vma_pages() on such a half-copied block before
# hmmdev_migrate_fail_blocks().  vram-poison: 4 pages of the first MiB of
# device memory, where hmmdev-lose's 256 pages land in a fresh VM.)
POISON=$(for p in 5 77 128 250; do printf '!x-inject-poison-vram=%d,' $(((64 << 20) + p * 4096)); done)
INJECTIONS=(
	"none||0|clean"
	"sync-delay|x-inject-sync-delay-us=2000|1|clean"
	"invalidate-delay|x-inject-invalidate-delay-us=2000|1|clean"
	"lost-sync|x-inject-drop-syncs=1|1|recover"
	"lost-irqs|x-inject-drop-irq-every=5|1|clean"
	"dma-errors|x-inject-dma-error-every=300|1|errors"
	"spurious-faults|x-inject-spurious-faults=200|1|errors|fuzz"
	"duplicate-faults|x-inject-duplicate-faults=20|1|clean"
	"fault-queue-full|x-inject-fq-full=10|1|clean"
	"engine-hang|x-inject-engine-hang=1|1|recover"
	"dma-errors-holes|x-inject-dma-error-every=2|0|errors|holes"
	"aer-correctable|hmp:pcie_aer_inject_error hmmdev0 RCVR|1|clean||driver.aer_correctable|full"
	"aer-nonfatal|hmp:pcie_aer_inject_error hmmdev0 POISON_TLP|1|clean||driver.aer_nonfatal|full"
	"aer-fatal|hmp:pcie_aer_inject_error hmmdev0 DLP|1|recover||driver.aer_fatal|full"
	"aer|hmp:pcie_aer_inject_error hmmdev0 RCVR,hmp:pcie_aer_inject_error hmmdev0 POISON_TLP,hmp:pcie_aer_inject_error hmmdev0 DLP|1|recover||driver.aer_correctable+driver.aer_nonfatal+driver.aer_fatal"
	"flr|guest:flr|1|errors||driver.function_resets"
	"vram-poison|${POISON%,}|0|lost|=poison|driver.pages_retired"
	"surprise-removal|!hmmdev1/x-inject-surprise-removal=true,unplug:hmmdev1|1|lost|=removal|lose_removal_sigbus+lose_removed+tombstones"
	"surprise-removal-pciehp|!hmmdev1/x-inject-surprise-removal=true,unplug:hmmdev1,native-hotplug|1|lost|=removal|lose_removal_sigbus+tombstones|full"
)
WORKLOADS=(racer hmm-tests pingpong fuzz)   # (and quick, holes: --short)

injection() { # NAME: its table line
	local l
	for l in "${INJECTIONS[@]}"; do
		[ "${l%%|*}" = "$1" ] && { echo "$l"; return 0; }
	done
	return 1
}

# act SOCK ACTION [clear]: one action of the table (see above) over QMP
act() {
	local sock=$1 a=$2 clear=${3:-} dev=hmmdev0 prop val
	case "$a" in
	hmp:*) [ -n "$clear" ] ||
		qmp "$sock" '{"execute":"human-monitor-command","arguments":{"command-line":"'"${a#hmp:}"'"}}' ;;
	guest:* | unplug:* | native-hotplug) ;;
	*)
		[ "${a#!}" = "$a" ] || { [ -z "$clear" ] || return 0; a=${a#!}; }
		prop=${a%%=*} val=${a#*=}
		[ "${prop#*/}" = "$prop" ] || { dev=${prop%%/*}; prop=${prop#*/}; }
		[ -z "$clear" ] || val=0
		qmp "$sock" '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/'"$dev"'","property":"'"$prop"'","value":'"$val"'}}' ;;
	esac
}

# unplug SOCK DEV [CONSOLE]: device_del; prints how long until QEMU had
# removed it.  With CONSOLE (native hot-plug): first wait until the guest
# says pciehp removed the function (hmmdev-lose's "lose_removed"), as an
# administrator would -- a request while pciehp handles the surprise
# removal would wait for an attention button nobody presses -- and then
# the slot is off and the unplug is at once.
unplug() {
	local sock=$1 dev=$2 console=${3:-} t0 i
	for ((i = 0; i < 300 && ${#console}; i++)); do
		grep -q '^CAMPAIGN lose_removed' "$console" 2>/dev/null && break
		sleep 0.1
	done
	t0=$EPOCHREALTIME
	for ((i = 0; i < 160; i++)); do
		[ $((i % 60)) -ne 0 ] ||
			qmp "$sock" '{"execute":"device_del","arguments":{"id":"'"$dev"'"}}' >/dev/null
		qmp "$sock" '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/'"$dev"'","property":"type"}}' |
			grep -q '"error"' && break
		sleep 0.1
	done
	[ $i -lt 160 ] && printf 'CAMPAIGN host_device_del_s %.1f\n' "$(echo "$EPOCHREALTIME - $t0" | bc)"
}

# run_cell DIR KERNEL INJECTION WORKLOAD: one VM; writes DIR/CELL/result.*
run_cell() {
	local dir=$1 kernel=$2 inj=$3 wl=$4 name props at expect counter
	IFS="|" read -r name props at expect _ counter _ <<<"$(injection "$inj")"
	# the quick workload takes ~2 s: its injection comes half a second
	# in (at 1 s it once came as the workload ended: nothing injected)
	[ "$wl" != quick ] || [ "$at" = 0 ] || at=0.5
	local cell=$kernel-$name-$wl
	local cdir=$dir/$cell sock t0 rc vm p=() a i guest= vmopts=()
	rm -rf "$cdir"	# an old run's console must not say GO
	mkdir -p "$cdir"
	: >"$cdir/host"
	sock=$cdir/qmp.sock
	t0=$EPOCHREALTIME
	[ -z "$props" ] || IFS=, read -ra p <<<"$props"
	for a in "${p[@]}"; do
		case "$a" in
		guest:*) guest="${a#guest:} $at" ;;
		native-hotplug) vmopts=(--native-hotplug) ;;
		esac
	done
	"$top/run-vm.sh" --no-build --kernel "$kernel" --qmp "$sock" \
		--log-dir "$cdir/vm" --timeout 400 --vram-prefault off "${vmopts[@]}" \
		--add "$top/images/campaign/cell.sh" --run "sh cell.sh $wl $guest" \
		>"$cdir/out" 2>"$cdir/err" &
	vm=$!
	# inject once the workload runs (its first console line) + AT s
	for ((i = 0; i < 1200; i++)); do
		grep -q '^CAMPAIGN-GO' "$cdir/vm/console.log" 2>/dev/null && break
		kill -0 $vm 2>/dev/null || break
		sleep 0.1
	done
	sleep "$at"
	for a in "${p[@]}"; do act "$sock" "$a" >>"$cdir/qmp.log"; done
	# device_del right after the injection, waited for in the background
	local unplugs=()
	for a in "${p[@]}"; do
		[ "${a#unplug:}" = "$a" ] || {
			unplug "$sock" "${a#unplug:}" ${vmopts:+"$cdir/vm/console.log"} >>"$cdir/host" &
			unplugs+=($!)
		}
	done
	# the workload is done: the injection ends before the probe
	for ((i = 0; i < 4000; i++)); do
		grep -q '^CAMPAIGN-DONE' "$cdir/vm/console.log" 2>/dev/null && break
		kill -0 $vm 2>/dev/null || break
		sleep 0.1
	done
	for a in "${p[@]}"; do act "$sock" "$a" clear >>"$cdir/qmp.log"; done
	[ ${#unplugs[@]} -eq 0 ] || wait "${unplugs[@]}"
	wait $vm
	rc=$?
	verdict "$cell" "$name" "$wl" "$kernel" "$expect" "$rc" "$t0" "$cdir" "$counter" "$props"
}

# verdict CELL INJECTION WORKLOAD KERNEL EXPECT RC T0 CDIR COUNTER ACTIONS
verdict() {
	local cell=$1 inj=$2 wl=$3 kernel=$4 expect=$5 rc=$6 t0=$7 cdir=$8
	local counter=$9 actions=${10}
	local -A v=()
	local k val problems=() secs data
	while read -r _ k val; do v[$k]=$val; done < <(grep -h '^CAMPAIGN ' "$cdir/out" "$cdir/host")
	secs=$(echo "$EPOCHREALTIME - $t0" | bc)
	get() { echo "${v[$1]:-}"; }
	[ -n "$(get probe_rc)" ] || problems+=("the VM did not finish (run-vm.sh status $rc)")
	! grep -q 'has a report\|did not finish' "$cdir/err" ||
		problems+=("$(grep -m1 'has a report\|did not finish' "$cdir/err")")
	# a report of Linux's own, named as such (the verdict stays FAIL)
	if grep -q 'possible circular locking dependency' "$cdir/vm/console.log" 2>/dev/null &&
		grep -A6 'possible circular locking' "$cdir/vm/console.log" | grep -q 'reset_lock.*pciehp_unconfigure_device' &&
		! grep -A60 'possible circular locking' "$cdir/vm/console.log" | grep -q '\[hmmdev\]'; then
		problems+=("it is Linux pciehp's own lockdep report: pci_rescan_remove_lock, then ctrl->reset_lock again in pciehp_unconfigure_device(), no hmmdev frame")
	fi
	[ "$(get probe_rc)" = 0 ] || problems+=("the probe failed: new jobs do not work")
	[ "$(get driver.failed)" = 0 ] || problems+=("a device stayed failed")
	[ "$(get device.oracle-violations)" = 0 ] || problems+=("oracle violations")
	[ "$(get driver.stale_translations)" = 0 ] || problems+=("stale translations")
	[ "$expect" = lost ] || [ "$(get driver.pages_lost)" = 0 ] ||
		problems+=("pages lost")
	[ "$(get driver.devmem_used)" = 0 ] && [ "$(get driver.pt_pages)" = 0 ] ||
		problems+=("device pages or page tables left in use")
	if [ -n "$counter" ]; then
		for k in ${counter//+/ }; do
			[ "${v[$k]:-0}" -ge 1 ] 2>/dev/null ||
				problems+=("$k stayed 0: the driver did not see it")
		done
	elif [ "$inj" != none ] && [ "$(get device.injected)" = 0 ]; then
		problems+=("nothing was injected")
	fi
	[[ ",$actions" != *,unplug:* ]] || [ -n "$(get host_device_del_s)" ] ||
		problems+=("device_del did not complete")
	case "$expect" in
	clean)
		[ "$(get workload_rc)" = 0 ] || problems+=("the workload failed")
		[ "$(get driver.recoveries)" = 0 ] || problems+=("an unexpected recovery") ;;
	recover)
		[ "${v[driver.recoveries]:-0}" -ge 1 ] 2>/dev/null ||
			problems+=("no recovery") ;;
	lost)
		[ "$(get workload_rc)" = 0 ] ||
			problems+=("SIGBUS pages, intact pages or corrupt pages not as expected") ;;
	esac
	# data: what the workload verified (the lost cells count pages)
	data="workload $( [ "$(get workload_rc)" = 0 ] && echo verified || echo "rc $(get workload_rc)")"
	for k in poison removal; do
		[ -n "$(get lose_${k}_sigbus)" ] || continue
		data="SIGBUS $(get lose_${k}_sigbus)/$(get lose_${k}_expected), intact $(get lose_${k}_intact), corrupt $(get lose_${k}_corrupt)"
	done
	local ok=OK
	[ ${#problems[@]} -eq 0 ] || ok=FAIL
	local why
	why=$(IFS=';'; echo "${problems[*]}")
	cat >"$cdir/result.json" <<JSON
{"cell": "$cell", "kernel": "$kernel", "injection": "$inj", "workload": "$wl", "expect": "$expect", "verdict": "$ok", "problems": "$why", "workload_rc": ${v[workload_rc]:-null}, "workload_s": ${v[workload_s]:-null}, "probe_rc": ${v[probe_rc]:-null}, "recoveries": ${v[driver.recoveries]:-null}, "recovery_wait_s": ${v[recovery_wait_s]:-null}, "irqs_missed": ${v[driver.irqs_missed]:-null}, "faults_lost": ${v[driver.faults_lost]:-null}, "job_errors": ${v[driver.job_errors]:-null}, "timeouts": ${v[driver.timeouts]:-null}, "pages_lost": ${v[driver.pages_lost]:-null}, "pages_rescued": ${v[driver.pages_rescued]:-null}, "injected": ${v[device.injected]:-null}, "oracle_violations": ${v[device.oracle-violations]:-null}, "aer_correctable": ${v[driver.aer_correctable]:-null}, "aer_nonfatal": ${v[driver.aer_nonfatal]:-null}, "aer_fatal": ${v[driver.aer_fatal]:-null}, "function_resets": ${v[driver.function_resets]:-null}, "pages_poisoned": ${v[driver.pages_poisoned]:-null}, "pages_retired": ${v[driver.pages_retired]:-null}, "pages_hwpoisoned": ${v[driver.pages_hwpoisoned]:-null}, "device_del_s": ${v[host_device_del_s]:-null}, "data": "$data", "cell_s": $secs}
JSON
	printf '| %s | %s | %s | %s | **%s** | wl %s (%ss) | probe %s | rec %s (%ss) | irq-missed %s | flt-lost %s | job-err %s | lost %s | rescued %s | %s | %s | inj %s | oracle %s | %.0fs | %s |\n' \
		"$kernel" "$inj" "$wl" "$expect" "$ok" "$(get workload_rc)" \
		"$(get workload_s)" "$(get probe_rc)" "$(get driver.recoveries)" \
		"$(get recovery_wait_s)" "$(get driver.irqs_missed)" \
		"$(get driver.faults_lost)" "$(get driver.job_errors)" \
		"$(get driver.pages_lost)" "$(get driver.pages_rescued)" \
		"$data" "$(for k in ${counter//+/ }; do printf '%s %s ' "$k" "$(get "$k")"; done)" \
		"$(get device.injected)" "$(get device.oracle-violations)" \
		"$secs" "${why:-}" >"$cdir/result.md"
}

if [ "${1:-}" = --cell ]; then         # internal: one cell (for parallel)
	shift
	run_cell "$@"
	exit
fi

jobs=1 out= short=0 tap=0 kernels=() only_inj=() only_wl=() sshlogin=()
while [ $# -gt 0 ]; do
	case "$1" in
	--short) short=1 ;;
	-j) jobs=${2:?-j needs a number}; shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	--kernel) check_kernel "${2:?--kernel needs a series}"; kernels+=("$2"); shift ;;
	--injection) injection "${2:?}" >/dev/null || die "unknown injection $2"
		only_inj+=("$2"); shift ;;
	--workload) only_wl+=("${2:?}"); shift ;;
	--sshlogin) sshlogin+=(--sshlogin "${2:?}"); shift ;;
	--tap) tap=1 ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option: $1 (see --help)" ;;
	esac
	shift
done
wl_given=${#only_wl[@]}
inj_given=${only_inj[*]}
if [ $short -eq 1 ]; then
	[ ${#kernels[@]} -gt 0 ] || kernels=("$DEFAULT_KERNEL")
fi
[ ${#kernels[@]} -gt 0 ] || kernels=("${KERNELS[@]}")
[ ${#only_wl[@]} -gt 0 ] || only_wl=("${WORKLOADS[@]}")
if [ ${#only_inj[@]} -eq 0 ]; then
	for l in "${INJECTIONS[@]}"; do only_inj+=("${l%%|*}"); done
fi
[ -n "$out" ] || out=$HMMDEV_CACHE/logs/campaign-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"

cells=()
for k in "${kernels[@]}"; do
	for i in "${only_inj[@]}"; do
		w=$(injection "$i" | cut -d'|' -f5)
		if [ $short -eq 1 ] && [ ${#only_inj[@]} -gt 0 ] && [ -z "$inj_given" ] &&
			[ "$(injection "$i" | cut -d'|' -f7)" = full ]; then
			continue
		fi
		if [ "${w#=}" != "$w" ]; then
			cells+=("$k $i ${w#=}")	# its only workload
			continue
		fi
		if [ $short -eq 1 ] && [ $wl_given -eq 0 ]; then
			cells+=("$k $i ${w:-quick}")
			continue
		fi
		for w in "${only_wl[@]}"; do cells+=("$k $i $w"); done
	done
done
t0=$EPOCHREALTIME
echo "campaign: ${#cells[@]} cell(s), $jobs at a time, results in $out" >&2
if command -v parallel >/dev/null; then
	printf '%s\n' "${cells[@]}" |
		parallel --will-cite -j "$jobs" "${sshlogin[@]}" --colsep ' ' \
			"$0" --cell "$out" {1} {2} {3}
else
	[ ${#sshlogin[@]} -eq 0 ] || die "--sshlogin needs GNU parallel (apt-get install parallel)"
	printf '%s\n' "${cells[@]}" | xargs -P "$jobs" -L 1 "$0" --cell "$out"
fi
secs=$(echo "$EPOCHREALTIME - $t0" | bc)

# the table, in matrix order
{
	echo "# Fault-injection campaign ($(date -u +%Y-%m-%d), ${#cells[@]} cells, $(printf '%.0f' "$secs") s)"
	echo
	echo "| kernel | injection | workload | expect | verdict | workload (rc, time) | probe | recoveries (wait) | IRQs missed | faults lost | job errors | pages lost | rescued | data | seen | injected | oracle | cell | problems |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for c in "${cells[@]}"; do
		read -r k i w <<<"$c"
		cat "$out/$k-$i-$w/result.md" 2>/dev/null ||
			echo "| $k | $i | $w | | **FAIL** | | | | | | | | | | | | | | no result |"
	done
} >"$out/results.md"
{
	echo "["
	n=0
	for c in "${cells[@]}"; do
		read -r k i w <<<"$c"
		[ $n -eq 0 ] || echo ","
		cat "$out/$k-$i-$w/result.json" 2>/dev/null ||
			echo "{\"cell\": \"$k-$i-$w\", \"verdict\": \"FAIL\", \"problems\": \"no result\"}"
		n=$((n + 1))
	done
	echo "]"
} >"$out/results.json"

bad=0 n=0
[ $tap -eq 0 ] || echo "1..${#cells[@]}"
for c in "${cells[@]}"; do
	read -r k i w <<<"$c"
	n=$((n + 1))
	r=$(sed -n 's/.*"verdict": "\([A-Z]*\)".*/\1/p' "$out/$k-$i-$w/result.json" 2>/dev/null)
	why=$(sed -n 's/.*"problems": "\([^"]*\)".*/\1/p' "$out/$k-$i-$w/result.json" 2>/dev/null)
	[ "$r" = OK ] || bad=1
	if [ $tap -eq 1 ]; then
		echo "$([ "$r" = OK ] || echo "not ")ok $n campaign $k $i x $w: ${r:-no result}${why:+: $why} ($(cut -d'|' -f6-19 "$out/$k-$i-$w/result.md" 2>/dev/null | tr -s ' '))"
	fi
done
[ $tap -eq 1 ] || cat "$out/results.md"
echo "campaign: $(printf '%.0f' "$secs") s; $out/results.md, $out/results.json" >&2
exit $bad
