#!/bin/sh
# kbuildd audit, as the admin of a cloud server runs it: every loaded module
# and every module file, where each came from, who signed it, whether the
# kernel trusts that key; the policy judged, exit 1 when it is broken. The
# running kernel (/proc, /sys) and dpkg's database are files the test writes
# under --root; the modules are real builds of the examples.
# shellcheck disable=SC2016
. "$(dirname "$0")/test-lib.sh"

kb_root root
K=${K61:-${KERNELS%% *}}
MODS=$ROOT/lib/modules/$K
export K MODS

# a copy of a build's unsigned module: the build keeps what it compiled
unsigned_copy () {	# RECIPE MODULE DEST
	cp "$ROOT/var/lib/kbuildd/builds/$1/1.0.0/$K/src/$2.ko" "$3"
}

# an RSA key and self-signed certificate, valid from START to END (openssl ca dates)
make_cert () {	# NAME CN START END
	mkdir -p ca && : >ca/index.txt && echo 01 >ca/serial &&
	cat >ca/ca.cnf <<-EOF &&
	[ ca ]
	default_ca = own
	[ own ]
	dir = ca
	database = ca/index.txt
	new_certs_dir = ca
	serial = ca/serial
	default_md = sha256
	policy = any
	x509_extensions = ext
	[ any ]
	commonName = supplied
	[ ext ]
	basicConstraints = critical,CA:FALSE
	keyUsage = digitalSignature
	subjectKeyIdentifier = hash
	[ req ]
	distinguished_name = dn
	prompt = no
	[ dn ]
	CN = $2
	EOF
	openssl req -new -newkey rsa:2048 -nodes -keyout "$1.pem" -out "$1.csr" \
		-config ca/ca.cnf 2>/dev/null &&
	openssl ca -batch -config ca/ca.cnf -selfsign -keyfile "$1.pem" -in "$1.csr" \
		-out "$1.crt" -startdate "$3" -enddate "$4" >/dev/null 2>&1
}

key_line () {	# CERT SERIAL: the /proc/keys line of a key the kernel holds
	skid=$(openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -1 | tr -d " :" | tr A-F a-f)
	cn=$(openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n "s/^ *commonName *= //p")
	echo "$2 I------     1 perm 1f030000     0     0 asymmetri $cn: $skid: X509.rsa ${skid%"${skid#????????}"} []"
}

loaded () {	# NAME TAINT [SRCVERSION]: a /proc/modules line and its /sys/module
	echo "$1 16384 0 - Live 0x0000000000000000${2:+ ($2)}" >>"$ROOT/proc/modules" &&
	mkdir -p "$ROOT/sys/module/$1" &&
	echo "$2" >"$ROOT/sys/module/$1/taint" &&
	if [ -n "${3-}" ]; then echo "$3" >"$ROOT/sys/module/$1/srcversion"; fi
}

srcversion () {	# FILE
	modinfo -F srcversion "$1"
}

policy () {
	mkdir -p "$ROOT/etc/kbuildd" && cat >"$ROOT/etc/kbuildd/policy.conf"
}

json () {	# FILE EXPRESSION (d: the document)
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert $2, d" "$1"
}

test_expect_success 'setup: kbuildd modules, a stray one, a rogue one, a package one' '
	kb install "$TOP/recipes/hello.recipe" "$TOP/recipes/provider.recipe" \
		"$TOP/recipes/consumer.recipe" -k "$K" >/dev/null &&
	kb add "$TOP/recipes/greeter.recipe" >/dev/null && kb build greeter -k "$K" >/dev/null &&
	mkdir -p "$MODS/extra" "$MODS/kernel/drivers/misc" &&
	unsigned_copy greeter greeter "$MODS/extra/greeter.ko" &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=rogue key" \
		-addext subjectKeyIdentifier=hash -keyout rogue.pem -out rogue.crt 2>/dev/null &&
	unsigned_copy greeter greeter rogue.ko &&
	kb sign rogue.pem rogue.crt rogue.ko "$MODS/extra/rogue.ko" &&
	cp "$MODS/updates/kbuildd/hello.ko"* pkg.ko.tmp &&
	(xz -dc pkg.ko.tmp >"$MODS/kernel/drivers/misc/pkgmod.ko" 2>/dev/null ||
		cp pkg.ko.tmp "$MODS/kernel/drivers/misc/pkgmod.ko") &&
	mkdir -p "$ROOT/var/lib/dpkg/info" &&
	printf "/.\n/usr\n/usr/lib/modules\n/usr/lib/modules/%s/kernel/drivers/misc/pkgmod.ko\n" "$K" \
		>"$ROOT/var/lib/dpkg/info/linux-image-$K:amd64.list" &&
	depmod -b "$ROOT" "$K" &&
	mkdir -p "$ROOT/proc/sys/kernel" "$ROOT/sys/module/module/parameters" &&
	echo "$K" >"$ROOT/proc/sys/kernel/osrelease" &&
	echo 12288 >"$ROOT/proc/sys/kernel/tainted" &&
	echo 0 >"$ROOT/proc/sys/kernel/modules_disabled" &&
	echo N >"$ROOT/sys/module/module/parameters/sig_enforce" &&
	mkdir -p "$ROOT/sys/kernel/security" &&
	echo "[none] integrity confidentiality" >"$ROOT/sys/kernel/security/lockdown" &&
	: >"$ROOT/proc/modules" &&
	loaded hello OE "$(srcversion "$MODS/updates/kbuildd/hello.ko"*)" &&
	loaded greeter OE "$(srcversion "$MODS/extra/greeter.ko")" &&
	loaded rogue OE &&
	loaded provider OE 0123456789ABCDEF0123456 &&
	key_line "$ROOT/var/lib/kbuildd/keys/signing_key.x509" 1f3a0b2c >"$ROOT/proc/keys" &&
	echo "0b7b2d2a I------     1 perm 1f0b0000     0     0 keyring   .builtin_trusted_keys: 1" >>"$ROOT/proc/keys"
'

test_expect_success 'each module: its origin, signer and trust, taint, loaded copy; exit 0' '
	kb audit --installed -k "$K" >out &&
	test_grep "^running kernel $K: loads modules" out &&
	test_grep "^tainted: 12288 = O (out-of-tree module), E (unsigned module)" out &&
	test_grep "lockdown none, module.sig_enforce off" out &&
	test_grep "^policy: none" out &&
	test_grep "^hello  *$K  *yes  *kbuildd hello/1.0.0, built here  *kbuildd module signing key (trusted)  *OE  *out-of-tree  *GPL" out &&
	test_grep "^consumer  *$K  *no  *kbuildd consumer/1.0.0" out &&
	test_grep "^greeter  *$K  *yes  *unowned  *unsigned  *OE" out &&
	test_grep "^rogue  *$K  *yes  *unowned  *rogue key (untrusted)" out &&
	test_grep "^pkgmod  *$K  *no  *package linux-image-$K  *kbuildd module signing key (trusted)" out &&
	test_grep "^provider  *$K  *other build  *kbuildd provider/1.0.0" out &&
	test_grep "provider ($K): the loaded module is another build than /lib/modules/$K/updates/kbuildd/provider.ko (srcversion 0123456789ABCDEF0123456" out
'

test_expect_success 'without --installed only the loaded modules; JSON says the same' '
	kb audit >out &&
	test_grep "^hello " out && test_grep -v "^consumer " out && test_grep -v "^pkgmod " out &&
	kb audit --json --installed >out.json &&
	json out.json "d[\"machine\"][\"kernel\"] == \"$K\" and d[\"machine\"][\"tainted\"] == 12288" &&
	json out.json "d[\"machine\"][\"taint_flags\"] == [\"O: out-of-tree module\", \"E: unsigned module\"]" &&
	json out.json "[m[\"origin\"][\"kind\"] for m in d[\"modules\"] if m[\"module\"] == \"pkgmod\"] == [\"package\"]" &&
	json out.json "[(m[\"signature\"][\"trust\"], m[\"signature\"][\"signer\"]) for m in d[\"modules\"] if m[\"module\"] == \"rogue\" and m[\"kernel\"] == \"$K\"] == [(\"untrusted\", \"rogue key\")]" &&
	json out.json "[m[\"loaded_copy\"] for m in d[\"modules\"] if m[\"module\"] == \"provider\" and m[\"loaded\"]] == [\"other\"]" &&
	json out.json "[m[\"signature\"][\"certificate\"][\"expired\"] for m in d[\"modules\"] if m[\"module\"] == \"hello\" and m[\"kernel\"] == \"$K\"] == [False]" &&
	json out.json "d[\"policy\"] == {\"file\": None, \"breaches\": 0}"
'

test_expect_success 'a key not in /proc/keys is untrusted; with no /proc/keys trust is not checked' '
	mv "$ROOT/proc/keys" keys.saved &&
	kb audit >out &&
	test_grep "^hello .*kbuildd module signing key (not checked)" out &&
	: >"$ROOT/proc/keys" &&
	kb audit >out &&
	test_grep "^hello .*kbuildd module signing key (untrusted)" out &&
	mv keys.saved "$ROOT/proc/keys"
'

test_expect_success 'an expired signing certificate, and one about to expire, are said' '
	make_cert old "old signing key" 20200101000000Z 20210101000000Z &&
	make_cert soon "soon signing key" 20200101000000Z "$(date -u -d "+30 days" +%Y%m%d%H%M%SZ)" &&
	cp old.pem old.crt soon.pem soon.crt "$ROOT/etc/kbuildd/" 2>/dev/null ||
		{ mkdir -p "$ROOT/etc/kbuildd" && cp old.pem old.crt soon.pem soon.crt "$ROOT/etc/kbuildd/"; } &&
	unsigned_copy greeter greeter oldsig.ko &&
	kb sign old.pem old.crt oldsig.ko "$MODS/extra/oldsig.ko" &&
	kb sign soon.pem soon.crt oldsig.ko "$MODS/extra/soonsig.ko" &&
	printf "[signing]\nkey = /etc/kbuildd/old.pem\ncert = /etc/kbuildd/old.crt\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb audit --installed -k "$K" >out &&
	test_grep "oldsig ($K): its signing certificate /etc/kbuildd/old.crt expired on 2021-01-01; the kernel does not check expiry, but policy tools and firmware may" out &&
	kb audit --installed -k "$K" --json >out.json &&
	json out.json "[m[\"signature\"][\"certificate\"][\"expired\"] for m in d[\"modules\"] if m[\"module\"] == \"oldsig\"] == [True]" &&
	printf "[signing]\nkey = /etc/kbuildd/soon.pem\ncert = /etc/kbuildd/soon.crt\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb audit --installed -k "$K" >out &&
	test_grep "soonsig ($K): its signing certificate /etc/kbuildd/soon.crt expires on .*, in \(29\|30\) days" out &&
	printf "expiry_warn_days = 10\n" >>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb audit --installed -k "$K" >out &&
	test_grep -v "soonsig ($K): its signing" out &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf" "$MODS/extra/oldsig.ko" "$MODS/extra/soonsig.ko"
'

test_expect_success 'status and doctor say it too, for the certificate kbuildd signs with' '
	cp old.pem old.crt "$ROOT/etc/kbuildd/" &&
	printf "[signing]\nkey = /etc/kbuildd/old.pem\ncert = /etc/kbuildd/old.crt\n" >"$ROOT/etc/kbuildd/kbuildd.conf" &&
	kb status >/dev/null 2>err &&
	test_grep "signing certificate /etc/kbuildd/old.crt expired on 2021-01-01; the kernel does not check expiry" err &&
	unsigned_copy greeter greeter oldsig.ko &&
	kb sign old.pem old.crt oldsig.ko &&
	kb doctor -k "$K" oldsig.ko >out ; test_grep "WARN  *signature  *signing certificate /etc/kbuildd/old.crt expired on 2021-01-01" out &&
	printf "expiry_warn_days = nine\n" >>"$ROOT/etc/kbuildd/kbuildd.conf" &&
	test_expect_code 2 kb status 2>err &&
	test_grep "kbuildd.conf:4: invalid value .nine. for .expiry_warn_days." err &&
	rm "$ROOT/etc/kbuildd/kbuildd.conf"
'

test_expect_success 'require_signed: the unsigned loaded module breaks it, exit 1' '
	printf "[policy]\nrequire_signed = yes\n" | policy &&
	test_expect_code 1 kb audit >out &&
	test_grep "^1 module breaks the policy:" out &&
	test_grep "greeter ($K): /etc/kbuildd/policy.conf:2: require_signed = yes: it is not signed" out &&
	test_grep -v "hello ($K):" out &&
	test_expect_code 1 kb policy check >out2 && test_cmp out out2
'

test_expect_success 'require_trusted_key: the rogue key breaks it, our trusted key does not' '
	printf "require_trusted_key = yes\n" | policy &&
	test_expect_code 1 kb audit >out &&
	test_grep "rogue ($K): /etc/kbuildd/policy.conf:1: require_trusted_key = yes: signed by .rogue key. (key [0-9A-F:]*), a key the kernel does not trust" out &&
	test_grep "greeter ($K): /etc/kbuildd/policy.conf:1: require_trusted_key = yes: it is not signed" out &&
	test_grep -v "hello ($K)" out && test_grep -v "provider ($K): /etc" out
'

test_expect_success 'forbid_unowned: modules nobody installed break it; a package or recipe one does not' '
	printf "forbid_unowned = yes\n" | policy &&
	test_expect_code 1 kb audit --installed -k "$K" >out &&
	test_grep "greeter ($K): /etc/kbuildd/policy.conf:1: forbid_unowned = yes: no package, kbuildd recipe or DKMS module owns /lib/modules/$K/extra/greeter.ko" out &&
	test_grep "rogue ($K): .*forbid_unowned" out &&
	test_grep -v "pkgmod ($K)" out && test_grep -v "hello ($K)" out &&
	echo "foreign 4096 0 - Live 0x0" >>"$ROOT/proc/modules" &&
	test_expect_code 1 kb audit >out &&
	test_grep "foreign ($K): /etc/kbuildd/policy.conf:1: forbid_unowned = yes: it is loaded, and modprobe knows no file for it" out &&
	test_grep "^foreign  *$K  *yes  *no file" out &&
	sed -i "/^foreign /d" "$ROOT/proc/modules"
'

test_expect_success 'a DKMS registration owns the module DKMS built' '
	rm "$ROOT/etc/kbuildd/policy.conf" &&
	mkdir -p "$ROOT/var/lib/dkms/greeter/2.0/$K/x86_64/module" &&
	cp "$MODS/extra/greeter.ko" "$ROOT/var/lib/dkms/greeter/2.0/$K/x86_64/module/" &&
	kb audit >out &&
	test_grep "^greeter  *$K  *yes  *dkms greeter/2.0" out &&
	kb audit --json >out.json &&
	json out.json "[m[\"origin\"] for m in d[\"modules\"] if m[\"module\"] == \"greeter\"] == [{\"kind\": \"dkms\", \"owner\": \"greeter/2.0\", \"how\": None}]" &&
	rm -r "$ROOT/var/lib/dkms"
'

test_expect_success 'deny: a loaded denied module breaks it; an installed one until policy apply' '
	printf "# no rogue drivers, no USB disks\ndeny = rogue, usb-storage pkg*\n" | policy &&
	test_expect_code 1 kb audit --installed -k "$K" >out &&
	test_grep "rogue ($K): /etc/kbuildd/policy.conf:2: deny = rogue: yet it is loaded" out &&
	test_grep "pkgmod ($K): /etc/kbuildd/policy.conf:2: deny = pkg\*: yet modprobe would load it (run .kbuildd policy apply.)" out &&
	kb policy apply 2>err &&
	test_grep "rogue is loaded now" err &&
	test_expect_code 1 kb audit --installed -k "$K" >out &&
	test_grep -v "pkgmod ($K)" out &&
	test_grep "rogue ($K): .*yet it is loaded" out
'

test_expect_success 'policy apply: the modprobe.d file, byte for byte' '
	cat >expect <<-EOF &&
	# Written by '"'"'kbuildd policy apply'"'"' from /etc/kbuildd/policy.conf.
	# Do not edit: each apply, and each kernel kbuildd sees arrive, rewrites it.

	# /etc/kbuildd/policy.conf:2: deny = pkg*
	blacklist pkgmod
	install pkgmod /bin/false

	# /etc/kbuildd/policy.conf:2: deny = rogue
	blacklist rogue
	install rogue /bin/false

	# /etc/kbuildd/policy.conf:2: deny = usb_storage
	blacklist usb_storage
	install usb_storage /bin/false
	EOF
	test_cmp expect "$ROOT/etc/modprobe.d/kbuildd-policy.conf" &&
	kb policy apply --dry-run >dry && test_cmp expect dry &&
	kb policy apply 2>err && test_grep "is up to date: 3 modules kept from loading" err
'

test_expect_success 'modprobe --config with that file refuses a denied module, loads an allowed one' '
	conf=$ROOT/etc/modprobe.d/kbuildd-policy.conf &&
	modprobe -n -v -d "$ROOT" -S "$K" --config "$conf" rogue >out 2>&1 &&
	test_grep "^install /bin/false" out && test_grep -v "insmod" out &&
	modprobe -n -v -d "$ROOT" -S "$K" --config "$conf" greeter >out 2>&1 &&
	test_grep "^insmod $MODS/extra/greeter.ko" out
'

test_expect_success 'doctor names the policy line that keeps a module out' '
	test_expect_code 1 kb doctor -k "$K" "$MODS/extra/rogue.ko" >out &&
	test_grep "FAIL  *policy  */etc/kbuildd/policy.conf:2: deny = rogue: the policy keeps it from loading" out &&
	test_grep "fix: if rogue should load, change that line, then run .kbuildd policy apply." out &&
	kb doctor hello -k "$K" >out ; test_grep -v "policy" out
'

test_expect_success 'an allow-list: every module it leaves out is a finding and is blocked' '
	printf "[policy]\nallow = hello provider consumer\nallow = greeter rogue\n" | policy &&
	kb audit >out &&
	test_grep "every module keeps the policy" out &&
	printf "[policy]\nallow = hello provider consumer\n" | policy &&
	test_expect_code 1 kb audit >out &&
	test_grep "greeter ($K): /etc/kbuildd/policy.conf:2: allow = ... does not name it: yet it is loaded" out &&
	test_grep -v "hello ($K)" out
'

test_expect_success 'policy apply refuses to block a loaded module the allow-list leaves out, unless --force' '
	cp "$ROOT/etc/modprobe.d/kbuildd-policy.conf" before &&
	test_expect_code 2 kb policy apply 2>err &&
	test_grep "/etc/kbuildd/policy.conf:2: allow = ... does not name it: module greeter is loaded now" err &&
	test_cmp before "$ROOT/etc/modprobe.d/kbuildd-policy.conf" &&
	kb policy apply --force 2>err &&
	conf=$ROOT/etc/modprobe.d/kbuildd-policy.conf &&
	test_grep "^install greeter /bin/false" "$conf" &&
	test_grep "^install pkgmod /bin/false" "$conf" &&
	test_grep -v "^install hello " "$conf" &&
	modprobe -n -v -d "$ROOT" -S "$K" --config "$conf" consumer >out 2>&1 &&
	test_grep "insmod .*provider.ko" out && test_grep "insmod .*consumer.ko" out
'

test_expect_success 'a kernel arriving through the hook brings its modules into the file' '
	printf "[policy]\ndeny = greeter\n" | policy &&
	kb policy apply >/dev/null 2>&1 &&
	test_grep -v "^install hello " "$ROOT/etc/modprobe.d/kbuildd-policy.conf" &&
	printf "[policy]\ndeny = hel*\n" | policy &&
	KBUILDD="$KBUILDD" KBUILDD_ROOT="$ROOT" sh "$TOP/hooks/debian/postinst.d-kbuildd" "$K" >stdout 2>/dev/null &&
	test ! -s stdout &&
	test_grep "^install hello /bin/false" "$ROOT/etc/modprobe.d/kbuildd-policy.conf"
'

test_expect_success 'a file of that name kbuildd did not write is kept; no policy removes ours' '
	conf=$ROOT/etc/modprobe.d/kbuildd-policy.conf &&
	echo "blacklist mine" >"$conf" &&
	test_expect_code 2 kb policy apply 2>err &&
	test_grep "/etc/modprobe.d/kbuildd-policy.conf is not kbuildd.s" err &&
	test_grep "^blacklist mine$" "$conf" &&
	kb policy apply --force 2>/dev/null && test_grep "^install hello " "$conf" &&
	rm "$ROOT/etc/kbuildd/policy.conf" &&
	kb policy apply 2>err &&
	test_path_is_missing "$conf" &&
	test_expect_code 2 kb policy check 2>err &&
	test_grep "no policy to check" err
'

test_expect_success 'a bad policy.conf: exit 2, each bad line named' '
	printf "[policy]\nallow = hello\nrequire_signed = perhaps\nallow = ../evil\ncolour = blue\n[modules]\njunk\n" | policy &&
	test_expect_code 2 kb audit 2>err &&
	test_grep "policy.conf:3: require_signed = .perhaps.: expected yes or no" err &&
	test_grep "policy.conf:4: .../evil. in allow is no module name" err &&
	test_grep "policy.conf:5: unknown setting .colour." err &&
	test_grep "policy.conf:6: unknown section .\[modules\]." err &&
	test_grep "policy.conf:7: expected .key = value." err &&
	test_expect_code 2 kb policy apply 2>err &&
	test_path_is_missing "$ROOT/etc/modprobe.d/kbuildd-policy.conf" &&
	rm "$ROOT/etc/kbuildd/policy.conf"
'

test_expect_success 'a machine without module support says so' '
	mv "$ROOT/proc/modules" modules.saved &&
	kb audit >out &&
	test_grep "^running kernel $K: no module support (no /proc/modules)" out &&
	test_grep "no module is loaded" out &&
	mv modules.saved "$ROOT/proc/modules"
'

test_expect_success 'bad usage: exit 2' '
	test_expect_code 2 kb audit hello 2>err && test_grep "takes no arguments" err &&
	test_expect_code 2 kb audit --log --installed 2>err && test_grep "takes no --installed" err &&
	test_expect_code 2 kb policy 2>err && test_grep "usage: kbuildd policy apply | check" err &&
	test_expect_code 2 kb audit --log 2>err && test_grep "no /var/log/audit/audit.log" err
'

# Lines as auditd 3.0 writes them on Debian 12 (log_format = ENRICHED: the
# kernel's fields, then 0x1d and the names it resolved), for the package's rule.
GS=$(printf "\035")
test_expect_success 'audit --log: who loaded and unloaded which module, from real record lines' '
	mkdir -p "$ROOT/var/log/audit" &&
	cat >"$ROOT/var/log/audit/audit.log.1" <<-EOF &&
	type=SYSCALL msg=audit(1764590400.120:310): arch=c000003e syscall=313 success=yes exit=0 a0=3 a1=55e1c2a4c4a0 a2=0 a3=0 items=0 ppid=812 pid=813 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="modprobe" exe="/usr/bin/kmod" subj=unconfined key="kbuildd-module"${GS}ARCH=x86_64 SYSCALL=finit_module AUID="alice" UID="root" GID="root" EUID="root" SUID="root" FSUID="root" EGID="root" SGID="root" FSGID="root"
	type=KERN_MODULE msg=audit(1764590400.120:310): name="hello"
	type=PROCTITLE msg=audit(1764590400.120:310): proctitle=6D6F6470726F62650068656C6C6F
	EOF
	cat >"$ROOT/var/log/audit/audit.log" <<-EOF &&
	type=SYSCALL msg=audit(1764594000.004:455): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd items=1 ppid=1 pid=900 auid=4294967295 uid=0 comm="cat" exe="/usr/bin/cat" key=(null)
	type=KERN_MODULE msg=audit(1764594000.500:460): name="rogue"
	type=SYSCALL msg=audit(1764594000.500:460): arch=c000003e syscall=175 success=no exit=-1 a0=7f a1=4000 a2=55 a3=0 items=0 ppid=1 pid=901 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="insmod" exe=2F746D702F6D7920696E736D6F64 subj=unconfined key="kbuildd-module"
	type=SYSCALL msg=audit(1764597600.300:502): arch=c000003e syscall=176 success=yes exit=0 a0=55a1 a1=800 a2=0 a3=0 items=0 ppid=1 pid=950 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=5 comm="rmmod" exe="/usr/bin/kmod" subj=unconfined key="kbuildd-module"
	type=KERN_MODULE msg=audit(1764597600.300:502): name="hello"
	EOF
	kb audit --log >out &&
	cat >expect <<-EOF &&
	TIME                      CALL           MODULE                RESULT   LOGIN       USER          EXECUTABLE
	2025-12-01T12:00:00.120Z  finit_module   hello                 ok       1000 (alice)  0 (root)      /usr/bin/kmod
	2025-12-01T13:00:00.500Z  init_module    rogue                 failed   unset       0             /tmp/my insmod
	2025-12-01T14:00:00.300Z  delete_module  hello                 ok       1001        0             /usr/bin/kmod
	EOF
	test_cmp expect out &&
	kb audit --log --json >out.json &&
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert [(e[\"syscall\"], e[\"module\"], e[\"success\"], e[\"exit\"], e[\"key\"]) for e in d] == [(\"finit_module\", \"hello\", True, 0, \"kbuildd-module\"), (\"init_module\", \"rogue\", False, -1, \"kbuildd-module\"), (\"delete_module\", \"hello\", True, 0, \"kbuildd-module\")], d" out.json
'

test_expect_success 'a hostile module'"'"'s strings and a logged program name cannot steer the terminal' '
	unsigned_copy greeter greeter evil.ko &&
	python3 - evil.ko <<-\EOF &&
	import sys
	data = open(sys.argv[1], "rb").read()
	assert b"license=GPL\0" in data
	open(sys.argv[1], "wb").write(data.replace(b"license=GPL\0", b"license=\x1b]0\0", 1))
	EOF
	cp evil.ko "$MODS/extra/evil.ko" &&
	kb audit --installed -k "$K" >out &&
	test_grep "^evil .*?]0$" out &&
	! grep -q "$(printf "\033")" out &&
	printf "type=SYSCALL msg=audit(1764600000.000:600): arch=c000003e syscall=313 success=yes exit=0 auid=0 uid=0 exe=1B5B324A2F62696E key=\"kbuildd-module\"\n" \
		>"$ROOT/var/log/audit/audit.log" &&
	kb audit --log >out &&
	test_grep "?\[2J/bin$" out &&
	! grep -q "$(printf "\033")" out &&
	rm "$MODS/extra/evil.ko"
'

test_expect_success 'the package records every load: its auditd rules name the three calls' '
	rules=$TOP/hooks/audit-rules.d-kbuildd.rules &&
	test_grep "^-a always,exit -F arch=b64 -S init_module,finit_module,delete_module -k kbuildd-module$" "$rules" &&
	test_grep "^-a always,exit -F arch=b32 -S init_module,finit_module,delete_module -k kbuildd-module$" "$rules"
'

test_done
