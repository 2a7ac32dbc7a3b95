// SPDX-License-Identifier: GPL-2.0-or-later
/* The view's state and keys: each key returns an action; nothing here draws. */
#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"
#include "view.h"

/* The detail view's connection: its fields and its TCP figures. */
static void detail_set(struct view *v, const struct vrow *r)
{
	const struct tcp_figs *f = v->t.snap ? snapshot_figs(v->t.snap, r) : NULL;

	v->detail_row = *r;
	v->detail_has_figs = f != NULL;
	if (f)
		v->detail_figs = *f;
}

static void select_row(struct view *v, size_t i)
{
	if (!v->t.n) {
		v->have_sel = false;
		v->sel = v->top = 0;
		return;
	}
	if (i >= v->t.n)
		i = v->t.n - 1;
	v->sel = i;
	v->sel_key = vrow_key(v->t.v[i]);
	v->have_sel = true;
	if (v->sel < v->top)
		v->top = v->sel;
	if (v->page > 0 && v->sel >= v->top + v->page)
		v->top = v->sel - v->page + 1;
}

void view_rebuild(struct view *v)
{
	size_t offset = v->sel >= v->top ? v->sel - v->top : 0;
	long found = -1;

	table_rebuild(&v->t);
	/* until the user moves the selection, the top of the table shows, as in top(1): a row
	 * that sorts above the selected one comes into view and takes the selection */
	if (v->have_sel && (v->follow || v->detail))
		found = table_find(&v->t, &v->sel_key);
	else if (v->have_sel)
		v->sel = v->top = offset = 0;
	if (found >= 0) {
		/* the selected connection keeps its place on screen where it can */
		v->sel = found;
		v->top = v->sel >= offset ? v->sel - offset : 0;
	}
	if (v->page > 0 && v->t.n > (size_t)v->page && v->top > v->t.n - v->page)
		v->top = v->t.n - v->page;
	if (v->t.n <= (size_t)v->page)
		v->top = 0;
	select_row(v, v->sel);
	if (v->detail) {
		found = v->have_sel ? table_find(&v->t, &v->sel_key) : -1;
		if (found >= 0) {
			detail_set(v, v->t.v[found]);
			v->detail_gone = false;
			v->detail_until = v->shown ? v->shown->tick : 0;
		} else {
			v->detail_gone = true;
		}
	}
}

void view_init(struct view *v)
{
	v->travel = 0;
	if (!v->closed_max)
		v->closed_max = CLOSED_DEFAULT;
	if (!v->trends)
		v->trends = trends_new(); /* NULL: rows show no trend */
	if (!v->figs_sweep_min)
		v->figs_sweep_min = FIGS_SWEEP_MIN;
}

const struct vrow *view_selected(const struct view *v)
{
	return v->have_sel && v->sel < v->t.n ? v->t.v[v->sel] : NULL;
}

/* Keep the closed connections of s in the ring (copies: the snapshot may go). */
static void keep_closed(struct view *v, const struct snapshot *s)
{
	size_t n = s->have_active ? s->nactive : s->n;

	if (!v->closed_max)
		return;
	/* the rows closed are among those snapshot_thin() found active, when it did */
	for (size_t a = 0; a < n; a++) {
		size_t i = s->have_active ? s->active[a] : a;

		if (!(s->rows[i].r.flags & CONN_F_CLOSED))
			continue;
		if (!v->closed && !(v->closed = malloc(v->closed_max * sizeof(*v->closed))))
			return;
		/* its strings and figures are the view's: they outlive s (figs_sweep() keeps the
		 * figures of the ring's rows) */
		v->closed[v->closed_next] = s->rows[i];
		v->closed_next = (v->closed_next + 1) % v->closed_max;
		if (v->nclosed < v->closed_max)
			v->nclosed++;
	}
}

/* A snapshot of the closed ring, with the header and time of the one shown. */
static void build_closed(struct view *v)
{
	const struct snapshot *ref = v->live ? v->live : v->shown;
	struct rec_snap_begin b = { 0 };
	struct stream_header h = { 0 };
	struct snapshot *c;

	if (ref) {
		h = ref->hdr;
		b = ref->b;
	}
	b.rows = v->nclosed;
	c = snapshot_new(&h, &b, ref ? ref->st : NULL);
	if (!c)
		return;
	free(c->rows);
	c->rows = malloc((v->nclosed ? v->nclosed : 1) * sizeof(*c->rows));
	if (!c->rows) {
		snapshot_free(c);
		return;
	}
	c->cap = v->nclosed;
	/* oldest first: the order they closed in */
	for (size_t i = 0; i < v->nclosed; i++) {
		size_t k = (v->closed_next + v->closed_max - v->nclosed + i) % v->closed_max;

		c->rows[c->n++] = v->closed[k];
	}
	c->tick = ref ? ref->tick : 0;
	snapshot_finish(c);
	snapshot_free(v->closed_snap);
	v->closed_snap = c;
}

/* A snapshot of the history that need not stay whole: not the newest, none of those shown or
 * held back, and thin already (what makes it again is kept). */
static void release(struct view *v, struct snapshot *s)
{
	if (!s || !s->rows || !s->thin_ok || !v->nhist || s == v->hist[v->nhist - 1] ||
	    s == v->shown || s == v->live || s == v->latest)
		return;
	snapshot_drop_rows(s);
}

/* Make hist[i] whole, from the nearest whole snapshot after it (the newest always is): -1 when
 * out of memory. The ones made whole on the way are released again. */
static int make_whole(struct view *v, size_t i)
{
	size_t k = i + 1;

	if (v->hist[i]->rows)
		return 0;
	/* one step forward from a whole one before it, when it kept the way (travel) */
	if (i > 0 && v->hist[i - 1]->rows && v->hist[i - 1]->drnext)
		return snapshot_thicken_next(v->hist[i - 1], v->hist[i]);
	while (k < v->nhist && !v->hist[k]->rows)
		k++;
	if (k >= v->nhist)
		return -1; /* the newest is whole: not reached */
	for (size_t j = k; j-- > i;) {
		if (snapshot_thicken(v->hist[j], v->hist[j + 1]))
			return -1;
		if (j + 1 < k)
			release(v, v->hist[j + 1]);
	}
	return 0;
}

static void show(struct view *v, struct snapshot *s)
{
	struct snapshot *old = v->show_closed ? v->live : v->shown;

	if (v->show_closed) {
		v->live = s;
		build_closed(v);
		s = v->closed_snap;
	}
	v->t.snap = s;
	v->shown = s;
	view_rebuild(v);
	if (old != s)
		release(v, old);
}

static void hist_evict(struct view *v)
{
	while (v->nhist > 1 && (v->nhist > HISTORY_MAX || v->hist_bytes > HISTORY_BYTES)) {
		struct snapshot *old = v->hist[0];

		/* never the one on screen or held back */
		if (old == v->shown || old == v->live || old == v->latest)
			break;
		v->hist_bytes -= snapshot_delta_bytes(old);
		memmove(v->hist, v->hist + 1, (v->nhist - 1) * sizeof(*v->hist));
		v->nhist--;
		if (v->travel > 1)
			v->travel--;
		snapshot_free(old);
	}
}

/* Drop the history before hist[i]: it cannot be made again (out of memory). */
static void hist_cut(struct view *v, size_t i)
{
	size_t k = 0;

	for (size_t j = 0; j < v->nhist; j++) {
		struct snapshot *s = v->hist[j];

		if (j < i && s != v->shown && s != v->live && s != v->latest) {
			v->hist_bytes -= snapshot_delta_bytes(s);
			snapshot_free(s);
			continue;
		}
		if (v->travel == (long)j + 1)
			v->travel = (long)k + 1;
		v->hist[k++] = s;
	}
	v->nhist = k;
}

/* A delta applied to the newest snapshot: 0, or -1 when it is not shown (out of step: the
 * deltas until the next full snapshot are not either; out of memory). */
static int apply_delta(struct view *v, struct snapshot *prev, struct snapshot *s)
{
	/* nobody reads prev's rows again once s is shown, unless prev stays on screen */
	bool steal = !(v->paused || v->travel) || (prev != v->shown && prev != v->live);
	int e;

	if (!v->in_step || !prev || s->after_gap) {
		v->in_step = false;
		v->deltas_skipped++;
		return -1;
	}
	s->tick = v->ticks + 1;
	e = snapshot_apply(prev, s, steal);
	if (e) {
		v->in_step = false;
		v->deltas_skipped++;
		return -1;
	}
	v->hist_bytes += snapshot_delta_bytes(prev);
	return 0;
}

static void mark_rows(uint64_t *held, uint32_t n, const struct vrow *rows, size_t nrows)
{
	for (size_t i = 0; rows && i < nrows; i++) {
		uint32_t f = vrow_figs(&rows[i]);

		if (f < n)
			held[f / 64] |= 1ull << (f % 64);
	}
}

/* Tell the figures' table which of its figures no row the view holds uses any more, once as
 * many were added since the last time as were held then (figs_sweep_min at least): what the
 * reader thread then frees and uses again. Out of memory: another time. */
static void figs_sweep(struct view *v, const struct snapshot *s)
{
	uint32_t n = v->fhigh, held_n = 0;
	uint64_t *held;

	if (!s->st || v->fmade - v->figs_made_at <
			      (v->figs_held > v->figs_sweep_min ? v->figs_held : v->figs_sweep_min))
		return;
	held = calloc((n + 63) / 64, sizeof(*held));
	if (!held)
		return;
	for (size_t i = 0; i < v->nhist; i++) {
		const struct snapshot *h = v->hist[i];

		mark_rows(held, n, h->rows, h->n);
		mark_rows(held, n, h->drows, h->ndrows);
		mark_rows(held, n, h->drnext, h->ndrnext);
	}
	mark_rows(held, n, v->closed, v->nclosed);
	if (v->closed_snap)
		mark_rows(held, n, v->closed_snap->rows, v->closed_snap->n);
	for (uint32_t w = 0; w < (n + 63) / 64; w++)
		held_n += (uint32_t)__builtin_popcountll(held[w]);
	v->figs_made_at = v->fmade;
	v->figs_held = held_n;
	v->figs_sweeps++;
	strtab_figs_release(s->st, held, n, v->fseq);
}

void view_install(struct view *v, struct snapshot *s)
{
	struct snapshot *prev = v->nhist ? v->hist[v->nhist - 1] : NULL;

	if (VEC_RESERVE(&v->hist, &v->hist_cap, v->nhist + 1)) { /* no room: not shown */
		v->in_step &= !s->delta;
		snapshot_free(s);
		return;
	}
	if (s->delta) {
		if (apply_delta(v, prev, s)) {
			snapshot_free(s);
			return;
		}
	} else {
		/* the previous newest keeps only what makes it again from s (and gives s the
		 * ticks its connections were first seen) */
		v->in_step = true;
		s->tick = v->ticks + 1;
		if (prev && snapshot_thin(prev, s) == 0) {
			v->hist_bytes += snapshot_delta_bytes(prev);
		} else {
			/* the first snapshot, or out of memory: every row is new */
			for (size_t i = 0; i < s->n; i++)
				s->rows[i].since = (uint32_t)s->tick;
			s->nbrought = (uint32_t)s->n;
			if (prev)
				hist_cut(v, v->nhist); /* prev too, unless shown */
			prev = NULL;
		}
	}
	v->snapshots++;
	v->ticks++;
	if (v->trends)
		trends_add(v->trends, s, prev);
	keep_closed(v, s);
	v->hist[v->nhist++] = s;
	v->end_mark = false;
	if (s->fhigh > v->fhigh)
		v->fhigh = s->fhigh;
	if ((int32_t)(s->fmade - v->fmade) > 0)
		v->fmade = s->fmade;
	if ((int32_t)(s->fseq - v->fseq) > 0)
		v->fseq = s->fseq;
	if (v->paused || v->travel) {
		v->latest = s;
		if (v->show_closed && !v->paused) {
			build_closed(v);
			v->t.snap = v->shown = v->closed_snap;
			view_rebuild(v);
		}
	} else {
		show(v, s);
		/* the table is sorted: the steps from prev (4 bytes a row) are done with */
		snapshot_drop_steps(s);
	}
	if (prev)
		release(v, prev);
	hist_evict(v);
	figs_sweep(v, s);
}

void view_input_ended(struct view *v)
{
	const struct snapshot *cur = v->show_closed ? v->live : v->shown;

	if (!cur || cur->n || v->paused || v->travel)
		return;
	for (size_t i = v->nhist; i-- > 0;) {
		if (v->hist[i]->n) {
			if (make_whole(v, i))
				return; /* out of memory: the empty one stays */
			v->travel = (long)i + 1;
			show(v, v->hist[i]);
			v->end_mark = true;
			return;
		}
	}
}

void view_free(struct view *v)
{
	table_free(&v->t);
	for (size_t i = 0; i < v->nhist; i++)
		snapshot_free(v->hist[i]);
	free(v->hist);
	snapshot_free(v->closed_snap);
	free(v->closed);
	trends_free(v->trends);
	v->hist = NULL;
	v->closed = NULL;
	v->closed_snap = NULL;
	v->trends = NULL;
	v->nhist = v->hist_cap = 0;
	v->shown = v->latest = v->live = NULL;
}

/* Time travel: step through the snapshots held (-1 older, +1 newer); past the newest, follow the
 * input again. */
static void travel(struct view *v, int dir)
{
	long i = v->travel ? v->travel - 1 : (long)v->nhist - 1;

	if (!v->nhist)
		return;
	if (!v->travel && dir > 0)
		return;
	i += dir;
	if (i < 0)
		i = 0;
	v->end_mark = false;
	if (i >= (long)v->nhist - 1 && dir > 0) {
		v->travel = 0;
		v->paused = false;
		v->latest = NULL;
		show(v, v->hist[v->nhist - 1]);
		return;
	}
	if (make_whole(v, (size_t)i)) {
		snprintf(v->note, sizeof(v->note), "out of memory: that snapshot cannot be shown");
		return;
	}
	v->travel = i + 1;
	show(v, v->hist[i]);
}

/* The filter takes any UTF-8: curses hands over a multibyte character one byte at a time. */
static void filter_backspace(char *f)
{
	size_t len = strlen(f);

	while (len && ((unsigned char)f[len - 1] & 0xC0) == 0x80)
		len--;
	if (len)
		len--;
	f[len] = '\0';
}

static enum action filter_key(struct view *v, int key)
{
	size_t len = strlen(v->t.filter);

	switch (key) {
	case 27: /* Esc: drop the filter */
		v->t.filter[0] = '\0';
		v->editing = false;
		return ACT_REBUILD;
	case '\n':
	case '\r':
	case KEY_ENTER:
		v->editing = false;
		return ACT_REDRAW;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (!len)
			return ACT_NONE;
		filter_backspace(v->t.filter);
		return ACT_REBUILD;
	case 21: /* Ctrl-U */
		v->t.filter[0] = '\0';
		return ACT_REBUILD;
	}
	if (key < 0x20 || key > 0xff || key == 0x7f || len + 1 >= sizeof(v->t.filter))
		return ACT_NONE;
	v->t.filter[len] = key;
	v->t.filter[len + 1] = '\0';
	return ACT_REBUILD;
}

static void unpause(struct view *v)
{
	v->paused = false;
	if (v->travel)
		return; /* still travelling: ] goes forward */
	if (v->latest) {
		struct snapshot *s = v->latest;

		v->latest = NULL;
		show(v, s);
	}
}

enum action view_key(struct view *v, int key)
{
	size_t page = v->page > 1 ? v->page - 1 : 1;

	v->note[0] = '\0';
	if (key == KEY_RESIZE)
		return ACT_REDRAW;
	if (key == 3) /* Ctrl-C reaching us as a key (the terminal's ISIG off) */
		return ACT_QUIT;
	if (v->editing)
		return filter_key(v, key);
	if (v->help) {
		if (key == 'q')
			return ACT_QUIT;
		v->help = false;
		return ACT_REDRAW;
	}
	if (v->detail) {
		switch (key) {
		case 'q':
			return ACT_QUIT;
		case 27:
		case '\n':
		case '\r':
		case KEY_ENTER:
		case KEY_BACKSPACE:
		case KEY_LEFT:
		case 127:
			v->detail = false;
			return ACT_REDRAW;
		case 'p':
			break;
		case 'g': /* the next graph, the previous */
		case 'G': {
			enum trend_series last = v->detail_has_figs ? TS_N - 1 : TS_RATE;

			v->graph = key == 'g' ? (v->graph >= last ? TS_RATE : v->graph + 1)
					      : (v->graph == TS_RATE ? last : v->graph - 1);
			return ACT_REDRAW;
		}
		default:
			return ACT_NONE;
		}
	}
	switch (key) {
	case 'q':
	case 'Q':
		return ACT_QUIT;
	case KEY_UP:
	case 'k':
		select_row(v, v->sel ? v->sel - 1 : 0);
		v->follow = true;
		return ACT_REDRAW;
	case KEY_DOWN:
	case 'j':
		select_row(v, v->sel + 1);
		v->follow = true;
		return ACT_REDRAW;
	case KEY_PPAGE:
		select_row(v, v->sel > page ? v->sel - page : 0);
		v->follow = true;
		return ACT_REDRAW;
	case KEY_NPAGE:
	case ' ':
		select_row(v, v->sel + page);
		v->follow = true;
		return ACT_REDRAW;
	case KEY_HOME:
	case 'g':
		select_row(v, 0);
		v->follow = false;
		return ACT_REDRAW;
	case KEY_END:
	case 'G':
		select_row(v, v->t.n ? v->t.n - 1 : 0);
		v->follow = true;
		return ACT_REDRAW;
	case KEY_LEFT:
	case '<':
		v->t.sort = (v->t.sort + NCOLS - 1) % NCOLS;
		v->t.reverse = false;
		return ACT_REBUILD;
	case KEY_RIGHT:
	case '>':
		v->t.sort = (v->t.sort + 1) % NCOLS;
		v->t.reverse = false;
		return ACT_REBUILD;
	case 'r':
		v->t.reverse = !v->t.reverse;
		return ACT_REBUILD;
	case '/':
		v->editing = true;
		return ACT_REDRAW;
	case 'p':
		if (v->paused) {
			unpause(v);
		} else {
			v->paused = true;
			v->paused_at = v->arrived;
		}
		return ACT_REDRAW;
	case 'u':
		v->raw_units = !v->raw_units;
		return ACT_REDRAW;
	case 'a': /* group: by process, by cgroup, none */
		v->t.group = (v->t.group + 1) % NGROUP_MODES;
		v->t.nexpanded = 0;
		return ACT_REBUILD;
	case 't':
		v->trend_on = !v->trend_on;
		return ACT_REDRAW;
	case 'd':
		v->dns_on = !v->dns_on;
		return ACT_REDRAW;
	case 'n':
		v->svc_on = !v->svc_on;
		return ACT_REDRAW;
	case 'c':
		if (v->show_closed) {
			v->show_closed = false;
			v->t.snap = v->shown = v->live;
			v->live = NULL;
		} else {
			v->show_closed = true;
			v->live = v->shown;
			build_closed(v);
			v->t.snap = v->shown = v->closed_snap;
		}
		return ACT_REBUILD;
	case '[':
		travel(v, -1);
		return ACT_REDRAW;
	case ']':
		travel(v, 1);
		return ACT_REDRAW;
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (!v->have_sel)
			return ACT_NONE;
		if (vrow_conns(v->t.v[v->sel])) { /* a group: open or close it */
			table_toggle(&v->t, v->t.v[v->sel]->r.id.cookie);
			return ACT_REBUILD;
		}
		v->detail = true;
		detail_set(v, v->t.v[v->sel]);
		v->detail_gone = false;
		v->detail_until = v->shown ? v->shown->tick : 0;
		return ACT_REDRAW;
	case '?':
	case 'h':
	case KEY_F(1):
		v->help = true;
		return ACT_REDRAW;
	case 12: /* Ctrl-L */
		return ACT_REPAINT;
	}
	return ACT_NONE;
}
