// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench-prom: the exporter's cost at N label sets. `bench-prom N` builds them in-process (one
 * connection each) and prints the exposition's time (median of runs, Prometheus text and
 * OpenMetrics), its size, and the heap bytes per label set; `bench-prom --stream N` writes a
 * snapshot stream of N such connections for the HTTP measurement of tcptop-prom/bench.sh.
 */
#include <err.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "prom.h"
#include "stream.h"
#include "util.h"

#define RUNS 7

static void row_of(uint64_t i, struct rec_snap_row *w)
{
	memset(w, 0, sizeof(*w));
	w->id.flow = i + 1;
	w->id.cookie = i + 1;
	w->id.netns = 4026531840u;
	w->id.ifindex = 2;
	w->id.proto = i % 4 == 3 ? PROTO_UDP : PROTO_TCP;
	w->id.family = FAMILY_INET;
	w->id.lport = 40000 + i % 20000; /* ephemeral: folded */
	w->id.rport = 443;
	w->id.laddr[0] = 10;
	w->id.laddr[3] = 1;
	/* a distinct peer per connection: one label set each */
	w->id.raddr[0] = 10;
	w->id.raddr[1] = (i >> 16) & 0xff;
	w->id.raddr[2] = (i >> 8) & 0xff;
	w->id.raddr[3] = i & 0xff;
	w->id.raddr[0] += (i >> 24) & 0x7f;
	w->state = w->id.proto == PROTO_TCP ? 1 : 0;
	w->flags = CONN_F_NEW;
	w->pid = 1000 + i % 300;
	snprintf(w->comm, COMM_LEN, "worker-%03u", (unsigned)(i % 300));
	w->c.bytes_in = 1000000 + i * 7;
	w->c.bytes_out = 500000 + i * 3;
	w->c.pkts_in = 1000 + i;
	w->c.pkts_out = 900 + i;
	w->c.srtt_us = 100 + i % 5000;
	w->c.retrans = i % 3;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int write_stream(uint64_t n)
{
	struct stream_writer *w = stream_writer_new(STDOUT_FILENO);
	struct rec *r = calloc(1, sizeof(*r));

	if (!w || !r)
		errx(EX_OSERR, "out of memory");
	r->type = REC_HEADER;
	r->u.header.kind = STREAM_KIND_SNAPSHOT;
	r->u.header.interval_ns = 15000000000ULL;
	snprintf(r->u.header.hostname, HDR_STR_MAX, "bench");
	snprintf(r->u.header.producer, HDR_STR_MAX, "bench-prom");
	if (stream_write_header(w, &r->u.header))
		err(EX_IOERR, "write");
	memset(r, 0, sizeof(*r));
	r->type = REC_SNAP_BEGIN;
	r->u.snap_begin.seq = 1;
	r->u.snap_begin.time_ns = (int64_t)time(NULL) * 1000000000LL;
	r->u.snap_begin.rows = n;
	if (stream_write(w, r))
		err(EX_IOERR, "write");
	for (uint64_t i = 0; i < n; i++) {
		r->type = REC_SNAP_ROW;
		row_of(i, &r->u.row);
		if (stream_write(w, r))
			err(EX_IOERR, "write");
	}
	r->type = REC_SNAP_END;
	r->u.snap_end.seq = 1;
	/* no END: the input stays open as a live one would (the caller keeps the pipe) */
	if (stream_write(w, r) || stream_flush(w))
		err(EX_IOERR, "write");
	stream_writer_free(w);
	free(r);
	return 0;
}

int main(int argc, char **argv)
{
	struct prom_opts o = { .eph_lo = 32768, .eph_hi = 60999 };
	struct rec_snap_begin b = { .seq = 1, .time_ns = 1700000000000000000LL };
	struct rec_snap_row *rows;
	struct prom_buf buf = { 0 };
	uint64_t n, t[2][RUNS], cpu[RUNS], heap0, heap1, lines = 0;
	struct prom *p;
	const char *e;

	if (argc == 3 && strcmp(argv[1], "--stream") == 0) {
		if (parse_uint(argv[2], 1, 100000000, &n, &e))
			errx(EX_USAGE, "N %s: %s", argv[2], e);
		return write_stream(n);
	}
	if (argc != 2 || parse_uint(argv[1], 1, 100000000, &n, &e))
		errx(EX_USAGE, "usage: bench-prom N | bench-prom --stream N");
	o.max_series = n;
	rows = malloc(n * sizeof(*rows));
	if (!rows)
		errx(EX_OSERR, "out of memory");
	for (uint64_t i = 0; i < n; i++)
		row_of(i, &rows[i]);

	heap0 = mallinfo2().uordblks;
	p = prom_new(&o);
	if (!p || prom_snapshot(p, &b, NULL, 0, rows, n, 0))
		errx(EX_OSERR, "out of memory");
	heap1 = mallinfo2().uordblks;
	if (prom_series(p) != n)
		errx(EX_SOFTWARE, "%llu label sets, expected %llu",
		     (unsigned long long)prom_series(p), (unsigned long long)n);

	/* the buffer is reused, as the server's allocator reuses the previous scrape's memory */
	for (int run = 0; run < RUNS; run++) {
		for (int om = 0; om < 2; om++) {
			uint64_t t0, c0;

			buf.len = 0;
			t0 = now_ns(CLOCK_MONOTONIC);
			c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
			if (prom_expose(p, &buf, om, 1700000001000000000LL))
				errx(EX_OSERR, "out of memory");
			t[om][run] = now_ns(CLOCK_MONOTONIC) - t0;
			if (!om)
				cpu[run] = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		}
	}
	qsort(t[0], RUNS, sizeof(t[0][0]), cmp_u64);
	qsort(t[1], RUNS, sizeof(t[1][0]), cmp_u64);
	qsort(cpu, RUNS, sizeof(cpu[0]), cmp_u64);
	printf("label_sets %llu\n", (unsigned long long)n);
	for (size_t i = 0; i < buf.len; i++)
		lines += buf.p[i] == '\n';
	printf("lines_per_label_set %.2f\n", (double)lines / (double)n);
	printf("exposition_bytes %zu\n", buf.len);
	printf("expose_text_cpu_ms_median %.1f\n", cpu[RUNS / 2] / 1e6);
	printf("expose_text_ms_median %.1f\n", t[0][RUNS / 2] / 1e6);
	printf("expose_openmetrics_ms_median %.1f\n", t[1][RUNS / 2] / 1e6);
	printf("expose_text_ms_min %.1f\n", t[0][0] / 1e6);
	printf("heap_bytes_per_label_set %.0f\n", (double)(heap1 - heap0) / (double)n);
	prom_buf_free(&buf);
	prom_free(p);
	free(rows);
	return 0;
}
