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

# name | qom-set properties (p=v,...) | seconds after the workload started
# | expect | the workload of --short (default quick) -- expect clean: the
# workload passes, no recovery; recover: the device fails and comes back
# (recoveries >= 1); errors: the workload may see errors (EIO), nothing is
# lost.  (hmm-tests counts device faults exactly: spurious faults make it
# fail, so their --short cell runs the fuzzer.  dma-errors-holes: huge
# zero pages moving as 4 KiB device pages (HMM_DMIRROR_FLAG_FAIL_ALLOC)
# while every other engine access fails -- the kernel oopsed in
# migrate_vma_pages() on such a half-copied block before
# hmmdev_migrate_fail_blocks().)
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
)
WORKLOADS=(racer hmm-tests pingpong fuzz)   # (and quick, holes: --short)

injection() { # NAME: its table line
	local l
	for l in "${INJECTIONS[@]}"; do
		[ "${l%%|*}" = "$1" ] && { echo "$l"; return 0; }
	done
	return 1
}

# run_cell DIR KERNEL INJECTION WORKLOAD: one VM; writes DIR/CELL/result.*
run_cell() {
	local dir=$1 kernel=$2 inj=$3 wl=$4 name props at expect
	IFS='|' read -r name props at expect _ <<<"$(injection "$inj")"
	local cell=$kernel-$name-$wl
	local cdir=$dir/$cell sock t0 rc vm p i
	mkdir -p "$cdir"
	sock=$cdir/qmp.sock
	t0=$EPOCHREALTIME
	"$top/run-vm.sh" --no-build --kernel "$kernel" --qmp "$sock" \
		--log-dir "$cdir/vm" --timeout 400 \
		--add "$top/images/campaign/cell.sh" --run "sh cell.sh $wl" \
		>"$cdir/out" 2>"$cdir/err" &
	vm=$!
	# inject once the workload runs (its first console line) + AT s
	for ((i = 0; i < 1200; i++)); do
		grep -q '^CAMPAIGN-GO' "$cdir/vm/console.log" 2>/dev/null && break
		kill -0 $vm 2>/dev/null || break
		sleep 0.1
	done
	if [ -n "$props" ]; then
		sleep "$at"
		IFS=, read -ra p <<<"$props"
		for i in "${p[@]}"; do
			qmp "$sock" '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/hmmdev0","property":"'"${i%%=*}"'","value":'"${i#*=}"'}}' \
				>>"$cdir/qmp.log"
		done
	fi
	# the workload is done: the injection ends before the probe
	for ((i = 0; i < 4000; i++)); do
		grep -q '^CAMPAIGN-DONE' "$cdir/vm/console.log" 2>/dev/null && break
		kill -0 $vm 2>/dev/null || break
		sleep 0.1
	done
	if [ -n "$props" ]; then
		for i in "${p[@]}"; do
			qmp "$sock" '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/hmmdev0","property":"'"${i%%=*}"'","value":0}}' \
				>>"$cdir/qmp.log"
		done
	fi
	wait $vm
	rc=$?
	verdict "$cell" "$name" "$wl" "$kernel" "$expect" "$rc" "$t0" "$cdir"
}

# verdict CELL INJECTION WORKLOAD KERNEL EXPECT RC T0 CDIR
verdict() {
	local cell=$1 inj=$2 wl=$3 kernel=$4 expect=$5 rc=$6 t0=$7 cdir=$8
	local -A v=()
	local k val problems=() secs
	while read -r _ k val; do v[$k]=$val; done < <(grep '^CAMPAIGN ' "$cdir/out")
	secs=$(echo "$EPOCHREALTIME - $t0" | bc)
	get() { echo "${v[$1]:-}"; }
	[ -n "$(get probe_rc)" ] || problems+=("the VM did not finish (run-vm.sh status $rc)")
	! grep -q 'has a report\|did not finish' "$cdir/err" ||
		problems+=("$(grep -m1 'has a report\|did not finish' "$cdir/err")")
	[ "$(get probe_rc)" = 0 ] || problems+=("the probe failed: new jobs do not work")
	[ "$(get driver.failed)" = 0 ] || problems+=("a device stayed failed")
	[ "$(get device.oracle-violations)" = 0 ] || problems+=("oracle violations")
	[ "$(get driver.stale_translations)" = 0 ] || problems+=("stale translations")
	[ "$(get driver.pages_lost)" = 0 ] || problems+=("pages lost")
	[ "$(get driver.devmem_used)" = 0 ] && [ "$(get driver.pt_pages)" = 0 ] ||
		problems+=("device pages or page tables left in use")
	if [ "$inj" != none ] && [ "$(get device.injected)" = 0 ]; then
		problems+=("nothing was injected")
	fi
	case "$expect" in
	clean)
		[ "$(get workload_rc)" = 0 ] || problems+=("the workload failed")
		[ "$(get driver.recoveries)" = 0 ] || problems+=("an unexpected recovery") ;;
	recover)
		[ "${v[driver.recoveries]:-0}" -ge 1 ] 2>/dev/null ||
			problems+=("no recovery") ;;
	esac
	local ok=OK
	[ ${#problems[@]} -eq 0 ] || ok=FAIL
	local why
	why=$(IFS=';'; echo "${problems[*]}")
	cat >"$cdir/result.json" <<JSON
{"cell": "$cell", "kernel": "$kernel", "injection": "$inj", "workload": "$wl", "expect": "$expect", "verdict": "$ok", "problems": "$why", "workload_rc": ${v[workload_rc]:-null}, "workload_s": ${v[workload_s]:-null}, "probe_rc": ${v[probe_rc]:-null}, "recoveries": ${v[driver.recoveries]:-null}, "recovery_wait_s": ${v[recovery_wait_s]:-null}, "irqs_missed": ${v[driver.irqs_missed]:-null}, "faults_lost": ${v[driver.faults_lost]:-null}, "job_errors": ${v[driver.job_errors]:-null}, "timeouts": ${v[driver.timeouts]:-null}, "pages_lost": ${v[driver.pages_lost]:-null}, "pages_rescued": ${v[driver.pages_rescued]:-null}, "injected": ${v[device.injected]:-null}, "oracle_violations": ${v[device.oracle-violations]:-null}, "cell_s": $secs}
JSON
	printf '| %s | %s | %s | %s | **%s** | wl %s (%ss) | probe %s | rec %s (%ss) | irq-missed %s | flt-lost %s | job-err %s | lost %s | rescued %s | inj %s | oracle %s | %.0fs | %s |\n' \
		"$kernel" "$inj" "$wl" "$expect" "$ok" "$(get workload_rc)" \
		"$(get workload_s)" "$(get probe_rc)" "$(get driver.recoveries)" \
		"$(get recovery_wait_s)" "$(get driver.irqs_missed)" \
		"$(get driver.faults_lost)" "$(get driver.job_errors)" \
		"$(get driver.pages_lost)" "$(get driver.pages_rescued)" \
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
		if [ $short -eq 1 ] && [ $wl_given -eq 0 ]; then
			w=$(injection "$i" | cut -d'|' -f5)
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
	echo "| kernel | injection | workload | expect | verdict | workload (rc, time) | probe | recoveries (wait) | IRQs missed | faults lost | job errors | pages lost | rescued | injected | oracle | cell | problems |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for c in "${cells[@]}"; do
		read -r k i w <<<"$c"
		cat "$out/$k-$i-$w/result.md" 2>/dev/null ||
			echo "| $k | $i | $w | | **FAIL** | | | | | | | | | | | | no result |"
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
		echo "$([ "$r" = OK ] || echo "not ")ok $n campaign $k $i x $w: ${r:-no result}${why:+: $why} ($(cut -d'|' -f6-17 "$out/$k-$i-$w/result.md" 2>/dev/null | tr -s ' '))"
	fi
done
[ $tap -eq 1 ] || cat "$out/results.md"
echo "campaign: $(printf '%.0f' "$secs") s; $out/results.md, $out/results.json" >&2
exit $bad
