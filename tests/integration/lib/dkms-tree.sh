# dkms_tree DIR MODULE[:VERSION]...: a DKMS source tree in DIR with one tiny
# module per argument (MODULE.c, listed in Kbuild). VERSION becomes the
# module's MODULE_VERSION; "-" leaves it out, "" gives an empty one. The
# test writes DIR/dkms.conf itself, next to what it checks.
dkms_tree () {
	_dt_dir=$1
	shift
	mkdir -p "$_dt_dir" || return 1
	: >"$_dt_dir/Kbuild"
	for _dt_mod in "$@"; do
		_dt_name=${_dt_mod%%:*}
		_dt_ver=1.0
		case $_dt_mod in *:*) _dt_ver=${_dt_mod#*:} ;; esac
		echo "obj-m += $_dt_name.o" >>"$_dt_dir/Kbuild"
		{
			echo '#include <linux/module.h>'
			echo "static int __init ${_dt_name}_init(void) { return 0; }"
			echo "static void __exit ${_dt_name}_exit(void) { }"
			echo "module_init(${_dt_name}_init);"
			echo "module_exit(${_dt_name}_exit);"
			echo 'MODULE_LICENSE("GPL");'
			echo "MODULE_DESCRIPTION(\"kbuildd DKMS test module $_dt_name\");"
			[ "$_dt_ver" = - ] || echo "MODULE_VERSION(\"$_dt_ver\");"
		} >"$_dt_dir/$_dt_name.c"
	done
}
