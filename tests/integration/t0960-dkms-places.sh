#!/bin/sh
# A dkms.conf's MAKE may write by absolute path where DKMS lets it: its own
# /usr/src/NAME-VERSION and /var/lib/dkms/NAME/VERSION/build. In the
# sandbox those are the build's own, private and gone with it; the rest of
# /usr/src stays read-only, and neither the root's tree nor the host's
# changes. Only as root, with mounts of its own.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib/dkms-tree.sh"

[ "$(id -u)" = 0 ] && mountpoint -q / && test_set_prereq ISOLATED
kb_dkms_root root

# a driver whose MAKE builds in /usr/src/N-V by absolute path and moves
# the module into /var/lib/dkms/N/V/build, as west-chamber-dkms does
places_driver () {
	mkdir -p "$ROOT/usr/src" &&
	dkms_tree "$ROOT/usr/src/$1-1.0" kbt_places &&
	cat >"$ROOT/usr/src/$1-1.0/dkms.conf" <<-EOF
	PACKAGE_NAME="$1"
	PACKAGE_VERSION="1.0"
	PSRC="/usr/src/\${PACKAGE_NAME}-\${PACKAGE_VERSION}"
	PDEST="/var/lib/dkms/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build"
	MAKE="$2make -C /lib/modules/\$kernelver/build M=\${PSRC} modules && mv \${PSRC}/kbt_places.ko \${PDEST}/"
	BUILT_MODULE_NAME[0]="kbt_places"
	DEST_MODULE_LOCATION[0]="/updates"
	AUTOINSTALL="yes"
	EOF
}

snap () {
	find "$1" -printf '%P %y %s %m\n' 2>/dev/null | sort
}

test_expect_success ISOLATED 'a MAKE writing its /usr/src/N-V and /var/lib/dkms/N/V/build installs' '
	places_driver kbt-places "" &&
	snap "$ROOT/usr/src" >root-before && snap /usr/src >host-before &&
	{ ls -d /var/lib/dkms >host-dkms-before 2>&1 || :; } &&
	kb add "$ROOT/usr/src/kbt-places-1.0" &&
	kb rebuild -k "$K1" >out 2>&1 &&
	test_grep "kbt-places/1.0 *$K1 *installed" out &&
	ls "$ROOT/lib/modules/$K1/updates/dkms/kbt_places.ko"* &&
	# the private copy ended with the build: the kept build holds src/ only
	test_path_is_dir "$ROOT/var/lib/kbuildd/builds/kbt-places/1.0/$K1/src" &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/builds/kbt-places/1.0/$K1/usrsrc"
'

test_expect_success ISOLATED 'neither the root'"'"'s /usr/src nor the host'"'"'s changed' '
	snap "$ROOT/usr/src" >root-after && test_cmp root-before root-after &&
	snap /usr/src >host-after && test_cmp host-before host-after &&
	{ ls -d /var/lib/dkms >host-dkms-after 2>&1 || :; } &&
	test_cmp host-dkms-before host-dkms-after
'

test_expect_success ISOLATED 'a MAKE writing elsewhere in /usr/src still fails read-only' '
	places_driver kbt-other "touch /usr/src/kbt-intruder; " &&
	kb add "$ROOT/usr/src/kbt-other-1.0" &&
	test_must_fail kb rebuild -k "$K1" >out 2>&1 &&
	test_grep "Read-only file system" "$ROOT/var/lib/kbuildd/builds/kbt-other/1.0/$K1.log" &&
	! test -e /usr/src/kbt-intruder && ! test -e "$ROOT/usr/src/kbt-intruder" &&
	kb remove kbt-other/1.0 --all
'

# as west-chamber finds xtables-addons: the conf, read per kernel, looks
# for another package's tree in /usr/src, which the root installed
find_peer () {
	sed -i '1a PEER=`find /usr/src -maxdepth 1 -type d -name "kbt-peer-*" -print | sort | tail -1`' "$1"
}

test_expect_success ISOLATED 'a conf finds another package in the root'"'"'s /usr/src' '
	kb remove kbt-places/1.0 --all &&
	mkdir -p "$ROOT/usr/src/kbt-peer-2.0" &&
	echo "#define KBT_PEER 1" >"$ROOT/usr/src/kbt-peer-2.0/peer.h" &&
	places_driver kbt-finder "test -f \${PEER}/peer.h && " &&
	find_peer "$ROOT/usr/src/kbt-finder-1.0/dkms.conf" &&
	kb add "$ROOT/usr/src/kbt-finder-1.0" &&
	kb rebuild -k "$K1" >out 2>&1 &&
	test_grep "kbt-finder/1.0 *$K1 *installed" out &&
	kb remove kbt-finder/1.0 --all
'

test_expect_success ISOLATED 'each kernel builds in its own copy, at once' '
	if [ "$K1" = "$K2" ]; then
		echo "one kernel only"
	else
		places_driver kbt-two "touch \${PSRC}/mine-\$kernelver; test \\\$(ls \${PSRC}/mine-* | wc -l) = 1 && " &&
		kb add "$ROOT/usr/src/kbt-two-1.0" &&
		kb rebuild -k "$K1" -k "$K2" -j 4 >out 2>&1 &&
		test_grep "kbt-two/1.0 *$K1 *installed" out &&
		test_grep "kbt-two/1.0 *$K2 *installed" out &&
		! ls "$ROOT/usr/src/kbt-two-1.0/mine-"* 2>/dev/null
	fi
'

test_done
