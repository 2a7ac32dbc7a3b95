// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Feature by feature, what this kernel takes. One object holds every program; a plan says
 * which to load. The whole object is loaded and attached; when the kernel refuses a program,
 * libbpf names it, the plan drops the feature it serves (or moves UDP to the next backend),
 * and the object is opened and loaded again. A handful of rounds at most, each a fraction of
 * a second. The features and what each needs are in tcptop-collect(1), FEATURES.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "contract.h"
#include "mounts.h"
#include "probe.h"
#include "tcptop.skel.h"

#define KPROBE_PMU  "/sys/bus/event_source/devices/kprobe"
#define POLLED_FEW  1024 /* the first polled map's entries (16 KiB of buckets to walk) */
#define BTF_VMLINUX "/sys/kernel/btf/vmlinux"

static const char *const names[BK_N] = { "auto", "tracepoint", "fentry", "kprobe" };

int backend_parse(const char *name)
{
	for (int b = 0; b < BK_N; b++)
		if (!strcmp(name, names[b]))
			return b;
	if (!strcmp(name, "tp_btf"))
		return BK_TP;
	return -1;
}

const char *backend_name(enum backend b)
{
	return b < BK_N ? names[b] : "?";
}

/* ---- what libbpf says ---- */

/* What libbpf said of the last load. Its print callback has no context pointer: this is the
 * one state of the collector outside its structs, written only while probe_setup() runs. */
static struct {
	bool verbose;
	char prog[64]; /* the program the kernel refused */
	char why[256]; /* the verifier's last word on it */
} libbpf_said;

static void keep_last_line(const char *log)
{
	const char *end = strstr(log, "-- END PROG LOAD LOG --");
	const char *p, *start;

	if (!end)
		end = log + strlen(log);
	/* the last line that says something: not the statistics the verifier ends with */
	for (p = end; p > log;) {
		const char *e = p;

		while (e > log && (e[-1] == '\n' || e[-1] == ' '))
			e--;
		start = e;
		while (start > log && start[-1] != '\n')
			start--;
		if (e == start)
			return;
		if (strncmp(start, "processed ", 10) && strncmp(start, "verification time", 17) &&
		    strncmp(start, "stack depth", 11) && !strstr(start, "BEGIN PROG LOAD LOG")) {
			snprintf(libbpf_said.why, sizeof(libbpf_said.why), "%.*s", (int)(e - start),
				 start);
			return;
		}
		p = start;
	}
}

static int on_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *msg = NULL, name[64];
	int err;

	/* whole: a verifier log runs to megabytes, its last line is the reason */
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	if (level != LIBBPF_DEBUG) {
		if (sscanf(msg, "libbpf: prog '%63[^']': failed to load: %d", name, &err) == 2 ||
		    sscanf(msg, "prog '%63[^']': failed to load: %d", name, &err) == 2) {
			snprintf(libbpf_said.prog, sizeof(libbpf_said.prog), "%s", name);
			if (!libbpf_said.why[0])
				snprintf(libbpf_said.why, sizeof(libbpf_said.why), "%s",
					 strerror(-err));
		} else if (strstr(msg, "-- BEGIN PROG LOAD LOG --")) {
			libbpf_said.why[0] = 0;
			keep_last_line(msg);
		}
	}
	if (libbpf_said.verbose && level != LIBBPF_DEBUG)
		fprintf(stderr, "%s: %s", program_invocation_short_name, msg);
	free(msg);
	return 0;
}

/* ---- what the kernel has ---- */

static bool has_tracepoint(const struct btf *vmlinux, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) >= 0;
}

/* Does a trampoline (fentry) program load and attach here? */
static bool fentry_works(const struct btf *vmlinux, char *why, size_t whysz)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 }, /* r0 = 0 */
		{ .code = 0x95 },			  /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT);
	int id = btf__find_by_name_kind(vmlinux, "udp_sendmsg", BTF_KIND_FUNC);
	int fd, lfd;

	if (id < 0) {
		snprintf(why, whysz, "kernel has no udp_sendmsg in its BTF");
		return false;
	}
	o.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "tt_probe", "GPL", insns, 2, &o);
	if (fd < 0) {
		snprintf(why, whysz, "fexit programs refused: %s", strerror(errno));
		return false;
	}
	lfd = bpf_link_create(fd, 0, BPF_TRACE_FEXIT, NULL);
	if (lfd < 0)
		snprintf(why, whysz, "fexit programs do not attach: %s", strerror(errno));
	else
		close(lfd);
	close(fd);
	return lfd >= 0;
}

/* Does an iterator program of this target (bpf_iter_TARGET in the kernel's BTF) load here?
 * A two-instruction probe: far cheaper than a round of the whole object. */
static bool iter_loads(const struct btf *vmlinux, const char *target)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 }, /* r0 = 0 */
		{ .code = 0x95 },			  /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_ITER);
	char name[64];
	int id, fd;

	snprintf(name, sizeof(name), "bpf_iter_%s", target);
	id = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC);
	if (id < 0)
		return false;
	o.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "tt_probe", "GPL", insns, 2, &o);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Whether tracefs lists a tracepoint (libbpf attaches classic tracepoints through it). */
static bool tracefs_has(const char *event)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events/%s",
			 i ? "/sys/kernel/debug/tracing" : "/sys/kernel/tracing", event);
		if (!access(path, F_OK))
			return true;
	}
	return false;
}

/* Arguments of a kernel function, from its BTF prototype; -1 if unknown. */
static int func_args(const struct btf *vmlinux, const char *fn)
{
	int id = btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC);
	const struct btf_type *t;

	if (id < 0)
		return -1;
	t = btf__type_by_id(vmlinux, btf__type_by_id(vmlinux, id)->type);
	return t ? btf_vlen(t) : -1;
}

static bool backend_available(enum backend b, const struct btf *vmlinux, char *why, size_t whysz)
{
	switch (b) {
	case BK_TP:
		if (!has_tracepoint(vmlinux, "sock_send_length") ||
		    !has_tracepoint(vmlinux, "sock_recv_length")) {
			snprintf(why, whysz,
				 "kernel has no sock_send_length/sock_recv_length tracepoints "
				 "(Linux 6.3 and later have them)");
			return false;
		}
		return true;
	case BK_FENTRY:
		return fentry_works(vmlinux, why, whysz);
	case BK_KPROBE:
		if (access(KPROBE_PMU, F_OK)) {
			snprintf(why, whysz, "kernel has no kprobes (%s)", KPROBE_PMU);
			return false;
		}
		return true;
	default:
		snprintf(why, whysz, "no such backend");
		return false;
	}
}

/* ---- attaching ---- */

/* The cgroup v2 root for the sendmsg/recvmsg hooks: the mounted one, else a private mount
 * (detached at once; the fd keeps it). */
static int open_cgroup2(void)
{
	char dir[PATH_MAX], tmp[] = "/tmp/tcptop-cg2.XXXXXX";
	int fd = -1;

	if (!mount_find("cgroup2", dir, sizeof(dir))) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	if (!mkdtemp(tmp))
		return -1;
	if (mount("cgroup2", tmp, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) {
		fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		umount2(tmp, MNT_DETACH);
	}
	rmdir(tmp);
	return fd;
}

/*
 * kprobes made in tracefs, not through the perf kprobe PMU that libbpf uses: there a
 * kretprobe's maxactive can be raised (the PMU keeps the kernel's default, max(10, 2 x CPUs)
 * calls in flight, and every thread blocked in recv() holds one: measured on 6.1, 10 of 40
 * blocked readers counted), and kprobe_profile counts each one's misses (the PMU's are not
 * told before 6.7). The events are named tcptop_FUNCTION (returns) and tcptop_FUNCTION_entry,
 * and reused by the next run (after the privilege drop they cannot be removed): at most two
 * are left per function.
 */
#define KRETPROBE_MAXACTIVE 1024
static const char *const tracefs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static struct bpf_link *kprobe_attach(struct collector *c, struct bpf_program *p, int *err)
{
	const char *fn = strchr(bpf_program__section_name(p), '/');
	bool ret = !strncmp(bpf_program__section_name(p), "kretprobe/", 10);
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT,
					.size = sizeof(attr),
					.sample_period = 1,
					.wakeup_events = 1 };
	char path[PATH_MAX], line[256], name[96];
	const char *dir = NULL;
	unsigned long long id;
	struct bpf_link *l;
	int fd = -1, pfd;
	FILE *f;

	*err = EINVAL;
	if (!fn)
		return NULL;
	fn++;
	snprintf(name, sizeof(name), "tcptop_%s%s", fn, ret ? "" : "_entry");
	for (size_t i = 0; i < sizeof(tracefs) / sizeof(tracefs[0]) && fd < 0; i++) {
		snprintf(path, sizeof(path), "%s/kprobe_events", tracefs[i]);
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		dir = tracefs[i];
	}
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	/* a stale event from an earlier run goes; one in use by a running collector stays */
	snprintf(line, sizeof(line), "-:kprobes/%s\n", name);
	(void)!write(fd, line, strlen(line));
	if (ret)
		snprintf(line, sizeof(line), "r%d:kprobes/%s %s\n", KRETPROBE_MAXACTIVE, name, fn);
	else
		snprintf(line, sizeof(line), "p:kprobes/%s %s\n", name, fn);
	if (write(fd, line, strlen(line)) < 0 && errno != EEXIST) {
		*err = errno;
		close(fd);
		return NULL;
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/events/kprobes/%s/id", dir, name);
	f = fopen(path, "re");
	if (!f) {
		*err = errno;
		return NULL;
	}
	if (fscanf(f, "%llu", &id) != 1)
		id = 0;
	fclose(f);
	attr.config = id;
	pfd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0) {
		*err = errno;
		return NULL;
	}
	l = bpf_program__attach_perf_event(p, pfd);
	if (!l) {
		*err = errno;
		close(pfd);
		return NULL;
	}
	/* opened now: tracefs lets root alone open it, and it is read after the drop */
	if (c->kprobe_profile < 0) {
		snprintf(path, sizeof(path), "%s/kprobe_profile", dir);
		c->kprobe_profile = open(path, O_RDONLY | O_CLOEXEC);
	}
	c->kprobe_events++;
	return l;
}

/* The misses kprobe_profile counts for tcptop's events, summed. 0, or -errno. */
static int kprobe_profile_missed(const struct collector *c, uint64_t *sum)
{
	char line[512], name[256];
	unsigned long long hits, missed;
	int fd = c->kprobe_profile < 0 ? -1 : dup(c->kprobe_profile);
	FILE *f = NULL;

	*sum = 0;
	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0 || !(f = fdopen(fd, "r"))) {
		int e = c->kprobe_profile < 0 ? ENOENT : errno;

		if (fd >= 0)
			close(fd);
		return -e;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %llu %llu", name, &hits, &missed) == 3 &&
		    !strncmp(name, "tcptop_", 7))
			*sum += missed;
	fclose(f);
	return 0;
}

/* What the kprobe backend failed to count since start: the kprobes' misses (kprobe_profile,
 * less what the events had missed before), and the runs the kernel skipped of the programs
 * themselves (another BPF program running on that CPU: recursion_misses, 5.12+). */
static int kprobe_missed(void *ctx, uint64_t *n)
{
	struct collector *c = ctx;
	struct bpf_program *p;
	uint64_t sum = 0;
	int e;

	*n = 0;
	if (c->kprobe_events) {
		e = kprobe_profile_missed(c, &sum);
		if (e)
			return e;
		*n = sum > c->kprobe_base ? sum - c->kprobe_base : 0;
	}
	bpf_object__for_each_program(p, c->skel->obj)
	{
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);

		if (strncmp(bpf_program__name(p), "kp__", 4) || !bpf_program__autoload(p))
			continue;
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			return -errno;
		*n += info.recursion_misses;
	}
	return 0;
}

/* ---- the plan: what to load, and what to give up when the kernel refuses a program ---- */

enum {
	PL_TCP = 1 << 0,	  /* iter/tcp and the state tracepoint */
	PL_STORAGE = 1 << 1,	  /* iter/tcp reports only what changed (socket storage) */
	PL_ACTIVE = 1 << 2,	  /* activation: the send/recv tracepoints (6.3+), socket storage */
	PL_POLL_RUN = 1 << 3,	  /* the polled map refreshed by rf__polled */
	PL_POLL_ITER = 1 << 4,	  /* ... by it__polled, where rf__polled is refused */
	PL_OWNERS = 1 << 5,	  /* owners of the sockets that exist at start */
	PL_ACCEPT = 1 << 6,	  /* owners of accepted connections from the accept tracepoints */
	PL_UDP_CLOSE = 1 << 7,	  /* iter/udp */
	PL_UDP_PEERS = 1 << 8,	  /* the cgroup hooks */
	PL_UDP = 1 << 9,	  /* UDP by a backend (plan.udp): not a bit of plan.on */
	PL_UDP_RELEASE = 1 << 10, /* the cgroup sock_release hook: closes in every namespace */
	PL_FIGS = 1 << 11,	  /* TCP connections' figures (the walk, the refresh, the close) */
	PL_CLOCK = 1 << 12,	  /* ck__jiffies: the kernel's HZ measured */
};

struct plan {
	unsigned on; /* PL_* */
	enum backend udp;
	int recv_args; /* udp_recvmsg's arguments: 6 before 5.19, 5, 4 in 7.x */
	bool map_iter; /* the kernel takes map-element iterators */
};

static unsigned plan_bits(const struct plan *pl)
{
	return pl->on | (pl->udp != BK_AUTO ? PL_UDP : 0);
}

enum recv_sig {
	RA_ANY,
	RA_6,
	RA_4,
	RA_OTHER
};

/* Which program serves what. A name, or a prefix ending in "__"; the first row that matches
 * is the program's. It loads when every bit of need is in the plan and not every bit of
 * unless (none: 0), with UDP's backend udp (BK_AUTO: any) and udp_recvmsg's signature. */
static const struct prog_rule {
	const char *name;
	unsigned need, unless;
	enum backend udp;
	enum recv_sig recv;
} prog_rules[] = {
	{ "st__state", PL_TCP },
	{ "it__tcp", PL_TCP },
	{ "st__activate", PL_TCP | PL_ACTIVE },
	/* one pair on the send/recv tracepoints: activating TCP sockets, or the plain one */
	{ "tp__send_act", PL_TCP | PL_ACTIVE },
	{ "tp__recv_act", PL_TCP | PL_ACTIVE },
	{ "tp__", PL_UDP, PL_TCP | PL_ACTIVE, BK_TP },
	{ "it__owners", PL_OWNERS },
	{ "sc__", PL_ACCEPT },
	{ "rf__polled", PL_TCP | PL_POLL_RUN },
	{ "ck__jiffies", PL_TCP | PL_FIGS | PL_CLOCK },
	{ "it__polled", PL_TCP | PL_POLL_ITER, PL_POLL_RUN },
	{ "it__udp", PL_UDP | PL_UDP_CLOSE },
	{ "cg__", PL_UDP | PL_UDP_PEERS, 0, BK_TP },
	{ "cgr__", PL_UDP | PL_UDP_RELEASE },
	{ "fe6__", PL_UDP, 0, BK_FENTRY, RA_6 },
	{ "fe4__", PL_UDP, 0, BK_FENTRY, RA_4 },
	{ "fe__udp_recvmsg", PL_UDP, 0, BK_FENTRY, RA_OTHER },
	{ "fe__udpv6_recvmsg", PL_UDP, 0, BK_FENTRY, RA_OTHER },
	{ "fe__", PL_UDP, 0, BK_FENTRY },
	{ "kp__", PL_UDP, 0, BK_KPROBE },
};

static bool name_matches(const char *rule, const char *name)
{
	size_t n = strlen(rule);

	return n > 2 && !strcmp(rule + n - 2, "__") ? !strncmp(rule, name, n) : !strcmp(rule, name);
}

static bool prog_wanted(const struct plan *pl, const char *name)
{
	unsigned on = plan_bits(pl);

	for (size_t i = 0; i < sizeof(prog_rules) / sizeof(prog_rules[0]); i++) {
		const struct prog_rule *r = &prog_rules[i];

		if (!name_matches(r->name, name))
			continue;
		return (on & r->need) == r->need && (!r->unless || (on & r->unless) != r->unless) &&
		       (r->udp == BK_AUTO || r->udp == pl->udp) &&
		       (r->recv == RA_ANY || (r->recv == RA_6 && pl->recv_args == 6) ||
			(r->recv == RA_4 && pl->recv_args == 4) ||
			(r->recv == RA_OTHER && pl->recv_args != 6 && pl->recv_args != 4));
	}
	return false;
}

/* What the plan gives up when the kernel refuses a program: the first row for the program
 * whose bit is still in the plan. A feature that goes missing is said on stderr and in the
 * header (feature: FEAT_*); the others only with -v (instead: what happens then). Giving up
 * PL_UDP moves UDP to the next backend, when there is one and none was asked for. A refusal
 * no row takes (the object itself, TCP refused twice) is fatal. */
static const struct refusal {
	const char *name;
	unsigned off;
	int feature; /* FEAT_*, or -1 */
	const char *instead;
} refusals[] = {
	{ "it__tcp", PL_ACTIVE, -1, "no activation: a walk each period" },
	{ "it__tcp", PL_STORAGE, -1, "every connection reported each period" },
	/* the figures read jiffies and ~20 fields of tcp_sock, which 5.10 to 7.2 all have */
	{ "it__tcp", PL_FIGS, FEAT_TCP_FIGS },
	{ "it__tcp", PL_TCP, FEAT_TCP },
	{ "st__state", PL_FIGS, FEAT_TCP_FIGS },
	{ "st__state", PL_TCP, FEAT_TCP },
	{ "ck__jiffies", PL_CLOCK, -1, "HZ from the kernel's configuration only" },
	{ "st__activate", PL_ACTIVE, -1, "no activation: a walk each period" },
	{ "tp__send_act", PL_ACTIVE, -1, "no activation: a walk each period" },
	{ "tp__recv_act", PL_ACTIVE, -1, "no activation: a walk each period" },
	{ "it__owners", PL_OWNERS, FEAT_OWNERS },
	/* owners of accepted connections then come from their close, and from a walk of the
	 * processes' sockets when new ones appear */
	{ "sc__", PL_ACCEPT, -1, "no accept hook: owners found by walking the processes' sockets" },
	{ "rf__polled", PL_POLL_RUN, -1, "the polled connections refreshed by an iterator" },
	{ "it__polled", PL_POLL_ITER, -1, "the polled connections not refreshed" },
	{ "it__udp", PL_UDP_CLOSE, FEAT_UDP_CLOSE },
	{ "cg__", PL_UDP_PEERS, FEAT_UDP_PEERS },
	/* the walk still ends our own namespace's flows, the others' end by --udp-timeout */
	{ "cgr__", PL_UDP_RELEASE, FEAT_UDP_CLOSE },
	{ "tp__", PL_UDP, FEAT_UDP },
	{ "fe", PL_UDP, FEAT_UDP }, /* fe__, fe4__, fe6__ */
	{ "kp__", PL_UDP, FEAT_UDP },
};

static const struct refusal *refusal_for(const struct plan *pl, const char *name)
{
	unsigned on = plan_bits(pl);

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];

		if ((!strcmp(r->name, "fe") ? !strncmp(name, "fe", 2)
					    : name_matches(r->name, name)) &&
		    (on & r->off))
			return r;
	}
	return NULL;
}

struct round {
	char prog[64]; /* refused program, "" if the round succeeded */
	char why[300];
};

static struct bpf_link *attach_iter(struct bpf_program *prog, struct bpf_map *map)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, o);
	union bpf_iter_link_info li = { 0 };

	if (map) {
		li.map.map_fd = bpf_map__fd(map);
		o.link_info = &li;
		o.link_info_len = sizeof(li);
	}
	return bpf_program__attach_iter(prog, map ? &o : NULL);
}

static void refused(struct round *r, const char *prog, const char *what, int err)
{
	snprintf(r->prog, sizeof(r->prog), "%s", prog);
	snprintf(r->why, sizeof(r->why), "%s: %s", what, strerror(err));
}

static enum poll_mech plan_poll(const struct plan *pl)
{
	if (!(pl->on & PL_TCP))
		return POLL_NONE;
	return pl->on & PL_POLL_RUN ? POLL_RUN : pl->on & PL_POLL_ITER ? POLL_ITER : POLL_NONE;
}

/* Attaches one program that is not an iterator; NULL with errno. */
static struct bpf_link *attach_one(struct collector *c, struct bpf_program *p, int *cgfd)
{
	const char *n = bpf_program__name(p);
	struct bpf_link *l;
	int e;

	if (!strncmp(n, "cg__", 4) || !strncmp(n, "cgr__", 5)) {
		if (*cgfd < 0)
			*cgfd = open_cgroup2();
		if (*cgfd < 0)
			return NULL;
		return bpf_program__attach_cgroup(p, *cgfd);
	}
	if (!strncmp(n, "kp__", 4)) {
		l = kprobe_attach(c, p, &e);
		if (l)
			return l;
		c->kprobe_uncounted++; /* the PMU's: its misses are not told */
	}
	return bpf_program__attach(p);
}

/* Open, configure, load and attach by the plan; on a refusal, say which program and why. */
static void try_plan(struct collector *c, const struct plan *pl, const struct probe_opts *o,
		     struct round *r)
{
	struct tcptop_bpf *s;
	struct bpf_program *p;
	int cgfd = -1, e;
	bool tiers;

	memset(r, 0, sizeof(*r));
	s = c->skel = tcptop_bpf__open();
	if (!s) {
		refused(r, "(object)", "cannot open the BPF object", errno);
		return;
	}
	s->rodata->want_tcp = !!(pl->on & PL_TCP);
	s->rodata->want_udp = pl->udp != BK_AUTO;
	s->rodata->use_sk_storage = !!(pl->on & PL_STORAGE);
	s->rodata->activation = (pl->on & (PL_TCP | PL_ACTIVE)) == (PL_TCP | PL_ACTIVE);
	s->rodata->quiet_ns = o->quiet_ns;
	s->rodata->udp_by_tp = pl->udp == BK_TP;
	s->rodata->own_netns = o->own_netns;
	s->rodata->wake_bytes = o->ringbuf_bytes / 4;
	s->rodata->kp_recv_noblock = pl->recv_args == 6;
	s->rodata->want_figs = !!(pl->on & PL_FIGS);
	bpf_map__set_max_entries(s->maps.udp_flows, o->max_flows);
	/* the polled connections: rf__polled walks two maps, each only while it holds any
	 * entry (a walk visits every bucket, empty or not), a small one first and one as big as
	 * the UDP table; it copies what it refreshed into polled_out, read without a walk. The
	 * map iterator (it__polled) and the map read (POLL_NONE) take one map. */
	tiers = plan_poll(pl) == POLL_RUN;
	s->rodata->polled_tiers = tiers;
	bpf_map__set_max_entries(s->maps.polled, tiers ? POLLED_FEW : o->max_flows);
	bpf_map__set_max_entries(s->maps.polled_more, tiers ? o->max_flows : 1);
	bpf_map__set_max_entries(s->maps.polled_out,
				 tiers ? POLLED_FEW + o->max_flows + o->max_flows / 8 : 1);
	bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
	if (pl->udp != BK_KPROBE)
		bpf_map__set_max_entries(s->maps.kp_args, 1);
	if (pl->udp != BK_TP || !(pl->on & PL_UDP_PEERS))
		bpf_map__set_max_entries(s->maps.udp_peer, 1);
	bpf_object__for_each_program(p, s->obj)
	{
		bpf_program__set_autoload(p, prog_wanted(pl, bpf_program__name(p)));
	}
	libbpf_said.prog[0] = libbpf_said.why[0] = 0;
	e = tcptop_bpf__load(s);
	if (e) {
		snprintf(r->prog, sizeof(r->prog), "%s",
			 libbpf_said.prog[0] ? libbpf_said.prog : "(object)");
		snprintf(r->why, sizeof(r->why), "%s",
			 libbpf_said.why[0] ? libbpf_said.why : strerror(-e));
		return;
	}
	bpf_object__for_each_program(p, s->obj)
	{
		const char *n = bpf_program__name(p);
		struct bpf_link *l;

		if (!bpf_program__autoload(p) || !strncmp(n, "it__", 4) || !strncmp(n, "rf__", 4) ||
		    !strncmp(n, "ck__", 4))
			continue; /* iterators, and programs run by BPF_PROG_TEST_RUN */
		if (c->nlinks == PROBE_MAX_LINKS) {
			refused(r, n, "too many programs", E2BIG);
			break;
		}
		l = attach_one(c, p, &cgfd);
		if (!l) {
			refused(r, n,
				!strncmp(n, "cg", 2) && cgfd < 0 ? "no cgroup v2 hierarchy"
								 : "cannot attach",
				errno);
			break;
		}
		c->links[c->nlinks++] = l;
	}
	if (cgfd >= 0)
		close(cgfd);
	if (r->prog[0])
		return;
	/* iterators: a link now, an fd from it each time one runs */
	if ((pl->on & PL_TCP) && !(c->it_tcp = attach_iter(s->progs.it__tcp, NULL))) {
		refused(r, "it__tcp", "cannot create the iterator", errno);
		return;
	}
	if (pl->udp && (pl->on & PL_UDP_CLOSE) &&
	    !(c->it_udp = attach_iter(s->progs.it__udp, NULL))) {
		refused(r, "it__udp", "cannot create the iterator", errno);
		return;
	}
	c->poll = plan_poll(pl);
	if (c->poll == POLL_ITER &&
	    !(c->it_polled = attach_iter(s->progs.it__polled, s->maps.polled))) {
		refused(r, "it__polled", "cannot create the iterator", errno);
		return;
	}
	if (c->poll == POLL_RUN) {
		struct kern k;

		probe_kern(c, &k);
		if ((e = kern_refresh(&k))) {
			refused(r, "rf__polled", "cannot run it", e);
			return;
		}
	}
	if ((pl->on & PL_OWNERS) && !(c->it_owners = attach_iter(s->progs.it__owners, NULL))) {
		refused(r, "it__owners", "cannot create the iterator", errno);
		return;
	}
}

static void undo(struct collector *c)
{
	for (int i = 0; i < c->nlinks; i++)
		bpf_link__destroy(c->links[i]);
	c->nlinks = 0;
	bpf_link__destroy(c->it_tcp);
	bpf_link__destroy(c->it_udp);
	bpf_link__destroy(c->it_polled);
	bpf_link__destroy(c->it_owners);
	c->it_tcp = c->it_udp = c->it_polled = c->it_owners = NULL;
	tcptop_bpf__destroy(c->skel);
	c->skel = NULL;
	c->kprobe_events = c->kprobe_uncounted = 0;
	if (c->kprobe_profile >= 0)
		close(c->kprobe_profile);
	c->kprobe_profile = -1;
}

/* ---- the kernel's HZ: the unit of the TCP clocks (tcp_sock.chrono_stat, in jiffies) ---- */

/* CONFIG_HZ from the running kernel's configuration: /boot/config-RELEASE, else
 * /proc/config.gz (zlib reads either); 0 where neither is there or says it. */
static unsigned hz_from_config(char *from, size_t size)
{
	const char *paths[2] = { NULL, "/proc/config.gz" };
	char boot[PATH_MAX], line[256];
	struct utsname u;
	unsigned hz = 0;

	if (!uname(&u)) {
		snprintf(boot, sizeof(boot), "/boot/config-%s", u.release);
		paths[0] = boot;
	}
	for (size_t i = 0; i < 2 && !hz; i++) {
		gzFile f = paths[i] ? gzopen(paths[i], "r") : NULL;

		if (!f)
			continue;
		while (!hz && gzgets(f, line, sizeof(line)))
			if (!strncmp(line, "CONFIG_HZ=", 10))
				hz = (unsigned)strtoul(line + 10, NULL, 10);
		gzclose(f);
		if (hz)
			snprintf(from, size, "%s", paths[i]);
	}
	return hz;
}

static int clock_read(struct collector *c, uint64_t *jiffies, uint64_t *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);

	if (bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.ck__jiffies), &t))
		return errno ? errno : EIO;
	*jiffies = c->skel->bss->clock_jiffies;
	*ns = c->skel->bss->clock_ns;
	return 0;
}

/* The first reading after jiffies moved past j (a reading right after a tick): spins, a tick at
 * most (10 ms at HZ 100), giving up after 100 ms. 0 or an errno. */
static int clock_edge(struct collector *c, uint64_t j, uint64_t *jiffies, uint64_t *ns)
{
	uint64_t start = 0;
	int e;

	do {
		if ((e = clock_read(c, jiffies, ns)))
			return e;
		if (!start)
			start = *ns;
		if (*ns - start > 100000000ULL)
			return ETIMEDOUT;
	} while (*jiffies == j);
	return 0;
}

/* HZ measured: jiffies against the monotonic clock between two ticks HZ_SPAN_NS apart, each
 * read just after it happened, so that neither end is off by the jiffy it waited for (an
 * emulated machine's ticks come late by milliseconds: the 0.2 s keep that within 3%). Rounded
 * to the values x86-64 and arm64 allow when within 8% of one (250 and 300 are 18% apart); tried
 * three times. 0 when it cannot be run or fits none. */
#define HZ_SPAN_NS 200000000ULL
static unsigned hz_measure(struct collector *c, char *why, size_t size)
{
	static const unsigned allowed[] = { 100, 250, 300, 1000 };
	uint64_t j0, t0, j1, t1;
	double hz = 0;
	int e = 0;

	for (int round = 0; round < 3; round++) {
		struct timespec ts = { 0, (long)HZ_SPAN_NS };

		if ((e = clock_read(c, &j0, &t0)) || (e = clock_edge(c, j0, &j0, &t0)))
			break;
		nanosleep(&ts, NULL);
		if ((e = clock_read(c, &j1, &t1)) || (e = clock_edge(c, j1, &j1, &t1)))
			break;
		if (t1 <= t0)
			continue;
		hz = (double)(j1 - j0) * 1e9 / (double)(t1 - t0);
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			if (hz > allowed[i] * 0.92 && hz < allowed[i] * 1.08)
				return allowed[i];
	}
	if (e)
		snprintf(why, size, "ck__jiffies cannot run: %s", strerror(e));
	else
		snprintf(why, size,
			 "%.1f jiffies a second measured, which is no HZ the kernel allows", hz);
	return 0;
}

/* The unit of the clocks: the kernel's configuration, else measured; 0 when neither works
 * (the clocks and LIMIT are then missing: tcp-limits). */
static void find_hz(struct collector *c, bool clock, bool verbose)
{
	char from[PATH_MAX] = "", why[200] = "ck__jiffies refused";

	c->hz = hz_from_config(from, sizeof(from));
	if (c->hz) {
		if (verbose)
			warnx("HZ %u (%s)", c->hz, from);
		return;
	}
	if (clock)
		c->hz = hz_measure(c, why, sizeof(why));
	if (c->hz) {
		if (verbose)
			warnx("HZ %u (measured: no kernel configuration to read)", c->hz);
		return;
	}
	features_add(c->missing, sizeof(c->missing), FEAT_TCP_LIMITS);
	warnx("%s left out: the kernel's HZ is unknown: no configuration (/boot/config-R, "
	      "/proc/config.gz) and %s",
	      features[FEAT_TCP_LIMITS].word, why);
}

static bool missing_has(const struct collector *c, enum feature f)
{
	struct stream_header h;

	snprintf(h.missing, sizeof(h.missing), "%s", c->missing);
	return features_missing(&h, NULL, 0) & (1u << f);
}

static void add_missing(struct collector *c, enum feature f, const char *prog, const char *why)
{
	features_add(c->missing, sizeof(c->missing), f);
	warnx("%s left out: the kernel refused %s: %s", features[f].word, prog, why);
}

/* The plan at start: everything this kernel seems to have; UDP backends in the order auto
 * tries them (or the one forced). -1 with err filled when a forced backend is unavailable. */
static int plan_init(struct plan *pl, enum backend order[BK_N], int *norder,
		     const struct probe_opts *o, const struct btf *vmlinux, char *err, size_t errsz)
{
	char why[300] = "";

	*norder = 0;
	if (o->want_udp) {
		for (enum backend b = BK_TP; b < BK_N; b++) {
			if (o->backend != BK_AUTO && b != o->backend)
				continue;
			if (backend_available(b, vmlinux, why, sizeof(why))) {
				order[(*norder)++] = b;
			} else if (o->backend != BK_AUTO) {
				snprintf(err, errsz, "backend %s unavailable: %s", backend_name(b),
					 why);
				return -1;
			} else if (o->verbose) {
				warnx("backend %s not used: %s", backend_name(b), why);
			}
		}
	}
	memset(pl, 0, sizeof(*pl));
	pl->recv_args = func_args(vmlinux, "udp_recvmsg");
	pl->on = PL_STORAGE | PL_POLL_RUN | PL_OWNERS | PL_UDP_CLOSE | PL_UDP_PEERS |
		 PL_UDP_RELEASE | PL_FIGS | PL_CLOCK;
	if (o->want_tcp)
		pl->on |= PL_TCP;
	if (backend_available(BK_TP, vmlinux, why, sizeof(why)))
		pl->on |= PL_ACTIVE;
	else if (o->verbose)
		warnx("no activation: %s: every connection is read each period", why);
	pl->map_iter = iter_loads(vmlinux, "bpf_map_elem");
	if (pl->map_iter)
		pl->on |= PL_POLL_ITER;
	if (tracefs_has("syscalls/sys_exit_accept4") && tracefs_has("syscalls/sys_exit_accept"))
		pl->on |= PL_ACCEPT;
	else if (o->verbose)
		warnx("no accept tracepoints: owners of accepted connections come from their "
		      "close and from walking the processes' sockets");
	pl->udp = *norder ? order[0] : BK_AUTO;
	return 0;
}

/* A refused program: the plan gives up what it served (0), or it is fatal (-1, err filled). */
static int give_up(struct collector *c, struct plan *pl, const struct round *r,
		   const enum backend order[BK_N], int norder, int *at, const struct probe_opts *o,
		   char *err, size_t errsz)
{
	const struct refusal *f = refusal_for(pl, r->prog);

	if (o->verbose)
		warnx("refused %s: %s", r->prog, r->why);
	if (!f) {
		snprintf(err, errsz, "cannot load the BPF programs: %s%s%s",
			 strcmp(r->prog, "(object)") ? r->prog : "",
			 strcmp(r->prog, "(object)") ? ": " : "", r->why);
		return -1;
	}
	if (f->off == PL_UDP) {
		/* this backend does not work here: the next one */
		if (o->backend != BK_AUTO) {
			snprintf(err, errsz, "backend %s unavailable: the kernel refused %s: %s",
				 backend_name(pl->udp), r->prog, r->why);
			return -1;
		}
		if (o->verbose)
			warnx("backend %s not used: %s: %s", backend_name(pl->udp), r->prog,
			      r->why);
		pl->udp = ++*at < norder ? order[*at] : BK_AUTO;
		if (pl->udp == BK_AUTO)
			add_missing(c, FEAT_UDP, r->prog, r->why);
	} else {
		pl->on &= ~f->off;
		if (f->feature >= 0)
			add_missing(c, f->feature, r->prog, r->why);
		else if (o->verbose)
			warnx("%s", f->instead);
	}
	/* the polled map refreshed by neither: other namespaces' counters move no more, and
	 * no activation without it */
	if ((pl->on & PL_TCP) && !(pl->on & (PL_POLL_RUN | PL_POLL_ITER)) &&
	    !missing_has(c, FEAT_NETNS)) {
		pl->on &= ~PL_ACTIVE;
		add_missing(c, FEAT_NETNS, r->prog, r->why);
	}
	if (!(pl->on & PL_TCP) && pl->udp == BK_AUTO) {
		snprintf(err, errsz,
			 "no byte accounting possible on this kernel (%s): tcptop needs Linux 5.10 "
			 "or later with BTF and BPF iterators",
			 r->why);
		return -1;
	}
	return 0;
}

/* "tcp=iter+active udp=tracepoint+cgroup netns=run", for the header and -v. */
static void describe(struct collector *c)
{
	size_t off;

	off = snprintf(c->backend, sizeof(c->backend), "tcp=%s",
		       !c->tcp	       ? "none"
		       : c->active     ? "iter+active"
		       : c->sk_storage ? "iter+storage"
				       : "iter");
	off += snprintf(c->backend + off, sizeof(c->backend) - off, " udp=%s",
			c->udp ? backend_name(c->udp) : "none");
	if (c->udp_peers)
		off += snprintf(c->backend + off, sizeof(c->backend) - off, "+cgroup");
	if (c->tcp)
		snprintf(c->backend + off, sizeof(c->backend) - off, " netns=%s",
			 c->poll == POLL_RUN	? "run"
			 : c->poll == POLL_ITER ? "iter"
						: "none");
}

int probe_setup(struct collector *c, const struct probe_opts *o, char *err, size_t errsz)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	enum backend order[BK_N];
	struct plan pl;
	int norder = 0, at = 0, e;

	memset(c, 0, sizeof(*c));
	c->kprobe_profile = -1;
	libbpf_said.verbose = o->verbose;
	libbpf_set_print(on_libbpf);
	if (!vmlinux) {
		snprintf(err, errsz,
			 "cannot read the kernel's BTF (%s): a kernel built with "
			 "CONFIG_DEBUG_INFO_BTF is needed",
			 BTF_VMLINUX);
		return -1;
	}
	e = plan_init(&pl, order, &norder, o, vmlinux, err, errsz);
	btf__free(vmlinux);
	if (e)
		return -1;
	for (int rounds = 0; rounds < 16; rounds++) {
		struct round r;

		try_plan(c, &pl, o, &r);
		if (!r.prog[0])
			break;
		undo(c);
		if (give_up(c, &pl, &r, order, norder, &at, o, err, errsz))
			return -1;
	}
	if (!c->skel) {
		snprintf(err, errsz, "cannot load the BPF programs");
		return -1;
	}
	c->udp = pl.udp;
	c->tcp = pl.on & PL_TCP;
	c->sk_storage = pl.on & PL_STORAGE;
	c->owners = pl.on & PL_OWNERS;
	c->accept = pl.on & PL_ACCEPT;
	c->active = c->tcp && (pl.on & PL_ACTIVE);
	c->udp_peers = pl.udp == BK_TP && (pl.on & PL_UDP_PEERS);
	c->udp_close = pl.udp && (pl.on & PL_UDP_CLOSE) && (pl.on & PL_UDP_RELEASE);
	c->figs = c->tcp && (pl.on & PL_FIGS);
	if (c->figs)
		find_hz(c, pl.on & PL_CLOCK, o->verbose);
	describe(c);
	if (c->kprobe_events && kprobe_profile_missed(c, &c->kprobe_base))
		c->kprobe_base = 0;
	if (c->kprobe_uncounted)
		warnx("%d kprobes attached without tracefs' kprobe_events: their misses are not "
		      "counted (kprobe_missed)",
		      c->kprobe_uncounted);
	return 0;
}

void probe_kern(struct collector *c, struct kern *k)
{
	struct tcptop_bpf *s = c->skel;

	memset(k, 0, sizeof(*k));
	k->polled = bpf_map__fd(s->maps.polled);
	k->polled_out = bpf_map__fd(s->maps.polled_out);
	k->udp_flows = bpf_map__fd(s->maps.udp_flows);
	k->owners = bpf_map__fd(s->maps.owners);
	k->loss = bpf_map__fd(s->maps.loss);
	k->it_tcp = c->it_tcp ? bpf_link__fd(c->it_tcp) : -1;
	k->it_udp = c->it_udp ? bpf_link__fd(c->it_udp) : -1;
	k->it_polled = c->it_polled ? bpf_link__fd(c->it_polled) : -1;
	k->it_owners = c->it_owners ? bpf_link__fd(c->it_owners) : -1;
	k->rf_polled = bpf_program__fd(s->progs.rf__polled);
	k->poll = c->poll;
	k->tcp = c->tcp;
	k->udp = c->udp != BK_AUTO;
	k->sk_storage = c->sk_storage;
	k->active = c->active;
	k->accept = c->accept;
	k->udp_peers = c->udp_peers;
	k->full_pass = &s->data->full_pass;
	k->unmarkable = &s->bss->unmarkable;
	k->walk_owners = &s->data->walk_owners;
	k->npolled = &s->bss->npolled;
	k->npolled_more = &s->bss->npolled_more;
	k->udp_touch = (volatile uint64_t *)&s->bss->udp_touch[0].ts;
	k->udp_touch_n = sizeof(s->bss->udp_touch) / sizeof(s->bss->udp_touch[0]);
	k->udp_touch_stride = sizeof(s->bss->udp_touch[0]) / sizeof(s->bss->udp_touch[0].ts);
	k->polled_read = &s->bss->polled_read;
	k->udp_nflows = &s->bss->udp_nflows;
	k->owners_added = (volatile uint64_t *)&s->bss->owners_added;
	k->owners_removed = (volatile uint64_t *)&s->bss->owners_removed;
	if (c->udp == BK_KPROBE) {
		k->kprobe_missed = kprobe_missed;
		k->kprobe_ctx = c;
	}
}

int probe_events_fd(const struct collector *c)
{
	return bpf_map__fd(c->skel->maps.events);
}

void probe_destroy(struct collector *c)
{
	undo(c);
}
