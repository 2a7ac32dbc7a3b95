// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-bench-floor: loads one of the reference monitors of tests/bench/floor.bpf.c for
 * `make bench-collect` and keeps it attached until SIGINT or SIGTERM.
 *
 *   tcptop-bench-floor floor            fl__send, fl__recv: read the protocol, return
 *   tcptop-bench-floor storage          sa__send, sa__recv: per-socket counters in sk_storage
 *   tcptop-bench-floor iter [SECONDS]   it__walk: walk every TCP socket every SECONDS (1)
 *
 * Prints "ready" once attached, and at the end what the programs saw, on stdout.
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* One walk of every TCP socket: the iterator writes nothing, so read() only runs it, and
 * fails with EAGAIN after each million sockets without output (then goes on where it was). */
static int walk(struct bpf_link *link)
{
	char buf[64];
	int fd = bpf_iter_create(bpf_link__fd(link));
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EAGAIN))
		;
	close(fd);
	return n < 0 ? -errno : 0;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct floor_bpf *obj = NULL;
	struct bpf_link *iter = NULL;
	double period = 1, next = 0;
	const char *mode = argc > 1 ? argv[1] : "";
	sigset_t stop;
	int status = 1, e, walks = 0;

	if (argc == 3 && !strcmp(mode, "iter")) {
		period = atof(argv[2]);
		if (period < 0.01 || period > 3600)
			errx(64, "iter: period out of range: %s", argv[2]);
	} else if (argc != 2 ||
		   (strcmp(mode, "floor") && strcmp(mode, "storage") && strcmp(mode, "iter"))) {
		fprintf(stderr, "usage: tcptop-bench-floor floor | storage | iter [SECONDS]\n");
		return 64;
	}
	libbpf_set_print(quiet_print);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	obj = floor_bpf__open();
	if (!obj) {
		warn("open");
		goto cleanup;
	}
	bpf_program__set_autoload(obj->progs.fl__send, !strcmp(mode, "floor"));
	bpf_program__set_autoload(obj->progs.fl__recv, !strcmp(mode, "floor"));
	bpf_program__set_autoload(obj->progs.sa__send, !strcmp(mode, "storage"));
	bpf_program__set_autoload(obj->progs.sa__recv, !strcmp(mode, "storage"));
	bpf_program__set_autoload(obj->progs.it__walk, !strcmp(mode, "iter"));
	e = floor_bpf__load(obj);
	if (e) {
		warnx("load: %s", strerror(-e));
		goto cleanup;
	}
	if (!strcmp(mode, "iter")) {
		iter = bpf_program__attach_iter(obj->progs.it__walk, NULL);
		if (!iter) {
			warn("attach iter/tcp");
			goto cleanup;
		}
	} else {
		e = floor_bpf__attach(obj);
		if (e) {
			warnx("attach: %s", strerror(-e));
			goto cleanup;
		}
	}
	printf("ready\n");
	fflush(stdout);
	next = mono();
	for (;;) {
		struct timespec wait;
		double left;

		if (!iter) {
			int sig;

			sigwait(&stop, &sig);
			break;
		}
		e = walk(iter);
		if (e) {
			warnx("iter/tcp: %s", strerror(-e));
			goto cleanup;
		}
		walks++;
		/* one walk per period, at fixed times like the collector's samples */
		next += period;
		left = next - mono();
		if (left < 0)
			left = 0;
		wait.tv_sec = (time_t)left;
		wait.tv_nsec = (long)((left - wait.tv_sec) * 1e9);
		if (sigtimedwait(&stop, NULL, &wait) >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			warn("sigtimedwait");
			goto cleanup;
		}
	}
	if (iter)
		printf("walks %d walked %llu\n", walks, (unsigned long long)obj->bss->walked);
	status = 0;
cleanup:
	bpf_link__destroy(iter);
	floor_bpf__destroy(obj);
	return status;
}
