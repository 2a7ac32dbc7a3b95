/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The table a snapshot stream's latest snapshot leaves, keyed by (host, flow): what every reader
 * keeps to apply delta snapshots (tcptop-stream(5), "Delta snapshots (1.1)"). */
#ifndef TCPTOP_SNAPTAB_H
#define TCPTOP_SNAPTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "stream.h"

/*
 * A reader hands every SNAP_BEGIN/DELTA_BEGIN, SNAP_ROW/DELTA_ROW and SNAP_END/DELTA_END to the
 * table and, once snaptab_end() says SNAPTAB_READY, reads the whole table with snaptab_rows()
 * and snaptab_row(): the rows a full snapshot of that interval would have had, in its order.
 *
 * Rows live in slots that do not move while they live (a vec that grows by doubling, the index
 * rebuilt then), so a row costs its struct rec_snap_row, the index node, and four words of
 * order, place and bookkeeping; no row is a heap allocation of its own. Applying a delta touches the
 * rows the previous snapshot carried and the ones this one carries, plus one pass over the
 * order (4 bytes a row) when rows left or came: not every row of the table. A full snapshot's
 * rows are slots 0, 1, 2... in its order, all carried: its order, places and marks are written
 * when a delta comes (a reader of full snapshots only does not pay for them).
 *
 * Rows a delta adds go after the rows of their host (a merged stream lists its rows host by
 * host, each host's in order of appearance; a single host's new rows go at the end).
 */
struct snaptab_slot {
	struct hnode hn; /* in idx, by (host, flow) */
	struct rec_snap_row r;
};

enum snaptab_step {
	SNAPTAB_FULL = 1,	 /* snaptab_begin: a full snapshot; its rows are the table */
	SNAPTAB_DELTA = 2,	 /* snaptab_begin: a delta applied to the table */
	SNAPTAB_SKIP = 3,	 /* begin/end: a delta with no table in step to apply it to */
	SNAPTAB_READY = 4,	 /* snaptab_end: the table is the interval's */
	SNAPTAB_OUT_OF_STEP = 5, /* snaptab_end: the table does not have table_rows rows */
};

struct snaptab {
	struct snaptab_slot *slot;
	size_t nslot, slot_cap;
	uint8_t *mark; /* per slot: SLOT_* bits (snaptab.c) */
	size_t mark_cap;
	uint32_t *pos; /* per slot in the order: its place there */
	size_t pos_cap;
	uint32_t *free_slot; /* slots free for reuse */
	size_t nfree, free_cap;
	uint32_t *order; /* the table in its order: slot numbers */
	size_t n, order_cap;
	uint32_t *tmp; /* the next order, while a delta's new rows are placed */
	size_t tmp_cap;
	uint32_t *carried; /* slots the latest snapshot carried: their rates and NEW are its */
	size_t ncarried, carried_cap;
	uint32_t *added; /* slots this delta added, not in order yet */
	size_t nadded, added_cap;
	uint64_t *keys; /* snaptab_carried()'s sort: place << 32 | slot */
	size_t keys_cap;
	struct htab idx;
	bool indexed; /* idx holds every row (a full snapshot's are indexed when first needed) */
	/* the table is a full snapshot's as it came: row i in slot i, every row carried; order,
	 * pos, carried and mark are not written yet (a delta writes them) */
	bool as_full;

	bool keep;	  /* the section may send deltas (format 1.1): full snapshots are kept */
	bool in_step;	  /* a full snapshot of the section was applied, and every delta since */
	int cur;	  /* the snapshot being read: 0, SNAPTAB_FULL, _DELTA, _SKIP */
	uint32_t want;	  /* its table_rows */
	uint64_t skipped; /* deltas skipped (no table in step: a late join, or after a loss) */
	uint64_t out_of_step; /* snapshots after which the table had not table_rows rows */
};

/* A zeroed struct snaptab is an empty table of a 1.0 section (full snapshots not kept). */
void snaptab_free(struct snaptab *t);
/* A new section (its header): every row forgotten; a 1.1 header makes full snapshots kept. */
void snaptab_section(struct snaptab *t, const struct stream_header *h);
/* SNAP_BEGIN or DELTA_BEGIN (type): SNAPTAB_FULL, SNAPTAB_DELTA or SNAPTAB_SKIP. */
int snaptab_begin(struct snaptab *t, uint32_t type, const struct rec_snap_begin *b);
/* SNAP_ROW or DELTA_ROW (type) of the snapshot begun: 0; -ENOMEM (the table is out of step:
 * the next full snapshot mends it); -EPROTO: a row of the other kind, or outside a snapshot
 * (not applied; the caller says so as it does for a row out of place). A skipped delta's rows
 * return 0. */
static inline int snaptab_add(struct snaptab *t, uint32_t type, const struct rec_snap_row *r);
/* Where the next record, when it is a row of the full snapshot being read, may be decoded
 * (stream_read_row() of lib/stream.h), so that snaptab_add() of it keeps it there instead of
 * copying it: a free slot of a table that keeps full snapshots. NULL otherwise, or when out of
 * memory (snaptab_add() then says so). Valid until the next call that changes the table. */
static inline struct rec_snap_row *snaptab_place(struct snaptab *t);
/* SNAP_END or DELTA_END: SNAPTAB_READY, SNAPTAB_OUT_OF_STEP (counted; deltas are skipped until
 * the next full snapshot), SNAPTAB_SKIP (a skipped delta ended, or no snapshot was begun), or
 * -ENOMEM (out of step too). A snapshot never ended (the input stopped inside it) leaves a
 * delta's table out of step. */
int snaptab_end(struct snaptab *t);

/* The out-of-line parts of snaptab_add() and snaptab_place(): every case but a full snapshot's
 * row decoded in place, and a place when the slots must grow or the index get its buckets. */
int snaptab_add_row(struct snaptab *t, uint32_t type, const struct rec_snap_row *r);
struct rec_snap_row *snaptab_place_room(struct snaptab *t);

static inline int snaptab_add(struct snaptab *t, uint32_t type, const struct rec_snap_row *r)
{
	/* decoded where snaptab_place() said (the only way to the slot after the last): the slot
	 * has its room and the index its buckets; the row is the table's next (as_full) */
	if (t->cur == SNAPTAB_FULL && t->nslot < t->slot_cap && r == &t->slot[t->nslot].r &&
	    type == REC_SNAP_ROW) {
		t->nslot++;
		t->n++;
		t->indexed = false;
		return 0;
	}
	return snaptab_add_row(t, type, r);
}

static inline struct rec_snap_row *snaptab_place(struct snaptab *t)
{
	if (t->cur == SNAPTAB_FULL && t->keep && t->nslot < t->slot_cap && t->nslot < UINT32_MAX &&
	    t->idx.nb)
		return &t->slot[t->nslot].r;
	return snaptab_place_room(t);
}

static inline size_t snaptab_rows(const struct snaptab *t)
{
	return t->n;
}

/* The i-th row of the table (i < snaptab_rows()). */
static inline const struct rec_snap_row *snaptab_row(const struct snaptab *t, size_t i)
{
	return &t->slot[t->as_full ? i : t->order[i]].r;
}

/* The rows the latest snapshot carried (a delta's DELTA_ROWs, every row of a full one) once
 * snaptab_end() said SNAPTAB_READY, put in the table's order: what changed, for a reader that
 * needs only that, at the cost of the carried rows (sorted when they came out of order), not of
 * the table. 0 or -ENOMEM (left as they came). */
int snaptab_carried(struct snaptab *t);

static inline size_t snaptab_ncarried(const struct snaptab *t)
{
	return t->as_full ? t->n : t->ncarried;
}

/* The i-th of them (i < snaptab_ncarried()). */
static inline const struct rec_snap_row *snaptab_carried_row(const struct snaptab *t, size_t i)
{
	return &t->slot[t->as_full ? i : t->carried[i]].r;
}

/* The row of (host, flow) in the table (the latest one added of that key), or NULL. */
const struct rec_snap_row *snaptab_find(const struct snaptab *t, uint32_t host, uint64_t flow);

/* The record types of a delta snapshot. */
static inline bool snaptab_is_delta(uint32_t type)
{
	return type >= REC_DELTA_BEGIN && type <= REC_DELTA_END;
}

#endif /* TCPTOP_SNAPTAB_H */
