#!/bin/sh
# kbuildd doctor's first answer: can this machine load modules at all? A
# kernel without module support, kernel.modules_disabled = 1, a gVisor
# sandbox and a container without CAP_SYS_MODULE each stop every module,
# whatever the module itself is like; doctor says which, and what to do,
# before anything about the module. The running kernel's facts are files
# under --root, as a test writes them.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${K612:-${KERNELS%% *}}
# all capabilities, as root on a host has them; Docker's default set lacks CAP_SYS_MODULE (bit 16)
HOST_CAPS=000001ffffffffff
DOCKER_CAPS=00000000a80425fb
export K HOST_CAPS DOCKER_CAPS

# machine CAPBND: the running kernel is $K, with module support, loading allowed
machine () {
	rm -rf "$ROOT/proc" "$ROOT/sys/kernel" &&
	mkdir -p "$ROOT/proc/sys/kernel" "$ROOT/proc/self" "$ROOT/sys/module/module/parameters" &&
	echo "$K" >"$ROOT/proc/sys/kernel/osrelease" &&
	echo N >"$ROOT/sys/module/module/parameters/sig_enforce" &&
	echo "snd 12288 0 - Live 0x0000000000000000" >"$ROOT/proc/modules" &&
	echo 0 >"$ROOT/proc/sys/kernel/modules_disabled" &&
	echo "Linux version $K (debian-kernel@lists.debian.org) #1 SMP Debian" >"$ROOT/proc/version" &&
	printf "Name:\tkbuildd\nCapInh:\t0000000000000000\nCapBnd:\t%s\n" "$1" >"$ROOT/proc/self/status"
}

# the modules finding comes first, before anything about the module
first_finding () {
	sed -n 2p "$1"
}

test_expect_success 'setup: hello installed' '
	kb install "$TOP/recipes/hello.recipe" -k "$K" >/dev/null
'

test_expect_success 'a machine that loads modules says so first, and exit 0' '
	machine "$HOST_CAPS" &&
	kb doctor hello >out &&
	cat out &&
	first_finding out | grep "ok  *modules  *the running kernel loads modules"
'

test_expect_success 'a kernel without module support: FAIL first, with what to do' '
	machine "$HOST_CAPS" && rm "$ROOT/proc/modules" &&
	test_expect_code 1 kb doctor hello >out &&
	first_finding out | grep "FAIL  *modules  *the running kernel has no module support (no /proc/modules)" &&
	test_grep "fix: boot a kernel built with module support" out
'

test_expect_success 'kernel.modules_disabled = 1: nothing loads until a reboot' '
	machine "$HOST_CAPS" && echo 1 >"$ROOT/proc/sys/kernel/modules_disabled" &&
	test_expect_code 1 kb doctor hello >out &&
	first_finding out | grep "FAIL  *modules  *kernel.modules_disabled = 1: the kernel loads no more modules until it reboots" &&
	test_grep "fix: reboot, with kernel.modules_disabled no longer set" out
'

test_expect_success 'a gVisor sandbox: its kernel loads no modules' '
	machine "$HOST_CAPS" &&
	echo "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016" >"$ROOT/proc/version" &&
	test_expect_code 1 kb doctor hello >out &&
	first_finding out | grep "FAIL  *modules  *this is a gVisor sandbox" &&
	test_grep "fix: load the module on the host that runs the sandbox" out
'

test_expect_success 'a container without CAP_SYS_MODULE: no process here can load one' '
	machine "$DOCKER_CAPS" &&
	test_expect_code 1 kb doctor hello >out &&
	first_finding out | grep "FAIL  *modules  *no process here can load a module: CAP_SYS_MODULE is not in the capability bounding set" &&
	test_grep "fix: load the module on the host, or give the container CAP_SYS_MODULE" out
'

test_expect_success 'lockdown: modules load, but only signed by a trusted key; doctor says so' '
	machine "$HOST_CAPS" && mkdir -p "$ROOT/sys/kernel/security" &&
	echo "none [integrity] confidentiality" >"$ROOT/sys/kernel/security/lockdown" &&
	kb doctor hello >out 2>&1 || :
	first_finding out | grep "ok  *modules  .*lockdown (integrity) lets only modules signed by a trusted key in" &&
	test_grep "signature .*lockdown" out
'

test_expect_success 'JSON: the modules finding is the first of each module, and a kernel not running has none' '
	machine "$HOST_CAPS" && echo 1 >"$ROOT/proc/sys/kernel/modules_disabled" &&
	test_expect_code 1 kb doctor --json hello >out.json &&
	python3 -c "
import json
d = json.load(open(\"out.json\"))
f = d[0][\"findings\"][0]
assert f[\"check\"] == \"modules\" and f[\"level\"] == \"failure\" and \"modules_disabled\" in f[\"message\"], f
" &&
	echo "9.9.9-other" >"$ROOT/proc/sys/kernel/osrelease" &&
	kb doctor hello -k "$K" >out &&
	! grep " modules " out
'

test_done
