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

test_expect_success 'debug info is never generated for a module that is stripped, and kept with STRIP=no' '
	# (where the headers carry a vmlinux, kbuild makes BTF from it: then it stays)
	if ! [ -e "$ROOT/lib/modules/$K1/build/vmlinux" ]; then
		! readelf -S "$ROOT/var/lib/kbuildd/builds/kbt-basic/1.0/$K1/src/kbt_basic.o" |
			grep -q "\.debug_info"
	fi &&
	dkms_tree keep-1.0 kbt_keep &&
	printf "PACKAGE_NAME=kbt-keep\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_keep\nDEST_MODULE_LOCATION[0]=/updates\nSTRIP[0]=no\n" >keep-1.0/dkms.conf &&
	kb add keep-1.0 && kb install kbt-keep -k "$K1" &&
	f=$(modfile "$K1" kbt_keep) &&
	case $f in *.xz) xz -dc "$f" >k.ko ;; *.zst) zstd -qdc "$f" >k.ko ;; *) cp "$f" k.ko ;; esac &&
	if grep -q "^CONFIG_DEBUG_INFO=y" "$ROOT/lib/modules/$K1/build/.config"; then
		readelf -S k.ko | grep -q "\.debug_info"
	fi &&
	kb remove kbt-keep/1.0 --all
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
	kb -v add depr-1.0 2>err &&
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

test_expect_success 'a recipe may build its source through the dkms.conf in it' '
	dkms_tree vendor/src kbt_vendor &&
	printf "PACKAGE_NAME=kbt-vendor\nPACKAGE_VERSION=3.0\nBUILT_MODULE_NAME[0]=kbt_vendor\nDEST_MODULE_LOCATION[0]=/updates\n" >vendor/src/dkms.conf &&
	printf "[recipe]\nname = kbt-vendor\nversion = 3.0\n[source]\npath = src\n[build]\ndkms = dkms.conf\nkernels = >= 5.10\n" >vendor/kbt-vendor.recipe &&
	kb add vendor/kbt-vendor.recipe && kb install kbt-vendor -k "$K1" &&
	test -n "$(modfile "$K1" kbt_vendor)" &&
	kb remove kbt-vendor/3.0 --all &&
	printf "[recipe]\nname = kbt-vendor\nversion = 3.0\n[source]\npath = src\n[build]\ndkms = dkms.conf\n[module kbt_vendor]\n" >vendor/bad.recipe &&
	test_expect_code 2 kb add vendor/bad.recipe 2>err &&
	test_grep "drop the \[module\] sections" err
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

# --- BUILD_DEPENDS, failures, AUTOINSTALL --------------------------------

test_expect_success 'BUILD_DEPENDS orders the builds and hands over the symbols' '
	dkms_tree prov-1.0 kbt_prov &&
	echo "int kbt_prov_value(void) { return 42; } EXPORT_SYMBOL_GPL(kbt_prov_value);" >>prov-1.0/kbt_prov.c &&
	printf "PACKAGE_NAME=kbt-prov\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_prov\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n" >prov-1.0/dkms.conf &&
	dkms_tree cons-1.0 kbt_cons &&
	echo "int kbt_prov_value(void); static int __used kbt_use(void) { return kbt_prov_value(); }" >>cons-1.0/kbt_cons.c &&
	printf "PACKAGE_NAME=kbt-cons\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_cons\nDEST_MODULE_LOCATION[0]=/updates\nBUILD_DEPENDS=(kbt-prov)\nAUTOINSTALL=yes\n" >cons-1.0/dkms.conf &&
	kb add cons-1.0 prov-1.0 &&
	kb rebuild -k "$K1" >out &&
	test_grep "kbt-cons/1.0 *$K1 *installed" out &&
	test_grep "kbt_cons.ko.*: .*updates/dkms/kbt_prov.ko" "$ROOT/lib/modules/$K1/modules.dep"
'

test_expect_success 'a circular BUILD_DEPENDS is reported by name' '
	dkms_tree circ-1.0 kbt_circ &&
	printf "PACKAGE_NAME=kbt-circ\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_circ\nDEST_MODULE_LOCATION[0]=/updates\nBUILD_DEPENDS=(kbt-circ)\n" >circ-1.0/dkms.conf &&
	test_expect_code 2 kb add circ-1.0 2>err &&
	test_grep "kbt-circ. depends on itself" err
'

test_expect_success 'a failing module fails alone; its dependent is reported by name' '
	dkms_tree fail-1.0 kbt_fail &&
	printf "all:\n\t@echo kbt_fail: deliberate failure; exit 1\n" >fail-1.0/Makefile &&
	printf "PACKAGE_NAME=kbt-fail\nPACKAGE_VERSION=1.0\nMAKE=\"make all\"\nBUILT_MODULE_NAME[0]=kbt_fail\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n" >fail-1.0/dkms.conf &&
	dkms_tree faildep-1.0 kbt_faildep &&
	printf "PACKAGE_NAME=kbt-faildep\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_faildep\nDEST_MODULE_LOCATION[0]=/updates\nBUILD_DEPENDS=kbt-fail\nAUTOINSTALL=yes\n" >faildep-1.0/dkms.conf &&
	kb add fail-1.0 faildep-1.0 &&
	test_expect_code 1 kb rebuild -k "$K1" >out 2>err &&
	test_grep "kbt-fail/1.0 *$K1 *failed" out &&
	test_grep "kbt-faildep/1.0 *$K1 *skipped" out &&
	test_grep "kbt-cons/1.0 *$K1 *up to date" out &&
	test_grep "kbt_fail: deliberate failure" err &&
	test_expect_code 11 kb --dkms-exit-codes rebuild -k "$K1" >out 2>err &&
	test_expect_code 10 kb --dkms-exit-codes build kbt-fail -k "$K1" 2>err &&
	kb remove kbt-fail/1.0 --all && kb remove kbt-faildep/1.0 --all
'

test_expect_success 'AUTOINSTALL other than yes: rebuild leaves it alone until it is installed' '
	dkms_tree noauto-1.0 kbt_noauto &&
	printf "PACKAGE_NAME=kbt-noauto\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_noauto\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=\"\"\n" >noauto-1.0/dkms.conf &&
	kb add noauto-1.0 &&
	kb rebuild -k "$K1" >out &&
	! test_grep kbt-noauto out &&
	kb install kbt-noauto -k "$K1" &&
	kb rebuild -k "$K1" >out &&
	test_grep "kbt-noauto/1.0 *$K1 *up to date" out &&
	kb remove kbt-noauto/1.0 --all
'

# --- versions ------------------------------------------------------------

test_expect_success 'two versions side by side: the newest is installed, the other stays registered' '
	dkms_tree multi-1.0 kbt_multi:1.0 &&
	printf "PACKAGE_NAME=kbt-multi\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_multi\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n" >multi-1.0/dkms.conf &&
	dkms_tree multi-2.0 kbt_multi:2.0 &&
	sed s/1.0/2.0/ multi-1.0/dkms.conf >multi-2.0/dkms.conf &&
	kb add multi-1.0 multi-2.0 &&
	kb rebuild -k "$K1" >out &&
	test_grep "kbt-multi/2.0 *$K1 *installed" out &&
	modinfo -F version "$(modfile "$K1" kbt_multi)" >v && test_grep "^2.0\$" v &&
	kb status --json >st && test_grep "kbt-multi" st &&
	kb remove kbt-multi/2.0 --all &&
	kb rebuild -k "$K1" >out &&
	test_grep "kbt-multi/1.0 *$K1 *installed" out &&
	kb remove kbt-multi/1.0 --all
'

test_expect_success 'modules without a version, or with an empty one, install' '
	dkms_tree nover-1.0 kbt_nover:- kbt_emptyver: &&
	cat >nover-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-nover
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_nover
	DEST_MODULE_LOCATION[0]=/updates
	BUILT_MODULE_NAME[1]=kbt_emptyver
	DEST_MODULE_LOCATION[1]=/updates
	EOF
	kb add nover-1.0 && kb install kbt-nover -k "$K1" &&
	test -n "$(modfile "$K1" kbt_nover)" && test -n "$(modfile "$K1" kbt_emptyver)" &&
	kb remove kbt-nover/1.0 --all
'

# --- patches and scripts -------------------------------------------------

test_expect_success 'PATCH applies in order, PATCH_MATCH only where it matches' '
	dkms_tree patched-1.0 kbt_patched &&
	mkdir -p patched-1.0/patches/sub &&
	( cd patched-1.0 && cp kbt_patched.c orig.c &&
	  echo "MODULE_INFO(kbt_first, \"yes\");" >>kbt_patched.c &&
	  diff -u orig.c kbt_patched.c | sed "1s|.*|--- a/kbt_patched.c|;2s|.*|+++ b/kbt_patched.c|" >patches/first.patch;
	  cp kbt_patched.c mid.c &&
	  echo "MODULE_INFO(kbt_second, \"yes\");" >>kbt_patched.c &&
	  diff -u mid.c kbt_patched.c | sed "1s|.*|--- a/kbt_patched.c|;2s|.*|+++ b/kbt_patched.c|" >patches/sub/second.patch;
	  cp kbt_patched.c end.c &&
	  echo "MODULE_INFO(kbt_only, \"$K1\");" >>kbt_patched.c &&
	  diff -u end.c kbt_patched.c | sed "1s|.*|--- a/kbt_patched.c|;2s|.*|+++ b/kbt_patched.c|" >patches/only.patch;
	  mv orig.c kbt_patched.c && rm mid.c end.c ) &&
	cat >patched-1.0/dkms.conf <<-EOF &&
	PACKAGE_NAME=kbt-patched
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_patched
	DEST_MODULE_LOCATION[0]=/updates
	PATCH=(first.patch sub/second.patch only.patch)
	PATCH_MATCH[2]="^$(echo "$K1" | sed "s/[.+]/[&]/g")\\\$"
	AUTOINSTALL=yes
	EOF
	kb add patched-1.0 && kb rebuild --all &&
	for k in $KERNELS; do
		f=$(modfile "$k" kbt_patched) &&
		modinfo -F kbt_first "$f" | grep -q yes && modinfo -F kbt_second "$f" | grep -q yes || exit 1
		if [ "$k" = "$K1" ]; then modinfo -F kbt_only "$f" | grep -q "$K1" || exit 1
		else ! modinfo -F kbt_only "$f" | grep -q . || exit 1; fi
	done &&
	kb remove kbt-patched/1.0 --all
'

test_expect_success 'a PATCH missing from patches/ fails that driver with its line' '
	dkms_tree nopatch-1.0 kbt_nopatch &&
	printf "PACKAGE_NAME=kbt-nopatch\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_nopatch\nDEST_MODULE_LOCATION[0]=/updates\nPATCH[0]=gone.patch\n" >nopatch-1.0/dkms.conf &&
	kb add nopatch-1.0 &&
	test_expect_code 1 kb install kbt-nopatch -k "$K1" >out 2>&1 &&
	test_grep "dkms.conf:5: PATCH\[0\] .gone.patch. is not in the source.s patches/ directory" out &&
	kb remove kbt-nopatch/1.0 --all
'

test_expect_success 'the six scripts run where DKMS runs them; PRE_INSTALL can veto' '
	dkms_tree scripts-1.0 kbt_scripts &&
	# scripts run contained: they report on their output, which kbuildd
	# shows (build scripts: in the build log); the veto flag is in the root
	printf "#!/bin/sh\necho \"kbt-script: \$1 \$(basename \$PWD) \$kernelver\"\n[ \"\$1\" != pre_install ] || [ ! -e %s/veto ]\n" "$ROOT" >scripts-1.0/script.sh &&
	chmod 755 scripts-1.0/script.sh &&
	cat >scripts-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-scripts
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_scripts
	DEST_MODULE_LOCATION[0]=/updates
	PRE_BUILD="script.sh pre_build"
	POST_BUILD="script.sh post_build"
	PRE_INSTALL="script.sh pre_install"
	POST_INSTALL="script.sh post_install"
	POST_ADD="script.sh post_add"
	POST_REMOVE="script.sh post_remove"
	EOF
	kb add scripts-1.0 >log 2>&1 && kb install kbt-scripts -k "$K1" >install.out 2>&1 &&
	sed -n "/^kbt-script: pre_build/,\$p" "$ROOT/var/lib/kbuildd/builds/kbt-scripts/1.0/$K1.log" >>log &&
	grep -v "^kbt-script: p[a-z]*_build" install.out >>log &&
	kb remove kbt-scripts/1.0 --all >>log 2>&1 &&
	printf "post_add source \npre_build build %s\npost_build build %s\npre_install source %s\npost_install source %s\npost_remove source \n" "$K1" "$K1" "$K1" "$K1" >expect &&
	sed -n "s/^kbt-script: //p" log | sed "s/^\(post_add\|post_remove\) source .*/\1 source /" >actual &&
	test_cmp expect actual &&
	touch "$ROOT/veto" &&
	kb add scripts-1.0 &&
	test_expect_code 1 kb install kbt-scripts -k "$K1" >out 2>&1 &&
	test_grep "PRE_INSTALL script failed" out &&
	test -z "$(modfile "$K1" kbt_scripts)" &&
	kb install --force kbt-scripts -k "$K1" &&
	test -n "$(modfile "$K1" kbt_scripts)" &&
	kb remove kbt-scripts/1.0 --all && rm "$ROOT/veto"
'

test_expect_success 'a script that is not executable is skipped with a warning' '
	dkms_tree noexec-1.0 kbt_noexec &&
	echo "exit 1" >noexec-1.0/post.sh &&
	printf "PACKAGE_NAME=kbt-noexec\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_noexec\nDEST_MODULE_LOCATION[0]=/updates\nPOST_INSTALL=post.sh\n" >noexec-1.0/dkms.conf &&
	kb add noexec-1.0 && kb install kbt-noexec -k "$K1" 2>err &&
	test_grep "the POST_INSTALL script .post.sh. is not executable; skipped" err &&
	kb remove kbt-noexec/1.0 --all
'

# --- exclusions ------------------------------------------------------------

test_expect_success 'BUILD_EXCLUSIVE_ARCH excludes the driver and its dependents, exit 77 for DKMS callers' '
	dkms_tree excl-1.0 kbt_excl &&
	printf "PACKAGE_NAME=kbt-excl\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_excl\nDEST_MODULE_LOCATION[0]=/updates\nBUILD_EXCLUSIVE_ARCH=none\nAUTOINSTALL=yes\n" >excl-1.0/dkms.conf &&
	dkms_tree excldep-1.0 kbt_excldep &&
	printf "PACKAGE_NAME=kbt-excldep\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_excldep\nDEST_MODULE_LOCATION[0]=/updates\nBUILD_DEPENDS=kbt-excl\nAUTOINSTALL=yes\n" >excldep-1.0/dkms.conf &&
	kb add excl-1.0 excldep-1.0 &&
	kb rebuild -k "$K1" >out &&
	test_grep "kbt-excl/1.0 *$K1 *excluded" out &&
	test_grep "kbt-excldep/1.0 *$K1 *excluded" out &&
	kb -v rebuild -k "$K1" >out 2>&1 &&
	test_grep "architecture x86_64 does not match BUILD_EXCLUSIVE_ARCH .none." out &&
	test_expect_code 77 kb --dkms-exit-codes build kbt-excl -k "$K1" &&
	kb --dkms-exit-codes rebuild -k "$K1" &&
	kb remove kbt-excl/1.0 --all && kb remove kbt-excldep/1.0 --all
'

test_expect_success 'KERNEL regex, MIN, MAX, CONFIG and OBSOLETE_BY exclude per kernel' '
	dkms_tree kx-1.0 kbt_kx &&
	for rule in "BUILD_EXCLUSIVE_KERNEL=\"^0\\.\"" "BUILD_EXCLUSIVE_KERNEL_MIN=99" \
		    "BUILD_EXCLUSIVE_KERNEL_MAX=2.6" "BUILD_EXCLUSIVE_CONFIG=\"!CONFIG_MODULES\"" \
		    "BUILD_EXCLUSIVE_CONFIG=\"CONFIG_KBT_NEVER_SET\"" "OBSOLETE_BY=3.0"; do
		printf "PACKAGE_NAME=kbt-kx\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_kx\nDEST_MODULE_LOCATION[0]=/updates\n%s\n" "$rule" >kx-1.0/dkms.conf &&
		kb add --force kx-1.0 >/dev/null &&
		kb install kbt-kx -k "$K1" >out &&
		test_grep "kbt-kx/1.0 *$K1 *excluded" out || exit 1
	done &&
	printf "PACKAGE_NAME=kbt-kx\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_kx\nDEST_MODULE_LOCATION[0]=/updates\nBUILD_EXCLUSIVE_KERNEL_MIN=5.10\nBUILD_EXCLUSIVE_CONFIG=\"CONFIG_MODULES !CONFIG_KBT_NEVER_SET\"\n" >kx-1.0/dkms.conf &&
	kb add --force kx-1.0 >/dev/null && kb install kbt-kx -k "$K1" >out &&
	test_grep "kbt-kx/1.0 *$K1 *installed" out &&
	kb remove kbt-kx/1.0 --all
'

test_expect_success 'MAKE_MATCH picks the make command per kernel; the last match wins' '
	dkms_tree mm-1.0 kbt_mm &&
	cat >mm-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-mm
	PACKAGE_VERSION=1.0
	BUILT_MODULE_NAME[0]=kbt_mm
	DEST_MODULE_LOCATION[0]=/updates
	MAKE[0]="make -C $kernel_source_dir M=$dkms_tree/kbt-mm/1.0/build KBT_PICK=zero"
	MAKE[1]="make -C $kernel_source_dir M=$dkms_tree/kbt-mm/1.0/build KBT_PICK=one"
	MAKE_MATCH[1]="^6\."
	MAKE[2]="make -C $kernel_source_dir M=$dkms_tree/kbt-mm/1.0/build KBT_PICK=two"
	MAKE_MATCH[2]="^6\.12"
	EOF
	kb add mm-1.0 && kb build kbt-mm &&
	for k in $KERNELS; do
		case $k in 6.12*) p=two ;; 6.*) p=one ;; *) p=zero ;; esac
		test_grep "KBT_PICK=$p\$" "$ROOT/var/lib/kbuildd/builds/kbt-mm/1.0/$k.log" || exit 1
	done &&
	kb remove kbt-mm/1.0 --all
'

# --- the original module, broken and incomplete states -------------------

test_expect_success 'a driver replacing an in-tree module wins, and removal brings the original back' '
	dkms_tree replace-1.0 kbt_intree &&
	printf "PACKAGE_NAME=kbt-replace\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_intree\nDEST_MODULE_LOCATION[0]=/kernel/drivers/misc\n" >replace-1.0/dkms.conf &&
	mkdir -p "$ROOT/lib/modules/$K1/kernel/drivers/misc" &&
	cp "$(ls "$ROOT"/var/lib/kbuildd/builds/kbt-prov/1.0/"$K1"/src/kbt_prov.ko)" \
		"$ROOT/lib/modules/$K1/kernel/drivers/misc/kbt_intree.ko" &&
	orig=$(sha256sum <"$ROOT/lib/modules/$K1/kernel/drivers/misc/kbt_intree.ko") &&
	depmod -b "$ROOT" "$K1" 2>/dev/null &&
	kb add replace-1.0 && kb install kbt-replace -k "$K1" &&
	modinfo -b "$ROOT" -k "$K1" -n kbt_intree >path && test_grep "/updates/dkms/kbt_intree.ko" path &&
	kb remove kbt-replace/1.0 --all &&
	modinfo -b "$ROOT" -k "$K1" -n kbt_intree >path && test_grep "/kernel/drivers/misc/kbt_intree.ko\$" path &&
	test "$orig" = "$(sha256sum <"$ROOT/lib/modules/$K1/kernel/drivers/misc/kbt_intree.ko")" &&
	rm "$ROOT/lib/modules/$K1/kernel/drivers/misc/kbt_intree.ko" && depmod -b "$ROOT" "$K1" 2>/dev/null
'

test_expect_success 'a registered tree whose dkms.conf is gone is named; the others go on' '
	kb add basic-1.0 &&
	mv "$ROOT/var/lib/kbuildd/recipes/kbt-basic/1.0/source/dkms.conf" broken.conf &&
	test_expect_code 1 kb rebuild -k "$K1" >out 2>&1 &&
	test_grep "kbt-basic/1.0 *$K1 *error" out &&
	test_grep "dkms.conf.*No such file" out &&
	test_grep "kbt-cons/1.0 *$K1 *up to date" out &&
	mv broken.conf "$ROOT/var/lib/kbuildd/recipes/kbt-basic/1.0/source/dkms.conf" &&
	kb rebuild -k "$K1" >out && test_grep "kbt-basic/1.0 *$K1 *installed" out
'

test_expect_success 'an installed module deleted behind its back is found and put back' '
	rm "$(modfile "$K1" kbt_basic)" &&
	test_expect_code 1 kb status --check >out 2>&1 &&
	test_grep "kbt_basic" out &&
	kb rebuild -k "$K1" >out && kb status --check
'

test_done
