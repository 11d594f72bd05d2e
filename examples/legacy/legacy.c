// SPDX-License-Identifier: GPL-2.0
/* legacy: an old-API driver (no_llseek) that only builds before Linux 6.12. */

#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

static const char legacy_msg[] = "legacy\n";

static ssize_t legacy_read(struct file *file, char __user *buf, size_t count,
			   loff_t *ppos)
{
	return simple_read_from_buffer(buf, count, ppos, legacy_msg,
				       sizeof(legacy_msg) - 1);
}

/*
 * no_llseek was removed in Linux 6.12 (a NULL .llseek means the same there),
 * so this file no longer compiles on 6.12: its recipe says "kernels = < 6.12".
 */
static const struct file_operations legacy_fops = {
	.owner = THIS_MODULE,
	.read = legacy_read,
	.llseek = no_llseek,
};

static struct miscdevice legacy_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "legacy",
	.fops = &legacy_fops,
	.mode = 0444,
};

static int __init legacy_init(void)
{
	return misc_register(&legacy_dev);
}

static void __exit legacy_exit(void)
{
	misc_deregister(&legacy_dev);
}

module_init(legacy_init);
module_exit(legacy_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kbuildd example: /dev/legacy, for kernels before 6.12");
MODULE_VERSION("1.0.0");
