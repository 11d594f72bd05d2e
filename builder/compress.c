/* Module compression exactly as kbuild's Makefile.modinst does it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <lzma.h>
#include <zstd.h>

#include "base/limits.h"
#include "compress.h"
#include <fcntl.h>
#include <string.h>
#include "base/log.h"

/* The LZMA2 options xz would use for @o: its -N preset, or the --lzma2 chain. */
static int xz_options(const struct kb_compress_opts *o, lzma_options_lzma *opt)
{
	unsigned preset = o->xz_custom ? o->xz_custom_preset : o->xz_preset;
	bool extreme = o->xz_custom ? o->xz_custom_extreme : o->xz_extreme;

	if (lzma_lzma_preset(opt, preset | (extreme ? LZMA_PRESET_EXTREME : 0)))
		return -EINVAL;
	if (!o->xz_custom)
		return 0;
	if (o->xz_dict)
		opt->dict_size = o->xz_dict;
	if (o->xz_lc >= 0)
		opt->lc = (uint32_t)o->xz_lc;
	if (o->xz_lp >= 0)
		opt->lp = (uint32_t)o->xz_lp;
	if (o->xz_pb >= 0)
		opt->pb = (uint32_t)o->xz_pb;
	if (o->xz_nice >= 0)
		opt->nice_len = (uint32_t)o->xz_nice;
	if (o->xz_depth >= 0)
		opt->depth = (uint32_t)o->xz_depth;
	return 0;
}

/*
 * The stream encoder, as xz(1) runs it: lzma_stream_buffer_encode() would
 * record the sizes in the block header, four bytes xz never writes, and
 * the module would not be byte for byte what kbuild installs.
 */
static int compress_xz(const struct kb_compress_opts *o, const void *data, size_t len,
		       struct kb_buf *out)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	lzma_filter filters[2];
	size_t bound = lzma_stream_buffer_bound(len);
	uint8_t *buf;
	lzma_ret ret;
	int r;

	if (xz_options(o, &opt) < 0)
		return -EINVAL;
	filters[0] = (lzma_filter){ .id = LZMA_FILTER_LZMA2, .options = &opt };
	filters[1] = (lzma_filter){ .id = LZMA_VLI_UNKNOWN, .options = NULL };
	kb_buf_reset(out);
	buf = malloc(bound);
	if (!buf)
		return -ENOMEM;
	ret = lzma_stream_encoder(&strm, filters, (lzma_check)o->xz_check);
	if (ret == LZMA_OK) {
		strm.next_in = data;
		strm.avail_in = len;
		strm.next_out = buf;
		strm.avail_out = bound;
		ret = lzma_code(&strm, LZMA_FINISH);
	}
	r = ret == LZMA_STREAM_END ? kb_buf_add(out, buf, bound - strm.avail_out) :
	    ret == LZMA_MEM_ERROR  ? -ENOMEM :
				     -EIO;
	lzma_end(&strm);
	free(buf);
	return r;
}

static int compress_zstd(const struct kb_compress_opts *o, const void *data, size_t len,
			 struct kb_buf *out)
{
	size_t bound = ZSTD_compressBound(len), n;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	void *buf = malloc(bound);
	int r = -EIO;

	if (!buf || !cctx) {
		r = -ENOMEM;
		goto out;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, o->zstd_level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, o->zstd_checksum)))
		goto out;
	n = ZSTD_compress2(cctx, buf, bound, data, len);
	if (ZSTD_isError(n))
		goto out;
	kb_buf_reset(out);
	r = kb_buf_add(out, buf, n);
out:
	ZSTD_freeCCtx(cctx);
	free(buf);
	return r;
}

int kb_compress(enum kb_compress how, const struct kb_compress_opts *o, const void *data,
		size_t len, struct kb_buf *out)
{
	struct kb_compress_opts dflt;

	if (!o) {
		kb_compress_opts_init(&dflt);
		o = &dflt;
	}
	switch (how) {
	case KB_COMPRESS_NONE:
		kb_buf_reset(out);
		return kb_buf_add(out, data, len);
	case KB_COMPRESS_XZ:
		return compress_xz(o, data, len, out);
	case KB_COMPRESS_ZSTD:
		return compress_zstd(o, data, len, out);
	case KB_COMPRESS_GZIP:
	default:
		return kb_err(-KB_E_INPUT,
			      "gzip-compressed modules are not supported: kmod on "
			      "this system cannot load .ko.gz; set [install] compress = xz or zstd");
	}
}

static int decompress_xz(const struct kb_buf *in, struct kb_buf *out)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	uint8_t chunk[65536];
	lzma_ret ret;
	int r = 0;

	if (lzma_stream_decoder(&strm, KB_MAX_MODULE_SIZE, 0) != LZMA_OK)
		return -ENOMEM;
	strm.next_in = (const uint8_t *)in->buf;
	strm.avail_in = in->len;
	do {
		strm.next_out = chunk;
		strm.avail_out = sizeof(chunk);
		ret = lzma_code(&strm, LZMA_FINISH);
		if (ret != LZMA_OK && ret != LZMA_STREAM_END) {
			r = -EBADMSG;
			break;
		}
		r = kb_buf_add(out, chunk, sizeof(chunk) - strm.avail_out);
	} while (r >= 0 && ret != LZMA_STREAM_END);
	lzma_end(&strm);
	return r;
}

static int decompress_zstd(const struct kb_buf *in, struct kb_buf *out)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer src = { in->buf, in->len, 0 };
	char chunk[65536];
	int r = 0;

	if (!ds)
		return -ENOMEM;
	while (r >= 0 && src.pos < src.size) {
		ZSTD_outBuffer dst = { chunk, sizeof(chunk), 0 };
		size_t n = ZSTD_decompressStream(ds, &dst, &src);

		if (ZSTD_isError(n)) {
			r = -EBADMSG;
			break;
		}
		r = kb_buf_add(out, chunk, dst.pos);
		if (n == 0 && src.pos == src.size)
			break;
	}
	ZSTD_freeDStream(ds);
	return r;
}

int kb_decompress(const struct kb_buf *in, struct kb_buf *out)
{
	kb_buf_reset(out);
	if (in->len >= 6 && !memcmp(in->buf,
				    "\xfd"
				    "7zXZ\0",
				    6))
		return decompress_xz(in, out);
	if (in->len >= 4 && !memcmp(in->buf, "\x28\xb5\x2f\xfd", 4))
		return decompress_zstd(in, out);
	return kb_buf_add(out, in->buf ? in->buf : "", in->len);
}

int kb_decompress_file(const char *path, struct kb_buf *out)
{
	struct kb_buf raw = KB_BUF_INIT_MAX(KB_MAX_MODULE_SIZE);
	int r = kb_read_file(AT_FDCWD, path, KB_MAX_MODULE_SIZE, &raw);

	if (r < 0) {
		if (r != -KB_E_INPUT)
			r = kb_err(-KB_E_INPUT, "cannot read module '%s': %s", path,
				   kb_strerror(r));
		goto out;
	}
	r = kb_decompress(&raw, out);
	if (r == -EBADMSG)
		r = kb_err(-KB_E_INPUT, "'%s' is damaged: it does not decompress", path);
out:
	kb_buf_release(&raw);
	return r;
}
