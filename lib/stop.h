/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Stop requests (SIGINT, SIGTERM) for the tools that read a stream: caught into a flag, and kept
 * blocked except inside the waits below, so that one arriving between a loop's check and a
 * blocking wait is seen at once (ppoll with the signals unblocked) instead of being lost. */
#ifndef TCPTOP_STOP_H
#define TCPTOP_STOP_H

#include <stdint.h>
#include <time.h>

/* Catch SIGINT and SIGTERM and block them. Returns 0, or -errno. */
int stop_init(void);
/* The first signal that asked us to stop, or 0. */
int stop_signal(void);
/* The same, once a request that is pending (blocked outside the waits) is let in: for the
 * decision at the end of the input, where a signal sent a moment before the input ended must
 * count (three system calls: not for every record). */
int stop_signal_now(void);
/* How long input is still waited for once a stop was asked (default 0: not at all): time for the
 * stage upstream to end its stream. Further signals change nothing: the wrapper's SIGTERM after
 * a terminal's SIGINT must not cut the grace short. */
void stop_set_grace(uint64_t grace_ns);
/* Waits until fd is readable or hung up (0: read it), or until a stop request or the end of its
 * grace (-1: stop). The wait hook of stream_reader_set_wait(); ctx is unused. */
int stop_wait_fd(void *ctx, int fd);
/* Waits until fd is readable or hung up (1), until the CLOCK_MONOTONIC time *deadline (0), or
 * until a stop request (-1, at once: no grace), whichever comes first. */
int stop_wait_fd_until(int fd, const struct timespec *deadline);
/* Sleeps until the CLOCK_MONOTONIC time *deadline: 0 when reached, -1 when a stop came first. */
int stop_sleep_until(const struct timespec *deadline);

#endif /* TCPTOP_STOP_H */
