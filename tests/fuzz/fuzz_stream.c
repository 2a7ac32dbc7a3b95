// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the stream reader (and the encoder and sanitiser behind it) on any bytes. */
#include <stdint.h>
#include <stdlib.h>

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
		else if (r.type == REC_SNAP_ROW)
			text_sanitize(text, sizeof(text), r.u.row.comm, COMM_LEN);
	}
	stream_reader_free(rd);
	return 0;
}
