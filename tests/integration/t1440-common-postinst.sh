#!/bin/sh
# kbuildd's /usr/lib/dkms/common.postinst, as every *-dkms package's postinst
# (dh_dkms) runs it: `common.postinst NAME VERSION /usr/share/NAME-dkms "" $2`,
# and the prerm's pair `dkms status -m N -v V` / `dkms remove -m N -v V --all`.
# The script is the one make install-files installs, run on a fake root.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib/dkms-tree.sh"

kb_root root
echo ID=debian >"$ROOT/etc/os-release"
DEST=$TRASH/dest
POSTINST=$DEST/usr/lib/dkms/common.postinst
KBUILDD_ROOT=$ROOT
export DEST POSTINST KBUILDD_ROOT
# one kernel with no headers, beside the real ones
NOHDR=0.0.1-kbt-noheaders
mkdir -p "$ROOT/lib/modules/$NOHDR"
export NOHDR

# driver NAME VERSION [MAKE]: a dkms.conf driver in ROOT/usr/src/NAME-VERSION, as its package ships it
driver () {
	dkms_tree "$ROOT/usr/src/$1-$2" "$(echo "$1" | tr - _)" &&
	{
		echo "PACKAGE_NAME=$1"
		echo "PACKAGE_VERSION=$2"
		echo "BUILT_MODULE_NAME[0]=$(echo "$1" | tr - _)"
		echo "DEST_MODULE_LOCATION[0]=/updates/dkms"
		echo "AUTOINSTALL=yes"
		[ -z "${3-}" ] || echo "MAKE[0]=\"$3\""
	} >"$ROOT/usr/src/$1-$2/dkms.conf"
}

installed () {
	ls "$ROOT/lib/modules/$2/updates/dkms/$1.ko"* >/dev/null 2>&1
}

test_expect_success 'make install-files puts common.postinst in /usr/lib/dkms' '
	make -s -C "$TOP" install-files DESTDIR="$DEST" PREFIX=/usr BIN="$KBUILDD" DKMS_COMPAT=1 &&
	test -x "$POSTINST" &&
	test_grep "$DEST/usr/sbin/kbuildd\|/usr/sbin/kbuildd" "$POSTINST" &&
	test_grep -v "@SBINDIR@" "$POSTINST"
'

test_expect_success 'make install-files never replaces a common.postinst that is DKMS'"'"'s' '
	other=$TRASH/other && mkdir -p "$other/usr/lib/dkms" &&
	echo "# DKMS" >"$other/usr/lib/dkms/common.postinst" &&
	test_must_fail make -s -C "$TOP" install-files DESTDIR="$other" PREFIX=/usr \
		BIN="$KBUILDD" DKMS_COMPAT=1 2>err &&
	test_grep "common.postinst is DKMS" err &&
	test "$(cat "$other/usr/lib/dkms/common.postinst")" = "# DKMS" &&
	make -s -C "$TOP" uninstall DESTDIR="$other" PREFIX=/usr 2>/dev/null;
	test "$(cat "$other/usr/lib/dkms/common.postinst")" = "# DKMS"
'

test_expect_success 'no NAME or VERSION: DKMS says what it needs, status 1' '
	test_expect_code 1 env KBUILDD="$KBUILDD" "$POSTINST" >out &&
	test_grep "Need NAME, and VERSION defined" out &&
	test_grep "ARCH is optional" out &&
	test_expect_code 1 env KBUILDD="$KBUILDD" "$POSTINST" kbt-pi >out &&
	test_grep "Need NAME, and VERSION defined" out
'

test_expect_success 'first install: registered, built and installed for every kernel with headers' '
	driver kbt-pi 1.0 &&
	KBUILDD="$KBUILDD" "$POSTINST" kbt-pi 1.0 /usr/share/kbt-pi-dkms "" >out 2>err ||
	{ cat out err; exit 1; }
	cat out err &&
	test_grep "^Loading new kbt-pi-1.0 DKMS files...$" out &&
	test_grep "^Building for .*$NOHDR" out &&
	test_grep "Module build for kernel $NOHDR was skipped since the" out &&
	for k in $KERNELS; do
		installed kbt_pi "$k" || { echo "not installed for $k"; exit 1; }
		test_grep -v "Module build for kernel $k was" out || exit 1
	done &&
	"$KBUILDD" --root "$ROOT" dkms status -m kbt-pi -v 1.0 >status &&
	cat status &&
	test "$(grep -c ": installed" status)" = "$(echo $KERNELS | wc -w)"
'

test_expect_success 'the five arguments of an upgrade ($2 set): the same, in one kbuildd run' '
	driver kbt-pi2 2.0 &&
	KBUILDD="$KBUILDD" "$POSTINST" kbt-pi2 2.0 /usr/share/kbt-pi2-dkms "" 1.9 >out 2>&1 ||
	{ cat out; exit 1; }
	for k in $KERNELS; do installed kbt_pi2 "$k" || exit 1; done
'

test_expect_success 'installed again (a reinstall): the old files go first, then the same again' '
	ls "$ROOT"/lib/modules/*/updates/dkms/kbt_pi.ko* >before &&
	KBUILDD="$KBUILDD" "$POSTINST" kbt-pi 1.0 /usr/share/kbt-pi-dkms "" 1.0 >out 2>&1 ||
	{ cat out; exit 1; }
	test_grep "^Removing old kbt-pi-1.0 DKMS files...$" out &&
	test_grep "^Loading new kbt-pi-1.0 DKMS files...$" out &&
	ls "$ROOT"/lib/modules/*/updates/dkms/kbt_pi.ko* >after &&
	test_cmp before after
'

test_expect_success 'two arguments, and three: the same outcome' '
	driver kbt-pi2a 1.0 && driver kbt-pi3a 1.0 &&
	KBUILDD="$KBUILDD" "$POSTINST" kbt-pi2a 1.0 >out 2>&1 || { cat out; exit 1; }
	KBUILDD="$KBUILDD" "$POSTINST" kbt-pi3a 1.0 /usr/share/kbt-pi3a-dkms >>out 2>&1 ||
	{ cat out; exit 1; }
	for k in $KERNELS; do
		installed kbt_pi2a "$k" && installed kbt_pi3a "$k" || exit 1
	done &&
	"$KBUILDD" --root "$ROOT" remove kbt-pi2a/1.0 kbt-pi3a/1.0 --all >/dev/null
'

test_expect_success '"Building for" lists every kernel as DKMS does: "A, B and C"' '
	list= && last= &&
	for k in $(ls -v "$ROOT/lib/modules"); do
		[ -z "$last" ] || list="${list:+$list, }$last"
		last=$k
	done &&
	list="$list and $last" &&
	KBUILDD="$KBUILDD" "$POSTINST" kbt-pi 1.0 >out 2>&1 || { cat out; exit 1; }
	test_grep -x "Building for $list" out
'

test_expect_success 'a kernel BUILD_EXCLUSIVE rules out is said to be skipped' '
	driver kbt-piex 1.0 &&
	echo "BUILD_EXCLUSIVE_KERNEL_MIN=99" >>"$ROOT/usr/src/kbt-piex-1.0/dkms.conf" &&
	KBUILDD="$KBUILDD" "$POSTINST" kbt-piex 1.0 >out 2>&1 || { cat out; exit 1; }
	cat out &&
	for k in $KERNELS; do
		test_grep "^Module build for kernel $k: Skipped.$" out || exit 1
	done &&
	"$KBUILDD" --root "$ROOT" remove kbt-piex/1.0 --all >/dev/null
'

test_expect_success 'a driver that does not build: named, and the package installs (status 0)' '
	driver kbt-pibad 1.0 "false" &&
	KBUILDD="$KBUILDD" "$POSTINST" kbt-pibad 1.0 /usr/share/kbt-pibad-dkms "" >out 2>err ||
	{ cat out err; exit 1; }
	cat err &&
	test_grep "kbt-pibad/1.0" err &&
	test_grep "not every module could be made ready" err &&
	for k in $KERNELS; do ! installed kbt_pibad "$k" || exit 1; done
'

test_expect_success 'with [hooks] strict = yes it fails the package' '
	mkdir -p "$ROOT/etc/kbuildd" &&
	printf "[hooks]\nstrict = yes\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_must_fail env KBUILDD="$KBUILDD" "$POSTINST" kbt-pibad 1.0 /usr/share/kbt-pibad-dkms "" \
		>out 2>err &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_grep "kbt-pibad/1.0" err
'

test_expect_success 'a broken dkms.conf fails the package, whatever strict says' '
	driver kbt-piconf 1.0 &&
	# record 1 missing between 0 and 2, as DKMS refuses it
	echo "BUILT_MODULE_NAME[2]=other" >>"$ROOT/usr/src/kbt-piconf-1.0/dkms.conf" &&
	mkdir -p "$ROOT/etc/kbuildd" &&
	printf "[hooks]\nstrict = no\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_expect_code 8 env KBUILDD="$KBUILDD" "$POSTINST" kbt-piconf 1.0 "" "" >out 2>err &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf" &&
	cat out err &&
	test_grep "kbt-piconf-1.0/dkms.conf:.*module record 1 has no BUILT_MODULE_NAME" err &&
	test -z "$("$KBUILDD" --root "$ROOT" dkms status -m kbt-piconf)"
'

test_expect_success '/etc/dkms/no-autoinstall: nothing is done, status 0' '
	driver kbt-pinoauto 1.0 &&
	mkdir -p "$ROOT/etc/dkms" && : >"$ROOT/etc/dkms/no-autoinstall" &&
	KBUILDD="$KBUILDD" "$POSTINST" kbt-pinoauto 1.0 "" "" >out &&
	rm "$ROOT/etc/dkms/no-autoinstall" &&
	test_grep "^autoinstall for dkms modules has been disabled.$" out &&
	test -z "$("$KBUILDD" --root "$ROOT" dkms status -m kbt-pinoauto)"
'

test_expect_success 'a binaries-only DKMS tarball and no source: said plainly, status 2' '
	mkdir -p share && : >share/kbt-pitar-1.0.dkms.tar.gz &&
	test_expect_code 2 env KBUILDD="$KBUILDD" "$POSTINST" kbt-pitar 1.0 "$PWD/share" "" 2>err &&
	test_grep "Unable to load DKMS tarball .*kbt-pitar-1.0.dkms.tar.gz" err
'

test_expect_success 'the prerm: dkms status prints the driver, dkms remove --all takes it away' '
	test -n "$("$KBUILDD" --root "$ROOT" dkms status -m kbt-pi -v 1.0)" &&
	"$KBUILDD" --root "$ROOT" dkms remove -m kbt-pi -v 1.0 --all &&
	test -z "$("$KBUILDD" --root "$ROOT" dkms status -m kbt-pi -v 1.0)" &&
	! ls "$ROOT"/lib/modules/*/updates/dkms/kbt_pi.ko* 2>/dev/null &&
	"$KBUILDD" --root "$ROOT" status --check
'

test_done
