// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Feature by feature, what this kernel takes. One object holds every program; a plan says
 * which to load. The whole object is loaded and attached; when the kernel refuses a program,
 * libbpf names it, the plan drops the feature it serves (or moves UDP to the next backend),
 * and the object is opened and loaded again. A handful of rounds at most, each a fraction of
 * a second. The features and what each needs are in tcptop-collect(1), FEATURES.
 */
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
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "probe.h"
#include "tcptop.skel.h"

#define KPROBE_PMU  "/sys/bus/event_source/devices/kprobe"
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

static bool verbose_on;
static char failed_prog[64]; /* the program the kernel refused */
static char failed_why[256]; /* the verifier's last word on it */

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
			snprintf(failed_why, sizeof(failed_why), "%.*s", (int)(e - start), start);
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
			snprintf(failed_prog, sizeof(failed_prog), "%s", name);
			if (!failed_why[0])
				snprintf(failed_why, sizeof(failed_why), "%s", strerror(-err));
		} else if (strstr(msg, "-- BEGIN PROG LOAD LOG --")) {
			failed_why[0] = 0;
			keep_last_line(msg);
		}
	}
	if (verbose_on && level != LIBBPF_DEBUG)
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
	char line[4096], dir[] = "/tmp/tcptop-cg2.XXXXXX";
	FILE *m = fopen("/proc/self/mounts", "re");
	int fd = -1;

	while (m && fgets(line, sizeof(line), m)) {
		char src[1024], mnt[1024], type[64];

		if (sscanf(line, "%1023s %1023s %63s", src, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0)
				break;
		}
	}
	if (m)
		fclose(m);
	if (fd >= 0)
		return fd;
	if (!mkdtemp(dir))
		return -1;
	if (mount("cgroup2", dir, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		umount2(dir, MNT_DETACH);
	}
	rmdir(dir);
	return fd;
}

/* kretprobes made in tracefs, where their maxactive can be raised: the perf kprobe PMU that
 * libbpf uses keeps the kernel's default, max(10, 2 x CPUs) calls in flight, and every thread
 * blocked in recv() holds one (measured on 6.1: 10 of 40 blocked readers counted). The events
 * are named tcptop_FUNCTION and reused by the next run (after the privilege drop they cannot
 * be removed): at most one is left per function. */
#define KRETPROBE_MAXACTIVE 1024
static const char *const tracefs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static struct bpf_link *kretprobe_attach(struct bpf_program *p, int *err)
{
	const char *fn = strchr(bpf_program__section_name(p), '/');
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT,
					.size = sizeof(attr),
					.sample_period = 1,
					.wakeup_events = 1 };
	char path[PATH_MAX], line[256];
	const char *dir = NULL;
	unsigned long long id;
	struct bpf_link *l;
	int fd = -1, pfd;
	FILE *f;

	*err = EINVAL;
	if (!fn)
		return NULL;
	fn++;
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
	snprintf(line, sizeof(line), "-:kprobes/tcptop_%s\n", fn);
	(void)!write(fd, line, strlen(line));
	snprintf(line, sizeof(line), "r%d:kprobes/tcptop_%s %s\n", KRETPROBE_MAXACTIVE, fn, fn);
	if (write(fd, line, strlen(line)) < 0 && errno != EEXIST) {
		*err = errno;
		close(fd);
		return NULL;
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/events/kprobes/tcptop_%s/id", dir, fn);
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
	}
	return l;
}

uint64_t probe_kprobe_missed(const struct collector *c)
{
	char path[PATH_MAX], line[512], name[256];
	unsigned long long hits, missed, sum = 0;
	FILE *f = NULL;

	if (!c->kprobe_events)
		return 0;
	for (size_t i = 0; i < sizeof(tracefs) / sizeof(tracefs[0]) && !f; i++) {
		snprintf(path, sizeof(path), "%s/kprobe_profile", tracefs[i]);
		f = fopen(path, "re");
	}
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %llu %llu", name, &hits, &missed) == 3 &&
		    !strncmp(name, "tcptop_", 7))
			sum += missed;
	if (f)
		fclose(f);
	return sum;
}

/* ---- the plan ---- */

struct plan {
	enum backend udp;
	bool tcp, sk_storage, owners, accept, udp_peers, udp_close;
	bool active;	     /* activation: the send/recv tracepoints (6.3+) and socket storage */
	enum poll_mech poll; /* how the polled map is refreshed */
	bool map_iter;	     /* the kernel takes map-element iterators */
	int recv_args;	     /* udp_recvmsg's arguments: 6 before 5.19, 5, 4 in 7.x */
};

/* Which program serves what, by name. */
static bool prog_wanted(const struct plan *pl, const char *n)
{
	if (!strcmp(n, "st__state") || !strcmp(n, "it__tcp"))
		return pl->tcp;
	if (!strcmp(n, "st__activate"))
		return pl->tcp && pl->active;
	if (!strcmp(n, "it__owners"))
		return pl->owners;
	if (!strncmp(n, "sc__accept", 10))
		return pl->accept;
	if (!strcmp(n, "rf__polled"))
		return pl->tcp && pl->poll == POLL_RUN;
	if (!strcmp(n, "it__polled"))
		return pl->tcp && pl->poll == POLL_ITER;
	if (!strcmp(n, "it__udp"))
		return pl->udp && pl->udp_close;
	/* one pair on the send/recv tracepoints: activating TCP sockets, or the plain one
	 * (UDP only) */
	if (!strncmp(n, "tp__", 4) && strstr(n, "_act"))
		return pl->tcp && pl->active;
	if (!strncmp(n, "tp__", 4))
		return pl->udp == BK_TP && !(pl->tcp && pl->active);
	if (!strncmp(n, "cg__", 4))
		return pl->udp == BK_TP && pl->udp_peers;
	if (!strncmp(n, "fe6__", 5))
		return pl->udp == BK_FENTRY && pl->recv_args == 6;
	if (!strncmp(n, "fe4__", 5))
		return pl->udp == BK_FENTRY && pl->recv_args == 4;
	if (!strncmp(n, "fe__", 4))
		return pl->udp == BK_FENTRY &&
		       (!strstr(n, "recvmsg") || (pl->recv_args != 6 && pl->recv_args != 4));
	if (!strncmp(n, "kp__", 4))
		return pl->udp == BK_KPROBE;
	return false;
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

/* Open, configure, load and attach by the plan; on a refusal, say which program and why. */
static void try_plan(struct collector *c, const struct plan *pl, const struct probe_opts *o,
		     struct round *r)
{
	struct tcptop_bpf *s;
	struct bpf_program *p;
	int cgfd = -1, e;

	memset(r, 0, sizeof(*r));
	s = c->skel = tcptop_bpf__open();
	if (!s) {
		refused(r, "(object)", "cannot open the BPF object", errno);
		return;
	}
	s->rodata->want_tcp = pl->tcp;
	s->rodata->want_udp = pl->udp != BK_AUTO;
	s->rodata->use_sk_storage = pl->sk_storage;
	s->rodata->activation = pl->tcp && pl->active;
	s->rodata->quiet_ns = o->quiet_ns;
	s->rodata->udp_by_tp = pl->udp == BK_TP;
	s->rodata->own_netns = o->own_netns;
	s->rodata->wake_bytes = o->ringbuf_bytes / 4;
	s->rodata->kp_recv_noblock = pl->recv_args == 6;
	bpf_map__set_max_entries(s->maps.udp_flows, o->max_flows);
	/* its buckets are walked each period, empty or not: sized like the UDP table */
	bpf_map__set_max_entries(s->maps.polled, o->max_flows);
	bpf_map__set_max_entries(s->maps.events, o->ringbuf_bytes);
	if (pl->udp != BK_KPROBE)
		bpf_map__set_max_entries(s->maps.kp_args, 1);
	bpf_object__for_each_program(p, s->obj)
	{
		bpf_program__set_autoload(p, prog_wanted(pl, bpf_program__name(p)));
	}
	failed_prog[0] = failed_why[0] = 0;
	e = tcptop_bpf__load(s);
	if (e) {
		snprintf(r->prog, sizeof(r->prog), "%s", failed_prog[0] ? failed_prog : "(object)");
		snprintf(r->why, sizeof(r->why), "%s", failed_why[0] ? failed_why : strerror(-e));
		return;
	}
	bpf_object__for_each_program(p, s->obj)
	{
		const char *n = bpf_program__name(p);
		struct bpf_link *l = NULL;

		if (!bpf_program__autoload(p) || !strncmp(n, "it__", 4) || !strncmp(n, "rf__", 4))
			continue;
		if (c->nlinks == PROBE_MAX_LINKS) {
			refused(r, n, "too many programs", E2BIG);
			return;
		}
		if (!strncmp(n, "cg__", 4)) {
			if (cgfd < 0)
				cgfd = open_cgroup2();
			if (cgfd < 0) {
				refused(r, n, "no cgroup v2 hierarchy", errno);
				return;
			}
			l = bpf_program__attach_cgroup(p, cgfd);
		} else if (!strncmp(n, "kp__", 4) && strstr(n, "_ret")) {
			l = kretprobe_attach(p, &e);
			if (l)
				c->kprobe_events++;
			else
				l = bpf_program__attach(p); /* the default maxactive */
		} else {
			l = bpf_program__attach(p);
		}
		if (!l) {
			e = errno;
			if (cgfd >= 0)
				close(cgfd);
			refused(r, n, "cannot attach", e);
			return;
		}
		c->links[c->nlinks++] = l;
	}
	if (cgfd >= 0)
		close(cgfd);
	/* iterators: a link now, an fd from it each time one runs */
	if (pl->tcp && !(c->it_tcp = attach_iter(s->progs.it__tcp, NULL))) {
		refused(r, "it__tcp", "cannot create the iterator", errno);
		return;
	}
	if (pl->udp && pl->udp_close && !(c->it_udp = attach_iter(s->progs.it__udp, NULL))) {
		refused(r, "it__udp", "cannot create the iterator", errno);
		return;
	}
	if (pl->tcp && pl->poll == POLL_ITER &&
	    !(c->it_polled = attach_iter(s->progs.it__polled, s->maps.polled))) {
		refused(r, "it__polled", "cannot create the iterator", errno);
		return;
	}
	c->poll = pl->tcp ? pl->poll : POLL_NONE;
	if (c->poll == POLL_RUN && probe_poll(c)) {
		refused(r, "rf__polled", "cannot run it", errno);
		return;
	}
	if (pl->owners && !(c->it_owners = attach_iter(s->progs.it__owners, NULL))) {
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
	c->kprobe_events = 0;
}

static void add_missing(struct collector *c, const char *feature, const char *prog, const char *why)
{
	size_t n = strlen(c->missing);

	if (!strstr(c->missing, feature))
		snprintf(c->missing + n, sizeof(c->missing) - n, "%s%s", n ? " " : "", feature);
	fprintf(stderr, "%s: %s left out: the kernel refused %s: %s\n",
		program_invocation_short_name, feature, prog, why);
}

int probe_setup(struct collector *c, const struct probe_opts *o, char *err, size_t errsz)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	enum backend order[BK_N];
	struct plan pl = { 0 };
	int norder = 0, at = 0;
	char why[300] = "";
	size_t off;

	memset(c, 0, sizeof(*c));
	verbose_on = o->verbose;
	libbpf_set_print(on_libbpf);
	if (!vmlinux) {
		snprintf(err, errsz,
			 "cannot read the kernel's BTF (%s): a kernel built with "
			 "CONFIG_DEBUG_INFO_BTF is needed",
			 BTF_VMLINUX);
		return -1;
	}
	/* UDP backends in the order auto tries them, or the one forced */
	if (o->want_udp) {
		for (enum backend b = BK_TP; b < BK_N; b++) {
			if (o->backend != BK_AUTO && b != o->backend)
				continue;
			if (backend_available(b, vmlinux, why, sizeof(why))) {
				order[norder++] = b;
			} else if (o->backend != BK_AUTO) {
				snprintf(err, errsz, "backend %s unavailable: %s", backend_name(b),
					 why);
				btf__free(vmlinux);
				return -1;
			} else if (o->verbose) {
				fprintf(stderr, "%s: backend %s not used: %s\n",
					program_invocation_short_name, backend_name(b), why);
			}
		}
	}
	pl.recv_args = func_args(vmlinux, "udp_recvmsg");
	pl.tcp = o->want_tcp;
	pl.sk_storage = true;
	pl.active = backend_available(BK_TP, vmlinux, why, sizeof(why));
	if (o->verbose && !pl.active)
		fprintf(stderr, "%s: no activation: %s: every connection is read each period\n",
			program_invocation_short_name, why);
	pl.poll = POLL_RUN;
	pl.map_iter = iter_loads(vmlinux, "bpf_map_elem");
	pl.owners = true;
	pl.accept =
		tracefs_has("syscalls/sys_exit_accept4") && tracefs_has("syscalls/sys_exit_accept");
	if (o->verbose && !pl.accept)
		fprintf(stderr,
			"%s: no accept tracepoints: owners of accepted connections come "
			"from their close and from walking the processes' sockets\n",
			program_invocation_short_name);
	pl.udp_peers = pl.udp_close = true;
	btf__free(vmlinux);
	pl.udp = norder ? order[0] : BK_AUTO;
	for (int rounds = 0; rounds < 16; rounds++) {
		struct round r;
		const char *p;

		try_plan(c, &pl, o, &r);
		if (!r.prog[0])
			break;
		p = r.prog;
		if (o->verbose)
			fprintf(stderr, "%s: refused %s: %s\n", program_invocation_short_name, p,
				r.why);
		undo(c);
		if (!strcmp(p, "it__tcp") && pl.active) {
			pl.active = false; /* a walk each period instead */
			if (o->verbose)
				fprintf(stderr, "%s: no activation: %s\n",
					program_invocation_short_name, r.why);
		} else if (!strcmp(p, "it__tcp") && pl.sk_storage) {
			pl.sk_storage = false; /* report every connection each period instead */
		} else if (!strcmp(p, "st__state") || !strcmp(p, "it__tcp") ||
			   !strcmp(p, "(object)")) {
			if (!pl.tcp || !strcmp(p, "(object)")) {
				snprintf(err, errsz, "cannot load the BPF programs: %s", r.why);
				return -1;
			}
			pl.tcp = false;
			add_missing(c, "tcp", p, r.why);
		} else if (!strcmp(p, "it__owners")) {
			pl.owners = false;
			add_missing(c, "owners", p, r.why);
		} else if (!strncmp(p, "sc__accept", 10)) {
			/* owners of accepted connections then come from their close, and from
			 * a walk of the processes' sockets when new ones appear */
			pl.accept = false;
			if (o->verbose)
				fprintf(stderr,
					"%s: no accept hook (%s): owners found by walking "
					"the processes' sockets\n",
					program_invocation_short_name, r.why);
		} else if (!strcmp(p, "rf__polled") || !strcmp(p, "it__polled")) {
			/* the polled map: by iterator where the kernel cannot run the program, else
			 * not refreshed, and no activation without it */
			pl.poll = !strcmp(p, "rf__polled") && pl.map_iter ? POLL_ITER : POLL_NONE;
			if (o->verbose)
				fprintf(stderr, "%s: refused %s: %s\n",
					program_invocation_short_name, p, r.why);
			if (pl.poll == POLL_NONE) {
				pl.active = false;
				add_missing(c, "netns", p, r.why);
			}
		} else if (!strcmp(p, "st__activate") ||
			   (!strncmp(p, "tp__", 4) && strstr(p, "_act"))) {
			pl.active = false; /* a walk each period */
			if (o->verbose)
				fprintf(stderr, "%s: no activation: %s: %s\n",
					program_invocation_short_name, p, r.why);
		} else if (!strcmp(p, "it__udp")) {
			pl.udp_close = false;
			add_missing(c, "udp-close", p, r.why);
		} else if (!strncmp(p, "cg__", 4)) {
			pl.udp_peers = false;
			add_missing(c, "udp-peers", p, r.why);
		} else if (!strncmp(p, "tp__", 4) || !strncmp(p, "fe", 2) ||
			   !strncmp(p, "kp__", 4)) {
			/* this backend does not work here: the next one */
			if (o->backend != BK_AUTO) {
				snprintf(err, errsz,
					 "backend %s unavailable: the kernel refused %s: %s",
					 backend_name(pl.udp), p, r.why);
				return -1;
			}
			if (o->verbose)
				fprintf(stderr, "%s: backend %s not used: %s: %s\n",
					program_invocation_short_name, backend_name(pl.udp), p,
					r.why);
			pl.udp = ++at < norder ? order[at] : BK_AUTO;
			if (pl.udp == BK_AUTO)
				add_missing(c, "udp", p, r.why);
		} else {
			snprintf(err, errsz, "cannot load the BPF programs: %s: %s", p, r.why);
			return -1;
		}
		if (!pl.tcp && !pl.udp) {
			snprintf(err, errsz,
				 "no byte accounting possible on this kernel (%s): tcptop needs "
				 "Linux 5.10 or later with BTF and BPF iterators",
				 r.why);
			return -1;
		}
	}
	if (!c->skel) {
		snprintf(err, errsz, "cannot load the BPF programs");
		return -1;
	}
	c->udp = pl.udp;
	c->tcp = pl.tcp;
	c->sk_storage = pl.sk_storage;
	c->owners = pl.owners;
	c->accept = pl.accept;
	c->active = pl.tcp && pl.active;
	c->udp_peers = pl.udp == BK_TP && pl.udp_peers;
	c->udp_close = pl.udp && pl.udp_close;
	off = snprintf(c->backend, sizeof(c->backend), "tcp=%s",
		       !pl.tcp	       ? "none"
		       : c->active     ? "iter+active"
		       : pl.sk_storage ? "iter+storage"
				       : "iter");
	off += snprintf(c->backend + off, sizeof(c->backend) - off, " udp=%s",
			pl.udp ? backend_name(pl.udp) : "none");
	if (c->udp_peers)
		off += snprintf(c->backend + off, sizeof(c->backend) - off, "+cgroup");
	if (pl.tcp)
		snprintf(c->backend + off, sizeof(c->backend) - off, " netns=%s",
			 c->poll == POLL_RUN	? "run"
			 : c->poll == POLL_ITER ? "iter"
						: "none");
	return 0;
}

int probe_poll(const struct collector *c)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);
	char buf[64];
	int fd;

	switch (c->poll) {
	case POLL_RUN:
		return bpf_prog_test_run_opts(bpf_program__fd(c->skel->progs.rf__polled), &t);
	case POLL_ITER:
		fd = bpf_iter_create(bpf_link__fd(c->it_polled));
		if (fd < 0)
			return -1;
		while (read(fd, buf, sizeof(buf)) > 0)
			; /* it writes nothing: the walk is the work */
		close(fd);
		return 0;
	default:
		return 0;
	}
}

void probe_destroy(struct collector *c)
{
	undo(c);
}
