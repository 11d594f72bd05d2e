#!/bin/sh
# kbuildd doctor, as an admin whose module will not load meets it: each
# classic failure is made on purpose and the diagnosis checked. The running
# kernel's facts (osrelease, /proc/keys, sig_enforce) are files under --root.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
if [ -n "$K61" ] && [ -n "$K612" ]; then
	test_set_prereq TWO_SERIES
fi
K=${K612:-${KERNELS%% *}}
MODDIR=$ROOT/lib/modules/$K/updates/kbuildd

test_expect_success 'setup: hello, greeter and the provider/consumer pair installed' '
	kb install "$TOP"/recipes/hello.recipe "$TOP"/recipes/greeter.recipe \
		"$TOP"/recipes/provider.recipe "$TOP"/recipes/consumer.recipe >/dev/null
'

test_expect_success 'a healthy module: every check passes, exit 0' '
	kb doctor hello -k "$K" >out &&
	test_grep "^hello for $K" out &&
	test_grep "ok  *vermagic" out &&
	test_grep "ok  *symbols  *all [0-9]* imported symbols" out &&
	test_grep "ok  *shadowing" out &&
	test_grep -v "FAIL" out
'

test_expect_success TWO_SERIES 'a module built for the other series: vermagic, with both strings' '
	cp "$ROOT/lib/modules/$K61/updates/kbuildd/hello.ko" hello-61.ko &&
	test_expect_code 1 kb doctor -k "$K612" hello-61.ko >out &&
	test_grep "FAIL  *vermagic  *built for another kernel: vermagic is .$K61 .*kernel is .$K612." out &&
	test_grep "Invalid module format" out
'

test_expect_success 'a consumer without its provider: Unknown symbol, naming the recipe' '
	kb remove provider/1.0.0 -k "$K" >/dev/null &&
	kb build provider -k "$K" >/dev/null &&
	test_expect_code 1 kb doctor consumer -k "$K" >out &&
	test_grep "FAIL  *symbols  *\"Unknown symbol provider_add\": recipe provider/1.0.0 exports it but is not installed" out &&
	test_grep "fix: install the provider: kbuildd install provider/1.0.0 -k $K" out &&
	kb install provider -k "$K" >/dev/null &&
	kb doctor consumer -k "$K" >out &&
	test_grep "ok  *symbols" out
'

test_expect_success 'an altered import CRC: disagrees about version of symbol' '
	xz -dc "$MODDIR/hello.ko.xz" >hello.ko 2>/dev/null || cp "$MODDIR/hello.ko" hello.ko
	python3 - hello.ko <<-\EOF &&
	import sys
	data = bytearray(open(sys.argv[1], "rb").read())
	# __versions: 8-byte CRC then a 56-byte NUL-padded name, per import
	at = data.find(b"\0_printk\0")
	assert at > 0, "no _printk in __versions"
	start = at + 1 - 8
	data[start:start + 4] = b"\x78\x56\x34\x12"
	open(sys.argv[1], "wb").write(data)
	EOF
	test_expect_code 1 kb doctor -k "$K" hello.ko >out &&
	test_grep "FAIL  *symbols  *\"disagrees about version of symbol _printk\": the module wants CRC 0x.*12345678, vmlinux exports 0x" out
'

test_expect_success 'a missing firmware file is named, and found once present' '
	test_expect_code 1 kb doctor greeter -k "$K" >out &&
	test_grep "FAIL  *firmware  *firmware .kbuildd-example/greeter.bin. is missing" out &&
	mkdir -p "$ROOT/lib/firmware/kbuildd-example" &&
	echo fw >"$ROOT/lib/firmware/kbuildd-example/greeter.bin" &&
	kb doctor greeter -k "$K" >out &&
	test_grep "ok  *firmware  *all 1 firmware files present" out
'

test_expect_success 'blacklisting in modprobe.d is reported with file and line' '
	mkdir -p "$ROOT/etc/modprobe.d" &&
	printf "# local policy\nblacklist hello\n" >"$ROOT/etc/modprobe.d/local.conf" &&
	kb doctor hello -k "$K" >out &&
	test_grep "WARN  *blacklist  */etc/modprobe.d/local.conf:2: .blacklist hello." out &&
	rm "$ROOT/etc/modprobe.d/local.conf"
'

test_expect_success 'a shadowing module of higher depmod priority is reported' '
	mkdir -p "$ROOT/etc/depmod.d" "$ROOT/lib/modules/$K/kernel/misc" &&
	cp "$MODDIR"/hello.ko* "$ROOT/lib/modules/$K/kernel/misc/" &&
	echo "override hello * kernel/misc" >"$ROOT/etc/depmod.d/override.conf" &&
	depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$K" 2>/dev/null &&
	test_expect_code 1 kb doctor hello -k "$K" >out &&
	test_grep "FAIL  *shadowing  *modprobe hello loads .*kernel/misc/hello.ko.* instead" out &&
	rm -r "$ROOT/lib/modules/$K/kernel" "$ROOT/etc/depmod.d/override.conf" &&
	depmod -b "$ROOT" -C "$ROOT/etc/depmod.d" "$K" 2>/dev/null
'

# The running kernel, as far as doctor can tell, is what <root>/proc says.
running () {
	mkdir -p "$ROOT/proc/sys/kernel" "$ROOT/sys/module/module/parameters" &&
	echo "$K" >"$ROOT/proc/sys/kernel/osrelease" &&
	: >"$ROOT/proc/modules" &&
	echo "$1" >"$ROOT/sys/module/module/parameters/sig_enforce"
}

trusted_key_line () {	# the /proc/keys line the kernel shows for our certificate
	cert=$ROOT/var/lib/kbuildd/keys/signing_key.x509
	skid=$(openssl x509 -in "$cert" -noout -ext subjectKeyIdentifier | tail -1 | tr -d " :" | tr A-F a-f)
	echo "1f3a0b2c I------     1 perm 1f030000     0     0 asymmetri kbuildd module signing key: $skid: X509.rsa 1234abcd []"
}

test_expect_success 'the running kernel trusts our key: signature ok' '
	running N &&
	trusted_key_line >"$ROOT/proc/keys" &&
	kb doctor hello >out &&
	test_grep "ok  *signature  *signed by .kbuildd module signing key. (key [0-9A-F:]*, sha256), a key the kernel trusts" out &&
	test_grep "info  *loaded  *not loaded" out
'

test_expect_success 'a key the kernel does not trust, with sig_enforce: Key was rejected, and the mokutil line' '
	running Y &&
	echo "1f3a0b2c I------     1 perm 1f030000     0     0 asymmetri Debian Secure Boot CA: 6ccece7e: X509.rsa 1 []" >"$ROOT/proc/keys" &&
	test_expect_code 1 kb doctor hello >out &&
	test_grep "FAIL  *signature  *signed by .kbuildd module signing key.*does not trust that key and enforces signatures (module.sig_enforce=1): loading fails with \"Key was rejected by service\"" out &&
	test_grep "fix: enroll the signing certificate: mokutil --import .*signing_key.x509.der" out
'

test_expect_success 'an unsigned module under enforcement fails; without it, it taints' '
	running Y &&
	xz -dc "$MODDIR/hello.ko.xz" >plain.ko 2>/dev/null || cp "$MODDIR/hello.ko" plain.ko
	size=$(stat -c %s plain.ko) &&
	python3 -c "import sys; d=open(\"plain.ko\",\"rb\").read(); n=int.from_bytes(d[-32:-28],\"big\"); open(\"unsigned.ko\",\"wb\").write(d[:len(d)-n-40])" &&
	! grep -q "Module signature appended" unsigned.ko &&
	test_expect_code 1 kb doctor -k "$K" unsigned.ko >out &&
	test_grep "FAIL  *signature  *not signed, and the kernel enforces signatures" out &&
	running N &&
	kb doctor -k "$K" unsigned.ko >out &&
	test_grep "WARN  *signature  *not signed: it loads, but taints the kernel (E)" out
'

test_expect_success 'a loaded copy that is not the installed one: reload or reboot' '
	running N &&
	mkdir -p "$ROOT/sys/module/hello" &&
	echo "0123456789ABCDEF0123456" >"$ROOT/sys/module/hello/srcversion" &&
	kb doctor hello >out &&
	test_grep "WARN  *loaded  *the loaded module is another build" out &&
	test_grep "fix: reload it (modprobe -r hello && modprobe hello) or reboot" out
'

test_expect_success 'a kernel that is not running: says what it could not check; JSON too' '
	rm -r "$ROOT/proc" "$ROOT/sys" &&
	kb doctor hello -k "$K" >out &&
	test_grep "info  *loaded  *$K is not the running kernel" out &&
	test_grep "signed by .kbuildd module signing key.*can only be checked while it runs" out &&
	kb doctor --json hello -k "$K" >out.json &&
	python3 -c "import json,sys; d=json.load(open(\"out.json\")); assert d[0][\"module\"]==\"hello\" and d[0][\"running\"] is False and any(f[\"check\"]==\"vermagic\" and f[\"level\"]==\"ok\" for f in d[0][\"findings\"])"
'

test_expect_success 'nothing to check is bad input' '
	test_expect_code 2 kb doctor nosuch -k "$K" 2>err &&
	test_grep "nothing to check" err
'

test_expect_success 'status says whether the running kernel has this build loaded' '
	running N &&
	src=$(/sbin/modinfo -F srcversion "$(ls "$MODDIR"/hello.ko*)") &&
	mkdir -p "$ROOT/sys/module/hello" &&
	echo "$src" >"$ROOT/sys/module/hello/srcversion" &&
	kb status hello >out &&
	test_grep "^hello/1.0.0 *$K *installed: .*; hello loaded$" out &&
	echo "0000000000000000000000" >"$ROOT/sys/module/hello/srcversion" &&
	kb status hello >out &&
	test_grep "hello loaded is another build: reload or reboot to use 1.0.0" out &&
	rm -r "$ROOT/sys/module/hello" &&
	kb status hello >out &&
	test_grep "hello not loaded" out &&
	rm -r "$ROOT/proc" "$ROOT/sys"
'

kb_root cfgroot
test_expect_success 'autoload, options and blacklist are written at install, owned, and removed' '
	sed -e "s/^name = greeter/name = greeter-conf/" \
	    -e "s|path = ../examples/greeter|path = $TOP/examples/greeter|" \
	    "$TOP/recipes/greeter.recipe" >greeter-conf.recipe &&
	printf "autoload = yes\noptions = greeting=hi repeat=2\nblacklist = pcspkr\n" >>greeter-conf.recipe &&
	kb install greeter-conf.recipe >/dev/null &&
	printf "# Written by kbuildd for greeter-conf; removed with it.\ngreeter\n" >expect.load &&
	test_cmp expect.load "$ROOT/etc/modules-load.d/kbuildd-greeter-conf.conf" &&
	printf "# Written by kbuildd for greeter-conf; removed with it.\nblacklist pcspkr\noptions greeter greeting=hi repeat=2\n" >expect.probe &&
	test_cmp expect.probe "$ROOT/etc/modprobe.d/kbuildd-greeter-conf.conf" &&
	kb remove greeter-conf/1.0.0 -k "${KERNELS%% *}" >/dev/null &&
	test_path_is_file "$ROOT/etc/modprobe.d/kbuildd-greeter-conf.conf" &&
	kb remove greeter-conf/1.0.0 --all >/dev/null &&
	test_path_is_missing "$ROOT/etc/modprobe.d/kbuildd-greeter-conf.conf" &&
	test_path_is_missing "$ROOT/etc/modules-load.d/kbuildd-greeter-conf.conf"
'

test_expect_success 'an admin file of the same name is not overwritten without --force' '
	mkdir -p "$ROOT/etc/modprobe.d" &&
	echo "options greeter repeat=5" >"$ROOT/etc/modprobe.d/kbuildd-greeter-conf.conf" &&
	test_expect_code 1 kb install greeter-conf.recipe >out 2>err &&
	test_grep "refusing to overwrite ./etc/modprobe.d/kbuildd-greeter-conf.conf." err &&
	test "$(cat "$ROOT/etc/modprobe.d/kbuildd-greeter-conf.conf")" = "options greeter repeat=5"
'

test_done
