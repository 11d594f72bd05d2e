/* Module compression exactly as kbuild's Makefile.modinst does it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <lzma.h>
#include <zstd.h>

#include "compress.h"
#include "log.h"

static int compress_xz(const void *data, size_t len, struct kb_buf *out)
{
	lzma_options_lzma opt;
	lzma_filter filters[2];
	size_t bound = lzma_stream_buffer_bound(len), pos = 0;
	int r;

	if (lzma_lzma_preset(&opt, LZMA_PRESET_DEFAULT))
		return -EINVAL;
	opt.dict_size = 1 << 20;	/* xz --lzma2=dict=1MiB */
	filters[0] = (lzma_filter){ .id = LZMA_FILTER_LZMA2, .options = &opt };
	filters[1] = (lzma_filter){ .id = LZMA_VLI_UNKNOWN, .options = NULL };
	kb_buf_reset(out);
	{
		uint8_t *buf = malloc(bound);

		if (!buf)
			return -ENOMEM;
		if (lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, data, len, buf, &pos,
					      bound) != LZMA_OK) {
			free(buf);
			return -EIO;
		}
		r = kb_buf_add(out, buf, pos);
		free(buf);
	}
	return r;
}

static int compress_zstd(const void *data, size_t len, struct kb_buf *out)
{
	size_t bound = ZSTD_compressBound(len), n;
	void *buf = malloc(bound);
	int r;

	if (!buf)
		return -ENOMEM;
	n = ZSTD_compress(buf, bound, data, len, ZSTD_CLEVEL_DEFAULT);
	if (ZSTD_isError(n)) {
		free(buf);
		return -EIO;
	}
	kb_buf_reset(out);
	r = kb_buf_add(out, buf, n);
	free(buf);
	return r;
}

int kb_compress(enum kb_compress how, const void *data, size_t len, struct kb_buf *out)
{
	switch (how) {
	case KB_COMPRESS_NONE:
		kb_buf_reset(out);
		return kb_buf_add(out, data, len);
	case KB_COMPRESS_XZ:
		return compress_xz(data, len, out);
	case KB_COMPRESS_ZSTD:
		return compress_zstd(data, len, out);
	case KB_COMPRESS_GZIP:
	default:
		return kb_err(-KB_E_INPUT, "gzip-compressed modules are not supported: kmod on "
			      "this system cannot load .ko.gz; set [install] compress = xz or zstd");
	}
}
