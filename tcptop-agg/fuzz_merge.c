// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: tcptop-agg --merge on several inputs. Byte 0 chooses the filters, interval
 * and table cap (fuzz_opts.h; bit 7: the first input merged with itself once more, the fleet
 * command on one recording); the rest is up to MAX_INPUTS raw streams separated by
 * MARK. The merged stream is read back and must be whole: a snapshot stream that decodes to
 * its END, each snapshot's row count as its SNAP_BEGIN says, a HOST record for every host
 * before the rows, every row of a host that is, every CGROUP of one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "fuzz_opts.h"
#include "merge.h"
#include "stream.h"
#include "vec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK	   "--next--"
#define MARK_LEN   8
#define MAX_INPUTS 4

struct out {
	uint8_t *buf;
	size_t len, cap;
};

static int out_rec(void *ctx, const struct rec *r)
{
	static uint8_t enc[STREAM_RECORD_MAX];
	struct out *o = ctx;
	size_t n = stream_encode(r, enc);

	if (!n)
		abort(); /* a record type the encoder does not know */
	if (VEC_RESERVE(&o->buf, &o->cap, o->len + n))
		return -ENOMEM;
	memcpy(o->buf + o->len, enc, n);
	o->len += n;
	return 0;
}

/* The merged stream of n hosts, read back. */
static void check(const struct out *o, int n)
{
	static struct rec r;
	struct stream_reader *rd = stream_reader_mem(o->buf, o->len, "merged");
	uint32_t rows = 0, want = 0, hosts = 0;
	bool in_snap = false;
	int st;

	if (!rd)
		abort();
	stream_reader_expect(rd, STREAM_KIND_SNAPSHOT);
	while ((st = stream_read(rd, &r)) == STREAM_OK) {
		switch (r.type) {
		case REC_CGROUP:
			if (in_snap || !r.u.cgroup.host || r.u.cgroup.host > (uint32_t)n)
				abort();
			break;
		case REC_SNAP_BEGIN:
			if (in_snap)
				abort();
			in_snap = true;
			want = r.u.snap_begin.rows;
			rows = hosts = 0;
			break;
		case REC_HOST:
			if (!in_snap || rows || r.u.host.index != ++hosts)
				abort();
			break;
		case REC_SNAP_ROW:
			if (!in_snap || hosts != (uint32_t)n || !r.u.row.host ||
			    r.u.row.host > (uint32_t)n)
				abort();
			rows++;
			break;
		case REC_SNAP_END:
			if (!in_snap || rows != want)
				abort();
			in_snap = false;
			break;
		}
	}
	if (st != STREAM_EOF || in_snap)
		abort();
	stream_reader_free(rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t k = size ? data[0] : 0;
	struct agg_opts o = fuzz_agg_opts(k);
	struct merge_input in[MAX_INPUTS + 1] = { 0 };
	const uint8_t *p = size ? data + 1 : data, *end = data + size;
	struct out out = { 0 };
	int n = 0, st;

	while (n < MAX_INPUTS) {
		const uint8_t *m = n < MAX_INPUTS - 1 ? memmem(p, end - p, MARK, MARK_LEN) : NULL;

		in[n] = (struct merge_input){ "fuzz", -1, p,
					      m ? (size_t)(m - p) : (size_t)(end - p) };
		n++;
		if (!m)
			break;
		p = m + MARK_LEN;
	}
	if (k & 128)
		in[n++] = in[0];
	o.out = (struct agg_sink){ out_rec, NULL, &out };
	st = merge_run(&o, n, in);
	/* an input that is not a raw stream is an exit status; the merged stream is whole then
	 * too (every input ends as its host) */
	if (st < 0 && st != -ENOMEM)
		abort();
	if (st >= 0)
		check(&out, n);
	free(out.buf);
	return 0;
}
