/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-csv's output: snapshot rows as CSV or JSON Lines cells, buffered on row boundaries. */
#ifndef TCPTOP_CSV_ROWS_H
#define TCPTOP_CSV_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cgroup.h"
#include "snaptab.h"
#include "stream.h"

enum rows_format {
	ROWS_CSV,
	ROWS_JSONL,
};

enum rows_group {
	GROUP_NONE,    /* one row per connection */
	GROUP_PROCESS, /* one row per process (pid and name) per snapshot */
	GROUP_CGROUP,  /* one row per cgroup per snapshot */
};

struct rows_opts {
	enum rows_format format;
	enum rows_group group;
	bool excel_safe; /* CSV: prefix ' to text cells a spreadsheet would run as a formula */
	bool crlf;	 /* CSV: end lines with CR LF instead of LF */
	bool changes;	 /* only the rows that tell a change (changes.h); not with a group */
	bool figures;	 /* the TCP figures' columns, before remote_host */
	/* The remote_host column, after all others: the remote address's host name, or false when
	 * not known (yet), as dns_host() of lib/dns.h gives it (sanitised). NULL: no such column.
	 * It is called with ask as each row comes, and without when the row is written: the rows
	 * of a snapshot are then held until rows_snapshot_end(). */
	bool (*remote_host)(void *ctx, int family, const uint8_t addr[16], bool ask, char *buf,
			    size_t size);
	/* Whether a row is the resolver's own query (dns_own_row() of lib/dns.h; boot_id: that of
	 * the row's host): such rows are left out. NULL: none is. */
	bool (*own_row)(void *ctx, const struct rec_snap_row *r, const char *boot_id);
	void *ctx; /* for both */
};

struct rows;

/* Output goes to fd; nothing is written before rows_flush(). NULL when out of memory. */
struct rows *rows_new(int fd, const struct rows_opts *o);
void rows_free(struct rows *w);

/* The CSV header row (nothing for JSON Lines). */
void rows_header(struct rows *w);
/* A section starts: the features its producer left out (HOPT_MISSING) leave their cells empty,
 * and the cgroup paths of the previous section are forgotten. */
void rows_section(struct rows *w, const struct stream_header *h);
/* The section's host name, for rows without a HOST record. 0 or -ENOMEM. */
int rows_section_host(struct rows *w, const struct stream_header *h);
/* A merged stream's HOST: its name for the rows that give its index. 0 or -ENOMEM. */
int rows_host(struct rows *w, const struct rec_host *h);
/* A CGROUP record: the path of host's id (CGROUP.host; 0 in a stream of one host), for the
 * cgroup cells of the rows with that host and id. */
void rows_cgroup(struct rows *w, uint32_t host, uint64_t id, const char *path);
/* A snapshot starts (full: a full one; else a delta, whose rows come by rows_delta()): its
 * time, number and loss counters go on each of its rows. 0 or -ENOMEM. */
int rows_snapshot(struct rows *w, const struct rec_snap_begin *b, bool full);
/* One connection of the current snapshot. May write out earlier complete rows. Returns 0 or
 * -errno of a failed write (the writer is then unusable), or -ENOMEM. */
int rows_add(struct rows *w, const struct rec_snap_row *row);
/* A delta snapshot applied to t (snaptab_end() said SNAPTAB_READY): the rows of its whole table
 * by rows_add(), or with --changes only those it carried (snaptab_carried(): the others are no
 * change), in the table's order. 0, -errno of a failed write, or -ENOMEM. */
int rows_delta(struct rows *w, struct snaptab *t);
/* Leave the current snapshot out (stopped in its middle): its rows are dropped from the buffer,
 * or, when some were written out already, cut from the output if it is a regular file. 0, or -1
 * when rows already written could not be taken back (a pipe). */
int rows_discard_snapshot(struct rows *w);
/* The snapshot's SNAP_END: in a group mode its groups are written now, with remote_host its
 * rows. 0 or -errno. */
int rows_snapshot_end(struct rows *w);
/* Write out every buffered row. 0 or -errno. */
int rows_flush(struct rows *w);
/* The column names, comma separated and wrapped, for --help (remote_host last). */
void rows_help_columns(FILE *f);
/* Rows written since the start (for messages). */
unsigned long long rows_count(const struct rows *w);

#endif /* TCPTOP_CSV_ROWS_H */
