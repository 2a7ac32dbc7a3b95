/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Rate history per connection over the last TREND_LEN snapshots: the trend of each row and the
 * detail view's graph. */
#ifndef TCPTOP_VIEW_TREND_H
#define TCPTOP_VIEW_TREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "table.h"

#define TREND_LEN   60 /* snapshots of history per connection */
#define TREND_SHORT 8  /* points in a row's sparkline */

struct trends;

struct trends *trends_new(void);
void trends_free(struct trends *tr);
/* Record the rate (in + out) of every row of s at its tick (s->tick, increasing), and the TCP
 * figures of the rows whose figures changed; prev (whole or thin, or NULL) is the snapshot
 * before s: a connection's first figures are measured from its figures there. s's rows keep
 * what entries not made yet hold (quiet). -1 when out of memory (the history then misses this
 * snapshot). */
int trends_add(struct trends *tr, struct snapshot *s, const struct snapshot *prev);
/* The n (<= TREND_LEN) rates of connection k up to and including tick, oldest first, 0 where
 * nothing is known; returns how many of them are known: the ticks from since to until (those of
 * the snapshots its row was in) that are not overwritten (0: the connection has no history). */
int trends_get(const struct trends *tr, const struct conn_key *k, uint64_t tick, uint64_t since,
	       uint64_t until, int n, float *out);
/* The detail view's graphs: the rate, and a TCP connection's figures (the clocks as shares of
 * each interval, per-interval counts, the state at each snapshot). */
enum trend_series {
	TS_RATE,     /* bytes/s in + out */
	TS_BUSY,     /* % of the interval with data to send */
	TS_RWND,     /* % of the interval the peer's window held it back */
	TS_SNDBUF,   /* % of the interval the send buffer held it back */
	TS_CWND,     /* segments */
	TS_DELIVERY, /* bytes/s */
	TS_RTT,	     /* smoothed, us */
	TS_MINRTT,   /* us */
	TS_INFLIGHT, /* segments */
	TS_UNSENT,   /* bytes */
	TS_RETRANS,  /* segments retransmitted in the interval */
	TS_LOST,     /* segments lost in the interval */
	TS_N
};

/* Its title ("cwnd (segments)") and whether its values are bytes (shown in KiB...). */
const char *trend_series_title(enum trend_series ts);
bool trend_series_bytes(enum trend_series ts);
/* Like trends_get(), for one series. A TCP connection's figures are kept from the first
 * snapshot in which they moved; at other ticks the state is its last figures known, else figs
 * (its figures in the snapshot shown, or NULL) with srtt_us, and nothing moves. */
int trends_get_series(const struct trends *tr, const struct conn_key *k, enum trend_series ts,
		      uint64_t tick, uint64_t since, uint64_t until, const struct tcp_figs *figs,
		      uint32_t srtt_us, int n, float *out);

/* A sparkline of n values scaled to their maximum: block characters, or ASCII when utf8 is
 * false; a zero is a blank. Returns its width in columns (n). */
int trend_spark(const float *v, int n, bool utf8, char *buf, size_t size);

#endif /* TCPTOP_VIEW_TREND_H */
