#!/bin/sh
# A binary module package from `kbuildd export --deb` installs with dpkg on
# a real Debian system (a debootstrap chroot with the kernel image it
# depends on, from the mirror): its module appears in modules.dep, and
# removing the package takes it out again. No kbuildd on that system.
# shellcheck disable=SC2016,SC2034
. "$(dirname "$0")/../integration/test-lib.sh"

. "$TEST_DIRECTORY/lib-chroot.sh"

kb_root root
K=$K61
[ -n "$K" ] || K=${KERNELS%% *}
mkdir -p "$ROOT/etc/kbuildd" debs
printf "[export]\nmaintainer = Fleet Ops <ops@example.org>\n" >"$ROOT/etc/kbuildd/kbuildd.conf"
DEB=$TRASH/debs/provider-modules-${K}_1.0.0_amd64.deb

test_expect_success 'provider is built and installed for the host headers, and exported' '
	kb add "$TOP/recipes/provider.recipe" >/dev/null &&
	kb install provider -k "$K" >out &&
	kb export --deb provider/1.0.0 -k "$K" --output "$TRASH/debs" >out &&
	test_path_is_file "$DEB"
'

test_expect_success 'setup: debootstrap base (cached), the kernel image the package depends on' '
	chroot_setup_base &&
	chroot_enter &&
	in_chroot apt-get install -y "linux-image-$K" >apt-install.log 2>&1 ||
	{ tail -30 apt-install.log; exit 1; }
	test -d "$CH/lib/modules/$K/kernel" &&
	test_path_is_missing "$CH/usr/sbin/kbuildd"
'

test_expect_success 'dpkg installs the package: its module is in modules.dep, signed as kbuildd signed it' '
	cp "$DEB" "$CH/tmp/" &&
	in_chroot dpkg -i "/tmp/${DEB##*/}" >dpkg.log 2>&1 || { cat dpkg.log; exit 1; }
	f=$(cd "$ROOT" && find "lib/modules/$K/updates" -name "provider.ko*") &&
	cmp "$ROOT/$f" "$CH/$f" &&
	grep "^updates/kbuildd/provider.ko[^:]*:" "$CH/lib/modules/$K/modules.dep" &&
	in_chroot modinfo -F signer "/$f" >signer &&
	test "$(cat signer)" = "kbuildd module signing key" &&
	in_chroot dpkg -s "provider-modules-$K" >st && grep "^Status: install ok installed" st
'

test_expect_success 'removing it takes the module out of modules.dep' '
	in_chroot dpkg -r "provider-modules-$K" >dpkg.log 2>&1 || { cat dpkg.log; exit 1; }
	test_path_is_missing "$CH/$(cd "$ROOT" && find "lib/modules/$K/updates" -name "provider.ko*")" &&
	! grep provider "$CH/lib/modules/$K/modules.dep"
'

test_done
