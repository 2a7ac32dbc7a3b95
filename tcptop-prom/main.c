// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-prom: reads a snapshot stream, keeps counters per label set, and serves them as
 * Prometheus or OpenMetrics text over HTTP (http.c, libmicrohttpd in its own thread) and/or
 * writes them to a node_exporter textfile after every snapshot (lib/replace.c). A reader thread
 * applies whole snapshots under a lock (feed.c); expositions are built under the same lock, so
 * they never see half a snapshot. The main thread waits for signals and the reader's end, and is
 * the only one that decides an exit status.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "contract.h"
#include "feed.h"
#include "http.h"
#include "opts.h"
#include "prom.h"
#include "replace.h"
#include "stream.h"
#include "util.h"

#define DEFAULT_LISTEN	   "127.0.0.1:9687"
#define DEFAULT_MAX_SERIES 10000
#define DEFAULT_TTL_S	   300

/* The run's state. */
struct ctx {
	struct prom_opts o;
	const char *listen, *textfile, *input;
	struct addrinfo *ai;
	int in_fd;
	int stop_pipe[2]; /* written to tell the reader to stop waiting for input */

	pthread_mutex_t lock; /* guards p */
	struct prom *p;
	struct http *http;
	struct replace_file tf;
	struct prom_buf tf_buf;

	struct feed feed;
	pthread_t main_thread, reader;
	int reader_status; /* feed_run()'s */
	bool reader_joined;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tcptop-prom [--listen ADDR:PORT] [--textfile PATH] [--max-series N]\n"
		   "                   [--series-ttl SECS] [--ephemeral-ports LO-HI]\n"
		   "                   [-h|--help] [--version] [FILE]\n");
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	       "Reads a snapshot stream (tcptop-agg's output) from FILE (- or none: standard input)\n"
	       "and exports counters per host, protocol, process, local port when listening, remote\n"
	       "address and port: bytes and packets by direction, retransmits, connections opened,\n"
	       "closed and failed, RTT, and the pipeline's loss counters. Never rates: Prometheus\n"
	       "computes them (rate(tcptop_network_io_bytes_total[1m])).\n"
	       "\n"
	       "Options:\n"
	       "  --listen ADDR:PORT  serve /metrics over HTTP on ADDR:PORT ([::1]:PORT for IPv6)\n"
	       "                      (default %s when --textfile is not given); every\n"
	       "                      local user can read it there (tcptop-prom(1) SECURITY)\n"
	       "  --textfile PATH     write the metrics to PATH after every snapshot, atomically\n"
	       "                      (a new temporary beside it, fsync, rename; nothing at PATH is\n"
	       "                      ever opened): node_exporter's textfile collector\n"
	       "  --max-series N      label sets at most; connections beyond go to one overflow\n"
	       "                      series per host (default %d)\n"
	       "  --series-ttl SECS   drop a label set idle this long in stream time; 0 never\n"
	       "                      (default %d)\n"
	       "  --ephemeral-ports LO-HI  ports folded: their label left out (default 32768-60999)\n"
	       "  -h, --help          this help\n"
	       "  --version           print the version\n"
	       "\n"
	       "With --listen it serves until SIGINT or SIGTERM, also after the input ended; with\n"
	       "--textfile alone it ends with its input.\n",
	       DEFAULT_LISTEN, DEFAULT_MAX_SERIES, DEFAULT_TTL_S);
	exit_help(stdout, TOOL_PROM);
	printf("See tcptop-prom(1), tcptop-agg(1), tcptop-stream(5).\n");
}

/* "127.0.0.1:9687", "[::1]:9687", "localhost:9687": 0, or EX_USAGE with msg filled. */
static int parse_listen(const char *s, struct addrinfo **ai, char *msg, size_t size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	const char *host = s, *port = NULL, *end;
	char h[256];
	size_t hl = 0;
	int e;

	if (*s == '[' && (end = strchr(s, ']')) && end[1] == ':') {
		host = s + 1;
		hl = end - host;
		port = end + 2;
	} else if (*s != '[' && (end = strrchr(s, ':'))) {
		hl = end - s;
		port = end + 1;
	}
	if (!port || hl == 0 || hl >= sizeof(h) || !*port) {
		snprintf(msg, size, "--listen %s: expected ADDR:PORT ([ADDR]:PORT for IPv6)", s);
		return EX_USAGE;
	}
	memcpy(h, host, hl);
	h[hl] = '\0';
	if ((e = getaddrinfo(h, port, &hints, ai)) != 0) {
		snprintf(msg, size, "--listen %s: %s", s, gai_strerror(e));
		return EX_USAGE;
	}
	return 0;
}

static int parse_ports(const char *s, struct prom_opts *o, char *msg, size_t size)
{
	uint64_t lo, hi;
	const char *e;
	char buf[32], *dash;

	snprintf(buf, sizeof(buf), "%s", s);
	if (!(dash = strchr(buf, '-')) || (*dash = '\0', parse_uint(buf, 1, 65535, &lo, &e)) ||
	    parse_uint(dash + 1, 1, 65535, &hi, &e) || lo > hi) {
		snprintf(msg, size, "--ephemeral-ports %s: expected LO-HI, 1 <= LO <= HI <= 65535",
			 s);
		return EX_USAGE;
	}
	o->eph_lo = lo;
	o->eph_hi = hi;
	return 0;
}

/* A status and its message, for a caller that decides what to do with both. */
__attribute__((format(printf, 4, 5))) static int fail(int st, char *msg, size_t size,
						      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return st;
}

/* A bad value: its one line (the synopsis would bury it). */
static int bad_usage(const char *msg)
{
	warnx("%s", msg);
	return EX_USAGE;
}

/* The options into c: -1 to go on, or the status to exit with (--help, --version, usage). */
static int parse_args(struct ctx *c, int argc, char **argv)
{
	enum {
		O_LISTEN = 256,
		O_TEXTFILE,
		O_MAXSERIES,
		O_TTL,
		O_EPH,
		O_VERSION
	};
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "textfile", required_argument, NULL, O_TEXTFILE },
		{ "max-series", required_argument, NULL, O_MAXSERIES },
		{ "series-ttl", required_argument, NULL, O_TTL },
		{ "ephemeral-ports", required_argument, NULL, O_EPH },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	char msg[256];
	int o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_LISTEN:
			c->listen = optarg;
			break;
		case O_TEXTFILE:
			if (!*optarg)
				return bad_usage("--textfile: empty file name");
			c->textfile = optarg;
			break;
		case O_MAXSERIES:
			if (opt_parse(OPT_PROM, "max-series", optarg, &c->o.max_series, msg,
				      sizeof(msg)))
				return bad_usage(msg);
			break;
		case O_TTL:
			if (opt_parse(OPT_PROM, "series-ttl", optarg, &c->o.ttl_ns, msg,
				      sizeof(msg)))
				return bad_usage(msg);
			break;
		case O_EPH:
			if (parse_ports(optarg, &c->o, msg, sizeof(msg)))
				return bad_usage(msg);
			break;
		case 'h':
			help();
			return 0;
		case O_VERSION:
			printf("tcptop-prom %s\n", TCPTOP_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind > 1) {
		warnx("one input at most (several hosts: tcptop-agg --merge)");
		usage(stderr);
		return EX_USAGE;
	}
	if (!c->listen && !c->textfile)
		c->listen = DEFAULT_LISTEN;
	if (c->listen && parse_listen(c->listen, &c->ai, msg, sizeof(msg)))
		return bad_usage(msg);
	c->input = optind < argc ? argv[optind] : "-";
	return -1;
}

/* ---- the reader thread ---- */

/* Before each read of the input: wait until it is readable, or until main tells us to stop. */
static int wait_input(void *arg, int fd)
{
	struct ctx *c = arg;
	struct pollfd pf[2] = { { fd, POLLIN, 0 }, { c->stop_pipe[0], POLLIN, 0 } };

	while (poll(pf, 2, -1) < 0)
		if (errno != EINTR)
			return 0; /* let read(2) say what is wrong */
	return pf[1].revents ? -1 : 0;
}

/* After each snapshot: the textfile, whole, replacing the last one. */
static int textfile_write(void *arg, char *msg, size_t size)
{
	struct ctx *c = arg;
	int err;

	c->tf_buf.len = 0;
	pthread_mutex_lock(&c->lock);
	err = prom_expose(c->p, &c->tf_buf, false, prom_wall_ns());
	pthread_mutex_unlock(&c->lock);
	if (err)
		return fail(EX_OSERR, msg, size, "out of memory");
	switch (replace_file_write(&c->tf, c->tf_buf.p, c->tf_buf.len, msg, size)) {
	case REPLACE_OK:
		return 0;
	case REPLACE_CREATE:
		return EX_CANTCREAT;
	default:
		return EX_IOERR;
	}
}

static void *reader(void *arg)
{
	struct ctx *c = arg;
	struct stream_reader *rd = stream_reader_new(c->in_fd, c->input);

	if (!rd) {
		snprintf(c->feed.msg, sizeof(c->feed.msg), "out of memory");
		c->reader_status = EX_OSERR;
	} else {
		stream_reader_set_wait(rd, wait_input, c);
		c->reader_status = feed_run(&c->feed, rd);
		stream_reader_free(rd);
	}
	pthread_kill(c->main_thread, SIGUSR1);
	return NULL;
}

/* ---- setup, the wait, teardown ---- */

/* The input, the textfile's directory, the stop pipe, refused before anything starts: 0, or
 * the status to exit with and its message. */
static int setup_io(struct ctx *c, char *msg, size_t size)
{
	char e[8192];

	if (strcmp(c->input, "-") == 0) {
		c->in_fd = STDIN_FILENO;
		if (isatty(c->in_fd))
			return fail(EX_USAGE, msg, size,
				    "standard input is a terminal: pipe a snapshot stream in "
				    "(tcptop-agg ... | tcptop-prom)");
	} else if ((c->in_fd = open(c->input, O_RDONLY | O_CLOEXEC)) < 0) {
		return fail(EX_NOINPUT, msg, size, "%s: %s", c->input, strerror(errno));
	}
	if (c->textfile && replace_file_open(&c->tf, c->textfile, e, sizeof(e)))
		return fail(EX_CANTCREAT, msg, size, "cannot create the textfile %s", e);
	if (pipe2(c->stop_pipe, O_CLOEXEC))
		return fail(EX_OSERR, msg, size, "pipe: %s", strerror(errno));
	return 0;
}

/* Until a stop signal (returned), or the reader's end where nothing is served (0). Once a
 * second, connections open too long are cut. */
static int wait_for_end(struct ctx *c, const sigset_t *set)
{
	const struct timespec second = { 1, 0 };
	int sig;

	for (;;) {
		sig = sigtimedwait(set, NULL, &second);
		if (sig < 0) {
			if (c->http)
				http_tick(c->http);
			continue;
		}
		if (sig != SIGUSR1)
			return sig;
		if (c->reader_joined)
			continue;
		pthread_join(c->reader, NULL);
		c->reader_joined = true;
		if (c->feed.msg[0])
			warnx("%s", c->feed.msg);
		/* served on after the input ended, or failed: its last values stay scrapeable */
		if (!c->http || (c->reader_status && !c->feed.input_failed))
			return 0;
		if (c->reader_status)
			warnx("the input failed: serving its last values until stopped");
	}
}

int main(int argc, char **argv)
{
	struct ctx c = { .o = { .max_series = DEFAULT_MAX_SERIES,
				.ttl_ns = DEFAULT_TTL_S * 1000000000ULL,
				.eph_lo = 32768,
				.eph_hi = 60999 },
			 .lock = PTHREAD_MUTEX_INITIALIZER,
			 .tf = { .dirfd = -1 } };
	char msg[8192 + 64];
	sigset_t set;
	int st, sig;

	if ((st = parse_args(&c, argc, argv)) >= 0)
		return st;
	if ((st = setup_io(&c, msg, sizeof(msg))))
		errx(st, "%s", msg);
	if (!(c.p = prom_new(&c.o)))
		errx(EX_OSERR, "out of memory");
	c.feed = (struct feed){ .lock = &c.lock, .p = c.p };
	if (c.textfile) {
		c.feed.applied = textfile_write;
		c.feed.ctx = &c;
	}

	/* every thread blocks these: the main thread waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	c.main_thread = pthread_self();

	if (c.ai && (st = http_start(&c.http, c.ai, &c.lock, c.p, msg, sizeof(msg))))
		errx(st, "cannot listen on %s: %s", c.listen, msg);
	if (c.ai)
		freeaddrinfo(c.ai);
	if ((errno = pthread_create(&c.reader, NULL, reader, &c)) != 0)
		err(EX_OSERR, "pthread_create");

	sig = wait_for_end(&c, &set);
	if (!c.reader_joined) { /* stopped: the reader ends at its next wait for input */
		if (write(c.stop_pipe[1], "", 1) < 0)
			err(EX_OSERR, "telling the reader to stop");
		pthread_join(c.reader, NULL);
		if (c.feed.msg[0])
			warnx("%s", c.feed.msg);
	}

	http_stop(c.http);
	feed_free(&c.feed);
	prom_free(c.p);
	prom_buf_free(&c.tf_buf);
	replace_file_close(&c.tf);
	if (c.reader_status) /* a failure is the news, whether a stop came after it or not */
		return c.reader_status;
	/* the exporter serves until told to stop, after its input's end too (tcptop(1) EXIT
	 * STATUS, Stops): its stop is 128+N; with --textfile alone the end of the input is its end,
	 * 0 (sig 0) */
	return exit_stopped(sig, false);
}
