# abi-kernels.sh - the headers of a second Debian ABI name of one upstream
# kernel release, for the reuse tests. Source after test-lib.sh.
#
# Debian re-uploads an upstream release under a new ABI name
# (linux-headers-6.1.0-56-amd64 and -57 are both 6.1.192). older_abi_headers
# finds, for the installed headers of kernel $1, the newest older ABI name
# of the same upstream version that apt can download, and unpacks its
# -amd64 and -common packages (apt-get download + dpkg-deb -x: never
# installed) into the test cache, keyed by package name and version:
#   $CACHE/older-headers-RELEASE-VERSION/root/usr/src/linux-headers-RELEASE{,-common-dir}
# Prints that release. Its scripts and tools links then lead to the host's
# linux-kbuild of the same series, which the installed headers use too.
#
# abi_place RELEASE ROOT DIR: place the cached headers of RELEASE in DIR
# (hard links: nothing copied, the cache untouched while a test edits only
# files it replaced) and make ROOT/lib/modules/RELEASE/build lead there.

ABI_CACHE=${KBUILDD_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbuildd-test}

# upstream_of VERSION: a Debian kernel package version without its revision (6.1.192-3 -> 6.1.192)
upstream_of () {
	echo "${1%-*}"
}

older_abi_headers () {
	_oa_new=$1
	_oa_flavour=${_oa_new##*-}
	_oa_prefix=${_oa_new%-*-*}
	_oa_abi=${_oa_new%-*}
	_oa_abi=${_oa_abi##*-}
	case $_oa_abi in
	''|*[!0-9]*) echo "older_abi_headers: no ABI number in '$_oa_new'" >&2; return 1 ;;
	esac
	_oa_have=$(dpkg-query -W -f '${Version}' "linux-headers-$_oa_new" 2>/dev/null) || {
		echo "older_abi_headers: linux-headers-$_oa_new is not installed" >&2
		return 1
	}
	_oa_n=$((_oa_abi - 1))
	while [ "$_oa_n" -ge $((_oa_abi - 4)) ] && [ "$_oa_n" -gt 0 ]; do
		_oa_rel=$_oa_prefix-$_oa_n-$_oa_flavour
		_oa_ver=$(apt-cache madison "linux-headers-$_oa_rel" 2>/dev/null |
			awk -F'|' 'NR == 1 { gsub(/ /, "", $2); print $2 }')
		if [ -n "$_oa_ver" ] && [ "$(upstream_of "$_oa_ver")" = "$(upstream_of "$_oa_have")" ]; then
			abi_fetch_ "$_oa_rel" "$_oa_ver" && echo "$_oa_rel"
			return
		fi
		_oa_n=$((_oa_n - 1))
	done
	echo "older_abi_headers: no older ABI of $(upstream_of "$_oa_have") than $_oa_new known to apt" >&2
	return 1
}

abi_fetch_ () {
	_af_dir=$ABI_CACHE/older-headers-$1-$2
	[ -f "$_af_dir/.complete" ] && return 0
	_af_common=$(apt-cache depends "linux-headers-$1=$2" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-headers-[^ ]*-common\)$/\1/p' | head -n 1)
	[ -n "$_af_common" ] || { echo "abi_fetch: linux-headers-$1 depends on no -common" >&2; return 1; }
	rm -rf "$_af_dir.part" && mkdir -p "$_af_dir.part/debs" "$_af_dir.part/root" &&
	(cd "$_af_dir.part/debs" && apt-get download "linux-headers-$1=$2" "$_af_common=$2") \
		>"$_af_dir.part/download.log" 2>&1 || {
		cat "$_af_dir.part/download.log" >&2
		return 1
	}
	for _af_deb in "$_af_dir.part"/debs/*.deb; do
		dpkg-deb -x "$_af_deb" "$_af_dir.part/root" || return 1
	done
	# their relative links lead to the host's linux-kbuild of the series
	for _af_tree in "$_af_dir.part"/root/usr/src/*; do
		for _af_l in "$_af_tree"/scripts "$_af_tree"/tools; do
			[ -L "$_af_l" ] || continue
			_af_to=$(readlink "$_af_l")
			case $_af_to in /*) continue ;; esac
			ln -sfn "$(realpath -m "/usr/src/${_af_tree##*/}/$_af_to")" "$_af_l" || return 1
		done
	done
	rm -rf "$_af_dir.part/debs" "$_af_dir" && touch "$_af_dir.part/.complete" &&
	mv "$_af_dir.part" "$_af_dir"
}

abi_place () {
	_ap_src=$(ls -d "$ABI_CACHE"/older-headers-"$1"-*/root/usr/src 2>/dev/null | head -n 1)
	[ -n "$_ap_src" ] || { echo "abi_place: $1 is not cached" >&2; return 1; }
	_ap_common=$(sed -n 's|^include .*/\(linux-headers-[^/]*\)/Makefile$|\1|p' \
		"$_ap_src/linux-headers-$1/Makefile")
	mkdir -p "$3" &&
	{ cp -al "$_ap_src/linux-headers-$1" "$_ap_src/$_ap_common" "$3/" 2>/dev/null ||
	  cp -a "$_ap_src/linux-headers-$1" "$_ap_src/$_ap_common" "$3/"; } &&
	rm "$3/linux-headers-$1/Makefile" &&
	echo "include $3/$_ap_common/Makefile" >"$3/linux-headers-$1/Makefile" &&
	mkdir -p "$2/lib/modules/$1" &&
	ln -sfn "$3/linux-headers-$1" "$2/lib/modules/$1/build"
}

# abi_edit FILE CMD...: change FILE, one of a placed tree's hard links, into a file of its own
abi_edit () {
	_ae_f=$1
	shift
	cp "$_ae_f" "$_ae_f.new" && "$@" "$_ae_f.new" && mv "$_ae_f.new" "$_ae_f"
}
