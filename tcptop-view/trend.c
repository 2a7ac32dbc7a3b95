// SPDX-License-Identifier: GPL-2.0-or-later
/* Rate history: open addressing on the connection key, rebuilt without stale entries every
 * TREND_LEN snapshots, so memory follows the connections of the last minute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trend.h"

struct tent {
	struct conn_key k;
	uint64_t first, last; /* ticks; last 0: empty slot */
	float r[TREND_LEN];   /* r[tick % TREND_LEN] */
};

struct trends {
	struct tent *e;
	size_t cap, n;
	uint64_t swept; /* tick of the last rebuild */
};

static uint64_t key_hash(const struct conn_key *k)
{
	uint64_t h = k->flow * 0x9E3779B97F4A7C15ull;

	h ^= (k->cookie + ((uint64_t)k->netns << 32)) * 0xC2B2AE3D27D4EB4Full;
	h ^= ((uint64_t)k->lport << 24 | (uint64_t)k->rport << 8 | k->proto) * 0x165667B19E3779F9ull;
	return h ^ (h >> 29);
}

static struct tent *slot(struct tent *e, size_t cap, const struct conn_key *k)
{
	size_t i = key_hash(k) & (cap - 1);

	while (e[i].last && !conn_key_eq(&e[i].k, k))
		i = (i + 1) & (cap - 1);
	return &e[i];
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
	free(tr);
}

/* A table of cap slots holding the entries seen since tick - TREND_LEN. */
static int rebuild(struct trends *tr, size_t cap, uint64_t tick)
{
	struct tent *e = calloc(cap, sizeof(*e));
	size_t n = 0;

	if (!e)
		return -1;
	for (size_t i = 0; i < tr->cap; i++) {
		if (!tr->e[i].last || tr->e[i].last + TREND_LEN < tick)
			continue;
		*slot(e, cap, &tr->e[i].k) = tr->e[i];
		n++;
	}
	free(tr->e);
	tr->e = e;
	tr->cap = cap;
	tr->n = n;
	tr->swept = tick;
	return 0;
}

int trends_add(struct trends *tr, const struct snapshot *s)
{
	uint64_t tick = s->tick;

	if (tick >= tr->swept + TREND_LEN || !tr->cap) {
		size_t cap = 1024;

		while (cap < 2 * (tr->n + s->n))
			cap *= 2;
		if (rebuild(tr, cap, tick))
			return -1;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct vrow *v = &s->rows[i];
		struct conn_key k = vrow_key(v);
		struct tent *e;

		if ((tr->n + 1) * 2 > tr->cap && rebuild(tr, tr->cap * 2, tick))
			return -1;
		e = slot(tr->e, tr->cap, &k);
		if (!e->last) {
			memset(e, 0, sizeof(*e));
			e->k = k;
			e->first = tick;
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
		e->r[tick % TREND_LEN] = (float)(v->r.rate_in + v->r.rate_out);
		e->last = tick;
	}
	return 0;
}

int trends_get(const struct trends *tr, const struct conn_key *k, uint64_t tick, int n,
	       float *out)
{
	const struct tent *e;
	int known = 0;

	memset(out, 0, n * sizeof(*out));
	if (!tr || !tr->cap || n <= 0)
		return 0;
	e = slot(tr->e, tr->cap, k);
	if (!e->last)
		return 0;
	for (int i = 0; i < n; i++) {
		uint64_t t = tick - (uint64_t)(n - 1 - i);

		if (tick < (uint64_t)(n - 1 - i) || t < e->first || t > e->last ||
		    t + TREND_LEN <= e->last)
			continue; /* before it was seen, after it left, or overwritten since */
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
