// SPDX-License-Identifier: GPL-2.0-or-later
/* hookcheck: loads the fentry or the kprobe programs of bpf/backends.bpf.h with trivial
 * accounting (tests/vm/hookcheck.bpf.c), makes exact traffic on loopback in this process (TCP
 * and UDP, IPv4, IPv6 and v4-mapped, write, sendfile, splice, MSG_PEEK, sendmmsg/recvmmsg) and
 * prints TAP: for each case the bytes and calls the programs saw against what was sent. It is how
 * the hooks were chosen on 6.1 (tests/vm/README.md) and a check of backends.bpf.h independent of
 * the collector.
 *
 * Usage: hookcheck --backend fentry|kprobe [--helpers] [--blocked N] [--maxactive N]
 * --helpers lists the helpers a kprobe program may call; --blocked N measures N threads blocked
 * in read() at once; --maxactive N attaches the kretprobes through tracefs with that maxactive.
 * Exit 0 all ok, 1 a case failed, 64 usage, 69 the backend cannot be used here, 77 not root. */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "hookcheck.skel.h"

#define MIB (1024 * 1024)

static struct hookcheck_bpf *skel;
static int ntest, nfail;

struct counts {
	unsigned long long sent, sent_calls, recv, recv_calls;
};

static void counts_reset(void)
{
	skel->bss->sent_bytes = skel->bss->sent_calls = 0;
	skel->bss->recv_bytes = skel->bss->recv_calls = 0;
}

static struct counts counts_get(void)
{
	struct counts c = { skel->bss->sent_bytes, skel->bss->sent_calls, skel->bss->recv_bytes,
			    skel->bss->recv_calls };
	return c;
}

/* expect_calls < 0: any number of calls */
static void check(const char *name, unsigned long long sent, unsigned long long recv,
		  long sent_calls, long recv_calls)
{
	struct counts c = counts_get();
	bool ok = c.sent == sent && c.recv == recv &&
		  (sent_calls < 0 || c.sent_calls == (unsigned long long)sent_calls) &&
		  (recv_calls < 0 || c.recv_calls == (unsigned long long)recv_calls);

	ntest++;
	if (!ok)
		nfail++;
	printf("%s %d - %s: sent %llu in %llu calls, received %llu in %llu calls",
	       ok ? "ok" : "not ok", ntest, name, c.sent, c.sent_calls, c.recv, c.recv_calls);
	if (!ok)
		printf(" (expected sent %llu, received %llu)", sent, recv);
	printf("\n");
	fflush(stdout);
}

/* ---- sockets on loopback ---- */

static socklen_t addr_make(struct sockaddr_storage *ss, int family, const char *ip, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, ip, &a->sin_addr);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &a->sin6_addr);
	return sizeof(*a);
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		err(1, "getsockname");
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A connected TCP pair: *c the client, *s the accepted server end. */
static void tcp_pair(int family, const char *ip, int *c, int *s)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_make(&ss, family, ip, 0);
	int l = socket(family, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&ss, len) || listen(l, 1))
		err(1, "tcp listen");
	len = addr_make(&ss, family, ip, port_of(l));
	*c = socket(family, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&ss, len))
		err(1, "tcp connect");
	*s = accept(l, NULL, NULL);
	if (*s < 0)
		err(1, "accept");
	close(l);
}

static int udp_bound(int family, const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_make(&ss, family, ip, 0);
	int fd = socket(family, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len))
		err(1, "udp bind %s", ip);
	return fd;
}

static void udp_connect(int fd, int family, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_make(&ss, family, ip, port);

	if (connect(fd, (struct sockaddr *)&ss, len))
		err(1, "udp connect %s", ip);
}

/* Reads exactly n bytes (the sender runs in another thread). */
static void read_exactly(int fd, size_t n)
{
	static char buf[65536];

	while (n > 0) {
		ssize_t r = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));

		if (r <= 0)
			err(1, "read");
		n -= r;
	}
}

struct sender {
	int fd, how; /* 0 write, 1 sendfile, 2 splice */
	size_t n;
	pthread_t thr;
};

static int data_file(size_t n)
{
	char path[] = "/tmp/hookcheck.XXXXXX";
	static char buf[65536];
	int fd = mkstemp(path);

	if (fd < 0)
		err(1, "mkstemp");
	unlink(path);
	memset(buf, 'x', sizeof(buf));
	for (size_t left = n; left > 0;) {
		ssize_t w = write(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (w <= 0)
			err(1, "write file");
		left -= w;
	}
	return fd;
}

static void *sender_run(void *arg)
{
	struct sender *s = arg;
	static char buf[65536];
	size_t left = s->n;

	memset(buf, 'y', sizeof(buf));
	if (s->how == 0) {
		while (left > 0) {
			ssize_t w = write(s->fd, buf, left < sizeof(buf) ? left : sizeof(buf));

			if (w <= 0)
				err(1, "write");
			left -= w;
		}
	} else if (s->how == 1) {
		int f = data_file(s->n);
		off_t off = 0;

		while (left > 0) {
			ssize_t w = sendfile(s->fd, f, &off, left);

			if (w <= 0)
				err(1, "sendfile");
			left -= w;
		}
		close(f);
	} else {
		int p[2];

		if (pipe(p))
			err(1, "pipe");
		while (left > 0) {
			size_t chunk = left < 16384 ? left : 16384;
			ssize_t w = write(p[1], buf, chunk);

			if (w <= 0)
				err(1, "write pipe");
			for (ssize_t m = w; m > 0;) {
				ssize_t sp = splice(p[0], NULL, s->fd, NULL, m, 0);

				if (sp <= 0)
					err(1, "splice");
				m -= sp;
			}
			left -= w;
		}
		close(p[0]);
		close(p[1]);
	}
	return NULL;
}

static void tcp_case(const char *name, int family, const char *ip, int how)
{
	struct sender s = { .how = how, .n = MIB };
	int c, srv;

	tcp_pair(family, ip, &c, &srv);
	counts_reset();
	s.fd = c;
	if (pthread_create(&s.thr, NULL, sender_run, &s))
		errx(1, "pthread_create");
	read_exactly(srv, MIB);
	pthread_join(s.thr, NULL);
	check(name, MIB, MIB, -1, -1);
	close(c);
	close(srv);
}

static void tcp_peek_case(void)
{
	char buf[1000];
	int c, s;

	tcp_pair(AF_INET, "127.0.0.1", &c, &s);
	counts_reset();
	memset(buf, 'p', sizeof(buf));
	if (write(c, buf, sizeof(buf)) != sizeof(buf))
		err(1, "write");
	if (recv(s, buf, sizeof(buf), MSG_PEEK | MSG_WAITALL) != sizeof(buf) ||
	    recv(s, buf, sizeof(buf), MSG_PEEK) != sizeof(buf))
		err(1, "recv peek");
	if (recv(s, buf, sizeof(buf), MSG_WAITALL) != sizeof(buf))
		err(1, "recv");
	check("TCP MSG_PEEK twice then one read of 1000 bytes counts 1000 once", 1000, 1000, 1, 1);
	close(c);
	close(s);
}

/* n datagrams of `size` bytes from a socket of family sf to one of family rf. */
static void udp_case(const char *name, int sf, const char *sip, const char *dst, int rf,
		     const char *rip, int n, int size, bool peek)
{
	int r = udp_bound(rf, rip), s = udp_bound(sf, sip);
	char buf[2048];

	udp_connect(s, sf, dst, port_of(r));
	counts_reset();
	memset(buf, 'u', sizeof(buf));
	for (int i = 0; i < n; i++)
		if (send(s, buf, size, 0) != size)
			err(1, "send udp");
	for (int i = 0; i < n; i++) {
		if (peek && recv(r, buf, sizeof(buf), MSG_PEEK) != size)
			err(1, "recv udp peek");
		if (recv(r, buf, sizeof(buf), 0) != size)
			err(1, "recv udp");
	}
	check(name, (unsigned long long)n * size, (unsigned long long)n * size, n, n);
	close(r);
	close(s);
}

static void udp_mmsg_case(void)
{
	int r = udp_bound(AF_INET, "127.0.0.1"), s = udp_bound(AF_INET, "127.0.0.1");
	struct mmsghdr m[4];
	struct iovec iov[4];
	char buf[4][300];

	udp_connect(s, AF_INET, "127.0.0.1", port_of(r));
	counts_reset();
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 4; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = 250;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	if (sendmmsg(s, m, 4, 0) != 4)
		err(1, "sendmmsg");
	for (int i = 0; i < 4; i++)
		iov[i].iov_len = sizeof(buf[i]);
	for (int got = 0; got < 4;) {
		int k = recvmmsg(r, m + got, 4 - got, 0, NULL);

		if (k <= 0)
			err(1, "recvmmsg");
		got += k;
	}
	check("UDP sendmmsg/recvmmsg 4 x 250 bytes", 1000, 1000, 4, 4);
	close(r);
	close(s);
}

static void udp_sendfile_case(int family, const char *ip, const char *name)
{
	int r = udp_bound(family, ip), s = udp_bound(family, ip);
	int f = data_file(1000);
	off_t off = 0;
	char buf[2048];

	udp_connect(s, family, ip, port_of(r));
	counts_reset();
	if (sendfile(s, f, &off, 1000) != 1000)
		err(1, "sendfile udp");
	if (recv(r, buf, sizeof(buf), 0) != 1000)
		err(1, "recv udp");
	check(name, 1000, 1000, -1, 1);
	close(f);
	close(r);
	close(s);
}

/* n threads blocked in read() at once, then 100 bytes for each: a kretprobe keeps only so many
 * calls in flight (maxactive), so this measures, without asserting, what kprobes miss. */
struct blocked {
	int fd;
	pthread_t thr;
};

static void *blocked_read(void *arg)
{
	struct blocked *b = arg;

	read_exactly(b->fd, 100);
	return NULL;
}

static void blocked_readers(int n)
{
	struct blocked *b = calloc(n, sizeof(*b));
	int *c = calloc(n, sizeof(*c));
	char buf[100];
	struct counts got;

	if (!b || !c)
		err(1, "calloc");
	for (int i = 0; i < n; i++)
		tcp_pair(AF_INET, "127.0.0.1", &c[i], &b[i].fd);
	counts_reset();
	for (int i = 0; i < n; i++)
		if (pthread_create(&b[i].thr, NULL, blocked_read, &b[i]))
			errx(1, "pthread_create");
	sleep(2); /* let every reader block inside tcp_recvmsg */
	memset(buf, 'b', sizeof(buf));
	for (int i = 0; i < n; i++)
		if (write(c[i], buf, sizeof(buf)) != sizeof(buf))
			err(1, "write");
	for (int i = 0; i < n; i++) {
		pthread_join(b[i].thr, NULL);
		close(b[i].fd);
		close(c[i]);
	}
	got = counts_get();
	printf("# %d threads blocked in read() at once: received %llu of %d bytes in %llu calls\n",
	       n, got.recv, n * 100, got.recv_calls);
	free(b);
	free(c);
}

/* ---- choosing the programs ---- */

/* The kernel function a program hooks: its section name after the '/'. */
static const char *prog_target(struct bpf_program *p)
{
	const char *sec = bpf_program__section_name(p), *slash = strchr(sec, '/');

	return slash ? slash + 1 : sec;
}

static bool kernel_has_function(const struct btf *vmlinux, const char *fn, bool kprobe)
{
	if (!kprobe)
		return btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC) > 0;
	/* kprobes need a probe-able symbol: the ftrace list names exactly those */
	FILE *f = fopen("/sys/kernel/tracing/available_filter_functions", "r");
	char line[256];
	bool found = false;
	size_t n = strlen(fn);

	if (!f)
		f = fopen("/sys/kernel/debug/tracing/available_filter_functions", "r");
	if (!f)
		return btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC) > 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, fn, n) && (line[n] == '\n' || line[n] == ' ');
	fclose(f);
	return found;
}

/* A kretprobe through tracefs, where its maxactive (calls in flight at once) can be set: the
 * perf kprobe PMU that libbpf 1.1 uses takes the kernel's default, max(10, 2 x CPUs). */
#define KPROBE_EVENTS "/sys/kernel/tracing/kprobe_events"
#define NRETPROBES    16

static struct bpf_link *retprobe_link[NRETPROBES];
static char retprobe_name[NRETPROBES][64];
static int nretprobes;

static int kprobe_events_write(const char *text)
{
	int fd = open(KPROBE_EVENTS, O_WRONLY | O_APPEND | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, text, strlen(text));
		close(fd);
	}
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void retprobe_attach(struct bpf_program *p, const char *fn, int maxactive)
{
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT,
					.size = sizeof(attr),
					.sample_period = 1,
					.wakeup_events = 1 };
	char *name = retprobe_name[nretprobes], line[256], path[256];
	struct bpf_link *l;
	FILE *f;
	int pfd;

	if (nretprobes == NRETPROBES)
		errx(1, "too many kretprobes");
	snprintf(name, sizeof(retprobe_name[0]), "hookcheck_%d_%s", getpid(), fn);
	snprintf(line, sizeof(line), "r%d:kprobes/%s %s\n", maxactive, name, fn);
	if (kprobe_events_write(line))
		err(69, "%s: %s", KPROBE_EVENTS, line);
	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/kprobes/%s/id", name);
	f = fopen(path, "re");
	if (!f || fscanf(f, "%llu", (unsigned long long *)&attr.config) != 1)
		err(69, "%s", path);
	fclose(f);
	pfd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0)
		err(69, "perf_event_open %s", name);
	l = bpf_program__attach_perf_event(p, pfd);
	if (!l)
		err(69, "attach %s", name);
	retprobe_link[nretprobes++] = l;
}

static void retprobes_detach(void)
{
	char line[96];

	for (int i = 0; i < nretprobes; i++) {
		bpf_link__destroy(retprobe_link[i]);
		snprintf(line, sizeof(line), "-:kprobes/%s\n", retprobe_name[i]);
		kprobe_events_write(line);
	}
}

static void print_helpers(void)
{
	static const struct {
		int id;
		const char *name;
	} h[] = {
		{ BPF_FUNC_sk_storage_get, "sk_storage_get" },
		{ BPF_FUNC_get_socket_cookie, "get_socket_cookie" },
		{ BPF_FUNC_skc_to_tcp_sock, "skc_to_tcp_sock" },
		{ BPF_FUNC_ringbuf_reserve, "ringbuf_reserve" },
		{ BPF_FUNC_get_current_task_btf, "get_current_task_btf" },
		{ BPF_FUNC_probe_read_kernel, "probe_read_kernel" },
	};
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		printf("# kprobe program may call bpf_%s: %s\n", h[i].name,
		       libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, h[i].id, NULL) == 1 ? "yes"
											 : "no");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "backend", required_argument, NULL, 'b' },
					      { "helpers", no_argument, NULL, 'H' },
					      { "blocked", required_argument, NULL, 'B' },
					      { "maxactive", required_argument, NULL, 'M' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *backend = NULL, *prefix;
	bool helpers = false, kprobe;
	int blocked = 0, maxactive = 0;
	struct bpf_program *p;
	struct btf *vmlinux;
	int c, e;

	while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			backend = optarg;
			break;
		case 'H':
			helpers = true;
			break;
		case 'M':
			maxactive = atoi(optarg);
			if (maxactive < 1 || maxactive > 4096)
				errx(64, "--maxactive: expected 1 to 4096");
			break;
		case 'B':
			blocked = atoi(optarg);
			if (blocked < 1 || blocked > 1000)
				errx(64, "--blocked: expected 1 to 1000 threads");
			break;
		case 'h':
			printf("usage: hookcheck --backend fentry|kprobe [--helpers] [--blocked N] [--maxactive N]\n");
			return 0;
		default:
			fprintf(stderr,
				"usage: hookcheck --backend fentry|kprobe [--helpers] [--blocked N] [--maxactive N]\n");
			return 64;
		}
	}
	if (!backend || (strcmp(backend, "fentry") && strcmp(backend, "kprobe")))
		errx(64, "--backend: expected fentry or kprobe");
	kprobe = !strcmp(backend, "kprobe");
	prefix = kprobe ? "kp__" : "fe__";
	if (geteuid() != 0)
		errx(77, "needs root");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (helpers)
		print_helpers();

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		errx(69, "kernel has no BTF");
	skel = hookcheck_bpf__open();
	if (!skel)
		err(69, "open");
	skel->rodata->target_tgid = getpid();
	bpf_object__for_each_program(p, skel->obj)
	{
		const char *name = bpf_program__name(p);
		bool mine = !strncmp(name, prefix, 4);
		bool have = mine && kernel_has_function(vmlinux, prog_target(p), kprobe);

		bpf_program__set_autoload(p, have);
		if (have && maxactive && strstr(name, "_ret"))
			bpf_program__set_autoattach(p, false);
		if (mine && !strstr(name, "_ret") && !strstr(name, "_entry"))
			printf("# %s %s: %s\n", backend, prog_target(p),
			       have ? "hooked" : "absent from this kernel");
	}
	e = hookcheck_bpf__load(skel);
	if (e)
		errx(69, "load (%s programs): %s", backend, strerror(-e));
	e = hookcheck_bpf__attach(skel);
	if (e)
		errx(69, "attach (%s programs): %s", backend, strerror(-e));
	if (kprobe && maxactive) {
		bpf_object__for_each_program(p, skel->obj)
		{
			if (bpf_program__autoload(p) && strstr(bpf_program__name(p), "_ret"))
				retprobe_attach(p, prog_target(p), maxactive);
		}
		printf("# kretprobes attached through tracefs with maxactive %d\n", maxactive);
	}

	printf("TAP version 13\n");
	tcp_case("TCP IPv4 1 MiB write()", AF_INET, "127.0.0.1", 0);
	tcp_case("TCP IPv6 1 MiB write()", AF_INET6, "::1", 0);
	tcp_case("TCP IPv4 1 MiB sendfile()", AF_INET, "127.0.0.1", 1);
	tcp_case("TCP IPv6 1 MiB sendfile()", AF_INET6, "::1", 1);
	tcp_case("TCP IPv4 1 MiB splice() from a pipe", AF_INET, "127.0.0.1", 2);
	tcp_peek_case();
	udp_case("UDP IPv4 10 x 100 bytes", AF_INET, "127.0.0.1", "127.0.0.1", AF_INET, "127.0.0.1",
		 10, 100, false);
	udp_case("UDP IPv6 10 x 100 bytes", AF_INET6, "::1", "::1", AF_INET6, "::1", 10, 100,
		 false);
	udp_case("UDP IPv6 socket to a v4-mapped address 10 x 100 bytes", AF_INET6,
		 "::", "::ffff:127.0.0.1", AF_INET, "127.0.0.1", 10, 100, false);
	udp_case("UDP IPv4 datagrams into a dual-stack IPv6 socket 10 x 100 bytes", AF_INET,
		 "127.0.0.1", "127.0.0.1", AF_INET6, "::", 10, 100, false);
	udp_case("UDP MSG_PEEK before each read of 10 x 100 bytes", AF_INET, "127.0.0.1",
		 "127.0.0.1", AF_INET, "127.0.0.1", 10, 100, true);
	udp_mmsg_case();
	udp_sendfile_case(AF_INET, "127.0.0.1", "UDP IPv4 sendfile() of 1000 bytes");
	udp_sendfile_case(AF_INET6, "::1", "UDP IPv6 sendfile() of 1000 bytes");
	printf("1..%d\n", ntest);
	if (blocked)
		blocked_readers(blocked);
	if (kprobe)
		printf("# kprobe argument map full: %llu\n",
		       (unsigned long long)skel->bss->tcptop_args_full);
	retprobes_detach();
	hookcheck_bpf__destroy(skel);
	btf__free(vmlinux);
	return nfail ? 1 : 0;
}
