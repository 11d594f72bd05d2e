#!/bin/sh
# A build id names the build, not the machine: the same recipe, source,
# kernel headers, compiler and signing certificate give the same id in two
# roots at different paths (a fleet's cache key), and another certificate
# gives another.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"

kb_root one
ONE=$ROOT
mkdir -p "$TRASH/deeper/elsewhere"
kb_root "$TRASH/deeper/elsewhere/two"
TWO=$ROOT

# ids ROOT: "NAME KERNEL BUILD_ID" per planned build
ids () {
	"$KBUILDD" --root "$1" build --all --dry-run --json 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r["name"], r["kernel"], r["build_id"])'
}

test_expect_success 'the same recipes in two roots, the same key' '
	for r in "$ONE" "$TWO"; do
		echo ID=debian >"$r/etc/os-release" &&
		"$KBUILDD" --root "$r" add "$TOP/recipes/hello.recipe" "$TOP/recipes/provider.recipe" \
			"$TOP/recipes/consumer.recipe" "$TOP/examples/ticker" >/dev/null || exit 1
	done &&
	"$KBUILDD" --root "$ONE" keys generate >/dev/null &&
	mkdir -p "$TWO/var/lib/kbuildd/keys" &&
	cp -p "$ONE"/var/lib/kbuildd/keys/* "$TWO/var/lib/kbuildd/keys/"
'

test_expect_success 'give the same build ids, whatever the root path' '
	ids "$ONE" >one.ids && ids "$TWO" >two.ids &&
	cat one.ids &&
	test "$(wc -l <one.ids)" -ge 4 &&
	! grep -v " [0-9a-f]\{64\}$" one.ids &&
	test_cmp one.ids two.ids
'

test_expect_success 'another signing certificate gives other ids' '
	"$KBUILDD" --root "$TWO" keys generate --force >/dev/null &&
	ids "$TWO" >three.ids &&
	! grep -F -x -f one.ids three.ids
'

test_done
