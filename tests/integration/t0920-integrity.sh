#!/bin/sh
# kbuildd's own file changes are honest and its recovery precise: a removal
# that fails says so and keeps what is left owned; a damaged manifest stops
# only its own recipe; recovery deletes only names kbuildd itself made.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${KERNELS%% *}
MODS=$ROOT/lib/modules/$K
STATE=$ROOT/var/lib/kbuildd
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	test_set_prereq MOUNT
fi

# ro DIR CMD...: run CMD with DIR mounted read-only in a private mount namespace
ro () {
	_ro_dir=$1
	shift
	unshare -m sh -c 'd=$1; shift; mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" &&
		exec "$@"' ro "$_ro_dir" "$@"
}

# a copy of the hello recipe under another name, version or destination
variant () {
	sed -e "s|^path = ../examples/hello|path = $TOP/examples/hello|" \
		-e "s|^name = hello|name = $1|" -e "s|^version = 1.0.0|version = $2|" \
		"$TOP/recipes/hello.recipe" >"$1-$2.recipe" &&
	if [ -n "${3-}" ]; then printf "dest = %s\n" "$3" >>"$1-$2.recipe"; fi
}

test_expect_success 'setup: hello and greeter installed for every kernel' '
	kb install "$TOP/recipes/hello.recipe" "$TOP/recipes/greeter.recipe" >out &&
	test_grep "^hello/1.0.0 *$K *installed" out &&
	ls "$MODS"/updates/kbuildd/hello.ko* >/dev/null
'

test_expect_success MOUNT 'remove with a read-only module directory fails, names the file, keeps it owned' '
	d=$MODS/updates/kbuildd &&
	test_expect_code 1 ro "$d" "$KBUILDD" --root "$ROOT" remove hello/1.0.0 --all >out 2>err &&
	test_grep "cannot remove .*/lib/modules/$K/updates/kbuildd/hello.ko[.a-z]*.: Read-only file system" err &&
	test_grep -v "unregistered" out &&
	test_grep -v "^hello .*$K .*removed" out &&
	ls "$d"/hello.ko* >/dev/null &&
	test_grep "^file .* lib/modules/$K/updates/kbuildd/hello.ko" "$STATE/installed/$K/hello.manifest" &&
	test_path_is_file "$STATE/recipes/hello/1.0.0/recipe" &&
	kb status --check
'

test_expect_success MOUNT 'and once it is writable again, remove finishes' '
	kb remove hello/1.0.0 --all >out &&
	test_grep "unregistered hello/1.0.0" out &&
	! ls "$MODS"/updates/kbuildd/hello.ko* 2>/dev/null &&
	test_path_is_missing "$STATE/installed/$K/hello.manifest" &&
	kb status --check
'

test_expect_success MOUNT 'remove -k with a read-only lib/modules/K fails and drops no manifest' '
	test_expect_code 1 ro "$MODS" "$KBUILDD" --root "$ROOT" remove -k "$K" >out 2>err &&
	test_grep "cannot remove .*greeter.ko[.a-z]*.: Read-only file system" err &&
	test_path_is_file "$STATE/installed/$K/greeter.manifest" &&
	kb status --check
'

test_expect_success MOUNT 'an install whose old file cannot be removed fails and keeps it owned' '
	variant moved 1 extra/a &&
	kb install -k "$K" moved-1.recipe >/dev/null &&
	old=$(ls "$MODS"/extra/a/hello.ko*) &&
	variant moved 1 extra/b &&
	kb add --force moved-1.recipe >/dev/null &&
	test_expect_code 1 ro "$MODS/extra/a" "$KBUILDD" --root "$ROOT" install -k "$K" moved >out 2>err &&
	test_grep "cannot remove .*extra/a/hello.ko[.a-z]*.: Read-only file system" err &&
	test_path_is_file "$old" &&
	test_grep " ${old#$ROOT/}$" "$STATE/installed/$K/moved.manifest" &&
	kb status --check &&
	kb install -k "$K" moved >/dev/null &&
	test_path_is_missing "$old" &&
	kb remove moved/1 --all >/dev/null
'

test_expect_success 'setup: hello installed again' '
	kb install "$TOP/recipes/hello.recipe" >/dev/null &&
	cp "$STATE/installed/$K/hello.manifest" hello.manifest.good
'

test_expect_success 'an empty manifest: remove of its recipe exits 2 and keeps it and the files' '
	: >"$STATE/installed/$K/hello.manifest" &&
	test_expect_code 2 kb remove hello/1.0.0 --all >out 2>err &&
	test_grep "hello.manifest:1: damaged manifest: empty, expected .kbuildd-manifest 1." err &&
	test_path_is_file "$STATE/installed/$K/hello.manifest" &&
	ls "$MODS"/updates/kbuildd/hello.ko* >/dev/null &&
	test_path_is_file "$STATE/recipes/hello/1.0.0/recipe"
'

test_expect_success 'a damaged manifest does not stop the other recipes on that kernel' '
	kb remove greeter/1.0.0 -k "$K" >out &&
	test_grep "^greeter .*$K .*removed" out &&
	kb install greeter -k "$K" >out &&
	test_grep "^greeter/1.0.0 *$K *installed" out
'

test_expect_success 'status --check names the damaged manifest' '
	test_expect_code 1 kb status --check >out &&
	test_grep "hello.manifest:1: damaged manifest: empty" out
'

test_expect_success 'status shows the damaged manifest as damaged' '
	kb status hello >out &&
	test_grep "^hello/1.0.0 *$K *damaged manifest (see status --check)" out
'

test_expect_success 'a NUL byte in a manifest is damage, named by its line' '
	{ head -n 3 hello.manifest.good && printf "\000" && tail -n +4 hello.manifest.good; } \
		>"$STATE/installed/$K/hello.manifest" &&
	test_expect_code 2 kb remove hello/1.0.0 -k "$K" 2>err &&
	test_grep "hello.manifest:4: damaged manifest: a NUL byte" err &&
	test_expect_code 1 kb install hello -k "$K" >out 2>err &&
	test_grep "hello.manifest:4: damaged manifest: .*; kbuildd cannot tell what it installed" err &&
	ls "$MODS"/updates/kbuildd/hello.ko* >/dev/null
'

test_expect_success 'a file a damaged manifest may list is never taken over, even with --force' '
	variant hijack 1 &&
	before=$(sha256sum "$MODS"/updates/kbuildd/hello.ko* | cut -d" " -f1) &&
	test_expect_code 1 kb install --force -k "$K" hijack-1.recipe >out 2>err &&
	test_grep "may belong to recipe hello, whose manifest is damaged: .*hello.manifest:4: damaged manifest" err &&
	test "$(sha256sum "$MODS"/updates/kbuildd/hello.ko* | cut -d" " -f1)" = "$before" &&
	kb remove hijack/1 --all >/dev/null
'

test_expect_success 'with its manifest repaired, hello removes and installs normally' '
	cp hello.manifest.good "$STATE/installed/$K/hello.manifest" &&
	kb remove hello/1.0.0 -k "$K" >/dev/null &&
	kb install hello -k "$K" >/dev/null &&
	kb status --check
'

test_expect_success 'foreign files that look like temp files survive recovery' '
	mkdir -p "$MODS/extra/vendor" &&
	echo blob >"$MODS/extra/vendor/blob.part" &&
	echo x >"$MODS/extra/vendor/.x.kbtmp-123456789abc" &&
	echo y >"$MODS/updates/kbuildd/.hello.ko.kbtmp-123456789abc" &&
	echo z >"$MODS/updates/kbuildd/notes.part" &&
	kb rebuild --all >/dev/null &&
	test_path_is_file "$MODS/extra/vendor/blob.part" &&
	test_path_is_file "$MODS/extra/vendor/.x.kbtmp-123456789abc" &&
	test_path_is_file "$MODS/updates/kbuildd/.hello.ko.kbtmp-123456789abc" &&
	test_path_is_file "$MODS/updates/kbuildd/notes.part" &&
	rm -r "$MODS/updates/kbuildd/.hello.ko.kbtmp-123456789abc" "$MODS/updates/kbuildd/notes.part" \
		"$MODS/extra/vendor"
'

test_expect_success 'an install killed at every point leaves no temp file behind' '
	cp -a "$ROOT" crash-base &&
	# a changed file is installed again, without a build
	echo changed >>"$(ls "$TRASH"/crash-base/lib/modules/"$K"/updates/kbuildd/hello.ko*)" &&
	cp -a crash-base count &&
	KBUILDD_FAULT_COUNT=$TRASH/n.install "$KBUILDD" -q --root "$TRASH/count" install hello -k "$K" &&
	n=$(cat n.install) && staged=0 &&
	at=1 && while [ $at -le "$n" ]; do
		rm -rf run && cp -a crash-base run &&
		{ KBUILDD_FAULT_AT=$at "$KBUILDD" -q --root "$TRASH/run" install hello -k "$K" \
			>/dev/null 2>&1 || true; } &&
		if [ -n "$(find run/lib/modules -name ".kbuildd-tmp.*")" ]; then staged=$((staged + 1)); fi &&
		"$KBUILDD" -q --root "$TRASH/run" install hello -k "$K" &&
		left=$(find run -name ".kbuildd-tmp.*" -o -name "*kbtmp*") &&
		if [ -n "$left" ]; then echo "point $at left: $left"; exit 1; fi &&
		"$KBUILDD" --root "$TRASH/run" status --check >/dev/null &&
		at=$((at + 1)) || exit 1
	done &&
	test "$staged" -ge 1
'

test_expect_success 'versions ending in .new and .old are builds like any other' '
	variant oddnew 1.0.new updates/odd-new &&
	variant oddold 1.0.old updates/odd-old &&
	# both install a module named hello, as hello does: --force lets them
	kb install --force -k "$K" oddnew-1.0.new.recipe oddold-1.0.old.recipe >/dev/null 2>&1 &&
	test_path_is_file "$STATE/builds/oddnew/1.0.new/$K/build-id" &&
	test_path_is_file "$STATE/builds/oddold/1.0.old/$K/build-id" &&
	kb rebuild -k "$K" >out 2>&1 &&
	test_path_is_file "$STATE/builds/oddnew/1.0.new/$K/build-id" &&
	test_path_is_file "$STATE/builds/oddold/1.0.old/$K/build-id" &&
	test_path_is_missing "$STATE/builds/oddold/1.0" &&
	test_grep -v "cleaned up" out &&
	test_grep -v "^odd.* built$" out &&
	kb status oddnew oddold >out &&
	test_grep "^oddnew/1.0.new *$K *installed:" out &&
	test_grep "^oddold/1.0.old *$K *installed:" out &&
	kb status --check &&
	kb remove oddnew/1.0.new oddold/1.0.old --all >/dev/null
'

test_expect_success 'directories named like staging, or empty, inside a source and a build are kept' '
	cp -r "$TOP/examples/hello" dotted &&
	mkdir dotted/.cache.new dotted/.cache.old dotted/.cache.gone dotted/gen.new dotted/empty.d &&
	for d in .cache.new .cache.old .cache.gone gen.new; do echo keep >"dotted/$d/f"; done &&
	sed -e "s|^path = ../examples/hello|path = $TRASH/dotted|" -e "s|^name = hello|name = dotted|" \
		-e "s|^\[module hello\]|[module dotted]\ndest = updates/dotted|" \
		"$TOP/recipes/hello.recipe" >dotted.recipe &&
	kb add dotted.recipe >/dev/null &&
	kb build -k "$K" dotted >/dev/null &&
	kb rebuild -k "$K" >out 2>&1 &&
	test_grep -v "cleaned up" out &&
	for d in .cache.new .cache.old .cache.gone gen.new; do
		test_path_is_file "$STATE/recipes/dotted/1.0.0/source/$d/f" &&
		test_path_is_file "$STATE/builds/dotted/1.0.0/$K/src/$d/f" || exit 1
	done &&
	test_path_is_missing "$STATE/recipes/dotted/1.0.0/source/cache.new" &&
	test_path_is_dir "$STATE/recipes/dotted/1.0.0/source/empty.d" &&
	test_path_is_dir "$STATE/builds/dotted/1.0.0/$K/src/empty.d" &&
	kb status --check &&
	kb remove dotted/1.0.0 --all >/dev/null
'

test_expect_success 'staging left at the depth kbuildd makes it is reported, then finished' '
	mkdir -p "$STATE/recipes/hello/.kbuildd-new.2.0/source" "$STATE/builds/hello/1.0.0/.kbuildd-new.$K/src" &&
	mv "$STATE/recipes/greeter/1.0.0" "$STATE/recipes/greeter/.kbuildd-old.1.0.0" &&
	test_expect_code 1 kb status --check >out &&
	test_grep "recipes/hello/.kbuildd-new.2.0: half-made directory" out &&
	test_grep "recipes/greeter/.kbuildd-old.1.0.0: half-made directory" out &&
	test_grep "builds/hello/1.0.0/.kbuildd-new.$K: half-made directory" out &&
	kb rebuild -k "$K" >out 2>&1 &&
	test_grep "cleaned up 3 leftovers" out &&
	test_path_is_missing "$STATE/recipes/hello/.kbuildd-new.2.0" &&
	test_path_is_missing "$STATE/builds/hello/1.0.0/.kbuildd-new.$K" &&
	test_path_is_file "$STATE/recipes/greeter/1.0.0/recipe" &&
	kb status --check
'

test_expect_success 'a depmod killed mid-way: the next run removes its temp files and runs it again' '
	mkdir -p fakebin &&
	write_script fakebin/depmod <<-\EOF &&
	# leave what a killed kmod depmod leaves: NAME.PID.USEC.SEC beside the indexes
	for a; do k=$a; done
	for a; do case $prev in -b) base=$a ;; esac; prev=$a; done
	for f in modules.dep modules.alias.bin; do
		: >"$base/lib/modules/$k/$f.$$.123456.1700000000"
	done
	kill -9 $$
	EOF
	echo keep >"$MODS/modules.dep.orig" &&
	echo keep >"$MODS/modules.alias.bin.7.8" &&
	kb remove hello/1.0.0 -k "$K" >/dev/null &&
	test_must_fail env PATH="$TRASH/fakebin:$PATH" "$KBUILDD" --root "$ROOT" install hello -k "$K" \
		>out 2>err &&
	ls "$MODS"/modules.dep.*.123456.1700000000 >/dev/null &&
	! grep -q hello "$MODS/modules.dep" &&
	kb add "$TOP/recipes/greeter.recipe" >out 2>err &&
	! ls "$MODS"/modules.*.123456.1700000000 2>/dev/null &&
	grep -q "updates/kbuildd/hello.ko" "$MODS/modules.dep" &&
	test_path_is_file "$MODS/modules.dep.orig" &&
	test_path_is_file "$MODS/modules.alias.bin.7.8" &&
	kb status --check
'

test_expect_success 'a kernel release that is not one directory name is refused' '
	test_expect_code 2 kb remove -k ../../../recipes 2>err &&
	test_grep "invalid kernel release .\.\./\.\./\.\./recipes." err &&
	test_path_is_file "$STATE/recipes/greeter/1.0.0/recipe" &&
	test_expect_code 2 kb rebuild -k .kbuildd-new.x 2>err &&
	test_grep "invalid kernel release" err
'

test_expect_success 'status --check waits for the lock instead of reporting a running build' '
	flock "$STATE/lock" sleep 3 &
	sleep 0.5 &&
	test_expect_code 3 kb status --check --wait 1 2>err &&
	test_grep "is held by another kbuildd" err &&
	wait &&
	kb status --check --wait 5
'

test_done
