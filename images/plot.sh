#!/usr/bin/env bash
# The benchmarks' plots (gnuplot from Debian, PNG):
#   migration-by-size.png  hmm-tests' benchmark_thp_migration, hmmdev vs
#                          test_hmm in the same VM: GB/s by buffer size and
#                          direction, THPs and 4 KiB pages
#   migration-64m.png      our 64 MiB migrations (to the device, back by
#                          ioctl, back by CPU faults), hmmdev vs test_hmm
#   fault-latency.png      the device fault round trip's distribution (CDF),
#                          with fault-around 16 and 1
#   copy-bandwidth.png     the engines' VA->VA copy against host memcpy
# and the CSV files they are drawn from; and the bench's results as one
# table, each ratio against its goal (bench-summary.md, printed).
#
#   images/plot.sh [--bench-log CONSOLE_LOG] [--copy-log QTEST_OUTPUT]
#                  [--kernel SERIES] [--out DIR]
#
# Without the logs it runs the benchmarks first: the bench suite in a VM
# (./run-vm.sh --test --suite bench, ~6 min) and the copy-bandwidth qtest.
# --out: default images/plots (the README's pictures).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

bench_log=
copy_log=
kernel=$DEFAULT_KERNEL
out=$here/plots
while [ $# -gt 0 ]; do
	case "$1" in
	--bench-log) bench_log=${2:?}; shift ;;
	--copy-log) copy_log=${2:?}; shift ;;
	--kernel) kernel=${2:?}; check_kernel "$kernel"; shift ;;
	--out) out=${2:?}; shift ;;
	*) die "unknown option $1 (--bench-log FILE, --copy-log FILE, --kernel SERIES, --out DIR)" ;;
	esac
	shift
done
mkdir -p "$out"
"$here/bootstrap.sh" --plots >&2

if [ -z "$bench_log" ]; then
	log "running the bench suite on Linux $kernel (hmmdev and test_hmm, one VM)"
	"$HMMDEV_TOP/run-vm.sh" --kernel "$kernel" --test --suite bench \
		--log-dir "$out/bench-vm" >"$out/bench.tap" ||
		log "warning: the bench suite reported failures ($out/bench.tap)"
	bench_log=$out/bench-vm/console.log
fi
if [ -z "$copy_log" ]; then
	log "running the copy-bandwidth qtest"
	"$here/run-qtest.sh" hmmdev-mmu-test -m perf \
		-p /x86_64/hmmdev/mmu/bench-copy-2m -p /x86_64/hmmdev/mmu/bench-copy-4k \
		>"$out/copy.tap"
	copy_log=$out/copy.tap
fi

# -- CSV
# the 64 MiB migrations: the values of the table's rows (the medians of
# the rounds, hmmdev's and test_hmm's in turn)
awk -v csv=1 -f "$here/bench-table.awk" "$bench_log" >"$out/migration-64m.csv"
# the bench's own rows: "# HMMDEV-CSV FILE ROW"
{
	echo "fault_around,percentile,us"
	sed -n 's/^# HMMDEV-CSV fault-latency.csv //p' "$bench_log"
} >"$out/fault-latency.csv"
# hmm-tests' tables, hmmdev's first (images/init notes which is which)
awk '
	/HMMDEV-NOTE bench: hmm-tests benchmark_thp_migration on/ { drv = $NF }
	/=== .* MB\) ===/ { match($0, /\(([0-9.]+) MB\)/); size = substr($0, RSTART + 1, RLENGTH - 5) }
	/S->D Throughput/ { split($0, f, "|"); s2d_thp = f[2] + 0; s2d_4k = f[3] + 0 }
	/D->S Throughput/ && drv != "" {
		split($0, f, "|")
		printf "%s,%s,%.2f,%.2f,%.2f,%.2f\n", drv, size, s2d_thp, s2d_4k, f[2] + 0, f[3] + 0
	}
	BEGIN { print "driver,size_mb,s2d_thp_gbs,s2d_4k_gbs,d2s_thp_gbs,d2s_4k_gbs" }
' "$bench_log" >"$out/migration-by-size.csv"
{
	echo "pages,engine_mibs,memcpy_mibs"
	sed -n 's/.*bench copy VA->VA [0-9]* MiB, \(.*\) pages: engine \([0-9]*\) MiB\/s, host memcpy \([0-9]*\) MiB\/s.*/\1,\2,\3/p' "$copy_log"
} >"$out/copy-bandwidth.csv"
title="Linux $kernel guest, QEMU $QEMU_VERSION (TCG), $(date +%Y-%m-%d)"
# the table: every ratio against its goal
{
	printf '# The bench suite: hmmdev against test_hmm, one VM\n\n%s\n\n' "$title"
	awk -f "$here/bench-table.awk" "$bench_log"
} >"$out/bench-summary.md"
cat "$out/bench-summary.md"
for f in migration-64m fault-latency copy-bandwidth; do
	[ "$(wc -l <"$out/$f.csv")" -gt 1 ] || die "$out/$f.csv: no rows in the logs"
done
# hmm-tests' benchmark_thp_migration: Linux 7.x's hmm-tests only
by_size=1
[ "$(wc -l <"$out/migration-by-size.csv")" -gt 1 ] || {
	by_size=0
	log "no hmm-tests benchmark_thp_migration in the log (Linux $kernel): no migration-by-size.png"
}

# -- plots
col() { # col CSV DRIVER COLUMN: "size value" lines of one driver
	awk -F, -v d="$2" -v c="$3" 'NR > 1 && $1 == d { print $2, $c }' "$1"
}
col "$out/migration-by-size.csv" hmmdev 3 >"$out/.h-s2d-thp"
col "$out/migration-by-size.csv" test_hmm 3 >"$out/.t-s2d-thp"
col "$out/migration-by-size.csv" hmmdev 5 >"$out/.h-d2s-thp"
col "$out/migration-by-size.csv" test_hmm 5 >"$out/.t-d2s-thp"
col "$out/migration-by-size.csv" hmmdev 4 >"$out/.h-s2d-4k"
col "$out/migration-by-size.csv" test_hmm 4 >"$out/.t-s2d-4k"
awk -F, 'NR > 1 { print $1 " " $2, $3, $4, $5 }' "$out/migration-64m.csv" |
	sed 's/^\([a-z_]*\) /\1-/' >"$out/.m64"
m64_values=$(awk -F, 'NR == 2 { print $6 }' "$out/migration-64m.csv")
awk -F, 'NR > 1 && $1 == 16 { print $3, $2 }' "$out/fault-latency.csv" >"$out/.lat16"
awk -F, 'NR > 1 && $1 == 1 { print $3, $2 }' "$out/fault-latency.csv" >"$out/.lat1"
awk -F, 'NR > 1 { print "\"" $1 " pages\"", $2, $3 }' "$out/copy-bandwidth.csv" >"$out/.copy"
by_size_plot=
[ $by_size = 0 ] || by_size_plot=$(cat <<EOF
set output "$out/migration-by-size.png"
set title "hmm-tests benchmark_thp_migration, private devices\\n$title"
set logscale x 2
set xlabel "buffer (MiB)"
set ylabel "GB/s"
plot "$out/.h-s2d-thp" with linespoints lw 2 title "hmmdev THP sys->dev", \
     "$out/.t-s2d-thp" with linespoints lw 2 dt 2 title "test_hmm THP sys->dev", \
     "$out/.h-d2s-thp" with linespoints lw 2 title "hmmdev THP dev->sys", \
     "$out/.t-d2s-thp" with linespoints lw 2 dt 2 title "test_hmm THP dev->sys", \
     "$out/.h-s2d-4k" with linespoints title "hmmdev 4 KiB sys->dev", \
     "$out/.t-s2d-4k" with linespoints dt 2 title "test_hmm 4 KiB sys->dev"
unset logscale x
EOF
)
gnuplot <<EOF
set terminal pngcairo size 800,460 font "sans,10" background rgb "white"
set termoption noenhanced
set grid
set key top left

$by_size_plot

set output "$out/migration-64m.png"
set yrange [0:*]
set title "64 MiB migrations ($m64_values)\\n$title"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xlabel ""
set ylabel "MiB/s"
set xtics rotate by -20
set key outside right top
plot "$out/.m64" using 2:xtic(1) title "to the device", \
     "" using 3 title "back by ioctl", \
     "" using 4 title "back by CPU faults"
set xtics norotate
set key inside top left

set output "$out/copy-bandwidth.png"
set title "engine VA->VA copy (warm ATC) vs host memcpy of the same size\\nqtest (no guest), QEMU $QEMU_VERSION, $(date +%Y-%m-%d)"
set ylabel "MiB/s"
plot "$out/.copy" using 2:xtic(1) title "hmmdev engines", \
     "" using 3 title "host memcpy"

set output "$out/fault-latency.png"
set yrange [0:100]
set title "device fault round trip (fault record -> RETRY), hmmdev\\n$title"
set style data linespoints
set logscale x 10
set xlabel "us"
set ylabel "percent of faults"
set key bottom right
plot "$out/.lat16" using 1:2 lw 2 title "fault-around 16 pages", \
     "$out/.lat1" using 1:2 lw 2 title "fault-around 1 page"
EOF
rm -f "$out"/.h-* "$out"/.t-* "$out/.m64" "$out"/.lat* "$out/.copy"
log "plots in $out: $(cd "$out" && echo *.png)"
