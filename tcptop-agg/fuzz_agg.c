// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the aggregator on any bytes, with filters, interval and cap from byte 0. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "agg.h"
#include "fuzz_opts.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int null_fd = -1;
	static struct rec r;
	uint8_t k = size ? data[0] : 0;
	struct agg_opts o = fuzz_agg_opts(k);
	static struct stream_writer *w; /* one for the run: its 256 KB buffer, allocated once */
	struct stream_reader *rd;
	struct agg *a;
	int st;

	if (null_fd < 0) {
		null_fd = open("/dev/null", O_WRONLY);
		w = stream_writer_new(null_fd);
	}
	o.out = agg_sink_writer(w);
	a = w ? agg_new(&o) : NULL;
	rd = stream_reader_mem(data, size, "fuzz");
	if (!w || !a || !rd)
		abort();
	stream_reader_expect(rd, STREAM_KIND_RAW);
	while ((st = stream_read(rd, &r)) == STREAM_OK) {
		if (r.type == REC_HEADER) {
			agg_begin(a, &r.u.header);
			continue;
		}
		agg_record(a, &r);
		if (r.type == REC_END)
			agg_end(a, false);
	}
	if (st == STREAM_NO_END)
		agg_end(a, true);
	stream_reader_free(rd);
	agg_free(a);
	stream_flush(w);
	return 0;
}
