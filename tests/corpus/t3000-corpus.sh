#!/bin/bash
# Real drivers from Debian, unchanged: every package of tests/corpus/packages
# (or those in $KB_CORPUS) is downloaded, unpacked (never installed), added
# to a fake root from its dkms.conf and built by one `kbuildd rebuild --all`
# for every installed kernel. Each (package, kernel) must end as the list
# says Debian's own dkms ends there, and every module kbuildd installs must
# have the name and place dkms gives it (tests/corpus/dkms-reference runs
# real dkms in an isolated namespace to find out).
# shellcheck source=/dev/null
. "$(dirname "$0")/../integration/test-lib.sh"

CORPUS=$TOP/tests/corpus
CACHE=${KBUILDD_TEST_CACHE:-$HOME/.cache/kbuildd-test}/corpus
export CORPUS CACHE

# Packages to run: $KB_CORPUS, else the whole list.
# shellcheck disable=SC2046,SC2116 # one line of words, from either source
want=$(echo ${KB_CORPUS:-$(sed 's/#.*//' "$CORPUS/packages" | awk 'NF { print $1 }')})
export want

kb_root root
echo ID=debian >"$ROOT/etc/os-release"

test_expect_success 'the corpus is downloaded and unpacked, its Depends installed' '
	# shellcheck disable=SC2086 # one word per package
	"$CORPUS/fetch" "$CACHE" $want >"$TRASH/sources"
'

# Real dkms measures what kbuildd is measured against while kbuildd builds.
test_expect_success 'real dkms builds the same packages in an isolated tree (started)' '
	# shellcheck disable=SC2086 # one word per package
	( echo "$BASHPID" >"$TRASH/ref.pid"
	  "$CORPUS/dkms-reference" "$CACHE" "$TRASH/reference.tsv" $want >"$TRASH/ref.log" 2>&1
	  echo $? >"$TRASH/ref.rc" ) </dev/null >/dev/null 2>&1 &
'

# package -> NAME/VERSION, as `kbuildd add` registered it; each from its
# tree in the root's /usr/src, where dpkg would install it (a conf may look
# for another package's there: west-chamber finds xtables-addons)
test_expect_success 'each package registers from its dkms.conf as it is' '
	mkdir -p "$ROOT/usr/src" &&
	while IFS="	" read -r pkg src; do
		cp -a "$src" "$ROOT/usr/src/" || exit 1
	done <"$TRASH/sources" &&
	while IFS="	" read -r pkg src; do
		kb add "$ROOT/usr/src/${src##*/}" >out 2>err || { cat err; exit 1; }
		id=$(sed -n "s/^registered //p" out) && test -n "$id" &&
		printf "%s %s\n" "$pkg" "$id" >>"$TRASH/ids" || exit 1
	done <"$TRASH/sources"
'

test_expect_success 'one rebuild --all builds the corpus for every kernel' '
	kb rebuild --all >"$TRASH/rebuild" 2>"$TRASH/rebuild.err"; rc=$? &&
	cat "$TRASH/rebuild" &&
	test "$rc" -le 1
'

test_expect_success 'real dkms built them (the reference)' '
	# until it ends; a measuring that died without a status fails here, never hangs
	while [ ! -s "$TRASH/ref.rc" ] && kill -0 "$(cat "$TRASH/ref.pid")" 2>/dev/null; do
		sleep 2
	done &&
	{ test "$(cat "$TRASH/ref.rc" 2>/dev/null)" = 0 || { cat "$TRASH/ref.log"; exit 1; }; }
'

# A driver without AUTOINSTALL=yes is not in an autoinstall; its package's
# postinst installs it by name, as dkms-reference does with dkms install.
test_expect_success 'the drivers without AUTOINSTALL are installed by name' '
	while read -r pkg id; do
		grep -q "^autoinstall = no" "$ROOT/var/lib/kbuildd/recipes/$id/recipe" || continue
		! grep -q "^$id " "$TRASH/rebuild" || { echo "$id: in rebuild --all"; exit 1; }
		kb install "$id" >>"$TRASH/rebuild" 2>>"$TRASH/rebuild.err"; rc=$?
		test "$rc" -le 1 || exit 1
	done <"$TRASH/ids" &&
	cat "$TRASH/rebuild"
'

# the expected outcome for package $1 on kernel $2: built | fails | excluded
expected () {
	case $2 in
	6.1.*) col=2 ;;
	6.12.*|6.12-*) col=3 ;;
	*) echo unknown; return ;;
	esac
	sed 's/#.*//' "$CORPUS/packages" | awk -v p="$1" -v c="$col" '$1 == p { print $c }'
}

# kbuildd's outcome, in the list's words
outcome () {
	line=$(grep "^$1 *$2 " "$TRASH/rebuild") || { echo missing; return; }
	case $line in
	*" installed"*|*" up to date"*) echo built ;;
	*" excluded"*) echo excluded ;;
	*" failed"*|*" skipped"*) echo fails ;;
	*) echo "other: $line" ;;
	esac
}

# What dkms installed for package $1 on kernel $2 (from the reference), and what kbuildd did.
dkms_paths () {
	awk -F"	" -v p="$1" -v k="$2" '$1 == p && $2 == k { print $4 }' "$TRASH/reference.tsv" |
		tr , "\n" | sed "/^\$/d" | sort
}

kbuildd_paths () {
	( cd "$ROOT/lib/modules/$2" && find updates/dkms -name "*.ko*" 2>/dev/null ) |
		while read -r f; do
			# only this package: the modules its manifest lists
			grep -q "lib/modules/$2/$f" "$ROOT/var/lib/kbuildd/installed/$2/${1%%/*}.manifest" && echo "$f"
		done | sort
}

while read -r pkg id; do
	for k in $KERNELS; do
		exp=$(expected "$pkg" "$k")
		why=$(sed -n "s/^$pkg .*# *//p" "$CORPUS/packages")
		case $exp in
		built) desc="$pkg on $k: built and installed where dkms installs it" ;;
		fails) desc="$pkg on $k: fails, as real dkms fails there ($why)" ;;
		*) desc="$pkg on $k: $exp ($why)" ;;
		esac
		export pkg id k exp
		test_expect_success "$desc" '
			ref=$(awk -F"	" -v p="$pkg" -v k="$k" "\$1 == p && \$2 == k { print \$3 }" "$TRASH/reference.tsv") &&
			want=$exp &&
			{ test "$ref" = "$want" || { echo "the list says $exp, real dkms: $ref"; exit 1; }; } &&
			got=$(outcome "$id" "$k") &&
			{ test "$got" = "$want" || { echo "expected $want, kbuildd: $got"; exit 1; }; } &&
			if [ "$exp" = built ]; then
				dkms_paths "$pkg" "$k" >want && kbuildd_paths "$id" "$k" >got &&
				test -s want && test_cmp want got
			elif [ "$exp" = fails ]; then
				# the compiler failed, as under dkms: not kbuildd
				grep "error:" "$ROOT/var/lib/kbuildd/builds/$id/$k.log" | head -n 3 &&
				grep -q "error:" "$ROOT/var/lib/kbuildd/builds/$id/$k.log"
			fi
		'
	done
done <"$TRASH/ids"

test_expect_success 'a second rebuild --all changes nothing and builds nothing' '
	tree_snapshot "$ROOT/lib/modules" >before &&
	kb rebuild --all >again 2>&1; rc=$? && test "$rc" -le 1 &&
	! grep -q "building " again &&
	tree_snapshot "$ROOT/lib/modules" >after &&
	test_cmp before after
'

test_done
