#!/bin/sh
# Real kernels enforce what kbuildd signs. A small kernel built from Debian's
# linux-source with MODULE_SIG_FORCE trusts only a certificate made by
# `kbuildd keys generate`; the stock Debian kernel with module.sig_enforce=1
# trusts none of ours. Both boot under qemu (TCG) with a busybox initramfs
# that runs insmod (tests/e2e/boot-module); the trusted key also signs from
# a SoftHSM2 token. The test kernel and the trusted key are cached outside
# the work tree (tests/e2e/build-test-kernel).
# shellcheck disable=SC2016
. "$(dirname "$0")/../integration/test-lib.sh"

E2E=$TOP/tests/e2e
CACHE=${KBUILDD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbuildd-test}
TRUST=$CACHE/kbuildd-trusted-root
CERT=$TRUST/var/lib/kbuildd/keys/signing_key.x509

# boot KERNEL [APPEND] MODULE...: KBTEST lines in ./boot.out
boot () {
	kernel=$1 append=$2
	shift 2
	"$E2E/boot-module" --append "$append" "$kernel" "$@" >boot.out 2>boot.err || {
		cat boot.err
		return 1
	}
	cat boot.out
}

tainted () {
	sed -n 's/^KBTEST tainted=//p' boot.out
}

test_expect_success 'setup: the trusted key comes from kbuildd keys generate' '
	if ! [ -s "$CERT" ]; then
		mkdir -p "$TRUST" &&
		"$KBUILDD" --root "$TRUST" keys generate >/dev/null
	fi &&
	test_path_is_file "$TRUST/var/lib/kbuildd/keys/signing_key.pem"
'

test_expect_success 'setup: a test kernel that trusts only that certificate (cached)' '
	"$E2E/build-test-kernel" "$CERT" >kdir 2>build.err || { tail -30 build.err; exit 1; }
	kdir=$(cat kdir) &&
	test_path_is_file "$kdir/arch/x86/boot/bzImage" &&
	grep -q "^CONFIG_MODULE_SIG_FORCE=y" "$kdir/.config"
'
KDIR=$(cat "$TRASH/kdir" 2>/dev/null)
KREL=$(cat "$KDIR/release" 2>/dev/null)
BZIMAGE=$KDIR/arch/x86/boot/bzImage

test_expect_success 'kbuildd builds, signs and installs hello for the test kernel' '
	mkdir -p root/lib/modules/$KREL root/var/lib/kbuildd/keys root/etc/kbuildd &&
	# the test kernel lives in root'"'"'s private cache: the sandbox opens the way to it
	ln -s "$KDIR" root/lib/modules/$KREL/build &&
	cp "$TRUST"/var/lib/kbuildd/keys/signing_key.* root/var/lib/kbuildd/keys/ &&
	"$KBUILDD" --root "$TRASH/root" install "$TOP/recipes/hello.recipe" >out &&
	test_grep "^hello/1.0.0 *$KREL *installed" out &&
	test_path_is_file root/lib/modules/$KREL/updates/kbuildd/hello.ko &&
	cp root/lib/modules/$KREL/updates/kbuildd/hello.ko signed-hello.ko &&
	test "$(/sbin/modinfo -F signer signed-hello.ko)" = "kbuildd module signing key"
'

test_expect_success 'the kernel loads the module kbuildd signed, with no unsigned taint' '
	boot "$BZIMAGE" "" signed-hello.ko &&
	test_grep "^KBTEST insmod signed-hello.ko rc=0$" boot.out &&
	test $(( $(tainted) & 8192 )) = 0 &&
	test_grep "hello: loaded" boot.out
'

test_expect_success SOFTHSM 'the trusted key on a PKCS#11 token: the module it signs loads' '
	softhsm_token boot &&
	openssl pkcs8 -topk8 -nocrypt -in "$TRUST/var/lib/kbuildd/keys/signing_key.pem" -out key.p8 &&
	softhsm2-util --import key.p8 --token boot --label modkey --id 01 --pin 1234 >/dev/null &&
	rm key.p8 &&
	mkdir -p troot/lib/modules/$KREL troot/etc/kbuildd &&
	ln -s "$KDIR" troot/lib/modules/$KREL/build &&
	cp "$CERT" troot/etc/kbuildd/token.x509 &&
	echo 1234 >troot/etc/kbuildd/pin && chmod 600 troot/etc/kbuildd/pin &&
	printf "[signing]\nkey = pkcs11:token=boot;object=modkey?module-path=%s\ncert = %s\npin_file = %s\n" \
		"$SOFTHSM" /etc/kbuildd/token.x509 /etc/kbuildd/pin >troot/etc/kbuildd/kbuildd.conf &&
	"$KBUILDD" --root "$TRASH/troot" install "$TOP/recipes/hello.recipe" >out &&
	test_path_is_missing troot/var/lib/kbuildd/keys/signing_key.pem &&
	cp troot/lib/modules/$KREL/updates/kbuildd/hello.ko token-hello.ko &&
	boot "$BZIMAGE" "" token-hello.ko &&
	test_grep "^KBTEST insmod token-hello.ko rc=0$" boot.out &&
	test $(( $(tainted) & 8192 )) = 0
'

test_expect_success 'the same module unsigned is rejected' '
	cp root/var/lib/kbuildd/builds/hello/1.0.0/$KREL/src/hello.ko unsigned-hello.ko &&
	! grep -q "Module signature appended" unsigned-hello.ko &&
	boot "$BZIMAGE" "" unsigned-hello.ko &&
	test_grep "^KBTEST insmod unsigned-hello.ko rc=129$" boot.out &&
	test_grep "Loading of unsigned module is rejected" boot.out
'

test_expect_success 'the same module signed with another kbuildd key is rejected' '
	mkdir -p other &&
	"$KBUILDD" --root "$TRASH/other" keys generate >/dev/null &&
	"$KBUILDD" sign other/var/lib/kbuildd/keys/signing_key.pem \
		other/var/lib/kbuildd/keys/signing_key.x509 unsigned-hello.ko other-hello.ko &&
	boot "$BZIMAGE" "" other-hello.ko &&
	test_grep "^KBTEST insmod other-hello.ko rc=129$" boot.out &&
	test_grep "module with unavailable key is rejected" boot.out
'

test_expect_success 'stock Debian kernel: a kbuildd-signed module is refused for its unknown key' '
	vmlinuz=$("$E2E/debian-kernel" 2>debian.err) || { cat debian.err; exit 1; }
	drel=$(basename "$vmlinuz" | sed "s/^vmlinuz-//") &&
	kb_root droot &&
	kb install -k "$drel" "$TOP/recipes/hello.recipe" >out &&
	cp "$ROOT"/lib/modules/$drel/updates/kbuildd/hello.ko* . &&
	mod=$(ls hello.ko*) &&
	boot "$vmlinuz" module.sig_enforce=1 "$mod" &&
	test_grep "^KBTEST insmod hello.ko rc=129$" boot.out &&
	test_grep "module with unavailable key is rejected" boot.out &&
	test_grep -v "unsigned module is rejected" boot.out
'

test_done
