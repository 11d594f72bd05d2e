#!/bin/sh
# A fleet's build cache: builder root A compiles the examples for every
# kernel and pushes them to a real registry (Debian's docker-registry,
# htpasswd auth, TLS from a CA the test makes) and to a real HTTP store
# (nginx, PUT); fleet roots at other paths install everything from either
# with no compiler run, byte for byte A's files. An artifact that fails
# verification is refused, saying what failed, and the build is compiled
# here; a store that is down or hangs costs one warning; a push cut short
# before its manifest leaves nothing a fetch would take.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib/stores.sh"

SERVE=$TEST_DIRECTORY/lib/serve.py
KEYS=var/lib/kbuildd/keys
RECIPES="$TOP/recipes/hello.recipe $TOP/recipes/provider.recipe $TOP/recipes/consumer.recipe $TOP/examples/ticker"

store_ca "$STORE_CA" || { echo "Bail out! cannot make the store's CA"; exit 1; }
start_registry "$TRASH/registry" fleet 's3cret pass' || { echo "Bail out! no registry"; exit 1; }
start_nginx "$TRASH/nginx" || { echo "Bail out! no nginx"; exit 1; }
OCI=oci://127.0.0.1:$REG_PORT/fleet/modules
WEB=https://127.0.0.1:$NGX_PORT/kbuildd/
NGX_DATA=$TRASH/nginx/data/kbuildd

# the builder, and the fleet's roots (B deeper, at another path)
A=$TRASH/A B=$TRASH/fleet/deeper/B C=$TRASH/C D=$TRASH/D E=$TRASH/E F=$TRASH/F G=$TRASH/G H=$TRASH/H J=$TRASH/J
kb_root "$A" >/dev/null || { echo "Bail out! cannot make a root"; exit 1; }
K=${KERNELS%% *}
K2=${KERNELS##* }
export SERVE KEYS RECIPES OCI WEB NGX_DATA A B C D E F G H J K K2

# kr ROOT ARGS...: kbuildd in ROOT
kr () {
	_kr_root=$1
	shift
	"$KBUILDD" --root "$_kr_root" "$@"
}

# shellcheck disable=SC2086 # RECIPES: one word per recipe
# fleet_root DIR URL [LINE...]: a root with the builder's signing key, the
# store's CA, the registry's credentials (0600) and a [cache] for URL (then
# each LINE); A makes the key
fleet_root () {
	_fr_dir=$1 _fr_url=$2
	shift 2
	[ "$_fr_dir" = "$A" ] || "$TOP/build-aux/mkroot" "$_fr_dir" >/dev/null || return 1
	echo ID=debian >"$_fr_dir/etc/os-release"
	mkdir -p "$_fr_dir/etc/kbuildd" "$_fr_dir/$KEYS" &&
	cp "$STORE_CA/ca.crt" "$_fr_dir/etc/kbuildd/store-ca.pem" &&
	(umask 077 && echo 'fleet:s3cret pass' >"$_fr_dir/etc/kbuildd/store-auth") &&
	if [ "$_fr_dir" = "$A" ]; then
		kr "$A" keys generate >/dev/null 2>&1
	else
		cp -p "$A/$KEYS"/* "$_fr_dir/$KEYS/"
	fi &&
	{
		printf '[cache]\nurl = %s\nca_file = /etc/kbuildd/store-ca.pem\n' "$_fr_url"
		printf 'auth = /etc/kbuildd/store-auth\ntimeout = 5\n'
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} >"$_fr_dir/etc/kbuildd/kbuildd.conf" &&
	kr "$_fr_dir" add $RECIPES >/dev/null
}

# installed_files ROOT: every module file kbuildd installed there
installed_files () {
	(cd "$1" && find lib/modules -path "*/updates/*" -name "*.ko*" | sort)
}

# same_files ROOT: its installed modules are exactly A's, byte for byte
same_files () {
	installed_files "$A" >a.files && installed_files "$1" >b.files &&
	test_cmp a.files b.files && test "$(wc -l <a.files)" -ge 8 &&
	while read -r f; do cmp "$A/$f" "$1/$f" || return 1; done <a.files
}

# compiled ROOT: how many build logs there show a compiler run
compiled () {
	find "$1/var/lib/kbuildd/builds" -name "*.log" ! -name "*.seconds" \
		-exec grep -L "nothing compiled" {} + | grep -c . || :
}

# artifact RECIPE KERNEL: the HTTP store's directory of that build (below PATH)
artifact () {
	grep -l "^recipe $1\$" "$NGX_DATA"/*/manifest | while read -r m; do
		if grep -qx "kernel $2" "$m"; then dirname "$m"; fi
	done
}

test_expect_success 'builder A builds every recipe for every kernel and pushes it to the registry' '
	fleet_root "$A" "$OCI" "push = yes" &&
	kr "$A" install --all >out 2>err &&
	cat err &&
	test "$(grep -c "pushed to the cache $OCI" err)" = 8 &&
	! grep -i "warning" err &&
	test "$(compiled "$A")" = 8
'

test_expect_success 'the registry holds an artifact per build: tag = build id, kbuildd artifactType' '
	id=$(sed -n "s/^build-id //p" "$A/var/lib/kbuildd/installed/$K/hello.manifest") &&
	test -n "$id" &&
	curl -sf --cacert "$STORE_CA/ca.crt" -u "fleet:s3cret pass" \
		-H "Accept: application/vnd.oci.image.manifest.v1+json" \
		"https://127.0.0.1:$REG_PORT/v2/fleet/modules/manifests/$id" >image.json &&
	python3 - "$id" <<-\EOF
	import json, sys
	m = json.load(open("image.json"))
	assert m["artifactType"] == "application/vnd.kbuildd.build.v1", m
	assert m["annotations"]["dev.kbuildd.recipe"] == "hello", m
	assert m["annotations"]["dev.kbuildd.build-id"] == sys.argv[1], m
	types = [l["mediaType"] for l in m["layers"]]
	assert types[:2] == ["application/vnd.kbuildd.manifest.v1",
	                     "application/vnd.kbuildd.manifest.sig.v1+cms"], types
	titles = [l["annotations"]["org.opencontainers.image.title"] for l in m["layers"]]
	assert any(t.endswith("/hello.ko") or t.endswith("/hello.ko.xz") for t in titles), titles
	EOF
'

test_expect_success 'fleet root B (another path) installs everything from the registry, compiling nothing' '
	mkdir -p "$TRASH/fleet/deeper" &&
	fleet_root "$B" "$OCI" &&
	kr "$B" install --all >out 2>err &&
	cat err &&
	test "$(grep -c "taken from the cache $OCI, nothing compiled" err)" = 8 &&
	! grep "building " err &&
	test "$(compiled "$B")" = 0 &&
	same_files "$B"
'

test_expect_success 'status says where each build came from; a second run has nothing to do' '
	kr "$B" status >st &&
	test "$(grep -c "installed (taken from cache $OCI)" st)" = 8 &&
	kr "$B" status --json >st.json &&
	python3 -c "
import json, sys
rows = json.load(open(\"st.json\"))
assert len(rows) == 8 and all(r[\"origin\"] == \"cache $OCI\" for r in rows), rows
" &&
	"$KBUILDD" --root "$A" status >a.st &&
	! grep "taken from" a.st &&
	kr "$B" install --all >out 2>err &&
	! grep -e "taken from the cache" -e "building " err &&
	kr "$B" status --check
'

test_expect_success 'a build that fails on A is pushed as a failure; B does not compile it again' '
	kr "$A" add "$TOP/examples/broken" >/dev/null &&
	test_expect_code 1 kr "$A" build broken -k "$K" >out 2>err &&
	test_grep "broken/.* for $K: its failure pushed to the cache $OCI" err &&
	kr "$B" add "$TOP/examples/broken" >/dev/null &&
	test_expect_code 1 kr "$B" build broken -k "$K" >out 2>err &&
	cat out err &&
	test_grep "it failed on the fleet.s builder: build failed (make exited with 2) (the cache $OCI says so" out &&
	test "$(compiled "$B")" = 0 &&
	kr "$B" log broken -k "$K" >log &&
	test_grep "nothing compiled: this build failed on the fleet.s builder" log &&
	test_grep "error" log &&
	test_expect_code 1 kr "$B" build broken -k "$K" >out 2>err &&
	test_grep "the last build with the same inputs failed" out &&
	test_expect_code 1 kr "$B" build broken -k "$K" --force >out 2>err &&
	test "$(compiled "$B")" = 1 &&
	kr "$B" remove broken/1.0.0 --all >/dev/null && kr "$A" remove broken/1.0.0 --all >/dev/null
'

test_expect_success 'a module named with a dash, and a recipe that writes modules-load.d, come from the cache' '
	cp -r "$TOP/examples/hello" dashy && mv dashy/hello.c dashy/hello-dash.c &&
	echo "obj-m := hello-dash.o" >dashy/Kbuild &&
	printf "[recipe]\nname = dashy\nversion = 1.0\n[source]\npath = .\n" >dashy/kbuildd.recipe &&
	printf "[module hello-dash]\npath = hello-dash.ko\nautoload = yes\n" >>dashy/kbuildd.recipe &&
	kr "$A" install ./dashy -k "$K" >out 2>err &&
	test_grep "dashy/1.0 for $K: pushed to the cache" err &&
	kr "$B" install ./dashy -k "$K" >out 2>err &&
	cat err &&
	test_grep "dashy/1.0 for $K: taken from the cache $OCI, nothing compiled" err &&
	cmp "$A/lib/modules/$K/updates/kbuildd/hello-dash.ko" "$B/lib/modules/$K/updates/kbuildd/hello-dash.ko" &&
	cmp "$A/etc/modules-load.d/kbuildd-dashy.conf" "$B/etc/modules-load.d/kbuildd-dashy.conf" &&
	kr "$A" remove dashy/1.0 --all >/dev/null && kr "$B" remove dashy/1.0 --all >/dev/null
'

test_expect_success 'kbuildd publish pushes what A installed to the HTTP store' '
	sed "s|^url = .*|url = $WEB|" "$A/etc/kbuildd/kbuildd.conf" >"$TRASH/a-web.conf" &&
	"$KBUILDD" --root "$A" --config "$TRASH/a-web.conf" publish >out 2>err &&
	cat err &&
	test "$(grep -c "pushed to the cache $WEB" err)" = 8 &&
	test "$(ls "$NGX_DATA"/*/manifest | wc -l)" = 8 &&
	test "$(ls "$NGX_DATA"/*/manifest.sig | wc -l)" = 8
'
test_expect_success 'fleet root C installs everything from the HTTP store, byte for byte A'"'"'s' '
	fleet_root "$C" "$WEB" &&
	kr "$C" install --all >out 2>err &&
	test "$(grep -c "taken from the cache $WEB, nothing compiled" err)" = 8 &&
	test "$(compiled "$C")" = 0 &&
	same_files "$C"
'

# refused WHAT: D installs hello for $K: the cache's build is refused,
# saying WHAT, and hello is compiled there instead; then it is removed again
refused () {
	"$KBUILDD" --root "$D" install hello -k "$K" >out 2>err
	_rf=$?
	cat err
	[ "$_rf" = 0 ] &&
	grep "hello/1.0.0 for $K: the cache.s build is refused: .*$1" err &&
	grep "building it here" err &&
	! grep "taken from the cache" err &&
	test "$(compiled "$D")" = 1 &&
	"$KBUILDD" --root "$D" status hello >st && ! grep "taken from" st &&
	"$KBUILDD" --root "$D" remove hello/1.0.0 -k "$K" >/dev/null
}

test_expect_success 'fleet root D takes hello from the HTTP store when nothing is wrong' '
	fleet_root "$D" "$WEB" &&
	kr "$D" install hello -k "$K" 2>err &&
	test_grep "taken from the cache" err &&
	kr "$D" remove hello/1.0.0 -k "$K" >/dev/null
'

test_expect_success 'an artifact signed by a key D does not trust is refused' '
	dir=$(artifact hello "$K") && test -n "$dir" &&
	cp "$dir/manifest.sig" saved.sig &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt \
		-days 2 -subj "/CN=intruder" 2>/dev/null &&
	openssl cms -sign -binary -nocerts -nosmimecap -outform DER -signer other.crt \
		-inkey other.key -in "$dir/manifest" -out "$dir/manifest.sig" &&
	{ refused "its manifest is not signed by a certificate in .*signing_key.x509"; r=$?; } &&
	cp saved.sig "$dir/manifest.sig" && exit $r
'

test_expect_success 'a file whose bytes differ from the manifest is refused' '
	dir=$(artifact hello "$K") &&
	sha=$(awk "\$1 == \"installed\" { print \$2 }" "$dir/manifest") &&
	cp "$NGX_DATA/$sha" saved.ko && printf x >>"$NGX_DATA/$sha" &&
	{ refused "file .lib/modules/$K/updates/kbuildd/hello.ko.* is not what the manifest names"; r=$?; } &&
	cp saved.ko "$NGX_DATA/$sha" && exit $r
'

test_expect_success 'a module whose own signature is bad is refused, even in a manifest A signed' '
	dir=$(artifact hello "$K") &&
	cp "$dir/manifest" saved.manifest && cp "$dir/manifest.sig" saved.sig &&
	sha=$(awk "\$1 == \"installed\" { print \$2 }" "$dir/manifest") &&
	path=$(awk "\$1 == \"installed\" { print \$4 }" "$dir/manifest") &&
	cp "$NGX_DATA/$sha" bad.ko &&
	case $path in *.xz) mv bad.ko bad.ko.xz && xz -d bad.ko.xz ;; esac &&
	python3 - bad.ko <<-\EOF &&
	import sys
	p = sys.argv[1]
	b = bytearray(open(p, "rb").read())
	assert b.endswith(b"~Module signature appended~\n")
	b[len(b) - 28 - 12 - 20] ^= 0xff   # inside the RSA signature value
	open(p, "wb").write(b)
	EOF
	case $path in *.xz) xz --check=crc32 bad.ko && mv bad.ko.xz bad.ko ;; esac &&
	new=$(sha256sum bad.ko | cut -d" " -f1) && size=$(stat -c %s bad.ko) &&
	cp bad.ko "$NGX_DATA/$new" &&
	sed "s|^installed $sha [0-9]* |installed $new $size |" saved.manifest >"$dir/manifest" &&
	openssl cms -sign -binary -nocerts -nosmimecap -outform DER \
		-signer "$A/$KEYS/signing_key.x509" -inkey "$A/$KEYS/signing_key.pem" \
		-in "$dir/manifest" -out "$dir/manifest.sig" &&
	{ refused "the signature of .$path. does not verify with a certificate in"; r=$?; } &&
	cp saved.manifest "$dir/manifest" && cp saved.sig "$dir/manifest.sig" && exit $r
'

test_expect_success 'a manifest A signed that names one module twice is refused' '
	dir=$(artifact hello "$K") &&
	cp "$dir/manifest" saved.manifest && cp "$dir/manifest.sig" saved.sig &&
	sed -n "s|^\(installed [0-9a-f]* [0-9]* \)lib/modules/$K/updates/kbuildd/\(.*\)$|\1lib/modules/$K/extra/\2|p" \
		saved.manifest >twice && test -s twice &&
	cat saved.manifest twice >"$dir/manifest" &&
	openssl cms -sign -binary -nocerts -nosmimecap -outform DER \
		-signer "$A/$KEYS/signing_key.x509" -inkey "$A/$KEYS/signing_key.pem" \
		-in "$dir/manifest" -out "$dir/manifest.sig" &&
	{ refused "it holds more than one file of module hello"; r=$?; } &&
	cp saved.manifest "$dir/manifest" && cp saved.sig "$dir/manifest.sig" && exit $r
'

test_expect_success 'a manifest for another build id under the tag is refused' '
	dir=$(artifact hello "$K") && other=$(artifact hello "$K2") &&
	cp "$dir/manifest" saved.manifest && cp "$dir/manifest.sig" saved.sig &&
	cp "$other/manifest" "$other/manifest.sig" "$dir/" &&
	{ refused "the artifact under tag .* is hello/1.0.0 for $K2, build id"; r=$?; } &&
	cp saved.manifest "$dir/manifest" && cp saved.sig "$dir/manifest.sig" && exit $r
'

test_expect_success 'after every refusal D still takes the intact artifact' '
	"$KBUILDD" --root "$D" install hello -k "$K" 2>err &&
	test_grep "taken from the cache" err &&
	cmp "$A/lib/modules/$K/updates/kbuildd/hello.ko" "$D/lib/modules/$K/updates/kbuildd/hello.ko"
'

test_expect_success 'the registry: another build'"'"'s image manifest under the tag is refused' '
	reg=https://127.0.0.1:$REG_PORT/v2/fleet/modules &&
	id=$(sed -n "s/^build-id //p" "$A/var/lib/kbuildd/installed/$K/hello.manifest") &&
	id2=$(sed -n "s/^build-id //p" "$A/var/lib/kbuildd/installed/$K2/hello.manifest") &&
	oci () { curl -sf --cacert "$STORE_CA/ca.crt" -u "fleet:s3cret pass" "$@"; } &&
	accept="application/vnd.oci.image.manifest.v1+json" &&
	oci -H "Accept: $accept" "$reg/manifests/$id" >mine.json &&
	oci -H "Accept: $accept" "$reg/manifests/$id2" >other.json &&
	oci -X PUT -H "Content-Type: $accept" --data-binary @other.json "$reg/manifests/$id" &&
	fleet_root "$TRASH/D2" "$OCI" &&
	{ kr "$TRASH/D2" install hello -k "$K" >out 2>err; r=$?; } &&
	oci -X PUT -H "Content-Type: $accept" --data-binary @mine.json "$reg/manifests/$id" &&
	test $r = 0 && cat err &&
	test_grep "hello/1.0.0 for $K: the cache.s build is refused: the artifact under tag ${id%${id#????????????}} is hello/1.0.0 for $K2" err &&
	test "$(compiled "$TRASH/D2")" = 1
'

test_expect_success 'a registry that hands out Bearer tokens: A pushes, G takes, each with its token' '
	start_registry "$TRASH/token-registry" fleet "s3cret pass" token &&
	url=oci://127.0.0.1:$REG_PORT/fleet/modules &&
	sed "s|^url = .*|url = $url|" "$A/etc/kbuildd/kbuildd.conf" >"$TRASH/a-token.conf" &&
	kr "$A" --config "$TRASH/a-token.conf" publish hello -k "$K" 2>err &&
	test_grep "pushed to the cache $url" err &&
	fleet_root "$G" "$url" &&
	kr "$G" install hello -k "$K" 2>err &&
	test_grep "hello/1.0.0 for $K: taken from the cache $url, nothing compiled" err &&
	cmp "$A/lib/modules/$K/updates/kbuildd/hello.ko" "$G/lib/modules/$K/updates/kbuildd/hello.ko" &&
	cat "$TRASH/token-registry/token.log" &&
	test_grep "^token repository:fleet/modules:pull,push$" "$TRASH/token-registry/token.log" &&
	test_grep "^token repository:fleet/modules:pull$" "$TRASH/token-registry/token.log" &&
	kr "$G" remove hello/1.0.0 -k "$K" >/dev/null &&
	(umask 077 && echo "fleet:wrong" >"$G/etc/kbuildd/store-auth") &&
	kr "$G" install hello -k "$K" 2>err &&
	test_grep "the build cache $url cannot be used in this run: the registry.s token service .*HTTP 401" err &&
	test "$(compiled "$G")" = 1 &&
	stop_store "$REG_PID"
'

test_expect_success '[cache] trust: a file of certificates, each one trusted' '
	kr "$D" remove hello/1.0.0 -k "$K" >/dev/null &&
	dir=$(artifact hello "$K") && cp "$dir/manifest.sig" saved.sig &&
	openssl cms -sign -binary -nocerts -nosmimecap -outform DER -signer other.crt \
		-inkey other.key -in "$dir/manifest" -out "$dir/manifest.sig" &&
	cat other.crt "$A/$KEYS/signing_key.x509" >"$D/etc/kbuildd/fleet.pem" &&
	cp "$D/etc/kbuildd/kbuildd.conf" saved.conf &&
	echo "trust = /etc/kbuildd/fleet.pem" >>"$D/etc/kbuildd/kbuildd.conf" &&
	{ kr "$D" install hello -k "$K" 2>err; r=$?; } &&
	cp saved.sig "$dir/manifest.sig" && cp saved.conf "$D/etc/kbuildd/kbuildd.conf" &&
	test $r = 0 && cat err &&
	test_grep "taken from the cache" err &&
	kr "$D" remove hello/1.0.0 -k "$K" >/dev/null &&
	echo "trust = /etc/kbuildd/missing.pem" >>"$D/etc/kbuildd/kbuildd.conf" &&
	test_expect_code 2 kr "$D" install hello -k "$K" 2>err &&
	cp saved.conf "$D/etc/kbuildd/kbuildd.conf" &&
	test_grep "cannot read certificates from .*missing.pem" err
'

test_expect_success 'a push killed between the blobs and the manifest leaves nothing a fetch takes' '
	sed "s|^url = .*|url = oci://127.0.0.1:$REG_PORT/fleet/count|" \
		"$A/etc/kbuildd/kbuildd.conf" >"$TRASH/a-count.conf" &&
	sed "s|^url = .*|url = oci://127.0.0.1:$REG_PORT/fleet/cut|" \
		"$A/etc/kbuildd/kbuildd.conf" >"$TRASH/a-cut.conf" &&
	KBUILDD_FAULT_COUNT=$TRASH/n.push "$KBUILDD" --root "$A" --config "$TRASH/a-count.conf" \
		publish hello -k "$K" 2>/dev/null &&
	n=$(cat "$TRASH/n.push") && test "$n" -ge 2 &&
	test_expect_code 137 env KBUILDD_FAULT_AT="$n" "$KBUILDD" --root "$A" \
		--config "$TRASH/a-cut.conf" publish hello -k "$K" 2>/dev/null &&
	curl -s --cacert "$STORE_CA/ca.crt" -u "fleet:s3cret pass" \
		"https://127.0.0.1:$REG_PORT/v2/fleet/cut/tags/list" >tags &&
	cat tags && ! grep "[0-9a-f]\{64\}" tags &&
	fleet_root "$F" "oci://127.0.0.1:$REG_PORT/fleet/cut" &&
	kr "$F" install hello -k "$K" >out 2>err &&
	! grep -e "taken from the cache" -e "refused" -e "cannot be used" err &&
	test "$(compiled "$F")" = 1
'

test_expect_success 'a registry that is stopped: one warning, everything compiled here' '
	stop_store "$REG_PID" &&
	fleet_root "$E" "$OCI" "push = yes" &&
	kr "$E" install hello provider consumer -k "$K" >out 2>err &&
	cat err &&
	test "$(grep -c "the build cache $OCI cannot be used in this run: " err)" = 1 &&
	test_grep "warning: 3 builds not pushed to the cache $OCI: .*Couldn.t connect" err &&
	test "$(grep -c "warning" err)" = 2 &&
	test "$(compiled "$E")" = 3 &&
	kr "$E" status >st && test "$(grep -c " installed" st)" = 3 && ! grep "taken from" st
'

test_expect_success 'a registry that hangs: one warning after the timeout, everything compiled here' '
	rm -f hang.port &&
	python3 "$SERVE" hang "$TRASH" "$TRASH/hang.port" --parent $$ >hang.err 2>&1 &
	i=0; while ! [ -s "$TRASH/hang.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done &&
	url=oci://127.0.0.1:$(cat "$TRASH/hang.port")/fleet/modules &&
	fleet_root "$H" "$url" &&
	sed -i "s/^timeout = .*/timeout = 2/" "$H/etc/kbuildd/kbuildd.conf" &&
	kr "$H" install hello provider consumer -k "$K" >out 2>err &&
	cat err &&
	test "$(grep -c "the build cache $url cannot be used in this run: .*imeout" err)" = 1 &&
	test "$(compiled "$H")" = 3
'

test_expect_success 'a store that answers garbage: one warning, everything compiled here' '
	for m in "$NGX_DATA"/*/manifest; do
		id=$(basename "$(dirname "$m")") &&
		mkdir -p "$TRASH/nginx/data/garbage/$id" &&
		echo "<html>moved</html>" >"$TRASH/nginx/data/garbage/$id/manifest" &&
		echo "<html>moved</html>" >"$TRASH/nginx/data/garbage/$id/manifest.sig" || exit 1
	done &&
	fleet_root "$J" "https://127.0.0.1:$NGX_PORT/garbage/" &&
	kr "$J" install hello provider consumer -k "$K" >out 2>err &&
	cat err &&
	test "$(grep -c "warning" err)" = 1 &&
	test_grep "cannot be used in this run: it answers with what is no kbuildd artifact" err &&
	test "$(compiled "$J")" = 3
'

test_expect_success 'bad [cache] settings are refused with exit 2, naming the setting' '
	conf=$H/etc/kbuildd/kbuildd.conf && cp "$conf" good.conf &&
	sed -i "s|^url = .*|url = http://127.0.0.1:1/x/|" "$conf" &&
	test_expect_code 2 kr "$H" build hello -k "$K" 2>err &&
	test_grep "kbuildd.conf: \[cache\] url .http://127.0.0.1:1/x/. is plain HTTP" err &&
	sed -i "s|^url = .*|url = ftp://127.0.0.1/x/|" "$conf" &&
	test_expect_code 2 kr "$H" build hello -k "$K" 2>err &&
	test_grep "kbuildd.conf:2: invalid value .ftp://127.0.0.1/x/. for .url. in \[cache\]" err &&
	cp good.conf "$conf" && chmod 644 "$H/etc/kbuildd/store-auth" &&
	test_expect_code 2 kr "$H" build hello -k "$K" 2>err &&
	test_grep "\[cache\] auth .*store-auth. is mode 0644.*chmod 600" err &&
	chmod 600 "$H/etc/kbuildd/store-auth" &&
	sed -i "/^url = /d" "$conf" &&
	test_expect_code 2 kr "$H" publish 2>err &&
	test_grep "no build cache to publish to: set \[cache\] url" err
'

test_done
