#!/usr/bin/env bash
# Prove the README's two commands on a brand-new Debian: debootstrap a
# minbase root of SUITE (bookworm or trixie) from this machine's Debian
# archive (with this machine's Acquire::Check-* settings for it), clone
# this repository's HEAD into it, and run there, in a chroot,
#   ./run-vm.sh          (the shell gets "uname -r; exit" on its console)
#   images/check.sh
# with an empty build cache.  Prints the time of each step; the log of each
# is kept in ROOT/var/log/hmmdev-*.log.
#   images/fresh-root.sh SUITE [ROOT]       (default ROOT: /srv/roots/SUITE)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

suite=${1:?usage: fresh-root.sh bookworm|trixie [ROOT]}
root=${2:-/srv/roots/$suite}
case "$suite" in bookworm|trixie) ;; *) die "suite: bookworm or trixie" ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
uri=$(host_uri)
[ -n "$uri" ] || die "cannot find the Debian archive URI in apt's sources"

step() { # NAME CMD...: run, time and log one step
	local name=$1 t0=$SECONDS rc=0
	shift
	"$@" >"$root/var/log/hmmdev-$name.log" 2>&1 || rc=$?
	printf '%-12s %5d s  status %d  (log: %s)\n' "$name" $((SECONDS - t0)) $rc \
		"$root/var/log/hmmdev-$name.log"
	return $rc
}

if [ ! -x "$root/usr/bin/apt-get" ]; then
	mkdir -p "$root"
	t0=$SECONDS
	debootstrap --variant=minbase "$suite" "$root" "$uri" >/dev/null
	echo "debootstrap  $((SECONDS - t0)) s ($suite from $uri)"
fi
mkdir -p "$root/var/log"
# this machine's apt source as this machine reads it: its Acquire::Check-*
# settings (a mirror whose Release files are past Valid-Until needs them)
apt-config dump | grep '^Acquire::Check-' >"$root/etc/apt/apt.conf.d/99host-source" || true
for m in proc sys dev dev/pts; do
	mountpoint -q "$root/$m" || mount --bind "/$m" "$root/$m"
done
trap 'for m in dev/pts dev sys proc; do umount "$root/$m" 2>/dev/null || true; done' EXIT
# a clean clone of HEAD, as CI gets; git comes from the root's own apt
chroot "$root" sh -c 'command -v git >/dev/null || { apt-get update -qq && apt-get install -y -qq git ca-certificates; }' >/dev/null
rm -rf "$root/work/hmmdev"
mkdir -p "$root/work"
git -C "$HMMDEV_TOP" bundle create "$root/work/hmmdev.bundle" HEAD >/dev/null 2>&1
chroot "$root" git clone -q /work/hmmdev.bundle /work/hmmdev
rm -f "$root/work/hmmdev.bundle"
echo "commit       $(git -C "$HMMDEV_TOP" rev-parse --short HEAD)"

inroot() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb "$@"; }
# ./run-vm.sh as a person runs it: once the shell is up, type "uname -r"
# and leave it (the VM powers off)
cat >"$root/work/type-at-prompt.sh" <<'TYPE'
#!/bin/bash
cd /work/hmmdev
rm -f /tmp/console.in && mkfifo /tmp/console.in
timeout 5400 ./run-vm.sh </tmp/console.in >/tmp/run-vm.out 2>&1 &
vm=$!
exec 3>/tmp/console.in
until grep -q "exit the shell to power off" /tmp/run-vm.out; do
	kill -0 $vm 2>/dev/null || break
	sleep 2
done
sleep 2
printf 'uname -r\nexit\n' >&3
wait $vm
rc=$?
cat /tmp/run-vm.out
exit $rc
TYPE
chmod +x "$root/work/type-at-prompt.sh"
step run-vm inroot /work/type-at-prompt.sh || true
grep -aE "build done|hmmdev test VM|^7\.3\.[0-9]" "$root/var/log/hmmdev-run-vm.log" | head -4
step check inroot sh -c 'cd /work/hmmdev && images/check.sh'
tail -1 "$root/var/log/hmmdev-check.log"
