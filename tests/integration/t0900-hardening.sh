#!/bin/sh
# kbuildd runs as root from package hooks: a hostile driver build must not
# reach beyond its build directory, concurrent invocations must serialise,
# and a full or read-only disk must lose nothing.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${KERNELS%% *}
if [ "$(id -u)" = 0 ]; then
	test_set_prereq ROOT
fi
if [ "$(id -u)" = 0 ] && mkdir -p mnt-probe && mount -t tmpfs -o size=64k tmpfs mnt-probe 2>/dev/null; then
	umount mnt-probe
	test_set_prereq MOUNT
fi

test_expect_success ROOT 'setup: a hostile driver, and an ordinary one' '
	mkdir -p hostile &&
	# (printf, not a heredoc: <<- would strip the tabs of the recipe lines)
	{
		echo "# Tries everything a build must not be able to do; every step may fail."
		echo "all:"
		printf "\t-echo evil >%s\n" "$ROOT/lib/modules/$K/evil" "$ROOT/var/lib/kbuildd/evil" \
			"/tmp/kbuildd-hostile-proof-\$\$PPID" "/var/tmp/kbuildd-hostile-proof-\$\$PPID"
		printf "\t-echo \$\$PPID >tmp-proof-name\n"
		printf "\t-cat %s >stolen-key\n" "$ROOT/var/lib/kbuildd/keys/signing_key.pem"
		printf "\t-setsid sh -c \"exec sleep 300%s\" </dev/null >/dev/null 2>&1 &\n" "$$"
		printf "\tsleep 1\n\tid -un >built-as\n\techo not-a-module >hostile.ko\n"
	} >hostile/Makefile &&
	printf "%s\n" "[recipe]" "name = hostile" "version = 1" "[source]" "path = hostile" \
		"[build]" "make = make -C {build_dir} all" "[module hostile]" >hostile.recipe &&
	kb add hostile.recipe "$TOP/recipes/hello.recipe" >/dev/null
'

test_expect_success ROOT 'the hostile build runs unprivileged and reaches nothing outside its directory' '
	kb build hostile hello >out 2>err &&
	b=$ROOT/var/lib/kbuildd/builds/hostile/1/$K/src &&
	test "$(cat "$b/built-as")" != root &&
	test_path_is_missing "$ROOT/lib/modules/$K/evil" &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/evil" &&
	test_path_is_missing "/tmp/kbuildd-hostile-proof-$(cat "$b/tmp-proof-name")" &&
	test_path_is_missing "/var/tmp/kbuildd-hostile-proof-$(cat "$b/tmp-proof-name")" &&
	! test -s "$b/stolen-key" &&
	test_grep "^hello/1.0.0 .* built$" out
'

test_expect_success ROOT 'what the hostile build left running was killed' '
	# its pid is the sandbox'"'"'s own: look for its command line instead
	! pgrep -f "sleep 300$$"
'

test_expect_success ROOT 'the signing key is 0600 in a 0700 directory' '
	test "$(stat -c %a "$ROOT/var/lib/kbuildd/keys")" = 700 &&
	test "$(stat -c %a "$ROOT/var/lib/kbuildd/keys/signing_key.pem")" = 600
'

test_expect_success 'ten concurrent invocations: each completes or says the lock is held; the state holds' '
	kb add "$TOP"/recipes/greeter.recipe "$TOP"/recipes/provider.recipe \
		"$TOP"/recipes/consumer.recipe >/dev/null &&
	kb remove hostile/1 --all >/dev/null &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		case $i in
		1|4|7) set -- install --wait 600 hello greeter ;;
		2|5) set -- remove --wait 1 greeter/1.0.0 --all ;;
		3|6|9) set -- rebuild --wait 600 --all ;;
		*) set -- install --wait 2 consumer ;;
		esac
		( "$KBUILDD" -q --root "$ROOT" "$@" >/dev/null 2>"err.$i"; echo $? >"rc.$i" ) &
	done
	wait &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		rc=$(cat "rc.$i") &&
		case $rc in
		0|3) ;;
		*) echo "invocation $i exited $rc:"; cat "err.$i"; exit 1 ;;
		esac
		if [ "$rc" = 3 ]; then test_grep "is held by another kbuildd (pid [0-9]*: kbuildd" "err.$i"; fi
	done &&
	kb status --check &&
	kb rebuild --all >/dev/null &&
	kb status --check
'

kb_root full
test_expect_success MOUNT 'a full disk during install: clear error, the previous module intact (ENOSPC)' '
	d=$ROOT/lib/modules/$K/updates &&
	mkdir -p "$d" &&
	mount -t tmpfs -o size=400k tmpfs "$d" &&
	echo "umount \"$d\"" >>"$TRASH/.cleanup" &&
	cp -r "$TOP/examples/hello" hello-src &&
	sed "s|path = ../examples/hello|path = $TRASH/hello-src|" "$TOP/recipes/hello.recipe" >h.recipe &&
	kb install -k "$K" h.recipe >/dev/null &&
	before=$(sha256sum "$d"/kbuildd/hello.ko* | cut -d" " -f1) &&
	cp "$ROOT/var/lib/kbuildd/installed/$K/hello.manifest" manifest.before &&
	printf "static const char filler[600000] __attribute__((used)) = { 1 };\n" >>hello-src/hello.c &&
	kb add --force h.recipe >/dev/null &&
	test_expect_code 1 kb install -k "$K" hello >out 2>err &&
	test_grep "cannot write .*hello.ko.*No space left on device" err &&
	test_grep "nothing was changed" err &&
	test "$(sha256sum "$d"/kbuildd/hello.ko* | cut -d" " -f1)" = "$before" &&
	test_cmp manifest.before "$ROOT/var/lib/kbuildd/installed/$K/hello.manifest" &&
	! ls -a "$d/kbuildd" | grep -q "^\.kbuildd-tmp\." &&
	kb status --check
'

test_expect_success MOUNT 'a read-only target: clear error, nothing lost' '
	d=$ROOT/lib/modules/$K/updates &&
	before=$(sha256sum "$d"/kbuildd/hello.ko* | cut -d" " -f1) &&
	mount -o remount,ro "$d" &&
	test_expect_code 1 kb install -k "$K" hello >out 2>err &&
	test_grep "Read-only file system" err &&
	test "$(sha256sum "$d"/kbuildd/hello.ko* | cut -d" " -f1)" = "$before" || {
		mount -o remount,rw "$d"; exit 1; }
	mount -o remount,rw "$d" &&
	kb status --check
'

# unmount what the tests mounted, whatever happened
if [ -f "$TRASH/.cleanup" ]; then
	sh "$TRASH/.cleanup" 2>/dev/null
fi
test_done
