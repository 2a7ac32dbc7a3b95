/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-csv's output: snapshot rows as CSV or JSON Lines cells, buffered on row boundaries. */
#ifndef TCPTOP_CSV_ROWS_H
#define TCPTOP_CSV_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "stream.h"

enum rows_format {
	ROWS_CSV,
	ROWS_JSONL,
};

struct rows_opts {
	enum rows_format format;
	bool excel_safe; /* CSV: prefix ' to text cells a spreadsheet would run as a formula */
	bool crlf;	 /* CSV: end lines with CR LF instead of LF */
};

struct rows;

/* Output goes to fd; nothing is written before rows_flush(). NULL when out of memory. */
struct rows *rows_new(int fd, const struct rows_opts *o);
void rows_free(struct rows *w);

/* A section starts: its header names the host of rows without a HOST record. 0 or -ENOMEM. */
int rows_section(struct rows *w, const struct stream_header *h);
/* A merged stream's host: its name for the rows that give its index. 0 or -ENOMEM. */
int rows_host(struct rows *w, const struct rec_host *h);
/* The CSV header row (nothing for JSON Lines). */
void rows_header(struct rows *w);
/* A snapshot starts: its time, number and loss counters go on each of its rows. */
void rows_snapshot(struct rows *w, const struct rec_snap_begin *b);
/* One connection of the current snapshot. May write out earlier complete rows. Returns 0 or
 * -errno of a failed write (the writer is then unusable). */
int rows_add(struct rows *w, const struct rec_snap_row *row);
/* Write out every buffered row. 0 or -errno. */
int rows_flush(struct rows *w);
/* Rows written since the start (for messages). */
unsigned long long rows_count(const struct rows *w);

#endif /* TCPTOP_CSV_ROWS_H */
