#!/usr/bin/env bash
# TAP test of run-vm.sh itself: --help, --run exit status, --add, --qmp
# (qom-get of the device's counters from the host), bad options.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/images/lib.sh"
run_vm=("$top/run-vm.sh" --no-build --timeout 300 --vram-prefault off)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
result() { # status, description
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; bad=1; fi
}
# qom_get SOCKET DEVICE PROPERTY: a number property of /machine/peripheral/DEVICE
qom_get() {
	qmp "$1" '{"execute":"qom-get","arguments":{"path":"/machine/peripheral/'"$2"'","property":"'"$3"'"}}' |
		sed -n 's/.*"return": \([0-9][0-9]*\).*/\1/p'
}
# wait_socket SOCKET: until QEMU listens on it (20 s at most)
wait_socket() { for _ in $(seq 100); do [ -S "$1" ] && break; sleep 0.2; done; }

echo "1..$((8 + ${#KERNELS[@]}))"

"$top/run-vm.sh" --help | grep -q -- '--qmp PATH'
result $? "--help describes the options"

"${run_vm[@]}" --run 'exit 3' >/dev/null 2>&1
rc=$?
result $(( rc != 3 )) "--run propagates the command's exit status (got $rc, want 3)"

head -c 300000 /dev/urandom >"$tmp/blob.bin"
printf '#!/bin/sh\necho "hello from $(uname -r), $(ls /dev | grep -c ^hmmdev) devices"\n' >"$tmp/hello.sh"
chmod +x "$tmp/hello.sh"
want=$(sha256sum <"$tmp/blob.bin" | cut -d' ' -f1)
out=$("${run_vm[@]}" --add "$tmp/hello.sh" --add "$tmp/blob.bin" \
	--run './hello.sh && sha256sum blob.bin' 2>&1)
rc=$?
echo "$out" | grep -q "hello from $DEFAULT_KERNEL" && echo "$out" | grep -q "$want" &&
	echo "$out" | grep -q " 4 devices"   # the default VM: 2 private + 2 coherent
result $(( rc != 0 || $? != 0 )) "--add ships files (sha256 intact) and --run runs them in /work"

sock=$tmp/qmp.sock
"${run_vm[@]}" --qmp "$sock" --run 'sleep 120' >/dev/null 2>&1 &
vm=$!
wait_socket "$sock"
# hmmdev.ko probes and runs its self-test jobs: ask until they are done
for _ in $(seq 120); do
	qom=$(qom_get "$sock" hmmdev0 stat-jobs-done)
	[ "${qom:-0}" -ge 2 ] && break
	sleep 0.5
done
qmp "$sock" '{"execute":"quit"}' >/dev/null
wait $vm
# the probe self-test runs two DMA jobs per device
[ -n "$qom" ] && [ "$qom" -ge 2 ]
result $? "--qmp: qom-get hmmdev0 stat-jobs-done over the socket (got '${qom:-nothing}', want >= 2)"

# PCIe hot-unplug with pages in device memory, on each guest kernel:
# nothing may be lost.  The host unplugs when hmmdev-unplug says its
# pages are in VRAM (its console line), not at a count of the device's
# bytes: the driver's self-tests move more than the test itself.
unplug() { # KERNEL
	# at least hmmdev-unplug's 4 MiB into VRAM and MIGRATE_TO_DEV's read
	# of it through the device: 2 x 4 MiB
	local k=$1 qmp=$sock.unplug-$1 logs=$tmp/unplug-$1 want=$((8 << 20))
	local vm bytes=0 rc _
	"${run_vm[@]}" --kernel "$k" --qmp "$qmp" --log-dir "$logs" \
		--run hmmdev-unplug >"$tmp/unplug.out" 2>&1 &
	vm=$!
	wait_socket "$qmp"
	for _ in $(seq 240); do
		# its first line: the pages are in VRAM, or what failed
		grep -q "^unplug: " "$logs/console.log" 2>/dev/null && break
		sleep 0.5
	done
	bytes=$(qom_get "$qmp" hmmdev1 stat-bytes)
	qmp "$qmp" '{"execute":"device_del","arguments":{"id":"hmmdev1"}}' >/dev/null
	wait $vm
	rc=$?
	# the migration was seen, then the device went within 10 s, data intact
	[ "${bytes:-0}" -ge $want ] &&
		grep -Eq "device removed after [0-9]\.[0-9] s; data intact" "$tmp/unplug.out" &&
		! grep -q "guest kernel log has a report" "$tmp/unplug.out"
	result $(( rc != 0 || $? != 0 )) "Linux $k: device_del of hmmdev1 with 1024 pages in its VRAM (stat-bytes ${bytes:-nothing}): $(grep -o 'device removed.*' "$tmp/unplug.out" || tail -1 "$tmp/unplug.out")"
}
for k in "${KERNELS[@]}"; do unplug "$k"; done

out=$("${run_vm[@]}" --kernel 6.12 --run 'cat /kernel-series; uname -r' 2>&1)
rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "^6.12 " && echo "$out" | grep -q "^6\.12\."
result $? "--kernel 6.12 boots Linux 6.12 ($(echo "$out" | tail -1))"

out=$("$top/run-vm.sh" --no-build --kernel 5.10 --run true 2>&1)
rc=$?
[ $rc -ne 0 ] && [[ $out == *"unknown kernel '5.10'"* ]] && [[ $out == *"7.3 6.12"* ]]
result $? "--kernel with another value is a clear error listing the choices: ${out##*error: }"

"$top/run-vm.sh" --bogus >/dev/null 2>&1
result $(( $? == 0 )) "an unknown option is an error"

out=$("$top/run-vm.sh" --no-build --add /nonexistent --run true 2>&1)
rc=$?
[ $rc -ne 0 ] && [[ $out == *"no such file: /nonexistent"* ]]
result $? "--add of a missing file is a clear error (status $rc)"
exit $bad
