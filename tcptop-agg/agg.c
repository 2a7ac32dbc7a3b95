// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The aggregator: a table of connections keyed by flow id (lib/htab.h, entries from a pool, an
 * array in order of appearance), stream time that cuts intervals, and the snapshots, all written
 * through one sink (struct agg_sink). Work per record is O(1). A full snapshot walks the entries
 * once to count and once to write; a delta visits only the entries a record touched in the
 * interval (a list of them, in order of appearance when sorted), with the header's totals kept
 * up to date row by row: at 100,000 idle connections it costs what changed, not the table.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "cgroup.h"
#include "contract.h"
#include "htab.h"
#include "limit.h"
#include "util.h"
#include "vec.h"

/* Per-entry bits of agg's own (not written). */
#define A_CLOSED  0x01 /* closed or replaced: shown once more, then freed */
#define A_SHOWN	  0x02 /* has been in a snapshot (so no longer CONN_F_NEW) */
#define A_MATCH	  0x04 /* passes the filters (set while a snapshot is built) */
#define A_SYNSENT 0x08 /* TCP opened in SYN_SENT and not seen past it: failed if it closes */
#define A_CHANGED 0x10 /* its row differs from the last one written (a delta carries it) */
#define A_TOUCHED 0x20 /* in a->touched: the next snapshot visits it */

/* cgroup_ent.user bits */
#define CG_WRITTEN 0x01 /* its CGROUP record is in this section's output */
#define CG_MATCH   0x02 /* passes --cgroup */

/*
 * One tracked connection: 192 bytes, three cache lines. The first holds all that the counting
 * pass of a snapshot reads (with no filter, or filtering on protocol or pid); the second the
 * hash node and what a sample updates besides, so a record touches two lines and the counting
 * pass one. The identity is kept field by field to fit; the flow id is hn.hash undone
 * (hash_u64_inverse), since hash_u64 is a bijection.
 */
struct conn {
	uint64_t pos; /* its index in a->order */
	uint64_t bytes_in, bytes_out;
	uint64_t ref_in, ref_out; /* counters at the rate's reference sample */
	uint64_t first_ns;
	uint64_t cookie;
	uint8_t proto, aflags, flags, state;
	uint32_t pid;

	struct hnode hn; /* in the table by flow; hn.next links the free list when unused */
	uint64_t pkts_in, pkts_out;
	uint32_t srtt_us, retrans;
	uint64_t last_ns;
	uint64_t cgroup_id;
	struct tcpx *x; /* TCP with figures, else NULL; the identity starts on the third line */

	uint32_t netns, ifindex;
	uint8_t family;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
	char comm[COMM_LEN];
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct conn, hn) == 64 && offsetof(struct conn, netns) == 128 &&
		       sizeof(struct conn) == 192,
	       "struct conn: three cache lines as laid out");
/* Blocks of entries: the first small (a short replay, or a fuzzer's input, touches a few pages),
 * each next one twice the last, up to POOL_BLOCK_MAX. */
#define POOL_BLOCK_MIN 64
#define POOL_BLOCK_MAX 4096
#define PREFETCH_AHEAD 8 /* entries: about the latency of a miss in a snapshot's passes */
/* A delta visits every row rather than the touched ones when more than a quarter of the table
 * and this many were touched: sorting them would cost more than the walk, and the list is not
 * made longer (a table's first snapshot would hold it for every row). */
#define TOUCHED_FEW 1024

struct pool_block {
	struct pool_block *next;
	size_t n;
	struct conn e[];
};

/* A TCP connection's figures (tcptop-stream(5)), from a pool of their own: UDP flows and
 * streams without figures pay nothing. */
struct tcpx {
	struct tcp_figs figs;	  /* the latest */
	uint64_t figs_ns;	  /* when they were read */
	struct limit_clocks ref;  /* the clocks at the last snapshot: LIMIT's reference */
	uint64_t ref_ns;	  /* when those were read */
	uint32_t ref_retrans;	  /* retransmits then */
	bool has_ref;		  /* false: no earlier reading (LIMIT unknown this interval) */
	uint8_t limit, limit_pct; /* as last written: a delta carries the row when they change */
	struct tcpx *next_free;
};

struct tcpx_block {
	struct tcpx_block *next;
	size_t n;
	struct tcpx x[];
};

/* An interface's name, by (netns, ifindex). */
struct ifname_ent {
	struct hnode hn;
	uint32_t netns, ifindex;
	char name[IFNAME_LEN];
};

/* An entry a record touched since the last snapshot (or whose LIMIT verdict may change back
 * with nothing new), with its place in the order to sort by. */
struct touch {
	uint64_t pos;
	struct conn *e;
};

/* The header's sums over the table as of the last snapshot, less what it freed: a delta takes
 * back a touched row's part as written then and adds its part now. Rates are not kept: a row no
 * record touched moved nothing, its rate is 0. */
struct totals {
	uint32_t rows, tcp, udp, hidden;
	uint64_t bytes_in, bytes_out;
};

/* The least time between two snapshots: the CSV dates them to the millisecond. */
#define SNAP_MIN_GAP 1000000ULL

#define IFNAME_CAP 65536 /* interface names remembered at most (per section) */

/* agg's own loss codes, after the collector's in every snapshot, in this order. */
static const uint32_t agg_loss_codes[] = {
	LOSS_AGG_TABLE_FULL, LOSS_AGG_UNKNOWN_FLOW, LOSS_AGG_GAP,
	LOSS_AGG_NAMES_FULL, LOSS_AGG_LOSS_OTHER,
};
#define AGG_NLOSS (sizeof(agg_loss_codes) / sizeof(agg_loss_codes[0]))
/* The collector's codes a snapshot has room for, in order of first appearance. */
#define COLLECT_LOSS_MAX (LOSS_MAX - AGG_NLOSS)

struct agg {
	struct agg_opts o;
	struct stream_header in, out;
	bool in_section;

	/* table */
	struct htab conns;
	uint64_t nconns; /* live and closed-but-not-yet-shown */
	/* every entry in order of appearance: an array that a full snapshot walks with the next
	 * entries prefetched (a linked list would wait for each one); a freed entry leaves NULL
	 * (ntomb of them) until a full snapshot, or a delta that finds half the slots empty,
	 * closes the gaps */
	struct conn **order;
	size_t norder, order_cap, ntomb;
	/* the entries the next snapshot visits (A_TOUCHED), in the order they were touched; or,
	 * when touched_all, every entry (more were touched than the list holds) */
	struct touch *touched;
	size_t ntouched, touched_cap;
	bool touched_all;
	struct totals tot;
	/* a cgroup path or interface name came or changed: any row's filter match or CGROUP
	 * record may have, so the next snapshot visits every row */
	bool rescan;
	/* the LIMIT verdict the last snapshot gave a row with nothing new (it depends on the
	 * span alone): when the next one's differs, every row's may, and it visits them all */
	uint8_t idle_limit, idle_pct;
	struct hnode *free_list;
	struct pool_block *blocks;
	struct tcpx *tcpx_free;
	struct tcpx_block *tcpx_blocks;
	bool no_limits; /* the collector could not know the clocks (tcp-limits, tcp-figures) */

	struct htab ifn; /* struct ifname_ent */
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
	/* deltas (format 1.1): snapshots since the last full one, and whether the next must be
	 * full (a change a delta cannot say: a row's filter match, a flow id reused, a name) */
	uint64_t since_full;
	bool need_full;

	/* loss: the collector's latest counters, and agg's own (agg_loss_codes' order) */
	uint32_t ncloss;
	struct loss_entry closs[COLLECT_LOSS_MAX];
	uint64_t table_full, unknown_flow, gap, names_full, loss_other;

	struct rec out_rec;
	char sbuf[SANITIZE_SIZE(COMM_LEN > IFNAME_LEN ? COMM_LEN : IFNAME_LEN)];
};

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* ---- pool and table ---- */

static struct conn *conn_alloc(struct agg *a)
{
	struct hnode *n = a->free_list;
	struct conn *e;

	if (!n) {
		size_t k = a->blocks ? a->blocks->n * 2 : POOL_BLOCK_MIN;
		struct pool_block *b;

		if (k > POOL_BLOCK_MAX)
			k = POOL_BLOCK_MAX;
		b = aligned_alloc(64, sizeof(*b) + k * sizeof(b->e[0]));
		if (!b)
			return NULL;
		b->next = a->blocks;
		b->n = k;
		a->blocks = b;
		for (size_t i = k; i-- > 0;) {
			b->e[i].hn.next = a->free_list;
			a->free_list = &b->e[i].hn;
		}
		n = a->free_list;
	}
	a->free_list = n->next;
	e = container_of(n, struct conn, hn);
	memset(e, 0, sizeof(*e));
	return e;
}

static struct tcpx *tcpx_alloc(struct agg *a)
{
	struct tcpx *x = a->tcpx_free;

	if (!x) {
		size_t k = a->tcpx_blocks ? a->tcpx_blocks->n * 2 : POOL_BLOCK_MIN;
		struct tcpx_block *b;

		if (k > POOL_BLOCK_MAX)
			k = POOL_BLOCK_MAX;
		b = malloc(sizeof(*b) + k * sizeof(b->x[0]));
		if (!b)
			return NULL;
		b->next = a->tcpx_blocks;
		b->n = k;
		a->tcpx_blocks = b;
		for (size_t i = k; i-- > 0;) {
			b->x[i].next_free = a->tcpx_free;
			a->tcpx_free = &b->x[i];
		}
		x = a->tcpx_free;
	}
	a->tcpx_free = x->next_free;
	memset(x, 0, sizeof(*x));
	return x;
}

static void conn_release(struct agg *a, struct conn *e)
{
	if (e->x) {
		e->x->next_free = a->tcpx_free;
		a->tcpx_free = e->x;
		e->x = NULL;
	}
	e->hn.next = a->free_list;
	a->free_list = &e->hn;
}

static struct limit_clocks clocks_of(const struct tcp_figs *f)
{
	return (struct limit_clocks){ f->busy_ms, f->rwnd_ms, f->sndbuf_ms };
}

/* A TCP connection's latest figures, read at stream time now; -ENOMEM or 0. With the first
 * comes the reference of its first interval: for a connection begun before the collector, the
 * clocks its open carries (its past is not this interval's); for any other, clocks of 0 at the
 * interval's start, as its rate counts all it moved (a connection whose first figures come after
 * an interval was cut since its open has nothing to compare: LIMIT unknown, once). */
static int set_figs(struct agg *a, struct conn *e, const struct tcp_figs *f, bool at_open)
{
	if (e->proto != PROTO_TCP)
		return 0;
	if (!e->x) {
		struct tcpx *x = e->x = tcpx_alloc(a);

		if (!x)
			return -ENOMEM;
		if (e->flags & CONN_F_BEGUN_BEFORE) {
			if (at_open) {
				x->ref = clocks_of(f);
				x->ref_ns = a->now;
				x->ref_retrans = e->retrans;
				x->has_ref = true;
			}
		} else if (!(e->aflags & A_SHOWN)) {
			x->ref_ns = a->cut;
			x->has_ref = true;
		}
	}
	e->x->figs = *f;
	e->x->figs_ns = a->now;
	return 0;
}

/* LIMIT of a TCP connection for the interval that ends (span ns long), into w: from the
 * clocks' difference since the reference, over the time between their readings (the
 * interval's span when nothing new was read). */
/* The LIMIT verdict of e's interval (one with figures) and its share. */
static void limit_of(const struct agg *a, const struct conn *e, uint64_t span, uint8_t *limit,
		     uint8_t *pct)
{
	const struct tcpx *x = e->x;
	struct limit_clocks now;
	struct limit_interval iv;
	struct limit_shares sh;
	enum limit l;

	*pct = 0;
	if (a->no_limits || !x->has_ref) {
		*limit = LIMIT_UNKNOWN;
		return;
	}
	now = clocks_of(&x->figs);
	iv.span_ns = x->figs_ns > x->ref_ns ? x->figs_ns - x->ref_ns : span;
	iv.sent = e->bytes_out - e->ref_out;
	iv.retrans = e->retrans - x->ref_retrans;
	l = limit_judge(&x->ref, &now, &iv, &sh);
	*limit = (uint8_t)l;
	*pct = (uint8_t)limit_percent(limit_share_ms(&sh, l), sh.span_ms);
}

/* A row whose verdict differs from the one last written is a change a delta carries (an idle
 * connection's verdict changes too: a busy interval's, then none). */
static void limit_changed(const struct agg *a, struct conn *e, uint64_t span)
{
	uint8_t l, pct;

	if (!e->x || !(e->aflags & A_SHOWN))
		return;
	limit_of(a, e, span, &l, &pct);
	if (l != e->x->limit || pct != e->x->limit_pct)
		e->aflags |= A_CHANGED;
}

static void row_limit(const struct agg *a, const struct conn *e, uint64_t span,
		      struct rec_snap_row *w)
{
	struct tcpx *x = e->x;

	w->limit = w->limit_pct = 0;
	w->has_figs = x != NULL;
	if (!x)
		return;
	w->figs = x->figs;
	limit_of(a, e, span, &w->limit, &w->limit_pct);
	x->limit = w->limit;
	x->limit_pct = w->limit_pct;
}

/* The interval ended: the clocks now are the next one's reference. */
static void limit_next(struct conn *e)
{
	struct tcpx *x = e->x;

	if (!x)
		return;
	x->ref = clocks_of(&x->figs);
	x->ref_ns = x->figs_ns;
	x->ref_retrans = e->retrans;
	x->has_ref = true;
}

static struct conn *table_find(const struct agg *a, uint64_t flow)
{
	uint64_t h = hash_u64(flow);
	struct hnode *n;

	/* hash_u64 is a bijection: the same hash is the same flow */
	htab_for_hash(&a->conns, n, h) return container_of(n, struct conn, hn);
	return NULL;
}

/* The next snapshot visits e: called before a record changes it (0 or -ENOMEM). */
static int touch(struct agg *a, struct conn *e)
{
	if (e->aflags & A_TOUCHED)
		return 0;
	if (!a->touched_all && a->ntouched >= a->norder / 4 + TOUCHED_FEW)
		a->touched_all = true;
	if (!a->touched_all) {
		if (VEC_RESERVE(&a->touched, &a->touched_cap, a->ntouched + 1))
			return -ENOMEM;
		a->touched[a->ntouched++] = (struct touch){ e->pos, e };
	}
	e->aflags |= A_TOUCHED;
	return 0;
}

/* Closed (or replaced) entries leave the hash at once but stay in the order until shown. */
static void conn_close(struct agg *a, struct conn *e)
{
	htab_del(&a->conns, &e->hn);
	e->aflags |= A_CLOSED;
}

static void ifn_clear(struct agg *a)
{
	htab_each(&a->ifn, n) free(container_of(n, struct ifname_ent, hn));
	htab_clear(&a->ifn);
}

static void table_clear(struct agg *a)
{
	for (size_t i = 0; i < a->norder; i++)
		if (a->order[i])
			conn_release(a, a->order[i]);
	a->norder = a->ntomb = a->ntouched = 0;
	a->touched_all = false;
	a->nconns = 0;
	memset(&a->tot, 0, sizeof(a->tot));
	a->rescan = false;
	htab_clear(&a->conns);
	ifn_clear(a);
	cgroup_table_clear(&a->cg);
}

/* ---- interface names, by (netns, ifindex) ---- */

static struct ifname_ent *ifn_find(const struct agg *a, uint32_t netns, uint32_t ifindex)
{
	uint64_t h = hash_u64x2(netns, ifindex);
	struct hnode *n;

	htab_for_hash(&a->ifn, n, h)
	{
		struct ifname_ent *s = container_of(n, struct ifname_ent, hn);

		if (s->netns == netns && s->ifindex == ifindex)
			return s;
	}
	return NULL;
}

static int ifn_set(struct agg *a, const struct rec_ifname *r)
{
	struct ifname_ent *s = ifn_find(a, r->netns, r->ifindex);

	if (!s) {
		/* beyond the cap a name is not kept: the rows show none, and it is counted */
		if (a->ifn.n >= IFNAME_CAP) {
			a->names_full = sat_add(a->names_full, 1);
			return 0;
		}
		if (!(s = calloc(1, sizeof(*s))))
			return -ENOMEM;
		s->netns = r->netns;
		s->ifindex = r->ifindex;
		if (htab_add(&a->ifn, &s->hn, hash_u64x2(r->netns, r->ifindex))) {
			free(s);
			return -ENOMEM;
		}
	}
	/* a new or changed name changes rows no record of theirs touched, and maybe their filter
	 * match: a full snapshot says it, after a count of every row (a name of none is no
	 * change: it matches no -i, as no name does) */
	if (memcmp(s->name, r->name, IFNAME_LEN)) {
		memcpy(s->name, r->name, IFNAME_LEN);
		a->need_full = a->rescan = true;
	}
	return 0;
}

static const char *ifn_get(const struct agg *a, uint32_t netns, uint32_t ifindex)
{
	const struct ifname_ent *s = ifn_find(a, netns, ifindex);

	return s ? s->name : NULL;
}

/* A cgroup's path; beyond the table's cap the rows keep their id, show no path, and it is
 * counted. */
static int cgroup_set(struct agg *a, const struct rec_cgroup *r)
{
	bool full = a->cg.n >= CGROUP_TABLE_CAP;
	uint64_t gen = a->cg.gen;
	struct cgroup_ent *c = cgroup_table_set(&a->cg, r->id, r->path);

	/* a new or changed path goes out before the next snapshot naming it, any row's, and may
	 * change what --cgroup matches */
	if (a->cg.gen != gen)
		a->rescan = true;
	if (!c) {
		if (!r->id)
			return 0; /* 0 is "unknown": no row names it */
		if (!full)
			return -ENOMEM;
		a->names_full = sat_add(a->names_full, 1);
		return 0;
	}
	/* a new or changed path (user reset by set) goes out again */
	if (!(c->user & CG_MATCH) && a->o.filter.cgroup &&
	    cgroup_match(a->o.filter.cgroup, c->path))
		c->user |= CG_MATCH;
	return 0;
}

/* ---- output: the one sink ---- */

static int emit_rec(struct agg *a, const struct rec *r)
{
	return a->o.out.rec(a->o.out.ctx, r);
}

static int emit_flush(struct agg *a)
{
	return a->o.out.flush ? a->o.out.flush(a->o.out.ctx) : 0;
}

static int writer_rec(void *ctx, const struct rec *r)
{
	return stream_write(ctx, r);
}

static int writer_flush(void *ctx)
{
	return stream_flush(ctx);
}

struct agg_sink agg_sink_writer(struct stream_writer *w)
{
	return (struct agg_sink){ writer_rec, writer_flush, w };
}

/* ---- setup ---- */

struct agg *agg_new(const struct agg_opts *o)
{
	struct agg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *o;
	cgroup_table_init(&a->cg);
	if (htab_init(&a->conns, 1024) || htab_init(&a->ifn, 64)) {
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
	for (struct tcpx_block *t = a->tcpx_blocks, *tn; t; t = tn) {
		tn = t->next;
		free(t);
	}
	ifn_clear(a);
	htab_free(&a->ifn);
	htab_free(&a->conns);
	free(a->order);
	free(a->touched);
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
	a->no_limits =
		features_missing(in, NULL, 0) & ((1u << FEAT_TCP_LIMITS) | (1u << FEAT_TCP_FIGS));
	a->period = in->interval_ns;
	a->tick_mode = a->period != 0;
	a->slack = (a->period < a->o.interval_ns ? a->period : a->o.interval_ns) / 4;
	a->started = false;
	a->now = a->cut = in->anchor_mono;
	a->dirty = false;
	a->seq = 0;
	a->since_full = 0;
	a->need_full = false;
	a->ncloss = 0;
	a->table_full = a->unknown_flow = a->gap = a->names_full = a->loss_other = 0;

	*h = *in;
	h->kind = STREAM_KIND_SNAPSHOT;
	h->interval_ns = a->o.interval_ns;
	snprintf(h->producer, HDR_STR_MAX, "tcptop-agg");
	snprintf(h->version, HDR_STR_MAX, "%s", TCPTOP_VERSION);
	filter_join(h->filter, in->filter, a->o.filter_text ? a->o.filter_text : "");
	/* out at once: a live reader can show the host before the first interval ends */
	a->out_rec.type = REC_HEADER;
	a->out_rec.u.header = *h;
	if ((err = emit_rec(a, &a->out_rec)))
		return err;
	return emit_flush(a);
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
	r.u.cgroup.host = 0; /* one host: a merge sets its own */
	snprintf(r.u.cgroup.path, CGROUP_PATH_MAX, "%s", c->path);
	return emit_rec(a, &r);
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
	b->loss[n++] = (struct loss_entry){ LOSS_AGG_NAMES_FULL, a->names_full };
	b->loss[n++] = (struct loss_entry){ LOSS_AGG_LOSS_OTHER, a->loss_other };
	for (uint32_t i = 0; i < n; i++)
		any |= b->loss[i].value != 0;
	b->nloss = n;
	if (any)
		b->flags |= SNAP_F_LOSS;
}

/* A delta carries the row: new, closed, or changed since the last snapshot. */
static inline bool carried(const struct conn *e)
{
	return !(e->aflags & A_SHOWN) || (e->aflags & (A_CLOSED | A_CHANGED));
}

/* Whether the snapshot being built is a full one: the section's first, every full_every-th,
 * or after a change a delta cannot say (a_need_full). */
static bool full_due(const struct agg *a)
{
	return a->seq == 1 || a->need_full || a->o.full_every <= 1 ||
	       a->since_full + 1 >= a->o.full_every;
}

/* The LIMIT verdict of a row with nothing new since the last snapshot (counters and clocks as
 * then, the span's time between the readings): every row no record touched has it, for it
 * depends on the span alone (unknown under half a millisecond or over 49 days). */
static void limit_idle(const struct agg *a, uint64_t span, uint8_t *limit, uint8_t *pct)
{
	struct limit_clocks z = { 0 };
	struct limit_interval iv = { .span_ns = span };
	struct limit_shares sh;
	enum limit l;

	*pct = 0;
	if (a->no_limits) {
		*limit = LIMIT_UNKNOWN;
		return;
	}
	l = limit_judge(&z, &z, &iv, &sh);
	*limit = (uint8_t)l;
	*pct = (uint8_t)limit_percent(limit_share_ms(&sh, l), sh.span_ms);
}

/* A row's part of the totals (what it counted with bytes in and out), added or taken back. */
static void tot_add(struct totals *t, const struct conn *e, bool match, uint64_t in, uint64_t out)
{
	if (!match) {
		t->hidden++;
		return;
	}
	t->rows++;
	if (e->proto == PROTO_UDP)
		t->udp++;
	else
		t->tcp++;
	t->bytes_in += in;
	t->bytes_out += out;
}

static void tot_sub(struct totals *t, const struct conn *e, bool match, uint64_t in, uint64_t out)
{
	if (!match) {
		t->hidden--;
		return;
	}
	t->rows--;
	if (e->proto == PROTO_UDP)
		t->udp--;
	else
		t->tcp--;
	t->bytes_in -= in;
	t->bytes_out -= out;
}

/* What the counting of a snapshot gathers besides a->tot. */
struct count {
	uint64_t span, cg_last;
	uint32_t ncarried;
	double rate_in, rate_out;
};

/* Counts one row for the snapshot being built: its filter match (a shown row that passes the
 * filters now and did not, or the other way, makes the snapshot full: a delta cannot add it in
 * its place nor remove it), its LIMIT verdict, its cgroup's record, its part of the totals
 * (taking back, when again, the part it counted in the last snapshot). Rows are counted in
 * their order, so that the rates add up as they always did. */
static int count_row(struct agg *a, struct conn *e, struct count *c, bool again)
{
	bool was = e->aflags & A_MATCH;
	int err;

	if (again && (e->aflags & A_SHOWN))
		tot_sub(&a->tot, e, was, e->ref_in, e->ref_out);
	if (!filter_match(a, e)) {
		e->aflags &= ~A_MATCH;
		tot_add(&a->tot, e, false, 0, 0);
		if (was && (e->aflags & A_SHOWN))
			a->need_full = true;
		return 0;
	}
	e->aflags |= A_MATCH;
	if (!was && (e->aflags & A_SHOWN))
		a->need_full = true;
	limit_changed(a, e, c->span);
	if (carried(e))
		c->ncarried++;
	/* rows mostly share a few cgroups: look up only when it changes */
	if (e->cgroup_id && e->cgroup_id != c->cg_last) {
		c->cg_last = e->cgroup_id;
		if ((err = write_cgroup(a, c->cg_last)))
			return err;
	}
	tot_add(&a->tot, e, true, e->bytes_in, e->bytes_out);
	c->rate_in += rate(e->bytes_in, e->ref_in, c->span);
	c->rate_out += rate(e->bytes_out, e->ref_out, c->span);
	return 0;
}

/* The interface name of the rows being written: rows mostly share a few, looked up only when
 * it changes. */
struct ifn_cache {
	bool have;
	uint32_t netns, ifindex;
	const char *name;
};

static int write_row(struct agg *a, struct conn *e, uint64_t span, struct ifn_cache *ic)
{
	struct rec *r = &a->out_rec;
	struct rec_snap_row *w = &r->u.row;

	if (!ic->have || e->netns != ic->netns || e->ifindex != ic->ifindex) {
		ic->name = ifn_get(a, e->netns, e->ifindex);
		ic->netns = e->netns;
		ic->ifindex = e->ifindex;
		ic->have = true;
	}
	w->id.flow = hash_u64_inverse(e->hn.hash);
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
	w->flags = e->flags & (CONN_F_BEGUN_BEFORE | CONN_F_NO_OWNER | CONN_F_FAILED);
	if (e->aflags & A_CLOSED)
		w->flags |= CONN_F_CLOSED;
	if (!(e->aflags & A_SHOWN))
		w->flags |= CONN_F_NEW;
	w->pid = e->pid;
	memcpy(w->comm, e->comm, COMM_LEN);
	if (ic->name)
		memcpy(w->ifname, ic->name, IFNAME_LEN);
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
	row_limit(a, e, span, w);
	return emit_rec(a, r);
}

/* After the snapshot: the row has been shown (hidden rows count as shown: a filter never delays
 * CONN_F_NEW's meaning), its counters and clocks are the next interval's reference, and a
 * closed one is freed, its place in the order left empty. Returns whether it stays for the next
 * snapshot to visit: a row whose verdict may change back to the idle one (il, ipct) with nothing
 * new. */
static bool row_done(struct agg *a, struct conn *e, uint8_t il, uint8_t ipct)
{
	e->aflags |= A_SHOWN;
	e->aflags &= ~(A_CHANGED | A_TOUCHED);
	e->ref_in = e->bytes_in;
	e->ref_out = e->bytes_out;
	limit_next(e);
	if (e->aflags & A_CLOSED) {
		tot_sub(&a->tot, e, e->aflags & A_MATCH, e->bytes_in, e->bytes_out);
		a->order[e->pos] = NULL;
		a->ntomb++;
		a->nconns--;
		conn_release(a, e);
		return false;
	}
	return (e->aflags & A_MATCH) && e->x && (e->x->limit != il || e->x->limit_pct != ipct);
}

static int touch_cmp(const void *x, const void *y)
{
	uint64_t p = ((const struct touch *)x)->pos, q = ((const struct touch *)y)->pos;

	return (p > q) - (p < q);
}

/* Sorts the touched entries into their order (mostly in it already: opens come in order). */
static void touched_sort(struct agg *a)
{
	for (size_t i = 1; i < a->ntouched; i++) {
		if (a->touched[i - 1].pos > a->touched[i].pos) {
			qsort(a->touched, a->ntouched, sizeof(a->touched[0]), touch_cmp);
			return;
		}
	}
}

/* Closes the gaps freed entries left in the order, which keeps its sequence. */
static void order_compact(struct agg *a)
{
	size_t kept = 0;

	for (size_t i = 0; i < a->norder; i++) {
		struct conn *e = a->order[i];

		if (e) {
			e->pos = kept;
			a->order[kept++] = e;
		}
	}
	a->norder = kept;
	a->ntomb = 0;
	for (size_t i = 0; i < a->ntouched; i++)
		a->touched[i].pos = a->touched[i].e->pos;
	VEC_SHRINK(&a->order, &a->order_cap, a->norder);
}

/* Counts every row: the totals from nothing, the touched list forgotten (the writing pass that
 * follows visits every row and makes it again). */
static int count_all(struct agg *a, struct count *c)
{
	struct conn **order = a->order;
	size_t n = a->norder;
	int err;

	memset(&a->tot, 0, sizeof(a->tot));
	for (size_t i = 0; i < n; i++) {
		struct conn *e = order[i];

		if (i + PREFETCH_AHEAD < n)
			__builtin_prefetch(order[i + PREFETCH_AHEAD]);
		if (e && (err = count_row(a, e, c, false)))
			return err;
	}
	a->rescan = false;
	return 0;
}

static int count_touched(struct agg *a, struct count *c)
{
	struct touch *t = a->touched;
	size_t n = a->ntouched;
	int err;

	touched_sort(a);
	for (size_t i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n)
			__builtin_prefetch(t[i + PREFETCH_AHEAD].e);
		if ((err = count_row(a, t[i].e, c, true)))
			return err;
	}
	return 0;
}

/* Writes the rows of a full snapshot, or a delta's carried ones, visiting every row, and makes
 * the touched list anew; the order's gaps close on the way. */
static int write_all(struct agg *a, bool full, uint64_t span, uint8_t il, uint8_t ipct)
{
	struct conn **order = a->order;
	size_t n = a->norder, kept = 0;
	struct ifn_cache ic = { 0 };
	int err;

	a->ntouched = 0;
	a->touched_all = false;
	for (size_t i = 0; i < n; i++) {
		struct conn *e = order[i];

		if (i + PREFETCH_AHEAD < n && order[i + PREFETCH_AHEAD]) {
			const char *p = (const char *)order[i + PREFETCH_AHEAD];

			__builtin_prefetch(p, 1);
			if (order[i + PREFETCH_AHEAD]->aflags & A_MATCH) {
				__builtin_prefetch(p + 64);
				__builtin_prefetch(p + 128);
			}
		}
		if (!e)
			continue;
		if ((e->aflags & A_MATCH) && (full || carried(e)) &&
		    (err = write_row(a, e, span, &ic)))
			return err;
		if (!(e->aflags & A_CLOSED)) {
			e->pos = kept;
			order[kept++] = e;
		}
		if (row_done(a, e, il, ipct) && (err = touch(a, e)))
			return err;
	}
	a->norder = kept;
	a->ntomb = 0;
	VEC_SHRINK(&a->order, &a->order_cap, a->norder);
	return 0;
}

/* Writes a delta's carried rows, visiting the touched ones alone, and keeps those the next
 * snapshot must visit again. */
static int write_touched(struct agg *a, uint64_t span, uint8_t il, uint8_t ipct)
{
	struct touch *t = a->touched;
	size_t n = a->ntouched, kept = 0;
	struct ifn_cache ic = { 0 };
	int err;

	for (size_t i = 0; i < n; i++) {
		struct conn *e = t[i].e;

		if (i + PREFETCH_AHEAD < n) {
			const char *p = (const char *)t[i + PREFETCH_AHEAD].e;

			__builtin_prefetch(p, 1);
			__builtin_prefetch(p + 64);
			__builtin_prefetch(p + 128);
		}
		if ((e->aflags & A_MATCH) && carried(e) && (err = write_row(a, e, span, &ic)))
			return err;
		if (row_done(a, e, il, ipct)) {
			e->aflags |= A_TOUCHED;
			t[kept++] = t[i];
		}
	}
	a->ntouched = kept;
	if (a->ntomb > a->norder / 2)
		order_compact(a);
	return 0;
}

/* Writes the snapshot of the open interval, ending at time t, then frees what was closed: a
 * full one, or a delta of the rows carried() (tcptop-stream(5), "Delta snapshots"). A delta
 * visits the touched rows alone, unless something may have changed rows no record touched (a
 * cgroup path, an interface name, the idle verdict) or many rows were touched: then it visits
 * all, as a full snapshot does. */
static int snapshot(struct agg *a, uint64_t t, uint32_t flags)
{
	struct rec *r = &a->out_rec;
	struct rec_snap_begin *b = &r->u.snap_begin;
	struct count c = { 0 };
	bool full, all;
	uint8_t il, ipct;
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
	b->span_ns = c.span = t - a->cut;
	b->interval_ns = a->o.interval_ns;
	b->flags = flags;
	limit_idle(a, c.span, &il, &ipct);
	all = full_due(a) || a->rescan || il != a->idle_limit || ipct != a->idle_pct ||
	      a->touched_all;
	if ((err = all ? count_all(a, &c) : count_touched(a, &c)))
		return err;
	b->rows = a->tot.rows;
	b->tcp_conns = a->tot.tcp;
	b->udp_flows = a->tot.udp;
	b->hidden = a->tot.hidden;
	b->bytes_in = a->tot.bytes_in;
	b->bytes_out = a->tot.bytes_out;
	b->rate_in = c.rate_in;
	b->rate_out = c.rate_out;
	fill_loss(a, b);
	full = full_due(a);
	b->table_rows = b->rows;
	if (!full) {
		r->type = REC_DELTA_BEGIN;
		b->rows = c.ncarried;
	}
	if (a->o.pace)
		a->o.pace(a->o.ctx, t, b->span_ns);
	if ((err = emit_rec(a, r)))
		return err;

	r->type = full ? REC_SNAP_ROW : REC_DELTA_ROW;
	err = full || all ? write_all(a, full, c.span, il, ipct)
			  : write_touched(a, c.span, il, ipct);
	if (err)
		return err;
	a->idle_limit = il;
	a->idle_pct = ipct;
	VEC_SHRINK(&a->touched, &a->touched_cap, a->ntouched);
	a->since_full = full ? 0 : a->since_full + 1;
	a->need_full = false;
	r->type = full ? REC_SNAP_END : REC_DELTA_END;
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
	e->aflags |= A_CHANGED;
}

/* States of an outgoing connection that has not (yet) been established. */
static inline bool handshake_state(uint8_t st)
{
	return st == TCP_SYN_SENT || st == TCP_CLOSE;
}

static int on_open(struct agg *a, const struct rec_conn_open *o)
{
	struct conn *e = table_find(a, o->id.flow);

	/* a flow id still live belongs to a connection that ended (its id was reused): two rows
	 * of one key in a snapshot, which a delta cannot say (and a full one visits every row,
	 * the old one untouched or not) */
	if (e) {
		conn_close(a, e);
		a->need_full = true;
	}
	if (a->nconns >= a->o.max_flows) {
		if (!a->table_full && a->o.table_full)
			a->o.table_full(a->o.ctx, a->o.max_flows);
		a->table_full = sat_add(a->table_full, 1);
		return 0;
	}
	/* room for it in the order and the touched list first: once in the table, it is in both */
	if (VEC_RESERVE(&a->order, &a->order_cap, a->norder + 1) ||
	    VEC_RESERVE(&a->touched, &a->touched_cap, a->ntouched + 1))
		return -ENOMEM;
	e = conn_alloc(a);
	if (!e)
		return -ENOMEM;
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
	/* the rate's reference: a connection begun before the collector is not credited with
	 * its past; any other moved what its open carries since then (a short connection the
	 * collector first sees at its close comes with all of it) */
	if (o->flags & CONN_F_BEGUN_BEFORE) {
		e->ref_in = o->c.bytes_in;
		e->ref_out = o->c.bytes_out;
	}
	if (o->has_figs && set_figs(a, e, &o->figs, true)) {
		conn_release(a, e);
		return -ENOMEM;
	}
	if (htab_add(&a->conns, &e->hn, hash_u64(o->id.flow))) {
		conn_release(a, e);
		return -ENOMEM;
	}
	e->pos = a->norder;
	a->order[a->norder++] = e;
	a->nconns++;
	return touch(a, e); /* 0: its room is reserved */
}

static struct conn *known(struct agg *a, uint64_t flow)
{
	struct conn *e = table_find(a, flow);

	if (!e)
		a->unknown_flow = sat_add(a->unknown_flow, 1);
	return e;
}

static bool agg_loss_code(uint32_t code)
{
	for (size_t i = 0; i < AGG_NLOSS; i++)
		if (agg_loss_codes[i] == code)
			return true;
	return false;
}

/* The collector's latest counters. Each LOSS record carries all of them, so the codes beyond
 * a snapshot's room are summed into agg_loss_other from the latest record that has any. */
static void on_loss(struct agg *a, const struct rec_loss *l)
{
	uint64_t other = 0;
	bool any_other = false;

	for (uint32_t i = 0; i < l->n && i < LOSS_MAX; i++) {
		uint32_t code = l->e[i].code, j;

		if (agg_loss_code(code))
			continue; /* agg's own codes are agg's to report */
		for (j = 0; j < a->ncloss && a->closs[j].code != code; j++)
			;
		if (j == a->ncloss) {
			if (a->ncloss == COLLECT_LOSS_MAX) {
				other = sat_add(other, l->e[i].value);
				any_other = true;
				continue;
			}
			a->closs[a->ncloss++].code = code;
		}
		a->closs[j].value = l->e[i].value;
	}
	if (any_other)
		a->loss_other = other;
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
		if ((e = known(a, r->u.sample.flow))) {
			if ((err = touch(a, e)))
				return err;
			set_counters(e, &r->u.sample.c, a->now);
			if (r->u.sample.has_figs)
				return set_figs(a, e, &r->u.sample.figs, false);
		}
		return 0;
	case REC_CONN_CLOSE:
		if ((err = advance(a, r->u.close.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.close.flow))) {
			if ((err = touch(a, e)))
				return err;
			set_counters(e, &r->u.close.c, a->now);
			if (r->u.close.has_figs && (err = set_figs(a, e, &r->u.close.figs, false)))
				return err;
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
			if ((err = touch(a, e)))
				return err;
			e->state = r->u.state.new_state;
			if (!handshake_state(e->state))
				e->aflags &= ~A_SYNSENT;
			e->last_ns = a->now;
			e->aflags |= A_CHANGED;
		}
		return 0;
	case REC_CONN_OWNER:
		if ((err = advance(a, r->u.owner.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.owner.flow))) {
			if ((err = touch(a, e)))
				return err;
			e->pid = r->u.owner.pid;
			memcpy(e->comm, r->u.owner.comm, COMM_LEN);
			e->flags &= ~CONN_F_NO_OWNER;
			if (r->u.owner.cgroup_id)
				e->cgroup_id = r->u.owner.cgroup_id;
			e->last_ns = a->now;
			e->aflags |= A_CHANGED;
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
	case REC_CGROUP:
		return cgroup_set(a, &r->u.cgroup);
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
