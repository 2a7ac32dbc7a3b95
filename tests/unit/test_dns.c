// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of lib/dns.c against a DNS server played by the test on a loopback UDP socket:
 * the query asked, a hostile answer sanitised, IPv4-mapped addresses, rounds, reading without
 * asking, the cap on queries in flight, the cache's index once it is full, and a server port that
 * refuses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "stream.h"
#include "tap.h"

static int srv;
static struct sockaddr_in peer; /* the resolver's socket, from its last query */
static socklen_t peer_len;

/* The next query within ms: its id and question name (dotted) and length; 0 when none came. */
static size_t next_query(int ms, uint8_t *msg, size_t size, char *qname, size_t qsize)
{
	struct pollfd p = { .fd = srv, .events = POLLIN };
	ssize_t n;
	size_t o = 12, q = 0;

	if (poll(&p, 1, ms) != 1)
		return 0;
	peer_len = sizeof(peer);
	n = recvfrom(srv, msg, size, 0, (struct sockaddr *)&peer, &peer_len);
	if (n < 12)
		return 0;
	while (o < (size_t)n && msg[o] && q + msg[o] + 1 < qsize) {
		memcpy(qname + q, msg + o + 1, msg[o]);
		q += msg[o];
		qname[q++] = '.';
		o += msg[o] + 1;
	}
	qname[q ? q - 1 : 0] = '\0';
	return (size_t)n;
}

/* Answers query m (n bytes) with one PTR record: the labels of name, split at '/'. */
static void answer(const uint8_t *m, size_t n, const char *name)
{
	uint8_t r[512];
	size_t o, l = 0, rd;

	memcpy(r, m, n);
	r[2] = 0x81, r[3] = 0x80; /* response, recursion available, no error */
	r[7] = 1;		  /* one answer */
	o = n;
	r[o++] = 0xc0, r[o++] = 12;			 /* the question's name */
	r[o++] = 0, r[o++] = 12;			 /* PTR */
	r[o++] = 0, r[o++] = 1;				 /* IN */
	r[o++] = 0, r[o++] = 0, r[o++] = 1, r[o++] = 44; /* TTL 300 */
	rd = o;
	o += 2;
	for (const char *s = name;; s += l + 1) {
		const char *slash = strchr(s, '/');

		l = slash ? (size_t)(slash - s) : strlen(s);
		r[o++] = l;
		memcpy(r + o, s, l);
		o += l;
		if (!slash)
			break;
	}
	r[o++] = 0;
	r[rd] = (o - rd - 2) >> 8, r[rd + 1] = (o - rd - 2) & 0xff;
	sendto(srv, r, o, 0, (struct sockaddr *)&peer, peer_len);
}

static bool wait_wake(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* In a child of its own (the resolver is one per process): a server port that refuses must not
 * spin the resolver thread. Exit status 0 when it used under 0.1 s of CPU in 0.5 s. */
static int refused_child(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_DGRAM, 0), fd;
	uint8_t addr[16] = { 10, 0, 0, 1 };
	char err[256], buf[DNS_HOST_MAX], server[64];
	struct timespec t = { 0, 500000000 };
	struct rusage ru;

	/* a port just freed: nobody listens there */
	if (bind(s, (struct sockaddr *)&a, alen) || getsockname(s, (struct sockaddr *)&a, &alen))
		return 2;
	snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(a.sin_port));
	close(s);
	if (dns_start(server, &fd, err, sizeof(err)))
		return 3;
	dns_host(FAMILY_INET, addr, true, buf, sizeof(buf));
	nanosleep(&t, NULL);
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec == 0 &&
			       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec < 100000
		       ? 0
		       : 1;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	uint8_t m[512], v4[16] = { 10, 0, 9, 2 }, other[16] = { 10, 0, 9, 3 };
	uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 9, 2 };
	char err[256], buf[DNS_HOST_MAX], q[256], server[64];
	uint16_t lport, sport;
	int fd, st;
	size_t n;
	pid_t pid;

	pid = fork();
	if (pid == 0)
		_exit(refused_child());
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		st = -1;
	ok(st == 0, "a server port that refuses costs no CPU (wait status %d)", st);

	ok(dns_start("dns.example", &fd, err, sizeof(err)) == -EINVAL, "a name is no server: %s",
	   err);
	ok(dns_start("127.0.0.1:0", &fd, err, sizeof(err)) == -EINVAL, "port 0 is refused");

	srv = socket(AF_INET, SOCK_DGRAM, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&a, alen) ||
	    getsockname(srv, (struct sockaddr *)&a, &alen))
		return ok(0, "a server socket on loopback"), done_testing();
	snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(a.sin_port));
	ok(dns_start(server, &fd, err, sizeof(err)) == 0, "started against %s", server);
	dns_self(&lport, &sport);
	ok(sport == ntohs(a.sin_port) && lport != 0, "dns_self gives both ports");

	dns_round();
	ok(!dns_host(FAMILY_INET, v4, true, buf, sizeof(buf)), "no name before the answer");
	ok(dns_waiting() == 1, "one lookup of this round waits");
	n = next_query(2000, m, sizeof(m), q, sizeof(q));
	is_str(q, "2.9.0.10.in-addr.arpa", "the PTR question");
	ok(ntohs(peer.sin_port) == lport, "asked from the port dns_self gives");
	answer(m, n, "ev\001il,\"q\xff/example");
	ok(wait_wake(fd, 2000), "the answer wakes the caller");
	dns_drain();
	ok(dns_waiting() == 0, "nothing waits once answered");
	ok(dns_host(FAMILY_INET, v4, true, buf, sizeof(buf)), "the name is known");
	is_str(buf, "ev\\x01il,\"q\\xFF.example", "sanitised as every hostile name is");
	ok(dns_host(FAMILY_INET6, mapped, true, buf, sizeof(buf)), "IPv4-mapped: the IPv4 entry");
	ok(next_query(200, m, sizeof(m), q, sizeof(q)) == 0, "and no second question");

	dns_round();
	ok(!dns_host(FAMILY_INET, other, true, buf, sizeof(buf)) && dns_waiting() == 1,
	   "a new address waits in its round");
	n = next_query(2000, m, sizeof(m), q, sizeof(q));
	dns_round();
	ok(!dns_host(FAMILY_INET, other, true, buf, sizeof(buf)) && dns_waiting() == 0,
	   "still in flight in the next round: not waited for again");

	{
		uint8_t y[16] = { 192, 168, 0, 0 };
		size_t asked = 0;

		ok(!dns_host(FAMILY_INET, y, false, buf, sizeof(buf)) && dns_waiting() == 0 &&
			   next_query(200, m, sizeof(m), q, sizeof(q)) == 0,
		   "without ask: nothing asked");
		for (uint32_t i = 0; i < 300; i++) {
			y[2] = i >> 8, y[3] = i & 0xff;
			dns_host(FAMILY_INET, y, true, buf, sizeof(buf));
		}
		while (next_query(300, m, sizeof(m), q, sizeof(q)))
			asked++;
		ok(asked > 0 && asked <= 127, "at most 128 queries in flight (%zu new)", asked);
	}

	/* more addresses than the cache holds: the older half is forgotten, the index rebuilt */
	for (uint32_t i = 0; i < 5000; i++) {
		uint8_t x[16] = { 172, 16, i >> 8, i & 0xff };

		dns_host(FAMILY_INET, x, true, buf, sizeof(buf));
	}
	dns_round();
	{
		uint8_t kept[16] = { 172, 16, 4000 >> 8, 4000 & 0xff }; /* before the halving */
		uint8_t gone[16] = { 172, 16, 0, 0 };

		dns_host(FAMILY_INET, kept, true, buf, sizeof(buf));
		ok(dns_waiting() == 0,
		   "a recent address is still found after the cache was halved");
		dns_host(FAMILY_INET, gone, true, buf, sizeof(buf));
		ok(dns_waiting() == 1, "a forgotten one is asked anew");
	}
	dns_stop();
	return done_testing();
}
