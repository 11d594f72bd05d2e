#!/bin/sh
# Bash completion (doc/kbuildd.bash-completion): commands, each command's
# options exactly as `kbuildd CMD --help` lists them, the keys verbs,
# registered recipes and kernels of the root named by --root.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

COMPLETION=$TOP/doc/kbuildd.bash-completion
command -v bash >/dev/null && test_set_prereq BASH

# kb_complete WORD...: the completions bash offers for the command line WORD...
# (of kbuildd, or of dkms when WORD is dkms),
# whose last word is the one being completed, one per line, sorted.  Runs in
# an empty directory, so that no file name is offered by accident.
kb_complete () {
	mkdir -p "$TRASH/empty" &&
	(cd "$TRASH/empty" && bash -c '
		. "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		case $1 in
		dkms) _kbuildd_dkms dkms "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" ;;
		*) _kbuildd kbuildd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" ;;
		esac || exit 1
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"
	' completion-test "$COMPLETION" "$@") | LC_ALL=C sort
}

# help_section TITLE: from --help text on stdin, the long options (or, for
# "Commands:", the command names) listed under TITLE, one per line.
help_section () {
	awk -v title="$1" '
		$0 == title { on = 1; next }
		/^$/ { on = 0 }
		on && title == "Commands:" { print $1; next }
		on { for (i = 1; i <= NF; i++) if ($i ~ /^--[a-z]/) { print $i; break } }
	' | LC_ALL=C sort
}

# expected_options CMD: the long options `kbuildd CMD` accepts, per --help.
expected_options () {
	{
		"$KBUILDD" --help | help_section "Global options:"
		"$KBUILDD" "$1" --help | help_section "Options:"
	} | LC_ALL=C sort -u
}

kb_root root

test_expect_success BASH 'the completion script is valid bash' '
	bash -n "$COMPLETION"
'

test_expect_success BASH 'kbuildd <TAB> offers every command of kbuildd --help' '
	"$KBUILDD" --help | help_section "Commands:" >expect &&
	test $(wc -l <expect) -ge 12 &&
	kb_complete kbuildd "" >actual &&
	test_cmp expect actual
'

test_expect_success BASH 'kbuildd --<TAB> offers the global options only' '
	"$KBUILDD" --help | help_section "Global options:" >expect &&
	kb_complete kbuildd -- >actual &&
	test_cmp expect actual
'

test_expect_success BASH 'kbuildd rebuild --<TAB> offers its options and no others' '
	expected_options rebuild >expect &&
	test_grep -x -e --hook expect &&
	test_grep -x -e --all expect &&
	kb_complete kbuildd rebuild -- >actual &&
	test_cmp expect actual &&
	for other in --offline --check --cert --hash; do
		test_grep -v -x -e "$other" actual || exit 1
	done
'

test_expect_success BASH 'every command completes exactly the options its --help lists' '
	for cmd in $("$KBUILDD" --help | help_section "Commands:"); do
		expected_options "$cmd" >expect &&
		kb_complete kbuildd "$cmd" -- >actual &&
		test_cmp expect actual || { echo "options of $cmd differ" >&2; exit 1; }
	done
'

test_expect_success BASH 'options after a command argument still complete' '
	kb_complete kbuildd --root "$ROOT" status hello --ch >actual &&
	echo --check >expect &&
	test_cmp expect actual
'

test_expect_success BASH 'kbuildd keys <TAB> offers the verbs, and nothing after one' '
	printf "%s\n" enroll generate retire rotate show >expect &&
	kb_complete kbuildd keys "" >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd keys show "" >actual &&
	test_must_fail test -s actual
'

test_expect_success BASH 'recipe names come from the root given with --root' '
	kb add "$TOP/recipes/hello.recipe" "$TOP/recipes/greeter.recipe" >/dev/null &&
	printf "%s\n" hello hello/1.0.0 >expect &&
	kb_complete kbuildd --root "$ROOT" install h >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd --root="$ROOT" build h >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd --root = "$ROOT" status h >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd log --root "$ROOT" h >actual &&
	test_cmp expect actual &&
	echo hello >expect &&
	kb_complete kbuildd --root "$ROOT" doctor h >actual &&
	test_cmp expect actual
'

test_expect_success BASH 'remove offers NAME/VERSION only' '
	printf "%s\n" greeter/1.0.0 hello/1.0.0 >expect &&
	kb_complete kbuildd --root "$ROOT" remove "" >actual &&
	test_cmp expect actual
'

test_expect_success BASH 'another root has other recipes' '
	mkdir -p other &&
	kb_complete kbuildd --root "$TRASH/other" install h >actual &&
	test_must_fail test -s actual
'

test_expect_success BASH 'half-done registrations are not offered' '
	mkdir -p "$ROOT/var/lib/kbuildd/recipes/hello/.2.0.new" &&
	: >"$ROOT/var/lib/kbuildd/recipes/hello/.2.0.new/recipe" &&
	kb_complete kbuildd --root "$ROOT" remove hello >actual &&
	echo hello/1.0.0 >expect &&
	test_cmp expect actual &&
	rm -r "$ROOT/var/lib/kbuildd/recipes/hello/.2.0.new"
'

test_expect_success BASH 'kbuildd --root ROOT build -k <TAB> lists the root'"'"'s kernels' '
	mkdir -p "$ROOT/lib/modules/0.0.1-completion-test" &&
	ls "$ROOT/lib/modules" | LC_ALL=C sort >expect &&
	test_grep -x 0.0.1-completion-test expect &&
	for k in $KERNELS; do test_grep -x -e "$k" expect || exit 1; done &&
	kb_complete kbuildd --root "$ROOT" build -k "" >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd --root "$ROOT" status --kernel "" >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd --root "$ROOT" log hello -k 0.0 >actual &&
	echo 0.0.1-completion-test >expect &&
	test_cmp expect actual &&
	rmdir "$ROOT/lib/modules/0.0.1-completion-test"
'

test_expect_success BASH 'files for add, sign, verify and --config' '
	mkdir -p empty/dir &&
	: >empty/foo.recipe &&
	printf "%s\n" dir foo.recipe >expect &&
	kb_complete kbuildd add "" >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd sign --hash sha256 key.pem "" >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd verify "" >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd --config "" >actual &&
	test_cmp expect actual &&
	echo dir >expect &&
	kb_complete kbuildd --root "" >actual &&
	test_cmp expect actual &&
	rm -r empty/dir empty/foo.recipe
'

test_expect_success BASH 'an option that takes a number offers nothing' '
	kb_complete kbuildd rebuild -j "" >actual &&
	test_must_fail test -s actual &&
	kb_complete kbuildd sign --hash sha5 >actual &&
	echo sha512 >expect &&
	test_cmp expect actual
'

test_expect_success BASH 'the user'"'"'s shell options neither change the result nor change' '
	printf "%s\n" hello hello/1.0.0 >expect &&
	(cd "$TRASH/empty" && bash -O failglob -O dotglob -O nullglob -c "
		. \"\$1\" || exit 1
		COMP_WORDS=(kbuildd --root \"\$2\" install h)
		COMP_CWORD=4
		_kbuildd
		printf \"%s\n\" \"\${COMPREPLY[@]}\"
		shopt -q failglob && shopt -q dotglob && shopt -q nullglob
	" t "$COMPLETION" "$ROOT") >out &&
	LC_ALL=C sort out >actual &&
	test_cmp expect actual
'

test_expect_success BASH 'dkms <TAB> (kbuildd as dkms) offers the front end'"'"'s actions' '
	printf "%s\n" add autoinstall build generate_mok install kernel_postinst kernel_preinst \
		kernel_prerm remove status unbuild uninstall | LC_ALL=C sort >expect &&
	kb_complete dkms "" >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd --root "$ROOT" dkms "" >actual &&
	test_cmp expect actual &&
	for a in $(cat expect); do
		"$KBUILDD" dkms "$a" --help >/dev/null 2>&1 ||
		"$KBUILDD" dkms --help | grep -q "^  $a " || { echo "not an action: $a"; exit 1; }
	done
'

test_expect_success BASH 'dkms -m offers modules, -v their versions, -k kernels, below --root' '
	echo hello >expect &&
	kb_complete kbuildd --root "$ROOT" dkms status -m h >actual &&
	test_cmp expect actual &&
	kb_complete dkms --root "$ROOT" remove -m h >actual &&
	test_cmp expect actual &&
	echo 1.0.0 >expect &&
	kb_complete dkms --root "$ROOT" remove -m hello -v "" >actual &&
	test_cmp expect actual &&
	kb_complete kbuildd --root "$ROOT" dkms remove -m hello -v "" >actual &&
	test_cmp expect actual &&
	printf "%s\n" $KERNELS | LC_ALL=C sort >expect &&
	kb_complete dkms --root "$ROOT" install -k "" >actual &&
	test_cmp expect actual &&
	kb_complete dkms --root "$ROOT" status --al >actual &&
	echo --all >expect &&
	test_cmp expect actual
'

test_done
