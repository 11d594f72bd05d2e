#!/bin/sh
# selftest.sh - check test-lib.sh itself; needs no kbuildd binary.
# Test bodies are single-quoted on purpose: they are expanded when run.
# shellcheck disable=SC2016

# shellcheck disable=SC2034 # read by test-lib.sh
KB_TEST_NO_BINARY=1
# shellcheck source=tests/integration/test-lib.sh
. "$(dirname "$0")/test-lib.sh"

if PATH=$PATH:/usr/sbin:/sbin command -v depmod >/dev/null; then
	test_set_prereq DEPMOD
fi
test_set_prereq SELFTEST_PREREQ

test_expect_success 'a passing test passes' '
	true
'

test_expect_success 'tests run in a scratch directory with a fixed environment' '
	test "$(pwd -P)" = "$(cd "$TRASH" && pwd -P)" &&
	test "$LANG" = C && test "$LC_ALL" = C && test "$TZ" = UTC &&
	test "$SOURCE_DATE_EPOCH" = 1700000000 &&
	test -f "$TOP/tests/integration/test-lib.sh"
'

test_expect_success 'test_must_fail accepts a command that fails' '
	test_must_fail false
'

test_expect_success 'test_must_fail refuses a command that succeeds' '
	! (test_must_fail true) 2>err &&
	test_grep "command succeeded" err
'

test_expect_success 'test_must_fail --exit=N checks the exit status' '
	test_must_fail --exit=3 sh -c "exit 3" &&
	! (test_must_fail --exit=2 sh -c "exit 3") 2>err &&
	test_grep "exit 3, expected 2" err
'

test_expect_success 'test_must_fail refuses a command killed by a signal' '
	! (test_must_fail sh -c "kill -TERM \$\$") 2>err &&
	test_grep "died by signal 15" err &&
	! (test_must_fail sh -c "kill -SEGV \$\$") 2>err &&
	test_grep "died by signal 11" err
'

test_expect_success 'test_must_fail refuses a command that is not found' '
	! (test_must_fail ./no-such-command) 2>err &&
	test_grep "command not found" err
'

test_expect_success 'test_expect_code wants exactly that status' '
	test_expect_code 0 true &&
	test_expect_code 2 sh -c "exit 2" &&
	! (test_expect_code 1 sh -c "exit 2") 2>err &&
	test_grep "exit 2, expected 1" err
'

test_expect_success 'test_cmp passes on equal files and fails on a difference' '
	printf "a\nb\n" >expect &&
	printf "a\nb\n" >actual &&
	test_cmp expect actual &&
	printf "a\nc\n" >actual &&
	! (test_cmp expect actual) >diff &&
	test_grep "^+c$" diff
'

test_expect_success 'test_grep and test_grep -v' '
	printf "hello world\n" >file &&
	test_grep world file &&
	test_grep -v planet file &&
	! (test_grep planet file) 2>err &&
	test_grep "| hello world" err &&
	! (test_grep -v world file) 2>err &&
	test_grep "unexpected match" err
'

test_expect_success 'path checks' '
	mkdir dir && : >dir/file && ln -s nowhere dir/dangling &&
	test_path_is_dir dir &&
	test_path_is_file dir/file &&
	test_path_is_missing dir/none &&
	! (test_path_is_missing dir/dangling) 2>/dev/null &&
	! (test_path_is_file dir) 2>/dev/null &&
	! (test_path_is_dir dir/file) 2>/dev/null
'

test_expect_success 'body variables do not leak between tests (subshell)' '
	leaked=yes
'
test_expect_success 'the next test does not see them' '
	test -z "${leaked-}"
'

test_expect_success 'tree_snapshot is stable and detects a one-byte change' '
	mkdir -p tree/sub outside &&
	printf "0123456789\n" >tree/sub/data &&
	printf "x\n" >outside/big &&
	ln -s ../outside tree/link &&
	tree_snapshot tree >before &&
	tree_snapshot tree >again &&
	test_cmp before again &&
	test_grep "^link l -> ../outside$" before &&
	test_grep -v "^link/" before &&
	printf "0123456780\n" >tree/sub/data &&
	tree_snapshot tree >after &&
	! (test_cmp before after) &&
	test_grep "^sub/data f 644 11 " after
'

test_expect_success 'tree_snapshot sees mode changes and symlink retargets, not link contents' '
	tree_snapshot tree >before &&
	printf "changed\n" >outside/big &&
	tree_snapshot tree >after &&
	test_cmp before after &&
	chmod 600 tree/sub/data &&
	tree_snapshot tree >after &&
	! (test_cmp before after) &&
	chmod 644 tree/sub/data &&
	ln -sfn ../elsewhere tree/link &&
	tree_snapshot tree >after &&
	! (test_cmp before after) &&
	test_grep "^link l -> ../elsewhere$" after
'

test_expect_success SELFTEST_PREREQ 'a test whose prerequisite is set runs' '
	true
'

test_expect_success SELFTEST_MISSING 'a test whose prerequisite is missing is skipped' '
	false
'

test_expect_success 'a failing script reports not ok with its output and keeps its trash' '
	mkdir nested nested/tmp &&
	write_script nested/t-fail.sh <<-\EOF &&
	KB_TEST_NO_BINARY=1
	. "$TOP/tests/integration/test-lib.sh"
	test_expect_success "passes" "true"
	test_expect_success "fails # on purpose" "echo some output; false"
	test_done
	EOF
	test_expect_code 1 env TMPDIR="$TRASH/nested/tmp" KB_TEST_KEEP=0 \
		KB_TEST_VERBOSE=0 sh nested/t-fail.sh >out &&
	kept=$(sed -n "s/^# kept: //p" out) &&
	test_path_is_dir "$kept" &&
	sed "s|$kept|TRASH|" out >actual &&
	cat >expect <<-\EOF &&
	ok 1 - passes
	not ok 2 - fails \# on purpose
	# some output
	# (body exited with status 1)
	1..2
	# failed 1 among 2 test(s)
	# kept: TRASH
	EOF
	test_cmp expect actual
'

test_expect_success 'a passing script removes its trash unless KB_TEST_KEEP=1' '
	mkdir -p nested/tmp2 &&
	write_script nested/t-pass.sh <<-\EOF &&
	KB_TEST_NO_BINARY=1
	. "$TOP/tests/integration/test-lib.sh"
	test_expect_success "passes" "echo hidden"
	test_done
	EOF
	env TMPDIR="$TRASH/nested/tmp2" KB_TEST_KEEP=0 KB_TEST_VERBOSE=0 \
		sh nested/t-pass.sh >out &&
	printf "ok 1 - passes\n1..1\n" >expect &&
	test_cmp expect out &&
	test -z "$(ls nested/tmp2)" &&
	env TMPDIR="$TRASH/nested/tmp2" KB_TEST_KEEP=1 KB_TEST_VERBOSE=1 \
		sh nested/t-pass.sh >out &&
	test_grep "^# hidden$" out &&
	test_grep "^# kept: " out &&
	test -n "$(ls nested/tmp2)"
'

test_expect_success 'a missing kbuildd binary bails out' '
	write_script nested/t-bail.sh <<-\EOF &&
	. "$TOP/tests/integration/test-lib.sh"
	test_done
	EOF
	test_expect_code 1 env -u KB_TEST_NO_BINARY KBUILDD=/nonexistent/kbuildd \
		TMPDIR="$TRASH/nested/tmp" sh nested/t-bail.sh >out &&
	test_grep "^Bail out! kbuildd binary ./nonexistent/kbuildd. is not executable" out
'

test_expect_success DEPMOD 'kb_root finds 6.1 and 6.12 releases; 6.12 is not 6.1.' '
	# The directory names sort 6.12 first: "6.12" must not be taken for "6.1.".
	for rel in a:6.12.5-test b:6.1.9-test; do
		h=headers/linux-headers-${rel%%:*} && rel=${rel#*:} &&
		mkdir -p $h/include/generated &&
		: >$h/.config && : >$h/Module.symvers && : >$h/Makefile &&
		echo "#define UTS_RELEASE \"$rel\"" >$h/include/generated/utsrelease.h ||
		exit 1
	done &&
	mkdir -p headers/linux-headers-incomplete &&
	export KBUILDD_HEADERS_GLOB="$TRASH/headers/linux-headers-*" &&
	kb_root fakeroot >out 2>err &&
	test "$ROOT" = "$(cd fakeroot && pwd -P)" &&
	test "$KERNELS" = "6.12.5-test 6.1.9-test" &&
	test "$K61" = 6.1.9-test &&
	test "$K612" = 6.12.5-test &&
	test_have_prereq K61,K612 &&
	test "$(readlink fakeroot/lib/modules/6.1.9-test/build)" = "$TRASH/headers/linux-headers-b" &&
	test_path_is_file fakeroot/lib/modules/6.1.9-test/modules.dep &&
	test_path_is_dir fakeroot/etc &&
	test_path_is_dir fakeroot/var &&
	test_grep -v WARNING err
'

test_expect_success DEPMOD 'mkroot fails clearly without a usable header tree' '
	test_must_fail --exit=1 env KBUILDD_HEADERS_GLOB="$TRASH/none/*" \
		"$TOP/build-aux/mkroot" noroot 2>err &&
	test_grep "no usable kernel header tree" err &&
	test_path_is_missing noroot
'

test_expect_success 'kb runs $KBUILDD with --root of the last fake root' '
	write_script fake-kbuildd <<-\EOF &&
	printf "%s\n" "$@"
	EOF
	KBUILDD=$TRASH/fake-kbuildd &&
	! (kb list) 2>err &&
	test_grep "call kb_root first" err &&
	ROOT=/some/root &&
	kb list "a b" >actual &&
	printf "%s\n" --root /some/root list "a b" >expect &&
	test_cmp expect actual
'

test_done
