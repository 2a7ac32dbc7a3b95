// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-agg: reads raw collector streams, writes one snapshot of every connection per interval. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "contract.h"
#include "merge.h"
#include "opts.h"
#include "stop.h"
#include "stream.h"
#include "util.h"

#define DEFAULT_MAX_FLOWS  262144
#define DEFAULT_FULL_EVERY 60
/* After SIGINT or SIGTERM, how long a pipe is still read for the END upstream sends on the same
 * Ctrl-C: well under a second, and under tcptop-csv's grace downstream (0.5 s). */
#define STOP_GRACE_NS MERGE_STOP_GRACE_NS

/* --realtime: a deadline per snapshot, advanced by its span. */
struct pace {
	bool on;
	double speed;
	uint64_t interval;
	struct timespec deadline;
};

/* One run: what the options asked for and the output, passed down from main(). */
struct run {
	struct agg_opts o;
	struct pace pace;
	bool merge;
	char **files; /* the FILE operands; "-" alone when none */
	int nfiles;
	char ftext[HDR_STR_MAX];
	struct stream_writer *w;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tcptop-agg [--interval SECS] [--port N] [--pid N] [--process NAME]\n"
		   "                  [-i|--interface IFACE] [--cgroup PATTERN] [--tcp] [--udp]\n"
		   "                  [--max-flows N] [--full-every N]\n"
		   "                  [--realtime] [--speed X] [-h|--help] [--version] [FILE...]\n"
		   "       tcptop-agg --merge [options] FILE FILE...\n");
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	       "Reads raw tcptop-collect streams from FILEs (- or none: standard input), one after\n"
	       "the other, and writes a snapshot stream to standard output: every interval of\n"
	       "stream time, one row per connection alive during it, with rates, and totals.\n"
	       "\n"
	       "Options:\n"
	       "  --interval SECS     snapshot interval in stream time, fractions allowed, 0.001 to\n"
	       "                      86400; best a multiple of the collector's (default 1)\n"
	       "  --max-flows N       connections held at most, 1 to 100000000; more are counted as\n"
	       "                      agg_table_full (default %d)\n"
	       "  --full-every N      a full snapshot every N snapshots, between them deltas of\n"
	       "                      the rows that changed, 1 to 1000000; 1: full snapshots only,\n"
	       "                      for readers of stream format 1.0 (default %d)\n"
	       "  -m, --merge         read every FILE at once, each from its own host (files, -,\n"
	       "                      <(ssh host sudo tcptop-collect)): one table of all of them,\n"
	       "                      each host's snapshots cut on its own clock, in wall time\n"
	       "  --realtime          pace the output by stream time (watching a replay)\n"
	       "  --speed X           pace at X times stream time, above 0, at most 1000; implies\n"
	       "                      --realtime (default 1)\n"
	       "  -h, --help          this help\n"
	       "  --version           print the version\n"
	       "\n"
	       "Filters (combinable: a row is shown when it matches all of them; totals count the\n"
	       "shown rows, the snapshot's hidden count the others; default: none):\n"
	       "  --port N            local or remote port N\n"
	       "  --pid N             owned by process N (1 to 4194304)\n"
	       "  --process NAME      process name contains NAME (case-sensitive)\n"
	       "  -i, --interface IF  interface named IF\n"
	       "  --cgroup PATTERN    cgroup whose short form (nginx.service, a 12-digit container\n"
	       "                      id) or path matches the shell glob PATTERN\n"
	       "  --tcp, --udp        only TCP, only UDP; both together: both\n"
	       "\n"
	       "A signal (SIGINT, SIGTERM) ends the output after the last whole snapshot; a pipe is\n"
	       "read on for 0.3 s for the END its collector sends.\n"
	       "\n",
	       DEFAULT_MAX_FLOWS, DEFAULT_FULL_EVERY);
	exit_help(stdout, TOOL_AGG);
	printf("See tcptop-agg(1), tcptop-stream(5).\n");
}

/* ---- pacing (--realtime) ---- */

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ULL + t->tv_nsec;
}

static void pace(void *ctx, uint64_t mono_ns, uint64_t span_ns)
{
	struct pace *p = &((struct run *)ctx)->pace;
	struct timespec now;
	uint64_t d, step;

	(void)mono_ns;
	if (!p->on || stop_signal())
		return;
	/* a gap in the recording is not waited out: at most one interval per snapshot */
	step = span_ns < p->interval ? span_ns : p->interval;
	d = ts_ns(&p->deadline) + (uint64_t)((double)step / p->speed);
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* behind by more than an interval (a slow input): start again from now, no burst */
	if (d + p->interval < ts_ns(&now))
		d = ts_ns(&now);
	p->deadline.tv_sec = d / 1000000000ULL;
	p->deadline.tv_nsec = d % 1000000000ULL;
	stop_sleep_until(&p->deadline); /* a stop ends the wait: the loop sees it next */
}

static void table_full(void *ctx, uint64_t max_flows)
{
	(void)ctx;
	warnx("more than %llu connections at once (--max-flows): the others are not shown, "
	      "counted in the snapshots as agg_table_full",
	      (unsigned long long)max_flows);
}

static void say(void *ctx, const char *msg)
{
	(void)ctx;
	warnx("%s", msg);
}

/* ---- options ---- */

/* The header's filter text, e.g. "port 443 and process nginx and tcp"; "" for none. */
static void filter_text(const struct agg_filter *f, char *buf)
{
	const char *names[] = { "process", "interface", "cgroup" };
	const char *vals[] = { f->process, f->interface, f->cgroup };
	char tmp[SANITIZE_SIZE(64)];
	size_t len = 0;

	buf[0] = '\0';
	if (f->port_set)
		len += snprintf(buf + len, HDR_STR_MAX - len, "port %u", f->port);
	if (f->pid_set)
		len += snprintf(buf + len, HDR_STR_MAX - len, "%spid %u", len ? " and " : "",
				f->pid);
	for (int i = 0; i < 3; i++) {
		if (!vals[i] || len >= HDR_STR_MAX)
			continue;
		text_sanitize(tmp, sizeof(tmp), vals[i], strnlen(vals[i], 64));
		len += snprintf(buf + len, HDR_STR_MAX - len, "%s%s %s", len ? " and " : "",
				names[i], tmp);
	}
	if (f->tcp != f->udp && len < HDR_STR_MAX)
		snprintf(buf + len, HDR_STR_MAX - len, "%s%s", len ? " and " : "",
			 f->tcp ? "tcp" : "udp");
}

/* --NAME VAL by lib/opts' table: 0, or the reason said and EX_USAGE. */
static int opt(const char *name, const char *val, uint64_t *out)
{
	char msg[256];

	if (!opt_parse(OPT_AGG, name, val, out, msg, sizeof(msg)))
		return 0;
	warnx("%s", msg);
	return EX_USAGE;
}

/* The options into r; returns -1 to run, else the exit status (--help, --version, usage). */
static int parse(struct run *r, int argc, char **argv)
{
	enum {
		O_INTERVAL = 256,
		O_PORT,
		O_PID,
		O_PROCESS,
		O_TCP,
		O_UDP,
		O_MAXFLOWS,
		O_REALTIME,
		O_SPEED,
		O_VERSION,
		O_CGROUP,
		O_FULL_EVERY
	};
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "port", required_argument, NULL, O_PORT },
		{ "pid", required_argument, NULL, O_PID },
		{ "process", required_argument, NULL, O_PROCESS },
		{ "interface", required_argument, NULL, 'i' },
		{ "cgroup", required_argument, NULL, O_CGROUP },
		{ "tcp", no_argument, NULL, O_TCP },
		{ "udp", no_argument, NULL, O_UDP },
		{ "max-flows", required_argument, NULL, O_MAXFLOWS },
		{ "full-every", required_argument, NULL, O_FULL_EVERY },
		{ "realtime", no_argument, NULL, O_REALTIME },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "merge", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	static char *stdin_only[] = { "-", NULL };
	struct agg_filter *f = &r->o.filter;
	char msg[256];
	uint64_t v;
	int c, st = 0;

	while (!st && (c = getopt_long(argc, argv, "i:mh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			r->merge = true;
			break;
		case O_INTERVAL:
			st = opt("interval", optarg, &r->o.interval_ns);
			break;
		case O_PORT:
			if (!(st = opt("port", optarg, &v)))
				f->port_set = true, f->port = v;
			break;
		case O_PID:
			if (!(st = opt("pid", optarg, &v)))
				f->pid_set = true, f->pid = v;
			break;
		case O_PROCESS:
			if (!(st = opt("process", optarg, &v)))
				f->process = optarg;
			break;
		case 'i':
			if (!(st = opt("interface", optarg, &v)))
				f->interface = optarg;
			break;
		case O_CGROUP:
			if (!*optarg || strlen(optarg) >= CGROUP_PATH_MAX) {
				warnx("--cgroup: empty or longer than %d bytes",
				      CGROUP_PATH_MAX - 1);
				st = EX_USAGE;
			}
			f->cgroup = optarg;
			break;
		case O_TCP:
			f->tcp = true;
			break;
		case O_UDP:
			f->udp = true;
			break;
		case O_MAXFLOWS:
			st = opt("max-flows", optarg, &r->o.max_flows);
			break;
		case O_FULL_EVERY:
			st = opt("full-every", optarg, &r->o.full_every);
			break;
		case O_SPEED:
			if (opt_factor(OPT_AGG, "speed", optarg, &r->pace.speed, msg,
				       sizeof(msg))) {
				warnx("%s", msg);
				st = EX_USAGE;
			}
			r->pace.on = true; /* --speed implies --realtime */
			break;
		case O_REALTIME:
			r->pace.on = true;
			break;
		case 'h':
			help();
			return 0;
		case O_VERSION:
			printf("tcptop-agg %s\n", TCPTOP_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (st)
		return st;
	r->files = optind < argc ? argv + optind : stdin_only;
	r->nfiles = optind < argc ? argc - optind : 1;
	if (r->merge && r->pace.on) {
		warnx("--merge reads its inputs as they come: no --realtime or --speed");
		return EX_USAGE;
	}
	if (r->merge && optind >= argc) {
		warnx("--merge: give the inputs (FILE FILE..., - for standard input)");
		return EX_USAGE;
	}
	return -1;
}

/* ---- inputs ---- */

/* FILE's descriptor in *fd: 0, or the reason said and the exit status. Not blocking in open(2):
 * a FIFO with no writer yet is waited for where a signal ends the wait. */
static int input_open(const char *name, int *fd)
{
	if (strcmp(name, "-") == 0) {
		*fd = STDIN_FILENO;
		/* a terminal gives no stream, and Ctrl-C could not end the wait for one */
		if (!isatty(*fd))
			return 0;
		warnx("standard input is a terminal: give a FILE, or pipe a raw stream in "
		      "(tcptop-collect | tcptop-agg)");
		return EX_USAGE;
	}
	*fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (*fd >= 0 && fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK) == 0)
		return 0;
	warn("%s", name);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return EX_NOINPUT;
}

static void input_close(const char *name, int fd)
{
	if (strcmp(name, "-") != 0)
		close(fd);
}

static bool is_pipe(int fd)
{
	struct stat sb;

	return fstat(fd, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode));
}

/* ---- the loop ---- */

/* Stopped by signal sig before the input's end: END after the last complete snapshot. */
static int stopped(struct agg *a, int sig)
{
	int e = agg_stop(a);

	return e ? e : exit_stopped(sig, false);
}

/* The end of one input that was not clean: said, and its status. */
static int input_end(struct agg *a, struct stream_reader *rd, int st)
{
	switch (st) {
	case STREAM_EOF:
		return 0;
	case STREAM_STOPPED: /* a signal, and the pipe did not end in time */
		return stopped(a, stop_signal());
	case STREAM_NO_END:
		warnx("%s; %s", stream_error(rd),
		      agg_pending(a) ? "last snapshot flagged partial"
				     : "nothing came after the last snapshot");
		return agg_end(a, true);
	case STREAM_IO:
		warnx("%s", stream_error(rd));
		return EX_IOERR;
	default: /* truncated or corrupt: every complete snapshot is out already */
		warnx("%s", stream_error(rd));
		return EX_DATAERR;
	}
}

/* Reads one input to its end; returns 0, an exit status, or -errno (output, memory). */
static int run_one(struct run *r, struct agg *a, int fd, const char *name)
{
	struct stream_reader *rd = stream_reader_new(fd, name);
	struct rec *rec = malloc(sizeof(*rec));
	bool pipe_in = is_pipe(fd);
	int st = -ENOMEM, e = 0;

	if (!rd || !rec)
		goto out;
	stream_reader_expect(rd, STREAM_KIND_RAW);
	/* a pipe is read on for a moment after a signal: the collector upstream ends it on the
	 * same Ctrl-C. A file never waits, and the loop below stops at its next record: with no
	 * limit there, a signal that came before the header (however slow the start) still lets
	 * the header through, END follows the output header, and tcptop-csv downstream writes its
	 * header row instead of failing on empty input. */
	stop_set_grace(pipe_in ? STOP_GRACE_NS : INT64_MAX);
	stream_reader_set_wait(rd, stop_wait_fd, NULL);
	while ((st = stream_read(rd, rec)) == STREAM_OK) {
		if (rec->type == REC_HEADER) {
			clock_gettime(CLOCK_MONOTONIC, &r->pace.deadline);
			e = agg_begin(a, &rec->u.header);
		} else if (!(e = agg_record(a, rec)) && rec->type == REC_END) {
			e = agg_end(a, false);
		}
		if (!e && stop_signal() && !pipe_in)
			e = stopped(a, stop_signal());
		if (e)
			break;
	}
	st = e ? e : input_end(a, rd, st);
out:
	stream_reader_free(rd);
	free(rec);
	return st;
}

/* The FILEs one after the other, sections of one output. */
static int run_files(struct run *r)
{
	struct agg *a = agg_new(&r->o);
	int st = 0, fd, sig;

	if (!a)
		return -ENOMEM;
	for (int i = 0; i < r->nfiles && !st; i++) {
		if ((st = input_open(r->files[i], &fd)))
			break;
		st = run_one(r, a, fd, r->files[i]);
		input_close(r->files[i], fd);
		/* a stop while an input was read to its end: the next ones are left unread */
		if (!st && i + 1 < r->nfiles && (sig = stop_signal_now()))
			st = exit_stopped(sig, false);
	}
	agg_free(a);
	return st;
}

/* Every FILE at once (--merge). */
static int run_merge(struct run *r)
{
	struct merge_input *in = calloc(r->nfiles, sizeof(*in));
	int st = in ? 0 : -ENOMEM, opened = 0;

	for (; !st && opened < r->nfiles; opened++) {
		in[opened].name = r->files[opened];
		st = input_open(in[opened].name, &in[opened].fd);
	}
	/* signals end the inputs upstream (the collectors); a pipe is read to its end */
	if (!st)
		st = merge_run(&r->o, r->nfiles, in);
	for (int i = 0; in && i < opened; i++)
		if (in[i].fd >= 0)
			input_close(in[i].name, in[i].fd);
	free(in);
	return st;
}

int main(int argc, char **argv)
{
	struct run r = {
		.o = { .interval_ns = 1000000000ULL,
		       .max_flows = DEFAULT_MAX_FLOWS,
		       .full_every = DEFAULT_FULL_EVERY },
		.pace = { .speed = 1.0 },
	};
	int st = parse(&r, argc, argv);

	if (st >= 0)
		return st;
	if (isatty(STDOUT_FILENO)) {
		warnx("standard output is a terminal: pipe it into tcptop-view or tcptop-csv, "
		      "or redirect it to a file");
		return EX_USAGE;
	}
	filter_text(&r.o.filter, r.ftext);
	r.o.filter_text = r.ftext;
	r.pace.interval = r.o.interval_ns;
	r.o.pace = pace;
	r.o.table_full = table_full;
	r.o.warn = say;
	r.o.ctx = &r;

	signal(SIGPIPE, SIG_IGN);
	if ((st = stop_init())) {
		errno = -st;
		err(EX_OSERR, "signals");
	}
	if (!(r.w = stream_writer_new(STDOUT_FILENO)))
		exit_write_failed(-ENOMEM, "standard output");
	r.o.out = agg_sink_writer(r.w);

	st = r.merge ? run_merge(&r) : run_files(&r);
	if (st < 0)
		exit_write_failed(st, "standard output");
	stream_writer_free(r.w);
	return st;
}
