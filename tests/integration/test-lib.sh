#!/bin/sh
# test-lib.sh - shared helpers for kbuildd's integration tests (git's test-lib idea).
#
# Source it first thing from a test script in tests/integration:
#
#	. "$(dirname "$0")/test-lib.sh"
#
# Output is TAP, for prove.  Each script gets its own scratch directory
# $TRASH (the current directory while tests run), removed at exit unless a
# test failed or KB_TEST_KEEP=1.  KB_TEST_VERBOSE=1 shows every test's output.
# KB_TEST_NO_BINARY=1 skips the check that $KBUILDD is built (for selftest.sh).
#
# Test bodies run in a subshell with `set -e`: variables they set do not
# reach later tests, so call kb_root and test_set_prereq at top level.

set -u

# Run by itself (e.g. `prove --ext .sh -r tests`), this is not a test.
case ${0##*/} in
test-lib.sh)
	echo "1..0 # SKIP test-lib.sh is the shared library, not a test"
	exit 0 ;;
esac

LANG=C
LC_ALL=C
TZ=UTC
SOURCE_DATE_EPOCH=1700000000
export LANG LC_ALL TZ SOURCE_DATE_EPOCH

test_count=0
test_fail=0
test_pass=0
test_skip=0
test_prereqs=' '

# Compute everything that depends on the starting directory before the cd.
TEST_NAME=$(basename "$0" .sh)
TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd) || {
	echo "Bail out! cannot find the directory of $0"
	exit 1
}
TOP=$(cd "$TEST_DIRECTORY/../.." && pwd) || {
	echo "Bail out! cannot find the repository root from $TEST_DIRECTORY"
	exit 1
}
export TOP

KBUILDD=${KBUILDD:-$TOP/build/kbuildd}
case $KBUILDD in
/*) ;;
*/*) KBUILDD=$PWD/$KBUILDD ;;
*) KBUILDD=$(command -v "$KBUILDD" || echo "$KBUILDD") ;;
esac
export KBUILDD
if [ "${KB_TEST_NO_BINARY:-0}" != 1 ] && ! { [ -f "$KBUILDD" ] && [ -x "$KBUILDD" ]; }; then
	echo "Bail out! kbuildd binary '$KBUILDD' is not executable; build it first (make)"
	exit 1
fi

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/kbuildd-test.$TEST_NAME.XXXXXX") || {
	echo "Bail out! cannot create a scratch directory under ${TMPDIR:-/tmp}"
	exit 1
}
# kbuildd builds as an unprivileged user when run as root: it must reach
# the fake roots below here, as it reaches /var/lib/kbuildd on a real system
chmod 755 "$TRASH"
export TRASH

test_cleanup_trash_ () {
	cd / || return
	if [ "${KB_TEST_KEEP:-0}" = 1 ] || [ "$test_fail" -gt 0 ]; then
		echo "# kept: $TRASH"
		return
	fi
	# Tests may leave read-only directories behind; find does not
	# follow symlinks, so nothing outside $TRASH is touched.
	find "$TRASH" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null
	rm -rf "$TRASH"
}
trap 'test_cleanup_trash_' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

cd "$TRASH" || {
	echo "Bail out! cannot enter $TRASH"
	exit 1
}

# --- test registration -------------------------------------------------

# test_set_prereq NAME: mark the prerequisite NAME as satisfied.
test_set_prereq () {
	case $test_prereqs in
	*" $1 "*) ;;
	*) test_prereqs="$test_prereqs$1 " ;;
	esac
}

# test_have_prereq NAME[,NAME...]: true if every listed prerequisite is set.
test_have_prereq () {
	_thp_list=$1
	while [ -n "$_thp_list" ]; do
		_thp_one=${_thp_list%%,*}
		case $_thp_list in
		*,*) _thp_list=${_thp_list#*,} ;;
		*) _thp_list= ;;
		esac
		[ -z "$_thp_one" ] && continue
		case $test_prereqs in
		*" $_thp_one "*) ;;
		*) return 1 ;;
		esac
	done
	return 0
}

# Print $1 as TAP comment lines.
test_comment_ () {
	sed -e 's/^/# /' -e 's/^# $/#/' "$1"
}

# test_expect_success [PREREQ[,PREREQ...]] 'description' 'body'
test_expect_success () {
	if [ $# -eq 3 ]; then
		_tes_prereq=$1
		shift
	elif [ $# -eq 2 ]; then
		_tes_prereq=
	else
		echo "Bail out! test_expect_success needs [PREREQ] DESCRIPTION BODY (got $# arguments)"
		exit 1
	fi
	test_count=$((test_count + 1))
	# A '#' in the description would start a TAP directive.
	_tes_desc=$(printf '%s' "$1" | sed 's/#/\\#/g')

	if [ -n "$_tes_prereq" ] && ! test_have_prereq "$_tes_prereq"; then
		test_skip=$((test_skip + 1))
		echo "ok $test_count # skip $_tes_desc (missing $_tes_prereq)"
		return 0
	fi

	_tes_rc=0
	(
		set -e
		eval "$2"
	) >"$TRASH/.out" 2>&1 </dev/null || _tes_rc=$?

	if [ "$_tes_rc" -eq 0 ]; then
		test_pass=$((test_pass + 1))
		echo "ok $test_count - $_tes_desc"
		if [ "${KB_TEST_VERBOSE:-0}" = 1 ]; then
			test_comment_ "$TRASH/.out"
		fi
	else
		test_fail=$((test_fail + 1))
		echo "not ok $test_count - $_tes_desc"
		test_comment_ "$TRASH/.out"
		echo "# (body exited with status $_tes_rc)"
	fi
	return 0
}

# test_done: print the plan; exit 1 if any test failed.
test_done () {
	echo "1..$test_count"
	if [ "$test_fail" -gt 0 ]; then
		echo "# failed $test_fail among $test_count test(s)"
		exit 1
	fi
	if [ "$test_skip" -gt 0 ]; then
		echo "# passed $test_pass, skipped $test_skip"
	fi
	exit 0
}

# --- assertions ---------------------------------------------------------

# test_must_fail [--exit=N] CMD ARGS...: CMD must exit non-zero on its own
# (not by a signal, not "not found"), and with exactly N if --exit is given.
test_must_fail () {
	_tmf_want=
	case ${1-} in
	--exit=*) _tmf_want=${1#--exit=}; shift ;;
	esac
	if [ $# -eq 0 ]; then
		echo "test_must_fail: no command given" >&2
		return 1
	fi
	_tmf_rc=0
	"$@" || _tmf_rc=$?
	if [ "$_tmf_rc" -eq 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif [ "$_tmf_rc" -gt 128 ]; then
		echo "test_must_fail: died by signal $((_tmf_rc - 128)) (exit $_tmf_rc): $*" >&2
		return 1
	elif [ "$_tmf_rc" -eq 127 ]; then
		echo "test_must_fail: command not found: $*" >&2
		return 1
	elif [ "$_tmf_rc" -eq 126 ]; then
		echo "test_must_fail: command not executable: $*" >&2
		return 1
	elif [ -n "$_tmf_want" ] && [ "$_tmf_rc" != "$_tmf_want" ]; then
		echo "test_must_fail: exit $_tmf_rc, expected $_tmf_want: $*" >&2
		return 1
	fi
	return 0
}

# test_expect_code N CMD ARGS...: CMD must exit with exactly N.
test_expect_code () {
	if [ $# -lt 2 ]; then
		echo "test_expect_code: need N CMD..." >&2
		return 1
	fi
	_tec_want=$1
	shift
	_tec_rc=0
	"$@" || _tec_rc=$?
	if [ "$_tec_rc" != "$_tec_want" ]; then
		echo "test_expect_code: exit $_tec_rc, expected $_tec_want: $*" >&2
		return 1
	fi
	return 0
}

# test_cmp EXPECTED ACTUAL: the files must be identical.
test_cmp () {
	if [ $# -ne 2 ]; then
		echo "test_cmp: need EXPECTED ACTUAL" >&2
		return 1
	fi
	diff -u -- "$1" "$2"
}

# test_grep [-v] [GREP-OPTION...] PATTERN FILE: FILE must contain a line
# matching PATTERN; with -v, FILE must contain no such line.
test_grep () {
	_tg_negate=
	if [ "${1-}" = -v ] || [ "${1-}" = '!' ]; then
		_tg_negate=1
		shift
	fi
	if [ $# -lt 2 ]; then
		echo "test_grep: need [-v] PATTERN FILE" >&2
		return 1
	fi
	for _tg_file in "$@"; do :; done
	if ! [ -f "$_tg_file" ]; then
		echo "test_grep: no such file: '$_tg_file'" >&2
		return 1
	fi
	_tg_rc=0
	grep "$@" >/dev/null || _tg_rc=$?
	if [ "$_tg_rc" -gt 1 ]; then
		echo "test_grep: grep failed (exit $_tg_rc): grep $*" >&2
		return 1
	fi
	if [ -z "$_tg_negate" ] && [ "$_tg_rc" -eq 0 ]; then
		return 0
	fi
	if [ -n "$_tg_negate" ] && [ "$_tg_rc" -eq 1 ]; then
		return 0
	fi
	if [ -n "$_tg_negate" ]; then
		echo "test_grep: unexpected match: grep $*" >&2
	else
		echo "test_grep: no match: grep $*" >&2
	fi
	echo "test_grep: '$_tg_file' contains:" >&2
	sed 's/^/| /' "$_tg_file" >&2
	return 1
}

test_path_is_file () {
	if ! [ -f "$1" ]; then
		echo "test_path_is_file: not a file: '$1'" >&2
		ls -ld -- "$1" >&2 2>/dev/null
		return 1
	fi
}

test_path_is_dir () {
	if ! [ -d "$1" ]; then
		echo "test_path_is_dir: not a directory: '$1'" >&2
		ls -ld -- "$1" >&2 2>/dev/null
		return 1
	fi
}

test_path_is_missing () {
	if [ -e "$1" ] || [ -L "$1" ]; then
		echo "test_path_is_missing: exists: '$1'" >&2
		ls -ld -- "$1" >&2
		return 1
	fi
}

# write_script FILE [INTERPRETER] <<EOF: write stdin to FILE as an
# executable script run by INTERPRETER (default /bin/sh).
write_script () {
	{
		echo "#!${2:-/bin/sh}"
		cat
	} >"$1" && chmod +x "$1"
}

# --- kbuildd helpers ----------------------------------------------------

# kb_root DIR: build a fake root in DIR with build-aux/mkroot.  Sets ROOT
# (absolute), KERNELS (space-separated releases), K61 and K612 (first 6.1.x
# and 6.12.x release, or empty), and the prerequisites K61 and K612.
kb_root () {
	if [ $# -ne 1 ]; then
		echo "kb_root: need DIR" >&2
		return 1
	fi
	_kbr_out=$("$TOP/build-aux/mkroot" "$1") || {
		echo "kb_root: build-aux/mkroot '$1' failed" >&2
		return 1
	}
	ROOT=$(cd "$1" && pwd -P) || return 1
	KERNELS=
	K61=
	K612=
	for _kbr_rel in $_kbr_out; do
		KERNELS=${KERNELS:+$KERNELS }$_kbr_rel
		case $_kbr_rel in
		6.1.*)
			[ -n "$K61" ] || K61=$_kbr_rel ;;
		6.12|6.12.*|6.12-*)
			[ -n "$K612" ] || K612=$_kbr_rel ;;
		esac
	done
	[ -z "$K61" ] || test_set_prereq K61
	[ -z "$K612" ] || test_set_prereq K612
	export ROOT KERNELS K61 K612
}

# kb_dkms_root DIR: kb_root DIR as DKMS sees a Debian system (its os-release
# says ID=debian, so modules go to updates/dkms); also sets K1 and K2 (the
# first and last kernel) and ARCH (uname -m).
kb_dkms_root () {
	kb_root "$1" || return 1
	echo ID=debian >"$ROOT/etc/os-release"
	K1=${KERNELS%% *}
	K2=${KERNELS##* }
	ARCH=$(uname -m)
	export K1 K2 ARCH
}

# dkms_conf NAME VERSION MODULE DEST [LINE...]: print the dkms.conf of
# package NAME/VERSION building MODULE.ko into DEST, AUTOINSTALL=yes, then
# each LINE.
dkms_conf () {
	echo "PACKAGE_NAME=$1"
	echo "PACKAGE_VERSION=$2"
	echo "BUILT_MODULE_NAME[0]=$3"
	echo "DEST_MODULE_LOCATION[0]=$4"
	echo "AUTOINSTALL=yes"
	shift 4
	if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
}

# kb ARGS...: run kbuildd inside the last root made by kb_root.
kb () {
	if [ -z "${ROOT-}" ]; then
		echo "kb: no fake root; call kb_root first" >&2
		return 1
	fi
	"$KBUILDD" --root "$ROOT" "$@"
}

# tree_snapshot DIR: print one sorted line per path under DIR (relative):
#   PATH d MODE | PATH f MODE SIZE SHA256 | PATH l -> TARGET | PATH TYPE MODE
# Symlinks are never followed.  Compare two snapshots with test_cmp.
tree_snapshot () {
	if ! [ -d "${1-}" ]; then
		echo "tree_snapshot: not a directory: '${1-}'" >&2
		return 1
	fi
	(
		cd "$1" || exit 1
		_ts_tab=$(printf '\t')
		# Not a pipeline, so that a find error is not lost.
		_ts_list=$(find . -mindepth 1 -printf '%P\t%y\t%m\t%s\n') || exit 1
		[ -n "$_ts_list" ] || exit 0
		printf '%s\n' "$_ts_list" |
		LC_ALL=C sort |
		while IFS=$_ts_tab read -r _ts_path _ts_type _ts_mode _ts_size; do
			case $_ts_type in
			f)
				_ts_sum=$(sha256sum <"$_ts_path") || exit 1
				printf '%s f %s %s %s\n' "$_ts_path" "$_ts_mode" \
					"$_ts_size" "${_ts_sum%% *}" ;;
			l)
				printf '%s l -> %s\n' "$_ts_path" "$(readlink "$_ts_path")" ;;
			d)
				printf '%s d %s\n' "$_ts_path" "$_ts_mode" ;;
			*)
				printf '%s %s %s\n' "$_ts_path" "$_ts_type" "$_ts_mode" ;;
			esac
		done
	)
}

# SoftHSM2, when installed, gives tests a real PKCS#11 token (prereq SOFTHSM).
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
SOFTHSM2_CONF=$TRASH/softhsm2.conf
export SOFTHSM SOFTHSM2_CONF
if [ -e "$SOFTHSM" ] && command -v softhsm2-util >/dev/null; then
	test_set_prereq SOFTHSM
fi

# softhsm_token LABEL: initialise a token (user PIN 1234, SO PIN 4321) whose
# store is in the test's directory, never the system's.
softhsm_token () {
	mkdir -p "$TRASH/tokens" &&
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$TRASH" >"$SOFTHSM2_CONF" &&
	softhsm2-util --init-token --free --label "$1" --so-pin 4321 --pin 1234 >/dev/null
}
