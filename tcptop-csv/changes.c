// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-csv --changes: a row is written when its connection opened (new, and not begun before
 * the collector started) or closed in the interval, moved bytes (a rate above 0), or differs
 * from its last row in anything but its rates, RTT and LIMIT share: state, owner (pid, name,
 * cgroup), bytes, packets, retransmits, failed, interface, the LIMIT verdict, and with
 * --figures the figures that move only by what the connection does (the clocks, cwnd,
 * ssthresh, in flight, unsent, reordering, bytes retransmitted, lost; not the delivery rate nor
 * the RTT's minimum and variation, measures as the RTT is). Each connection is remembered by a 64-bit digest of those cells, 40 bytes with its
 * key, in slabs that never move; the rule needs nothing but the rows, so it holds on full
 * snapshots and on a stream that carries only changed rows between them alike. A connection
 * first seen, neither new nor moving, is remembered and not written: the log starts with what
 * changes, not with every idle connection.
 *
 * A delta snapshot applied whole gives only the rows it carried: a row of the table it did not
 * carry is the one last given, but for its rates (0) and NEW (cleared), which the rule does not
 * look at, so it is no change, and it is seen. When it was last seen is then the latest whole
 * delta of its epoch (the snapshots from a full one to the next: a row in the table at one
 * stays there until the next full snapshot or its closed row), kept per epoch, not per row.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "htab.h"
#include "limit.h"
#include "vec.h"

#define SLAB 4096 /* entries a slab */

struct seen {
	struct hnode hn; /* its hash is (host, flow)'s; next links the free list when unused */
	uint64_t flow;
	uint64_t digest;
	uint32_t host;
	uint32_t snap; /* the snapshot it was last seen in */
	uint32_t pos;  /* its place in its last snapshot's order */
	bool live;     /* in the table (not on the free list) */
};

/* The snapshots from a full one (start) to the next: the last delta of them applied whole
 * (ready), in which every row of the table given since start was seen. */
struct epoch {
	uint32_t start, ready;
};

struct changes {
	bool figures; /* the figures count (--figures: their columns are written) */
	/* the epochs with a whole delta, in order, back to CHANGES_FORGET snapshots; start: the
	 * latest full snapshot's */
	struct epoch *epochs;
	size_t nepochs, epochs_cap;
	uint32_t start;
	bool full; /* the snapshot begun is full: its rows make the next one's hint */
	struct htab t;
	struct seen **slabs;
	size_t nslabs, slabs_cap;
	struct hnode *free; /* unused entries */
	uint32_t snap;
	/* the entries of the last full snapshot's rows in their order, and of this one's so far:
	 * a snapshot stream gives its rows in the same order each time, so the entry after the
	 * last one found is tried first, in memory read in order, and the table (a cache miss or
	 * two a row, every row at a time when the table is cold) is asked only when it is not it */
	struct seen **last, **now;
	size_t nlast, nnow, last_cap, now_cap, at;
};

struct changes *changes_new(bool figures)
{
	struct changes *ch = calloc(1, sizeof(struct changes));

	if (ch)
		ch->figures = figures;
	return ch;
}

void changes_free(struct changes *ch)
{
	if (!ch)
		return;
	for (size_t i = 0; i < ch->nslabs; i++)
		free(ch->slabs[i]);
	free(ch->slabs);
	free(ch->last);
	free(ch->now);
	free(ch->epochs);
	htab_free(&ch->t);
	free(ch);
}

/* Every entry unused again (the slabs are kept). */
static void forget_all(struct changes *ch)
{
	ch->free = NULL;
	for (size_t i = 0; i < ch->nslabs; i++)
		for (size_t j = 0; j < SLAB; j++) {
			ch->slabs[i][j].hn.next = ch->free;
			ch->slabs[i][j].live = false;
			ch->free = &ch->slabs[i][j].hn;
		}
	htab_clear(&ch->t);
	ch->nlast = ch->nnow = ch->at = 0;
}

void changes_section(struct changes *ch)
{
	forget_all(ch);
	ch->snap = ch->start = 0;
	ch->nepochs = 0;
}

static void forget(struct changes *ch, struct seen *s)
{
	s->live = false;
	htab_del(&ch->t, &s->hn);
	s->hn.next = ch->free;
	ch->free = &s->hn;
}

/* The snapshot s was last seen in: the one it was last given in, or a later delta applied whole
 * in the same epoch (the table kept it since). */
static uint32_t last_seen(const struct changes *ch, const struct seen *s)
{
	size_t lo = 0, hi = ch->nepochs;

	while (lo < hi) { /* the last epoch that starts at or before s->snap */
		size_t mid = lo + (hi - lo) / 2;

		if (ch->epochs[mid].start <= s->snap)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && s->snap <= ch->epochs[lo - 1].ready)
		return ch->epochs[lo - 1].ready;
	return s->snap;
}

/* What was not seen for CHANGES_FORGET snapshots is forgotten: the slabs read in order, not
 * the table's chains. */
static void sweep(struct changes *ch)
{
	size_t k = 0;

	for (size_t i = 0; i < ch->nslabs; i++)
		for (size_t j = 0; j < SLAB; j++) {
			struct seen *s = &ch->slabs[i][j];

			if (s->live && ch->snap - last_seen(ch, s) > CHANGES_FORGET)
				forget(ch, s);
		}
	/* an epoch whose last whole delta is that old has no row left */
	while (k < ch->nepochs && ch->snap - ch->epochs[k].ready > CHANGES_FORGET)
		k++;
	memmove(ch->epochs, ch->epochs + k, (ch->nepochs - k) * sizeof(*ch->epochs));
	ch->nepochs -= k;
}

int changes_snapshot(struct changes *ch, bool full)
{
	ch->snap++;
	ch->full = full;
	if (full) {
		/* the order of the last full snapshot's rows is this one's hint (deltas carry few
		 * rows, and those in no order a full snapshot would follow) */
		struct seen **t = ch->last;
		size_t cap = ch->last_cap;

		ch->last = ch->now;
		ch->last_cap = ch->now_cap;
		ch->nlast = ch->nnow;
		ch->now = t;
		ch->now_cap = cap;
		ch->nnow = 0;
		ch->start = ch->snap;
		/* room for its epoch, should a delta be applied whole in it */
		if (VEC_RESERVE(&ch->epochs, &ch->epochs_cap, ch->nepochs + 1))
			return -ENOMEM;
	}
	ch->at = 0;
	if (ch->snap % CHANGES_SWEEP == 0)
		sweep(ch);
	return 0;
}

void changes_table_seen(struct changes *ch)
{
	struct epoch *e = ch->nepochs ? &ch->epochs[ch->nepochs - 1] : NULL;

	if (!ch->start) /* no full snapshot: no table (a delta is not applied) */
		return;
	if (!e || e->start != ch->start) { /* changes_snapshot() made room */
		e = &ch->epochs[ch->nepochs++];
		e->start = ch->start;
	}
	e->ready = ch->snap;
}

/* One step of the digest: a bijection of h for each w and of w for each h, so that a change of
 * one word always changes the digest (a change of several leaves it alike by chance only:
 * one in 2^64). Cheaper than hash_bytes()' finaliser a word: this runs for every row. */
static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9fb21c651e98df25ULL;
	return h ^ (h >> 29);
}

_Static_assert(COMM_LEN == 16 && IFNAME_LEN == 16, "digest() reads names as two words");

static inline uint64_t word(const char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* What a change is: every cell of the row but its rates, RTT, LIMIT share and flags other than
 * failed and no-owner (new and closed are tested by themselves; begun_before never changes);
 * the figures' cells but the measures, with figures. */
static uint64_t digest(const struct changes *ch, const struct rec_snap_row *r)
{
	/* the verdict when it names a cause (app, rwnd, sndbuf, cwnd; none, unknown and a newer
	 * writer's are alike: unknown turning none is learning, not a change), and with figures
	 * ssthresh and reordering: with state and flags in one word, bits 16-23, 32-47, 48-63 */
	uint64_t more = r->has_figs && r->limit > LIMIT_NONE && r->limit < LIMIT_N ? r->limit : 0;
	uint64_t h = 0;

	if (ch->figures && r->has_figs) {
		const struct tcp_figs *f = &r->figs;

		h = mix(h, (uint64_t)f->busy_ms << 32 | f->rwnd_ms);
		h = mix(h, (uint64_t)f->sndbuf_ms << 32 | f->cwnd);
		h = mix(h, (uint64_t)f->in_flight << 32 | f->unsent);
		h = mix(h, (uint64_t)f->retrans_bytes << 32 | f->lost);
		more |= (uint64_t)f->ssthresh << 32 | (uint64_t)f->reordering << 16;
	}

	h = mix(h, r->c.bytes_in);
	h = mix(h, r->c.bytes_out);
	h = mix(h, r->c.pkts_in);
	h = mix(h, r->c.pkts_out);
	h = mix(h, (uint64_t)r->pid << 32 | r->c.retrans);
	h = mix(h, r->cgroup_id);
	h = mix(h, (uint64_t)r->id.ifindex << 32 | r->id.netns);
	h = mix(h, r->state | (uint64_t)(r->flags & (CONN_F_FAILED | CONN_F_NO_OWNER)) << 8 |
			   more << 16);
	h = mix(h, word(r->comm));
	h = mix(h, word(r->comm + 8));
	h = mix(h, word(r->ifname));
	return mix(h, word(r->ifname + 8));
}

static struct seen *find(struct changes *ch, uint64_t h, uint32_t host, uint64_t flow)
{
	struct hnode *n;

	htab_for_hash(&ch->t, n, h)
	{
		struct seen *s = container_of(n, struct seen, hn);

		if (s->flow == flow && s->host == host)
			return s;
	}
	return NULL;
}

static struct seen *add(struct changes *ch, uint64_t h)
{
	struct seen *s;

	if (!ch->free) {
		struct seen *slab;

		if (VEC_RESERVE(&ch->slabs, &ch->slabs_cap, ch->nslabs + 1) ||
		    !(slab = malloc(SLAB * sizeof(*slab))))
			return NULL;
		ch->slabs[ch->nslabs++] = slab;
		for (size_t j = 0; j < SLAB; j++) {
			slab[j].hn.next = ch->free;
			ch->free = &slab[j].hn;
		}
	}
	s = container_of(ch->free, struct seen, hn);
	ch->free = s->hn.next;
	if (htab_add(&ch->t, &s->hn, h)) {
		s->hn.next = ch->free;
		ch->free = &s->hn;
		return NULL;
	}
	return s;
}

/* The entry of (host, flow): the one after the last found in the last snapshot's order, else
 * the table's. */
static struct seen *lookup(struct changes *ch, uint64_t h, uint32_t host, uint64_t flow)
{
	struct seen *s;

	if (ch->at < ch->nlast) {
		s = ch->last[ch->at];
		if (s->live && s->flow == flow && s->host == host) {
			ch->at++;
			return s;
		}
	}
	s = find(ch, h, host, flow);
	if (s && s->pos < ch->nlast && ch->last[s->pos] == s) /* the rows go on from its place */
		ch->at = s->pos + 1;
	return s;
}

int changes_row(struct changes *ch, const struct rec_snap_row *r)
{
	uint64_t h = hash_u64x2(r->host, r->id.flow), d = digest(ch, r);
	struct seen *s = lookup(ch, h, r->host, r->id.flow);
	bool moved = r->rate_in != 0 || r->rate_out != 0;
	/* new to the collector, but open before it started: not opened in the interval */
	bool opened = (r->flags & (CONN_F_NEW | CONN_F_BEGUN_BEFORE)) == CONN_F_NEW;
	bool changed = opened || moved || (s && s->digest != d);

	if (r->flags & CONN_F_CLOSED) { /* its flow may be another connection's next */
		if (s)
			forget(ch, s);
		return 1;
	}
	if (!s) {
		if (!(s = add(ch, h)))
			return -ENOMEM;
		s->flow = r->id.flow;
		s->host = r->host;
		s->live = true;
		s->pos = UINT32_MAX; /* in no full snapshot's order yet */
	}
	if (ch->full) {
		if (VEC_RESERVE(&ch->now, &ch->now_cap, ch->nnow + 1))
			return -ENOMEM;
		s->pos = (uint32_t)ch->nnow;
		ch->now[ch->nnow++] = s;
	}
	s->digest = d;
	s->snap = ch->snap;
	return changed;
}

size_t changes_count(const struct changes *ch)
{
	return ch->t.n;
}
