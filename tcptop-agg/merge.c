// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-agg --merge: every input is a host with its own aggregator, which cuts snapshots on that
 * host's clock; a merged snapshot joins the latest snapshot of every host, in wall-clock time
 * (each host's anchor), as soon as every host that keeps up has one. The loop takes the earliest
 * record (in wall time) of all inputs, so replaying recordings gives the same merged snapshots
 * however fast they are read: a regular file (or bytes in memory) is read by the loop itself
 * when its turn comes, any other input (a pipe, a socket) by a thread of its own into a queue.
 * A live input that sends nothing for two intervals is not waited for: it is lagging, and its
 * last rows are shown until it catches up. No thread exits or prints: a reader's end and its
 * error message go to the loop, which decides.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "contract.h"
#include "merge.h"
#include "snaptab.h"
#include "stop.h"
#include "util.h"
#include "vec.h"

#define QCAP		 1024	     /* records queued per threaded input */
#define STOP_CHECK_EVERY 1024	     /* records merged between two looks for a stop request */
#define WAIT_NS		 100000000LL /* the loop's longest wait for a threaded input */
#define SNAP_MIN_GAP	 1000000LL   /* ns: the least time between two merged snapshots */

struct snap {
	struct rec_snap_begin b;
	struct rec_snap_row *rows;
	size_t n, cap;
};

struct merge;

struct host {
	struct merge *m;
	uint32_t index; /* 1, 2, ...: REC_HOST.index, SNAP_ROW.host, CGROUP.host */
	const char *name;
	struct stream_reader *rd;
	bool threaded; /* read by its own thread (not a regular file) */
	pthread_t th;
	bool th_on;

	/* the input's state: a threaded one's (and its queue) under m->lock */
	struct rec *q;
	size_t qhead, qlen;
	bool eof;
	int status; /* the reader's last stream status */
	char err[512];
	int64_t last_rx;  /* CLOCK_MONOTONIC ns of the last record queued */
	struct rec *head; /* a file's next record; a thread's read buffer */
	bool has_head;

	/* the loop's */
	struct agg *a;
	struct stream_header hdr; /* the input's current header */
	bool done;		  /* input ended and its last snapshot taken */
	bool lagging;
	struct snap building, pending, last;
	bool has_pending, has_last;
	int64_t time_ns; /* wall time of its latest snapshot */
	/* its CGROUP records, written before the next merged snapshot */
	struct rec_cgroup *cg;
	size_t ncg, cg_cap;
};

struct merge {
	pthread_mutex_t lock;
	pthread_cond_t data, space;
	int quit_fd; /* an eventfd, readable once the readers are to stop; -1 without threads */
	bool quit;   /* under lock */
	int n;
	struct host *h;
	struct agg_opts o;
	bool header_out;
	bool all_ended; /* the last merged snapshot said every host ended */
	uint64_t seq;
	int64_t last_time;
	struct rec in;	/* the record being merged (from a queue) */
	struct rec out; /* the record being written */

	/* delta snapshots: the table the merged output left (the merge reads its own output as a
	 * reader does), the rows of the snapshot being written and which of them a delta carries */
	struct snaptab tab;
	struct rec_snap_row *rows;
	size_t nrows, rows_cap;
	uint8_t *carry;
	size_t carry_cap;
	struct rec_snap_row *added; /* the rows a delta adds (their keys checked unique) */
	size_t added_cap;
	uint64_t since_full;
};

static int64_t mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* ---- the threads that read pipes ---- */

/* The reader's wait: until its input is readable, or until the loop tells it to stop. */
static int reader_wait(void *ctx, int fd)
{
	struct host *h = ctx;
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
			       { .fd = h->m->quit_fd, .events = POLLIN } };

	for (;;) {
		int k = poll(p, 2, -1);

		if (k < 0 && errno == EINTR)
			continue;
		return k > 0 && p[1].revents ? -1 : 0;
	}
}

static void *reader(void *arg)
{
	struct host *h = arg;
	struct merge *m = h->m;
	int st;

	while ((st = stream_read(h->rd, h->head)) == STREAM_OK) {
		pthread_mutex_lock(&m->lock);
		while (h->qlen == QCAP && !m->quit)
			pthread_cond_wait(&m->space, &m->lock);
		if (m->quit) {
			pthread_mutex_unlock(&m->lock);
			st = STREAM_STOPPED;
			break;
		}
		h->q[(h->qhead + h->qlen) % QCAP] = *h->head;
		h->qlen++;
		h->last_rx = mono_now();
		pthread_cond_broadcast(&m->data);
		pthread_mutex_unlock(&m->lock);
	}
	pthread_mutex_lock(&m->lock);
	h->eof = true;
	h->status = st;
	if (st != STREAM_EOF)
		snprintf(h->err, sizeof(h->err), "%s", stream_error(h->rd));
	pthread_cond_broadcast(&m->data);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* A file's next record, read by the loop when it has none. */
static void file_next(struct host *h)
{
	int st = stream_read(h->rd, h->head);

	if (st == STREAM_OK) {
		h->has_head = true;
		return;
	}
	h->eof = true;
	h->status = st;
	if (st != STREAM_EOF)
		snprintf(h->err, sizeof(h->err), "%s", stream_error(h->rd));
}

/* ---- snapshots of each host ---- */

static int snap_add(struct snap *s, const struct rec_snap_row *row)
{
	if (VEC_RESERVE(&s->rows, &s->cap, s->n + 1))
		return -ENOMEM;
	s->rows[s->n++] = *row;
	return 0;
}

static void snap_swap(struct snap *a, struct snap *b)
{
	struct snap t = *a;

	*a = *b;
	*b = t;
}

static int try_merge(struct merge *m);

/* A host's aggregator writes here: its one sink. */
static int on_emit(void *ctx, const struct rec *r)
{
	struct host *h = ctx;
	int err;

	switch (r->type) {
	case REC_CGROUP:
		/* before the snapshot naming it: it goes out before the merged snapshot */
		if (VEC_RESERVE(&h->cg, &h->cg_cap, h->ncg + 1))
			return -ENOMEM;
		h->cg[h->ncg] = r->u.cgroup;
		h->cg[h->ncg++].host = h->index;
		return 0;
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
		return try_merge(h->m);
	default: /* the header and END: the merged stream has its own */
		return 0;
	}
}

/* ---- the merged stream ---- */

/* A record of the merged stream out; a snapshot's records applied to the table it leaves. */
static int put(struct merge *m, const struct rec *r)
{
	int err = 0;

	switch (r->type) {
	case REC_HEADER:
		snaptab_section(&m->tab, &r->u.header);
		break;
	case REC_SNAP_BEGIN:
	case REC_DELTA_BEGIN:
		snaptab_begin(&m->tab, r->type, &r->u.snap_begin);
		break;
	case REC_SNAP_ROW:
	case REC_DELTA_ROW:
		err = snaptab_add(&m->tab, r->type, &r->u.row);
		break;
	case REC_SNAP_END:
	case REC_DELTA_END:
		err = snaptab_end(&m->tab) == -ENOMEM ? -ENOMEM : 0;
		break;
	}
	/* out of memory for the table: it is out of step, and the next snapshots are full */
	(void)err;
	return m->o.out.rec(m->o.out.ctx, r);
}

static int write_header(struct merge *m)
{
	struct rec *r = &m->out;
	struct stream_header *out = &r->u.header;
	size_t len = 0;

	memset(r, 0, sizeof(*r));
	r->type = REC_HEADER;
	out->kind = STREAM_KIND_SNAPSHOT;
	out->interval_ns = m->o.interval_ns;
	/* its clock is the wall clock: anchor 0 at 0 */
	snprintf(out->producer, HDR_STR_MAX, "tcptop-agg");
	snprintf(out->version, HDR_STR_MAX, "%s", TCPTOP_VERSION);
	for (int i = 0; i < m->n && len < HDR_STR_MAX - 1; i++)
		len += snprintf(out->hostname + len, HDR_STR_MAX - len, "%s%s", i ? "+" : "",
				m->h[i].hdr.hostname);
	snprintf(out->filter, HDR_STR_MAX, "%s", m->o.filter_text ? m->o.filter_text : "");
	snprintf(out->backend, HDR_STR_MAX, "merged %d hosts", m->n);
	out->major = STREAM_MAJOR;
	out->minor = STREAM_MINOR; /* what the writer writes: the table keeps full snapshots */
	m->header_out = true;
	return put(m, r);
}

/* Adds n loss entries to b's, code by code; values of codes b has no room for (the last slot is
 * agg_loss_other's) go to *other. */
static void add_loss(struct rec_snap_begin *b, const struct loss_entry *l, uint32_t n,
		     uint64_t *other)
{
	for (uint32_t i = 0; i < n && i < LOSS_MAX; i++) {
		uint32_t j;

		if (l[i].code == LOSS_AGG_LOSS_OTHER) {
			*other += l[i].value;
			continue;
		}
		for (j = 0; j < b->nloss && b->loss[j].code != l[i].code; j++)
			;
		if (j == b->nloss) {
			if (b->nloss == LOSS_MAX - 1) {
				*other += l[i].value;
				continue;
			}
			b->loss[b->nloss++] = (struct loss_entry){ l[i].code, 0 };
		}
		b->loss[j].value += l[i].value;
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

/* The snapshot whose loss counters and state stand for the host now. */
static const struct snap *latest(const struct host *h)
{
	return h->has_pending ? &h->pending : h->has_last ? &h->last : NULL;
}

static int write_cgroups(struct merge *m)
{
	struct rec *r = &m->out;
	int err;

	for (int i = 0; i < m->n; i++) {
		struct host *h = &m->h[i];

		for (size_t j = 0; j < h->ncg; j++) {
			r->type = REC_CGROUP;
			r->u.cgroup = h->cg[j];
			if ((err = m->o.out.rec(m->o.out.ctx, r)))
				return err;
		}
		h->ncg = 0;
	}
	return 0;
}

static int write_begin(struct merge *m, bool delta, uint32_t ncarried)
{
	struct rec *r = &m->out;
	struct rec_snap_begin *b = &r->u.snap_begin;
	int64_t t = m->last_time;
	uint64_t other = 0;

	memset(r, 0, sizeof(*r));
	r->type = REC_SNAP_BEGIN;
	for (int i = 0; i < m->n; i++) {
		struct host *h = &m->h[i];
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
	for (int i = 0; i < m->n; i++) {
		const struct snap *s = latest(&m->h[i]);

		if (s)
			add_loss(b, s->b.loss, s->b.nloss, &other);
	}
	b->loss[b->nloss++] = (struct loss_entry){ LOSS_AGG_LOSS_OTHER, other };
	/* no two snapshots share a time, not even in the CSV's milliseconds (the final one
	 * comes after every host's last) */
	if (m->seq && t < m->last_time + SNAP_MIN_GAP)
		t = m->last_time + SNAP_MIN_GAP;
	for (uint32_t j = 0; j < b->nloss; j++)
		if (b->loss[j].value)
			b->flags |= SNAP_F_LOSS;
	b->seq = ++m->seq;
	b->time_ns = t;
	b->mono_ns = (uint64_t)t;
	b->span_ns = m->last_time ? (uint64_t)(t - m->last_time) : m->o.interval_ns;
	b->interval_ns = m->o.interval_ns;
	m->last_time = t;
	b->table_rows = b->rows;
	if (delta) {
		r->type = REC_DELTA_BEGIN;
		b->rows = ncarried;
	}
	return put(m, r);
}

static int write_hosts(struct merge *m, bool delta)
{
	struct rec *r = &m->out;
	int err;

	m->all_ended = true;
	for (int i = 0; i < m->n; i++) {
		struct host *h = &m->h[i];
		struct rec_host *hr = &r->u.host;
		const struct snap *s = latest(h);

		memset(r, 0, sizeof(*r));
		r->type = delta ? REC_DELTA_HOST : REC_HOST;
		hr->index = h->index;
		hr->state = h->done ? HOST_ENDED : h->lagging ? HOST_LAGGING : HOST_LIVE;
		m->all_ended &= h->done;
		hr->time_ns = h->time_ns;
		memcpy(hr->hostname, h->hdr.hostname, HDR_STR_MAX);
		memcpy(hr->boot_id, h->hdr.boot_id, HOST_BOOT_LEN - 1);
		if (s) {
			hr->nloss = s->b.nloss;
			memcpy(hr->loss, s->b.loss, sizeof(hr->loss));
		}
		if ((err = put(m, r)))
			return err;
	}
	return 0;
}

/* The rows of the merged snapshot, host by host, into m->rows. */
static int collect_rows(struct merge *m)
{
	m->nrows = 0;
	for (int i = 0; i < m->n; i++) {
		struct host *h = &m->h[i];
		const struct snap *s;
		bool rep;

		if (!(s = shown(h, &rep)))
			continue;
		for (size_t j = 0; j < s->n; j++) {
			struct rec_snap_row *w;

			if (rep && (s->rows[j].flags & CONN_F_CLOSED))
				continue;
			if (VEC_RESERVE(&m->rows, &m->rows_cap, m->nrows + 1))
				return -ENOMEM;
			w = &m->rows[m->nrows++];
			*w = s->rows[j];
			w->host = h->index;
			w->first_ns = (uint64_t)stream_wall_ns(&h->hdr, w->first_ns);
			w->last_ns = (uint64_t)stream_wall_ns(&h->hdr, w->last_ns);
			if (rep) {
				w->flags &= ~CONN_F_NEW;
				w->rate_in = w->rate_out = 0;
			}
		}
	}
	return 0;
}

/* Row f is what a reader's table holds for p once a delta begins (rates 0, NEW cleared). */
static bool unchanged(const struct rec_snap_row *p, const struct rec_snap_row *f)
{
	const struct conn_id *a = &p->id, *b = &f->id;

	return a->flow == b->flow && a->cookie == b->cookie && a->netns == b->netns &&
	       a->ifindex == b->ifindex && a->proto == b->proto && a->family == b->family &&
	       a->lport == b->lport && a->rport == b->rport && !memcmp(a->laddr, b->laddr, 16) &&
	       !memcmp(a->raddr, b->raddr, 16) && p->state == f->state &&
	       (p->flags & ~CONN_F_NEW) == f->flags && p->pid == f->pid &&
	       !memcmp(p->comm, f->comm, COMM_LEN) && !memcmp(p->ifname, f->ifname, IFNAME_LEN) &&
	       !memcmp(&p->c, &f->c, sizeof(p->c)) && f->rate_in == 0 && f->rate_out == 0 &&
	       p->first_ns == f->first_ns && p->last_ns == f->last_ns &&
	       p->cgroup_id == f->cgroup_id && p->host == f->host;
}

static int key_cmp(const void *x, const void *y)
{
	const struct rec_snap_row *a = x, *b = y;

	if (a->host != b->host)
		return a->host < b->host ? -1 : 1;
	return a->id.flow < b->id.flow ? -1 : a->id.flow > b->id.flow;
}

/* Whether the merged snapshot can go as a delta: full snapshots every full_every, and whenever
 * a reader applying the delta to the table the last one left would not have m->rows in their
 * order (a row gone without closing, as a host's that ended; a row new before rows of its
 * host; two rows of one key). m->carry[i] says which rows the delta carries. */
static bool delta_due(struct merge *m, uint32_t *ncarried)
{
	const struct snaptab *t = &m->tab;
	size_t j = 0, nt = snaptab_rows(t), nadded = 0;

	*ncarried = 0;
	if (m->o.full_every <= 1 || m->since_full + 1 >= m->o.full_every || !t->in_step ||
	    vec_resize(&m->carry, &m->carry_cap, m->nrows, 1))
		return false;
	for (size_t i = 0; i < m->nrows; i++) {
		const struct rec_snap_row *f = &m->rows[i], *p = NULL, *old;

		while (j < nt && (snaptab_row(t, j)->flags & CONN_F_CLOSED))
			j++;
		if (j < nt)
			p = snaptab_row(t, j);
		if (p && p->host == f->host && p->id.flow == f->id.flow) {
			j++;
			m->carry[i] = !unchanged(p, f);
		} else {
			/* a new row: after every row of its host still to come, of no live key */
			old = snaptab_find(t, f->host, f->id.flow);
			if ((p && p->host <= f->host) || (old && !(old->flags & CONN_F_CLOSED)) ||
			    VEC_RESERVE(&m->added, &m->added_cap, nadded + 1))
				return false;
			m->added[nadded++] = *f;
			m->carry[i] = 1;
		}
		*ncarried += m->carry[i];
	}
	while (j < nt && (snaptab_row(t, j)->flags & CONN_F_CLOSED))
		j++;
	if (j < nt)
		return false;
	if (nadded > 1) /* none: no array to sort (qsort's argument is never NULL) */
		qsort(m->added, nadded, sizeof(*m->added), key_cmp);
	for (size_t i = 1; i < nadded; i++)
		if (!key_cmp(&m->added[i - 1], &m->added[i]))
			return false;
	return true;
}

static int write_rows(struct merge *m, bool delta)
{
	struct rec *r = &m->out;
	int err;

	r->type = delta ? REC_DELTA_ROW : REC_SNAP_ROW;
	for (size_t i = 0; i < m->nrows; i++) {
		if (delta && !m->carry[i])
			continue;
		r->u.row = m->rows[i];
		if ((err = put(m, r)))
			return err;
	}
	return 0;
}

/* The hosts' snapshots just shown become their last ones. */
static void shown_done(struct merge *m)
{
	for (int i = 0; i < m->n; i++) {
		struct host *h = &m->h[i];

		if (h->has_pending) {
			snap_swap(&h->last, &h->pending);
			h->has_last = true;
			h->has_pending = false;
			/* shown: a later repeat is neither new nor closed */
			for (size_t j = 0; j < h->last.n; j++)
				h->last.rows[j].flags &= ~CONN_F_NEW;
		}
	}
}

/* One merged snapshot: the hosts' new cgroup paths, SNAP_BEGIN, a HOST per host, the rows. */
static int emit_merged(struct merge *m)
{
	uint32_t ncarried = 0;
	bool delta;
	int err;

	if ((!m->header_out && (err = write_header(m))) || (err = write_cgroups(m)) ||
	    (err = collect_rows(m)))
		return err;
	delta = delta_due(m, &ncarried);
	if ((err = write_begin(m, delta, ncarried)) || (err = write_hosts(m, delta)) ||
	    (err = write_rows(m, delta)))
		return err;
	shown_done(m);
	m->since_full = delta ? m->since_full + 1 : 0;
	memset(&m->out, 0, sizeof(m->out));
	m->out.type = delta ? REC_DELTA_END : REC_SNAP_END;
	m->out.u.snap_end.seq = m->seq;
	if ((err = put(m, &m->out)))
		return err;
	return m->o.out.flush ? m->o.out.flush(m->o.out.ctx) : 0;
}

/* A merged snapshot once every host that is neither ended nor lagging has a new one. */
static int try_merge(struct merge *m)
{
	bool any = false;

	for (int i = 0; i < m->n; i++) {
		const struct host *h = &m->h[i];

		if (h->has_pending)
			any = true;
		else if (!h->done && !h->lagging)
			return 0;
	}
	return any ? emit_merged(m) : 0;
}

/* The end of the merged stream: its header if no snapshot came, and END. */
static int write_end(struct merge *m)
{
	int err;

	if (!m->header_out && (err = write_header(m)))
		return err;
	memset(&m->out, 0, sizeof(m->out));
	m->out.type = REC_END;
	m->out.u.end.ts = (uint64_t)m->last_time;
	if ((err = put(m, &m->out)))
		return err;
	return m->o.out.flush ? m->o.out.flush(m->o.out.ctx) : 0;
}

/* ---- the loop ---- */

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

static int process(struct host *h, const struct rec *r)
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

static void say(const struct merge *m, const char *msg)
{
	if (m->o.warn)
		m->o.warn(m->o.ctx, msg);
}

/* An input ended: said unless clean, its last snapshot taken, *status set for a bad
 * input (the first one's). */
static int finish(struct merge *m, struct host *h, int *status)
{
	int e = 0;

	char msg[sizeof(h->err) + 64];

	switch (h->status) {
	case STREAM_EOF:
		break;
	case STREAM_NO_END:
		snprintf(msg, sizeof(msg), "%s; its last snapshot flagged partial", h->err);
		say(m, msg);
		break;
	default:
		say(m, h->err);
		if (!*status)
			*status = h->status == STREAM_IO ? EX_IOERR : EX_DATAERR;
		break;
	}
	if (agg_in_section(h->a))
		e = agg_end(h->a, true);
	h->done = true;
	h->lagging = false;
	return e ? e : try_merge(m);
}

/* What the loop does next. */
struct step {
	struct host *pick;  /* merge its next record */
	struct host *ended; /* or take its last snapshot */
	bool blocked;	    /* or wait: a live input's next record may come first */
};

/* Chooses, under m->lock, among the inputs that have not ended. */
static struct step choose(struct merge *m, int64_t lag)
{
	struct step s = { 0 };
	int64_t best = INT64_MAX, now = mono_now();

	for (int i = 0; i < m->n; i++) {
		struct host *h = &m->h[i];
		const struct rec *next = NULL;

		if (h->done)
			continue;
		if (!h->threaded)
			next = h->has_head ? h->head : NULL;
		else if (h->qlen)
			next = &h->q[h->qhead];
		if (next) {
			int64_t t = rec_wall(h, next);

			h->lagging = false;
			if (!s.pick || t < best)
				s.pick = h, best = t;
		} else if (h->eof) {
			s.ended = h;
		} else if (now - h->last_rx < lag) {
			s.blocked = true;
		} else {
			h->lagging = true;
		}
	}
	return s;
}

static void wait_data(struct merge *m)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += WAIT_NS;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&m->data, &m->lock, &dl);
}

/* A stop request: at once when a file is left unread, else when the pipes have not ended
 * within the grace. Returns the signal once the loop is to stop, else 0. */
static int stop_due(struct merge *m, int64_t *stop_at)
{
	int sig = stop_signal_now();

	if (!sig)
		return 0;
	if (!*stop_at)
		*stop_at = mono_now();
	for (int i = 0; i < m->n; i++)
		if (!m->h[i].done && !m->h[i].threaded)
			return sig;
	return mono_now() - *stop_at > (int64_t)MERGE_STOP_GRACE_NS ? sig : 0;
}

static int loop(struct merge *m)
{
	int64_t lag =
		2 * (int64_t)(m->o.interval_ns > 1000000000ULL ? m->o.interval_ns : 1000000000ULL);
	int64_t stop_at = 0;
	int status = 0, left = m->n, sig, e;
	unsigned merged = 0;

	while (left > 0) {
		struct step s;

		if ((merged == 0 || merged >= STOP_CHECK_EVERY) && (sig = stop_due(m, &stop_at)))
			return (e = write_end(m)) ? e : exit_stopped(sig, false);
		if (merged >= STOP_CHECK_EVERY)
			merged = 0;
		for (int i = 0; i < m->n; i++) {
			struct host *h = &m->h[i];

			if (!h->done && !h->threaded && !h->has_head && !h->eof)
				file_next(h);
		}
		pthread_mutex_lock(&m->lock);
		s = choose(m, lag);
		if (s.ended) {
			pthread_mutex_unlock(&m->lock);
			if ((e = finish(m, s.ended, &status)))
				return e;
			left--;
			continue;
		}
		if (s.blocked || !s.pick) {
			wait_data(m);
			pthread_mutex_unlock(&m->lock);
			merged = 0; /* look for a stop at every wait */
			/* a lagging host holds back no more: what the others have is shown */
			if (!s.blocked && (e = try_merge(m)))
				return e;
			continue;
		}
		if (s.pick->threaded) {
			m->in = s.pick->q[s.pick->qhead];
			s.pick->qhead = (s.pick->qhead + 1) % QCAP;
			s.pick->qlen--;
			pthread_cond_broadcast(&m->space);
			pthread_mutex_unlock(&m->lock);
			e = process(s.pick, &m->in);
		} else {
			pthread_mutex_unlock(&m->lock);
			s.pick->has_head = false;
			e = process(s.pick, s.pick->head);
		}
		if (e)
			return e;
		merged++;
	}
	/* the last inputs ended after the last merged snapshot: one more, without rows, says so
	 * (every host ended), so that no reader is left with a host live that is gone */
	if (m->seq && !m->all_ended && (e = emit_merged(m)))
		return e;
	if ((e = write_end(m)))
		return e;
	return status ? status : exit_stopped(stop_signal(), true);
}

/* ---- setup and teardown ---- */

static void teardown(struct merge *m)
{
	pthread_mutex_lock(&m->lock);
	m->quit = true;
	pthread_cond_broadcast(&m->space);
	pthread_mutex_unlock(&m->lock);
	if (m->quit_fd >= 0)
		eventfd_write(m->quit_fd, 1); /* cannot fail: the counter is far from its maximum */
	for (int i = 0; i < m->n; i++) {
		struct host *h = &m->h[i];

		if (h->th_on)
			pthread_join(h->th, NULL);
		stream_reader_free(h->rd);
		agg_free(h->a);
		free(h->q);
		free(h->head);
		free(h->cg);
		free(h->building.rows);
		free(h->pending.rows);
		free(h->last.rows);
	}
	if (m->quit_fd >= 0)
		close(m->quit_fd);
	pthread_cond_destroy(&m->data);
	pthread_cond_destroy(&m->space);
	pthread_mutex_destroy(&m->lock);
	snaptab_free(&m->tab);
	free(m->rows);
	free(m->carry);
	free(m->added);
	free(m->h);
	free(m);
}

/* Host i's reader, aggregator and buffers; its thread is started later. */
static int host_init(struct merge *m, int i, const struct merge_input *in)
{
	struct host *h = &m->h[i];
	struct agg_opts ho = m->o;
	struct stat sb;

	h->m = m;
	h->index = (uint32_t)i + 1;
	h->name = in->name;
	if (in->fd < 0) {
		h->rd = stream_reader_mem(in->buf, in->len, in->name);
	} else {
		h->threaded = !(fstat(in->fd, &sb) == 0 && S_ISREG(sb.st_mode));
		h->rd = stream_reader_new(in->fd, in->name);
	}
	h->head = malloc(sizeof(*h->head));
	if (h->threaded)
		h->q = malloc(QCAP * sizeof(*h->q));
	ho.out = (struct agg_sink){ on_emit, NULL, h };
	ho.pace = NULL;
	ho.full_every = 1; /* the merge reads full snapshots; its output has its own deltas */
	h->a = agg_new(&ho);
	h->last_rx = mono_now();
	if (!h->rd || !h->head || (h->threaded && !h->q) || !h->a)
		return -ENOMEM;
	stream_reader_expect(h->rd, STREAM_KIND_RAW);
	if (h->threaded)
		stream_reader_set_wait(h->rd, reader_wait, h);
	return 0;
}

/* The threads of the inputs that are not regular files. 0, or EX_OSERR with its message. */
static int threads_start(struct merge *m)
{
	char msg[128];
	int e = 0;

	for (int i = 0; i < m->n && !e; i++) {
		struct host *h = &m->h[i];

		if (!h->threaded)
			continue;
		if (m->quit_fd < 0 && (m->quit_fd = eventfd(0, EFD_CLOEXEC)) < 0)
			e = errno;
		else if (!(e = pthread_create(&h->th, NULL, reader, h)))
			h->th_on = true;
	}
	if (!e)
		return 0;
	snprintf(msg, sizeof(msg), "cannot start a reader thread: %s", strerror(e));
	say(m, msg);
	return EX_OSERR;
}

int merge_run(const struct agg_opts *o, int n, const struct merge_input *in)
{
	struct merge *m = calloc(1, sizeof(*m));
	int e = 0;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->data, NULL);
	pthread_cond_init(&m->space, NULL);
	m->quit_fd = -1;
	m->o = *o;
	m->n = n;
	if (!(m->h = calloc(n, sizeof(*m->h)))) {
		free(m);
		return -ENOMEM;
	}
	for (int i = 0; i < n && !e; i++)
		e = host_init(m, i, &in[i]);
	if (!e)
		e = threads_start(m);
	if (!e)
		e = loop(m);
	teardown(m);
	return e;
}
