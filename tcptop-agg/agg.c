// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The aggregator: a table of connections keyed by flow id (chained hash, entries from a pool, a
 * dense array in order of appearance), stream time that cuts intervals, and the snapshot writer.
 * Work per record is O(1); a snapshot walks the entries once to count and once to write.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "cgroup.h"
#include "util.h"

/* Per-entry bits of agg's own (not written). */
#define A_CLOSED  0x01 /* closed or replaced: shown once more, then freed */
#define A_SHOWN	  0x02 /* has been in a snapshot (so no longer CONN_F_NEW) */
#define A_MATCH	  0x04 /* passes the filters (set while a snapshot is built) */
#define A_SYNSENT 0x08 /* TCP opened in SYN_SENT and not seen past it: failed if it closes */

/* cgroup_ent.user bits */
#define CG_WRITTEN 0x01 /* its CGROUP record is in this section's output */
#define CG_MATCH   0x02 /* passes --cgroup */

/*
 * One tracked connection: 192 bytes, three cache lines. The first holds the hash key and all
 * that the counting pass of a snapshot reads (with no filter, or filtering on protocol or pid);
 * the second what a sample updates besides, so a record touches two lines and the counting pass
 * one. The identity is kept field by field to fit.
 */
struct conn {
	uint64_t flow;
	uint64_t bytes_in, bytes_out;
	uint64_t ref_in, ref_out; /* counters at the rate's reference sample */
	uint64_t first_ns;
	uint64_t cookie;
	uint8_t proto, aflags, flags, state;
	uint32_t pid;

	struct conn *hnext; /* hash chain; free list when unused */
	uint64_t pkts_in, pkts_out;
	uint32_t srtt_us, retrans;
	uint64_t last_ns;
	uint64_t cgroup_id;
	uint64_t pad[2]; /* the identity starts on the third line */

	uint32_t netns, ifindex;
	uint8_t family;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
	char comm[COMM_LEN];
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct conn, hnext) == 64 && offsetof(struct conn, netns) == 128 &&
		       sizeof(struct conn) == 192,
	       "struct conn: three cache lines as laid out");
/* Blocks of entries: the first small (a short replay, or a fuzzer's input, touches a few pages),
 * each next one twice the last, up to POOL_BLOCK_MAX. */
#define POOL_BLOCK_MIN 64
#define POOL_BLOCK_MAX 4096
#define PREFETCH_AHEAD 8 /* entries: about the latency of a miss in a snapshot's passes */

struct pool_block {
	struct pool_block *next;
	size_t n;
	struct conn e[];
};

struct ifname_ent {
	uint32_t netns, ifindex;
	char name[IFNAME_LEN];
	bool used;
};

/* The least time between two snapshots: the CSV dates them to the millisecond. */
#define SNAP_MIN_GAP 1000000ULL

#define IFNAME_CAP 65536 /* interface names remembered at most (per section) */

/* Loss entries: the collector's codes in order of first appearance, then agg's three. */
#define COLLECT_LOSS_MAX (LOSS_MAX - 3)

struct agg {
	struct agg_opts o;
	struct stream_writer *w;
	struct stream_header in, out;
	bool in_section;

	/* table */
	struct conn **buckets;
	uint64_t nbuckets; /* power of two */
	uint64_t nconns;   /* live and closed-but-not-yet-shown */
	/* every entry in order of appearance: a dense array that a snapshot walks with the
	 * next entries prefetched (a linked list would wait for each one) */
	struct conn **order;
	uint64_t norder, order_cap;
	struct conn *free_list;
	struct pool_block *blocks;

	struct ifname_ent *ifn;
	uint64_t nifn, ifn_cap;

	struct cgroup_table cg;

	/* time */
	bool tick_mode;	 /* the header announces a sample period: ticks cut snapshots */
	uint64_t period; /* the collector's sample period (header interval), 0 without */
	uint64_t slack;	 /* how early a tick may be and still end an interval */
	bool started;	 /* a timestamp has been seen in this section */
	uint64_t now;	 /* latest time seen (never goes back) */
	uint64_t cut;	 /* end of the previous snapshot (start of the open interval) */
	bool dirty;	 /* a record arrived since the last snapshot */
	uint64_t seq;

	/* loss */
	uint32_t ncloss;
	struct loss_entry closs[COLLECT_LOSS_MAX];
	uint64_t table_full, unknown_flow, gap;

	struct rec out_rec;
	char sbuf[SANITIZE_SIZE(COMM_LEN > IFNAME_LEN ? COMM_LEN : IFNAME_LEN)];
};

/* ---- pool and table ---- */

static struct conn *conn_alloc(struct agg *a)
{
	struct conn *e = a->free_list;

	if (!e) {
		size_t n = a->blocks ? a->blocks->n * 2 : POOL_BLOCK_MIN;
		struct pool_block *b;

		if (n > POOL_BLOCK_MAX)
			n = POOL_BLOCK_MAX;
		b = aligned_alloc(64, sizeof(*b) + n * sizeof(b->e[0]));
		if (!b)
			return NULL;
		b->next = a->blocks;
		b->n = n;
		a->blocks = b;
		for (size_t i = n; i-- > 0;) {
			b->e[i].hnext = a->free_list;
			a->free_list = &b->e[i];
		}
		e = a->free_list;
	}
	a->free_list = e->hnext;
	memset(e, 0, sizeof(*e));
	return e;
}

static void conn_release(struct agg *a, struct conn *e)
{
	e->hnext = a->free_list;
	a->free_list = e;
}

/*
 * Flow ids are socket cookies or the collector's own counters: mostly consecutive numbers. Keeping
 * their low bits (and folding the high ones in) puts consecutive ids in neighbouring buckets,
 * which the cache likes; a multiplicative hash would scatter them for nothing.
 */
static inline uint64_t hash_flow(uint64_t flow)
{
	return flow ^ (flow >> 21) ^ (flow >> 42);
}

static struct conn *table_find(const struct agg *a, uint64_t flow)
{
	struct conn *e = a->buckets[hash_flow(flow) & (a->nbuckets - 1)];

	while (e && e->flow != flow)
		e = e->hnext;
	return e;
}

static int table_grow(struct agg *a)
{
	uint64_t n = a->nbuckets * 2;
	struct conn **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (uint64_t i = 0; i < a->nbuckets; i++) {
		struct conn *e = a->buckets[i], *next;

		for (; e; e = next) {
			uint64_t h = hash_flow(e->flow) & (n - 1);

			next = e->hnext;
			e->hnext = nb[h];
			nb[h] = e;
		}
	}
	free(a->buckets);
	a->buckets = nb;
	a->nbuckets = n;
	return 0;
}

static int order_grow(struct agg *a)
{
	uint64_t cap = a->order_cap ? a->order_cap * 2 : 1024;
	struct conn **o = realloc(a->order, cap * sizeof(*o));

	if (!o)
		return -ENOMEM;
	a->order = o;
	a->order_cap = cap;
	return 0;
}

static void table_insert(struct agg *a, struct conn *e)
{
	uint64_t h = hash_flow(e->flow) & (a->nbuckets - 1);

	e->hnext = a->buckets[h];
	a->buckets[h] = e;
}

static void table_unlink(struct agg *a, struct conn *e)
{
	struct conn **pp = &a->buckets[hash_flow(e->flow) & (a->nbuckets - 1)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->hnext = NULL;
}

/* Closed (or replaced) entries leave the hash at once but stay in the list until shown. */
static void conn_close(struct agg *a, struct conn *e)
{
	table_unlink(a, e);
	e->aflags |= A_CLOSED;
}

static void table_clear(struct agg *a)
{
	for (uint64_t i = 0; i < a->norder; i++)
		conn_release(a, a->order[i]);
	a->norder = 0;
	a->nconns = 0;
	memset(a->buckets, 0, a->nbuckets * sizeof(*a->buckets));
	memset(a->ifn, 0, a->ifn_cap * sizeof(*a->ifn));
	a->nifn = 0;
	cgroup_table_clear(&a->cg);
}

/* ---- interface names: open addressing on (netns, ifindex) ---- */

static uint64_t ifn_hash(uint32_t netns, uint32_t ifindex)
{
	return hash_flow(((uint64_t)netns << 32) | ifindex);
}

static struct ifname_ent *ifn_slot(struct agg *a, uint32_t netns, uint32_t ifindex)
{
	uint64_t i = ifn_hash(netns, ifindex) & (a->ifn_cap - 1);

	for (;;) {
		struct ifname_ent *s = &a->ifn[i];

		if (!s->used || (s->netns == netns && s->ifindex == ifindex))
			return s;
		i = (i + 1) & (a->ifn_cap - 1);
	}
}

static int ifn_grow(struct agg *a)
{
	struct ifname_ent *old = a->ifn;
	uint64_t ocap = a->ifn_cap;

	a->ifn = calloc(ocap * 2, sizeof(*a->ifn));
	if (!a->ifn) {
		a->ifn = old;
		return -ENOMEM;
	}
	a->ifn_cap = ocap * 2;
	for (uint64_t i = 0; i < ocap; i++)
		if (old[i].used)
			*ifn_slot(a, old[i].netns, old[i].ifindex) = old[i];
	free(old);
	return 0;
}

static int ifn_set(struct agg *a, const struct rec_ifname *r)
{
	struct ifname_ent *s = ifn_slot(a, r->netns, r->ifindex);

	if (!s->used) {
		/* beyond the cap a name is ignored: the rows show no interface name */
		if (a->nifn >= IFNAME_CAP)
			return 0;
		if ((a->nifn + 1) * 2 > a->ifn_cap) {
			if (ifn_grow(a))
				return -ENOMEM;
			s = ifn_slot(a, r->netns, r->ifindex);
		}
		a->nifn++;
		s->used = true;
		s->netns = r->netns;
		s->ifindex = r->ifindex;
	}
	memcpy(s->name, r->name, IFNAME_LEN);
	return 0;
}

static const char *ifn_get(struct agg *a, uint32_t netns, uint32_t ifindex)
{
	struct ifname_ent *s = ifn_slot(a, netns, ifindex);

	return s->used ? s->name : NULL;
}

/* ---- output: the writer, or the emit callback of a merge ---- */

static int emit_rec(struct agg *a, const struct rec *r)
{
	return a->o.emit ? a->o.emit(a->o.ctx, r) : stream_write(a->w, r);
}

static int emit_flush(struct agg *a)
{
	return a->o.emit ? 0 : stream_flush(a->w);
}

/* ---- setup ---- */

struct agg *agg_new(const struct agg_opts *o, struct stream_writer *w)
{
	struct agg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *o;
	a->w = w;
	a->nbuckets = 1024;
	a->buckets = calloc(a->nbuckets, sizeof(*a->buckets));
	a->ifn_cap = 64;
	a->ifn = calloc(a->ifn_cap, sizeof(*a->ifn));
	if (!a->buckets || !a->ifn) {
		agg_free(a);
		return NULL;
	}
	return a;
}

void agg_free(struct agg *a)
{
	struct pool_block *b, *next;

	if (!a)
		return;
	for (b = a->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a->buckets);
	free(a->ifn);
	free(a->order);
	cgroup_table_free(&a->cg);
	free(a);
}

uint64_t agg_conns(const struct agg *a)
{
	return a->nconns;
}

bool agg_pending(const struct agg *a)
{
	return a->in_section && (a->dirty || !a->seq);
}

bool agg_in_section(const struct agg *a)
{
	return a->in_section;
}

static size_t str_append(char *dst, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (len + n > HDR_STR_MAX - 1)
		n = HDR_STR_MAX - 1 - len;
	memcpy(dst + len, s, n);
	dst[len + n] = '\0';
	return len + n;
}

/* The output's filter text: the collector's filters and agg's, each once. */
static void filter_join(char *dst, const char *in, const char *mine)
{
	size_t len = str_append(dst, 0, in);

	if (*mine && strcmp(in, mine) != 0) {
		if (len)
			len = str_append(dst, len, " and ");
		str_append(dst, len, mine);
	}
}

int agg_begin(struct agg *a, const struct stream_header *in)
{
	struct stream_header *h = &a->out;
	int err;

	table_clear(a);
	a->in = *in;
	a->in_section = true;
	a->period = in->interval_ns;
	a->tick_mode = a->period != 0;
	a->slack = (a->period < a->o.interval_ns ? a->period : a->o.interval_ns) / 4;
	a->started = false;
	a->now = a->cut = in->anchor_mono;
	a->dirty = false;
	a->seq = 0;
	a->ncloss = 0;
	a->table_full = a->unknown_flow = a->gap = 0;

	*h = *in;
	h->kind = STREAM_KIND_SNAPSHOT;
	h->interval_ns = a->o.interval_ns;
	snprintf(h->producer, HDR_STR_MAX, "tcptop-agg");
	snprintf(h->version, HDR_STR_MAX, "%s", TCPTOP_VERSION);
	filter_join(h->filter, in->filter, a->o.filter_text ? a->o.filter_text : "");
	/* out at once: a live reader can show the host before the first interval ends */
	if (a->o.emit) {
		a->out_rec.type = REC_HEADER;
		a->out_rec.u.header = *h;
		return a->o.emit(a->o.ctx, &a->out_rec);
	}
	if ((err = stream_write_header(a->w, h)))
		return err;
	return stream_flush(a->w);
}

/* ---- snapshots ---- */

static bool filter_match(struct agg *a, const struct conn *e)
{
	const struct agg_filter *f = &a->o.filter;

	if (f->tcp != f->udp) {
		if (f->tcp && e->proto != PROTO_TCP)
			return false;
		if (f->udp && e->proto != PROTO_UDP)
			return false;
	}
	if (f->port_set && e->lport != f->port && e->rport != f->port)
		return false;
	if (f->pid_set && (e->pid != f->pid || (e->flags & CONN_F_NO_OWNER)))
		return false;
	if (f->process) {
		if (e->flags & CONN_F_NO_OWNER)
			return false;
		text_sanitize(a->sbuf, sizeof(a->sbuf), e->comm, COMM_LEN);
		if (!strstr(a->sbuf, f->process))
			return false;
	}
	if (f->cgroup) {
		const struct cgroup_ent *c = cgroup_table_get(&a->cg, e->cgroup_id);

		if (!c || !(c->user & CG_MATCH))
			return false;
	}
	if (f->interface) {
		const char *n = ifn_get(a, e->netns, e->ifindex);

		if (!n)
			return false;
		text_sanitize(a->sbuf, sizeof(a->sbuf), n, IFNAME_LEN);
		if (strcmp(a->sbuf, f->interface) != 0)
			return false;
	}
	return true;
}

/* Bytes per second over the snapshot's span: what moved since the reference sample (the last one
 * before the previous snapshot, or the open record) over the time the snapshot covers. So the
 * rates of the rows add up to the interval's throughput, and a connection that lived a
 * millisecond is not credited with its burst rate. 0 when no time passed or the counter went
 * back. */
static inline double rate(uint64_t now_v, uint64_t ref_v, uint64_t dt_ns)
{
	if (!dt_ns || now_v < ref_v)
		return 0.0;
	return (double)(now_v - ref_v) * 1e9 / (double)dt_ns;
}

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* A row's cgroup path goes out once per section, before the first snapshot naming it. */
static int write_cgroup(struct agg *a, uint64_t id)
{
	struct cgroup_ent *c = cgroup_table_get(&a->cg, id);
	struct rec r;

	if (!c || (c->user & CG_WRITTEN))
		return 0;
	c->user |= CG_WRITTEN;
	r.type = REC_CGROUP;
	r.u.cgroup.id = id;
	snprintf(r.u.cgroup.path, CGROUP_PATH_MAX, "%s", c->path);
	return stream_write(a->w, &r);
}

static void fill_loss(struct agg *a, struct rec_snap_begin *b)
{
	uint32_t n = 0;
	bool any = false;

	for (uint32_t i = 0; i < a->ncloss; i++)
		b->loss[n++] = a->closs[i];
	b->loss[n++] = (struct loss_entry){ LOSS_AGG_TABLE_FULL, a->table_full };
	b->loss[n++] = (struct loss_entry){ LOSS_AGG_UNKNOWN_FLOW, a->unknown_flow };
	b->loss[n++] = (struct loss_entry){ LOSS_AGG_GAP, a->gap };
	for (uint32_t i = 0; i < n; i++)
		any |= b->loss[i].value != 0;
	b->nloss = n;
	if (any)
		b->flags |= SNAP_F_LOSS;
}

/* Writes the snapshot of the open interval, ending at time t, then frees what was closed. */
static int snapshot(struct agg *a, uint64_t t, uint32_t flags)
{
	struct rec *r = &a->out_rec;
	struct rec_snap_begin *b = &r->u.snap_begin;
	struct conn *e, **order = a->order;
	uint64_t n = a->norder, kept = 0, cg_last = 0;
	uint32_t ifn_netns = 0, ifn_index = 0;
	const char *ifn = NULL;
	bool have_ifn = false;
	uint64_t span;
	int err;

	if (t < a->cut)
		t = a->cut;
	/* no two snapshots share a timestamp, not even in the CSV's milliseconds: a last snapshot
	 * right after a cut (END a moment after a tick) is dated a millisecond later */
	if (a->seq && t - a->cut < SNAP_MIN_GAP)
		t = a->cut + SNAP_MIN_GAP;
	memset(b, 0, sizeof(*b));
	r->type = REC_SNAP_BEGIN;
	b->seq = ++a->seq;
	b->time_ns = stream_wall_ns(&a->in, t);
	b->mono_ns = t;
	b->span_ns = span = t - a->cut;
	b->interval_ns = a->o.interval_ns;
	b->flags = flags;
	for (uint64_t i = 0; i < n; i++) {
		e = order[i];
		if (i + PREFETCH_AHEAD < n)
			__builtin_prefetch(order[i + PREFETCH_AHEAD]);
		if (!filter_match(a, e)) {
			e->aflags &= ~A_MATCH;
			b->hidden++;
			continue;
		}
		e->aflags |= A_MATCH;
		/* rows mostly share a few cgroups: look up only when it changes */
		if (e->cgroup_id && e->cgroup_id != cg_last) {
			cg_last = e->cgroup_id;
			if ((err = write_cgroup(a, cg_last)))
				return err;
		}
		b->rows++;
		if (e->proto == PROTO_UDP)
			b->udp_flows++;
		else
			b->tcp_conns++;
		b->bytes_in += e->bytes_in;
		b->bytes_out += e->bytes_out;
		b->rate_in += rate(e->bytes_in, e->ref_in, span);
		b->rate_out += rate(e->bytes_out, e->ref_out, span);
	}
	fill_loss(a, b);
	if (a->o.pace)
		a->o.pace(a->o.ctx, t, b->span_ns);
	if ((err = emit_rec(a, r)))
		return err;

	r->type = REC_SNAP_ROW;
	for (uint64_t i = 0; i < n; i++) {
		e = order[i];
		if (i + PREFETCH_AHEAD < n) {
			const char *p = (const char *)order[i + PREFETCH_AHEAD];

			__builtin_prefetch(p, 1);
			if (order[i + PREFETCH_AHEAD]->aflags & A_MATCH) {
				__builtin_prefetch(p + 64);
				__builtin_prefetch(p + 128);
			}
		}
		if (e->aflags & A_MATCH) {
			struct rec_snap_row *w = &r->u.row;

			/* rows mostly share a few interfaces: look up only when it changes */
			if (!have_ifn || e->netns != ifn_netns || e->ifindex != ifn_index) {
				ifn = ifn_get(a, e->netns, e->ifindex);
				ifn_netns = e->netns;
				ifn_index = e->ifindex;
				have_ifn = true;
			}

			w->id.flow = e->flow;
			w->id.cookie = e->cookie;
			w->id.netns = e->netns;
			w->id.ifindex = e->ifindex;
			w->id.proto = e->proto;
			w->id.family = e->family;
			w->id.lport = e->lport;
			w->id.rport = e->rport;
			memcpy(w->id.laddr, e->laddr, 16);
			memcpy(w->id.raddr, e->raddr, 16);
			w->state = e->state;
			w->flags =
				e->flags & (CONN_F_BEGUN_BEFORE | CONN_F_NO_OWNER | CONN_F_FAILED);
			if (e->aflags & A_CLOSED)
				w->flags |= CONN_F_CLOSED;
			if (!(e->aflags & A_SHOWN))
				w->flags |= CONN_F_NEW;
			w->pid = e->pid;
			memcpy(w->comm, e->comm, COMM_LEN);
			if (ifn)
				memcpy(w->ifname, ifn, IFNAME_LEN);
			else
				memset(w->ifname, 0, IFNAME_LEN);
			w->c.bytes_in = e->bytes_in;
			w->c.bytes_out = e->bytes_out;
			w->c.pkts_in = e->pkts_in;
			w->c.pkts_out = e->pkts_out;
			w->c.srtt_us = e->srtt_us;
			w->c.retrans = e->retrans;
			w->rate_in = rate(e->bytes_in, e->ref_in, span);
			w->rate_out = rate(e->bytes_out, e->ref_out, span);
			w->first_ns = e->first_ns;
			w->last_ns = e->last_ns;
			w->host = 0; /* one host: a merge sets its own */
			w->cgroup_id = e->cgroup_id;
			if ((err = emit_rec(a, r)))
				return err;
		}
		/* hidden rows count as shown: a filter never delays CONN_F_NEW's meaning */
		e->aflags |= A_SHOWN;
		e->ref_in = e->bytes_in;
		e->ref_out = e->bytes_out;
		if (e->aflags & A_CLOSED) {
			a->nconns--;
			conn_release(a, e);
			continue;
		}
		order[kept++] = e;
	}
	a->norder = kept;
	r->type = REC_SNAP_END;
	r->u.snap_end.seq = a->seq;
	if ((err = emit_rec(a, r)))
		return err;
	a->cut = t;
	a->dirty = false;
	return emit_flush(a);
}

/*
 * Moves stream time to ts (clamped: time never goes back), cutting snapshots on the way.
 * With a sample period in the header (tick mode) a TICK at or after the interval's end, less
 * the slack, ends it at the tick's time (and the section's first tick ends the first interval);
 * any other record ends it only when it is later than the interval's end plus one period (the
 * ticks stopped). Without a period (data mode) every
 * record is treated alike and intervals end on the grid cut + k * interval. A jump over whole
 * intervals writes one snapshot, not one per interval, and counts the others in LOSS_AGG_GAP.
 */
enum ev {
	EV_DATA,
	EV_TICK,
	EV_END
};

static int advance(struct agg *a, uint64_t ts, enum ev ev)
{
	bool tick = ev == EV_TICK;
	uint64_t iv = a->o.interval_ns, late;
	int err;

	if (!a->started) {
		uint64_t anchor = a->in.anchor_mono;

		/* the first interval starts when the collector did, if that is near */
		a->started = true;
		a->now = a->cut = ts >= anchor && ts - anchor < iv + a->period ? anchor : ts;
	}
	if (ts < a->now)
		ts = a->now;
	late = a->tick_mode ? iv + a->period : iv;
	if (!(a->tick_mode && tick) && ts - a->cut >= late) {
		uint64_t k = (ts - a->cut) / iv;
		uint64_t at = a->cut + k * iv;

		a->gap = sat_add(a->gap, k - 1);
		if ((err = snapshot(a, at > a->now ? at : a->now, 0)))
			return err;
	}
	a->now = ts;
	if (a->tick_mode && tick) {
		uint64_t k = sat_add(ts - a->cut, a->slack) / iv;

		/* the first interval starts at the first record, not on the collector's tick
		 * grid: the section's first tick ends it whatever its length */
		if (k || (a->seq == 0 && a->dirty)) {
			if (k > 1)
				a->gap = sat_add(a->gap, k - 1);
			return snapshot(a, ts, 0);
		}
	}
	/* END itself is not news: only what came before it makes a last snapshot */
	if (ev != EV_END)
		a->dirty = true;
	return 0;
}

static void set_counters(struct conn *e, const struct conn_counters *c, uint64_t ts)
{
	e->bytes_in = c->bytes_in;
	e->bytes_out = c->bytes_out;
	e->pkts_in = c->pkts_in;
	e->pkts_out = c->pkts_out;
	e->srtt_us = c->srtt_us;
	e->retrans = c->retrans;
	e->last_ns = ts;
}

/* States of an outgoing connection that has not (yet) been established. */
static inline bool handshake_state(uint8_t st)
{
	return st == TCP_SYN_SENT || st == TCP_CLOSE;
}

static int on_open(struct agg *a, const struct rec_conn_open *o)
{
	struct conn *e = table_find(a, o->id.flow);

	/* a flow id still live belongs to a connection that ended (its id was reused) */
	if (e)
		conn_close(a, e);
	if (a->nconns >= a->o.max_flows) {
		if (!a->table_full && a->o.table_full)
			a->o.table_full(a->o.ctx, a->o.max_flows);
		a->table_full = sat_add(a->table_full, 1);
		return 0;
	}
	if (a->nconns >= a->nbuckets && table_grow(a))
		return -ENOMEM;
	if (a->norder == a->order_cap && order_grow(a))
		return -ENOMEM;
	e = conn_alloc(a);
	if (!e)
		return -ENOMEM;
	e->flow = o->id.flow;
	e->cookie = o->id.cookie;
	e->netns = o->id.netns;
	e->ifindex = o->id.ifindex;
	e->proto = o->id.proto;
	e->family = o->id.family;
	e->lport = o->id.lport;
	e->rport = o->id.rport;
	memcpy(e->laddr, o->id.laddr, 16);
	memcpy(e->raddr, o->id.raddr, 16);
	e->state = o->state;
	e->flags = o->flags & (CONN_F_BEGUN_BEFORE | CONN_F_NO_OWNER);
	if (e->proto == PROTO_TCP && e->state == TCP_SYN_SENT)
		e->aflags |= A_SYNSENT;
	e->pid = o->pid;
	memcpy(e->comm, o->comm, COMM_LEN);
	set_counters(e, &o->c, a->now);
	e->first_ns = a->now;
	e->cgroup_id = o->cgroup_id;
	e->ref_in = o->c.bytes_in;
	e->ref_out = o->c.bytes_out;
	table_insert(a, e);
	a->order[a->norder++] = e;
	a->nconns++;
	return 0;
}

static struct conn *known(struct agg *a, uint64_t flow)
{
	struct conn *e = table_find(a, flow);

	if (!e)
		a->unknown_flow = sat_add(a->unknown_flow, 1);
	return e;
}

static void on_loss(struct agg *a, const struct rec_loss *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		uint32_t code = l->e[i].code, j;

		if (code >= LOSS_AGG_TABLE_FULL && code <= LOSS_AGG_GAP)
			continue; /* agg's own codes are agg's to report */
		for (j = 0; j < a->ncloss && a->closs[j].code != code; j++)
			;
		if (j == a->ncloss) {
			if (a->ncloss == COLLECT_LOSS_MAX)
				continue;
			a->closs[a->ncloss++].code = code;
		}
		a->closs[j].value = l->e[i].value;
	}
}

int agg_record(struct agg *a, const struct rec *r)
{
	struct conn *e;
	int err;

	switch (r->type) {
	case REC_CONN_OPEN:
		if ((err = advance(a, r->u.open.ts, EV_DATA)))
			return err;
		return on_open(a, &r->u.open);
	case REC_CONN_SAMPLE:
		if ((err = advance(a, r->u.sample.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.sample.flow)))
			set_counters(e, &r->u.sample.c, a->now);
		return 0;
	case REC_CONN_CLOSE:
		if ((err = advance(a, r->u.close.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.close.flow))) {
			set_counters(e, &r->u.close.c, a->now);
			if (r->u.close.state)
				e->state = r->u.close.state;
			if (!handshake_state(e->state))
				e->aflags &= ~A_SYNSENT;
			if (e->aflags & A_SYNSENT)
				e->flags |= CONN_F_FAILED;
			conn_close(a, e);
		}
		return 0;
	case REC_CONN_STATE:
		if ((err = advance(a, r->u.state.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.state.flow))) {
			e->state = r->u.state.new_state;
			if (!handshake_state(e->state))
				e->aflags &= ~A_SYNSENT;
			e->last_ns = a->now;
		}
		return 0;
	case REC_CONN_OWNER:
		if ((err = advance(a, r->u.owner.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.owner.flow))) {
			e->pid = r->u.owner.pid;
			memcpy(e->comm, r->u.owner.comm, COMM_LEN);
			e->flags &= ~CONN_F_NO_OWNER;
			if (r->u.owner.cgroup_id)
				e->cgroup_id = r->u.owner.cgroup_id;
			e->last_ns = a->now;
		}
		return 0;
	case REC_TICK:
		return advance(a, r->u.tick.ts, EV_TICK);
	case REC_LOSS:
		if ((err = advance(a, r->u.loss.ts, EV_DATA)))
			return err;
		on_loss(a, &r->u.loss);
		return 0;
	case REC_IFNAME:
		return ifn_set(a, &r->u.ifname);
	case REC_CGROUP: {
		struct cgroup_ent *c = cgroup_table_set(&a->cg, r->u.cgroup.id, r->u.cgroup.path);

		/* a new or changed path (user reset by set) goes out again; beyond the table's
		 * cap the rows keep their id and show no path */
		if (c && !(c->user & CG_MATCH) && a->o.filter.cgroup &&
		    cgroup_match(a->o.filter.cgroup, c->path))
			c->user |= CG_MATCH;
		return 0;
	}
	case REC_END:
		return advance(a, r->u.end.ts, EV_END);
	default: /* the snapshot vocabulary or a type from a later minor version */
		return 0;
	}
}

static int write_end(struct agg *a, uint64_t ts)
{
	struct rec r = { .type = REC_END };
	int err;

	a->in_section = false;
	r.u.end.ts = ts;
	if ((err = emit_rec(a, &r)))
		return err;
	err = emit_flush(a);
	table_clear(a);
	return err;
}

int agg_end(struct agg *a, bool partial)
{
	int err;

	if (!a->in_section)
		return 0;
	/* a truncated input after a cut with nothing since: the last snapshot stands */
	if (partial ? agg_pending(a) : a->dirty) {
		if ((err = snapshot(a, a->now, partial ? SNAP_F_PARTIAL : 0)))
			return err;
	}
	return write_end(a, a->now);
}

int agg_stop(struct agg *a)
{
	if (!a->in_section)
		return 0;
	return write_end(a, a->cut);
}
