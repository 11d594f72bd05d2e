#!/bin/sh
# The builtin initramfs backend boots: Debian's stock kernel (unpacked from
# apt-get download, never installed) starts from an initramfs that kbuildd
# rewrote — an early uncompressed segment kept byte for byte, a busybox init,
# and the kbuildd-built, signed provider/consumer pair with a modules.dep
# made for it — and `modprobe consumer` loads both.
# shellcheck disable=SC2016
. "$(dirname "$0")/../integration/test-lib.sh"

E2E=$TOP/tests/e2e
kb_root root
K=$K612

test_expect_success K612 'setup: a base initramfs (early segment + busybox init) and two recipes' '
	busybox=$(command -v busybox) &&
	mkdir -p early/kernel/x86/microcode base/bin base/dev base/proc base/sys &&
	echo "not really microcode" >early/kernel/x86/microcode/GenuineIntel.bin &&
	cp "$busybox" base/bin/busybox &&
	mknod base/dev/console c 5 1 &&
	cat >base/init <<-\EOF &&
	#!/bin/busybox sh
	/bin/busybox mount -t proc proc /proc
	/bin/busybox mount -t sysfs sys /sys
	/bin/busybox modprobe consumer
	echo "KBTEST modprobe rc=$?"
	/bin/busybox grep -E "^(provider|consumer) " /proc/modules | /bin/busybox sed "s/^/KBTEST loaded /"
	echo "KBTEST done"
	/bin/busybox poweroff -f
	EOF
	chmod +x base/init &&
	(cd early && find . | cpio -o -H newc 2>/dev/null) >initrd &&
	(cd base && find . | cpio -o -H newc 2>/dev/null | zstd -q) >>initrd &&
	cp initrd "$ROOT/boot/initrd.img-$K" 2>/dev/null || {
		mkdir -p "$ROOT/boot" && cp initrd "$ROOT/boot/initrd.img-$K"; } &&
	mkdir -p "$ROOT/etc/kbuildd" &&
	printf "[initramfs]\nbackend = builtin\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	for n in provider consumer; do
		sed "s|path = ../examples/$n|path = $TOP/examples/$n|" "$TOP/recipes/$n.recipe" >$n.recipe &&
		printf "initramfs = yes\n" >>$n.recipe || exit 1
	done
'

test_expect_success K612 'install rewrites the initramfs with the modules and a matching modules.dep' '
	kb install -k "$K" provider.recipe consumer.recipe >out &&
	mkdir x && (cd x && unmkinitramfs "$ROOT/boot/initrd.img-$K" .) &&
	cmp x/early/kernel/x86/microcode/GenuineIntel.bin early/kernel/x86/microcode/GenuineIntel.bin &&
	test_path_is_file x/main/lib/modules/$K/updates/kbuildd/consumer.ko &&
	test_grep "^updates/kbuildd/consumer.ko: updates/kbuildd/provider.ko$" x/main/lib/modules/$K/modules.dep &&
	test "$(/sbin/modinfo -F signer x/main/lib/modules/$K/updates/kbuildd/consumer.ko)" = "kbuildd module signing key"
'

test_expect_success K612 'the stock kernel boots it and modprobe consumer loads the pair' '
	vmlinuz=$("$E2E/debian-kernel" "$K" 2>debian.err) || { cat debian.err; exit 1; }
	timeout 180 qemu-system-x86_64 -accel tcg -cpu max -m 512 -nographic -no-reboot \
		-kernel "$vmlinuz" -initrd "$ROOT/boot/initrd.img-$K" \
		-append "console=ttyS0 panic=-1 quiet" </dev/null >console.log 2>&1 || true
	# the serial console starts with terminal escapes: match anywhere on the line
	test_grep "KBTEST done" console.log &&
	test_grep "KBTEST modprobe rc=0" console.log &&
	test_grep "KBTEST loaded provider " console.log &&
	test_grep "KBTEST loaded consumer " console.log
'

test_expect_success K612 'nothing changed: the image is not rewritten' '
	sha=$(sha256sum "$ROOT/boot/initrd.img-$K") &&
	kb rebuild -k "$K" >/dev/null &&
	test "$(sha256sum "$ROOT/boot/initrd.img-$K")" = "$sha"
'

test_expect_success K612 'a damaged image is refused and left as it was' '
	head -c 1000 initrd >"$ROOT/boot/initrd.img-$K" &&
	printf "garbage" >>"$ROOT/boot/initrd.img-$K" &&
	sha=$(sha256sum "$ROOT/boot/initrd.img-$K") &&
	kb remove consumer/1.0.0 -k "$K" >/dev/null &&
	test_expect_code 1 kb install -k "$K" consumer >out 2>err &&
	test "$(sha256sum "$ROOT/boot/initrd.img-$K")" = "$sha"
'

test_done
