#!/bin/sh
# kbuildd's Debian package in place of dkms, end to end, in a throwaway
# bookworm root (tests/system/lib-chroot.sh) with Debian's own *-dkms
# packages from the mirror, unchanged:
#
#   - Debian's dkms builds v4l2loopback-dkms and acpi-call-dkms for the 6.1
#     kernel; `apt-get install ./kbuildd_*.deb` replaces dkms and takes both
#     over with no compiler able to run (import-dkms takes DKMS's builds:
#     the installed files stay as they are), and DKMS's tree stays as it was;
#   - v4l2loopback-dkms purged and installed again goes through kbuildd
#     (apt-get install timed under both, printed as a ratio);
#   - the 6.12 kernel is built for through kbuildd's hooks, and a driver
#     that fails there, or fails everywhere, does not fail apt-get, except
#     with [hooks] strict = yes;
#   - back to Debian's dkms: kbuildd removed, the modules stay and dkms
#     finds its tree as it left it; purging kbuildd then removes what
#     kbuildd installed.
#
# Run (as root, from the top of the tree, after `make deb`):
#
#	prove -v tests/system/t2100-debian-package.sh
#
# The package is $KB_DEB, else build/deb/kbuildd_*.deb.
# shellcheck disable=SC2016,SC2034
. "$(dirname "$0")/../integration/test-lib.sh"

. "$TEST_DIRECTORY/lib-chroot.sh"

DEB=${KB_DEB:-$(ls "$TOP"/build/deb/kbuildd_*.deb 2>/dev/null | grep -v dbgsym | head -n1)}
export DEB
[ -f "$DEB" ] && test_set_prereq DEB

DRIVERS="v4l2loopback-dkms acpi-call-dkms librem-ec-acpi-dkms"
export DRIVERS

# state PKG: dpkg's status of PKG ("install ok installed", "deinstall ok config-files", ...)
state () {
	in_chroot dpkg-query -W -f='${Status}' "$1" 2>/dev/null || echo "not-installed"
}

# module K NAME: the installed file of module NAME for kernel K (below the chroot)
module () {
	(cd "$CH" && ls lib/modules/"$1"/updates/dkms/"$2".ko* 2>/dev/null)
}

# identity FILE...: inode, size and sha256 of each file below the chroot
identity () {
	for _f; do
		printf "%s %s %s\n" "$_f" "$(stat -c "%i %s" "$CH/$_f")" \
			"$(sha256sum <"$CH/$_f" | cut -d" " -f1)"
	done
}

# timed NAME CMD...: run CMD, its seconds in ./time-NAME
timed () {
	_t_name=$1
	shift
	_t0=$(date +%s.%N)
	"$@"
	_t_rc=$?
	echo "$(date +%s.%N) - $_t0" | bc >"$TRASH/time-$_t_name"
	return $_t_rc
}

dkms_snapshot () {
	(cd "$CH/var/lib/dkms" && find . -printf "%p %y %m %s %l\n" | sort) >"$1"
}

test_expect_success DEB 'setup: debootstrap base (cached), the chroot, the 6.1 kernel and its headers' '
	chroot_setup_base &&
	chroot_enter &&
	cp "$DEB" "$CH/tmp/" &&
	# downloaded first, so that the timed installs compare builds, not downloads
	in_chroot apt-get install -y --download-only dkms openssl $DRIVERS >apt-dl.log 2>&1 ||
	{ tail -20 apt-dl.log; exit 1; }
	install_kernel linux-image-amd64 linux-headers-amd64 &&
	cp new-K "$TRASH/K1"
'
K1=$(cat "$TRASH/K1" 2>/dev/null)
export K1
[ -n "$K1" ] && test_set_prereq K1

test_expect_success K1 'Debian dkms builds, signs and installs v4l2loopback-dkms and acpi-call-dkms' '
	# with openssl, DKMS makes its mok.key and signs, as on a Secure Boot machine
	in_chroot apt-get install -y dkms openssl >apt.log 2>&1 || { tail -20 apt.log; exit 1; }
	timed dkms in_chroot apt-get install -y v4l2loopback-dkms >apt.log 2>&1 ||
	{ tail -30 apt.log; exit 1; }
	in_chroot apt-get install -y acpi-call-dkms >>apt.log 2>&1 || { tail -30 apt.log; exit 1; }
	in_chroot dkms status | tee dkms-status &&
	test_grep "^v4l2loopback/.*, $K1, .*: installed" dkms-status &&
	test_grep "^acpi-call/.*, $K1, .*: installed" dkms-status &&
	{ module "$K1" v4l2loopback && module "$K1" acpi_call; } >"$TRASH/mods" &&
	identity $(cat "$TRASH/mods") >"$TRASH/mods-by-dkms" &&
	modinfo -F signer "$CH/$(module "$K1" acpi_call)" >signer &&
	test_grep "DKMS module signing key" signer &&
	dkms_snapshot "$TRASH/dkms-tree"
'

test_expect_success K1 'apt-get install ./kbuildd.deb replaces dkms and takes both over, compiling nothing' '
	# no compiler can run: the switch-over must take the builds DKMS made as they are
	cc=$(readlink -f "$CH/usr/bin/gcc") &&
	case $cc in "$CH"/*) ;; *) echo "gcc leads out of the chroot: $cc"; exit 1 ;; esac &&
	chmod 0 "$cc" &&
	in_chroot apt-get install -y /tmp/"${DEB##*/}" >apt.log 2>&1
	rc=$? && chmod 0755 "$cc" &&
	{ test $rc = 0 || { tail -40 apt.log; exit 1; }; } &&
	cat apt.log | grep -i -e kbuildd -e dkms -e import &&
	test "$(state dkms)" != "install ok installed" &&
	test "$(state kbuildd)" = "install ok installed" &&
	in_chroot dpkg -S /usr/sbin/dkms | grep "^kbuildd:" &&
	test_grep "v4l2loopback/.* for $K1: DKMS.s build taken over, nothing compiled" apt.log &&
	test_grep "acpi-call/.* for $K1: DKMS.s build taken over, nothing compiled" apt.log &&
	# the very files DKMS installed: same inode, same bytes
	identity $(cat "$TRASH/mods") >now && test_cmp "$TRASH/mods-by-dkms" now &&
	in_chroot kbuildd status | tee status &&
	test_grep "^v4l2loopback/.* $K1 *installed (taken from DKMS.s build" status &&
	test_grep "^acpi-call/.* $K1 *installed (taken from DKMS.s build" status &&
	in_chroot kbuildd status --check &&
	dkms_snapshot now && test_cmp "$TRASH/dkms-tree" now &&
	in_chroot kbuildd rebuild --all >rebuild 2>&1 &&
	cat rebuild &&
	! grep -q "building" rebuild
'

test_expect_success K1 'apt-get purge v4l2loopback-dkms: its prerm removes it through kbuildd' '
	in_chroot apt-get purge -y v4l2loopback-dkms >apt.log 2>&1 || { tail -30 apt.log; exit 1; }
	test -z "$(module "$K1" v4l2loopback)" &&
	in_chroot kbuildd status >status &&
	test_grep ! "^v4l2loopback/" status &&
	in_chroot kbuildd status --check
'

test_expect_success K1 'apt-get install v4l2loopback-dkms: built, signed and installed by kbuildd' '
	timed kbuildd in_chroot apt-get install -y v4l2loopback-dkms >apt.log 2>&1 ||
	{ tail -30 apt.log; exit 1; }
	grep -i -e kbuildd -e building apt.log || :
	test "$(state dkms)" != "install ok installed" &&
	ko=$(module "$K1" v4l2loopback) && test -n "$ko" &&
	in_chroot modinfo -F signer "/$ko" >signer && test -s signer &&
	test_grep "^updates/dkms/v4l2loopback.ko[^:]*:" "$CH/lib/modules/$K1/modules.dep" &&
	in_chroot kbuildd status | tee status &&
	test_grep "^v4l2loopback/.* $K1 *installed" status &&
	d=$(cat "$TRASH/time-dkms") k=$(cat "$TRASH/time-kbuildd") &&
	printf "# apt-get install v4l2loopback-dkms: dkms %.1f s, kbuildd %.1f s, ratio %.2f\n" \
		"$d" "$k" "$(echo "$d / $k" | bc -l)"
'

if in_chroot apt-cache show linux-image-6.12-amd64 >/dev/null 2>&1 &&
	in_chroot apt-cache show linux-headers-6.12-amd64 >/dev/null 2>&1; then
	test_set_prereq K612
fi

test_expect_success K1,K612 'the 6.12 kernel: built for by the hooks; v4l2loopback fails there, apt-get does not' '
	install_kernel linux-image-6.12-amd64 linux-headers-6.12-amd64 &&
	K2=$(cat new-K) &&
	cat apt-install.log | grep -e v4l2loopback -e acpi-call &&
	test_grep "v4l2loopback.*$K2" apt-install.log &&
	test -n "$(module "$K2" acpi_call)" &&
	test -z "$(module "$K2" v4l2loopback)" &&
	in_chroot kbuildd status | tee status &&
	test_grep "^acpi-call/.* $K2 *installed" status &&
	test_grep "^v4l2loopback/.* $K2 *failed" status
'

test_expect_success K1 'a driver that fails to build: apt-get install exits 0 and names it' '
	in_chroot apt-get install -y librem-ec-acpi-dkms >apt.log 2>&1 || { tail -30 apt.log; exit 1; }
	test_grep "librem" apt.log &&
	test "$(state librem-ec-acpi-dkms)" = "install ok installed" &&
	in_chroot apt-get purge -y librem-ec-acpi-dkms >apt.log 2>&1 || { tail -30 apt.log; exit 1; }
'

test_expect_success K1 'with [hooks] strict = yes it fails apt-get install' '
	conf=$CH/etc/kbuildd/kbuildd.conf &&
	cp "$conf" conf.saved &&
	sed -i "s/^; strict = no$/strict = yes/" "$conf" &&
	test_grep "^strict = yes" "$conf" &&
	! in_chroot apt-get install -y librem-ec-acpi-dkms >apt.log 2>&1 &&
	tail -5 apt.log &&
	test "$(state librem-ec-acpi-dkms)" != "install ok installed" &&
	cp conf.saved "$conf" &&
	in_chroot dpkg --configure -a >dpkg.log 2>&1 || { tail -20 dpkg.log; exit 1; }
	in_chroot apt-get purge -y librem-ec-acpi-dkms >apt.log 2>&1 || { tail -30 apt.log; exit 1; }
'

test_expect_success K1 'apt-get purge v4l2loopback-dkms: gone, and kbuildd status --check is clean' '
	in_chroot apt-get purge -y v4l2loopback-dkms >apt.log 2>&1 || { tail -30 apt.log; exit 1; }
	! ls "$CH"/lib/modules/*/updates/dkms/v4l2loopback.ko* 2>/dev/null &&
	in_chroot kbuildd status --check
'

test_expect_success K1 'back to Debian dkms: kbuildd is removed, not purged; the modules and DKMS tree stay' '
	ko=$(module "$K1" acpi_call) &&
	identity "$ko" >before &&
	in_chroot apt-get install -y dkms >apt.log 2>&1 || { tail -30 apt.log; exit 1; }
	test "$(state kbuildd)" = "deinstall ok config-files" &&
	identity "$ko" >after && test_cmp before after &&
	dkms_snapshot now && test_cmp "$TRASH/dkms-tree" now &&
	in_chroot dkms status | tee dkms-status &&
	test_grep "^acpi-call/.*, $K1, .*: installed" dkms-status
'

test_expect_success K1,K612 'dpkg --purge kbuildd removes what kbuildd installed, and keeps the keys' '
	K2=$(ls "$CH/lib/modules" | grep "^6\.12") &&
	test -n "$(module "$K1" acpi_call)" && test -n "$(module "$K2" acpi_call)" &&
	in_chroot dpkg --purge kbuildd >purge.log 2>&1 || { cat purge.log; exit 1; }
	cat purge.log &&
	test "$(state kbuildd)" = "not-installed" &&
	# 6.1 has the copy DKMS built, taken over: it stays for DKMS; 6.12 has the one kbuildd built
	identity "$(module "$K1" acpi_call)" >k1 && grep -q acpi_call "$TRASH/mods-by-dkms" &&
	grep acpi_call "$TRASH/mods-by-dkms" | cut -d" " -f1,3,4 >expect &&
	cut -d" " -f1,3,4 k1 >got && test_cmp expect got &&
	test -z "$(module "$K2" acpi_call)" &&
	test_grep ! acpi_call "$CH/lib/modules/$K2/modules.dep" &&
	dkms_snapshot now && test_cmp "$TRASH/dkms-tree" now &&
	# kbuildd signed with the mok.key of DKMS, which stays; a key of its own would stay too
	test_path_is_file "$CH/var/lib/dkms/mok.key" &&
	! ls "$CH/var/lib/kbuildd" 2>/dev/null | grep -v "^keys$"
'

test_expect_success 'cleanup: nothing stays mounted under the scratch directory' '
	umount_all &&
	test -z "$(mounts_under_trash)"
'

test_done
