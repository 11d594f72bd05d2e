#!/bin/sh
# Everything a recipe, a source tree, a patch or a build leaves behind is
# the attacker's: FIFOs where files belong, damaged modules, symlinks to
# secrets, trees too large to walk, dest paths through the kernel's own
# symlinks, two recipes claiming one module, and a standard output that
# cannot be written. Each is refused with a message naming it, fails only
# what it belongs to, and never hangs or crashes kbuildd.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${K612:-${KERNELS%% *}}
export K

# write_recipe FILE NAME SOURCE MODULE [BUILD-LINE...]: a recipe of version
# 1.0 with one [module MODULE]; each BUILD-LINE goes into [build]
write_recipe () {
	_wr_file=$1 _wr_name=$2 _wr_source=$3 _wr_module=$4
	shift 4
	{
		printf "[recipe]\nname = %s\nversion = 1.0\n[source]\npath = %s\n" \
			"$_wr_name" "$_wr_source"
		[ $# -eq 0 ] || echo "[build]"
		for _wr_line in "$@"; do
			echo "$_wr_line"
		done
		echo "[module $_wr_module]"
	} >"$_wr_file"
}

# kb_quick ARGS...: kbuildd that must answer within a few seconds (a FIFO
# opened for reading would block it forever)
kb_quick () {
	timeout -k 5 20 "$KBUILDD" --root "$ROOT" "$@"
}

# --- files that are not regular files -----------------------------------

test_expect_success 'a FIFO given as a recipe is refused at once, naming it' '
	mkfifo fifo.recipe &&
	test_expect_code 2 kb_quick add fifo.recipe 2>err &&
	test_grep "error: .fifo.recipe. is not a regular file" err &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes"
'

test_expect_success 'a FIFO as dkms.conf or kbuildd.recipe of a tree is refused the same way' '
	mkdir -p dkms-fifo recipe-fifo &&
	mkfifo dkms-fifo/dkms.conf recipe-fifo/kbuildd.recipe &&
	test_expect_code 2 kb_quick add dkms-fifo/dkms.conf 2>err &&
	test_grep "error: .dkms-fifo/dkms.conf. is not a regular file" err &&
	test_expect_code 2 kb_quick add recipe-fifo 2>err &&
	test_grep "error: .recipe-fifo/kbuildd.recipe. is not a regular file" err
'

test_expect_success 'a FIFO as kbuildd.conf is refused, named, for --config and under the root' '
	mkfifo fifo.conf &&
	test_expect_code 2 kb_quick --config fifo.conf status 2>err &&
	test_grep "error: .fifo.conf. is not a regular file" err &&
	mkdir -p "$ROOT/etc/kbuildd" &&
	mkfifo "$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_expect_code 2 kb_quick status 2>err &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_grep "error: .$ROOT/etc/kbuildd/kbuildd.conf. is not a regular file" err
'

# --- build outputs that are not sound modules ---------------------------
#
# Two drivers whose builds "succeed": one leaves a FIFO where its module
# should be, the other a real module whose section header count is then
# broken (libkmod asserts on it). Built beside hello in one rebuild --all.

test_expect_success 'setup: a driver leaving a FIFO and one leaving a broken module' '
	mkdir fifo-drv mangled-drv &&
	printf "all:\n\tmkfifo fifoout.ko\n" >fifo-drv/Makefile &&
	write_recipe fifoout.recipe fifoout fifo-drv fifoout "make = make" &&
	cp "$TOP/examples/hello/hello.c" mangled-drv/ &&
	printf "obj-m := mangled.o\nmangled-y := hello.o\n" >mangled-drv/Kbuild &&
	cat >mangled-drv/mangle.py <<-\EOT &&
	import struct, sys
	path, field = sys.argv[1], sys.argv[2]
	data = bytearray(open(path, "rb").read())
	shnum, shstrndx = struct.unpack_from("<HH", data, 0x3c)
	if field == "shnum":
	    # as many sections as the name table index: that index is now past the last
	    struct.pack_into("<H", data, 0x3c, shstrndx)
	else:
	    struct.pack_into("<H", data, 0x3e, shnum + 5)
	open(path, "wb").write(data)
	EOT
	printf "all:\n\t\$(MAKE) -C \$(KDIR) M=\$(CURDIR) modules\n\tpython3 mangle.py mangled.ko shnum\n" \
		>mangled-drv/Makefile &&
	write_recipe mangled.recipe mangled mangled-drv mangled "make = make KDIR={kernel_build}" &&
	kb add "$TOP/recipes/hello.recipe" fifoout.recipe mangled.recipe >out &&
	test_grep "registered mangled/1.0" out
'

test_expect_success 'rebuild --all: each bad output fails its recipe alone, hello installs' '
	test_expect_code 1 timeout -k 10 180 "$KBUILDD" --root "$ROOT" rebuild --all >out 2>err &&
	for k in $KERNELS; do
		test_grep "fifoout/1.0 for $k: the build.s .fifoout.ko. (module fifoout) is not a regular file" err &&
		test_grep "mangled/1.0 for $k: module mangled.ko is not a valid kernel module: e_shstrndx [0-9]* is not a section" err &&
		ls "$ROOT/lib/modules/$k/updates/kbuildd" >installed &&
		test_grep "^hello.ko" installed &&
		test_grep -v "fifoout\|mangled" installed || exit 1
	done &&
	kb status >status &&
	test_grep "^hello/1.0.0 *$K *installed" status
'

test_expect_success 'doctor on a broken module or a FIFO exits 2 with the reason, no abort' '
	cp "$ROOT/var/lib/kbuildd/builds/mangled/1.0/$K/src/mangled.ko" shnum.ko &&
	test_expect_code 2 kb_quick doctor -k "$K" shnum.ko 2>err &&
	test_grep "error: module .*/shnum.ko. is not a valid kernel module: e_shstrndx" err &&
	xz -dc "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko.xz" >shstrndx.ko 2>/dev/null ||
		cp "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko" shstrndx.ko &&
	python3 mangled-drv/mangle.py shstrndx.ko shstrndx &&
	test_expect_code 2 kb_quick doctor -k "$K" shstrndx.ko 2>err &&
	test_grep "error: module .*/shstrndx.ko. is not a valid kernel module: e_shstrndx [0-9]* is not a section" err &&
	mkfifo fifo.ko &&
	test_expect_code 2 kb_quick doctor -k "$K" fifo.ko 2>err &&
	test_grep "error: module .*/fifo.ko. is not a regular file: it is a FIFO" err
'

test_expect_success 'doctor on an installed module damaged in place exits 2, naming it' '
	mod=$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*) &&
	cp "$mod" hello.saved &&
	python3 - "$mod" <<-\EOF &&
	import lzma, struct, sys
	path = sys.argv[1]
	raw = open(path, "rb").read()
	xz = raw.startswith(b"\xfd7zXZ\0")
	data = bytearray(lzma.decompress(raw) if xz else raw)
	struct.pack_into("<H", data, 0x3e, 0xfff0)
	open(path, "wb").write(lzma.compress(bytes(data), check=lzma.CHECK_CRC32) if xz else data)
	EOF
	test_expect_code 2 kb_quick doctor hello -k "$K" 2>err &&
	cp hello.saved "$mod" &&
	test_grep "error: module .$mod. is not a valid kernel module: e_shstrndx 65520 is not a section" err &&
	kb doctor hello -k "$K" >out &&
	test_grep "ok  *vermagic" out
'

test_expect_success 'doctor says the symbols were not checked when libkmod cannot read them' '
	xz -dc "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko.xz" >nosymtab.ko 2>/dev/null ||
		cp "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko" nosymtab.ko &&
	python3 - nosymtab.ko <<-\EOF &&
	import sys
	data = bytearray(open(sys.argv[1], "rb").read())
	# rename the section: a module without a .symtab is sound, but has no imports to read
	at = data.find(b"\0.symtab\0")
	assert at > 0
	data[at + 1:at + 8] = b".nosymt"
	open(sys.argv[1], "wb").write(data)
	EOF
	rc=0 &&
	kb_quick doctor -k "$K" nosymtab.ko >out || rc=$?
	test "$rc" -le 1 &&
	test_grep "info  *symbols  *not checked: libkmod cannot read the imported symbols" out &&
	test_grep -v "imported symbols are exported" out
'

# --- symlinks out of a recipe's tree ------------------------------------
#
# A secret only root may read, with contents that must never appear in
# the state: what a patch or a source symlink pointing at the signing key
# would disclose.

test_expect_success 'setup: a 0600 secret outside every recipe' '
	echo "kbuildd-secret-$$" >secret.key &&
	chmod 600 secret.key
'

test_expect_success 'a patch that is a symlink is refused at add, naming it; nothing registered' '
	mkdir -p leak/pdir &&
	cp "$TOP/examples/hello/"* leak/ &&
	ln -s "$TRASH/secret.key" leak/x.patch &&
	write_recipe leak/leak.recipe leak . hello "patches = x.patch" &&
	test_expect_code 2 kb add leak/leak.recipe 2>err &&
	test_grep "leak.recipe: patch .x.patch. is a symbolic link" err &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/leak" &&
	! grep -rq "kbuildd-secret" "$ROOT"
'

test_expect_success 'a patch behind a symlinked directory is refused the same way' '
	rm leak/x.patch && rmdir leak/pdir &&
	mkdir elsewhere && echo "kbuildd-secret-$$" >elsewhere/y.patch && chmod 600 elsewhere/y.patch &&
	ln -s "$TRASH/elsewhere" leak/pdir &&
	sed -i "s|^patches = .*|patches = pdir/y.patch|" leak/leak.recipe &&
	test_expect_code 2 kb add leak/leak.recipe 2>err &&
	test_grep "patch .pdir/y.patch. is a symbolic link, or lies behind one" err &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/leak" &&
	! grep -rq "kbuildd-secret" "$ROOT"
'

test_expect_success 'a source symlink is copied as a symlink, never read; modes are not widened' '
	mkdir -p linked/private &&
	cp "$TOP/examples/hello/"* linked/ &&
	ln -s "$TRASH/secret.key" linked/signing_key.pem &&
	echo "not for everyone" >linked/private/notes && chmod 700 linked/private &&
	write_recipe linked.recipe linked linked hello &&
	kb add linked.recipe >out &&
	snap=$ROOT/var/lib/kbuildd/recipes/linked/1.0/source &&
	test -L "$snap/signing_key.pem" &&
	test "$(readlink "$snap/signing_key.pem")" = "$TRASH/secret.key" &&
	! grep -rq "kbuildd-secret" "$ROOT" &&
	test "$(stat -c %a "$snap/private")" = 700 &&
	kb remove linked/1.0 --all >/dev/null
'

test_expect_success 'a dkms.conf PATCH that is a symlink fails that driver, naming it' '
	. "$TEST_DIRECTORY/lib/dkms-tree.sh" &&
	dkms_tree dkmsleak-1.0 kbt_dkmsleak &&
	mkdir dkmsleak-1.0/patches &&
	ln -s "$TRASH/secret.key" dkmsleak-1.0/patches/x.patch &&
	printf "PACKAGE_NAME=kbt-dkmsleak\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_dkmsleak\nDEST_MODULE_LOCATION[0]=/updates\nPATCH[0]=x.patch\n" \
		>dkmsleak-1.0/dkms.conf &&
	kb add dkmsleak-1.0 >/dev/null &&
	test_expect_code 1 kb install kbt-dkmsleak -k "$K" >out 2>&1 &&
	test_grep "dkms.conf:5: PATCH\[0\] .x.patch. is a symbolic link, or lies behind one" out &&
	! grep -rq "kbuildd-secret" "$ROOT" &&
	kb remove kbt-dkmsleak/1.0 --all >/dev/null
'

# --- trees too large to walk --------------------------------------------

test_expect_success 'a path = tree of more than 100000 entries is refused, naming the limit' '
	mkdir big &&
	cp "$TOP/examples/hello/"* big/ &&
	python3 -c "
for i in range(100000):
    open(\"big/empty-%d\" % i, \"w\").close()
" &&
	write_recipe big.recipe big big hello &&
	test_expect_code 2 kb add big.recipe 2>err &&
	test_grep "error: .$TRASH/big. holds more than 100000 files, directories and symlinks; refused" err &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/big" &&
	rm -r big
'

# --- installs that leave lib/modules/K ----------------------------------

test_expect_success 'a dest through the kernel build link, or with empty parts, is refused at add' '
	write_recipe viabuild.recipe viabuild "$TOP/examples/hello" hello &&
	echo "dest = build/x" >>viabuild.recipe &&
	test_expect_code 2 kb add viabuild.recipe 2>err &&
	test_grep "viabuild.recipe:7: invalid dest .build/x." err &&
	sed -i "s|^dest = .*|dest = source|" viabuild.recipe &&
	test_expect_code 2 kb add viabuild.recipe 2>err &&
	test_grep "viabuild.recipe:7: invalid dest .source." err &&
	sed -i "s|^dest = .*|dest = updates//x|" viabuild.recipe &&
	test_expect_code 2 kb add viabuild.recipe 2>err &&
	test_grep "viabuild.recipe:7: invalid dest .updates//x." err &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/viabuild"
'

test_expect_success 'a DEST_MODULE_LOCATION with empty or . parts is refused with its line' '
	. "$TEST_DIRECTORY/lib/dkms-tree.sh" &&
	dkms_tree dotloc-1.0 kbt_dotloc &&
	printf "PACKAGE_NAME=kbt-dotloc\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=kbt_dotloc\nDEST_MODULE_LOCATION[0]=/updates/./x\n" \
		>dotloc-1.0/dkms.conf &&
	test_expect_code 2 kb add dotloc-1.0 2>err &&
	test_grep "dkms.conf:4: DEST_MODULE_LOCATION\[0\] ./updates/./x. must not contain empty or .\.. components" err
'

test_expect_success 'a symlink already in the dest path fails that install; nothing lands outside' '
	mkdir redir-drv outside &&
	cp "$TOP/examples/hello/hello.c" redir-drv/ &&
	printf "obj-m := redir.o\nredir-y := hello.o\n" >redir-drv/Kbuild &&
	write_recipe redir.recipe redir redir-drv redir &&
	echo "dest = updates/evil/deeper" >>redir.recipe &&
	mkdir -p "$ROOT/lib/modules/$K/updates" &&
	ln -s "$TRASH/outside" "$ROOT/lib/modules/$K/updates/evil" &&
	kb add redir.recipe >/dev/null &&
	test_expect_code 1 kb install redir -k "$K" >out 2>err &&
	test_grep "cannot write ./lib/modules/$K/updates/evil/deeper/redir.ko.*: a symbolic link is in the way below /lib/modules/$K; nothing was changed" err &&
	test_grep "^redir/1.0 .* failed" out &&
	find outside -mindepth 1 >leaked &&
	test_cmp /dev/null leaked &&
	rm "$ROOT/lib/modules/$K/updates/evil" &&
	kb install redir -k "$K" >out &&
	ls "$ROOT/lib/modules/$K/updates/evil/deeper/redir.ko"* &&
	kb remove redir/1.0 --all >/dev/null
'

# --- two recipes, one module name ---------------------------------------

test_expect_success 'a second recipe installing module hello fails, naming the first' '
	write_recipe twin.recipe twin "$TOP/examples/hello" hello &&
	echo "dest = extra/twin" >>twin.recipe &&
	kb add twin.recipe >/dev/null &&
	test_expect_code 1 kb install twin -k "$K" >out 2>err &&
	test_grep "twin/1.0 for $K: module hello is already installed by recipe hello/1.0.0 as ./lib/modules/$K/updates/kbuildd/hello.ko" err &&
	test_grep "^twin/1.0 *$K *failed: module hello is already installed by recipe hello/1.0.0" out &&
	test_path_is_missing "$ROOT/lib/modules/$K/extra/twin" &&
	kb status hello >status &&
	test_grep "^hello/1.0.0 *$K *installed" status
'

test_expect_success 'with --force it installs, and says what shadows what' '
	kb install --force twin -k "$K" >out 2>err &&
	test_grep "warning: twin for $K: module hello is also installed by recipe hello/1.0.0" err &&
	ls "$ROOT/lib/modules/$K/extra/twin/hello.ko"* &&
	kb remove twin/1.0 --all >/dev/null &&
	test_path_is_missing "$ROOT/lib/modules/$K/extra/twin"
'

# --- a standard output that cannot be written ---------------------------

test_expect_success 'output lost on a full disk fails the command, as coreutils do' '
	for args in "status" "kernels" "--help" "status --help"; do
		# shellcheck disable=SC2086
		test_expect_code 1 kb $args >/dev/full 2>err &&
		test_grep "^kbuildd: cannot write to standard output: No space left on device$" err ||
		exit 1
	done &&
	kb status >/dev/null
'

test_done
