// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-collect: loads tcptop's BPF programs, drops privilege, then once per sample period
 * reads the kernel's per-connection counters (the active connections', and every one's when
 * the walk is due) and writes what changed as a raw tcptop stream, with every close as it
 * happens, a LOSS and a TICK record. probe.c says what this kernel
 * takes, xlate.c turns what it reports into records.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroups.h"
#include "opts.h"
#include "priv.h"
#include "probe.h"
#include "stream.h"
#include "tcptop.h"
#include "tcptop.skel.h"
#include "util.h"
#include "xlate.h"

#define NSEC		1000000000ULL
#define DEF_MAX_FLOWS	65536
#define DEF_UDP_TIMEOUT (30 * NSEC)
#define RINGBUF_BYTES	(8u << 20)
#define BTF_VMLINUX	"/sys/kernel/btf/vmlinux"
#define ENOTSUPP	524 /* the kernel's "operation not supported", as bpf() returns it */

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
	"                         keeps the walk under 1% of a core, at least once a\n"
	"                         minute; 0 to 3600)\n"
	"  -v, --verbose          report on stderr what the kernel took and refused, and\n"
	"                         the privilege drop\n"
	"  -h, --help             this help\n"
	"      --version          print the version\n"
	"\n"
	"Needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN; drops to the invoking user\n"
	"(SUDO_UID/SUDO_GID, else nobody) after loading, and under sudo creates FILE as that\n"
	"user. A feature the kernel refuses is left out with one line saying why.\n"
	"Refuses to write to a terminal.\n"
	"Exit: 0 done (also after SIGINT/SIGTERM or a closed pipe), 64 usage, 69 kernel lacks\n"
	"a needed feature, 71 out of memory, 73 cannot create FILE, 74 I/O error,\n"
	"77 insufficient privilege.\n";

static struct {
	const char *output;
	uint64_t interval_ns, duration_ns, udp_timeout_ns, full_walk_ns;
	uint64_t max_flows, pid, port;
	bool tcp_only, udp_only, verbose;
	enum backend backend;
} opt = {
	.output = "-",
	.interval_ns = NSEC,
	.udp_timeout_ns = DEF_UDP_TIMEOUT,
	.max_flows = DEF_MAX_FLOWS,
};

static struct collector col;
static struct stream_writer *wr;
static struct xlate *xl;
static struct ring_buffer *rb;
static struct cgroups *cgs;

static void usage(void)
{
	fputs(usage_synopsis, stderr);
	exit(EX_USAGE);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

static void verbose(const char *fmt, ...)
{
	va_list ap;

	if (!opt.verbose)
		return;
	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

/* ---- writing: a closed pipe ends us quietly, any other error is 74 ---- */

static void write_failed(int e)
{
	if (e == -EPIPE)
		exit(0); /* downstream went away; the kernel detaches our programs */
	if (e == -ENOMEM)
		errx(EX_OSERR, "out of memory");
	errx(EX_IOERR, "write: %s", strerror(-e));
}

static int put_rec(void *ctx, const struct rec *r)
{
	(void)ctx;
	return stream_write(wr, r);
}

static void put_or_die(const struct rec *r)
{
	int e = stream_write(wr, r);

	if (e)
		write_failed(e);
}

static void check_xlate(void)
{
	int e = xlate_error(xl);

	if (e)
		write_failed(e);
}

static void flush_out(void)
{
	int e = stream_flush(wr);

	if (e)
		write_failed(e);
}

/* ---- the kernel, through the callbacks the translation uses ---- */

static int udp_final(void *ctx, const struct tt_udp_key *k, struct tt_udp_val *v)
{
	int fd = bpf_map__fd(col.skel->maps.udp_flows);

	(void)ctx;
	if (!bpf_map_lookup_and_delete_elem(fd, k, v))
		return 0;
	if (errno != EINVAL && errno != ENOTSUPP && errno != EOPNOTSUPP)
		return -ENOENT;
	/* before 5.14: read, then remove (a datagram in between is lost, counted nowhere) */
	if (bpf_map_lookup_elem(fd, k, v))
		return -ENOENT;
	bpf_map_delete_elem(fd, k);
	return 0;
}

static void forget_owner(void *ctx, uint64_t sock)
{
	(void)ctx;
	bpf_map_delete_elem(bpf_map__fd(col.skel->maps.owners), &sock);
}

static int own_ifname(void *ctx, uint32_t ifindex, char name[IFNAME_LEN])
{
	char buf[IF_NAMESIZE];

	(void)ctx;
	if (!if_indextoname(ifindex, buf))
		return -1;
	snprintf(name, IFNAME_LEN, "%s", buf);
	return 0;
}

static int cgroup_path(void *ctx, uint64_t id, char *path, size_t size)
{
	(void)ctx;
	return cgroups_path(cgs, id, path, size);
}

/* A growing array of events. */
struct evbuf {
	struct tt_event *v;
	size_t n, cap;
};

static void evbuf_push(struct evbuf *b, const struct tt_event *e)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct tt_event *v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			errx(EX_OSERR, "out of memory");
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *e;
}

/* Ring buffer events go to the translation at once, or, while an iterator's records wait,
 * into a queue merged with them by time: a socket that closed during the pass and whose
 * memory a new socket took must close before the new one is met. */
static struct evbuf queued;
static bool queueing;

static int on_ringbuf(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size < sizeof(struct tt_event))
		return 0;
	if (!queueing) {
		xlate_event(xl, data);
		return 0;
	}
	evbuf_push(&queued, data);
	return 0;
}

static void merge(const struct tt_event *it, size_t n_it);

/* Runs an iterator and hands each record it writes to the translation, in time order with
 * the ring buffer's events. */
static void run_iter(struct bpf_link *link)
{
	static char *buf;
	static size_t cap;
	size_t len = 0;
	ssize_t n;
	int fd;

	if (!link)
		return;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		warn("bpf_iter_create");
		return;
	}
	for (;;) {
		if (cap - len < 65536) {
			size_t ncap = cap ? cap * 2 : 1 << 20;
			char *nb = realloc(buf, ncap);

			if (!nb)
				errx(EX_OSERR, "out of memory");
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		/* EAGAIN: the kernel visited a million objects (MAX_ITER_OBJECTS) without a byte
		 * to show (a million idle connections in a pass that reports changes only) and
		 * gave the CPU back; the walk goes on where it stopped */
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			warn("reading iterator");
			break;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	merge((const struct tt_event *)buf, len / sizeof(struct tt_event));
}

/* Hands records read from the kernel (iterator records, polled entries: in time order) to
 * the translation, merged by time with the ring buffer's events, read after them: a close
 * queued before a new socket took the closed one's memory comes before that socket's record. */
static void merge(const struct tt_event *it, size_t n_it)
{
	size_t i = 0, j = 0;

	queueing = true;
	queued.n = 0;
	ring_buffer__consume(rb);
	queueing = false;
	while (i < n_it || j < queued.n) {
		if (j == queued.n || (i < n_it && it[i].ts <= queued.v[j].ts))
			xlate_event(xl, &it[i++]);
		else
			xlate_event(xl, &queued.v[j++]);
	}
}

/* Every entry of a hash map, in batches where the kernel has them (5.6+). */
static void map_each(int fd, size_t ksz, size_t vsz,
		     void (*fn)(const void *k, const void *v, uint64_t now), uint64_t now)
{
	enum {
		BATCH = 1024
	};
	static char *keys, *vals;
	static size_t kcap, vcap;
	uint64_t token = 0;
	bool first = true;
	char k[64], nk[64], v[256];

	if (kcap < BATCH * ksz || vcap < BATCH * vsz) {
		free(keys);
		free(vals);
		keys = malloc(BATCH * ksz);
		vals = malloc(BATCH * vsz);
		if (!keys || !vals)
			errx(EX_OSERR, "out of memory");
		kcap = BATCH * ksz;
		vcap = BATCH * vsz;
	}
	for (;;) {
		__u32 count = BATCH;
		int e = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &count,
					     NULL);

		if (e && errno != ENOENT) {
			if (!first || (errno != EINVAL && errno != ENOTSUPP && errno != EOPNOTSUPP))
				return;
			break; /* no batches here: one by one */
		}
		for (__u32 i = 0; i < count; i++)
			fn(keys + i * ksz, vals + i * vsz, now);
		if (e)
			return;
		first = false;
	}
	if (ksz > sizeof(k) || vsz > sizeof(v))
		return;
	for (int e = bpf_map_get_next_key(fd, NULL, nk); !e; e = bpf_map_get_next_key(fd, k, nk)) {
		memcpy(k, nk, ksz);
		if (!bpf_map_lookup_elem(fd, k, v))
			fn(k, v, now);
	}
}

static void on_udp_flow(const void *k, const void *v, uint64_t now)
{
	xlate_udp_flow(xl, k, v, now);
}

/* The polled connections of this period, in time order for merge(). */
static struct evbuf pol;

static void on_polled(const void *k, const void *v, uint64_t now)
{
	const struct tt_polled *p = v;

	(void)now;
	/* a connect() between its SYN_SENT and its choice of a local port: next period */
	if (p->e.sock != *(const uint64_t *)k || !p->e.lport)
		return;
	evbuf_push(&pol, &p->e);
}

static int by_ts(const void *a, const void *b)
{
	const struct tt_event *x = a, *y = b;

	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* The walk of every connection of our namespace. Each period where nothing but the walk reads
 * connections; with activation (active ones polled), as often as --full-walk says, by default
 * as often as keeps it under WALK_BUDGET of a core (measured on the walk before) and at least
 * every WALK_MAX_GAP; at once after a lost event. */
#define WALK_BUDGET  100 /* 1/100: 1% of a core */
#define WALK_MAX_GAP (60 * NSEC)
static struct {
	uint64_t last, every; /* when the last walk began, and the gap to the next (ns) */
	uint64_t lost_seen;   /* ring buffer losses at the last full walk */
} walk = { .lost_seen = UINT64_MAX };

static bool walk_due(uint64_t now, uint64_t lost)
{
	if (!col.active || !walk.last || lost != walk.lost_seen)
		return true;
	return now - walk.last + opt.interval_ns / 2 >= walk.every;
}

/* After a walk that cost cost ns of CPU (the kernel's, the programs', ours), the next one.
 * Sockets that another BPF program gave socket storage cannot be activated (the tracepoints
 * test the socket's storage pointer): while there are any, every period walks. */
static void walk_plan(uint64_t now, uint64_t cost, uint32_t unmarkable)
{
	static bool said;
	uint64_t prev = walk.every;

	walk.last = now;
	if (unmarkable) {
		walk.every = 0;
		if (!said)
			verbose("%u connections carry another BPF program's socket storage: their "
				"activity cannot be seen between walks, so every period walks",
				(unsigned)unmarkable);
		said = true;
	} else if (opt.full_walk_ns)
		walk.every = opt.full_walk_ns;
	else if (cost > WALK_MAX_GAP / WALK_BUDGET)
		walk.every = WALK_MAX_GAP;
	else
		walk.every = cost * WALK_BUDGET;
	/* said when the gap halves or doubles, not each time */
	if (col.active && (walk.every > 2 * prev || 2 * walk.every < prev))
		verbose("the walk of every connection took %.1f ms of CPU: the next in %.2f s",
			cost / 1e6,
			(walk.every > opt.interval_ns ? walk.every : opt.interval_ns) / 1e9);
}

static uint64_t loss_sum(uint32_t code)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(col.skel->maps.loss);
	uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;

	if (ncpu > 0 && !bpf_map_lookup_elem(fd, &code, vals))
		for (int c = 0; c < ncpu; c++)
			sum += vals[c];
	return sum;
}

static void put_loss(uint64_t ts)
{
	struct rec r = { .type = REC_LOSS };
	struct rec_loss *l = &r.u.loss;
	struct xlate_stats st;

	xlate_stats(xl, &st);
	l->ts = ts;
	l->e[l->n++] = (struct loss_entry){ LOSS_RINGBUF, loss_sum(TT_LOSS_RINGBUF) };
	l->e[l->n++] = (struct loss_entry){ LOSS_FLOW_TABLE_FULL, loss_sum(TT_LOSS_FLOW_FULL) };
	l->e[l->n++] = (struct loss_entry){ LOSS_FLOW_EVICTED, st.evicted };
	if (col.udp == BK_KPROBE)
		l->e[l->n++] = (struct loss_entry){ LOSS_KPROBE_MISSED, probe_kprobe_missed(&col) };
	put_or_die(&r);
}

/* One sample period: closes so far, the polled connections (other namespaces', our active
 * ones), the walk of our TCP connections when due (every one reported on a full pass, which
 * also finds closes the kernel could not report), the UDP sockets that went away, the UDP
 * flows, loss, tick. */
static void period(void)
{
	struct rec r = { .type = REC_TICK };
	static unsigned poll_failed;
	uint64_t now, lost, cpu = 0;
	bool walking, full;

	ring_buffer__consume(rb);
	/* without an accept hook, owners of connections accepted since are found by a walk
	 * of every process's sockets, once each time new ones appear */
	if (!col.accept && col.it_owners) {
		struct xlate_stats st;

		xlate_stats(xl, &st);
		if (st.unowned_new) {
			run_iter(col.it_owners);
			xlate_unowned_reset(xl);
		}
	}
	/* a TCP pass each period: the polled connections, then the walk when due (it ends the
	 * polling of those found quiet); a full one also finds closes the kernel lost */
	now = mono_ns();
	lost = loss_sum(TT_LOSS_RINGBUF);
	walking = col.it_tcp && walk_due(now, lost);
	full = walking && (col.active || !col.sk_storage || lost != walk.lost_seen);
	xlate_tcp_pass_begin(xl, full);
	if (col.poll != POLL_NONE && probe_poll(&col) && !poll_failed++)
		warn("refreshing the polled connections (said once)");
	if (col.tcp) {
		pol.n = 0;
		map_each(bpf_map__fd(col.skel->maps.polled), sizeof(uint64_t),
			 sizeof(struct tt_polled), on_polled, now);
		qsort(pol.v, pol.n, sizeof(*pol.v), by_ts);
		merge(pol.v, pol.n);
	}
	if (walking) {
		cpu = thread_cpu_ns();
		col.skel->data->full_pass = full;
		col.skel->bss->unmarkable = 0;
		run_iter(col.it_tcp);
		if (full)
			walk.lost_seen = lost;
	}
	xlate_tcp_pass_end(xl, mono_ns(), true);
	if (walking)
		walk_plan(now, thread_cpu_ns() - cpu, col.skel->bss->unmarkable);
	if (col.it_udp) {
		xlate_udp_pass_begin(xl);
		run_iter(col.it_udp);
		xlate_udp_pass_end(xl, mono_ns(), true);
	}
	now = mono_ns();
	if (col.udp) {
		map_each(bpf_map__fd(col.skel->maps.udp_flows), sizeof(struct tt_udp_key),
			 sizeof(struct tt_udp_val), on_udp_flow, now);
		xlate_udp_expire(xl, now);
	}
	check_xlate();
	now = mono_ns();
	put_loss(now);
	r.u.tick.ts = now;
	put_or_die(&r);
	flush_out();
}

/* ---- setup ---- */

static uint64_t get_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (syscall(SYS_capget, &h, d))
		return 0;
	return (uint64_t)d[1].effective << 32 | d[0].effective;
}

static void check_privilege(void)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = { { CAP_BPF, "CAP_BPF" },
		     { CAP_PERFMON, "CAP_PERFMON" },
		     { CAP_NET_ADMIN, "CAP_NET_ADMIN" } };
	uint64_t caps = get_caps();
	char missing[128] = "";

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (caps & (1ULL << need[i].cap))
			continue;
		if (missing[0])
			strcat(missing, ", ");
		strcat(missing, need[i].name);
	}
	if (missing[0])
		errx(EX_NOPERM, "needs root or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (missing %s)",
		     missing);
}

/* Whether bpf() still works for us once privilege is dropped: older kernels (5.10, not 6.1)
 * refuse every bpf() command without CAP_BPF when kernel.unprivileged_bpf_disabled is set; the
 * collector creates an iterator each period. Tried in a child that drops as we will. */
static bool bpf_works_unprivileged(const struct priv_target *t)
{
	struct bpf_link *l = col.it_tcp ? col.it_tcp : col.it_udp;
	char e[256];
	int st;
	pid_t pid;

	if (!l && col.poll == POLL_NONE)
		return true;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd;

		if (priv_drop(t, 0, e, sizeof(e)))
			_exit(2);
		fd = l ? bpf_iter_create(bpf_link__fd(l)) : 0;
		_exit(fd >= 0 && !probe_poll(&col) ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
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

static void write_header(const char *filter)
{
	struct stream_header h = { .major = STREAM_MAJOR,
				   .minor = STREAM_MINOR,
				   .kind = STREAM_KIND_RAW };
	struct timespec r, m1, m2;
	struct utsname u;
	int e;

	clock_gettime(CLOCK_MONOTONIC, &m1);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m2);
	h.anchor_real = (int64_t)r.tv_sec * (int64_t)NSEC + r.tv_nsec;
	h.anchor_mono = ((uint64_t)m1.tv_sec * NSEC + m1.tv_nsec) / 2 +
			((uint64_t)m2.tv_sec * NSEC + m2.tv_nsec) / 2;
	h.interval_ns = opt.interval_ns;
	snprintf(h.producer, sizeof(h.producer), "tcptop-collect");
	snprintf(h.version, sizeof(h.version), "%s", TCPTOP_VERSION);
	gethostname(h.hostname, sizeof(h.hostname) - 1);
	read_line_file("/proc/sys/kernel/random/boot_id", h.boot_id, sizeof(h.boot_id));
	if (!uname(&u))
		snprintf(h.kernel, sizeof(h.kernel), "%s", u.release);
	snprintf(h.backend, sizeof(h.backend), "%s", col.backend);
	snprintf(h.filter, sizeof(h.filter), "%s", filter);
	snprintf(h.missing, sizeof(h.missing), "%s", col.missing);
	e = stream_write_header(wr, &h);
	if (e)
		write_failed(e);
}

/* An option with a range: the one table (lib/opts.c) the wrapper checks with too. */
static void range_opt(const char *name, uint64_t *out)
{
	char msg[256];

	if (opt_parse(OPT_COLLECT, name, optarg, out, msg, sizeof(msg)))
		errx(EX_USAGE, "%s", msg);
}

static void parse_options(int argc, char **argv)
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
	int c, b;

	while ((c = getopt_long(argc, argv, "o:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'o':
			opt.output = optarg;
			break;
		case O_INTERVAL:
			range_opt("interval", &opt.interval_ns);
			break;
		case O_DURATION:
			range_opt("duration", &opt.duration_ns);
			break;
		case O_UDP_TIMEOUT:
			range_opt("udp-timeout", &opt.udp_timeout_ns);
			break;
		case O_FULL_WALK:
			range_opt("full-walk", &opt.full_walk_ns);
			break;
		case O_MAX_FLOWS:
			range_opt("max-flows", &opt.max_flows);
			break;
		case O_PID:
			range_opt("pid", &opt.pid);
			break;
		case O_PORT:
			range_opt("port", &opt.port);
			break;
		case O_TCP:
			opt.tcp_only = true;
			break;
		case O_UDP:
			opt.udp_only = true;
			break;
		case O_BACKEND:
			b = backend_parse(optarg);
			if (b < 0)
				errx(EX_USAGE,
				     "--backend %s: unknown (auto, tracepoint, fentry, kprobe)",
				     optarg);
			opt.backend = b;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			fputs(usage_synopsis, stdout);
			fputs(help_text, stdout);
			exit(0);
		case O_VERSION:
			printf("tcptop-collect %s\n", TCPTOP_VERSION);
			exit(0);
		default:
			usage();
		}
	}
	if (optind < argc) {
		warnx("unexpected argument: %s", argv[optind]);
		usage();
	}
	if (opt.tcp_only && opt.udp_only)
		opt.tcp_only = opt.udp_only = false; /* both: everything */
}

static void describe_filter(char *filter, size_t size)
{
	size_t fl = 0;

	filter[0] = 0;
	if (opt.pid)
		fl += snprintf(filter + fl, size - fl, "pid=%" PRIu64 " ", opt.pid);
	if (opt.port)
		fl += snprintf(filter + fl, size - fl, "port=%" PRIu64 " ", opt.port);
	if (opt.tcp_only || opt.udp_only)
		fl += snprintf(filter + fl, size - fl, "%s ", opt.tcp_only ? "tcp" : "udp");
	if (fl)
		filter[fl - 1] = 0;
}

/* Output as the invoking user: under sudo (or with file capabilities) after the drop, so that
 * the kernel's permission checks are those of the user who asked; as root itself, before. */
static int open_out(void)
{
	char e[256];
	int fd;

	if (!strcmp(opt.output, "-"))
		return STDOUT_FILENO;
	fd = open_output(opt.output, O_TRUNC, e, sizeof(e));
	if (fd < 0)
		errx(EX_CANTCREAT, "%s", e);
	if (isatty(fd))
		errx(EX_USAGE, "refusing to write a binary stream to a terminal (%s)", opt.output);
	return fd;
}

int main(int argc, char **argv)
{
	char filter[HDR_STR_MAX], e[512];
	struct xlate_config xc = { 0 };
	struct xlate_ops xo = { 0 };
	struct priv_target target;
	uint64_t start, next, end = 0, keep = 0;
	int out = -1, sfd, ep;
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t sigs;
	struct stat st;
	int stop = 0;

	parse_options(argc, argv);
	if (!strcmp(opt.output, "-") && isatty(STDOUT_FILENO))
		errx(EX_USAGE, "refusing to write a binary stream to a terminal: "
			       "pipe it (| tcptop-agg) or use -o FILE");
	check_privilege();
	if (access(BTF_VMLINUX, R_OK))
		errx(EX_UNAVAILABLE,
		     "kernel has no BTF (%s): tcptop needs a kernel built with "
		     "CONFIG_DEBUG_INFO_BTF (Linux 5.10 or later)",
		     BTF_VMLINUX);
	if (priv_target_init(&target, PRIV_FALLBACK_NOBODY, e, sizeof(e)))
		errx(EX_NOPERM, "%s", e);
	if (!target.invoking_user)
		out = open_out(); /* root asked for it: root's rights */

	/* signals arrive through a descriptor: none is lost between a check and a wait */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		err(EX_OSERR, "signalfd");

	/* load and attach: what this kernel takes */
	if (!stat("/proc/self/ns/net", &st))
		xc.own_netns = st.st_ino;
	{
		struct probe_opts po = { .backend = opt.backend,
					 .want_tcp = !opt.udp_only,
					 .want_udp = !opt.tcp_only,
					 .verbose = opt.verbose,
					 .own_netns = xc.own_netns,
					 .max_flows = opt.max_flows,
					 .quiet_ns = 2 * opt.interval_ns,
					 .ringbuf_bytes = RINGBUF_BYTES };

		if (probe_setup(&col, &po, e, sizeof(e)))
			errx(EX_UNAVAILABLE, "%s", e);
	}
	verbose("backend: %s", col.backend);
	if (col.missing[0])
		verbose("left out: %s", col.missing);
	rb = ring_buffer__new(bpf_map__fd(col.skel->maps.events), on_ringbuf, NULL, NULL);
	if (!rb)
		errx(EX_UNAVAILABLE, "cannot map the ring buffer: %s", strerror(errno));

	/* drop privilege: keep CAP_BPF only where bpf() needs it */
	if (!bpf_works_unprivileged(&target))
		keep = PRIV_CAP(CAP_BPF);
	if (priv_drop(&target, keep, e, sizeof(e)))
		errx(EX_NOPERM, "dropping privilege: %s", e);
	verbose("dropped privilege to %s: uid %u gid %u, %s, no_new_privs", target.why,
		(unsigned)target.uid, (unsigned)target.gid,
		keep ? "CAP_BPF kept (this kernel refuses bpf() without it)" : "no capabilities");
	if (out < 0)
		out = open_out();
	cgs = cgroups_new();

	wr = stream_writer_new(out);
	if (!wr)
		errx(EX_OSERR, "out of memory");
	describe_filter(filter, sizeof(filter));
	write_header(filter);

	xc.udp_timeout_ns = opt.udp_timeout_ns;
	xc.pid = opt.pid;
	xc.port = opt.port;
	xc.want_tcp = !opt.udp_only;
	xc.want_udp = !opt.tcp_only;
	xo.put = put_rec;
	xo.udp_final = udp_final;
	xo.forget_owner = forget_owner;
	xo.ifname = own_ifname;
	xo.cgroup_path = cgs ? cgroup_path : NULL;
	xl = xlate_new(&xc, &xo);
	if (!xl)
		errx(EX_OSERR, "out of memory");

	/* what exists already: owners first, then the first pass of each iterator */
	run_iter(col.it_owners);
	period();
	flush_out();

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		err(EX_OSERR, "epoll_create1");
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = ring_buffer__epoll_fd(rb);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);

	start = mono_ns();
	next = start + opt.interval_ns;
	if (opt.duration_ns)
		end = start + opt.duration_ns;
	while (!stop) {
		uint64_t now = mono_ns(), until = next;
		struct epoll_event evs[2];
		int n;

		if (end && end < until)
			until = end;
		if (now >= until) {
			if (end && now >= end)
				break;
			period();
			next += opt.interval_ns;
			/* a period longer than the interval (a million connections): the next
			 * one an interval after this one ended, and the signals looked at
			 * first, never period after period without them */
			now = mono_ns();
			if (next <= now)
				next = now + opt.interval_ns;
		}
		until = end && end < next ? end : next;
		n = epoll_wait(ep, evs, 2,
			       until > now ? (int)((until - now + 999999) / 1000000) : 0);
		if (n < 0 && errno != EINTR)
			err(EX_OSERR, "epoll_wait");
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					stop = si.ssi_signo;
			} else {
				ring_buffer__consume(rb);
				check_xlate();
			}
		}
	}
	period(); /* final counters */
	{
		struct rec r = { .type = REC_END };

		r.u.end.ts = mono_ns();
		put_or_die(&r);
	}
	flush_out();
	xlate_free(xl);
	ring_buffer__free(rb);
	probe_destroy(&col);
	stream_writer_free(wr);
	cgroups_free(cgs);
	if (out != STDOUT_FILENO && close(out))
		err(EX_IOERR, "%s", opt.output);
	return 0;
}
