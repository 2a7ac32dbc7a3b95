// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-view: the live table. Reads a snapshot stream on stdin, takes keys from /dev/tty. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "contract.h"
#include "dns.h"
#include "feed.h"
#include "opts.h"
#include "stream.h"
#include "ui.h"
#include "util.h"
#include "view.h"

/* What a step returns: go on, or the exit status (its message said); DIE + N: restore the
 * terminal and die of signal N. */
#define GO  (-1)
#define DIE 1000

/* One run: the view's state, the options, the terminal, the input. */
struct app {
	struct view v;
	bool color;
	const char *dns_server;
	int ttyfd;
	FILE *tty;
	struct stream_reader *rd;
	struct rec first; /* the stream header, read before the screen changes */
	struct feed *feed;
	int wake_fd;
	bool dirty;
};

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
	       "                     limit, cgroup; numbers sort largest first, text smallest\n"
	       "                     first\n"
	       "  -r, --reverse      reverse the sort order (default off)\n"
	       "  -u, --raw-units    exact numbers instead of KiB/s, MiB ... (default off)\n"
	       "      --no-color     no colours (default: colours unless NO_COLOR is set)\n"
	       "  -g, --group KEY    start grouped by process or cgroup (default: no grouping)\n"
	       "  -t, --trend        start with each row's trend shown (default off)\n"
	       "      --closed N     closed connections kept for the c view, 0 to 1000000\n"
	       "                     (default 1000)\n"
	       "      --resolve      start with remote host names (reverse DNS; default off); the\n"
	       "                     resolver's own queries are left out of the table\n"
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
	       "\n");
	exit_help(stdout, TOOL_VIEW);
	printf("See tcptop-view(1), tcptop(1), tcptop-agg(1), tcptop-stream(5).\n");
}

static int options(struct app *a, int argc, char **argv)
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
	struct view *v = &a->v;
	char msg[256];
	uint64_t n;
	int c;

	while ((c = getopt_long(argc, argv, "s:rug:thV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if ((c = column_by_name(optarg)) < 0)
				return warnx("--sort: unknown column '%s' (see --help)", optarg),
				       EX_USAGE;
			v->t.sort = c;
			break;
		case 'r':
			v->t.reverse = true;
			break;
		case 'u':
			v->raw_units = true;
			break;
		case 'C':
			a->color = false;
			break;
		case 'g':
			if (!strcmp(optarg, "process"))
				v->t.group = GROUP_PROCESS;
			else if (!strcmp(optarg, "cgroup"))
				v->t.group = GROUP_CGROUP;
			else
				return warnx("--group %s: invalid (process or cgroup)", optarg),
				       EX_USAGE;
			break;
		case 't':
			v->trend_on = true;
			break;
		case 'K':
			if (opt_parse(OPT_VIEW, "closed", optarg, &n, msg, sizeof(msg)))
				return warnx("%s", msg), EX_USAGE;
			v->closed_max = n;
			break;
		case 'D':
			v->dns_on = true;
			break;
		case 'S':
			a->dns_server = optarg;
			break;
		case 'N':
			v->svc_on = true;
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
		a->color = false;
	return GO;
}

/* The terminal, then the stream header: the wrong kind of input is refused before the screen
 * changes. */
static int open_input(struct app *a)
{
	int st;

	if (isatty(STDIN_FILENO))
		return warnx("standard input is a terminal: pipe a snapshot stream in "
			     "(tcptop-agg ... | tcptop-view)"),
		       EX_USAGE;
	a->ttyfd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (a->ttyfd < 0)
		return warnx("no terminal (/dev/tty: %s): use tcptop-csv to log snapshots instead",
			     strerror(errno)),
		       EX_USAGE;
	a->rd = stream_reader_new(STDIN_FILENO, "-");
	if (!a->rd)
		return warnx("out of memory"), EX_OSERR;
	stream_reader_expect(a->rd, STREAM_KIND_SNAPSHOT);
	st = stream_read(a->rd, &a->first);
	if (st != STREAM_OK)
		return warnx("%s", stream_error(a->rd)), st == STREAM_IO ? EX_IOERR : EX_DATAERR;
	return GO;
}

/* ---- signals: the handlers write the signal's number down a pipe the loop polls (a handler
 * has no context pointer: the pipe is this file's one global) ---- */

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

static int setup_signals(void)
{
	static const int quit[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH };
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT, SIGTRAP };
	struct sigaction sa = { 0 };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
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
	return 0;
}

/* The terminal restored: now die of the signal, so the parent sees 128+N (main() only). */
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

/* Blocks the asynchronous signals (old: the mask before), for a thread about to be started:
 * they all come to the loop, not to the reader or the resolver; faults stay unblocked there, or
 * the kernel would kill us without restoring the terminal. */
static void block_async(sigset_t *all, sigset_t *old)
{
	static const int async[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGQUIT, SIGTSTP, SIGCONT };

	sigemptyset(all);
	for (size_t i = 0; i < sizeof(async) / sizeof(async[0]); i++)
		sigaddset(all, async[i]);
	pthread_sigmask(SIG_BLOCK, all, old);
}

/* Signals, the screen, the reader thread. */
static int start(struct app *a)
{
	char why[256];
	sigset_t all, old;
	int e;

	if ((e = setup_signals()))
		return warnx("pipe: %s", strerror(-e)), EX_OSERR;
	a->tty = fdopen(a->ttyfd, "r+");
	if (!a->tty)
		return warn("/dev/tty"), EX_OSERR;
	if (ui_open(a->tty, NULL, a->color, why, sizeof(why)) < 0)
		return warnx("%s: use tcptop-csv without a usable terminal", why), EX_USAGE;
	block_async(&all, &old);
	a->feed = feed_start(a->rd, !table_utf8, &a->wake_fd);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!a->feed) {
		ui_close();
		return warnx("reader thread: %s", strerror(e)), EX_OSERR;
	}
	return GO;
}

static bool own_row(void *ctx, const struct strtab *st, const struct vrow *v, const char *boot_id)
{
	struct rec_snap_row r;

	if (v->r.id.proto != PROTO_UDP) /* the resolver's queries are UDP: no copy for the rest */
		return false;
	memset(&r, 0, sizeof(r));
	vrow_conn_id(st, v, &r.id);
	r.flags = v->r.flags;
	r.pid = v->r.pid;
	return dns_own_row(ctx, &r, boot_id);
}

/* The resolver, its own queries left out of the table. 0, or dns_start()'s error. Its thread
 * starts with the asynchronous signals blocked: they are for the loop. */
static int resolver_start(struct app *a, char *why, size_t size)
{
	sigset_t all, old;
	int e;

	block_async(&all, &old);
	e = dns_start(&a->v.dns, a->dns_server, why, size);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (e)
		return e;
	a->v.t.own_row = own_row;
	a->v.t.own_ctx = a->v.dns;
	return 0;
}

/* --resolve or --dns-server: the resolver starts with the view, so that a server that is no
 * address (64) or none at all (69) is said before the screen changes. */
static int resolver_early(struct app *a)
{
	char why[256];
	int e;

	if (!a->v.dns_on && !a->dns_server)
		return GO;
	e = resolver_start(a, why, sizeof(why));
	if (e == -EINVAL && a->dns_server)
		return warnx("--dns-server %s: not ADDR or ADDR:PORT", a->dns_server), EX_USAGE;
	if (e == -ENOMEM)
		return warnx("out of memory"), EX_OSERR;
	if (e)
		return warnx("--resolve: %s", why), EX_UNAVAILABLE;
	return GO;
}

/* d without a resolver yet: it starts on first use; without one (no server) the names stay
 * off and the status line says why. */
static void resolver_late(struct app *a)
{
	char why[256];

	if (!a->v.dns_on || a->v.dns)
		return;
	if (resolver_start(a, why, sizeof(why)) < 0) {
		a->v.dns_on = false;
		snprintf(a->v.note, sizeof(a->v.note), "no host names: %s", why);
	}
	view_rebuild(&a->v);
	a->dirty = true;
}

/* Snapshots that came, or the end of the input. */
static int on_input(struct app *a)
{
	struct snapshot *s;
	uint64_t skipped = 0;
	int st;

	feed_drain(a->feed);
	a->v.arrived = feed_count(a->feed);
	while ((s = feed_take(a->feed, &skipped))) {
		view_install(&a->v, s);
		a->dirty = true;
	}
	a->v.skipped = skipped;
	st = feed_status(a->feed);
	if (st == STREAM_EOF || st == STREAM_NO_END) {
		/* a later wake after the end is no error */
		if (!a->v.ended) {
			a->v.ended = st == STREAM_EOF ? END_CLEAN : END_NO_END;
			view_input_ended(&a->v);
			a->dirty = true;
		}
	} else if (st != STREAM_OK) {
		ui_close();
		return warnx("%s", stream_error(a->rd)), st == STREAM_IO ? EX_IOERR : EX_DATAERR;
	}
	return GO;
}

static int on_keys(struct app *a)
{
	int key;

	while ((key = ui_key()) >= 0) {
		enum action act = view_key(&a->v, key);

		if (act == ACT_QUIT) {
			ui_close();
			if (a->v.ended == END_NO_END)
				warnx("%s", stream_error(a->rd));
			return 0;
		}
		if (act == ACT_REBUILD)
			view_rebuild(&a->v);
		if (act == ACT_REPAINT)
			ui_repaint();
		if (act != ACT_NONE)
			a->dirty = true;
	}
	return GO;
}

/* Draw, wait for input, keys, answers or a signal; until q, a stop or a failure. */
static int loop(struct app *a)
{
	int st = GO;
	unsigned char sig;

	while (st == GO) {
		struct pollfd pfd[4] = {
			{ .fd = a->ttyfd, .events = POLLIN },
			{ .fd = a->wake_fd, .events = POLLIN },
			{ .fd = sig_pipe[0], .events = POLLIN },
			{ .fd = dns_wake_fd(a->v.dns), .events = POLLIN },
		};

		resolver_late(a);
		pfd[3].fd = dns_wake_fd(a->v.dns);
		if (a->dirty)
			ui_draw(&a->v);
		a->dirty = false;
		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			ui_close();
			return warn("poll"), EX_OSERR;
		}
		while (read(sig_pipe[0], &sig, 1) == 1) {
			if (sig != SIGWINCH)
				return DIE + sig;
			ui_resize();
			a->dirty = true;
		}
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL))
			return DIE + SIGHUP;
		/* keys first, and drawn before the next snapshot is installed: at 1,000,000 rows
		 * an install takes tens of milliseconds a key need not wait for */
		if (pfd[0].revents & POLLIN) {
			st = on_keys(a);
			if (st == GO && a->dirty && pfd[1].revents) {
				ui_draw(&a->v);
				a->dirty = false;
			}
		}
		if (st == GO && pfd[1].revents)
			st = on_input(a);
		if ((pfd[3].revents & POLLIN) && dns_drain(a->v.dns))
			a->dirty = true;
	}
	return st;
}

int main(int argc, char **argv)
{
	struct app a = { .v = { .t.sort = COL_RX_RATE, .page = 20 }, .color = true, .ttyfd = -1 };
	int st;

	/* a snapshot's rows are one large array, made and freed every interval: a fixed threshold
	 * keeps them mapped apart and given back when freed (glibc's moving one would keep them
	 * in the heap, where a freed table stays resident) */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	setlocale(LC_ALL, "");
	table_utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	view_init(&a.v);
	st = options(&a, argc, argv);
	if (st == GO)
		st = open_input(&a);
	if (st == GO)
		st = resolver_early(&a);
	if (st == GO)
		st = start(&a);
	if (st == GO) {
		a.dirty = true;
		st = loop(&a);
	}
	if (st >= DIE) {
		ui_close();
		die_of(st - DIE);
	}
	dns_stop(a.v.dns);
	view_free(&a.v);
	if (!a.feed) /* else its thread may still be reading it */
		stream_reader_free(a.rd);
	return st;
}
