// SPDX-License-Identifier: GPL-2.0-or-later
/* Records into snapshots (reader.h). */
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "vec.h"

void snapreader_start(struct snapreader *sr, struct strtab *st, const struct stream_header *h)
{
	sr->st = st;
	sr->keep = h->minor >= 1;
	sr->in_step = false;
}

void snapreader_free(struct snapreader *sr)
{
	snapshot_free(sr->building);
	free(sr->cgupd);
	cgroup_table_free(&sr->cg);
	memset(sr, 0, sizeof(*sr));
}

/* A CGROUP record: the string rows of its (host, id) show from now on, for the view to give the
 * rows it holds that no delta carries. Out of memory: they keep the string they had. */
static void cgroup_read(struct snapreader *sr, const struct rec_cgroup *c)
{
	const struct cgroup_ent *ce;

	/* a merged stream's hosts may share an id: the row's host picks the path */
	cgroup_table_set_host(&sr->cg, c->host, c->id, c->path);
	ce = cgroup_table_get_host(&sr->cg, c->host, c->id);
	if (!ce || VEC_RESERVE(&sr->cgupd, &sr->cgupd_cap, sr->ncgupd + 1))
		return;
	sr->cgupd[sr->ncgupd++] = (struct cgupd){
		.id = c->id,
		.host = c->host,
		.str = strtab_add(sr->st, STR_CGROUP, ce->short_name, strlen(ce->short_name), NULL),
	};
}

/* A snapshot read: with the CGROUP records read since the one before. */
static struct snapshot *complete(struct snapreader *sr)
{
	struct snapshot *s = sr->building;

	sr->building = NULL;
	sr->kind = 0;
	if (sr->ncgupd) {
		s->cgupd = sr->cgupd;
		s->ncgupd = sr->ncgupd;
		sr->cgupd = NULL;
		sr->ncgupd = sr->cgupd_cap = 0;
	}
	s->fhigh = strtab_figs_high(sr->st);
	s->fmade = strtab_figs_made(sr->st);
	snapshot_finish(s);
	return s;
}

static void drop(struct snapreader *sr)
{
	snapshot_free(sr->building); /* an incomplete snapshot is never shown */
	sr->building = NULL;
	sr->kind = 0;
}

struct snapshot *snapreader_step(struct snapreader *sr, struct stream_reader *rd,
				 const struct rec *r)
{
	switch (r->type) {
	case REC_HEADER:
		/* a new section: its deltas wait for its first full snapshot */
		sr->keep = r->u.header.minor >= 1;
		sr->in_step = false;
		break;
	case REC_SNAP_BEGIN:
	case REC_DELTA_BEGIN:
		drop(sr);
		/* a delta with no table to apply it to (a late start, or one not ended) is not
		 * shown, nor are the deltas after it until a full snapshot */
		if (r->type == REC_DELTA_BEGIN && (!sr->keep || !sr->in_step))
			break;
		sr->in_step = false;
		sr->kind = r->type;
		/* out of memory: this snapshot is skipped, the next full one may fit */
		sr->building = snapshot_new(stream_reader_header(rd), &r->u.snap_begin, sr->st);
		if (sr->building) {
			sr->building->delta = r->type == REC_DELTA_BEGIN;
			/* the TCP figures the view released are freed here, before its rows */
			sr->building->fseq = strtab_figs_begin(sr->st);
		}
		break;
	case REC_HOST:
	case REC_DELTA_HOST:
		/* out of memory: its rows show no host name */
		if (sr->building)
			snapshot_add_host(sr->building, &r->u.host);
		break;
	case REC_SNAP_ROW:
	case REC_DELTA_ROW:
		/* a row of the other kind is not applied */
		if (!sr->building || r->type != sr->kind + 1 ||
		    snapshot_add(sr->building, &r->u.row, &sr->cg) == 0)
			break;
		sr->building->dropped++;
		if (sr->building->delta)
			drop(sr);
		break;
	case REC_SNAP_END:
	case REC_DELTA_END:
		if (!sr->building)
			break;
		sr->in_step = sr->keep;
		return complete(sr);
	case REC_END:
		drop(sr);
		cgroup_table_clear(&sr->cg); /* ids belong to their section */
		break;
	case REC_CGROUP:
		cgroup_read(sr, &r->u.cgroup);
		break;
	default:
		break;
	}
	return NULL;
}
