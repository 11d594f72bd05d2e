#!/bin/sh
# Switching a machine from DKMS: `kbuildd import-dkms` reads DKMS's tree
# (laid out here as DKMS leaves it: source links, kernel-K-ARCH links, the
# installed copies and an archived in-tree module), registers each driver
# from its dkms.conf and installs what DKMS had installed, in its place.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib/dkms-tree.sh"

kb_root root
echo ID=debian >"$ROOT/etc/os-release"
K1=${KERNELS%% *}
ARCH=$(uname -m)
export K1 ARCH
D=$ROOT/var/lib/dkms

test_expect_success 'a machine with drivers registered and installed by DKMS' '
	dkms_tree "$ROOT/usr/src/kbt-imp-1.0" kbt_imp:1.0 &&
	printf "PACKAGE_NAME=kbt-imp\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_imp\nDEST_MODULE_LOCATION[0]=/kernel/drivers/misc\nAUTOINSTALL=yes\n" \
		>"$ROOT/usr/src/kbt-imp-1.0/dkms.conf" &&
	dkms_tree "$ROOT/usr/src/kbt-added-2.0" kbt_added &&
	printf "PACKAGE_NAME=kbt-added\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=kbt_added\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n" \
		>"$ROOT/usr/src/kbt-added-2.0/dkms.conf" &&
	mkdir -p "$D/kbt-imp/1.0/$K1/$ARCH/module" "$D/kbt-added/2.0" "$D/kbt-gone/3.0" &&
	ln -s /usr/src/kbt-imp-1.0 "$D/kbt-imp/1.0/source" &&
	ln -s /usr/src/kbt-added-2.0 "$D/kbt-added/2.0/source" &&
	ln -s /usr/src/kbt-gone-3.0 "$D/kbt-gone/3.0/source" &&
	ln -s "1.0/$K1/$ARCH" "$D/kbt-imp/kernel-$K1-$ARCH" &&
	mkdir -p "$ROOT/lib/modules/$K1/updates/dkms" &&
	echo "DKMS copy" >"$ROOT/lib/modules/$K1/updates/dkms/kbt_imp.ko" &&
	cp "$ROOT/lib/modules/$K1/updates/dkms/kbt_imp.ko" "$D/kbt-imp/1.0/$K1/$ARCH/module/" &&
	mkdir -p "$D/kbt-imp/original_module/$K1/$ARCH" &&
	echo "in-tree original" >"$D/kbt-imp/original_module/$K1/$ARCH/kbt_imp.ko" &&
	echo "/lib/modules/$K1/kernel/drivers/misc/kbt_imp.ko" \
		>"$D/kbt-imp/original_module/$K1/$ARCH/kbt_imp.ko.origin" &&
	touch "$D/mok.key" &&
	tree_snapshot "$D" >dkms-before
'

test_expect_success 'import-dkms takes them over and names the broken one' '
	test_expect_code 1 kb import-dkms >out 2>err &&
	test_grep "kbt-gone/3.0 is broken in DKMS.s tree: its source ./usr/src/kbt-gone-3.0. is missing" err &&
	test_grep "registered kbt-imp/1.0" out &&
	test_grep "registered kbt-added/2.0" out &&
	test_grep "kbt-imp/1.0 *$K1 *installed" out
'

test_expect_success 'the driver DKMS had installed is now kbuildd s build, in the same place' '
	f=$(ls "$ROOT/lib/modules/$K1/updates/dkms/kbt_imp.ko"*) &&
	modinfo -F version "$f" >v && test_grep "^1.0\$" v &&
	kb status >st && test_grep "kbt-imp" st
'

test_expect_success 'a driver DKMS only had registered is registered, not installed' '
	kb status --json >st && test_grep "kbt-added" st &&
	! ls "$ROOT/lib/modules/$K1/updates/dkms/kbt_added.ko"* 2>/dev/null
'

test_expect_success 'the in-tree module DKMS had moved aside is back, and ours still wins' '
	test_grep "in-tree original" "$ROOT/lib/modules/$K1/kernel/drivers/misc/kbt_imp.ko" &&
	modinfo -b "$ROOT" -k "$K1" -n kbt_imp >path &&
	test_grep "/updates/dkms/kbt_imp.ko" path
'

test_expect_success 'DKMS s tree is left exactly as it was' '
	tree_snapshot "$D" >dkms-after &&
	test_cmp dkms-before dkms-after
'

test_expect_success 'importing again changes nothing' '
	tree_snapshot "$ROOT/lib/modules" >mods-before &&
	test_expect_code 1 kb import-dkms >out 2>&1 &&
	tree_snapshot "$ROOT/lib/modules" >mods-after &&
	test_cmp mods-before mods-after
'

test_expect_success 'no DKMS tree is bad input' '
	test_expect_code 2 kb import-dkms /var/lib/nothing 2>err &&
	test_grep "no DKMS tree at ./var/lib/nothing. in the root" err
'

test_done
