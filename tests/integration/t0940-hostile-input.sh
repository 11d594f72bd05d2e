#!/bin/sh
# Everything a recipe, a source tree, a patch or a build leaves behind is
# the attacker's: FIFOs where files belong, damaged modules, symlinks to
# secrets, trees too large to walk, dest paths through the kernel's own
# symlinks, two recipes claiming one module, and a standard output that
# cannot be written. Each is refused with a message naming it, fails only
# what it belongs to, and never hangs or crashes kbuildd.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${K612:-${KERNELS%% *}}
export K

# kb_quick ARGS...: kbuildd that must answer within a few seconds (a FIFO
# opened for reading would block it forever)
kb_quick () {
	timeout 20 "$KBUILDD" --root "$ROOT" "$@"
}

# --- files that are not regular files -----------------------------------

test_expect_success 'a FIFO given as a recipe is refused at once, naming it' '
	mkfifo fifo.recipe &&
	test_expect_code 2 kb_quick add fifo.recipe 2>err &&
	test_grep "error: .fifo.recipe. is not a regular file" err &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes"
'

test_expect_success 'a FIFO as dkms.conf or kbuildd.recipe of a tree is refused the same way' '
	mkdir -p dkms-fifo recipe-fifo &&
	mkfifo dkms-fifo/dkms.conf recipe-fifo/kbuildd.recipe &&
	test_expect_code 2 kb_quick add dkms-fifo/dkms.conf 2>err &&
	test_grep "error: .dkms-fifo/dkms.conf. is not a regular file" err &&
	test_expect_code 2 kb_quick add recipe-fifo 2>err &&
	test_grep "error: .recipe-fifo/kbuildd.recipe. is not a regular file" err
'

test_expect_success 'a FIFO as kbuildd.conf is refused, named, for --config and under the root' '
	mkfifo fifo.conf &&
	test_expect_code 2 kb_quick --config fifo.conf status 2>err &&
	test_grep "error: .fifo.conf. is not a regular file" err &&
	mkdir -p "$ROOT/etc/kbuildd" &&
	mkfifo "$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_expect_code 2 kb_quick status 2>err &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_grep "error: .$ROOT/etc/kbuildd/kbuildd.conf. is not a regular file" err
'

test_done
