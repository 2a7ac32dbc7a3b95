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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "stream.h"
#include "tap.h"

static int srv;
static struct dns *R;		/* the resolver under test */
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

/* dns_start() into R, its wake-up descriptor into *fd. */
static int start(const char *server, int *fd, char *err, size_t errsz)
{
	int e = dns_start(&R, server, err, errsz);

	*fd = dns_wake_fd(R);
	return e;
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
	if (start(server, &fd, err, sizeof(err)))
		return 3;
	dns_host(R, FAMILY_INET, addr, true, buf, sizeof(buf));
	nanosleep(&t, NULL);
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec == 0 &&
			       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec < 100000
		       ? 0
		       : 1;
}

/* ---- spoofed and malformed replies (issue 21): each scenario in a child of its own, with a
 * resolver and a server socket of its own; the child's status says what it saw ---- */

/* A name in wire form, its root label the literal's NUL */
#define W(s)	    (const uint8_t *)(s), sizeof(s)
#define RDATA(p, s) ((p).rdata = (const uint8_t *)(s), (p).rdlen = sizeof(s))

/* A reply to query q (n bytes), built from parts a scenario can break: flags (byte 2 and 3),
 * the question's name (NULL: the query's own), type and class, the answer's owner (NULL: a
 * pointer to the question), its type, TTL and rdata (a PTR target in wire form). */
struct part {
	int id; /* -1: the query's */
	uint8_t f2, f3;
	const uint8_t *question;
	size_t question_len;
	uint16_t qtype, qclass;
	const uint8_t *owner;
	size_t owner_len;
	uint16_t type;
	uint32_t ttl;
	const uint8_t *rdata;
	size_t rdlen;
};

static void send_part(const uint8_t *q, size_t n, const struct part *pt)
{
	uint8_t r[1024];
	size_t o = 12;

	memcpy(r, q, 12);
	if (pt->id >= 0)
		r[0] = pt->id >> 8, r[1] = pt->id & 0xff;
	r[2] = pt->f2, r[3] = pt->f3;
	r[4] = 0, r[5] = 1, r[6] = 0, r[7] = pt->rdata ? 1 : 0;
	r[8] = r[9] = r[10] = r[11] = 0;
	if (pt->question) {
		memcpy(r + o, pt->question, pt->question_len);
		o += pt->question_len;
	} else {
		memcpy(r + o, q + 12, n - 12 - 4);
		o += n - 12 - 4;
	}
	r[o++] = pt->qtype >> 8, r[o++] = pt->qtype & 0xff;
	r[o++] = pt->qclass >> 8, r[o++] = pt->qclass & 0xff;
	if (pt->rdata) {
		if (pt->owner) {
			memcpy(r + o, pt->owner, pt->owner_len);
			o += pt->owner_len;
		} else {
			r[o++] = 0xc0, r[o++] = 12;
		}
		r[o++] = pt->type >> 8, r[o++] = pt->type & 0xff;
		r[o++] = 0, r[o++] = 1;
		r[o++] = pt->ttl >> 24, r[o++] = pt->ttl >> 16 & 0xff, r[o++] = pt->ttl >> 8 & 0xff,
		r[o++] = pt->ttl & 0xff;
		r[o++] = pt->rdlen >> 8, r[o++] = pt->rdlen & 0xff;
		memcpy(r + o, pt->rdata, pt->rdlen);
		o += pt->rdlen;
	}
	sendto(srv, r, o, 0, (struct sockaddr *)&peer, peer_len);
}

/* A good answer: "good.example", TTL 300. */
static const struct part good = { -1, 0x81, 0x80, NULL, 0,   12,
				  1,  NULL, 0,	  12,	300, W("\4good\7example") };

/* The server socket on loopback, and a resolver asking it; its wake-up descriptor, or -1. */
static int scenario_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char server[64], err[256];
	int fd;

	srv = socket(AF_INET, SOCK_DGRAM, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&a, alen) ||
	    getsockname(srv, (struct sockaddr *)&a, &alen))
		return -1;
	snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(a.sin_port));
	if (start(server, &fd, err, sizeof(err)))
		return -1;
	return fd;
}

/* Sends what breaks (NULL: nothing), then the good answer when also_good; the address's name
 * afterwards (or "" when none) is printed for the parent, which compares it. */
static int scenario(const struct part *bad, bool also_good, char *name, size_t size)
{
	uint8_t m[512], addr[16] = { 10, 7, 7, 7 };
	char q[256];
	size_t n;
	int fd = scenario_start();

	if (fd < 0)
		return 2;
	dns_host(R, FAMILY_INET, addr, true, name, size);
	if (!(n = next_query(2000, m, sizeof(m), q, sizeof(q))))
		return 3;
	if (bad)
		send_part(m, n, bad);
	wait_wake(fd, 300);
	dns_drain(R);
	if (also_good) {
		send_part(m, n, &good);
		wait_wake(fd, 300);
		dns_drain(R);
	}
	if (!dns_host(R, FAMILY_INET, addr, false, name, size))
		snprintf(name, size, "%s", "");
	return 0;
}

/* Runs fn in a child; its name (the last line it writes on a pipe) into got. */
static int in_child(int (*fn)(char *out, size_t size), char *got, size_t size)
{
	int p[2], st = -1;
	pid_t pid;
	ssize_t k;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		char out[DNS_HOST_MAX] = "";
		int r;

		close(p[0]);
		r = fn(out, sizeof(out));
		(void)!write(p[1], out, strlen(out));
		_exit(r);
	}
	close(p[1]);
	k = read(p[0], got, size - 1);
	got[k > 0 ? k : 0] = '\0';
	close(p[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int never_sent(char *name, size_t size)
{
	uint8_t m[512], y[16] = { 10, 8, 0, 0 };
	char q[256];
	size_t n = 0;
	int fd = scenario_start();
	/* the question of the last address asked: never sent, 128 are in flight before it */
	static const uint8_t last[] = "\00243\0011\0018\00210\7in-addr\4arpa";
	struct part spoof = { 0, 0x81, 0x80, last, sizeof(last), 12,
			      1, NULL, 0,    12,   300,		 W("\10attacker\3com") };

	if (fd < 0)
		return 2;
	for (uint32_t i = 0; i < 300; i++) {
		y[2] = i >> 8, y[3] = i & 0xff;
		dns_host(R, FAMILY_INET, y, true, name, size);
	}
	while (next_query(300, m, sizeof(m), q, sizeof(q)))
		n++;
	if (!n)
		return 3;
	send_part(m, 0, &spoof); /* id 0: an unsent entry's before */
	wait_wake(fd, 300);
	dns_drain(R);
	snprintf(name, size, "%s", "");
	for (uint32_t i = 0; i < 300; i++) {
		char b[DNS_HOST_MAX];

		y[2] = i >> 8, y[3] = i & 0xff;
		if (dns_host(R, FAMILY_INET, y, false, b, sizeof(b)))
			snprintf(name, size, "10.8.%u.%u=%s", y[2], y[3], b);
	}
	return 0;
}

static const uint8_t evil[] = "\4evil\7example";

static int qr0(char *name, size_t size)
{
	struct part p = good;

	p.f2 = 0x01, p.f3 = 0; /* the query's flags: QR=0 */
	RDATA(p, evil);
	return scenario(&p, true, name, size);
}

static int opcode(char *name, size_t size)
{
	struct part p = good;

	p.f2 = 0x81 | 2 << 3; /* a response, opcode 2 (STATUS) */
	RDATA(p, evil);
	return scenario(&p, true, name, size);
}

static int wrong_question(char *name, size_t size)
{
	static const uint8_t other[] = "\0019\0019\0019\00210\7in-addr\4arpa";
	struct part p = good;

	p.question = other;
	p.question_len = sizeof(other);
	RDATA(p, evil);
	return scenario(&p, true, name, size);
}

static int wrong_qtype(char *name, size_t size)
{
	struct part p = good;

	p.qtype = 1; /* the question for an A record */
	RDATA(p, evil);
	return scenario(&p, true, name, size);
}

static int wrong_qclass(char *name, size_t size)
{
	struct part p = good;

	p.qclass = 3; /* CHAOS */
	RDATA(p, evil);
	return scenario(&p, true, name, size);
}

static int wrong_owner(char *name, size_t size)
{
	static const uint8_t owner[] = "\0011\0011\0011\0011\7in-addr\4arpa";
	struct part p = good;

	p.owner = owner;
	p.owner_len = sizeof(owner);
	RDATA(p, evil);
	return scenario(&p, false, name, size);
}

static int nul_label(char *name, size_t size)
{
	struct part p = good;

	RDATA(p, "\5ev\0il\7example");
	return scenario(&p, false, name, size);
}

static int dot_label(char *name, size_t size)
{
	struct part p = good;

	RDATA(p, "\13www.example\3com");
	return scenario(&p, false, name, size);
}

/* TTL 2^31: RFC 2181 section 8, as 0: asked again once the shortest cache time (5 s) is over. */
static int huge_ttl(char *name, size_t size)
{
	uint8_t m[512], addr[16] = { 10, 7, 7, 7 };
	char q[256];
	size_t n;
	struct part p = good;
	struct timespec t = { 5, 300000000 };
	int fd = scenario_start();

	p.ttl = 0x80000000u;
	if (fd < 0)
		return 2;
	dns_host(R, FAMILY_INET, addr, true, name, size);
	if (!(n = next_query(2000, m, sizeof(m), q, sizeof(q))))
		return 3;
	send_part(m, n, &p);
	wait_wake(fd, 300);
	dns_drain(R);
	nanosleep(&t, NULL);
	dns_host(R, FAMILY_INET, addr, true, name, size);
	snprintf(name, size, "%s",
		 next_query(1000, m, sizeof(m), q, sizeof(q)) ? "asked again" : "cached");
	return 0;
}

/* The IDs of 40 queries: "random" unless they count up. */
static int ids(char *name, size_t size)
{
	uint8_t m[512], y[16] = { 10, 6, 0, 0 };
	char q[256];
	unsigned prev = 0, up = 0, n = 0;
	int fd = scenario_start();

	if (fd < 0)
		return 2;
	for (uint32_t i = 0; i < 40; i++) {
		y[3] = i;
		dns_host(R, FAMILY_INET, y, true, name, size);
	}
	while (next_query(300, m, sizeof(m), q, sizeof(q))) {
		unsigned id = m[0] << 8 | m[1];

		up += n++ && id == ((prev + 1) & 0xffff);
		prev = id;
	}
	/* random: one ID in 65,536 follows its predecessor by chance */
	if (up < 4)
		snprintf(name, size, "random");
	else
		snprintf(name, size, "%u of %u counting up", up, n);
	return n == 40 ? 0 : 3;
}

/* 250 lookups, each answered as it comes: the source port changes every 100 queries, and the
 * answers that come on either socket are taken. */
static int ports(char *name, size_t size)
{
	uint8_t m[512], y[16] = { 10, 5, 0, 0 };
	char q[256], b[DNS_HOST_MAX];
	uint16_t seen[8];
	unsigned nports = 0, named = 0;
	int fd = scenario_start();

	if (fd < 0)
		return 2;
	for (uint32_t i = 0; i < 250; i++) {
		size_t n;

		y[3] = i;
		dns_host(R, FAMILY_INET, y, true, b, sizeof(b));
		if (!(n = next_query(2000, m, sizeof(m), q, sizeof(q))))
			return 3;
		if (!nports || seen[nports - 1] != ntohs(peer.sin_port)) {
			if (nports == 8)
				return 4;
			seen[nports++] = ntohs(peer.sin_port);
		}
		send_part(m, n, &good);
	}
	/* the resolver's thread takes the answers as it is scheduled: wait for all of them, 5 s
	 * at most (a loaded machine; a lost answer still fails) */
	for (int t = 0; t < 50 && named < 250; t++) {
		wait_wake(fd, 100);
		dns_drain(R);
		named = 0;
		for (uint32_t i = 0; i < 250; i++) {
			y[3] = i;
			named += dns_host(R, FAMILY_INET, y, false, b, sizeof(b));
		}
	}
	snprintf(name, size, "%u ports, %u named", nports, named);
	return 0;
}

static void spoofs(void)
{
	static const struct {
		int (*fn)(char *, size_t);
		const char *want, *what;
	} cases[] = {
		{ never_sent, "", "ID 0 naming an address never sent: no name" },
		{ qr0, "good.example", "a query (QR=0) is no answer: the real one is taken" },
		{ opcode, "good.example",
		  "opcode 2 is no answer to a query: the real one is taken" },
		{ wrong_question, "good.example",
		  "another question is no answer: the real one is taken" },
		{ wrong_qtype, "good.example",
		  "a question of type A is not ours: the real one is taken" },
		{ wrong_qclass, "good.example",
		  "a question of class CH is not ours: the real one is taken" },
		{ wrong_owner, "", "a PTR of another owner names nothing" },
		{ nul_label, "", "a label with a NUL is refused" },
		{ dot_label, "www\\x2Eexample.com",
		  "a dot inside a label is no separator: escaped" },
		{ huge_ttl, "asked again", "a TTL of 2^31 is 0, not a day" },
		{ ids, "random", "query IDs are random" },
		{ ports, "3 ports, 250 named",
		  "a new source port every 100 queries, answers on each taken" },
	};
	char got[DNS_HOST_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = in_child(cases[i].fn, got, sizeof(got));

		if (!ok(st == 0 && !strcmp(got, cases[i].want), "%s", cases[i].what))
			printf("#   status %d, got '%s', want '%s'\n", st, got, cases[i].want);
	}
}

/* dns_own_row(): the resolver's own flow (this pid, netns and boot, a port its socket had, to
 * the server) is recognised; the same flow with any one of them different is not. */
static void own_rows(uint16_t lport, uint16_t sport)
{
	struct rec_snap_row r = { .id = { .proto = PROTO_UDP,
					  .family = FAMILY_INET,
					  .lport = lport,
					  .rport = sport,
					  .raddr = { 127, 0, 0, 1 } } };
	struct rec_snap_row x;
	char boot[HOST_BOOT_LEN] = "";
	struct stat sb;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	if (f && fgets(boot, sizeof(boot), f))
		boot[strcspn(boot, "\n")] = '\0';
	if (f)
		fclose(f);
	r.pid = getpid();
	r.id.netns = stat("/proc/self/ns/net", &sb) == 0 ? (uint32_t)sb.st_ino : 0;
	ok(dns_own_row(R, &r, boot), "our own query's row is ours");
	ok(!dns_own_row(R, &r, "00000000-0000-0000-0000-000000000000") && !dns_own_row(R, &r, "") &&
		   !dns_own_row(R, &r, NULL),
	   "the same row of another host (boot id) is not");
	x = r, x.pid++;
	ok(!dns_own_row(R, &x, boot), "nor of another process");
	x = r, x.flags |= CONN_F_NO_OWNER;
	ok(!dns_own_row(R, &x, boot), "nor of no known process");
	x = r, x.id.netns++;
	ok(!dns_own_row(R, &x, boot), "nor in another network namespace");
	x = r, x.id.lport++;
	ok(!dns_own_row(R, &x, boot), "nor from a port our sockets never had");
	x = r, x.id.rport++;
	ok(!dns_own_row(R, &x, boot), "nor to another port");
	x = r, x.id.raddr[3] = 2;
	ok(!dns_own_row(R, &x, boot), "nor to another address");
	x = r, x.id.proto = PROTO_TCP;
	ok(!dns_own_row(R, &x, boot), "nor TCP");
	x = r, x.id.family = FAMILY_INET6;
	memset(x.id.raddr, 0, 16);
	x.id.raddr[10] = x.id.raddr[11] = 0xff;
	x.id.raddr[12] = 127, x.id.raddr[15] = 1;
	ok(dns_own_row(R, &x, boot), "IPv4-mapped: the same server");
	ok(!dns_own_row(NULL, &r, boot), "no resolver: nothing is ours");
}

/* ---- the parser alone ---- */

struct mb {
	uint8_t b[2048];
	size_t n;
};

static void mb_put(struct mb *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void mb_u16(struct mb *m, uint16_t v)
{
	m->b[m->n++] = v >> 8;
	m->b[m->n++] = v & 0xff;
}

/* A header (id 0x1234, a response, flags3 = rcode) with one question and an answers. */
static void mb_head(struct mb *m, uint8_t f2, uint8_t f3, uint16_t qd, uint16_t an,
		    const uint8_t *q, size_t qlen)
{
	m->n = 0;
	mb_u16(m, 0x1234);
	m->b[m->n++] = f2;
	m->b[m->n++] = f3;
	mb_u16(m, qd);
	mb_u16(m, an);
	mb_u16(m, 0);
	mb_u16(m, 0);
	mb_put(m, q, qlen);
	mb_u16(m, 12);
	mb_u16(m, 1);
}

static void mb_rr(struct mb *m, const void *owner, size_t olen, uint16_t type, uint16_t class,
		  uint32_t ttl, const void *rd, size_t rdlen)
{
	mb_put(m, owner, olen);
	mb_u16(m, type);
	mb_u16(m, class);
	mb_u16(m, ttl >> 16);
	mb_u16(m, ttl & 0xffff);
	mb_u16(m, rdlen);
	mb_put(m, rd, rdlen);
}

#define N(s) (s), sizeof(s)

static enum dns_reply parse(const struct mb *m, const uint8_t *q, size_t qlen, char *name,
			    uint32_t *ttl)
{
	name[0] = '\0';
	*ttl = 12345;
	return dns_reply_parse(m->b, m->n, 0x1234, q, qlen, name, DNS_HOST_MAX, ttl);
}

static void parser(void)
{
	static const uint8_t q[] = "\0015\0012\0010\003192\7in-addr\4arpa";
	static const uint8_t qup[] = "\0015\0012\0010\003192\7IN-ADDR\4ArPa";
	static const uint8_t mid[] = "\0045-25\0012\0010\003192\7in-addr\4arpa";
	static const uint8_t ptr_ok[] = "\4host\7example";
	static const uint8_t ptr_bad[] = "\4evil\7example";
	uint8_t wire[DNS_NAME_WIRE], v4[16] = { 192, 0, 2, 5 };
	char name[DNS_HOST_MAX];
	uint32_t ttl;
	struct mb m;

	ok(dns_ptr_qname(FAMILY_INET, v4, wire) == sizeof(q) && !memcmp(wire, q, sizeof(q)),
	   "the question of 192.0.2.5 is 5.2.0.192.in-addr.arpa");

	mb_head(&m, 0x81, 0x80, 1, 1, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, N(ptr_ok));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NAME && !strcmp(name, "host.example") &&
		   ttl == 300,
	   "a plain answer: its name and TTL (%s, %u)", name, ttl);
	ok(dns_reply_parse(m.b, m.n, 0x1235, N(q), name, sizeof(name), &ttl) == DNS_REPLY_NOT_OURS,
	   "another ID: not ours");
	ok(parse(&m, N(mid), name, &ttl) == DNS_REPLY_NOT_OURS, "another question: not ours");

	mb_head(&m, 0x81, 0x80, 1, 1, N(qup));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, N(ptr_ok));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NAME,
	   "the question echoed in other case (0x20): ours");

	mb_head(&m, 0x81, 0x80, 2, 1, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, N(ptr_ok));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NOT_OURS, "two questions: not ours");

	mb_head(&m, 0x81, 0x83, 1, 0, N(q));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE, "NXDOMAIN: no name");
	mb_head(&m, 0x83, 0x80, 1, 1, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, N(ptr_ok));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE, "truncated (TC): no name");

	/* RFC 2317: the reverse zone delegated through a CNAME */
	mb_head(&m, 0x81, 0x80, 1, 2, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 5, 1, 600, N(mid));
	mb_rr(&m, N(mid), 12, 1, 300, N(ptr_ok));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NAME && !strcmp(name, "host.example") &&
		   ttl == 300,
	   "a CNAME, then the PTR of its target: the name, the least TTL");
	mb_head(&m, 0x81, 0x80, 1, 2, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 5, 1, 0x80000001u, N(mid));
	mb_rr(&m, N(mid), 12, 1, 300, N(ptr_ok));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NAME && ttl == 0,
	   "a TTL with its top bit set counts as 0 (%u)", ttl);
	mb_head(&m, 0x81, 0x80, 1, 2, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 5, 1, 600, N(mid));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, N(ptr_bad));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE,
	   "after a CNAME, a PTR of the name asked is passed over");

	mb_head(&m, 0x81, 0x80, 1, 9, N(q));
	{
		uint8_t from[64], to[64];

		memcpy(from, q, sizeof(q));
		for (int i = 0; i < 9; i++) {
			size_t n = sizeof(q) + 2;

			to[0] = 1, to[1] = 'a' + i;
			memcpy(to + 2, q, sizeof(q));
			mb_rr(&m, from, i ? n : sizeof(q), 5, 1, 60, to, n);
			memcpy(from, to, n);
		}
	}
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE, "a chain of 9 CNAMEs: refused");

	mb_head(&m, 0x81, 0x80, 1, 2, N(q));
	mb_rr(&m, "\4evil\0", 6, 12, 1, 300, N(ptr_bad));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, N(ptr_ok));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NAME && !strcmp(name, "host.example"),
	   "a record of another owner is passed over, the name asked's is taken");
	mb_head(&m, 0x81, 0x80, 1, 2, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 3, 300, N(ptr_bad));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, N(ptr_ok));
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NAME && !strcmp(name, "host.example"),
	   "a record of class CH is passed over");

	mb_head(&m, 0x81, 0x80, 1, 1, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, "\4host\7example\0junk", 19);
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE, "rdata longer than its name: refused");
	mb_head(&m, 0x81, 0x80, 1, 1, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, "\0", 1);
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE, "the root as a host name: refused");
	mb_head(&m, 0x81, 0x80, 1, 1, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, "\4host\xc0\x40", 7);
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE, "a pointer forwards: refused");
	{
		size_t at;

		mb_head(&m, 0x81, 0x80, 1, 1, N(q));
		at = m.n;
		mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, "\xc0\x00", 2);
		m.b[m.n - 2] = 0xc0 | (uint8_t)((at + 12) >> 8);
		m.b[m.n - 1] = (uint8_t)(at + 12); /* the rdata itself */
		ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE,
		   "a pointer to itself: refused, no loop");
	}
	mb_head(&m, 0x81, 0x80, 1, 1, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, "\xc0\x0c", 2);
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NAME && !strcmp(name, "5.2.0.192.in-addr.arpa"),
	   "a pointer backwards is followed");
	mb_head(&m, 0x81, 0x80, 1, 1, N(q));
	mb_rr(&m, "\xc0\x0c", 2, 12, 1, 300, "\3a\033c\0", 5);
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NAME && !strcmp(name, "a\\x1Bc"),
	   "control bytes sanitised (%s)", name);
	m.n -= 3;
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NONE, "cut inside the answer: no name");
	m.n = 12 + sizeof(q);
	ok(parse(&m, N(q), name, &ttl) == DNS_REPLY_NOT_OURS, "cut inside the question: not ours");
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	uint8_t m[512], v4[16] = { 10, 0, 9, 2 }, other[16] = { 10, 0, 9, 3 };
	uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 9, 2 };
	char err[256], buf[DNS_HOST_MAX], q[256], server[64];
	int fd, st;
	size_t n;
	pid_t pid;

	pid = fork();
	if (pid == 0)
		_exit(refused_child());
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		st = -1;
	ok(st == 0, "a server port that refuses costs no CPU (wait status %d)", st);
	parser();
	spoofs();

	ok(start("dns.example", &fd, err, sizeof(err)) == -EINVAL, "a name is no server: %s", err);
	ok(start("127.0.0.1:0", &fd, err, sizeof(err)) == -EINVAL, "port 0 is refused");

	srv = socket(AF_INET, SOCK_DGRAM, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&a, alen) ||
	    getsockname(srv, (struct sockaddr *)&a, &alen))
		return ok(0, "a server socket on loopback"), done_testing();
	snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(a.sin_port));
	ok(start(server, &fd, err, sizeof(err)) == 0, "started against %s", server);

	dns_round(R);
	ok(!dns_host(R, FAMILY_INET, v4, true, buf, sizeof(buf)), "no name before the answer");
	ok(dns_waiting(R) == 1, "one lookup of this round waits");
	n = next_query(2000, m, sizeof(m), q, sizeof(q));
	is_str(q, "2.9.0.10.in-addr.arpa", "the PTR question");
	own_rows(ntohs(peer.sin_port), ntohs(a.sin_port));
	answer(m, n, "ev\001il,\"q\xff/example");
	ok(wait_wake(fd, 2000), "the answer wakes the caller");
	dns_drain(R);
	ok(dns_waiting(R) == 0, "nothing waits once answered");
	ok(dns_host(R, FAMILY_INET, v4, true, buf, sizeof(buf)), "the name is known");
	is_str(buf, "ev\\x01il,\"q\\xFF.example", "sanitised as every hostile name is");
	ok(dns_host(R, FAMILY_INET6, mapped, true, buf, sizeof(buf)),
	   "IPv4-mapped: the IPv4 entry");
	ok(next_query(200, m, sizeof(m), q, sizeof(q)) == 0, "and no second question");

	dns_round(R);
	ok(!dns_host(R, FAMILY_INET, other, true, buf, sizeof(buf)) && dns_waiting(R) == 1,
	   "a new address waits in its round");
	n = next_query(2000, m, sizeof(m), q, sizeof(q));
	dns_round(R);
	ok(!dns_host(R, FAMILY_INET, other, true, buf, sizeof(buf)) && dns_waiting(R) == 0,
	   "still in flight in the next round: not waited for again");

	{
		uint8_t y[16] = { 192, 168, 0, 0 };
		size_t asked = 0;

		ok(!dns_host(R, FAMILY_INET, y, false, buf, sizeof(buf)) && dns_waiting(R) == 0 &&
			   next_query(200, m, sizeof(m), q, sizeof(q)) == 0,
		   "without ask: nothing asked");
		for (uint32_t i = 0; i < 300; i++) {
			y[2] = i >> 8, y[3] = i & 0xff;
			dns_host(R, FAMILY_INET, y, true, buf, sizeof(buf));
		}
		while (next_query(300, m, sizeof(m), q, sizeof(q)))
			asked++;
		ok(asked > 0 && asked <= 127, "at most 128 queries in flight (%zu new)", asked);
	}

	/* more addresses than the cache holds: the older half is forgotten, the index rebuilt */
	for (uint32_t i = 0; i < 5000; i++) {
		uint8_t x[16] = { 172, 16, i >> 8, i & 0xff };

		dns_host(R, FAMILY_INET, x, true, buf, sizeof(buf));
	}
	dns_round(R);
	{
		uint8_t kept[16] = { 172, 16, 4000 >> 8, 4000 & 0xff }; /* before the halving */
		uint8_t gone[16] = { 172, 16, 0, 0 };

		dns_host(R, FAMILY_INET, kept, true, buf, sizeof(buf));
		ok(dns_waiting(R) == 0,
		   "a recent address is still found after the cache was halved");
		dns_host(R, FAMILY_INET, gone, true, buf, sizeof(buf));
		ok(dns_waiting(R) == 1, "a forgotten one is asked anew");
	}
	dns_stop(R);
	return done_testing();
}
