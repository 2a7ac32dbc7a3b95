// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The aggregator: a table of connections keyed by flow id (chained as lib/htab.h, entries from a
 * pool named by 32-bit indexes, an array in order of appearance), stream time that cuts intervals, and the snapshots, all written
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
 * One tracked connection: 120 bytes, named by a 32-bit index (conn_at()) in the order, the
 * touched list and the table's chains. What many rows share is kept once and named by a 32-bit
 * index (struct itab): the owner (pid, comm, cgroup), the local end (namespace, interface,
 * protocol, address), the peer's address, the TCP figures (idle connections' figures mostly
 * repeat). The rate's and LIMIT's reference is kept (struct refx) only while it differs from
 * the row itself, from a record that changed a row shown until the snapshot after it: a row
 * no record touched is its own reference. The flow id is hash undone (hash_u64_inverse), since
 * hash_u64 is a bijection.
 */
struct conn {
	uint64_t hash; /* hash_u64(flow id) */
	uint64_t bytes_in, bytes_out;
	uint64_t pkts_in, pkts_out;
	uint64_t first_ns, last_ns;
	uint64_t figs_ns; /* when the figures were read */
	uint64_t cookie;
	uint32_t srtt_us, retrans;
	uint32_t next; /* the next in its chain of the table, or of the unused entries */
	uint32_t pos;  /* its place in a->order */
	uint32_t refx; /* its reference in a->refx, 0: none (the row is its own) */
	uint32_t owner, local, peer;
	uint32_t figs; /* TCP with figures, else 0 */
	uint16_t lport, rport;
	uint8_t state, aflags;
	uint8_t flags : 5; /* CONN_F_*: BEGUN_BEFORE, NO_OWNER, FAILED */
	/* LIMIT as last written (limit_pack()) and its share: a delta carries the row when they
	 * change */
	uint8_t limit : 3;
	uint8_t limit_pct;
};
_Static_assert(sizeof(struct conn) == 120, "struct conn: 120 bytes as laid out");
/* Blocks of entries, used from the first as they are needed (a short replay, or a fuzzer's
 * input, touches a few pages). */
#define POOL_SHIFT     12
#define POOL_BLOCK     (1u << POOL_SHIFT)
#define PREFETCH_AHEAD 8 /* entries: about the latency of a miss in a snapshot's passes */
/* A delta visits every row rather than the touched ones when more than a quarter of the table
 * and this many were touched: sorting them would cost more than the walk, and the list is not
 * made longer (a table's first snapshot would hold it for every row). */
#define TOUCHED_FEW 1024

/* The values rows share, each kept once with the count of rows holding it. */
struct ival {
	struct hnode hn; /* in the table by value; hn.next links the spares when unused */
	uint32_t refs, idx;
	unsigned char key[];
};

/* Interned values of len bytes (padding zeroed), by index: v[0] is none. An unused value keeps
 * its index and memory for the next new one. */
struct itab {
	struct htab h;
	size_t len;
	struct ival **v;
	size_t n, cap; /* indexes handed out, 0 included */
	struct hnode *spare;
};

/* A row's owner. */
struct owner {
	uint64_t cgroup_id;
	uint32_t pid;
	char comm[COMM_LEN];
};

/* A row's local end. */
struct local {
	uint32_t netns, ifindex;
	uint8_t proto, family;
	uint8_t laddr[16];
};

/* The reference of a row a record changed since the last snapshot: its counters and clocks
 * then. */
struct refx {
	uint64_t ref_in, ref_out; /* counters at the rate's reference sample */
	uint64_t ref_ns;	  /* when the clocks were read */
	struct limit_clocks ref;  /* the clocks at the last snapshot: LIMIT's reference */
	uint32_t ref_retrans;	  /* retransmits then */
	bool has_ref;		  /* false: no earlier reading (LIMIT unknown this interval) */
	uint32_t next_free;
};

/* An interface's name, by (netns, ifindex). */
struct ifname_ent {
	struct hnode hn;
	uint32_t netns, ifindex;
	char name[IFNAME_LEN];
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

	/* the entries, by index (0: none): blocks of POOL_BLOCK, indexes below nidx handed out,
	 * the unused ones linked from free_conn */
	struct conn **blocks;
	size_t nblocks, blocks_cap;
	uint32_t nidx, free_conn;
	/* table: the live entries by flow, in chains of indexes from buckets (a power of two, as
	 * many as entries at most: lib/htab.h's rule, with indexes for pointers) */
	uint32_t *buckets;
	size_t nbuckets, nhashed;
	uint64_t nconns; /* live and closed-but-not-yet-shown */
	/* every entry in order of appearance: an array that a full snapshot walks with the next
	 * entries prefetched (a linked list would wait for each one); a freed entry leaves 0
	 * (ntomb of them) until a full snapshot, or a delta that finds half the slots empty,
	 * closes the gaps */
	uint32_t *order;
	size_t norder, order_cap, ntomb;
	/* the places in the order of the entries the next snapshot visits (A_TOUCHED), in the
	 * order they were touched (or whose LIMIT verdict may change back with nothing new); or,
	 * when touched_all, every entry (more were touched than the list holds) */
	uint32_t *touched;
	size_t ntouched, touched_cap;
	bool touched_all;
	struct totals tot;
	/* a cgroup path or interface name came or changed: any row's filter match or CGROUP
	 * record may have, so the next snapshot visits every row */
	bool rescan;
	/* the LIMIT verdict the last snapshot gave a row with nothing new (it depends on the
	 * span alone): when the next one's differs, every row's may, and it visits them all */
	uint8_t idle_limit, idle_pct;
	struct itab owners, locals, peers, figs;
	/* the references of rows changed since the last snapshot, by index (0 unused), and the
	 * unused ones linked from refx_free */
	struct refx *refx;
	size_t nrefx, refx_cap;
	uint32_t refx_free;
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

/* ---- interned values ---- */

static int itab_init(struct itab *t, size_t len)
{
	t->len = len;
	t->n = 1;
	return VEC_RESERVE(&t->v, &t->cap, 1) || htab_init(&t->h, 16) ? -ENOMEM : 0;
}

static void itab_free(struct itab *t)
{
	for (size_t i = 1; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	htab_free(&t->h);
}

/* The index of the value at key (len bytes), held once more; -ENOMEM or 0. */
static int itab_get(struct itab *t, const void *key, uint32_t *idx)
{
	uint64_t h = hash_bytes(key, t->len);
	struct hnode *n;
	struct ival *v;

	htab_for_hash(&t->h, n, h)
	{
		v = container_of(n, struct ival, hn);
		if (!memcmp(v->key, key, t->len)) {
			v->refs++;
			*idx = v->idx;
			return 0;
		}
	}
	if (t->spare) {
		struct hnode *next = t->spare->next;

		v = container_of(t->spare, struct ival, hn);
		if (htab_add(&t->h, &v->hn, h)) {
			v->hn.next = next;
			return -ENOMEM;
		}
		t->spare = next;
	} else {
		if (t->n >= UINT32_MAX || VEC_RESERVE(&t->v, &t->cap, t->n + 1) ||
		    !(v = malloc(sizeof(*v) + t->len)))
			return -ENOMEM;
		if (htab_add(&t->h, &v->hn, h)) {
			free(v);
			return -ENOMEM;
		}
		v->idx = (uint32_t)t->n;
		t->v[t->n++] = v;
	}
	memcpy(v->key, key, t->len);
	v->refs = 1;
	*idx = v->idx;
	return 0;
}

/* A row lets go of the value at idx (none: 0). */
static void itab_put(struct itab *t, uint32_t idx)
{
	struct ival *v;

	if (!idx)
		return;
	v = t->v[idx];
	if (--v->refs)
		return;
	htab_del(&t->h, &v->hn);
	v->hn.next = t->spare;
	t->spare = &v->hn;
}

static inline const void *itab_key(const struct itab *t, uint32_t idx)
{
	return t->v[idx]->key;
}

static inline const struct owner *owner_of(const struct agg *a, const struct conn *e)
{
	return itab_key(&a->owners, e->owner);
}

static inline const struct local *local_of(const struct agg *a, const struct conn *e)
{
	return itab_key(&a->locals, e->local);
}

static inline const struct tcp_figs *figs_of(const struct agg *a, const struct conn *e)
{
	return itab_key(&a->figs, e->figs);
}

static inline uint8_t proto_of(const struct agg *a, const struct conn *e)
{
	return local_of(a, e)->proto;
}

/* e's owner is now pid, comm, cgroup_id; -ENOMEM or 0. */
static int owner_set(struct agg *a, struct conn *e, uint32_t pid, const char *comm,
		     uint64_t cgroup_id)
{
	struct owner o;
	uint32_t idx;

	memset(&o, 0, sizeof(o));
	o.cgroup_id = cgroup_id;
	o.pid = pid;
	memcpy(o.comm, comm, COMM_LEN);
	if (itab_get(&a->owners, &o, &idx))
		return -ENOMEM;
	itab_put(&a->owners, e->owner);
	e->owner = idx;
	return 0;
}

/* ---- references ---- */

static inline struct refx *refx_of(const struct agg *a, const struct conn *e)
{
	return e->refx ? &a->refx[e->refx] : NULL;
}

static inline uint64_t ref_in(const struct agg *a, const struct conn *e)
{
	return e->refx ? a->refx[e->refx].ref_in : e->bytes_in;
}

static inline uint64_t ref_out(const struct agg *a, const struct conn *e)
{
	return e->refx ? a->refx[e->refx].ref_out : e->bytes_out;
}

static struct limit_clocks clocks_of(const struct tcp_figs *f)
{
	return (struct limit_clocks){ f->busy_ms, f->rwnd_ms, f->sndbuf_ms };
}

/* Keeps e's reference apart before a record changes its counters or clocks: what the row holds
 * now, when it was its own; -ENOMEM or 0. */
static int refx_save(struct agg *a, struct conn *e)
{
	struct refx *r;
	uint32_t idx = a->refx_free;

	if (e->refx)
		return 0;
	if (idx) {
		a->refx_free = a->refx[idx].next_free;
	} else {
		if (!a->nrefx)
			a->nrefx = 1;
		if (a->nrefx >= UINT32_MAX || VEC_RESERVE(&a->refx, &a->refx_cap, a->nrefx + 1))
			return -ENOMEM;
		idx = (uint32_t)a->nrefx++;
	}
	r = &a->refx[idx];
	memset(r, 0, sizeof(*r));
	r->ref_in = e->bytes_in;
	r->ref_out = e->bytes_out;
	if (e->figs) {
		r->ref = clocks_of(figs_of(a, e));
		r->ref_ns = e->figs_ns;
		r->ref_retrans = e->retrans;
		r->has_ref = true;
	}
	e->refx = idx;
	return 0;
}

/* The interval ended: the row is its own reference again. */
static void refx_drop(struct agg *a, struct conn *e)
{
	if (!e->refx)
		return;
	a->refx[e->refx].next_free = a->refx_free;
	a->refx_free = e->refx;
	e->refx = 0;
}

/* ---- pool and table ---- */

static inline struct conn *conn_at(const struct agg *a, uint32_t i)
{
	return &a->blocks[i >> POOL_SHIFT][i & (POOL_BLOCK - 1)];
}

/* A zeroed entry's index, 0: out of memory. */
static uint32_t conn_alloc(struct agg *a)
{
	uint32_t i = a->free_conn;

	if (i) {
		a->free_conn = conn_at(a, i)->next;
	} else {
		i = a->nidx;
		if (i >> POOL_SHIFT >= a->nblocks) {
			struct conn *b;

			if (i > UINT32_MAX - POOL_BLOCK ||
			    VEC_RESERVE(&a->blocks, &a->blocks_cap, a->nblocks + 1) ||
			    !(b = malloc(POOL_BLOCK * sizeof(*b))))
				return 0;
			a->blocks[a->nblocks++] = b;
		}
		a->nidx++;
	}
	memset(conn_at(a, i), 0, sizeof(struct conn));
	return i;
}

static void conn_release(struct agg *a, uint32_t i)
{
	struct conn *e = conn_at(a, i);

	refx_drop(a, e);
	itab_put(&a->owners, e->owner);
	itab_put(&a->locals, e->local);
	itab_put(&a->peers, e->peer);
	itab_put(&a->figs, e->figs);
	e->next = a->free_conn;
	a->free_conn = i;
}

/* A TCP connection's latest figures, read at stream time now; -ENOMEM or 0. With the first
 * comes the reference of its first interval: for a connection begun before the collector, the
 * clocks its open carries (its past is not this interval's: the row is its own reference); for
 * any other, clocks of 0 at the interval's start, as its rate counts all it moved (a connection
 * whose first figures come after an interval was cut since its open has nothing to compare:
 * LIMIT unknown, once). Any but the open's come after refx_save(). */
static int set_figs(struct agg *a, struct conn *e, const struct tcp_figs *f)
{
	struct refx *r = refx_of(a, e);
	uint32_t idx;

	if (proto_of(a, e) != PROTO_TCP)
		return 0;
	if (!e->figs && r) {
		if (e->flags & CONN_F_BEGUN_BEFORE) {
			r->has_ref = false;
		} else if (!(e->aflags & A_SHOWN)) {
			memset(&r->ref, 0, sizeof(r->ref));
			r->ref_ns = a->cut;
			r->ref_retrans = 0;
			r->has_ref = true;
		} else {
			r->has_ref = false;
		}
	}
	if (itab_get(&a->figs, f, &idx))
		return -ENOMEM;
	itab_put(&a->figs, e->figs);
	e->figs = idx;
	e->figs_ns = a->now;
	return 0;
}

/* LIMIT's verdicts in the 3 bits a row keeps of them. */
#define LIMIT_PACKED_UNKNOWN 7
_Static_assert(LIMIT_N <= LIMIT_PACKED_UNKNOWN, "LIMIT verdicts fit in 3 bits");

static inline uint8_t limit_pack(uint8_t l)
{
	return l == LIMIT_UNKNOWN ? LIMIT_PACKED_UNKNOWN : l;
}

/* The LIMIT verdict of e's interval (one with figures) and its share: from the clocks'
 * difference since the reference, over the time between their readings (the interval's span
 * when nothing new was read). */
static void limit_of(const struct agg *a, const struct conn *e, uint64_t span, uint8_t *limit,
		     uint8_t *pct)
{
	const struct refx *r = refx_of(a, e);
	struct limit_clocks now, ref;
	struct limit_interval iv;
	struct limit_shares sh;
	enum limit l;

	*pct = 0;
	if (a->no_limits || (r && !r->has_ref)) {
		*limit = LIMIT_UNKNOWN;
		return;
	}
	now = clocks_of(figs_of(a, e));
	if (r) {
		ref = r->ref;
		iv.span_ns = e->figs_ns > r->ref_ns ? e->figs_ns - r->ref_ns : span;
		iv.sent = e->bytes_out - r->ref_out;
		iv.retrans = e->retrans - r->ref_retrans;
	} else {
		ref = now;
		iv.span_ns = span;
		iv.sent = 0;
		iv.retrans = 0;
	}
	l = limit_judge(&ref, &now, &iv, &sh);
	*limit = (uint8_t)l;
	*pct = (uint8_t)limit_percent(limit_share_ms(&sh, l), sh.span_ms);
}

/* A row whose verdict differs from the one last written is a change a delta carries (an idle
 * connection's verdict changes too: a busy interval's, then none). */
static void limit_changed(const struct agg *a, struct conn *e, uint64_t span)
{
	uint8_t l, pct;

	if (!e->figs || !(e->aflags & A_SHOWN))
		return;
	limit_of(a, e, span, &l, &pct);
	if (limit_pack(l) != e->limit || pct != e->limit_pct)
		e->aflags |= A_CHANGED;
}

static void row_limit(const struct agg *a, struct conn *e, uint64_t span, struct rec_snap_row *w)
{
	w->limit = w->limit_pct = 0;
	w->has_figs = e->figs != 0;
	if (!e->figs)
		return;
	w->figs = *figs_of(a, e);
	limit_of(a, e, span, &w->limit, &w->limit_pct);
	e->limit = limit_pack(w->limit);
	e->limit_pct = w->limit_pct;
}

static uint32_t table_find(const struct agg *a, uint64_t flow)
{
	uint64_t h = hash_u64(flow);

	/* hash_u64 is a bijection: the same hash is the same flow */
	for (uint32_t i = a->buckets[h & (a->nbuckets - 1)]; i; i = conn_at(a, i)->next)
		if (conn_at(a, i)->hash == h)
			return i;
	return 0;
}

/* Twice the buckets: a failure leaves longer chains, still correct, tried again at the next
 * add. */
static void table_grow(struct agg *a)
{
	size_t nb = a->nbuckets * 2;
	uint32_t *b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t k = 0; k < a->nbuckets; k++) {
		for (uint32_t i = a->buckets[k], next; i; i = next) {
			struct conn *e = conn_at(a, i);

			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = i;
		}
	}
	free(a->buckets);
	a->buckets = b;
	a->nbuckets = nb;
}

static void table_add(struct agg *a, uint32_t i, uint64_t flow)
{
	struct conn *e = conn_at(a, i);
	uint32_t *head;

	if (a->nhashed >= a->nbuckets)
		table_grow(a);
	e->hash = hash_u64(flow);
	head = &a->buckets[e->hash & (a->nbuckets - 1)];
	e->next = *head;
	*head = i;
	a->nhashed++;
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
		a->touched[a->ntouched++] = e->pos;
	}
	e->aflags |= A_TOUCHED;
	return 0;
}

/* Closed (or replaced) entries leave the hash at once but stay in the order until shown. */
static void conn_close(struct agg *a, uint32_t i)
{
	struct conn *e = conn_at(a, i);
	uint32_t *p = &a->buckets[e->hash & (a->nbuckets - 1)];

	while (*p != i)
		p = &conn_at(a, *p)->next;
	*p = e->next;
	a->nhashed--;
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
	memset(a->buckets, 0, a->nbuckets * sizeof(a->buckets[0]));
	a->nhashed = 0;
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
	a->nidx = 1;
	a->nbuckets = 1024;
	if (!(a->buckets = calloc(a->nbuckets, sizeof(a->buckets[0]))) || htab_init(&a->ifn, 64) ||
	    itab_init(&a->owners, sizeof(struct owner)) ||
	    itab_init(&a->locals, sizeof(struct local)) || itab_init(&a->peers, 16) ||
	    itab_init(&a->figs, sizeof(struct tcp_figs))) {
		agg_free(a);
		return NULL;
	}
	return a;
}

void agg_free(struct agg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nblocks; i++)
		free(a->blocks[i]);
	free(a->blocks);
	itab_free(&a->owners);
	itab_free(&a->locals);
	itab_free(&a->peers);
	itab_free(&a->figs);
	free(a->refx);
	ifn_clear(a);
	htab_free(&a->ifn);
	free(a->buckets);
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
		if (f->tcp && proto_of(a, e) != PROTO_TCP)
			return false;
		if (f->udp && proto_of(a, e) != PROTO_UDP)
			return false;
	}
	if (f->port_set && e->lport != f->port && e->rport != f->port)
		return false;
	if (f->pid_set && (owner_of(a, e)->pid != f->pid || (e->flags & CONN_F_NO_OWNER)))
		return false;
	if (f->process) {
		if (e->flags & CONN_F_NO_OWNER)
			return false;
		text_sanitize(a->sbuf, sizeof(a->sbuf), owner_of(a, e)->comm, COMM_LEN);
		if (!strstr(a->sbuf, f->process))
			return false;
	}
	if (f->cgroup) {
		const struct cgroup_ent *c = cgroup_table_get(&a->cg, owner_of(a, e)->cgroup_id);

		if (!c || !(c->user & CG_MATCH))
			return false;
	}
	if (f->interface) {
		const struct local *l = local_of(a, e);
		const char *n = ifn_get(a, l->netns, l->ifindex);

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
static void tot_add(struct totals *t, uint8_t proto, bool match, uint64_t in, uint64_t out)
{
	if (!match) {
		t->hidden++;
		return;
	}
	t->rows++;
	if (proto == PROTO_UDP)
		t->udp++;
	else
		t->tcp++;
	t->bytes_in += in;
	t->bytes_out += out;
}

static void tot_sub(struct totals *t, uint8_t proto, bool match, uint64_t in, uint64_t out)
{
	if (!match) {
		t->hidden--;
		return;
	}
	t->rows--;
	if (proto == PROTO_UDP)
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
	uint8_t proto = proto_of(a, e);
	uint64_t cgroup_id;
	int err;

	if (again && (e->aflags & A_SHOWN))
		tot_sub(&a->tot, proto, was, ref_in(a, e), ref_out(a, e));
	if (!filter_match(a, e)) {
		e->aflags &= ~A_MATCH;
		tot_add(&a->tot, proto, false, 0, 0);
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
	cgroup_id = owner_of(a, e)->cgroup_id;
	if (cgroup_id && cgroup_id != c->cg_last) {
		c->cg_last = cgroup_id;
		if ((err = write_cgroup(a, c->cg_last)))
			return err;
	}
	tot_add(&a->tot, proto, true, e->bytes_in, e->bytes_out);
	c->rate_in += rate(e->bytes_in, ref_in(a, e), c->span);
	c->rate_out += rate(e->bytes_out, ref_out(a, e), c->span);
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
	const struct local *l = local_of(a, e);
	const struct owner *o = owner_of(a, e);

	if (!ic->have || l->netns != ic->netns || l->ifindex != ic->ifindex) {
		ic->name = ifn_get(a, l->netns, l->ifindex);
		ic->netns = l->netns;
		ic->ifindex = l->ifindex;
		ic->have = true;
	}
	w->id.flow = hash_u64_inverse(e->hash);
	w->id.cookie = e->cookie;
	w->id.netns = l->netns;
	w->id.ifindex = l->ifindex;
	w->id.proto = l->proto;
	w->id.family = l->family;
	w->id.lport = e->lport;
	w->id.rport = e->rport;
	memcpy(w->id.laddr, l->laddr, 16);
	memcpy(w->id.raddr, itab_key(&a->peers, e->peer), 16);
	w->state = e->state;
	w->flags = e->flags & (CONN_F_BEGUN_BEFORE | CONN_F_NO_OWNER | CONN_F_FAILED);
	if (e->aflags & A_CLOSED)
		w->flags |= CONN_F_CLOSED;
	if (!(e->aflags & A_SHOWN))
		w->flags |= CONN_F_NEW;
	w->pid = o->pid;
	memcpy(w->comm, o->comm, COMM_LEN);
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
	w->rate_in = rate(e->bytes_in, ref_in(a, e), span);
	w->rate_out = rate(e->bytes_out, ref_out(a, e), span);
	w->first_ns = e->first_ns;
	w->last_ns = e->last_ns;
	w->host = 0; /* one host: a merge sets its own */
	w->cgroup_id = o->cgroup_id;
	row_limit(a, e, span, w);
	return emit_rec(a, r);
}

/* After the snapshot: the row has been shown (hidden rows count as shown: a filter never delays
 * CONN_F_NEW's meaning), its counters and clocks are the next interval's reference, and a
 * closed one is freed, its place in the order left empty. Returns whether it stays for the next
 * snapshot to visit: a row whose verdict may change back to the idle one (il, ipct) with nothing
 * new. */
static bool row_done(struct agg *a, uint32_t i, uint8_t il, uint8_t ipct)
{
	struct conn *e = conn_at(a, i);

	e->aflags |= A_SHOWN;
	e->aflags &= ~(A_CHANGED | A_TOUCHED);
	refx_drop(a, e);
	if (e->aflags & A_CLOSED) {
		tot_sub(&a->tot, proto_of(a, e), e->aflags & A_MATCH, e->bytes_in, e->bytes_out);
		a->order[e->pos] = 0;
		a->ntomb++;
		a->nconns--;
		conn_release(a, i);
		return false;
	}
	return (e->aflags & A_MATCH) && e->figs &&
	       (e->limit != limit_pack(il) || e->limit_pct != ipct);
}

static int touch_cmp(const void *x, const void *y)
{
	uint32_t p = *(const uint32_t *)x, q = *(const uint32_t *)y;

	return (p > q) - (p < q);
}

/* Sorts the touched entries into their order (mostly in it already: opens come in order). */
static void touched_sort(struct agg *a)
{
	for (size_t i = 1; i < a->ntouched; i++) {
		if (a->touched[i - 1] > a->touched[i]) {
			qsort(a->touched, a->ntouched, sizeof(a->touched[0]), touch_cmp);
			return;
		}
	}
}

/* Closes the gaps freed entries left in the order, which keeps its sequence (the touched list
 * follows: the entries' indexes while their places change). */
static void order_compact(struct agg *a)
{
	size_t kept = 0;

	for (size_t i = 0; i < a->ntouched; i++)
		a->touched[i] = a->order[a->touched[i]];
	for (size_t i = 0; i < a->norder; i++) {
		uint32_t idx = a->order[i];

		if (idx) {
			conn_at(a, idx)->pos = (uint32_t)kept;
			a->order[kept++] = idx;
		}
	}
	a->norder = kept;
	a->ntomb = 0;
	for (size_t i = 0; i < a->ntouched; i++)
		a->touched[i] = conn_at(a, a->touched[i])->pos;
	VEC_SHRINK(&a->order, &a->order_cap, a->norder);
}

/* Counts every row: the totals from nothing, the touched list forgotten (the writing pass that
 * follows visits every row and makes it again). */
static int count_all(struct agg *a, struct count *c)
{
	const uint32_t *order = a->order;
	size_t n = a->norder;
	int err;

	memset(&a->tot, 0, sizeof(a->tot));
	for (size_t i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n && order[i + PREFETCH_AHEAD])
			__builtin_prefetch(conn_at(a, order[i + PREFETCH_AHEAD]));
		if (order[i] && (err = count_row(a, conn_at(a, order[i]), c, false)))
			return err;
	}
	a->rescan = false;
	return 0;
}

static int count_touched(struct agg *a, struct count *c)
{
	const uint32_t *t = a->touched, *order = a->order;
	size_t n = a->ntouched;
	int err;

	touched_sort(a);
	for (size_t i = 0; i < n; i++) {
		if (i + PREFETCH_AHEAD < n)
			__builtin_prefetch(conn_at(a, order[t[i + PREFETCH_AHEAD]]));
		if ((err = count_row(a, conn_at(a, order[t[i]]), c, true)))
			return err;
	}
	return 0;
}

/* An entry's 120 bytes, for writing: its two cache lines at most. */
static inline void prefetch_conn(const struct conn *e)
{
	__builtin_prefetch(e, 1);
	__builtin_prefetch((const char *)e + sizeof(*e) - 1, 1);
}

/* Writes the rows of a full snapshot, or a delta's carried ones, visiting every row, and makes
 * the touched list anew; the order's gaps close on the way. */
static int write_all(struct agg *a, bool full, uint64_t span, uint8_t il, uint8_t ipct)
{
	uint32_t *order = a->order;
	size_t n = a->norder, kept = 0;
	struct ifn_cache ic = { 0 };
	int err;

	a->ntouched = 0;
	a->touched_all = false;
	for (size_t i = 0; i < n; i++) {
		uint32_t idx = order[i];
		struct conn *e;

		if (i + PREFETCH_AHEAD < n && order[i + PREFETCH_AHEAD])
			prefetch_conn(conn_at(a, order[i + PREFETCH_AHEAD]));
		if (!idx)
			continue;
		e = conn_at(a, idx);
		if ((e->aflags & A_MATCH) && (full || carried(e)) &&
		    (err = write_row(a, e, span, &ic)))
			return err;
		if (!(e->aflags & A_CLOSED)) {
			e->pos = (uint32_t)kept;
			order[kept++] = idx;
		}
		if (row_done(a, idx, il, ipct) && (err = touch(a, e)))
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
	uint32_t *t = a->touched, *order = a->order;
	size_t n = a->ntouched, kept = 0;
	struct ifn_cache ic = { 0 };
	int err;

	for (size_t i = 0; i < n; i++) {
		uint32_t idx = order[t[i]];
		struct conn *e = conn_at(a, idx);

		if (i + PREFETCH_AHEAD < n)
			prefetch_conn(conn_at(a, order[t[i + PREFETCH_AHEAD]]));
		if ((e->aflags & A_MATCH) && carried(e) && (err = write_row(a, e, span, &ic)))
			return err;
		if (row_done(a, idx, il, ipct)) {
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
	uint32_t i = table_find(a, o->id.flow);
	struct conn *e;
	struct local l;

	/* a flow id still live belongs to a connection that ended (its id was reused): two rows
	 * of one key in a snapshot, which a delta cannot say (and a full one visits every row,
	 * the old one untouched or not) */
	if (i) {
		conn_close(a, i);
		a->need_full = true;
	}
	if (a->nconns >= a->o.max_flows) {
		if (!a->table_full && a->o.table_full)
			a->o.table_full(a->o.ctx, a->o.max_flows);
		a->table_full = sat_add(a->table_full, 1);
		return 0;
	}
	/* room for it in the order and the touched list first: once in the table, it is in both
	 * (its place held in 32 bits) */
	if (a->norder >= UINT32_MAX || VEC_RESERVE(&a->order, &a->order_cap, a->norder + 1) ||
	    VEC_RESERVE(&a->touched, &a->touched_cap, a->ntouched + 1))
		return -ENOMEM;
	if (!(i = conn_alloc(a)))
		return -ENOMEM;
	e = conn_at(a, i);
	memset(&l, 0, sizeof(l));
	l.netns = o->id.netns;
	l.ifindex = o->id.ifindex;
	l.proto = o->id.proto;
	l.family = o->id.family;
	memcpy(l.laddr, o->id.laddr, 16);
	if (itab_get(&a->locals, &l, &e->local) || itab_get(&a->peers, o->id.raddr, &e->peer) ||
	    owner_set(a, e, o->pid, o->comm, o->cgroup_id))
		goto nomem;
	e->cookie = o->id.cookie;
	e->lport = o->id.lport;
	e->rport = o->id.rport;
	e->state = o->state;
	e->flags = o->flags & (CONN_F_BEGUN_BEFORE | CONN_F_NO_OWNER);
	if (l.proto == PROTO_TCP && e->state == TCP_SYN_SENT)
		e->aflags |= A_SYNSENT;
	/* the rate's reference: a connection begun before the collector is not credited with
	 * its past (the row is its own); any other moved what its open carries since then (a
	 * short connection the collector first sees at its close comes with all of it) */
	if (!(o->flags & CONN_F_BEGUN_BEFORE) && (o->c.bytes_in || o->c.bytes_out || o->has_figs) &&
	    refx_save(a, e))
		goto nomem;
	set_counters(e, &o->c, a->now);
	e->first_ns = a->now;
	if (o->has_figs && set_figs(a, e, &o->figs))
		goto nomem;
	table_add(a, i, o->id.flow);
	e->pos = (uint32_t)a->norder;
	a->order[a->norder++] = i;
	a->nconns++;
	return touch(a, e); /* 0: its room is reserved */
nomem:
	conn_release(a, i);
	return -ENOMEM;
}

static struct conn *known(struct agg *a, uint64_t flow, uint32_t *idx)
{
	uint32_t i = table_find(a, flow);

	if (!i) {
		a->unknown_flow = sat_add(a->unknown_flow, 1);
		return NULL;
	}
	*idx = i;
	return conn_at(a, i);
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
	uint32_t i;
	int err;

	switch (r->type) {
	case REC_CONN_OPEN:
		if ((err = advance(a, r->u.open.ts, EV_DATA)))
			return err;
		return on_open(a, &r->u.open);
	case REC_CONN_SAMPLE:
		if ((err = advance(a, r->u.sample.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.sample.flow, &i))) {
			if ((err = touch(a, e)) || (err = refx_save(a, e)))
				return err;
			set_counters(e, &r->u.sample.c, a->now);
			if (r->u.sample.has_figs)
				return set_figs(a, e, &r->u.sample.figs);
		}
		return 0;
	case REC_CONN_CLOSE:
		if ((err = advance(a, r->u.close.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.close.flow, &i))) {
			if ((err = touch(a, e)) || (err = refx_save(a, e)))
				return err;
			set_counters(e, &r->u.close.c, a->now);
			if (r->u.close.has_figs && (err = set_figs(a, e, &r->u.close.figs)))
				return err;
			if (r->u.close.state)
				e->state = r->u.close.state;
			if (!handshake_state(e->state))
				e->aflags &= ~A_SYNSENT;
			if (e->aflags & A_SYNSENT)
				e->flags |= CONN_F_FAILED;
			conn_close(a, i);
		}
		return 0;
	case REC_CONN_STATE:
		if ((err = advance(a, r->u.state.ts, EV_DATA)))
			return err;
		if ((e = known(a, r->u.state.flow, &i))) {
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
		if ((e = known(a, r->u.owner.flow, &i))) {
			if ((err = touch(a, e)) ||
			    (err = owner_set(a, e, r->u.owner.pid, r->u.owner.comm,
					     r->u.owner.cgroup_id ? r->u.owner.cgroup_id
								  : owner_of(a, e)->cgroup_id)))
				return err;
			e->flags &= ~CONN_F_NO_OWNER;
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
