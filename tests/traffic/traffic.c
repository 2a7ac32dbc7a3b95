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
 *   tcptop-traffic churn RATE SECONDS   RATE short connections per second; prints "conns N"
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
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
	else
		errx(64, "usage: tcptop-traffic tcp 4|6 BYTES | udp COUNT SIZE | short COUNT BYTES "
			 "| hold BYTES | pingpong SECS | bulk SECS | churn RATE SECS");
	return 0;
}
