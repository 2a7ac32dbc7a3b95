// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: tcptop-view's data layer without curses. Snapshots are read as the reader
 * thread reads them (feed.c), installed in a view, then filtered, sorted, laid out and formatted
 * as the drawing layer would; keys, widths and modes come from the input's first bytes. */
#include <curses.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "stream.h"
#include "table.h"
#include "view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys the table reacts to (view.c), picked by the input. */
static const int keys[] = { KEY_UP,	   KEY_DOWN, KEY_PPAGE, KEY_NPAGE, KEY_HOME,
			    KEY_END,	   KEY_LEFT, KEY_RIGHT, '<',	   '>',
			    'r',	   'u',	     'p',	'\n',	   27,
			    '?',	   '/',	     'a',	'1',	   ':',
			    KEY_BACKSPACE, '[',	     ']',	'c' };

/* Lay out and format every row shown: each line is as wide as the title line. */
static void draw(struct view *v, int cols, const struct strtab *strs)
{
	static char line[LINE_MAX_BYTES], title[LINE_MAX_BYTES];
	struct layout l;
	size_t tw;

	struct row_style st = { .st = strs, .raw_units = v->raw_units };

	table_layout(&v->t, cols, v->raw_units, 0, &l);
	table_format_title(&l, v->raw_units, title, sizeof(title));
	tw = text_width(title);
	for (size_t i = 0; i < v->t.n && i < 64; i++) {
		table_format_row(v->t.v[i], &l, &st, line, sizeof(line));
		if (text_width(line) != tw) {
			fprintf(stderr, "[%s]\n[%s]\n", title, line);
			abort();
		}
	}
	if (v->t.n && !table_sorted(&v->t)) {
		fprintf(stderr, "unsorted %d\n", v->t.sort);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rec r;
	uint8_t k0 = size > 0 ? data[0] : 0, k1 = size > 1 ? data[1] : 0;
	struct view v = { .t.sort = k0 % NCOLS, .t.reverse = k0 & 0x80, .page = 1 + k1 % 40 };
	bool ascii_only = k1 & 0x80;
	int cols = 20 + (k0 ^ k1) % 300;
	struct stream_reader *rd = stream_reader_mem(data, size, "fuzz");
	struct strtab *strs = strtab_new(ascii_only);
	struct snapreader sr = { 0 };
	size_t ki = 0;
	bool started = false;

	if (!rd || !strs)
		abort();
	table_utf8 = !ascii_only;
	stream_reader_expect(rd, STREAM_KIND_SNAPSHOT);
	/* the reader thread's loop (feed.c) */
	while (stream_read(rd, &r) == STREAM_OK) {
		struct snapshot *s;

		if (!started) {
			snapreader_start(&sr, strs, stream_reader_header(rd));
			started = true;
		}
		s = snapreader_step(&sr, rd, &r);
		if (!s)
			continue;
		view_install(&v, s);
		draw(&v, cols, strs);
		/* a few keys between snapshots, as a user would press them */
		for (int i = 0; i < 3; i++, ki++) {
			enum action a = view_key(
				&v, keys[data[ki % size] % (sizeof(keys) / sizeof(keys[0]))]);

			if (a == ACT_REBUILD)
				view_rebuild(&v);
			draw(&v, cols, strs);
		}
	}
	snapreader_free(&sr);
	view_free(&v);
	strtab_free(strs);
	stream_reader_free(rd);
	return 0;
}
