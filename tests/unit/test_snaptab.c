// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the snapshot table (lib/snaptab.c): each rule of applying a delta snapshot
 * (tcptop-stream(5), "Delta snapshots (1.1)") against a table whose result is known. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "snaptab.h"
#include "tap.h"

static struct stream_header hdr(uint16_t minor)
{
	struct stream_header h = { .major = 1, .minor = minor, .kind = STREAM_KIND_SNAPSHOT };

	return h;
}

static struct rec_snap_row row(uint32_t host, uint64_t flow, uint64_t bytes, uint8_t flags)
{
	struct rec_snap_row r = { .host = host, .flags = flags };

	r.id.flow = flow;
	r.id.proto = PROTO_TCP;
	r.c.bytes_in = bytes;
	r.rate_in = (double)bytes;
	r.rate_out = 1.0;
	return r;
}

static int begin(struct snaptab *t, uint32_t type, uint32_t table_rows)
{
	struct rec_snap_begin b = { .table_rows = table_rows };

	return snaptab_begin(t, type, &b);
}

/* A full snapshot of n rows on host 0, flows 1..n, bytes 100 * flow. */
static int full(struct snaptab *t, uint32_t n)
{
	begin(t, REC_SNAP_BEGIN, n);
	for (uint32_t i = 1; i <= n; i++) {
		struct rec_snap_row r = row(0, i, 100 * i, 0);

		if (snaptab_add(t, REC_SNAP_ROW, &r))
			return -1;
	}
	return snaptab_end(t);
}

/* n rows' host:flow, "0:1 0:2 3:1", the i-th given by row(t, i). */
static const char *keys(const struct snaptab *t, size_t n,
			const struct rec_snap_row *(*row)(const struct snaptab *, size_t))
{
	static char buf[4096];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(buf) - 32; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%u:%llu", i ? " " : "",
				row(t, i)->host, (unsigned long long)row(t, i)->id.flow);
	return buf;
}

/* The table's flows in order. */
static const char *flows(const struct snaptab *t)
{
	return keys(t, snaptab_rows(t), snaptab_row);
}

static const struct rec_snap_row *get(const struct snaptab *t, uint32_t host, uint64_t flow)
{
	for (size_t i = 0; i < snaptab_rows(t); i++)
		if (snaptab_row(t, i)->id.flow == flow && snaptab_row(t, i)->host == host)
			return snaptab_row(t, i);
	return NULL;
}

static int delta(struct snaptab *t, uint32_t table_rows, const struct rec_snap_row *rows, size_t n)
{
	int st = begin(t, REC_DELTA_BEGIN, table_rows);

	if (st != SNAPTAB_DELTA && st != SNAPTAB_SKIP)
		return -100;
	for (size_t i = 0; i < n; i++)
		if (snaptab_add(t, REC_DELTA_ROW, &rows[i]))
			return -101;
	return snaptab_end(t);
}

static void test_full_then_delta(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	struct rec_snap_row d[3];

	snaptab_section(&t, &h);
	ok(full(&t, 4) == SNAPTAB_READY, "a full snapshot is ready at its end");
	is_str(flows(&t), "0:1 0:2 0:3 0:4", "its rows in its order");

	/* flow 2 moved bytes, flow 3 closed, flow 5 is new */
	d[0] = row(0, 2, 250, 0);
	d[1] = row(0, 3, 300, CONN_F_CLOSED);
	d[2] = row(0, 5, 500, CONN_F_NEW);
	ok(delta(&t, 5, d, 3) == SNAPTAB_READY, "a delta applies");
	is_str(flows(&t), "0:1 0:2 0:3 0:4 0:5",
	       "carried rows replaced in place, a new one at the end, the closed one still shown");
	ok(get(&t, 0, 2)->c.bytes_in == 250 && get(&t, 0, 2)->rate_in == 250.0,
	   "a carried row is the delta's");
	ok(get(&t, 0, 1)->rate_in == 0 && get(&t, 0, 1)->rate_out == 0 &&
		   get(&t, 0, 1)->c.bytes_in == 100,
	   "a row not carried keeps its counters and its rates are 0");

	/* nothing changed: the closed row goes, NEW and the rates of the last carried clear */
	ok(delta(&t, 4, NULL, 0) == SNAPTAB_READY, "an empty delta applies");
	is_str(flows(&t), "0:1 0:2 0:4 0:5", "the row the previous snapshot closed is dropped");
	ok(!(get(&t, 0, 5)->flags & CONN_F_NEW), "NEW is cleared on a row not carried again");
	ok(get(&t, 0, 2)->rate_in == 0 && get(&t, 0, 5)->rate_out == 0,
	   "the rates of the rows the previous delta carried are 0");
	ok(get(&t, 0, 5)->c.bytes_in == 500, "and their counters stay");

	/* a closed row's slot is reused, the order still right */
	d[0] = row(0, 6, 600, CONN_F_NEW);
	ok(delta(&t, 5, d, 1) == SNAPTAB_READY && !strcmp(flows(&t), "0:1 0:2 0:4 0:5 0:6"),
	   "a new row after a drop: %s", flows(&t));
	snaptab_free(&t);
}

static void test_closed_in_full(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	struct rec_snap_row r = row(0, 9, 1, CONN_F_CLOSED);

	snaptab_section(&t, &h);
	begin(&t, REC_SNAP_BEGIN, 2);
	snaptab_add(&t, REC_SNAP_ROW, &r);
	r = row(0, 10, 1, CONN_F_NEW);
	snaptab_add(&t, REC_SNAP_ROW, &r);
	snaptab_end(&t);
	ok(delta(&t, 1, NULL, 0) == SNAPTAB_READY && !strcmp(flows(&t), "0:10"),
	   "a row a full snapshot closed is dropped by the next delta");
	ok(!(get(&t, 0, 10)->flags & CONN_F_NEW) && get(&t, 0, 10)->rate_in == 0,
	   "a full snapshot's rows lose NEW and rates at the next delta");
	snaptab_free(&t);
}

/* A full snapshot of a merged stream: flows 1 and 2 on hosts 1 and 3 (1:2 with flags). */
static void two_hosts(struct snaptab *t, uint8_t flags)
{
	struct rec_snap_row r;

	begin(t, REC_SNAP_BEGIN, 4);
	for (uint32_t host = 1; host <= 3; host += 2)
		for (uint64_t f = 1; f <= 2; f++) {
			r = row(host, f, f, f == 2 && host == 1 ? flags : 0);
			snaptab_add(t, REC_SNAP_ROW, &r);
		}
	snaptab_end(t);
}

static void test_hosts(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	struct rec_snap_row d[3];

	snaptab_section(&t, &h);
	two_hosts(&t, 0);
	is_str(flows(&t), "1:1 1:2 3:1 3:2", "a merged table: the same flow on two hosts");
	d[0] = row(1, 7, 7, CONN_F_NEW);
	d[1] = row(2, 1, 1, CONN_F_NEW);
	d[2] = row(3, 2, 99, 0);
	ok(delta(&t, 6, d, 3) == SNAPTAB_READY, "a merged delta applies");
	is_str(flows(&t), "1:1 1:2 1:7 2:1 3:1 3:2",
	       "new rows go after their host's rows, a new host's between its neighbours");
	ok(get(&t, 3, 2)->c.bytes_in == 99 && get(&t, 1, 2)->c.bytes_in == 2,
	   "rows are keyed by host and flow");
	snaptab_free(&t);
}

static void test_out_of_step(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	struct rec_snap_row d = row(0, 2, 999, 0);

	snaptab_section(&t, &h);
	full(&t, 3);
	ok(delta(&t, 4, &d, 1) == SNAPTAB_OUT_OF_STEP && t.out_of_step == 1,
	   "a table whose rows differ from table_rows is out of step, and counted");
	ok(delta(&t, 3, &d, 1) == SNAPTAB_SKIP && t.skipped == 1,
	   "the deltas after it are skipped, and counted");
	ok(full(&t, 2) == SNAPTAB_READY && delta(&t, 2, &d, 1) == SNAPTAB_READY,
	   "the next full snapshot mends it");
	ok(t.out_of_step == 1, "out of step once");

	/* a delta cut short (no END) leaves the table out of step */
	begin(&t, REC_DELTA_BEGIN, 2);
	snaptab_add(&t, REC_DELTA_ROW, &d);
	begin(&t, REC_DELTA_BEGIN, 2);
	ok(snaptab_end(&t) == SNAPTAB_SKIP, "a delta after one cut short is skipped");
	snaptab_free(&t);
}

static void test_late_join(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1), old = hdr(0);
	struct rec_snap_row d = row(0, 1, 1, CONN_F_NEW);

	snaptab_section(&t, &h);
	ok(delta(&t, 1, &d, 1) == SNAPTAB_SKIP && snaptab_rows(&t) == 0,
	   "a reader that has seen no full snapshot skips deltas");
	ok(full(&t, 1) == SNAPTAB_READY && delta(&t, 1, &d, 1) == SNAPTAB_READY &&
		   snaptab_rows(&t) == 1 && get(&t, 0, 1)->c.bytes_in == 1,
	   "and applies them from the first full one");
	snaptab_section(&t, &h);
	ok(delta(&t, 1, &d, 1) == SNAPTAB_SKIP, "a new section needs its own full snapshot");
	snaptab_section(&t, &old);
	full(&t, 2);
	ok(snaptab_rows(&t) == 0 && delta(&t, 2, &d, 1) == SNAPTAB_SKIP,
	   "a 1.0 section keeps no table and skips deltas");
	snaptab_free(&t);
}

static void test_kinds(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	struct rec_snap_row r = row(0, 1, 1, 0);

	snaptab_section(&t, &h);
	ok(snaptab_add(&t, REC_SNAP_ROW, &r) == -EPROTO, "a row outside a snapshot is refused");
	begin(&t, REC_SNAP_BEGIN, 1);
	ok(snaptab_add(&t, REC_DELTA_ROW, &r) == -EPROTO,
	   "a DELTA_ROW in a full snapshot is refused");
	snaptab_add(&t, REC_SNAP_ROW, &r);
	snaptab_end(&t);
	begin(&t, REC_DELTA_BEGIN, 1);
	ok(snaptab_add(&t, REC_SNAP_ROW, &r) == -EPROTO, "a SNAP_ROW in a delta is refused");
	ok(snaptab_end(&t) == SNAPTAB_READY, "and not applied");
	snaptab_free(&t);
}

/* The carried rows' flows in the table's order. */
static const char *carried(struct snaptab *t)
{
	if (snaptab_carried(t))
		return "ENOMEM";
	return keys(t, snaptab_ncarried(t), snaptab_carried_row);
}

static void test_carried(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	struct rec_snap_row d[4];

	snaptab_section(&t, &h);
	two_hosts(&t, CONN_F_CLOSED);
	is_str(carried(&t), "1:1 1:2 3:1 3:2", "a full snapshot carries every row, in order");

	/* 1:2 closed goes: the places after it move; rows sent out of the table's order, a new
	 * one of host 1 placed before host 3's, one of host 3 at the end */
	d[0] = row(3, 2, 5, 0);
	d[1] = row(1, 1, 7, 0);
	d[2] = row(1, 8, 8, CONN_F_NEW);
	d[3] = row(3, 9, 9, CONN_F_NEW);
	ok(delta(&t, 5, d, 4) == SNAPTAB_READY, "a merged delta out of order applies");
	is_str(flows(&t), "1:1 1:8 3:1 3:2 3:9", "its table");
	is_str(carried(&t), "1:1 1:8 3:2 3:9", "its carried rows in the table's order");
	ok(delta(&t, 5, NULL, 0) == SNAPTAB_READY && snaptab_ncarried(&t) == 0,
	   "an empty delta carries none");
	d[0] = row(3, 1, 3, 0);
	d[1] = row(1, 8, 3, 0);
	ok(delta(&t, 5, d, 2) == SNAPTAB_READY, "a delta of rows in reverse order");
	is_str(carried(&t), "1:8 3:1", "they come in the table's order");
	snaptab_free(&t);

	/* a single host's new rows at the end, after a drop in the middle */
	snaptab_section(&t, &h);
	full(&t, 5);
	d[0] = row(0, 3, 300, CONN_F_CLOSED);
	ok(delta(&t, 5, d, 1) == SNAPTAB_READY, "a row closes");
	d[0] = row(0, 6, 6, CONN_F_NEW);
	d[1] = row(0, 5, 6, 0);
	d[2] = row(0, 1, 6, 0);
	ok(delta(&t, 5, d, 3) == SNAPTAB_READY, "the next delta drops it and adds one");
	is_str(flows(&t), "0:1 0:2 0:4 0:5 0:6", "its table");
	is_str(carried(&t), "0:1 0:5 0:6", "the places after the drop moved with it");
	snaptab_free(&t);
}

/* A full snapshot's rows are indexed when first needed: by a look-up, or by the next delta. */
static void test_lazy_index(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	struct rec_snap_row r, d;
	const struct rec_snap_row *f;

	snaptab_section(&t, &h);
	full(&t, 300);
	ok(!t.indexed && t.idx.n == 0, "a full snapshot leaves its rows unindexed");
	f = snaptab_find(&t, 0, 123);
	ok(f && f->c.bytes_in == 12300 && t.indexed && t.idx.n == 300,
	   "a look-up indexes them and finds its row");
	full(&t, 200);
	d = row(0, 150, 7, 0);
	ok(delta(&t, 200, &d, 1) == SNAPTAB_READY && get(&t, 0, 150)->c.bytes_in == 7 &&
		   snaptab_rows(&t) == 200,
	   "a delta after a full snapshot finds the row it carries");

	/* two rows of one key in a full snapshot: the last one is found */
	begin(&t, REC_SNAP_BEGIN, 2);
	r = row(0, 5, 1, 0);
	snaptab_add(&t, REC_SNAP_ROW, &r);
	r = row(0, 5, 2, 0);
	snaptab_add(&t, REC_SNAP_ROW, &r);
	snaptab_end(&t);
	f = snaptab_find(&t, 0, 5);
	ok(f && f->c.bytes_in == 2, "of two rows of one key, the last one added is found");
	snaptab_free(&t);
}

/* Enough rows that the slots move while a delta adds: the index must follow them. */
static void test_growth(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	enum {
		N = 1,
		M = 300
	}; /* small: the heap's reallocs move (big ones may grow in place) */
	static struct rec_snap_row d[M];
	bool found = true;

	snaptab_section(&t, &h);
	full(&t, N);
	for (uint32_t i = 0; i < M; i++)
		d[i] = row(0, N + 1 + i, i, CONN_F_NEW);
	ok(delta(&t, N + M, d, M) == SNAPTAB_READY, "a delta that adds 300 rows to 1");
	for (uint32_t i = 0; i < M; i++)
		d[i] = row(0, 1 + (i * 7) % (N + M), 42, 0);
	ok(delta(&t, N + M, d, M) == SNAPTAB_READY, "rows carried after the slots moved replace");
	for (uint32_t i = 0; i < M; i++)
		found &= get(&t, 0, 1 + (i * 7) % (N + M))->c.bytes_in == 42;
	ok(found && snaptab_rows(&t) == N + M, "every one found by its key");
	snaptab_free(&t);
}

/* Rows decoded where snaptab_place() said are kept without a copy, as copied ones are; a look-up
 * in the middle of the snapshot indexes the rows so far, and the index follows the slots when
 * the next place makes them grow. No place but in a full snapshot of a table that keeps them. */
/* A full snapshot's rows, some decoded in place and some copied (a place not taken), are the
 * table in their order, all carried; a delta after it finds each by its key. */
static void test_full_mixed(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1);
	struct rec_snap_row r, d[2];
	int st = 0;

	snaptab_section(&t, &h);
	begin(&t, REC_SNAP_BEGIN, 5);
	for (uint32_t i = 1; i <= 5; i++) {
		struct rec_snap_row *p = snaptab_place(&t);

		r = row(0, i, 100 * i, i == 2 ? CONN_F_CLOSED : 0);
		if (i % 2 && p) {
			*p = r;
			st |= snaptab_add(&t, REC_SNAP_ROW, p);
		} else {
			st |= snaptab_add(&t, REC_SNAP_ROW, &r);
		}
	}
	ok(!st && snaptab_end(&t) == SNAPTAB_READY, "rows in place and copied, one after another");
	is_str(flows(&t), "0:1 0:2 0:3 0:4 0:5", "the table in their order");
	is_str(carried(&t), "0:1 0:2 0:3 0:4 0:5", "every one carried");
	ok(snaptab_find(&t, 0, 4) && snaptab_find(&t, 0, 4)->c.bytes_in == 400,
	   "a look-up finds a copied row");
	d[0] = row(0, 3, 333, 0);
	d[1] = row(0, 6, 600, CONN_F_NEW);
	ok(delta(&t, 5, d, 2) == SNAPTAB_READY, "a delta applies after them");
	is_str(flows(&t), "0:1 0:3 0:4 0:5 0:6", "the closed row gone, the new one at the end");
	is_str(carried(&t), "0:3 0:6", "the delta's rows carried");
	ok(get(&t, 0, 3)->c.bytes_in == 333 && get(&t, 0, 1)->rate_in == 0,
	   "a carried row replaced, the others' rates 0");
	snaptab_free(&t);
}

static void test_place(void)
{
	struct snaptab t = { 0 };
	struct stream_header h = hdr(1), old = hdr(0);
	struct rec_snap_row *p, d = row(0, 150, 7, 0);
	bool same = true, found = true;

	snaptab_section(&t, &h);
	ok(!snaptab_place(&t), "no place outside a snapshot");
	begin(&t, REC_SNAP_BEGIN, 300);
	for (uint32_t i = 1; i <= 300; i++) {
		p = snaptab_place(&t);
		if (!p)
			break;
		*p = row(0, i, 100 * i, 0);
		same &= snaptab_add(&t, REC_SNAP_ROW, p) == 0 && snaptab_row(&t, i - 1) == p;
		if (!(i & (i - 1))) /* at each power of two: the slots grow (double) next */
			found &= snaptab_find(&t, 0, i) == p;
	}
	ok(same && found && snaptab_end(&t) == SNAPTAB_READY && snaptab_rows(&t) == 300,
	   "300 rows decoded in place: each is its slot's");
	for (uint32_t i = 1; i <= 300; i++)
		found &= get(&t, 0, i) && get(&t, 0, i)->c.bytes_in == 100 * i;
	ok(found, "every one found by its key, those before and after a look-up");
	ok(!snaptab_place(&t), "no place after the snapshot's end");
	ok(delta(&t, 300, &d, 1) == SNAPTAB_READY && get(&t, 0, 150)->c.bytes_in == 7 &&
		   get(&t, 0, 151)->rate_in == 0,
	   "a delta applies to them");
	begin(&t, REC_DELTA_BEGIN, 300);
	ok(!snaptab_place(&t), "no place in a delta: its rows replace others");
	snaptab_end(&t);
	snaptab_section(&t, &old);
	begin(&t, REC_SNAP_BEGIN, 1);
	ok(!snaptab_place(&t), "nor in a table that keeps no full snapshot (format 1.0)");
	snaptab_free(&t);
}

int main(void)
{
	test_full_then_delta();
	test_closed_in_full();
	test_hosts();
	test_out_of_step();
	test_late_join();
	test_kinds();
	test_growth();
	test_carried();
	test_lazy_index();
	test_place();
	test_full_mixed();
	return done_testing();
}
