#!/bin/sh
# Driver code is hostile: each build, dkms.conf reading, script and patch
# step runs in its own sandbox. These drivers try what an attacker would:
# rewrite another recipe's build, keep a set-uid shell or a daemon, read
# the signing key, flood the log; kbuildd must sign only what each
# recipe's own build produced.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${KERNELS%% *}
STATE=$ROOT/var/lib/kbuildd
if [ "$(id -u)" = 0 ]; then
	test_set_prereq ROOT
fi
# as the build user, from outside any sandbox (what a local user who
# became that user could do)
as_build_user () {
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
}
# a unique sleep per test, so pgrep finds exactly what a driver started
nonce=$$
alive () {
	pgrep -f "sleep $1" >/dev/null
}
gone_within () {
	_n=0
	while alive "$1"; do
		_n=$((_n + 1))
		[ $_n -lt 100 ] || { echo "'sleep $1' still running"; return 1; }
		sleep 0.2
	done
}

# driver NAME: a copy of examples/hello named NAME, with @MARK@ in its description
driver () {
	mkdir -p "$1" &&
	sed -e "s/hello/$1/g" -e "s/print a line/$1 @MARK@/" "$TOP/examples/hello/hello.c" >"$1/$1.c" &&
	echo "obj-m := $1.o" >"$1/Kbuild"
}

# recipe NAME MAKECMD: a recipe building NAME with its own Makefile target
recipe () {
	printf "%s\n" "[recipe]" "name = $1" "version = 1" "[source]" "path = $1" \
		"[build]" "make = make -C {build_dir} -f hostile.mk KDIR={kernel_build} all" \
		"[module $1]" "path = $1.ko" >"$1.recipe"
}

test_expect_success ROOT 'setup: a driver that rewrites the build of hello when it finds one' '
	driver evil &&
	sed -i "s/@MARK@/EVIL-MODULE/" evil/evil.c &&
	{
		echo "all:"
		printf "\t\$(MAKE) -C \$(KDIR) M=\$(CURDIR) modules\n"
		printf "\tfor i in \$\$(seq 75); do \\\\\n"
		printf "\t  for f in %s/builds/hello/1.0.0/*/src/hello.ko; do \\\\\n" "$STATE"
		printf "\t    [ -f \"\$\$f\" ] && cp --remove-destination evil.ko \"\$\$f\" && echo \"\$\$f\" >>found; \\\\\n"
		printf "\t  done; [ -s found ] && break; sleep 0.2; done; true\n"
	} >evil/hostile.mk &&
	recipe evil &&
	kb add evil.recipe "$TOP/recipes/hello.recipe" >/dev/null
'

test_expect_success ROOT 'one build cannot rewrite another build of the same run' '
	kb rebuild -k "$K" >out 2>err &&
	test_grep "^hello/1.0.0 .* installed" out &&
	test_path_is_missing "$STATE/builds/evil/1/$K/src/found" &&
	mod=$(find "$ROOT/lib/modules/$K/updates" -name "hello.ko*") &&
	case $mod in *.xz) xz -dc "$mod" >hello.ko ;; *) cp "$mod" hello.ko ;; esac &&
	! grep -q EVIL-MODULE hello.ko &&
	test "$(modinfo -F description hello.ko)" = "kbuildd example: print a line on load and unload"
'

test_expect_success ROOT 'a finished build is frozen: root'"'"'s, and not writable by the build user' '
	b=$STATE/builds/hello/1.0.0/$K &&
	test -z "$(find "$b" -user nobody)" &&
	test -z "$(find "$b" ! -type l -perm /022)" &&
	test_must_fail as_build_user sh -c "echo x >>$b/src/hello.ko" 2>/dev/null &&
	test_must_fail as_build_user touch "$b/src/new-file" 2>/dev/null
'

test_expect_success ROOT 'a kept build changed between runs is not signed, and status --check finds it' '
	rm "$(find "$ROOT/lib/modules/$K/updates" -name "hello.ko*")" &&
	printf x >>"$STATE/builds/hello/1.0.0/$K/src/hello.ko" &&
	test_must_fail kb install hello -k "$K" >out 2>err &&
	test_grep "is not what its build produced" err &&
	test -z "$(find "$ROOT/lib/modules/$K/updates" -name "hello.ko*")" &&
	test_expect_code 1 kb status --check >out 2>&1 &&
	test_grep "changed after its build ended" out &&
	kb build --force hello -k "$K" >/dev/null 2>&1 &&
	kb install hello -k "$K" >out 2>err &&
	test_grep "^hello/1.0.0 .* installed" out &&
	kb status --check >/dev/null
'

test_expect_success ROOT 'setup: a driver that keeps a set-uid shell and a daemon, and pries' '
	driver nosy &&
	{
		echo "all:"
		printf "\t\$(MAKE) -C \$(KDIR) M=\$(CURDIR) modules\n"
		printf "\tcp /bin/sh suid-sh && chmod 4755 suid-sh\n"
		printf "\tsetsid sh -c \"exec sleep %s\" </dev/null >/dev/null 2>&1 &\n" "${nonce}1"
		printf "\t-ls %s/builds >saw-builds 2>&1\n" "$STATE"
		printf "\t-ls %s >saw-state 2>&1\n" "$STATE"
		printf "\t-cat %s/keys/signing_key.pem >stolen-key 2>/dev/null\n" "$STATE"
		printf "\t-touch /run/lock/kbuildd-proof-%s /dev/shm/kbuildd-proof-%s\n" "$nonce" "$nonce"
		printf "\t-touch \$(KDIR)/kbuildd-proof-%s %s/lib/modules/kbuildd-proof-%s\n" "$nonce" "$ROOT" "$nonce"
		printf "\tps -e -o pid= >procs\n"
		printf "\tawk -v d=\$(CURDIR) '"'"'\$\$5 == d { print \$\$6 }'"'"' /proc/self/mountinfo >mount-options\n"
		printf "\tid -u >uid\n"
	} >nosy/hostile.mk &&
	recipe nosy &&
	kb add nosy.recipe >/dev/null
'

test_expect_success ROOT 'a build sees only its own directory, writes nothing else, and sees no other process' '
	kb build nosy -k "$K" >out 2>err &&
	b=$STATE/builds/nosy/1/$K/src &&
	test "$(cat "$b/uid")" != 0 &&
	test "$(cat "$b/saw-builds")" = nosy &&
	! test -s "$b/stolen-key" &&
	test_path_is_missing "/run/lock/kbuildd-proof-$nonce" &&
	test_path_is_missing "/dev/shm/kbuildd-proof-$nonce" &&
	test_path_is_missing "$ROOT/lib/modules/kbuildd-proof-$nonce" &&
	test_path_is_missing "$ROOT/lib/modules/$K/build/kbuildd-proof-$nonce" &&
	test "$(wc -l <"$b/procs")" -lt 20 &&
	# its directory is a mount of its own, without set-uid or devices
	grep -q "nosuid" "$b/mount-options" && grep -q "nodev" "$b/mount-options"
'

test_expect_success ROOT 'what a build leaves running dies with it, and its set-uid file is defused' '
	! alive "${nonce}1" &&
	b=$STATE/builds/nosy/1/$K/src &&
	test -f "$b/suid-sh" &&
	test -z "$(find "$STATE" -perm /6000)" &&
	test "$(stat -c %U "$b/suid-sh")" = root
'

test_expect_success ROOT 'while a build runs, no one outside its sandbox reaches its directory' '
	driver sleeper &&
	{
		echo "all:"
		printf "\tcp /bin/sh suid-sh && chmod 4755 suid-sh && touch started\n"
		printf "\tsleep %s\n" "${nonce}2"
	} >sleeper/hostile.mk &&
	recipe sleeper &&
	kb add sleeper.recipe >/dev/null &&
	{ "$KBUILDD" -q --root "$ROOT" build sleeper -k "$K" >/dev/null 2>&1 & pid=$!; } &&
	n=0 && until alive "${nonce}2" || [ $n -ge 150 ]; do n=$((n + 1)); sleep 0.2; done &&
	staging=$(ls -d "$STATE"/builds/sleeper/1/.kbuildd-new.*) &&
	mode=$(stat -c %a "$staging") &&
	if as_build_user test -e "$staging/src/suid-sh"; then reached=yes; else reached=no; fi &&
	kill -KILL "$pid" &&
	test "$mode" = 700 && test "$reached" = no &&
	gone_within "${nonce}2"
'

test_expect_success ROOT 'a build that floods its log is cut at the limit, with a note' '
	driver loud &&
	{
		echo "all:"
		printf "\t\$(MAKE) -C \$(KDIR) M=\$(CURDIR) modules\n"
		printf "\thead -c 40000000 /dev/zero | tr \"\\\\\\\\0\" x\n"
	} >loud/hostile.mk &&
	recipe loud &&
	kb add loud.recipe >/dev/null &&
	kb build loud -k "$K" >/dev/null 2>&1 &&
	log=$STATE/builds/loud/1/$K.log &&
	size=$(stat -c %s "$log") &&
	test "$size" -lt 34000000 && test "$size" -gt 33000000 &&
	test_grep "the output went past 32 MiB; the rest was dropped" "$log"
'

test_expect_success ROOT 'setup: a dkms.conf that pries when it is read' '
	test -f "$STATE/keys/signing_key.pem" &&
	driver sneaky &&
	cat >sneaky/dkms.conf <<-EOF &&
	PACKAGE_NAME=sneaky
	PACKAGE_VERSION=1
	if [ "\$(id -u)" = 0 ]; then PACKAGE_VERSION=read-as-root; fi
	if cat "$STATE/keys/signing_key.pem" >/dev/null 2>&1; then PACKAGE_VERSION=read-the-key; fi
	setsid sh -c "exec sleep ${nonce}3" </dev/null >/dev/null 2>&1 &
	BUILT_MODULE_NAME[0]=sneaky
	DEST_MODULE_LOCATION[0]=/updates
	PRE_INSTALL=pre-install.sh
	AUTOINSTALL=yes
	EOF
	cat >sneaky/pre-install.sh <<-EOF &&
	#!/bin/sh
	# vetoes the install when it could act as root or write the system
	if [ "\$(id -u)" = 0 ] || touch "\$install_tree/kbuildd-proof-$nonce" 2>/dev/null; then
		exit 1
	fi
	EOF
	chmod +x sneaky/pre-install.sh
'

test_expect_success ROOT 'add reads a dkms.conf contained: not as root, no key, nothing left running' '
	kb add sneaky >out 2>err &&
	test_grep "registered sneaky/1$" out &&
	gone_within "${nonce}3"
'

test_expect_success ROOT 'per-kernel readings and the install scripts are contained too' '
	kb install sneaky -k "$K" >out 2>err &&
	test_grep "^sneaky/1 .* installed" out &&
	test_path_is_missing "$ROOT/lib/modules/kbuildd-proof-$nonce" &&
	gone_within "${nonce}3"
'

test_done
