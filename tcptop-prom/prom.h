/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The exporter's state: snapshots in, counters per label set out, as Prometheus or OpenMetrics
 * text (tcptop-prom(1) states the metrics and the rules). */
#ifndef TCPTOP_PROM_H
#define TCPTOP_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

struct prom_opts {
	uint64_t max_series;	 /* label sets at most; the others go to the overflow series */
	uint64_t ttl_ns;	 /* a label set idle this long (stream time) is dropped; 0 never */
	uint16_t eph_lo, eph_hi; /* ephemeral port range: such ports are folded */
};

/* A growing output buffer. */
struct prom_buf {
	char *p;
	size_t len, cap;
};

struct prom;

struct prom *prom_new(const struct prom_opts *o);
void prom_free(struct prom *p);

/* Each returns 0 or -ENOMEM. */
/* A new section of the input: its header names the host of unmerged streams. */
int prom_section(struct prom *p, const struct stream_header *h);
/* A CGROUP record: id's path in this section. */
int prom_cgroup(struct prom *p, uint64_t id, const char *path);
/* One snapshot: its hosts (merged streams only) and its rows, applied at once. */
int prom_snapshot(struct prom *p, const struct rec_snap_begin *b, const struct rec_host *hosts,
		  size_t nhosts, const struct rec_snap_row *rows, size_t nrows);
/* The input ended (clean or not): every host is ended. */
void prom_input_end(struct prom *p);

/* The exposition, appended to out. now_ns: wall clock, for the stream's age. The duration of the
 * previous call is reported in it. */
int prom_expose(struct prom *p, struct prom_buf *out, bool openmetrics, int64_t now_ns);
/* How long the last prom_expose() took, for the next one to report. */
void prom_set_scrape_duration(struct prom *p, uint64_t ns);

/* Label sets held now (the overflow series included once it exists). */
uint64_t prom_series(const struct prom *p);
/* Bytes held for the label sets and connections (the memory benchmark). */
uint64_t prom_memory(const struct prom *p);

int prom_buf_reserve(struct prom_buf *b, size_t n);
void prom_buf_free(struct prom_buf *b);

#endif /* TCPTOP_PROM_H */
