#!/bin/sh
# Drivers that depend on others, and versions, as DKMS users meet them: a new
# version of a driver others BUILD_DEPENDS on rebuilds them in the same run; a
# dependency that is not registered stops the build (DKMS's 13) unless
# --force; an older module is not installed over a newer one (DKMS's 6)
# unless --force, neither the driver's own nor the kernel's. Each through the
# dkms front end and kbuildd's own commands, on a fake root.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_dkms_root root
SRC=$ROOT/usr/src

dkms () {
	"$KBUILDD" --root "$ROOT" dkms "$@"
}

# dkms_tree NAME VERSION MODULE SOURCE [CONF-LINE]: $SRC/NAME-VERSION holding
# MODULE.c (SOURCE, then MODULE_VERSION(VERSION)) and its dkms.conf
dkms_tree () {
	_d=$SRC/$1-$2
	mkdir -p "$_d" &&
	{
		echo '#include <linux/module.h>'
		printf '%s\n' "$4"
		echo 'static int __init kbt_init(void) { return 0; }'
		echo 'static void __exit kbt_exit(void) { }'
		echo 'module_init(kbt_init);'
		echo 'module_exit(kbt_exit);'
		echo 'MODULE_LICENSE("GPL");'
		echo "MODULE_VERSION(\"$2\");"
	} >"$_d/$3.c" &&
	echo "obj-m := $3.o" >"$_d/Kbuild" &&
	_n=$1 _v=$2 _m=$3 && shift 4 &&
	dkms_conf "$_n" "$_v" "$_m" /updates/dkms "$@" >"$_d/dkms.conf"
}

# the installed module $2 for kernel $1, whatever its compression
modfile () {
	ls "$ROOT/lib/modules/$1/updates/dkms/$2.ko"* 2>/dev/null
}

# the CRC of symbol $2 as the module file $1 imports it
imported_crc () {
	modprobe --dump-modversions "$1" | awk -v s="$2" '$2 == s { print $1 }'
}

# the CRC of symbol $3 as recipe $1's kept build for kernel $2 exports it
exported_crc () {
	awk -v s="$3" '$2 == s { print $1 }' \
		"$ROOT/var/lib/kbuildd/builds/$1/$2/src/Module.symvers"
}

# Version 2.0 changes the prototype, so its symbol's CRC changes too: a
# consumer built against 1.0 would fail to load ("disagrees about version").
dkms_tree kbt-prov 1.0 kbtprov \
	'int kbtprov_value(int x) { return x + 1; } EXPORT_SYMBOL_GPL(kbtprov_value);'
dkms_tree kbt-prov 2.0 kbtprov \
	'long kbtprov_value(long x) { return x + 2; } EXPORT_SYMBOL_GPL(kbtprov_value);'
dkms_tree kbt-cons 1.0 kbtcons \
	'extern int kbtprov_value(int); static int __used kbt_use(void) { return kbtprov_value(1); }' \
	'BUILD_DEPENDS=(kbt-prov)'
dkms_tree kbt-orphan 1.0 kbtorphan 'static int kbt_unused;' 'BUILD_DEPENDS=(kbt-absent)'
for v in 1.0 2.0 9.0; do
	dkms_tree kbt-ver "$v" kbtver 'static int kbt_unused;'
done

# --- a new version of a dependency rebuilds its dependents ------------------

test_expect_success 'setup: the consumer installed against provider 1.0' '
	dkms install kbt-prov/1.0 -k "$K1" >out &&
	dkms install kbt-cons/1.0 -k "$K1" >out &&
	test_grep "^kbt-cons/1.0 *$K1 *installed$" out &&
	test "$(imported_crc "$(modfile "$K1" kbtcons)" kbtprov_value)" = \
		"$(exported_crc kbt-prov/1.0 "$K1" kbtprov_value)"
'

test_expect_success 'dkms install of provider 2.0 rebuilds and reinstalls the consumer against it' '
	dkms install kbt-prov/2.0 -k "$K1" >out &&
	test_grep "^kbt-prov/2.0 *$K1 *installed$" out &&
	test_grep "^kbt-cons/1.0 *$K1 *installed$" out &&
	crc=$(exported_crc kbt-prov/2.0 "$K1" kbtprov_value) &&
	test "$crc" != "$(exported_crc kbt-prov/1.0 "$K1" kbtprov_value)" &&
	test "$(imported_crc "$(modfile "$K1" kbtcons)" kbtprov_value)" = "$crc" &&
	"$KBUILDD" --root "$ROOT" status kbt-cons -k "$K1" >out &&
	test_grep "^kbt-cons/1.0 *$K1 *installed:" out
'

test_expect_success 'kbuildd install --force of provider 1.0 takes the consumer back with it' '
	"$KBUILDD" --root "$ROOT" install kbt-prov/1.0 -k "$K1" --force >out &&
	test_grep "^kbt-cons/1.0 *$K1 *installed$" out &&
	test "$(imported_crc "$(modfile "$K1" kbtcons)" kbtprov_value)" = \
		"$(exported_crc kbt-prov/1.0 "$K1" kbtprov_value)"
'

test_expect_success 'an unchanged provider leaves the consumer alone' '
	tree_snapshot "$ROOT/lib/modules/$K1" >before &&
	"$KBUILDD" --root "$ROOT" install kbt-prov/1.0 -k "$K1" >out &&
	test_grep "^kbt-cons/1.0 *$K1 *up to date$" out &&
	tree_snapshot "$ROOT/lib/modules/$K1" >after &&
	test_cmp before after
'

test_expect_success 'a consumer is not installed against a provider whose install was refused' '
	"$KBUILDD" --root "$ROOT" install kbt-prov/2.0 -k "$K1" >out &&
	crc=$(exported_crc kbt-prov/2.0 "$K1" kbtprov_value) &&
	test "$(imported_crc "$(modfile "$K1" kbtcons)" kbtprov_value)" = "$crc" &&
	test_expect_code 6 dkms install kbt-prov/1.0 -k "$K1" >out 2>err &&
	test_grep "^kbt-cons/1.0 *$K1 *skipped: not installed: its dependency kbt-prov/1.0 was not installed" out &&
	test "$(imported_crc "$(modfile "$K1" kbtcons)" kbtprov_value)" = "$crc" &&
	test "$(modinfo -F version "$(modfile "$K1" kbtprov)")" = 2.0
'

# --- a dependency that is not registered -------------------------------------

test_expect_success 'dkms build with a BUILD_DEPENDS not registered exits 13, naming both' '
	test_expect_code 13 dkms build kbt-orphan/1.0 -k "$K1" >out 2>err &&
	test_grep "Aborting build of module kbt-orphan/1.0 for kernel $K1 ($ARCH) due to missing BUILD_DEPENDS: kbt-absent\.$" err &&
	test_grep "You may override by specifying --force\." err &&
	test_grep "^kbt-orphan/1.0 *$K1 *error: depends on .kbt-absent., which is not registered" out &&
	dkms status kbt-orphan >out &&
	echo "kbt-orphan/1.0: added" >expect &&
	test_cmp expect out
'

test_expect_success 'dkms build --force builds without it; install then installs that build' '
	dkms build kbt-orphan/1.0 -k "$K1" --force >out 2>err &&
	test_grep "despite of missing BUILD_DEPENDS: kbt-absent" err &&
	test_grep "^kbt-orphan/1.0 *$K1 *built" out &&
	dkms install kbt-orphan/1.0 -k "$K1" >out &&
	test_grep "^kbt-orphan/1.0 *$K1 *installed" out &&
	test -n "$(modfile "$K1" kbtorphan)"
'

test_expect_success 'natively: exit 1 naming the dependency; --force installs; rebuild keeps it' '
	test_expect_code 1 "$KBUILDD" --root "$ROOT" install kbt-orphan -k "$K2" >out 2>err &&
	test_grep "^kbt-orphan/1.0 *$K2 *error: depends on .kbt-absent., which is not registered" out &&
	test -z "$(modfile "$K2" kbtorphan)" &&
	"$KBUILDD" --root "$ROOT" install kbt-orphan -k "$K2" --force >out 2>err &&
	test_grep "building kbt-orphan/1.0 for $K2 without .kbt-absent." err &&
	test -n "$(modfile "$K2" kbtorphan)" &&
	"$KBUILDD" --root "$ROOT" rebuild -k "$K2" >out &&
	test_grep "^kbt-orphan/1.0 *$K2 *up to date" out
'

# --- an older module over a newer one -------------------------------------------

test_expect_success 'dkms install of an older version exits 6 and keeps the newer one' '
	dkms install kbt-ver/2.0 -k "$K1" >out &&
	test "$(modinfo -F version "$(modfile "$K1" kbtver)")" = 2.0 &&
	tree_snapshot "$ROOT/lib/modules/$K1" >before &&
	test_expect_code 6 dkms install kbt-ver/1.0 -k "$K1" >out 2>err &&
	test_grep "module version 1.0 for kbtver.ko is not newer than what is already found in kernel $K1 (2.0" err &&
	test_grep "^kbt-ver/1.0 *$K1 *failed" out &&
	tree_snapshot "$ROOT/lib/modules/$K1" >after &&
	test_cmp before after &&
	dkms status kbt-ver -k "$K1" >out &&
	test_grep "^kbt-ver/2.0, $K1, $ARCH: installed$" out
'

test_expect_success 'natively the same is exit 1; --force installs the older one' '
	test_expect_code 1 "$KBUILDD" --root "$ROOT" install kbt-ver/1.0 -k "$K1" 2>err &&
	test_grep "is not newer than what is already found in kernel $K1" err &&
	test "$(modinfo -F version "$(modfile "$K1" kbtver)")" = 2.0 &&
	dkms install kbt-ver/1.0 -k "$K1" --force >out &&
	test "$(modinfo -F version "$(modfile "$K1" kbtver)")" = 1.0 &&
	"$KBUILDD" --root "$ROOT" install kbt-ver/2.0 -k "$K1" >out &&
	test "$(modinfo -F version "$(modfile "$K1" kbtver)")" = 2.0
'

test_expect_success 'a newer in-tree module of the kernel is not shadowed without --force' '
	dkms build kbt-ver/9.0 -k "$K2" >out &&
	intree=$ROOT/lib/modules/$K2/kernel/drivers/misc &&
	mkdir -p "$intree" &&
	cp "$ROOT/var/lib/kbuildd/builds/kbt-ver/9.0/$K2/src/kbtver.ko" "$intree/" &&
	test_expect_code 6 dkms install kbt-ver/2.0 -k "$K2" >out 2>err &&
	test_grep "module version 2.0 for kbtver.ko is not newer than what is already found in kernel $K2 (9.0" err &&
	test -z "$(modfile "$K2" kbtver)" &&
	dkms install kbt-ver/2.0 -k "$K2" --force >out &&
	test "$(modinfo -F version "$(modfile "$K2" kbtver)")" = 2.0 &&
	test_path_is_file "$intree/kbtver.ko"
'

test_expect_success 'the same version again is no downgrade' '
	"$KBUILDD" --root "$ROOT" install kbt-ver/2.0 -k "$K2" --force >out &&
	test_grep "^kbt-ver/2.0 *$K2 *installed$" out
'

test_done
