# headers_bind HEADERS DIR [SEEN]: in the caller's own private mount
# namespace, the kernel header tree HEADERS placed below DIR as Debian lays
# it out, read-only and by bind mounts (nothing copied, the host untouched):
# usr/src/NAME, whose Makefile then includes the -common tree placed beside
# it, and usr/lib/linux-kbuild-V, where its relative scripts link leads.
# SEEN is DIR as kbuildd will see it (from inside a chroot). Prints the
# placed build tree, as seen. Headers that are one tree are placed alone.
headers_bind () {
	_hb_seen=${3:-$2}
	_hb_name=${1##*/}
	_hb_common=$(sed -n 's|^include \(/.*\)/Makefile$|\1|p' "$1/Makefile")
	headers_place_ "$1" "$2/usr/src/$_hb_name" || return 1
	if [ -n "$_hb_common" ]; then
		headers_place_ "$_hb_common" "$2/usr/src/${_hb_common##*/}" &&
		_hb_makefile=$(mktemp "${TMPDIR:-/tmp}/kbuildd-makefile.XXXXXX") &&
		sed "s|^include ${_hb_common%/*}/|include $_hb_seen/usr/src/|" "$1/Makefile" \
			>"$_hb_makefile" &&
		chmod 644 "$_hb_makefile" &&
		mount --bind "$_hb_makefile" "$2/usr/src/$_hb_name/Makefile" &&
		rm "$_hb_makefile" || return 1
	fi
	if [ -L "$1/scripts" ]; then
		_hb_kbuild=$(readlink -f "$1/scripts") &&
		_hb_kbuild=${_hb_kbuild%/scripts} &&
		headers_place_ "$_hb_kbuild" "$2/usr/lib/${_hb_kbuild##*/}" || return 1
	fi
	echo "$_hb_seen/usr/src/$_hb_name"
}

headers_place_ () {
	mkdir -p "$2" &&
	mount --bind "$1" "$2" &&
	mount -o remount,bind,ro "$2"
}
