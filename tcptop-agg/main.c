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
#include "merge.h"
#include "opts.h"
#include "stop.h"
#include "stream.h"
#include "util.h"

#define DEFAULT_MAX_FLOWS 262144
/* After SIGINT or SIGTERM, how long a pipe is still read for the END upstream sends on the same
 * Ctrl-C: well under a second, and under tcptop-csv's grace downstream (0.7 s). */
#define STOP_GRACE_NS 400000000ULL

static void usage(FILE *f)
{
	fprintf(f, "usage: tcptop-agg [--interval SECS] [--port N] [--pid N] [--process NAME]\n"
		   "                  [-i|--interface IFACE] [--cgroup PATTERN] [--tcp] [--udp]\n"
		   "                  [--max-flows N]\n"
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
	       "Exit status: 0 success (also when the input ends without END: the last snapshot is\n"
	       "flagged partial); 64 usage, or standard input or output is a terminal; 65 bad input\n"
	       "(not a tcptop stream, not a raw stream, corrupt, truncated); 66 an input file cannot\n"
	       "be opened; 71 out of memory; 74 I/O error; 128+N stopped by signal N (file input).\n"
	       "See tcptop-agg(1), tcptop-stream(5).\n",
	       DEFAULT_MAX_FLOWS);
}

/* ---- pacing (--realtime): a deadline per snapshot, advanced by its span ---- */

static struct {
	bool on;
	double speed;
	uint64_t interval;
	struct timespec deadline;
} pace_st;

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ULL + t->tv_nsec;
}

static void pace_reset(void)
{
	clock_gettime(CLOCK_MONOTONIC, &pace_st.deadline);
}

static void pace(void *ctx, uint64_t mono_ns, uint64_t span_ns)
{
	struct timespec now;
	uint64_t d, step;

	(void)ctx;
	(void)mono_ns;
	if (!pace_st.on || stop_signal())
		return;
	/* a gap in the recording is not waited out: at most one interval per snapshot */
	step = span_ns < pace_st.interval ? span_ns : pace_st.interval;
	d = ts_ns(&pace_st.deadline) + (uint64_t)((double)step / pace_st.speed);
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* behind by more than an interval (a slow input): start again from now, no burst */
	if (d + pace_st.interval < ts_ns(&now))
		d = ts_ns(&now);
	pace_st.deadline.tv_sec = d / 1000000000ULL;
	pace_st.deadline.tv_nsec = d % 1000000000ULL;
	stop_sleep_until(&pace_st.deadline); /* a stop ends the wait: the loop sees it next */
}

/* The header's filter text, e.g. "port 443 and process nginx and tcp"; "" for none. */
static void filter_text(const struct agg_filter *f, char *buf)
{
	char tmp[SANITIZE_SIZE(64)];
	const char *parts[5];
	char num[2][32];
	int n = 0;
	size_t len = 0;

	if (f->port_set)
		snprintf(num[0], sizeof(num[0]), "port %u", f->port), parts[n++] = num[0];
	if (f->pid_set)
		snprintf(num[1], sizeof(num[1]), "pid %u", f->pid), parts[n++] = num[1];
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		len += snprintf(buf + len, HDR_STR_MAX - len, "%s%s", len ? " and " : "", parts[i]);
	if (f->process) {
		text_sanitize(tmp, sizeof(tmp), f->process, strnlen(f->process, 64));
		len += snprintf(buf + len, HDR_STR_MAX - len, "%sprocess %s", len ? " and " : "",
				tmp);
	}
	if (f->interface && len < HDR_STR_MAX) {
		text_sanitize(tmp, sizeof(tmp), f->interface, strnlen(f->interface, 64));
		len += snprintf(buf + len, HDR_STR_MAX - len, "%sinterface %s", len ? " and " : "",
				tmp);
	}
	if (f->cgroup && len < HDR_STR_MAX) {
		text_sanitize(tmp, sizeof(tmp), f->cgroup, strnlen(f->cgroup, 64));
		len += snprintf(buf + len, HDR_STR_MAX - len, "%scgroup %s", len ? " and " : "",
				tmp);
	}
	if (f->tcp != f->udp && len < HDR_STR_MAX)
		snprintf(buf + len, HDR_STR_MAX - len, "%s%s", len ? " and " : "",
			 f->tcp ? "tcp" : "udp");
}

static void table_full(void *ctx, uint64_t max_flows)
{
	(void)ctx;
	warnx("more than %llu connections at once (--max-flows): the others are not shown, "
	      "counted in the snapshots as agg_table_full",
	      (unsigned long long)max_flows);
}

/* ---- the loop ---- */

static void write_failed(int e)
{
	if (e == -EPIPE)
		exit(0); /* the reader went away: quietly */
	if (e == -ENOMEM)
		errx(EX_OSERR, "out of memory");
	errno = -e;
	err(EX_IOERR, "write");
}

/* Stopped by a signal: END after the last complete snapshot, then 128+N. */
static void stopped(struct agg *a)
{
	int e = agg_stop(a);

	if (e)
		write_failed(e);
	exit(128 + stop_signal());
}

/* Reads one input to its end; returns 0, or the exit status of a fatal error. */
static int run(struct agg *a, int fd, const char *name, bool *pipe_out)
{
	struct stream_reader *rd = stream_reader_new(fd, name);
	struct rec *r = malloc(sizeof(*r));
	struct stat sb;
	bool pipe_in = fstat(fd, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode));
	int st, e = 0, status = 0;

	if (!rd || !r)
		errx(EX_OSERR, "out of memory");
	*pipe_out = pipe_in;
	stream_reader_expect(rd, STREAM_KIND_RAW);
	/* a pipe is read on for a moment after a signal: the collector upstream ends it on the
	 * same Ctrl-C; a file is not waited for */
	stop_set_grace(pipe_in ? STOP_GRACE_NS : 0);
	stream_reader_set_wait(rd, stop_wait_fd, NULL);
	while ((st = stream_read(rd, r)) == STREAM_OK) {
		if (r->type == REC_HEADER) {
			pace_reset();
			e = agg_begin(a, &r->u.header);
		} else {
			e = agg_record(a, r);
			if (!e && r->type == REC_END)
				e = agg_end(a, false);
		}
		if (e)
			write_failed(e);
		if (stop_signal() && !pipe_in)
			stopped(a);
	}
	switch (st) {
	case STREAM_EOF:
		break;
	case STREAM_STOPPED: /* a signal, and the pipe did not end in time */
		stopped(a);
		break;
	case STREAM_NO_END:
		warnx("%s; %s", stream_error(rd),
		      agg_pending(a) ? "last snapshot flagged partial"
				     : "nothing came after the last snapshot");
		if ((e = agg_end(a, true)))
			write_failed(e);
		break;
	case STREAM_IO:
		warnx("%s", stream_error(rd));
		status = EX_IOERR;
		break;
	default: /* truncated or corrupt: every complete snapshot is out already */
		warnx("%s", stream_error(rd));
		status = EX_DATAERR;
		break;
	}
	stream_reader_free(rd);
	free(r);
	return status;
}

int main(int argc, char **argv)
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
	};
	bool merge = false;
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
		{ "realtime", no_argument, NULL, O_REALTIME },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "merge", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	struct agg_opts o = { .interval_ns = 1000000000ULL, .max_flows = DEFAULT_MAX_FLOWS };
	static char ftext[HDR_STR_MAX];
	char *stdin_only[] = { "-", NULL };
	struct stream_writer *w;
	struct agg *a;
	char msg[256];
	uint64_t v;
	char **files;
	bool pipe_in;
	int c, status = 0;

	pace_st.speed = 1.0;
	while ((c = getopt_long(argc, argv, "i:mh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			merge = true;
			break;
		case O_INTERVAL:
			if (opt_parse(OPT_AGG, "interval", optarg, &o.interval_ns, msg,
				      sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			break;
		case O_PORT:
			if (opt_parse(OPT_AGG, "port", optarg, &v, msg, sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			o.filter.port_set = true;
			o.filter.port = v;
			break;
		case O_PID:
			if (opt_parse(OPT_AGG, "pid", optarg, &v, msg, sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			o.filter.pid_set = true;
			o.filter.pid = v;
			break;
		case O_PROCESS:
			if (opt_parse(OPT_AGG, "process", optarg, &v, msg, sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			o.filter.process = optarg;
			break;
		case 'i':
			if (opt_parse(OPT_AGG, "interface", optarg, &v, msg, sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			o.filter.interface = optarg;
			break;
		case O_CGROUP:
			if (!*optarg || strlen(optarg) >= CGROUP_PATH_MAX)
				errx(EX_USAGE, "--cgroup: empty or longer than %d bytes",
				     CGROUP_PATH_MAX - 1);
			o.filter.cgroup = optarg;
			break;
		case O_TCP:
			o.filter.tcp = true;
			break;
		case O_UDP:
			o.filter.udp = true;
			break;
		case O_MAXFLOWS:
			if (opt_parse(OPT_AGG, "max-flows", optarg, &o.max_flows, msg, sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			break;
		case O_REALTIME:
			pace_st.on = true;
			break;
		case O_SPEED:
			if (opt_factor(OPT_AGG, "speed", optarg, &pace_st.speed, msg, sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			pace_st.on = true;
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
	if (isatty(STDOUT_FILENO))
		errx(EX_USAGE,
		     "standard output is a terminal: pipe it into tcptop-view or tcptop-csv, "
		     "or redirect it to a file");

	filter_text(&o.filter, ftext);
	o.filter_text = ftext;
	pace_st.interval = o.interval_ns;
	o.pace = pace;
	o.table_full = table_full;

	signal(SIGPIPE, SIG_IGN);
	if (stop_init())
		err(EX_OSERR, "signals");

	w = stream_writer_new(STDOUT_FILENO);
	if (merge) {
		int n = argc - optind;
		const char **names = calloc(n + 1, sizeof(*names));
		int *fds = calloc(n + 1, sizeof(*fds));

		if (pace_st.on)
			errx(EX_USAGE,
			     "--merge reads its inputs as they come: no --realtime or --speed");
		if (n < 1)
			errx(EX_USAGE,
			     "--merge: give the inputs (FILE FILE..., - for standard input)");
		if (!w || !names || !fds)
			errx(EX_OSERR, "out of memory");
		for (int i = 0; i < n; i++) {
			names[i] = argv[optind + i];
			if (strcmp(names[i], "-") == 0) {
				fds[i] = STDIN_FILENO;
				if (isatty(fds[i]))
					errx(EX_USAGE,
					     "standard input is a terminal: give a FILE, or "
					     "pipe a raw stream in");
			} else if ((fds[i] = open(names[i], O_RDONLY | O_CLOEXEC)) < 0) {
				err(EX_NOINPUT, "%s", names[i]);
			}
		}
		/* signals end the inputs upstream (the collectors); a pipe is read to its end */
		status = merge_run(&o, n, names, fds, w);
		stream_writer_free(w);
		free(names);
		free(fds);
		return status;
	}
	a = w ? agg_new(&o, w) : NULL;
	if (!a)
		errx(EX_OSERR, "out of memory");
	files = optind < argc ? argv + optind : stdin_only;
	for (; *files && !status; files++) {
		bool is_stdin = strcmp(*files, "-") == 0;
		/* not blocking in open(): a FIFO with no writer yet is waited for in the reader's
		 * wait, where a signal ends the wait */
		int fd = is_stdin ? STDIN_FILENO : open(*files, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

		if (fd < 0)
			err(EX_NOINPUT, "%s", *files);
		if (!is_stdin && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
			err(EX_NOINPUT, "%s", *files);
		/* a terminal gives no stream, and Ctrl-C could not end the wait for one */
		if (is_stdin && isatty(fd))
			errx(EX_USAGE,
			     "standard input is a terminal: give a FILE, or pipe a raw stream "
			     "in (tcptop-collect | tcptop-agg)");
		status = run(a, fd, *files, &pipe_in);
		if (!is_stdin)
			close(fd);
		/* a signal while a file was read, caught right at its end */
		if (stop_signal() && !pipe_in && !status)
			exit(128 + stop_signal());
	}
	agg_free(a);
	stream_writer_free(w);
	return status;
}
