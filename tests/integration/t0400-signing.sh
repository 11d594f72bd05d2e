#!/bin/sh
# Module signing as a packager and an admin meet it: byte-identical to the
# kernel's sign-file, readable by modinfo, verifiable, and strict on bad input.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${KERNELS%% *}
SIGN_FILE=$ROOT/lib/modules/$K/build/scripts/sign-file
if [ -x "$SIGN_FILE" ]; then
	test_set_prereq SIGN_FILE
fi

newkey () {	# newkey NAME ALGO-ARGS...: NAME.key + NAME.pem, self-signed
	name=$1
	shift
	openssl req -new -x509 -nodes -days 36500 -subj "/CN=kbuildd test $name" \
		"$@" -keyout "$name.key" -out "$name.pem" 2>/dev/null
}

test_expect_success 'setup: an unsigned module built by kbuildd, and test keys' '
	kb add "$TOP/recipes/hello.recipe" >/dev/null &&
	kb build hello -k "$K" >/dev/null &&
	cp "$ROOT/var/lib/kbuildd/builds/hello/1.0.0/$K/src/hello.ko" unsigned.ko &&
	! grep -q "Module signature appended" unsigned.ko &&
	newkey rsa2048 -newkey rsa:2048 &&
	newkey rsa4096 -newkey rsa:4096 &&
	newkey ec -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 &&
	newkey other -newkey rsa:2048
'

for key in rsa2048 rsa4096; do
	for hash in sha256 sha512; do
		test_expect_success SIGN_FILE "sign is byte-identical to sign-file ($key, $hash)" "
			cp unsigned.ko ref.ko && cp unsigned.ko ours.ko &&
			\"\$SIGN_FILE\" $hash $key.key $key.pem ref.ko &&
			kb sign --hash $hash $key.key $key.pem ours.ko &&
			cmp ref.ko ours.ko
		"
	done
done

test_expect_success SIGN_FILE 'sign-file argument order works too, with a DER certificate' '
	openssl x509 -in rsa2048.pem -outform DER -out rsa2048.der &&
	"$SIGN_FILE" sha256 rsa2048.key rsa2048.pem unsigned.ko ref.ko &&
	kb sign sha256 rsa2048.key rsa2048.der unsigned.ko ours.ko &&
	cmp ref.ko ours.ko
'

test_expect_success 're-signing replaces the signature instead of stacking a second one' '
	cp unsigned.ko twice.ko &&
	kb sign rsa4096.key rsa4096.pem twice.ko &&
	kb sign rsa2048.key rsa2048.pem twice.ko &&
	kb sign rsa2048.key rsa2048.pem unsigned.ko once.ko &&
	cmp once.ko twice.ko &&
	test "$(grep -c "Module signature appended" twice.ko)" = 1
'

test_expect_success 'ECDSA signatures verify with openssl cms and kbuildd verify' '
	kb sign ec.key ec.pem unsigned.ko ec.ko &&
	size=$(stat -c %s unsigned.ko) &&
	total=$(stat -c %s ec.ko) &&
	siglen=$((total - size - 40)) &&
	tail -c +$((size + 1)) ec.ko | head -c $siglen >ec.p7s &&
	openssl cms -verify -binary -inform DER -in ec.p7s -content unsigned.ko \
		-certfile ec.pem -nointern -noverify -out /dev/null &&
	kb verify --cert ec.pem ec.ko >out &&
	test_grep "^signature: valid" out &&
	test_grep "^signer: kbuildd test ec$" out
'

test_expect_success 'verify rejects the wrong certificate and an unsigned module (exit 1)' '
	kb sign rsa2048.key rsa2048.pem unsigned.ko signed.ko &&
	test_expect_code 1 kb verify --cert other.pem signed.ko >out &&
	test_grep "^signature: INVALID" out &&
	test_expect_code 1 kb verify unsigned.ko >out &&
	test_grep "not signed" out
'

test_expect_success 'a tampered module no longer verifies' '
	cp signed.ko tampered.ko &&
	printf "X" | dd of=tampered.ko bs=1 seek=200 conv=notrunc 2>/dev/null &&
	test_expect_code 1 kb verify --cert rsa2048.pem tampered.ko >out &&
	test_grep "INVALID" out
'

test_expect_success 'modinfo shows the signer, key id and hash of what kbuildd signed' '
	/sbin/modinfo -F signer signed.ko >signer &&
	echo "kbuildd test rsa2048" >expect &&
	test_cmp expect signer &&
	test "$(/sbin/modinfo -F sig_hashalgo signed.ko)" = sha256 &&
	serial=$(openssl x509 -in rsa2048.pem -noout -serial | sed "s/serial=//") &&
	test "$(/sbin/modinfo -F sig_key signed.ko | tr -d :)" = "$serial"
'

# Each bad input: exit 2, a message naming the problem, the module untouched.
bad_input () {	# bad_input DESCRIPTION PATTERN ARGS...
	desc=$1 pattern=$2
	shift 2
	test_expect_success "bad input: $desc" "
		cp unsigned.ko victim.ko && cp unsigned.ko victim.orig &&
		test_expect_code 2 kb sign $* 2>err &&
		test_grep \"$pattern\" err &&
		cmp victim.orig victim.ko
	"
}

bad_input 'a key that does not match the certificate' 'does not match certificate' \
	other.key rsa2048.pem victim.ko
bad_input 'a missing key file' "cannot read key .nosuch.key." \
	nosuch.key rsa2048.pem victim.ko
bad_input 'an unknown hash' "unknown hash .md17." \
	--hash md17 rsa2048.key rsa2048.pem victim.ko

test_expect_success 'an encrypted key needs KBUILD_SIGN_PIN' '
	openssl pkey -in rsa2048.key -aes256 -passout pass:s3cret -out enc.key &&
	cp unsigned.ko victim.ko &&
	test_expect_code 2 kb sign enc.key rsa2048.pem victim.ko 2>err &&
	test_grep "is encrypted: set KBUILD_SIGN_PIN" err &&
	cmp unsigned.ko victim.ko &&
	KBUILD_SIGN_PIN=s3cret kb sign enc.key rsa2048.pem victim.ko &&
	cmp signed.ko victim.ko
'

test_expect_success 'a corrupt, a truncated and a damaged-trailer module are refused' '
	head -c 4096 /dev/urandom >corrupt.ko && cp corrupt.ko corrupt.orig &&
	test_expect_code 2 kb sign rsa2048.key rsa2048.pem corrupt.ko 2>err &&
	test_grep "not a whole kernel module" err &&
	cmp corrupt.orig corrupt.ko &&
	head -c 3000 unsigned.ko >trunc.ko && cp trunc.ko trunc.orig &&
	test_expect_code 2 kb sign rsa2048.key rsa2048.pem trunc.ko 2>err &&
	test_grep "truncated" err &&
	cmp trunc.orig trunc.ko &&
	cp signed.ko damaged.ko &&
	size=$(stat -c %s damaged.ko) &&
	printf "\377\377\377" | dd of=damaged.ko bs=1 seek=$((size - 32)) conv=notrunc 2>/dev/null &&
	cp damaged.ko damaged.orig &&
	test_expect_code 2 kb sign rsa2048.key rsa2048.pem damaged.ko 2>err &&
	test_grep "signature length points before the start" err &&
	cmp damaged.orig damaged.ko &&
	test_expect_code 2 kb verify damaged.ko 2>err
'

test_expect_success 'keys generate makes a 0600 key and a MOK-ready certificate' '
	kb keys generate --force >out &&
	key=$ROOT/var/lib/kbuildd/keys/signing_key.pem &&
	test "$(stat -c %a "$key")" = 600 &&
	openssl x509 -in "$ROOT/var/lib/kbuildd/keys/signing_key.x509" -noout -text >cert.txt &&
	test_grep "Digital Signature" cert.txt &&
	test_grep "Code Signing, 1.3.6.1.4.1.2312.16.1.2" cert.txt &&
	test_grep "Subject Key Identifier" cert.txt &&
	test_grep "CA:FALSE" cert.txt &&
	openssl x509 -inform DER -in "$ROOT/var/lib/kbuildd/keys/signing_key.x509.der" -noout &&
	test_expect_code 2 kb keys generate 2>err &&
	test_grep "exists; --force replaces it" err &&
	kb keys show >show &&
	test_grep "^subject: /CN=kbuildd module signing key" show &&
	kb keys enroll >enroll &&
	test_grep "mokutil --import .*signing_key.x509.der" enroll
'

test_expect_success 'install signs with that key, for every kernel, with its hash' '
	kb install hello >/dev/null &&
	serial=$(openssl x509 -in "$ROOT/var/lib/kbuildd/keys/signing_key.x509" -noout -serial | sed "s/serial=//") &&
	for k in $KERNELS; do
		f=$(ls "$ROOT/lib/modules/$k/updates/kbuildd/hello.ko"*) &&
		test "$(/sbin/modinfo -F signer "$f")" = "kbuildd module signing key" &&
		test "$(/sbin/modinfo -F sig_key "$f" | tr -d :)" = "$serial" &&
		want=$(sed -n "s/^CONFIG_MODULE_SIG_HASH=\"\(.*\)\"/\1/p" "$ROOT/lib/modules/$k/build/.config") &&
		test "$(/sbin/modinfo -F sig_hashalgo "$f")" = "$want" &&
		kb verify --cert "$ROOT/var/lib/kbuildd/keys/signing_key.x509" "$f" >out &&
		test_grep "^signature: valid" out || exit 1
	done &&
	kb status hello >status &&
	test_grep "signed by kbuildd module signing key" status
'

test_expect_success 'a new key re-signs on the next rebuild' '
	kb keys generate --force >/dev/null &&
	kb rebuild --all >out &&
	test_grep "^hello/1.0.0 .* installed$" out &&
	f=$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*) &&
	kb verify --cert "$ROOT/var/lib/kbuildd/keys/signing_key.x509" "$f" >out &&
	test_grep "^signature: valid" out
'

test_expect_success 'an existing DKMS key is used when kbuildd has none' '
	kb_root dkmsroot &&
	mkdir -p "$ROOT/var/lib/dkms" &&
	openssl req -new -x509 -nodes -days 36500 -subj "/CN=DKMS module signing key" \
		-newkey rsa:2048 -keyout "$ROOT/var/lib/dkms/mok.key" \
		-outform DER -out "$ROOT/var/lib/dkms/mok.pub" 2>/dev/null &&
	kb install "$TOP/recipes/hello.recipe" -k "$K" >/dev/null &&
	f=$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*) &&
	test "$(/sbin/modinfo -F signer "$f")" = "DKMS module signing key" &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/keys/signing_key.pem"
'

test_done
