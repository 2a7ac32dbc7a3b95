// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-traffic: known loopback traffic for the collector's tests and benchmarks. It names
 * itself "tcptop-traffic" and prints one line per connection it made, with the exact bytes and
 * datagrams, so that tests can match the collector's stream against it.
 *
 *   tcptop-traffic tcp 4|6 BYTES        one connection, BYTES each way in odd-sized chunks
 *   tcptop-traffic udp COUNT SIZE       COUNT datagrams of SIZE bytes from a connected socket
 *                                       to one peer that reads with recv() (not asking who
 *                                       sent: its line ends "anon"), and from one unconnected
 *                                       socket to each of three peers that read with
 *                                       recvfrom()
 *   tcptop-traffic short COUNT BYTES    COUNT short connections, BYTES each way, one by one
 *   tcptop-traffic hold BYTES           a connection with BYTES each way now; prints "ready",
 *                                       on SIGUSR1 BYTES more each way, closes, prints "done"
 *   tcptop-traffic pingpong SECONDS     1-byte round trips; prints "roundtrips N"
 *   tcptop-traffic bulk SECONDS         one-way bulk transfer; prints "bytes N"
 *   tcptop-traffic churn RATE SECONDS   RATE short connections per second; prints the listening
 *                                       port ("port P"), then "conns N"
 *   tcptop-traffic idle COUNT           COUNT idle established connections from 127.0.0.1 to
 *                                       listeners on 127.0.0.100 and up (20,000 per address,
 *                                       as many per child process as RLIMIT_NOFILE allows);
 *                                       prints "ready COUNT", holds them until SIGINT, SIGTERM
 *                                       or the end of standard input, then prints "done"
 *   tcptop-traffic udpfan RATE PEERS SECONDS SIZE
 *                                       RATE datagrams/s of SIZE bytes from one unconnected
 *                                       socket to PEERS sockets in turn, received by a child
 *                                       with the sender's address (recvmmsg, msg_name);
 *                                       prints one line per peer with what was sent and
 *                                       received, then "datagrams N" (sent)
 */
#include <arpa/inet.h>
#include <err.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 17];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static socklen_t loopback(int fam, struct sockaddr_storage *ss, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s4->sin_port = htons(port);
	return sizeof(*s4);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		err(1, "getsockname");
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int listener(int fam)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(fam, &ss, 0);
	int fd = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096))
		err(1, "listen");
	return fd;
}

/* A connected pair over loopback: *c the client end, *s the accepted end. */
static void tcp_pair(int lfd, int fam, int *c, int *s)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(fam, &ss, local_port(lfd));

	*c = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&ss, len))
		err(1, "connect");
	*s = accept(lfd, NULL, NULL);
	if (*s < 0)
		err(1, "accept");
}

/* Odd chunk sizes, so that nothing lines up with page or segment sizes. */
static const size_t chunks[] = { 1, 7, 1021, 4093, 65521, 13, 32749, 509, 99991 };

/* Both ends send n bytes to each other at once (poll, so that neither blocks). */
static void exchange(int a, int b, uint64_t n)
{
	uint64_t sent[2] = { 0 }, got[2] = { 0 };
	int fds[2] = { a, b };
	size_t ci[2] = { 0, 3 };

	fcntl(a, F_SETFL, O_NONBLOCK);
	fcntl(b, F_SETFL, O_NONBLOCK);
	while (sent[0] < n || sent[1] < n || got[0] < n || got[1] < n) {
		struct pollfd p[2];

		for (int i = 0; i < 2; i++) {
			p[i].fd = fds[i];
			p[i].events = (got[i] < n ? POLLIN : 0) | (sent[i] < n ? POLLOUT : 0);
		}
		if (poll(p, 2, 10000) <= 0)
			err(1, "poll");
		for (int i = 0; i < 2; i++) {
			if ((p[i].revents & POLLOUT) && sent[i] < n) {
				size_t want =
					chunks[ci[i]++ % (sizeof(chunks) / sizeof(chunks[0]))];
				ssize_t w;

				if (want > n - sent[i])
					want = n - sent[i];
				w = send(fds[i], buf, want, 0);
				if (w < 0 && errno != EAGAIN)
					err(1, "send");
				if (w > 0)
					sent[i] += w;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = recv(fds[i], buf, sizeof(buf), 0);

				if (r < 0 && errno != EAGAIN)
					err(1, "recv");
				if (r == 0)
					errx(1, "early end of stream");
				if (r > 0)
					got[i] += r;
			}
		}
	}
	if (got[0] != n || got[1] != n)
		errx(1, "received %llu and %llu bytes, expected %llu", (unsigned long long)got[0],
		     (unsigned long long)got[1], (unsigned long long)n);
}

static const char *addr(int fam)
{
	return fam == 6 ? "[::1]" : "127.0.0.1";
}

static void print_tcp(const char *what, int fam, int c, int s, uint64_t n)
{
	/* the client's view: local client port, remote server port */
	printf("%s tcp %s:%u %s:%u pid=%d bytes=%llu\n", what, addr(fam), local_port(c), addr(fam),
	       local_port(s), getpid(), (unsigned long long)n);
}

static void do_tcp(int fam, uint64_t n)
{
	int l = listener(fam), c, s;

	tcp_pair(l, fam, &c, &s);
	exchange(c, s, n);
	print_tcp("conn", fam, c, s, n);
	close(c);
	close(s);
	close(l);
}

static void do_short(int count, uint64_t n)
{
	int l = listener(4);

	for (int i = 0; i < count; i++) {
		int c, s;

		tcp_pair(l, 4, &c, &s);
		exchange(c, s, n);
		print_tcp("short", 4, c, s, n);
		close(c);
		close(s);
	}
	close(l);
}

static volatile sig_atomic_t go;
static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void do_hold(uint64_t n)
{
	int l = listener(4), c, s;
	sigset_t set, old;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	tcp_pair(l, 4, &c, &s);
	close(l);
	exchange(c, s, n);
	print_tcp("hold", 4, c, s, 2 * n);
	printf("ready\n");
	fflush(stdout);
	while (!go)
		sigsuspend(&old);
	exchange(c, s, n);
	close(c);
	close(s);
	printf("done\n");
}

static int udp_sock(int fam, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(fam, &ss, port);
	int fd = socket(fam == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	int sz = 4 << 20;

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len))
		err(1, "udp socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return fd;
}

/* named: recvfrom() with the sender's address, as servers that answer do; else recv() */
static void udp_recv_all(int fd, int count, int size, int named)
{
	for (int i = 0; i < count; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t r = named ? recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)
				  : recv(fd, buf, sizeof(buf), 0);

		if (r != size)
			err(1, "udp recv %zd", r);
	}
}

static void do_udp(int count, int size)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int peer = udp_sock(4, 0), conn = udp_sock(4, 0), uncon = udp_sock(4, 0), peers[3];

	len = loopback(4, &ss, local_port(peer));
	if (connect(conn, (struct sockaddr *)&ss, len))
		err(1, "udp connect");
	for (int i = 0; i < count; i++) {
		if (send(conn, buf, size, 0) != size)
			err(1, "udp send");
		udp_recv_all(peer, 1, size, 0); /* one at a time: no buffer can overflow */
	}
	printf("udp 127.0.0.1:%u 127.0.0.1:%u pid=%d datagrams=%d bytes=%d anon\n",
	       local_port(conn), local_port(peer), getpid(), count, count * size);
	for (int p = 0; p < 3; p++) {
		peers[p] = udp_sock(4, 0);
		len = loopback(4, &ss, local_port(peers[p]));
		for (int i = 0; i < count; i++) {
			if (sendto(uncon, buf, size, 0, (struct sockaddr *)&ss, len) != size)
				err(1, "udp sendto");
			udp_recv_all(peers[p], 1, size, 1);
		}
		printf("udp 127.0.0.1:%u 127.0.0.1:%u pid=%d datagrams=%d bytes=%d\n",
		       local_port(uncon), local_port(peers[p]), getpid(), count, count * size);
	}
	close(conn);
	close(uncon);
	close(peer);
	for (int p = 0; p < 3; p++)
		close(peers[p]);
}

static void do_pingpong(double secs)
{
	int l = listener(4), c, s, one = 1;
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), n = 0;

	tcp_pair(l, 4, &c, &s);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fork() == 0) {
		close(c);
		while (recv(s, buf, 1, 0) == 1)
			if (send(s, buf, 1, 0) != 1)
				break;
		_exit(0);
	}
	close(s);
	while ((n & 255) || now_ns() < end) {
		if (send(c, buf, 1, 0) != 1 || recv(c, buf, 1, 0) != 1)
			err(1, "pingpong");
		n++;
	}
	close(c);
	printf("roundtrips %llu\n", (unsigned long long)n);
}

static void do_bulk(double secs)
{
	int l = listener(4), c, s;
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), n = 0;

	tcp_pair(l, 4, &c, &s);
	if (fork() == 0) {
		close(c);
		while (recv(s, buf, sizeof(buf), 0) > 0)
			;
		_exit(0);
	}
	close(s);
	while ((n & 1023) || now_ns() < end) {
		ssize_t w = send(c, buf, 65536, 0);

		if (w <= 0)
			err(1, "bulk");
		n += w;
	}
	close(c);
	printf("bytes %llu\n", (unsigned long long)n);
}

static void do_churn(int rate, double secs)
{
	int l = listener(4);
	uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9), n = 0;
	int reuse = 1;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
	printf("port %u\n", local_port(l));
	for (;;) {
		uint64_t t = now_ns(), due = start + n * 1000000000ULL / rate;
		int c, s;

		if (t >= end)
			break;
		if (t < due) {
			struct timespec ts = { 0, (long)(due - t) };

			nanosleep(&ts, NULL);
			continue;
		}
		tcp_pair(l, 4, &c, &s);
		if (send(c, "x", 1, 0) != 1 || recv(s, buf, 1, 0) != 1)
			err(1, "churn");
		close(s); /* the server closes first: its end, not ours, goes to TIME_WAIT */
		close(c);
		n++;
	}
	close(l);
	printf("conns %llu\n", (unsigned long long)n);
}

/* Idle connections: a child process holds at most this many (two descriptors each, under the
 * default fs.nr_open of 1,048,576; fewer when RLIMIT_NOFILE cannot be raised that far), a
 * listening address at most IDLE_PER_ADDR (the ephemeral ports of 127.0.0.1 towards one
 * address and port number are about 28,000). */
#define IDLE_PER_CHILD	200000
#define IDLE_PER_ADDR	20000
#define IDLE_FIRST_ADDR 100

/* Raises RLIMIT_NOFILE towards want descriptors (the hard limit too, with CAP_SYS_RESOURCE);
 * returns what it got. */
static long fd_room(long want)
{
	struct rlimit rl = { want, want };

	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return want;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		err(1, "getrlimit");
	if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < want)
		want = rl.rlim_max;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		err(1, "setrlimit RLIMIT_NOFILE %ld", want);
	return want;
}

static int idle_listener(int index)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sin.sin_addr.s_addr = htonl(0x7f000000 | (IDLE_FIRST_ADDR + index));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4096))
		err(1, "idle: listen on 127.0.0.%d", IDLE_FIRST_ADDR + index);
	return fd;
}

/* Connections first..first+count-1 of the whole set, then one byte to the parent; held until
 * SIGTERM. Clients close with RST (linger 0): a million connections then end at once. */
static void idle_child(long first, long count, int ready)
{
	struct linger lg = { 1, 0 };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int l = -1, addr = -1;
	sigset_t set;
	int sig;

	for (long i = first; i < first + count; i++) {
		int c, s;

		if (i / IDLE_PER_ADDR != addr) {
			if (l >= 0)
				close(l);
			addr = i / IDLE_PER_ADDR;
			l = idle_listener(addr);
			if (getsockname(l, (struct sockaddr *)&sin, &len))
				err(1, "getsockname");
		}
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sin, len))
			err(1, "idle: connection %ld", i);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		s = accept(l, NULL, NULL);
		if (s < 0)
			err(1, "idle: accept %ld", i);
	}
	if (l >= 0)
		close(l);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (write(ready, "r", 1) != 1)
		err(1, "idle: write");
	sigwait(&set, &sig);
	_exit(0);
}

static void do_idle(long count)
{
	long per_child = (fd_room(2 * IDLE_PER_CHILD + 64) - 64) / 2;
	int nchild, p[2];
	pid_t *kids, watcher;
	sigset_t set;
	char c;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (per_child < 1)
		errx(1, "idle: RLIMIT_NOFILE too low");
	nchild = (count + per_child - 1) / per_child;
	kids = calloc(nchild ? nchild : 1, sizeof(*kids));
	if (!kids || pipe(p))
		err(1, "idle");
	for (int k = 0; k < nchild; k++) {
		long first = (long)k * per_child;
		long n = count - first < per_child ? count - first : per_child;

		kids[k] = fork();
		if (kids[k] < 0)
			err(1, "fork");
		if (kids[k] == 0) {
			close(p[0]);
			idle_child(first, n, p[1]);
		}
	}
	close(p[1]);
	for (int k = 0; k < nchild; k++)
		if (read(p[0], &c, 1) != 1)
			errx(1, "idle: a child failed");
	printf("ready %ld\n", count);
	/* SIGINT, SIGTERM or the end of standard input ends the hold */
	watcher = fork();
	if (watcher == 0) {
		while (read(0, &c, 1) > 0)
			;
		kill(getppid(), SIGTERM);
		_exit(0);
	}
	sigwait(&set, &sig);
	if (watcher > 0)
		kill(watcher, SIGKILL);
	for (int k = 0; k < nchild; k++)
		kill(kids[k], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	printf("done\n");
}

/* One unconnected socket sends to PEERS sockets in turn at RATE datagrams/s (batches of
 * sendmmsg, one message per peer); a child receives, asking who sent each datagram as servers
 * that answer do (recvmmsg with msg_name). Each side counts per peer. */
#define FAN_BATCH 32

struct fan_count {
	uint64_t n, bytes;
};

static void fan_receive(int *peers, int npeers, int stop, struct fan_count *got)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	struct mmsghdr msgs[FAN_BATCH];
	struct iovec iov[FAN_BATCH];
	static char rbuf[FAN_BATCH][2048];
	static struct sockaddr_storage from[FAN_BATCH];
	bool stopping = false;

	if (ep < 0)
		err(1, "epoll_create1");
	for (int i = 0; i < npeers; i++) {
		ev.data.u32 = i;
		fcntl(peers[i], F_SETFL, O_NONBLOCK);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, peers[i], &ev))
			err(1, "epoll_ctl");
	}
	ev.data.u32 = npeers;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, stop, &ev))
		err(1, "epoll_ctl");
	for (int i = 0; i < FAN_BATCH; i++) {
		iov[i].iov_base = rbuf[i];
		iov[i].iov_len = sizeof(rbuf[i]);
	}
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, stopping ? 0 : 1000);

		if (n < 0 && errno != EINTR)
			err(1, "epoll_wait");
		if (n == 0 && stopping)
			break; /* the sender is done and every queue is empty */
		for (int e = 0; e < n; e++) {
			uint32_t i = evs[e].data.u32;
			int r;

			if (i == (uint32_t)npeers) {
				stopping = true;
				epoll_ctl(ep, EPOLL_CTL_DEL, stop, NULL);
				continue;
			}
			do {
				memset(msgs, 0, sizeof(msgs));
				for (int m = 0; m < FAN_BATCH; m++) {
					msgs[m].msg_hdr.msg_iov = &iov[m];
					msgs[m].msg_hdr.msg_iovlen = 1;
					msgs[m].msg_hdr.msg_name = &from[m];
					msgs[m].msg_hdr.msg_namelen = sizeof(from[m]);
				}
				r = recvmmsg(peers[i], msgs, FAN_BATCH, MSG_DONTWAIT, NULL);
				for (int m = 0; m < r; m++) {
					got[i].n++;
					got[i].bytes += msgs[m].msg_len;
				}
			} while (r == FAN_BATCH);
			if (r < 0 && errno != EAGAIN)
				err(1, "recvmmsg");
		}
	}
}

static void do_udpfan(long rate, int npeers, double secs, int size)
{
	int s = udp_sock(4, 0), *peers = calloc(npeers, sizeof(int)), p[2], q[2];
	struct sockaddr_in *to = calloc(npeers, sizeof(*to));
	struct fan_count *sent = calloc(npeers, sizeof(*sent));
	struct fan_count *got = calloc(npeers, sizeof(*got));
	uint64_t start, end, n = 0, total, errors = 0;
	int next = 0;
	pid_t kid;

	if (!peers || !to || !sent || !got || size < 1 || size > 2048 || npeers < 1)
		errx(64, "udpfan: bad arguments");
	if (fd_room(npeers + 64) < npeers + 64)
		errx(1, "udpfan: RLIMIT_NOFILE too low for %d peers", npeers);
	for (int i = 0; i < npeers; i++) {
		struct sockaddr_storage ss;

		peers[i] = udp_sock(4, 0);
		loopback(4, &ss, local_port(peers[i]));
		memcpy(&to[i], &ss, sizeof(to[i]));
	}
	/* p: the sender's end of sending; q: the child's counts come back */
	if (pipe(p) || pipe(q))
		err(1, "pipe");
	kid = fork();
	if (kid < 0)
		err(1, "fork");
	if (kid == 0) {
		close(p[1]);
		close(q[0]);
		close(s);
		fan_receive(peers, npeers, p[0], got);
		if (write(q[1], got, npeers * sizeof(*got)) != (ssize_t)(npeers * sizeof(*got)))
			err(1, "udpfan: write");
		_exit(0);
	}
	close(p[0]);
	close(q[1]);
	start = now_ns();
	end = start + (uint64_t)(secs * 1e9);
	for (;;) {
		uint64_t t = now_ns(), due = start + n * 1000000000ULL / rate;
		struct mmsghdr msgs[FAN_BATCH];
		struct iovec iov = { buf, size };
		int b = 0, r;

		if (t >= end)
			break;
		if (t < due) {
			struct timespec ts = { 0, (long)(due - t) };

			nanosleep(&ts, NULL);
			continue;
		}
		memset(msgs, 0, sizeof(msgs));
		for (; b < FAN_BATCH; b++) {
			msgs[b].msg_hdr.msg_name = &to[(next + b) % npeers];
			msgs[b].msg_hdr.msg_namelen = sizeof(to[0]);
			msgs[b].msg_hdr.msg_iov = &iov;
			msgs[b].msg_hdr.msg_iovlen = 1;
		}
		r = sendmmsg(s, msgs, b, 0);
		if (r < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
			err(1, "sendmmsg");
		for (int m = 0; m < r; m++) {
			sent[(next + m) % npeers].n++;
			sent[(next + m) % npeers].bytes += msgs[m].msg_len;
		}
		if (r < b) { /* message r failed: not sent, not counted; go on after it */
			errors++;
			r = r < 0 ? 1 : r + 1;
		}
		next = (next + r) % npeers;
		n += r;
	}
	close(p[1]);
	if (read(q[0], got, npeers * sizeof(*got)) != (ssize_t)(npeers * sizeof(*got)))
		errx(1, "udpfan: the receiver failed");
	waitpid(kid, NULL, 0);
	total = 0;
	for (int i = 0; i < npeers; i++) {
		printf("udpfan 127.0.0.1:%u 127.0.0.1:%u sent=%llu bytes=%llu received=%llu "
		       "rbytes=%llu\n",
		       local_port(s), ntohs(to[i].sin_port), (unsigned long long)sent[i].n,
		       (unsigned long long)sent[i].bytes, (unsigned long long)got[i].n,
		       (unsigned long long)got[i].bytes);
		total += sent[i].n;
	}
	printf("errors %llu\n", (unsigned long long)errors);
	printf("datagrams %llu\n", (unsigned long long)total);
}

static long num(const char *s)
{
	char *e;
	long v = strtol(s, &e, 10);

	if (*e || v < 0)
		errx(64, "bad number: %s", s);
	return v;
}

int main(int argc, char **argv)
{
	prctl(PR_SET_NAME, "tcptop-traffic");
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(buf, 'x', sizeof(buf));
	if (argc == 4 && !strcmp(argv[1], "tcp"))
		do_tcp(num(argv[2]), num(argv[3]));
	else if (argc == 4 && !strcmp(argv[1], "udp"))
		do_udp(num(argv[2]), num(argv[3]));
	else if (argc == 4 && !strcmp(argv[1], "short"))
		do_short(num(argv[2]), num(argv[3]));
	else if (argc == 3 && !strcmp(argv[1], "hold"))
		do_hold(num(argv[2]));
	else if (argc == 3 && !strcmp(argv[1], "pingpong"))
		do_pingpong(atof(argv[2]));
	else if (argc == 3 && !strcmp(argv[1], "bulk"))
		do_bulk(atof(argv[2]));
	else if (argc == 4 && !strcmp(argv[1], "churn"))
		do_churn(num(argv[2]), atof(argv[3]));
	else if (argc == 3 && !strcmp(argv[1], "idle"))
		do_idle(num(argv[2]));
	else if (argc == 6 && !strcmp(argv[1], "udpfan"))
		do_udpfan(num(argv[2]), num(argv[3]), atof(argv[4]), num(argv[5]));
	else
		errx(64, "usage: tcptop-traffic tcp 4|6 BYTES | udp COUNT SIZE | short COUNT BYTES "
			 "| hold BYTES | pingpong SECS | bulk SECS | churn RATE SECS | idle COUNT "
			 "| udpfan RATE PEERS SECS SIZE");
	return 0;
}
