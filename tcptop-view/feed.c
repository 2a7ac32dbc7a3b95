// SPDX-License-Identifier: GPL-2.0-or-later
/* The reader thread: blocking stream_read() calls, snapshots published whole under a mutex. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed.h"
#include "reader.h"

struct feed {
	struct stream_reader *rd;
	int pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	/* the rows' strings: they live as long as the process, as the thread does */
	struct strtab *st;
	struct snapreader sr; /* the reader's: records into snapshots */
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
	 * snapshot is 160 MB) */
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

static void *feed_main(void *arg)
{
	struct feed *f = arg;
	struct rec r;

	/* the section's header was read before the thread started (main.c checks it) */
	snapreader_start(&f->sr, f->st, stream_reader_header(f->rd));
	for (;;) {
		int st = stream_read(f->rd, &r);
		struct snapshot *s;

		if (st != STREAM_OK) {
			snapreader_free(&f->sr);
			finish(f, st);
			return NULL;
		}
		s = snapreader_step(&f->sr, f->rd, &r);
		if (s)
			publish(f, s);
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
