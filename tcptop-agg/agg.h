/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The aggregator: raw records in, per-interval snapshots out (tcptop-agg(1) states the rules). */
#ifndef TCPTOP_AGG_H
#define TCPTOP_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "stream.h"

struct agg_filter {
	bool port_set, pid_set;
	uint16_t port;
	uint32_t pid;
	const char *process;   /* substring of the sanitised process name, or NULL */
	const char *interface; /* the sanitised interface name, exactly, or NULL */
	const char *cgroup;    /* shell glob on the cgroup's short form or path, or NULL */
	bool tcp, udp;	       /* neither or both: every protocol */
};

/*
 * Where records go: the one output path of an aggregator (a stream writer for tcptop-agg, a
 * host's snapshot for --merge) and of a merge. rec() takes every record (the header, CGROUP,
 * the snapshot records, END); flush() (may be NULL) comes after the header, each snapshot and
 * END. Each returns 0 or -errno (-EPIPE: the reader went away; -ENOMEM).
 */
struct agg_sink {
	int (*rec)(void *ctx, const struct rec *r);
	int (*flush)(void *ctx);
	void *ctx;
};

/* The sink that writes to w. */
struct agg_sink agg_sink_writer(struct stream_writer *w);

struct agg_opts {
	uint64_t interval_ns;
	uint64_t max_flows;
	/* a full snapshot every full_every snapshots, deltas between (format 1.1); 0 or 1: full
	 * snapshots only (for readers of format 1.0) */
	uint64_t full_every;
	struct agg_filter filter;
	const char *filter_text; /* for the header's HOPT_FILTER; "" when none */
	struct agg_sink out;
	/* Each may be NULL; ctx is theirs. Called before each snapshot is written, with its
	 * monotonic end and span (pacing). */
	void (*pace)(void *ctx, uint64_t mono_ns, uint64_t span_ns);
	/* Called when the table first refuses a connection in a section (a warning). */
	void (*table_full)(void *ctx, uint64_t max_flows);
	/* A merge's one-line message about an input ("web1.tcpt: truncated ... at byte N"). */
	void (*warn)(void *ctx, const char *msg);
	void *ctx;
};

struct agg;

/* NULL: out of memory. */
struct agg *agg_new(const struct agg_opts *o);
void agg_free(struct agg *a);

/* Each returns 0, or -errno from the sink (-EPIPE: the reader went away) or -ENOMEM. */
/* A new section: forget every connection, write the output header from the input's. */
int agg_begin(struct agg *a, const struct stream_header *in);
/* One raw record of the current section (not the header). */
int agg_record(struct agg *a, const struct rec *r);
/* End of the section: END seen (partial false), or the input stopped without it (partial
 * true: what came after the last snapshot is written as one flagged SNAP_F_PARTIAL; nothing
 * when nothing came). Writes END. */
int agg_end(struct agg *a, bool partial);
/* Stopped before the input's end (a signal): the open interval is left out, since its snapshot
 * would lack what was not read yet, and END follows the last complete snapshot. */
int agg_stop(struct agg *a);
/* Whether agg_end(a, true) would write a partial snapshot: a record came after the last
 * snapshot (or none was written yet). */
bool agg_pending(const struct agg *a);
/* True between agg_begin() and agg_end(). */
bool agg_in_section(const struct agg *a);

/* For the memory benchmark and tests: connections held now. */
uint64_t agg_conns(const struct agg *a);

#endif /* TCPTOP_AGG_H */
