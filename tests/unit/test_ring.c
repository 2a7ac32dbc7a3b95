// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of tcptop-collect's ring buffer reader (tcptop-collect/ring.c) on a ring laid out
 * in memory as the kernel lays it: records that wrap past the end, one not committed yet, one
 * discarded, a callback that stops the read. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/bpf.h>

#include "ring.h"
#include "tap.h"

#define SIZE 256 /* bytes of ring */

static uint64_t cons, prod;
static _Alignas(8) uint8_t data[SIZE];

static char got[16][256];
static size_t got_len[16];
static int ngot, stop_at = -1;

static int on_rec(void *ctx, void *p, size_t size)
{
	(void)ctx;
	if (ngot == stop_at)
		return -EPIPE;
	if (ngot < 16 && size <= sizeof(got[0])) {
		memcpy(got[ngot], p, size);
		got_len[ngot] = size;
	}
	ngot++;
	return 0;
}

/* A record of len bytes, filled with c, at the producer's position, which moves past it. */
static void produce(uint32_t len, char c, uint32_t flags)
{
	uint32_t hdr[2] = { len | flags, 0 };
	size_t off = prod & (SIZE - 1);

	memcpy(data + off, hdr, 8); /* a header never wraps: 8-aligned, the ring a power of 2 */
	for (uint32_t i = 0; i < len; i++)
		data[(off + 8 + i) & (SIZE - 1)] = (uint8_t)(c + i % 3);
	prod += (8 + len + 7) & ~7u;
}

static bool rec_is(int i, uint32_t len, char c)
{
	if (got_len[i] != len)
		return false;
	for (uint32_t k = 0; k < len; k++)
		if (got[i][k] != (char)(c + k % 3))
			return false;
	return true;
}

int main(void)
{
	struct ring r;
	int n;

	ring_init(&r, &cons, &prod, data, SIZE, on_rec, NULL);
	ok(ring_consume(&r) == 0 && cons == 0, "an empty ring: nothing");

	produce(40, 'a', 0);
	produce(13, 'b', 0);
	n = ring_consume(&r);
	ok(n == 2 && rec_is(0, 40, 'a') && rec_is(1, 13, 'b'), "two records, in order (%d)", n);
	ok(cons == prod && cons == 48 + 24, "... the consumer past both (%llu)",
	   (unsigned long long)cons);

	/* fill to near the end: the next record wraps */
	ngot = 0;
	produce(SIZE - 72 - 8 - 16, 'c', 0); /* ends 16 bytes before the end */
	produce(50, 'd', 0);		     /* 8 of header, then 8 of data, then 42 at the start */
	n = ring_consume(&r);
	ok(n == 2 && rec_is(0, SIZE - 96, 'c') && rec_is(1, 50, 'd'),
	   "a record that wraps past the end is handed on whole (%d)", n);
	ok(cons == prod, "... the consumer past it");

	/* not committed yet: the read stops before it, and takes it once committed */
	ngot = 0;
	produce(8, 'e', 0);
	produce(8, 'f', BPF_RINGBUF_BUSY_BIT);
	produce(8, 'g', 0);
	n = ring_consume(&r);
	ok(n == 1 && rec_is(0, 8, 'e'), "a busy record stops the read (%d)", n);
	ok(cons == prod - 32, "... the consumer before it");
	{
		uint32_t *hdr = (uint32_t *)(data + (cons & (SIZE - 1)));

		*hdr &= ~(uint32_t)BPF_RINGBUF_BUSY_BIT;
	}
	n = ring_consume(&r);
	ok(n == 2 && rec_is(1, 8, 'f') && rec_is(2, 8, 'g'), "... and goes on once committed");

	/* discarded: skipped */
	ngot = 0;
	produce(24, 'h', BPF_RINGBUF_DISCARD_BIT);
	produce(24, 'i', 0);
	n = ring_consume(&r);
	ok(n == 1 && rec_is(0, 24, 'i') && cons == prod, "a discarded record is skipped (%d)", n);

	/* the callback's error: returned, the consumer past the record that failed */
	ngot = 0;
	stop_at = 1;
	produce(8, 'j', 0);
	produce(8, 'k', 0);
	produce(8, 'l', 0);
	n = ring_consume(&r);
	ok(n == -EPIPE && ngot == 1, "the callback's error ends the read (%d)", n);
	ok(cons == prod - 16, "... past the record it refused");
	stop_at = -1;
	ngot = 0;
	n = ring_consume(&r);
	ok(n == 1 && rec_is(0, 8, 'l'), "... the next read goes on after it");

	/* many laps */
	n = 0;
	for (int lap = 0; lap < 40; lap++) {
		ngot = 0;
		produce(60, (char)('A' + lap % 20), 0);
		produce(33, (char)('a' + lap % 20), 0);
		if (ring_consume(&r) == 2 && rec_is(0, 60, (char)('A' + lap % 20)) &&
		    rec_is(1, 33, (char)('a' + lap % 20)))
			n++;
	}
	ok(n == 40 && cons == prod && prod > 40 * SIZE / 4,
	   "40 laps of two records, every one whole (%d)", n);
	ring_close(&r);
	return done_testing();
}
