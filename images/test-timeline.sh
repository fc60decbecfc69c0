#!/usr/bin/env bash
# The protocol timeline on one guest kernel: the scripted scenarios
# (guest-tests/hmmdev-scenarios.c) under run-vm.sh --timeline, then
#   - the scenarios' own results (job, faults, errno, data),
#   - the timeline is valid JSON with both sides' slices and flows,
#   - the causality checks of images/timeline/timeline-check.c: each
#     scenario's chain in causal order across the boundary, every chain of
#     the trace in order, the clock alignment error under 50 us.
#   images/test-timeline.sh [--kernel SERIES] [--out DIR]   (TAP)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kernel=$DEFAULT_KERNEL
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=${2:?--kernel needs a series}; shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	*) die "unknown option $1 (--kernel SERIES, --out DIR)" ;;
	esac
	shift
done
check_kernel "$kernel"
[ -n "$out" ] || out=$HMMDEV_CACHE/logs/timeline-$kernel-$(date +%Y%m%d-%H%M%S)
rm -rf "$out"
mkdir -p "$out"

n=0
ok() { # ok COND-STATUS TEXT
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi
}
# TAP results of another producer, numbered on from ours
tap_append() {
	local line
	while IFS= read -r line; do
		case "$line" in
		"ok "*|"not ok "*)
			n=$((n + 1))
			printf '%s %d%s\n' "${line%% [0-9]*}" "$n" \
				"$(echo "$line" | sed 's/^\(not \)\{0,1\}ok [0-9]*//')" ;;
		"#"*) echo "$line" ;;
		esac
	done
}

echo "1..10"
"$HMMDEV_TOP/run-vm.sh" --no-build --kernel "$kernel" --log-dir "$out/vm" \
	--timeline "$out/timeline.json" --timeline-text "$out/timeline.txt" \
	--timeout 600 --run hmmdev-scenarios >"$out/guest.tap" 2>"$out/run-vm.err"
rc=$?
sed 's/^/# /' "$out/run-vm.err"
ok $rc "Linux $kernel: run-vm.sh --timeline --run hmmdev-scenarios (logs: $out)"
tap_append <"$out/guest.tap"

python3 - "$out/timeline.json" >"$out/json.txt" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
x = [e for e in ev if e["ph"] == "X"]
cats = {c: sum(1 for e in x if e["cat"] == c) for c in ("driver", "device")}
flows = {}
for e in ev:
    if e["ph"] in "stf":
        flows.setdefault(e["cat"], set()).add(e["id"])
names = [e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"]
print("%d events: %d driver slices, %d device slices; flows: %s; tracks: %s" % (
    len(ev), cats["driver"], cats["device"],
    ", ".join("%d %s" % (len(v), k) for k, v in sorted(flows.items())),
    ", ".join(sorted(set(names)))))
sys.exit(0 if cats["driver"] and cats["device"] and
         all(k in flows for k in ("fault", "job", "invalidation")) else 1)
EOF
ok $? "the timeline is JSON with both sides' slices and fault, job and invalidation flows: $(head -c 600 "$out/json.txt")"

tap_append < <("$(timeline_tool)" --guest "$out/vm/guest-trace.txt" \
	--device "$out/vm/qemu.log" --check 2>"$out/check.err")
[ "$n" = 10 ] || ok 1 "expected 10 results, got $n"
