#!/bin/sh
# The dkms front end, from the side of a driver package's maintainer scripts
# and an admin: DKMS command lines, run through a `dkms` link to kbuildd and as
# `kbuildd dkms`, register, build, install, report and remove a DKMS source
# tree in a fake root, and exit with DKMS's statuses where callers test them.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_dkms_root root
ln -s "$KBUILDD" "$TRASH/dkms"
command -v scdoc >/dev/null && command -v mandoc >/dev/null && test_set_prereq MANTOOLS

# dkms ARGS...: a DKMS command line, through the link, on the fake root
dkms () {
	"$TRASH/dkms" --root "$ROOT" "$@"
}

# kbuildd_dkms ARGS...: the same, as `kbuildd dkms`
kbuildd_dkms () {
	"$KBUILDD" --root "$ROOT" dkms "$@"
}

# dkms_src DIR NAME VERSION [LINE]: a DKMS source tree of examples/hello
# building hello.ko, with LINE added to its dkms.conf
dkms_src () {
	mkdir -p "$1" &&
	cp "$TOP/examples/hello/Kbuild" "$TOP/examples/hello/hello.c" "$1/" &&
	_d=$1 _n=$2 _v=$3 && shift 3 &&
	dkms_conf "$_n" "$_v" hello /updates "$@" >"$_d/dkms.conf"
}

# the installed hello module for kernel $1, whatever its compression
modfile () {
	ls "$ROOT/lib/modules/$1/updates/dkms/hello.ko"* 2>/dev/null
}

# --- the main path: what a driver package and an admin run ---------------

test_expect_success 'dkms --version and --help answer as DKMS does' '
	dkms --version >out &&
	test_grep "^dkms-3\.[0-9.]* (kbuildd [0-9.]*)$" out &&
	kbuildd_dkms --help >out &&
	test_grep "^Usage: dkms ACTION" out &&
	test_grep "^  kernel_postinst " out
'

test_expect_success 'dkms add PATH registers the source tree; status says added' '
	dkms_src hello-1.0 kbt-hello 1.0 &&
	dkms add hello-1.0 >out &&
	test_grep "^registered kbt-hello/1.0$" out &&
	dkms status >out &&
	echo "kbt-hello/1.0: added" >expect &&
	test_cmp expect out
'

test_expect_success 'dkms build -k builds for that kernel only; status says built' '
	dkms build kbt-hello/1.0 -k "$K1" >out &&
	test_grep "^kbt-hello/1.0 *$K1 *built$" out &&
	test -z "$(modfile "$K1")" &&
	dkms status >out &&
	echo "kbt-hello/1.0, $K1, $ARCH: built" >expect &&
	test_cmp expect out
'

test_expect_success 'dkms install -m -v installs into updates/dkms and runs depmod' '
	kbuildd_dkms install -m kbt-hello -v 1.0 -k "$K1/$ARCH" >out &&
	test_grep "^kbt-hello/1.0 *$K1 *installed$" out &&
	test -n "$(modfile "$K1")" &&
	test_grep "updates/dkms/hello.ko" "$ROOT/lib/modules/$K1/modules.dep"
'

test_expect_success 'dkms status prints DKMS lines, narrowed by module, version and kernel' '
	echo "kbt-hello/1.0, $K1, $ARCH: installed" >expect &&
	dkms status >out &&
	test_cmp expect out &&
	dkms status -m kbt-hello >out &&
	test_cmp expect out &&
	kbuildd_dkms status kbt-hello/1.0 -k "$K1" >out &&
	test_cmp expect out &&
	dkms status kbt-hello/2.0 >out &&
	test_must_fail test -s out &&
	dkms status -k 0.0.0-not-installed >out &&
	echo "kbt-hello/1.0: added" >expect &&
	test_cmp expect out
'

test_expect_success 'dkms uninstall removes the module; the build and the registration stay' '
	dkms uninstall kbt-hello/1.0 -k "$K1" >out &&
	test -z "$(modfile "$K1")" &&
	test_grep -v "updates/dkms/hello.ko" "$ROOT/lib/modules/$K1/modules.dep" &&
	dkms status >out &&
	echo "kbt-hello/1.0, $K1, $ARCH: built" >expect &&
	test_cmp expect out
'

test_expect_success 'dkms autoinstall -k installs every AUTOINSTALL driver; again changes nothing' '
	dkms autoinstall -k "$K1" >out &&
	test_grep "^kbt-hello/1.0 *$K1 *installed$" out &&
	test -n "$(modfile "$K1")" &&
	tree_snapshot "$ROOT/lib/modules/$K1" >before &&
	dkms autoinstall -k "$K1" >out &&
	test_grep "^kbt-hello/1.0 *$K1 *up to date$" out &&
	tree_snapshot "$ROOT/lib/modules/$K1" >after &&
	test_cmp before after
'

test_expect_success 'dkms autoinstall without -k takes the running kernel of the root' '
	mkdir -p "$ROOT/proc/sys/kernel" &&
	echo "$K2" >"$ROOT/proc/sys/kernel/osrelease" &&
	dkms autoinstall --verbose >out 2>err &&
	rm -r "$ROOT/proc" &&
	test_grep "^Running: kbuildd --dkms-exit-codes --root $ROOT -v rebuild -k $K2$" err &&
	test_grep "^kbt-hello/1.0 *$K2 *\(installed\|up to date\)$" out &&
	test -n "$(modfile "$K2")"
'

test_expect_success 'kernel_prerm removes every driver for the kernel; kernel_postinst puts it back' '
	dkms kernel_prerm -k "$K1" >out &&
	test -z "$(modfile "$K1")" &&
	dkms status -k "$K1" >out &&
	echo "kbt-hello/1.0: added" >expect &&
	test_cmp expect out &&
	dkms kernel_preinst -k "$K1" >out &&
	kbuildd_dkms kernel_postinst -k "$K1" >out &&
	test_grep "^kbt-hello/1.0 *$K1 *installed$" out &&
	test -n "$(modfile "$K1")"
'

test_expect_success 'one kernel exactly for autoinstall and kernel_*: exit 4, --all exit 5' '
	test_expect_code 4 dkms kernel_postinst 2>err &&
	test_grep "The action kernel_postinst requires exactly one kernel version parameter" err &&
	test_expect_code 4 dkms kernel_prerm 2>err &&
	test_expect_code 5 dkms autoinstall --all 2>err &&
	test_grep "The action autoinstall does not support the --all parameter" err &&
	test_expect_code 4 kbuildd_dkms autoinstall -k "$K1" -k 0.0.0-other 2>err &&
	test_grep "does not support multiple kernel version parameters" err &&
	test_expect_code 5 dkms install kbt-hello/1.0 --all 2>err &&
	test_expect_code 2 dkms remove kbt-hello/1.0 --all -k "$K1" 2>err &&
	test_grep "You cannot specify a kernel version and also specify" err
'

test_expect_success 'dkms remove --all uninstalls everywhere and unregisters, twice without failing' '
	dkms remove -m kbt-hello -v 1.0 --all >out &&
	test_grep "^unregistered kbt-hello/1.0$" out &&
	for k in $KERNELS; do
		test -z "$(modfile "$k")" || exit 1
	done &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/kbt-hello" &&
	dkms status >out &&
	test_must_fail test -s out &&
	dkms remove kbt-hello/1.0 --all
'

# --- where the source comes from ---------------------------------------------

test_expect_success 'add -m -v takes the tree from /usr/src below the root' '
	dkms_src "$ROOT/usr/src/kbt-src-2.0" kbt-src 2.0 &&
	dkms add -m kbt-src -v 2.0 >out &&
	test_grep "^registered kbt-src/2.0$" out &&
	dkms remove kbt-src/2.0 --all
'

test_expect_success 'install of a driver not added yet adds it from /usr/src first, as DKMS does' '
	dkms install kbt-src/2.0 -k "$K1" >out &&
	test_grep "^kbt-src/2.0 *$K1 *installed$" out &&
	test_path_is_dir "$ROOT/var/lib/kbuildd/recipes/kbt-src/2.0" &&
	dkms remove kbt-src/2.0 --all
'

test_expect_success 'build of a source tree or a dkms.conf registers it first' '
	dkms_src path-1.0 kbt-path 1.0 &&
	dkms build ./path-1.0 -k "$K1" >out &&
	test_grep "^kbt-path/1.0 *$K1 *built$" out &&
	dkms install path-1.0/dkms.conf -k "$K1" >out &&
	test_grep "^kbt-path/1.0 *$K1 *installed$" out &&
	dkms remove kbt-path/1.0 --all
'

# --- DKMS exit statuses --------------------------------------------------------

test_expect_success 'BUILD_EXCLUSIVE_ARCH excludes: build exits 77, autoinstall 0 saying so' '
	dkms_src excl-1.0 kbt-excl 1.0 "BUILD_EXCLUSIVE_ARCH=none" &&
	dkms add excl-1.0 &&
	test_expect_code 77 dkms build kbt-excl/1.0 -k "$K1" >out &&
	test_grep "^kbt-excl/1.0 *$K1 *excluded" out &&
	dkms autoinstall -k "$K1" >out &&
	test_grep "^kbt-excl/1.0 *$K1 *excluded" out &&
	dkms status kbt-excl >out &&
	echo "kbt-excl/1.0: added" >expect &&
	test_cmp expect out &&
	dkms remove kbt-excl/1.0 --all
'

test_expect_success 'a driver whose make fails: build exits 10, autoinstall and kernel_postinst 11' '
	dkms_src fail-1.0 kbt-fail 1.0 "MAKE=\"make all\"" &&
	printf "all:\n\t@echo kbt-fail: deliberate failure; exit 1\n" >fail-1.0/Makefile &&
	dkms add fail-1.0 &&
	test_expect_code 10 dkms build kbt-fail/1.0 -k "$K1" >out 2>err &&
	test_grep "^kbt-fail/1.0 *$K1 *failed" out &&
	test_grep "kbt-fail: deliberate failure" err &&
	test_expect_code 11 dkms autoinstall -k "$K1" >out 2>err &&
	test_grep "^kbt-fail/1.0 *$K1 *failed" out &&
	test_expect_code 11 kbuildd_dkms kernel_postinst -k "$K1" >out 2>err &&
	dkms remove kbt-fail/1.0 --all
'

# --- what kbuildd's dkms refuses, and what it ignores -------------------------

test_expect_success 'options kbuildd cannot honour are refused with exit 2 and the reason' '
	dkms_src hello-1.0 kbt-hello 1.0 &&
	test_expect_code 2 dkms build hello-1.0 --kernelsourcedir /usr/src/linux 2>err &&
	test_grep "^Error! --kernelsourcedir is not supported: kbuildd finds headers at /lib/modules/KERNEL/build$" err &&
	for opt in --dkmstree --sourcetree --installtree --directive -c --config; do
		test_expect_code 2 dkms install hello-1.0 $opt x 2>err &&
		test_grep -- "^Error! $opt is not supported: " err || exit 1
	done &&
	test_expect_code 2 dkms build hello-1.0 -k "$K1/not-$ARCH" 2>err &&
	test_grep "architecture .not-$ARCH. is not supported: kbuildd builds for this machine.s, $ARCH" err &&
	test_expect_code 2 dkms status -a not-$ARCH 2>err &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/kbt-hello"
'

test_expect_success 'unknown or unsupported actions exit 2 and missing modules 1, in DKMS words' '
	test_expect_code 2 dkms frobnicate 2>err &&
	test_grep "^Error! Unknown action specified: \"frobnicate\"$" err &&
	test_grep "kernel_postinst" err &&
	test_expect_code 2 kbuildd_dkms 2>err &&
	test_grep "^Error! No action specified" err &&
	for action in mktarball ldtarball match; do
		test_expect_code 2 dkms $action 2>err &&
		test_grep "^Error! dkms $action is not supported by kbuildd" err || exit 1
	done &&
	test_expect_code 1 dkms remove -m kbt-hello 2>err &&
	test_grep "^Error! Arguments <module> and <module-version> are not specified.$" err &&
	test_expect_code 2 dkms status --frobnicate 2>err &&
	test_grep "^Error! Unknown option: --frobnicate$" err &&
	test_expect_code 4 dkms build install kbt-hello/1.0 2>err
'

test_expect_success 'deprecated options are accepted without a word' '
	dkms status --no-initrd --no-clean-kernel --no-prepare-kernel --rpm_safe_upgrade \
		--force-version-override >out 2>err &&
	test_must_fail test -s err
'

# --- installing the link, and the man page --------------------------------------

test_expect_success 'make install DKMS_COMPAT=1 links dkms to kbuildd; uninstall removes only that link' '
	DEST=$TRASH/dest &&
	make -s -C "$TOP" install-files DESTDIR="$DEST" PREFIX=/usr BIN="$KBUILDD" &&
	test_path_is_missing "$DEST/usr/sbin/dkms" &&
	make -s -C "$TOP" install-files DESTDIR="$DEST" PREFIX=/usr BIN="$KBUILDD" DKMS_COMPAT=1 &&
	test "$(readlink "$DEST/usr/sbin/dkms")" = kbuildd &&
	"$DEST/usr/sbin/dkms" --version >out &&
	test_grep "^dkms-3" out &&
	make -s -C "$TOP" uninstall DESTDIR="$DEST" PREFIX=/usr >/dev/null &&
	test_path_is_missing "$DEST/usr/sbin/dkms" &&
	mkdir -p "$DEST/usr/sbin" &&
	echo "#!/bin/sh" >"$DEST/usr/sbin/dkms" &&
	test_must_fail make -s -C "$TOP" install-files DESTDIR="$DEST" PREFIX=/usr \
		BIN="$KBUILDD" DKMS_COMPAT=1 2>err &&
	test_grep "is not kbuildd.s link" err &&
	make -s -C "$TOP" uninstall DESTDIR="$DEST" PREFIX=/usr >/dev/null &&
	test_path_is_file "$DEST/usr/sbin/dkms"
'

test_expect_success MANTOOLS 'kbuildd-dkms(8) lints clean and describes every action of dkms --help' '
	scdoc <"$TOP/doc/kbuildd-dkms.8.scd" >kbuildd-dkms.8 &&
	mandoc -T lint -W warning kbuildd-dkms.8 >lint 2>&1 || : &&
	test_must_fail grep -Ev "skipping paragraph macro: PP (empty|after SH|after SS)$" lint &&
	dkms --help | sed -n "/^Actions:/,/^$/s/^  \([a-z_]*\) .*/\1/p" >actions &&
	test $(wc -l <actions) -ge 10 &&
	while read -r action; do
		grep -q "^\\\\fB$action\\\\fR" kbuildd-dkms.8 || {
			echo "kbuildd-dkms.8 does not describe $action" >&2
			exit 1
		}
	done <actions
'

test_done
