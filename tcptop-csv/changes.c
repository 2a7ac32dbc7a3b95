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

struct changes {
	bool figures; /* the figures count (--figures: their columns are written) */
	struct htab t;
	struct seen **slabs;
	size_t nslabs, slabs_cap;
	struct hnode *free; /* unused entries */
	uint32_t snap;
	/* the entries of the last snapshot's rows in their order, and of this one's so far: a
	 * snapshot stream gives its rows in the same order each time, so the entry after the last
	 * one found is tried first, in memory read in order, and the table (a cache miss or two
	 * a row, every row at a time when the table is cold) is asked only when it is not it */
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
	ch->snap = 0;
}

static void forget(struct changes *ch, struct seen *s)
{
	s->live = false;
	htab_del(&ch->t, &s->hn);
	s->hn.next = ch->free;
	ch->free = &s->hn;
}

void changes_snapshot(struct changes *ch)
{
	struct seen **t = ch->last;
	size_t cap = ch->last_cap;

	ch->last = ch->now;
	ch->last_cap = ch->now_cap;
	ch->nlast = ch->nnow;
	ch->now = t;
	ch->now_cap = cap;
	ch->nnow = ch->at = 0;
	ch->snap++;
	if (ch->snap % CHANGES_SWEEP)
		return;
	htab_each(&ch->t, n)
	{
		struct seen *s = container_of(n, struct seen, hn);

		if (ch->snap - s->snap > CHANGES_FORGET)
			forget(ch, s);
	}
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
	}
	if (VEC_RESERVE(&ch->now, &ch->now_cap, ch->nnow + 1))
		return -ENOMEM;
	s->pos = (uint32_t)ch->nnow;
	ch->now[ch->nnow++] = s;
	s->digest = d;
	s->snap = ch->snap;
	return changed;
}

size_t changes_count(const struct changes *ch)
{
	return ch->t.n;
}
