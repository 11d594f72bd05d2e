#!/bin/sh
# What DKMS builds against, kbuildd's sandboxed build reaches too, with no
# mode on the host changed: a kernel tree in a 0700 home, kernel headers
# below /tmp or /var/tmp (which every sandbox covers with a private
# tmpfs), a --root made by mktemp -d (0700). Only the trees the build
# reads come into view, read-only; the rest of a closed home stays out of
# sight. In a chroot that is no mount point nothing can be opened, and the
# build says what it cannot reach. And a DEST_MODULE_LOCATION that does not
# exist yet is made below lib/modules/K, and goes again with the module.
# shellcheck disable=SC2016,SC2034
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib/dkms-tree.sh"

kb_root root
K=${KERNELS%% *}
HEADERS=$(readlink -f "$ROOT/lib/modules/$K/build")
export K HEADERS	# for the namespaces below
if [ "$(id -u)" = 0 ]; then
	test_set_prereq ROOT
	if unshare --mount --propagation private true 2>/dev/null; then
		test_set_prereq UNSHARE
	fi
fi
# the small kernel tests/e2e builds, when it is cached: a whole kernel tree in root's home
CACHE=${KBUILDD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbuildd-test}
for d in "$CACHE"/kernel-*; do
	if [ -f "$d/.complete" ] && [ -f "$d/release" ]; then
		TEST_KERNEL=$d
		test_set_prereq TEST_KERNEL
	fi
done

# with_headers_at DIR CMD...: CMD in a private mount namespace of its own
# where the headers of $K are bound below DIR (headers_bind; below a
# /var/tmp of that namespace's own for DIR there) and $ROOT's build link
# of $K leads to them; the link is put back after
with_headers_at () {
	_wh_rc=0
	unshare --mount --propagation private sh -ec '
		. "$1"
		dir=$2
		shift 2
		case $dir in /var/tmp/*) mount -t tmpfs -o mode=1777 tmpfs /var/tmp ;; esac
		tree=$(headers_bind "$HEADERS" "$dir")
		ln -sfn "$tree" "$ROOT/lib/modules/$K/build"
		exec "$@"
	' sh "$TEST_DIRECTORY/lib/kernel-headers.sh" "$@" || _wh_rc=$?
	ln -sfn "$HEADERS" "$ROOT/lib/modules/$K/build"
	return $_wh_rc
}

# build_against DIR: build peek for $K with its headers below DIR; its report in ./seen
build_against () {
	_ba_rc=0
	with_headers_at "$1" "$KBUILDD" --root "$ROOT" build --force peek -k "$K" >out 2>err ||
		{ _ba_rc=$?; cat out err; }
	cp "$ROOT/var/lib/kbuildd/builds/peek/1/$K/src/seen" seen 2>/dev/null || :
	return $_ba_rc
}

test_expect_success 'setup: a signing key' '
	kb keys generate >/dev/null
'

test_expect_success ROOT,UNSHARE 'setup: a driver that says what it sees of the kernel tree and of a home' '
	mkdir peek &&
	sed -e "s/hello/peek/g" "$TOP/examples/hello/hello.c" >peek/peek.c &&
	echo "obj-m := peek.o" >peek/Kbuild &&
	{
		echo "all:"
		printf "\t\$(MAKE) -C \$(KDIR) M=\$(CURDIR) modules\n"
		printf "\t-ls -A \$(HOMEDIR) >seen 2>&1\n"
		printf "\t-cat \$(HOMEDIR)/secret >>seen 2>&1\n"
		printf "\t-touch \$(KDIR)/kbuildd-proof >>seen 2>&1\n"
	} >peek/peek.mk &&
	printf "%s\n" "[recipe]" "name = peek" "version = 1" "[source]" "path = peek" "[build]" \
		"make = make -C {build_dir} -f peek.mk KDIR={kernel_build} HOMEDIR=$ROOT/root all" \
		"[module peek]" "path = peek.ko" >peek.recipe &&
	kb add peek.recipe >/dev/null
'

test_expect_success ROOT,UNSHARE 'a kernel tree in a 0700 home builds, and the rest of the home stays hidden' '
	mkdir -m 0700 "$ROOT/root" &&
	echo private >"$ROOT/root/secret" &&
	chmod 644 "$ROOT/root/secret" &&
	build_against "$ROOT/root/linux" &&
	test_grep "^peek/1 .* built" out &&
	modinfo -F vermagic "$ROOT/var/lib/kbuildd/builds/peek/1/$K/src/peek.ko" >vermagic &&
	test_grep "^$K " vermagic &&
	# of the home, only the way to the tree; the tree read-only
	test "$(grep -v -e "No such file" -e "Read-only file system" seen)" = linux &&
	test_grep "secret: No such file" seen &&
	test_grep "kbuildd-proof.*Read-only file system" seen &&
	test "$(stat -c %a "$ROOT/root")" = 700
'

test_expect_success ROOT,UNSHARE 'a dkms.conf read for that kernel reads its .config' '
	dkms_tree seen-1.0 kbt_seen &&
	cat >seen-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME="kbt-seen"
	PACKAGE_VERSION="1.0"
	# the module is declared only where the reading reaches the kernel tree
	if grep -q "^CONFIG_MODULES=y" "$kernel_source_dir/.config"; then
		BUILT_MODULE_NAME[0]="kbt_seen"
		DEST_MODULE_LOCATION[0]="/updates/dkms"
	fi
	EOF
	kb add seen-1.0 >/dev/null &&
	with_headers_at "$ROOT/root/linux" "$KBUILDD" --root "$ROOT" build --force kbt-seen -k "$K" \
		>out 2>err &&
	test_grep "^kbt-seen/1.0 .* built" out &&
	test_path_is_file "$ROOT/var/lib/kbuildd/builds/kbt-seen/1.0/$K/src/kbt_seen.ko"
'

test_expect_success ROOT,UNSHARE 'kernel headers in a mktemp -d directory below /tmp build' '
	tmp=$(mktemp -d /tmp/kbuildd-reach.XXXXXX) &&
	trap "rm -rf \"$tmp\"" EXIT &&
	build_against "$tmp" &&
	test_grep "^peek/1 .* built" out &&
	test "$(stat -c %a "$tmp")" = 700
'

test_expect_success ROOT,UNSHARE 'kernel headers below /var/tmp build' '
	# /var/tmp is the namespace'"'"'s own: the host'"'"'s is not touched
	build_against /var/tmp/kernel &&
	test_grep "^peek/1 .* built" out
'

test_expect_success ROOT 'a --root made by mktemp -d (mode 0700) builds and installs' '
	r=$(mktemp -d "$TRASH/root.XXXXXX") &&
	"$TOP/build-aux/mkroot" "$r" >/dev/null &&
	mkdir -p "$r/var/lib/kbuildd" &&
	cp -a "$ROOT/var/lib/kbuildd/keys" "$r/var/lib/kbuildd/" &&
	"$KBUILDD" --root "$r" install "$TOP/recipes/hello.recipe" -k "$K" >out 2>err &&
	test_grep "^hello/1.0.0 .* installed" out &&
	test -n "$(find "$r/lib/modules/$K" -name "hello.ko*")" &&
	test "$(stat -c %a "$r")" = 700
'

test_expect_success ROOT,TEST_KERNEL 'a whole kernel tree, itself 0700 in root'"'"'s 0700 home, builds untouched' '
	krel=$(cat "$TEST_KERNEL/release") &&
	r=$(mktemp -d "$TRASH/root.XXXXXX") &&
	mkdir -p "$r/lib/modules/$krel" "$r/var/lib/kbuildd" &&
	ln -s "$TEST_KERNEL" "$r/lib/modules/$krel/build" &&
	cp -a "$ROOT/var/lib/kbuildd/keys" "$r/var/lib/kbuildd/" &&
	touch stamp &&
	"$KBUILDD" --root "$r" install "$TOP/recipes/hello.recipe" -k "$krel" >out 2>err &&
	test_grep "^hello/1.0.0 .* installed" out &&
	modinfo -F vermagic "$r/var/lib/kbuildd/builds/hello/1.0.0/$krel/src/hello.ko" >vermagic &&
	test_grep "^$krel " vermagic &&
	test -z "$(find "$TEST_KERNEL" -maxdepth 2 -newer stamp)"
'

# in_chroot DIR CMD...: CMD in a chroot at DIR (a plain directory, no mount
# point) in a private mount namespace, holding the host's /usr, /etc and
# /dev and this tree read-only, and the headers of $K below /home/linux
# (headers_bind); with KB_BIND_CHROOT=1, after DIR is bound onto itself
in_chroot () {
	_ic_dir=$1
	shift
	unshare --mount --propagation private sh -ec '
		. "$1"
		ch=$2 top=$3
		shift 3
		binds="/usr /etc /dev $top"
		case $KBUILDD in "$top"/* | /usr/*) ;; *) binds="$binds ${KBUILDD%/*}" ;; esac
		for l in /bin /lib /lib64 /sbin; do
			if [ -L "$l" ]; then
				ln -sfn "$(readlink "$l")" "$ch$l"
			elif [ -d "$l" ]; then
				binds="$binds $l"
			fi
		done
		for d in $binds; do
			mkdir -p "$ch$d"
			mount --bind "$d" "$ch$d"
			mount -o remount,bind,ro "$ch$d"
		done
		mkdir -p "$ch/proc" "$ch/tmp"
		chmod 1777 "$ch/tmp"
		mount -t proc proc "$ch/proc"
		headers_bind "$HEADERS" "$ch/home/linux" /home/linux >/dev/null
		if [ "${KB_BIND_CHROOT:-0}" = 1 ]; then
			mount --rbind "$ch" "$ch"
		fi
		exec chroot "$ch" "$@"
	' sh "$TEST_DIRECTORY/lib/kernel-headers.sh" "$_ic_dir" "$TOP" "$@"
}

test_expect_success ROOT,UNSHARE 'in a chroot that is no mount point, a closed home is named, not opened' '
	ch=$TRASH/chroot &&
	"$TOP/build-aux/mkroot" "$ch/r" >/dev/null &&
	mkdir -m 0700 "$ch/home" &&
	ln -sfn "/home/linux/usr/src/${HEADERS##*/}" "$ch/r/lib/modules/$K/build" &&
	in_chroot "$ch" "$KBUILDD" --root /r add "$TOP/recipes/hello.recipe" >/dev/null &&
	test_must_fail in_chroot "$ch" "$KBUILDD" --root /r build hello -k "$K" >out 2>err &&
	test_grep "^hello/1.0.0 .* failed: build failed (exit 125: its sandbox could not be made" out &&
	test_grep "cannot enter ./home., on the way to ./home/linux/usr/src/${HEADERS##*/}.; in a chroot whose root is not a mount point" err &&
	test_grep "bind-mount the chroot onto itself" err &&
	test "$(stat -c %a "$ch/home")" = 700 &&
	# not recorded as the inputs'"'"' failure: once the chroot is a mount, the same build runs
	KB_BIND_CHROOT=1 in_chroot "$ch" "$KBUILDD" --root /r build hello -k "$K" >out 2>err &&
	test_grep "^hello/1.0.0 .* built" out
'

test_expect_success 'a DEST_MODULE_LOCATION not there yet is made, on a root without os-release' '
	test_path_is_missing "$ROOT/etc/os-release" &&
	test_path_is_missing "$ROOT/usr/lib/os-release" &&
	dkms_tree deep-1.0 kbt_deep &&
	cat >deep-1.0/dkms.conf <<-\EOF &&
	PACKAGE_NAME="kbt-deep"
	PACKAGE_VERSION="1.0"
	BUILT_MODULE_NAME[0]="kbt_deep"
	DEST_MODULE_LOCATION[0]="/extra/vendor/deep"
	AUTOINSTALL="yes"
	EOF
	mkdir -p "$ROOT/lib/modules/$K/extra/other" &&
	echo kept >"$ROOT/lib/modules/$K/extra/other/file" &&
	tree_snapshot "$ROOT/lib/modules/$K" | grep -v "^modules\." >before &&
	kb add deep-1.0 >/dev/null &&
	kb install kbt-deep -k "$K" >out 2>err &&
	test_grep "^kbt-deep/1.0 .* installed" out &&
	f=$(ls "$ROOT/lib/modules/$K/extra/vendor/deep/kbt_deep.ko"*) &&
	test_grep "^extra/vendor/deep/kbt_deep.ko" "$ROOT/lib/modules/$K/modules.dep" &&
	modinfo -F description "$f" >d && test_grep "module kbt_deep" d
'

test_expect_success 'removing it leaves none of the directories it made, and the others' '
	kb remove kbt-deep/1.0 --all >out 2>err &&
	test_path_is_missing "$ROOT/lib/modules/$K/extra/vendor" &&
	tree_snapshot "$ROOT/lib/modules/$K" | grep -v "^modules\." >after &&
	test_cmp before after
'

test_done
