#!/bin/sh
# Bad input loses nothing; remove undoes install exactly; the lock holds;
# an interrupted build leaves the previous state.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
RECIPES=$TOP/recipes

test_expect_success 'a root where kbuildd has run and nothing is registered' '
	kb rebuild --all >out &&
	test_grep "nothing to do" out
'
tree_snapshot "$ROOT" >"$TRASH/pristine"

test_expect_success 'a malformed recipe exits 2, names file:line, changes nothing' '
	cat >bad.recipe <<-\EOT &&
	[recipe]
	name = bad
	version = 1.0
	colour = blue
	[source]
	path = .
	[module bad]
	EOT
	test_expect_code 2 kb add bad.recipe 2>err &&
	test_grep "bad.recipe:4: unknown key .colour. in \[recipe\]; expected one of: name, version, description" err &&
	tree_snapshot "$ROOT" >now &&
	test_cmp "$TRASH/pristine" now
'

test_expect_success 'a recipe whose source directory is missing exits 2' '
	printf "[recipe]\nname = gone\nversion = 1\n[source]\npath = nowhere\n[module gone]\n" >gone.recipe &&
	test_expect_code 2 kb add gone.recipe 2>err &&
	test_grep "source path .*nowhere. is not a directory" err &&
	tree_snapshot "$ROOT" >now &&
	test_cmp "$TRASH/pristine" now
'

test_expect_success 'bad usage exits 2' '
	test_expect_code 2 kb rebuild 2>err &&
	test_grep "say which kernels" err &&
	test_expect_code 2 kb remove hello/1.0.0 2>err &&
	test_expect_code 2 kb build nosuch 2>err &&
	test_grep ".nosuch. is not registered" err &&
	test_expect_code 2 kb frobnicate 2>err &&
	test_expect_code 2 kb status --force 2>err &&
	test_grep "does not take --force" err
'

test_expect_success 'install then remove --all leaves the root byte for byte as before' '
	kb install "$RECIPES/provider.recipe" "$RECIPES/consumer.recipe" >out &&
	test_grep "consumer/1.0.0 .* installed" out &&
	kb remove consumer/1.0.0 provider/1.0.0 --all >out &&
	test_grep "unregistered provider/1.0.0" out &&
	tree_snapshot "$ROOT" >now &&
	test_cmp "$TRASH/pristine" now
'

test_expect_success 'a second kbuildd waits for the lock, then gives up with exit 3' '
	mkdir -p "$ROOT/var/lib/kbuildd" &&
	flock "$ROOT/var/lib/kbuildd/lock" sleep 5 &
	sleep 0.5
	test_expect_code 3 kb add --wait 1 "$RECIPES/hello.recipe" 2>err &&
	test_grep "is held by another kbuildd" err &&
	wait &&
	tree_snapshot "$ROOT" >now &&
	test_cmp "$TRASH/pristine" now
'

test_expect_success 'the lock names the holder while it is held' '
	kb add "$RECIPES/hello.recipe" >/dev/null &&
	( kb build hello >/dev/null 2>&1 & ) &&
	sleep 0.3 &&
	test_expect_code 3 kb add --wait 0 "$RECIPES/greeter.recipe" 2>err &&
	test_grep "pid [0-9]*: kbuildd --root .* build hello" err &&
	while ! kb add --wait 60 "$RECIPES/greeter.recipe" >/dev/null; do sleep 1; done &&
	kb status >status &&
	test_grep "^hello/1.0.0 .* built$" status
'

test_expect_success 'SIGTERM stops every build and keeps the previous build' '
	k=${KERNELS%% *} &&
	kb install hello -k "$k" >/dev/null &&
	before=$(cat "$ROOT/var/lib/kbuildd/builds/hello/1.0.0/$k/build-id") || exit 1
	"$KBUILDD" --root "$ROOT" build --force hello >out 2>err &
	pid=$!
	sleep 1 &&
	kill -TERM $pid &&
	test_expect_code 130 wait $pid &&
	test_grep "terminated: stopping all builds" err &&
	test "$(cat "$ROOT/var/lib/kbuildd/builds/hello/1.0.0/$k/build-id")" = "$before" &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/builds/hello/1.0.0/.kbuildd-new.$k" &&
	! pgrep -f "M=$ROOT/var/lib/kbuildd/builds/hello" &&
	kb status hello >status &&
	test_grep "^hello/1.0.0 *$k *installed" status
'

test_done
