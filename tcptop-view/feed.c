// SPDX-License-Identifier: GPL-2.0-or-later
/* The reader thread: blocking stream_read() calls, snapshots published whole under a mutex. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "feed.h"
#include "snaptab.h"

struct feed {
	struct stream_reader *rd;
	int pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	struct cgroup_table cg; /* the reader's: paths of the section's (host, cgroup id) */
	/* the rows' strings: they live as long as the process, as the thread does */
	struct strtab *st;
	struct snaptab tab; /* the reader's: the table delta snapshots apply to */
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
		if (!f->head)
			f->tail = NULL;
		f->queued_rows -= old->n;
		snapshot_free(old);
		f->queued--;
		f->skipped++;
	}
	s->next = NULL;
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

/* A delta applied: the table's rows are the snapshot's. Out of memory: a row is counted as not
 * shown. */
static void delta_rows(struct feed *f, struct snapshot *s)
{
	for (size_t i = 0; i < snaptab_rows(&f->tab); i++)
		if (snapshot_add(s, snaptab_row(&f->tab, i), &f->cg) < 0)
			s->dropped++;
}

static void *feed_main(void *arg)
{
	struct feed *f = arg;
	struct snapshot *building = NULL;
	struct rec_snap_begin b;
	struct rec r;
	int kind = 0;

	/* the section's header was read before the thread started (main.c checks it) */
	snaptab_section(&f->tab, stream_reader_header(f->rd));
	for (;;) {
		int st = stream_read(f->rd, &r);

		if (st != STREAM_OK) {
			snapshot_free(building); /* an incomplete snapshot is never shown */
			snaptab_free(&f->tab);
			finish(f, st);
			return NULL;
		}
		switch (r.type) {
		case REC_HEADER:
			snaptab_section(&f->tab, &r.u.header);
			break;
		case REC_SNAP_BEGIN:
		case REC_DELTA_BEGIN:
			snapshot_free(building);
			building = NULL;
			/* a delta with no table to apply it to (a late start) is not shown */
			kind = snaptab_begin(&f->tab, r.type, &r.u.snap_begin);
			if (kind == SNAPTAB_SKIP)
				break;
			/* a delta stands for the full snapshot of its table's rows */
			b = r.u.snap_begin;
			if (kind == SNAPTAB_DELTA)
				b.rows = b.table_rows;
			/* out of memory: this snapshot is skipped, the next may fit */
			building = snapshot_new(stream_reader_header(f->rd), &b, f->st);
			break;
		case REC_HOST:
		case REC_DELTA_HOST:
			/* out of memory: its rows show no host name */
			if (building)
				snapshot_add_host(building, &r.u.host);
			break;
		case REC_SNAP_ROW:
		case REC_DELTA_ROW:
			/* out of memory in the table: it is out of step until a full snapshot */
			if (snaptab_add(&f->tab, r.type, &r.u.row) == -EPROTO ||
			    r.type != REC_SNAP_ROW)
				break;
			/* out of memory: the row is counted as not shown */
			if (building && snapshot_add(building, &r.u.row, &f->cg) < 0)
				building->dropped++;
			break;
		case REC_SNAP_END:
		case REC_DELTA_END:
			/* a delta out of step is not shown, nor are the deltas after it */
			if (snaptab_end(&f->tab) != SNAPTAB_READY) {
				snapshot_free(building);
				building = NULL;
			}
			if (building) {
				if (kind == SNAPTAB_DELTA)
					delta_rows(f, building);
				snapshot_finish(building);
				publish(f, building);
			}
			building = NULL;
			break;
		case REC_END:
			snapshot_free(building);
			building = NULL;
			cgroup_table_clear(&f->cg); /* ids belong to their section */
			break;
		case REC_CGROUP:
			/* a merged stream's hosts may share an id: the row's host picks the path */
			cgroup_table_set_host(&f->cg, r.u.cgroup.host, r.u.cgroup.id,
					      r.u.cgroup.path);
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
