/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The exporter's state: snapshots in, counters per label set out, as Prometheus or OpenMetrics
 * text (tcptop-prom(1) states the metrics and the rules). */
#ifndef TCPTOP_PROM_H
#define TCPTOP_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

/* Hosts (distinct names) of one run at most; the rows of further hosts are counted, not
 * applied (tcptop_loss_total{cause="host_limit"}). */
#define PROM_HOST_MAX 4096

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
/* A CGROUP record: the path of id on host (CGROUP.host: 0 in unmerged streams) in this
 * section. */
int prom_cgroup(struct prom *p, uint32_t host, uint64_t id, const char *path);
/* One snapshot: its hosts (merged streams only) and its rows, applied at once. rows_dropped:
 * rows of the snapshot the caller could not hold (counted; the connections they name are kept
 * as they were, not taken for gone). */
int prom_snapshot(struct prom *p, const struct rec_snap_begin *b, const struct rec_host *hosts,
		  size_t nhosts, const struct rec_snap_row *rows, size_t nrows,
		  uint64_t rows_dropped);
/* The input ended (clean or not): every host is ended. */
void prom_input_end(struct prom *p);
/* A number that changes whenever what prom_expose_body() writes may have changed. */
uint64_t prom_generation(const struct prom *p);

/*
 * The exposition comes in two parts, so that one build serves every scrape until the next
 * snapshot: the body, which only the input changes, and the tail, which depends on the moment
 * of the scrape (the age of each host's snapshot) and on the body's build time, written a line
 * at a time from what prom_tail_capture() took along with the body.
 */
int prom_expose_body(struct prom *p, struct prom_buf *out, bool openmetrics);

struct prom_tail_host {
	const char *label; /* escaped host name: lives as long as the struct prom */
	int64_t time_ns;   /* wall clock of its latest snapshot */
};

struct prom_tail {
	bool om;
	uint64_t build_ns; /* how long the body took to build */
	size_t nhosts, cap;
	struct prom_tail_host *hosts;
};

/* Takes what the tail needs from p (under the same lock as the body). 0 or -ENOMEM. */
int prom_tail_capture(const struct prom *p, struct prom_tail *t, bool openmetrics,
		      uint64_t build_ns);
void prom_tail_free(struct prom_tail *t);
/* A buffer of this size holds any line of the tail. */
#define PROM_TAIL_LINE_MAX 512
/* Writes line i (0, 1, ...) of the tail at now_ns (wall clock) into dst, NUL terminated; returns
 * its length, 0 past the last line. The same i and now_ns give the same line. */
size_t prom_tail_line(const struct prom_tail *t, size_t i, int64_t now_ns, char *dst, size_t size);

/* The whole exposition at once (the textfile): body and tail, appended to out. */
int prom_expose(struct prom *p, struct prom_buf *out, bool openmetrics, int64_t now_ns);

/* Label sets held now (the overflow series included once it exists). */
uint64_t prom_series(const struct prom *p);
/* Bytes held for the label sets and connections (the memory benchmark). */
uint64_t prom_memory(const struct prom *p);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
uint64_t prom_mono_ns(void);
int64_t prom_wall_ns(void);

int prom_buf_reserve(struct prom_buf *b, size_t n);
void prom_buf_free(struct prom_buf *b);

#endif /* TCPTOP_PROM_H */
