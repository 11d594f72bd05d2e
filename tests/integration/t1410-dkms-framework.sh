#!/bin/sh
# DKMS's /etc/dkms/framework.conf and framework.conf.d/*.conf, as a machine
# switching from DKMS has them: the MOK named there (with ${kernelver}) keeps
# signing, sign_file, the compression options, parallel_jobs and
# post_transaction are honoured, kbuildd.conf still wins, and what kbuildd
# cannot honour (a pkcs11: key, a missing key, an option it cannot apply)
# fails clearly instead of falling back to something else.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
echo ID=debian >"$ROOT/etc/os-release"
K1=${KERNELS%% *}
K2=${KERNELS##* }
FW=$ROOT/etc/dkms/framework.conf
FWD=$ROOT/etc/dkms/framework.conf.d
mkdir -p "$FWD" "$ROOT/etc/mok" "$ROOT/usr/local/sbin" "$ROOT/bin"
ln -s "$KBUILDD" "$TRASH/dkms"
export K1 K2 FW FWD
[ "$K1" != "$K2" ] && test_set_prereq TWO_KERNELS
[ -x "$ROOT/lib/modules/$K1/build/scripts/sign-file" ] && test_set_prereq SIGN_FILE
grep -q '^CONFIG_MODULE_SIG=y' "$ROOT/lib/modules/$K1/build/.config" && test_set_prereq SIG
[ -n "$K612" ] && grep -q '^CONFIG_MODULE_COMPRESS_XZ=y' \
	"$ROOT/lib/modules/$K612/build/.config" && test_set_prereq XZ_KERNEL

# cn NAME: the subject CN of mok NAME (a "+" would split the RDN)
cn () {
	printf "test mok %s\n" "$1" | tr + _
}

# mok NAME: a DKMS-style pair, ROOT/etc/mok/NAME.key and NAME.der (+ NAME.pem to verify with)
mok () {
	openssl req -new -x509 -nodes -days 36500 -subj "/CN=$(cn "$1")" -newkey rsa:2048 \
		-keyout "$ROOT/etc/mok/$1.key" -out "$ROOT/etc/mok/$1.pem" 2>/dev/null &&
	openssl x509 -in "$ROOT/etc/mok/$1.pem" -outform DER -out "$ROOT/etc/mok/$1.der" &&
	chmod 600 "$ROOT/etc/mok/$1.key"
}

# plain K: the installed hello module for kernel K, decompressed, in ./K.ko
plain () {
	f=$(ls "$ROOT/lib/modules/$1/updates/kbuildd/hello.ko"*) &&
	case $f in
	*.xz) xz -dc "$f" >"$1.ko" ;;
	*.zst) zstd -qdc "$f" >"$1.ko" ;;
	*) cp "$f" "$1.ko" ;;
	esac
}

# signed_by K CERT.pem: K's module carries one signature that openssl verifies with CERT
signed_by () {
	plain "$1" &&
	total=$(stat -c %s "$1.ko") &&
	siglen=$(tail -c 32 "$1.ko" | head -c 4 | od -An -tu1 |
		awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }') &&
	body=$((total - siglen - 40)) &&
	test "$(tail -c 28 "$1.ko")" = "~Module signature appended~" &&
	head -c "$body" "$1.ko" >"$1.body" &&
	tail -c +$((body + 1)) "$1.ko" | head -c "$siglen" >"$1.p7s" &&
	openssl cms -verify -binary -inform DER -in "$1.p7s" -content "$1.body" \
		-certfile "$2" -nointern -noverify -out /dev/null 2>"$1.verify"
}

# built K: the module the build produced for K, unsigned
built () {
	echo "$ROOT/var/lib/kbuildd/builds/hello/1.0.0/$1/src/hello.ko"
}

test_expect_success 'setup: the hello recipe, and a MOK per kernel' '
	kb add "$TOP/recipes/hello.recipe" >/dev/null &&
	for k in $KERNELS; do mok "$k" || exit 1; done &&
	mok other
'

test_expect_success SIG 'the MOK framework.conf names with ${kernelver} signs each kernel' '
	cat >"$FW" <<-\EOF &&
	# as DKMS documents it: per kernel, in a file of its own
	mok_signing_key="/etc/mok/${kernelver}.key"
	mok_certificate="/etc/mok/${kernelver}.der"
	EOF
	kb install hello >out 2>err &&
	for k in $KERNELS; do
		signed_by "$k" "$ROOT/etc/mok/$k.pem" || exit 1
		modinfo -F signer "$k.ko" >signer && cn "$k" >expect &&
		test_cmp expect signer || exit 1
	done &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/keys" &&
	test_path_is_missing "$ROOT/var/lib/dkms/mok.key"
'

test_expect_success SIG,TWO_KERNELS 'a named key that is missing fails that kernel only; nothing replaces it' '
	cp "$(ls "$ROOT/lib/modules/$K2/updates/kbuildd/hello.ko"*)" before.ko &&
	mv "$ROOT/etc/mok/$K2.key" "$ROOT/etc/mok/$K2.key.away" &&
	test_expect_code 1 kb install hello --force >out 2>err &&
	test_grep "^hello/1.0.0 *$K1 *installed$" out &&
	test_grep "framework.conf:2: mok_signing_key ./etc/mok/$K2.key. (for kernel $K2) does not exist" err &&
	test_path_is_missing "$ROOT/etc/mok/$K2.key" &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/keys" &&
	cmp before.ko "$(ls "$ROOT/lib/modules/$K2/updates/kbuildd/hello.ko"*)" &&
	signed_by "$K1" "$ROOT/etc/mok/$K1.pem" &&
	mv "$ROOT/etc/mok/$K2.key.away" "$ROOT/etc/mok/$K2.key"
'

test_expect_success SIG 'a pkcs11: key is refused, never swapped for another key' '
	printf "mok_signing_key=\"pkcs11:token=mok;object=key\"\n" >"$FWD/50-hsm.conf" &&
	test_expect_code 1 kb install hello -k "$K1" --force >out 2>err &&
	test_grep "50-hsm.conf:1: mok_signing_key=.pkcs11:token=mok;object=key.: PKCS#11 keys are not supported" err &&
	test_grep "^hello/1.0.0 *$K1 *failed" out &&
	signed_by "$K1" "$ROOT/etc/mok/$K1.pem" &&
	rm "$FWD/50-hsm.conf"
'

test_expect_success SIG 'sign_file=/bin/false fails the kernel clearly; the installed module stays' '
	cp /bin/false "$ROOT/bin/false" &&
	echo "sign_file=/bin/false" >"$FWD/60-sign.conf" &&
	cp "$(ls "$ROOT/lib/modules/$K1/updates/kbuildd/hello.ko"*)" before.ko &&
	test_expect_code 1 kb install hello -k "$K1" --force >out 2>err &&
	test_grep "60-sign.conf:1: sign_file .$ROOT/bin/false. failed on hello.ko for $K1 (exit status 1)" err &&
	test_grep "^hello/1.0.0 *$K1 *failed: hello.ko not signed" out &&
	cmp before.ko "$(ls "$ROOT/lib/modules/$K1/updates/kbuildd/hello.ko"*)"
'

test_expect_success SIG,SIGN_FILE 'a sign_file wrapper around the kernel sign-file signs as kbuildd does' '
	write_script "$ROOT/usr/local/sbin/hsm-sign" <<-EOF &&
	echo "\$*" >>"$TRASH/hsm.calls"
	exec "$ROOT/lib/modules/$K1/build/scripts/sign-file" "\$@"
	EOF
	echo "sign_file=/usr/local/sbin/hsm-sign" >"$FWD/60-sign.conf" &&
	rm -f hsm.calls &&
	kb install hello -k "$K1" --force >out 2>err &&
	test_grep "^hello/1.0.0 *$K1 *installed$" out &&
	test "$(wc -l <hsm.calls)" = 1 &&
	test_grep "^sha256 $ROOT/etc/mok/$K1.key $ROOT/etc/mok/$K1.der .*/module.ko$" hsm.calls &&
	plain "$K1" &&
	kb sign --hash sha256 "$ROOT/etc/mok/$K1.key" "$ROOT/etc/mok/$K1.der" "$(built "$K1")" ours.ko &&
	cmp ours.ko "$K1.ko"
'

test_expect_success SIG,SIGN_FILE 'a wrapper that changes the module body is refused' '
	write_script "$ROOT/usr/local/sbin/hsm-sign" <<-EOF &&
	"$ROOT/lib/modules/$K1/build/scripts/sign-file" "\$@" &&
	printf X | dd of="\$4" bs=1 seek=64 conv=notrunc 2>/dev/null
	EOF
	cp "$(ls "$ROOT/lib/modules/$K1/updates/kbuildd/hello.ko"*)" before.ko &&
	test_expect_code 1 kb install hello -k "$K1" --force >out 2>err &&
	test_grep "sign_file .$ROOT/usr/local/sbin/hsm-sign. on hello.ko for $K1: refused: it changed the module itself" err &&
	cmp before.ko "$(ls "$ROOT/lib/modules/$K1/updates/kbuildd/hello.ko"*)"
'

test_expect_success SIG,SIGN_FILE 'sign_file is not run as root from a file others may write' '
	chmod 666 "$FWD/60-sign.conf" &&
	test_expect_code 1 kb install hello -k "$K1" --force >out 2>err &&
	test_grep "60-sign.conf:1: sign_file ./usr/local/sbin/hsm-sign. would run as root from .$FWD/60-sign.conf., which is not root.s" err &&
	rm "$FWD/60-sign.conf"
'

test_expect_success SIG 'kbuildd.conf [signing] wins over framework.conf; without it the MOK signs again' '
	mkdir -p "$ROOT/etc/kbuildd" &&
	printf "[signing]\nkey = /etc/mok/other.key\ncert = /etc/mok/other.pem\n" \
		>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb install hello -k "$K1" >out 2>err &&
	signed_by "$K1" "$ROOT/etc/mok/other.pem" &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb install hello -k "$K1" >out 2>err &&
	signed_by "$K1" "$ROOT/etc/mok/$K1.pem"
'

test_expect_success XZ_KERNEL 'compress_xz_opts are applied as xz would' '
	echo "compress_xz_opts=\"--check=crc64 --lzma2=dict=512KiB\"" >"$FWD/70-xz.conf" &&
	kb install hello -k "$K612" --force >out 2>err &&
	f="$ROOT/lib/modules/$K612/updates/kbuildd/hello.ko.xz" &&
	xz --robot --list "$f" | awk -F"\t" "/^file/ { print \$7 }" >check &&
	echo CRC64 >expect && test_cmp expect check &&
	xz --robot --list -vv "$f" | grep -q "^block.*--lzma2=dict=512KiB" &&
	# byte for byte what xz makes with them (no sizes in the block header)
	xz -dc "$f" | xz --check=crc64 --lzma2=dict=512KiB -c | cmp - "$f" &&
	echo "compress_xz_opts=\"-9\"" >"$FWD/70-xz.conf" &&
	kb install hello -k "$K612" --force >out 2>err &&
	xz --robot --list -vv "$f" | grep -q "^block.*--lzma2=dict=64MiB"
'

test_expect_success 'an option kbuildd cannot apply is an error naming file, variable and option' '
	echo "compress_zstd_opts=\"-19 --long=27\"" >"$FWD/70-xz.conf" &&
	test_expect_code 2 kb build hello -k "$K1" >out 2>err &&
	test_grep "70-xz.conf:1: compress_zstd_opts: .--long=27. is not an option kbuildd can apply" err &&
	rm "$FWD/70-xz.conf"
'

test_expect_success 'setup: a recipe whose make command shows the job count' '
	mkdir jobs &&
	cp "$TOP/examples/hello/Kbuild" "$TOP/examples/hello/hello.c" jobs/ &&
	printf "[recipe]\nname = jobs\nversion = 1\n[source]\npath = jobs\n[build]\nmake_args = KB_JOBS={jobs}\n[module hello]\npath = hello.ko\n" \
		>jobs.recipe &&
	kb add jobs.recipe >/dev/null
'

# jobs_in_log: the job count the last build of jobs for K1 ran with
jobs_in_log () {
	sed -n "s/^# make .* KB_JOBS=\([0-9]*\)$/\1/p" "$ROOT/var/lib/kbuildd/builds/jobs/1/$K1.log"
}

test_expect_success 'parallel_jobs sets the job count; [build] jobs wins; else the environment' '
	echo "parallel_jobs=3" >"$FWD/80-jobs.conf" &&
	kb build jobs -k "$K1" --force >out 2>err &&
	test "$(jobs_in_log)" = 3 &&
	printf "[build]\njobs = 7\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb build jobs -k "$K1" --force >out 2>err &&
	test "$(jobs_in_log)" = 7 &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf" "$FWD/80-jobs.conf" &&
	parallel_jobs=5 kb build jobs -k "$K1" --force >out 2>err &&
	test "$(jobs_in_log)" = 5 &&
	echo "parallel_jobs=\"\$((parallel_jobs + 1))\"" >"$FWD/80-jobs.conf" &&
	parallel_jobs=5 kb build jobs -k "$K1" --force >out 2>err &&
	test "$(jobs_in_log)" = 6
'

test_expect_success 'a parallel_jobs that is no number is an error naming the file and line' '
	printf "\n# more jobs\nparallel_jobs=lots\n" >"$FWD/80-jobs.conf" &&
	test_expect_code 2 kb build jobs -k "$K1" >out 2>err &&
	test_grep "80-jobs.conf:3: parallel_jobs=.lots.: expected a number of jobs" err &&
	rm "$FWD/80-jobs.conf" &&
	test_expect_code 2 env parallel_jobs=lots "$KBUILDD" --root "$ROOT" build jobs -k "$K1" 2>err &&
	test_grep "environment variable parallel_jobs=.lots." err
'

test_expect_success 'functions in framework.conf.d hijack nothing; unknown variables are ignored' '
	"$TRASH/dkms" --root "$ROOT" status >status.before &&
	cat >"$FWD/90-hijack.conf" <<-\EOF &&
	do_status() { echo "do_status() is hijacked!"; }
	printf() { echo "printf is hijacked!"; }
	compgen() { echo "compgen is hijacked!"; }
	make() { echo "make is hijacked!"; }
	export -f make
	shopt -s expand_aliases
	alias printf="echo alias is hijacked"
	SOME_SETTING=1 other_setting=2
	parallel_jobs=3
	EOF
	"$TRASH/dkms" --root "$ROOT" status >status.after 2>err &&
	test_cmp status.before status.after &&
	test_must_fail test -s err &&
	kb build jobs -k "$K1" --force >out 2>err &&
	test "$(jobs_in_log)" = 3 &&
	test_grep -v hijacked "$ROOT/var/lib/kbuildd/builds/jobs/1/$K1.log" &&
	rm "$FWD/90-hijack.conf"
'

test_expect_success 'a framework.conf the build user cannot read is an error, not skipped' '
	chmod 600 "$FW" &&
	test_expect_code 2 kb build jobs -k "$K1" >out 2>err &&
	test_grep "framework.conf: bash stopped while reading it.*cannot read ./framework.conf" err &&
	chmod 644 "$FW"
'

# --- post_transaction, after the dkms front end's transactions ----------------

test_expect_success 'setup: a DKMS source tree, and a post_transaction' '
	kb remove hello/1.0.0 --all >/dev/null &&
	mkdir -p "$ROOT/usr/src/kbt-post-1.0" &&
	cp "$TOP/examples/hello/Kbuild" "$TOP/examples/hello/hello.c" "$ROOT/usr/src/kbt-post-1.0/" &&
	printf "PACKAGE_NAME=kbt-post\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/updates\n" \
		>"$ROOT/usr/src/kbt-post-1.0/dkms.conf" &&
	cat >"$FWD/95-post.conf" <<-\EOF
	post_transaction="echo Kernel version is $kernelver; echo ran >>$dkms_tree/post.count"
	EOF
'

test_expect_success 'post_transaction runs once after dkms install, with kernelver, logged' '
	"$TRASH/dkms" --root "$ROOT" install kbt-post/1.0 -k "$K1" >out 2>err &&
	test "$(cat "$ROOT/var/lib/dkms/post.count")" = ran &&
	log="$ROOT/var/lib/dkms/post_transaction.log" &&
	test_grep "^# command: echo Kernel version is $K1; echo ran >>$ROOT/var/lib/dkms/post.count$" "$log" &&
	test_grep "^Kernel version is $K1$" "$log" &&
	test_grep "^# exit code: 0$" "$log"
'

test_expect_success 'post_transaction runs after an install that changed nothing, and after uninstall' '
	"$TRASH/dkms" --root "$ROOT" install kbt-post/1.0 -k "$K1" >out 2>err &&
	test "$(grep -c ran "$ROOT/var/lib/dkms/post.count")" = 2 &&
	"$TRASH/dkms" --root "$ROOT" uninstall kbt-post/1.0 -k "$K1" >out 2>err &&
	test "$(grep -c ran "$ROOT/var/lib/dkms/post.count")" = 3
'

test_expect_success 'post_transaction does not run after build, status, or a failure' '
	"$TRASH/dkms" --root "$ROOT" build kbt-post/1.0 -k "$K1" --force >out 2>err &&
	"$TRASH/dkms" --root "$ROOT" status >out 2>err &&
	test_must_fail "$TRASH/dkms" --root "$ROOT" install kbt-none/1.0 -k "$K1" >out 2>err &&
	test "$(grep -c ran "$ROOT/var/lib/dkms/post.count")" = 3 &&
	"$TRASH/dkms" --root "$ROOT" remove kbt-post/1.0 --all >out 2>err &&
	test "$(grep -c ran "$ROOT/var/lib/dkms/post.count")" = 4 &&
	rm "$FWD/95-post.conf"
'

test_done
