#!/bin/sh
# A reused build loads in the real kernel it was reused for. kbuildd builds
# the provider/consumer pair for the installed 6.1 kernel and reuses that
# build for an older Debian ABI name of the same upstream release (its
# headers downloaded and unpacked, never installed). Debian's own
# linux-image of that older name (downloaded and unpacked too) boots under
# qemu (TCG) and loads the consumer with modprobe through the modules.dep
# kbuildd's depmod wrote, the provider pulled in first: the kernel accepts
# the other release in vermagic because every CRC matches, and taints
# nothing but what any out-of-tree module signed with a key it does not
# trust gets.
# shellcheck disable=SC2016
# shellcheck source=/dev/null
. "$(dirname "$0")/../integration/test-lib.sh"
. "$TOP/tests/integration/lib/abi-kernels.sh"

E2E=$TOP/tests/e2e
TAINT_OOT=4096	    # O: an out-of-tree module
TAINT_UNSIGNED=8192 # E: signed with a key the kernel does not trust

kb_root root
KNEW=$K61
if [ -n "$KNEW" ] && KOLD=$(older_abi_headers "$KNEW"); then
	abi_place "$KOLD" "$ROOT" "$TRASH/hdr" && test_set_prereq ABI
fi

test_expect_success ABI 'the pair compiles for the newer kernel and is reused for the older one' '
	kb add "$TOP/recipes/provider.recipe" "$TOP/recipes/consumer.recipe" >/dev/null &&
	kb rebuild --all >out 2>err || { cat out err; exit 1; } &&
	kb status -k "$KOLD" >st && cat st &&
	grep "^provider/1.0.0 *$KOLD *installed (built for $KNEW, reused" st &&
	grep "^consumer/1.0.0 *$KOLD *installed (built for $KNEW, reused" st &&
	grep "updates/kbuildd/consumer.ko: .*updates/kbuildd/provider.ko" \
		"$ROOT/lib/modules/$KOLD/modules.dep" &&
	test "$(modinfo -F vermagic "$ROOT/lib/modules/$KOLD/updates/kbuildd/consumer.ko" |
		cut -d" " -f1)" = "$KNEW"
'

test_expect_success ABI 'Debian s own kernel of the older ABI name is at hand (cached)' '
	"$E2E/debian-kernel" "$KOLD" >vmlinuz 2>fetch.err || { cat fetch.err; exit 1; } &&
	test_path_is_file "$(cat vmlinuz)"
'

test_expect_success ABI 'it boots and modprobe loads consumer, provider first' '
	KBTEST_BOOT_TIMEOUT=${KBTEST_BOOT_TIMEOUT:-300} "$E2E/boot-module" \
		--tree "$ROOT/lib/modules/$KOLD" --modprobe consumer "$(cat vmlinuz)" \
		>boot.out 2>boot.err || { cat boot.err; exit 1; } &&
	cat boot.out &&
	grep "^KBTEST kernel=$KOLD$" boot.out &&
	grep "^KBTEST modprobe consumer rc=0$" boot.out &&
	grep "^KBTEST loaded provider$" boot.out &&
	grep "^KBTEST loaded consumer$" boot.out &&
	! grep -i "disagrees about version\|invalid module format\|exec format" boot.out
'

test_expect_success ABI 'the kernel taints only as for any out-of-tree module it cannot verify' '
	t=$(sed -n "s/^KBTEST tainted=//p" boot.out) &&
	echo "tainted=$t" &&
	test $((t & TAINT_OOT)) -ne 0 &&
	test $((t & ~(TAINT_OOT | TAINT_UNSIGNED))) -eq 0
'

test_done
