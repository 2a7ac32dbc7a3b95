// SPDX-License-Identifier: GPL-2.0-or-later
/* Rate history: one entry per connection that moved bytes in the last TREND_LEN snapshots, in a
 * growable array, found through lib/htab by its key, swept of stale entries every TREND_LEN
 * snapshots. An idle connection has no entry (its rates were all 0): memory follows the busy
 * connections of the last minute, not the table. Which ticks are known is the caller's (the
 * ticks its row was in the snapshots). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "trend.h"
#include "vec.h"

struct tent {
	struct hnode hn;
	struct conn_key k;
	uint64_t first, last; /* ticks: the first and last it moved bytes in */
	float r[TREND_LEN];   /* r[tick % TREND_LEN] */
};

struct trends {
	struct tent *e; /* the entries; they move when the array grows or is swept */
	size_t n, cap;
	struct htab by_key;
	uint64_t swept; /* tick of the last sweep */
};

static uint64_t key_hash(const struct conn_key *k)
{
	return hash_u64x2(hash_u64x2(k->flow, k->cookie),
			  (uint64_t)k->netns << 32 | (uint64_t)k->lport << 16 | k->rport) ^
	       k->proto;
}

static struct tent *find(const struct trends *tr, const struct conn_key *k)
{
	struct hnode *n;

	htab_for_hash(&tr->by_key, n,
		      key_hash(k)) if (conn_key_eq(&container_of(n, struct tent, hn)->k,
						   k)) return container_of(n, struct tent, hn);
	return NULL;
}

/* The index again, after the entries moved. */
static void reindex(struct trends *tr)
{
	htab_clear(&tr->by_key);
	for (size_t i = 0; i < tr->n; i++)
		htab_add(&tr->by_key, &tr->e[i].hn, tr->e[i].hn.hash);
}

struct trends *trends_new(void)
{
	return calloc(1, sizeof(struct trends));
}

void trends_free(struct trends *tr)
{
	if (!tr)
		return;
	free(tr->e);
	htab_free(&tr->by_key);
	free(tr);
}

/* Keeps the entries seen since tick - TREND_LEN. */
static void sweep(struct trends *tr, uint64_t tick)
{
	size_t n = 0;

	for (size_t i = 0; i < tr->n; i++)
		if (tr->e[i].last + TREND_LEN >= tick)
			tr->e[n++] = tr->e[i];
	tr->n = n;
	tr->swept = tick;
	VEC_SHRINK(&tr->e, &tr->cap, n);
	reindex(tr);
}

int trends_add(struct trends *tr, const struct snapshot *s)
{
	uint64_t tick = s->tick;

	if (tick >= tr->swept + TREND_LEN)
		sweep(tr, tick);
	/* the rows that moved bytes, when the snapshot knows them (snapshot_thin), else all */
	size_t n = s->have_active ? s->nactive : s->n;

	for (size_t a = 0; a < n; a++) {
		const struct vrow *v = &s->rows[s->have_active ? s->active[a] : a];
		double rate = v->r.rate_in + v->r.rate_out;
		struct conn_key k;
		struct tent *e;

		if (!(rate > 0))
			continue; /* 0 where it has no entry or a gap */
		k = vrow_key(v);
		e = find(tr, &k);

		if (!e) {
			size_t cap = tr->cap;

			if (VEC_RESERVE(&tr->e, &tr->cap, tr->n + 1))
				return -1;
			if (tr->cap != cap)
				reindex(tr);
			e = &tr->e[tr->n];
			memset(e, 0, sizeof(*e));
			e->k = k;
			e->first = tick;
			if (htab_add(&tr->by_key, &e->hn, key_hash(&k)))
				return -1;
			tr->n++;
		} else if (e->last < tick) {
			/* snapshots it was not in: nothing moved */
			uint64_t gap = tick - e->last - 1;

			if (gap >= TREND_LEN)
				memset(e->r, 0, sizeof(e->r));
			else
				for (uint64_t t = e->last + 1; t < tick; t++)
					e->r[t % TREND_LEN] = 0;
		}
		e->r[tick % TREND_LEN] = (float)rate;
		e->last = tick;
	}
	return 0;
}

int trends_get(const struct trends *tr, const struct conn_key *k, uint64_t tick, uint64_t since,
	       uint64_t until, int n, float *out)
{
	const struct tent *e;
	int known = 0;

	memset(out, 0, n * sizeof(*out));
	if (!tr || n <= 0)
		return 0;
	e = find(tr, k);
	for (int i = 0; i < n; i++) {
		uint64_t t = tick - (uint64_t)(n - 1 - i);

		if (tick < (uint64_t)(n - 1 - i) || t < since || t > until)
			continue; /* before it was seen or after it left */
		if (e && t + TREND_LEN <= e->last)
			continue; /* overwritten since (travelling back) */
		if (e && t >= e->first && t <= e->last)
			out[i] = e->r[t % TREND_LEN];
		known++;
	}
	return known;
}

int trend_spark(const float *v, int n, bool utf8, char *buf, size_t size)
{
	static const char *const blocks[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					      "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[] = "._-=+*#@";
	float max = 0;
	size_t o = 0;

	for (int i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	for (int i = 0; i < n && o + 4 < size; i++) {
		int level = max > 0 && v[i] > 0 ? (int)(v[i] / max * 8 + 0.999f) : 0;

		if (level > 8)
			level = 8;
		if (!level)
			buf[o++] = ' ';
		else if (utf8)
			o += (size_t)snprintf(buf + o, size - o, "%s", blocks[level - 1]);
		else
			buf[o++] = ascii[level - 1];
	}
	buf[o] = '\0';
	return n;
}
