// SPDX-License-Identifier: GPL-2.0
/*
 * ticker: a driver packaged for DKMS, as vendors ship them — a dkms.conf
 * and no kbuildd recipe. It counts the seconds since it was loaded, readable
 * in /sys/module/ticker/parameters/seconds.
 */
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static unsigned long loaded_at;

static int seconds_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lu\n", (jiffies - loaded_at) / HZ);
}

static const struct kernel_param_ops seconds_ops = {
	.get = seconds_get,
};
module_param_cb(seconds, &seconds_ops, NULL, 0444);
MODULE_PARM_DESC(seconds, "seconds since the module was loaded");

static int __init ticker_init(void)
{
	loaded_at = jiffies;
	return 0;
}

static void __exit ticker_exit(void)
{
}

module_init(ticker_init);
module_exit(ticker_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kbuildd example: a driver that ships only a dkms.conf");
MODULE_VERSION("2.1");
