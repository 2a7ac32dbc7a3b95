// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop: wires tcptop-collect | tcptop-agg | tcptop-view (or tcptop-csv, tcptop-prom), keeps
 * privilege only in the collector, forwards signals, and exits with the status of the first
 * stage that failed, or by the stop rule of tcptop(1) when a signal stopped the run.
 */
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
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "contract.h"
#include "opts.h"
#include "priv.h"
#include "stream.h"
#include "util.h"

/* Arguments of one stage at most: its options are bounded (the collector's and the
 * aggregator's take about 25), so this is never reached. */
#define MAX_ARGS 48

/* What a step returns: go on, or the exit status (its message said). */
#define GO (-1)

enum stage_id {
	S_COLLECT,
	S_TEE,
	S_AGG,
	S_LAST,
	NSTAGES
};

struct stage {
	const char *name;
	char *argv[MAX_ARGS];
	int argc;
	char path[PATH_MAX + 32];
	bool used;
	bool as_user; /* drop to the invoking user before exec */
	pid_t pid;
	int status; /* wait status */
	bool done;
	bool stopped_by_us; /* we sent it SIGTERM: its death by that signal is not a failure */
	bool input_ended;   /* and every stage before it had ended by then (its input whole) */
	int errfd;	    /* captured stderr while the view owns the terminal, else -1 */
};

/* The options, as given. */
struct opts {
	const char *port, *pid, *process, *iface, *interval, *log, *record, *replay, *speed;
	const char *udpto, *maxflows, *backend, *duration, *cgroup, *fullwalk, *format;
	const char *prometheus, *textfile;
	bool tcp, udp, verbose, resolve, excel_safe, log_changes;
};

/* One run: the options, who the user stages run as, the stages and the stop asked for. */
struct run {
	struct opts o;
	bool prom, headless; /* --prometheus or --textfile; that or --log */
	struct priv_target user;
	char tooldir[PATH_MAX];
	struct stage st[NSTAGES];
	sigset_t waited, old; /* the signals the wrapper waits for; the mask it started with */
	int stop_sig;	      /* the first SIGINT, SIGTERM or SIGHUP that asked the run to stop */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tcptop [--port N] [--pid N] [--process NAME] [-i|--interface IFACE]\n"
		"              [--cgroup PATTERN] [--tcp] [--udp] [--interval SECS]\n"
		"              [--log PATH [--log-changes]] [--format csv|jsonl] [--excel-safe]\n"
		"              [--resolve]\n"
		"              [--record PATH] [--prometheus ADDR:PORT] [--textfile PATH]\n"
		"              [--replay PATH] [--speed X] [--udp-timeout SECS] [--max-flows N]\n"
		"              [--backend auto|tracepoint|fentry|kprobe] [--duration SECS]\n"
		"              [--full-walk SECS]\n"
		"              [-v|--verbose] [-h|--help] [--version]\n");
}

static void help(void)
{
	usage(stdout);
	printf("\n"
	       "Per-connection network monitor: every TCP and UDP connection of the host with its\n"
	       "process, bytes, packets, rates and RTT. Runs tcptop-collect | tcptop-agg | tcptop-view,\n"
	       "or tcptop-csv with --log. Live capture needs root or CAP_BPF, CAP_PERFMON and\n"
	       "CAP_NET_ADMIN; under sudo only the collector keeps privilege, the other stages run as\n"
	       "the invoking user and create the --log and --record files as that user (a symbolic\n"
	       "link is refused).\n"
	       "\n"
	       "Filters (combinable: a connection is shown when it matches all of them):\n"
	       "  --port N            local or remote port N (0 to 65535)\n"
	       "  --pid N             owned by process N (1 to 4194304)\n"
	       "  --process NAME      process name contains NAME (1 to 64 bytes)\n"
	       "  -i, --interface IF  uses interface IF (1 to 64 bytes)\n"
	       "  --cgroup PATTERN    in a cgroup whose short form (nginx.service, a container's\n"
	       "                      12-digit id) or path matches the shell glob PATTERN\n"
	       "  --tcp, --udp        only TCP, only UDP; both together: both (the default)\n"
	       "\n"
	       "Modes:\n"
	       "  (default)           live table in the terminal\n"
	       "  --log PATH          headless: CSV to PATH (overwritten) until SIGINT or SIGTERM\n"
	       "  --format FMT        --log as csv or jsonl (JSON Lines); default csv, or jsonl\n"
	       "                      when PATH ends in .jsonl\n"
	       "  --log-changes       --log only the rows of connections that opened, closed,\n"
	       "                      moved bytes or changed state, owner or LIMIT verdict in\n"
	       "                      the interval (default: every connection's row every\n"
	       "                      interval)\n"
	       "  --excel-safe        --log as CSV: text cells starting with = + - @ get a ' in\n"
	       "                      front, so that a spreadsheet does not run them (default off;\n"
	       "                      remote_host cells get it always)\n"
	       "  --resolve           remote host names by reverse DNS: the table starts with them\n"
	       "                      shown (key d), --log adds a column remote_host (default off)\n"
	       "  --prometheus ADDR:PORT  headless: serve Prometheus metrics on ADDR:PORT\n"
	       "                      (tcptop-prom) until SIGINT or SIGTERM\n"
	       "  --textfile PATH     headless: metrics for node_exporter's textfile collector,\n"
	       "                      rewritten in PATH every interval (with --prometheus or alone)\n"
	       "  --record PATH       also keep the raw collector stream in PATH (live only)\n"
	       "  --replay PATH       read a recording instead of the kernel: no root needed; the\n"
	       "                      table is paced at recorded speed, --log writes as fast as it can\n"
	       "\n"
	       "Options:\n"
	       "  --interval SECS     sample and refresh interval, fractions allowed: 0.01 to 3600\n"
	       "                      live, 0.001 to 86400 with --replay (default 1)\n"
	       "  --speed X           replay speed factor for the table, above 0, at most 1000\n"
	       "                      (default 1)\n"
	       "  --duration SECS     live: stop after SECS (0.001 to 31536000)\n"
	       "  --udp-timeout SECS  a UDP flow ends after SECS idle, 0.1 to 86400 (default 30)\n"
	       "  --max-flows N       connections tracked at most: 16 to 16777216 live (collector),\n"
	       "                      1 to 100000000 with --replay (aggregator)\n"
	       "  --backend B         collector hooks: auto, tracepoint, fentry or kprobe (default auto)\n"
	       "  --full-walk SECS    live: the collector walks every connection every SECS, 0 to\n"
	       "                      3600 (default 0: as seldom as keeps it under 0.5%% of a core)\n"
	       "  -v, --verbose       the collector reports the hooks it chose on stderr\n"
	       "  -h, --help          this help\n"
	       "  --version           print the version\n"
	       "\n"
	       "Examples:\n"
	       "  sudo tcptop --port 443\n"
	       "  sudo tcptop --process nginx --interval 2\n"
	       "  sudo tcptop --log conns.csv --interval 5\n"
	       "  sudo tcptop --log changes.csv --log-changes\n"
	       "  sudo tcptop --record run.tcpt;  tcptop --replay run.tcpt\n"
	       "  sudo tcptop --prometheus 127.0.0.1:9687 --interval 15\n"
	       "  ssh host sudo tcptop-collect | tcptop-agg | tcptop-view\n"
	       "\n");
	exit_help(stdout, TOOL_WRAPPER);
	printf("Otherwise the status of the first stage that failed, with that stage's messages\n"
	       "only. See tcptop(1), tcptop-collect(1), tcptop-agg(1), tcptop-view(1),\n"
	       "tcptop-csv(1), tcptop-prom(1).\n");
}

/* ---- options ---- */

static int option(struct run *r, int c, const char *arg)
{
	struct opts *o = &r->o;

	switch (c) {
	case 'i':
		o->iface = arg;
		break;
	case 'c':
		if (!*arg || strlen(arg) >= CGROUP_PATH_MAX)
			return warnx("--cgroup: empty or longer than %d bytes",
				     CGROUP_PATH_MAX - 1),
			       EX_USAGE;
		o->cgroup = arg;
		break;
	case 'f':
		if (strcmp(arg, "csv") != 0 && strcmp(arg, "jsonl") != 0)
			return warnx("--format %s: invalid (csv or jsonl)", arg), EX_USAGE;
		o->format = arg;
		break;
	case 'b':
		if (strcmp(arg, "auto") && strcmp(arg, "tracepoint") && strcmp(arg, "fentry") &&
		    strcmp(arg, "kprobe"))
			return warnx("--backend %s: auto, tracepoint, fentry or kprobe", arg),
			       EX_USAGE;
		o->backend = arg;
		break;
	case 'P':
		if (!*arg || !strchr(arg, ':'))
			return warnx("--prometheus %s: expected ADDR:PORT", arg), EX_USAGE;
		o->prometheus = arg;
		break;
	case 'T':
		if (!*arg)
			return warnx("--textfile: empty file name"), EX_USAGE;
		o->textfile = arg;
		break;
	default:
		usage(stderr);
		return EX_USAGE;
	}
	return GO;
}

/* Refuse (64) a value that a tool in tools (the collector first) would refuse, with its
 * message. */
static int check_range(unsigned tools, const char *name, const char *val)
{
	static const unsigned order[] = { OPT_COLLECT, OPT_AGG };
	char msg[256];
	uint64_t u;
	double d;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct opt_range *rg = (tools & order[i]) ? opt_find(order[i], name) : NULL;

		if (!rg)
			continue;
		if (rg->kind == OPT_FACTOR ? opt_factor(order[i], name, val, &d, msg, sizeof(msg))
					   : opt_parse(order[i], name, val, &u, msg, sizeof(msg)))
			return warnx("%s", msg), EX_USAGE;
	}
	return GO;
}

/* The options that go together, and the ranges of the tools each value goes to
 * (lib/opts.c): refused here exactly as the tool would refuse it. */
static int check_options(struct run *r)
{
	struct opts *o = &r->o;
	const struct {
		const char *name, *val;
	} ranged[] = {
		{ "port", o->port },	     { "pid", o->pid },
		{ "process", o->process },   { "interface", o->iface },
		{ "interval", o->interval }, { "speed", o->speed },
		{ "udp-timeout", o->udpto }, { "max-flows", o->maxflows },
		{ "duration", o->duration }, { "full-walk", o->fullwalk },
	};
	size_t n;

	if (o->replay &&
	    (o->record || o->backend || o->duration || o->udpto || o->fullwalk || o->verbose)) {
		warnx("--replay reads a recording: --record, --backend, --duration, --udp-timeout, "
		      "--full-walk and --verbose apply to live capture only");
		usage(stderr);
		return EX_USAGE;
	}
	if (o->speed && !o->replay)
		return warnx("--speed applies to --replay only"), EX_USAGE;
	for (size_t i = 0; i < sizeof(ranged) / sizeof(ranged[0]); i++) {
		int st = ranged[i].val ? check_range(o->replay ? OPT_AGG : OPT_COLLECT | OPT_AGG,
						     ranged[i].name, ranged[i].val)
				       : GO;

		if (st != GO)
			return st;
	}
	r->prom = o->prometheus || o->textfile;
	r->headless = r->prom || o->log;
	if (r->prom && o->log)
		return warnx("--log, and --prometheus or --textfile: one output at a time"),
		       EX_USAGE;
	if (r->prom && o->resolve)
		return warnx("--resolve applies to the table and --log only"), EX_USAGE;
	if (o->format && !o->log)
		return warnx("--format applies to --log only"), EX_USAGE;
	if (o->log_changes && !o->log)
		return warnx("--log-changes applies to --log only"), EX_USAGE;
	/* JSON Lines when asked, or when the file is named for it */
	n = o->log ? strlen(o->log) : 0;
	if (!o->format && n > 6 && strcmp(o->log + n - 6, ".jsonl") == 0)
		o->format = "jsonl";
	if (o->excel_safe && (!o->log || (o->format && !strcmp(o->format, "jsonl"))))
		return warnx("--excel-safe applies to --log as CSV only"), EX_USAGE;
	if (o->tcp && o->udp) /* both protocols: the same as neither */
		o->tcp = o->udp = false;
	return GO;
}

static int options(struct run *r, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "excel-safe", no_argument, NULL, 'x' },
		{ "log-changes", no_argument, NULL, 'C' },
		{ "resolve", no_argument, NULL, 'R' },
		{ "port", required_argument, NULL, 'p' },
		{ "pid", required_argument, NULL, 'I' },
		{ "process", required_argument, NULL, 'n' },
		{ "interface", required_argument, NULL, 'i' },
		{ "tcp", no_argument, NULL, 't' },
		{ "udp", no_argument, NULL, 'u' },
		{ "interval", required_argument, NULL, 'N' },
		{ "log", required_argument, NULL, 'l' },
		{ "record", required_argument, NULL, 'r' },
		{ "replay", required_argument, NULL, 'y' },
		{ "speed", required_argument, NULL, 's' },
		{ "udp-timeout", required_argument, NULL, 'U' },
		{ "max-flows", required_argument, NULL, 'm' },
		{ "full-walk", required_argument, NULL, 'w' },
		{ "backend", required_argument, NULL, 'b' },
		{ "duration", required_argument, NULL, 'd' },
		{ "prometheus", required_argument, NULL, 'P' },
		{ "textfile", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	/* the options that only take their value as it is */
	struct opts *o = &r->o;
	const char **plain[128] = {
		['p'] = &o->port,  ['I'] = &o->pid,	 ['n'] = &o->process,  ['N'] = &o->interval,
		['l'] = &o->log,   ['r'] = &o->record,	 ['y'] = &o->replay,   ['s'] = &o->speed,
		['U'] = &o->udpto, ['m'] = &o->maxflows, ['w'] = &o->fullwalk, ['d'] = &o->duration,
	};
	bool *flags[128] = {
		['t'] = &o->tcp,     ['u'] = &o->udp,	     ['v'] = &o->verbose,
		['R'] = &o->resolve, ['x'] = &o->excel_safe, ['C'] = &o->log_changes,
	};
	int c, st;

	/* only the short options of tcptop(1) (-i, -v, -h) are in the optstring: the letters
	 * above are the long options' codes */
	while ((c = getopt_long(argc, argv, "i:vh", opts, NULL)) != -1) {
		if (c == 'h') {
			help();
			return 0;
		}
		if (c == 'V') {
			printf("tcptop %s\n", TCPTOP_VERSION);
			return 0;
		}
		if (c > 0 && c < 128 && plain[c])
			*plain[c] = optarg;
		else if (c > 0 && c < 128 && flags[c])
			*flags[c] = true;
		else if ((st = option(r, c, optarg)) != GO)
			return st;
	}
	if (optind < argc) {
		warnx("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	return check_options(r);
}

/* ---- before anything starts ---- */

/* In a stage's child: become the invoking user, without any capability, or end it (77) before
 * it does anything. */
static void become_user(const struct run *r)
{
	char e[256];

	if (priv_drop(&r->user, 0, e, sizeof(e))) {
		warnx("cannot drop privilege to %s: %s", r->user.why, e);
		_exit(EX_NOPERM);
	}
}

/* Create (without truncating) an output file as the user who will write it, so that a file the
 * user cannot write, or a symbolic link, is refused (73) before anything starts. */
static int check_creatable(const struct run *r, const char *path, const char *what)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return warn("fork"), EX_OSERR;
	if (pid == 0) {
		char e[PATH_MAX + 128];

		become_user(r);
		if (open_output(path, 0, e, sizeof(e)) < 0) {
			warnx("cannot create %s file %s", what, e);
			_exit(EX_CANTCREAT);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return EX_CANTCREAT;
	return WEXITSTATUS(status) ? WEXITSTATUS(status) : GO;
}

/* Everything that can be refused is refused before anything starts: privilege, the replay
 * file, the terminal, the output files. */
static int refuse_early(struct run *r)
{
	const struct opts *o = &r->o;
	char e[256];
	int st;

	/* who the unprivileged stages run as: the sudo user, else whoever runs us (a root login
	 * keeps uid 0 but no capability); read now, before any stage reads a stream */
	if (priv_target_init(&r->user, PRIV_FALLBACK_REAL, e, sizeof(e)))
		return warnx("%s", e), EX_NOPERM;
	if (!o->replay && (st = caps_live_capture_check(e, sizeof(e))) != 0) {
		warnx("live capture %s (run it with sudo, or read a recording with --replay FILE)",
		      e);
		return st < 0 ? EX_OSERR : EX_NOPERM;
	}
	if (o->replay) {
		struct stat sb;
		int fd = -1;

		/* a FIFO is not opened here: a reader that comes and goes would hang us until a
		 * writer comes, or break the writer's pipe; tcptop-agg opens it */
		if (stat(o->replay, &sb) == 0 && S_ISFIFO(sb.st_mode)
			    ? access(o->replay, R_OK) < 0
			    : (fd = open(o->replay, O_RDONLY | O_CLOEXEC)) < 0)
			return warn("%s", o->replay), EX_NOINPUT;
		if (fd >= 0)
			close(fd);
	}
	if (!r->headless) {
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

		if (fd < 0)
			return warnx("no terminal for the live table: use --log FILE for CSV, or "
				     "tcptop-csv"),
			       EX_USAGE;
		close(fd);
	}
	if (o->log && strcmp(o->log, "-") != 0 && (st = check_creatable(r, o->log, "log")) != GO)
		return st;
	if (o->record && (st = check_creatable(r, o->record, "record")) != GO)
		return st;
	return GO;
}

/* ---- the stages' command lines ---- */

static void add_arg(struct stage *s, const char *a)
{
	if (s->argc + 1 < MAX_ARGS) { /* always: see MAX_ARGS */
		s->argv[s->argc++] = (char *)a;
		s->argv[s->argc] = NULL;
	}
}

static void add_opt(struct stage *s, const char *opt, const char *val)
{
	if (!val)
		return;
	add_arg(s, opt);
	add_arg(s, val);
}

static void add_flag(struct stage *s, const char *opt, bool on)
{
	if (on)
		add_arg(s, opt);
}

/* The tools sit next to this program (build tree or installation), else on PATH. */
static void find_tooldir(struct run *r)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return;
	*slash = '\0';
	snprintf(r->tooldir, sizeof(r->tooldir), "%s", self);
}

static struct stage *stage_init(struct run *r, enum stage_id id, const char *prog, bool as_user)
{
	struct stage *s = &r->st[id];

	s->name = prog;
	s->used = true;
	s->as_user = as_user;
	s->errfd = -1;
	if (*r->tooldir) {
		snprintf(s->path, sizeof(s->path), "%s/%s", r->tooldir, prog);
		if (access(s->path, X_OK) == 0) {
			add_arg(s, s->path);
			return s;
		}
	}
	add_arg(s, prog); /* found through PATH */
	return s;
}

static void plan_collector(struct run *r)
{
	const struct opts *o = &r->o;
	struct stage *s = stage_init(r, S_COLLECT, "tcptop-collect", false);

	add_opt(s, "--interval", o->interval);
	add_opt(s, "--pid", o->pid);
	add_opt(s, "--port", o->port);
	add_flag(s, "--tcp", o->tcp);
	add_flag(s, "--udp", o->udp);
	add_opt(s, "--udp-timeout", o->udpto);
	add_opt(s, "--max-flows", o->maxflows);
	add_opt(s, "--full-walk", o->fullwalk);
	add_opt(s, "--backend", o->backend);
	add_opt(s, "--duration", o->duration);
	add_flag(s, "--verbose", o->verbose);
}

static void plan_aggregator(struct run *r)
{
	const struct opts *o = &r->o;
	struct stage *s = stage_init(r, S_AGG, "tcptop-agg", true);

	add_opt(s, "--interval", o->interval);
	add_opt(s, "--port", o->port);
	add_opt(s, "--pid", o->pid);
	add_opt(s, "--process", o->process);
	add_opt(s, "--interface", o->iface);
	add_opt(s, "--cgroup", o->cgroup);
	add_flag(s, "--tcp", o->tcp);
	add_flag(s, "--udp", o->udp);
	add_opt(s, "--max-flows", o->maxflows);
	if (o->replay && !r->headless) {
		add_arg(s, "--realtime");
		add_opt(s, "--speed", o->speed);
	}
	if (o->replay) {
		add_arg(s, "--");
		add_arg(s, o->replay);
	}
}

static void plan_last(struct run *r)
{
	const struct opts *o = &r->o;
	struct stage *s;

	if (r->prom) {
		s = stage_init(r, S_LAST, "tcptop-prom", true);
		add_opt(s, "--listen", o->prometheus);
		add_opt(s, "--textfile", o->textfile);
	} else if (o->log) {
		s = stage_init(r, S_LAST, "tcptop-csv", true);
		add_opt(s, "--format", o->format);
		if (strcmp(o->log, "-") != 0)
			add_opt(s, "-o", o->log);
		add_flag(s, "--excel-safe", o->excel_safe);
		add_flag(s, "--resolve", o->resolve);
		add_flag(s, "--changes", o->log_changes);
	} else {
		s = stage_init(r, S_LAST, "tcptop-view", true);
		add_flag(s, "--resolve", o->resolve);
	}
}

/* Every stage's command line; where each one's stderr goes. Only the first failing stage's
 * messages reach the user: the later stages' (an "empty input" from a reader whose writer
 * died) are consequences. So every stage's stderr waits in a file, read out once all have
 * ended, except the first stage's when headless (--log, --prometheus, --textfile), which goes
 * straight through (-v, and the collector's own errors, as they happen). With the table
 * nothing goes straight through: the terminal belongs to the view. */
static int plan(struct run *r)
{
	find_tooldir(r);
	if (!r->o.replay)
		plan_collector(r);
	if (r->o.record)
		stage_init(r, S_TEE, "tcptop (record)", true);
	plan_aggregator(r);
	plan_last(r);
	for (int i = 0; i < NSTAGES; i++) {
		char tmpl[] = "/tmp/tcptop-stderr-XXXXXX";

		if (!r->st[i].used || (r->headless && i == (r->o.replay ? S_AGG : S_COLLECT)))
			continue;
		r->st[i].errfd = mkostemp(tmpl, O_CLOEXEC);
		if (r->st[i].errfd < 0)
			return warn("temporary file"), EX_OSERR;
		unlink(tmpl);
	}
	return GO;
}

/* ---- running ---- */

/* Every inherited descriptor above stderr: a child that does not exec must not hold pipe ends
 * of other stages (the record tee kept the read end of its own output and never saw EPIPE). */
static void close_from(int lowfd)
{
	if (close_range(lowfd, ~0U, 0) == 0)
		return;
	for (long fd = lowfd, max = sysconf(_SC_OPEN_MAX); fd < (max > 0 ? max : 1024); fd++)
		close(fd);
}

/* Writes all of buf to fd: 0, or -errno. */
static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* --record, in a child of its own: copy the raw stream to the file and downstream. When
 * downstream closes, keep recording until the collector ends the stream, so the file ends
 * with END. Returns the child's exit status. */
static int tee_main(const char *path)
{
	static char buf[1 << 16];
	char e[PATH_MAX + 128];
	bool down = true;
	int fd = open_output(path, O_TRUNC, e, sizeof(e));

	if (fd < 0) {
		warnx("cannot create record file %s", e);
		return EX_CANTCREAT;
	}
	signal(SIGINT, SIG_IGN);  /* the collector ends the stream; we copy to its end */
	signal(SIGPIPE, SIG_IGN); /* a closed table is EPIPE: recording goes on */
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		int err;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warn("reading the collector's stream");
			return EX_IOERR;
		}
		if (n == 0)
			break;
		if ((err = write_all(fd, buf, (size_t)n))) {
			warnx("writing %s: %s", path, strerror(-err));
			return EX_IOERR;
		}
		/* the table was closed: keep recording */
		down = down && write_all(STDOUT_FILENO, buf, (size_t)n) == 0;
	}
	if (fsync(fd) && errno != EINVAL)
		warn("%s", path);
	if (close(fd)) {
		warn("%s", path);
		return EX_IOERR;
	}
	return 0;
}

/* A stage's child: default signal dispositions and the mask the wrapper started with, its
 * pipe ends, the user, then the program (or the record tee). Never returns. */
static void child(const struct run *r, const struct stage *s, int in, int out)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &r->old, NULL);
	if (in >= 0 && in != STDIN_FILENO && dup2(in, STDIN_FILENO) < 0)
		_exit(EX_OSERR);
	if (out >= 0 && out != STDOUT_FILENO && dup2(out, STDOUT_FILENO) < 0)
		_exit(EX_OSERR);
	if (s->errfd >= 0 && dup2(s->errfd, STDERR_FILENO) < 0)
		_exit(EX_OSERR);
	if (s->as_user)
		become_user(r);
	if (s == &r->st[S_TEE]) {
		close_from(STDERR_FILENO + 1);
		_exit(tee_main(r->o.record));
	}
	execvp(s->argv[0], s->argv);
	warn("cannot run %s", s->argv[0]);
	_exit(errno == ENOENT ? EX_UNAVAILABLE : EX_OSERR);
}

/* The signals are waited for synchronously; the children get the original mask back. Then
 * every stage, each reading the previous one's output. */
static int start(struct run *r)
{
	int in = -1;

	sigemptyset(&r->waited);
	sigaddset(&r->waited, SIGCHLD);
	sigaddset(&r->waited, SIGINT);
	sigaddset(&r->waited, SIGTERM);
	sigaddset(&r->waited, SIGHUP);
	sigprocmask(SIG_BLOCK, &r->waited, &r->old);
	signal(SIGPIPE, SIG_IGN);
	for (int i = r->o.replay ? S_AGG : S_COLLECT; i < NSTAGES; i++) {
		struct stage *s = &r->st[i];
		int p[2] = { -1, -1 };

		if (!s->used)
			continue;
		if (i != S_LAST && pipe2(p, O_CLOEXEC))
			return warn("pipe"), EX_OSERR;
		s->pid = fork();
		if (s->pid < 0)
			return warn("fork"), EX_OSERR;
		if (s->pid == 0)
			child(r, s, in, p[1]);
		if (in >= 0)
			close(in);
		if (p[1] >= 0)
			close(p[1]);
		in = p[0];
	}
	return GO;
}

static void stop(struct run *r, enum stage_id id, int sig)
{
	struct stage *s = &r->st[id];
	int first = r->o.replay ? S_AGG : S_COLLECT;

	if (s->used && !s->done && s->pid > 0) {
		/* the first stage's input is the kernel or the recording: only it can tell */
		s->input_ended = (int)id > first;
		for (int i = first; i < (int)id; i++)
			s->input_ended = s->input_ended && (!r->st[i].used || r->st[i].done);
		s->stopped_by_us = true;
		kill(s->pid, sig);
	}
}

/* A stage's outcome as a status: its exit status, 128+N when a signal killed it; 0 when it
 * died of SIGPIPE (its reader went away). */
static int stage_status(const struct stage *s)
{
	if (WIFEXITED(s->status))
		return WEXITSTATUS(s->status);
	if (WIFSIGNALED(s->status))
		return WTERMSIG(s->status) == SIGPIPE ? 0 : 128 + WTERMSIG(s->status);
	return 0;
}

static bool stop_status(int st)
{
	return st == 128 + SIGINT || st == 128 + SIGTERM || st == 128 + SIGHUP;
}

/* Whether a stage that ended failed: a stop status (128+N of SIGINT, SIGTERM, SIGHUP) is no
 * failure when the run was asked to stop (it says that stage left input unread), nor when we
 * stopped the stage because the run ended (the table closed, another stage failed). */
static bool failed(const struct run *r, const struct stage *s)
{
	int st = s->used ? stage_status(s) : 0;

	return st && !(stop_status(st) && (r->stop_sig || s->stopped_by_us));
}

/* A stop request for the run (sig), as the wrapper received it. */
static void on_stop(struct run *r, int sig, const siginfo_t *si)
{
	if (!r->stop_sig)
		r->stop_sig = sig;
	/* a replay stopped in its first milliseconds: tcptop-agg may die of the signal before
	 * it writes a byte, and tcptop-csv would call the empty stream an error; told to stop
	 * too, it reads on for its grace and takes an empty input as nothing to convert. Told
	 * first: its request is pending before tcptop-agg can end the input (torture trial 807
	 * of 1,000 saw the input end between the two) */
	if (r->o.replay && r->o.log)
		stop(r, S_LAST, SIGTERM);
	if (sig == SIGINT && si->si_code == SI_USER) /* sent to us alone (kill -INT) */
		stop(r, r->o.replay ? S_AGG : S_COLLECT, r->o.replay ? SIGTERM : SIGINT);
	else if (sig != SIGINT) /* a terminal's Ctrl-C reached every stage already */
		stop(r, r->o.replay ? S_AGG : S_COLLECT, SIGTERM);
	/* the exporter serves on after its input ends: a stop is for it too, once the
	 * aggregator has passed it the last snapshot */
	if (r->prom && r->st[S_AGG].done)
		stop(r, S_LAST, SIGTERM);
}

/* A stage ended: what that means for the others. */
static void on_end(struct run *r, enum stage_id i)
{
	if (i == S_LAST) {
		/* the table was closed, or the CSV writer stopped */
		stop(r, S_COLLECT, SIGTERM);
		stop(r, S_AGG, SIGTERM);
	} else if (i == S_AGG && r->prom && r->stop_sig) {
		stop(r, S_LAST, SIGTERM);
	} else if (failed(r, &r->st[i])) {
		/* a failed stage takes the table down, so that its message can be read */
		stop(r, S_LAST, SIGTERM);
	}
}

/* Signals and children's ends until every stage has ended. */
static void supervise(struct run *r)
{
	int alive = 0;

	for (int i = 0; i < NSTAGES; i++)
		alive += r->st[i].used;
	while (alive > 0) {
		siginfo_t si;
		int sig = sigwaitinfo(&r->waited, &si), status;
		pid_t p;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			on_stop(r, sig, &si);
			continue;
		}
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			for (int i = 0; i < NSTAGES; i++) {
				if (!r->st[i].used || r->st[i].pid != p)
					continue;
				r->st[i].done = true;
				r->st[i].status = status;
				alive--;
				on_end(r, i);
			}
		}
	}
}

/* A stage's captured messages, to our stderr, the last line ended. */
static void replay_stderr(int fd)
{
	char buf[4096];
	ssize_t n;
	char last = '\n';

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write(STDERR_FILENO, buf, n) != n)
			return;
		last = buf[n - 1];
	}
	if (last != '\n' && write(STDERR_FILENO, "\n", 1) < 0)
		return;
}

/*
 * The run's status: the first stage that failed gives it, with the messages of the stages up to
 * it (the later ones' are consequences). Else the stop rule of tcptop(1) (exit_stopped): 0 when
 * every stage finished with nothing left unread, else 128 + the signal the run received. A stop
 * status says the stage left input unread, but from a stage we stopped once its input had
 * ended (the exporter, which serves on after its input ends until told to stop).
 */
static int outcome(const struct run *r)
{
	bool unread = false;

	for (int i = 0; i < NSTAGES; i++) {
		const struct stage *s = &r->st[i];

		if (!s->used)
			continue;
		if (s->errfd >= 0)
			replay_stderr(s->errfd);
		if (failed(r, s))
			return stage_status(s);
		unread = unread || (r->stop_sig && stop_status(stage_status(s)) && !s->input_ended);
	}
	return exit_stopped(r->stop_sig, !unread);
}

int main(int argc, char **argv)
{
	struct run r = { .stop_sig = 0 };
	int st = options(&r, argc, argv);

	if (st == GO)
		st = refuse_early(&r);
	if (st == GO)
		st = plan(&r);
	if (st == GO)
		st = start(&r);
	if (st != GO)
		return st;
	supervise(&r);
	return outcome(&r);
}
