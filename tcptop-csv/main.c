// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-csv: reads a snapshot stream, writes one CSV (or JSON Lines) row per connection per
 * snapshot (--changes: per changed connection). */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "contract.h"
#include "dns.h"
#include "priv.h"
#include "rows.h"
#include "snaptab.h"
#include "stop.h"
#include "stream.h"
#include "util.h"

/* After SIGINT or SIGTERM, how long the input is still read: the end of the stream from a pipe
 * (longer than tcptop-agg's 0.3 s, so that its END arrives), or the rest of the current snapshot
 * from a file. */
#define STOP_GRACE_NS 500000000ULL

/* --resolve: how long a snapshot waits at most for the host names it asked for; a name that
 * comes later is in the next snapshots. Lookups still in flight from an earlier snapshot are not
 * waited for again, so a server that never answers costs this once per snapshot with new
 * addresses. */
#define RESOLVE_WAIT_MS 200

/* The input's reads, not the reader's 128 KiB: each costs three system calls (the wait for input
 * or a stop, the read), here one set for some 5,000 rows. */
#define READ_SIZE (1024 * 1024)

/* What a step returns: go on, or the exit status (its message said). */
#define GO (-1)

/* One run: the options, then what they opened. */
struct csv {
	struct rows_opts o;
	const char *output, *input, *dns_server;
	bool resolve;
	int in_fd, out_fd;
	bool pipe_in;
	struct dns *dns;
	struct stream_reader *rd;
	struct rows *w;
	struct rec *r;
	struct rec_snap_row *row; /* where the record read put a row (NULL: r->u.row) */
	bool header_done, in_snap;
	uint64_t snap_seq;
	struct snaptab tab; /* the table deltas apply to (format 1.1) */
	int snap_kind;	    /* snaptab_begin()'s word on the snapshot being read */
	int write_err;	    /* -errno of the write that failed: main() reports it */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tcptop-csv [-o FILE] [-f csv|jsonl] [--group process|cgroup | --changes]\n"
		"                  [--excel-safe] [--crlf] [--figures]\n"
		"                  [--resolve [--dns-server ADDR[:PORT]]]\n"
		"                  [-h|--help] [--version] [FILE]\n");
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	       "Reads a snapshot stream (tcptop-agg's output) from FILE (- or none: standard input)\n"
	       "and writes one row per connection per snapshot: CSV (RFC 4180) with a header row,\n"
	       "or JSON Lines. Output is written out after every snapshot.\n"
	       "\n"
	       "Options:\n"
	       "  -o, --output FILE   write to FILE, created or overwritten, never the input\n"
	       "                      (default: standard output; - is standard output)\n"
	       "  -f, --format FMT    csv or jsonl: one JSON object per row, the same names\n"
	       "                      (default csv)\n"
	       "  -g, --group KEY     one row per process (KEY process: pid and name) or per\n"
	       "                      cgroup (KEY cgroup) per snapshot, with the sums of its\n"
	       "                      connections and their number in connections; the cells of\n"
	       "                      a connection's identity are empty (default: a row per\n"
	       "                      connection)\n"
	       "  --changes           only the rows of connections that opened, closed, moved\n"
	       "                      bytes or packets, or changed state, owner, cgroup,\n"
	       "                      retransmits, interface or LIMIT verdict (with --figures,\n"
	       "                      a figure but the measures) since their last row; an idle\n"
	       "                      connection has none (default: every connection's row in\n"
	       "                      every snapshot)\n"
	       "  --excel-safe        CSV: prefix ' to text cells starting with = + - @ TAB CR, so\n"
	       "                      that a spreadsheet does not run them as formulas (default off:\n"
	       "                      it alters names such as a login shell's \"-bash\"; remote_host\n"
	       "                      cells get it always: no host name starts so)\n"
	       "  --crlf              CSV: end lines with CR LF as RFC 4180 writes them (default LF)\n"
	       "  --figures           add the columns of TCP connections' figures, why each goes at\n"
	       "                      its pace: busy_ms ... lost (tcptop-csv(1)); empty for UDP and\n"
	       "                      where unknown (default off)\n"
	       "  --resolve           add a column remote_host: the remote address's host name by\n"
	       "                      reverse DNS, empty until known; each snapshot waits at most\n"
	       "                      0.2 s for the names it asked for; the resolver's own queries\n"
	       "                      are left out (default off: no column, no DNS query)\n"
	       "  --dns-server ADDR[:PORT]  the DNS server --resolve asks (default: the first\n"
	       "                      nameserver of /etc/resolv.conf, port 53)\n"
	       "  -h, --help          this help\n"
	       "  --version           print the version\n"
	       "\n"
	       "Columns (the first 16 fixed, in this order; busy_ms to lost only with --figures,\n"
	       "remote_host only with --resolve):\n");
	rows_help_columns(stdout);
	printf("Empty where a value does not apply (state, rtt_us, retransmits and failed of UDP;\n"
	       "pid and process_name before an owner is seen) or is unknown (cgroup and\n"
	       "cgroup_path when the collector's header says cgroup is missing).\n"
	       "\n");
	exit_help(stdout, TOOL_CSV);
	printf("See tcptop-csv(1), tcptop(1), tcptop-agg(1), tcptop-stream(5).\n");
}

static int options(struct csv *c, int argc, char **argv)
{
	enum {
		O_EXCEL = 256,
		O_CRLF,
		O_FIGURES,
		O_RESOLVE,
		O_DNS_SERVER,
		O_CHANGES,
		O_VERSION
	};
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "excel-safe", no_argument, NULL, O_EXCEL },
		{ "crlf", no_argument, NULL, O_CRLF },
		{ "figures", no_argument, NULL, O_FIGURES },
		{ "group", required_argument, NULL, 'g' },
		{ "changes", no_argument, NULL, O_CHANGES },
		{ "resolve", no_argument, NULL, O_RESOLVE },
		{ "dns-server", required_argument, NULL, O_DNS_SERVER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	int k;

	while ((k = getopt_long(argc, argv, "o:f:g:h", opts, NULL)) != -1) {
		switch (k) {
		case 'o':
			if (!*optarg)
				return warnx("--output: empty file name"), EX_USAGE;
			c->output = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "csv") == 0)
				c->o.format = ROWS_CSV;
			else if (strcmp(optarg, "jsonl") == 0)
				c->o.format = ROWS_JSONL;
			else
				return warnx("--format %s: invalid (csv or jsonl)", optarg),
				       EX_USAGE;
			break;
		case 'g':
			if (strcmp(optarg, "process") == 0)
				c->o.group = GROUP_PROCESS;
			else if (strcmp(optarg, "cgroup") == 0)
				c->o.group = GROUP_CGROUP;
			else
				return warnx("--group %s: invalid (process or cgroup)", optarg),
				       EX_USAGE;
			break;
		case O_EXCEL:
			c->o.excel_safe = true;
			break;
		case O_FIGURES:
			c->o.figures = true;
			break;
		case O_CRLF:
			c->o.crlf = true;
			break;
		case O_RESOLVE:
			c->resolve = true;
			break;
		case O_CHANGES:
			c->o.changes = true;
			break;
		case O_DNS_SERVER:
			c->dns_server = optarg;
			break;
		case 'h':
			help();
			return 0;
		case O_VERSION:
			printf("tcptop-csv %s\n", TCPTOP_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (argc - optind > 1) {
		warnx("one input at most (concatenate streams with cat)");
		usage(stderr);
		return EX_USAGE;
	}
	if (optind < argc)
		c->input = argv[optind];
	if (c->o.format == ROWS_JSONL && (c->o.excel_safe || c->o.crlf))
		return warnx("--excel-safe and --crlf apply to CSV only"), EX_USAGE;
	if (c->dns_server && !c->resolve)
		return warnx("--dns-server applies to --resolve only"), EX_USAGE;
	if (c->o.changes && c->o.group != GROUP_NONE)
		return warnx("--changes writes connection rows: not with --group"), EX_USAGE;
	if (c->resolve && c->o.group != GROUP_NONE)
		return warnx("--resolve names remote addresses: a --group row has none"), EX_USAGE;
	return GO;
}

/* The input first: a missing input leaves an existing output file alone. */
static int open_input(struct csv *c)
{
	struct stat sb;

	if (strcmp(c->input, "-") == 0) {
		c->in_fd = STDIN_FILENO;
		if (isatty(c->in_fd))
			return warnx("standard input is a terminal: pipe a snapshot stream in "
				     "(tcptop-agg ... | tcptop-csv)"),
			       EX_USAGE;
	} else if ((c->in_fd = open(c->input, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0 ||
		   fcntl(c->in_fd, F_SETFL, fcntl(c->in_fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		/* not blocking in open(): a FIFO's writer is waited for where a signal ends it */
		return warn("%s", c->input), EX_NOINPUT;
	}
	c->pipe_in = fstat(c->in_fd, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode));
	return GO;
}

/* -o FILE: a symbolic link is refused (O_NOFOLLOW: it may point where the user did not mean to
 * write), and the file is truncated only once it is known not to be the input. */
static int open_output_file(struct csv *c)
{
	struct stat in_st, out_st;
	char oe[PATH_MAX + 128];

	if (!c->output || strcmp(c->output, "-") == 0) {
		c->output = NULL;
		return GO;
	}
	c->out_fd = open_output(c->output, 0, oe, sizeof(oe));
	if (c->out_fd < 0)
		return warnx("cannot create %s", oe), EX_CANTCREAT;
	if (fstat(c->in_fd, &in_st) == 0 && fstat(c->out_fd, &out_st) == 0 &&
	    S_ISREG(out_st.st_mode)) {
		if (in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
			return warnx("%s is the input: it would be overwritten", c->output),
			       EX_USAGE;
		if (ftruncate(c->out_fd, 0) < 0)
			return warn("cannot create %s", c->output), EX_CANTCREAT;
	}
	return GO;
}

static bool remote_host(void *ctx, int family, const uint8_t addr[16], bool ask, char *buf,
			size_t size)
{
	return dns_host(ctx, family, addr, ask, buf, size);
}

static bool own_row(void *ctx, const struct rec_snap_row *r, const char *boot_id)
{
	return dns_own_row(ctx, r, boot_id);
}

/* Signals, the resolver (after stop_init(): its thread inherits SIGINT and SIGTERM blocked, so
 * that they reach this thread's waits), the reader and the writer. */
static int setup(struct csv *c)
{
	signal(SIGPIPE, SIG_IGN);
	if (stop_init())
		return warn("signals"), EX_OSERR;
	stop_set_grace(STOP_GRACE_NS);
	if (c->resolve) {
		char why[256];
		int e = dns_start(&c->dns, c->dns_server, why, sizeof(why));

		if (e == -EINVAL && c->dns_server)
			return warnx("--dns-server %s: not ADDR or ADDR:PORT", c->dns_server),
			       EX_USAGE;
		if (e == -ENOMEM)
			return warnx("out of memory"), EX_OSERR;
		if (e)
			return warnx("--resolve: %s", why), EX_UNAVAILABLE;
		c->o.remote_host = remote_host;
		c->o.own_row = own_row; /* its own queries are left out, as the view leaves them */
		c->o.ctx = c->dns;
	}
	c->rd = stream_reader_new(c->in_fd, c->input);
	c->w = rows_new(c->out_fd, &c->o);
	c->r = malloc(sizeof(*c->r));
	if (!c->rd || !c->w || !c->r || stream_reader_set_read_size(c->rd, READ_SIZE))
		return warnx("out of memory"), EX_OSERR;
	stream_reader_expect(c->rd, STREAM_KIND_SNAPSHOT);
	stream_reader_set_wait(c->rd, stop_wait_fd, NULL);
	return GO;
}

/* A write's result (0 or -errno): GO, or the status of a failed write, kept for main(). */
static int written(struct csv *c, int e)
{
	if (!e)
		return GO;
	c->write_err = e;
	return exit_write_status(e);
}

/* --resolve: the snapshot's rows wait until the names asked for since the last wait are known
 * or failed, RESOLVE_WAIT_MS at most; a stop request ends the wait at once. */
static void await_names(struct csv *c)
{
	struct timespec deadline;
	int fd = dns_wake_fd(c->dns);

	if (fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += RESOLVE_WAIT_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	while (dns_waiting(c->dns) && stop_wait_fd_until(fd, &deadline) > 0)
		dns_drain(c->dns);
	dns_round(c->dns);
}

/* The end of a snapshot (SNAP_END, END, or the end of the input): its rows or groups out. */
static int snapshot_end(struct csv *c)
{
	int st;

	await_names(c);
	st = written(c, rows_snapshot_end(c->w));
	return st == GO ? written(c, rows_flush(c->w)) : st;
}

/* A stop request left input unread: every complete snapshot is written, one cut short by it
 * left out (in_snap). */
static int stopped(struct csv *c, bool in_snap)
{
	int st;

	if (in_snap && rows_discard_snapshot(c->w) < 0)
		warnx("stopped inside a snapshot: its rows written so far stay in the output");
	st = written(c, rows_flush(c->w));
	return st == GO ? exit_stopped(stop_signal(), false) : st;
}

/* A row: a full snapshot's written at once (and kept when deltas may follow), a delta's
 * applied to the table. */
static int row(struct csv *c, const struct rec *r)
{
	const struct rec_snap_row *rr = c->row ? c->row : &r->u.row;
	int e = snaptab_add(&c->tab, r->type, rr);

	if (e == -EPROTO || !c->in_snap) {
		int st = written(c, rows_flush(c->w));

		if (st != GO)
			return st;
		warnx("%s: %s at byte %llu %s", c->input, rec_type_name(r->type),
		      (unsigned long long)r->offset,
		      c->in_snap ? "inside a snapshot of the other kind" : "outside a snapshot");
		return EX_DATAERR;
	}
	if (e)
		return warnx("out of memory"), EX_OSERR;
	return r->type == REC_SNAP_ROW ? written(c, rows_add(c->w, rr)) : GO;
}

/* The end of a snapshot: a delta's whole table is written now; one out of step is said
 * (once) and left out with the deltas after it, until a full snapshot. */
static int delta_end(struct csv *c, const struct rec *r)
{
	int st = snaptab_end(&c->tab), s;

	if (st == -ENOMEM)
		return warnx("out of memory"), EX_OSERR;
	if (st == SNAPTAB_OUT_OF_STEP && c->tab.out_of_step == 1)
		warnx("%s: delta snapshot %llu ends at byte %llu with %zu rows, its DELTA_BEGIN "
		      "says %u: out of step, deltas skipped until the next full snapshot",
		      c->input, (unsigned long long)c->snap_seq, (unsigned long long)r->offset,
		      snaptab_rows(&c->tab), c->tab.want);
	if (st == SNAPTAB_READY && c->snap_kind == SNAPTAB_DELTA &&
	    (s = written(c, rows_delta(c->w, &c->tab))) != GO)
		return s;
	return st == SNAPTAB_READY ? snapshot_end(c) : GO;
}

/* One record of the input. */
static int record(struct csv *c, const struct rec *r)
{
	switch (r->type) {
	case REC_HEADER:
		/* a new section (concatenated streams): one header row for all */
		if (!c->header_done)
			rows_header(c->w);
		c->header_done = true;
		c->in_snap = false;
		rows_section(c->w, &r->u.header);
		snaptab_section(&c->tab, &r->u.header);
		if (rows_section_host(c->w, &r->u.header))
			return warnx("out of memory"), EX_OSERR;
		break;
	case REC_DELTA_HOST:
	case REC_HOST:
		if (rows_host(c->w, &r->u.host))
			return warnx("out of memory"), EX_OSERR;
		break;
	case REC_CGROUP:
		rows_cgroup(c->w, r->u.cgroup.host, r->u.cgroup.id, r->u.cgroup.path);
		break;
	case REC_SNAP_BEGIN:
	case REC_DELTA_BEGIN:
		if (c->in_snap) {
			/* its rows so far are written, held ones (--resolve) too */
			int st = snapshot_end(c);

			if (st != GO)
				return st;
			warnx("%s: %s at byte %llu inside snapshot %llu (no SNAP_END)", c->input,
			      rec_type_name(r->type), (unsigned long long)r->offset,
			      (unsigned long long)c->snap_seq);
			return EX_DATAERR;
		}
		c->snap_kind = snaptab_begin(&c->tab, r->type, &r->u.snap_begin);
		if (c->snap_kind != SNAPTAB_SKIP &&
		    rows_snapshot(c->w, &r->u.snap_begin, c->snap_kind == SNAPTAB_FULL))
			return warnx("out of memory"), EX_OSERR;
		c->snap_seq = r->u.snap_begin.seq;
		c->in_snap = true;
		break;
	case REC_SNAP_ROW:
	case REC_DELTA_ROW:
		return row(c, r);
	case REC_SNAP_END:
	case REC_DELTA_END:
		c->in_snap = false;
		return delta_end(c, r);
	case REC_END:
		if (c->in_snap)
			warnx(c->snap_kind == SNAPTAB_FULL
				      ? "%s: END at byte %llu inside snapshot %llu: its rows so far "
					"are written"
				      : "%s: END at byte %llu inside delta snapshot %llu: it is left "
					"out",
			      c->input, (unsigned long long)r->offset,
			      (unsigned long long)c->snap_seq);
		c->in_snap = false;
		return snapshot_end(c);
	default: /* other record types carry nothing for us */
		break;
	}
	return GO;
}

/* The input ended (st, a stream_read() status other than STREAM_OK), or a stop cut it. */
static int input_end(struct csv *c, int st)
{
	int s;

	if (st == STREAM_STOPPED) /* a signal, and the input did not end in time */
		return stopped(c, c->in_snap);
	/* stopped so early that nothing came (Ctrl-C before tcptop-agg read its input): no
	 * error, there is nothing to convert, and nothing was left unread */
	if (st == STREAM_TRUNCATED && stream_reader_offset(c->rd) == 0 && stop_signal_now()) {
		s = written(c, rows_flush(c->w));
		return s != GO ? s : exit_stopped(stop_signal(), true);
	}
	if ((s = snapshot_end(c)) != GO)
		return s;
	if (c->in_snap && st != STREAM_EOF)
		warnx(c->snap_kind == SNAPTAB_FULL
			      ? "%s: the input ended inside snapshot %llu: its rows so far are written"
			      : "%s: the input ended inside delta snapshot %llu: it is left out",
		      c->input, (unsigned long long)c->snap_seq);
	if (c->tab.skipped)
		warnx("%s: %llu delta snapshots skipped: no full snapshot of their section before "
		      "them (a late start) or a table out of step",
		      c->input, (unsigned long long)c->tab.skipped);
	switch (st) {
	case STREAM_EOF:
		break;
	case STREAM_NO_END:
		warnx("%s", stream_error(c->rd));
		break;
	case STREAM_IO:
		return warnx("%s", stream_error(c->rd)), EX_IOERR;
	default: /* truncated or corrupt: every complete row is out already */
		return warnx("%s", stream_error(c->rd)), EX_DATAERR;
	}
	if (c->output && close(c->out_fd) < 0) {
		c->out_fd = -1;
		return written(c, -errno);
	}
	c->out_fd = -1;
	/* a table out of step: the stream contradicts itself (every snapshot it could is out) */
	if (c->tab.out_of_step)
		return EX_DATAERR;
	/* read to its end: whatever stop came, nothing was left unread */
	return exit_stopped(stop_signal(), true);
}

/* Records until the input ends or a stop leaves the rest unread. A pipe is read to its end:
 * the collector upstream ends the stream on Ctrl-C. */
static int convert(struct csv *c)
{
	int st, s;

	/* a full snapshot's rows are decoded where the table keeps them, not copied there */
	while ((st = stream_read_row(c->rd, c->r, c->row = snaptab_place(&c->tab))) == STREAM_OK) {
		if ((s = record(c, c->r)) != GO)
			return s;
		if (stop_signal() && !c->pipe_in && !c->in_snap)
			return stopped(c, false);
	}
	return input_end(c, st);
}

int main(int argc, char **argv)
{
	struct csv c = { .o.format = ROWS_CSV, .input = "-", .in_fd = -1, .out_fd = STDOUT_FILENO };
	int st = options(&c, argc, argv);

	if (st == GO)
		st = open_input(&c);
	if (st == GO)
		st = open_output_file(&c);
	if (st == GO)
		st = setup(&c);
	if (st == GO)
		st = convert(&c);
	if (c.write_err)
		exit_write_failed(c.write_err, c.output ? c.output : "standard output");
	dns_stop(c.dns);
	stream_reader_free(c.rd);
	rows_free(c.w);
	snaptab_free(&c.tab);
	free(c.r);
	return st;
}
