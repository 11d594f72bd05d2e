#!/bin/sh
# Zero compiles for a build-equivalent kernel. Debian's headers of two ABI
# names of one upstream release (the installed 6.1 kernel's and an older
# one, downloaded and unpacked, never installed) differ only in the strings
# that carry the release: a build for one is installed for the other
# without a compiler run. A header the build read that differs forces a
# compile under the default rule, not under `reuse = kabi`; a CRC of an
# imported symbol that differs forces one under both.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib/abi-kernels.sh"

CORPUS=$TOP/tests/corpus
CACHE=${KBUILDD_TEST_CACHE:-$HOME/.cache/kbuildd-test}/corpus
QUICK=${KB_CORPUS:-acpi-call-dkms bbswitch-dkms vpoll-dkms xtables-addons-dkms}

kb_root root
KNEW=$K61
if [ -n "$KNEW" ] && KOLD=$(older_abi_headers "$KNEW"); then
	abi_place "$KOLD" "$ROOT" "$TRASH/hdr" && test_set_prereq ABI
fi
echo ID=debian >"$ROOT/etc/os-release"

# compiled ROOT NAME/VERSION K: the build log shows make compiling
compiled () {
	grep -q "CC \[M\]\| -c -o " "$1/var/lib/kbuildd/builds/$2/$3.log"
}

# reused ROOT NAME/VERSION K: the build log says nothing was compiled, and there is no compile
reused () {
	grep -q "nothing compiled: taken from kernel .*'s build, reused" \
		"$1/var/lib/kbuildd/builds/$2/$3.log" &&
	! compiled "$@"
}

test_expect_success ABI 'the examples and the corpus quick set register' '
	kb add "$TOP"/recipes/*.recipe "$TOP/examples/ticker" >out &&
	# shellcheck disable=SC2086 # one word per package
	"$CORPUS/fetch" "$CACHE" $QUICK >sources &&
	mkdir -p "$ROOT/usr/src" &&
	while IFS="	" read -r pkg src; do
		cp -a "$src" "$ROOT/usr/src/" &&
		kb add "$ROOT/usr/src/${src##*/}" >>out || exit 1
	done <sources &&
	sed -n "s/^registered //p" out >"$TRASH/ids" &&
	test "$(wc -l <"$TRASH/ids")" -ge 6
'

# (some of the corpus does not build for 6.12: the corpus list says which)
test_expect_success ABI 'one rebuild --all compiles once for the 6.1 pair and once for 6.12' '
	kb rebuild --all >out 2>err; rc=$? &&
	test "$rc" -le 1 || { cat out err; exit 1; } &&
	n=0 &&
	while read -r id; do
		if [ -d "$ROOT/var/lib/kbuildd/builds/$id/$KNEW" ]; then
			compiled "$ROOT" "$id" "$KNEW" &&
			reused "$ROOT" "$id" "$KOLD" || { echo "$id: not reused"; exit 1; }
			n=$((n + 1))
		fi
		if [ -d "$ROOT/var/lib/kbuildd/builds/$id/$K612" ]; then
			compiled "$ROOT" "$id" "$K612" || exit 1
		fi
	done <"$TRASH/ids" &&
	echo "$n reused" && test "$n" -ge 6 &&
	# every build log for the older kernel: not one compile
	! grep -l "CC \[M\]" "$ROOT"/var/lib/kbuildd/builds/*/*/"$KOLD".log
'

test_expect_success ABI 'status says what was reused, from which kernel, how many symbols' '
	kb status -k "$KOLD" >st &&
	cat st &&
	grep "installed" st >installed &&
	test "$(grep -c "installed (built for $KNEW, reused: [1-9][0-9]* symbols checked)" st)" \
		= "$(wc -l <installed)" &&
	kb status --json -k "$KOLD" >st.json &&
	python3 -c "
import json, sys
rows = [r for r in json.load(open(\"st.json\")) if r[\"state\"] == \"installed\"]
assert rows, rows
for r in rows:
    assert r[\"reused_from\"] == sys.argv[1], r
    assert r[\"reuse_rule\"] == \"exact\", r
    assert r[\"reused_symbols\"] > 0, r
    assert r[\"origin\"].startswith(\"built for \" + sys.argv[1] + \", reused\"), r
" "$KNEW"
'

test_expect_success ABI 'a reused module keeps the vermagic it was built with, is signed and recorded' '
	f=$(find "$ROOT/lib/modules/$KOLD/updates" -name "hello.ko*") &&
	modinfo -F vermagic "$f" >vm &&
	grep "^$KNEW " vm &&
	kb status -k "$KOLD" hello >st && grep "signed by" st &&
	grep "^reused-from $KNEW$" "$ROOT/var/lib/kbuildd/installed/$KOLD/hello.manifest" &&
	kb status --check >check && cat check
'

test_expect_success ABI 'a second rebuild --all has nothing to do' '
	kb rebuild --all >out 2>err; rc=$? &&
	test "$rc" -le 1 &&
	! grep -v "up to date\|excluded\|same inputs failed" out | grep "installed\|built"
'

test_expect_success ABI 'doctor: a reused module keeps another release in vermagic, and that holds' '
	kb doctor hello -k "$KOLD" >out &&
	cat out &&
	grep "ok *vermagic *vermagic names $KNEW, whose build was reused: the flags match and [1-9][0-9]* imported symbols carry the CRCs $KOLD exports" out
'

test_expect_success ABI 'the build it came from removed: the reuse is checked again, and holds' '
	kb remove hello/1.0.0 -k "$KNEW" >out &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/builds/hello/1.0.0/$KNEW" &&
	kb -v rebuild -k "$KOLD" >out 2>err &&
	grep "hello/1.0.0 for $KOLD: kernel $KNEW.s build changed or is gone; the reuse still holds ([1-9][0-9]* symbols checked)" err &&
	grep "^hello/1.0.0 *$KOLD *up to date" out &&
	kb status -k "$KOLD" hello >st && grep "built for $KNEW, reused" st
'

test_expect_success ABI 'doctor names the symbol when the reuse no longer holds' '
	abi_edit "$TRASH/hdr/linux-headers-$KOLD/Module.symvers" \
		sed -i "s/^0x[0-9a-f]*\t_printk\tvmlinux/0x00c0ffee\t_printk\tvmlinux/" &&
	test_expect_code 1 kb doctor hello -k "$KOLD" >out &&
	cat out &&
	grep "FAIL *vermagic *built for $KNEW and reused, but the reuse no longer holds: symbol _printk: the module wants CRC 0x[0-9a-f]*, vmlinux exports 0x00c0ffee" out
'

# A kernel that arrives after the builds: its hook compiles nothing.
kb_root hookroot
HROOT=$ROOT
test_expect_success ABI 'a build-equivalent kernel arriving through the hooks compiles nothing' '
	kb add "$TOP"/recipes/*.recipe "$TOP/examples/ticker" >/dev/null &&
	kb rebuild --all >out 2>err &&
	! test -e "$HROOT/var/lib/kbuildd/builds/hello/1.0.0/$KOLD.log" &&
	abi_place "$KOLD" "$HROOT" "$TRASH/hdr-hook" &&
	sed "s|@SBINDIR@/kbuildd|$KBUILDD|" "$TOP/hooks/debian/postinst.d-kbuildd" >hook &&
	KBUILDD_ROOT=$HROOT sh hook "$KOLD" "/boot/vmlinuz-$KOLD" >out 2>err &&
	for id in consumer/1.0.0 provider/1.0.0 greeter/1.0.0 hello/1.0.0 legacy/1.0.0 ticker/2.1; do
		reused "$HROOT" "$id" "$KOLD" || { echo "$id compiled"; exit 1; }
	done &&
	kb status -k "$KOLD" >st && cat st &&
	! grep -v "reused" st | grep installed
'

# One recipe and a copy of the older headers that the next tests change.
kb_root editroot
EROOT=$ROOT
EHDR=$TRASH/hdr-edit
if test_have_prereq ABI; then
	abi_place "$KOLD" "$EROOT" "$EHDR" || exit 1
	ECOMMON=$(ls -d "$EHDR"/linux-headers-*-common)
	ECONF=$EROOT/etc/kbuildd/kbuildd.conf
	mkdir -p "$EROOT/etc/kbuildd"
fi

test_expect_success ABI 'a header the build read that differs: compiled under the exact rule' '
	kb add "$TOP/recipes/provider.recipe" "$TOP/recipes/consumer.recipe" >/dev/null &&
	abi_edit "$ECOMMON/include/linux/module.h" sed -i "1i /* a vendor fix */" &&
	kb -v rebuild --all >out 2>err || { cat out err; exit 1; } &&
	compiled "$EROOT" provider/1.0.0 "$KNEW" &&
	compiled "$EROOT" provider/1.0.0 "$KOLD" &&
	compiled "$EROOT" consumer/1.0.0 "$KOLD" &&
	grep "not reusing kernel $KNEW.s build: .*include/linux/module.h:1 differs" err
'

test_expect_success ABI 'the same header under reuse = kabi: reused' '
	printf "[build]\nreuse = kabi\n" >"$ECONF" &&
	kb install provider consumer --force -k "$KOLD" >out 2>err || { cat out err; exit 1; } &&
	reused "$EROOT" provider/1.0.0 "$KOLD" &&
	reused "$EROOT" consumer/1.0.0 "$KOLD" &&
	kb status -k "$KOLD" --json >st.json &&
	grep "\"reuse_rule\": \"kabi\"" st.json
'

test_expect_success ABI '--no-reuse and reuse = no compile' '
	kb install provider --force -k "$KOLD" --no-reuse >out 2>err &&
	compiled "$EROOT" provider/1.0.0 "$KOLD" &&
	printf "[build]\nreuse = no\n" >"$ECONF" &&
	kb install provider --force -k "$KOLD" >out 2>err &&
	compiled "$EROOT" provider/1.0.0 "$KOLD"
'

test_expect_success ABI 'a bad reuse setting is an error naming the line' '
	printf "[build]\nreuse = sometimes\n" >"$ECONF" &&
	test_expect_code 2 kb install provider -k "$KOLD" 2>err &&
	test_grep "kbuildd.conf:2: invalid value .sometimes. for .reuse. in \[build\]" err
'

# the CRC _printk has in the older kernel, changed
crc_change () {
	abi_edit "$EHDR/linux-headers-$KOLD/Module.symvers" \
		sed -i "s/^0x[0-9a-f]*\t_printk\tvmlinux/0x00c0ffee\t_printk\tvmlinux/"
}

test_expect_success ABI 'a CRC of an imported symbol that differs: compiled under kabi' '
	rm -f "$ECONF" && abi_edit "$ECOMMON/include/linux/module.h" sed -i 1d &&
	printf "[build]\nreuse = kabi\n" >"$ECONF" &&
	crc_change &&
	grep "^0x00c0ffee	_printk	" "$EHDR/linux-headers-$KOLD/Module.symvers" &&
	kb -v install provider --force -k "$KOLD" >out 2>err || { cat out err; exit 1; } &&
	compiled "$EROOT" provider/1.0.0 "$KOLD" &&
	grep "not reusing .*symbol _printk (imported by provider.ko) has CRC 0x[0-9a-f]* in the build, 0x00c0ffee in kernel $KOLD.s Module.symvers" err
'

test_expect_success ABI 'and under the exact rule' '
	rm -f "$ECONF" &&
	kb -v install provider --force -k "$KOLD" >out 2>err || { cat out err; exit 1; } &&
	compiled "$EROOT" provider/1.0.0 "$KOLD" &&
	grep "not reusing .*symbol _printk (imported by provider.ko) has CRC" err
'

# A build whose own Module.symvers claims a kernel symbol at the CRC it was
# built against: its word never stands in for the kernel's.
test_expect_success ABI 'a build exporting a kernel symbol itself does not skip its CRC check' '
	mkdir evil &&
	cp "$TOP/examples/hello/hello.c" "$TOP/examples/hello/Kbuild" evil/ &&
	printf "all:\n\t\$(MAKE) -C \$(KDIR) M=\$(CURDIR) modules\n\tgrep -P \"\\\\t_printk\\\\t\" \$(KDIR)/Module.symvers >>Module.symvers\n" \
		>evil/Makefile &&
	cat >evil.recipe <<-EOF &&
	[recipe]
	name = evil
	version = 1.0
	[source]
	path = $TRASH/evil
	[build]
	make = make KDIR={kernel_build}
	[module hello]
	path = hello.ko
	EOF
	kb add evil.recipe >/dev/null &&
	kb -v install evil >out 2>err || { cat out err; exit 1; } &&
	grep -P "\t_printk\t" "$EROOT/var/lib/kbuildd/builds/evil/1.0/$KNEW/src/Module.symvers" &&
	compiled "$EROOT" evil/1.0 "$KNEW" &&
	compiled "$EROOT" evil/1.0 "$KOLD" &&
	grep "not reusing .*symbol _printk (imported by hello.ko) has CRC 0x[0-9a-f]* in the build, 0x00c0ffee in kernel $KOLD.s Module.symvers" err
'

test_done
