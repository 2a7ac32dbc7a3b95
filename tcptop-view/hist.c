// SPDX-License-Identifier: GPL-2.0-or-later
/* Snapshots of the history kept thin: an older snapshot keeps only what differs from the next
 * one (the keys whose rows or TCP figures differ, and its own rows and figures of them), so that
 * a table of idle connections costs its rows once however long the history. Rows and figures of
 * both are in key order (flow, cookie, host); a key may have several rows (a flow id reused
 * within an interval), compared as a run. */
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

/* The end of the figures of key k from f[i] on (those before it skipped: none are). */
static size_t figs_run(const struct vfigs *f, size_t n, size_t *i, const struct vkey *k)
{
	size_t j;

	while (*i < n && vkey_cmp(&f[*i].k, k) < 0)
		(*i)++;
	for (j = *i; j < n && !vkey_cmp(&f[j].k, k);)
		j++;
	return j;
}

static bool figs_equal(const struct vfigs *a, size_t na, const struct vfigs *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (vkey_cmp(&a[i].k, &b[i].k) || memcmp(&a[i].f, &b[i].f, sizeof(a[i].f)))
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

/* A row that matters beyond the table: it moved bytes (the trends) or closed (the closed
 * ring), or it changed and has TCP figures (they may have moved without a byte: a stalled
 * sender's clocks run). */
static bool row_active(const struct vrow *v, bool changed)
{
	return v->r.rate_in + v->r.rate_out > 0 || (v->r.flags & CONN_F_CLOSED) ||
	       (changed && v->has_figs);
}

static const struct vfigs none[1];

int snapshot_thin(struct snapshot *prev, struct snapshot *next)
{
	const struct vrow *p = prev->rows;
	struct vrow *q = next->rows;
	size_t np = prev->n, nq = next->n, i = 0, j = 0, kcap = 0, rcap = 0, acap = 0, fcap = 0;
	size_t fp = 0, fq = 0, gcap = 0, nfigs = 0;
	struct vkey *keys = NULL;
	struct vrow *rows = NULL;
	struct vfigs *figs = NULL;
	const struct vfigs *pf = prev->figs ? prev->figs : none,
			   *qf = next->figs ? next->figs : none;
	uint32_t *map = NULL, *active = NULL, *fresh = NULL;
	size_t nkeys = 0, nrows = 0, nactive = 0, nfresh = 0;

	if (!p || !q || !(map = malloc((np ? np : 1) * sizeof(*map))))
		return -1;
	while (i < np || j < nq) {
		size_t i2 = i, j2 = j, fp2, fq2;
		int d = i >= np ? 1 : j >= nq ? -1 : vrow_key_cmp(&p[i], &q[j]);
		struct vkey key = vrow_vkey(d <= 0 ? &p[i] : &q[j]);
		bool same;

		if (d <= 0)
			i2 = run_end(p, np, i);
		if (d >= 0)
			j2 = run_end(q, nq, j);
		fp2 = figs_run(pf, prev->nfigs, &fp, &key);
		fq2 = figs_run(qf, next->nfigs, &fq, &key);
		same = d == 0 && runs_equal(p + i, i2 - i, q + j, j2 - j) &&
		       figs_equal(pf + fp, fp2 - fp, qf + fq, fq2 - fq);
		for (size_t x = j; x < j2; x++) {
			if (!row_active(&q[x], !same))
				continue;
			if (VEC_RESERVE(&active, &acap, nactive + 1))
				goto fail;
			active[nactive++] = x;
		}
		if (same) {
			for (size_t x = 0; x < j2 - j; x++) {
				q[j + x].since = p[i + x].since;
				map[i + x] = j + x;
			}
		} else {
			/* a connection seen before keeps the tick it was first seen */
			for (size_t x = j; x < j2; x++)
				q[x].since = i2 > i ? p[i].since : (uint32_t)next->tick;
			for (size_t x = i; x < i2; x++)
				map[x] = UINT32_MAX;
			if (VEC_RESERVE(&keys, &kcap, nkeys + 1) ||
			    append_rows(&rows, &nrows, &rcap, p + i, i2 - i) ||
			    append(&figs, &nfigs, &gcap, pf + fp, fp2 - fp, sizeof(*figs)) ||
			    VEC_RESERVE(&fresh, &fcap, nfresh + (j2 - j) + 1))
				goto fail;
			keys[nkeys++] = key;
			for (size_t x = j; x < j2; x++)
				fresh[nfresh++] = x;
		}
		i = i2;
		j = j2;
		fp = fp2;
		fq = fq2;
	}
	VEC_SHRINK(&keys, &kcap, nkeys);
	VEC_SHRINK(&rows, &rcap, nrows);
	VEC_SHRINK(&figs, &gcap, nfigs);
	free(prev->dkeys);
	free(prev->drows);
	free(prev->dfigs);
	prev->dkeys = keys;
	prev->drows = rows;
	prev->dfigs = figs;
	prev->ndkeys = nkeys;
	prev->ndrows = nrows;
	prev->ndfigs = nfigs;
	prev->thin_ok = true;
	free_steps(prev); /* its own steps from the one before are done with */
	free_steps(next);
	next->active = active;
	next->nactive = nactive;
	next->from_prev = map;
	next->nfrom_prev = np;
	next->fresh = fresh;
	next->nfresh = nfresh;
	next->have_active = next->have_map = true;
	next->prev_rows = (uintptr_t)p;
	next->prev_tick = prev->tick;
	return 0;
fail:
	free(keys);
	free(rows);
	free(figs);
	free(map);
	free(active);
	free(fresh);
	return -1;
}

static struct vkey row_key(const void *e)
{
	return vrow_vkey(e);
}

static struct vkey figs_key(const void *e)
{
	return ((const struct vfigs *)e)->k;
}

/* What merge() merges: rows or figures, each in key order. */
struct elems {
	const void *e;
	size_t n;
};

/* The elements (of size bytes, their key by key()) of base with those of the keys replaced by
 * those of with: into *out (n expected, a hint). The elements of base replaced go to *taken
 * when taken is not NULL. */
static int merge(size_t size, struct vkey (*key)(const void *), struct elems base,
		 const struct vkey *keys, size_t nk, struct elems with, size_t n, void *out,
		 size_t *nout, void *taken, size_t *ntaken)
{
	const char *b = base.e, *wi = with.e;
	size_t nb = base.n, nw = with.n, i = 0, k = 0, w = 0, cap = 0, tcap = 0;
	char *o = NULL, *t = NULL;
	size_t no = 0, nt = 0;
	static const char nothing[1];

	if (!b)
		b = nothing; /* no element: never read, but pointer arithmetic on it is */
	if (!wi)
		wi = nothing;

	if (vec_resize(&o, &cap, n ? n : 1, size))
		return -1;
	while (i < nb || k < nk) {
		struct vkey kb;

		if (i < nb)
			kb = key(b + i * size);
		if (k < nk && (i >= nb || vkey_cmp(&kb, &keys[k]) >= 0)) {
			size_t i2 = i, w2 = w;

			while (i2 < nb) {
				struct vkey x = key(b + i2 * size);

				if (vkey_cmp(&x, &keys[k]))
					break;
				i2++;
			}
			while (w2 < nw) {
				struct vkey x = key(wi + w2 * size);

				if (vkey_cmp(&x, &keys[k]))
					break;
				w2++;
			}
			if (append(&o, &no, &cap, wi + w * size, w2 - w, size) ||
			    (taken && append(&t, &nt, &tcap, b + i * size, i2 - i, size)))
				goto fail;
			i = i2;
			w = w2;
			k++;
		} else {
			size_t i2 = i + 1;

			/* the elements up to the next key, in one copy */
			if (k < nk)
				while (i2 < nb) {
					struct vkey x = key(b + i2 * size);

					if (vkey_cmp(&x, &keys[k]) >= 0)
						break;
					i2++;
				}
			else
				i2 = nb;
			if (append(&o, &no, &cap, b + i * size, i2 - i, size))
				goto fail;
			i = i2;
		}
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

static struct elems figs_of(const struct vfigs *f, size_t n)
{
	return (struct elems){ f, f ? n : 0 };
}

/* s made whole again: its rows and figures. */
static void made_whole(struct snapshot *s, struct vrow *rows, size_t n, struct vfigs *figs,
		       size_t nf)
{
	s->rows = rows;
	s->cap = s->n > n ? s->n : n;
	s->n = n;
	free(s->figs);
	s->figs = figs;
	s->nfigs = nf;
	s->figs_cap = nf ? nf : 1;
}

int snapshot_thicken(struct snapshot *s, struct snapshot *next)
{
	struct vrow *rows, *taken;
	struct vfigs *figs, *ftaken;
	size_t n, nt, nf, nft;

	if (s->rows)
		return 0;
	if (!next->rows || !s->thin_ok)
		return -1;
	if (merge(sizeof(*rows), row_key, rows_of(next->rows, next->n), s->dkeys, s->ndkeys,
		  rows_of(s->drows, s->ndrows), s->n, &rows, &n, &taken, &nt))
		return -1;
	if (merge(sizeof(*figs), figs_key, figs_of(next->figs, next->nfigs), s->dkeys, s->ndkeys,
		  figs_of(s->dfigs, s->ndfigs), next->nfigs, &figs, &nf, &ftaken, &nft)) {
		free(rows);
		free(taken);
		return -1;
	}
	made_whole(s, rows, n, figs, nf);
	free(s->drnext);
	s->drnext = taken;
	s->ndrnext = nt;
	free(s->dfnext);
	s->dfnext = ftaken;
	s->ndfnext = nft;
	return 0;
}

int snapshot_thicken_next(struct snapshot *s, struct snapshot *next)
{
	struct vrow *rows;
	struct vfigs *figs;
	size_t n, nf;

	if (next->rows)
		return 0;
	if (!s->rows || !s->drnext || !s->thin_ok)
		return -1;
	if (merge(sizeof(*rows), row_key, rows_of(s->rows, s->n), s->dkeys, s->ndkeys,
		  rows_of(s->drnext, s->ndrnext), next->n, &rows, &n, NULL, NULL))
		return -1;
	if (merge(sizeof(*figs), figs_key, figs_of(s->figs, s->nfigs), s->dkeys, s->ndkeys,
		  figs_of(s->dfnext, s->ndfnext), s->nfigs, &figs, &nf, NULL, NULL)) {
		free(rows);
		return -1;
	}
	made_whole(next, rows, n, figs, nf);
	return 0;
}

void snapshot_drop_rows(struct snapshot *s)
{
	free_steps(s);
	free(s->rows);
	free(s->drnext);
	free(s->figs);
	free(s->dfnext);
	free(s->grp[0]);
	free(s->grp[1]);
	s->figs = s->dfnext = NULL;
	s->nfigs = s->figs_cap = s->ndfnext = 0;
	s->rows = s->drnext = NULL;
	s->grp[0] = s->grp[1] = NULL;
	s->ngrp[0] = s->ngrp[1] = 0;
	s->cap = s->ndrnext = 0;
}

size_t snapshot_delta_bytes(const struct snapshot *s)
{
	return s->ndkeys * sizeof(*s->dkeys) + s->ndrows * sizeof(*s->drows) +
	       s->ndrnext * sizeof(*s->drnext) + s->ndfigs * sizeof(*s->dfigs) +
	       s->ndfnext * sizeof(*s->dfnext);
}
