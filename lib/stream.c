// SPDX-License-Identifier: GPL-2.0-or-later
/* The tcptop stream: field-by-field little-endian encoding, buffered writer, checking reader. */
#include <errno.h>
#include <endian.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"

/* ---- names ---- */

const char *stream_kind_name(unsigned kind)
{
	switch (kind) {
	case STREAM_KIND_RAW:
		return "raw";
	case STREAM_KIND_SNAPSHOT:
		return "snapshot";
	}
	return "unknown";
}

/* The record kinds: one table gives each its name, its vocabulary and the shortest body a
 * reader accepts (the fields every writer has written; later trailing fields are optional). */
#define V_RAW  (1u << STREAM_KIND_RAW)
#define V_SNAP (1u << STREAM_KIND_SNAPSHOT)
const struct rec_kind rec_kinds[] = {
	{ REC_END, "END", V_RAW | V_SNAP, 8 },
	{ REC_CONN_OPEN, "CONN_OPEN", V_RAW, 136 },
	{ REC_CONN_STATE, "CONN_STATE", V_RAW, 24 },
	{ REC_CONN_SAMPLE, "CONN_SAMPLE", V_RAW, 56 },
	{ REC_CONN_CLOSE, "CONN_CLOSE", V_RAW, 64 },
	{ REC_CONN_OWNER, "CONN_OWNER", V_RAW, 40 },
	{ REC_TICK, "TICK", V_RAW, 8 },
	{ REC_IFNAME, "IFNAME", V_RAW, 24 },
	{ REC_LOSS, "LOSS", V_RAW, 16 },
	{ REC_CGROUP, "CGROUP", V_RAW | V_SNAP, 16 },
	{ REC_SNAP_BEGIN, "SNAP_BEGIN", V_SNAP, 96 },
	{ REC_SNAP_ROW, "SNAP_ROW", V_SNAP, 176 },
	{ REC_SNAP_END, "SNAP_END", V_SNAP, 8 },
	{ REC_HOST, "HOST", V_SNAP, 344 }, /* 16, hostname 256, boot_id 64, 8 */
	/* 1.1: a delta snapshot, in types of its own so that a reader of 1.0 skips it */
	{ REC_DELTA_BEGIN, "DELTA_BEGIN", V_SNAP, 96 },
	{ REC_DELTA_ROW, "DELTA_ROW", V_SNAP, 176 },
	{ REC_DELTA_HOST, "DELTA_HOST", V_SNAP, 344 },
	{ REC_DELTA_END, "DELTA_END", V_SNAP, 8 },
};
const size_t rec_nkinds = sizeof(rec_kinds) / sizeof(rec_kinds[0]);

const struct rec_kind *rec_kind(uint32_t type)
{
	for (size_t i = 0; i < rec_nkinds; i++)
		if (rec_kinds[i].type == type)
			return &rec_kinds[i];
	return NULL;
}

const char *rec_type_name(uint32_t type)
{
	const struct rec_kind *k = rec_kind(type);

	if (type == REC_HEADER)
		return "HEADER";
	return k ? k->name : "unknown";
}

/* The loss counters, in one table: every place that can drop an event, a flow or a row has a
 * code here, and the readers show them all (tcptop-csv has a column for each, in this order). */
const struct loss_kind loss_kinds[] = {
	{ LOSS_RINGBUF, "ringbuf", "collector: events lost to a full ring buffer" },
	{ LOSS_FLOW_TABLE_FULL, "flow_table_full",
	  "collector: flows not tracked, a kernel table full (--max-flows)" },
	{ LOSS_FLOW_EVICTED, "flow_evicted",
	  "collector: connections ended without their close being seen" },
	{ LOSS_AGG_TABLE_FULL, "agg_table_full",
	  "agg: connections not shown, its table full (--max-flows)" },
	{ LOSS_AGG_UNKNOWN_FLOW, "agg_unknown_flow", "agg: records naming a flow never opened" },
	{ LOSS_AGG_GAP, "agg_gap", "agg: intervals skipped by a jump in time" },
	{ LOSS_KPROBE_MISSED, "kprobe_missed",
	  "collector: what the kprobe backend's kprobes missed (datagrams not counted)" },
	{ LOSS_WALK_FAILED, "walk_failed",
	  "collector: walks, refreshes or reads of the kernel's tables that failed or were cut "
	  "short (retried; none ended a connection)" },
	{ LOSS_OWNERS_FULL, "owners_full",
	  "collector: sockets whose owner could not be recorded, its kernel table full" },
	{ LOSS_UDP_PEERS_EVICTED, "udp_peers_evicted",
	  "collector: datagrams of unconnected UDP sockets whose peer the kernel's peer table "
	  "could not keep (counted under the unknown peer)" },
	{ LOSS_AGG_NAMES_FULL, "agg_names_full",
	  "agg: interface names or cgroup paths not kept, its tables of them full (65,536 each "
	  "a section): their rows show none" },
	{ LOSS_AGG_LOSS_OTHER, "agg_loss_other",
	  "agg: the sum of the loss counters whose codes found no room in a snapshot (16 codes "
	  "in all: a newer collector's)" },
};
const size_t loss_nkinds = sizeof(loss_kinds) / sizeof(loss_kinds[0]);

const char *loss_code_name(uint32_t code)
{
	for (size_t i = 0; i < loss_nkinds; i++)
		if (loss_kinds[i].code == code)
			return loss_kinds[i].name;
	return "unknown";
}

const char *tcp_state_name(unsigned state)
{
	static const char *const names[] = {
		[1] = "ESTABLISHED", [2] = "SYN_SENT",	[3] = "SYN_RECV", [4] = "FIN_WAIT1",
		[5] = "FIN_WAIT2",   [6] = "TIME_WAIT", [7] = "CLOSE",	  [8] = "CLOSE_WAIT",
		[9] = "LAST_ACK",    [10] = "LISTEN",	[11] = "CLOSING", [12] = "NEW_SYN_RECV",
	};
	if (state < sizeof(names) / sizeof(names[0]) && names[state])
		return names[state];
	return "UNKNOWN";
}

int stream_missing(const struct stream_header *h, const char *feature)
{
	size_t n = strlen(feature);
	const char *p = h->missing;

	while ((p = strstr(p, feature))) {
		if ((p == h->missing || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

int64_t stream_wall_ns(const struct stream_header *h, uint64_t mono_ns)
{
	/* unsigned arithmetic: absurd times from hostile input wrap instead of overflowing */
	return (int64_t)((uint64_t)h->anchor_real + (mono_ns - h->anchor_mono));
}

/* ---- encoding ---- */

struct enc {
	uint8_t *p;
	size_t n;
};

static inline void put8(struct enc *e, uint8_t v)
{
	e->p[e->n++] = v;
}

/* Little-endian stores through memcpy: one instruction each on x86, correct everywhere. */
static inline void put16(struct enc *e, uint16_t v)
{
	v = htole16(v);
	memcpy(e->p + e->n, &v, sizeof(v));
	e->n += 2;
}

static inline void put32(struct enc *e, uint32_t v)
{
	v = htole32(v);
	memcpy(e->p + e->n, &v, sizeof(v));
	e->n += 4;
}

static inline void put64(struct enc *e, uint64_t v)
{
	v = htole64(v);
	memcpy(e->p + e->n, &v, sizeof(v));
	e->n += 8;
}

static inline void putf64(struct enc *e, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	put64(e, v);
}

static inline void putbytes(struct enc *e, const void *b, size_t n)
{
	memcpy(e->p + e->n, b, n);
	e->n += n;
}

static inline void putzero(struct enc *e, size_t n)
{
	memset(e->p + e->n, 0, n);
	e->n += n;
}

static void put_counters(struct enc *e, const struct conn_counters *c)
{
	put64(e, c->bytes_in);
	put64(e, c->bytes_out);
	put64(e, c->pkts_in);
	put64(e, c->pkts_out);
	put32(e, c->srtt_us);
	put32(e, c->retrans);
}

static void put_figs(struct enc *e, const struct tcp_figs *f)
{
	uint32_t rate;

	put32(e, f->busy_ms);
	put32(e, f->rwnd_ms);
	put32(e, f->sndbuf_ms);
	put32(e, f->retrans_bytes);
	put32(e, f->lost);
	put32(e, f->cwnd);
	put16(e, f->ssthresh);
	put16(e, f->reordering);
	put32(e, f->in_flight);
	put32(e, f->unsent);
	put32(e, f->min_rtt_us);
	put32(e, f->rttvar_us);
	memcpy(&rate, &f->delivery_rate, sizeof(rate));
	put32(e, rate);
}

static void put_id(struct enc *e, const struct conn_id *id)
{
	put64(e, id->flow);
	put64(e, id->cookie);
	put32(e, id->netns);
	put32(e, id->ifindex);
	put8(e, id->proto);
	put8(e, id->family);
	put16(e, id->lport);
	put16(e, id->rport);
	putzero(e, 2);
	putbytes(e, id->laddr, 16);
	putbytes(e, id->raddr, 16);
}

static void put_loss(struct enc *e, uint32_t n, const struct loss_entry *l)
{
	for (uint32_t i = 0; i < n; i++) {
		put32(e, l[i].code);
		putzero(e, 4);
		put64(e, l[i].value);
	}
}

static void put_opt_str(struct enc *e, uint16_t code, const char *s)
{
	size_t len = strnlen(s, HDR_STR_MAX - 1);

	if (!len)
		return;
	put16(e, code);
	put16(e, len);
	putbytes(e, s, len);
	putzero(e, (4 - len % 4) % 4);
}

static void put_header_body(struct enc *e, const struct stream_header *h)
{
	putbytes(e, STREAM_SIGNATURE, 8);
	put32(e, STREAM_BOM);
	put16(e, STREAM_MAJOR);
	put16(e, STREAM_MINOR);
	put16(e, h->kind);
	put16(e, 0);
	put32(e, 0);
	put64(e, (uint64_t)h->anchor_real);
	put64(e, h->anchor_mono);
	put_opt_str(e, HOPT_PRODUCER, h->producer);
	put_opt_str(e, HOPT_VERSION, h->version);
	put_opt_str(e, HOPT_HOSTNAME, h->hostname);
	put_opt_str(e, HOPT_BOOT_ID, h->boot_id);
	put_opt_str(e, HOPT_KERNEL, h->kernel);
	put_opt_str(e, HOPT_BACKEND, h->backend);
	put_opt_str(e, HOPT_FILTER, h->filter);
	put_opt_str(e, HOPT_MISSING, h->missing);
	if (h->interval_ns) {
		put16(e, HOPT_INTERVAL);
		put16(e, 8);
		put64(e, h->interval_ns);
	}
	put16(e, HOPT_END);
	put16(e, 0);
}

size_t stream_encode(const struct rec *r, uint8_t *buf)
{
	struct enc e = { buf, 8 };
	const void *u = &r->u;
	size_t total;

	switch (r->type) {
	case REC_HEADER:
		put_header_body(&e, &r->u.header);
		break;
	case REC_END:
		put64(&e, r->u.end.ts);
		break;
	case REC_CONN_OPEN: {
		const struct rec_conn_open *o = u;
		put64(&e, o->ts);
		put_id(&e, &o->id);
		put8(&e, o->state);
		put8(&e, o->flags);
		put16(&e, 0);
		put32(&e, o->pid);
		putbytes(&e, o->comm, COMM_LEN);
		put_counters(&e, &o->c);
		put64(&e, o->cgroup_id);
		if (o->has_figs)
			put_figs(&e, &o->figs);
		break;
	}
	case REC_CONN_STATE: {
		const struct rec_conn_state *s = u;
		put64(&e, s->ts);
		put64(&e, s->flow);
		put8(&e, s->old_state);
		put8(&e, s->new_state);
		putzero(&e, 6);
		break;
	}
	case REC_CONN_SAMPLE: {
		const struct rec_conn_sample *s = u;
		put64(&e, s->ts);
		put64(&e, s->flow);
		put_counters(&e, &s->c);
		if (s->has_figs)
			put_figs(&e, &s->figs);
		break;
	}
	case REC_CONN_CLOSE: {
		const struct rec_conn_close *c = u;
		put64(&e, c->ts);
		put64(&e, c->flow);
		put8(&e, c->state);
		putzero(&e, 7);
		put_counters(&e, &c->c);
		if (c->has_figs)
			put_figs(&e, &c->figs);
		break;
	}
	case REC_CONN_OWNER: {
		const struct rec_conn_owner *o = u;
		put64(&e, o->ts);
		put64(&e, o->flow);
		put32(&e, o->pid);
		putzero(&e, 4);
		putbytes(&e, o->comm, COMM_LEN);
		put64(&e, o->cgroup_id);
		break;
	}
	case REC_TICK:
		put64(&e, r->u.tick.ts);
		break;
	case REC_CGROUP: {
		size_t n = strnlen(r->u.cgroup.path, CGROUP_PATH_MAX - 1);
		put64(&e, r->u.cgroup.id);
		put32(&e, n);
		put32(&e, r->u.cgroup.host); /* a pad before merged streams: 0, one host */
		putbytes(&e, r->u.cgroup.path, n);
		break;
	}
	case REC_IFNAME:
		put32(&e, r->u.ifname.netns);
		put32(&e, r->u.ifname.ifindex);
		putbytes(&e, r->u.ifname.name, IFNAME_LEN);
		break;
	case REC_LOSS: {
		const struct rec_loss *l = u;
		uint32_t n = l->n > LOSS_MAX ? LOSS_MAX : l->n;
		put64(&e, l->ts);
		put32(&e, n);
		putzero(&e, 4);
		put_loss(&e, n, l->e);
		break;
	}
	case REC_SNAP_BEGIN:
	case REC_DELTA_BEGIN: {
		const struct rec_snap_begin *b = u;
		uint32_t n = b->nloss > LOSS_MAX ? LOSS_MAX : b->nloss;
		put64(&e, b->seq);
		put64(&e, (uint64_t)b->time_ns);
		put64(&e, b->mono_ns);
		put64(&e, b->span_ns);
		put64(&e, b->interval_ns);
		put32(&e, b->flags);
		put32(&e, b->rows);
		put32(&e, b->tcp_conns);
		put32(&e, b->udp_flows);
		put64(&e, b->bytes_in);
		put64(&e, b->bytes_out);
		putf64(&e, b->rate_in);
		putf64(&e, b->rate_out);
		put32(&e, b->hidden);
		put32(&e, n);
		put_loss(&e, n, b->loss);
		put32(&e, b->table_rows); /* 1.1, trailing */
		put32(&e, 0);
		break;
	}
	case REC_SNAP_ROW:
	case REC_DELTA_ROW: {
		const struct rec_snap_row *w = u;
		put_id(&e, &w->id);
		put8(&e, w->state);
		put8(&e, w->flags);
		put8(&e, w->limit);
		put8(&e, w->limit_pct);
		put32(&e, w->pid);
		putbytes(&e, w->comm, COMM_LEN);
		putbytes(&e, w->ifname, IFNAME_LEN);
		put_counters(&e, &w->c);
		putf64(&e, w->rate_in);
		putf64(&e, w->rate_out);
		put64(&e, w->first_ns);
		put64(&e, w->last_ns);
		put64(&e, w->cgroup_id);
		/* trailing, after cgroup_id: host, written in merged streams and before figures,
		 * then 4 bytes of zero or the figures (their first field in the place of the
		 * zero: a row grows by 48 bytes, not 56) */
		if (w->has_figs) {
			put32(&e, w->host);
			put_figs(&e, &w->figs);
		} else if (w->host) {
			put32(&e, w->host);
			put32(&e, 0);
		}
		break;
	}
	case REC_HOST:
	case REC_DELTA_HOST: {
		const struct rec_host *h = u;
		uint32_t n = h->nloss > LOSS_MAX ? LOSS_MAX : h->nloss;
		put32(&e, h->index);
		put32(&e, h->state);
		put64(&e, (uint64_t)h->time_ns);
		putbytes(&e, h->hostname, HDR_STR_MAX);
		putbytes(&e, h->boot_id, HOST_BOOT_LEN);
		put32(&e, n);
		put32(&e, 0);
		put_loss(&e, n, h->loss);
		break;
	}
	case REC_SNAP_END:
	case REC_DELTA_END:
		put64(&e, r->u.snap_end.seq);
		break;
	default:
		return 0;
	}
	/* pad so that the trailer ends on an 8-byte boundary */
	total = (e.n + 4 + STREAM_ALIGN - 1) & ~(size_t)(STREAM_ALIGN - 1);
	putzero(&e, total - 4 - e.n);
	put32(&e, total);
	e.n = 0;
	put32(&e, r->type);
	put32(&e, total);
	return total;
}

/* ---- writer ---- */

#define WBUF_SIZE (256 * 1024)

struct stream_writer {
	int fd;
	int err;
	size_t len;
	uint64_t offset; /* bytes handed to write(2) */
	uint8_t buf[WBUF_SIZE];
};

struct stream_writer *stream_writer_new(int fd)
{
	struct stream_writer *w = malloc(sizeof(*w));

	if (!w)
		return NULL;
	w->fd = fd;
	w->err = 0;
	w->len = 0;
	w->offset = 0;
	return w;
}

void stream_writer_free(struct stream_writer *w)
{
	free(w);
}

int stream_flush(struct stream_writer *w)
{
	size_t done = 0;

	if (w->err)
		return w->err;
	while (done < w->len) {
		ssize_t n = write(w->fd, w->buf + done, w->len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->err = -errno;
			return w->err;
		}
		done += n;
		w->offset += n;
	}
	w->len = 0;
	return 0;
}

int stream_write(struct stream_writer *w, const struct rec *r)
{
	size_t n;
	int err;

	if (w->err)
		return w->err;
	if (WBUF_SIZE - w->len < STREAM_RECORD_MAX && (err = stream_flush(w)))
		return err;
	n = stream_encode(r, w->buf + w->len);
	if (!n)
		return -EINVAL;
	w->len += n;
	return 0;
}

int stream_write_header(struct stream_writer *w, const struct stream_header *h)
{
	struct rec r = { .type = REC_HEADER };

	r.u.header = *h;
	return stream_write(w, &r);
}

uint64_t stream_writer_offset(const struct stream_writer *w)
{
	return w->offset + w->len;
}

/* ---- reader ---- */

/* A record (at most 64 KiB) plus a 128 KiB read: small enough to stay in the CPU's cache. */
#define RBUF_SIZE (STREAM_RECORD_MAX + 128 * 1024)

struct stream_reader {
	int fd; /* -1: memory input */
	const char *name;
	uint8_t *buf;
	size_t start, end; /* unread bytes are buf[start..end) */
	size_t cap;
	uint64_t base; /* stream offset of buf[0] */
	bool eof;
	bool owned;
	enum {
		SECTION_START,
		IN_SECTION,
		AFTER_END
	} where;
	unsigned expect;
	int (*wait)(void *ctx, int fd); /* before each read(2): -1 stops reading */
	void *wait_ctx;
	int status; /* sticky once an error is reported */
	/* the kind of the last record's type (NULL: unknown), looked up once per run of records
	 * of one type: a snapshot is a run of SNAP_ROWs */
	uint32_t kind_type;
	bool kind_valid;
	const struct rec_kind *kind;
	struct stream_header hdr;
	char err[512];
};

static struct stream_reader *reader_alloc(const char *name)
{
	struct stream_reader *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return NULL;
	rd->name = name ? name : "-";
	rd->where = SECTION_START;
	rd->status = STREAM_OK;
	return rd;
}

struct stream_reader *stream_reader_new(int fd, const char *name)
{
	struct stream_reader *rd = reader_alloc(name);

	if (!rd)
		return NULL;
	rd->buf = malloc(RBUF_SIZE);
	if (!rd->buf) {
		free(rd);
		return NULL;
	}
	rd->fd = fd;
	rd->cap = RBUF_SIZE;
	rd->owned = true;
	return rd;
}

struct stream_reader *stream_reader_mem(const void *buf, size_t len, const char *name)
{
	struct stream_reader *rd = reader_alloc(name);

	if (!rd)
		return NULL;
	rd->fd = -1;
	rd->buf = (uint8_t *)buf;
	rd->end = len;
	rd->cap = len;
	rd->eof = true;
	return rd;
}

int stream_reader_set_read_size(struct stream_reader *rd, size_t size)
{
	size_t cap = STREAM_RECORD_MAX + size;
	uint8_t *b;

	if (!rd->owned || cap <= rd->cap)
		return 0;
	if (!(b = realloc(rd->buf, cap)))
		return -ENOMEM;
	rd->buf = b;
	rd->cap = cap;
	return 0;
}

void stream_reader_free(struct stream_reader *rd)
{
	if (!rd)
		return;
	if (rd->owned)
		free(rd->buf);
	free(rd);
}

const char *stream_error(const struct stream_reader *rd)
{
	return rd->err;
}

uint64_t stream_reader_offset(const struct stream_reader *rd)
{
	return rd->base + rd->start;
}

const struct stream_header *stream_reader_header(const struct stream_reader *rd)
{
	return &rd->hdr;
}

void stream_reader_expect(struct stream_reader *rd, unsigned kind)
{
	rd->expect = kind;
}

void stream_reader_set_wait(struct stream_reader *rd, int (*wait)(void *ctx, int fd), void *ctx)
{
	rd->wait = wait;
	rd->wait_ctx = ctx;
}

__attribute__((format(printf, 3, 4))) static int fail(struct stream_reader *rd, int status,
						      const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(rd->err, sizeof(rd->err), "%s: ", rd->name);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(rd->err))
		vsnprintf(rd->err + n, sizeof(rd->err) - n, fmt, ap);
	va_end(ap);
	rd->status = status;
	return status;
}

/* Make at least want bytes available; returns the number available (less only at EOF). */
static size_t fill(struct stream_reader *rd, size_t want)
{
	while (rd->end - rd->start < want && !rd->eof) {
		ssize_t n;

		if (rd->start) { /* keep the data at the start of the buffer: it stays in cache */
			memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
			rd->base += rd->start;
			rd->end -= rd->start;
			rd->start = 0;
		}
		if (rd->wait && rd->wait(rd->wait_ctx, rd->fd) < 0) {
			fail(rd, STREAM_STOPPED,
			     "stopped at byte %" PRIu64 " before the input's end",
			     rd->base + rd->end);
			return 0;
		}
		n = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail(rd, STREAM_IO, "read error at byte %" PRIu64 ": %s",
			     rd->base + rd->end, strerror(errno));
			return 0;
		}
		if (n == 0)
			rd->eof = true;
		rd->end += n;
	}
	return rd->end - rd->start;
}

/* Little-endian loads through memcpy: one instruction each on x86, correct everywhere. */
static inline uint16_t le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* Bounds-checked cursor over one record's body. */
struct cur {
	const uint8_t *p;
	size_t len, pos;
};

static inline bool need(struct cur *c, size_t n)
{
	return c->len - c->pos >= n;
}

static inline uint8_t get8(struct cur *c)
{
	return c->p[c->pos++];
}

static inline uint16_t get16(struct cur *c)
{
	uint16_t v = le16(c->p + c->pos);
	c->pos += 2;
	return v;
}

static inline uint32_t get32(struct cur *c)
{
	uint32_t v = le32(c->p + c->pos);
	c->pos += 4;
	return v;
}

static inline uint64_t get64(struct cur *c)
{
	uint64_t v = le64(c->p + c->pos);
	c->pos += 8;
	return v;
}

static inline double getf64(struct cur *c)
{
	uint64_t v = get64(c);
	double d;

	memcpy(&d, &v, sizeof(d));
	return d;
}

static inline void getbytes(struct cur *c, void *b, size_t n)
{
	memcpy(b, c->p + c->pos, n);
	c->pos += n;
}

static inline __attribute__((always_inline)) void get_counters(struct cur *c,
							       struct conn_counters *k)
{
	k->bytes_in = get64(c);
	k->bytes_out = get64(c);
	k->pkts_in = get64(c);
	k->pkts_out = get64(c);
	k->srtt_us = get32(c);
	k->retrans = get32(c);
}

/* The optional figures, when the body holds them whole. */
static inline __attribute__((always_inline)) void get_figs(struct cur *c, uint8_t *has,
							   struct tcp_figs *f)
{
	uint32_t rate;

	*has = need(c, TCP_FIGS_LEN);
	if (!*has)
		return;
	f->busy_ms = get32(c);
	f->rwnd_ms = get32(c);
	f->sndbuf_ms = get32(c);
	f->retrans_bytes = get32(c);
	f->lost = get32(c);
	f->cwnd = get32(c);
	f->ssthresh = get16(c);
	f->reordering = get16(c);
	f->in_flight = get32(c);
	f->unsent = get32(c);
	f->min_rtt_us = get32(c);
	f->rttvar_us = get32(c);
	rate = get32(c);
	memcpy(&f->delivery_rate, &rate, sizeof(rate));
}

static inline __attribute__((always_inline)) void get_id(struct cur *c, struct conn_id *id)
{
	id->flow = get64(c);
	id->cookie = get64(c);
	id->netns = get32(c);
	id->ifindex = get32(c);
	id->proto = get8(c);
	id->family = get8(c);
	id->lport = get16(c);
	id->rport = get16(c);
	c->pos += 2;
	getbytes(c, id->laddr, 16);
	getbytes(c, id->raddr, 16);
}

/* Where the wire's SNAP_ROW body (up to cgroup_id) and struct rec_snap_row share a layout: on a
 * little-endian host, get_row() copies its runs whole, three copies instead of 40 fields. */
#define ROW_WIRE_STATE 64 /* where state is on the wire: after the id and its 2 bytes of pad */
#define ROW_AT(f, wire)                                                        \
	_Static_assert(ROW_WIRE_STATE + offsetof(struct rec_snap_row, f) -     \
				       offsetof(struct rec_snap_row, state) == \
			       (wire),                                         \
		       #f " where the wire has it")
_Static_assert(offsetof(struct conn_id, rport) == 28 && offsetof(struct conn_id, laddr) == 30 &&
		       offsetof(struct conn_id, raddr) == 46 &&
		       offsetof(struct rec_snap_row, id) == 0,
	       "conn_id: the wire's up to rport, then its addresses after 2 bytes of pad");
ROW_AT(flags, 65);
ROW_AT(limit, 66);
ROW_AT(limit_pct, 67);
ROW_AT(pid, 68);
ROW_AT(comm, 72);
ROW_AT(ifname, 88);
ROW_AT(c.bytes_in, 104);
ROW_AT(c.bytes_out, 112);
ROW_AT(c.pkts_in, 120);
ROW_AT(c.pkts_out, 128);
ROW_AT(c.srtt_us, 136);
ROW_AT(c.retrans, 140);
ROW_AT(rate_in, 144);
ROW_AT(rate_out, 152);
ROW_AT(first_ns, 160);
ROW_AT(last_ns, 168);
ROW_AT(cgroup_id, 176);

/* A SNAP_ROW or DELTA_ROW body (at least its 176 bytes up to cgroup_id) into w. */
static inline __attribute__((always_inline)) void get_row(struct cur *c, struct rec_snap_row *w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&w->id, c->p + c->pos, offsetof(struct conn_id, laddr));
	memcpy(w->id.laddr, c->p + c->pos + 32, 32);
	memcpy(&w->state, c->p + c->pos + ROW_WIRE_STATE, 176 - ROW_WIRE_STATE);
	c->pos += 176;
#else
	get_id(c, &w->id);
	w->state = get8(c);
	w->flags = get8(c);
	w->limit = get8(c);
	w->limit_pct = get8(c);
	w->pid = get32(c);
	getbytes(c, w->comm, COMM_LEN);
	getbytes(c, w->ifname, IFNAME_LEN);
	get_counters(c, &w->c);
	w->rate_in = getf64(c);
	w->rate_out = getf64(c);
	w->first_ns = get64(c);
	w->last_ns = get64(c);
#endif
	w->cgroup_id = need(c, 8) ? get64(c) : 0;
	/* trailing: host, then its 4 bytes of pad or the figures (see the writer) */
	w->host = need(c, 8) ? get32(c) : 0;
	get_figs(c, &w->has_figs, &w->figs);
}

/* Reads n loss entries into at most LOSS_MAX slots; false if the body is too short. */
static bool get_loss(struct cur *c, uint32_t n, uint32_t *out_n, struct loss_entry *l)
{
	if ((c->len - c->pos) / 16 < n)
		return false;
	*out_n = n > LOSS_MAX ? LOSS_MAX : n;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t code = get32(c);
		uint64_t v;

		c->pos += 4;
		v = get64(c);
		if (i < LOSS_MAX) {
			l[i].code = code;
			l[i].value = v;
		}
	}
	return true;
}

/* The kind of type (rec_kind()), remembered while the same type comes again. */
static const struct rec_kind *reader_kind(struct stream_reader *rd, uint32_t type)
{
	if (!rd->kind_valid || rd->kind_type != type) {
		rd->kind = rec_kind(type);
		rd->kind_type = type;
		rd->kind_valid = true;
	}
	return rd->kind;
}

static void get_opt_str(char *dst, const uint8_t *p, size_t n)
{
	if (n > HDR_STR_MAX - 1)
		n = HDR_STR_MAX - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static const char *kind_hint(unsigned kind)
{
	if (kind == STREAM_KIND_RAW)
		return "this is a raw collector stream: pipe it through tcptop-agg";
	if (kind == STREAM_KIND_SNAPSHOT)
		return "this is a snapshot stream (tcptop-agg output): read it with tcptop-view or "
		       "tcptop-csv";
	return "stream kind unknown";
}

static int parse_header(struct stream_reader *rd, const uint8_t *p, uint32_t len, uint64_t off,
			struct stream_header *h)
{
	struct cur c = { p + 8, len - 12, 0 };
	uint32_t bom;

	if (memcmp(p + 8, STREAM_SIGNATURE, 8) != 0)
		return fail(rd, STREAM_CORRUPT,
			    "bad stream signature at byte %" PRIu64
			    " (not a tcptop stream, or mangled by a text-mode transfer)",
			    off + 8);
	c.pos = 8;
	bom = get32(&c);
	if (bom != STREAM_BOM)
		return fail(rd, STREAM_CORRUPT, "bad byte-order mark 0x%08x at byte %" PRIu64 "%s",
			    bom, off + 16,
			    bom == 0x4D3C2B1Au ? " (big-endian stream: not supported)" : "");
	memset(h, 0, sizeof(*h));
	h->major = get16(&c);
	h->minor = get16(&c);
	if (h->major != STREAM_MAJOR)
		return fail(rd, STREAM_CORRUPT,
			    "unsupported stream version %u.%u at byte %" PRIu64
			    " (this reader reads %u.x)",
			    h->major, h->minor, off + 20, STREAM_MAJOR);
	h->kind = get16(&c);
	c.pos += 6;
	h->anchor_real = (int64_t)get64(&c);
	h->anchor_mono = get64(&c);
	for (;;) {
		uint16_t code, olen;
		uint64_t ooff = off + 8 + c.pos;

		if (!need(&c, 4))
			return fail(rd, STREAM_CORRUPT,
				    "stream header option at byte %" PRIu64 " runs past the header",
				    ooff);
		code = get16(&c);
		olen = get16(&c);
		if (code == HOPT_END)
			break;
		if (!need(&c, ((size_t)olen + 3) & ~(size_t)3))
			return fail(rd, STREAM_CORRUPT,
				    "stream header option %u at byte %" PRIu64
				    " (length %u) runs past the header",
				    code, ooff, olen);
		const uint8_t *v = c.p + c.pos;
		switch (code) {
		case HOPT_PRODUCER:
			get_opt_str(h->producer, v, olen);
			break;
		case HOPT_VERSION:
			get_opt_str(h->version, v, olen);
			break;
		case HOPT_HOSTNAME:
			get_opt_str(h->hostname, v, olen);
			break;
		case HOPT_BOOT_ID:
			get_opt_str(h->boot_id, v, olen);
			break;
		case HOPT_KERNEL:
			get_opt_str(h->kernel, v, olen);
			break;
		case HOPT_BACKEND:
			get_opt_str(h->backend, v, olen);
			break;
		case HOPT_FILTER:
			get_opt_str(h->filter, v, olen);
			break;
		case HOPT_MISSING:
			get_opt_str(h->missing, v, olen);
			break;
		case HOPT_INTERVAL:
			if (olen >= 8)
				h->interval_ns = le64(v);
			break;
		default: /* unknown options are skipped */
			break;
		}
		c.pos += ((size_t)olen + 3) & ~(size_t)3;
	}
	if (rd->expect && h->kind != rd->expect)
		return fail(rd, STREAM_CORRUPT, "%s (stream kind %u at byte %" PRIu64 ")",
			    kind_hint(h->kind), h->kind, off + 24);
	if (h->kind != STREAM_KIND_RAW && h->kind != STREAM_KIND_SNAPSHOT)
		return fail(rd, STREAM_CORRUPT, "unknown stream kind %u at byte %" PRIu64, h->kind,
			    off + 24);
	return STREAM_OK;
}

/* A body of a known type (kind: its minimum size, shorter is corrupt, longer is extension). */
static int decode_body(struct stream_reader *rd, const struct rec_kind *kind, uint32_t type,
		       const uint8_t *body, size_t blen, uint64_t off, struct rec *r,
		       struct rec_snap_row *row)
{
	struct cur c = { body, blen, 0 };

	if (blen < kind->body_min)
		return fail(rd, STREAM_CORRUPT,
			    "%s record at byte %" PRIu64 " too short: body of %zu bytes, needs %zu",
			    rec_type_name(type), off, blen, kind->body_min);
	switch (type) {
	case REC_END:
		r->u.end.ts = get64(&c);
		break;
	case REC_CONN_OPEN: {
		struct rec_conn_open *o = &r->u.open;
		o->ts = get64(&c);
		get_id(&c, &o->id);
		o->state = get8(&c);
		o->flags = get8(&c);
		c.pos += 2;
		o->pid = get32(&c);
		getbytes(&c, o->comm, COMM_LEN);
		get_counters(&c, &o->c);
		/* trailing fields are optional: older writers end before them */
		o->cgroup_id = need(&c, 8) ? get64(&c) : 0;
		get_figs(&c, &o->has_figs, &o->figs);
		break;
	}
	case REC_CONN_STATE:
		r->u.state.ts = get64(&c);
		r->u.state.flow = get64(&c);
		r->u.state.old_state = get8(&c);
		r->u.state.new_state = get8(&c);
		break;
	case REC_CONN_SAMPLE:
		r->u.sample.ts = get64(&c);
		r->u.sample.flow = get64(&c);
		get_counters(&c, &r->u.sample.c);
		get_figs(&c, &r->u.sample.has_figs, &r->u.sample.figs);
		break;
	case REC_CONN_CLOSE:
		r->u.close.ts = get64(&c);
		r->u.close.flow = get64(&c);
		r->u.close.state = get8(&c);
		c.pos += 7;
		get_counters(&c, &r->u.close.c);
		get_figs(&c, &r->u.close.has_figs, &r->u.close.figs);
		break;
	case REC_CONN_OWNER:
		r->u.owner.ts = get64(&c);
		r->u.owner.flow = get64(&c);
		r->u.owner.pid = get32(&c);
		c.pos += 4;
		getbytes(&c, r->u.owner.comm, COMM_LEN);
		r->u.owner.cgroup_id = need(&c, 8) ? get64(&c) : 0;
		break;
	case REC_TICK:
		r->u.tick.ts = get64(&c);
		break;
	case REC_CGROUP: {
		uint32_t n;
		r->u.cgroup.id = get64(&c);
		n = get32(&c);
		r->u.cgroup.host = get32(&c);
		if (n > c.len - c.pos)
			return fail(rd, STREAM_CORRUPT,
				    "CGROUP record at byte %" PRIu64
				    " claims a path of %u bytes in %zu bytes",
				    off, n, blen);
		if (n > CGROUP_PATH_MAX - 1)
			n = CGROUP_PATH_MAX - 1;
		getbytes(&c, r->u.cgroup.path, n);
		r->u.cgroup.path[n] = '\0';
		break;
	}
	case REC_IFNAME:
		r->u.ifname.netns = get32(&c);
		r->u.ifname.ifindex = get32(&c);
		getbytes(&c, r->u.ifname.name, IFNAME_LEN);
		break;
	case REC_LOSS: {
		uint32_t n;
		r->u.loss.ts = get64(&c);
		n = get32(&c);
		c.pos += 4;
		if (!get_loss(&c, n, &r->u.loss.n, r->u.loss.e))
			return fail(rd, STREAM_CORRUPT,
				    "LOSS record at byte %" PRIu64
				    " claims %u entries in %zu bytes",
				    off, n, blen);
		break;
	}
	case REC_SNAP_BEGIN:
	case REC_DELTA_BEGIN: {
		struct rec_snap_begin *b = &r->u.snap_begin;
		uint32_t n;
		b->seq = get64(&c);
		b->time_ns = (int64_t)get64(&c);
		b->mono_ns = get64(&c);
		b->span_ns = get64(&c);
		b->interval_ns = get64(&c);
		b->flags = get32(&c);
		b->rows = get32(&c);
		b->tcp_conns = get32(&c);
		b->udp_flows = get32(&c);
		b->bytes_in = get64(&c);
		b->bytes_out = get64(&c);
		b->rate_in = getf64(&c);
		b->rate_out = getf64(&c);
		b->hidden = get32(&c);
		n = get32(&c);
		if (!get_loss(&c, n, &b->nloss, b->loss))
			return fail(rd, STREAM_CORRUPT,
				    "%s record at byte %" PRIu64
				    " claims %u loss entries in %zu bytes",
				    rec_type_name(type), off, n, blen);
		b->table_rows = need(&c, 8) ? get32(&c) : 0; /* 1.1, trailing, with its pad */
		break;
	}
	case REC_SNAP_ROW:
	case REC_DELTA_ROW:
		get_row(&c, row);
		break;
	case REC_HOST:
	case REC_DELTA_HOST: {
		struct rec_host *h = &r->u.host;
		uint32_t n;
		h->index = get32(&c);
		h->state = get32(&c);
		h->time_ns = (int64_t)get64(&c);
		getbytes(&c, h->hostname, HDR_STR_MAX);
		h->hostname[HDR_STR_MAX - 1] = '\0';
		getbytes(&c, h->boot_id, HOST_BOOT_LEN);
		h->boot_id[HOST_BOOT_LEN - 1] = '\0';
		n = get32(&c);
		c.pos += 4;
		if (!get_loss(&c, n, &h->nloss, h->loss))
			return fail(rd, STREAM_CORRUPT,
				    "%s record at byte %" PRIu64
				    " claims %u loss entries in %zu bytes",
				    rec_type_name(type), off, n, blen);
		break;
	}
	case REC_SNAP_END:
	case REC_DELTA_END:
		r->u.snap_end.seq = get64(&c);
		break;
	}
	return STREAM_OK;
}

static int read_record(struct stream_reader *rd, struct rec *r, struct rec_snap_row *row)
{
	for (;;) {
		uint64_t off = rd->base + rd->start;
		size_t avail;
		const uint8_t *p;
		uint32_t type, len, trailer;
		const struct rec_kind *kind;
		int st;

		if (rd->status != STREAM_OK)
			return rd->status;
		avail = rd->end - rd->start;
		if (avail < STREAM_RECORD_MAX) {
			avail = fill(rd, 8);
			if (rd->status != STREAM_OK)
				return rd->status;
		}
		if (avail == 0) {
			if (rd->where == AFTER_END)
				return rd->status = STREAM_EOF;
			if (off == 0)
				return fail(rd, STREAM_TRUNCATED,
					    "empty input: no stream header at byte 0");
			if (rd->where == SECTION_START)
				return fail(rd, STREAM_TRUNCATED,
					    "input ends at byte %" PRIu64 " before a stream header",
					    off);
			fail(rd, STREAM_NO_END,
			     "input ends at byte %" PRIu64 " without an END record (truncated?)",
			     off);
			return STREAM_NO_END;
		}
		if (avail < 8)
			return fail(rd, STREAM_TRUNCATED,
				    "truncated record at byte %" PRIu64
				    ": input ends after %zu of at least 8 bytes",
				    off, avail);
		p = rd->buf + rd->start;
		type = le32(p);
		len = le32(p + 4);
		if (rd->where != IN_SECTION && type != REC_HEADER) {
			if (rd->where == AFTER_END)
				return fail(rd, STREAM_CORRUPT,
					    "%s record at byte %" PRIu64
					    " after END (only a new stream header may follow)",
					    rec_type_name(type), off);
			if (p[0] == '\r' || p[0] == '\n')
				return fail(
					rd, STREAM_CORRUPT,
					"bad magic at byte 0: mangled by a text-mode transfer?");
			return fail(rd, STREAM_CORRUPT,
				    "not a tcptop stream: bad magic at byte %" PRIu64, off);
		}
		if (rd->where == IN_SECTION && type == REC_HEADER)
			return fail(rd, STREAM_CORRUPT,
				    "stream header at byte %" PRIu64
				    " inside a section (a new section must follow END)",
				    off);
		if (len < STREAM_FRAME_MIN)
			return fail(rd, STREAM_CORRUPT,
				    "record length %" PRIu32 " at byte %" PRIu64
				    " below the minimum of %d",
				    len, off, STREAM_FRAME_MIN);
		if (len % STREAM_ALIGN)
			return fail(rd, STREAM_CORRUPT,
				    "record length %" PRIu32 " at byte %" PRIu64
				    " not a multiple of %d",
				    len, off, STREAM_ALIGN);
		if (len > STREAM_RECORD_MAX)
			return fail(rd, STREAM_CORRUPT,
				    "record length %" PRIu32 " at byte %" PRIu64
				    " above the cap of %d",
				    len, off, STREAM_RECORD_MAX);
		if (type == REC_HEADER && len < 52)
			return fail(rd, STREAM_CORRUPT,
				    "stream header length %" PRIu32 " at byte %" PRIu64
				    " too short",
				    len, off);
		if (avail < len) {
			avail = fill(rd, len);
			if (rd->status != STREAM_OK)
				return rd->status;
		}
		if (avail < len)
			return fail(rd, STREAM_TRUNCATED,
				    "truncated %s record at byte %" PRIu64
				    ": input ends after %zu of %" PRIu32 " bytes",
				    rec_type_name(type), off, avail, len);
		p = rd->buf + rd->start;
		trailer = le32(p + len - 4);
		if (trailer != len)
			return fail(rd, STREAM_CORRUPT,
				    "record trailer at byte %" PRIu64 " says %" PRIu32
				    ", its header at byte %" PRIu64 " says %" PRIu32,
				    off + len - 4, trailer, off, len);
		r->type = type;
		r->offset = off;
		if (type == REC_HEADER) {
			st = parse_header(rd, p, len, off, &rd->hdr);
			if (st != STREAM_OK)
				return st;
			r->u.header = rd->hdr;
			rd->where = IN_SECTION;
			rd->start += len;
			return STREAM_OK;
		}
		kind = reader_kind(rd, type);
		if (!kind || !kind->body_min) { /* unknown type: skip */
			rd->start += len;
			continue;
		}
		if (!(kind->vocab & (1u << rd->hdr.kind)))
			return fail(rd, STREAM_CORRUPT,
				    "%s record at byte %" PRIu64 " in a %s stream",
				    rec_type_name(type), off, stream_kind_name(rd->hdr.kind));
		st = decode_body(rd, kind, type, p + 8, len - 12, off, r, row);
		if (st != STREAM_OK)
			return st;
		rd->start += len;
		if (type == REC_END)
			rd->where = AFTER_END;
		return STREAM_OK;
	}
}

int stream_read(struct stream_reader *rd, struct rec *r)
{
	return read_record(rd, r, &r->u.row);
}

int stream_read_row(struct stream_reader *rd, struct rec *r, struct rec_snap_row *row)
{
	return read_record(rd, r, row ? row : &r->u.row);
}
