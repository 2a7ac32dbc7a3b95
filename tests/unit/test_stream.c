// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of lib/stream.c: round trips of every record type and every reader error. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "stream.h"
#include "tap.h"

static uint8_t buf[1 << 20];
static size_t len;
static size_t offs[64];
static int nrecs;

static uint64_t rnd(void)
{
	static uint64_t x = 88172645463325252ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static void fill(void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)p)[i] = rnd();
}

static void add(const struct rec *r)
{
	offs[nrecs++] = len;
	len += stream_encode(r, buf + len);
}

static void header(unsigned kind)
{
	struct rec r = { .type = REC_HEADER };
	struct stream_header *h = &r.u.header;

	h->kind = kind;
	h->anchor_real = 1700000000000000000LL;
	h->anchor_mono = 12345;
	h->interval_ns = 1000000000;
	strcpy(h->producer, "unit");
	strcpy(h->version, "1.2.3");
	strcpy(h->hostname, "host\x1b");
	strcpy(h->boot_id, "b");
	strcpy(h->kernel, "6.18");
	strcpy(h->backend, "send=tp_btf");
	strcpy(h->filter, "port 443");
	strcpy(h->missing, "rtt retrans");
	add(&r);
}

static void end(void)
{
	struct rec r = { .type = REC_END };
	r.u.end.ts = 99;
	add(&r);
}

static void reset(void)
{
	len = 0;
	nrecs = 0;
}

/* Reads buf[0..n) to the end; returns the final status and keeps the message. */
static int read_all(size_t n, int *nread, char *msg, size_t msgsz, unsigned expect)
{
	struct stream_reader *rd = stream_reader_mem(buf, n, "t");
	struct rec *r = malloc(sizeof(*r));
	int st;

	*nread = 0;
	stream_reader_expect(rd, expect);
	while ((st = stream_read(rd, r)) == STREAM_OK)
		(*nread)++;
	snprintf(msg, msgsz, "%s", stream_error(rd));
	stream_reader_free(rd);
	free(r);
	return st;
}

static void random_record(uint32_t type, struct rec *r)
{
	fill(&r->u, sizeof(r->u));
	r->type = type;
	if (type == REC_LOSS)
		r->u.loss.n = 1 + rnd() % LOSS_MAX;
	if (type == REC_SNAP_BEGIN || type == REC_DELTA_BEGIN)
		r->u.snap_begin.nloss = rnd() % (LOSS_MAX + 1);
	if (type == REC_SNAP_BEGIN || type == REC_DELTA_BEGIN) { /* no NaN: == below */
		r->u.snap_begin.rate_in = 3.5;
		r->u.snap_begin.rate_out = 7;
	}
	if (type == REC_HOST || type == REC_DELTA_HOST) {
		r->u.host.nloss = rnd() % (LOSS_MAX + 1);
		r->u.host.hostname[HDR_STR_MAX - 1] = 0; /* as the reader ends them */
		r->u.host.boot_id[HOST_BOOT_LEN - 1] = 0;
	}
	if (type == REC_SNAP_ROW ||
	    type == REC_DELTA_ROW) { /* doubles must not be NaN for the == check below */
		r->u.row.rate_in = 1234.5;
		r->u.row.rate_out = 0.25;
	}
}

static void test_round_trip(void)
{
	static const uint32_t types[] = {
		REC_CONN_OPEN,	REC_CONN_STATE, REC_CONN_SAMPLE, REC_CONN_CLOSE,  REC_CONN_OWNER,
		REC_TICK,	REC_IFNAME,	REC_LOSS,	 REC_SNAP_BEGIN,  REC_SNAP_ROW,
		REC_SNAP_END,	REC_END,	REC_CGROUP,	 REC_DELTA_BEGIN, REC_DELTA_ROW,
		REC_DELTA_HOST, REC_DELTA_END,	REC_HOST,
	};

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int rep = 0; rep < 50; rep++) {
			struct rec in, *out = malloc(sizeof(*out));
			uint8_t again[STREAM_RECORD_MAX];
			struct stream_reader *rd;
			bool good = true;
			size_t n1;

			reset();
			header(rec_kind(types[t])->vocab & (1u << STREAM_KIND_RAW)
				       ? STREAM_KIND_RAW
				       : STREAM_KIND_SNAPSHOT);
			random_record(types[t], &in);
			n1 = stream_encode(&in, buf + len);
			offs[nrecs++] = len;
			len += n1;
			good &= n1 % 8 == 0 && n1 >= STREAM_FRAME_MIN;
			rd = stream_reader_mem(buf, len, "t");
			good &= stream_read(rd, out) == STREAM_OK && out->type == REC_HEADER;
			good &= !strcmp(out->u.header.hostname, "host\x1b") &&
				!strcmp(out->u.header.filter, "port 443") &&
				out->u.header.interval_ns == 1000000000 &&
				out->u.header.anchor_mono == 12345 &&
				!strcmp(out->u.header.missing, "rtt retrans");
			good &= stream_read(rd, out) == STREAM_OK && out->type == types[t];
			good &= out->offset == offs[1];
			/* re-encoding the decoded record gives the same bytes: every field survived */
			good &= stream_encode(out, again) == n1 &&
				memcmp(again, buf + offs[1], n1) == 0;
			if (types[t] == REC_CONN_OPEN)
				good &= out->u.open.id.flow == in.u.open.id.flow &&
					!memcmp(out->u.open.comm, in.u.open.comm, COMM_LEN) &&
					out->u.open.c.bytes_out == in.u.open.c.bytes_out;
			if (types[t] == REC_SNAP_BEGIN || types[t] == REC_DELTA_BEGIN)
				good &= out->u.snap_begin.table_rows ==
						in.u.snap_begin.table_rows &&
					out->u.snap_begin.rows == in.u.snap_begin.rows;
			if (types[t] == REC_SNAP_ROW || types[t] == REC_DELTA_ROW)
				good &= out->u.row.rate_in == 1234.5 &&
					out->u.row.c.srtt_us == in.u.row.c.srtt_us &&
					out->u.row.cgroup_id == in.u.row.cgroup_id;
			if (types[t] == REC_CONN_OPEN)
				good &= out->u.open.cgroup_id == in.u.open.cgroup_id;
			if (types[t] == REC_CONN_OWNER)
				good &= out->u.owner.cgroup_id == in.u.owner.cgroup_id;
			if (types[t] == REC_CGROUP)
				good &= out->u.cgroup.id == in.u.cgroup.id &&
					out->u.cgroup.host == in.u.cgroup.host &&
					!memcmp(out->u.cgroup.path, in.u.cgroup.path,
						strnlen(in.u.cgroup.path, CGROUP_PATH_MAX - 1)) &&
					strlen(out->u.cgroup.path) ==
						strnlen(in.u.cgroup.path, CGROUP_PATH_MAX - 1);
			if (types[t] == REC_LOSS)
				good &= out->u.loss.n == in.u.loss.n &&
					out->u.loss.e[0].value == in.u.loss.e[0].value;
			stream_reader_free(rd);
			free(out);
			if (!good || rep == 49) {
				ok(good, "round trip of %s (50 random records)",
				   rec_type_name(types[t]));
				break;
			}
		}
	}
}

/* header, open, tick, end */
static void small_stream(void)
{
	struct rec r;

	reset();
	header(STREAM_KIND_RAW);
	memset(&r, 0, sizeof(r));
	r.type = REC_CONN_OPEN;
	r.u.open.id.flow = 1;
	add(&r);
	r.type = REC_TICK;
	r.u.tick.ts = 5;
	add(&r);
	end();
}

static void put32(size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		buf[off + i] = v >> (8 * i);
}

static bool has(const char *msg, const char *part)
{
	if (strstr(msg, part))
		return true;
	printf("#   message '%s' lacks '%s'\n", msg, part);
	return false;
}

static void test_errors(void)
{
	char msg[600], want[64];
	int n, st;
	size_t total;
	int bad = 0;

	small_stream();
	total = len;
	st = read_all(total, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_EOF && n == 4, "clean stream: 4 records then EOF");

	/* every prefix: empty, truncated inside a record, or ended on a boundary without END */
	for (size_t cut = 0; cut < total; cut++) {
		int rec = 0;
		while (rec + 1 < nrecs && offs[rec + 1] <= cut)
			rec++;
		st = read_all(cut, &n, msg, sizeof(msg), 0);
		if (cut == 0) {
			bad += !(st == STREAM_TRUNCATED && has(msg, "empty input"));
		} else if (cut == offs[rec]) {
			snprintf(want, sizeof(want), "at byte %zu without an END", cut);
			bad += !(st == STREAM_NO_END && has(msg, want) && n == rec);
		} else {
			snprintf(want, sizeof(want), "at byte %zu", offs[rec]);
			bad += !(st == STREAM_TRUNCATED && has(msg, want) &&
				 has(msg, "truncated") && n == rec);
		}
	}
	ok(!bad, "every truncation of a %zu-byte stream is told apart, with its offset", total);

	small_stream();
	buf[offs[2] - 4] ^= 1; /* the OPEN record's trailer */
	snprintf(want, sizeof(want), "byte %zu", offs[2] - 4);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && n == 1 && has(msg, "trailer") && has(msg, want),
	   "trailer mismatch names the trailer's offset");

	small_stream();
	put32(offs[1] + 4, 8);
	snprintf(want, sizeof(want), "byte %zu", offs[1]);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "below the minimum") && has(msg, want),
	   "length below the minimum");

	small_stream();
	put32(offs[1] + 4, 148);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "not a multiple of 8") && has(msg, want),
	   "unaligned length");

	small_stream();
	put32(offs[1] + 4, 1u << 30);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "above the cap") && has(msg, want),
	   "length above the cap, nothing allocated for it");

	small_stream();
	buf[0] = 'P';
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "not a tcptop stream") && has(msg, "byte 0"),
	   "bad magic");

	small_stream();
	buf[14] &= 0x7f; /* 7-bit transfer: 0x89 loses its top bit */
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "signature") && has(msg, "byte 8"),
	   "signature mangled by a 7-bit transfer");

	small_stream();
	put32(16, 0x4D3C2B1A);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "big-endian"), "byte-swapped byte-order mark");

	small_stream();
	buf[20] = 2;
	buf[22] = 0; /* minor 0: the writer's is STREAM_MINOR */
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "unsupported stream version 2.0") &&
		   has(msg, "byte 20"),
	   "future major version refused");

	small_stream();
	buf[22] = 7;
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_EOF && n == 4, "higher minor version read");

	small_stream();
	st = read_all(len, &n, msg, sizeof(msg), STREAM_KIND_SNAPSHOT);
	ok(st == STREAM_CORRUPT && has(msg, "raw collector stream: pipe it through tcptop-agg"),
	   "raw stream where a snapshot stream is expected");
	reset();
	header(STREAM_KIND_SNAPSHOT);
	end();
	st = read_all(len, &n, msg, sizeof(msg), STREAM_KIND_RAW);
	ok(st == STREAM_CORRUPT && has(msg, "this is a snapshot stream"),
	   "snapshot stream where a raw stream is expected");

	/* unknown record types are skipped */
	small_stream();
	put32(offs[2], 0x4242);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_EOF && n == 3, "unknown record type skipped");

	/* a known type with a body shorter than its fields */
	small_stream();
	put32(offs[2], REC_CONN_OPEN);
	snprintf(want, sizeof(want), "byte %zu", offs[2]);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "too short") && has(msg, want),
	   "body too short for its type");

	/* sections: a header after END starts a new one; records after END do not */
	small_stream();
	memcpy(buf + len, buf, len);
	len *= 2;
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_EOF && n == 8, "two concatenated streams read as two sections");

	small_stream();
	{
		struct rec r = { .type = REC_TICK };
		add(&r);
	}
	snprintf(want, sizeof(want), "byte %zu", offs[4]);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "after END") && has(msg, want),
	   "a record after END is corrupt");

	small_stream();
	len = offs[3]; /* drop END, add a header */
	header(STREAM_KIND_RAW);
	snprintf(want, sizeof(want), "byte %zu", offs[4]);
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "inside a section") && has(msg, want),
	   "a header inside a section is corrupt");

	/* a LOSS record claiming more entries than its body holds */
	reset();
	header(STREAM_KIND_RAW);
	{
		struct rec r = { .type = REC_LOSS };
		r.u.loss.n = 1;
		add(&r);
		put32(offs[1] + 16, 1000);
	}
	end();
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "claims 1000 entries"), "LOSS count beyond its body");
}

/* The reader must cope with a pipe delivering one byte per read. */
static void test_pipe(void)
{
	int p[2], n = 0, st;
	struct stream_reader *rd;
	struct rec *r = malloc(sizeof(*r));
	pid_t pid;

	small_stream();
	if (pipe(p))
		abort();
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		for (size_t i = 0; i < len; i++)
			if (write(p[1], buf + i, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	rd = stream_reader_new(p[0], "pipe");
	while ((st = stream_read(rd, r)) == STREAM_OK)
		n++;
	waitpid(pid, NULL, 0);
	ok(st == STREAM_EOF && n == 4, "short reads on a pipe, one byte at a time");
	stream_reader_free(rd);
	close(p[0]);
	free(r);
}

/* Reads made larger in the middle of a file (stream_reader_set_read_size()): the bytes read and
 * not yet decoded stay, every record of 3,000 concatenated sections comes. */
static void test_read_size(void)
{
	FILE *f = tmpfile();
	int n = 0, st = STREAM_OK, k = 3000;
	struct stream_reader *rd;
	struct rec *r = malloc(sizeof(*r));

	small_stream();
	if (!f || !r)
		abort();
	for (int i = 0; i < k; i++)
		if (fwrite(buf, 1, len, f) != len)
			abort();
	if (fflush(f) || fseek(f, 0, SEEK_SET))
		abort();
	rd = stream_reader_new(fileno(f), "file");
	for (; n < 3 && (st = stream_read(rd, r)) == STREAM_OK; n++)
		;
	ok(stream_reader_set_read_size(rd, 1 << 20) == 0, "reads of 1 MiB");
	while ((st = stream_read(rd, r)) == STREAM_OK)
		n++;
	ok(st == STREAM_EOF && n == 4 * k, "every record of the file, before and after");
	stream_reader_free(rd);
	fclose(f);
	free(r);
}

/* The writer reports EPIPE instead of dying, and its offset counts every byte. */
static void test_writer(void)
{
	int p[2];
	struct stream_writer *w;
	struct rec r = { .type = REC_TICK };
	int e = 0;

	if (pipe(p))
		abort();
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	w = stream_writer_new(p[1]);
	for (int i = 0; i < 100000 && !e; i++)
		e = stream_write(w, &r);
	if (!e)
		e = stream_flush(w);
	ok(e == -EPIPE, "writer returns -EPIPE on a closed pipe (got %d)", e);
	stream_writer_free(w);
	close(p[1]);
}

/*
 * Records written before the trailing cgroup_id existed (CONN_OPEN body 136, CONN_OWNER 40,
 * SNAP_ROW 176 bytes) still read, with cgroup_id 0; a CGROUP whose path length runs past its
 * body is corrupt; HOPT_MISSING is matched word by word.
 */
static void test_old_bodies(void)
{
	static const struct {
		uint32_t type;
		size_t body;
	} old[] = { { REC_CONN_OPEN, 136 }, { REC_CONN_OWNER, 40 }, { REC_SNAP_ROW, 176 } };
	struct stream_header h = { 0 };
	char msg[600];
	int n, st;

	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		struct rec r, *out = malloc(sizeof(*out));
		struct stream_reader *rd;
		size_t total = (8 + old[i].body + 4 + 7) & ~(size_t)7, start;
		bool good;

		reset();
		header(old[i].type == REC_SNAP_ROW ? STREAM_KIND_SNAPSHOT : STREAM_KIND_RAW);
		random_record(old[i].type, &r);
		start = len;
		add(&r);
		/* cut the body back to its old size: length, padding and trailer as then */
		len = start + total;
		memset(buf + start + 8 + old[i].body, 0, total - 12 - old[i].body);
		put32(start + 4, total);
		put32(start + total - 4, total);
		rd = stream_reader_mem(buf, len, "t");
		good = stream_read(rd, out) == STREAM_OK && stream_read(rd, out) == STREAM_OK &&
		       out->type == old[i].type;
		if (old[i].type == REC_CONN_OPEN)
			good &= out->u.open.cgroup_id == 0 &&
				out->u.open.c.retrans == r.u.open.c.retrans;
		if (old[i].type == REC_CONN_OWNER)
			good &= out->u.owner.cgroup_id == 0 &&
				!memcmp(out->u.owner.comm, r.u.owner.comm, COMM_LEN);
		if (old[i].type == REC_SNAP_ROW)
			good &= out->u.row.cgroup_id == 0 && out->u.row.last_ns == r.u.row.last_ns;
		ok(good, "old %s body of %zu bytes reads with cgroup_id 0",
		   rec_type_name(old[i].type), old[i].body);
		stream_reader_free(rd);
		free(out);
	}

	reset();
	header(STREAM_KIND_RAW);
	{
		struct rec r = { .type = REC_CGROUP };
		size_t start = len;

		r.u.cgroup.id = 7;
		strcpy(r.u.cgroup.path, "/system.slice/nginx.service");
		add(&r);
		put32(start + 8 + 8, 4000); /* path length beyond the body */
	}
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && n == 1 && has(msg, "CGROUP record at byte") &&
		   has(msg, "claims a path of 4000 bytes"),
	   "CGROUP path length past the body is corrupt (%s)", msg);

	strcpy(h.missing, "rtt retrans failed-connects");
	ok(stream_missing(&h, "rtt") && stream_missing(&h, "retrans") &&
		   stream_missing(&h, "failed-connects") && !stream_missing(&h, "failed") &&
		   !stream_missing(&h, "udp") && !stream_missing(&h, "rt"),
	   "stream_missing matches whole feature names only");
}

/* The TCP figures (issue 23): read back whole, their sizes (a TCP row grows by 48 bytes, a
 * quarter of a plain row's 200 at most), absent from older writers' records. */
static void test_figs(void)
{
	struct tcp_figs f = { .busy_ms = 0xFFFFFFF0u,
			      .rwnd_ms = 7,
			      .sndbuf_ms = 8,
			      .retrans_bytes = 9,
			      .lost = 10,
			      .cwnd = 11,
			      .ssthresh = TCP_NO_SSTHRESH,
			      .reordering = 300,
			      .in_flight = 12,
			      .unsent = 13,
			      .min_rtt_us = 14,
			      .rttvar_us = 15,
			      .delivery_rate = 1.5e10f };
	struct rec r, *out = malloc(sizeof(*out));
	uint8_t tmp[STREAM_RECORD_MAX];
	struct stream_reader *rd;
	size_t n;
	bool good;

	memset(&r, 0, sizeof(r));
	r.type = REC_SNAP_ROW;
	r.u.row.id.proto = PROTO_TCP;
	ok(stream_encode(&r, tmp) == 200, "a row without figures nor host: 200 bytes");
	r.u.row.host = 3;
	ok(stream_encode(&r, tmp) == 208, "with a host: 208 bytes");
	r.u.row.host = 0;
	r.u.row.has_figs = 1;
	r.u.row.figs = f;
	r.u.row.limit = 2;
	r.u.row.limit_pct = 84;
	ok(stream_encode(&r, tmp) == 248, "with figures: 248 bytes, 24%% more");
	r.u.row.host = 5;
	ok(stream_encode(&r, tmp) == 248, "with figures and a host: 248 bytes too");

	reset();
	header(STREAM_KIND_SNAPSHOT);
	add(&r);
	r.u.row.has_figs = 0;
	r.u.row.limit = r.u.row.limit_pct = 0;
	add(&r);
	rd = stream_reader_mem(buf, len, "t");
	good = stream_read(rd, out) == STREAM_OK && stream_read(rd, out) == STREAM_OK &&
	       out->u.row.has_figs && out->u.row.host == 5 && out->u.row.limit == 2 &&
	       out->u.row.limit_pct == 84 && !memcmp(&out->u.row.figs, &f, sizeof(f));
	ok(good, "a row's figures, host and verdict read back");
	good = stream_read(rd, out) == STREAM_OK && !out->u.row.has_figs && out->u.row.host == 5 &&
	       out->u.row.limit == 0;
	ok(good, "a row with a host and no figures: none read");
	stream_reader_free(rd);

	/* a row with host and 20 more bytes, not a whole block: no figures, no error */
	reset();
	header(STREAM_KIND_SNAPSHOT);
	r.u.row.has_figs = 1;
	n = len;
	add(&r);
	put32(n + 4, 8 + 192 + 20 + 4);
	memmove(buf + n + 8 + 192 + 20, buf + n + 248 - 4, 4);
	put32(n + 8 + 192 + 20, 8 + 192 + 20 + 4);
	len = n + 8 + 192 + 20 + 4;
	rd = stream_reader_mem(buf, len, "t");
	good = stream_read(rd, out) == STREAM_OK && stream_read(rd, out) == STREAM_OK &&
	       !out->u.row.has_figs && out->u.row.host == 5;
	ok(good, "a row with part of a block (a newer, shorter field): no figures");
	stream_reader_free(rd);

	memset(&r, 0, sizeof(r));
	r.type = REC_CONN_SAMPLE;
	ok(stream_encode(&r, tmp) == 72, "a sample without figures: 72 bytes");
	r.u.sample.has_figs = 1;
	r.u.sample.figs = f;
	ok(stream_encode(&r, tmp) == 120, "with figures: 120 bytes");
	reset();
	header(STREAM_KIND_RAW);
	add(&r);
	r.type = REC_CONN_CLOSE;
	r.u.close.has_figs = 1;
	r.u.close.figs = f;
	add(&r);
	r.type = REC_CONN_OPEN;
	r.u.open.cgroup_id = 77;
	r.u.open.has_figs = 1;
	r.u.open.figs = f;
	add(&r);
	rd = stream_reader_mem(buf, len, "t");
	good = stream_read(rd, out) == STREAM_OK;
	good &= stream_read(rd, out) == STREAM_OK && out->u.sample.has_figs &&
		!memcmp(&out->u.sample.figs, &f, sizeof(f));
	good &= stream_read(rd, out) == STREAM_OK && out->u.close.has_figs &&
		!memcmp(&out->u.close.figs, &f, sizeof(f));
	good &= stream_read(rd, out) == STREAM_OK && out->u.open.has_figs &&
		out->u.open.cgroup_id == 77 && !memcmp(&out->u.open.figs, &f, sizeof(f));
	ok(good, "SAMPLE, CLOSE and OPEN carry the figures");
	stream_reader_free(rd);
	free(out);
}

/* A known record of the other vocabulary is corrupt, named with its offset; an unknown one is
 * skipped. */
static void test_vocabulary(void)
{
	struct rec r = { .type = REC_SNAP_END };
	char msg[600], want[80];
	int n, st;

	reset();
	header(STREAM_KIND_RAW);
	snprintf(want, sizeof(want), "SNAP_END record at byte %zu in a raw stream", len);
	add(&r);
	end();
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && n == 1 && has(msg, want),
	   "a SNAP_END in a raw stream is corrupt, named at its offset: %s", msg);
	reset();
	header(STREAM_KIND_SNAPSHOT);
	r.type = REC_TICK;
	r.u.tick.ts = 5;
	add(&r);
	end();
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && has(msg, "TICK record at byte") && has(msg, "snapshot stream"),
	   "a TICK in a snapshot stream is corrupt: %s", msg);
}

/* The reader remembers the kind of the last record's type: every change of type is judged by
 * its own kind, a run of one type or an unknown type in between notwithstanding. */
static void test_kind_runs(void)
{
	struct rec r;
	char msg[600], want[80];
	int n, st;

	reset();
	header(STREAM_KIND_SNAPSHOT);
	memset(&r, 0, sizeof(r));
	r.type = REC_SNAP_BEGIN;
	add(&r);
	memset(&r, 0, sizeof(r));
	r.type = REC_SNAP_ROW;
	add(&r);
	add(&r);
	r.type = REC_SNAP_END; /* judged by SNAP_ROW's minimum body it would be corrupt */
	add(&r);
	r.type = REC_SNAP_ROW;
	add(&r);
	add(&r);
	put32(offs[nrecs - 1], 0x4242); /* unknown: skipped */
	add(&r);
	r.type = REC_TICK;
	r.u.tick.ts = 5;
	snprintf(want, sizeof(want), "TICK record at byte %zu in a snapshot stream", len);
	add(&r);
	end();
	st = read_all(len, &n, msg, sizeof(msg), 0);
	ok(st == STREAM_CORRUPT && n == 7 && has(msg, want),
	   "runs of one type, an unknown type, then a TICK: %d records, %s", n, msg);
}

int main(void)
{
	test_round_trip();
	test_errors();
	test_vocabulary();
	test_kind_runs();
	test_figs();
	test_old_bodies();
	test_pipe();
	test_read_size();
	test_writer();
	return done_testing();
}
