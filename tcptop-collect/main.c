// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-collect: loads tcptop's BPF programs, announces the connections that already exist,
 * then writes every new connection, state change and close as it happens and, once per sample
 * period, the cumulative counters of each connection that changed, a LOSS and a TICK record.
 * Privilege is dropped right after attach; from then on it works from open fds and mmaps.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "flows.h"
#include "stream.h"
#include "tcptop.h"
#include "tcptop.skel.h"
#include "util.h"

#define EX_USAGE       64
#define EX_CANTCREAT   73
#define EX_IOERR       74
#define EX_UNAVAILABLE 69
#define EX_NOPERM      77

#define NSEC		1000000000ULL
#define DEF_MAX_FLOWS	65536
#define DEF_UDP_TIMEOUT (30 * NSEC)
#define RINGBUF_BYTES	(8u << 20)
#define KPROBE_PMU	"/sys/bus/event_source/devices/kprobe"
#define BTF_VMLINUX	"/sys/kernel/btf/vmlinux"

static const char usage_synopsis[] =
	"usage: tcptop-collect [-v] [-o FILE] [--interval SECS] [--duration SECS]\n"
	"                      [--udp-timeout SECS] [--max-flows N] [--pid PID] [--port PORT]\n"
	"                      [--tcp] [--udp] [--backend auto|tracepoint|fentry|kprobe]\n";

static const char help_text[] =
	"Writes a raw tcptop stream of every TCP and UDP connection on the host.\n"
	"\n"
	"  -o, --output FILE      write the stream to FILE (default: standard output, '-')\n"
	"      --interval SECS    sample period, fractions allowed (default 1; 0.01 to 3600)\n"
	"      --duration SECS    stop after SECS (default: run until SIGINT or SIGTERM)\n"
	"      --udp-timeout SECS a UDP flow ends after SECS without a datagram (default 30)\n"
	"      --max-flows N      size of the kernel's UDP flow table (default 65536)\n"
	"      --pid PID          only connections owned by process PID (default: all)\n"
	"      --port PORT        only connections with PORT at either end (default 0: all)\n"
	"      --tcp              only TCP (default: TCP and UDP)\n"
	"      --udp              only UDP (default: TCP and UDP)\n"
	"      --backend NAME     hooks for send and receive: auto, tracepoint (tp_btf),\n"
	"                         fentry or kprobe (default auto: the first that works)\n"
	"  -v, --verbose          report on stderr the hook chosen for each probe and the\n"
	"                         privilege drop\n"
	"  -h, --help             this help\n"
	"      --version          print the version\n"
	"\n"
	"Needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN; drops to the invoking user\n"
	"(SUDO_UID/SUDO_GID, else nobody) after attaching. Refuses to write to a terminal.\n"
	"Exit: 0 done (also after SIGINT/SIGTERM or a closed pipe), 64 usage, 69 kernel lacks\n"
	"a needed feature, 73 cannot create FILE, 74 I/O error, 77 insufficient privilege.\n";

enum backend {
	BK_AUTO,
	BK_TP,
	BK_FENTRY,
	BK_KPROBE,
	BK_N
};
static const char *const backend_prefix[BK_N] = { "", "tp__", "fe__", "kp__" };
static const char *const backend_name[BK_N] = { "auto", "tp_btf", "fentry", "kprobe" };

static struct {
	const char *output;
	uint64_t interval_ns, duration_ns, udp_timeout_ns;
	uint64_t max_flows, pid, port;
	bool tcp_only, udp_only, verbose;
	enum backend backend;
} opt = {
	.output = "-",
	.interval_ns = NSEC,
	.udp_timeout_ns = DEF_UDP_TIMEOUT,
	.max_flows = DEF_MAX_FLOWS,
};

static volatile sig_atomic_t stop_signal;

static struct tcptop_bpf *skel;
static struct stream_writer *wr;
static struct flow_table flows;
static uint32_t own_netns;
static uint64_t last_tick;

/* (netns, ifindex) pairs whose IFNAME record was written */
static struct ifseen {
	uint32_t netns, ifindex;
} * ifseen;
static size_t nifseen;

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

static void on_signal(int sig)
{
	stop_signal = sig;
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

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !opt.verbose))
		return 0;
	if (!opt.verbose)
		return 0; /* our own messages say what failed */
	fprintf(stderr, "%s: ", program_invocation_short_name);
	return vfprintf(stderr, fmt, ap);
}

/* ---- writing ---- */

static void put(const struct rec *r)
{
	int e = stream_write(wr, r);

	if (e == -EPIPE)
		exit(0); /* downstream went away: quietly; the kernel detaches our links */
	if (e < 0)
		errx(EX_IOERR, "write: %s", strerror(-e));
}

static void flush_out(void)
{
	int e = stream_flush(wr);

	if (e == -EPIPE)
		exit(0);
	if (e < 0)
		errx(EX_IOERR, "write: %s", strerror(-e));
}

static void counters_from(struct conn_counters *c, const struct tt_event *e)
{
	c->bytes_in = e->bytes_in;
	c->bytes_out = e->bytes_out;
	c->pkts_in = e->pkts_in;
	c->pkts_out = e->pkts_out;
	c->srtt_us = e->srtt_us;
	c->retrans = e->retrans;
}

static void put_ifname(uint32_t netns, uint32_t ifindex, const char *bpf_name)
{
	char name[IF_NAMESIZE] = "";
	struct rec r = { .type = REC_IFNAME };
	struct ifseen *n;

	if (!ifindex)
		return;
	for (size_t i = 0; i < nifseen; i++)
		if (ifseen[i].netns == netns && ifseen[i].ifindex == ifindex)
			return;
	if (bpf_name && bpf_name[0])
		snprintf(name, sizeof(name), "%.*s", IFNAME_LEN - 1, bpf_name);
	else if (netns == own_netns && !if_indextoname(ifindex, name))
		return;
	if (!name[0])
		return; /* another namespace, no name seen yet: try again on the next flow */
	n = realloc(ifseen, (nifseen + 1) * sizeof(*ifseen));
	if (!n)
		return;
	ifseen = n;
	ifseen[nifseen++] = (struct ifseen){ netns, ifindex };
	r.u.ifname.netns = netns;
	r.u.ifname.ifindex = ifindex;
	memcpy(r.u.ifname.name, name, sizeof(r.u.ifname.name));
	put(&r);
}

static void put_owner(struct flow *f, uint64_t ts, uint32_t pid, const char *comm)
{
	struct rec r = { .type = REC_CONN_OWNER };

	if (f->owner_known && f->pid == pid && !memcmp(f->comm, comm, COMM_LEN))
		return;
	f->owner_known = true;
	f->pid = pid;
	memcpy(f->comm, comm, COMM_LEN);
	r.u.owner.ts = ts;
	r.u.owner.flow = f->flow;
	r.u.owner.pid = pid;
	memcpy(r.u.owner.comm, comm, COMM_LEN);
	put(&r);
}

/* OPEN for a connection described by an event or iterator record. */
static struct flow *open_flow(const struct tt_event *e, uint64_t ts, uint8_t flags,
			      bool with_counters)
{
	struct rec r = { .type = REC_CONN_OPEN };
	struct rec_conn_open *o = &r.u.open;
	struct flow *f = flows_add(&flows, e->flow);

	if (!f)
		errx(EX_IOERR, "out of memory");
	f->cookie = e->cookie;
	f->proto = e->proto;
	f->state = e->state;
	put_ifname(e->netns, e->ifindex, e->ifname);
	o->ts = ts;
	o->id.flow = e->flow;
	o->id.cookie = e->cookie;
	o->id.netns = e->netns;
	o->id.ifindex = e->ifindex;
	o->id.proto = e->proto;
	o->id.family = e->family;
	o->id.lport = e->lport;
	o->id.rport = e->rport;
	memcpy(o->id.laddr, e->laddr, 16);
	memcpy(o->id.raddr, e->raddr, 16);
	o->state = e->state;
	o->flags = flags;
	if (e->flags & TT_F_OWNER) {
		o->pid = e->pid;
		memcpy(o->comm, e->comm, COMM_LEN);
		f->owner_known = true;
		f->pid = e->pid;
		memcpy(f->comm, e->comm, COMM_LEN);
	} else {
		o->flags |= CONN_F_NO_OWNER;
	}
	if (with_counters)
		counters_from(&o->c, e);
	f->c = o->c;
	put(&r);
	return f;
}

static void put_sample(struct flow *f, uint64_t ts, const struct conn_counters *c)
{
	struct rec r = { .type = REC_CONN_SAMPLE };

	if (!memcmp(&f->c, c, sizeof(*c)))
		return;
	f->c = *c;
	r.u.sample.ts = ts;
	r.u.sample.flow = f->flow;
	r.u.sample.c = *c;
	put(&r);
}

static void put_close(struct flow *f, uint64_t ts, const struct conn_counters *c)
{
	struct rec r = { .type = REC_CONN_CLOSE };

	r.u.close.ts = ts;
	r.u.close.flow = f->flow;
	r.u.close.state = f->state;
	r.u.close.c = *c;
	put(&r);
	flows_del(&flows, f);
}

/* A TCP record for a connection that may not have been announced (its OPEN lost or still
 * queued behind it): announce it from the identity every record carries. */
static struct flow *tcp_flow(const struct tt_event *e, uint64_t ts)
{
	struct flow *f = flows_find(&flows, e->flow);

	if (!f)
		f = open_flow(e, ts, (e->flags & TT_F_BOOT) ? CONN_F_BEGUN_BEFORE : 0, false);
	else if (e->flags & TT_F_OWNER)
		put_owner(f, ts, e->pid, e->comm);
	return f;
}

static void handle_event(const struct tt_event *e)
{
	struct conn_counters c = { 0 };
	struct sockinfo *s;
	struct flow *f;
	struct rec r;

	switch (e->type) {
	case TT_EV_OPEN:
		if (!flows_find(&flows, e->flow))
			open_flow(e, e->ts, 0, true);
		break;
	case TT_IT_BOOT:
		if (!flows_find(&flows, e->flow))
			open_flow(e, e->ts, CONN_F_BEGUN_BEFORE, true);
		break;
	case TT_EV_STATE:
	case TT_EV_CLOSE:
		f = tcp_flow(e, e->ts);
		if (f->state != e->state) {
			r = (struct rec){ .type = REC_CONN_STATE };
			r.u.state.ts = e->ts;
			r.u.state.flow = f->flow;
			r.u.state.old_state = f->state;
			r.u.state.new_state = e->state;
			put(&r);
			f->state = e->state;
		}
		if (e->type == TT_EV_CLOSE) {
			counters_from(&c, e);
			put_close(f, e->ts, &c);
		}
		break;
	case TT_IT_SAMPLE:
		f = tcp_flow(e, e->ts);
		counters_from(&c, e);
		put_sample(f, e->ts, &c);
		break;
	case TT_EV_RELEASE:
	case TT_IT_SOCK:
		s = socks_get(&flows, e->cookie);
		if (!s)
			errx(EX_IOERR, "out of memory");
		if (e->netns)
			s->netns = e->netns;
		if (e->flags & TT_F_BOOT)
			s->boot = true;
		if (e->flags & TT_F_OWNER) {
			s->owner_known = true;
			s->pid = e->pid;
			memcpy(s->comm, e->comm, COMM_LEN);
			for (f = s->flows; f; f = f->sock_next)
				put_owner(f, e->ts ? e->ts : last_tick, e->pid, e->comm);
		}
		if (e->type == TT_EV_RELEASE)
			s->released = true;
		break;
	case TT_IT_UDP_NEW: {
		struct tt_event ue = *e;

		if (flows_find(&flows, e->flow))
			break;
		s = socks_find(&flows, e->cookie);
		if (s) {
			ue.netns = s->netns;
			if (s->owner_known) {
				ue.flags |= TT_F_OWNER;
				ue.pid = s->pid;
				memcpy(ue.comm, s->comm, COMM_LEN);
			}
		}
		/* OPEN with zero counters, then a SAMPLE: the datagrams belong to this period */
		f = open_flow(&ue, e->ts, 0, false);
		f->last_active = e->last_ts;
		memcpy(f->key.laddr, e->laddr, 16);
		memcpy(f->key.raddr, e->raddr, 16);
		f->key.cookie = e->cookie;
		f->key.lport = e->lport;
		f->key.rport = e->rport;
		f->key.family = e->family;
		if (!s)
			s = socks_get(&flows, e->cookie);
		if (s)
			socks_link(s, f);
		counters_from(&c, e);
		put_sample(f, e->ts, &c);
		break;
	}
	case TT_IT_UDP_SAMPLE:
		f = flows_find(&flows, e->flow);
		if (!f)
			break; /* expired by us a moment ago */
		f->last_active = e->last_ts;
		counters_from(&c, e);
		put_sample(f, e->ts, &c);
		break;
	}
}

static int on_ringbuf(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(struct tt_event))
		handle_event(data);
	return 0;
}

/* Run an iterator and handle what it writes; a read error loses one period's samples. */
static void run_iter(struct bpf_link *link)
{
	static char *buf;
	static size_t cap;
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		warn("bpf_iter_create");
		return;
	}
	for (;;) {
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap ? cap * 2 : 1 << 20);

			if (!nb)
				errx(EX_IOERR, "out of memory");
			buf = nb;
			cap = cap ? cap * 2 : 1 << 20;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
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
	for (size_t off = 0; off + sizeof(struct tt_event) <= len; off += sizeof(struct tt_event))
		handle_event((const struct tt_event *)(buf + off));
}

/* UDP flows end on their socket's release and after --udp-timeout without datagrams. */
static void end_udp_flows(uint64_t now)
{
	int mapfd = bpf_map__fd(skel->maps.udp_flows);
	struct conn_counters c;
	struct tt_udp_val v;

	for (uint64_t i = 0; i < flows.nsb; i++) {
		for (struct sockinfo *s = flows.sb[i], *sn; s; s = sn) {
			sn = s->next;
			if (!s->released)
				continue;
			while (s->flows) {
				struct flow *f = s->flows;

				c = f->c;
				if (!bpf_map_lookup_elem(mapfd, &f->key, &v)) {
					c.bytes_in = v.bytes_in;
					c.bytes_out = v.bytes_out;
					c.pkts_in = v.pkts_in;
					c.pkts_out = v.pkts_out;
				}
				bpf_map_delete_elem(mapfd, &f->key);
				put_close(f, now, &c);
			}
			socks_del(&flows, s);
		}
	}
	for (uint64_t i = 0; i < flows.nb; i++) {
		for (struct flow *f = flows.b[i], *fn; f; f = fn) {
			fn = f->next;
			if (f->proto != PROTO_UDP || now - f->last_active < opt.udp_timeout_ns ||
			    f->last_active > now)
				continue;
			if (!bpf_map_lookup_elem(mapfd, &f->key, &v) &&
			    v.pkts_in + v.pkts_out != f->c.pkts_in + f->c.pkts_out) {
				f->last_active = v.last_ts; /* a datagram since the sample */
				continue;
			}
			bpf_map_delete_elem(mapfd, &f->key);
			c = f->c;
			put_close(f, now, &c);
		}
	}
}

static void put_loss(uint64_t ts)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(skel->maps.loss);
	static const uint32_t code[TT_LOSS_N] = { LOSS_RINGBUF, LOSS_FLOW_TABLE_FULL,
						  LOSS_FLOW_EVICTED };
	struct rec r = { .type = REC_LOSS };
	uint64_t vals[ncpu > 0 ? ncpu : 1];

	r.u.loss.ts = ts;
	for (uint32_t k = 0; k < TT_LOSS_N; k++) {
		uint64_t sum = 0;

		if (ncpu > 0 && !bpf_map_lookup_elem(fd, &k, vals))
			for (int c = 0; c < ncpu; c++)
				sum += vals[c];
		r.u.loss.e[r.u.loss.n].code = code[k];
		r.u.loss.e[r.u.loss.n].value = sum;
		r.u.loss.n++;
	}
	put(&r);
}

static struct bpf_link *sample_link, *udp_link;
static struct ring_buffer *rb;

/* One sample period: events so far, then the counters that changed, loss, tick. */
static void period(void)
{
	struct rec r = { .type = REC_TICK };
	uint64_t now;

	ring_buffer__consume(rb);
	run_iter(sample_link);
	if (udp_link)
		run_iter(udp_link);
	now = mono_ns();
	end_udp_flows(now);
	put_loss(now);
	r.u.tick.ts = now;
	last_tick = now;
	put(&r);
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

/* The cgroup v2 root, for the UDP and socket-release hooks: the mounted one, else our own
 * private mount (detached again at once; the fd keeps it). */
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
			if (fd >= 0) {
				verbose("cgroup2 at %s", mnt);
				break;
			}
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
		verbose("cgroup2 mounted privately");
	}
	rmdir(dir);
	return fd;
}

static const char *const hooks[] = { "send", "recv", "state" };
static const char *const hook_tp[] = { "btf_trace_sock_send_length", "btf_trace_sock_recv_length",
				       "btf_trace_inet_sock_set_state" };
#define NHOOKS 3

static bool has_prog(const char *prefix, const char *hook)
{
	struct bpf_program *p;
	size_t pl = strlen(prefix), hl = strlen(hook);

	bpf_object__for_each_program(p, skel->obj)
	{
		const char *n = bpf_program__name(p);

		if (!strncmp(n, prefix, pl) && !strncmp(n + pl, hook, hl))
			return true;
	}
	return false;
}

/* Does a trampoline (fentry) program load and attach here? */
static bool fentry_works(const struct btf *vmlinux)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 }, /* r0 = 0 */
		{ .code = 0x95 },			  /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FENTRY);
	int id = btf__find_by_name_kind(vmlinux, "tcp_sendmsg", BTF_KIND_FUNC);
	int fd, lfd;

	if (id < 0)
		return false;
	o.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "tt_probe", "GPL", insns, 2, &o);
	if (fd < 0)
		return false;
	lfd = bpf_link_create(fd, 0, BPF_TRACE_FENTRY, NULL);
	if (lfd >= 0)
		close(lfd);
	close(fd);
	return lfd >= 0;
}

static bool backend_works(enum backend b, int hook, const struct btf *vmlinux, char *why,
			  size_t whysz)
{
	if (!has_prog(backend_prefix[b], hooks[hook])) {
		snprintf(why, whysz, "no %s program for %s in this build", backend_name[b],
			 hooks[hook]);
		return false;
	}
	switch (b) {
	case BK_TP:
		if (btf__find_by_name_kind(vmlinux, hook_tp[hook], BTF_KIND_TYPEDEF) < 0) {
			snprintf(why, whysz, "kernel has no tracepoint %s", hook_tp[hook] + 10);
			return false;
		}
		return true;
	case BK_FENTRY:
		if (!fentry_works(vmlinux)) {
			snprintf(why, whysz, "fentry programs do not load or attach here");
			return false;
		}
		return true;
	case BK_KPROBE:
		if (access(KPROBE_PMU, F_OK)) {
			snprintf(why, whysz, "kernel has no kprobes (%s)", KPROBE_PMU);
			return false;
		}
		return true;
	default:
		return false;
	}
}

/* Whether the kernel has the function a fentry/fexit or kprobe program hooks (its section name
 * after the '/'): tcp_sendpage and udp_sendpage are gone since 6.5. */
static bool hook_target_exists(struct bpf_program *p, const struct btf *vmlinux, bool kprobe)
{
	const char *sec = bpf_program__section_name(p), *fn = strchr(sec, '/');
	char line[256];
	bool found = false;
	size_t n;
	FILE *f;

	if (!fn)
		return true;
	fn++;
	if (!kprobe)
		return btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC) > 0;
	/* kprobes need a function ftrace can patch: the list names exactly those */
	f = fopen("/sys/kernel/tracing/available_filter_functions", "re");
	if (!f)
		f = fopen("/sys/kernel/debug/tracing/available_filter_functions", "re");
	if (!f)
		return btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC) > 0;
	n = strlen(fn);
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, fn, n) && (line[n] == '\n' || line[n] == ' ');
	fclose(f);
	return found;
}

/* kretprobes made in tracefs, where their maxactive can be raised: the perf kprobe PMU that
 * libbpf uses keeps the kernel's default, max(10, 2 x CPUs) calls of a function in flight, and
 * every thread blocked in recv() holds one (40 blocked readers on 2 CPUs: 10 counted). The
 * events are named tcptop_FUNCTION and reused by the next run: after the privilege drop they
 * cannot be removed, so at most one is left per function. */
#define KRETPROBE_MAXACTIVE 1024
#define NKRETPROBES	    16

static struct bpf_link *kretprobe_links[NKRETPROBES];
static int nkretprobes;

static int kretprobe_attach(struct bpf_program *p)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	const char *fn = strchr(bpf_program__section_name(p), '/');
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT,
					.size = sizeof(attr),
					.sample_period = 1,
					.wakeup_events = 1 };
	char path[PATH_MAX], line[256];
	unsigned long long id;
	struct bpf_link *l;
	int fd = -1, pfd, e;
	const char *dir = NULL;
	FILE *f;

	if (!fn || nkretprobes == NKRETPROBES)
		return -EINVAL;
	fn++;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && fd < 0; i++) {
		snprintf(path, sizeof(path), "%s/kprobe_events", dirs[i]);
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		dir = dirs[i];
	}
	if (fd < 0)
		return -errno;
	/* a stale event from an earlier run goes; one in use by a running collector stays */
	snprintf(line, sizeof(line), "-:kprobes/tcptop_%s\n", fn);
	(void)!write(fd, line, strlen(line));
	snprintf(line, sizeof(line), "r%d:kprobes/tcptop_%s %s\n", KRETPROBE_MAXACTIVE, fn, fn);
	e = write(fd, line, strlen(line)) < 0 && errno != EEXIST ? -errno : 0;
	close(fd);
	if (e)
		return e;
	snprintf(path, sizeof(path), "%s/events/kprobes/tcptop_%s/id", dir, fn);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	e = fscanf(f, "%llu", &id) == 1 ? 0 : -EINVAL;
	fclose(f);
	if (e)
		return e;
	attr.config = id;
	pfd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0)
		return -errno;
	l = bpf_program__attach_perf_event(p, pfd);
	if (!l) {
		e = -errno;
		close(pfd);
		return e;
	}
	kretprobe_links[nkretprobes++] = l;
	return 0;
}

/* The kept kp__*_ret programs: through tracefs, else libbpf's way with the default maxactive. */
static void attach_kretprobes(void)
{
	struct bpf_program *p;
	int e;

	bpf_object__for_each_program(p, skel->obj)
	{
		const char *n = bpf_program__name(p);
		size_t len = strlen(n);

		if (strncmp(n, "kp__", 4) || len < 4 || strcmp(n + len - 4, "_ret") ||
		    !bpf_program__autoload(p))
			continue;
		e = kretprobe_attach(p);
		if (!e) {
			verbose("%s: kretprobe with maxactive %d", n, KRETPROBE_MAXACTIVE);
			continue;
		}
		verbose("%s: no tracefs kretprobe (%s): the kernel's default maxactive", n,
			strerror(-e));
		if (!bpf_program__attach(p))
			errx(EX_UNAVAILABLE, "cannot attach %s: %s", n, strerror(errno));
	}
}

/* Pick a backend per hook and disable every data-path program not chosen. */
static void choose_backends(char *desc, size_t descsz)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	enum backend chosen[NHOOKS];
	struct bpf_program *p;
	size_t off = 0;

	if (!vmlinux)
		errx(EX_UNAVAILABLE, "cannot read the kernel's BTF (%s)", BTF_VMLINUX);
	for (int h = 0; h < NHOOKS; h++) {
		char why[160] = "";

		chosen[h] = BK_AUTO;
		if (opt.backend != BK_AUTO && h < 2) {
			if (!backend_works(opt.backend, h, vmlinux, why, sizeof(why)))
				errx(EX_UNAVAILABLE, "backend %s unavailable for %s: %s",
				     backend_name[opt.backend], hooks[h], why);
			chosen[h] = opt.backend;
		} else {
			/* the state hook follows the forced backend when it has one */
			if (opt.backend != BK_AUTO &&
			    backend_works(opt.backend, h, vmlinux, why, sizeof(why)))
				chosen[h] = opt.backend;
			for (enum backend b = BK_TP; chosen[h] == BK_AUTO && b < BK_N; b++) {
				if (backend_works(b, h, vmlinux, why, sizeof(why)))
					chosen[h] = b;
				else
					verbose("%s: %s not used: %s", hooks[h], backend_name[b],
						why);
			}
			if (chosen[h] == BK_AUTO)
				errx(EX_UNAVAILABLE, "no usable hook for %s: %s", hooks[h], why);
		}
		verbose("hook %s: %s", hooks[h], backend_name[chosen[h]]);
		off += snprintf(desc + off, descsz - off, "%s=%s ", hooks[h],
				backend_name[chosen[h]]);
	}
	snprintf(desc + off, descsz - off, "udp=cgroup_skb close_udp=cgroup_sock bootstrap=iter");
	skel->rodata->kp_mode = chosen[0] == BK_KPROBE || chosen[1] == BK_KPROBE;
	if (!skel->rodata->kp_mode)
		bpf_map__set_max_entries(skel->maps.kp_socks, 1);
	if (!skel->rodata->kp_mode && chosen[0] != BK_FENTRY && chosen[1] != BK_FENTRY)
		bpf_map__set_max_entries(skel->maps.tcptop_args, 1);

	bpf_object__for_each_program(p, skel->obj)
	{
		const char *n = bpf_program__name(p);
		bool keep = true;

		for (enum backend b = BK_TP; b < BK_N; b++) {
			size_t pl = strlen(backend_prefix[b]);

			if (strncmp(n, backend_prefix[b], pl))
				continue;
			keep = false;
			for (int h = 0; h < NHOOKS; h++)
				if (chosen[h] == b && !strncmp(n + pl, hooks[h], strlen(hooks[h])))
					keep = true;
		}
		if (keep && (!strncmp(n, "fe__", 4) || !strncmp(n, "kp__", 4)) &&
		    !hook_target_exists(p, vmlinux, n[0] == 'k')) {
			verbose("%s: the kernel has no %s: not loaded", n,
				strchr(bpf_program__section_name(p), '/') + 1);
			keep = false;
		}
		bpf_program__set_autoload(p, keep);
		/* kretprobes are attached by attach_kretprobes(), with a larger maxactive */
		if (keep && !strncmp(n, "kp__", 4) && strstr(n, "_ret"))
			bpf_program__set_autoattach(p, false);
		/* iterators and cgroup programs are attached by hand, with their map or cgroup */
		if (!strncmp(n, "it__", 4) || !strncmp(n, "cg__", 4))
			bpf_program__set_autoattach(p, false);
	}
	btf__free(vmlinux);
}

static struct bpf_link *attach_iter(struct bpf_program *prog, struct bpf_map *map)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, o);
	union bpf_iter_link_info li = { 0 };
	struct bpf_link *l;

	if (map) {
		li.map.map_fd = bpf_map__fd(map);
		o.link_info = &li;
		o.link_info_len = sizeof(li);
	}
	l = bpf_program__attach_iter(prog, map ? &o : NULL);
	if (!l)
		errx(EX_UNAVAILABLE, "cannot create iterator %s: %s", bpf_program__name(prog),
		     strerror(errno));
	return l;
}

/* Drop to the invoking user and no capabilities; keep every fd and mapping. */
static void drop_privilege(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID"), *es;
	uint64_t v;
	uid_t uid = 65534;
	gid_t gid = 65534;
	struct passwd *pw = getpwnam("nobody");

	if (pw) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (su && !parse_uint(su, 0, UINT32_MAX - 1, &v, &es)) {
		uid = v;
		gid = v;
		if (sg && !parse_uint(sg, 0, UINT32_MAX - 1, &v, &es))
			gid = v;
	}
	for (int c = 0; c <= 63; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno == EINVAL)
			break;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (setgroups(0, NULL) && errno != EPERM)
		err(EX_NOPERM, "setgroups");
	if (setresgid(gid, gid, gid))
		err(EX_NOPERM, "setresgid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid))
		err(EX_NOPERM, "setresuid %u", (unsigned)uid);
	if (syscall(SYS_capset, &h, d))
		err(EX_NOPERM, "capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err(EX_NOPERM, "PR_SET_NO_NEW_PRIVS");
	verbose("dropped privilege: uid %u gid %u, no capabilities, no_new_privs", (unsigned)uid,
		(unsigned)gid);
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

static void write_header(const char *backend, const char *filter)
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
	snprintf(h.backend, sizeof(h.backend), "%s", backend);
	snprintf(h.filter, sizeof(h.filter), "%s", filter);
	e = stream_write_header(wr, &h);
	if (e == -EPIPE)
		exit(0);
	if (e < 0)
		errx(EX_IOERR, "write: %s", strerror(-e));
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	const char *es;
	int c;

	while ((c = getopt_long(argc, argv, "o:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'o':
			opt.output = optarg;
			break;
		case O_INTERVAL:
			if (parse_seconds(optarg, NSEC / 100, 3600 * NSEC, &opt.interval_ns, &es))
				errx(EX_USAGE, "--interval %s: %s (0.01 to 3600 seconds)", optarg,
				     es);
			break;
		case O_DURATION:
			if (parse_seconds(optarg, NSEC / 1000, 365 * 86400 * NSEC, &opt.duration_ns,
					  &es))
				errx(EX_USAGE, "--duration %s: %s", optarg, es);
			break;
		case O_UDP_TIMEOUT:
			if (parse_seconds(optarg, NSEC / 10, 86400 * NSEC, &opt.udp_timeout_ns,
					  &es))
				errx(EX_USAGE, "--udp-timeout %s: %s (0.1 to 86400 seconds)",
				     optarg, es);
			break;
		case O_MAX_FLOWS:
			if (parse_uint(optarg, 16, 1 << 24, &opt.max_flows, &es))
				errx(EX_USAGE, "--max-flows %s: %s (16 to 16777216)", optarg, es);
			break;
		case O_PID:
			if (parse_uint(optarg, 1, 4194304, &opt.pid, &es))
				errx(EX_USAGE, "--pid %s: %s", optarg, es);
			break;
		case O_PORT:
			if (parse_uint(optarg, 0, 65535, &opt.port, &es))
				errx(EX_USAGE, "--port %s: %s (0 to 65535)", optarg, es);
			break;
		case O_TCP:
			opt.tcp_only = true;
			break;
		case O_UDP:
			opt.udp_only = true;
			break;
		case O_BACKEND:
			if (!strcmp(optarg, "auto"))
				opt.backend = BK_AUTO;
			else if (!strcmp(optarg, "tracepoint") || !strcmp(optarg, "tp_btf"))
				opt.backend = BK_TP;
			else if (!strcmp(optarg, "fentry"))
				opt.backend = BK_FENTRY;
			else if (!strcmp(optarg, "kprobe"))
				opt.backend = BK_KPROBE;
			else
				errx(EX_USAGE,
				     "--backend %s: unknown (auto, tracepoint, fentry, kprobe)",
				     optarg);
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

int main(int argc, char **argv)
{
	struct bpf_link *boot_owner, *boot_tcp;
	char backend[HDR_STR_MAX], filter[HDR_STR_MAX] = "";
	uint64_t start, next, end = 0;
	struct sigaction sa = { 0 };
	struct stat st;
	int out = STDOUT_FILENO, cgfd, e;
	size_t fl = 0;

	parse_options(argc, argv);
	if (!strcmp(opt.output, "-") && isatty(STDOUT_FILENO))
		errx(EX_USAGE, "refusing to write a binary stream to a terminal: "
			       "pipe it (| tcptop-agg) or use -o FILE");
	check_privilege();
	if (access(BTF_VMLINUX, R_OK))
		errx(EX_UNAVAILABLE, "kernel has no BTF (%s): cannot load CO-RE programs",
		     BTF_VMLINUX);
	if (strcmp(opt.output, "-")) {
		out = open(opt.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0)
			err(EX_CANTCREAT, "%s", opt.output);
		if (isatty(out))
			errx(EX_USAGE, "refusing to write a binary stream to a terminal (%s)",
			     opt.output);
	}
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	libbpf_set_print(libbpf_print);
	if (!stat("/proc/self/ns/net", &st))
		own_netns = st.st_ino;
	if (flows_init(&flows))
		errx(EX_IOERR, "out of memory");

	skel = tcptop_bpf__open();
	if (!skel)
		errx(EX_UNAVAILABLE, "cannot open the BPF object: %s", strerror(errno));
	choose_backends(backend, sizeof(backend));
	skel->rodata->filter_pid = opt.pid;
	skel->rodata->filter_port = opt.port;
	skel->rodata->want_tcp = !opt.udp_only;
	skel->rodata->want_udp = !opt.tcp_only;
	skel->rodata->wake_bytes = RINGBUF_BYTES / 4;
	bpf_map__set_max_entries(skel->maps.udp_flows, opt.max_flows);
	bpf_map__set_max_entries(skel->maps.events, RINGBUF_BYTES);
	if (opt.pid)
		fl += snprintf(filter + fl, sizeof(filter) - fl, "pid=%" PRIu64 " ", opt.pid);
	if (opt.port)
		fl += snprintf(filter + fl, sizeof(filter) - fl, "port=%" PRIu64 " ", opt.port);
	if (opt.tcp_only || opt.udp_only)
		fl += snprintf(filter + fl, sizeof(filter) - fl, "%s ",
			       opt.tcp_only ? "tcp" : "udp");
	if (fl)
		filter[fl - 1] = 0;

	e = tcptop_bpf__load(skel);
	if (e)
		errx(EX_UNAVAILABLE, "cannot load the BPF programs: %s (run with -v for details)",
		     strerror(-e));
	e = tcptop_bpf__attach(skel);
	if (e)
		errx(EX_UNAVAILABLE, "cannot attach the BPF programs: %s", strerror(-e));
	attach_kretprobes();
	if (!opt.tcp_only) {
		cgfd = open_cgroup2();
		if (cgfd < 0)
			errx(EX_UNAVAILABLE, "no cgroup v2 hierarchy for the UDP hooks");
		skel->links.cg__udp_in = bpf_program__attach_cgroup(skel->progs.cg__udp_in, cgfd);
		skel->links.cg__udp_out = bpf_program__attach_cgroup(skel->progs.cg__udp_out, cgfd);
		skel->links.cg__release = bpf_program__attach_cgroup(skel->progs.cg__release, cgfd);
		if (!skel->links.cg__udp_in || !skel->links.cg__udp_out || !skel->links.cg__release)
			errx(EX_UNAVAILABLE, "cannot attach to the cgroup v2 root: %s",
			     strerror(errno));
		close(cgfd);
		verbose("hook udp: cgroup_skb ingress/egress, cgroup/sock_release");
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_ringbuf, NULL, NULL);
	if (!rb)
		errx(EX_UNAVAILABLE, "cannot map the ring buffer: %s", strerror(errno));
	sample_link = attach_iter(skel->progs.it__sample, skel->maps.sk_stor);
	if (!opt.tcp_only)
		udp_link = attach_iter(skel->progs.it__udp, skel->maps.udp_flows);

	wr = stream_writer_new(out);
	if (!wr)
		errx(EX_IOERR, "out of memory");
	write_header(backend, filter);

	/* Bootstrap: owners first, then the TCP connections (announced once, flagged). */
	boot_owner = attach_iter(skel->progs.it__owners, NULL);
	boot_tcp = attach_iter(skel->progs.it__boot_tcp, NULL);
	run_iter(boot_owner);
	if (!opt.udp_only)
		run_iter(boot_tcp);
	skel->bss->bootstrapped = 1;
	bpf_link__destroy(boot_owner);
	bpf_link__destroy(boot_tcp);
	verbose("hook bootstrap: iter/task_file, iter/tcp");

	drop_privilege();

	flush_out();
	start = mono_ns();
	last_tick = start;
	next = start + opt.interval_ns;
	if (opt.duration_ns)
		end = start + opt.duration_ns;
	while (!stop_signal) {
		uint64_t now = mono_ns(), until = next;

		if (end && end < until)
			until = end;
		if (now >= until) {
			period();
			if (end && now >= end)
				break;
			next += opt.interval_ns;
			if (next <= now)
				next = now + opt.interval_ns;
			continue;
		}
		e = ring_buffer__poll(rb, (int)((until - now + 999999) / 1000000));
		if (e < 0 && e != -EINTR)
			errx(EX_IOERR, "ring buffer: %s", strerror(-e));
	}
	if (stop_signal)
		period(); /* final counters after a signal */
	{
		struct rec r = { .type = REC_END };

		r.u.end.ts = mono_ns();
		put(&r);
	}
	flush_out();
	ring_buffer__free(rb);
	tcptop_bpf__destroy(skel);
	stream_writer_free(wr);
	flows_free(&flows);
	if (out != STDOUT_FILENO && close(out))
		err(EX_IOERR, "%s", opt.output);
	return 0;
}
