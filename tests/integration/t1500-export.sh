#!/bin/sh
# kbuildd export --deb: what kbuildd installed for a (recipe, kernel), as a
# Debian binary package a fleet ships through its APT repository: the very
# files installed (signed, compressed), Depends on that kernel's image,
# depmod in its maintainer scripts, lintian clean. Bad input is refused,
# naming what is wrong, and leaves no file behind.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=$K612
[ -n "$K" ] || K=${KERNELS%% *}
mkdir -p "$ROOT/etc/kbuildd" debs
printf "[export]\nmaintainer = Fleet Ops <ops@example.org>\n" >"$ROOT/etc/kbuildd/kbuildd.conf"
if ! command -v lintian >/dev/null && [ "$(id -u)" = 0 ]; then
	apt-get install -y -q lintian >/dev/null 2>&1 || :
fi
command -v lintian >/dev/null && test_set_prereq LINTIAN

PKG=hello-modules-$K
DEB=$TRASH/debs/${PKG}_1.0.0_amd64.deb

test_expect_success 'hello and ticker (a dkms.conf driver) are installed for every kernel' '
	kb add "$TOP/recipes/hello.recipe" "$TOP/examples/ticker" >/dev/null &&
	kb install hello ticker >out
'

test_expect_success 'export --deb writes one package per recipe and kernel' '
	kb export --deb hello/1.0.0 -k "$K" --output "$TRASH/debs" >out &&
	test_grep "^hello/1.0.0 $K: $DEB$" out &&
	test_path_is_file "$DEB" &&
	ls -a "$TRASH/debs" >left && test "$(grep -c . left)" = 3
'

test_expect_success 'its control names the kernel image it needs, its version and maintainer' '
	dpkg-deb -f "$DEB" Package Version Architecture Depends Maintainer Section >control &&
	cat control &&
	test_grep "^Package: $PKG$" control &&
	test_grep "^Version: 1.0.0$" control &&
	test_grep "^Architecture: amd64$" control &&
	test_grep "^Depends: linux-image-$K | linux-image-$K-unsigned, kmod$" control &&
	test_grep "^Maintainer: Fleet Ops <ops@example.org>$" control
'

test_expect_success 'it holds exactly the files installed, and depmod runs on install and removal' '
	dpkg-deb -x "$DEB" x &&
	f=$(cd "$ROOT" && find lib/modules/"$K"/updates -name "hello.ko*") &&
	cmp "$ROOT/$f" "x/$f" &&
	dpkg-deb -c "$DEB" | grep "\.ko" >files && test "$(wc -l <files)" = 1 &&
	dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./postinst >postinst &&
	test_grep "depmod -a $K" postinst &&
	dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./postrm >postrm &&
	test_grep "depmod -a $K" postrm &&
	dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./md5sums >md5sums &&
	test_grep " $f$" md5sums
'

test_expect_success LINTIAN 'lintian finds nothing to say' '
	kb export --deb --all --output "$TRASH/debs" >out &&
	test "$(wc -l <out)" -ge 2 &&
	lintian --tag-display-limit 0 "$TRASH"/debs/*.deb >lint 2>&1 || :
	grep -v "running with root privileges" lint >lint.left || :
	if test -s lint.left; then cat lint.left; exit 1; fi
'

test_expect_success 'an installed file that changed is refused, and nothing is written' '
	rm -f "$TRASH"/debs/* &&
	f=$(find "$ROOT/lib/modules/$K/updates" -name "hello.ko*") &&
	cp "$f" saved && echo x >>"$f" &&
	test_expect_code 2 kb export --deb hello/1.0.0 -k "$K" --output "$TRASH/debs" 2>err &&
	test_grep "hello.ko.* is not the file kbuildd installed" err &&
	cp saved "$f" &&
	test -z "$(ls -A "$TRASH/debs")"
'

test_expect_success 'what is not installed, or no --deb, or no directory: exit 2, saying so' '
	kb remove hello/1.0.0 -k "$K" >/dev/null &&
	test_expect_code 2 kb export --deb hello/1.0.0 -k "$K" --output "$TRASH/debs" 2>err &&
	test_grep "hello/1.0.0 is not installed for $K" err &&
	test_expect_code 2 kb export hello/1.0.0 2>err &&
	test_grep "say which kind of package: --deb" err &&
	test_expect_code 2 kb export --deb hello/1.0.0 --output "$TRASH/nowhere" 2>err &&
	test_grep "is not a directory" err &&
	test -z "$(ls -A "$TRASH/debs")"
'

test_done
