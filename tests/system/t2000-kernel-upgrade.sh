#!/bin/sh
# A real kernel upgrade, end to end, in a throwaway Debian bookworm root.
#
# Run (as root, from the top of the tree, after `make`):
#
#	KBUILDD=$PWD/build/kbuildd prove -v tests/system/t2000-kernel-upgrade.sh
#
# A minbase debootstrap with a kernel build's toolchain and kbuildd's runtime
# libraries is cached as a tarball under $KBUILDD_TEST_CACHE (default
# ~/.cache/kbuildd-test), keyed by its package list and lib-chroot.sh;
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

. "$TEST_DIRECTORY/lib-chroot.sh"

# --- tests ----------------------------------------------------------------

test_expect_success 'setup: debootstrap base with the build toolchain (cached)' '
	chroot_setup_base
'

test_expect_success 'setup: unpack, mount, apt sources, kbuildd installed with make install-files' '
	chroot_enter &&
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
