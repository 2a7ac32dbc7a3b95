/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The view's state (what is shown, selection, modes) and its key handling, which returns an
 * action for the main loop; drawing lives in ui.c. */
#ifndef TCPTOP_VIEW_VIEW_H
#define TCPTOP_VIEW_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "htab.h"
#include "table.h"
#include "trend.h"

#define CLOSED_DEFAULT 1000 /* closed connections kept for the 'c' view */
#define CLOSED_MAX     1000000
#define HISTORY_MAX    600 /* snapshots kept for time travel ... */
/* ... and bytes of what makes the older ones again at most (the rows that differ from the next
 * snapshot: none for idle connections) */
#define HISTORY_BYTES (32u << 20)
/* TCP figures added to the view's table between two looks for those no longer used, at least */
#define FIGS_SWEEP_MIN 65536

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
	/* Every snapshot the view holds lives in hist (oldest first); shown and latest point into
	 * it, or shown is closed_snap in the closed view. The newest and those shown are whole, the
	 * others thin (hist.c). */
	struct snapshot *shown;	 /* what the table shows */
	struct snapshot *latest; /* newest snapshot held back while paused or travelling */
	struct snapshot **hist;
	size_t nhist, hist_cap, hist_bytes;
	long travel;	/* 1 + the index in hist shown by time travel; 0: following the input */
	uint64_t ticks; /* snapshots installed */
	struct trends *trends;
	bool trend_on; /* the TREND field at the end of each row */
	/* the last closed connections, a ring, for the closed view */
	struct vrow *closed;
	size_t closed_max, nclosed, closed_next;
	bool show_closed;
	struct snapshot *closed_snap;
	struct snapshot *live; /* what shown was before the closed view */
	bool end_mark;	       /* the input ended on an empty snapshot: the last with rows shown */
	bool dns_on;	       /* remote addresses as host names (reverse DNS) */
	struct dns *dns;       /* the resolver, from the first use of dns_on on; NULL: none */
	bool svc_on;	       /* ports as service names */
	uint64_t arrived;      /* complete snapshots read so far (set by the main loop) */
	uint64_t skipped;      /* of them dropped unseen: the view fell too far behind */
	/* deltas not shown: no table in step to apply them to (a snapshot before them dropped,
	 * or their table_rows differ from the table's); the next full snapshot mends it */
	bool in_step;
	uint64_t deltas_skipped;
	char note[300];	    /* for the status line until the next key ("": none) */
	uint64_t paused_at; /* arrived when the pause began */
	size_t sel, top;    /* selected row and first row shown, indexes into t.v */
	struct conn_key sel_key;
	bool have_sel;
	bool follow; /* the user moved the selection: it follows its connection, else the top */
	bool paused, raw_units, help, detail, editing;
	struct vrow detail_row;	     /* last known fields of the connection in the detail view */
	enum trend_series graph;     /* what its graph shows (g, G) */
	struct tcp_figs detail_figs; /* its TCP figures (a copy of its row's), when ... */
	bool detail_has_figs;	     /* ... it has them */
	bool detail_gone;
	uint64_t detail_until; /* the tick of the last snapshot it was in */
	enum input_end ended;
	uint64_t snapshots;
	int page; /* table rows that fit on screen, set by the drawing layer */
	/* the TCP figures' table (strtab_figs_add): numbers below fhigh handed over in the
	 * snapshots up to the one numbered fseq, fmade figures added until then; those no row
	 * held uses are released once as many were added since the last time (figs_made_at) as
	 * were held then (figs_held), or figs_sweep_min: the table holds at most twice what the
	 * rows hold, and the sweep's least */
	uint32_t fhigh, fseq, fmade, figs_made_at, figs_held, figs_sweep_min;
	uint64_t figs_sweeps;
};

/* Defaults (closed_max, the trend store); before the first install. */
void view_init(struct view *v);
/* Show a new snapshot (or hold it while paused); the view owns it from now on. */
void view_install(struct view *v, struct snapshot *s);
/* The input ended: if the newest snapshot is empty, show the last one that had rows, marked. */
void view_input_ended(struct view *v);
/* The selected entry's row, or NULL. */
const struct vrow *view_selected(const struct view *v);
/* Refilter and resort, keeping the selection on the same connection where it still exists. */
void view_rebuild(struct view *v);
void view_free(struct view *v);

/* Keys as curses returns them (KEY_UP ...). */
enum action view_key(struct view *v, int key);

#endif /* TCPTOP_VIEW_VIEW_H */
