// SPDX-License-Identifier: GPL-2.0-or-later
/* Snapshots of the history kept thin: an older snapshot keeps only what differs from the next
 * one (the keys whose rows differ, TCP figures included, and its own rows of them), so that
 * a table of idle connections costs its rows once however long the history. Rows and figures of
 * both are in key order (flow, cookie, host); a key may have several rows (a flow id reused
 * within an interval), compared as a run. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "vec.h"

/* The end of the run of rows with the key of rows[i]. */
static size_t run_end(const struct vrow *rows, size_t n, size_t i)
{
	size_t j = i + 1;

	while (j < n && !vrow_key_cmp(&rows[j], &rows[i]))
		j++;
	return j;
}

static bool runs_equal(const struct vrow *a, size_t na, const struct vrow *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (memcmp(&a[i], &b[i], VROW_VALUE_BYTES))
			return false;
	return true;
}

/* Append k elements of size bytes at src to the growable array *dst of *n (capacity *cap). */
static int append(void *dst, size_t *n, size_t *cap, const void *src, size_t k, size_t size)
{
	char **d = dst;

	if (!k)
		return 0;
	if (vec_reserve(dst, cap, *n + k, size))
		return -1;
	memcpy(*d + *n * size, src, k * size);
	*n += k;
	return 0;
}

static int append_rows(struct vrow **dst, size_t *n, size_t *cap, const struct vrow *src, size_t k)
{
	return append(dst, n, cap, src, k, sizeof(*src));
}

static void free_steps(struct snapshot *s)
{
	free(s->active);
	free(s->from_prev);
	free(s->fresh);
	s->active = s->from_prev = s->fresh = NULL;
	s->nactive = s->nfrom_prev = s->nfresh = 0;
	s->have_active = s->have_map = false;
}

void snapshot_drop_steps(struct snapshot *s)
{
	free_steps(s);
}

/* A row that matters beyond the table: it moved bytes (the trends) or closed (the closed
 * ring), or it changed and has TCP figures (they may have moved without a byte: a stalled
 * sender's clocks run). */
static bool row_active(const struct vrow *v, bool changed)
{
	return v->r.rate_in + v->r.rate_out > 0 || (v->r.flags & CONN_F_CLOSED) ||
	       (changed && vrow_has_figs(v));
}

/* Whether bit k of the bitmap b (n words) is set. */
static bool bit(const uint64_t *b, size_t n, size_t k)
{
	return k / 64 < n && (b[k / 64] >> (k % 64) & 1);
}

/* Runs p (np rows) and q (nq): a connection new in p, settled in q and nothing else changed. */
static bool settled_new(const struct vrow *p, size_t np, const struct vrow *q, size_t nq)
{
	struct vrow x;

	if (np != 1 || nq != 1 || !(p->r.flags & CONN_F_NEW) || (q->r.flags & CONN_F_NEW))
		return false;
	x = *q;
	x.r.flags |= CONN_F_NEW;
	return !memcmp(p, &x, VROW_VALUE_BYTES);
}

/* What snapshot_thin() makes, for prev (the keys that differ, prev's rows of them)
 * and for next (the map from prev's rows, next's rows active and fresh). */
struct thinout {
	struct vkey *keys;
	uint64_t *dnew; /* for prev->dnew, made at the first such key */
	uint64_t *imp;	/* keys settled only of connections prev brought: dropped when implicit */
	struct vrow *rows;
	uint32_t *map, *active, *fresh;
	size_t nkeys, ndnew, nimp, nrows, nactive, nfresh;
	size_t kcap, dncap, icap, rcap, acap, frcap;
	uint32_t tick;	/* next's */
	uint32_t ptick; /* prev's */
	/* rows next brought; rows of prev it brought (since its tick) seen, and of them those
	 * that stay as they were without NEW (the rule of prev->dnew_implicit fails for them) */
	size_t nbrought, nfirst, nbreak;
};

/* Bit k of the bitmap *b (*n words, capacity *cap) set. */
static int set_bit(uint64_t **b, size_t *n, size_t *cap, size_t k)
{
	size_t w = k / 64 + 1;

	if (w > *n) {
		if (VEC_RESERVE(b, cap, w))
			return -1;
		memset(*b + *n, 0, (w - *n) * sizeof(**b));
		*n = w;
	}
	(*b)[k / 64] |= 1ull << (k % 64);
	return 0;
}

/* Key k of o settled only (prev->dnew). */
static int set_dnew(struct thinout *o, size_t k)
{
	return set_bit(&o->dnew, &o->ndnew, &o->dncap, k);
}

static void thinout_free(struct thinout *o)
{
	free(o->keys);
	free(o->dnew);
	free(o->imp);
	free(o->rows);
	free(o->map);
	free(o->active);
	free(o->fresh);
}

/* Rows p[0..np) of prev (its rows from pbase on) against q[0..nq) of next (from qbase on), both
 * in key order: the keys whose runs differ go to o, the rest map across; q's rows get their
 * since. -1 when out of memory. */
static int thin_runs(struct thinout *o, const struct vrow *p, size_t np, size_t pbase,
		     struct vrow *q, size_t nq, size_t qbase)
{
	size_t i = 0, j = 0;

	while (i < np || j < nq) {
		size_t i2 = i, j2 = j;
		int d = i >= np ? 1 : j >= nq ? -1 : vrow_key_cmp(&p[i], &q[j]);
		struct vkey key = vrow_vkey(d <= 0 ? &p[i] : &q[j]);
		bool same, settled;

		if (d <= 0)
			i2 = run_end(p, np, i);
		if (d >= 0)
			j2 = run_end(q, nq, j);
		same = d == 0 && runs_equal(p + i, i2 - i, q + j, j2 - j);
		settled = d == 0 && !same && settled_new(p + i, i2 - i, q + j, j2 - j);
		for (size_t x = i; x < i2; x++) {
			if (p[x].since != o->ptick)
				continue;
			o->nfirst++;
			o->nbreak += same && !(p[x].r.flags & CONN_F_NEW);
		}
		if (i2 == i)
			o->nbrought += j2 - j;
		for (size_t x = j; x < j2; x++) {
			if (!row_active(&q[x], !same))
				continue;
			if (VEC_RESERVE(&o->active, &o->acap, o->nactive + 1))
				return -1;
			o->active[o->nactive++] = qbase + x;
		}
		if (same) {
			for (size_t x = 0; x < j2 - j; x++) {
				q[j + x].since = p[i + x].since;
				q[j + x].quiet = p[i + x].quiet;
				o->map[pbase + i + x] = qbase + j + x;
			}
		} else {
			/* a connection seen before keeps the tick it was first seen */
			for (size_t x = j; x < j2; x++) {
				q[x].since = i2 > i ? p[i].since : o->tick;
				q[x].quiet = i2 > i ? p[i].quiet : 0;
			}
			for (size_t x = i; x < i2; x++)
				o->map[pbase + x] = UINT32_MAX;
			/* a connection next brought is told by its rows' since: no key kept (nor
			 * rows: prev has none) */
			if ((i2 > i && VEC_RESERVE(&o->keys, &o->kcap, o->nkeys + 1)) ||
			    (settled && set_dnew(o, o->nkeys)) ||
			    (settled && p[i].since == o->ptick &&
			     set_bit(&o->imp, &o->nimp, &o->icap, o->nkeys)) ||
			    (!settled &&
			     append_rows(&o->rows, &o->nrows, &o->rcap, p + i, i2 - i)) ||
			    VEC_RESERVE(&o->fresh, &o->frcap, o->nfresh + (j2 - j) + 1))
				return -1;
			if (i2 > i)
				o->keys[o->nkeys++] = key;
			for (size_t x = j; x < j2; x++)
				o->fresh[o->nfresh++] = qbase + x;
		}
		i = i2;
		j = j2;
	}
	return 0;
}

/* The rows prev brought that are next's with NEW (every one of them not listed, none left as it
 * was without NEW): their keys go, the rule says it (prev->dnew_implicit). */
static void drop_implicit(struct snapshot *prev, struct thinout *o)
{
	size_t k = 0;

	prev->dnew_implicit = o->nbreak == 0 && o->nfirst == prev->nbrought;
	if (!prev->dnew_implicit || !o->nimp)
		return;
	for (size_t i = 0; i < o->nkeys; i++) {
		bool dn = bit(o->dnew, o->ndnew, i);

		if (bit(o->imp, o->nimp, i))
			continue;
		o->keys[k] = o->keys[i];
		/* bit k of dnew, k <= i: its word is read before it is written */
		o->dnew[k / 64] &= ~(1ull << (k % 64));
		o->dnew[k / 64] |= (uint64_t)dn << (k % 64);
		k++;
	}
	o->nkeys = k;
	o->ndnew = (k + 63) / 64;
	/* no bit left set past k in the last word */
	if (k % 64 && o->ndnew)
		o->dnew[o->ndnew - 1] &= (1ull << (k % 64)) - 1;
	while (o->ndnew && !o->dnew[o->ndnew - 1])
		o->ndnew--;
	if (!o->ndnew) {
		free(o->dnew);
		o->dnew = NULL;
		o->dncap = 0;
	}
}

/* prev keeps what o says makes it again from next; next gets its steps (o is emptied). */
static void thin_install(struct snapshot *prev, struct snapshot *next, struct thinout *o,
			 uintptr_t prev_rows, size_t np)
{
	drop_implicit(prev, o);
	free(o->imp);
	next->nbrought = (uint32_t)o->nbrought;
	VEC_SHRINK(&o->keys, &o->kcap, o->nkeys);
	VEC_SHRINK(&o->dnew, &o->dncap, o->ndnew);
	VEC_SHRINK(&o->rows, &o->rcap, o->nrows);
	free(prev->dkeys);
	free(prev->dnew);
	free(prev->drows);
	prev->dkeys = o->keys;
	prev->dnew = o->dnew;
	prev->ndnew = o->ndnew;
	prev->drows = o->rows;
	prev->ndkeys = o->nkeys;
	prev->ndrows = o->nrows;
	prev->thin_ok = true;
	free_steps(prev); /* its own steps from the one before are done with */
	free_steps(next);
	next->active = o->active;
	next->nactive = o->nactive;
	next->from_prev = o->map;
	next->nfrom_prev = np;
	next->fresh = o->fresh;
	next->nfresh = o->nfresh;
	next->have_active = next->have_map = true;
	next->prev_rows = prev_rows;
	next->prev_tick = prev->tick;
	memset(o, 0, sizeof(*o));
}

int snapshot_thin(struct snapshot *prev, struct snapshot *next)
{
	struct thinout o = { .tick = (uint32_t)next->tick, .ptick = (uint32_t)prev->tick };

	if (!prev->rows || !next->rows ||
	    !(o.map = malloc((prev->n ? prev->n : 1) * sizeof(*o.map))))
		return -1;
	if (thin_runs(&o, prev->rows, prev->n, 0, next->rows, next->n, 0)) {
		thinout_free(&o);
		return -1;
	}
	thin_install(prev, next, &o, (uintptr_t)prev->rows, prev->n);
	return 0;
}

static struct vkey row_key(const void *e)
{
	return vrow_vkey(e);
}

/* What merge() merges: rows in key order. */
struct elems {
	const void *e;
	size_t n;
};

/* What merge() does with the keys of a dnew bitmap (settled only): replace them as the others
 * (the way from a snapshot to the next one), or keep base's rows marked NEW again and taken
 * (from the next one back). */
enum dnew_use {
	DNEW_REPLACE,
	DNEW_NEW,
};

/* How merge() takes elements apart: of size bytes, their key by key(); the keys of dnew (nd
 * words) as use says; the elements of base gone() says (ctx) are not kept but taken: those of
 * the connections the next snapshot brought, which a thin snapshot does not list (NULL: none). */
struct mergeop {
	size_t size;
	struct vkey (*key)(const void *);
	const uint64_t *dnew;
	size_t nd;
	enum dnew_use use;
	bool (*gone)(const void *e, const void *ctx);
	const void *ctx;
	/* the elements of base not at a key that are treated as the keys of dnew are (rows
	 * the snapshot made brought, when its dnew_implicit: rctx), or NULL */
	bool (*renew)(const void *e, const void *rctx);
	const void *rctx;
};

/* The elements of base with those of the keys replaced by those of with, and with's others
 * added (the connections brought by the next snapshot, going forward), all in key order: into
 * *out (n expected, a hint). The elements of base replaced or gone go to *taken when taken is
 * not NULL. */
static int merge(const struct mergeop *m, struct elems base, const struct vkey *keys, size_t nk,
		 struct elems with, size_t n, void *out, size_t *nout, void *taken, size_t *ntaken)
{
	const char *b = base.e, *wi = with.e;
	size_t size = m->size, nb = base.n, nw = with.n, i = 0, k = 0, w = 0, cap = 0, tcap = 0;
	char *o = NULL, *t = NULL;
	size_t no = 0, nt = 0;
	static const char nothing[1];

	if (!b)
		b = nothing; /* no element: never read, but pointer arithmetic on it is */
	if (!wi)
		wi = nothing;

	if (vec_resize(&o, &cap, n ? n : 1, size))
		return -1;
	while (i < nb || w < nw || k < nk) {
		bool hb = i < nb, hw = w < nw, hk = k < nk, is_key;
		struct vkey kb, kw, cur;
		size_t i2 = i, w2 = w;

		if (hb)
			kb = m->key(b + i * size);
		if (hw)
			kw = m->key(wi + w * size);
		if (hb && (!hk || vkey_cmp(&kb, &keys[k]) < 0) && (!hw || vkey_cmp(&kb, &kw) < 0)) {
			/* base's elements up to the next key or element of with, in one copy */
			if (m->gone && m->gone(b + i * size, m->ctx)) {
				if (taken && append(&t, &nt, &tcap, b + i * size, 1, size))
					goto fail;
				i++;
				continue;
			}
			if (m->use == DNEW_NEW && m->renew && m->renew(b + i * size, m->rctx)) {
				struct vrow *v;

				if (append(&o, &no, &cap, b + i * size, 1, size) ||
				    (taken && append(&t, &nt, &tcap, b + i * size, 1, size)))
					goto fail;
				v = (struct vrow *)(void *)(o + (no - 1) * size);
				v->r.flags |= CONN_F_NEW;
				i++;
				continue;
			}
			while (++i2 < nb) {
				struct vkey x = m->key(b + i2 * size);

				if ((hk && vkey_cmp(&x, &keys[k]) >= 0) ||
				    (hw && vkey_cmp(&x, &kw) >= 0) ||
				    (m->gone && m->gone(b + i2 * size, m->ctx)) ||
				    (m->use == DNEW_NEW && m->renew &&
				     m->renew(b + i2 * size, m->rctx)))
					break;
			}
			if (append(&o, &no, &cap, b + i * size, i2 - i, size))
				goto fail;
			i = i2;
			continue;
		}
		cur = hk && (!hw || vkey_cmp(&keys[k], &kw) <= 0) ? keys[k] : kw;
		is_key = hk && !vkey_cmp(&keys[k], &cur);
		while (i2 < nb) {
			struct vkey x = m->key(b + i2 * size);

			if (vkey_cmp(&x, &cur))
				break;
			i2++;
		}
		while (w2 < nw) {
			struct vkey x = m->key(wi + w2 * size);

			if (vkey_cmp(&x, &cur))
				break;
			w2++;
		}
		if (is_key && m->use != DNEW_REPLACE && bit(m->dnew, m->nd, k)) {
			size_t at = no;

			if (append(&o, &no, &cap, b + i * size, i2 - i, size) ||
			    (m->use == DNEW_NEW && taken &&
			     append(&t, &nt, &tcap, b + i * size, i2 - i, size)))
				goto fail;
			for (size_t x = at; m->use == DNEW_NEW && x < no; x++)
				((struct vrow *)(void *)(o + x * size))->r.flags |= CONN_F_NEW;
		} else if (is_key || (m->use == DNEW_REPLACE && m->renew && i2 > i && w2 > w &&
				      m->renew(b + i * size, m->rctx))) {
			if (append(&o, &no, &cap, wi + w * size, w2 - w, size) ||
			    (taken && append(&t, &nt, &tcap, b + i * size, i2 - i, size)))
				goto fail;
		} else if (append(&o, &no, &cap, b + i * size, i2 - i, size) ||
			   append(&o, &no, &cap, wi + w * size, w2 - w, size)) {
			goto fail;
		}
		i = i2;
		w = w2;
		k += is_key;
	}
	*(char **)out = o;
	*nout = no;
	if (taken) {
		vec_shrink(&t, &tcap, nt, size);
		*(char **)taken = t;
		*ntaken = nt;
	}
	return 0;
fail:
	free(o);
	free(t);
	return -1;
}

static struct elems rows_of(const struct vrow *r, size_t n)
{
	return (struct elems){ r, r ? n : 0 };
}

/* s made whole again: its rows. */
static void made_whole(struct snapshot *s, struct vrow *rows, size_t n)
{
	s->rows = rows;
	s->cap = s->n > n ? s->n : n;
	s->n = n;
}

/* A row the next snapshot brought (its first tick that one's): a thin snapshot before it does
 * not list its key. */
static bool row_brought(const void *e, const void *ctx)
{
	const struct snapshot *next = ctx;

	return ((const struct vrow *)e)->since == (uint32_t)next->tick;
}

/* A row of the snapshot after the thin one (ctx) that the thin one brought. */
static bool row_first(const void *e, const void *ctx)
{
	const struct snapshot *s = ctx;

	return ((const struct vrow *)e)->since == (uint32_t)s->tick;
}

int snapshot_thicken(struct snapshot *s, struct snapshot *next)
{
	struct mergeop mr = {
		.size = sizeof(struct vrow),
		.key = row_key,
		.dnew = s->dnew,
		.nd = s->ndnew,
		.use = DNEW_NEW,
		.gone = row_brought,
		.ctx = next,
		.renew = s->dnew_implicit ? row_first : NULL,
		.rctx = s,
	};
	struct vrow *rows, *taken;
	size_t n, nt;

	if (s->rows)
		return 0;
	if (!next->rows || !s->thin_ok)
		return -1;
	if (merge(&mr, rows_of(next->rows, next->n), s->dkeys, s->ndkeys,
		  rows_of(s->drows, s->ndrows), s->n, &rows, &n, &taken, &nt))
		return -1;
	made_whole(s, rows, n);
	free(s->drnext);
	s->drnext = taken;
	s->ndrnext = nt;
	return 0;
}

int snapshot_thicken_next(struct snapshot *s, struct snapshot *next)
{
	struct mergeop mr = {
		.size = sizeof(struct vrow),
		.key = row_key,
		.dnew = s->dnew,
		.nd = s->ndnew,
		.use = DNEW_REPLACE,
		.renew = s->dnew_implicit ? row_first : NULL,
		.rctx = s,
	};
	struct vrow *rows;
	size_t n;

	if (next->rows)
		return 0;
	if (!s->rows || !s->drnext || !s->thin_ok)
		return -1;
	if (merge(&mr, rows_of(s->rows, s->n), s->dkeys, s->ndkeys, rows_of(s->drnext, s->ndrnext),
		  next->n, &rows, &n, NULL, NULL))
		return -1;
	made_whole(next, rows, n);
	return 0;
}

void snapshot_drop_rows(struct snapshot *s)
{
	free_steps(s);
	/* only the newest is settled by a delta: made again if ever wanted */
	free(s->settle);
	s->settle = NULL;
	s->nsettle = 0;
	s->settle_ok = false;
	free(s->rows);
	free(s->drnext);
	free(s->grp[0]);
	free(s->grp[1]);
	s->rows = s->drnext = NULL;
	s->grp[0] = s->grp[1] = NULL;
	s->ngrp[0] = s->ngrp[1] = 0;
	s->cap = s->ndrnext = 0;
}

size_t snapshot_delta_bytes(const struct snapshot *s)
{
	return s->ndkeys * sizeof(*s->dkeys) + s->ndnew * sizeof(*s->dnew) +
	       s->ndrows * sizeof(*s->drows) + s->ndrnext * sizeof(*s->drnext);
}

/* ---- a delta snapshot applied in place ---- */

/* One run of elements replaced: [lo, hi) of the array by c elements at rep. */
struct splice {
	size_t lo, hi;
	const void *rep;
	size_t c;
};

/* op's replacement at element at of b */
static void put_rep(char *b, size_t size, size_t at, const struct splice *op)
{
	if (op->c)
		memcpy(b + at * size, op->rep, op->c * size);
}

/* Replace runs of a (n elements of size bytes, room for the result) in place, runs in order and
 * apart: what lies between them moves by the sum of the changes before it. The moves that go
 * right are made from the right, so that nothing is overwritten before it is read. sh: room for
 * nop + 1 shifts. Returns the new count. */
static size_t splice_runs(void *a, size_t n, size_t size, const struct splice *op, size_t nop,
			  ptrdiff_t *sh)
{
	char *b = a;
	size_t run = 0; /* the first unit of the pending run of right moves */
	ptrdiff_t shift = 0;

	/* unit u (0..nop): op[u - 1]'s replacement, then the elements up to op[u] (or the end),
	 * which move by sh[u] */
#define SEG_LO(u) ((u) ? op[(u)-1].hi : 0)
#define SEG_HI(u) ((u) < nop ? op[(u)].lo : n)
	for (size_t u = 0; u <= nop; u++) {
		sh[u] = shift;
		if (u < nop)
			shift += (ptrdiff_t)op[u].c - (ptrdiff_t)(op[u].hi - op[u].lo);
	}
	for (size_t u = 0; u <= nop + 1; u++) {
		if (u <= nop && sh[u] > 0)
			continue; /* moves right: with its run, from the right */
		/* the pending run [run, u) of right moves, from its right end */
		for (size_t k = u; k-- > run;) {
			size_t lo = SEG_LO(k), hi = SEG_HI(k);

			memmove(b + (lo + sh[k]) * size, b + lo * size, (hi - lo) * size);
			if (k)
				put_rep(b, size, op[k - 1].lo + sh[k - 1], &op[k - 1]);
		}
		if (u <= nop) {
			size_t lo = SEG_LO(u), hi = SEG_HI(u);

			if (u)
				put_rep(b, size, op[u - 1].lo + sh[u - 1], &op[u - 1]);
			if (sh[u])
				memmove(b + (lo + sh[u]) * size, b + lo * size, (hi - lo) * size);
		}
		run = u + 1;
	}
#undef SEG_LO
#undef SEG_HI
	return (size_t)((ptrdiff_t)n + shift);
}

/* The rows of a flow id: [lo, hi) of rows (n, in key order). */
static size_t flow_lower(const struct vrow *rows, size_t n, uint64_t flow)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].r.id.flow < flow)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A row to settle at the next delta: it has rates, or is new or closed (tcptop-stream(5)). */
bool vrow_unsettled(const struct vrow *v)
{
	return v->r.rate_in != 0 || v->r.rate_out != 0 ||
	       (v->r.flags & (CONN_F_NEW | CONN_F_CLOSED));
}

/* One flow id the delta touches: its rows in prev, and its new ones (in the scratch array of the
 * apply). */
struct touched {
	uint64_t flow;
	size_t lo, hi;
	size_t r0, nr;
};

struct applyctx {
	struct touched *t;
	size_t nt, tcap;
	struct vrow *rows; /* the new rows of every touched flow, in key order */
	size_t nrows, rcap;
	struct splice *ops;
	size_t opcap;
	ptrdiff_t *sh; /* splice_runs()'s */
	size_t shcap;
};

static void applyctx_free(struct applyctx *c)
{
	free(c->t);
	free(c->rows);
	free(c->ops);
	free(c->sh);
}

static int touch(struct applyctx *c, uint64_t flow)
{
	if (c->nt && c->t[c->nt - 1].flow == flow)
		return 0;
	if (VEC_RESERVE(&c->t, &c->tcap, c->nt + 1))
		return -1;
	c->t[c->nt++] = (struct touched){ .flow = flow };
	return 0;
}

/* The flows of prev's unsettled rows and of the delta's rows, in order. */
static int touched_flows(struct applyctx *c, const struct snapshot *prev, const struct snapshot *d)
{
	size_t i = 0, j = 0;

	while (i < prev->nsettle || j < d->n) {
		uint64_t a = i < prev->nsettle ? prev->settle[i].flow : UINT64_MAX,
			 b = j < d->n ? d->rows[j].r.id.flow : UINT64_MAX;
		uint64_t f = a < b ? a : b;

		if (i < prev->nsettle && a == f)
			i++;
		if (j < d->n && b == f && a != f)
			j++;
		if (touch(c, f))
			return -1;
	}
	return 0;
}

/* Insertion sort of a few rows by key, stable */
static void sort_rows(struct vrow *r, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct vrow x = r[i];
		size_t k = i;

		while (k && vrow_key_cmp(&r[k - 1], &x) > 0) {
			r[k] = r[k - 1];
			k--;
		}
		r[k] = x;
	}
}

/* The new rows of each touched flow: prev's settled (closed ones gone, rates 0, NEW
 * cleared), those the delta replaces (same flow and host) gone, the delta's added; and the
 * widest values of the rows that go (wo) and come (wn). */
static int new_runs(struct applyctx *c, const struct snapshot *prev, const struct snapshot *d,
		    struct widest *wo, struct widest *wn)
{
	size_t j = 0;

	for (size_t k = 0; k < c->nt; k++) {
		struct touched *t = &c->t[k];
		size_t j0, j2;

		t->lo = flow_lower(prev->rows, prev->n, t->flow);
		for (t->hi = t->lo; t->hi < prev->n && prev->rows[t->hi].r.id.flow == t->flow;)
			t->hi++;
		while (j < d->n && d->rows[j].r.id.flow < t->flow)
			j++;
		for (j0 = j2 = j; j2 < d->n && d->rows[j2].r.id.flow == t->flow;)
			j2++;
		t->r0 = c->nrows;
		for (size_t i = t->lo; i < t->hi; i++) {
			const struct vrow *p = &prev->rows[i];
			struct vrow *v;
			bool replaced = false;

			vrow_widen(prev->st, wo, p);
			for (size_t x = j0; x < j2 && !replaced; x++)
				replaced = d->rows[x].r.host == p->r.host;
			if (replaced || (p->r.flags & CONN_F_CLOSED))
				continue;
			if (VEC_RESERVE(&c->rows, &c->rcap, c->nrows + 1))
				return -1;
			v = &c->rows[c->nrows++];
			*v = *p;
			v->r.rate_in = v->r.rate_out = 0;
			v->r.flags &= ~CONN_F_NEW;
		}
		if (append_rows(&c->rows, &c->nrows, &c->rcap, d->rows + j0, j2 - j0))
			return -1;
		t->nr = c->nrows - t->r0;
		if (t->nr)
			sort_rows(c->rows + t->r0, t->nr);
		for (size_t x = t->r0; x < c->nrows; x++)
			vrow_widen(prev->st, wn, &c->rows[x]);
		j = j2;
	}
	return 0;
}

/* The widest values kept from prev's: no field's maximum can have gone with the rows that went
 * (wo) unless the rows that came (wn) reach it again. Rates aside: only unsettled rows have
 * one, and every one of them is touched. */
static bool widest_holds(const struct widest *all, const struct widest *wo, const struct widest *wn)
{
#define HOLDS(f) (wo->f < all->f || wn->f >= wo->f)
	return HOLDS(local) && HOLDS(remote) && HOLDS(comm) && HOLDS(state) && HOLDS(pid) &&
	       HOLDS(bytes) && HOLDS(pkts) && HOLDS(rtt) && HOLDS(limit) && HOLDS(cgroup) &&
	       HOLDS(host);
#undef HOLDS
}

#define WMAX(a, b) ((a) > (b) ? (a) : (b))

static void widest_join(struct widest *all, const struct widest *wn)
{
	all->local = WMAX(all->local, wn->local);
	all->remote = WMAX(all->remote, wn->remote);
	all->comm = WMAX(all->comm, wn->comm);
	all->state = WMAX(all->state, wn->state);
	all->pid = WMAX(all->pid, wn->pid);
	all->bytes = WMAX(all->bytes, wn->bytes);
	all->pkts = WMAX(all->pkts, wn->pkts);
	all->rtt = WMAX(all->rtt, wn->rtt);
	all->limit = WMAX(all->limit, wn->limit);
	all->cgroup = WMAX(all->cgroup, wn->cgroup);
	all->host = WMAX(all->host, wn->host);
	all->rate = wn->rate;
}

/* A host's name as rows show it: none unless its HOST record gave it a state. */
static uint32_t host_name(const struct snapshot *s, uint32_t host)
{
	return host && host <= s->nhosts && s->hosts[host - 1].state ? s->hosts[host - 1].name : 0;
}

static bool hosts_same(const struct snapshot *a, const struct snapshot *b)
{
	size_t n = a->nhosts > b->nhosts ? a->nhosts : b->nhosts;

	for (size_t i = 1; i <= n; i++)
		if (host_name(a, i) != host_name(b, i))
			return false;
	return true;
}

/* What a delta may change in rows it does not carry: their host's name (HOST records) and their
 * cgroup's (a CGROUP record that names a path again). */
static void fix_names(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct vrow *v = &s->rows[i];

		v->hostname = host_name(s, v->r.host);
		if (!v->r.cgroup_id || (s->missing & FIELD_CGROUP))
			continue;
		for (size_t k = 0; k < s->ncgupd; k++)
			if (s->cgupd[k].id == v->r.cgroup_id && s->cgupd[k].host == v->r.host)
				v->cgroup = s->cgupd[k].str;
	}
}

/* The keys of the rows of s[0..n) to settle at the next delta, in key order. */
static int settle_keys(struct vkey **out, size_t *nout, const struct vrow *r, size_t n)
{
	size_t cap = 0, k = 0;
	struct vkey *keys = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!vrow_unsettled(&r[i]))
			continue;
		if (VEC_RESERVE(&keys, &cap, k + 1)) {
			free(keys);
			return -1;
		}
		keys[k++] = vrow_vkey(&r[i]);
	}
	free(*out);
	*out = keys;
	*nout = k;
	return 0;
}

int snapshot_settle_list(struct snapshot *s)
{
	s->settle_ok = !settle_keys(&s->settle, &s->nsettle, s->rows, s->rows ? s->n : 0);
	return s->settle_ok ? 0 : -1;
}

static size_t zmax(size_t a, size_t b)
{
	return a > b ? a : b;
}

int snapshot_apply(struct snapshot *prev, struct snapshot *d, bool steal)
{
	struct applyctx c = { 0 };
	struct thinout o = { .tick = (uint32_t)d->tick, .ptick = (uint32_t)prev->tick };
	struct widest wo = { 0 }, wn = { 0 };
	bool slow = !hosts_same(prev, d) || d->ncgupd;
	uintptr_t old_rows = (uintptr_t)prev->rows;
	size_t n = prev->n, n2 = n, at = 0;
	size_t rcap;
	struct vrow *rows = NULL;
	ptrdiff_t shift = 0;
	int err = -ENOMEM;

	/* a table cut at SNAPSHOT_ROWS_MAX cannot be followed */
	if (!prev->rows || prev->dropped || !d->delta || !d->rows)
		return -EPROTO;
	if (!prev->settle_ok && snapshot_settle_list(prev))
		return -ENOMEM;
	if (slow)
		steal = false; /* prev stays whole: snapshot_thin() compares every row */
	if (touched_flows(&c, prev, d) || new_runs(&c, prev, d, &wo, &wn))
		goto fail;
	for (size_t k = 0; k < c.nt; k++)
		n2 += c.t[k].nr - (c.t[k].hi - c.t[k].lo);
	if (n2 != d->b.table_rows || n2 > UINT32_MAX) {
		err = -EPROTO;
		goto fail;
	}
	/* the delta's rows are in c now: not held twice while the table is made (a real
	 * stream's first deltas carry every connection) */
	free(d->rows);
	d->rows = NULL;
	d->n = d->cap = 0;
	/* what makes prev again, before its rows are overwritten */
	if (!(o.map = malloc((n ? n : 1) * sizeof(*o.map))))
		goto fail;
	for (size_t k = 0; k < c.nt; k++) {
		const struct touched *t = &c.t[k];

		for (size_t i = at; i < t->lo; i++)
			o.map[i] = (uint32_t)(i + shift);
		if (thin_runs(&o, prev->rows + t->lo, t->hi - t->lo, t->lo,
			      c.rows ? c.rows + t->r0 : NULL, t->nr, t->lo + shift))
			goto fail;
		shift += (ptrdiff_t)t->nr - (ptrdiff_t)(t->hi - t->lo);
		at = t->hi;
	}
	for (size_t i = at; i < n; i++)
		o.map[i] = (uint32_t)(i + shift);
	if (VEC_RESERVE(&c.ops, &c.opcap, c.nt + 1) || VEC_RESERVE(&c.sh, &c.shcap, c.nt + 1))
		goto fail;
	/* the rows: prev's own (nobody reads them again) or a copy */
	if (steal) {
		rows = prev->rows;
		rcap = prev->cap;
		if (VEC_RESERVE(&rows, &rcap, zmax(n2, 1)))
			goto fail;
		prev->rows = rows; /* moved maybe */
		prev->cap = rcap;
	} else {
		rcap = 0;
		if (vec_resize(&rows, &rcap, zmax(zmax(n, n2), 1), sizeof(*rows))) {
			free(rows);
			goto fail;
		}
		memcpy(rows, prev->rows, n * sizeof(*rows));
	}
	for (size_t k = 0; k < c.nt; k++)
		c.ops[k] = (struct splice){ c.t[k].lo, c.t[k].hi,
					    c.rows ? c.rows + c.t[k].r0 : NULL, c.t[k].nr };
	n2 = splice_runs(rows, n, sizeof(*rows), c.ops, c.nt, c.sh);
	/* d is the whole snapshot now */
	d->rows = rows;
	d->n = n2;
	d->cap = rcap;
	d->delta = false;
	d->b.rows = d->b.table_rows;
	d->any_v6 |= prev->any_v6;
	if (steal)
		prev->rows = NULL;
	if (slow)
		fix_names(d);
	if (!slow && widest_holds(&prev->all, &wo, &wn)) {
		d->all = prev->all;
		widest_join(&d->all, &wn);
	} else {
		memset(&d->all, 0, sizeof(d->all));
		for (size_t i = 0; i < d->n; i++)
			vrow_widen(d->st, &d->all, &d->rows[i]);
	}
	/* out of memory here: the next delta looks for them among every row */
	d->settle_ok = !settle_keys(&d->settle, &d->nsettle, c.rows, c.nrows);
	if (slow) {
		thinout_free(&o);
		applyctx_free(&c);
		/* names changed in rows the delta did not carry: compare them all */
		if (snapshot_thin(prev, d))
			return -ENOMEM;
		return 0;
	}
	thin_install(prev, d, &o, old_rows, n);
	if (steal)
		snapshot_drop_rows(prev);
	applyctx_free(&c);
	return 0;
fail:
	thinout_free(&o);
	applyctx_free(&c);
	return err;
}

const struct vrow *snapshot_row_before(const struct snapshot *prev, const struct snapshot *next,
				       const struct vrow *v, const struct tcp_figs **figs)
{
	struct vkey k = vrow_vkey(v);
	const struct vrow *rows = prev->rows ? prev->rows : prev->drows;
	size_t n = prev->rows ? prev->n : prev->ndrows, lo = 0, hi;

	*figs = NULL;
	if (!prev->rows) {
		/* a connection next brought: not in prev */
		if (!prev->thin_ok || row_brought(v, next))
			return NULL;
		/* a key that does not differ: its row is next's */
		for (lo = 0, hi = prev->ndkeys; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;

			if (vkey_cmp(&prev->dkeys[mid], &k) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* a key that differs only by NEW: its counters and figures are next's */
		if (lo >= prev->ndkeys || vkey_cmp(&prev->dkeys[lo], &k) ||
		    bit(prev->dnew, prev->ndnew, lo)) {
			*figs = snapshot_figs(next, v);
			return v;
		}
	}
	for (lo = 0, hi = n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (vrow_key_cmp(&rows[mid], v) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= n || vrow_key_cmp(&rows[lo], v))
		return NULL;
	*figs = snapshot_figs(prev, &rows[lo]);
	return &rows[lo];
}
