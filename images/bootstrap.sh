#!/usr/bin/env bash
# Install everything hmmdev needs from Debian's archive (and nothing else).
# Works on Debian 12 (bookworm) and 13 (trixie) hosts.
#
# The host's own apt configuration stays as it was.  The suites it may not
# track -- <host>-backports (meson >= 1.5 on bookworm), trixie-backports
# (linux-source-7.3) and sid's source index (QEMU's source) -- go into a
# private configuration under $HMMDEV_CACHE/apt: its own sources list (the
# host's entries plus those) and its own lists directory, with the URI and
# keyring of the host's Debian entry.  Idempotent: a second run on a
# prepared machine only checks (and refreshes the private index once a day).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=(
	# QEMU build
	build-essential pkg-config ninja-build libglib2.0-dev libpixman-1-dev
	flex bison python3-venv zlib1g-dev libfdt-dev bzip2 xz-utils
	device-tree-compiler
	# guest kernel + module build
	bc libelf-dev libssl-dev cpio kmod
	# guest userland and firmware
	busybox-static seabios qemu-system-data
	# tools the scripts use
	dpkg-dev ca-certificates socat rsync
)
# meson >= 1.5 and pycotap (QEMU's configure): from backports on bookworm
MESON_PKGS=(meson python3-pycotap)
# --plots (images/plot.sh): gnuplot too
case "${1:-}" in
--plots) PKGS+=(gnuplot-nox) ;;
"") ;;
*) die "unknown option $1 (--plots)" ;;
esac

[ "$(id -u)" -eq 0 ] || die "run as root (installs Debian packages)"
# shellcheck disable=SC1091
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
case "$codename" in
bookworm|trixie) ;;
*) die "this host is '${codename:-unknown}': hmmdev's scripts know Debian 12 (bookworm) and 13 (trixie)" ;;
esac

# The host's Debian archive keyring (its URI: lib.sh's host_uri).
host_key() {
	local k
	k=$(awk '/^Signed-By:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	[ -n "$k" ] && [ -f "$k" ] && { echo "$k"; return; }
	for k in /usr/share/keyrings/debian-archive-keyring.pgp \
		/usr/share/keyrings/debian-archive-keyring.gpg; do
		[ -f "$k" ] && { echo "$k"; return; }
	done
}

uri=$(host_uri)
key=$(host_key)
[ -n "$uri" ] || die "cannot find the Debian archive URI in apt's sources"
[ -n "$key" ] || die "no Debian archive keyring (package debian-archive-keyring)"

mkdir -p "$HMMDEV_APT/lists/partial" "$HMMDEV_APT/cache/archives/partial"
list=$HMMDEV_APT/sources.list
extra=("deb $codename-backports")
[ "$codename" = trixie ] || extra+=("deb trixie-backports")
extra+=("deb-src sid")
{
	echo "# hmmdev's private apt sources (images/bootstrap.sh); the host's own follow"
	for e in "${extra[@]}"; do
		echo "${e% *} [signed-by=$key] $uri ${e#* } main"
	done
	# apt reads sources.list.d/ as well; a one-line host list must be copied
	grep -E '^[[:space:]]*deb(-src)?[[:space:]]' /etc/apt/sources.list 2>/dev/null || true
} >"$list.new"
if ! cmp -s "$list.new" "$list"; then
	mv "$list.new" "$list"
	rm -f "$HMMDEV_APT/updated"
else
	rm -f "$list.new"
fi

if [ -z "$(find "$HMMDEV_APT/updated" -mmin -1440 2>/dev/null)" ]; then
	log "updating the private apt index: the host's suites and $(printf '%s, ' "${extra[@]}" | sed 's/, $//')"
	if apt_private apt-get update -qq >/dev/null; then
		touch "$HMMDEV_APT/updated"
	elif ls "$HMMDEV_APT"/lists/*Sources* >/dev/null 2>&1; then
		log "warning: the private apt index could not be refreshed; using the one from before"
	else
		die "apt-get update of the private apt configuration failed ($HMMDEV_APT)"
	fi
fi

missing=()
for p in "${PKGS[@]}" "${MESON_PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
# meson must be >= 1.5 (QEMU's configure)
if dpkg-query -W -f='${Version}' meson >/dev/null 2>&1 &&
	! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson)" ge 1.5; then
	missing+=(meson)
fi
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	target=()
	# bookworm's own meson is 1.0: take backports' for meson and pycotap
	[ "$codename" = bookworm ] && target=(-t bookworm-backports)
	apt_private apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
	apt_private apt-get install -y -qq --no-install-recommends "${target[@]}" \
		"${MESON_PKGS[@]}" >/dev/null
fi
"$(dirname "$0")/fetch-sources.sh"
