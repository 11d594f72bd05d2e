// SPDX-License-Identifier: GPL-2.0
/* provider: exports a symbol that another out-of-tree module links against. */

#include <linux/export.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

#include "provider.h"

int provider_add(int a, int b)
{
	return a + b;
}
EXPORT_SYMBOL_GPL(provider_add);

static int __init provider_init(void)
{
	pr_info("provider: loaded\n");
	return 0;
}

static void __exit provider_exit(void)
{
	pr_info("provider: unloaded\n");
}

module_init(provider_init);
module_exit(provider_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kbuildd example: export provider_add() to other modules");
MODULE_VERSION("1.0.0");
