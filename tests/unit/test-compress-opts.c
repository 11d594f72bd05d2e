/* Unit tests for DKMS's compress_*_opts, read as xz and zstd read them (builder/dkms/compress-opts.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <lzma.h>
#include <zstd.h>

#include "compress.h"

static struct kb_compress_opts parsed(enum kb_compress how, const char *opts)
{
	struct kb_compress_opts o;
	char why[256] = "";

	kb_compress_opts_init(&o);
	if (kb_compress_opts_parse(how, opts, &o, why, sizeof(why)) < 0)
		fail_msg("'%s' was refused: %s", opts, why);
	return o;
}

static void assert_refused(enum kb_compress how, const char *opts, const char *word)
{
	struct kb_compress_opts o;
	char why[256] = "";

	kb_compress_opts_init(&o);
	assert_int_equal(kb_compress_opts_parse(how, opts, &o, why, sizeof(why)), -EINVAL);
	if (!strstr(why, word))
		fail_msg("refusing '%s' should name '%s', said: %s", opts, word, why);
}

static void defaults_are_dkms_defaults_and_kbuilds(void **state)
{
	struct kb_compress_opts o = parsed(KB_COMPRESS_XZ, "--check=crc32 --lzma2=dict=1MiB");
	struct kb_compress_opts d;

	(void)state;
	kb_compress_opts_init(&d);
	assert_int_equal(o.xz_check, LZMA_CHECK_CRC32);
	assert_true(o.xz_custom);
	assert_int_equal(o.xz_custom_preset, 6);
	assert_int_equal(o.xz_dict, 1 << 20);
	assert_int_equal(d.xz_check, o.xz_check);
	assert_int_equal(d.xz_dict, o.xz_dict);
	o = parsed(KB_COMPRESS_ZSTD, "-q --rm -T0");
	assert_int_equal(o.zstd_level, 3);
}

static void xz_options_start_from_xz_own_defaults(void **state)
{
	struct kb_compress_opts o = parsed(KB_COMPRESS_XZ, "-9");

	(void)state;
	/* DKMS runs `xz $compress_xz_opts`: without --check, xz's CRC64 */
	assert_int_equal(o.xz_check, LZMA_CHECK_CRC64);
	assert_false(o.xz_custom);
	assert_int_equal(o.xz_preset, 9);
	o = parsed(KB_COMPRESS_XZ, "");
	assert_int_equal(o.xz_preset, 6);
	assert_int_equal(o.xz_check, LZMA_CHECK_CRC64);
}

static void xz_preset_after_a_chain_clears_it_as_xz_does(void **state)
{
	struct kb_compress_opts o = parsed(KB_COMPRESS_XZ, "--check=crc32 --lzma2=dict=1MiB -6");

	(void)state;
	assert_false(o.xz_custom);
	assert_int_equal(o.xz_preset, 6);
	o = parsed(KB_COMPRESS_XZ, "-9e --lzma2=preset=3e,dict=64KiB,nice=64");
	assert_true(o.xz_custom);
	assert_int_equal(o.xz_custom_preset, 3);
	assert_true(o.xz_custom_extreme);
	assert_int_equal(o.xz_dict, 64 << 10);
	assert_int_equal(o.xz_nice, 64);
}

static void xz_reads_checks_sizes_and_bundles(void **state)
{
	struct kb_compress_opts o = parsed(KB_COMPRESS_XZ, "-qT0 -C sha256 --threads 2 -k -f");

	(void)state;
	assert_int_equal(o.xz_check, LZMA_CHECK_SHA256);
	o = parsed(KB_COMPRESS_XZ, "--check none --lzma2=dict=2M");
	assert_int_equal(o.xz_check, LZMA_CHECK_NONE);
	assert_int_equal(o.xz_dict, 2 << 20);
	o = parsed(KB_COMPRESS_XZ, "--lzma2=dict=4096");
	assert_int_equal(o.xz_dict, 4096);
	o = parsed(KB_COMPRESS_XZ, "-12"); /* one digit per level: -1 then -2 */
	assert_int_equal(o.xz_preset, 2);
}

static void xz_refuses_what_it_cannot_apply(void **state)
{
	(void)state;
	assert_refused(KB_COMPRESS_XZ, "--format=lzma", "--format=lzma");
	assert_refused(KB_COMPRESS_XZ, "--x86 --lzma2", "--x86");
	assert_refused(KB_COMPRESS_XZ, "--check=crc16", "--check=crc16");
	assert_refused(KB_COMPRESS_XZ, "--lzma2=dict=1mib", "1mib");
	assert_refused(KB_COMPRESS_XZ, "--lzma2=dict=4095", "4095");
	assert_refused(KB_COMPRESS_XZ, "--lzma2=mf=bt4", "mf");
	assert_refused(KB_COMPRESS_XZ, "--lzma2 --lzma2=dict=1M", "second");
	assert_refused(KB_COMPRESS_XZ, "-9 module.ko", "module.ko");
	assert_refused(KB_COMPRESS_XZ, "-C", "needs a value");
	assert_refused(KB_COMPRESS_XZ, "-X", "-X");
}

static void zstd_reads_levels_ultra_and_checksums(void **state)
{
	struct kb_compress_opts o = parsed(KB_COMPRESS_ZSTD, "-19");

	(void)state;
	assert_int_equal(o.zstd_level, 19);
	assert_true(o.zstd_checksum); /* zstd's own default */
	o = parsed(KB_COMPRESS_ZSTD, "-20");
	assert_int_equal(o.zstd_level, 19); /* as zstd: capped without --ultra */
	o = parsed(KB_COMPRESS_ZSTD, "-22 --ultra --no-check");
	assert_int_equal(o.zstd_level, 22);
	assert_false(o.zstd_checksum);
	o = parsed(KB_COMPRESS_ZSTD, "--fast=5 -qT0");
	assert_int_equal(o.zstd_level, -5);
	o = parsed(KB_COMPRESS_ZSTD, "-q19");
	assert_int_equal(o.zstd_level, 19);
}

static void zstd_and_gzip_refuse_what_they_cannot_apply(void **state)
{
	(void)state;
	assert_refused(KB_COMPRESS_ZSTD, "--long=27", "--long=27");
	assert_refused(KB_COMPRESS_ZSTD, "-23", "1 to 22");
	assert_refused(KB_COMPRESS_ZSTD, "-D dict", "-D");
	assert_refused(KB_COMPRESS_GZIP, "--rsyncable", "--rsyncable");
	parsed(KB_COMPRESS_GZIP, "-9 -n");
}

/* What the options say is what the file holds. */
static void compressing_applies_the_options(void **state)
{
	static const char data[] = "kbuildd compresses modules as the admin said";
	struct kb_compress_opts o = parsed(KB_COMPRESS_XZ, "--check=sha256 --lzma2=dict=256KiB");
	struct kb_buf out = KB_BUF_INIT, back = KB_BUF_INIT;
	lzma_stream_flags flags;

	(void)state;
	assert_int_equal(kb_compress(KB_COMPRESS_XZ, &o, data, sizeof(data), &out), 0);
	assert_true(out.len > LZMA_STREAM_HEADER_SIZE);
	assert_int_equal(lzma_stream_header_decode(&flags, (const uint8_t *)out.buf), LZMA_OK);
	assert_int_equal(flags.check, LZMA_CHECK_SHA256);
	assert_int_equal(kb_decompress(&out, &back), 0);
	assert_memory_equal(back.buf, data, sizeof(data));
	o = parsed(KB_COMPRESS_ZSTD, "-19 --no-check");
	assert_int_equal(kb_compress(KB_COMPRESS_ZSTD, &o, data, sizeof(data), &out), 0);
	/* frame header descriptor: bit 2 is the content checksum flag */
	assert_int_equal(((const unsigned char *)out.buf)[4] & 4, 0);
	o = parsed(KB_COMPRESS_ZSTD, "-3");
	assert_int_equal(kb_compress(KB_COMPRESS_ZSTD, &o, data, sizeof(data), &out), 0);
	assert_int_equal(((const unsigned char *)out.buf)[4] & 4, 4);
	assert_int_equal(kb_decompress(&out, &back), 0);
	assert_memory_equal(back.buf, data, sizeof(data));
	kb_buf_release(&out);
	kb_buf_release(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_dkms_defaults_and_kbuilds),
		cmocka_unit_test(xz_options_start_from_xz_own_defaults),
		cmocka_unit_test(xz_preset_after_a_chain_clears_it_as_xz_does),
		cmocka_unit_test(xz_reads_checks_sizes_and_bundles),
		cmocka_unit_test(xz_refuses_what_it_cannot_apply),
		cmocka_unit_test(zstd_reads_levels_ultra_and_checksums),
		cmocka_unit_test(zstd_and_gzip_refuse_what_they_cannot_apply),
		cmocka_unit_test(compressing_applies_the_options),
	};

	return cmocka_run_group_tests_name("compress-opts", tests, NULL, NULL);
}
