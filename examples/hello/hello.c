// SPDX-License-Identifier: GPL-2.0
/* hello: the smallest example module; it logs a line on load and unload. */

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init hello_init(void)
{
	pr_info("hello: loaded\n");
	return 0;
}

static void __exit hello_exit(void)
{
	pr_info("hello: unloaded\n");
}

module_init(hello_init);
module_exit(hello_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kbuildd example: print a line on load and unload");
MODULE_VERSION("1.0.0");
