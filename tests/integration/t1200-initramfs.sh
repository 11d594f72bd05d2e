#!/bin/sh
# Initramfs regeneration: once per kernel however many recipes change, only
# for modules marked initramfs = yes, left to the distribution's own hook
# when run from postinst.d, and never losing the previous image on failure.
# The generator is a command backend that logs its calls. Then what goes in:
# a marked module and everything modules.dep says it needs, whether another
# recipe's or the kernel's own, in the builtin image and in what the real
# initramfs-tools and dracut make of kbuildd's lists.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
NK=$(echo $KERNELS | wc -w)

test_expect_success 'setup: five recipes whose module must be in the initramfs' '
	mkdir -p "$ROOT/usr/local/bin" &&
	write_script "$ROOT/usr/local/bin/mkird" <<-\EOF &&
	echo "$1" >>"$(dirname "$0")/calls"
	EOF
	mkdir -p "$ROOT/etc/kbuildd" &&
	printf "[initramfs]\nbackend = command\ncommand = $ROOT/usr/local/bin/mkird {kernel_release}\n" \
		>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	for n in 1 2 3 4 5; do
		mkdir -p src$n && cp "$TOP"/examples/hello/* src$n/ &&
		sed -i "s/hello/early$n/g" src$n/Kbuild &&
		mv src$n/hello.c src$n/early$n.c &&
		printf "%s\n" "[recipe]" "name = early$n" "version = 1" "[source]" "path = src$n" \
			"[module early$n]" "initramfs = yes" >early$n.recipe || exit 1
	done
'

test_expect_success 'five changed recipes: one regeneration per kernel' '
	kb install early1.recipe early2.recipe early3.recipe early4.recipe early5.recipe >out &&
	test "$(wc -l <"$ROOT/usr/local/bin/calls")" -eq "$NK" &&
	for k in $KERNELS; do
		test "$(grep -c "^$k$" "$ROOT/usr/local/bin/calls")" = 1 || exit 1
	done
'

test_expect_success 'the generators are told which modules to carry' '
	printf "# Written by kbuildd for early1; removed with it.\nearly1\n" >expect &&
	test_cmp expect "$ROOT/usr/share/initramfs-tools/modules.d/kbuildd-early1" &&
	printf "# Written by kbuildd for early1; removed with it.\nadd_drivers+=\" early1 \"\n" >expect &&
	test_cmp expect "$ROOT/etc/dracut.conf.d/kbuildd-early1.conf"
'

test_expect_success 'nothing changed: no regeneration' '
	rm "$ROOT/usr/local/bin/calls" &&
	kb rebuild --all >/dev/null &&
	test_path_is_missing "$ROOT/usr/local/bin/calls"
'

test_expect_success 'a module not marked initramfs = yes regenerates nothing' '
	kb install "$TOP/recipes/hello.recipe" >/dev/null &&
	test_path_is_missing "$ROOT/usr/local/bin/calls"
'

test_expect_success 'from postinst.d (--hook) the distribution regenerates; --initramfs makes kbuildd do it' '
	K=${KERNELS%% *} &&
	kb remove early1/1 -k "$K" >/dev/null &&
	kb rebuild --hook -k "$K" &&
	test_path_is_missing "$ROOT/usr/local/bin/calls" &&
	kb remove early1/1 -k "$K" >/dev/null &&
	kb rebuild --hook --initramfs -k "$K" &&
	test "$(cat "$ROOT/usr/local/bin/calls")" = "$K" &&
	rm "$ROOT/usr/local/bin/calls" &&
	kb remove early1/1 -k "$K" >/dev/null &&
	kb rebuild --no-initramfs -k "$K" >/dev/null &&
	test_path_is_missing "$ROOT/usr/local/bin/calls"
'

test_expect_success 'a failing generator: exit 1, the message says the old image is unchanged' '
	K=${KERNELS%% *} &&
	write_script "$ROOT/usr/local/bin/mkird" <<-\EOF &&
	exit 3
	EOF
	kb remove early2/1 -k "$K" >/dev/null &&
	test_expect_code 1 kb rebuild -k "$K" >out 2>err &&
	test_grep "failed (exit status 3); the previous initramfs is unchanged" err
'

test_expect_success 'an image carrying an older copy of a replaced module is regenerated' '
	K=${KERNELS%% *} &&
	write_script "$ROOT/usr/local/bin/mkird" <<-\EOF &&
	echo "$1" >>"$(dirname "$0")/calls"
	EOF
	rm -f "$ROOT/usr/local/bin/calls" &&
	mkdir -p img/lib/modules/$K/updates/kbuildd &&
	echo "old build" >img/lib/modules/$K/updates/kbuildd/hello.ko &&
	mkdir -p "$ROOT/boot" &&
	(cd img && find . | cpio -o -H newc 2>/dev/null | gzip) >"$ROOT/boot/initrd.img-$K" &&
	kb remove hello/1.0.0 -k "$K" >/dev/null &&
	kb install hello -k "$K" >/dev/null &&
	test "$(cat "$ROOT/usr/local/bin/calls")" = "$K"
'

test_expect_success 'removing the recipe removes the generator lists' '
	kb remove early1/1 --all >/dev/null &&
	test_path_is_missing "$ROOT/usr/share/initramfs-tools/modules.d/kbuildd-early1" &&
	test_path_is_missing "$ROOT/etc/dracut.conf.d/kbuildd-early1.conf"
'

# --- the dependency closure ---------------------------------------------

kb_root closure
K=${K612:-${KERNELS%% *}}
MODDIR=$ROOT/lib/modules/$K

test_expect_success 'closure: setup: a kernel module "intree" and two marked modules needing others' '
	mkdir -p "$ROOT/usr/src/intree" "$MODDIR/kernel/lib" &&
	cp "$TOP"/examples/provider/* "$ROOT/usr/src/intree/" &&
	(cd "$ROOT/usr/src/intree" && sed -i "s/provider/intree/g" Kbuild provider.c &&
		mv provider.c intree.c && mv provider.h intree.h && rm Makefile) &&
	{ make -s -C "$MODDIR/build" M="$ROOT/usr/src/intree" modules >make.log 2>&1 ||
		{ cat make.log; exit 1; }; } &&
	if grep -q "^CONFIG_MODULE_COMPRESS_XZ=y" "$MODDIR/build/.config"; then
		xz --check=crc32 -c "$ROOT/usr/src/intree/intree.ko" >"$MODDIR/kernel/lib/intree.ko.xz"
	else
		cp "$ROOT/usr/src/intree/intree.ko" "$MODDIR/kernel/lib/"
	fi &&
	depmod -b "$ROOT" "$K" 2>/dev/null &&
	mkdir usesintree && cp "$TOP"/examples/consumer/* usesintree/ &&
	(cd usesintree && sed -i "s/provider/intree/g; s/consumer/usesintree/g" Kbuild consumer.c &&
		mv consumer.c usesintree.c) &&
	printf "%s\n" "[recipe]" "name = usesintree" "version = 1" "[source]" "path = usesintree" \
		"[build]" "make_args = KBUILD_EXTRA_SYMBOLS=$ROOT/usr/src/intree/Module.symvers" \
		"[module usesintree]" "initramfs = yes" >usesintree.recipe &&
	cp -r "$TOP/examples/provider" provider &&
	sed "s|path = ../examples/provider|path = provider|" \
		"$TOP/recipes/provider.recipe" >provider.recipe &&
	sed "s|path = ../examples/consumer|path = $TOP/examples/consumer|" \
		"$TOP/recipes/consumer.recipe" >consumer.recipe &&
	printf "initramfs = yes\n" >>consumer.recipe &&
	mkdir -p base "$ROOT/boot" "$ROOT/etc/kbuildd" && echo "#!/bin/sh" >base/init &&
	(cd base && find . | cpio -o -H newc 2>/dev/null | gzip) >"$ROOT/boot/initrd.img-$K" &&
	printf "[initramfs]\nbackend = builtin\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	printf "%s\n" kernel/lib/intree.ko updates/kbuildd/consumer.ko updates/kbuildd/provider.ko \
		updates/kbuildd/usesintree.ko >closure.list &&
	printf "%s\n" "kernel/lib/intree.ko:" \
		"updates/kbuildd/consumer.ko: updates/kbuildd/provider.ko" \
		"updates/kbuildd/provider.ko:" "updates/kbuildd/usesintree.ko: kernel/lib/intree.ko" \
		>closure.dep
'

# the modules below DIR/lib/modules/$K, decompressed names, sorted
image_modules () {
	(cd "$(find "$1" -type d -path "*/lib/modules/$K" | head -n 1)" &&
		find . -name "*.ko*" | sed "s|^./||; s|\.ko.*|.ko|" | sort)
}

# unpack_image DIR: the builtin image of $K (gzip, as the base was) into DIR
unpack_image () {
	rm -rf "$1" && mkdir "$1" &&
	(cd "$1" && gzip -dc "$ROOT/boot/initrd.img-$K" | cpio -id --quiet)
}

test_expect_success 'closure: the builtin image carries what the marked modules need' '
	kb install -k "$K" provider.recipe consumer.recipe usesintree.recipe >out &&
	unpack_image builtin &&
	image_modules builtin >builtin.list &&
	test_cmp closure.list builtin.list &&
	sort builtin/lib/modules/$K/modules.dep >builtin.dep &&
	test_cmp closure.dep builtin.dep
'

test_expect_success 'closure: a new build of the dependency replaces its copy in the image' '
	sed -i "s/MODULE_VERSION(\"1.0.0\")/MODULE_VERSION(\"1.0.1\")/" provider/provider.c &&
	kb add --force provider.recipe >/dev/null &&
	kb rebuild -k "$K" >out &&
	test_grep "^provider/1.0.0 .* installed$" out &&
	unpack_image builtin &&
	test "$(find builtin -name "provider.ko*" | wc -l)" = 1 &&
	test "$(/sbin/modinfo -F version builtin/lib/modules/$K/updates/kbuildd/provider.ko)" = 1.0.1
'

# As the distribution's hook does after kbuildd's: real mkinitramfs, in a
# mount namespace where the fake root's modules and lists are the system's.
if [ "$(id -u)" = 0 ] && command -v mkinitramfs >/dev/null &&
	unshare --mount --propagation private true 2>/dev/null; then
	test_set_prereq MKINITRAMFS
fi
DRACUT_INSTALL=$("$TEST_DIRECTORY/lib/dracut-install" 2>dracut-install.err) &&
	test_set_prereq DRACUT_INSTALL

test_expect_success MKINITRAMFS 'closure: initramfs-tools makes the same of the lists' '
	mkdir itconf && cp -r /etc/initramfs-tools/. itconf/ &&
	sed -i "s/^MODULES=.*/MODULES=list/" itconf/initramfs.conf &&
	TMPDIR=$TRASH unshare --mount --propagation private sh -ec "
		mount --bind \"$ROOT/lib/modules\" /lib/modules
		mount --bind \"$ROOT/usr/share/initramfs-tools/modules.d\" \\
			/usr/share/initramfs-tools/modules.d
		mkinitramfs -d \"$TRASH/itconf\" -o \"$TRASH/it.img\" \"$K\"" >it.log 2>&1 ||
		{ cat it.log; exit 1; } &&
	mkdir it && unmkinitramfs it.img it &&
	image_modules it >it.list &&
	test_cmp closure.list it.list &&
	sort "$(find it -path "*/lib/modules/$K/modules.dep")" >it.dep &&
	test_cmp closure.dep it.dep
'

test_expect_success DRACUT_INSTALL 'closure: dracut installs the same for its add_drivers' '
	# dracut sources its configuration with bash
	add_drivers=$(bash -c "for f; do . \"\$f\"; done; echo \$add_drivers" sh \
		"$ROOT"/etc/dracut.conf.d/kbuildd-*.conf) &&
	test -n "$add_drivers" &&
	mkdir dracut &&
	"$DRACUT_INSTALL" -D "$TRASH/dracut" --kerneldir "$MODDIR" -m $add_drivers &&
	image_modules dracut >dracut.list &&
	test_cmp closure.list dracut.list
'

test_done
