// SPDX-License-Identifier: GPL-2.0
/* consumer: calls a symbol exported by another out-of-tree module, provider. */

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

/*
 * From ../provider/provider.h. A copy, not an #include: kbuildd builds each
 * recipe in its own copied directory, so the provider's tree is not beside
 * this one. The symbol itself is resolved through the provider build's
 * Module.symvers, passed in KBUILD_EXTRA_SYMBOLS.
 */
int provider_add(int a, int b);

static int __init consumer_init(void)
{
	pr_info("consumer: provider_add(2, 3) = %d\n", provider_add(2, 3));
	return 0;
}

static void __exit consumer_exit(void)
{
	pr_info("consumer: unloaded\n");
}

module_init(consumer_init);
module_exit(consumer_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kbuildd example: call a function exported by provider");
MODULE_VERSION("1.0.0");
