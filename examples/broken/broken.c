// SPDX-License-Identifier: GPL-2.0
/* broken: fails to compile on purpose, to show how a build failure looks. */

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init broken_init(void)
{
	/*
	 * Deliberate error: this function is declared nowhere, so the compiler
	 * stops with "implicit declaration of function". Do not "fix" it.
	 */
	return kbuildd_deliberately_undeclared_function();
}

static void __exit broken_exit(void)
{
}

module_init(broken_init);
module_exit(broken_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kbuildd example: a module that never compiles");
MODULE_VERSION("1.0.0");
