// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-view: the live table. Reads a snapshot stream on stdin, takes keys from /dev/tty. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "dns.h"
#include "feed.h"
#include "opts.h"
#include "stream.h"
#include "ui.h"
#include "util.h"
#include "view.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tcptop-view [--sort COLUMN] [--reverse] [--raw-units] [--no-color]\n"
		   "                  [--group process|cgroup] [--trend] [--closed N]\n"
		   "                  [--resolve] [--dns-server ADDR[:PORT]] [--services]\n"
		   "       tcptop-view --help | --version\n");
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	       "Shows a tcptop snapshot stream (from tcptop-agg) on stdin as a live table on the\n"
	       "terminal (/dev/tty). Without a terminal use tcptop-csv.\n"
	       "\n"
	       "  -s, --sort COLUMN  sort by COLUMN (default rx-rate): proto, local, remote, pid,\n"
	       "                     process, state, rx-rate, tx-rate, rx, tx, pkt-rx, pkt-tx, rtt,\n"
	       "                     cgroup; numbers sort largest first, text smallest first\n"
	       "  -r, --reverse      reverse the sort order (default off)\n"
	       "  -u, --raw-units    exact numbers instead of KiB/s, MiB ... (default off)\n"
	       "      --no-color     no colours (default: colours unless NO_COLOR is set)\n"
	       "  -g, --group KEY    start grouped by process or cgroup (default: no grouping)\n"
	       "  -t, --trend        start with each row's trend shown (default off)\n"
	       "      --closed N     closed connections kept for the c view, 0 to 1000000\n"
	       "                     (default 1000)\n"
	       "      --resolve      start with remote host names (reverse DNS; default off)\n"
	       "      --dns-server ADDR[:PORT]  the DNS server for --resolve and d (default: the\n"
	       "                     first nameserver of /etc/resolv.conf, port 53)\n"
	       "      --services     start with ports as service names (default off)\n"
	       "  -h, --help         this help\n"
	       "  -V, --version      the version\n"
	       "\n"
	       "Keys: q or Ctrl-C quit; Up, Down, PgUp, PgDn, Home, End select; Left, Right, <, >\n"
	       "sort column; r reverse; / filter (Enter keeps, Esc clears); p pause; u units;\n"
	       "Enter details of the selected connection (on a group: open or close it); a group\n"
	       "by process, by cgroup, none; c closed connections; t trends; [ ] time travel;\n"
	       "d host names; n service names; ? help; Ctrl-L repaint; Ctrl-Z suspend.\n"
	       "\n"
	       "Exit status: 0 quit; 64 usage, no terminal, or stdin is a terminal; 65 corrupt or\n"
	       "wrong kind of stream; 71 out of memory or a system failure; 74 read error; 128+N\n"
	       "killed by signal N (terminal restored).\n");
}

/* ---- signals ---- */

static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = sig;
	ssize_t n = write(sig_pipe[1], &c, 1);

	(void)n;
	errno = saved;
}

static void on_fatal(int sig)
{
	ui_restore_emergency();
	raise(sig); /* SA_RESETHAND: the default action, core dump included */
}

static void setup_signals(void)
{
	static const int quit[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH };
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT, SIGTRAP };
	struct sigaction sa = { 0 };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		err(EX_OSERR, "pipe");
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(quit) / sizeof(quit[0]); i++)
		sigaction(quit[i], &sa, NULL);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Terminal restored: now die of the signal, so the parent sees 128+N. */
static void die_of(int sig)
{
	sigset_t set;

	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

static void input_failed(struct stream_reader *rd, int st)
{
	ui_close();
	if (st == STREAM_IO)
		errx(EX_IOERR, "%s", stream_error(rd));
	errx(EX_DATAERR, "%s", stream_error(rd));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sort", required_argument, NULL, 's' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "raw-units", no_argument, NULL, 'u' },
		{ "no-color", no_argument, NULL, 'C' },
		{ "group", required_argument, NULL, 'g' },
		{ "trend", no_argument, NULL, 't' },
		{ "closed", required_argument, NULL, 'K' },
		{ "resolve", no_argument, NULL, 'D' },
		{ "dns-server", required_argument, NULL, 'S' },
		{ "services", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct view v = { .t.sort = COL_RX_RATE, .page = 20 };
	bool color = true, dns_started = false;
	const char *dns_server = NULL;
	int dns_fd = -1;
	uint64_t n;
	char msg[256];
	struct stream_reader *rd;
	struct feed *feed;
	struct rec r;
	sigset_t all, old;
	FILE *tty;
	char why[256];
	int c, st, ttyfd, wake_fd;
	bool dirty = true;

	setlocale(LC_ALL, "");
	table_utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	view_init(&v);
	while ((c = getopt_long(argc, argv, "s:rug:thV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			c = column_by_name(optarg);
			if (c < 0)
				errx(EX_USAGE, "--sort: unknown column '%s' (see --help)", optarg);
			v.t.sort = c;
			break;
		case 'r':
			v.t.reverse = true;
			break;
		case 'u':
			v.raw_units = true;
			break;
		case 'C':
			color = false;
			break;
		case 'g':
			if (!strcmp(optarg, "process"))
				v.t.group = GROUP_PROCESS;
			else if (!strcmp(optarg, "cgroup"))
				v.t.group = GROUP_CGROUP;
			else
				errx(EX_USAGE, "--group %s: invalid (process or cgroup)", optarg);
			break;
		case 't':
			v.trend_on = true;
			break;
		case 'K':
			if (opt_parse(OPT_VIEW, "closed", optarg, &n, msg, sizeof(msg)))
				errx(EX_USAGE, "%s", msg);
			v.closed_max = n;
			break;
		case 'D':
			v.dns_on = true;
			break;
		case 'S':
			dns_server = optarg;
			break;
		case 'N':
			v.svc_on = true;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("tcptop-view %s\n", TCPTOP_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		warnx("unexpected argument '%s': the stream comes on standard input", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
		color = false;
	if (isatty(STDIN_FILENO))
		errx(EX_USAGE, "standard input is a terminal: pipe a snapshot stream in "
			       "(tcptop-agg ... | tcptop-view)");
	ttyfd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (ttyfd < 0)
		errx(EX_USAGE,
		     "no terminal (/dev/tty: %s): use tcptop-csv to log snapshots instead",
		     strerror(errno));

	/* the stream header first: the wrong kind of input is refused before the screen changes */
	rd = stream_reader_new(STDIN_FILENO, "-");
	if (!rd)
		errx(EX_OSERR, "out of memory");
	stream_reader_expect(rd, STREAM_KIND_SNAPSHOT);
	st = stream_read(rd, &r);
	if (st != STREAM_OK)
		input_failed(rd, st);

	setup_signals();
	tty = fdopen(ttyfd, "r+");
	if (!tty)
		err(EX_OSERR, "/dev/tty");
	if (ui_open(tty, NULL, color, why, sizeof(why)) < 0)
		errx(EX_USAGE, "%s: use tcptop-csv without a usable terminal", why);

	/* asynchronous signals all come to this loop, not to the reader thread; faults stay
	 * unblocked there, or the kernel would kill us without restoring the terminal */
	sigemptyset(&all);
	sigaddset(&all, SIGINT);
	sigaddset(&all, SIGTERM);
	sigaddset(&all, SIGHUP);
	sigaddset(&all, SIGWINCH);
	sigaddset(&all, SIGQUIT);
	sigaddset(&all, SIGTSTP);
	sigaddset(&all, SIGCONT);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	feed = feed_start(rd, !table_utf8, &wake_fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!feed) {
		ui_close();
		err(EX_OSERR, "reader thread");
	}

	for (;;) {
		struct pollfd pfd[4] = {
			{ .fd = ttyfd, .events = POLLIN },
			{ .fd = wake_fd, .events = POLLIN },
			{ .fd = sig_pipe[0], .events = POLLIN },
			{ .fd = dns_fd, .events = POLLIN },
		};
		unsigned char sig;

		if (v.dns_on && !dns_started) {
			/* started on first use: the socket's port marks our own queries */
			dns_started = true;
			if (dns_start(dns_server, &dns_fd, why, sizeof(why)) < 0) {
				v.dns_on = false;
				dns_fd = -1;
			} else {
				dns_self(&v.t.self_lport, &v.t.self_rport);
				view_rebuild(&v);
			}
			pfd[3].fd = dns_fd;
			dirty = true;
		}
		if (dirty)
			ui_draw(&v);
		dirty = false;
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			ui_close();
			err(EX_OSERR, "poll");
		}
		while (read(sig_pipe[0], &sig, 1) == 1) {
			if (sig == SIGWINCH) {
				ui_resize();
				dirty = true;
				continue;
			}
			ui_close();
			die_of(sig);
		}
		if (pfd[1].revents) {
			struct snapshot *s;

			feed_drain(feed);
			v.arrived = feed_count(feed);
			while ((s = feed_take(feed, NULL))) {
				view_install(&v, s);
				dirty = true;
			}
			st = feed_status(feed);
			if (st == STREAM_EOF || st == STREAM_NO_END) {
				/* a later wake after the end is no error */
				if (!v.ended) {
					v.ended = st == STREAM_EOF ? END_CLEAN : END_NO_END;
					view_input_ended(&v);
					dirty = true;
				}
			} else if (st != STREAM_OK) {
				input_failed(rd, st);
			}
		}
		if (dns_fd >= 0 && (pfd[3].revents & POLLIN) && dns_drain())
			dirty = true;
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			ui_close();
			die_of(SIGHUP);
		}
		if (pfd[0].revents & POLLIN) {
			int key;

			while ((key = ui_key()) >= 0) {
				enum action a = view_key(&v, key);

				if (a == ACT_QUIT) {
					ui_close();
					if (v.ended == END_NO_END)
						warnx("%s", stream_error(rd));
					view_free(&v);
					return 0;
				}
				if (a == ACT_REBUILD)
					view_rebuild(&v);
				if (a == ACT_REPAINT)
					ui_repaint();
				if (a != ACT_NONE)
					dirty = true;
			}
		}
	}
}
