// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop: wires tcptop-collect | tcptop-agg | tcptop-view (or tcptop-csv), keeps privilege only
 * in the collector, forwards signals, and exits with the status of the first stage that failed.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "opts.h"
#include "priv.h"
#include "stream.h"
#include "util.h"

#define MAX_ARGS 48

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
	bool used;
	bool as_user; /* drop to the invoking user before exec */
	pid_t pid;
	int status; /* wait status */
	bool done;
	bool stopped_by_us; /* we sent it SIGTERM: its death by that signal is not a failure */
	int errfd;	    /* captured stderr while the view owns the terminal, else -1 */
};

static struct stage st[NSTAGES];
static char tooldir[PATH_MAX];
static struct priv_target user; /* whom the unprivileged stages run as */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tcptop [--port N] [--pid N] [--process NAME] [-i|--interface IFACE]\n"
		"              [--cgroup PATTERN] [--tcp] [--udp] [--interval SECS]\n"
		"              [--log PATH] [--format csv|jsonl] [--resolve] [--record PATH]\n"
		"              [--prometheus ADDR:PORT] [--textfile PATH]\n"
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
	       "or tcptop-csv with --log. Live capture needs root or CAP_BPF and CAP_PERFMON; under sudo\n"
	       "only the collector keeps privilege, the other stages run as the invoking user and\n"
	       "create the --log and --record files as that user (a symbolic link is refused).\n"
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
	       "                      3600 (default 0: as seldom as keeps it under 1%% of a core)\n"
	       "  -v, --verbose       the collector reports the hooks it chose on stderr\n"
	       "  -h, --help          this help\n"
	       "  --version           print the version\n"
	       "\n"
	       "Examples:\n"
	       "  sudo tcptop --port 443\n"
	       "  sudo tcptop --process nginx --interval 2\n"
	       "  sudo tcptop --log conns.csv --interval 5\n"
	       "  sudo tcptop --record run.tcpt;  tcptop --replay run.tcpt\n"
	       "  sudo tcptop --prometheus 127.0.0.1:9687 --interval 15\n"
	       "  ssh host sudo tcptop-collect | tcptop-agg | tcptop-view\n"
	       "\n"
	       "Exit status: 0 success; 64 usage; 65 bad input data; 66 replay file missing;\n"
	       "69 the kernel lacks what is needed; 71 out of memory or a system failure;\n"
	       "73 cannot create the --log or --record file as the user, or it is a symbolic link;\n"
	       "74 I/O error; 77 live capture without privilege, or a failed privilege drop;\n"
	       "otherwise the status of the first stage that failed (128+N when it was killed by\n"
	       "signal N), with that stage's messages only.\n"
	       "See tcptop(1), tcptop-collect(1), tcptop-agg(1), tcptop-view(1), tcptop-csv(1),\n"
	       "tcptop-prom(1).\n");
}

/* Refuse (64) a value that a tool in tools (the collector first) would refuse. */
static void check_range(unsigned tools, const char *name, const char *val)
{
	static const unsigned order[] = { OPT_COLLECT, OPT_AGG };
	char msg[256];
	uint64_t u;
	double d;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct opt_range *r = (tools & order[i]) ? opt_find(order[i], name) : NULL;
		if (!r)
			continue;
		if (r->kind == OPT_FACTOR ? opt_factor(order[i], name, val, &d, msg, sizeof(msg))
					  : opt_parse(order[i], name, val, &u, msg, sizeof(msg)))
			errx(EX_USAGE, "%s", msg);
	}
}

static void add_arg(struct stage *s, const char *a)
{
	if (s->argc + 1 >= MAX_ARGS)
		errx(EX_SOFTWARE, "too many arguments for %s", s->name);
	s->argv[s->argc++] = (char *)a;
	s->argv[s->argc] = NULL;
}

static void add_opt(struct stage *s, const char *opt, const char *val)
{
	add_arg(s, opt);
	if (val)
		add_arg(s, val);
}

static void stage_init(enum stage_id id, const char *prog, bool as_user)
{
	static char paths[NSTAGES][PATH_MAX + 32];
	struct stage *s = &st[id];

	s->name = prog;
	s->used = true;
	s->as_user = as_user;
	s->errfd = -1;
	if (*tooldir) {
		snprintf(paths[id], sizeof(paths[id]), "%s/%s", tooldir, prog);
		if (access(paths[id], X_OK) == 0) {
			add_arg(s, paths[id]);
			return;
		}
	}
	add_arg(s, prog); /* found through PATH */
}

/* The tools sit next to this program (build tree or installation), else on PATH. */
static void find_tooldir(void)
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
	snprintf(tooldir, sizeof(tooldir), "%s", self);
}

/* In a stage's child: become the invoking user, without any capability, or end it (77) before
 * it does anything. */
static void become_user(void)
{
	char e[256];

	if (priv_drop(&user, 0, e, sizeof(e))) {
		warnx("cannot drop privilege to %s: %s", user.why, e);
		_exit(EX_NOPERM);
	}
}

/* Every inherited descriptor above stderr: a child that does not exec must not hold pipe ends
 * of other stages (the record tee kept the read end of its own output and never saw EPIPE). */
static void close_from(int lowfd)
{
	if (close_range(lowfd, ~0U, 0) == 0)
		return;
	for (long fd = lowfd, max = sysconf(_SC_OPEN_MAX); fd < (max > 0 ? max : 1024); fd++)
		close(fd);
}

/* Live capture needs root or CAP_BPF (39) and CAP_PERFMON (38) in the effective set. */
static bool privileged(void)
{
	unsigned long long cap = 0;
	char line[256];
	FILE *f;

	if (geteuid() == 0)
		return true;
	f = fopen("/proc/self/status", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &cap) == 1)
			break;
	fclose(f);
	return (cap >> 38 & 1) && (cap >> 39 & 1);
}

/* Create (without truncating) an output file as the user who will write it, so that a file the
 * user cannot write, or a symbolic link, is refused (73) before anything starts. */
static void check_creatable(const char *path, const char *what)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		err(EX_OSERR, "fork");
	if (pid == 0) {
		char e[PATH_MAX + 128];
		int fd;
		become_user();
		fd = open_output(path, 0, e, sizeof(e));
		if (fd < 0) {
			warnx("cannot create %s file %s", what, e);
			_exit(EX_CANTCREAT);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		exit(EX_CANTCREAT);
	if (WEXITSTATUS(status))
		exit(WEXITSTATUS(status));
}

/* --record: copy the raw stream to the file and downstream. When downstream closes, keep
 * recording until the collector ends the stream, so the file ends with END. */
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

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warn("reading the collector's stream");
			return EX_IOERR;
		}
		if (n == 0)
			break;
		for (ssize_t o = 0; o < n;) {
			ssize_t w = write(fd, buf + o, n - o);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				warn("writing %s", path);
				return EX_IOERR;
			}
			o += w;
		}
		for (ssize_t o = 0; down && o < n;) {
			ssize_t w = write(STDOUT_FILENO, buf + o, n - o);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				down = false; /* the table was closed: keep recording */
				break;
			}
			o += w;
		}
	}
	if (fsync(fd) && errno != EINVAL)
		warn("%s", path);
	if (close(fd)) {
		warn("%s", path);
		return EX_IOERR;
	}
	return 0;
}

static int capture_fd(void)
{
	char tmpl[] = "/tmp/tcptop-stderr-XXXXXX";
	int fd = mkostemp(tmpl, O_CLOEXEC);

	if (fd < 0)
		err(EX_OSERR, "temporary file");
	unlink(tmpl);
	return fd;
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

static void spawn(struct stage *s, int in, int out, const sigset_t *oldmask, const char *tee_path)
{
	s->pid = fork();
	if (s->pid < 0)
		err(EX_OSERR, "fork");
	if (s->pid > 0)
		return;
	/* child: default signal dispositions, the mask the wrapper started with */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, oldmask, NULL);
	if (in >= 0 && in != STDIN_FILENO && dup2(in, STDIN_FILENO) < 0)
		_exit(EX_OSERR);
	if (out >= 0 && out != STDOUT_FILENO && dup2(out, STDOUT_FILENO) < 0)
		_exit(EX_OSERR);
	if (s->errfd >= 0 && dup2(s->errfd, STDERR_FILENO) < 0)
		_exit(EX_OSERR);
	if (s->as_user)
		become_user();
	if (tee_path) {
		close_from(STDERR_FILENO + 1);
		_exit(tee_main(tee_path));
	}
	execvp(s->argv[0], s->argv);
	warn("cannot run %s", s->argv[0]);
	_exit(errno == ENOENT ? EX_UNAVAILABLE : EX_OSERR);
}

static void stop(enum stage_id id, int sig)
{
	struct stage *s = &st[id];

	if (s->used && !s->done && s->pid > 0) {
		s->stopped_by_us = true;
		kill(s->pid, sig);
	}
}

static int stage_exit(const struct stage *s)
{
	if (WIFEXITED(s->status)) {
		int st = WEXITSTATUS(s->status);
		/* a stage we stopped that cleaned up and exited 128+N for it did not fail either */
		if (s->stopped_by_us && (st == 128 + SIGTERM || st == 128 + SIGINT))
			return 0;
		return st;
	}
	if (WIFSIGNALED(s->status)) {
		int sig = WTERMSIG(s->status);
		/* a stage we stopped, or one whose reader went away, did not fail */
		if ((s->stopped_by_us && (sig == SIGTERM || sig == SIGINT)) || sig == SIGPIPE)
			return 0;
		return 128 + sig;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		O_PORT = 256,
		O_PID,
		O_PROCESS,
		O_TCP,
		O_UDP,
		O_INTERVAL,
		O_LOG,
		O_RECORD,
		O_REPLAY,
		O_SPEED,
		O_UDPTO,
		O_MAXFLOWS,
		O_FULLWALK,
		O_BACKEND,
		O_DURATION,
		O_PROMETHEUS,
		O_TEXTFILE,
		O_VERSION,
		O_CGROUP,
		O_FORMAT,
		O_RESOLVE,
	};
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, O_CGROUP },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "resolve", no_argument, NULL, O_RESOLVE },
		{ "port", required_argument, NULL, O_PORT },
		{ "pid", required_argument, NULL, O_PID },
		{ "process", required_argument, NULL, O_PROCESS },
		{ "interface", required_argument, NULL, 'i' },
		{ "tcp", no_argument, NULL, O_TCP },
		{ "udp", no_argument, NULL, O_UDP },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "log", required_argument, NULL, O_LOG },
		{ "record", required_argument, NULL, O_RECORD },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "udp-timeout", required_argument, NULL, O_UDPTO },
		{ "max-flows", required_argument, NULL, O_MAXFLOWS },
		{ "full-walk", required_argument, NULL, O_FULLWALK },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "prometheus", required_argument, NULL, O_PROMETHEUS },
		{ "textfile", required_argument, NULL, O_TEXTFILE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	const char *port = NULL, *pid = NULL, *process = NULL, *iface = NULL, *interval = NULL;
	const char *log = NULL, *record = NULL, *replay = NULL, *speed = NULL, *udpto = NULL;
	const char *maxflows = NULL, *backend = NULL, *duration = NULL, *cgroup = NULL;
	const char *fullwalk = NULL;
	const char *format = NULL;
	const char *prometheus = NULL, *textfile = NULL;
	bool tcp = false, udp = false, verbose = false, resolve = false;
	int c;

	while ((c = getopt_long(argc, argv, "i:vh", opts, NULL)) != -1) {
		switch (c) {
		case O_PORT:
			port = optarg;
			break;
		case O_PID:
			pid = optarg;
			break;
		case O_PROCESS:
			process = optarg;
			break;
		case 'i':
			iface = optarg;
			break;
		case O_TCP:
			tcp = true;
			break;
		case O_UDP:
			udp = true;
			break;
		case O_INTERVAL:
			interval = optarg;
			break;
		case O_LOG:
			log = optarg;
			break;
		case O_CGROUP:
			if (!*optarg || strlen(optarg) >= CGROUP_PATH_MAX)
				errx(EX_USAGE, "--cgroup: empty or longer than %d bytes",
				     CGROUP_PATH_MAX - 1);
			cgroup = optarg;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "jsonl") != 0)
				errx(EX_USAGE, "--format %s: invalid (csv or jsonl)", optarg);
			format = optarg;
			break;
		case O_RESOLVE:
			resolve = true;
			break;
		case O_RECORD:
			record = optarg;
			break;
		case O_REPLAY:
			replay = optarg;
			break;
		case O_SPEED:
			speed = optarg;
			break;
		case O_UDPTO:
			udpto = optarg;
			break;
		case O_FULLWALK:
			fullwalk = optarg;
			break;
		case O_MAXFLOWS:
			maxflows = optarg;
			break;
		case O_BACKEND:
			if (strcmp(optarg, "auto") && strcmp(optarg, "tracepoint") &&
			    strcmp(optarg, "fentry") && strcmp(optarg, "kprobe"))
				errx(EX_USAGE, "--backend %s: auto, tracepoint, fentry or kprobe",
				     optarg);
			backend = optarg;
			break;
		case O_DURATION:
			duration = optarg;
			break;
		case O_PROMETHEUS:
			if (!*optarg || !strchr(optarg, ':'))
				errx(EX_USAGE, "--prometheus %s: expected ADDR:PORT", optarg);
			prometheus = optarg;
			break;
		case O_TEXTFILE:
			if (!*optarg)
				errx(EX_USAGE, "--textfile: empty file name");
			textfile = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			help();
			return 0;
		case O_VERSION:
			printf("tcptop %s\n", TCPTOP_VERSION);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		warnx("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	if (replay && (record || backend || duration || udpto || fullwalk || verbose)) {
		warnx("--replay reads a recording: --record, --backend, --duration, --udp-timeout, "
		      "--full-walk and --verbose apply to live capture only");
		usage(stderr);
		return EX_USAGE;
	}
	if (speed && !replay)
		errx(EX_USAGE, "--speed applies to --replay only");
	/* the ranges of the tools each value goes to (lib/opts.c): refused here exactly as the
	 * tool would refuse it, with its message */
	{
		const struct {
			const char *name, *val;
		} ranged[] = {
			{ "port", port },	  { "pid", pid },
			{ "process", process },	  { "interface", iface },
			{ "interval", interval }, { "speed", speed },
			{ "udp-timeout", udpto }, { "max-flows", maxflows },
			{ "duration", duration }, { "full-walk", fullwalk },
		};
		for (size_t i = 0; i < sizeof(ranged) / sizeof(ranged[0]); i++)
			if (ranged[i].val)
				check_range(replay ? OPT_AGG : OPT_COLLECT | OPT_AGG,
					    ranged[i].name, ranged[i].val);
	}
	bool prom = prometheus || textfile;
	if (prom && log)
		errx(EX_USAGE, "--log, and --prometheus or --textfile: one output at a time");
	if (prom && resolve)
		errx(EX_USAGE, "--resolve applies to the table and --log only");
	if (tcp && udp) /* both protocols: the same as neither */
		tcp = udp = false;

	/* Who the unprivileged stages run as: the sudo user, else whoever runs us (a root login
	 * keeps uid 0 but no capability). Read now, before any stage reads a stream. */
	{
		char e[256];
		if (priv_target_init(&user, PRIV_FALLBACK_REAL, e, sizeof(e)))
			errx(EX_NOPERM, "%s", e);
	}

	/* Everything that can be refused is refused before anything starts. */
	if (!replay && !privileged())
		errx(EX_NOPERM, "live capture needs root or CAP_BPF and CAP_PERFMON "
				"(run it with sudo, or read a recording with --replay FILE)");
	if (replay) {
		struct stat sb;
		int fd = -1;

		/* a FIFO is not opened here: a reader that comes and goes would hang us until a
		 * writer comes, or break the writer's pipe; tcptop-agg opens it */
		if (stat(replay, &sb) == 0 && S_ISFIFO(sb.st_mode)
			    ? access(replay, R_OK) < 0
			    : (fd = open(replay, O_RDONLY | O_CLOEXEC)) < 0)
			err(EX_NOINPUT, "%s", replay);
		if (fd >= 0)
			close(fd);
	}
	if (!log && !prom) {
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			errx(EX_USAGE, "no terminal for the live table: use --log FILE for CSV, or "
				       "tcptop-csv");
		close(fd);
	}
	if (format && !log)
		errx(EX_USAGE, "--format applies to --log only");
	if (log && strcmp(log, "-") != 0)
		check_creatable(log, "log");
	if (record)
		check_creatable(record, "record");

	find_tooldir();
	if (!replay) {
		stage_init(S_COLLECT, "tcptop-collect", false);
		if (interval)
			add_opt(&st[S_COLLECT], "--interval", interval);
		if (pid)
			add_opt(&st[S_COLLECT], "--pid", pid);
		if (port)
			add_opt(&st[S_COLLECT], "--port", port);
		if (tcp)
			add_arg(&st[S_COLLECT], "--tcp");
		if (udp)
			add_arg(&st[S_COLLECT], "--udp");
		if (udpto)
			add_opt(&st[S_COLLECT], "--udp-timeout", udpto);
		if (maxflows)
			add_opt(&st[S_COLLECT], "--max-flows", maxflows);
		if (fullwalk)
			add_opt(&st[S_COLLECT], "--full-walk", fullwalk);
		if (backend)
			add_opt(&st[S_COLLECT], "--backend", backend);
		if (duration)
			add_opt(&st[S_COLLECT], "--duration", duration);
		if (verbose)
			add_arg(&st[S_COLLECT], "--verbose");
	}
	if (record)
		stage_init(S_TEE, "tcptop (record)", true);
	stage_init(S_AGG, "tcptop-agg", true);
	if (interval)
		add_opt(&st[S_AGG], "--interval", interval);
	if (port)
		add_opt(&st[S_AGG], "--port", port);
	if (pid)
		add_opt(&st[S_AGG], "--pid", pid);
	if (process)
		add_opt(&st[S_AGG], "--process", process);
	if (iface)
		add_opt(&st[S_AGG], "--interface", iface);
	if (cgroup)
		add_opt(&st[S_AGG], "--cgroup", cgroup);
	if (tcp)
		add_arg(&st[S_AGG], "--tcp");
	if (udp)
		add_arg(&st[S_AGG], "--udp");
	if (maxflows)
		add_opt(&st[S_AGG], "--max-flows", maxflows);
	if (replay && !log && !prom) {
		add_arg(&st[S_AGG], "--realtime");
		if (speed)
			add_opt(&st[S_AGG], "--speed", speed);
	}
	if (replay) {
		add_arg(&st[S_AGG], "--");
		add_arg(&st[S_AGG], replay);
	}
	if (prom) {
		stage_init(S_LAST, "tcptop-prom", true);
		if (prometheus)
			add_opt(&st[S_LAST], "--listen", prometheus);
		if (textfile)
			add_opt(&st[S_LAST], "--textfile", textfile);
	} else if (log) {
		size_t n = strlen(log);

		stage_init(S_LAST, "tcptop-csv", true);
		/* JSON Lines when asked, or when the file is named for it */
		if (!format && n > 6 && strcmp(log + n - 6, ".jsonl") == 0)
			format = "jsonl";
		if (format)
			add_opt(&st[S_LAST], "--format", format);
		if (strcmp(log, "-") != 0)
			add_opt(&st[S_LAST], "-o", log);
		if (resolve)
			add_arg(&st[S_LAST], "--resolve");
	} else {
		stage_init(S_LAST, "tcptop-view", true);
		if (resolve)
			add_arg(&st[S_LAST], "--resolve");
	}
	/* Only the first failing stage's messages reach the user: the later stages' (an "empty
	 * input" from a reader whose writer died) are consequences. So every stage's stderr waits
	 * in a file, read out once all have ended, except the first stage's when headless
	 * (--log, --prometheus, --textfile), which goes straight through (-v, and the collector's
	 * own errors, as they happen). With the table nothing goes straight through: the
	 * terminal belongs to the view. */
	for (int i = 0; i < NSTAGES; i++)
		if (st[i].used && (!(log || prom) || i != (replay ? S_AGG : S_COLLECT)))
			st[i].errfd = capture_fd();

	/* Signals: wait for them synchronously; children get the original mask back. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);

	int in = -1;
	int first = replay ? S_AGG : S_COLLECT;
	for (int i = first; i < NSTAGES; i++) {
		int p[2] = { -1, -1 };
		if (!st[i].used)
			continue;
		if (i != S_LAST && pipe2(p, O_CLOEXEC))
			err(EX_OSERR, "pipe");
		spawn(&st[i], in, p[1], &old, i == S_TEE ? record : NULL);
		if (in >= 0)
			close(in);
		if (p[1] >= 0)
			close(p[1]);
		in = p[0];
	}

	int alive = 0;
	bool stopping = false;
	for (int i = 0; i < NSTAGES; i++)
		alive += st[i].used;
	while (alive > 0) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);

		/* a replay stopped in its first milliseconds: tcptop-agg may die of the signal before
		 * it writes a byte, and tcptop-csv would call the empty stream an error; told to stop
		 * too, it reads on for its grace and takes an empty input as nothing to convert.
		 * Told first: its request is pending before tcptop-agg can end the input (torture
		 * trial 807 of 1,000 saw the input end between the two) */
		if (replay && log && (sig == SIGINT || sig == SIGTERM || sig == SIGHUP))
			stop(S_LAST, SIGTERM);
		if (sig == SIGINT && si.si_code == SI_USER) {
			/* sent to us alone (kill -INT): end the stream at its source */
			stop(replay ? S_AGG : S_COLLECT, replay ? SIGTERM : SIGINT);
		} else if (sig == SIGTERM || sig == SIGHUP) {
			stop(replay ? S_AGG : S_COLLECT, SIGTERM);
		}
		/* the exporter serves on after its input ends: a stop is for it too, once the
		 * aggregator has passed it the last snapshot */
		if (prom && sig != SIGCHLD) {
			stopping = true;
			if (st[S_AGG].done)
				stop(S_LAST, SIGTERM);
		}
		if (sig != SIGCHLD)
			continue;
		for (;;) {
			int status;
			pid_t p = waitpid(-1, &status, WNOHANG);
			if (p <= 0)
				break;
			for (int i = 0; i < NSTAGES; i++) {
				if (!st[i].used || st[i].pid != p)
					continue;
				st[i].done = true;
				st[i].status = status;
				alive--;
				if (i == S_LAST) {
					/* the table was closed, or the CSV writer stopped */
					stop(S_COLLECT, SIGTERM);
					stop(S_AGG, SIGTERM);
				} else if (i == S_AGG && stopping) {
					stop(S_LAST, SIGTERM);
				} else if (stage_exit(&st[i]) != 0) {
					/* a failed stage takes the table down, so that its
					 * message can be read */
					stop(S_LAST, SIGTERM);
				}
			}
		}
	}

	int status = 0;
	for (int i = 0; i < NSTAGES; i++) {
		if (!st[i].used)
			continue;
		if (!status && st[i].errfd >= 0)
			replay_stderr(st[i].errfd);
		if (!status)
			status = stage_exit(&st[i]);
	}
	return status;
}
