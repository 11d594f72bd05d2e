#!/bin/sh
# Sources that are not a local directory, as a vendor publishes them and an
# admin installs them: release archives over HTTP and HTTPS, pinned by
# sha256 and kept in the source cache; git commits through a cached mirror;
# bad downloads and hostile archives refused with exit 2 and nothing
# registered; --offline; unpinned (insecure) sources; mirrors; several
# downloads at once.
#
# Every server runs on 127.0.0.1, on a port the kernel picks, started by
# these tests (tests/integration/lib/serve.py) and stopped when the script
# exits, whatever the outcome.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/test-lib.sh"

kb_root root
EXAMPLES=$TOP/examples
CACHE=$ROOT/var/cache/kbuildd/sources
SERVE=$TEST_DIRECTORY/lib/serve.py
MKTAR=$TEST_DIRECTORY/lib/mktar.py
CONF=$ROOT/etc/kbuildd/kbuildd.conf
# names that hostile archives try to create outside the source tree
EVIL=kbuildd-evil-${TRASH##*.}
# git for the tests, untouched by the user's and the system's configuration
GIT_CONFIG_NOSYSTEM=1
GIT_CONFIG_GLOBAL=/dev/null
GIT_AUTHOR_NAME='A Vendor'
GIT_AUTHOR_EMAIL=vendor@example.org
GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME
GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
# under make SANITIZE=address: a leak inside Debian 12's libgit2 (see the file)
LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$TEST_DIRECTORY/lib/lsan.supp
export EXAMPLES CACHE SERVE MKTAR CONF EVIL GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL \
	GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL LSAN_OPTIONS

# --- servers ------------------------------------------------------------
#
# start_server NAME MODE DIR [SERVE.PY-OPTION...] runs serve.py in the
# background; it writes its port to $TRASH/NAME.port, its request log to
# $TRASH/NAME.log and its pid to $TRASH/NAME.pid and to $SERVER_PIDS, which
# the EXIT trap below kills.  serve.py also exits by itself once this
# script's process is gone (--parent), so not even a SIGKILL leaves one.

SERVER_PIDS=$TRASH/.server-pids
: >"$SERVER_PIDS"
export SERVER_PIDS

# alive PID: the process exists and is not a zombie
alive () {
	kill -0 "$1" 2>/dev/null || return 1
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	Z*) return 1 ;;
	esac
	return 0
}

start_server () {
	_ss_name=$1 _ss_mode=$2 _ss_dir=$3
	shift 3
	rm -f "$TRASH/$_ss_name.port"
	python3 "$SERVE" "$_ss_mode" "$_ss_dir" "$TRASH/$_ss_name.port" \
		--log "$TRASH/$_ss_name.log" --parent "$$" "$@" \
		</dev/null >>"$TRASH/$_ss_name.err" 2>&1 &
	_ss_pid=$!
	echo "$_ss_pid" >"$TRASH/$_ss_name.pid"
	echo "$_ss_pid" >>"$SERVER_PIDS"
	_ss_i=0
	while ! [ -s "$TRASH/$_ss_name.port" ]; do
		if ! alive "$_ss_pid" || [ "$_ss_i" -ge 100 ]; then
			echo "start_server: $_ss_name ($_ss_mode) did not start" >&2
			cat "$TRASH/$_ss_name.err" >&2
			return 1
		fi
		sleep 0.1
		_ss_i=$((_ss_i + 1))
	done
}

# stop_server NAME: kill it and wait until it is gone
stop_server () {
	_st_pid=$(cat "$TRASH/$1.pid") || return 1
	kill "$_st_pid" 2>/dev/null || :
	wait "$_st_pid" 2>/dev/null || :
	_st_i=0
	while alive "$_st_pid"; do
		if [ "$_st_i" -ge 50 ]; then
			echo "stop_server: $1 (pid $_st_pid) is still running" >&2
			return 1
		fi
		sleep 0.1
		_st_i=$((_st_i + 1))
	done
}

stop_all_servers_ () {
	_sa_left=
	while read -r _sa_pid; do
		if alive "$_sa_pid"; then
			kill "$_sa_pid" 2>/dev/null && _sa_left="$_sa_left $_sa_pid"
		fi
	done <"$SERVER_PIDS"
	[ -n "$_sa_left" ] || return 0
	sleep 0.3
	for _sa_pid in $_sa_left; do
		! alive "$_sa_pid" || kill -KILL "$_sa_pid" 2>/dev/null || :
	done
}
trap 'stop_all_servers_; test_cleanup_trash_' EXIT

# url NAME FILE: where server NAME serves FILE
url () {
	echo "http://127.0.0.1:$(cat "$TRASH/$1.port")/$2"
}

# requests NAME FILE: how many times server NAME was asked for FILE
requests () {
	if [ -f "$TRASH/$1.log" ]; then
		grep -c "^start /$2\$" "$TRASH/$1.log" || :
	else
		echo 0
	fi
}

# --- archives, recipes and state ------------------------------------------

# sha FILE: the sha256 of FILE
sha () {
	_sha=$(sha256sum "$1") && echo "${_sha%% *}"
}

# variant NAME: srv/NAME.tar.gz, the hello driver (top directory hello-1.0/)
# plus a file naming the variant, so that every variant has its own sha256
variant () {
	rm -rf "v-$1" &&
	mkdir -p "v-$1" &&
	cp -R src/hello-1.0 "v-$1/" &&
	echo "$1" >"v-$1/hello-1.0/VARIANT" &&
	tar -C "v-$1" -czf "srv/$1.tar.gz" hello-1.0
}

# url_recipe NAME URL [LINE...]: write NAME.recipe, version 1.0, module
# hello, its source the archive at URL with strip = 1 and LINEs added to
# [source] ("sha256 = ...", "insecure = yes", "mirrors = ...")
url_recipe () {
	_ur_name=$1 _ur_url=$2
	shift 2
	{
		printf '[recipe]\nname = %s\nversion = 1.0\n\n' "$_ur_name"
		printf '[source]\nurl = %s\nstrip = 1\n' "$_ur_url"
		for _ur_line in "$@"; do
			printf '%s\n' "$_ur_line"
		done
		printf '\n[module hello]\npath = hello.ko\n'
	} >"$_ur_name.recipe"
}

# git_recipe NAME VERSION URL COMMIT [REF]: write NAME.recipe, module hello_git
git_recipe () {
	{
		printf '[recipe]\nname = %s\nversion = %s\n\n' "$1" "$2"
		printf '[source]\ngit = %s\ncommit = %s\n' "$3" "$4"
		[ -z "${5-}" ] || printf 'ref = %s\n' "$5"
		printf '\n[module hello_git]\n'
	} >"$1.recipe"
}

# sources_conf LINE...: kbuildd.conf with these [sources] settings
sources_conf () {
	mkdir -p "$ROOT/etc/kbuildd" &&
	{
		echo "[sources]"
		for _sc_line in "$@"; do
			echo "$_sc_line"
		done
	} >"$CONF"
}

# the installed file of module $2 for kernel $1, whatever its compression
modfile () {
	ls "$ROOT/lib/modules/$1/updates/kbuildd/$2".ko*
}

# cached: the verified files in the source cache, one sha256 per line
cached () {
	ls "$CACHE/sha256" 2>/dev/null || :
}

# remember_state: what is registered and cached now (for nothing_changed)
remember_state () {
	tree_snapshot "$ROOT/var/lib/kbuildd" >state.before &&
	cached >cache.before
}

# nothing_changed NAME: recipe NAME is not registered, status does not list
# it, the state is as remember_state saw it, no partial download is left in
# the cache, and the cache holds nothing new -- an archive refused for what
# is inside it is dropped from the cache too
nothing_changed () {
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/$1" &&
	kb status >status.now &&
	test_grep -v "^$1/" status.now &&
	tree_snapshot "$ROOT/var/lib/kbuildd" >state.after &&
	test_cmp state.before state.after &&
	LC_ALL=C sort -u cache.before >cache.expected &&
	cached >cache.after &&
	test_cmp cache.expected cache.after &&
	if [ -n "$(ls -A "$CACHE/tmp")" ]; then
		echo "left in $CACHE/tmp:" >&2
		ls -l "$CACHE/tmp" >&2
		return 1
	fi
}

# --- release archives over HTTP -----------------------------------------

test_expect_success 'setup: release archives of the hello driver, served over HTTP' '
	mkdir -p src/hello-1.0 srv &&
	cp "$EXAMPLES/hello"/* src/hello-1.0/ &&
	tar -C src -czf srv/hello-1.0.tar.gz hello-1.0 &&
	tar -C src -cJf srv/hello-1.0.tar.xz hello-1.0 &&
	tar -C src -cjf srv/hello-1.0.tar.bz2 hello-1.0 &&
	tar -C src --zstd -cf srv/hello-1.0.tar.zst hello-1.0 &&
	(cd src && zip -qr ../srv/hello-1.0.zip hello-1.0) &&
	start_server release static srv &&
	start_server http static srv
'

test_expect_success 'install fetches a pinned tar.gz over HTTP and builds it for every kernel' '
	url_recipe hello "$(url release hello-1.0.tar.gz)" \
		"sha256 = $(sha srv/hello-1.0.tar.gz)" &&
	kb install hello.recipe >out &&
	for k in $KERNELS; do
		test_grep "^hello/1.0 *$k *installed" out &&
		v=$(/sbin/modinfo -F vermagic "$(modfile "$k" hello)") &&
		case "$v" in "$k "*) ;; *) echo "vermagic $v for $k"; exit 1;; esac
	done &&
	test "$(requests release hello-1.0.tar.gz)" = 1 &&
	diff -r src/hello-1.0 "$ROOT/var/lib/kbuildd/recipes/hello/1.0/source"
'

test_expect_success 'the download is kept in the source cache under its sha256' '
	s=$(sha srv/hello-1.0.tar.gz) &&
	test_path_is_file "$CACHE/sha256/$s" &&
	test "$(sha "$CACHE/sha256/$s")" = "$s" &&
	cached >list &&
	echo "$s" >expect &&
	test_cmp expect list &&
	test -z "$(ls -A "$CACHE/tmp")"
'

test_expect_success 'a recipe pinning the same archive never downloads it again, server or not' '
	stop_server release &&
	sed "s/^name = hello$/name = hello-again/" hello.recipe >hello-again.recipe &&
	kb add hello-again.recipe >out &&
	test_grep "^registered hello-again/1.0$" out &&
	diff -r src/hello-1.0 "$ROOT/var/lib/kbuildd/recipes/hello-again/1.0/source" &&
	test "$(requests release hello-1.0.tar.gz)" = 1 &&
	kb add --force hello.recipe 2>err &&
	test_grep "already registered" err
'

test_expect_success 'tar.xz, tar.bz2, tar.zst and zip releases unpack to the same source tree' '
	for f in tar.xz tar.bz2 tar.zst zip; do
		url_recipe "hello-$f" "$(url http "hello-1.0.$f")" \
			"sha256 = $(sha "srv/hello-1.0.$f")" &&
		kb add "hello-$f.recipe" >out &&
		test_grep "^registered hello-$f/1.0$" out &&
		diff -r src/hello-1.0 "$ROOT/var/lib/kbuildd/recipes/hello-$f/1.0/source" &&
		test "$(requests http "hello-1.0.$f")" = 1 &&
		test_path_is_file "$CACHE/sha256/$(sha "srv/hello-1.0.$f")" || exit 1
	done
'

test_expect_success 'a sparse file in a GNU tar unpacks whole, trailing hole included' '
	mkdir -p sparse/hello-1.0 &&
	cp src/hello-1.0/* sparse/hello-1.0/ &&
	truncate -s 1M sparse/hello-1.0/leading-hole &&
	printf x >>sparse/hello-1.0/leading-hole &&
	truncate -s 1M sparse/hello-1.0/trailing-hole &&
	tar -C sparse --sparse -czf srv/sparse.tar.gz hello-1.0 &&
	url_recipe hello-sparse "$(url http sparse.tar.gz)" "sha256 = $(sha srv/sparse.tar.gz)" &&
	kb add hello-sparse.recipe >out &&
	test_grep "^registered hello-sparse/1.0$" out &&
	diff -r sparse/hello-1.0 "$ROOT/var/lib/kbuildd/recipes/hello-sparse/1.0/source"
'

# --- HTTPS with a private CA ----------------------------------------------

test_expect_success 'setup: a test CA and an HTTPS server whose certificate for 127.0.0.1 it signed' '
	for ca in ca other-ca; do
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kbuildd $ca" \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign \
			-keyout "$ca.key" -out "$ca.pem" 2>/dev/null || exit 1
	done &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
		-keyout server.key -out server.csr 2>/dev/null &&
	printf "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n" >server.ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile server.ext -out server.pem 2>/dev/null &&
	openssl verify -CAfile ca.pem server.pem &&
	variant tls &&
	start_server https static srv --cert server.pem --key server.key
'

test_expect_success 'an HTTPS server whose certificate the CA in ca_file did not sign is refused' '
	sources_conf "ca_file = /etc/kbuildd/other-ca.pem" &&
	cp other-ca.pem "$ROOT/etc/kbuildd/" &&
	url_recipe hello-tls "https://127.0.0.1:$(cat https.port)/tls.tar.gz" \
		"sha256 = $(sha srv/tls.tar.gz)" &&
	remember_state &&
	test_expect_code 2 kb add hello-tls.recipe 2>err &&
	test_grep "certificate" err &&
	test_grep "cannot download https://127.0.0.1:.*/tls.tar.gz" err &&
	nothing_changed hello-tls
'
rm -f "$CONF"

test_expect_success 'HTTPS works with the test CA named by ca_file (inside the root)' '
	sources_conf "ca_file = /etc/kbuildd/test-ca.pem" &&
	cp ca.pem "$ROOT/etc/kbuildd/test-ca.pem" &&
	kb add hello-tls.recipe >out &&
	test_grep "^registered hello-tls/1.0$" out &&
	test_path_is_file "$ROOT/var/lib/kbuildd/recipes/hello-tls/1.0/source/VARIANT" &&
	test_path_is_file "$CACHE/sha256/$(sha srv/tls.tar.gz)"
'
rm -f "$CONF"

# --- git ------------------------------------------------------------------

test_expect_success 'setup: a vendor git repository with a tagged release and a later commit' '
	git init -q -b main work &&
	cp "$EXAMPLES/hello"/* work/ &&
	mv work/hello.c work/hello_git.c &&
	echo "obj-m := hello_git.o" >work/Kbuild &&
	git -C work add . &&
	git -C work commit -q -m "hello_git 1.0" &&
	git -C work tag -a -m "release 1.0" v1.0 &&
	echo "/* after 1.0 */" >>work/hello_git.c &&
	git -C work commit -q -am "after 1.0" &&
	mkdir gitroot &&
	git init -q --bare gitroot/hello.git &&
	git -C work push -q ../gitroot/hello.git main v1.0 &&
	git -C work rev-parse "v1.0^{commit}" >v1.commit &&
	git -C work rev-parse main >main.commit &&
	start_server git gitd gitroot &&
	git ls-remote "git://127.0.0.1:$(cat git.port)/hello.git" >refs &&
	test_grep "^$(cat v1.commit)	refs/tags/v1.0^{}$" refs
'

test_expect_success 'install checks out a pinned commit over git:// and builds it' '
	git_recipe hello-git 1.0 "git://127.0.0.1:$(cat git.port)/hello.git" \
		"$(cat v1.commit)" v1.0 &&
	kb install hello-git.recipe >out &&
	for k in $KERNELS; do
		test_grep "^hello-git/1.0 *$k *installed" out &&
		v=$(/sbin/modinfo -F vermagic "$(modfile "$k" hello_git)") &&
		case "$v" in "$k "*) ;; *) echo "vermagic $v for $k"; exit 1;; esac
	done &&
	git -C work show v1.0:hello_git.c >expect &&
	test_cmp expect "$ROOT/var/lib/kbuildd/recipes/hello-git/1.0/source/hello_git.c"
'

test_expect_success 'the repository is mirrored, bare, in the source cache' '
	ls -d "$CACHE"/git/*.git >mirrors &&
	test "$(wc -l <mirrors)" = 1 &&
	m=$(cat mirrors) &&
	test "$(git --git-dir="$m" rev-parse --is-bare-repository)" = true &&
	git --git-dir="$m" cat-file -e "$(cat v1.commit)^{commit}" &&
	git --git-dir="$m" cat-file -e "$(cat main.commit)^{commit}"
'

test_expect_success 'a new version pinned to a newer commit fetches into the same mirror' '
	m=$(ls -d "$CACHE"/git/*.git) &&
	inode=$(stat -c %i "$m") &&
	echo "/* 1.1 */" >>work/hello_git.c &&
	git -C work commit -q -am "hello_git 1.1" &&
	git -C work push -q ../gitroot/hello.git main &&
	new=$(git -C work rev-parse main) &&
	test_must_fail git --git-dir="$m" cat-file -e "$new^{commit}" &&
	git_recipe hello-git 1.1 "git://127.0.0.1:$(cat git.port)/hello.git" "$new" main &&
	kb add hello-git.recipe >out &&
	test_grep "^registered hello-git/1.1$" out &&
	test "$(ls -d "$CACHE"/git/*.git)" = "$m" &&
	test "$(stat -c %i "$m")" = "$inode" &&
	git --git-dir="$m" cat-file -e "$new^{commit}" &&
	git -C work show main:hello_git.c >expect &&
	test_cmp expect "$ROOT/var/lib/kbuildd/recipes/hello-git/1.1/source/hello_git.c"
'

test_expect_success 'a ref that has moved away from the pinned commit is refused' '
	git_recipe hello-moved 1.0 "git://127.0.0.1:$(cat git.port)/hello.git" \
		"$(cat v1.commit)" main &&
	remember_state &&
	test_expect_code 2 kb add hello-moved.recipe 2>err &&
	test_grep "hello-moved.recipe: ref .main. is commit $(git -C work rev-parse main), not the pinned commit $(cat v1.commit)" err &&
	nothing_changed hello-moved
'

test_expect_success 'a file:// repository works as well' '
	git_recipe hello-local 1.0 "file://$TRASH/gitroot/hello.git" "$(cat v1.commit)" v1.0 &&
	kb add hello-local.recipe >out &&
	test_grep "^registered hello-local/1.0$" out &&
	git -C work show v1.0:hello_git.c >expect &&
	test_cmp expect "$ROOT/var/lib/kbuildd/recipes/hello-local/1.0/source/hello_git.c" &&
	test "$(ls -d "$CACHE"/git/*.git | wc -l)" = 2
'

test_expect_success 'a commit that is not in the repository is refused' '
	git_recipe hello-nocommit 1.0 "git://127.0.0.1:$(cat git.port)/hello.git" \
		0123456789abcdef0123456789abcdef01234567 &&
	remember_state &&
	test_expect_code 2 kb add hello-nocommit.recipe 2>err &&
	test_grep "commit 0123456789abcdef0123456789abcdef01234567 is not in git://127.0.0.1:.*/hello.git" err &&
	nothing_changed hello-nocommit
'

# --- bad downloads --------------------------------------------------------

test_expect_success 'a 404 is refused; nothing is registered or cached' '
	variant unpublished &&
	url_recipe hello-404 "$(url http no-such-release.tar.gz)" \
		"sha256 = $(sha srv/unpublished.tar.gz)" &&
	remember_state &&
	test_expect_code 2 kb add hello-404.recipe 2>err &&
	test_grep "404" err &&
	test_grep "hello-404.recipe: cannot download http://127.0.0.1:.*/no-such-release.tar.gz" err &&
	test "$(requests http no-such-release.tar.gz)" = 1 &&
	nothing_changed hello-404
'

test_expect_success 'a download whose sha256 differs from the pin is refused, naming both' '
	variant tampered &&
	wrong=$(sha srv/unpublished.tar.gz) &&
	actual=$(sha srv/tampered.tar.gz) &&
	url_recipe hello-tampered "$(url http tampered.tar.gz)" "sha256 = $wrong" &&
	remember_state &&
	test_expect_code 2 kb add hello-tampered.recipe 2>err &&
	test_grep "sha256 mismatch for http://127.0.0.1:.*/tampered.tar.gz: expected $wrong, got $actual" err &&
	nothing_changed hello-tampered &&
	test_path_is_missing "$CACHE/sha256/$actual"
'

test_expect_success 'a download cut short by the server is refused after a bounded retry' '
	variant cut &&
	start_server truncate truncate srv &&
	url_recipe hello-cut "$(url truncate cut.tar.gz)" "sha256 = $(sha srv/cut.tar.gz)" &&
	remember_state &&
	test_expect_code 2 timeout 60 "$KBUILDD" --root "$ROOT" add hello-cut.recipe 2>err &&
	test_grep "cannot download http://127.0.0.1:.*/cut.tar.gz" err &&
	tries=$(requests truncate cut.tar.gz) &&
	test "$tries" -gt 1 && test "$tries" -le 3 &&
	nothing_changed hello-cut &&
	stop_server truncate
'

test_expect_success 'a server that never answers fails within the [sources] timeout' '
	start_server hang hang srv &&
	sources_conf "timeout = 2" &&
	url_recipe hello-hang "$(url hang hello-1.0.tar.gz)" \
		"sha256 = 0000000000000000000000000000000000000000000000000000000000000000" &&
	remember_state &&
	start=$(date +%s) &&
	test_expect_code 2 timeout 60 "$KBUILDD" --root "$ROOT" add hello-hang.recipe 2>err &&
	elapsed=$(($(date +%s) - start)) &&
	echo "gave up after $elapsed s" &&
	test "$elapsed" -le 20 &&
	test_grep "cannot download http://127.0.0.1:.*/hello-1.0.tar.gz" err &&
	test "$(grep -c "^start (hang)" hang.log)" = 1 &&
	nothing_changed hello-hang &&
	stop_server hang
'
rm -f "$CONF"

# --- hostile archives -----------------------------------------------------
#
# Each downloads and verifies fine (the recipe pins exactly these bytes);
# what is inside must not get out of the source tree.

# hostile NAME ENTRY...: srv/NAME.tar.gz holding hello-1.0/ and ENTRYs, and
# NAME.recipe pinning it
hostile () {
	_ho_name=$1
	shift
	python3 "$MKTAR" hello-1.0/ \
		"hello-1.0/Kbuild=@src/hello-1.0/Kbuild" \
		"hello-1.0/hello.c=@src/hello-1.0/hello.c" \
		"$@" | gzip -n >"srv/$_ho_name.tar.gz" &&
	url_recipe "$_ho_name" "$(url http "$_ho_name.tar.gz")" \
		"sha256 = $(sha "srv/$_ho_name.tar.gz")"
}

test_expect_success 'symlinks and hard links that stay inside the tree unpack as they are' '
	hostile links "hello-1.0/include/" "hello-1.0/include/hello.h=@src/hello-1.0/hello.c" \
		"hello-1.0/inc->include" "hello-1.0/drv/" "hello-1.0/drv/hello.h->../include/hello.h" \
		"hello-1.0/same.c=>hello-1.0/hello.c" &&
	kb add links.recipe >out &&
	test_grep "^registered links/1.0$" out &&
	s=$ROOT/var/lib/kbuildd/recipes/links/1.0/source &&
	test "$(readlink "$s/inc")" = include &&
	test "$(readlink "$s/drv/hello.h")" = ../include/hello.h &&
	test_cmp src/hello-1.0/hello.c "$s/drv/hello.h" &&
	test_cmp src/hello-1.0/hello.c "$s/same.c"
'

test_expect_success 'an archive entry with .. is refused and lands nowhere' '
	hostile dotdot "hello-1.0/../../../../../../../../../../../../../../../../tmp/$EVIL=@/dev/null" &&
	remember_state &&
	test_expect_code 2 kb add dotdot.recipe 2>err &&
	test_grep "dotdot.recipe: archive entry .*/tmp/$EVIL. would be written outside the source directory" err &&
	test_path_is_missing "/tmp/$EVIL" &&
	nothing_changed dotdot "$(sha srv/dotdot.tar.gz)"
'
rm -f "/tmp/$EVIL"

test_expect_success 'an archive entry with an absolute path is refused and lands nowhere' '
	hostile absolute "/tmp/$EVIL=@/dev/null" &&
	remember_state &&
	test_expect_code 2 kb add absolute.recipe 2>err &&
	test_grep "archive entry ./tmp/$EVIL. would be written outside the source directory" err &&
	test_path_is_missing "/tmp/$EVIL" &&
	nothing_changed absolute "$(sha srv/absolute.tar.gz)"
'
rm -f "/tmp/$EVIL"

test_expect_success 'a symlink to /etc, and a file written through it, are refused' '
	hostile etc-link "hello-1.0/etc->/etc" "hello-1.0/etc/$EVIL=@/dev/null" &&
	remember_state &&
	test_expect_code 2 kb add etc-link.recipe 2>err &&
	test_grep "symlink .hello-1.0/etc. -> ./etc. points outside the source directory" err &&
	test_path_is_missing "/etc/$EVIL" &&
	nothing_changed etc-link "$(sha srv/etc-link.tar.gz)"
'
rm -f "/etc/$EVIL"

test_expect_success 'a symlink that climbs out through another symlink is refused' '
	up=../../../../../../../../../../../../../../../../../../../../ &&
	hostile link-chain "hello-1.0/x->." \
		"hello-1.0/y->x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/x/${up}etc" \
		"hello-1.0/hostname=>hello-1.0/y/hostname" &&
	remember_state &&
	test_expect_code 2 kb add link-chain.recipe 2>err &&
	test_grep "symlink .hello-1.0/y. -> .* points outside the source directory" err &&
	nothing_changed link-chain "$(sha srv/link-chain.tar.gz)"
'

test_expect_success 'a release that unpacks to more than 2 GiB is refused' '
	python3 "$MKTAR" hello-1.0/ "hello-1.0/hello.c=@src/hello-1.0/hello.c" \
		"hello-1.0/zeros=zeros:$((2100 * 1024 * 1024))" |
		zstd -q -1 -T0 >srv/bomb.tar.zst &&
	test "$(stat -c %s srv/bomb.tar.zst)" -lt 1048576 &&
	url_recipe bomb "$(url http bomb.tar.zst)" "sha256 = $(sha srv/bomb.tar.zst)" &&
	remember_state &&
	test_expect_code 2 kb add bomb.recipe 2>err &&
	test_grep "bomb.recipe: the archive unpacks to more than 2048 MiB; refused" err &&
	nothing_changed bomb "$(sha srv/bomb.tar.zst)"
'

test_expect_success 'a release holding one file over 256 MiB is refused as bad input' '
	python3 "$MKTAR" hello-1.0/ "hello-1.0/hello.c=@src/hello-1.0/hello.c" \
		"hello-1.0/blob=zeros:$((300 * 1024 * 1024))" | zstd -q -1 -T0 >srv/blob.tar.zst &&
	url_recipe blob "$(url http blob.tar.zst)" "sha256 = $(sha srv/blob.tar.zst)" &&
	remember_state &&
	test_expect_code 2 kb add blob.recipe 2>err &&
	test_grep "blob.recipe: a file in the source is larger than 256 MiB; refused" err &&
	nothing_changed blob "$(sha srv/blob.tar.zst)"
'

test_expect_success 'sparse files count at their full size against the 2 GiB cap' '
	mkdir -p holes/hello-1.0 &&
	cp src/hello-1.0/* holes/hello-1.0/ &&
	for i in 1 2 3 4 5 6 7 8 9; do
		truncate -s 240M "holes/hello-1.0/hole$i" &&
		printf x >>"holes/hello-1.0/hole$i" || exit 1
	done &&
	tar -C holes --sparse -cf - hello-1.0 | zstd -q >srv/holes.tar.zst &&
	rm -rf holes &&
	test "$(stat -c %s srv/holes.tar.zst)" -lt 65536 &&
	url_recipe holes "$(url http holes.tar.zst)" "sha256 = $(sha srv/holes.tar.zst)" &&
	remember_state &&
	test_expect_code 2 kb add holes.recipe 2>err &&
	test_grep "holes.recipe: the archive unpacks to more than 2048 MiB; refused" err &&
	nothing_changed holes "$(sha srv/holes.tar.zst)"
'

# --- offline --------------------------------------------------------------

test_expect_success '--offline with the archive not in the cache is refused' '
	variant offline &&
	start_server offline static srv &&
	url_recipe hello-offline "$(url offline offline.tar.gz)" "sha256 = $(sha srv/offline.tar.gz)" &&
	remember_state &&
	test_expect_code 2 kb add --offline hello-offline.recipe 2>err &&
	test_grep "hello-offline.recipe: http://127.0.0.1:.*/offline.tar.gz is not in the source cache and kbuildd is offline" err &&
	nothing_changed hello-offline &&
	sources_conf "offline = yes" &&
	test_expect_code 2 kb add hello-offline.recipe 2>err &&
	test_grep "is not in the source cache and kbuildd is offline" err &&
	nothing_changed hello-offline &&
	test "$(requests offline offline.tar.gz)" = 0
'
rm -f "$CONF"

test_expect_success '--offline works from the cache once the archive was fetched' '
	kb add hello-offline.recipe >out &&
	test_grep "^registered hello-offline/1.0$" out &&
	stop_server offline &&
	sed "s/^name = hello-offline$/name = hello-offline2/" hello-offline.recipe >hello-offline2.recipe &&
	kb add --offline hello-offline2.recipe >out &&
	test_grep "^registered hello-offline2/1.0$" out &&
	test "$(requests offline offline.tar.gz)" = 1
'

test_expect_success '--offline checks out a git commit already in the mirror' '
	stop_server git &&
	git_recipe hello-git-offline 1.0 "git://127.0.0.1:$(cat git.port)/hello.git" \
		"$(cat v1.commit)" &&
	kb add --offline hello-git-offline.recipe >out &&
	test_grep "^registered hello-git-offline/1.0$" out
'

# --- unpinned sources, mirrors --------------------------------------------

test_expect_success 'insecure = yes registers an unpinned download, and status says so' '
	variant unpinned &&
	url_recipe hello-unpinned "$(url http unpinned.tar.gz)" "insecure = yes" &&
	kb add hello-unpinned.recipe >out &&
	test_grep "^registered hello-unpinned/1.0$" out &&
	kb status >status &&
	for k in $KERNELS; do
		test_grep "^hello-unpinned/1.0 *$k .*\[source not pinned: insecure\]" status || exit 1
	done &&
	test_grep -v "^hello/1.0 .*not pinned" status
'

test_expect_success 'a url that answers 404 falls back to the mirror' '
	variant mirrored &&
	url_recipe hello-mirrored "$(url http gone/mirrored.tar.gz)" \
		"sha256 = $(sha srv/mirrored.tar.gz)" \
		"mirrors = $(url http nope.tar.gz) $(url http mirrored.tar.gz)" &&
	kb add hello-mirrored.recipe >out 2>err &&
	test_grep "^registered hello-mirrored/1.0$" out &&
	test "$(requests http gone/mirrored.tar.gz)" = 1 &&
	test "$(requests http nope.tar.gz)" = 1 &&
	test "$(requests http mirrored.tar.gz)" = 1 &&
	test_path_is_file "$ROOT/var/lib/kbuildd/recipes/hello-mirrored/1.0/source/VARIANT"
'

# --- several downloads at once --------------------------------------------

test_expect_success 'four recipes added together download at the same time' '
	start_server slow slow srv --delay 1 &&
	for n in a b c d; do
		variant "concurrent-$n" &&
		url_recipe "hello-$n" "$(url slow "concurrent-$n.tar.gz")" \
			"sha256 = $(sha "srv/concurrent-$n.tar.gz")" || exit 1
	done &&
	kb add hello-a.recipe hello-b.recipe hello-c.recipe hello-d.recipe >out &&
	for n in a b c d; do
		test_grep "^registered hello-$n/1.0$" out &&
		test "$(requests slow "concurrent-$n.tar.gz")" = 1 || exit 1
	done &&
	cat slow.log &&
	started=$(awk "\$1 == \"end\" { exit } \$1 == \"start\" { n++ } END { print n }" slow.log) &&
	test "$started" = 4 &&
	stop_server slow
'

test_done
