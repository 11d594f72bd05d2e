#!/bin/sh
# The signing key as an attacker or a crash meets it: read only from the
# file itself (no symlink, no FIFO, not open to others), and replaced so
# that a kill at any point leaves a key that matches its certificate.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${KERNELS%% *}
KEYS=$ROOT/var/lib/kbuildd/keys
CONF=$ROOT/etc/kbuildd/kbuildd.conf

# Every test starts from the key pair setup made, whatever the last one left.
reset_keys () {
	rm -rf "$KEYS" "$ROOT/var/lib/dkms" "$ROOT/etc/kbuildd/keys" "$CONF" &&
	mkdir -p "$ROOT/etc/kbuildd" &&
	cp -a "$TRASH/keys.good" "$KEYS"
}

newkey () {	# newkey DIR NAME: DIR/NAME.key + DIR/NAME.pem, self-signed RSA-2048
	openssl req -new -x509 -nodes -days 36500 -subj "/CN=kbuildd test $2" \
		-newkey rsa:2048 -keyout "$1/$2.key" -out "$1/$2.pem" 2>/dev/null
}

test_expect_success 'setup: hello installed for one kernel with a new kbuildd key; a site key' '
	kb add "$TOP/recipes/hello.recipe" >/dev/null &&
	kb install hello -k "$K" >/dev/null 2>&1 &&
	test_path_is_file "$KEYS/signing_key.pem" &&
	cp -a "$KEYS" keys.good &&
	mkdir site.keys && newkey site.keys site
'

test_expect_success 'a symlink as kbuildd key is refused, naming the file' '
	reset_keys &&
	mv "$KEYS/signing_key.pem" "$KEYS/real.pem" &&
	ln -s real.pem "$KEYS/signing_key.pem" &&
	test_expect_code 2 kb rebuild -k "$K" 2>err &&
	test_grep "key ./var/lib/kbuildd/keys/signing_key.pem. is a symlink" err
'

test_expect_success 'a FIFO as kbuildd key is refused at once instead of hanging' '
	reset_keys &&
	rm "$KEYS/signing_key.pem" &&
	mkfifo -m 600 "$KEYS/signing_key.pem" &&
	test_expect_code 2 timeout -s KILL 20 "$KBUILDD" --root "$ROOT" rebuild -k "$K" 2>err &&
	test_grep "key ./var/lib/kbuildd/keys/signing_key.pem. is not a regular file" err
'

test_expect_success 'kbuildd key open to group or others, or not ours, is refused, naming the file' '
	reset_keys &&
	chmod 640 "$KEYS/signing_key.pem" &&
	test_expect_code 2 kb rebuild -k "$K" 2>err &&
	test_grep "key ./var/lib/kbuildd/keys/signing_key.pem. is readable or writable by group" err &&
	chmod 604 "$KEYS/signing_key.pem" &&
	test_expect_code 2 kb rebuild -k "$K" 2>err &&
	test_grep "mode 0604" err &&
	chmod 600 "$KEYS/signing_key.pem" &&
	chown nobody "$KEYS/signing_key.pem" &&
	test_expect_code 2 kb rebuild -k "$K" 2>err &&
	test_grep "key ./var/lib/kbuildd/keys/signing_key.pem. is owned by uid" err &&
	chown 0 "$KEYS/signing_key.pem" &&
	kb rebuild -k "$K" >/dev/null
'

test_expect_success 'a certificate that is a symlink or a FIFO is refused too' '
	reset_keys &&
	cert=$KEYS/signing_key.x509 &&
	mv "$cert" own.x509 && ln -s "$TRASH/own.x509" "$cert" &&
	test_expect_code 2 kb rebuild -k "$K" 2>err &&
	test_grep "certificate ./var/lib/kbuildd/keys/signing_key.x509. is a symlink" err &&
	rm "$cert" && mkfifo "$cert" &&
	test_expect_code 2 timeout -s KILL 20 "$KBUILDD" --root "$ROOT" keys show 2>err &&
	test_grep "certificate ./var/lib/kbuildd/keys/signing_key.x509. is not a regular file" err
'

test_expect_success 'a configured key its group may read is used, with a warning' '
	reset_keys &&
	cp -a site.keys "$ROOT/etc/kbuildd/keys" &&
	chmod 640 "$ROOT/etc/kbuildd/keys/site.key" &&
	printf "[signing]\nkey = /etc/kbuildd/keys/site.key\ncert = /etc/kbuildd/keys/site.pem\n" >"$CONF" &&
	kb rebuild -k "$K" >out 2>err &&
	test_grep "warning: key ./etc/kbuildd/keys/site.key. is readable or writable by group" err &&
	f=$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*) &&
	test "$(/sbin/modinfo -F signer "$f")" = "kbuildd test site"
'

test_expect_success 'a configured key that is a symlink is refused, naming the file' '
	reset_keys &&
	cp -a site.keys "$ROOT/etc/kbuildd/keys" &&
	printf "[signing]\nkey = /etc/kbuildd/keys/site.key\ncert = /etc/kbuildd/keys/site.pem\n" >"$CONF" &&
	mv "$ROOT/etc/kbuildd/keys/site.key" "$ROOT/etc/kbuildd/keys/real.key" &&
	ln -s /etc/kbuildd/keys/real.key "$ROOT/etc/kbuildd/keys/site.key" &&
	test_expect_code 2 kb rebuild -k "$K" 2>err &&
	test_grep "key ./etc/kbuildd/keys/site.key. is a symlink" err
'

test_expect_success 'a DKMS key that is a symlink is refused, naming the file' '
	reset_keys &&
	mkdir -p "$ROOT/var/lib/dkms" &&
	openssl req -new -x509 -nodes -days 36500 -subj "/CN=DKMS module signing key" \
		-newkey rsa:2048 -keyout "$ROOT/var/lib/dkms/real.key" \
		-outform DER -out "$ROOT/var/lib/dkms/mok.pub" 2>/dev/null &&
	ln -s real.key "$ROOT/var/lib/dkms/mok.key" &&
	rm -r "$KEYS" &&
	test_expect_code 2 kb rebuild -k "$K" 2>err &&
	test_grep "key ./var/lib/dkms/mok.key. is a symlink" err &&
	test_path_is_missing "$KEYS"
'

test_done
