// SPDX-License-Identifier: GPL-2.0-or-later
/* The view's state and keys: each key returns an action; nothing here draws. */
#include <curses.h>
#include <string.h>

#include "view.h"

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
	if (v->have_sel)
		found = table_find(&v->t, &v->sel_key);
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
			v->detail_row = *v->t.v[found];
			v->detail_gone = false;
		} else {
			v->detail_gone = true;
		}
	}
}

void view_install(struct view *v, struct snapshot *s)
{
	v->snapshots++;
	if (v->paused) {
		snapshot_free(v->latest);
		v->latest = s;
		return;
	}
	v->t.snap = s;
	view_rebuild(v);
	snapshot_free(v->shown);
	v->shown = s;
}

void view_free(struct view *v)
{
	table_free(&v->t);
	snapshot_free(v->shown);
	snapshot_free(v->latest);
	v->shown = v->latest = NULL;
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
		v->t.filter[len - 1] = '\0';
		return ACT_REBUILD;
	case 21: /* Ctrl-U */
		v->t.filter[0] = '\0';
		return ACT_REBUILD;
	}
	if (key < 0x20 || key > 0x7e || len + 1 >= sizeof(v->t.filter))
		return ACT_NONE;
	v->t.filter[len] = key;
	v->t.filter[len + 1] = '\0';
	return ACT_REBUILD;
}

static void unpause(struct view *v)
{
	v->paused = false;
	if (v->latest) {
		struct snapshot *s = v->latest;

		v->latest = NULL;
		v->snapshots--; /* counted when it arrived */
		view_install(v, s);
	}
}

enum action view_key(struct view *v, int key)
{
	size_t page = v->page > 1 ? v->page - 1 : 1;

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
		return ACT_REDRAW;
	case KEY_DOWN:
	case 'j':
		select_row(v, v->sel + 1);
		return ACT_REDRAW;
	case KEY_PPAGE:
		select_row(v, v->sel > page ? v->sel - page : 0);
		return ACT_REDRAW;
	case KEY_NPAGE:
	case ' ':
		select_row(v, v->sel + page);
		return ACT_REDRAW;
	case KEY_HOME:
	case 'g':
		select_row(v, 0);
		return ACT_REDRAW;
	case KEY_END:
	case 'G':
		select_row(v, v->t.n ? v->t.n - 1 : 0);
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
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (!v->have_sel)
			return ACT_NONE;
		v->detail = true;
		v->detail_row = *v->t.v[v->sel];
		v->detail_gone = false;
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
