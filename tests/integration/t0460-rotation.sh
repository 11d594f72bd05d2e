#!/bin/sh
# Replacing the signing key as an admin does it: keys rotate, enroll, the
# running kernel (a /proc/keys the test writes) trusting the old key only,
# both, the new one only; the modules re-signed by a rebuild that compiles
# nothing; keys retire. A kill at every fault point of each step leaves the
# old key or the new one in use, each with its own certificate.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${KERNELS%% *}
KEYS=$ROOT/var/lib/kbuildd/keys
MODS=$ROOT/lib/modules/$K/updates/kbuildd
BUILDS=$ROOT/var/lib/kbuildd/builds

# key_line CERT SERIAL: the /proc/keys line of a key the kernel holds
key_line () {
	skid=$(openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1 | tr -d " :" | tr A-F a-f)
	cn=$(openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n "s/^ *commonName *= //p")
	echo "$2 I------     1 perm 1f030000     0     0 asymmetri $cn: $skid: X509.rsa ${skid%"${skid#????????}"} []"
}

# trusts OLD NEW: the running kernel holds these certificates (files, or -)
trusts () {
	mkdir -p "$ROOT/proc" && : >"$ROOT/proc/keys" &&
	if [ "$1" != - ]; then key_line "$1" 1f000001 >>"$ROOT/proc/keys"; fi &&
	if [ "$2" != - ]; then key_line "$2" 1f000002 >>"$ROOT/proc/keys"; fi
}

# signed_by CERT: every installed module verifies with CERT
signed_by () {
	for m in hello provider consumer; do
		kb verify --cert "$1" "$MODS/$m.ko" >v.out 2>&1 &&
		grep -q "^signature: valid" v.out || { echo "$m.ko: not signed by $1"; cat v.out; return 1; }
	done
}

# pair_ok KEY CERT: KEY is CERT's private key, and CERT.der is CERT
pair_ok () {
	openssl pkey -in "$1" -pubout >pub.key 2>/dev/null &&
	openssl x509 -in "$2" -pubkey -noout >pub.cert 2>/dev/null &&
	cmp -s pub.key pub.cert &&
	openssl x509 -in "$2" -outform DER 2>/dev/null | cmp -s - "$2.der"
}

# compiled_nothing: no build log changed since save_logs
save_logs () {
	rm -rf logs && mkdir logs &&
	for m in hello provider consumer; do cp "$BUILDS/$m/1.0.0/$K.log" "logs/$m"; done
}
compiled_nothing () {
	for m in hello provider consumer; do
		cmp -s "logs/$m" "$BUILDS/$m/1.0.0/$K.log" || { echo "$m was compiled again"; return 1; }
	done
}

test_expect_success 'setup: three modules installed (one depends on another), signed with the key' '
	kb install -k "$K" "$TOP/recipes/hello.recipe" "$TOP/recipes/provider.recipe" \
		"$TOP/recipes/consumer.recipe" >/dev/null &&
	cp "$KEYS/signing_key.x509" old.x509 &&
	signed_by old.x509 &&
	save_logs
'

test_expect_success 'keys rotate makes the next key; the old one signs on; no /proc/keys: not known' '
	kb keys rotate >out &&
	test_grep "^new key: /var/lib/kbuildd/keys/next_key.pem" out &&
	test_grep "the old key signs until the running kernel trusts the new certificate" out &&
	test_grep "mokutil --import $KEYS/next_key.x509.der" out &&
	pair_ok "$KEYS/next_key.pem" "$KEYS/next_key.x509" &&
	test "$(stat -c %a "$KEYS/next_key.pem")" = 600 &&
	cp "$KEYS/next_key.x509" new.x509 &&
	! cmp -s old.x509 new.x509 &&
	openssl x509 -in new.x509 -noout -subject | grep -q "kbuildd module signing key 20" &&
	kb status 2>err >out &&
	test_grep "the old key signs until" err &&
	test_grep "^hello/1.0.0 *$K *installed: " out &&
	kb rebuild --all >/dev/null &&
	signed_by old.x509 &&
	kb keys show >out &&
	test_grep "^rotation: the old key signs" out &&
	test_grep "^new certificate: /var/lib/kbuildd/keys/next_key.x509 (running kernel: not known" out &&
	test_expect_code 2 kb keys rotate 2>err &&
	test_grep "a key rotation is under way" err &&
	test_expect_code 2 kb keys generate --force 2>err &&
	test_grep "a key rotation is under way" err
'

test_expect_success 'old key trusted only: the old key signs; activate, retire refused; enroll names the new one' '
	trusts old.x509 - &&
	kb rebuild --all >/dev/null &&
	signed_by old.x509 &&
	compiled_nothing &&
	test_expect_code 2 kb keys rotate --activate 2>err &&
	test_grep "the running kernel does not trust the new certificate" err &&
	test_path_is_missing "$KEYS/activated" &&
	test_expect_code 2 kb keys retire 2>err &&
	test_grep "the old key still signs" err &&
	kb keys enroll >out &&
	test_grep "mokutil --import $KEYS/next_key.x509.der" out &&
	kb doctor hello -k "$K" >out 2>&1 || : &&
	test_grep "WARN *rotation *a new signing key waits" out
'

test_expect_success 'both trusted: the new key signs; a rebuild re-signs every module and compiles none' '
	trusts old.x509 new.x509 &&
	kb status 2>err >out &&
	test_grep "the new key /var/lib/kbuildd/keys/next_key.x509 signs (the running kernel trusts it)" err &&
	test_grep "^hello/1.0.0 *$K *installed (signed with the other key: the next rebuild re-signs it)" out &&
	test_expect_code 2 kb keys retire 2>err &&
	test_grep "[0-9] installed modules are still signed with the old key" err &&
	kb doctor hello -k "$K" >out 2>&1 || : &&
	test_grep "WARN *rotation *signed with the old key" out &&
	kb rebuild --all >out &&
	signed_by new.x509 &&
	compiled_nothing &&
	kb status >out 2>/dev/null &&
	test_grep "^hello/1.0.0 *$K *installed: .*kbuildd module signing key 20" out &&
	for m in hello provider consumer; do cp "$MODS/$m.ko" "$m.resigned"; done &&
	kb rebuild --all >/dev/null &&
	for m in hello provider consumer; do cmp "$m.resigned" "$MODS/$m.ko"; done
'

test_expect_success 'new key trusted only: keys retire makes it the key, keeps the old certificate for mokutil' '
	trusts - new.x509 &&
	kb keys retire >out &&
	test_grep "^retired: the old certificate, kept as /var/lib/kbuildd/keys/retired_key.x509" out &&
	test_grep "^  mokutil --delete $KEYS/retired_key.x509.der" out &&
	cmp new.x509 "$KEYS/signing_key.x509" &&
	cmp old.x509 "$KEYS/retired_key.x509" &&
	pair_ok "$KEYS/signing_key.pem" "$KEYS/signing_key.x509" &&
	test_path_is_missing "$KEYS/next_key.pem" &&
	test_path_is_missing "$KEYS/next_key.x509" &&
	kb rebuild --all >/dev/null &&
	for m in hello provider consumer; do cmp "$m.resigned" "$MODS/$m.ko"; done &&
	compiled_nothing &&
	kb keys show >out &&
	test_grep "^private key: /var/lib/kbuildd/keys/signing_key.pem$" out &&
	! grep -q "^rotation:" out &&
	test_expect_code 2 kb keys retire 2>err &&
	test_grep "no key rotation is under way" err
'

test_expect_success 'a retired key the kernel still trusts: doctor says the mokutil --delete line' '
	trusts old.x509 new.x509 &&
	kb doctor hello -k "$K" >out 2>&1 || : &&
	test_grep "WARN *rotation *the retired signing key is still trusted" out &&
	test_grep "mokutil --delete $KEYS/retired_key.x509.der" out
'

test_expect_success 'with no /proc/keys, --activate switches by hand; a distrusted one needs --force' '
	cp "$KEYS/signing_key.x509" old.x509 &&
	kb keys rotate >/dev/null &&
	cp "$KEYS/next_key.x509" new.x509 &&
	rm "$ROOT/proc/keys" &&
	kb keys rotate --activate >out &&
	test_grep "the new key /var/lib/kbuildd/keys/next_key.x509 signs (activated by hand)" out &&
	kb rebuild --all >/dev/null &&
	signed_by new.x509 &&
	compiled_nothing &&
	kb keys retire >/dev/null &&
	cp "$KEYS/signing_key.x509" old.x509 &&
	kb keys rotate >/dev/null &&
	trusts old.x509 - &&
	test_expect_code 2 kb keys rotate --activate 2>/dev/null &&
	kb keys rotate --activate --force >out &&
	test_grep "activated by hand: the running kernel does not trust it" out &&
	test_expect_code 2 kb keys show --activate 2>err &&
	test_grep "activate goes with" err
'

# walk NAME CMD...: kill CMD at each of its fault points on a copy of the
# root; after each kill and after the next command, the key in use (keys
# show) has its own certificate, and it is the old or the new one.
walk () {
	name=$1 && shift &&
	rm -rf count && cp -a "$ROOT" count &&
	KBUILDD_FAULT_COUNT=$TRASH/n.$name "$KBUILDD" -q --root "$TRASH/count" "$@" >/dev/null &&
	n=$(cat "n.$name") && test "$n" -ge 2 &&
	before=$("$KBUILDD" --root "$ROOT" keys show | sed -n "s/^sha256 fingerprint: //p") &&
	after=$("$KBUILDD" --root "$TRASH/count" keys show | sed -n "s/^sha256 fingerprint: //p") &&
	at=1 &&
	while [ "$at" -le "$n" ]; do
		rm -rf run && cp -a "$ROOT" run &&
		rc=0 &&
		KBUILDD_FAULT_AT=$at "$KBUILDD" -q --root "$TRASH/run" "$@" >/dev/null 2>&1 || rc=$? &&
		if [ $rc -ne 137 ]; then echo "$name: point $at: exit $rc, not killed"; return 1; fi &&
		for d in "$TRASH/run/var/lib/kbuildd/keys"; do
			for p in signing_key next_key; do
				if [ -e "$d/$p.pem" ] && ! pair_ok "$d/$p.pem" "$d/$p.x509"; then
					echo "$name: point $at: $p is torn"; return 1
				fi
			done
		done &&
		now=$("$KBUILDD" --root "$TRASH/run" keys show 2>/dev/null | sed -n "s/^sha256 fingerprint: //p") &&
		if [ "$now" != "$before" ] && [ "$now" != "$after" ]; then
			echo "$name: point $at: signing with $now"; return 1
		fi &&
		"$KBUILDD" -q --root "$TRASH/run" status --check >/dev/null &&
		at=$((at + 1))
	done
}

test_expect_success 'a kill at each fault point of keys rotate, --activate and retire' '
	rm -f "$ROOT/proc/keys" &&
	kb keys rotate --activate --force >/dev/null && kb rebuild --all >/dev/null &&
	kb keys retire >/dev/null &&
	walk rotate keys rotate &&
	kb keys rotate >/dev/null &&
	walk activate keys rotate --activate &&
	kb keys rotate --activate >/dev/null &&
	kb rebuild --all >/dev/null &&
	walk retire keys retire
'

test_expect_success 'a kill at each fault point of the re-signing rebuild: the next rebuild finishes it' '
	kb keys retire >/dev/null &&
	kb keys rotate >/dev/null &&
	kb keys rotate --activate >/dev/null &&
	cp "$KEYS/signing_key.x509" old.x509 && cp "$KEYS/next_key.x509" new.x509 &&
	rm -rf count && cp -a "$ROOT" count &&
	KBUILDD_FAULT_COUNT=$TRASH/n.resign "$KBUILDD" -q --root "$TRASH/count" rebuild --all >/dev/null &&
	n=$(cat n.resign) && test "$n" -ge 6 &&
	at=1 &&
	while [ "$at" -le "$n" ]; do
		rm -rf run && cp -a "$ROOT" run &&
		KBUILDD_FAULT_AT=$at "$KBUILDD" -q --root "$TRASH/run" rebuild --all >/dev/null 2>&1 || : &&
		for m in hello provider consumer; do
			kb verify --cert old.x509 "$TRASH/run/lib/modules/$K/updates/kbuildd/$m.ko" >v1 2>&1 || :
			kb verify --cert new.x509 "$TRASH/run/lib/modules/$K/updates/kbuildd/$m.ko" >v2 2>&1 || :
			grep -q "^signature: valid" v1 v2 || { echo "point $at: $m.ko signed by neither key"; return 1; }
		done &&
		"$KBUILDD" -q --root "$TRASH/run" rebuild --all >/dev/null &&
		for m in hello provider consumer; do
			kb verify --cert new.x509 "$TRASH/run/lib/modules/$K/updates/kbuildd/$m.ko" >v2 2>&1 &&
			grep -q "^signature: valid" v2 || { echo "point $at: $m.ko not re-signed"; return 1; }
			cmp -s "logs/$m" "$TRASH/run/var/lib/kbuildd/builds/$m/1.0.0/$K.log" ||
				{ echo "point $at: $m compiled again"; return 1; }
		done &&
		at=$((at + 1))
	done
'

test_expect_success 'a configured pair rotates through [signing] next_key and next_cert' '
	kb keys retire >/dev/null 2>&1 || : &&
	mkdir -p "$ROOT/etc/kbuildd/keys" &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=site key one" \
		-addext subjectKeyIdentifier=hash -keyout "$ROOT/etc/kbuildd/keys/one.pem" \
		-out "$ROOT/etc/kbuildd/keys/one.x509" 2>/dev/null &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=site key two" \
		-addext subjectKeyIdentifier=hash -keyout "$ROOT/etc/kbuildd/keys/two.pem" \
		-out "$ROOT/etc/kbuildd/keys/two.x509" 2>/dev/null &&
	chmod 600 "$ROOT"/etc/kbuildd/keys/*.pem &&
	printf "[signing]\nkey = /etc/kbuildd/keys/one.pem\ncert = /etc/kbuildd/keys/one.x509\n" \
		>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb rebuild --all >/dev/null &&
	signed_by "$ROOT/etc/kbuildd/keys/one.x509" &&
	save_logs &&
	test_expect_code 2 kb keys rotate 2>err &&
	test_grep "name the new pair there as \[signing\] next_key and next_cert" err &&
	printf "next_key = /etc/kbuildd/keys/two.pem\n" >>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_expect_code 2 kb keys rotate 2>err &&
	test_grep "next_key and next_cert name the new pair together" err &&
	printf "next_cert = /etc/kbuildd/keys/one.x509\n" >>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_expect_code 2 kb keys rotate 2>err &&
	sed -i "s|^next_cert = .*|next_cert = /etc/kbuildd/keys/two.x509|" "$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb keys rotate >out &&
	test_grep "^new key: /etc/kbuildd/keys/two.pem" out &&
	test_expect_code 2 kb keys enroll 2>err &&
	test_grep "two.x509. has no DER copy beside it, which mokutil needs: make it with .openssl x509 -in $ROOT/etc/kbuildd/keys/two.x509 -outform DER" err &&
	openssl x509 -in "$ROOT/etc/kbuildd/keys/two.x509" -outform DER \
		-out "$ROOT/etc/kbuildd/keys/two.x509.der" &&
	kb keys enroll >out &&
	test_grep "mokutil --import $ROOT/etc/kbuildd/keys/two.x509.der" out &&
	trusts "$ROOT/etc/kbuildd/keys/one.x509" "$ROOT/etc/kbuildd/keys/two.x509" &&
	kb rebuild --all >/dev/null &&
	signed_by "$ROOT/etc/kbuildd/keys/two.x509" &&
	compiled_nothing &&
	kb keys retire >out &&
	test_grep "set \[signing\] key = /etc/kbuildd/keys/two.pem" out &&
	cmp "$ROOT/etc/kbuildd/keys/one.x509" "$KEYS/retired_key.x509"
'

test_expect_success SOFTHSM 'the new key can be on a token: [signing] next_key = pkcs11:...' '
	softhsm_token rot &&
	echo 1234 >"$ROOT/etc/kbuildd/pin" && chmod 600 "$ROOT/etc/kbuildd/pin" &&
	uri="pkcs11:token=rot;object=next?module-path=$SOFTHSM" &&
	printf "[signing]\nkey = %s\ncert = /etc/kbuildd/keys/tok.x509\npin_file = /etc/kbuildd/pin\n" \
		"$uri" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb keys generate >/dev/null &&
	cp "$ROOT/etc/kbuildd/keys/tok.x509" tok.x509 &&
	printf "[signing]\nkey = /etc/kbuildd/keys/two.pem\ncert = /etc/kbuildd/keys/two.x509\n" \
		>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	printf "next_key = %s\nnext_cert = /etc/kbuildd/keys/tok.x509\npin_file = /etc/kbuildd/pin\n" \
		"$uri" >>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb keys rotate >out &&
	test_grep "^new key: pkcs11:token=rot;object=next" out &&
	trusts "$ROOT/etc/kbuildd/keys/two.x509" - &&
	kb rebuild --all >/dev/null &&
	signed_by "$ROOT/etc/kbuildd/keys/two.x509" &&
	trusts "$ROOT/etc/kbuildd/keys/two.x509" tok.x509 &&
	kb keys show >out &&
	test_grep "^private key: on a token: pkcs11:token=rot;object=next" out &&
	kb rebuild --all >/dev/null &&
	signed_by tok.x509 &&
	compiled_nothing &&
	kb keys retire >out &&
	test_grep "set \[signing\] key = pkcs11:token=rot;object=next" out &&
	cmp "$ROOT/etc/kbuildd/keys/two.x509" "$KEYS/retired_key.x509"
'

test_expect_success SOFTHSM 'a token key whose certificate is the token'"'"'s rotates away without compiling' '
	uri="pkcs11:token=rot;object=next?module-path=$SOFTHSM" &&
	printf "[signing]\nkey = %s\npin_file = /etc/kbuildd/pin\n" "$uri" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	rm -f "$KEYS/retired_key.x509" "$KEYS/retired_key.x509.der" &&
	kb rebuild --all >/dev/null &&
	signed_by tok.x509 &&
	save_logs &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=site key three" \
		-addext subjectKeyIdentifier=hash -keyout "$ROOT/etc/kbuildd/keys/three.pem" \
		-out "$ROOT/etc/kbuildd/keys/three.x509" 2>/dev/null &&
	chmod 600 "$ROOT/etc/kbuildd/keys/three.pem" &&
	printf "next_key = /etc/kbuildd/keys/three.pem\nnext_cert = /etc/kbuildd/keys/three.x509\n" \
		>>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb keys rotate >/dev/null &&
	cmp tok.x509 "$KEYS/rotated_key.x509" &&
	trusts tok.x509 "$ROOT/etc/kbuildd/keys/three.x509" &&
	kb rebuild --all >/dev/null &&
	signed_by "$ROOT/etc/kbuildd/keys/three.x509" &&
	compiled_nothing &&
	trusts - "$ROOT/etc/kbuildd/keys/three.x509" &&
	kb keys retire >out &&
	cmp tok.x509 "$KEYS/retired_key.x509" &&
	test_path_is_missing "$KEYS/rotated_key.x509"
'

test_expect_success 'a machine on the DKMS key rotates to a kbuildd key; the DKMS files stay' '
	rm -f "$ROOT/etc/kbuildd/kbuildd.conf" && rm -rf "$KEYS" "$ROOT/proc" &&
	mkdir -p "$ROOT/var/lib/dkms" &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=DKMS module signing key" \
		-addext subjectKeyIdentifier=hash -keyout "$ROOT/var/lib/dkms/mok.key" \
		-outform DER -out "$ROOT/var/lib/dkms/mok.pub" 2>/dev/null &&
	chmod 600 "$ROOT/var/lib/dkms/mok.key" &&
	openssl x509 -inform DER -in "$ROOT/var/lib/dkms/mok.pub" -out dkms.x509 &&
	cp "$ROOT/var/lib/dkms/mok.key" dkms.key && cp "$ROOT/var/lib/dkms/mok.pub" dkms.pub &&
	kb rebuild --all >/dev/null &&
	signed_by "$ROOT/var/lib/dkms/mok.pub" &&
	save_logs &&
	kb keys rotate >/dev/null &&
	cp "$KEYS/next_key.x509" new.x509 &&
	trusts dkms.x509 new.x509 &&
	kb rebuild --all >/dev/null &&
	signed_by new.x509 &&
	compiled_nothing &&
	trusts - new.x509 &&
	kb keys retire >out &&
	cmp new.x509 "$KEYS/signing_key.x509" &&
	openssl x509 -in "$KEYS/retired_key.x509" -outform DER | cmp - dkms.pub &&
	cmp dkms.key "$ROOT/var/lib/dkms/mok.key" && cmp dkms.pub "$ROOT/var/lib/dkms/mok.pub" &&
	kb keys show >out &&
	test_grep "^private key: /var/lib/kbuildd/keys/signing_key.pem" out
'

test_done
