// SPDX-License-Identifier: GPL-2.0-or-later
/* The table a snapshot stream's latest snapshot leaves, and how a delta applies to it
 * (snaptab.h; the rules are tcptop-stream(5)'s, "Delta snapshots (1.1)"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snaptab.h"
#include "vec.h"

#define SLOT_GONE    0x01 /* freed by the delta being applied: its order entry goes */
#define SLOT_CARRIED 0x02 /* in t->carried */

static uint64_t key_hash(const struct rec_snap_row *r)
{
	return hash_u64x2(r->host, r->id.flow);
}

void snaptab_free(struct snaptab *t)
{
	free(t->slot);
	free(t->mark);
	free(t->pos);
	free(t->free_slot);
	free(t->order);
	free(t->tmp);
	free(t->carried);
	free(t->added);
	free(t->keys);
	htab_free(&t->idx);
	memset(t, 0, sizeof(*t));
}

static void forget(struct snaptab *t)
{
	t->nslot = t->nfree = t->n = t->ncarried = t->nadded = 0;
	htab_clear(&t->idx);
	t->indexed = true;
	t->as_full = true;
	t->in_step = false;
}

/* The slot of the i-th row of the order. */
static inline uint32_t order_slot(const struct snaptab *t, size_t i)
{
	return t->as_full ? (uint32_t)i : t->order[i];
}

/* A full snapshot's order, places, carried rows and marks written out, for a delta to apply:
 * 0 or -ENOMEM (left as it was). */
static int write_full(struct snaptab *t)
{
	if (!t->as_full)
		return 0;
	if (VEC_RESERVE(&t->order, &t->order_cap, t->n) ||
	    VEC_RESERVE(&t->carried, &t->carried_cap, t->n))
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		t->order[i] = t->carried[i] = t->pos[i] = (uint32_t)i;
		t->mark[i] = SLOT_CARRIED;
	}
	t->ncarried = t->n;
	t->as_full = false;
	return 0;
}

void snaptab_section(struct snaptab *t, const struct stream_header *h)
{
	forget(t);
	t->cur = 0;
	t->keep = h->major == STREAM_MAJOR && h->minor >= 1;
}

static struct snaptab_slot *find(const struct snaptab *t, const struct rec_snap_row *r)
{ /* t indexed */
	uint64_t h = key_hash(r);
	struct hnode *n;

	htab_for_hash(&t->idx, n, h)
	{
		struct snaptab_slot *s = container_of(n, struct snaptab_slot, hn);

		if (s->r.id.flow == r->id.flow && s->r.host == r->host)
			return s;
	}
	return NULL;
}

/* The slots moved (the array grew): every live one back in the index. */
static void reindex(struct snaptab *t)
{
	htab_clear(&t->idx);
	for (size_t i = 0; i < t->n; i++)
		htab_add(&t->idx, &t->slot[order_slot(t, i)].hn, t->slot[order_slot(t, i)].hn.hash);
	for (size_t i = 0; i < t->nadded; i++)
		htab_add(&t->idx, &t->slot[t->added[i]].hn, t->slot[t->added[i]].hn.hash);
}

/* Room for one more entry in a vec (cap: its capacity): the call only when it must grow. */
#define ROOM(pp, capp, need) ((need) > *(capp) && VEC_RESERVE((pp), (capp), (need)))

/* slot_room() when the slots must grow (they may move: the index follows them when it holds
 * them). */
static int slot_grow(struct snaptab *t)
{
	struct snaptab_slot *old = t->slot;

	if (t->nslot >= UINT32_MAX)
		return -ENOMEM;
	if (VEC_RESERVE(&t->slot, &t->slot_cap, t->nslot + 1) ||
	    vec_resize(&t->mark, &t->mark_cap, t->slot_cap, 1) ||
	    vec_resize(&t->pos, &t->pos_cap, t->slot_cap, sizeof(*t->pos)))
		return -ENOMEM;
	if (t->slot != old && t->indexed)
		reindex(t);
	return 0;
}

/* Room for slot number t->nslot, its mark and its place: 0 or -ENOMEM. */
static inline int slot_room(struct snaptab *t)
{
	return t->nslot < t->slot_cap && t->nslot < UINT32_MAX ? 0 : slot_grow(t);
}

struct rec_snap_row *snaptab_place_room(struct snaptab *t)
{
	/* buckets, so that index_rows() cannot fail (add_full()) */
	if (t->cur != SNAPTAB_FULL || !t->keep || slot_room(t) ||
	    (!t->idx.nb && htab_init(&t->idx, 16)))
		return NULL;
	return &t->slot[t->nslot].r;
}

/* A slot for r (copied there unless it was decoded there: snaptab_place()), carried (not placed
 * in the order), indexed when the table is (else index_rows() hashes it): its number, or
 * -ENOMEM. */
static inline __attribute__((always_inline)) int64_t slot_new(struct snaptab *t,
							      const struct rec_snap_row *r)
{
	bool reused = t->nfree > 0;
	uint32_t s;

	if (ROOM(&t->carried, &t->carried_cap, t->ncarried + 1))
		return -ENOMEM;
	if (reused) {
		s = t->free_slot[--t->nfree];
	} else {
		if (slot_room(t))
			return -ENOMEM;
		s = (uint32_t)t->nslot++;
	}
	if (r != &t->slot[s].r)
		t->slot[s].r = *r;
	t->mark[s] = SLOT_CARRIED;
	t->carried[t->ncarried++] = s;
	if (!t->indexed)
		return s;
	t->slot[s].hn.hash = key_hash(r);
	if (htab_add(&t->idx, &t->slot[s].hn, t->slot[s].hn.hash)) {
		t->ncarried--;
		if (reused)
			t->nfree++; /* back where it was */
		else
			t->nslot--;
		return -ENOMEM;
	}
	return s;
}

/* The index of a full snapshot's rows, made when first needed (a delta, a look-up): a reader
 * of full snapshots only (format 1.0, tcptop-agg --full-every 1) does not pay for it. Rows of
 * one key: the last one added found, as when each is indexed as it comes. Cannot fail: the
 * index has buckets (add_full), and a table that cannot grow makes longer chains. */
static void index_rows(struct snaptab *t)
{
	if (t->indexed)
		return;
	htab_clear(&t->idx);
	for (size_t i = 0; i < t->n; i++) {
		struct snaptab_slot *s = &t->slot[order_slot(t, i)];

		s->hn.hash = key_hash(&s->r);
		htab_add(&t->idx, &s->hn, s->hn.hash);
	}
	t->indexed = true;
}

const struct rec_snap_row *snaptab_find(const struct snaptab *t, uint32_t host, uint64_t flow)
{
	struct rec_snap_row key = { .host = host };
	struct snaptab_slot *s;

	key.id.flow = flow;
	/* the index is a cache of the rows: made now if a full snapshot left it to be made */
	index_rows((struct snaptab *)t);
	s = find(t, &key);
	return s ? &s->r : NULL;
}

/* A delta begins: the rows the previous snapshot closed go, the rest it carried lose its rates
 * and NEW (a row not carried again moved nothing; its LIMIT, when it changed, is carried). */
static void settle(struct snaptab *t)
{
	size_t ngone = 0, k = 0;

	for (size_t i = 0; i < t->ncarried; i++) {
		uint32_t s = t->carried[i];
		struct rec_snap_row *r = &t->slot[s].r;

		if (r->flags & CONN_F_CLOSED) {
			htab_del(&t->idx, &t->slot[s].hn);
			t->mark[s] = SLOT_GONE;
			t->free_slot[t->nfree++] = s; /* room: every slot fits there */
			ngone++;
			continue;
		}
		t->mark[s] = 0;
		r->rate_in = r->rate_out = 0;
		r->flags &= ~CONN_F_NEW;
	}
	t->ncarried = 0;
	if (!ngone)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (!(t->mark[t->order[i]] & SLOT_GONE)) {
			t->pos[t->order[i]] = (uint32_t)k;
			t->order[k++] = t->order[i];
		}
	t->n = k;
	for (size_t i = t->nfree - ngone; i < t->nfree; i++)
		t->mark[t->free_slot[i]] = 0;
}

int snaptab_begin(struct snaptab *t, uint32_t type, const struct rec_snap_begin *b)
{
	t->want = b->table_rows;
	if (type == REC_SNAP_BEGIN) {
		forget(t);
		t->cur = SNAPTAB_FULL;
		return t->cur;
	}
	if (!t->keep || !t->in_step) {
		t->skipped++;
		t->cur = SNAPTAB_SKIP;
		return t->cur;
	}
	/* out of step until its end says otherwise (an input cut inside it leaves it so) */
	t->in_step = false;
	if (VEC_RESERVE(&t->free_slot, &t->free_cap, t->nslot) || write_full(t)) {
		t->cur = SNAPTAB_SKIP;
		return t->cur; /* out of step: mended by the next full snapshot */
	}
	index_rows(t);
	settle(t);
	t->cur = SNAPTAB_DELTA;
	return t->cur;
}

/* A full snapshot's row: in the next slot (the table is as_full), not indexed (index_rows()). */
static int add_full(struct snaptab *t, const struct rec_snap_row *r)
{
	/* buckets, so that index_rows() cannot fail */
	if (!t->idx.nb && htab_init(&t->idx, 16))
		return -ENOMEM;
	t->indexed = false;
	if (slot_room(t))
		return -ENOMEM;
	if (r != &t->slot[t->nslot].r)
		t->slot[t->nslot].r = *r;
	t->nslot++;
	t->n++;
	return 0;
}

static int add_delta(struct snaptab *t, const struct rec_snap_row *r)
{
	struct snaptab_slot *old = find(t, r);
	int64_t s;

	if (old) {
		s = old - t->slot;
		old->r = *r;
		if (!(t->mark[s] & SLOT_CARRIED)) {
			if (VEC_RESERVE(&t->carried, &t->carried_cap, t->ncarried + 1))
				return -ENOMEM;
			t->mark[s] |= SLOT_CARRIED;
			t->carried[t->ncarried++] = (uint32_t)s;
		}
		return 0;
	}
	if (ROOM(&t->added, &t->added_cap, t->nadded + 1) || (s = slot_new(t, r)) < 0)
		return -ENOMEM;
	t->added[t->nadded++] = (uint32_t)s;
	return 0;
}

int snaptab_add_row(struct snaptab *t, uint32_t type, const struct rec_snap_row *r)
{
	int err;

	switch (t->cur) {
	case SNAPTAB_FULL:
		if (type != REC_SNAP_ROW)
			return -EPROTO;
		if (!t->keep)
			return 0;
		err = add_full(t, r);
		break;
	case SNAPTAB_DELTA:
		if (type != REC_DELTA_ROW)
			return -EPROTO;
		err = add_delta(t, r);
		break;
	case SNAPTAB_SKIP:
		return type == REC_DELTA_ROW ? 0 : -EPROTO;
	default:
		return -EPROTO;
	}
	if (err) {
		/* the table is not the interval's: the next full snapshot mends it */
		t->cur = SNAPTAB_SKIP;
		t->in_step = false;
	}
	return err;
}

static uint32_t host_of(const struct snaptab *t, uint32_t s)
{
	return t->slot[s].r.host;
}

/* The delta's new rows into the order, each after the rows of its host. */
static int place_added(struct snaptab *t)
{
	size_t i = 0, j = 0, k = 0;
	bool tail = true;

	if (!t->nadded)
		return 0;
	for (size_t a = 1; a < t->nadded && tail; a++)
		tail = host_of(t, t->added[a - 1]) <= host_of(t, t->added[a]);
	if (tail && t->n && host_of(t, t->order[t->n - 1]) > host_of(t, t->added[0]))
		tail = false;
	if (VEC_RESERVE(&t->order, &t->order_cap, t->n + t->nadded))
		return -ENOMEM;
	if (tail) { /* the usual case, and a single host's always: at the end */
		for (size_t a = 0; a < t->nadded; a++)
			t->pos[t->added[a]] = (uint32_t)(t->n + a);
		memcpy(t->order + t->n, t->added, t->nadded * sizeof(*t->added));
		t->n += t->nadded;
		t->nadded = 0;
		return 0;
	}
	if (VEC_RESERVE(&t->tmp, &t->tmp_cap, t->n + t->nadded))
		return -ENOMEM;
	for (; i < t->n; i++) {
		while (j < t->nadded && host_of(t, t->added[j]) < host_of(t, t->order[i]))
			t->tmp[k++] = t->added[j++];
		t->tmp[k++] = t->order[i];
	}
	while (j < t->nadded)
		t->tmp[k++] = t->added[j++];
	for (size_t p = 0; p < k; p++)
		t->pos[t->tmp[p]] = (uint32_t)p;
	{
		uint32_t *o = t->order;
		size_t c = t->order_cap;

		t->order = t->tmp;
		t->order_cap = t->tmp_cap;
		t->tmp = o;
		t->tmp_cap = c;
	}
	t->n = k;
	t->nadded = 0;
	return 0;
}

int snaptab_end(struct snaptab *t)
{
	int cur = t->cur;

	t->cur = 0;
	switch (cur) {
	case SNAPTAB_FULL:
		t->in_step = t->keep;
		return SNAPTAB_READY;
	case SNAPTAB_DELTA:
		if (place_added(t)) {
			t->out_of_step++;
			return -ENOMEM;
		}
		if (t->n != t->want) {
			t->out_of_step++;
			return SNAPTAB_OUT_OF_STEP;
		}
		t->in_step = true;
		return SNAPTAB_READY;
	default:
		return SNAPTAB_SKIP;
	}
}

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int snaptab_carried(struct snaptab *t)
{
	bool sorted = true;

	if (t->as_full) /* every row, in order */
		return 0;
	for (size_t i = 1; i < t->ncarried && sorted; i++)
		sorted = t->pos[t->carried[i - 1]] < t->pos[t->carried[i]];
	if (sorted)
		return 0;
	/* out of order (a merged stream's new rows placed before others, or rows sent out of the
	 * table's order): sorted by place */
	if (VEC_RESERVE(&t->keys, &t->keys_cap, t->ncarried))
		return -ENOMEM;
	for (size_t i = 0; i < t->ncarried; i++)
		t->keys[i] = (uint64_t)t->pos[t->carried[i]] << 32 | t->carried[i];
	qsort(t->keys, t->ncarried, sizeof(*t->keys), key_cmp);
	for (size_t i = 0; i < t->ncarried; i++)
		t->carried[i] = (uint32_t)t->keys[i];
	return 0;
}
