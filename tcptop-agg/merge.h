/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-agg --merge: several raw streams, each its own host, into one snapshot stream. */
#ifndef TCPTOP_AGG_MERGE_H
#define TCPTOP_AGG_MERGE_H

#include <stddef.h>

#include "agg.h"
#include "stream.h"

/* One input: a file descriptor (a regular file is read in turn by the caller's thread, anything
 * else by a thread of its own), or, with fd -1, bytes in memory (the fuzz target). */
struct merge_input {
	const char *name; /* in messages */
	int fd;
	const void *buf;
	size_t len;
};

/* After SIGINT or SIGTERM, how long inputs that are pipes are still read for the END their
 * collectors send on the same Ctrl-C (tcptop-agg's STOP_GRACE_NS). */
#define MERGE_STOP_GRACE_NS 300000000ULL

/*
 * Reads every input at once and writes merged snapshots to o->out until all have ended, or
 * until a stop request (lib/stop.h) ends the run: then END follows the last merged snapshot.
 * o's pace is not used; o->warn (may be NULL) gets the message of each input that ended badly.
 * Returns 0 or an exit status (a bad input: 65 or 74 after every other input was merged to its
 * end; a stop: exit_stopped(); a reader thread that could not start: 71, with its message), or
 * -errno when the output failed or memory ran out.
 */
int merge_run(const struct agg_opts *o, int n, const struct merge_input *in);

#endif /* TCPTOP_AGG_MERGE_H */
