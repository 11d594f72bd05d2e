#!/bin/sh
# The switch-over from DKMS compiles nothing: where the module installed
# for a kernel is DKMS's copy of its build, `kbuildd import-dkms` takes
# that build over as its own. Each module here is built the way DKMS 3.0
# builds it (make against the kernel's headers, strip -g, the kernel's
# sign-file with DKMS's mok.key, compressed as the kernel's own modules
# are), then the source is broken (#error), so that any compile would fail.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib/dkms-tree.sh"

kb_dkms_root root
D=$ROOT/var/lib/dkms
SIGN_FILE=$ROOT/lib/modules/$K1/build/scripts/sign-file
[ -x "$SIGN_FILE" ] && test_set_prereq SIGN_FILE

# suffix K: how kernel K's own modules are compressed (kbuild's defaults)
suffix () {
	if grep -q "^CONFIG_MODULE_COMPRESS_XZ=y" "$ROOT/lib/modules/$1/build/.config"; then
		echo .xz
	elif grep -q "^CONFIG_MODULE_COMPRESS_ZSTD=y" "$ROOT/lib/modules/$1/build/.config"; then
		echo .zst
	fi
}

# dkms_built ROOT NAME MODULE K: NAME/1.0 (module MODULE) built, signed and
# installed for K as DKMS does, its tree's module/ copy beside it
dkms_built () {
	_db_root=$1 _db_name=$2 _db_mod=$3 _db_k=$4
	_db_src=$_db_root/usr/src/$_db_name-1.0
	_db_tree=$_db_root/var/lib/dkms/$_db_name
	_db_sfx=$(suffix "$_db_k")
	rm -rf "build-$_db_name-$_db_k" && cp -r "$_db_src" "build-$_db_name-$_db_k" &&
	make -s -C "$_db_root/lib/modules/$_db_k/build" M="$PWD/build-$_db_name-$_db_k" \
		modules >make.log 2>&1 || { cat make.log; return 1; }
	_db_ko=build-$_db_name-$_db_k/$_db_mod.ko
	strip -g "$_db_ko" &&
	# without a key (no openssl to make one), DKMS installs it unsigned
	if [ -f "$_db_root/var/lib/dkms/mok.key" ]; then
		"$SIGN_FILE" sha256 "$_db_root/var/lib/dkms/mok.key" \
			"$_db_root/var/lib/dkms/mok.pub" "$_db_ko"
	fi &&
	case $_db_sfx in
	.xz) xz --check=crc32 --lzma2=dict=1MiB -f "$_db_ko" ;;
	.zst) zstd -q --rm -f "$_db_ko" ;;
	esac &&
	mkdir -p "$_db_tree/1.0/$_db_k/$ARCH/module" "$_db_root/lib/modules/$_db_k/updates/dkms" &&
	cp "$_db_ko$_db_sfx" "$_db_tree/1.0/$_db_k/$ARCH/module/" &&
	cp "$_db_ko$_db_sfx" "$_db_root/lib/modules/$_db_k/updates/dkms/" &&
	ln -sfn "/usr/src/$_db_name-1.0" "$_db_tree/1.0/source" &&
	ln -sfn "1.0/$_db_k/$ARCH" "$_db_tree/kernel-$_db_k-$ARCH"
}

# dkms_machine ROOT NAME MODULE [unsigned]: DKMS's key, NAME's source, built for every kernel
dkms_machine () {
	mkdir -p "$1/var/lib/dkms" &&
	if [ "${4-}" != unsigned ]; then
		openssl req -new -x509 -nodes -days 36500 -subj "/CN=DKMS module signing key" \
			-newkey rsa:2048 -keyout "$1/var/lib/dkms/mok.key" -outform DER \
			-out "$1/var/lib/dkms/mok.pub" >/dev/null 2>&1
	fi &&
	dkms_tree "$1/usr/src/$2-1.0" "$3" &&
	printf "PACKAGE_NAME=%s\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=%s\nDEST_MODULE_LOCATION[0]=/updates/dkms\nAUTOINSTALL=yes\n" \
		"$2" "$3" >"$1/usr/src/$2-1.0/dkms.conf" &&
	for _dm_k in $KERNELS; do dkms_built "$1" "$2" "$3" "$_dm_k" || return 1; done
}

# identity ROOT: inode, size and sha256 of every module installed below ROOT
identity () {
	find "$1/lib/modules" -path "*/updates/*" -name "*.ko*" -type f | sort |
	while read -r _f; do
		echo "${_f#"$1"} $(stat -c "%i %s" "$_f") $(sha256sum <"$_f" | cut -d" " -f1)"
	done
}

# break_source ROOT NAME MODULE: a compile of it fails from now on
break_source () {
	echo "#error compiled although DKMS's build was taken" >>"$1/usr/src/$2-1.0/$3.c"
}

test_expect_success SIGN_FILE 'a machine where DKMS built and installed a driver for every kernel' '
	dkms_machine "$ROOT" kbt-adopt kbt_adopt &&
	break_source "$ROOT" kbt-adopt kbt_adopt &&
	identity "$ROOT" >before &&
	test "$(wc -l <before)" = "$(echo $KERNELS | wc -w)" &&
	tree_snapshot "$D" >dkms-before
'

test_expect_success SIGN_FILE 'import-dkms takes each build over: nothing compiled, a line per kernel' '
	kb import-dkms >out 2>err || { cat out err; exit 1; }
	cat out &&
	for k in $KERNELS; do
		test_grep "^kbt-adopt/1.0 for $k: DKMS.s build taken over, nothing compiled" out &&
		test_grep "kbt-adopt/1.0 *$k *installed" out || exit 1
		test_grep "nothing compiled: taken from DKMS.s build in /var/lib/dkms/kbt-adopt/1.0/$k/$ARCH/module" \
			"$ROOT/var/lib/kbuildd/builds/kbt-adopt/1.0/$k.log" || exit 1
	done &&
	test_grep ! "compiling it again" out
'

test_expect_success SIGN_FILE 'the files DKMS installed stay, same inode, same bytes, now kbuildd s' '
	identity "$ROOT" >after &&
	test_cmp before after &&
	kb status --check &&
	kb status >st &&
	for k in $KERNELS; do
		test_grep "^kbt-adopt/1.0 *$k *installed (taken from DKMS.s build in /var/lib/dkms/kbt-adopt/1.0/$k/$ARCH/module): /lib/modules/$k/updates/dkms/kbt_adopt.ko" st ||
		exit 1
	done &&
	kb status --json >st.json &&
	test_grep "\"origin\": *\"DKMS.s build in /var/lib/dkms/kbt-adopt/1.0/" st.json
'

test_expect_success SIGN_FILE 'the next rebuild finds them up to date; DKMS s tree is as it was' '
	kb rebuild --all >out 2>&1 &&
	test_grep ! "build" out &&
	identity "$ROOT" >after && test_cmp before after &&
	tree_snapshot "$D" >dkms-after && test_cmp dkms-before dkms-after
'

test_expect_success SIGN_FILE 'remove takes away what was taken over; DKMS s tree stays' '
	kb remove kbt-adopt/1.0 --all &&
	! find "$ROOT/lib/modules" -name "kbt_adopt.ko*" | grep . &&
	tree_snapshot "$D" >dkms-after && test_cmp dkms-before dkms-after
'

test_expect_success SIGN_FILE 'kbuildd with a key of its own: taken over and re-signed, still nothing compiled' '
	kb_dkms_root own &&
	dkms_machine "$ROOT" kbt-own kbt_own &&
	break_source "$ROOT" kbt-own kbt_own &&
	kb keys generate --force >/dev/null &&
	kb import-dkms >out 2>err || { cat out err; exit 1; }
	f=$(ls "$ROOT/lib/modules/$K1/updates/dkms/kbt_own.ko"*) &&
	modinfo -F signer "$f" >signer &&
	test_grep ! "DKMS module signing key" signer &&
	kb verify "$f" &&
	test_grep "^kbt-own/1.0 for $K1: DKMS.s build taken over, nothing compiled" out &&
	kb status --check
'

test_expect_success SIGN_FILE 'DKMS left it unsigned: signed now, still nothing compiled' '
	kb_dkms_root unsigned &&
	dkms_machine "$ROOT" kbt-uns kbt_uns unsigned &&
	break_source "$ROOT" kbt-uns kbt_uns &&
	f=$(ls "$ROOT/lib/modules/$K1/updates/dkms/kbt_uns.ko"*) &&
	case $f in *.xz) xz -dc "$f" ;; *.zst) zstd -qdc "$f" ;; *) cat "$f" ;; esac >dkms.ko &&
	kb import-dkms >out 2>err || { cat out err; exit 1; }
	test_grep "^kbt-uns/1.0 for $K1: DKMS.s build taken over, nothing compiled" out &&
	kb verify "$f" &&
	# what is installed is the build DKMS made, a signature appended
	case $f in *.xz) xz -dc "$f" ;; *.zst) zstd -qdc "$f" ;; *) cat "$f" ;; esac >now.ko &&
	head -c "$(wc -c <dkms.ko)" now.ko | cmp - dkms.ko
'

test_expect_success SIGN_FILE 'an installed file that is not DKMS s copy: compiled again, and why' '
	kb_dkms_root replaced &&
	dkms_machine "$ROOT" kbt-rep kbt_rep &&
	f=$(ls "$ROOT/lib/modules/$K1/updates/dkms/kbt_rep.ko"*) &&
	printf x >>"$f" &&
	kb import-dkms >out 2>err || { cat out err; exit 1; }
	test_grep "^kbt-rep/1.0 for $K1: compiling it again: ./lib/modules/$K1/updates/dkms/kbt_rep.ko[^ ]*. is not the copy of module kbt_rep DKMS built" out &&
	test_grep "building kbt-rep/1.0 for $K1" err &&
	kb status --check
'

test_expect_success SIGN_FILE 'a DKMS tree without its module copy: compiled again, and why' '
	kb_dkms_root nocopy &&
	dkms_machine "$ROOT" kbt-nc kbt_nc &&
	rm "$ROOT/var/lib/dkms/kbt-nc/1.0/$K1/$ARCH/module/"* &&
	kb import-dkms >out 2>err || { cat out err; exit 1; }
	test_grep "^kbt-nc/1.0 for $K1: compiling it again: DKMS.s tree has no copy of module kbt_nc" out &&
	kb status >st && test_grep "^kbt-nc/1.0 *$K1 *installed: " st &&
	kb status --json >st.json && test_grep "\"origin\": *\"built here\"" st.json
'

test_expect_success SIGN_FILE '--dry-run takes nothing over and changes nothing' '
	kb_dkms_root dry &&
	dkms_machine "$ROOT" kbt-dry kbt_dry &&
	identity "$ROOT" >before &&
	kb import-dkms --dry-run >out 2>&1 &&
	test_grep "would take over kbt-dry/1.0 for $K1" out &&
	identity "$ROOT" >after && test_cmp before after &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/builds"
'

test_done
