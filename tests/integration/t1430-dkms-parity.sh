#!/bin/sh
# The dkms front end against DKMS's own scenarios (its run_test.sh): what
# remove, uninstall and unbuild take away, POST_REMOVE, status warnings,
# /usr/src/NAME-VERSION, /etc/dkms/no-autoinstall, generate_mok and the
# exit statuses callers test.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"
. "$TOP/tests/integration/lib/dkms-tree.sh"

kb_root root
echo ID=debian >"$ROOT/etc/os-release"
K1=${KERNELS%% *}
K2=${KERNELS##* }
ARCH=$(uname -m)
[ "$K1" = "$K2" ] || test_set_prereq TWO_KERNELS

dkms () {
	"$KBUILDD" --root "$ROOT" dkms "$@"
}

# kbt_src DIR NAME [LINE]: a DKMS tree of module kbt_par, version 1.0
kbt_src () {
	dkms_tree "$1" kbt_par &&
	printf 'PACKAGE_NAME=%s\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_par\nDEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=yes\n%s\n' \
		"$2" "${3-}" >"$1/dkms.conf"
}

modfile () {
	ls "$ROOT/lib/modules/$1/updates/dkms/kbt_par.ko"* 2>/dev/null
}

# --- /usr/src and add ------------------------------------------------------

test_expect_success 'add PATH copies the tree to /usr/src/NAME-VERSION, as DKMS keeps it' '
	kbt_src par kbt-par &&
	dkms add par &&
	test_path_is_file "$ROOT/usr/src/kbt-par-1.0/dkms.conf" &&
	test_cmp par/kbt_par.c "$ROOT/usr/src/kbt-par-1.0/kbt_par.c" &&
	dkms status >out &&
	echo "kbt-par/1.0: added" >expect &&
	test_cmp expect out
'

test_expect_success 'add PATH replaces a stale /usr/src/NAME-VERSION whole' '
	kbt_src stale kbt-stale &&
	mkdir -p "$ROOT/usr/src/kbt-stale-1.0" &&
	echo old >"$ROOT/usr/src/kbt-stale-1.0/leftover.c" &&
	dkms add stale &&
	test_path_is_missing "$ROOT/usr/src/kbt-stale-1.0/leftover.c" &&
	test_cmp stale/dkms.conf "$ROOT/usr/src/kbt-stale-1.0/dkms.conf" &&
	! ls -a "$ROOT/usr/src" | grep -q "^\.kbuildd" &&
	dkms remove kbt-stale/1.0 --all
'

test_expect_success 'a second add of the same module/version exits 3, however it is named' '
	test_expect_code 3 dkms add par 2>err &&
	test_grep "DKMS tree already contains: kbt-par/1.0" err &&
	test_expect_code 3 dkms add par/dkms.conf 2>err &&
	test_expect_code 3 dkms add -m kbt-par -v 1.0 2>err &&
	test_grep "DKMS tree already contains: kbt-par/1.0" err
'

test_expect_success 'add -m M -v V registers /usr/src/M-V; without it, exit 2' '
	kbt_src "$ROOT/usr/src/kbt-usr-1.0" kbt-usr &&
	dkms add -m kbt-usr -v 1.0 &&
	dkms status kbt-usr >out &&
	test_grep "^kbt-usr/1.0: added$" out &&
	test_expect_code 2 dkms add -m kbt-none -v 1.0 2>err &&
	test_grep "could not find module source directory" err &&
	dkms remove kbt-usr/1.0 --all &&
	test_path_is_file "$ROOT/usr/src/kbt-usr-1.0/dkms.conf"
'

test_expect_success 'malformed confs exit with DKMS codes: no conf 1, bad conf 8, bad patch 5' '
	mkdir noconf &&
	test_expect_code 1 dkms add "$PWD/noconf" 2>err &&
	test_grep "Arguments <module> and <module-version> are not specified" err &&
	mkdir empty && : >empty/dkms.conf &&
	test_expect_code 8 dkms add empty 2>err &&
	test_grep "PACKAGE_NAME" err &&
	kbt_src dup kbt-dup "BUILT_MODULE_NAME[1]=kbt_par
DEST_MODULE_LOCATION[1]=/updates" &&
	test_expect_code 8 dkms add dup &&
	kbt_src badpatch kbt-badpatch "PATCH[0]=../evil.patch" &&
	test_expect_code 5 dkms add badpatch 2>err &&
	test_grep "PATCH\[0\]" err &&
	dkms status >out &&
	! grep -q "kbt-dup\|kbt-badpatch\|kbt-empty" out
'

test_expect_success 'install PATH of a tree not added yet adds it from /usr/src first' '
	kbt_src inst kbt-inst &&
	dkms install inst -k "$K1" &&
	test_path_is_file "$ROOT/usr/src/kbt-inst-1.0/dkms.conf" &&
	dkms status kbt-inst >out &&
	test_grep "^kbt-inst/1.0, $K1, $ARCH: installed$" out &&
	dkms build inst -k "$K1" &&
	dkms remove kbt-inst/1.0 --all
'

test_expect_success 'a PATCH missing from patches/ fails the build with 5; autoinstall says 11' '
	kbt_src nopatch kbt-nopatch "PATCH[0]=gone.patch" &&
	dkms add nopatch &&
	test_expect_code 5 dkms build kbt-nopatch/1.0 -k "$K1" >out 2>&1 &&
	test_grep "gone.patch" out &&
	test_expect_code 11 dkms autoinstall -k "$K1" >out 2>&1 &&
	dkms remove kbt-nopatch/1.0 --all
'

# --- exit 21: no headers ----------------------------------------------------

test_expect_success 'a kernel with no lib/modules/K at all: build exits 21' '
	test_expect_code 21 dkms build kbt-par/1.0 -k 0.0.1-kbt-nothere 2>err &&
	test_grep "kernel .0.0.1-kbt-nothere. not found" err
'

test_expect_success 'autoinstall and kernel_postinst for a kernel without headers exit 21' '
	mkdir -p "$ROOT/lib/modules/0.0.2-kbt-noheaders/kernel" &&
	test_expect_code 21 dkms autoinstall -k 0.0.2-kbt-noheaders >out 2>&1 &&
	test_expect_code 21 dkms kernel_postinst -k 0.0.2-kbt-noheaders >out 2>&1 &&
	rm -r "$ROOT/lib/modules/0.0.2-kbt-noheaders"
'

# --- uninstall, unbuild, remove ---------------------------------------------

test_expect_success 'uninstall takes the files and keeps the build: status says built' '
	dkms install kbt-par/1.0 -k "$K1" &&
	test -n "$(modfile "$K1")" &&
	dkms uninstall kbt-par/1.0 -k "$K1" &&
	test -z "$(modfile "$K1")" &&
	dkms status >out &&
	echo "kbt-par/1.0, $K1, $ARCH: built" >expect &&
	test_cmp expect out &&
	test_grep -v "updates/dkms/kbt_par" "$ROOT/lib/modules/$K1/modules.dep"
'

test_expect_success 'an installed module deleted by hand gets DKMS warning in status' '
	dkms install kbt-par/1.0 -k "$K1" &&
	rm "$(modfile "$K1")" &&
	dkms status >out &&
	echo "kbt-par/1.0, $K1, $ARCH: installed (WARNING! Diff between built and installed module!)" >expect &&
	test_cmp expect out &&
	dkms install --force kbt-par/1.0 -k "$K1" &&
	dkms status >out &&
	echo "kbt-par/1.0, $K1, $ARCH: installed" >expect &&
	test_cmp expect out
'

test_expect_success 'unbuild takes the files and the build: status says added' '
	dkms unbuild kbt-par/1.0 -k "$K1" &&
	test -z "$(modfile "$K1")" &&
	dkms status >out &&
	echo "kbt-par/1.0: added" >expect &&
	test_cmp expect out
'

test_expect_success TWO_KERNELS 'remove -k keeps the module while another kernel has it' '
	dkms install kbt-par/1.0 -k "$K1" && dkms install kbt-par/1.0 -k "$K2" &&
	dkms remove kbt-par/1.0 -k "$K1" &&
	dkms status >out &&
	echo "kbt-par/1.0, $K2, $ARCH: installed" >expect &&
	test_cmp expect out
'

test_expect_success 'remove -k for the last kernel forgets the module; /usr/src stays' '
	dkms install kbt-par/1.0 -k "$K2" &&
	dkms remove kbt-par/1.0 -k "$K2" >out &&
	test_grep "unregistered kbt-par/1.0" out &&
	dkms status >out &&
	test ! -s out &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/kbt-par" &&
	test_path_is_file "$ROOT/usr/src/kbt-par-1.0/dkms.conf" &&
	dkms autoinstall -k "$K1" &&
	test -z "$(modfile "$K1")"
'

test_expect_success 'POST_REMOVE runs on uninstall, unbuild, remove and kernel_prerm, per kernel' '
	kbt_src post kbt-post "POST_REMOVE=\"post.sh\"" &&
	printf "#!/bin/sh\necho \"kbt-post-remove \$kernelver\"\n" >post/post.sh &&
	chmod 755 post/post.sh &&
	dkms add post &&
	for action in uninstall unbuild remove kernel_prerm; do
		dkms add post >/dev/null 2>&1
		dkms install kbt-post/1.0 -k "$K1" >/dev/null 2>&1 &&
		if [ $action = kernel_prerm ]; then
			dkms kernel_prerm -k "$K1" >out 2>&1
		else
			dkms $action kbt-post/1.0 -k "$K1" >out 2>&1
		fi &&
		echo "kbt-post-remove $K1" >expect &&
		grep "^kbt-post-remove" out >actual &&
		test_cmp expect actual || { echo "not after $action"; cat out; exit 1; }
	done &&
	dkms remove kbt-post/1.0 --all >out 2>&1 &&
	! grep "^kbt-post-remove" out
'

# --- no-autoinstall ----------------------------------------------------------

test_expect_success '/etc/dkms/no-autoinstall stops autoinstall and the kernel hooks' '
	kbt_src auto kbt-auto &&
	dkms add auto &&
	mkdir -p "$ROOT/etc/dkms" && : >"$ROOT/etc/dkms/no-autoinstall" &&
	dkms autoinstall -k "$K1" >out &&
	test_grep "Automatic installation of modules has been disabled" out &&
	dkms kernel_postinst -k "$K1" >out &&
	"$KBUILDD" --root "$ROOT" rebuild --hook -k "$K1" >out 2>&1 &&
	test_grep "has been disabled" out &&
	dkms status kbt-auto >out &&
	test_grep "^kbt-auto/1.0: added$" out &&
	rm "$ROOT/etc/dkms/no-autoinstall" &&
	dkms autoinstall -k "$K1" &&
	dkms status kbt-auto >out &&
	test_grep "^kbt-auto/1.0, $K1, $ARCH: installed$" out &&
	dkms remove kbt-auto/1.0 --all
'

# --- generate_mok ------------------------------------------------------------

# a root where kbuildd has no key of its own yet
kb_root mokroot
echo ID=debian >"$ROOT/etc/os-release"

test_expect_success 'generate_mok makes DKMS key and DER certificate once; modules are signed with it' '
	dkms generate_mok >out &&
	test_grep "^Signing key: /var/lib/dkms/mok.key$" out &&
	test_grep "^Public certificate (MOK): /var/lib/dkms/mok.pub$" out &&
	test "$(stat -c %a "$ROOT/var/lib/dkms/mok.key")" = 600 &&
	openssl x509 -inform DER -in "$ROOT/var/lib/dkms/mok.pub" -noout -subject >subject &&
	test_grep "DKMS module signing key" subject &&
	sha256sum "$ROOT/var/lib/dkms/mok.key" >before &&
	dkms generate_mok >out &&
	sha256sum "$ROOT/var/lib/dkms/mok.key" | test_cmp before - &&
	dkms add par && dkms install kbt-par/1.0 -k "$K1" 2>err &&
	! grep "not with this key" err &&
	"$KBUILDD" --root "$ROOT" verify --cert "$ROOT/var/lib/dkms/mok.pub" "$(modfile "$K1")"
'

test_expect_success 'generate_mok makes the pair framework.conf names' '
	mkdir -p "$ROOT/etc/dkms" &&
	printf "mok_signing_key=/etc/kbt-mok/key.priv\nmok_certificate=/etc/kbt-mok/key.der\n" \
		>"$ROOT/etc/dkms/framework.conf" &&
	dkms generate_mok >out &&
	test_grep "^Signing key: /etc/kbt-mok/key.priv$" out &&
	openssl x509 -inform DER -in "$ROOT/etc/kbt-mok/key.der" -noout &&
	test "$(stat -c %a "$ROOT/etc/kbt-mok/key.priv")" = 600 &&
	rm -r "$ROOT/etc/dkms/framework.conf" "$ROOT/etc/kbt-mok"
'

test_expect_success 'generate_mok never replaces half a pair' '
	mv "$ROOT/var/lib/dkms/mok.pub" cert.keep &&
	sha256sum "$ROOT/var/lib/dkms/mok.key" >before &&
	test_expect_code 2 dkms generate_mok >out 2>err &&
	test_grep "replaces no key" err &&
	sha256sum "$ROOT/var/lib/dkms/mok.key" | test_cmp before - &&
	mv cert.keep "$ROOT/var/lib/dkms/mok.pub"
'

# --- the build tree a conf's shell code sees --------------------------------

test_expect_success '$dkms_tree/NAME/VERSION/build is a real directory, as find needs (xtables-addons)' '
	dkms_tree findme/sub kbt_find &&
	cat >findme/dkms.conf <<-\EOF &&
	PACKAGE_NAME=kbt-find
	PACKAGE_VERSION=1.0
	BDIR="$dkms_tree/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"
	MAKE="make -C $kernel_source_dir M=${BDIR}/sub modules; find ${BDIR} -name \"*.ko\" -exec mv -v {} ${BDIR} \\;"
	BUILT_MODULE_NAME[0]=kbt_find
	DEST_MODULE_LOCATION[0]=/updates
	EOF
	dkms install findme -k "$K1" >out 2>&1 || { cat out; false; } &&
	ls "$ROOT/lib/modules/$K1/updates/dkms/kbt_find.ko"* &&
	test_grep "kbt_find.ko. ->" "$ROOT/var/lib/kbuildd/builds/kbt-find/1.0/$K1.log" &&
	test -L "$ROOT/var/lib/kbuildd/builds/kbt-find/1.0/$K1/dkms/kbt-find/1.0/build" &&
	test -d "$ROOT/var/lib/kbuildd/builds/kbt-find/1.0/$K1/src" &&
	dkms remove kbt-find/1.0 --all
'

test_done
