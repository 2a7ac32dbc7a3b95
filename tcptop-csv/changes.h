/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-csv --changes: which rows of a snapshot stream tell a change, from the rows alone. */
#ifndef TCPTOP_CSV_CHANGES_H
#define TCPTOP_CSV_CHANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "stream.h"

struct changes;

/* figures: the TCP figures count too (their columns are written). */
struct changes *changes_new(bool figures);
void changes_free(struct changes *ch);
/* A new section: its flows are other flows. */
void changes_section(struct changes *ch);
/* A snapshot starts (full: a full one, whose every row is given; else a delta's): what was not
 * seen for CHANGES_FORGET snapshots is forgotten. 0 or -ENOMEM. */
int changes_snapshot(struct changes *ch, bool full);
/* The delta snapshot begun is applied whole: the rows of its table that it did not carry are
 * seen in it, unchanged, without being given (their rows are no change by the rule). Only the
 * carried rows are then given, in the table's order: the cost is theirs, not the table's. */
void changes_table_seen(struct changes *ch);
/* Whether row r is a change (1) or not (0), remembering it; -ENOMEM. */
int changes_row(struct changes *ch, const struct rec_snap_row *r);
/* Connections remembered (for tests and the man page's figures). */
size_t changes_count(const struct changes *ch);

/* A flow not seen for this many snapshots is forgotten (it ended without a closed row, or a
 * stream of changes left it out that long): its next row counts as a first sight, and is
 * written only if it opened, closed or moved. An hour at 1 s: a stream of changes may send its
 * full snapshots far apart, and a state change must not pass for a first sight. Looked for
 * every CHANGES_SWEEP snapshots. */
#define CHANGES_FORGET 3600
#define CHANGES_SWEEP  64

#endif /* TCPTOP_CSV_CHANGES_H */
