/* Module.symvers tables: which module exports a symbol, with which CRC. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/util.h"
#include "symvers.h"

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kb_symvers_entry *)a)->symbol,
		      ((const struct kb_symvers_entry *)b)->symbol);
}

int kb_symvers_parse(struct kb_symvers *s, const char *text, size_t len)
{
	size_t lines = 1, alloc;
	char *save = NULL;

	memset(s, 0, sizeof(*s));
	s->text = strndup(text, len);
	if (!s->text)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	alloc = lines;
	s->v = calloc(alloc, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	/* "0x1234abcd<TAB>symbol<TAB>module<TAB>EXPORT_SYMBOL[<TAB>namespace]" */
	for (char *line = strtok_r(s->text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *crc = line, *sym, *mod, *end;

		sym = strchr(crc, '\t');
		if (!sym)
			continue;
		*sym++ = '\0';
		mod = strchr(sym, '\t');
		if (!mod)
			continue;
		*mod++ = '\0';
		end = strchr(mod, '\t');
		if (end)
			*end = '\0';
		s->v[s->n].symbol = sym;
		s->v[s->n].module = mod;
		s->v[s->n].crc = strtoull(crc, NULL, 16);
		s->n++;
	}
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), entry_cmp);
	return 0;
}

int kb_symvers_load(struct kb_symvers *s, const char *path)
{
	struct kb_buf text = KB_BUF_INIT_MAX(KB_MAX_SYMVERS_SIZE);
	int r = kb_read_file(AT_FDCWD, path, KB_MAX_SYMVERS_SIZE, &text);

	memset(s, 0, sizeof(*s));
	if (r >= 0)
		r = kb_symvers_parse(s, kb_buf_str(&text), text.len);
	kb_buf_release(&text);
	return r;
}

const struct kb_symvers_entry *kb_symvers_find(const struct kb_symvers *s, const char *symbol)
{
	struct kb_symvers_entry key = { .symbol = (char *)symbol };

	if (!s->n)
		return NULL;
	return bsearch(&key, s->v, s->n, sizeof(*s->v), entry_cmp);
}

void kb_symvers_release(struct kb_symvers *s)
{
	free(s->v);
	free(s->text);
	memset(s, 0, sizeof(*s));
}
