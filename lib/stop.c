// SPDX-License-Identifier: GPL-2.0-or-later
/* Stop requests: SIGINT and SIGTERM are blocked except inside ppoll() (and a moment before it
 * when one is pending), so no signal falls between a check of the flag and the wait it should
 * end. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "stop.h"

static volatile sig_atomic_t stop_sig;
static struct timespec stop_at; /* when the first request came (CLOCK_MONOTONIC) */
static sigset_t wait_mask;	/* the mask inside ppoll: ours without SIGINT and SIGTERM */
static uint64_t grace;

static void on_stop(int sig)
{
	if (!stop_sig) {
		clock_gettime(CLOCK_MONOTONIC, &stop_at); /* async-signal-safe */
		stop_sig = sig;
	}
}

int stop_init(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sa.sa_mask = set;
	if (sigprocmask(SIG_BLOCK, &set, &wait_mask) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	return 0;
}

int stop_signal(void)
{
	return stop_sig;
}

void stop_set_grace(uint64_t grace_ns)
{
	grace = grace_ns;
}

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

/* Time left before *deadline, or of the grace once a stop was asked; false when none is left.
 * *left stays NULL when there is no limit. */
static bool time_left(const struct timespec *deadline, struct timespec *ts, struct timespec **left)
{
	struct timespec now;
	int64_t rem = INT64_MAX;

	*left = NULL;
	if (!deadline && !stop_sig)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (stop_sig) {
		rem = (int64_t)grace - ns_between(&stop_at, &now);
	}
	if (deadline && ns_between(&now, deadline) < rem)
		rem = ns_between(&now, deadline);
	if (rem <= 0)
		return false;
	ts->tv_sec = rem / 1000000000LL;
	ts->tv_nsec = rem % 1000000000LL;
	*left = ts;
	return true;
}

/* ppoll() delivers a pending signal only when it returns EINTR, never when the descriptor is
 * ready at once (a regular file always is): let a pending one in here, or it would wait for ever. */
static void deliver_pending(void)
{
	sigset_t pending, blocked;

	if (sigpending(&pending) < 0 ||
	    (!sigismember(&pending, SIGINT) && !sigismember(&pending, SIGTERM)))
		return;
	sigprocmask(SIG_SETMASK, &wait_mask, &blocked);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
}

int stop_signal_now(void)
{
	deliver_pending();
	return stop_sig;
}

int stop_wait_fd(void *ctx, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts, *left;

	(void)ctx;
	deliver_pending();
	for (;;) {
		int n;

		if (!time_left(NULL, &ts, &left))
			return -1;
		n = ppoll(&pfd, 1, left, &wait_mask);
		if (n > 0 || (n < 0 && errno != EINTR))
			return 0; /* readable, hung up, or an error read(2) will report */
	}
}

int stop_wait_fd_until(int fd, const struct timespec *deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts, *left;

	deliver_pending();
	for (;;) {
		int n;

		if (stop_sig)
			return -1;
		if (!time_left(deadline, &ts, &left))
			return 0;
		n = ppoll(&pfd, 1, left, &wait_mask);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 0; /* nothing to wait on: as if the time were up */
	}
}

int stop_sleep_until(const struct timespec *deadline)
{
	struct timespec ts, *left;

	for (;;) {
		if (stop_sig)
			return -1;
		if (!time_left(deadline, &ts, &left))
			return 0;
		ppoll(NULL, 0, left, &wait_mask);
	}
}
