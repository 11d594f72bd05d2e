# lib-chroot.sh - a throwaway Debian bookworm root for the system tests.
# Sourced after test-lib.sh. Provides:
#
#   chroot_setup_base   (a test) the cached minbase debootstrap tarball
#   chroot_enter        (a test) unpack it at $CH, mount proc, sys, dev and
#                       the shared apt cache, copy the host's apt sources
#   in_chroot CMD...    run CMD in $CH with a clean, noninteractive environment
#   install_kernel IMAGE HEADERS
#                       apt-get install both; the new release in ./new-K
#
# The base (a kernel build's toolchain and kbuildd's runtime libraries) is
# cached under $KBUILDD_TEST_CACHE (default ~/.cache/kbuildd-test), keyed by
# its package list and this file; the .debs apt downloads in the chroot are
# cached there too. The mirror is the host's own, read from its apt sources.
# Everything mounted under $TRASH is unmounted at exit, and $TRASH is removed
# only when nothing is left mounted under it.
# shellcheck shell=sh disable=SC2016

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (debootstrap, chroot, mount)"
	exit 0
fi

CACHE=${KBUILDD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbuildd-test}
CH=$TRASH/chroot
SUITE=bookworm
BASE_PKGS="make gcc libc6-dev kmod bc flex bison libelf-dev libssl-dev initramfs-tools zstd xz-utils \
libkmod2 libinih1 libssl3 liblzma5 libzstd1 libgit2-1.5 libcurl4 libarchive13 libjson-c5 libp11-3"
BASE_KEY=$({ echo "$SUITE minbase $BASE_PKGS"; cat "$TEST_DIRECTORY/lib-chroot.sh"; } |
	sha256sum | cut -c1-16)
BASE_TAR=$CACHE/debootstrap-$SUITE-$BASE_KEY.tar.zst
APT_CACHE=$CACHE/apt-archives-$SUITE
export CACHE CH BASE_TAR APT_CACHE

# The mount points under $TRASH, deepest first.
mounts_under_trash () {
	awk -v t="$TRASH" '$2 == t || index($2, t "/") == 1 { print $2 }' /proc/self/mounts |
		sort -r
}

umount_all () {
	for _ua_try in 1 2 3; do
		_ua_list=$(mounts_under_trash)
		[ -n "$_ua_list" ] || return 0
		for _ua_m in $_ua_list; do
			umount "$_ua_m" 2>/dev/null || umount -l "$_ua_m" 2>/dev/null || :
		done
	done
	[ -z "$(mounts_under_trash)" ]
}

system_cleanup () {
	if ! umount_all; then
		echo "# still mounted under $TRASH, not removing it:"
		mounts_under_trash | sed 's/^/#   /'
		KB_TEST_KEEP=1
	fi
	test_cleanup_trash_
}
trap 'system_cleanup' EXIT

in_chroot () {
	chroot "$CH" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C LC_ALL=C DEBIAN_FRONTEND=noninteractive \
		DEBCONF_NONINTERACTIVE_SEEN=true "$@"
}

# The host's Debian mirror for $SUITE (not the security archive), from its apt sources.
host_mirror () {
	{
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }'
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }'
	} | grep -v -e security -e '^cdrom:' | head -1
}

chroot_setup_base () {
	if ! [ -s "$BASE_TAR" ]; then
		if ! command -v debootstrap >/dev/null; then
			apt-get install -y debootstrap >apt-host.log 2>&1 ||
			{ apt-get update >>apt-host.log 2>&1 &&
			  apt-get install -y debootstrap >>apt-host.log 2>&1; } ||
			{ tail -20 apt-host.log; return 1; }
		fi
		mirror=$(host_mirror) &&
		test -n "$mirror" &&
		echo "mirror: $mirror" &&
		mkdir -p "$CACHE" &&
		rm -rf "$TRASH/base" &&
		debootstrap --variant=minbase --include="$(echo $BASE_PKGS | tr " " ,)" \
			"$SUITE" "$TRASH/base" "$mirror" >debootstrap.log 2>&1 ||
		{ tail -30 debootstrap.log; return 1; }
		rm -f "$TRASH"/base/var/cache/apt/archives/*.deb &&
		tar -C "$TRASH/base" --numeric-owner -cpf - . | zstd -q -T0 >"$BASE_TAR.tmp" &&
		mv "$BASE_TAR.tmp" "$BASE_TAR" &&
		rm -rf "$TRASH/base"
	fi &&
	test_path_is_file "$BASE_TAR"
}

chroot_enter () {
	mkdir -p "$CH" &&
	zstd -q -dc "$BASE_TAR" | tar -C "$CH" --numeric-owner -xpf - &&
	mount -t proc proc "$CH/proc" &&
	mount -t sysfs sysfs "$CH/sys" &&
	mount --bind /dev "$CH/dev" &&
	mkdir -p "$APT_CACHE/partial" &&
	mount --bind "$APT_CACHE" "$CH/var/cache/apt/archives" &&
	# the host apt sources (same mirror, with updates and security)
	rm -f "$CH/etc/apt/sources.list" &&
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		mkdir -p "$CH${f%/*}" && cp "$f" "$CH$f" || return 1
	done &&
	cp /etc/resolv.conf "$CH/etc/resolv.conf" &&
	printf "#!/bin/sh\nexit 101\n" >"$CH/usr/sbin/policy-rc.d" &&
	chmod 755 "$CH/usr/sbin/policy-rc.d" &&
	printf "APT::Install-Recommends \"false\";\nBinary::apt-get::APT::Keep-Downloaded-Packages \"true\";\n" \
		>"$CH/etc/apt/apt.conf.d/99kbuildd-test" &&
	{ in_chroot apt-get update >apt-update.log 2>&1 || { tail -20 apt-update.log; return 1; }; }
}

install_kernel () {
	(cd "$CH/lib/modules" 2>/dev/null && ls) | sort >before &&
	in_chroot apt-get install -y "$1" "$2" >apt-install.log 2>&1 ||
	{ tail -40 apt-install.log; return 1; }
	grep -i -e kbuildd -e "^I:" apt-install.log || :
	(cd "$CH/lib/modules" && ls) | sort >after &&
	comm -13 before after >new-K &&
	test "$(wc -l <new-K)" = 1 &&
	echo "new kernel: $(cat new-K)"
}
