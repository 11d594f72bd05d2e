#!/bin/sh
# dkms.conf read as DKMS reads it, from the side of a vendor who ships one:
# the scenarios of DKMS's own test suite that concern building from a conf
# (add/build/install/remove, BUILD_DEPENDS, failing and excluded modules,
# patches, the six scripts, malformed confs, several versions, unversioned
# modules, CRLF, the original-module case), with kbuildd's own messages.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib/dkms-tree.sh"

kb_root root
echo ID=debian >"$ROOT/etc/os-release"
K1=${KERNELS%% *}
export K1

# the installed file of module $2 for kernel $1, whatever its compression
modfile () {
	ls "$ROOT/lib/modules/$1/updates/dkms/$2".ko* 2>/dev/null
}

# --- add, build, install, remove ---------------------------------------

test_expect_success 'a DKMS tree registers from its dkms.conf' '
	dkms_tree basic-1.0 kbt_basic:1.0 &&
	cat >basic-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME="kbt-basic"
	PACKAGE_VERSION="1.0"
	BUILT_MODULE_NAME[0]="kbt_basic"
	DEST_MODULE_LOCATION[0]="/kernel/extra"
	AUTOINSTALL="yes"
	EOF
	kb keys generate >/dev/null &&
	tree_snapshot "$ROOT" | grep -v " var/lib/kbuildd/lock " >before &&
	kb add basic-1.0 >out &&
	test_grep "registered kbt-basic/1.0" out &&
	kb add basic-1.0/dkms.conf >out 2>&1 &&
	test_grep "already registered" out
'

test_expect_success 'rebuild builds it with the default kbuild command and installs it where DKMS would' '
	kb rebuild -k "$K1" >out &&
	test_grep "kbt-basic/1.0 *$K1 *installed" out &&
	log="$ROOT/var/lib/kbuildd/builds/kbt-basic/1.0/$K1.log" &&
	test_grep "^# make KERNELRELEASE=$K1 -C .*/lib/modules/$K1/build M=.*/dkms/kbt-basic/1.0/build\$" "$log" &&
	f=$(modfile "$K1" kbt_basic) && test -n "$f" &&
	modinfo -F version "$f" >v && test_grep "^1.0\$" v &&
	grep -q "updates/dkms/kbt_basic.ko" "$ROOT/lib/modules/$K1/modules.dep"
'

test_expect_success 'the module is stripped of debug info, as DKMS strips it' '
	f=$(modfile "$K1" kbt_basic) &&
	case $f in *.xz) xz -dc "$f" >m.ko ;; *.zst) zstd -qdc "$f" >m.ko ;; *) cp "$f" m.ko ;; esac &&
	! readelf -S m.ko | grep -q "\.debug_info"
'

test_expect_success 'remove --all gives back the root as it was before the add' '
	kb remove kbt-basic/1.0 --all &&
	tree_snapshot "$ROOT" | grep -v " var/lib/kbuildd/lock " >after &&
	test_cmp before after
'

test_expect_success 'the install location follows the distribution, as with DKMS' '
	echo ID=fedora >"$ROOT/etc/os-release" &&
	kb add basic-1.0 && kb install kbt-basic -k "$K1" &&
	ls "$ROOT/lib/modules/$K1/extra/kbt_basic.ko"* &&
	kb remove kbt-basic/1.0 --all &&
	rm "$ROOT/etc/os-release" &&
	kb add basic-1.0 && kb install kbt-basic -k "$K1" &&
	ls "$ROOT/lib/modules/$K1/kernel/extra/kbt_basic.ko"* &&
	kb remove kbt-basic/1.0 --all &&
	echo ID=debian >"$ROOT/etc/os-release"
'

test_expect_success 'BUILT_MODULE_LOCATION, DEST_MODULE_NAME and a quoted make command are honoured' '
	dkms_tree loc-1.0 &&
	dkms_tree loc-1.0/src kbt_inner &&
	cat >loc-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-loc
	PACKAGE_VERSION=1.0
	MAKE="'"'"'make'"'"' -C $kernel_source_dir M=$dkms_tree/$PACKAGE_NAME/$PACKAGE_VERSION/build/src"
	BUILT_MODULE_NAME=kbt_inner
	BUILT_MODULE_LOCATION=src
	DEST_MODULE_NAME=kbt_renamed
	DEST_MODULE_LOCATION=/updates
	EOF
	kb add loc-1.0 && kb install kbt-loc -k "$K1" &&
	test -n "$(modfile "$K1" kbt_renamed)" &&
	test_grep "^# .make. -C " "$ROOT/var/lib/kbuildd/builds/kbt-loc/1.0/$K1.log" &&
	! test_grep "KERNELRELEASE" "$ROOT/var/lib/kbuildd/builds/kbt-loc/1.0/$K1.log" &&
	kb remove kbt-loc/1.0 --all
'

# --- what the conf sees, and what it is ---------------------------------

test_expect_success 'the conf is bash, evaluated per kernel with what DKMS provides' '
	dkms_tree code-1.0 kbt_code &&
	cat >code-1.0/dkms.conf <<-\EOF &&
	. "$kernel_source_dir/.config"
	PACKAGE_NAME=kbt-code
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_code
	DEST_MODULE_LOCATION[0]=/updates
	if [[ $kernelver == 6.1.* ]]; then series=old; else series=new; fi
	[ "$CONFIG_MODULES" = y ] && MAKE[0]="make -C $kernel_source_dir M=$dkms_tree/$module/$module_version/build KBT_SERIES=$series-$arch"
	AUTOINSTALL=yes
	echo "noise on stdout"; echo "noise on stderr" >&2
	EOF
	kb add code-1.0 >out 2>err &&
	! test_grep noise out &&
	kb rebuild --all >out &&
	! test_grep noise out &&
	for k in $KERNELS; do
		case $k in 6.1.*) s=old ;; *) s=new ;; esac
		test_grep "KBT_SERIES=$s-x86_64" "$ROOT/var/lib/kbuildd/builds/kbt-code/1.0/$k.log" || exit 1
	done &&
	kb remove kbt-code/1.0 --all
'

test_expect_success 'a CRLF dkms.conf works, and the built name may differ from the package' '
	dkms_tree crlf-1.0 kbt_dos &&
	printf "PACKAGE_NAME=\"kbt-crlf\"\r\nPACKAGE_VERSION=\"1.0\"\r\nBUILT_MODULE_NAME[0]=\"kbt_dos\"\r\nDEST_MODULE_LOCATION[0]=\"/updates\"\r\nAUTOINSTALL=\"yes\"\r\n" >crlf-1.0/dkms.conf &&
	kb add crlf-1.0 >out && test_grep "registered kbt-crlf/1.0" out &&
	kb install kbt-crlf -k "$K1" && test -n "$(modfile "$K1" kbt_dos)" &&
	kb remove kbt-crlf/1.0 --all
'

test_expect_success 'directives kbuildd does not act on, and unknown ones, are named' '
	dkms_tree depr-1.0 kbt_depr &&
	cat >depr-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-depr
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_depr
	DEST_MODULE_LOCATION[0]=/updates
	CLEAN="make clean"
	NO_WEAK_MODULES=yes
	LOAD_AT_BOOT=no
	helper=lowercase-is-fine
	EOF
	kb add depr-1.0 2>err &&
	test_grep "NO_WEAK_MODULES is not used by kbuildd" err &&
	test_grep "CLEAN is not run" err &&
	test_grep "LOAD_AT_BOOT is not a DKMS directive" err &&
	! test_grep helper err &&
	kb remove kbt-depr/1.0 --all
'

test_expect_success 'REMAKE_INITRD=yes puts the module in the initramfs (DKMS dropped it)' '
	dkms_tree initrd-1.0 kbt_initrd &&
	cat >initrd-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-initrd
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_initrd
	DEST_MODULE_LOCATION[0]=/updates
	REMAKE_INITRD=yes
	EOF
	kb add initrd-1.0 &&
	kb --no-initramfs install kbt-initrd -k "$K1" &&
	test_grep "^kbt_initrd\$" "$ROOT/usr/share/initramfs-tools/modules.d/kbuildd-kbt-initrd" &&
	kb remove kbt-initrd/1.0 --all
'

# --- malformed confs: exit 2, a file:line, nothing registered -----------

conf_error () {
	dir=$1
	shift
	tree_snapshot "$ROOT" >pre &&
	test_expect_code 2 kb add "$dir" 2>err &&
	for want in "$@"; do
		test_grep "$want" err || return 1
	done &&
	tree_snapshot "$ROOT" >post &&
	test_cmp pre post
}

test_expect_success 'an empty dkms.conf names both missing directives' '
	mkdir empty && : >empty/dkms.conf &&
	conf_error empty "empty/dkms.conf: PACKAGE_NAME is not set" \
		"empty/dkms.conf: PACKAGE_VERSION is not set"
'

test_expect_success 'bad module records are reported with their line' '
	dkms_tree invalid kbt_x &&
	cat >invalid/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-invalid
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_x.ko
	DEST_MODULE_LOCATION[0]=/lib/elsewhere
	BUILT_MODULE_NAME[1]=kbt_y
	DEST_MODULE_NAME[1]=kbt_y.o
	DEST_MODULE_LOCATION[1]=/updates
	AUTOINSTALL=maybe
	EOF
	conf_error invalid "invalid/dkms.conf:3: BUILT_MODULE_NAME\[0\] .kbt_x.ko. must not end in .o or .ko" \
		"invalid/dkms.conf:4: DEST_MODULE_LOCATION\[0\] ./lib/elsewhere. must start with /kernel, /updates or /extra" \
		"invalid/dkms.conf:6: DEST_MODULE_NAME\[1\] .kbt_y.o. must not end in .o or .ko" \
		"invalid/dkms.conf:8: AUTOINSTALL is .maybe.: expected yes, no or empty"
'

test_expect_success 'sparse module arrays are an error, as in DKMS' '
	dkms_tree sparse kbt_a kbt_c &&
	cat >sparse/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-sparse
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_a
	BUILT_MODULE_NAME[2]=kbt_c
	DEST_MODULE_LOCATION[0]=/updates
	DEST_MODULE_LOCATION[2]=/updates
	EOF
	conf_error sparse "module record 1 has no BUILT_MODULE_NAME (records 0 to 2 are declared; the arrays must have no gaps)" \
		"module record 1 (.*) has no DEST_MODULE_LOCATION\|module record 1 has no"
'

test_expect_success 'duplicate built or installed names are an error' '
	dkms_tree dup kbt_a &&
	cat >dup/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-dup
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_a
	DEST_MODULE_LOCATION[0]=/updates
	BUILT_MODULE_NAME[1]=kbt_a
	DEST_MODULE_NAME[1]=kbt_b
	DEST_MODULE_LOCATION[1]=/updates
	BUILT_MODULE_NAME[2]=kbt_c
	DEST_MODULE_NAME[2]=kbt_b
	DEST_MODULE_LOCATION[2]=/updates
	EOF
	conf_error dup "module .kbt_a.ko. is declared twice (records 0 and 1)" \
		"two modules install as .kbt_b. (records 1 and 2)"
'

test_expect_success 'a patch outside patches/ is refused; a conf that exits is reported' '
	dkms_tree badpatch kbt_p &&
	cat >badpatch/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-badpatch
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_p
	DEST_MODULE_LOCATION[0]=/updates
	PATCH[0]=../../etc/evil.patch
	EOF
	conf_error badpatch "badpatch/dkms.conf:5: PATCH\[0\] .../../etc/evil.patch. must name a file inside patches/" &&
	dkms_tree exits kbt_e &&
	printf "PACKAGE_NAME=kbt-exits\nexit 3\n" >exits/dkms.conf &&
	conf_error exits "exits/dkms.conf: bash stopped while reading it (exit 3)"
'

test_expect_success 'a tree with neither a recipe nor a dkms.conf is named' '
	mkdir noconf &&
	test_expect_code 2 kb add noconf 2>err &&
	test_grep "noconf/kbuildd.recipe" err
'

test_expect_success 'zero modules is a warning; the driver still registers' '
	mkdir zero && printf "PACKAGE_NAME=kbt-zero\nPACKAGE_VERSION=1.0\nMAKE=true\n" >zero/dkms.conf &&
	kb add zero 2>err &&
	test_grep "declares no modules" err &&
	kb install kbt-zero -k "$K1" &&
	kb remove kbt-zero/1.0 --all
'

test_expect_success 'one record without BUILT_MODULE_NAME is named after the package' '
	dkms_tree defaulted kbt_defaulted &&
	printf "PACKAGE_NAME=kbt_defaulted\nPACKAGE_VERSION=1.0\nDEST_MODULE_LOCATION[0]=/updates\n" >defaulted/dkms.conf &&
	kb add defaulted && kb install kbt_defaulted -k "$K1" &&
	test -n "$(modfile "$K1" kbt_defaulted)" &&
	kb remove kbt_defaulted/1.0 --all
'

test_done
