/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Why a TCP connection went no faster during an interval (the LIMIT verdict), from the kernel's
 * chronograph of the connection: struct tcp_sock's chrono_stat[], which ss -ti prints as busy:,
 * rwnd_limited: and sndbuf_limited:. One pure function that every stage uses. */
#ifndef TCPTOP_LIMIT_H
#define TCPTOP_LIMIT_H

#include <stddef.h>
#include <stdint.h>

enum limit {
	LIMIT_NONE = 0,	  /* nothing to send during the interval: idle, or receiving only */
	LIMIT_APP = 1,	  /* the application gave it nothing to send most of the time */
	LIMIT_RWND = 2,	  /* the peer's receive window held the data back */
	LIMIT_SNDBUF = 3, /* our send buffer was full of data not yet acknowledged */
	LIMIT_CWND = 4,	  /* data in flight at the network's pace: congestion window, RTT, loss */
	LIMIT_N,
	LIMIT_UNKNOWN = 255, /* no clocks: a feature missing, or no earlier reading to compare */
};

/* A connection's clocks at one reading, in milliseconds since it began, each wrapping at 2^32
 * as the stream carries them (the kernel counts in jiffies, in 32 bits). */
struct limit_clocks {
	uint32_t busy_ms;   /* with data to send (tcpi_busy_time): the next two included */
	uint32_t rwnd_ms;   /* of which the peer's receive window held the data back */
	uint32_t sndbuf_ms; /* of which our send buffer was full */
};

/* What else happened between the two readings. */
struct limit_interval {
	uint64_t span_ns; /* time between the readings */
	uint64_t sent;	  /* bytes the connection sent */
	uint32_t retrans; /* segments it retransmitted */
};

/* The interval's time by cause, in milliseconds; app + rwnd + sndbuf + cwnd = span_ms. All zero
 * for LIMIT_NONE and LIMIT_UNKNOWN. */
struct limit_shares {
	uint32_t span_ms;
	uint32_t app;	 /* nothing to send */
	uint32_t rwnd;	 /* held by the peer's receive window */
	uint32_t sndbuf; /* held by our send buffer */
	uint32_t cwnd;	 /* sending at the network's pace */
};

/*
 * The verdict for the interval between two readings of one connection's clocks (before, then
 * after; either NULL: no clocks, LIMIT_UNKNOWN): the cause that took the largest share of it, ties going to the receive window, then
 * the send buffer, then the network, then the application. A connection that had nothing to
 * send, sent nothing and retransmitted nothing is LIMIT_NONE. A clock that moved more than the
 * interval allows (more than twice the span and a second: a reading that is not of the same
 * connection, or a wrap the writer did not make) and an empty span give LIMIT_UNKNOWN. Clocks
 * that wrapped between the readings are counted modulo 2^32; the jiffy a clock may run ahead
 * of the span is cut off. s may be NULL.
 */
enum limit limit_judge(const struct limit_clocks *before, const struct limit_clocks *after,
		       const struct limit_interval *iv, struct limit_shares *s);

/* The share of cause l (LIMIT_APP...LIMIT_CWND) in s, milliseconds; 0 for any other. */
uint32_t limit_share_ms(const struct limit_shares *s, unsigned l);

/* ms as a whole percentage of span_ms, rounded to the nearest, 0 for an empty span. */
unsigned limit_percent(uint32_t ms, uint32_t span_ms);

/* How far a verdict holds a connection back, for sorting and for a group's worst connection:
 * the stalls the kernel names (rwnd, then sndbuf), then the network, then the application, then
 * none, then unknown (any other value), each by its share (percent, 100 at most). */
unsigned limit_severity(unsigned l, unsigned pct);

/* "rwnd 84%" for a verdict with its share, "" for LIMIT_NONE, "?" for unknown values. */
const char *limit_text(unsigned l, unsigned pct, char *buf, size_t size);

/* "app", "rwnd", "sndbuf", "cwnd"; "" for LIMIT_NONE; "?" for LIMIT_UNKNOWN and other values
 * (a newer writer's). */
const char *limit_name(unsigned l);

/* What each verdict means and what to do about it, for help screens and man pages; NULL for
 * values without one. */
const char *limit_meaning(unsigned l);

#endif /* TCPTOP_LIMIT_H */
