#!/bin/sh
# Initramfs regeneration: once per kernel however many recipes change, only
# for modules marked initramfs = yes, left to the distribution's own hook
# when run from postinst.d, and never losing the previous image on failure.
# The generator is a command backend that logs its calls.
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

test_done
