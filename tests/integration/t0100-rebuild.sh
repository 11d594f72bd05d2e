#!/bin/sh
# The main job, as an admin runs it: register the examples, rebuild --all
# for every installed kernel, check what landed, rebuild again, remove.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
EXAMPLES=$TOP/examples
RECIPES=$TOP/recipes

# modinfo FIELD of an installed module, whatever its compression
modfield () {
	/sbin/modinfo -F "$1" "$(ls "$ROOT/lib/modules/$2/updates/kbuildd/$3".ko*)"
}

test_expect_success 'kernels lists every installed header tree as usable' '
	kb kernels >out &&
	for k in $KERNELS; do
		test_grep "^$k  *x86_64 .* ok$" out || exit 1
	done
'

test_expect_success 'a kernel without headers is listed with the reason' '
	mkdir -p "$ROOT/lib/modules/9.9.9-nohdr" &&
	kb kernels >out &&
	test_grep "^9.9.9-nohdr .*no kernel headers" out &&
	kb kernels --json >out.json &&
	test_grep "\"release\": \"9.9.9-nohdr\", \"usable\": false" out.json
'

test_expect_success 'the 6.12 series is seen as xz-compressed, 6.1 as plain' '
	kb kernels >out &&
	if [ -n "$K612" ]; then test_grep "^$K612 .* xz " out; fi &&
	if [ -n "$K61" ]; then test_grep "^$K61 .* none " out; fi
'

test_expect_success 'add registers the example recipes and the in-tree one' '
	kb add "$RECIPES"/*.recipe "$EXAMPLES/broken" >out &&
	test_grep "^registered hello/1.0.0$" out &&
	test_grep "^registered broken/1.0.0$" out &&
	test_path_is_file "$ROOT/var/lib/kbuildd/recipes/hello/1.0.0/source/hello.c"
'

test_expect_success 'adding the same recipe again changes nothing' '
	tree_snapshot "$ROOT/var/lib/kbuildd" >before &&
	kb add "$RECIPES/hello.recipe" 2>err &&
	test_grep "already registered" err &&
	tree_snapshot "$ROOT/var/lib/kbuildd" >after &&
	test_cmp before after
'

test_expect_success 'rebuild --all: the broken driver fails alone with exit 1' '
	test_expect_code 1 kb rebuild --all >out 2>err &&
	for k in $KERNELS; do
		test_grep "^broken/1.0.0 *$k *failed: build failed" out || exit 1
		for m in hello provider consumer greeter; do
			test_grep "^$m/1.0.0 *$k *installed$" out || exit 1
		done
	done &&
	test_grep "9.9.9-nohdr *no headers" out &&
	test_grep "implicit declaration of function" err
'

test_expect_success 'the failed build keeps its log, and log shows it' '
	for k in $KERNELS; do
		test_path_is_file "$ROOT/var/lib/kbuildd/builds/broken/1.0.0/$k.log" &&
		test_path_is_missing "$ROOT/var/lib/kbuildd/builds/broken/1.0.0/$k" &&
		kb log broken -k "$k" >log &&
		test_grep "deliberately_undeclared" log || exit 1
	done
'

test_expect_success 'every installed module carries the vermagic of its kernel' '
	for k in $KERNELS; do
		for m in hello provider consumer greeter; do
			v=$(modfield vermagic "$k" "$m") &&
			case "$v" in "$k "*) ;; *) echo "$m for $k: vermagic $v"; exit 1;; esac
		done
	done
'

test_expect_success K612 'modules for 6.12 are xz with a CRC32 check, as kbuild makes them' '
	f=$ROOT/lib/modules/$K612/updates/kbuildd/hello.ko.xz &&
	test_path_is_file "$f" &&
	xz --robot --list "$f" >list &&
	test_grep "CRC32" list &&
	test_path_is_missing "$ROOT/lib/modules/$K612/updates/kbuildd/hello.ko"
'

test_expect_success K61 'modules for 6.1 are installed uncompressed' '
	test_path_is_file "$ROOT/lib/modules/$K61/updates/kbuildd/hello.ko"
'

test_expect_success 'modules.dep lists the consumer after the provider it needs' '
	for k in $KERNELS; do
		dep=$ROOT/lib/modules/$k/modules.dep &&
		test_grep "^updates/kbuildd/consumer.ko[.a-z]*: updates/kbuildd/provider.ko" "$dep" &&
		test "$(modfield depends "$k" consumer)" = provider || exit 1
	done
'

test_expect_success 'make_args reach make, and module parameters survive' '
	for k in $KERNELS; do
		test "$(modfield greeter_extra "$k" greeter)" = 1 &&
		modfield parm "$k" greeter >parm &&
		test_grep "^greeting:" parm || exit 1
	done
'

test_expect_success K612 'the excluded driver is reported excluded, with its reason' '
	kb status >status &&
	test_grep "^legacy/1.0.0 *$K612 *excluded: kernel $K612 is outside .kernels = < 6.12." status &&
	test_path_is_missing "$ROOT/lib/modules/$K612/updates/kbuildd/legacy.ko.xz"
'

test_expect_success K61 'the excluded driver is still built where it applies' '
	test_path_is_file "$ROOT/lib/modules/$K61/updates/kbuildd/legacy.ko"
'

test_expect_success 'status shows installed files and the failure, also as JSON' '
	kb status >status &&
	test_grep "^hello/1.0.0 .* installed: /lib/modules/.*/updates/kbuildd/hello.ko" status &&
	test_grep "^broken/1.0.0 .* failed: see .kbuildd log broken/1.0.0" status &&
	kb status --json >status.json &&
	test_grep "\"name\": \"hello\", \"version\": \"1.0.0\", \"kernel\": \"[^\"]*\", \"state\": \"installed\"" status.json
'

test_expect_success 'a second rebuild --all compiles nothing and changes nothing' '
	tree_snapshot "$ROOT" >before &&
	test_expect_code 1 kb -v rebuild --all >out 2>err &&
	test_grep -v "^kbuildd: building hello" err &&
	test_grep -v "make -C" err &&
	for k in $KERNELS; do
		test_grep "^hello/1.0.0 *$k *up to date$" out || exit 1
	done &&
	test_grep "^broken/1.0.0 .* failed: the last build with the same inputs failed" out &&
	tree_snapshot "$ROOT" >after &&
	test_cmp before after
'

test_expect_success '--force retries the failed build' '
	test_expect_code 1 kb build --force broken >out 2>err &&
	test_grep "building broken/1.0.0" err &&
	test_grep "^broken/1.0.0 .* failed: build failed" out
'

test_expect_success 'a changed source is rebuilt, only for that recipe' '
	cp -r "$EXAMPLES/hello" hello2 &&
	sed "s|path = ../examples/hello|path = $TRASH/hello2|" "$RECIPES/hello.recipe" >hello2.recipe &&
	echo "/* changed */" >>hello2/hello.c &&
	kb add --force hello2.recipe &&
	test_expect_code 1 kb rebuild --all >out 2>err &&
	test_grep "building hello/1.0.0" err &&
	test_grep -v "building provider" err &&
	test_grep "^hello/1.0.0 .* installed$" out
'

test_expect_success 'a file kbuildd does not own is never overwritten without --force' '
	k=${KERNELS%% *} &&
	mkdir -p "$ROOT/lib/modules/$k/updates/kbuildd" &&
	f=$(ls "$ROOT/lib/modules/$k/updates/kbuildd/greeter.ko"*) &&
	kb remove greeter/1.0.0 -k "$k" >/dev/null &&
	echo "admin file" >"$f" &&
	test_expect_code 1 kb install greeter -k "$k" >out 2>err &&
	test_grep "refusing to overwrite .*greeter.ko.*which kbuildd did not install" err &&
	test "$(cat "$f")" = "admin file" &&
	kb install --force greeter -k "$k" >out &&
	test_grep "installed" out &&
	test "$(cat "$f")" != "admin file"
'

test_expect_success 'removing two recipes from a kernel runs depmod once for it' '
	k=${KERNELS%% *} &&
	real=$(PATH=$PATH:/usr/sbin:/sbin command -v depmod) &&
	mkdir -p countbin &&
	write_script countbin/depmod <<-EOF &&
	echo "\$*" >>"$TRASH/depmod-calls"
	exec "$real" "\$@"
	EOF
	PATH="$TRASH/countbin:$PATH" "$KBUILDD" --root "$ROOT" \
		remove greeter/1.0.0 hello/1.0.0 -k "$k" >out &&
	test_grep "^greeter  *$k  *removed$" out &&
	test_grep "^hello  *$k  *removed$" out &&
	test "$(grep -c " $k\$" depmod-calls)" = 1 &&
	! grep -q "updates/kbuildd/hello.ko" "$ROOT/lib/modules/$k/modules.dep" &&
	kb install greeter hello -k "$k" >/dev/null
'

test_expect_success 'dry-run changes nothing' '
	tree_snapshot "$ROOT" >before &&
	kb --dry-run remove hello/1.0.0 --all >out 2>&1 &&
	test_grep "would remove" out &&
	tree_snapshot "$ROOT" >after &&
	test_cmp before after
'

# every line of table $1 has its second and third columns at the same offsets
columns_line_up () {
	awk '{ match($0, /^[^ ]+ +/); a = RLENGTH; match($0, /^[^ ]+ +[^ ]+ +/); print a, RLENGTH }' \
		"$1" | sort -u >"$1.offsets" &&
	test "$(wc -l <"$1.offsets")" = 1 || {
		echo "columns at different offsets (col2 col3):" && cat "$1.offsets" "$1"
		return 1
	}
}

test_expect_success 'a long version (Debian 12 xtrx-dkms) keeps the columns lined up' '
	mkdir xtrx && cp "$EXAMPLES"/hello/* xtrx/ &&
	sed -i "s/hello/xtrx/g" xtrx/Kbuild && mv xtrx/hello.c xtrx/xtrx.c &&
	printf "%s\n" "[recipe]" "name = xtrx" "version = 0.0.1+git20190320.5ae3a3e-3.2" \
		"[source]" "path = xtrx" "[module xtrx]" >xtrx.recipe &&
	kb install xtrx.recipe >/dev/null &&
	test_expect_code 1 kb rebuild --all >out &&
	test_grep "^xtrx/0.0.1+git20190320.5ae3a3e-3.2 .* up to date$" out &&
	test_grep "^hello/1.0.0 .* up to date$" out &&
	grep / out >rows &&
	columns_line_up rows &&
	kb status >status &&
	test_grep "^xtrx/0.0.1+git20190320.5ae3a3e-3.2 .* installed: " status &&
	test_grep "^hello/1.0.0 " status &&
	columns_line_up status
'

test_expect_success 'an unknown kernel is bad input (exit 2)' '
	test_expect_code 2 kb rebuild -k 1.2.3-nosuch 2>err &&
	test_grep "kernel .1.2.3-nosuch. not found" err
'

test_done
