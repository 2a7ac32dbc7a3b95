// SPDX-License-Identifier: GPL-2.0-or-later
/* The LIMIT verdict (limit.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "limit.h"

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

enum limit limit_judge(const struct limit_clocks *before, const struct limit_clocks *after,
		       const struct limit_interval *iv, struct limit_shares *s)
{
	/* unsigned differences: a clock that wrapped between the readings counts right */
	uint32_t busy, rwnd, sndbuf;
	uint64_t span = (iv->span_ns + 500000) / 1000000, most = 2 * span + 1000;
	struct limit_shares z = { 0 };
	/* in the order that wins ties: the stalls the kernel names first */
	static const enum limit order[] = { LIMIT_RWND, LIMIT_SNDBUF, LIMIT_CWND, LIMIT_APP };
	enum limit best = LIMIT_NONE;

	if (!s)
		s = &z;
	memset(s, 0, sizeof(*s));
	if (!before || !after)
		return LIMIT_UNKNOWN;
	busy = after->busy_ms - before->busy_ms;
	rwnd = after->rwnd_ms - before->rwnd_ms;
	sndbuf = after->sndbuf_ms - before->sndbuf_ms;
	if (!span || span > UINT32_MAX || busy > most || rwnd > most || sndbuf > most)
		return LIMIT_UNKNOWN;
	if (!busy && !iv->sent && !iv->retrans)
		return LIMIT_NONE;
	/* busy includes the other two; each may run a jiffy past the span */
	busy = min32(busy, (uint32_t)span);
	rwnd = min32(rwnd, busy);
	sndbuf = min32(sndbuf, busy - rwnd);
	s->span_ms = (uint32_t)span;
	s->rwnd = rwnd;
	s->sndbuf = sndbuf;
	s->cwnd = busy - rwnd - sndbuf;
	s->app = (uint32_t)span - busy;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (best == LIMIT_NONE || limit_share_ms(s, order[i]) > limit_share_ms(s, best))
			best = order[i];
	return best;
}

uint32_t limit_share_ms(const struct limit_shares *s, unsigned l)
{
	switch (l) {
	case LIMIT_APP:
		return s->app;
	case LIMIT_RWND:
		return s->rwnd;
	case LIMIT_SNDBUF:
		return s->sndbuf;
	case LIMIT_CWND:
		return s->cwnd;
	}
	return 0;
}

unsigned limit_percent(uint32_t ms, uint32_t span_ms)
{
	if (!span_ms)
		return 0;
	return (unsigned)(((uint64_t)ms * 200 + span_ms) / (2 * (uint64_t)span_ms));
}

static const struct {
	const char *name, *meaning;
} limits[LIMIT_N] = {
	[LIMIT_NONE] = { "", "nothing to send during the interval: idle, or receiving only" },
	[LIMIT_APP] = { "app",
			"the application gave the connection nothing to send most of the time: "
			"it writes little, or waits on something else" },
	[LIMIT_RWND] = { "rwnd",
			 "the peer's receive window held the data back: the receiver reads too "
			 "slowly or its receive buffer is too small" },
	[LIMIT_SNDBUF] = { "sndbuf",
			   "our send buffer was full of data not yet acknowledged: it is smaller "
			   "than the path's bandwidth times its round trip (SO_SNDBUF, tcp_wmem)" },
	[LIMIT_CWND] = { "cwnd", "data in flight at the network's pace: the congestion window, the "
				 "round trip and loss decide (see retransmits and lost)" },
};

unsigned limit_severity(unsigned l, unsigned pct)
{
	static const unsigned rank[LIMIT_N] = {
		[LIMIT_NONE] = 1,   [LIMIT_APP] = 2,  [LIMIT_CWND] = 3,
		[LIMIT_SNDBUF] = 4, [LIMIT_RWND] = 5,
	};

	if (l >= LIMIT_N)
		return 0;
	return rank[l] << 8 | (l == LIMIT_NONE ? 0 : pct > 100 ? 100 : pct);
}

const char *limit_text(unsigned l, unsigned pct, char *buf, size_t size)
{
	if (l == LIMIT_NONE || l >= LIMIT_N)
		return limit_name(l);
	snprintf(buf, size, "%s %u%%", limit_name(l), pct > 100 ? 100 : pct);
	return buf;
}

const char *limit_name(unsigned l)
{
	return l < LIMIT_N ? limits[l].name : "?";
}

const char *limit_meaning(unsigned l)
{
	return l < LIMIT_N ? limits[l].meaning : NULL;
}
