#!/bin/sh
# Crash consistency: kbuildd install and remove are killed (SIGKILL, through
# the KBUILDD_FAULT_AT fault points) at many points across the run; each
# time kbuildd is run again, and the end state must equal a clean run's and
# `status --check` must be clean.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root base
BASE=$ROOT

# What must come out the same: modules, depmod's indexes, manifests,
# registrations and configuration. Build trees hold their own paths, so
# they are compared by build id only.
state () {
	tree_snapshot "$1" | grep -v -e "^var/lib/kbuildd/builds/.*/src" \
		-e "^var/lib/kbuildd/builds/.*\.log " -e "^var/lib/kbuildd/lock "
}

# points N M: M fault points spread evenly over 1..N, deterministic
points () {
	awk -v n="$1" -v m="$2" 'BEGIN {
		if (m > n) m = n
		for (k = 0; k < m; k++) { p = 1 + int(k * (n - 1) / (m > 1 ? m - 1 : 1)); if (p != last) print p; last = p }
	}'
}

# crash_walk NAME FROM EXPECTED POINTS ARGS...: for each point, copy FROM,
# kill `kbuildd ARGS` there, run it again, compare with EXPECTED.
crash_walk () {
	name=$1 from=$2 expected=$3 pts=$4
	shift 4
	for at in $pts; do
		rm -rf "run" && cp -a "$from" run || return 1
		KBUILDD_FAULT_AT=$at "$KBUILDD" -q --root "$TRASH/run" "$@" >/dev/null 2>&1
		rc=$?
		if [ $rc -ne 137 ] && [ $rc -ne 0 ]; then
			echo "$name: point $at: exit $rc instead of being killed"
			return 1
		fi
		"$KBUILDD" -q --root "$TRASH/run" "$@" >out 2>&1 || {
			echo "$name: point $at: the next run failed:"; cat out; return 1; }
		state "$TRASH/run" >now
		if ! cmp -s "$expected" now; then
			echo "$name: point $at: end state differs from a clean run's:"
			diff -u "$expected" now | head -20
			return 1
		fi
		"$KBUILDD" --root "$TRASH/run" status --check >check || {
			echo "$name: point $at: status --check:"; cat check; return 1; }
		echo "$at" >>"$TRASH/walked.$name"
	done
}

test_expect_success 'setup: three recipes registered and built, nothing installed' '
	kb add "$TOP"/recipes/hello.recipe "$TOP"/recipes/provider.recipe \
		"$TOP"/recipes/consumer.recipe >/dev/null &&
	kb build --all >/dev/null &&
	cp -a "$BASE" installed &&
	"$KBUILDD" -q --root "$TRASH/installed" install --all &&
	state installed >expect.installed &&
	cp -a installed removed &&
	"$KBUILDD" -q --root "$TRASH/removed" remove hello/1.0.0 consumer/1.0.0 --all &&
	state removed >expect.removed &&
	cp -a "$BASE" count &&
	KBUILDD_FAULT_COUNT=$TRASH/n.install "$KBUILDD" -q --root "$TRASH/count" install --all &&
	KBUILDD_FAULT_COUNT=$TRASH/n.remove "$KBUILDD" -q --root "$TRASH/count" \
		remove hello/1.0.0 consumer/1.0.0 --all &&
	test "$(cat n.install)" -ge 30 && test "$(cat n.remove)" -ge 25
'

test_expect_success 'install killed at 30 points, then run again: same state as a clean install' '
	crash_walk install "$BASE" expect.installed "$(points "$(cat n.install)" 30)" install --all &&
	test "$(wc -l <walked.install)" -ge 30
'

test_expect_success 'remove killed at 25 points, then run again: same state as a clean remove' '
	crash_walk remove installed expect.removed "$(points "$(cat n.remove)" 25)" \
		remove hello/1.0.0 consumer/1.0.0 --all &&
	test "$(wc -l <walked.remove)" -ge 25
'

test_expect_success 'builds killed mid-way (copying, swapping the build dir): the next run rebuilds' '
	rm -rf fresh && mkdir -p fresh &&
	cp -a "$BASE" fresh/root && rm -rf fresh/root/var/lib/kbuildd/builds &&
	KBUILDD_FAULT_COUNT=$TRASH/n.build "$KBUILDD" -q --root "$TRASH/fresh/root" build hello -k "${KERNELS%% *}" &&
	n=$(cat n.build) &&
	for at in 2 $((n / 2)) $((n - 1)); do
		rm -rf b && cp -a "$BASE" b && rm -rf b/var/lib/kbuildd/builds &&
		{ KBUILDD_FAULT_AT=$at "$KBUILDD" -q --root "$TRASH/b" build hello -k "${KERNELS%% *}" >/dev/null 2>&1; true; } &&
		"$KBUILDD" -q --root "$TRASH/b" build hello -k "${KERNELS%% *}" &&
		test -s "b/var/lib/kbuildd/builds/hello/1.0.0/${KERNELS%% *}/build-id" &&
		! ls -d b/var/lib/kbuildd/builds/hello/1.0.0/.kbuildd-*  2>/dev/null &&
		"$KBUILDD" --root "$TRASH/b" status --check >/dev/null || exit 1
	done
'

test_expect_success 'status --check finds a missing, a modified and an unowned file' '
	cp -a installed bad &&
	d=bad/lib/modules/${KERNELS%% *}/updates/kbuildd &&
	rm "$d"/hello.ko* &&
	echo x >>"$(ls "$d"/provider.ko*)" &&
	echo stray >"$d/stray.ko" &&
	test_expect_code 1 "$KBUILDD" --root "$TRASH/bad" status --check >out &&
	test_grep "hello.ko.*listed by hello/1.0.0 for .* but missing" out &&
	test_grep "provider.ko.*: sha256 .*, but provider/1.0.0 installed" out &&
	test_grep "stray.ko: not listed in any manifest" out &&
	test_grep "^3 problems found$" out
'

test_done
