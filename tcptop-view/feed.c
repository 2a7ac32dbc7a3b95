// SPDX-License-Identifier: GPL-2.0-or-later
/* The reader thread: blocking stream_read() calls, snapshots published whole under a mutex. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed.h"
#include "vec.h"

struct feed {
	struct stream_reader *rd;
	int pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	struct cgroup_table cg; /* the reader's: paths of the section's (host, cgroup id) */
	/* the rows' strings: they live as long as the process, as the thread does */
	struct strtab *st;
	/* deltas: the section may send them (1.1), a full snapshot of it was read and every
	 * delta since ended (the view applies them, and checks each one's table_rows) */
	bool keep, in_step;
	struct cgupd *cgupd; /* CGROUP records since the last snapshot handed over */
	size_t ncgupd, cgupd_cap;
	bool gap; /* snapshots dropped with none queued after them: the next one follows a gap */
	/* under lock */
	struct snapshot *head, *tail; /* the queue, oldest first */
	size_t queued, queued_rows;
	uint64_t skipped, count;
	int status;
};

static void wake(struct feed *f)
{
	ssize_t n = write(f->pipe[1], "", 1); /* full pipe: a wake-up is already pending */

	(void)n;
}

static void publish(struct feed *f, struct snapshot *s)
{
	pthread_mutex_lock(&f->lock);
	/* the view is far behind: drop the oldest (a bound in rows too: at 1,000,000 rows a
	 * snapshot is 184 MB) */
	while (f->head &&
	       (f->queued >= FEED_QUEUE_MAX || f->queued_rows + s->n > FEED_QUEUE_ROWS)) {
		struct snapshot *old = f->head;

		f->head = old->next;
		/* a delta after it cannot be applied: the view waits for a full snapshot */
		if (f->head)
			f->head->after_gap = true;
		else
			f->gap = true;
		if (!f->head)
			f->tail = NULL;
		f->queued_rows -= old->n;
		snapshot_free(old);
		f->queued--;
		f->skipped++;
	}
	s->next = NULL;
	s->after_gap |= f->gap;
	f->gap = false;
	if (f->tail)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
	f->queued++;
	f->queued_rows += s->n;
	f->count++;
	pthread_mutex_unlock(&f->lock);
	wake(f);
}

static void finish(struct feed *f, int status)
{
	pthread_mutex_lock(&f->lock);
	f->status = status;
	pthread_mutex_unlock(&f->lock);
	wake(f);
}

/* A CGROUP record: the string rows of its (host, id) show from now on, for the view to give the
 * rows it holds that no delta carries. Out of memory: they keep the string they had. */
static void cgroup_read(struct feed *f, const struct rec_cgroup *c)
{
	const struct cgroup_ent *ce;

	/* a merged stream's hosts may share an id: the row's host picks the path */
	cgroup_table_set_host(&f->cg, c->host, c->id, c->path);
	ce = cgroup_table_get_host(&f->cg, c->host, c->id);
	if (!ce || VEC_RESERVE(&f->cgupd, &f->cgupd_cap, f->ncgupd + 1))
		return;
	f->cgupd[f->ncgupd++] = (struct cgupd){
		.id = c->id,
		.host = c->host,
		.str = strtab_add(f->st, STR_CGROUP, ce->short_name, strlen(ce->short_name), NULL),
	};
}

/* A snapshot read: handed over with the CGROUP records read since the one before. */
static void complete(struct feed *f, struct snapshot *s)
{
	if (f->ncgupd) {
		s->cgupd = f->cgupd;
		s->ncgupd = f->ncgupd;
		f->cgupd = NULL;
		f->ncgupd = f->cgupd_cap = 0;
	}
	snapshot_finish(s);
	publish(f, s);
}

static void *feed_main(void *arg)
{
	struct feed *f = arg;
	struct snapshot *building = NULL;
	struct rec r;
	uint32_t kind = 0; /* REC_SNAP_BEGIN or REC_DELTA_BEGIN being read, 0: none */

	/* the section's header was read before the thread started (main.c checks it) */
	f->keep = stream_reader_header(f->rd)->minor >= 1;
	for (;;) {
		int st = stream_read(f->rd, &r);

		if (st != STREAM_OK) {
			snapshot_free(building); /* an incomplete snapshot is never shown */
			finish(f, st);
			return NULL;
		}
		switch (r.type) {
		case REC_HEADER:
			/* a new section: its deltas wait for its first full snapshot */
			f->keep = r.u.header.minor >= 1;
			f->in_step = false;
			break;
		case REC_SNAP_BEGIN:
		case REC_DELTA_BEGIN:
			snapshot_free(building);
			building = NULL;
			kind = r.type;
			/* a delta with no table to apply it to (a late start, or one not ended) is
			 * not shown, nor are the deltas after it until a full snapshot */
			if (r.type == REC_DELTA_BEGIN && (!f->keep || !f->in_step)) {
				kind = 0;
				break;
			}
			f->in_step = false;
			/* out of memory: this snapshot is skipped, the next full one may fit */
			building = snapshot_new(stream_reader_header(f->rd), &r.u.snap_begin, f->st);
			if (building)
				building->delta = r.type == REC_DELTA_BEGIN;
			break;
		case REC_HOST:
		case REC_DELTA_HOST:
			/* out of memory: its rows show no host name */
			if (building)
				snapshot_add_host(building, &r.u.host);
			break;
		case REC_SNAP_ROW:
		case REC_DELTA_ROW:
			/* a row of the other kind is not applied */
			if (!building || r.type != kind + 1)
				break;
			if (snapshot_add(building, &r.u.row, &f->cg) == 0)
				break;
			/* out of memory: a full snapshot's row is counted as not shown; a delta
			 * missing a row would leave the table out of step: not shown */
			building->dropped++;
			if (building->delta) {
				snapshot_free(building);
				building = NULL;
			}
			break;
		case REC_SNAP_END:
		case REC_DELTA_END:
			if (building) {
				f->in_step = f->keep;
				complete(f, building);
			}
			building = NULL;
			kind = 0;
			break;
		case REC_END:
			snapshot_free(building);
			building = NULL;
			kind = 0;
			cgroup_table_clear(&f->cg); /* ids belong to their section */
			break;
		case REC_CGROUP:
			cgroup_read(f, &r.u.cgroup);
			break;
		default:
			break;
		}
	}
}

struct feed *feed_start(struct stream_reader *rd, bool ascii_only, int *wake_fd)
{
	struct feed *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return NULL;
	f->rd = rd;
	f->st = strtab_new(ascii_only);
	if (!f->st) {
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	f->status = STREAM_OK;
	if (pipe2(f->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		strtab_free(f->st);
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	err = pthread_create(&f->thread, NULL, feed_main, f);
	if (err) {
		close(f->pipe[0]);
		close(f->pipe[1]);
		strtab_free(f->st);
		free(f);
		errno = err;
		return NULL;
	}
	*wake_fd = f->pipe[0];
	return f;
}

void feed_drain(struct feed *f)
{
	char buf[64];

	while (read(f->pipe[0], buf, sizeof(buf)) > 0)
		;
}

struct snapshot *feed_take(struct feed *f, uint64_t *skipped)
{
	struct snapshot *s;

	pthread_mutex_lock(&f->lock);
	s = f->head;
	if (s) {
		f->head = s->next;
		if (!f->head)
			f->tail = NULL;
		f->queued--;
		f->queued_rows -= s->n;
		s->next = NULL;
	}
	if (skipped)
		*skipped = f->skipped;
	pthread_mutex_unlock(&f->lock);
	return s;
}

int feed_status(struct feed *f)
{
	int st;

	pthread_mutex_lock(&f->lock);
	st = f->status;
	pthread_mutex_unlock(&f->lock);
	return st;
}

uint64_t feed_count(struct feed *f)
{
	uint64_t n;

	pthread_mutex_lock(&f->lock);
	n = f->count;
	pthread_mutex_unlock(&f->lock);
	return n;
}
