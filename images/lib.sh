# shellcheck shell=bash
# Common settings for the hmmdev build scripts.  Sourced, not run.
#
# Everything downloaded or built lives under $HMMDEV_CACHE, outside the clone,
# in directories keyed by the version and a hash of the recipe that made
# them, so a fresh clone reuses them and an edit to the device or the driver
# only rebuilds what changed.

HMMDEV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HMMDEV_CACHE=${HMMDEV_CACHE:-/var/cache/hmmdev}
JOBS=${JOBS:-$(nproc)}

QEMU_VERSION=10.2.2
QEMU_ORIG=qemu_${QEMU_VERSION}+ds.orig.tar.xz
# Guest kernels, from Debian's linux-source-SERIES packages; the first is
# the default.
KERNELS=(7.3 6.12)
DEFAULT_KERNEL=${KERNELS[0]}

# A private apt configuration: its own sources list and lists directory
# (images/bootstrap.sh writes them), so the suites the host does not track
# (backports, sid's source index) never enter the host's own apt.
HMMDEV_APT=$HMMDEV_CACHE/apt
apt_private() { # apt-get|apt-cache ARGS...
	local tool=$1
	shift
	"$tool" -o Dir::Etc::SourceList="$HMMDEV_APT/sources.list" \
		-o Dir::State::Lists="$HMMDEV_APT/lists" \
		-o Dir::Cache="$HMMDEV_APT/cache" "$@"
}

# host_uri: the URI of the host's Debian archive (deb822 or one-line
# style), not its security archive
host_uri() {
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -f "$f" ]; then
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
	else
		awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list 2>/dev/null
	fi
}

log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# check_kernel SERIES: die with the choices unless SERIES is one of ours
check_kernel() {
	local k
	for k in "${KERNELS[@]}"; do [ "$1" = "$k" ] && return 0; done
	die "unknown kernel '$1' (choices: ${KERNELS[*]}; default $DEFAULT_KERNEL)"
}

# short_hash STRING...: 12 hex digits identifying a recipe
short_hash() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }

# sync_file SRC DST: copy only when the content differs, so that mtimes (and
# with them ninja/make's idea of what is stale) move only on real edits.
sync_file() {
	if ! cmp -s "$1" "$2"; then
		mkdir -p "$(dirname "$2")"
		cp "$1" "$2"
	fi
}

# progress LABEL TOTAL MEASURE LOG CMD...: run CMD with its output in LOG
# and show how far it got.  MEASURE LOG prints "DONE [TOTAL]" (a TOTAL it
# finds, e.g. ninja's, replaces the estimate).  On a terminal: one updating
# line; otherwise (logs, CI) a plain line at every tenth and every minute.
# The status is CMD's.
progress() {
	local label=$1 total=$2 measure=$3 logf=$4
	shift 4
	local t0=$SECONDS pid rc=0 d t el left pct shown=-1 last=0 line
	"$@" >"$logf" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.5
		read -r d t < <("$measure" "$logf" 2>/dev/null) || true
		d=${d:-0} t=${t:-$total}
		[ "$d" -le "$t" ] || t=$d
		el=$((SECONDS - t0))
		if [ "$d" -gt 0 ] && [ "$t" -gt 0 ]; then
			pct=$((100 * d / t))
			left=$((el * (t - d) / d))
			line=$(printf '%s: %d/%d (%d%%), %d s so far, about %d s left' \
				"$label" "$d" "$t" "$pct" "$el" "$left")
		else
			pct=0
			line=$(printf '%s: %d s so far' "$label" "$el")
		fi
		if [ -t 2 ]; then
			printf '\r\033[K[%s] %s' "${0##*/}" "$line" >&2
		elif [ $((pct / 10)) -gt "$shown" ] || [ $((el - last)) -ge 60 ]; then
			shown=$((pct / 10)) last=$el
			log "$line"
		fi
	done
	wait "$pid" || rc=$?
	[ -t 2 ] && printf '\r\033[K' >&2
	log "$label: $([ $rc -eq 0 ] && echo done || echo "failed ($rc)") in $((SECONDS - t0)) s"
	return $rc
}

# --enable-tpm: tpm-crb maps a ram_device page (its PPI), which the
# qtests use as a DMA target that is RAM but not directly accessible.
qemu_configure_flags() {
	printf '%s\n' --target-list=x86_64-softmmu --without-default-features \
		--disable-docs --disable-install-blobs --python=/usr/bin/python3 \
		--enable-tpm "$@"
}

# Paths of the products, for the scripts that use them.
# The qtests of qemu-device/tests/, by name: they are wired into the tree.
qemu_qtests() {
	local f
	for f in "$HMMDEV_TOP"/qemu-device/tests/*.c; do basename "${f%.c}"; done
}
# qemu_variant_flags VARIANT: configure flags of a sanitizer variant of QEMU
# (asan: ASan+UBSan with gcc; tsan: ThreadSanitizer with Debian's clang)
qemu_variant_flags() {
	case "${1:-}" in
	asan) printf '%s\n' --enable-asan --enable-ubsan ;;
	tsan) printf '%s\n' --enable-tsan --cc=clang --cxx=clang++ --disable-werror ;;
	esac
}
qemu_tree() { # [asan|tsan]
	local flags
	flags=$(qemu_configure_flags $(qemu_variant_flags "${1:-}"))
	echo "$HMMDEV_CACHE/qemu-$QEMU_VERSION${1:+-$1}-$(short_hash "$flags" wiring-v3 $(qemu_qtests))"
}
qemu_binary() { echo "$HMMDEV_CACHE/qemu-current/build/qemu-system-x86_64"; }
# The timeline merge tool (images/timeline/, built by images/build.sh).
timeline_tool() { echo "$HMMDEV_CACHE/bin/hmmdev-timeline"; }
# The device's protocol trace events (those with the device's clock): the
# ones run-vm.sh --timeline enables.
timeline_device_events() {
	sed -n 's/^\(hmmdev_[a-z_]*\)(const char \*dev, uint64_t ts.*/\1/p' \
		"$HMMDEV_TOP/qemu-device/trace-events"
}

# Kernel sources: images/fetch-sources.sh records the version it fetched
# and checked, and unpacks the package's tarball here.
kernel_dl_dir() { echo "$HMMDEV_CACHE/dl/linux-source-$1"; }
kernel_version() { cat "$(kernel_dl_dir "$1")/version" 2>/dev/null; }
kernel_tarball() { echo "$(kernel_dl_dir "$1")/linux-source-$1.tar.xz"; }
# A kernel flavour adds images/kernel-FLAVOUR.config: "sanitize" (KASAN,
# KFENCE, UBSAN, kmemleak), built for SANITIZE_KERNELS by default.
FLAVOURS=(sanitize)
SANITIZE_KERNELS=(7.3)
check_flavour() { # [FLAVOUR]
	local f
	[ -z "$1" ] && return 0
	for f in "${FLAVOURS[@]}"; do [ "$1" = "$f" ] && return 0; done
	die "unknown kernel flavour '$1' (choices: ${FLAVOURS[*]})"
}
kernel_tree() { # SERIES [FLAVOUR]
	local ver
	ver=$(kernel_version "$1")
	[ -n "$ver" ] || ver=unfetched
	echo "$HMMDEV_CACHE/linux-$ver${2:+-$2}-$(short_hash "$ver" "$(cat $(kernel_fragments "$1" "${2:-}"))")"
}
# kernel_fragments SERIES [FLAVOUR]: the config fragments, common one first
kernel_fragments() {
	echo "$HMMDEV_TOP/images/kernel.config"
	[ ! -f "$HMMDEV_TOP/images/kernel-$1.config" ] || echo "$HMMDEV_TOP/images/kernel-$1.config"
	[ -z "${2:-}" ] || echo "$HMMDEV_TOP/images/kernel-$2.config"
}
guest_dir() { echo "$HMMDEV_CACHE/guest-$1${2:+-$2}"; } # SERIES [FLAVOUR]

# qmp SOCKET COMMAND-JSON...: run QMP commands, print the answers
qmp() {
	local sock=$1
	shift
	printf '%s\n' '{"execute":"qmp_capabilities"}' "$@" |
		socat -t 2 - "UNIX-CONNECT:$sock" 2>/dev/null
}
