/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Records into snapshots, as the reader thread turns them (feed.c) and the fuzz target too: a
 * full snapshot whole, a delta as it came (snapshot_apply() makes it whole in the view). */
#ifndef TCPTOP_VIEW_READER_H
#define TCPTOP_VIEW_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "stream.h"
#include "table.h"

struct snapreader {
	struct strtab *st;	/* the rows' strings (not owned) */
	struct cgroup_table cg; /* paths of the section's (host, cgroup id) */
	/* deltas: the section may send them (1.1), a full snapshot of it was read and every
	 * delta since ended (the view applies them, and checks each one's table_rows) */
	bool keep, in_step;
	struct cgupd *cgupd; /* CGROUP records since the last snapshot completed */
	size_t ncgupd, cgupd_cap;
	struct snapshot *building;
	uint32_t kind; /* REC_SNAP_BEGIN or REC_DELTA_BEGIN being read, 0: none */
};

/* The first section's header (read before): what its deltas may be. */
void snapreader_start(struct snapreader *sr, struct strtab *st, const struct stream_header *h);
/* One record of rd: the snapshot it completed (the caller's), or NULL. Out of memory: a full
 * snapshot's row is counted as not shown, a delta missing a row is not shown (nor the deltas
 * after it until a full snapshot). */
struct snapshot *snapreader_step(struct snapreader *sr, struct stream_reader *rd,
				 const struct rec *r);
void snapreader_free(struct snapreader *sr);

#endif /* TCPTOP_VIEW_READER_H */
