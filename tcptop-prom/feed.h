/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The exporter's reader: a snapshot stream in, each snapshot applied whole to a struct prom
 * under a lock, so that a scrape never sees half of one. Used by tcptop-prom's reader thread and
 * by its fuzz target alike. */
#ifndef TCPTOP_PROM_FEED_H
#define TCPTOP_PROM_FEED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prom.h"
#include "snaptab.h"
#include "stream.h"

/* Rows of one snapshot held at most; more are counted (tcptop_loss_total{cause=
 * "snapshot_rows_limit"}), not applied. */
#define FEED_ROWS_MAX (1u << 22)

struct feed {
	pthread_mutex_t *lock; /* held while p changes */
	struct prom *p;
	/* After each snapshot is applied, and once at the end of the input (the textfile): 0, or
	 * an exit status (sysexits) that ends the feed, its message in msg. NULL: none. */
	int (*applied)(void *ctx, char *msg, size_t size);
	void *ctx;
	size_t rows_max; /* rows of a snapshot held at most; 0: FEED_ROWS_MAX */

	/* the snapshot being read */
	struct rec_snap_begin begin;
	struct rec_host *hosts;
	size_t nhosts, hosts_cap;
	struct rec_snap_row *rows;
	size_t nrows, rows_cap;
	uint64_t rows_dropped;
	bool in_snap;
	struct rec rec;
	struct snaptab tab; /* the table delta snapshots apply to (format 1.1) */
	int snap_kind;	    /* snaptab_begin()'s word on the snapshot being read */

	/* the outcome: a message for stderr (a warning when the status is 0), and whether the
	 * failure was the input's (the exporter serves on what it had) or ours */
	char msg[512];
	bool input_failed;
	bool ended;   /* the input was read to its end (clean, cut or failed) */
	bool stopped; /* the reader's wait hook asked to stop (STREAM_STOPPED) */
};

/* Reads rd to its end, to the first failure, or until the reader's wait hook (set by the caller)
 * asks to stop: then a snapshot half read is left out, and 0 returned with stopped set.
 * Returns 0 when the input ended whole,
 * EX_DATAERR or EX_IOERR when the input failed (input_failed set; every whole snapshot it had,
 * and the part of a cut one, applied), EX_OSERR when out of memory, or the applied hook's
 * status. The input's end is applied (prom_input_end) in every case but out of memory. */
int feed_run(struct feed *f, struct stream_reader *rd);
/* Frees what feed_run() held (not p, not the reader). */
void feed_free(struct feed *f);

#endif /* TCPTOP_PROM_FEED_H */
