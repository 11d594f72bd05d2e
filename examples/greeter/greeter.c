// SPDX-License-Identifier: GPL-2.0
/* greeter: module parameters, listed by "modinfo -F parm", set at load time. */

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static char *greeting = "hello";
module_param(greeting, charp, 0444);
MODULE_PARM_DESC(greeting, "Text to print on load (default: \"hello\")");

static int repeat = 1;
module_param(repeat, int, 0444);
MODULE_PARM_DESC(repeat, "How many times to print it, 0 to 10 (default: 1)");

static int __init greeter_init(void)
{
	int i;

	if (repeat < 0 || repeat > 10) {
		pr_err("greeter: repeat=%d is out of range 0..10\n", repeat);
		return -EINVAL;
	}
	for (i = 0; i < repeat; i++)
		pr_info("greeter: %s\n", greeting);
	return 0;
}

static void __exit greeter_exit(void)
{
	pr_info("greeter: unloaded\n");
}

module_init(greeter_init);
module_exit(greeter_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kbuildd example: print a greeting set by parameters");
MODULE_VERSION("1.0.0");
#ifdef GREETER_EXTRA
MODULE_INFO(greeter_extra, "1");
#endif
/* Never requested; declared so that doctor's firmware check has something to find. */
MODULE_FIRMWARE("kbuildd-example/greeter.bin");
