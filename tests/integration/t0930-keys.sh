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
	rm -rf "$KEYS" "$ROOT/var/lib/dkms" "$ROOT/etc/kbuildd/keys" "$CONF" \
		"$ROOT"/var/lib/kbuildd/.kbuildd-new.* &&
	mkdir -p "$ROOT/etc/kbuildd" &&
	cp -a "$TRASH/keys.good" "$KEYS"
}

# pair_ok KEY CERT: KEY is CERT's private key, and CERT.der is CERT
pair_ok () {
	openssl pkey -in "$1" -pubout >pub.key 2>/dev/null &&
	openssl x509 -in "$2" -pubkey -noout >pub.cert 2>/dev/null &&
	cmp -s pub.key pub.cert &&
	openssl x509 -in "$2" -outform DER 2>/dev/null | cmp -s - "$2.der"
}

# key_walk NAME FROM KEY CERT [now]: kill `keys generate --force` at every
# fault point on a copy of root FROM; each time, after the next run
# ($CHECK_CMD), KEY and CERT (inside the root) must be a matching pair, the
# old one or a new one, with nothing staged left. When FROM has no pair,
# having none is fine too. With "now" the pair must match even before the
# next run recovers anything.
key_walk () {
	name=$1 from=$2 key=$3 cert=$4 now=${5-}
	rm -rf count && cp -a "$from" count &&
	KBUILDD_FAULT_COUNT=$TRASH/n.$name "$KBUILDD" -q --root "$TRASH/count" \
		keys generate --force >/dev/null &&
	n=$(cat "n.$name") && test "$n" -ge 4 &&
	old=none &&
	if [ -f "$from/$cert" ]; then
		old=$(openssl x509 -in "$from/$cert" -noout -fingerprint)
	fi &&
	: >"walked.$name" &&
	at=1 &&
	while [ "$at" -le "$n" ]; do
		rm -rf run && cp -a "$from" run &&
		rc=0 &&
		KBUILDD_FAULT_AT=$at "$KBUILDD" -q --root "$TRASH/run" keys generate --force \
			>/dev/null 2>&1 || rc=$? &&
		if [ $rc -ne 137 ]; then
			echo "$name: point $at: exit $rc instead of being killed"; return 1
		fi &&
		if [ -n "$now" ] && [ -f "run/$cert" ] && ! pair_ok "run/$key" "run/$cert"; then
			echo "$name: point $at: a torn pair is in place"; return 1
		fi &&
		rc=0 &&
		"$KBUILDD" --root "$TRASH/run" $CHECK_CMD >out 2>&1 || rc=$? &&
		if [ "$old" = none ] && ! [ -e "run/$key" ] && ! [ -e "run/$cert" ]; then
			outcome=none
		elif [ $rc -ne 0 ]; then
			echo "$name: point $at: $CHECK_CMD failed:"; cat out; return 1
		elif ! pair_ok "run/$key" "run/$cert"; then
			echo "$name: point $at: /$key does not match /$cert"; return 1
		elif [ "$(openssl x509 -in "run/$cert" -noout -fingerprint)" = "$old" ]; then
			outcome=old
		else
			outcome=new
		fi &&
		if ls -a run/var/lib/kbuildd "$(dirname "run/$key")" "$(dirname "run/$cert")" |
			grep kbuildd-new; then
			echo "$name: point $at: staging left behind"; return 1
		fi &&
		"$KBUILDD" --root "$TRASH/run" status --check >check 2>&1 || {
			echo "$name: point $at: status --check:"; cat check; return 1; } &&
		echo "$at $outcome" >>"walked.$name" &&
		at=$((at + 1))
	done &&
	# with an old pair the walk crossed the swap (a first pair has no point after it)
	if [ "$old" = none ]; then
		grep -q " none$" "walked.$name"
	else
		grep -q " old$" "walked.$name" && grep -q " new$" "walked.$name"
	fi
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

test_expect_success 'keys show and status --check report a key that does not match its certificate' '
	reset_keys &&
	cp site.keys/site.pem "$KEYS/signing_key.x509" &&
	test_expect_code 2 kb keys show >out 2>err &&
	test_grep "key ./var/lib/kbuildd/keys/signing_key.pem. does not match certificate ./var/lib/kbuildd/keys/signing_key.x509." err &&
	test_expect_code 1 kb status --check >out 2>err &&
	test_grep "^check: signing key ./var/lib/kbuildd/keys/signing_key.pem. with certificate ./var/lib/kbuildd/keys/signing_key.x509." out &&
	test_grep "does not match certificate" err &&
	test_expect_code 2 kb rebuild -k "$K" 2>err &&
	test_grep "does not match certificate" err
'

test_expect_success 'keys show and status --check report a DER copy of another certificate' '
	reset_keys &&
	openssl x509 -in site.keys/site.pem -outform DER -out "$KEYS/signing_key.x509.der" &&
	test_expect_code 2 kb keys show >out 2>err &&
	test_grep "certificate ./var/lib/kbuildd/keys/signing_key.x509.der. is not the one in ./var/lib/kbuildd/keys/signing_key.x509." err &&
	test_expect_code 1 kb status --check >out 2>err &&
	test_grep "^check: signing key" out
'

test_expect_success 'a staging directory left behind: status --check names it, the next run removes it' '
	reset_keys &&
	mkdir -m 700 "$ROOT/var/lib/kbuildd/.kbuildd-new.keys" &&
	cp -p keys.good/signing_key.pem "$ROOT/var/lib/kbuildd/.kbuildd-new.keys/" &&
	test_expect_code 1 kb status --check >out &&
	test_grep "^check: /var/lib/kbuildd/.kbuildd-new.keys: half-made key pair" out &&
	kb keys show >/dev/null &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/.kbuildd-new.keys" &&
	kb status --check >out &&
	test_cmp keys.good/signing_key.pem "$KEYS/signing_key.pem"
'

test_expect_success 'keys generate --force killed at every point: rebuild finds a matching pair' '
	reset_keys &&
	echo "enrolment password is in the safe" >"$KEYS/NOTE" &&
	rm -rf base.own && cp -a "$ROOT" base.own &&
	CHECK_CMD="-q rebuild -k $K" &&
	key_walk own base.own var/lib/kbuildd/keys/signing_key.pem \
		var/lib/kbuildd/keys/signing_key.x509 now &&
	test_cmp "$KEYS/NOTE" run/var/lib/kbuildd/keys/NOTE &&
	test "$(stat -c %a run/var/lib/kbuildd/keys)" = 700 &&
	test "$(stat -c %a run/var/lib/kbuildd/keys/signing_key.pem)" = 600 &&
	f=$(ls run/lib/modules/"$K"/updates/kbuildd/hello.ko*) &&
	"$KBUILDD" verify --cert run/var/lib/kbuildd/keys/signing_key.x509 "$f" >out &&
	test_grep "^signature: valid" out
'

test_expect_success 'the first key generation killed at every point: keys show finds a pair or none' '
	reset_keys &&
	rm -rf base.fresh && cp -a "$ROOT" base.fresh && rm -r base.fresh/var/lib/kbuildd/keys &&
	CHECK_CMD="keys show" &&
	key_walk fresh base.fresh var/lib/kbuildd/keys/signing_key.pem \
		var/lib/kbuildd/keys/signing_key.x509 now
'

test_expect_success 'a configured pair killed at every point of keys generate: keys show finds a pair' '
	reset_keys &&
	cp -a site.keys "$ROOT/etc/kbuildd/keys" &&
	openssl x509 -in site.keys/site.pem -outform DER -out "$ROOT/etc/kbuildd/keys/site.pem.der" &&
	printf "[signing]\nkey = /etc/kbuildd/keys/site.key\ncert = /etc/kbuildd/keys/site.pem\n" >"$CONF" &&
	rm -rf base.site && cp -a "$ROOT" base.site &&
	CHECK_CMD="keys show" &&
	key_walk site base.site etc/kbuildd/keys/site.key etc/kbuildd/keys/site.pem &&
	test "$(stat -c %a run/etc/kbuildd/keys/site.key)" = 600
'

test_done
