// SPDX-License-Identifier: GPL-2.0-or-later
/* Snapshots of the history kept thin: an older snapshot keeps only what differs from the next
 * one (the keys whose rows differ, and its own rows of them), so that a table of idle connections
 * costs its rows once however long the history. Rows of both are in key order (flow, cookie,
 * host); a key may have several rows (a flow id reused within an interval), compared as a run. */
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

static int append_rows(struct vrow **dst, size_t *n, size_t *cap, const struct vrow *src,
		       size_t k)
{
	if (!k)
		return 0;
	if (VEC_RESERVE(dst, cap, *n + k))
		return -1;
	memcpy(*dst + *n, src, k * sizeof(*src));
	*n += k;
	return 0;
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
 * ring). */
static bool row_active(const struct vrow *v)
{
	return v->r.rate_in + v->r.rate_out > 0 || (v->r.flags & CONN_F_CLOSED);
}

int snapshot_thin(struct snapshot *prev, struct snapshot *next)
{
	const struct vrow *p = prev->rows;
	struct vrow *q = next->rows;
	size_t np = prev->n, nq = next->n, i = 0, j = 0, kcap = 0, rcap = 0, acap = 0, fcap = 0;
	struct vkey *keys = NULL;
	struct vrow *rows = NULL;
	uint32_t *map = NULL, *active = NULL, *fresh = NULL;
	size_t nkeys = 0, nrows = 0, nactive = 0, nfresh = 0;

	if (!p || !q || !(map = malloc((np ? np : 1) * sizeof(*map))))
		return -1;
	while (i < np || j < nq) {
		size_t i2 = i, j2 = j;
		int d = i >= np ? 1 : j >= nq ? -1 : vrow_key_cmp(&p[i], &q[j]);

		if (d <= 0)
			i2 = run_end(p, np, i);
		if (d >= 0)
			j2 = run_end(q, nq, j);
		for (size_t x = j; x < j2; x++) {
			if (!row_active(&q[x]))
				continue;
			if (VEC_RESERVE(&active, &acap, nactive + 1))
				goto fail;
			active[nactive++] = x;
		}
		if (d == 0 && runs_equal(p + i, i2 - i, q + j, j2 - j)) {
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
			    VEC_RESERVE(&fresh, &fcap, nfresh + (j2 - j) + 1))
				goto fail;
			keys[nkeys++] = vrow_vkey(d <= 0 ? &p[i] : &q[j]);
			for (size_t x = j; x < j2; x++)
				fresh[nfresh++] = x;
		}
		i = i2;
		j = j2;
	}
	VEC_SHRINK(&keys, &kcap, nkeys);
	VEC_SHRINK(&rows, &rcap, nrows);
	free(prev->dkeys);
	free(prev->drows);
	prev->dkeys = keys;
	prev->drows = rows;
	prev->ndkeys = nkeys;
	prev->ndrows = nrows;
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
	free(map);
	free(active);
	free(fresh);
	return -1;
}

/* Rows of base with the rows of the keys replaced by those of with (both in key order): into
 * *out (n rows expected, a hint). The rows of base replaced go to *taken when taken is not
 * NULL. */
static int merge(const struct vrow *base, size_t nb, const struct vkey *keys, size_t nk,
		 const struct vrow *with, size_t nw, size_t n, struct vrow **out, size_t *nout,
		 struct vrow **taken, size_t *ntaken)
{
	size_t i = 0, k = 0, w = 0, cap = 0, tcap = 0;
	struct vrow *o = NULL, *t = NULL;
	size_t no = 0, nt = 0;

	if (vec_resize(&o, &cap, n ? n : 1, sizeof(*o)))
		return -1;
	while (i < nb || k < nk) {
		struct vkey kb;

		if (i < nb)
			kb = vrow_vkey(&base[i]);
		if (k < nk && (i >= nb || vkey_cmp(&kb, &keys[k]) >= 0)) {
			size_t i2 = i, w2 = w;

			while (i2 < nb) {
				struct vkey x = vrow_vkey(&base[i2]);

				if (vkey_cmp(&x, &keys[k]))
					break;
				i2++;
			}
			while (w2 < nw) {
				struct vkey x = vrow_vkey(&with[w2]);

				if (vkey_cmp(&x, &keys[k]))
					break;
				w2++;
			}
			if (append_rows(&o, &no, &cap, with + w, w2 - w) ||
			    (taken && append_rows(&t, &nt, &tcap, base + i, i2 - i)))
				goto fail;
			i = i2;
			w = w2;
			k++;
		} else {
			size_t i2 = i + 1;

			/* the rows up to the next key, in one copy */
			if (k < nk)
				while (i2 < nb) {
					struct vkey x = vrow_vkey(&base[i2]);

					if (vkey_cmp(&x, &keys[k]) >= 0)
						break;
					i2++;
				}
			else
				i2 = nb;
			if (append_rows(&o, &no, &cap, base + i, i2 - i))
				goto fail;
			i = i2;
		}
	}
	*out = o;
	*nout = no;
	if (taken) {
		VEC_SHRINK(&t, &tcap, nt);
		*taken = t;
		*ntaken = nt;
	}
	return 0;
fail:
	free(o);
	free(t);
	return -1;
}

int snapshot_thicken(struct snapshot *s, struct snapshot *next)
{
	struct vrow *rows, *taken;
	size_t n, nt;

	if (s->rows)
		return 0;
	if (!next->rows || !s->thin_ok)
		return -1;
	if (merge(next->rows, next->n, s->dkeys, s->ndkeys, s->drows, s->ndrows, s->n, &rows, &n,
		  &taken, &nt))
		return -1;
	s->rows = rows;
	s->cap = s->n > n ? s->n : n;
	s->n = n;
	free(s->drnext);
	s->drnext = taken;
	s->ndrnext = nt;
	return 0;
}

int snapshot_thicken_next(struct snapshot *s, struct snapshot *next)
{
	struct vrow *rows;
	size_t n;

	if (next->rows)
		return 0;
	if (!s->rows || !s->drnext || !s->thin_ok)
		return -1;
	if (merge(s->rows, s->n, s->dkeys, s->ndkeys, s->drnext, s->ndrnext, next->n, &rows, &n,
		  NULL, NULL))
		return -1;
	next->rows = rows;
	next->cap = next->n > n ? next->n : n;
	next->n = n;
	return 0;
}

void snapshot_drop_rows(struct snapshot *s)
{
	free_steps(s);
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
	return s->ndkeys * sizeof(*s->dkeys) + s->ndrows * sizeof(*s->drows) +
	       s->ndrnext * sizeof(*s->drnext);
}
