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
/* Record the rate (in + out) of every row of s at its tick (s->tick, increasing). -1 when out of
 * memory (the history then misses this snapshot). */
int trends_add(struct trends *tr, const struct snapshot *s);
/* The n (<= TREND_LEN) rates of connection k up to and including tick, oldest first, 0 where
 * nothing is known; returns how many of them are known: the ticks from since to until (those of
 * the snapshots its row was in) that are not overwritten (0: the connection has no history). */
int trends_get(const struct trends *tr, const struct conn_key *k, uint64_t tick, uint64_t since,
	       uint64_t until, int n, float *out);
/* A sparkline of n values scaled to their maximum: block characters, or ASCII when utf8 is
 * false; a zero is a blank. Returns its width in columns (n). */
int trend_spark(const float *v, int n, bool utf8, char *buf, size_t size);

#endif /* TCPTOP_VIEW_TREND_H */
