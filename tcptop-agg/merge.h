/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-agg --merge: several raw streams, each its own host, into one snapshot stream. */
#ifndef TCPTOP_AGG_MERGE_H
#define TCPTOP_AGG_MERGE_H

#include "agg.h"
#include "stream.h"

/* Reads every input at once and writes merged snapshots to w until all have ended. names[i] is
 * used in messages; fds[i] is read. Returns 0 or an exit status (sysexits). */
int merge_run(const struct agg_opts *o, int n, const char *const *names, const int *fds,
	      struct stream_writer *w);

#endif /* TCPTOP_AGG_MERGE_H */
