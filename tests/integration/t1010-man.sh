#!/bin/sh
# The man pages (doc/*.scd) build, lint clean, and keep up with the code:
# every command, keys verb and option of `kbuildd --help` is described in
# kbuildd(8) (with the commands that take each option), every recipe key of
# builder/recipe*.c in kbuildd.recipe(5), every setting of builder/settings.c
# in kbuildd.conf(5).
# shellcheck disable=SC2016,SC2034
. "$(dirname "$0")/test-lib.sh"

DOC=$TOP/doc
MAN=$TRASH/man
command -v scdoc >/dev/null && test_set_prereq SCDOC
command -v mandoc >/dev/null && test_set_prereq MANDOC
command -v man >/dev/null && test_set_prereq MAN

# scdoc puts a .P before and after every .SH and .SS; mandoc calls that
# "skipping paragraph macro". Harmless, and the only messages tolerated
# (the same list as check-man in doc/doc.mk).
MANDOC_HARMLESS='WARNING: skipping paragraph macro: PP (empty|after SH|after SS)$'

# definitions PAGE: one line per definition-list entry of the generated
# PAGE, "SECTION<TAB>TERM<TAB>TEXT", font escapes removed.
definitions () {
	awk '
		function plain(s) {
			gsub(/\\f[BIRP]/, "", s); gsub(/\\&/, "", s); gsub(/\\\(aq/, "\047", s)
			return s
		}
		function flush() {
			if (term != "") print plain(section) "\t" plain(term) "\t" plain(text)
			term = ""; text = ""
		}
		/^\.SH / { flush(); section = substr($0, 5); gsub(/"/, "", section); prev = ""; next }
		/^\.RS / { flush(); term = prev; inbody = 1; prev = ""; next }
		/^\.RE/ { flush(); inbody = 0; prev = ""; next }
		/^\./ { if ($0 != ".P") prev = ""; next }
		inbody { text = text " " $0; next }
		{ prev = $0 }
		END { flush() }
	' "$1"
}

# has_term PAGE SECTION REGEX: PAGE has an entry in SECTION whose term
# matches the extended REGEX.
has_term () {
	definitions "$1" | awk -F '\t' -v s="$2" -v re="$3" '
		$1 == s && $2 ~ re { found = 1 }
		END { exit !found }
	' || {
		echo "$(basename "$1"): no entry matching /$3/ in $2" >&2
		return 1
	}
}

# c_strings FILE ARRAY: the string literals of the C array ARRAY in FILE.
c_strings () {
	awk -v a=" $2[] = {" 'index($0, a) { on = 1 } on { print } on && /};/ { exit }' "$1" |
		grep -o '"[^"]*"' | tr -d '"'
}

# help_options [CMD]: the long options `kbuildd [CMD] --help` lists under
# its options heading.
help_options () {
	if [ $# -eq 0 ]; then
		"$KBUILDD" --help | awk '/^Global options:$/ { on = 1; next } /^$/ { on = 0 } on'
	else
		"$KBUILDD" "$1" --help | awk '/^Options:$/ { on = 1; next } /^$/ { on = 0 } on'
	fi | sed -n 's/^ *\(-[a-z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p'
}

help_commands () {
	"$KBUILDD" --help | awk '/^Commands:$/ { on = 1; next } /^$/ { on = 0 } on { print $1 }'
}

test_expect_success SCDOC 'scdoc builds the three pages' '
	mkdir -p "$MAN" &&
	for page in kbuildd.8 kbuildd.recipe.5 kbuildd.conf.5; do
		scdoc <"$DOC/$page.scd" >"$MAN/$page" || exit 1
		test -s "$MAN/$page" || exit 1
	done
'
test -s "$MAN/kbuildd.8" && test -s "$MAN/kbuildd.recipe.5" && test -s "$MAN/kbuildd.conf.5" &&
	test_set_prereq PAGES

test_expect_success PAGES,MANDOC 'mandoc -T lint finds nothing at warning level' '
	for page in "$MAN"/*; do
		mandoc -T lint -W warning "$page" >lint 2>&1
		if grep -Ev "$MANDOC_HARMLESS" lint >bad; then
			cat bad >&2
			exit 1
		fi
	done
'

test_expect_success PAGES,MAN 'man --warnings prints nothing on stderr' '
	for page in "$MAN"/*; do
		MANWIDTH=80 man --warnings -l "$page" >/dev/null 2>err || exit 1
		if test -s err; then
			cat err >&2
			exit 1
		fi
	done
'

test_expect_success PAGES 'kbuildd(8) describes every command and keys verb' '
	help_commands >commands &&
	test $(wc -l <commands) -ge 12 &&
	while read -r cmd; do
		has_term "$MAN/kbuildd.8" COMMANDS "^$cmd( |\$)" &&
		grep -q "^\\\\fBkbuildd $cmd\\\\fR" "$MAN/kbuildd.8" || {
			echo "kbuildd.8: $cmd is missing from COMMANDS or SYNOPSIS" >&2
			exit 1
		}
	done <commands &&
	sed -n "s/^[[:space:]]*{ \"\\([a-z]*\\)\", keys_.*/\\1/p" "$TOP/builder/cli/cmd-keys.c" >verbs &&
	test -s verbs &&
	while read -r verb; do
		has_term "$MAN/kbuildd.8" COMMANDS "^keys $verb( |\$)" || exit 1
	done <verbs
'

test_expect_success PAGES 'kbuildd(8) describes every option, with the commands that take it' '
	help_options >global &&
	test -s global &&
	for opt in $(cat global); do
		has_term "$MAN/kbuildd.8" OPTIONS "(^|, )$opt( |\$)" || exit 1
	done &&
	: >taken &&
	for cmd in $(help_commands); do
		help_options "$cmd" | sed "s/\$/ $cmd/" >>taken
	done &&
	for opt in $(cut -d" " -f1 taken | sort -u); do
		has_term "$MAN/kbuildd.8" OPTIONS "(^|, )$opt( |\$)" || exit 1
		grep "^$opt " taken | cut -d" " -f2 | LC_ALL=C sort >expect
		definitions "$MAN/kbuildd.8" |
		awk -F "\t" -v o="$opt" "\$1 == \"OPTIONS\" && \$2 ~ \"(^|, )\" o \"( |\$)\" { print \$3 }" |
		sed -n "s/.*Taken by: \\([^.]*\\)\\..*/\\1/p" | tr -s ", " "\\n\\n" | sed "/^\$/d" |
		LC_ALL=C sort >actual
		test_cmp expect actual || { echo "kbuildd.8: Taken by of $opt" >&2; exit 1; }
	done
'

test_expect_success PAGES 'kbuildd.recipe(5) describes every recipe key and placeholder' '
	for pair in "recipe_keys:[recipe] SECTION" "source_keys:[source] SECTION" \
		    "build_keys:[build] SECTION" "module_keys:[module NAME] SECTIONS"; do
		array=${pair%%:*}
		section=${pair#*:}
		recipe=$(grep -l "const $array\\[\\]" "$TOP"/builder/recipe*.c)
		c_strings "$recipe" "$array" >keys
		test -s keys || { echo "no keys found in $array of $recipe" >&2; exit 1; }
		for key in $(cat keys); do
			has_term "$MAN/kbuildd.recipe.5" "$section" "^$key( |\$)" || exit 1
		done
	done &&
	grep -o "known: {[^\"]*" "$TOP/builder/build.c" | grep -o "{[a-z_]*}" >placeholders &&
	test -s placeholders &&
	for p in $(cat placeholders); do
		has_term "$MAN/kbuildd.recipe.5" "[build] SECTION" "^$p\$" || exit 1
	done
'

test_expect_success PAGES 'kbuildd.conf(5) describes every setting, in its section' '
	awk "
		/strcmp\\(section, \"/ { s = \$0; sub(/.*strcmp\\(section, \"/, \"\", s); sub(/\".*/, \"\", s) }
		/strcmp\\(key, \"/ { k = \$0; sub(/.*strcmp\\(key, \"/, \"\", k); sub(/\".*/, \"\", k); print s, k }
	" "$TOP/builder/settings.c" >settings &&
	test $(wc -l <settings) -ge 15 &&
	while read -r section key; do
		has_term "$MAN/kbuildd.conf.5" "[$section] SECTION" "^$key = " || exit 1
	done <settings
'

test_expect_success PAGES 'kbuildd.conf(5) lists every value of compress and backend' '
	for pair in compress:compress backends:backend; do
		c_strings "$TOP/builder/settings.c" "${pair%%:*}" >values
		test -s values || exit 1
		definitions "$MAN/kbuildd.conf.5" | awk -F "\t" -v k="${pair#*:}" "\$2 ~ \"^\" k \" = \" { print \$2 }" >term
		test_grep . term
		for v in $(cat values); do
			grep -q -e "[=|] $v\\( \\|\$\\)" term || { echo "${pair#*:}: no $v" >&2; exit 1; }
		done
	done
'

test_done
