// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-prom: reads a snapshot stream, keeps counters per label set, and serves them as
 * Prometheus or OpenMetrics text over HTTP (libmicrohttpd, in its own thread) and/or writes them
 * to a node_exporter textfile after every snapshot. One thread reads the stream and applies whole
 * snapshots under a mutex; scrapes take the same mutex, so they never see half a snapshot.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "opts.h"
#include "prom.h"
#include "stream.h"
#include "util.h"

#define DEFAULT_LISTEN	   "127.0.0.1:9687"
#define DEFAULT_MAX_SERIES 10000
#define DEFAULT_TTL_S	   300
#define SNAP_ROWS_MAX	   (64u << 20) /* rows of one snapshot held at most */

static struct {
	pthread_mutex_t lock;
	struct prom *p;
	const char *input;
	int in_fd;
	const char *textfile;
	char *textfile_tmp;
	pthread_t main_thread;
	int status; /* the reader's exit status */
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

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
	       "                      (default %s when --textfile is not given)\n"
	       "  --textfile PATH     write the metrics to PATH after every snapshot, atomically\n"
	       "                      (PATH.tmp, fsync, rename): node_exporter's textfile collector\n"
	       "  --max-series N      label sets at most; connections beyond go to one overflow\n"
	       "                      series per host (default %d)\n"
	       "  --series-ttl SECS   drop a label set idle this long in stream time; 0 never\n"
	       "                      (default %d)\n"
	       "  --ephemeral-ports LO-HI  ports folded: their label left out (default 32768-60999)\n"
	       "  -h, --help          this help\n"
	       "  --version           print the version\n"
	       "\n"
	       "With --listen it serves until SIGINT or SIGTERM, also after the input ended; with\n"
	       "--textfile alone it ends with its input.\n"
	       "Exit status: 0 success; 64 usage; 65 bad input (not a snapshot stream, corrupt,\n"
	       "truncated); 66 FILE cannot be opened; 73 cannot listen on ADDR:PORT or create the\n"
	       "textfile; 74 I/O error; 128+N stopped by signal N.\n"
	       "See tcptop-prom(1), tcptop-agg(1), tcptop-stream(5).\n",
	       DEFAULT_LISTEN, DEFAULT_MAX_SERIES, DEFAULT_TTL_S);
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static int64_t wall_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The exposition, built under the lock; its build time is reported by the next one. */
static int expose(struct prom_buf *b, bool om)
{
	uint64_t t0;
	int err;

	pthread_mutex_lock(&g.lock);
	t0 = mono_ns();
	err = prom_expose(g.p, b, om, wall_ns());
	prom_set_scrape_duration(g.p, mono_ns() - t0);
	pthread_mutex_unlock(&g.lock);
	return err;
}

/* ---- textfile: write, fsync, rename ---- */

static void textfile_write(void)
{
	struct prom_buf b = { 0 };
	size_t off = 0;
	int fd;

	if (expose(&b, false))
		errx(EX_OSERR, "out of memory");
	fd = open(g.textfile_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		err(EX_CANTCREAT, "cannot create %s", g.textfile_tmp);
	while (off < b.len) {
		ssize_t n = write(fd, b.p + off, b.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err(EX_IOERR, "%s", g.textfile_tmp);
		off += n;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		err(EX_IOERR, "%s", g.textfile_tmp);
	if (rename(g.textfile_tmp, g.textfile) < 0)
		err(EX_IOERR, "cannot rename %s to %s", g.textfile_tmp, g.textfile);
	prom_buf_free(&b);
}

/* ---- the stream ---- */

static int apply(const struct rec_snap_begin *b, const struct rec_host *hosts, size_t nh,
		 const struct rec_snap_row *rows, size_t nr)
{
	int err;

	pthread_mutex_lock(&g.lock);
	err = prom_snapshot(g.p, b, hosts, nh, rows, nr);
	pthread_mutex_unlock(&g.lock);
	if (err)
		errx(EX_OSERR, "out of memory");
	if (g.textfile)
		textfile_write();
	return 0;
}

static void *reader(void *arg)
{
	struct stream_reader *rd = stream_reader_new(g.in_fd, g.input);
	struct rec *r = malloc(sizeof(*r));
	struct rec_snap_begin begin;
	struct rec_snap_row *rows = NULL;
	struct rec_host *hosts = NULL;
	size_t nrows = 0, rows_cap = 0, nhosts = 0, hosts_cap = 0;
	bool in_snap = false;
	int st;

	(void)arg;
	if (!rd || !r)
		errx(EX_OSERR, "out of memory");
	stream_reader_expect(rd, STREAM_KIND_SNAPSHOT);
	while ((st = stream_read(rd, r)) == STREAM_OK) {
		switch (r->type) {
		case REC_HEADER:
			pthread_mutex_lock(&g.lock);
			if (prom_section(g.p, &r->u.header))
				errx(EX_OSERR, "out of memory");
			pthread_mutex_unlock(&g.lock);
			in_snap = false;
			break;
		case REC_CGROUP:
			pthread_mutex_lock(&g.lock);
			if (prom_cgroup(g.p, r->u.cgroup.id, r->u.cgroup.path))
				errx(EX_OSERR, "out of memory");
			pthread_mutex_unlock(&g.lock);
			break;
		case REC_SNAP_BEGIN:
			begin = r->u.snap_begin;
			nrows = nhosts = 0;
			in_snap = true;
			break;
		case REC_HOST:
			if (!in_snap)
				break;
			if (nhosts == hosts_cap) {
				hosts_cap = hosts_cap ? hosts_cap * 2 : 16;
				hosts = realloc(hosts, hosts_cap * sizeof(*hosts));
				if (!hosts)
					errx(EX_OSERR, "out of memory");
			}
			hosts[nhosts++] = r->u.host;
			break;
		case REC_SNAP_ROW:
			if (!in_snap || nrows >= SNAP_ROWS_MAX)
				break;
			if (nrows == rows_cap) {
				rows_cap = rows_cap ? rows_cap * 2 : 1024;
				rows = realloc(rows, rows_cap * sizeof(*rows));
				if (!rows)
					errx(EX_OSERR, "out of memory");
			}
			rows[nrows++] = r->u.row;
			break;
		case REC_SNAP_END:
		case REC_END:
			if (in_snap)
				apply(&begin, hosts, nhosts, rows, nrows);
			in_snap = false;
			break;
		default: /* other record types carry nothing for us */
			break;
		}
	}
	if (in_snap) /* the input stopped inside a snapshot: what it had still counts */
		apply(&begin, hosts, nhosts, rows, nrows);
	switch (st) {
	case STREAM_EOF:
		break;
	case STREAM_NO_END:
		warnx("%s", stream_error(rd));
		break;
	case STREAM_IO:
		warnx("%s", stream_error(rd));
		g.status = EX_IOERR;
		break;
	default:
		warnx("%s", stream_error(rd));
		g.status = EX_DATAERR;
		break;
	}
	pthread_mutex_lock(&g.lock);
	prom_input_end(g.p);
	pthread_mutex_unlock(&g.lock);
	if (g.textfile)
		textfile_write();
	stream_reader_free(rd);
	free(r);
	free(rows);
	free(hosts);
	pthread_kill(g.main_thread, SIGUSR1);
	return NULL;
}

/* ---- HTTP ---- */

/*
 * Exposition buffers are kept for the next scrape: a large one (130 MB at 100,000 label sets)
 * allocated afresh each time costs more in page faults than building its text does. MHD hands a
 * buffer back through its free callback once the response is sent.
 */
#define POOL_MAX 4

static struct {
	pthread_mutex_t lock;
	struct prom_buf idle[POOL_MAX], lent[POOL_MAX];
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool pool_take(struct prom_buf *b)
{
	bool ok = false;

	pthread_mutex_lock(&pool.lock);
	memset(b, 0, sizeof(*b));
	for (int i = 0; i < POOL_MAX; i++)
		if (pool.idle[i].p) {
			*b = pool.idle[i];
			memset(&pool.idle[i], 0, sizeof(pool.idle[i]));
			break;
		}
	b->len = 0;
	pthread_mutex_unlock(&pool.lock);
	if (!b->p && prom_buf_reserve(b, 65536))
		return false;
	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < POOL_MAX && !ok; i++)
		if (!pool.lent[i].p) {
			pool.lent[i] = *b;
			ok = true;
		}
	pthread_mutex_unlock(&pool.lock);
	return ok;
}

/* The buffer grew while lent: remember its new place and size. */
static void pool_update(char *old, const struct prom_buf *b)
{
	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < POOL_MAX; i++)
		if (pool.lent[i].p == old) {
			pool.lent[i] = *b;
			break;
		}
	pthread_mutex_unlock(&pool.lock);
}

static void pool_return(void *p)
{
	struct prom_buf b = { 0 };

	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < POOL_MAX; i++)
		if (pool.lent[i].p == p) {
			b = pool.lent[i];
			memset(&pool.lent[i], 0, sizeof(pool.lent[i]));
			break;
		}
	for (int i = 0; i < POOL_MAX && b.p; i++)
		if (!pool.idle[i].p) {
			pool.idle[i] = b;
			b.p = NULL;
		}
	pthread_mutex_unlock(&pool.lock);
	free(b.p ? b.p : (b.cap ? NULL : p));
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *type,
				 char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static char index_page[] = "tcptop-prom: the metrics are at /metrics\n";
	static char not_found[] = "not found: the metrics are at /metrics\n";
	static char bad_method[] = "only GET and HEAD\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *accept;
	struct prom_buf b;
	char *old;
	bool om;

	(void)cls;
	(void)version;
	(void)upload;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
				 bad_method, sizeof(bad_method) - 1, MHD_RESPMEM_PERSISTENT);
	if (*upload_size) /* a GET has no body */
		return MHD_NO;
	if (strcmp(url, "/") == 0)
		return send_text(c, MHD_HTTP_OK, "text/plain; charset=utf-8", index_page,
				 sizeof(index_page) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") != 0)
		return send_text(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", not_found,
				 sizeof(not_found) - 1, MHD_RESPMEM_PERSISTENT);
	accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	om = accept && strstr(accept, "application/openmetrics-text");
	if (!pool_take(&b))
		return MHD_NO;
	old = b.p;
	if (expose(&b, om)) {
		pool_update(old, &b);
		pool_return(b.p);
		return MHD_NO;
	}
	pool_update(old, &b);
	resp = MHD_create_response_from_buffer_with_free_callback(b.len, b.p, pool_return);
	if (!resp) {
		pool_return(b.p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				   : "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* "127.0.0.1:9687", "[::1]:9687", "localhost:9687". */
static struct addrinfo *parse_listen(const char *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char host[256];
	const char *port;
	size_t hl;
	int e;

	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			errx(EX_USAGE, "--listen %s: expected [ADDR]:PORT", s);
		hl = end - s - 1;
		port = end + 2;
		s++;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			errx(EX_USAGE, "--listen %s: expected ADDR:PORT", s);
		hl = colon - s;
		port = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host) || !*port)
		errx(EX_USAGE, "--listen %s: expected ADDR:PORT", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0)
		errx(EX_USAGE, "--listen %s: %s", s, gai_strerror(e));
	return ai;
}

int main(int argc, char **argv)
{
	enum {
		O_LISTEN = 256,
		O_TEXTFILE,
		O_MAXSERIES,
		O_TTL,
		O_EPH,
		O_VERSION,
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
	struct prom_opts o = { .max_series = DEFAULT_MAX_SERIES,
			       .ttl_ns = DEFAULT_TTL_S * 1000000000ULL,
			       .eph_lo = 32768,
			       .eph_hi = 60999 };
	const char *listen = NULL, *e;
	char msg[256];
	struct MHD_Daemon *d = NULL;
	struct addrinfo *ai = NULL;
	sigset_t set;
	pthread_t th;
	uint64_t v, lo, hi;
	bool reader_done = false;
	int c, sig;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			listen = optarg;
			break;
		case O_TEXTFILE:
			if (!*optarg)
				errx(EX_USAGE, "--textfile: empty file name");
			g.textfile = optarg;
			break;
		case O_MAXSERIES:
			if (opt_parse(OPT_PROM, "max-series", optarg, &o.max_series, msg,
				      sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			break;
		case O_TTL:
			if (opt_parse(OPT_PROM, "series-ttl", optarg, &o.ttl_ns, msg, sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			break;
		case O_EPH: {
			char buf[32], *dash;

			snprintf(buf, sizeof(buf), "%s", optarg);
			dash = strchr(buf, '-');
			if (!dash)
				errx(EX_USAGE, "--ephemeral-ports %s: expected LO-HI", optarg);
			*dash = '\0';
			if (parse_uint(buf, 1, 65535, &lo, &e) ||
			    parse_uint(dash + 1, 1, 65535, &hi, &e) || lo > hi)
				errx(EX_USAGE,
				     "--ephemeral-ports %s: expected LO-HI, 1 <= LO <= HI "
				     "<= 65535",
				     optarg);
			o.eph_lo = lo;
			o.eph_hi = hi;
			break;
		}
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
	(void)v;
	if (argc - optind > 1) {
		warnx("one input at most (several hosts: tcptop-agg --merge)");
		usage(stderr);
		return EX_USAGE;
	}
	g.input = optind < argc ? argv[optind] : "-";
	if (!listen && !g.textfile)
		listen = DEFAULT_LISTEN;
	if (listen)
		ai = parse_listen(listen);

	if (strcmp(g.input, "-") == 0) {
		g.in_fd = STDIN_FILENO;
		if (isatty(g.in_fd))
			errx(EX_USAGE, "standard input is a terminal: pipe a snapshot stream in "
				       "(tcptop-agg ... | tcptop-prom)");
	} else if ((g.in_fd = open(g.input, O_RDONLY | O_CLOEXEC)) < 0) {
		err(EX_NOINPUT, "%s", g.input);
	}
	if (g.textfile) {
		int fd;

		if (asprintf(&g.textfile_tmp, "%s.tmp", g.textfile) < 0)
			errx(EX_OSERR, "out of memory");
		fd = open(g.textfile_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			err(EX_CANTCREAT, "cannot create %s", g.textfile_tmp);
		close(fd);
		unlink(g.textfile_tmp);
	}

	g.p = prom_new(&o);
	if (!g.p)
		errx(EX_OSERR, "out of memory");

	/* every thread blocks these: the main thread waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	g.main_thread = pthread_self();

	if (ai) {
		unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

		if (ai->ai_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
				     ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 64U,
				     MHD_OPTION_CONNECTION_TIMEOUT, 30U, MHD_OPTION_END);
		if (!d)
			errx(EX_CANTCREAT, "cannot listen on %s", listen);
		freeaddrinfo(ai);
	}
	if ((errno = pthread_create(&th, NULL, reader, NULL)) != 0)
		err(EX_OSERR, "pthread_create");

	for (;;) {
		sig = sigwaitinfo(&set, NULL);
		if (sig < 0)
			continue;
		if (sig == SIGUSR1) {
			reader_done = true;
			pthread_join(th, NULL);
			/* served on after the input ended: the last values stay scrapeable */
			if (!d)
				break;
			if (g.status)
				warnx("the input failed: serving its last values until stopped");
			continue;
		}
		break;
	}
	if (d)
		MHD_stop_daemon(d);
	if (!reader_done) /* the reader may be blocked in read(2): no join, no cleanup */
		return 128 + sig;
	prom_free(g.p);
	if (sig != SIGUSR1)
		return 128 + sig;
	return g.status;
}
