// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the LIMIT verdict (lib/limit.c): each verdict, ties, the edge cases (idle,
 * receive-only, an interval of all three stalls, clocks that wrap or run a jiffy past the span,
 * a reading that is not of the same connection, no clocks at all), and the shares' sum. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "limit.h"
#include "tap.h"

#define SEC 1000000000ULL

/* The verdict for clocks that moved by busy/rwnd/sndbuf ms from base during span_ms. */
static enum limit judge(uint32_t base, uint32_t busy, uint32_t rwnd, uint32_t sndbuf,
			uint64_t span_ms, uint64_t sent, uint32_t retrans, struct limit_shares *s)
{
	struct limit_clocks a = { base, base / 2, base / 3 };
	struct limit_clocks b = { a.busy_ms + busy, a.rwnd_ms + rwnd, a.sndbuf_ms + sndbuf };
	struct limit_interval iv = { span_ms * 1000000, sent, retrans };

	return limit_judge(&a, &b, &iv, s);
}

static bool shares_are(const struct limit_shares *s, uint32_t span, uint32_t app, uint32_t rwnd,
		       uint32_t sndbuf, uint32_t cwnd)
{
	bool ok_ = s->span_ms == span && s->app == app && s->rwnd == rwnd && s->sndbuf == sndbuf &&
		   s->cwnd == cwnd;

	if (!ok_)
		printf("#   shares: span %u app %u rwnd %u sndbuf %u cwnd %u\n", s->span_ms, s->app,
		       s->rwnd, s->sndbuf, s->cwnd);
	return ok_;
}

static void test_verdicts(void)
{
	struct limit_shares s;

	ok(judge(5000, 0, 0, 0, 1000, 0, 0, &s) == LIMIT_NONE && shares_are(&s, 0, 0, 0, 0, 0),
	   "idle: no clock moved, nothing sent: none, no shares");
	ok(judge(5000, 0, 0, 0, 1000, 0, 0, NULL) == LIMIT_NONE,
	   "receive-only (the bytes received do not count): none; the shares may be left out");
	ok(judge(5000, 100, 0, 0, 1000, 2000, 0, &s) == LIMIT_APP &&
		   shares_are(&s, 1000, 900, 0, 0, 100),
	   "a writer of a little, then sleep: app 900 ms, cwnd 100 ms");
	ok(judge(5000, 0, 0, 0, 1000, 300, 0, &s) == LIMIT_APP &&
		   shares_are(&s, 1000, 1000, 0, 0, 0),
	   "bytes sent and acknowledged within a jiffy: app all the interval");
	ok(judge(5000, 980, 900, 0, 1000, 60000, 0, &s) == LIMIT_RWND &&
		   shares_are(&s, 1000, 20, 900, 0, 80),
	   "a slow reader's window: rwnd 900 ms");
	ok(judge(5000, 1000, 0, 800, 1000, 900000, 0, &s) == LIMIT_SNDBUF &&
		   shares_are(&s, 1000, 0, 0, 800, 200),
	   "a small send buffer: sndbuf 800 ms");
	ok(judge(5000, 1000, 0, 0, 1000, 150000, 17, &s) == LIMIT_CWND &&
		   shares_are(&s, 1000, 0, 0, 0, 1000),
	   "loss: busy all along without a stall: cwnd");
	ok(judge(5000, 900, 300, 350, 1000, 1, 2, &s) == LIMIT_SNDBUF &&
		   shares_are(&s, 1000, 100, 300, 350, 250),
	   "all three in one interval: the largest (sndbuf 350 ms) wins, the shares add up");
	ok(judge(5000, 1000, 0, 0, 1000, 0, 3, &s) == LIMIT_CWND,
	   "nothing new sent, only retransmissions (a stalled path): cwnd");
}

static void test_ties(void)
{
	struct limit_shares s;

	ok(judge(0, 900, 400, 400, 1000, 1, 0, &s) == LIMIT_RWND,
	   "rwnd and sndbuf equal: rwnd (the receiver is the first cause named)");
	ok(judge(0, 1000, 0, 500, 1000, 1, 0, &s) == LIMIT_SNDBUF, "sndbuf and cwnd equal: sndbuf");
	ok(judge(0, 500, 0, 0, 1000, 1, 0, &s) == LIMIT_CWND, "cwnd and app equal: cwnd");
}

static void test_edges(void)
{
	struct limit_clocks a = { 0xFFFFFF00u, 0xFFFFFFF0u, 7 };
	struct limit_clocks b = { 0x000002E4u, 0x00000300u, 7 };
	struct limit_interval iv = { SEC, 1000, 0 };
	struct limit_shares s;

	/* busy moved 0x100 + 0x2E4 = 996 ms, rwnd 0x10 + 0x300 = 784 ms */
	ok(limit_judge(&a, &b, &iv, &s) == LIMIT_RWND && shares_are(&s, 1000, 4, 784, 0, 212),
	   "clocks that wrapped at 2^32 between the readings: counted modulo 2^32");
	ok(judge(0, 1004, 1004, 0, 1000, 1, 0, &s) == LIMIT_RWND &&
		   shares_are(&s, 1000, 0, 1000, 0, 0),
	   "a clock a jiffy past the span: cut at the span, the shares still add up");
	ok(judge(0, 1000, 700, 700, 1000, 1, 0, &s) == LIMIT_RWND &&
		   shares_are(&s, 1000, 0, 700, 300, 0),
	   "stalls that add up to more than busy (truncation): cut to busy");
	ok(judge(0, 3001, 0, 0, 1000, 1, 0, &s) == LIMIT_UNKNOWN && shares_are(&s, 0, 0, 0, 0, 0),
	   "a clock that moved more than twice the span and a second: unknown, no shares");
	ok(judge(0, 3000, 0, 0, 1000, 1, 0, &s) == LIMIT_CWND,
	   "twice the span and a second exactly: still believed (and cut to the span)");
	ok(judge(100, 0, 0, 0xFFFFFF9Cu, 1000, 1, 0, &s) == LIMIT_UNKNOWN,
	   "a clock that went back (read as a wrap of almost 2^32): unknown");
	ok(judge(0, 10, 0, 0, 0, 1, 0, &s) == LIMIT_UNKNOWN, "an empty span: unknown");
	iv.span_ns = 400000; /* 0.4 ms rounds to 0 */
	ok(limit_judge(&a, &a, &iv, &s) == LIMIT_UNKNOWN,
	   "a span under half a millisecond: unknown");
	iv.span_ns = SEC;
	ok(limit_judge(NULL, &b, &iv, &s) == LIMIT_UNKNOWN && shares_are(&s, 0, 0, 0, 0, 0),
	   "no earlier reading (the first of a connection begun before): unknown");
	ok(limit_judge(&a, NULL, &iv, &s) == LIMIT_UNKNOWN,
	   "no clocks (the kernel or the collector lacks the feature): unknown");
	iv.span_ns = 1499999; /* 1.499999 ms: 1 ms */
	ok(limit_judge(&a, &a, &iv, &s) == LIMIT_APP && s.span_ms == 1,
	   "the span rounds to the nearest millisecond");
}

static void test_sum(void)
{
	uint32_t x = 12345;
	bool all = true;

	for (int i = 0; i < 100000; i++) {
		struct limit_shares s;
		uint32_t span, busy, rwnd, sndbuf;
		enum limit l;

		x = x * 1103515245u + 12345u;
		span = 1 + (x >> 8) % 5000;
		x = x * 1103515245u + 12345u;
		busy = (x >> 4) % (2 * span + 1001);
		x = x * 1103515245u + 12345u;
		rwnd = (x >> 4) % (busy + 1);
		x = x * 1103515245u + 12345u;
		sndbuf = (x >> 4) % (busy + 2);
		l = judge(x, busy, rwnd, sndbuf, span, x & 1, 0, &s);
		if (l == LIMIT_NONE)
			continue;
		if (l == LIMIT_UNKNOWN || s.app + s.rwnd + s.sndbuf + s.cwnd != span ||
		    limit_share_ms(&s, l) < s.app || limit_share_ms(&s, l) < s.rwnd ||
		    limit_share_ms(&s, l) < s.sndbuf || limit_share_ms(&s, l) < s.cwnd) {
			printf("#   span %u busy %u rwnd %u sndbuf %u: %s\n", span, busy, rwnd,
			       sndbuf, limit_name(l));
			all = false;
			break;
		}
	}
	ok(all, "100,000 random intervals: the shares add up to the span, the verdict's is the "
		"largest");
}

static void test_names(void)
{
	is_str(limit_name(LIMIT_NONE), "", "none has no name (an empty cell)");
	is_str(limit_name(LIMIT_APP), "app", "app");
	is_str(limit_name(LIMIT_RWND), "rwnd", "rwnd");
	is_str(limit_name(LIMIT_SNDBUF), "sndbuf", "sndbuf");
	is_str(limit_name(LIMIT_CWND), "cwnd", "cwnd");
	is_str(limit_name(LIMIT_UNKNOWN), "?", "unknown is ?");
	is_str(limit_name(9), "?", "a newer writer's verdict is ?");
	ok(limit_meaning(LIMIT_RWND) && strstr(limit_meaning(LIMIT_RWND), "receive window") &&
		   !limit_meaning(LIMIT_UNKNOWN),
	   "each verdict has its meaning, unknown none");
	{
		char b[32];

		is_str(limit_text(LIMIT_RWND, 84, b, sizeof(b)), "rwnd 84%",
		       "the text of rwnd 84%%");
		is_str(limit_text(LIMIT_NONE, 0, b, sizeof(b)), "", "of none: empty");
		is_str(limit_text(LIMIT_UNKNOWN, 0, b, sizeof(b)), "?", "of unknown: ?");
		is_str(limit_text(LIMIT_APP, 250, b, sizeof(b)), "app 100%",
		       "a share cut at 100%%");
	}
	ok(limit_severity(LIMIT_RWND, 10) > limit_severity(LIMIT_SNDBUF, 90) &&
		   limit_severity(LIMIT_SNDBUF, 10) > limit_severity(LIMIT_CWND, 100) &&
		   limit_severity(LIMIT_CWND, 1) > limit_severity(LIMIT_APP, 99) &&
		   limit_severity(LIMIT_APP, 0) > limit_severity(LIMIT_NONE, 0) &&
		   limit_severity(LIMIT_NONE, 0) > limit_severity(LIMIT_UNKNOWN, 0) &&
		   limit_severity(LIMIT_RWND, 80) > limit_severity(LIMIT_RWND, 79) &&
		   limit_severity(9, 50) == 0,
	   "severity: rwnd, sndbuf, cwnd, app, none, unknown, then the share");
	ok(limit_percent(995, 1000) == 100 && limit_percent(994, 1000) == 99 &&
		   limit_percent(1, 3) == 33 && limit_percent(2, 3) == 67 &&
		   limit_percent(5, 0) == 0,
	   "percentages round to the nearest; an empty span is 0");
}

int main(void)
{
	test_verdicts();
	test_ties();
	test_edges();
	test_sum();
	test_names();
	return done_testing();
}
