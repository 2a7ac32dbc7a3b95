/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The view's state (what is shown, selection, modes) and its key handling, which returns an
 * action for the main loop; drawing lives in ui.c. */
#ifndef TCPTOP_VIEW_VIEW_H
#define TCPTOP_VIEW_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "table.h"

enum action {
	ACT_NONE,
	ACT_REDRAW,  /* something on screen changed */
	ACT_REBUILD, /* filter or sort changed: refilter, resort, redraw */
	ACT_REPAINT, /* the screen may be garbled: repaint every cell */
	ACT_QUIT,
};

enum input_end {
	END_NONE,   /* input continues */
	END_CLEAN,  /* END record, then end of input */
	END_NO_END, /* input stopped without END: the producer was killed */
};

struct view {
	struct table t;
	struct snapshot *shown;	 /* what the table shows */
	struct snapshot *latest; /* newest snapshot held back while paused */
	uint64_t arrived;	 /* complete snapshots read so far (set by the main loop) */
	uint64_t paused_at;	 /* arrived when the pause began */
	size_t sel, top;	 /* selected row and first row shown, indexes into t.v */
	struct conn_key sel_key;
	bool have_sel;
	bool paused, raw_units, help, detail, editing;
	struct vrow detail_row; /* last known fields of the connection in the detail view */
	bool detail_gone;
	enum input_end ended;
	uint64_t snapshots;
	int page; /* table rows that fit on screen, set by the drawing layer */
};

/* Show a new snapshot (or hold it while paused); the view owns it from now on. */
void view_install(struct view *v, struct snapshot *s);
/* Refilter and resort, keeping the selection on the same connection where it still exists. */
void view_rebuild(struct view *v);
void view_free(struct view *v);

/* Keys as curses returns them (KEY_UP ...). */
enum action view_key(struct view *v, int key);

#endif /* TCPTOP_VIEW_VIEW_H */
