// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-agg --merge: every input is a host with its own aggregator, which cuts snapshots on that
 * host's clock; a merged snapshot joins the latest snapshot of every host, in wall-clock time
 * (each host's anchor), as soon as every host that keeps up has one. One thread per input reads
 * records into a queue; the main thread takes the earliest record (in wall time) of all queues,
 * so replaying recordings gives the same merged snapshots however fast they are read. A live
 * input (a pipe) that sends nothing for two intervals is not waited for: it is lagging, and its
 * last rows are shown until it catches up.
 */
#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>

#include "merge.h"
#include "util.h"

#define QCAP 1024 /* records queued per input */

struct snap {
	struct rec_snap_begin b;
	struct rec_snap_row *rows;
	size_t n, cap;
};

struct host {
	const char *name;
	int fd;
	bool regular; /* a file: always waited for, never lagging */
	pthread_t th;

	/* the queue, under m.lock */
	struct rec *q;
	size_t qhead, qlen;
	bool eof;
	int status; /* the reader's last stream status */
	char err[512];
	int64_t last_rx; /* CLOCK_MONOTONIC ns of the last record queued */

	/* the main thread's */
	struct agg *a;
	struct stream_header hdr; /* the input's current header */
	bool done;		  /* input ended and its last snapshot taken */
	bool lagging;
	struct snap building, pending, last;
	bool has_pending, has_last;
	int64_t time_ns; /* wall time of its latest snapshot */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t data, space;
	int n;
	struct host *h;
	struct stream_writer *w;
	struct agg_opts o;
	bool header_out;
	uint64_t seq;
	int64_t last_time;
	struct rec out;
} m = { .lock = PTHREAD_MUTEX_INITIALIZER,
	.data = PTHREAD_COND_INITIALIZER,
	.space = PTHREAD_COND_INITIALIZER };

static int64_t mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* ---- readers ---- */

static void *reader(void *arg)
{
	struct host *h = arg;
	struct stream_reader *rd = stream_reader_new(h->fd, h->name);
	struct rec *r = malloc(sizeof(*r));
	int st;

	if (!rd || !r)
		errx(EX_OSERR, "out of memory");
	stream_reader_expect(rd, STREAM_KIND_RAW);
	while ((st = stream_read(rd, r)) == STREAM_OK) {
		pthread_mutex_lock(&m.lock);
		while (h->qlen == QCAP)
			pthread_cond_wait(&m.space, &m.lock);
		h->q[(h->qhead + h->qlen) % QCAP] = *r;
		h->qlen++;
		h->last_rx = mono_now();
		pthread_cond_broadcast(&m.data);
		pthread_mutex_unlock(&m.lock);
	}
	pthread_mutex_lock(&m.lock);
	h->eof = true;
	h->status = st;
	if (st != STREAM_EOF)
		snprintf(h->err, sizeof(h->err), "%s", stream_error(rd));
	pthread_cond_broadcast(&m.data);
	pthread_mutex_unlock(&m.lock);
	stream_reader_free(rd);
	free(r);
	return NULL;
}

/* ---- snapshots of each host ---- */

static int snap_add(struct snap *s, const struct rec_snap_row *row)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct rec_snap_row *r = realloc(s->rows, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->rows = r;
		s->cap = cap;
	}
	s->rows[s->n++] = *row;
	return 0;
}

static void snap_swap(struct snap *a, struct snap *b)
{
	struct snap t = *a;

	*a = *b;
	*b = t;
}

static int try_merge(void);

/* A host's aggregator writes here. */
static int on_emit(void *ctx, const struct rec *r)
{
	struct host *h = ctx;
	int err;

	switch (r->type) {
	case REC_SNAP_BEGIN:
		h->building.b = r->u.snap_begin;
		h->building.n = 0;
		return 0;
	case REC_SNAP_ROW:
		return snap_add(&h->building, &r->u.row);
	case REC_SNAP_END:
		if (h->has_pending) {
			/* a second snapshot before the merge: its closed rows would be lost (each is
			 * shown once), so they join the new one */
			for (size_t i = 0; i < h->pending.n; i++)
				if ((h->pending.rows[i].flags & CONN_F_CLOSED) &&
				    (err = snap_add(&h->building, &h->pending.rows[i])))
					return err;
		}
		snap_swap(&h->pending, &h->building);
		h->has_pending = true;
		h->time_ns = h->pending.b.time_ns;
		return try_merge();
	default: /* the header and END: the merged stream has its own */
		return 0;
	}
}

/* ---- the merged stream ---- */

static int write_header(void)
{
	struct stream_header out = { 0 };
	size_t len = 0;

	out.kind = STREAM_KIND_SNAPSHOT;
	out.interval_ns = m.o.interval_ns;
	/* its clock is the wall clock: anchor 0 at 0 */
	snprintf(out.producer, HDR_STR_MAX, "tcptop-agg");
	snprintf(out.version, HDR_STR_MAX, "%s", TCPTOP_VERSION);
	for (int i = 0; i < m.n && len < HDR_STR_MAX - 1; i++)
		len += snprintf(out.hostname + len, HDR_STR_MAX - len, "%s%s", i ? "+" : "",
				m.h[i].hdr.hostname);
	snprintf(out.filter, HDR_STR_MAX, "%s", m.o.filter_text ? m.o.filter_text : "");
	snprintf(out.backend, HDR_STR_MAX, "merged %d hosts", m.n);
	m.header_out = true;
	return stream_write_header(m.w, &out);
}

static void add_loss(struct rec_snap_begin *b, const struct loss_entry *l, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j;

		for (j = 0; j < b->nloss && b->loss[j].code != l[i].code; j++)
			;
		if (j == b->nloss) {
			if (b->nloss == LOSS_MAX)
				continue;
			b->loss[b->nloss++] = (struct loss_entry){ l[i].code, 0 };
		}
		b->loss[j].value += l[i].value;
		if (b->loss[j].value)
			b->flags |= SNAP_F_LOSS;
	}
}

/* The rows a host shows in this merged snapshot. */
static const struct snap *shown(const struct host *h, bool *repeat)
{
	*repeat = false;
	if (h->has_pending)
		return &h->pending;
	if (h->lagging && !h->done && h->has_last) {
		*repeat = true;
		return &h->last;
	}
	return NULL;
}

static int emit_merged(void)
{
	struct rec *r = &m.out;
	struct rec_snap_begin *b = &r->u.snap_begin;
	int64_t t = m.last_time;
	int err;

	if (!m.header_out && (err = write_header()))
		return err;
	memset(r, 0, sizeof(*r));
	r->type = REC_SNAP_BEGIN;
	for (int i = 0; i < m.n; i++) {
		struct host *h = &m.h[i];
		const struct snap *s;
		bool rep;

		if (h->has_pending && h->pending.b.time_ns > t)
			t = h->pending.b.time_ns;
		if (!(s = shown(h, &rep)))
			continue;
		for (size_t j = 0; j < s->n; j++) {
			const struct rec_snap_row *w = &s->rows[j];

			if (rep && (w->flags & CONN_F_CLOSED))
				continue;
			b->rows++;
			if (w->id.proto == PROTO_UDP)
				b->udp_flows++;
			else
				b->tcp_conns++;
			b->bytes_in += w->c.bytes_in;
			b->bytes_out += w->c.bytes_out;
			if (!rep) {
				b->rate_in += w->rate_in;
				b->rate_out += w->rate_out;
			}
		}
		b->hidden += s->b.hidden;
		if (!rep)
			b->flags |= s->b.flags & SNAP_F_PARTIAL;
	}
	for (int i = 0; i < m.n; i++) {
		const struct snap *s = m.h[i].has_pending ? &m.h[i].pending
				       : m.h[i].has_last  ? &m.h[i].last
							  : NULL;
		if (s)
			add_loss(b, s->b.loss, s->b.nloss);
	}
	b->seq = ++m.seq;
	b->time_ns = t;
	b->mono_ns = (uint64_t)t;
	b->span_ns = m.last_time ? (uint64_t)(t - m.last_time) : m.o.interval_ns;
	b->interval_ns = m.o.interval_ns;
	m.last_time = t;
	if ((err = stream_write(m.w, r)))
		return err;

	for (int i = 0; i < m.n; i++) {
		struct host *h = &m.h[i];
		struct rec_host *hr = &r->u.host;
		const struct snap *s;

		memset(r, 0, sizeof(*r));
		r->type = REC_HOST;
		hr->index = i + 1;
		hr->state = h->done ? HOST_ENDED : h->lagging ? HOST_LAGGING : HOST_LIVE;
		hr->time_ns = h->time_ns;
		memcpy(hr->hostname, h->hdr.hostname, HDR_STR_MAX);
		memcpy(hr->boot_id, h->hdr.boot_id, HOST_BOOT_LEN - 1);
		s = h->has_pending ? &h->pending : h->has_last ? &h->last : NULL;
		if (s) {
			hr->nloss = s->b.nloss;
			memcpy(hr->loss, s->b.loss, sizeof(hr->loss));
		}
		if ((err = stream_write(m.w, r)))
			return err;
	}
	for (int i = 0; i < m.n; i++) {
		struct host *h = &m.h[i];
		const struct snap *s;
		bool rep;

		if (!(s = shown(h, &rep)))
			continue;
		r->type = REC_SNAP_ROW;
		for (size_t j = 0; j < s->n; j++) {
			struct rec_snap_row *w = &r->u.row;

			if (rep && (s->rows[j].flags & CONN_F_CLOSED))
				continue;
			*w = s->rows[j];
			w->host = i + 1;
			w->first_ns = (uint64_t)stream_wall_ns(&h->hdr, w->first_ns);
			w->last_ns = (uint64_t)stream_wall_ns(&h->hdr, w->last_ns);
			if (rep) {
				w->flags &= ~CONN_F_NEW;
				w->rate_in = w->rate_out = 0;
			}
			if ((err = stream_write(m.w, r)))
				return err;
		}
		if (h->has_pending) {
			snap_swap(&h->last, &h->pending);
			h->has_last = true;
			h->has_pending = false;
			/* shown: a later repeat is neither new nor closed */
			for (size_t j = 0; j < h->last.n; j++)
				h->last.rows[j].flags &= ~CONN_F_NEW;
		}
	}
	memset(r, 0, sizeof(*r));
	r->type = REC_SNAP_END;
	r->u.snap_end.seq = m.seq;
	if ((err = stream_write(m.w, r)))
		return err;
	return stream_flush(m.w);
}

/* A merged snapshot once every host that is neither ended nor lagging has a new one. */
static int try_merge(void)
{
	bool any = false;

	for (int i = 0; i < m.n; i++) {
		const struct host *h = &m.h[i];

		if (h->has_pending)
			any = true;
		else if (!h->done && !h->lagging)
			return 0;
	}
	return any ? emit_merged() : 0;
}

/* ---- the loop ---- */

static void write_failed(int e)
{
	if (e == -EPIPE)
		exit(0);
	if (e == -ENOMEM)
		errx(EX_OSERR, "out of memory");
	errno = -e;
	err(EX_IOERR, "write");
}

/* The wall time of a record of host h, for the order of the merge; records without one first. */
static int64_t rec_wall(const struct host *h, const struct rec *r)
{
	uint64_t ts;

	switch (r->type) {
	case REC_CONN_OPEN:
		ts = r->u.open.ts;
		break;
	case REC_CONN_STATE:
		ts = r->u.state.ts;
		break;
	case REC_CONN_SAMPLE:
		ts = r->u.sample.ts;
		break;
	case REC_CONN_CLOSE:
		ts = r->u.close.ts;
		break;
	case REC_CONN_OWNER:
		ts = r->u.owner.ts;
		break;
	case REC_TICK:
		ts = r->u.tick.ts;
		break;
	case REC_LOSS:
		ts = r->u.loss.ts;
		break;
	case REC_END:
		ts = r->u.end.ts;
		break;
	default:
		return INT64_MIN;
	}
	return stream_wall_ns(&h->hdr, ts);
}

static int process(struct host *h, struct rec *r)
{
	int e;

	if (r->type == REC_HEADER) {
		h->hdr = r->u.header;
		return agg_begin(h->a, &r->u.header);
	}
	if ((e = agg_record(h->a, r)))
		return e;
	if (r->type == REC_END)
		return agg_end(h->a, false);
	return 0;
}

static int finish(struct host *h, int *status)
{
	int e = 0;

	switch (h->status) {
	case STREAM_EOF:
		break;
	case STREAM_NO_END:
		warnx("%s; its last snapshot flagged partial", h->err);
		break;
	default:
		warnx("%s", h->err);
		if (!*status)
			*status = h->status == STREAM_IO ? EX_IOERR : EX_DATAERR;
		break;
	}
	if (agg_in_section(h->a))
		e = agg_end(h->a, true);
	h->done = true;
	h->lagging = false;
	return e ? e : try_merge();
}

int merge_run(const struct agg_opts *o, int n, const char *const *names, const int *fds,
	      struct stream_writer *w)
{
	int64_t lag = 2 * (int64_t)(o->interval_ns > 1000000000ULL ? o->interval_ns : 1000000000ULL);
	struct rec *r = malloc(sizeof(*r));
	int status = 0, left = n, e;

	m.n = n;
	m.w = w;
	m.o = *o;
	m.h = calloc(n, sizeof(*m.h));
	if (!m.h || !r)
		errx(EX_OSERR, "out of memory");
	for (int i = 0; i < n; i++) {
		struct host *h = &m.h[i];
		struct agg_opts ho = *o;
		struct stat sb;

		h->name = names[i];
		h->fd = fds[i];
		h->regular = fstat(fds[i], &sb) == 0 && S_ISREG(sb.st_mode);
		h->q = malloc(QCAP * sizeof(*h->q));
		ho.emit = on_emit;
		ho.ctx = h;
		ho.pace = NULL;
		h->a = agg_new(&ho, NULL);
		h->last_rx = mono_now();
		if (!h->q || !h->a)
			errx(EX_OSERR, "out of memory");
		if ((errno = pthread_create(&h->th, NULL, reader, h)))
			err(EX_OSERR, "pthread_create");
	}

	pthread_mutex_lock(&m.lock);
	while (left > 0) {
		struct host *pick = NULL, *ended = NULL;
		bool blocked = false;
		int64_t best = INT64_MAX, now = mono_now();

		for (int i = 0; i < n; i++) {
			struct host *h = &m.h[i];

			if (h->done)
				continue;
			if (h->qlen) {
				int64_t t = rec_wall(h, &h->q[h->qhead]);

				h->lagging = false;
				if (!pick || t < best)
					pick = h, best = t;
			} else if (h->eof) {
				ended = h;
			} else if (h->regular || now - h->last_rx < lag) {
				blocked = true; /* its next record may come first */
			} else {
				h->lagging = true;
			}
		}
		if (ended) {
			pthread_mutex_unlock(&m.lock);
			if ((e = finish(ended, &status)))
				write_failed(e);
			pthread_mutex_lock(&m.lock);
			left--;
			continue;
		}
		if (blocked || !pick) {
			struct timespec dl;

			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += 100000000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&m.data, &m.lock, &dl);
			/* a lagging host holds back no more: what the others have is shown */
			if (!blocked) {
				pthread_mutex_unlock(&m.lock);
				if ((e = try_merge()))
					write_failed(e);
				pthread_mutex_lock(&m.lock);
			}
			continue;
		}
		*r = pick->q[pick->qhead];
		pick->qhead = (pick->qhead + 1) % QCAP;
		pick->qlen--;
		pthread_cond_broadcast(&m.space);
		pthread_mutex_unlock(&m.lock);
		if ((e = process(pick, r)))
			write_failed(e);
		pthread_mutex_lock(&m.lock);
	}
	pthread_mutex_unlock(&m.lock);

	if (!m.header_out && (e = write_header()))
		write_failed(e);
	memset(r, 0, sizeof(*r));
	r->type = REC_END;
	r->u.end.ts = (uint64_t)m.last_time;
	if ((e = stream_write(w, r)) || (e = stream_flush(w)))
		write_failed(e);
	for (int i = 0; i < n; i++) {
		pthread_join(m.h[i].th, NULL);
		agg_free(m.h[i].a);
		free(m.h[i].q);
		free(m.h[i].building.rows);
		free(m.h[i].pending.rows);
		free(m.h[i].last.rows);
	}
	free(m.h);
	free(r);
	return status;
}
