// SPDX-License-Identifier: GPL-2.0-or-later
/* The one hash table (htab.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

int htab_init(struct htab *t, size_t min_buckets)
{
	size_t nb = 16;

	while (nb < min_buckets && nb < ((size_t)1 << 40))
		nb *= 2;
	t->n = 0;
	t->b = calloc(nb, sizeof(*t->b));
	t->nb = t->b ? nb : 0;
	return t->b ? 0 : -ENOMEM;
}

void htab_free(struct htab *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

void htab_clear(struct htab *t)
{
	if (t->b)
		memset(t->b, 0, t->nb * sizeof(*t->b));
	t->n = 0;
}

static void grow(struct htab *t)
{
	size_t nb = t->nb ? t->nb * 2 : 16;
	struct hnode **b;

	if (nb < t->nb)
		return;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < t->nb; i++) {
		for (struct hnode *n = t->b[i], *next; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

int htab_add(struct htab *t, struct hnode *n, uint64_t hash)
{
	if (t->n >= t->nb)
		grow(t);
	if (!t->nb)
		return -ENOMEM;
	n->hash = hash;
	n->next = t->b[hash & (t->nb - 1)];
	t->b[hash & (t->nb - 1)] = n;
	t->n++;
	return 0;
}

void htab_del(struct htab *t, struct hnode *n)
{
	if (!t->nb)
		return;
	for (struct hnode **p = &t->b[n->hash & (t->nb - 1)]; *p; p = &(*p)->next) {
		if (*p == n) {
			*p = n->next;
			t->n--;
			return;
		}
	}
}

uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		h = hash_u64(h ^ w);
	}
	w = 0;
	memcpy(&w, s, n);
	return hash_u64(h ^ w ^ ((uint64_t)n << 56));
}

uint64_t hash_str(const char *s)
{
	return hash_bytes(s, strlen(s));
}
