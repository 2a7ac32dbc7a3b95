// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-collect's flow and socket tables: chained hashing that doubles as it fills, so
 * memory follows the number of live connections. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

int flows_init(struct flow_table *t)
{
	memset(t, 0, sizeof(*t));
	t->nb = 1024;
	t->nsb = 256;
	t->b = calloc(t->nb, sizeof(*t->b));
	t->sb = calloc(t->nsb, sizeof(*t->sb));
	if (!t->b || !t->sb) {
		flows_free(t);
		return -ENOMEM;
	}
	return 0;
}

void flows_free(struct flow_table *t)
{
	for (uint64_t i = 0; t->b && i < t->nb; i++) {
		for (struct flow *f = t->b[i], *n; f; f = n) {
			n = f->next;
			free(f);
		}
	}
	for (uint64_t i = 0; t->sb && i < t->nsb; i++) {
		for (struct sockinfo *s = t->sb[i], *n; s; s = n) {
			n = s->next;
			free(s);
		}
	}
	free(t->b);
	free(t->sb);
	memset(t, 0, sizeof(*t));
}

struct flow *flows_find(struct flow_table *t, uint64_t flow)
{
	for (struct flow *f = t->b[hash64(flow) & (t->nb - 1)]; f; f = f->next)
		if (f->flow == flow)
			return f;
	return NULL;
}

static void flows_grow(struct flow_table *t)
{
	uint64_t nb = t->nb * 2;
	struct flow **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* keep the longer chains */
	for (uint64_t i = 0; i < t->nb; i++) {
		for (struct flow *f = t->b[i], *n; f; f = n) {
			uint64_t h = hash64(f->flow) & (nb - 1);

			n = f->next;
			f->next = b[h];
			b[h] = f;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

struct flow *flows_add(struct flow_table *t, uint64_t flow)
{
	struct flow *f = calloc(1, sizeof(*f));
	uint64_t h;

	if (!f)
		return NULL;
	if (t->n >= t->nb)
		flows_grow(t);
	f->flow = flow;
	h = hash64(flow) & (t->nb - 1);
	f->next = t->b[h];
	t->b[h] = f;
	t->n++;
	return f;
}

void flows_del(struct flow_table *t, struct flow *f)
{
	struct flow **pp = &t->b[hash64(f->flow) & (t->nb - 1)];

	if (f->sock) {
		for (struct flow **sp = &f->sock->flows; *sp; sp = &(*sp)->sock_next) {
			if (*sp == f) {
				*sp = f->sock_next;
				break;
			}
		}
	}
	for (; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			t->n--;
			free(f);
			return;
		}
	}
}

struct sockinfo *socks_find(struct flow_table *t, uint64_t cookie)
{
	for (struct sockinfo *s = t->sb[hash64(cookie) & (t->nsb - 1)]; s; s = s->next)
		if (s->cookie == cookie)
			return s;
	return NULL;
}

static void socks_grow(struct flow_table *t)
{
	uint64_t nb = t->nsb * 2;
	struct sockinfo **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (uint64_t i = 0; i < t->nsb; i++) {
		for (struct sockinfo *s = t->sb[i], *n; s; s = n) {
			uint64_t h = hash64(s->cookie) & (nb - 1);

			n = s->next;
			s->next = b[h];
			b[h] = s;
		}
	}
	free(t->sb);
	t->sb = b;
	t->nsb = nb;
}

struct sockinfo *socks_get(struct flow_table *t, uint64_t cookie)
{
	struct sockinfo *s = socks_find(t, cookie);
	uint64_t h;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (t->ns >= t->nsb)
		socks_grow(t);
	s->cookie = cookie;
	h = hash64(cookie) & (t->nsb - 1);
	s->next = t->sb[h];
	t->sb[h] = s;
	t->ns++;
	return s;
}

void socks_del(struct flow_table *t, struct sockinfo *s)
{
	struct sockinfo **pp = &t->sb[hash64(s->cookie) & (t->nsb - 1)];

	for (struct flow *f = s->flows; f; f = f->sock_next)
		f->sock = NULL;
	for (; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			t->ns--;
			free(s);
			return;
		}
	}
}

void socks_link(struct sockinfo *s, struct flow *f)
{
	f->sock = s;
	f->sock_next = s->flows;
	s->flows = f;
}
