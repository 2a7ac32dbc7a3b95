/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The view's input: a thread reads the snapshot stream with blocking reads and hands over each
 * snapshot once it is complete, so the terminal never waits for stdin. */
#ifndef TCPTOP_VIEW_FEED_H
#define TCPTOP_VIEW_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "stream.h"
#include "table.h"

struct feed;

/* Starts reading rd (its stream header already read) in a thread. *wake_fd becomes readable
 * whenever a snapshot is ready or the input ends: drain it with feed_drain(). NULL and errno on
 * failure. */
struct feed *feed_start(struct stream_reader *rd, bool ascii_only, int *wake_fd);
void feed_drain(struct feed *f);
/* The oldest complete snapshot not taken yet (the caller frees it), or NULL: every snapshot is
 * handed over in order (history, trends and closed connections need them all) unless more than
 * FEED_QUEUE_MAX, or more than FEED_QUEUE_ROWS rows, wait, when the oldest are dropped; *skipped
 * counts those. */
#define FEED_QUEUE_MAX	256
#define FEED_QUEUE_ROWS (1u << 20)
struct snapshot *feed_take(struct feed *f, uint64_t *skipped);
/* STREAM_OK while input continues, then the reader's final status (STREAM_EOF, STREAM_NO_END,
 * STREAM_CORRUPT, ...). */
int feed_status(struct feed *f);
/* The number of complete snapshots read so far. */
uint64_t feed_count(struct feed *f);

#endif /* TCPTOP_VIEW_FEED_H */
