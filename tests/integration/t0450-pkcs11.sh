#!/bin/sh
# Signing with a key that stays on a PKCS#11 token: a SoftHSM2 token the
# test initialises (its store in the test's directory), a key imported from
# a PEM file. The token's signature is the file key's and sign-file's, byte
# for byte; every refusal leaves the module as it was.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${KERNELS%% *}
SIGN_FILE=$ROOT/lib/modules/$K/build/scripts/sign-file
[ -x "$SIGN_FILE" ] && test_set_prereq SIGN_FILE
MOD="module-path=$SOFTHSM"
URI="pkcs11:token=kbuildd;object=modkey?$MOD"
export MOD URI K

test_expect_success SOFTHSM 'setup: a token, a key imported into it, an unsigned module' '
	softhsm_token kbuildd &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=token signing key" \
		-addext subjectKeyIdentifier=hash -keyout key.pem -out cert.pem 2>/dev/null &&
	openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.p8 &&
	softhsm2-util --import key.p8 --token kbuildd --label modkey --id 01 --pin 1234 >/dev/null &&
	rm key.p8 &&
	kb add "$TOP/recipes/hello.recipe" >/dev/null &&
	kb build hello -k "$K" >/dev/null &&
	cp "$ROOT/var/lib/kbuildd/builds/hello/1.0.0/$K/src/hello.ko" unsigned.ko
'

test_expect_success SOFTHSM 'the token signs what the key file signs, byte for byte; it verifies' '
	KBUILD_SIGN_PIN=1234 kb sign "$URI" cert.pem unsigned.ko token.ko &&
	kb sign key.pem cert.pem unsigned.ko file.ko &&
	cmp token.ko file.ko &&
	kb verify --cert cert.pem token.ko >out &&
	test_grep "token signing key" out
'

test_expect_success SOFTHSM,SIGN_FILE 'and what the kernel'"'"'s sign-file signs with the same key' '
	cp unsigned.ko ref.ko && "$SIGN_FILE" sha256 key.pem cert.pem ref.ko &&
	cmp ref.ko token.ko &&
	KBUILD_SIGN_PIN=1234 kb sign --hash sha512 "pkcs11:token=kbuildd;id=%01?$MOD" cert.pem \
		unsigned.ko token512.ko &&
	cp unsigned.ko ref512.ko && "$SIGN_FILE" sha512 key.pem cert.pem ref512.ko &&
	cmp ref512.ko token512.ko
'

test_expect_success SOFTHSM 'the PIN from pin-source, a file only its owner reads' '
	echo 1234 >pin && chmod 600 pin &&
	kb sign "pkcs11:token=kbuildd;object=modkey?$MOD&pin-source=file:$TRASH/pin" cert.pem \
		unsigned.ko pinsrc.ko &&
	cmp pinsrc.ko file.ko &&
	chmod 644 pin && cp unsigned.ko same.ko &&
	test_expect_code 2 kb sign "pkcs11:token=kbuildd;object=modkey?$MOD&pin-source=$TRASH/pin" \
		cert.pem same.ko 2>err &&
	test_grep "PIN file .*must be a regular file only its owner can read" err &&
	cmp same.ko unsigned.ko
'

# each refusal: exit 2, a line naming the URI and what is wrong, the module unchanged
refused () {	# PIN URI CERT PATTERN
	cp unsigned.ko victim.ko &&
	KBUILD_SIGN_PIN=$1 test_expect_code 2 kb sign "$2" "$3" victim.ko 2>err &&
	test_grep "$4" err &&
	cmp victim.ko unsigned.ko
}

test_expect_success SOFTHSM 'a wrong PIN, no such token, no such key, another key'"'"'s certificate: refused' '
	refused 9999 "$URI" cert.pem "token .kbuildd. refused the PIN" &&
	refused 1234 "pkcs11:token=nosuch;object=modkey?$MOD" cert.pem "no token matches (tokens present: .kbuildd.)" &&
	refused 1234 "pkcs11:token=kbuildd;object=nosuch?$MOD" cert.pem "token .kbuildd. holds no private key of that object/id" &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=other" -keyout other.pem \
		-out other.crt 2>/dev/null &&
	refused 1234 "$URI" other.crt "does not match certificate .other.crt." &&
	refused 1234 "pkcs11:token=kbuildd;colour=blue?$MOD" cert.pem "unknown attribute .colour." &&
	refused 1234 "pkcs11:token=kbuildd?module-path=$TRASH/none.so" cert.pem "cannot load the PKCS#11 module"
'

test_expect_success SOFTHSM '[signing] key = pkcs11:...: installed modules are signed by the token' '
	echo 1234 >"$ROOT/etc/kbuildd/pin" 2>/dev/null || { mkdir -p "$ROOT/etc/kbuildd" && echo 1234 >"$ROOT/etc/kbuildd/pin"; } &&
	chmod 600 "$ROOT/etc/kbuildd/pin" && cp cert.pem "$ROOT/etc/kbuildd/token.pem" &&
	printf "[signing]\nkey = %s\ncert = /etc/kbuildd/token.pem\npin_file = /etc/kbuildd/pin\n" "$URI" \
		>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb install hello -k "$K" >/dev/null &&
	f=$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*) &&
	{ xz -dc "$f" >installed.ko 2>/dev/null || zstd -dcq "$f" >installed.ko 2>/dev/null || cp "$f" installed.ko; } &&
	kb verify --cert cert.pem installed.ko >out &&
	test_grep "token signing key" out &&
	kb keys show >out &&
	test_grep "^subject: /CN=token signing key" out &&
	test_grep "^private key: on a token: pkcs11:token=kbuildd;object=modkey" out
'

test_expect_success SOFTHSM 'a token that refuses: install fails with exit 2 and the installed module stays' '
	f=$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*) && cp "$f" before.ko &&
	echo 9999 >"$ROOT/etc/kbuildd/pin" &&
	test_expect_code 2 kb install hello -k "$K" --force 2>err &&
	test_grep "refused the PIN" err &&
	cmp before.ko "$f" &&
	echo 1234 >"$ROOT/etc/kbuildd/pin" &&
	printf "[signing]\nkey = %s\npin_file = /etc/kbuildd/pin\n" "$URI" \
		>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_expect_code 2 kb install hello -k "$K" --force 2>err &&
	test_grep "the token holds no certificate with the key.s id" err &&
	cmp before.ko "$f"
'

GEN="pkcs11:token=kbuildd;object=genkey?$MOD"
export GEN

test_expect_success SOFTHSM 'keys generate with a token key: the token makes it and keeps its certificate' '
	printf "[signing]\nkey = %s\ncert = /etc/kbuildd/gen.x509\npin_file = /etc/kbuildd/pin\n" \
		"$GEN" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb keys generate >out &&
	openssl x509 -in "$ROOT/etc/kbuildd/gen.x509" -noout -subject >subject &&
	test_grep "kbuildd module signing key" subject &&
	openssl x509 -inform DER -in "$ROOT/etc/kbuildd/gen.x509.der" -out der.pem &&
	openssl x509 -in "$ROOT/etc/kbuildd/gen.x509" -out pem.pem && cmp der.pem pem.pem &&
	kb keys show >out &&
	test_grep "^private key: on a token: pkcs11:token=kbuildd;object=genkey" out &&
	! grep -rl "PRIVATE KEY" "$ROOT/etc" &&
	KBUILD_SIGN_PIN=1234 kb sign "$GEN" "$ROOT/etc/kbuildd/gen.x509" unsigned.ko gen.ko &&
	kb verify --cert "$ROOT/etc/kbuildd/gen.x509" gen.ko >out &&
	test_grep "kbuildd module signing key" out
'

test_expect_success SOFTHSM 'a key already on the token is never replaced, not even with --force' '
	cp "$ROOT/etc/kbuildd/gen.x509" gen-before.x509 &&
	test_expect_code 2 kb keys generate --force 2>err &&
	test_grep "the token already holds that key; kbuildd never replaces a key on a token" err &&
	cmp gen-before.x509 "$ROOT/etc/kbuildd/gen.x509" &&
	KBUILD_SIGN_PIN=1234 kb sign "$GEN" gen-before.x509 unsigned.ko again.ko &&
	cmp again.ko gen.ko
'

test_expect_success SOFTHSM 'without [signing] cert the certificate is the token'"'"'s: install signs with it' '
	printf "[signing]\nkey = %s\npin_file = /etc/kbuildd/pin\n" "$GEN" \
		>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb install hello -k "$K" --force >/dev/null &&
	f=$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*) &&
	{ xz -dc "$f" >tok.ko 2>/dev/null || zstd -dcq "$f" >tok.ko 2>/dev/null || cp "$f" tok.ko; } &&
	kb verify --cert gen-before.x509 tok.ko >out &&
	test_grep "kbuildd module signing key" out &&
	kb keys show >out &&
	test_grep "^subject: /CN=kbuildd module signing key" out &&
	test_expect_code 2 kb keys enroll 2>err &&
	test_grep "is on the token only: name a file for it with \[signing\] cert" err
'

test_done
