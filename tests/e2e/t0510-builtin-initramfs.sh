#!/bin/sh
# The builtin initramfs backend boots: Debian's stock kernel (unpacked from
# apt-get download, never installed) starts from an initramfs that kbuildd
# rewrote — an early uncompressed segment kept byte for byte, a busybox init,
# the kbuildd-built, signed modules marked initramfs = yes and what they need
# (another recipe's module that is not marked, and the kernel's own
# crc-itu-t), with a modules.dep made for them — and modprobe loads each.
# shellcheck disable=SC2016
. "$(dirname "$0")/../integration/test-lib.sh"

E2E=$TOP/tests/e2e
kb_root root
K=$K612

test_expect_success K612 'setup: crc-itu-t from the stock kernel, a base initramfs, three recipes' '
	vmlinuz=$("$E2E/debian-kernel" "$K" 2>debian.err) || { cat debian.err; exit 1; }
	echo "$vmlinuz" >vmlinuz.path &&
	stock=${vmlinuz%/boot/*}/lib/modules/$K &&
	mkdir -p "$ROOT/lib/modules/$K/kernel/lib" &&
	cp "$stock/kernel/lib/crc-itu-t.ko.xz" "$ROOT/lib/modules/$K/kernel/lib/" &&
	cp "$stock"/modules.order "$stock"/modules.builtin "$stock"/modules.builtin.modinfo \
		"$ROOT/lib/modules/$K/" &&
	busybox=$(command -v busybox) &&
	mkdir -p early/kernel/x86/microcode base/bin base/dev base/proc base/sys &&
	echo "not really microcode" >early/kernel/x86/microcode/GenuineIntel.bin &&
	cp "$busybox" base/bin/busybox &&
	mknod base/dev/console c 5 1 &&
	cat >base/init <<-\EOF &&
	#!/bin/busybox sh
	/bin/busybox mount -t proc proc /proc
	/bin/busybox mount -t sysfs sys /sys
	for m in consumer crcuser; do
		/bin/busybox modprobe $m
		echo "KBTEST modprobe $m rc=$?"
	done
	/bin/busybox dmesg | /bin/busybox grep -i "unknown symbol" | /bin/busybox sed "s/^/KBTEST dmesg /"
	/bin/busybox sed -n "s/^\(provider\|consumer\|crc_itu_t\|crcuser\) .*/KBTEST loaded \1/p" /proc/modules
	echo "KBTEST done"
	/bin/busybox poweroff -f
	EOF
	chmod +x base/init &&
	(cd early && find . | cpio -o -H newc 2>/dev/null) >initrd &&
	(cd base && find . | cpio -o -H newc 2>/dev/null | zstd -q) >>initrd &&
	mkdir -p "$ROOT/boot" && cp initrd "$ROOT/boot/initrd.img-$K" &&
	mkdir -p "$ROOT/etc/kbuildd" &&
	printf "[initramfs]\nbackend = builtin\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	for n in provider consumer; do
		sed "s|path = ../examples/$n|path = $TOP/examples/$n|" "$TOP/recipes/$n.recipe" >$n.recipe ||
			exit 1
	done &&
	printf "initramfs = yes\n" >>consumer.recipe &&
	mkdir crcuser &&
	echo "obj-m := crcuser.o" >crcuser/Kbuild &&
	cat >crcuser/crcuser.c <<-\EOF &&
	// SPDX-License-Identifier: GPL-2.0
	#include <linux/crc-itu-t.h>
	#include <linux/module.h>

	static int __init crcuser_init(void)
	{
		pr_info("crcuser: crc %04x\n", crc_itu_t(0, "kbuildd", 7));
		return 0;
	}
	module_init(crcuser_init);
	MODULE_LICENSE("GPL");
	EOF
	printf "%s\n" "[recipe]" "name = crcuser" "version = 1" "[source]" "path = crcuser" \
		"[module crcuser]" "initramfs = yes" >crcuser.recipe
'

test_expect_success K612 'install rewrites the initramfs with the modules, their dependencies and a matching modules.dep' '
	kb install -k "$K" provider.recipe consumer.recipe crcuser.recipe >out &&
	mkdir x && (cd x && unmkinitramfs "$ROOT/boot/initrd.img-$K" .) &&
	cmp x/early/kernel/x86/microcode/GenuineIntel.bin early/kernel/x86/microcode/GenuineIntel.bin &&
	test_path_is_file x/main/lib/modules/$K/updates/kbuildd/consumer.ko &&
	test_path_is_file x/main/lib/modules/$K/updates/kbuildd/provider.ko &&
	test_path_is_file x/main/lib/modules/$K/kernel/lib/crc-itu-t.ko &&
	test_grep "^updates/kbuildd/consumer.ko: updates/kbuildd/provider.ko$" x/main/lib/modules/$K/modules.dep &&
	test_grep "^updates/kbuildd/crcuser.ko: kernel/lib/crc-itu-t.ko$" x/main/lib/modules/$K/modules.dep &&
	test "$(/sbin/modinfo -F signer x/main/lib/modules/$K/updates/kbuildd/consumer.ko)" = "kbuildd module signing key"
'

test_expect_success K612 'the stock kernel boots it and modprobe loads each with what it needs' '
	timeout 180 qemu-system-x86_64 -accel tcg -cpu max -m 512 -nographic -no-reboot \
		-kernel "$(cat vmlinuz.path)" -initrd "$ROOT/boot/initrd.img-$K" \
		-append "console=ttyS0 panic=-1 quiet" </dev/null >console.log 2>&1 || true
	# the serial console starts with terminal escapes: match anywhere on the line
	test_grep "KBTEST done" console.log &&
	test_grep -v "KBTEST dmesg" console.log &&
	test_grep "KBTEST modprobe consumer rc=0" console.log &&
	test_grep "KBTEST modprobe crcuser rc=0" console.log &&
	for m in provider consumer crc_itu_t crcuser; do
		test_grep "KBTEST loaded $m" console.log || exit 1
	done
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
