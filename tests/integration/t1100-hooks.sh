#!/bin/sh
# The system's side: make install puts the hooks in place, and the kernel
# packages' run-parts calls run them as Debian does (arguments, DEB_MAINT_PARAMS,
# no stdout), in the right order, without ever failing the kernel's install.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${KERNELS%% *}
DEST=$TRASH/dest
export KBUILDD KBUILDD_ROOT="$ROOT"

test_expect_success 'make install puts binary, hooks, plugin and unit in FHS places' '
	make -s -C "$TOP" install-files DESTDIR="$DEST" PREFIX=/usr BIN="$KBUILDD" &&
	for f in usr/sbin/kbuildd usr/bin/kbuildd-package etc/kernel/postinst.d/50-kbuildd \
		etc/kernel/header_postinst.d/50-kbuildd etc/kernel/prerm.d/50-kbuildd \
		usr/lib/kernel/install.d/40-kbuildd.install usr/lib/systemd/system/kbuildd.service; do
		test_path_is_file "$DEST/$f" || exit 1
	done &&
	test_grep "/usr/sbin/kbuildd" "$DEST/etc/kernel/postinst.d/50-kbuildd" &&
	test_grep -v "@SBINDIR@" "$DEST/usr/lib/systemd/system/kbuildd.service"
'

test_expect_success 'run-parts runs the hook before dkms, dracut and initramfs-tools' '
	mkdir order &&
	for n in dkms dracut initramfs-tools zz-update-grub; do
		printf "#!/bin/sh\n" >order/$n && chmod +x order/$n || exit 1
	done &&
	cp "$DEST/etc/kernel/postinst.d/50-kbuildd" order/ &&
	run-parts --test order >out &&
	test "$(head -1 out)" = order/50-kbuildd
'

test_expect_success 'postinst.d: the new kernel gets every registered module; nothing on stdout' '
	kb add "$TOP/recipes/hello.recipe" >/dev/null &&
	DEB_MAINT_PARAMS=configure run-parts --report --exit-on-error --arg="$K" \
		--arg="/boot/vmlinuz-$K" "$DEST/etc/kernel/postinst.d" >stdout 2>stderr &&
	test_path_is_file "$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*)" &&
	test_grep "updates/kbuildd/hello.ko" "$ROOT/lib/modules/$K/modules.dep" &&
	! test -s stdout
'

test_expect_success 'postinst.d acts on configure only' '
	kb remove hello/1.0.0 -k "$K" >/dev/null &&
	DEB_MAINT_PARAMS=abort-upgrade run-parts --arg="$K" "$DEST/etc/kernel/postinst.d" &&
	test_path_is_missing "$ROOT/lib/modules/$K/updates/kbuildd"
'

test_expect_success 'a driver that fails to build never fails the kernel install' '
	kb add "$TOP/examples/broken" >/dev/null &&
	DEB_MAINT_PARAMS=configure run-parts --report --exit-on-error --arg="$K" \
		"$DEST/etc/kernel/postinst.d" >stdout 2>stderr &&
	test_grep "not every module could be made ready" stderr &&
	test_path_is_file "$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*)" &&
	! test -s stdout
'

test_expect_success '[hooks] strict = yes makes it fail, as DKMS does' '
	mkdir -p "$ROOT/etc/kbuildd" &&
	printf "[hooks]\nstrict = yes\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_must_fail env DEB_MAINT_PARAMS=configure run-parts --exit-on-error --arg="$K" \
		"$DEST/etc/kernel/postinst.d" 2>stderr &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb remove broken/1.0.0 --all >/dev/null
'

test_expect_success 'header_postinst.d builds for a kernel whose headers came late' '
	kb remove hello/1.0.0 -k "$K" >/dev/null &&
	run-parts --exit-on-error --arg="$K" "$DEST/etc/kernel/header_postinst.d" &&
	test_path_is_file "$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*)"
'

test_expect_success 'run again with nothing to do, the hook compiles nothing' '
	DEB_MAINT_PARAMS=configure KBUILDD_VERBOSE= run-parts --arg="$K" \
		"$DEST/etc/kernel/postinst.d" 2>stderr &&
	"$KBUILDD" --root "$ROOT" -v rebuild -k "$K" >out 2>err &&
	test_grep -v "building hello" err &&
	test_grep "up to date" out
'

test_expect_success 'prerm.d: the removed kernel loses kbuildd files and builds, registrations stay' '
	DEB_MAINT_PARAMS=remove run-parts --exit-on-error --arg="$K" \
		--arg="/boot/vmlinuz-$K" "$DEST/etc/kernel/prerm.d" &&
	test_path_is_missing "$ROOT/lib/modules/$K/updates/kbuildd" &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/installed/$K" &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/builds/hello/1.0.0/$K" &&
	test_path_is_dir "$ROOT/var/lib/kbuildd/recipes/hello/1.0.0" &&
	kb status --check
'

test_expect_success 'kernel-install plugin: add builds, remove drops' '
	"$DEST/usr/lib/kernel/install.d/40-kbuildd.install" add "$K" "/boot/vmlinuz-$K" &&
	test_path_is_file "$(ls "$ROOT/lib/modules/$K/updates/kbuildd/hello.ko"*)" &&
	"$DEST/usr/lib/kernel/install.d/40-kbuildd.install" remove "$K" &&
	test_path_is_missing "$ROOT/lib/modules/$K/updates/kbuildd"
'

test_expect_success 'kbuildd-package: configure registers and installs, remove takes it all away' '
	"$DEST/usr/bin/kbuildd-package" configure "$TOP/recipes/greeter.recipe" &&
	test_path_is_file "$(ls "$ROOT/lib/modules/$K/updates/kbuildd/greeter.ko"*)" &&
	"$DEST/usr/bin/kbuildd-package" remove greeter 1.0.0 &&
	test_path_is_missing "$ROOT/var/lib/kbuildd/recipes/greeter" &&
	test_expect_code 2 "$DEST/usr/bin/kbuildd-package" configure "$TRASH/nonexistent.recipe" 2>err
'

test_expect_success 'kbuildd.conf: installed with every default, never over nor removed once edited' '
	other=$TRASH/dest-conf &&
	make -s -C "$TOP" install-files DESTDIR="$other" PREFIX=/usr BIN="$KBUILDD" &&
	test_cmp "$TOP/hooks/kbuildd.conf" "$other/etc/kbuildd/kbuildd.conf" &&
	"$KBUILDD" --root "$other" --config "$other/etc/kbuildd/kbuildd.conf" status &&
	echo "[build]" >"$other/etc/kbuildd/kbuildd.conf" &&
	make -s -C "$TOP" install-files DESTDIR="$other" PREFIX=/usr BIN="$KBUILDD" &&
	test "$(cat "$other/etc/kbuildd/kbuildd.conf")" = "[build]" &&
	make -s -C "$TOP" uninstall DESTDIR="$other" PREFIX=/usr >out &&
	test_grep "kept /etc/kbuildd/kbuildd.conf" out &&
	test_path_is_file "$other/etc/kbuildd/kbuildd.conf"
'

test_expect_success 'make uninstall removes exactly what make install put there' '
	make -s -C "$TOP" uninstall DESTDIR="$DEST" PREFIX=/usr &&
	test -z "$(find "$DEST" -type f)"
'

test_done
