// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-collect: loads tcptop's BPF programs, drops privilege, then once per sample period
 * reads the kernel's per-connection counters and writes what changed as a raw tcptop stream,
 * with every close as it happens, a LOSS and a TICK record. probe.c says what this kernel
 * takes, engine.c runs the periods, xlate.c turns what the kernel reports into records.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroups.h"
#include "contract.h"
#include "engine.h"
#include "opts.h"
#include "priv.h"
#include "probe.h"
#include "ring.h"
#include "stream.h"
#include "util.h"

#define NSEC		1000000000ULL
#define DEF_MAX_FLOWS	65536
#define DEF_UDP_TIMEOUT (30 * NSEC)
/* its pages are mapped twice (wrapped reads): 8 MiB of RSS; closes are drained a quarter full,
 * and a period reads its kernel at most a quarter of the interval before draining it again */
#define RINGBUF_BYTES (4u << 20)
#define BTF_VMLINUX   "/sys/kernel/btf/vmlinux"

static const char usage_synopsis[] =
	"usage: tcptop-collect [-v] [-o FILE] [--interval SECS] [--duration SECS]\n"
	"                      [--udp-timeout SECS] [--max-flows N] [--pid PID] [--port PORT]\n"
	"                      [--tcp] [--udp] [--backend auto|tracepoint|fentry|kprobe]\n"
	"                      [--full-walk SECS]\n";

static const char help_text[] =
	"Writes a raw tcptop stream of every TCP and UDP connection on the host.\n"
	"\n"
	"  -o, --output FILE      write the stream to FILE (default: standard output, '-')\n"
	"      --interval SECS    sample period, fractions allowed (default 1; 0.01 to 3600)\n"
	"      --duration SECS    stop after SECS (default: run until SIGINT or SIGTERM)\n"
	"      --udp-timeout SECS a UDP flow ends after SECS without a datagram (default 30)\n"
	"      --max-flows N      size of the kernel's UDP flow table and of its table of\n"
	"                         active TCP connections (default 65536)\n"
	"      --pid PID          only connections owned by process PID (default: all)\n"
	"      --port PORT        only connections with PORT at either end (default 0: all)\n"
	"      --tcp              only TCP (default: TCP and UDP)\n"
	"      --udp              only UDP (default: TCP and UDP)\n"
	"      --backend NAME     how UDP datagrams are counted: auto, tracepoint,\n"
	"                         fentry or kprobe (default auto: the first that works);\n"
	"                         TCP needs none, the kernel counts its bytes\n"
	"      --full-walk SECS   where active connections are read each period, walk\n"
	"                         every connection every SECS (default 0: as often as\n"
	"                         keeps the walk under 0.5% of a core, at most every\n"
	"                         10 s, at least once a minute unless that costs over\n"
	"                         2% of a core; 0 to 3600)\n"
	"  -v, --verbose          report on stderr what the kernel took and refused, and\n"
	"                         the privilege drop\n"
	"  -h, --help             this help\n"
	"      --version          print the version\n"
	"\n"
	"Needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN; drops to the invoking user\n"
	"(SUDO_UID/SUDO_GID, else nobody) after loading, and under sudo creates FILE as that\n"
	"user. A feature the kernel refuses is left out with one line saying why. A read of\n"
	"the kernel that fails is said once, counted (walk_failed) and ends no connection.\n"
	"Refuses to write to a terminal.\n"
	"\n";

struct opts {
	const char *output; /* "-": standard output */
	uint64_t interval_ns, duration_ns, udp_timeout_ns, full_walk_ns;
	uint64_t max_flows, pid, port;
	bool tcp_only, udp_only, verbose;
	enum backend backend;
};

/* Everything main() sets up, for its helpers. */
struct run {
	struct opts o;
	struct collector col;
	struct priv_target target;
	struct cgroups *cgs;
	struct stream_writer *wr;
	struct engine g;
	struct ring rb;
	int out, sfd, ep;
	int sys_errno; /* epoll_wait failed: not a write */
	uint32_t own_netns;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* ---- options ---- */

/* -1: go on; else the status main() returns (help, version: 0; a usage error, said: 64). */
static int parse_options(int argc, char **argv, struct opts *o)
{
	enum {
		O_INTERVAL = 256,
		O_DURATION,
		O_PID,
		O_BACKEND,
		O_UDP_TIMEOUT,
		O_MAX_FLOWS,
		O_PORT,
		O_TCP,
		O_UDP,
		O_FULL_WALK,
		O_VERSION
	};
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "udp-timeout", required_argument, NULL, O_UDP_TIMEOUT },
		{ "max-flows", required_argument, NULL, O_MAX_FLOWS },
		{ "pid", required_argument, NULL, O_PID },
		{ "port", required_argument, NULL, O_PORT },
		{ "tcp", no_argument, NULL, O_TCP },
		{ "udp", no_argument, NULL, O_UDP },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "full-walk", required_argument, NULL, O_FULL_WALK },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	/* the options with a range: the one table (lib/opts.c) the wrapper checks with too */
	static const struct {
		int opt;
		const char *name;
		size_t off;
	} ranged[] = {
		{ O_INTERVAL, "interval", offsetof(struct opts, interval_ns) },
		{ O_DURATION, "duration", offsetof(struct opts, duration_ns) },
		{ O_UDP_TIMEOUT, "udp-timeout", offsetof(struct opts, udp_timeout_ns) },
		{ O_FULL_WALK, "full-walk", offsetof(struct opts, full_walk_ns) },
		{ O_MAX_FLOWS, "max-flows", offsetof(struct opts, max_flows) },
		{ O_PID, "pid", offsetof(struct opts, pid) },
		{ O_PORT, "port", offsetof(struct opts, port) },
	};
	char msg[256];
	int c, b;

	*o = (struct opts){ .output = "-",
			    .interval_ns = NSEC,
			    .udp_timeout_ns = DEF_UDP_TIMEOUT,
			    .max_flows = DEF_MAX_FLOWS };
	while ((c = getopt_long(argc, argv, "o:vh", lo, NULL)) != -1) {
		size_t i;

		for (i = 0; i < sizeof(ranged) / sizeof(ranged[0]) && ranged[i].opt != c; i++)
			;
		if (i < sizeof(ranged) / sizeof(ranged[0])) {
			if (!opt_parse(OPT_COLLECT, ranged[i].name, optarg,
				       (uint64_t *)((char *)o + ranged[i].off), msg, sizeof(msg)))
				continue;
			warnx("%s", msg);
			return EX_USAGE;
		}
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case O_TCP:
			o->tcp_only = true;
			break;
		case O_UDP:
			o->udp_only = true;
			break;
		case O_BACKEND:
			if ((b = backend_parse(optarg)) < 0) {
				warnx("--backend %s: unknown (auto, tracepoint, fentry, kprobe)",
				      optarg);
				return EX_USAGE;
			}
			o->backend = b;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			fputs(usage_synopsis, stdout);
			fputs(help_text, stdout);
			exit_help(stdout, TOOL_COLLECT);
			return 0;
		case O_VERSION:
			printf("tcptop-collect %s\n", TCPTOP_VERSION);
			return 0;
		default:
			fputs(usage_synopsis, stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		warnx("unexpected argument: %s", argv[optind]);
		fputs(usage_synopsis, stderr);
		return EX_USAGE;
	}
	if (o->tcp_only && o->udp_only)
		o->tcp_only = o->udp_only = false; /* both: everything */
	return -1;
}

/* ---- setup ---- */

/* Output as the invoking user: under sudo (or with file capabilities) after the drop, so that
 * the kernel's permission checks are those of the user who asked; as root itself, before.
 * 0, or the exit status with the message in msg. */
static int open_out(struct run *r, char *msg, size_t size)
{
	if (!strcmp(r->o.output, "-")) {
		r->out = STDOUT_FILENO;
		return 0;
	}
	r->out = open_output(r->o.output, O_TRUNC, msg, size);
	if (r->out < 0)
		return EX_CANTCREAT;
	if (isatty(r->out)) {
		snprintf(msg, size, "refusing to write a binary stream to a terminal (%s)",
			 r->o.output);
		return EX_USAGE;
	}
	return 0;
}

/* SIGINT, SIGTERM and SIGHUP arrive through a descriptor, in the epoll set with the ring
 * buffer: none is lost between a check and a wait. 0, or -errno. */
static int wait_setup(struct run *r)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t sigs;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	r->sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->sfd < 0 || r->ep < 0)
		return -errno;
	ev.data.fd = r->sfd;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->sfd, &ev))
		return -errno;
	return 0;
}

/* Loads what this kernel takes, and maps the ring buffer. 0, or -1 with msg. */
static int load(struct run *r, char *msg, size_t size)
{
	struct probe_opts po = { .backend = r->o.backend,
				 .want_tcp = !r->o.udp_only,
				 .want_udp = !r->o.tcp_only,
				 .verbose = r->o.verbose,
				 .own_netns = r->own_netns,
				 .max_flows = r->o.max_flows,
				 .quiet_ns = 2 * r->o.interval_ns,
				 .ringbuf_bytes = RINGBUF_BYTES };
	struct epoll_event ev = { .events = EPOLLIN };
	struct stat st;
	int e;

	if (!stat("/proc/self/ns/net", &st))
		r->own_netns = po.own_netns = st.st_ino;
	if (probe_setup(&r->col, &po, msg, size))
		return -1;
	/* the engine's, once engine_init() has made it */
	e = ring_open(&r->rb, probe_events_fd(&r->col), engine_ringbuf_event, &r->g);
	if (e) {
		snprintf(msg, size, "cannot map the ring buffer: %s", strerror(-e));
		return -1;
	}
	ev.data.fd = r->rb.fd;
	epoll_ctl(r->ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	if (r->o.verbose)
		warnx("backend: %s", r->col.backend);
	if (r->o.verbose && r->col.missing[0])
		warnx("left out: %s", r->col.missing);
	return 0;
}

/* Whether bpf() still works for us once privilege is dropped: older kernels (5.10, not 6.1)
 * refuse every bpf() command without CAP_BPF when kernel.unprivileged_bpf_disabled is set; the
 * collector creates an iterator each period. Tried in a child that drops as we will. */
static bool bpf_works_unprivileged(const struct run *r, const struct kern *k)
{
	char e[256];
	int st;
	pid_t pid;

	if (k->it_tcp < 0 && k->it_udp < 0 && k->poll == POLL_NONE)
		return true;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(priv_drop(&r->target, 0, e, sizeof(e)) ? 2 : kern_check(k) ? 1 : 0);
	if (waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Drops to the invoking user (keeping CAP_BPF where bpf() needs it). 0, or -1 with msg. */
static int drop(struct run *r, const struct kern *k, char *msg, size_t size)
{
	uint64_t keep = bpf_works_unprivileged(r, k) ? 0 : PRIV_CAP(CAP_BPF);

	if (priv_drop(&r->target, keep, msg, size))
		return -1;
	if (r->o.verbose)
		warnx("dropped privilege to %s: uid %u gid %u, %s, no_new_privs", r->target.why,
		      (unsigned)r->target.uid, (unsigned)r->target.gid,
		      keep ? "CAP_BPF kept (this kernel refuses bpf() without it)"
			   : "no capabilities");
	return 0;
}

static void read_line_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, size, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* The cgroup v2 hierarchy names the owners' cgroups; without one the column is unknown. */
static void cgroups_setup(struct run *r)
{
	int e = cgroups_new(&r->cgs);

	if (!e)
		return;
	features_add(r->col.missing, sizeof(r->col.missing), FEAT_CGROUP);
	warnx("cgroup left out: %s", e == -ENOENT ? "no cgroup v2 mount" : strerror(-e));
}

/* The stream's header: what this run is, and what this kernel left out. 0, or -errno. */
static int write_header(struct run *r)
{
	struct stream_header h = { .major = STREAM_MAJOR,
				   .minor = STREAM_MINOR,
				   .kind = STREAM_KIND_RAW,
				   .interval_ns = r->o.interval_ns };
	struct timespec rt, m1, m2;
	struct utsname u;
	size_t fl = 0;

	clock_gettime(CLOCK_MONOTONIC, &m1);
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &m2);
	h.anchor_real = (int64_t)rt.tv_sec * (int64_t)NSEC + rt.tv_nsec;
	h.anchor_mono = ((uint64_t)m1.tv_sec * NSEC + m1.tv_nsec) / 2 +
			((uint64_t)m2.tv_sec * NSEC + m2.tv_nsec) / 2;
	snprintf(h.producer, sizeof(h.producer), "tcptop-collect");
	snprintf(h.version, sizeof(h.version), "%s", TCPTOP_VERSION);
	gethostname(h.hostname, sizeof(h.hostname) - 1);
	read_line_file("/proc/sys/kernel/random/boot_id", h.boot_id, sizeof(h.boot_id));
	if (!uname(&u))
		snprintf(h.kernel, sizeof(h.kernel), "%s", u.release);
	snprintf(h.backend, sizeof(h.backend), "%s", r->col.backend);
	snprintf(h.missing, sizeof(h.missing), "%s", r->col.missing);
	if (r->o.pid)
		fl += snprintf(h.filter + fl, sizeof(h.filter) - fl, "pid=%" PRIu64 " ", r->o.pid);
	if (r->o.port)
		fl += snprintf(h.filter + fl, sizeof(h.filter) - fl, "port=%" PRIu64 " ",
			       r->o.port);
	if (r->o.tcp_only || r->o.udp_only)
		fl += snprintf(h.filter + fl, sizeof(h.filter) - fl, "%s ",
			       r->o.tcp_only ? "tcp" : "udp");
	if (fl)
		h.filter[fl - 1] = 0;
	return stream_write_header(r->wr, &h);
}

/* The header, then the engine on the kernel's view; 0, or -errno. */
static int start(struct run *r, const struct kern *k)
{
	struct engine_config ec = { .interval_ns = r->o.interval_ns,
				    .full_walk_ns = r->o.full_walk_ns,
				    .verbose = r->o.verbose };
	struct xlate_config xc = { .own_netns = r->own_netns,
				   .udp_timeout_ns = r->o.udp_timeout_ns,
				   .pid = r->o.pid,
				   .port = r->o.port,
				   .want_tcp = !r->o.udp_only,
				   .want_udp = !r->o.tcp_only,
				   .figs = r->col.figs,
				   .hz = r->col.hz };
	int e;

	r->wr = stream_writer_new(r->out);
	if (!r->wr)
		return -ENOMEM;
	if ((e = write_header(r)) || (e = engine_init(&r->g, &ec, k, r->wr, &xc, r->cgs)))
		return e;
	return engine_start(&r->g);
}

/* Periods until --duration ends or a signal comes (its number in *sig); 0, or -errno. A
 * period longer than the interval (a million connections): the next one an interval after
 * it ended, and the signals looked at first, never period after period without them. */
static int loop(struct run *r, int *sig)
{
	uint64_t now = mono_ns(), next = now + r->o.interval_ns;
	uint64_t end = r->o.duration_ns ? now + r->o.duration_ns : 0;
	int e;

	while (!*sig) {
		uint64_t until = end && end < next ? end : next;
		struct epoll_event evs[2];
		int n;

		now = mono_ns();
		if (now >= until) {
			if (end && now >= end)
				return 0;
			if ((e = engine_period(&r->g)))
				return e;
			next += r->o.interval_ns;
			now = mono_ns();
			if (next <= now)
				next = now + r->o.interval_ns;
			continue;
		}
		n = epoll_wait(r->ep, evs, 2, (int)((until - now + 999999) / 1000000));
		if (n < 0 && errno != EINTR)
			return -(r->sys_errno = errno);
		for (int i = 0; i < n; i++) {
			struct signalfd_siginfo si;

			if (evs[i].data.fd != r->sfd) {
				if ((e = engine_events(&r->g)))
					return e;
			} else if (read(r->sfd, &si, sizeof(si)) == sizeof(si)) {
				*sig = si.ssi_signo;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct run r = { .out = -1 };
	const char *what;
	char msg[512];
	struct kern k;
	int st, sig = 0;

	if ((st = parse_options(argc, argv, &r.o)) >= 0)
		return st;
	if (!strcmp(r.o.output, "-") && isatty(STDOUT_FILENO))
		errx(EX_USAGE, "refusing to write a binary stream to a terminal: "
			       "pipe it (| tcptop-agg) or use -o FILE");
	if ((st = caps_live_capture_check(msg, sizeof(msg))))
		errx(st > 0 ? EX_NOPERM : EX_OSERR, "%s", msg);
	if (access(BTF_VMLINUX, R_OK))
		errx(EX_UNAVAILABLE,
		     "kernel has no BTF (%s): tcptop needs a kernel built with "
		     "CONFIG_DEBUG_INFO_BTF (Linux 5.10 or later)",
		     BTF_VMLINUX);
	if (priv_target_init(&r.target, PRIV_FALLBACK_NOBODY, msg, sizeof(msg)))
		errx(EX_NOPERM, "%s", msg);
	if (!r.target.invoking_user && (st = open_out(&r, msg, sizeof(msg))))
		errx(st, "%s", msg); /* root asked for it: root's rights */
	if ((st = wait_setup(&r)))
		errno = -st, err(EX_OSERR, "signalfd, epoll");

	/* load and attach what this kernel takes, then drop privilege */
	if (load(&r, msg, sizeof(msg)))
		errx(EX_UNAVAILABLE, "%s", msg);
	probe_kern(&r.col, &k);
	k.rb = &r.rb;
	if (drop(&r, &k, msg, sizeof(msg)))
		errx(EX_NOPERM, "dropping privilege: %s", msg);
	if (r.out < 0 && (st = open_out(&r, msg, sizeof(msg))))
		errx(st, "%s", msg);
	cgroups_setup(&r);

	/* what exists already, then a period each interval until stopped; the last has the
	 * final counters, then END */
	what = strcmp(r.o.output, "-") ? r.o.output : "standard output";
	if ((st = start(&r, &k)) || (st = loop(&r, &sig)) || (st = engine_end(&r.g))) {
		if (r.sys_errno)
			errno = r.sys_errno, err(EX_OSERR, "epoll_wait");
		exit_write_failed(st, what);
	}
	engine_free(&r.g);
	ring_close(&r.rb);
	probe_destroy(&r.col);
	stream_writer_free(r.wr);
	cgroups_free(r.cgs);
	if (r.out != STDOUT_FILENO && close(r.out))
		err(EX_IOERR, "%s", r.o.output);
	return exit_stopped(sig, true);
}
