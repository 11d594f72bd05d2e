# shellcheck shell=bash
# Run real dkms without touching the host: the calling script re-runs itself in
# a private mount namespace where every path dkms writes is scratch.
#   /lib/modules, /usr/src, /etc/dkms  overlays on the host's (so the kernel
#                                      headers and build links stay visible)
#   /var/lib/dkms, TMPDIR              empty scratch dirs
# The scratch dir is removed when the script ends; nothing reaches the host.

# isolate_enter "$@" — first line of a script's work. Outside the namespace it
# re-runs the script inside one and exits with its status; inside, it mounts.
isolate_enter() {
	if [[ -z ${KB_CORPUS_SCRATCH:-} ]]; then
		[[ $EUID -eq 0 ]] || { echo "${0##*/}: must run as root (mount namespace)" >&2; exit 1; }
		ISOLATE_SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/kb-corpus.XXXXXX")
		trap 'rm -rf "$ISOLATE_SCRATCH"' EXIT
		local rc=0
		KB_CORPUS_SCRATCH=$ISOLATE_SCRATCH \
			unshare --mount --propagation private -- "$BASH" "$0" "$@" || rc=$?
		exit "$rc"
	fi
	local s=$KB_CORPUS_SCRATCH d n
	for d in /lib/modules /usr/src /etc/dkms; do
		n=$s/ovl${d//\//-}
		mkdir -p "$n/upper" "$n/work"
		mount -t overlay overlay -o "lowerdir=$d,upperdir=$n/upper,workdir=$n/work" "$d" ||
			{ echo "${0##*/}: overlayfs on $d failed" >&2; exit 1; }
	done
	mkdir -p "$s/dkms" "$s/tmp"
	mount --bind "$s/dkms" /var/lib/dkms
	export TMPDIR=$s/tmp
	# Prove the isolation holds before dkms runs.
	touch /lib/modules/.kb-probe /var/lib/dkms/.kb-probe
	[[ -e $s/ovl-lib-modules/upper/.kb-probe && -e $s/dkms/.kb-probe ]] ||
		{ echo "${0##*/}: mounts do not isolate" >&2; exit 1; }
	rm -f /lib/modules/.kb-probe /var/lib/dkms/.kb-probe
}

# Kernel releases with a usable headers tree, one a line.
corpus_kernels() {
	local d
	for d in /usr/src/linux-headers-*; do
		[[ -f $d/.config && -f $d/Module.symvers && -e /lib/modules/${d#*/linux-headers-}/build ]] &&
			echo "${d#*/linux-headers-}"
	done
	return 0
}

# corpus_add SRC_DIR — place the source where the package puts it and `dkms add`
# it, as the package's postinst does; prints the MODULE/VERSION dkms registered
# (its PACKAGE_NAME may differ from the directory's name).
corpus_add() {
	local before
	cp -a "$1" /usr/src/
	before=$(corpus_added)
	dkms add "/usr/src/${1##*/}" >&2
	comm -13 <(echo "$before") <(corpus_added)
}

corpus_added() {
	local l
	for l in /var/lib/dkms/*/*/source; do
		[[ -L $l ]] || continue
		l=${l%/source}
		echo "${l#/var/lib/dkms/}"
	done | sort
}
