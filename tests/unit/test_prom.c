// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the exporter's state and reader (tcptop-prom/prom.c, feed.c) at their limits,
 * which a generated stream reaches only at great cost: rows beyond what a snapshot may hold
 * and hosts beyond PROM_HOST_MAX are counted, never folded into another host, and a snapshot
 * cut short does not end the connections it left out; keys that would print the same labels
 * are one label set (Prometheus refuses a series twice).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "feed.h"
#include "prom.h"
#include "tap.h"

static const struct prom_opts opts = { .max_series = 100000, .eph_lo = 32768, .eph_hi = 60999 };

/* The value of the sample that starts with series (its name and labels), or -1. */
static long long sample(struct prom *p, const char *series)
{
	struct prom_buf b = { 0 };
	long long v = -1;
	char *at;

	if (prom_expose(p, &b, false, 1700000100000000000LL) || prom_buf_reserve(&b, 1))
		abort();
	b.p[b.len] = '\0';
	for (at = b.p; (at = strstr(at, series)); at++)
		if ((at == b.p || at[-1] == '\n') && at[strlen(series)] == ' ') {
			v = atoll(at + strlen(series) + 1);
			break;
		}
	prom_buf_free(&b);
	return v;
}

static struct rec_snap_row row(uint32_t host, uint64_t flow, uint64_t in)
{
	struct rec_snap_row r = { .host = host, .state = 1, .c.bytes_in = in };

	r.id.flow = flow;
	r.id.proto = PROTO_TCP;
	r.id.family = FAMILY_INET;
	r.id.raddr[0] = 10;
	r.id.raddr[3] = flow; /* a label set each (up to 255) */
	r.id.rport = 443;
	snprintf(r.comm, sizeof(r.comm), "app");
	return r;
}

static void test_cut_snapshot(void)
{
	struct prom *p = prom_new(&opts);
	struct stream_header h = { .kind = STREAM_KIND_SNAPSHOT };
	struct rec_snap_begin b = { .seq = 1, .time_ns = 1700000001000000000LL };
	struct rec_snap_row rows[5];
	uint64_t total = 0;
	char s[256];

	snprintf(h.hostname, sizeof(h.hostname), "h");
	prom_section(p, &h);
	for (int i = 0; i < 5; i++)
		rows[i] = row(0, i + 1, 100);
	prom_snapshot(p, &b, NULL, 0, rows, 5, 0);
	/* the next snapshot could hold 3 of its 5 rows: the other two are not gone */
	for (int i = 0; i < 5; i++)
		rows[i] = row(0, i + 1, 200);
	b.seq = 2;
	prom_snapshot(p, &b, NULL, 0, rows, 3, 2);
	for (int i = 0; i < 5; i++)
		rows[i] = row(0, i + 1, 300);
	b.seq = 3;
	prom_snapshot(p, &b, NULL, 0, rows, 5, 0);
	for (int i = 0; i < 5; i++) {
		snprintf(
			s, sizeof(s),
			"tcptop_network_io_bytes_total{host=\"h\",protocol=\"tcp\",process=\"app\","
			"remote_addr=\"10.0.0.%d\",remote_port=\"443\",direction=\"receive\"}",
			i + 1);
		total += sample(p, s);
	}
	ok(total == 1500, "a snapshot cut short ends none of its connections: 5 x 300 = %llu",
	   (unsigned long long)total);
	ok(sample(p, "tcptop_loss_total{host=\"\",cause=\"snapshot_rows_limit\"}") == 2,
	   "its rows left out are counted");
	prom_free(p);
}

/* The reader holds rows_max rows of a snapshot, counts the others. */
static void test_feed_rows_max(void)
{
	int fd = memfd_create("stream", 0);
	struct stream_writer *w = stream_writer_new(fd);
	struct rec *r = calloc(1, sizeof(*r));
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct prom *p = prom_new(&opts);
	struct feed f = { .lock = &lock, .p = p, .rows_max = 3 };
	struct stream_reader *rd;
	int st;

	r->u.header.kind = STREAM_KIND_SNAPSHOT;
	snprintf(r->u.header.hostname, HDR_STR_MAX, "h");
	if (stream_write_header(w, &r->u.header))
		abort();
	for (int snap = 1; snap <= 2; snap++) {
		memset(r, 0, sizeof(*r));
		r->type = REC_SNAP_BEGIN;
		r->u.snap_begin.seq = snap;
		r->u.snap_begin.time_ns = 1700000000000000000LL + snap * 1000000000LL;
		stream_write(w, r);
		for (int i = 0; i < 5; i++) {
			r->type = REC_SNAP_ROW;
			r->u.row = row(0, i + 1, 100 * snap);
			stream_write(w, r);
		}
		r->type = REC_SNAP_END;
		r->u.snap_end.seq = snap;
		stream_write(w, r);
	}
	r->type = REC_END;
	if (stream_write(w, r) || stream_flush(w))
		abort();
	stream_writer_free(w);
	lseek(fd, 0, SEEK_SET);
	rd = stream_reader_new(fd, "memfd");
	st = feed_run(&f, rd);
	ok(st == 0 && f.ended, "the stream is read to its end (%d: %s)", st, f.msg);
	ok(sample(p, "tcptop_loss_total{host=\"\",cause=\"snapshot_rows_limit\"}") == 4,
	   "2 rows of each of 2 snapshots counted, not held");
	ok(sample(p, "tcptop_exporter_series") == 3, "3 label sets");
	stream_reader_free(rd);
	feed_free(&f);
	prom_free(p);
	free(r);
	close(fd);
}

static void test_host_limit(void)
{
	enum {
		N = PROM_HOST_MAX + 5
	};
	struct prom *p = prom_new(&opts);
	struct stream_header h = { .kind = STREAM_KIND_SNAPSHOT };
	struct rec_snap_begin b = { .seq = 1, .time_ns = 1700000001000000000LL };
	struct rec_host *hosts = calloc(N, sizeof(*hosts));
	struct rec_snap_row *rows = calloc(N, sizeof(*rows));
	char s[256];

	snprintf(h.hostname, sizeof(h.hostname), "a+b");
	prom_section(p, &h);
	for (uint32_t i = 0; i < N; i++) {
		hosts[i].index = i + 1;
		hosts[i].state = HOST_LIVE;
		hosts[i].time_ns = b.time_ns;
		snprintf(hosts[i].hostname, sizeof(hosts[i].hostname), "h%u", i + 1);
		rows[i] = row(i + 1, 1, 1000 + i + 1);
	}
	ok(prom_snapshot(p, &b, hosts, N, rows, N, 0) == 0, "a snapshot of %d hosts", N);
	snprintf(s, sizeof(s),
		 "tcptop_network_io_bytes_total{host=\"h%d\",protocol=\"tcp\",process=\"app\","
		 "remote_addr=\"10.0.0.1\",remote_port=\"443\",direction=\"receive\"}",
		 PROM_HOST_MAX - 1);
	ok(sample(p, s) == 1000 + PROM_HOST_MAX - 1,
	   "the last host within the limit has its own bytes only (%lld)", sample(p, s));
	snprintf(s, sizeof(s), "tcptop_stream_up{host=\"h%d\",state=\"live\"}", PROM_HOST_MAX);
	ok(sample(p, s) == -1, "the hosts beyond are not shown");
	ok(sample(p, "tcptop_loss_total{host=\"\",cause=\"host_limit\"}") == 6,
	   "their rows are counted: %lld",
	   sample(p, "tcptop_loss_total{host=\"\",cause=\"host_limit\"}"));
	prom_free(p);
	free(hosts);
	free(rows);
}

static void test_one_key_per_labels(void)
{
	struct prom *p = prom_new(&opts);
	struct stream_header h = { .kind = STREAM_KIND_SNAPSHOT };
	struct rec_snap_begin b = { .seq = 1, .time_ns = 1700000001000000000LL };
	struct rec_snap_row r[8];

	snprintf(h.hostname, sizeof(h.hostname), "h");
	prom_section(p, &h);
	prom_cgroup(p, 0, 13, ""); /* a cgroup whose name is empty: no label, as none */
	/* 10.0.0.7 as IPv4, as IPv4 with bytes after its four, as IPv4-mapped IPv6 */
	r[0] = row(0, 1, 1);
	r[0].id.raddr[3] = 7;
	r[1] = r[0];
	r[1].id.flow = 2;
	r[1].id.raddr[9] = 0x55;
	r[2] = r[0];
	r[2].id.flow = 3;
	r[2].id.family = FAMILY_INET6;
	memset(r[2].id.raddr, 0, 16);
	r[2].id.raddr[10] = r[2].id.raddr[11] = 0xff;
	r[2].id.raddr[12] = 10;
	r[2].id.raddr[15] = 7;
	/* protocols 1 and 132: both "other" */
	r[3] = r[0];
	r[3].id.flow = 4;
	r[3].id.proto = 1;
	r[4] = r[3];
	r[4].id.flow = 5;
	r[4].id.proto = 132;
	/* an unknown family: "?" however its bytes */
	r[5] = r[0];
	r[5].id.flow = 6;
	r[5].id.family = 99;
	/* 10.0.0.8 without a cgroup, and in the cgroup with the empty name */
	r[6] = row(0, 7, 1);
	r[6].id.raddr[3] = 8;
	r[7] = r[6];
	r[7].id.flow = 8;
	r[7].cgroup_id = 13;
	prom_snapshot(p, &b, NULL, 0, r, 8, 0);
	ok(prom_series(p) == 4, "8 connections that print 4 label sets make 4 (%llu)",
	   (unsigned long long)prom_series(p));
	ok(sample(p, "tcptop_network_io_bytes_total{host=\"h\",protocol=\"tcp\",process=\"app\","
		     "remote_addr=\"10.0.0.7\",remote_port=\"443\",direction=\"receive\"}") == 3,
	   "the three ways of writing 10.0.0.7 add up in one");
	prom_free(p);
}

/* A cgroup anyone can name, 250 bytes of quotes and control bytes: its label value is cut to
 * 128 bytes of sanitised text, never inside an escape, so a label set's cost is bounded. */
static void test_label_cap(void)
{
	struct prom *p = prom_new(&opts);
	struct stream_header h = { .kind = STREAM_KIND_SNAPSHOT };
	struct rec_snap_begin b = { .seq = 1, .time_ns = 1700000001000000000LL };
	struct rec_snap_row r = row(0, 1, 5);
	struct prom_buf out = { 0 };
	char path[256] = "/user.slice/", *at, *end;
	size_t n = strlen(path);

	for (; n < 250; n++)
		path[n] = n % 2 ? '"' : '\x01';
	path[n] = '\0';
	snprintf(h.hostname, sizeof(h.hostname), "h");
	prom_section(p, &h);
	prom_cgroup(p, 0, 42, path);
	r.cgroup_id = 42;
	prom_snapshot(p, &b, NULL, 0, &r, 1, 0);
	if (prom_expose(p, &out, false, b.time_ns) || prom_buf_reserve(&out, 1))
		abort();
	out.p[out.len] = '\0';
	at = strstr(out.p, "cgroup=\"");
	ok(at != NULL, "the cgroup label is there");
	for (end = at ? at + 8 : NULL; end && *end && *end != '"'; end += *end == '\\' ? 2 : 1)
		;
	ok(at && end && *end == '"' && end - (at + 8) <= 256,
	   "its value is %td bytes in the exposition, 256 at most", end - (at + 8));
	ok(at && strstr(at, "\\x01\\\"") && !strstr(at, "\\x0\""),
	   "cut after a whole escape, not inside one");
	prom_buf_free(&out);
	prom_free(p);
}

int main(void)
{
	test_cut_snapshot();
	test_feed_rows_max();
	test_host_limit();
	test_one_key_per_labels();
	test_label_cap();
	return done_testing();
}
