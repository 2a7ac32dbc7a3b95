// SPDX-License-Identifier: GPL-2.0-or-later
/* The exporter's reader (feed.h). Failure is a value: nothing here exits; every status goes
 * back to the caller with its message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "feed.h"
#include "vec.h"

static int out_of_memory(struct feed *f)
{
	snprintf(f->msg, sizeof(f->msg), "out of memory");
	return EX_OSERR;
}

/* Row r into the snapshot to apply: 0, or -ENOMEM. Beyond the limit it is counted. */
static int hold(struct feed *f, const struct rec_snap_row *r)
{
	if (f->nrows >= (f->rows_max ? f->rows_max : FEED_ROWS_MAX)) {
		f->rows_dropped++;
		return 0;
	}
	if (VEC_RESERVE(&f->rows, &f->rows_cap, f->nrows + 1))
		return -ENOMEM;
	f->rows[f->nrows++] = *r;
	return 0;
}

/* The snapshot read so far, applied at once; then the hook. A delta's rows are the table's. */
static int apply(struct feed *f)
{
	int err;

	f->in_snap = false;
	if (f->snap_kind == SNAPTAB_DELTA) {
		f->nrows = 0;
		for (size_t i = 0; i < snaptab_rows(&f->tab); i++)
			if (hold(f, snaptab_row(&f->tab, i)))
				return out_of_memory(f);
	}
	pthread_mutex_lock(f->lock);
	err = prom_snapshot(f->p, &f->begin, f->hosts, f->nhosts, f->rows, f->nrows,
			    f->rows_dropped);
	pthread_mutex_unlock(f->lock);
	if (err)
		return out_of_memory(f);
	return f->applied ? f->applied(f->ctx, f->msg, sizeof(f->msg)) : 0;
}

/* One record: 0, or a status that ends the feed. */
static int feed_rec(struct feed *f, const struct rec *r)
{
	int err = 0;

	switch (r->type) {
	case REC_HEADER:
		pthread_mutex_lock(f->lock);
		err = prom_section(f->p, &r->u.header);
		pthread_mutex_unlock(f->lock);
		f->in_snap = false;
		snaptab_section(&f->tab, &r->u.header);
		break;
	case REC_CGROUP:
		pthread_mutex_lock(f->lock);
		err = prom_cgroup(f->p, r->u.cgroup.host, r->u.cgroup.id, r->u.cgroup.path);
		pthread_mutex_unlock(f->lock);
		break;
	case REC_SNAP_BEGIN:
	case REC_DELTA_BEGIN:
		f->begin = r->u.snap_begin;
		f->nrows = f->nhosts = 0;
		f->rows_dropped = 0;
		/* a delta with no table to apply it to (a late start) is not a snapshot for us */
		f->snap_kind = snaptab_begin(&f->tab, r->type, &r->u.snap_begin);
		f->in_snap = f->snap_kind != SNAPTAB_SKIP;
		break;
	case REC_HOST:
	case REC_DELTA_HOST:
		/* a host index that large is over the limit anyway (prom.c): not held */
		if (!f->in_snap || r->u.host.index >= PROM_HOST_MAX || f->nhosts >= PROM_HOST_MAX)
			break;
		if (VEC_RESERVE(&f->hosts, &f->hosts_cap, f->nhosts + 1))
			return out_of_memory(f);
		f->hosts[f->nhosts++] = r->u.host;
		break;
	case REC_SNAP_ROW:
	case REC_DELTA_ROW:
		if (!f->in_snap)
			break;
		err = snaptab_add(&f->tab, r->type, &r->u.row);
		if (err == -EPROTO) { /* a row of the other kind: not this snapshot's */
			err = 0;
			break;
		}
		if (err || (r->type == REC_SNAP_ROW && hold(f, &r->u.row)))
			return out_of_memory(f);
		break;
	case REC_SNAP_END:
	case REC_DELTA_END:
		err = snaptab_end(&f->tab);
		if (err == -ENOMEM)
			return out_of_memory(f);
		if (err == SNAPTAB_OUT_OF_STEP && f->tab.out_of_step == 1)
			snprintf(f->msg, sizeof(f->msg),
				 "delta snapshot %llu ends at byte %llu with %zu rows, its "
				 "DELTA_BEGIN says %u: out of step, deltas skipped until the next "
				 "full snapshot",
				 (unsigned long long)f->begin.seq, (unsigned long long)r->offset,
				 snaptab_rows(&f->tab), f->tab.want);
		if (err != SNAPTAB_READY)
			f->in_snap = false;
		err = 0;
		if (f->in_snap)
			return apply(f);
		break;
	case REC_END:
		/* what a full snapshot cut short had still counts; a delta's does not */
		if (f->in_snap && f->snap_kind == SNAPTAB_FULL)
			return apply(f);
		f->in_snap = false;
		break;
	default: /* other record types carry nothing for us */
		break;
	}
	return err ? out_of_memory(f) : 0;
}

int feed_run(struct feed *f, struct stream_reader *rd)
{
	int st, status = 0;

	f->msg[0] = '\0';
	f->input_failed = f->ended = f->stopped = false;
	f->in_snap = false;
	stream_reader_expect(rd, STREAM_KIND_SNAPSHOT);
	while ((st = stream_read(rd, &f->rec)) == STREAM_OK)
		if ((status = feed_rec(f, &f->rec)))
			return status;
	f->stopped = st == STREAM_STOPPED;
	f->ended = !f->stopped;
	/* the input ended inside a snapshot: what it had still counts (a stop leaves it out: the
	 * rest of it was on its way) */
	if (f->in_snap && f->snap_kind == SNAPTAB_FULL && !f->stopped && (status = apply(f)))
		return status;
	switch (st) {
	case STREAM_EOF:
	case STREAM_STOPPED:
		break;
	case STREAM_NO_END: /* a warning: every snapshot it had was whole */
		snprintf(f->msg, sizeof(f->msg), "%s", stream_error(rd));
		break;
	default:
		snprintf(f->msg, sizeof(f->msg), "%s", stream_error(rd));
		f->input_failed = true;
		status = st == STREAM_IO ? EX_IOERR : EX_DATAERR;
		break;
	}
	pthread_mutex_lock(f->lock);
	prom_input_end(f->p);
	pthread_mutex_unlock(f->lock);
	if (f->applied) {
		char msg[sizeof(f->msg)];
		int hs = f->applied(f->ctx, msg, sizeof(msg));

		if (hs) { /* the textfile failed: that is the news, the input's failure a warning */
			memcpy(f->msg, msg, sizeof(msg));
			f->input_failed = false;
			return hs;
		}
	}
	return status;
}

void feed_free(struct feed *f)
{
	free(f->rows);
	free(f->hosts);
	snaptab_free(&f->tab);
	f->rows = NULL;
	f->hosts = NULL;
	f->nrows = f->rows_cap = f->nhosts = f->hosts_cap = 0;
}
