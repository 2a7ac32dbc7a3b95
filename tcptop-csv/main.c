// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-csv: reads a snapshot stream, writes one CSV (or JSON Lines) row per connection per
 * snapshot. */
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

#include "dns.h"
#include "priv.h"
#include "rows.h"
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tcptop-csv [-o FILE] [-f csv|jsonl] [--group process|cgroup]\n"
		"                  [--excel-safe] [--crlf] [--resolve [--dns-server ADDR[:PORT]]]\n"
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
	       "  --excel-safe        CSV: prefix ' to text cells starting with = + - @ TAB CR, so\n"
	       "                      that a spreadsheet does not run them as formulas (default off:\n"
	       "                      it alters names such as a login shell's \"-bash\")\n"
	       "  --crlf              CSV: end lines with CR LF as RFC 4180 writes them (default LF)\n"
	       "  --resolve           add a column remote_host: the remote address's host name by\n"
	       "                      reverse DNS, empty until known; each snapshot waits at most\n"
	       "                      0.2 s for the names it asked for (default off: no column, no\n"
	       "                      DNS query)\n"
	       "  --dns-server ADDR[:PORT]  the DNS server --resolve asks (default: the first\n"
	       "                      nameserver of /etc/resolv.conf, port 53)\n"
	       "  -h, --help          this help\n"
	       "  --version           print the version\n"
	       "\n"
	       "Columns: timestamp, protocol, local_addr, local_port, remote_addr, remote_port, pid,\n"
	       "process_name, state, bytes_in, bytes_out, packets_in, packets_out,\n"
	       "rate_in_bytes_sec, rate_out_bytes_sec, rtt_us (these 16 fixed, in this order), then\n"
	       "retransmits, interface, ifindex, netns, closed, begun_before, new, snapshot_seq,\n"
	       "partial, loss_ringbuf, loss_flow_table_full, loss_flow_evicted, loss_agg_table_full,\n"
	       "loss_agg_unknown_flow, loss_agg_gap, failed, cgroup, cgroup_path, connections,\n"
	       "host, and with --resolve remote_host.\n"
	       "Empty where a value does not apply (state, rtt_us, retransmits and failed of UDP;\n"
	       "pid and process_name before an owner is seen) or is unknown: the columns of the\n"
	       "features the collector left out (its header's missing list: rtt, retrans,\n"
	       "packets, state, cgroup, failed-connects).\n"
	       "\n"
	       "Exit status: 0 success (also when the input ends without END); 64 usage (also\n"
	       "standard input a terminal, or the output file the input); 65 bad input (not a\n"
	       "snapshot stream, corrupt, truncated: every earlier row is written); 66 FILE\n"
	       "cannot be opened; 69 --resolve has no DNS server to ask; 71 out of memory; 73\n"
	       "the output file cannot be created, or is a symbolic link; 74 I/O error; 128+N\n"
	       "stopped by signal N (file input: after the current snapshot).\n"
	       "See tcptop-csv(1), tcptop-agg(1), tcptop-stream(5).\n");
}

/* A write failed: a reader that went away ends us quietly; anything else is an I/O error. */
static void write_failed(int e)
{
	if (e == -EPIPE)
		exit(0);
	if (e == -ENOMEM)
		errx(EX_OSERR, "out of memory");
	errno = -e;
	err(EX_IOERR, "write");
}

static void flush_or_die(struct rows *w)
{
	int e = rows_flush(w);

	if (e)
		write_failed(e);
}

/* --resolve: the snapshot's rows wait until the names asked for since the last wait are known
 * or failed, RESOLVE_WAIT_MS at most; a stop request ends the wait at once. */
static void await_names(int wake_fd)
{
	struct timespec deadline;

	if (wake_fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += RESOLVE_WAIT_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	while (dns_waiting() && stop_wait_fd_until(wake_fd, &deadline) > 0)
		dns_drain();
	dns_round();
}

/* The end of a snapshot (SNAP_END, END, or the end of the input): its rows or groups out. */
static void snapshot_end(struct rows *w, int wake_fd)
{
	int e;

	await_names(wake_fd);
	if ((e = rows_snapshot_end(w)))
		write_failed(e);
	flush_or_die(w);
}

/* Stops on a signal with every complete snapshot written; one cut short by the stop is left
 * out (in_snap). */
static void signal_exit(struct rows *w, bool in_snap)
{
	if (in_snap && rows_discard_snapshot(w) < 0)
		warnx("stopped inside a snapshot: its rows written so far stay in the output");
	flush_or_die(w);
	exit(128 + stop_signal());
}

int main(int argc, char **argv)
{
	enum {
		O_EXCEL = 256,
		O_CRLF,
		O_RESOLVE,
		O_DNS_SERVER,
		O_VERSION,
	};
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "excel-safe", no_argument, NULL, O_EXCEL },
		{ "crlf", no_argument, NULL, O_CRLF },
		{ "group", required_argument, NULL, 'g' },
		{ "resolve", no_argument, NULL, O_RESOLVE },
		{ "dns-server", required_argument, NULL, O_DNS_SERVER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	struct rows_opts o = { .format = ROWS_CSV };
	const char *output = NULL, *input = "-", *dns_server = NULL;
	struct stream_reader *rd;
	struct rows *w;
	struct rec *r;
	struct stat sb;
	bool pipe_in, header_done = false, in_snap = false, resolve = false;
	uint64_t snap_seq = 0;
	int c, st, e, in_fd, out_fd = STDOUT_FILENO, wake_fd = -1;

	while ((c = getopt_long(argc, argv, "o:f:g:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg)
				errx(EX_USAGE, "--output: empty file name");
			output = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "csv") == 0)
				o.format = ROWS_CSV;
			else if (strcmp(optarg, "jsonl") == 0)
				o.format = ROWS_JSONL;
			else
				errx(EX_USAGE, "--format %s: invalid (csv or jsonl)", optarg);
			break;
		case 'g':
			if (strcmp(optarg, "process") == 0)
				o.group = GROUP_PROCESS;
			else if (strcmp(optarg, "cgroup") == 0)
				o.group = GROUP_CGROUP;
			else
				errx(EX_USAGE, "--group %s: invalid (process or cgroup)", optarg);
			break;
		case O_EXCEL:
			o.excel_safe = true;
			break;
		case O_CRLF:
			o.crlf = true;
			break;
		case O_RESOLVE:
			resolve = true;
			break;
		case O_DNS_SERVER:
			dns_server = optarg;
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
		input = argv[optind];
	if (o.format == ROWS_JSONL && (o.excel_safe || o.crlf))
		errx(EX_USAGE, "--excel-safe and --crlf apply to CSV only");
	if (dns_server && !resolve)
		errx(EX_USAGE, "--dns-server applies to --resolve only");
	if (resolve && o.group != GROUP_NONE)
		errx(EX_USAGE, "--resolve names remote addresses: a --group row has none");

	/* the input first: a missing input leaves an existing output file alone */
	if (strcmp(input, "-") == 0) {
		in_fd = STDIN_FILENO;
		if (isatty(in_fd))
			errx(EX_USAGE, "standard input is a terminal: pipe a snapshot stream in "
				       "(tcptop-agg ... | tcptop-csv)");
	} else if ((in_fd = open(input, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0 ||
		   fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		/* not blocking in open(): a FIFO's writer is waited for where a signal ends it */
		err(EX_NOINPUT, "%s", input);
	}
	if (output && strcmp(output, "-") != 0) {
		struct stat in_st, out_st;

		char oe[PATH_MAX + 128];

		/* O_NOFOLLOW: a symbolic link is refused (it may point where the user did
		 * not mean to write) */
		out_fd = open_output(output, 0, oe, sizeof(oe));
		if (out_fd < 0)
			errx(EX_CANTCREAT, "cannot create %s", oe);
		/* truncated only once it is known not to be the input */
		if (fstat(in_fd, &in_st) == 0 && fstat(out_fd, &out_st) == 0 &&
		    S_ISREG(out_st.st_mode)) {
			if (in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
				errx(EX_USAGE, "%s is the input: it would be overwritten", output);
			if (ftruncate(out_fd, 0) < 0)
				err(EX_CANTCREAT, "cannot create %s", output);
		}
	}

	pipe_in = fstat(in_fd, &sb) == 0 && (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode));
	signal(SIGPIPE, SIG_IGN);
	if (stop_init())
		err(EX_OSERR, "signals");
	stop_set_grace(STOP_GRACE_NS);
	if (resolve) {
		/* after stop_init(): the resolver thread inherits SIGINT and SIGTERM blocked, so
		 * that they reach this thread's waits */
		char why[256];

		e = dns_start(dns_server, &wake_fd, why, sizeof(why));
		if (e == -EINVAL && dns_server)
			errx(EX_USAGE, "--dns-server %s: not ADDR or ADDR:PORT", dns_server);
		if (e == -ENOMEM)
			errx(EX_OSERR, "out of memory");
		if (e)
			errx(EX_UNAVAILABLE, "--resolve: %s", why);
		o.remote_host = dns_host;
		/* the resolver's own queries are left out, as the view leaves them out */
		dns_self(&o.self_lport, &o.self_rport);
	}

	rd = stream_reader_new(in_fd, input);
	w = rows_new(out_fd, &o);
	r = malloc(sizeof(*r));
	if (!rd || !w || !r)
		errx(EX_OSERR, "out of memory");
	stream_reader_expect(rd, STREAM_KIND_SNAPSHOT);
	stream_reader_set_wait(rd, stop_wait_fd, NULL);

	while ((st = stream_read(rd, r)) == STREAM_OK) {
		switch (r->type) {
		case REC_HEADER:
			/* a new section (concatenated streams): one header row for all */
			if (!header_done)
				rows_header(w);
			header_done = true;
			in_snap = false;
			rows_section(w, &r->u.header);
			if (rows_section_host(w, &r->u.header))
				errx(EX_OSERR, "out of memory");
			break;
		case REC_HOST:
			if (rows_host(w, &r->u.host))
				errx(EX_OSERR, "out of memory");
			break;
		case REC_CGROUP:
			rows_cgroup(w, r->u.cgroup.id, r->u.cgroup.path);
			break;
		case REC_SNAP_BEGIN:
			if (in_snap) {
				/* its rows so far are written, held ones (--resolve) too */
				if (resolve)
					snapshot_end(w, wake_fd);
				flush_or_die(w);
				errx(EX_DATAERR,
				     "%s: SNAP_BEGIN at byte %llu inside snapshot %llu (no SNAP_END)",
				     input, (unsigned long long)r->offset,
				     (unsigned long long)snap_seq);
			}
			rows_snapshot(w, &r->u.snap_begin);
			snap_seq = r->u.snap_begin.seq;
			in_snap = true;
			break;
		case REC_SNAP_ROW:
			if (!in_snap) {
				flush_or_die(w);
				errx(EX_DATAERR, "%s: SNAP_ROW at byte %llu outside a snapshot",
				     input, (unsigned long long)r->offset);
			}
			if ((e = rows_add(w, &r->u.row)))
				write_failed(e);
			break;
		case REC_SNAP_END:
			in_snap = false;
			snapshot_end(w, wake_fd);
			break;
		case REC_END:
			if (in_snap)
				warnx("%s: END at byte %llu inside snapshot %llu: its rows so far "
				      "are written",
				      input, (unsigned long long)r->offset,
				      (unsigned long long)snap_seq);
			in_snap = false;
			snapshot_end(w, wake_fd);
			break;
		default: /* other record types carry nothing for us */
			break;
		}
		/* a pipe is read to its end: the collector upstream ends the stream on Ctrl-C */
		if (stop_signal() && !pipe_in && !in_snap)
			signal_exit(w, false);
	}
	if (st == STREAM_STOPPED) /* a signal, and the input did not end in time */
		signal_exit(w, in_snap);
	/* stopped so early that nothing came (Ctrl-C before tcptop-agg read its input): no
	 * error, there is nothing to convert */
	if (st == STREAM_TRUNCATED && stream_reader_offset(rd) == 0 && stop_signal_now())
		signal_exit(w, false);
	snapshot_end(w, wake_fd);
	if (in_snap && st != STREAM_EOF)
		warnx("%s: the input ended inside snapshot %llu: its rows so far are written",
		      input, (unsigned long long)snap_seq);
	switch (st) {
	case STREAM_EOF:
		break;
	case STREAM_NO_END:
		warnx("%s", stream_error(rd));
		break;
	case STREAM_IO:
		errx(EX_IOERR, "%s", stream_error(rd));
	default: /* truncated or corrupt: every complete row is out already */
		errx(EX_DATAERR, "%s", stream_error(rd));
	}
	if (out_fd != STDOUT_FILENO && close(out_fd) < 0)
		err(EX_IOERR, "%s", output);
	if (stop_signal() && !pipe_in)
		return 128 + stop_signal();
	dns_stop();
	stream_reader_free(rd);
	rows_free(w);
	free(r);
	return 0;
}
