// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the stream reader (and the encoder and sanitiser behind it, and the table
 * delta snapshots apply to) on any bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "snaptab.h"
#include "stream.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t enc[STREAM_RECORD_MAX];
	static struct rec r;
	char text[SANITIZE_SIZE(HDR_STR_MAX)];
	unsigned expect = size ? data[0] % 3 : 0; /* 0 any, 1 raw, 2 snapshot */
	struct stream_reader *rd = stream_reader_mem(data, size, "fuzz");
	struct snaptab tab = { 0 };
	bool delta = false;
	int n = 0;

	if (!rd)
		return 0;
	stream_reader_expect(rd, expect);
	while (stream_read(rd, &r) == STREAM_OK && n++ < 100000) {
		/* whatever decodes must encode again, and its strings must sanitise */
		if (stream_encode(&r, enc) % 8)
			abort();
		if (r.type == REC_HEADER)
			text_sanitize(text, sizeof(text), r.u.header.hostname, HDR_STR_MAX);
		else if (r.type == REC_CONN_OPEN)
			text_sanitize(text, sizeof(text), r.u.open.comm, COMM_LEN);
		else if (r.type == REC_SNAP_ROW || r.type == REC_DELTA_ROW)
			text_sanitize(text, sizeof(text), r.u.row.comm, COMM_LEN);
		/* every reader's table (lib/snaptab.c): whatever comes, a table it calls ready
		 * has the rows its snapshot said */
		if (r.type == REC_HEADER)
			snaptab_section(&tab, &r.u.header);
		else if (r.type == REC_SNAP_BEGIN || r.type == REC_DELTA_BEGIN)
			delta = snaptab_begin(&tab, r.type, &r.u.snap_begin) == SNAPTAB_DELTA;
		else if (r.type == REC_SNAP_ROW || r.type == REC_DELTA_ROW)
			snaptab_add(&tab, r.type, &r.u.row);
		else if ((r.type == REC_SNAP_END || r.type == REC_DELTA_END) &&
			 snaptab_end(&tab) == SNAPTAB_READY && delta &&
			 snaptab_rows(&tab) != tab.want)
			abort();
	}
	stream_reader_free(rd);
	snaptab_free(&tab);
	return 0;
}
