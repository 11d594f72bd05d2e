#!/bin/sh
# What a run shows while it goes on, and the order builds start in: each
# build's time is recorded, the longest expected starts first, and on a
# terminal one live line replaces the line per build.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K1=${KERNELS%% *}
K2=${KERNELS##* }
[ "$K1" = "$K2" ] || test_set_prereq TWO_KERNELS
B=$ROOT/var/lib/kbuildd/builds

first_started () {
	sed -n "s/^kbuildd: building \([a-z]*\)\/.*/\1/p" "$1" | head -n 1
}

test_expect_success 'each build records how long it took' '
	kb add "$TOP/recipes/hello.recipe" "$TOP/recipes/greeter.recipe" >/dev/null &&
	kb build hello greeter -k "$K1" >out 2>err &&
	grep -Eq "^[0-9]+\.[0-9]$" "$B/hello/1.0.0/$K1.seconds" &&
	grep -Eq "^[0-9]+\.[0-9]$" "$B/greeter/1.0.0/$K1.seconds"
'

test_expect_success 'the build recorded as longest starts first' '
	echo 900.0 >"$B/greeter/1.0.0/$K1.seconds" &&
	echo 1.0 >"$B/hello/1.0.0/$K1.seconds" &&
	kb build --force -j 1 hello greeter -k "$K1" >out 2>err &&
	test "$(first_started err)" = greeter &&
	echo 900.0 >"$B/hello/1.0.0/$K1.seconds" &&
	echo 1.0 >"$B/greeter/1.0.0/$K1.seconds" &&
	kb build --force -j 1 greeter hello -k "$K1" >out 2>err &&
	test "$(first_started err)" = hello
'

test_expect_success TWO_KERNELS 'a kernel not built for yet takes the time another kernel took' '
	echo 900.0 >"$B/hello/1.0.0/$K1.seconds" &&
	echo 1.0 >"$B/greeter/1.0.0/$K1.seconds" &&
	rm -f "$B/hello/1.0.0/$K2.seconds" "$B/greeter/1.0.0/$K2.seconds" &&
	kb build --force -j 1 greeter hello -k "$K2" >out 2>err &&
	test "$(first_started err)" = hello
'

test_expect_success 'on a terminal, one live line instead of a line per build' '
	script -qec "\"$KBUILDD\" --root \"$ROOT\" build --force hello greeter -k \"$K1\"" tty.out >/dev/null &&
	test_grep "kbuildd: [0-9] of 2 built" tty.out &&
	! grep -q "kbuildd: building" tty.out &&
	test_grep "2 built" tty.out
'

test_expect_success 'on a terminal, a failed build'"'"'s error takes the live line'"'"'s place' '
	kb add "$TOP/examples/broken" >/dev/null &&
	test_expect_code 1 script -qec "\"$KBUILDD\" --root \"$ROOT\" build broken -k \"$K1\"" tty.out >/dev/null &&
	# what is left of the line once the terminal applies \r and erase-to-end
	sed "s/.*\r\x1b\[K//" tty.out >shown &&
	test_grep "^kbuildd: error: broken/1.0.0 for $K1: build failed" shown &&
	kb remove broken/1.0.0 --all >/dev/null
'

test_expect_success 'in a pipe, a line per build started, as before' '
	kb build --force hello greeter -k "$K1" 2>&1 | cat >out &&
	test_grep "^kbuildd: building hello/1.0.0 for $K1$" out &&
	test_grep "^kbuildd: building greeter/1.0.0 for $K1$" out &&
	! grep -q "of 2 built" out
'

test_expect_success 'remove takes the recorded times with the builds' '
	kb remove hello/1.0.0 greeter/1.0.0 --all >/dev/null &&
	test_path_is_missing "$B/hello" &&
	test_path_is_missing "$B/greeter"
'

test_done
