#!/bin/sh
# A real kernel upgrade, end to end, in a throwaway Debian bookworm root.
#
# Run (as root, from the top of the tree, after `make`):
#
#	KBUILDD=$PWD/build/kbuildd prove -v tests/system/t2000-kernel-upgrade.sh
#
# A minbase debootstrap with a kernel build's toolchain and kbuildd's runtime
# libraries is cached as a tarball under $KBUILDD_TEST_CACHE (default
# ~/.cache/kbuildd-test), keyed by its package list and this script's content;
# the .debs apt downloads in the chroot are cached there too. The mirror is
# the host's own, read from its apt sources. kbuildd and its hooks are put in
# the chroot with `make install-files`; a driver package registers hello with
# kbuildd-package before any kernel exists; then Debian's kernel packages are
# installed (and, if bookworm has it, the 6.12 kernel as the upgrade) and
# their own /etc/kernel hooks must build, sign and install hello, listed in
# modules.dep and in the initramfs. Removing a kernel image must remove
# kbuildd's files for it. proc, sys, dev and the apt cache are mounted in
# the chroot and always unmounted at exit; the scratch directory is removed
# only when nothing is left mounted under it.
# shellcheck disable=SC2016,SC2034
. "$(dirname "$0")/../integration/test-lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (debootstrap, chroot, mount)"
	exit 0
fi

CACHE=${KBUILDD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbuildd-test}
CH=$TRASH/chroot
SUITE=bookworm
BASE_PKGS="make gcc libc6-dev kmod bc flex bison libelf-dev libssl-dev initramfs-tools zstd xz-utils \
libkmod2 libinih1 libssl3 liblzma5 libzstd1 libgit2-1.5 libcurl4 libarchive13 libjson-c5"
BASE_KEY=$({ echo "$SUITE minbase $BASE_PKGS"; cat "$TEST_DIRECTORY/${0##*/}"; } | sha256sum | cut -c1-16)
BASE_TAR=$CACHE/debootstrap-$SUITE-$BASE_KEY.tar.zst
APT_CACHE=$CACHE/apt-archives-$SUITE
export CACHE CH BASE_TAR APT_CACHE

# --- mounts: always undone ----------------------------------------------

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

# in_chroot CMD...: run CMD in the chroot with a clean, noninteractive environment
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

# --- tests ----------------------------------------------------------------

test_expect_success 'setup: debootstrap base with the build toolchain (cached)' '
	if ! [ -s "$BASE_TAR" ]; then
		if ! command -v debootstrap >/dev/null; then
			apt-get install -y debootstrap >apt-host.log 2>&1 ||
			{ apt-get update >>apt-host.log 2>&1 &&
			  apt-get install -y debootstrap >>apt-host.log 2>&1; } ||
			{ tail -20 apt-host.log; exit 1; }
		fi
		mirror=$(host_mirror) &&
		test -n "$mirror" &&
		echo "mirror: $mirror" &&
		mkdir -p "$CACHE" &&
		rm -rf "$TRASH/base" &&
		debootstrap --variant=minbase --include="$(echo $BASE_PKGS | tr " " ,)" \
			"$SUITE" "$TRASH/base" "$mirror" >debootstrap.log 2>&1 ||
		{ tail -30 debootstrap.log; exit 1; }
		rm -f "$TRASH"/base/var/cache/apt/archives/*.deb &&
		tar -C "$TRASH/base" --numeric-owner -cpf - . | zstd -q -T0 >"$BASE_TAR.tmp" &&
		mv "$BASE_TAR.tmp" "$BASE_TAR" &&
		rm -rf "$TRASH/base"
	fi &&
	test_path_is_file "$BASE_TAR"
'

test_expect_success 'setup: unpack, mount, apt sources, kbuildd installed with make install-files' '
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
		mkdir -p "$CH${f%/*}" && cp "$f" "$CH$f" || exit 1
	done &&
	cp /etc/resolv.conf "$CH/etc/resolv.conf" &&
	printf "#!/bin/sh\nexit 101\n" >"$CH/usr/sbin/policy-rc.d" &&
	chmod 755 "$CH/usr/sbin/policy-rc.d" &&
	printf "APT::Install-Recommends \"false\";\nBinary::apt-get::APT::Keep-Downloaded-Packages \"true\";\n" \
		>"$CH/etc/apt/apt.conf.d/99kbuildd-test" &&
	in_chroot apt-get update >apt-update.log 2>&1 || { tail -20 apt-update.log; exit 1; }
	make -s -C "$TOP" install-files DESTDIR="$CH" PREFIX=/usr BIN="$KBUILDD" &&
	in_chroot /usr/sbin/kbuildd --version &&
	test_path_is_file "$CH/etc/kernel/postinst.d/50-kbuildd" &&
	test_path_is_file "$CH/etc/kernel/header_postinst.d/50-kbuildd" &&
	test_path_is_file "$CH/etc/kernel/prerm.d/50-kbuildd" &&
	! ls "$CH"/lib/modules/* >/dev/null 2>&1
'

test_expect_success 'a driver package registers hello before any kernel exists' '
	src=$CH/usr/src/hello-1.0.0 &&
	mkdir -p "$src" &&
	cp "$TOP"/examples/hello/* "$src/" &&
	printf "%s\n" "[recipe]" "name = hello" "version = 1.0.0" "" \
		"[source]" "path = ." "" "[module hello]" "path = hello.ko" "initramfs = yes" \
		>"$src/kbuildd.recipe" &&
	in_chroot /usr/bin/kbuildd-package configure /usr/src/hello-1.0.0 &&
	# registered (status lists per kernel, so with no kernel it shows no row)
	test_path_is_file "$CH/var/lib/kbuildd/recipes/hello/1.0.0/recipe" &&
	in_chroot /usr/sbin/kbuildd status &&
	! ls "$CH"/var/lib/kbuildd/installed/* >/dev/null 2>&1 &&
	in_chroot getent passwd kbuildd
'

# check_kernel K: hello built, signed, installed, in modules.dep and the initramfs for K
check_kernel () {
	_ck=$1
	ko=$(cd "$CH" && ls lib/modules/"$_ck"/updates/kbuildd/hello.ko*) &&
	echo "module: /$ko" &&
	signer=$(in_chroot modinfo -F signer "/$ko") &&
	echo "signer: $signer" &&
	test -n "$signer" &&
	test_grep "^updates/kbuildd/hello.ko[^:]*:" "$CH/lib/modules/$_ck/modules.dep" &&
	test_path_is_file "$CH/usr/share/initramfs-tools/modules.d/kbuildd-hello" &&
	test_path_is_file "$CH/boot/initrd.img-$_ck" &&
	in_chroot lsinitramfs "/boot/initrd.img-$_ck" >initrd.list &&
	test_grep "updates/kbuildd/hello.ko" initrd.list &&
	in_chroot /usr/sbin/kbuildd status >status &&
	cat status &&
	test_grep "^hello/1.0.0 *$_ck *installed" status
}

# install_kernel FLAVOUR-PACKAGE HEADERS-PACKAGE: print the new release(s) in ./new-K
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

test_expect_success 'apt-get install linux-image-amd64 linux-headers-amd64: the hooks run kbuildd' '
	install_kernel linux-image-amd64 linux-headers-amd64 &&
	cp new-K "$TRASH/K1" &&
	check_kernel "$(cat new-K)"
'
K1=$(cat "$TRASH/K1" 2>/dev/null)
[ -n "$K1" ] && test_set_prereq K1

if in_chroot apt-cache show linux-image-6.12-amd64 >/dev/null 2>&1 &&
	in_chroot apt-cache show linux-headers-6.12-amd64 >/dev/null 2>&1; then
	test_set_prereq K612
fi

test_expect_success K1,K612 'upgrade: apt-get install linux-image-6.12-amd64 and its headers' '
	install_kernel linux-image-6.12-amd64 linux-headers-6.12-amd64 &&
	cp new-K "$TRASH/K2" &&
	check_kernel "$(cat new-K)" &&
	check_kernel "$K1"
'
K2=$(cat "$TRASH/K2" 2>/dev/null)

test_expect_success K1 'apt-get remove the first kernel image: kbuildd removes its files for it' '
	in_chroot apt-get remove -y "linux-image-$K1" >apt-remove.log 2>&1 ||
	{ tail -40 apt-remove.log; exit 1; }
	! test -e "$CH/boot/vmlinuz-$K1" &&
	test_path_is_missing "$CH/lib/modules/$K1/updates/kbuildd" &&
	! ls "$CH"/lib/modules/$K1/updates/kbuildd/hello.ko* 2>/dev/null &&
	test_path_is_missing "$CH/var/lib/kbuildd/builds/hello/1.0.0/$K1" &&
	test_path_is_missing "$CH/var/lib/kbuildd/installed/$K1" &&
	in_chroot /usr/sbin/kbuildd status >status &&
	cat status &&
	# its headers stay installed, so K1 may still be listed, but not installed
	test_grep -v "$K1 *installed" status &&
	if [ -n "$K2" ]; then test_grep "^hello/1.0.0 *$K2 *installed" status; fi &&
	in_chroot /usr/sbin/kbuildd status --check
'

test_expect_success 'cleanup: nothing stays mounted under the scratch directory' '
	umount_all &&
	test -z "$(mounts_under_trash)"
'

test_done
