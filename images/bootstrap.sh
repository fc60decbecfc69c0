#!/usr/bin/env bash
# Install everything hmmdev needs from Debian's archive (and nothing else).
#
# Idempotent: a second run on a prepared machine only checks.  Adds a
# bookworm-backports stanza (deb + deb-src) reusing the URI and Signed-By of
# the machine's own debian.sources, because QEMU 10.0.2's source and
# meson >= 1.5 live there.
set -euo pipefail

PKGS=(
	# QEMU build
	build-essential pkg-config ninja-build libglib2.0-dev libpixman-1-dev
	flex bison python3-venv zlib1g-dev libfdt-dev bzip2 xz-utils
	# guest kernel + module build
	bc libelf-dev libssl-dev cpio kmod linux-source-6.12
	# guest userland and firmware
	busybox-static seabios qemu-system-data
	# tools the scripts use
	dpkg-dev ca-certificates socat rsync
)
BACKPORTS_PKGS=(meson python3-pycotap)

sources=/etc/apt/sources.list.d/hmmdev-backports.sources
need_update=0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

if [ ! -f "$sources" ]; then
	base=/etc/apt/sources.list.d/debian.sources
	uri=$(awk '/^URIs:/ && !done { print $2; done=1 }' "$base" 2>/dev/null || true)
	key=$(awk '/^Signed-By:/ && !done { print $2; done=1 }' "$base" 2>/dev/null || true)
	if [ -z "$uri" ]; then
		# sources.list style machine
		uri=$(awk '$1 == "deb" && $0 ~ /bookworm/ { print $2; exit }' \
			/etc/apt/sources.list 2>/dev/null || true)
	fi
	[ -n "$uri" ] || { echo "bootstrap: cannot find the Debian archive URI in apt's sources" >&2; exit 1; }
	[ -n "$key" ] || key=/usr/share/keyrings/debian-archive-keyring.gpg
	echo "bootstrap: adding bookworm-backports and deb-src from $uri"
	$SUDO tee "$sources" >/dev/null <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: $key

Types: deb-src
URIs: $uri
Suites: bookworm bookworm-backports
Components: main
Signed-By: $key
SRC
	need_update=1
fi

missing=()
for p in "${PKGS[@]}" "${BACKPORTS_PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
# meson must be >= 1.5 (QEMU 10.0.2's configure)
if command -v meson >/dev/null && ! dpkg --compare-versions "$(meson --version)" ge 1.5; then
	missing+=(meson)
fi
# apt-get source needs fresh lists for deb-src
if [ ! -e /var/lib/apt/lists/partial ] || ! ls /var/lib/apt/lists/*bookworm-backports*Sources* >/dev/null 2>&1; then
	need_update=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $need_update -eq 0 ]; then
	echo "bootstrap: all packages present"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
	echo "bootstrap: installing ${missing[*]}"
	$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
	$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
		"${BACKPORTS_PKGS[@]}" >/dev/null
fi
echo "bootstrap: done"
