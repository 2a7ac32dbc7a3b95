// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reverse DNS for remote addresses, shared by tcptop-view and tcptop-csv: our own small PTR
 * stub over UDP rather than getnameinfo(3) or c-ares. It must never block (a thread asks, the
 * callers only read the cache), it needs each answer's TTL (Debian 12's c-ares, 1.18, gives PTR
 * answers as a hostent without one), and a server the tests can place on loopback at any port.
 *
 * It matches replies as a stub resolver does, because the replies come from the network: IDs
 * from getrandom(2); a new socket, so a new source port (Linux binds an unbound UDP socket to a
 * random free port of ip_local_port_range), every DNS_SOCK_QUERIES queries; the socket connected
 * to the server, so that the kernel drops datagrams from any other address or port; a reply
 * taken only for a query sent on the socket it came in on, with its ID, QR 1, opcode 0 and the
 * question asked (dns_reply_parse() has the rest).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "htab.h"
#include "util.h"

#define DNS_CACHE	 4096 /* addresses remembered (a full cache forgets the older half) */
#define DNS_TIMEOUT	 2000 /* ms per try */
#define DNS_TRIES	 2
#define DNS_INFLIGHT	 128 /* queries unanswered at once at most: servers cap them (dnsmasq: 150) */
#define DNS_NEG_TTL	 60 /* s a failed lookup is not asked again */
#define DNS_MIN_TTL	 5
#define DNS_MAX_TTL	 86400
#define DNS_SOCK_QUERIES 100 /* queries a socket (its source port) sends before a new one */
#define DNS_CNAME_MAX	 8

#define T_CNAME 5
#define T_PTR	12
#define C_IN	1

enum ent_state {
	ENT_IDLE,   /* answered, failed, or never asked */
	ENT_QUEUED, /* to be sent */
	ENT_SENT,   /* in flight: in dns.sent under (socket generation, id) */
};

struct dns_ent {
	struct hnode by_addr, by_id;
	int family;
	uint8_t addr[16];
	char *name; /* sanitised; NULL: not known (pending or failed) */
	enum ent_state state;
	time_t expires; /* after this the entry is asked again */
	uint16_t id;	/* of the query in flight */
	int slot;	/* the socket it was sent on: dns.sock[slot], generation gen */
	uint32_t gen;
	int tries;
	long long sent_ms;
	unsigned round; /* dns_round() when it was last asked */
};

struct dns_sock {
	int fd; /* -1: none */
	uint32_t gen;
	unsigned sent;	   /* queries sent on it */
	unsigned inflight; /* entries in flight on it */
};

struct dns {
	pthread_t thread;
	pthread_mutex_t lock; /* everything below but the descriptors' numbers */
	int wake[2];	      /* the thread signals answers */
	int kick[2];	      /* the callers signal new questions */
	struct sockaddr_storage server;
	socklen_t server_len;
	struct dns_sock sock[2]; /* the current one, and the one before while it has queries out */
	int cur;
	uint32_t gens;
	struct dns_ent *e;
	size_t n;
	struct htab by_addr, by_id;
	unsigned round;
	bool news;
	bool kicked; /* a byte is in kick that the thread has not read yet: no need for another */
	uint8_t rnd[64];
	size_t rnd_left;
	/* who we are, for dns_own_row() */
	uint32_t pid, netns;
	char boot_id[HOST_BOOT_LEN];
	int family; /* FAMILY_INET or FAMILY_INET6: the server's */
	uint8_t server_addr[16];
	uint16_t server_port;
	uint8_t ports[65536 / 8]; /* every local port a socket of ours had */
};

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static time_t now_s(void)
{
	return (time_t)(now_ms() / 1000);
}

/* ---- the wire format ---- */

size_t dns_ptr_qname(int family, const uint8_t addr[16], uint8_t q[DNS_NAME_WIRE])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (family == FAMILY_INET) {
		for (int i = 3; i >= 0; i--) {
			int n = snprintf((char *)q + o + 1, 4, "%u", addr[i]);

			q[o] = n;
			o += n + 1;
		}
		memcpy(q + o, "\7in-addr\4arpa", 14);
		return o + 14;
	}
	for (int i = 15; i >= 0; i--) {
		q[o++] = 1;
		q[o++] = hex[addr[i] & 15];
		q[o++] = 1;
		q[o++] = hex[addr[i] >> 4];
	}
	memcpy(q + o, "\3ip6\4arpa", 10);
	return o + 10;
}

size_t dns_query_encode(uint16_t id, const uint8_t *qname, size_t qlen, uint8_t *m)
{
	size_t o = 12;

	memset(m, 0, 12);
	m[0] = id >> 8;
	m[1] = id;
	m[2] = 0x01; /* recursion desired */
	m[5] = 1;    /* one question */
	memcpy(m + o, qname, qlen);
	o += qlen;
	m[o++] = 0;
	m[o++] = T_PTR;
	m[o++] = 0;
	m[o++] = C_IN;
	return o;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * The name at *p of message m into out (wire form, uncompressed, at most DNS_NAME_WIRE bytes);
 * *p moves past it (past its first pointer). A pointer must point before the labels that hold
 * it, so every jump goes backwards and none can loop. 0, or -1 for a name that is malformed,
 * too long or runs out of the message.
 */
static int name_unpack(const uint8_t *m, size_t len, size_t *p, uint8_t *out, size_t *outlen)
{
	size_t at = *p, start = at, o = 0;
	bool jumped = false;

	for (;;) {
		uint8_t l;

		if (at >= len)
			return -1;
		l = m[at];
		if ((l & 0xC0) == 0xC0) {
			size_t to;

			if (at + 1 >= len)
				return -1;
			to = (size_t)(l & 0x3F) << 8 | m[at + 1];
			if (to >= start)
				return -1;
			if (!jumped)
				*p = at + 2;
			jumped = true;
			start = at = to;
			continue;
		}
		if (l & 0xC0) /* 0x40 and 0x80: extended label types, obsolete */
			return -1;
		if (at + 1 + l > len || o + 1 + l > DNS_NAME_WIRE)
			return -1;
		memcpy(out + o, m + at, 1 + (size_t)l);
		o += 1 + (size_t)l;
		at += 1 + (size_t)l;
		if (!l)
			break;
	}
	if (!jumped)
		*p = at;
	*outlen = o;
	return 0;
}

/* Names in wire form, equal but for ASCII case (label lengths are below 64: never letters). */
static bool name_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		uint8_t x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

/* A name (wire form) as sanitised text, labels joined by dots: a dot inside a label is "\x2E"
 * (it is no separator), any other byte as text_sanitize() writes it. The root alone, or a
 * label holding a NUL, is refused (-1). size is at least DNS_HOST_MAX. */
static int name_text(const uint8_t *w, size_t wlen, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < wlen && w[i];) {
		const uint8_t *lab = w + i + 1;
		size_t l = w[i];

		if (memchr(lab, 0, l))
			return -1;
		if (o)
			out[o++] = '.';
		for (size_t k = 0; k < l;) {
			const uint8_t *dot = memchr(lab + k, '.', l - k);
			size_t run = dot ? (size_t)(dot - (lab + k)) : l - k;

			o += text_sanitize(out + o, size - o, lab + k, run);
			k += run;
			if (k < l) { /* a dot */
				memcpy(out + o, "\\x2E", 4);
				o += 4;
				k++;
			}
		}
		i += 1 + l;
	}
	if (!o)
		return -1;
	out[o] = '\0';
	return 0;
}

enum dns_reply dns_reply_parse(const uint8_t *m, size_t len, uint16_t id, const uint8_t *qname,
			       size_t qlen, char *name, size_t size, uint32_t *ttl)
{
	uint8_t cur[DNS_NAME_WIRE], owner[DNS_NAME_WIRE];
	size_t p = 12, curlen, olen;
	uint32_t least = UINT32_MAX;
	unsigned an, cnames = 0;

	/* ---- is it the answer to our query? ---- */
	if (len < 12 || get16(m) != id)
		return DNS_REPLY_NOT_OURS;
	if (!(m[2] & 0x80) || (m[2] >> 3 & 15) != 0) /* QR 1, opcode 0 (QUERY) */
		return DNS_REPLY_NOT_OURS;
	if (get16(m + 4) != 1)
		return DNS_REPLY_NOT_OURS;
	if (name_unpack(m, len, &p, cur, &curlen) || p + 4 > len ||
	    !name_eq(cur, curlen, qname, qlen) || get16(m + p) != T_PTR || get16(m + p + 2) != C_IN)
		return DNS_REPLY_NOT_OURS;
	p += 4;

	/* ---- ours: what does it say? ---- */
	if ((m[2] & 0x02) || (m[3] & 15) != 0) /* truncated, or an error code (NXDOMAIN...) */
		return DNS_REPLY_NONE;
	an = get16(m + 6);
	for (unsigned i = 0; i < an; i++) {
		uint16_t type, class, rdlen;
		uint32_t t;
		size_t rd, end, tlen;
		uint8_t target[DNS_NAME_WIRE];

		if (name_unpack(m, len, &p, owner, &olen) || p + 10 > len)
			return DNS_REPLY_NONE;
		type = get16(m + p);
		class = get16(m + p + 2);
		t = (uint32_t)m[p + 4] << 24 | (uint32_t)m[p + 5] << 16 | (uint32_t)m[p + 6] << 8 |
		    m[p + 7];
		rdlen = get16(m + p + 8);
		rd = p + 10;
		if (rd + rdlen > len)
			return DNS_REPLY_NONE;
		p = rd + rdlen;
		if (class != C_IN || (type != T_PTR && type != T_CNAME) ||
		    !name_eq(owner, olen, cur, curlen))
			continue;
		/* the target must fill the rdata exactly */
		end = rd;
		if (name_unpack(m, rd + rdlen, &end, target, &tlen) || end != rd + rdlen)
			return DNS_REPLY_NONE;
		if (t & 0x80000000u)
			t = 0;
		if (t < least)
			least = t;
		if (type == T_CNAME) {
			if (++cnames > DNS_CNAME_MAX)
				return DNS_REPLY_NONE;
			memcpy(cur, target, tlen);
			curlen = tlen;
			continue;
		}
		if (name_text(target, tlen, name, size))
			return DNS_REPLY_NONE;
		*ttl = least;
		return DNS_REPLY_NAME;
	}
	return DNS_REPLY_NONE;
}

/* ---- the resolver ---- */

/* 16 random bits. 0, or -errno of getrandom(2). */
static int rnd16(struct dns *d, uint16_t *out)
{
	if (d->rnd_left < 2) {
		ssize_t n;

		do
			n = getrandom(d->rnd, sizeof(d->rnd), 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if ((size_t)n < 2)
			return -EIO;
		d->rnd_left = (size_t)n;
	}
	d->rnd_left -= 2;
	*out = get16(d->rnd + d->rnd_left);
	return 0;
}

static uint64_t id_hash(uint32_t gen, uint16_t id)
{
	return hash_u64x2(gen, id);
}

static struct dns_ent *sent_find(struct dns *d, uint32_t gen, uint16_t id)
{
	struct hnode *n;

	htab_for_hash(&d->by_id, n, id_hash(gen, id))
	{
		struct dns_ent *e = container_of(n, struct dns_ent, by_id);

		if (e->gen == gen && e->id == id)
			return e;
	}
	return NULL;
}

/* e is no longer in flight (dns.lock held). */
static void unsend(struct dns *d, struct dns_ent *e)
{
	struct dns_sock *s = &d->sock[e->slot];

	if (e->state != ENT_SENT)
		return;
	htab_del(&d->by_id, &e->by_id);
	if (s->gen == e->gen && s->inflight)
		s->inflight--;
	e->state = ENT_IDLE;
}

/* A new socket in slot: connected to the server, bound by the kernel to a random free port. 0,
 * or -errno. */
static int sock_open(struct dns *d, int slot)
{
	struct sockaddr_storage me;
	socklen_t melen = sizeof(me);
	int fd = socket(d->server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), e;
	uint16_t port;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&d->server, d->server_len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &melen) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	port = ntohs(me.ss_family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
					     : ((struct sockaddr_in6 *)&me)->sin6_port);
	if (d->sock[slot].fd >= 0)
		close(d->sock[slot].fd);
	d->sock[slot] = (struct dns_sock){ .fd = fd, .gen = ++d->gens };
	d->ports[port / 8] |= 1u << (port % 8);
	return 0;
}

/* The socket for the next query: a new one once the current has sent DNS_SOCK_QUERIES, in the
 * other slot when that one has nothing left in flight (else the current goes on a while). */
static struct dns_sock *sock_next(struct dns *d)
{
	int other = !d->cur;

	if (d->sock[d->cur].sent >= DNS_SOCK_QUERIES && !d->sock[other].inflight &&
	    sock_open(d, other) == 0)
		d->cur = other;
	return &d->sock[d->cur];
}

/* Sends e's query (dns.lock held): a fresh random ID not in flight on its socket. */
static void send_query(struct dns *d, struct dns_ent *e)
{
	uint8_t qname[DNS_NAME_WIRE], m[12 + DNS_NAME_WIRE + 4];
	struct dns_sock *s = sock_next(d);
	size_t qlen, n;
	uint16_t id = 0;

	unsend(d, e);
	e->tries++;
	do {
		if (rnd16(d, &id)) { /* no randomness: no query */
			e->expires = now_s() + DNS_NEG_TTL;
			d->news = true;
			return;
		}
	} while (sent_find(d, s->gen, id));
	qlen = dns_ptr_qname(e->family, e->addr, qname);
	n = dns_query_encode(id, qname, qlen, m);
	/* a failed send is a try that gets no answer: the timeout asks again or gives up */
	(void)!send(s->fd, m, n, 0);
	e->id = id;
	e->slot = (int)(s - d->sock);
	e->gen = s->gen;
	e->sent_ms = now_ms();
	e->state = ENT_SENT;
	htab_add(&d->by_id, &e->by_id, id_hash(e->gen, id));
	s->sent++;
	s->inflight++;
}

static void on_reply(struct dns *d, int slot, const uint8_t *m, size_t len)
{
	uint8_t qname[DNS_NAME_WIRE];
	char name[DNS_HOST_MAX];
	struct dns_ent *e;
	enum dns_reply r;
	uint32_t ttl = 0;

	if (len < 2)
		return;
	pthread_mutex_lock(&d->lock);
	e = sent_find(d, d->sock[slot].gen, get16(m));
	r = e ? dns_reply_parse(m, len, e->id, qname, dns_ptr_qname(e->family, e->addr, qname),
				name, sizeof(name), &ttl)
	      : DNS_REPLY_NOT_OURS;
	if (r != DNS_REPLY_NOT_OURS) {
		unsend(d, e);
		if (r == DNS_REPLY_NAME) {
			char *copy = strdup(name);

			if (ttl < DNS_MIN_TTL)
				ttl = DNS_MIN_TTL;
			if (ttl > DNS_MAX_TTL)
				ttl = DNS_MAX_TTL;
			if (copy) { /* else the old name, if any, stays */
				free(e->name);
				e->name = copy;
			}
			e->expires = now_s() + ttl;
		} else {
			e->expires = now_s() + DNS_NEG_TTL;
		}
		d->news = true;
	}
	pthread_mutex_unlock(&d->lock);
	if (r != DNS_REPLY_NOT_OURS)
		(void)!write(d->wake[1], "", 1);
}

/* Reads what came on socket slot. POLLERR too: an ICMP error (a server port that refuses, a
 * host unreachable) stays pending, and poll() returns at once for ever, until recv() reports
 * it. */
static void sock_read(struct dns *d, int slot)
{
	uint8_t m[1500];

	for (int errs = 0; errs < 16;) {
		ssize_t n = recv(d->sock[slot].fd, m, sizeof(m), MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			errs++;
			continue;
		}
		if (n <= 0)
			break;
		on_reply(d, slot, m, (size_t)n);
	}
}

/* The queries in flight answered, asked again or given up, then new questions, oldest first,
 * while the server has room. true when a lookup failed. */
static bool send_due(struct dns *d)
{
	long long now = now_ms();
	size_t inflight = 0;
	bool failed = false;

	pthread_mutex_lock(&d->lock);
	d->kicked = false; /* every question asked so far is seen below */
	for (size_t i = 0; i < d->n; i++) {
		struct dns_ent *e = &d->e[i];

		if (e->state != ENT_SENT)
			continue;
		if (now - e->sent_ms < DNS_TIMEOUT) {
			inflight++;
		} else if (e->tries >= DNS_TRIES) { /* never answered: the address stays */
			unsend(d, e);
			e->expires = now_s() + DNS_NEG_TTL;
			failed = true;
		} else {
			send_query(d, e);
			inflight++;
		}
	}
	for (size_t i = 0; i < d->n && inflight < DNS_INFLIGHT; i++) {
		struct dns_ent *e = &d->e[i];

		if (e->state == ENT_QUEUED) {
			send_query(d, e);
			inflight++;
		}
	}
	if (failed)
		d->news = true;
	pthread_mutex_unlock(&d->lock);
	return failed;
}

static void *dns_main(void *arg)
{
	struct dns *d = arg;

	for (;;) {
		struct pollfd p[3] = { { .fd = d->kick[0], .events = POLLIN },
				       { .fd = d->sock[0].fd, .events = POLLIN },
				       { .fd = d->sock[1].fd, .events = POLLIN } };

		if (poll(p, 3, 250) < 0 && errno != EINTR)
			return NULL;
		if (p[0].revents & (POLLHUP | POLLERR))
			return NULL;
		if (p[0].revents & POLLIN) {
			char c[64];

			if (read(d->kick[0], c, sizeof(c)) == 0)
				return NULL; /* dns_stop() */
		}
		/* the sockets polled are still the ones in their slots: only this thread
		 * replaces them */
		for (int s = 0; s < 2; s++)
			if (p[1 + s].revents & (POLLIN | POLLERR))
				sock_read(d, s);
		if (send_due(d))
			(void)!write(d->wake[1], "", 1);
	}
}

/* A new question for the thread (dns.lock held). */
static void kick(struct dns *d)
{
	if (!d->kicked)
		(void)!write(d->kick[1], "", 1);
	d->kicked = true;
}

static size_t addr_len(int family)
{
	return family == FAMILY_INET ? 4 : 16;
}

static uint64_t addr_hash(int family, const uint8_t *addr)
{
	return hash_u64x2((uint64_t)family, hash_bytes(addr, addr_len(family)));
}

static struct dns_ent *find(struct dns *d, int family, const uint8_t *addr)
{
	struct hnode *n;

	htab_for_hash(&d->by_addr, n, addr_hash(family, addr))
	{
		struct dns_ent *e = container_of(n, struct dns_ent, by_addr);

		if (e->family == family && !memcmp(e->addr, addr, addr_len(family)))
			return e;
	}
	return NULL;
}

/* A full cache forgets its older half; the entries move, so both indexes are made again. */
static void forget_half(struct dns *d)
{
	size_t half = DNS_CACHE / 2;

	for (size_t i = 0; i < half; i++) {
		unsend(d, &d->e[i]);
		free(d->e[i].name);
	}
	memmove(d->e, d->e + half, half * sizeof(*d->e));
	memset(d->e + half, 0, half * sizeof(*d->e));
	d->n = half;
	htab_clear(&d->by_addr);
	htab_clear(&d->by_id);
	for (size_t i = 0; i < d->n; i++) {
		struct dns_ent *e = &d->e[i];

		htab_add(&d->by_addr, &e->by_addr, addr_hash(e->family, e->addr));
		if (e->state == ENT_SENT)
			htab_add(&d->by_id, &e->by_id, id_hash(e->gen, e->id));
	}
}

static int parse_server(struct dns *d, const char *s, char *err, size_t errsz)
{
	char host[128];
	const char *port = NULL;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&d->server;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&d->server;
	long p = 53;

	memset(&d->server, 0, sizeof(d->server));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || (size_t)(rb - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, rb - s - 1);
		host[rb - s - 1] = '\0';
		if (rb[1] == ':')
			port = rb + 2;
	} else {
		const char *c = strchr(s, ':');

		if (c && strchr(c + 1, ':'))
			c = NULL; /* a bare IPv6 address */
		snprintf(host, sizeof(host), "%.*s", c ? (int)(c - s) : (int)strlen(s), s);
		if (c)
			port = c + 1;
	}
	if (port) {
		char *end;

		p = strtol(port, &end, 10);
		if (*end || p < 1 || p > 65535)
			goto bad;
	}
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(p);
		d->server_len = sizeof(*a4);
		d->family = FAMILY_INET;
		memcpy(d->server_addr, &a4->sin_addr, 4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(p);
		d->server_len = sizeof(*a6);
		d->family = FAMILY_INET6;
		memcpy(d->server_addr, &a6->sin6_addr, 16);
	} else {
		goto bad;
	}
	d->server_port = p;
	return 0;
bad:
	snprintf(err, errsz, "DNS server '%s': not ADDR or ADDR:PORT", s);
	return -1;
}

/* The first nameserver of /etc/resolv.conf into buf; -ENOENT when there is none. */
static int resolv_conf(char *buf, size_t size, char *err, size_t errsz)
{
	char line[256], fmt[32];
	FILE *f = fopen("/etc/resolv.conf", "r");

	buf[0] = '\0';
	snprintf(fmt, sizeof(fmt), " nameserver %%%zus", size - 1);
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, buf) == 1)
			break;
	if (f)
		fclose(f);
	if (!buf[0]) {
		snprintf(err, errsz, "no nameserver in /etc/resolv.conf");
		return -ENOENT;
	}
	return 0;
}

/* Who we are: the pid, the network namespace and the boot, as the collector names them. A
 * part that cannot be read stays 0 or empty, and then no row is taken for ours. */
static void self_init(struct dns *d)
{
	struct stat sb;

	d->pid = (uint32_t)getpid();
	if (stat("/proc/self/ns/net", &sb) == 0)
		d->netns = (uint32_t)sb.st_ino;
	boot_id_read(d->boot_id, sizeof(d->boot_id));
}

static void fds_close(struct dns *d)
{
	int fds[] = {
		d->sock[0].fd, d->sock[1].fd, d->wake[0], d->wake[1], d->kick[0], d->kick[1]
	};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int dns_start(struct dns **out, const char *server, char *err, size_t errsz)
{
	char first[128];
	struct dns *d;
	int e;

	*out = NULL;
	if (!server) {
		if ((e = resolv_conf(first, sizeof(first), err, errsz)))
			return e;
		server = first;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	d->sock[0].fd = d->sock[1].fd = -1;
	d->wake[0] = d->wake[1] = d->kick[0] = d->kick[1] = -1;
	if (parse_server(d, server, err, errsz)) {
		free(d);
		return -EINVAL;
	}
	self_init(d);
	if ((e = sock_open(d, 0))) {
		snprintf(err, errsz, "DNS socket: %s", strerror(-e));
		goto fail;
	}
	if (pipe2(d->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(d->kick, O_CLOEXEC | O_NONBLOCK) < 0) {
		e = -errno;
		snprintf(err, errsz, "pipe: %s", strerror(-e));
		goto fail;
	}
	d->e = calloc(DNS_CACHE, sizeof(*d->e));
	if (!d->e || htab_init(&d->by_addr, DNS_CACHE) || htab_init(&d->by_id, DNS_INFLIGHT)) {
		e = -ENOMEM;
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&d->lock, NULL);
	if ((e = pthread_create(&d->thread, NULL, dns_main, d))) {
		pthread_mutex_destroy(&d->lock);
		snprintf(err, errsz, "resolver thread: %s", strerror(e));
		e = -e;
		goto fail;
	}
	*out = d;
	return 0;
fail:
	fds_close(d);
	htab_free(&d->by_addr);
	htab_free(&d->by_id);
	free(d->e);
	free(d);
	return e;
}

void dns_stop(struct dns *d)
{
	if (!d)
		return;
	close(d->kick[1]);
	d->kick[1] = -1;
	pthread_join(d->thread, NULL);
	fds_close(d);
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	htab_free(&d->by_addr);
	htab_free(&d->by_id);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int dns_wake_fd(const struct dns *d)
{
	return d ? d->wake[0] : -1;
}

bool dns_drain(struct dns *d)
{
	char buf[64];
	bool news;

	if (!d)
		return false;
	while (read(d->wake[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&d->lock);
	news = d->news;
	d->news = false;
	pthread_mutex_unlock(&d->lock);
	return news;
}

bool dns_host(struct dns *d, int family, const uint8_t addr[16], bool ask, char *buf, size_t size)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t key[16] = { 0 };
	struct dns_ent *e;
	bool known = false;

	if (!d || (family != FAMILY_INET && family != FAMILY_INET6))
		return false;
	/* an IPv4-mapped IPv6 address is the IPv4 host: its name is under in-addr.arpa */
	if (family == FAMILY_INET6 && !memcmp(addr, mapped, 12)) {
		family = FAMILY_INET;
		addr += 12;
	}
	memcpy(key, addr, addr_len(family));
	pthread_mutex_lock(&d->lock);
	e = find(d, family, key);
	if (!ask) {
		/* only the cache is read */
	} else if (e && e->state == ENT_IDLE && e->expires <= now_s()) {
		/* expired: asked again, the old name shown meanwhile */
		e->state = ENT_QUEUED;
		e->tries = 0;
		e->round = d->round;
		kick(d);
	} else if (!e) {
		if (d->n == DNS_CACHE)
			forget_half(d);
		e = &d->e[d->n++];
		memset(e, 0, sizeof(*e));
		e->family = family;
		memcpy(e->addr, key, sizeof(key));
		e->state = ENT_QUEUED;
		e->round = d->round;
		htab_add(&d->by_addr, &e->by_addr, addr_hash(family, key));
		kick(d);
	}
	if (e && e->name) {
		snprintf(buf, size, "%s", e->name);
		known = true;
	}
	pthread_mutex_unlock(&d->lock);
	return known;
}

void dns_round(struct dns *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->round++;
	pthread_mutex_unlock(&d->lock);
}

size_t dns_waiting(struct dns *d)
{
	size_t n = 0;

	if (!d)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n; i++)
		n += d->e[i].state != ENT_IDLE && !d->e[i].name && d->e[i].round == d->round;
	pthread_mutex_unlock(&d->lock);
	return n;
}

bool dns_own_row(struct dns *d, const struct rec_snap_row *r, const char *boot_id)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *ra = r->id.raddr;
	int family = r->id.family;
	bool ours;

	/* everything but the ports first, without the lock: most rows fail here */
	if (!d || r->id.proto != PROTO_UDP || r->id.rport != d->server_port ||
	    (r->flags & CONN_F_NO_OWNER) || r->pid != d->pid || !d->netns ||
	    r->id.netns != d->netns || !d->boot_id[0] || !boot_id ||
	    strcmp(boot_id, d->boot_id) != 0)
		return false;
	if (family == FAMILY_INET6 && !memcmp(ra, mapped, 12)) {
		family = FAMILY_INET;
		ra += 12;
	}
	if (family != d->family || memcmp(ra, d->server_addr, addr_len(family)) != 0)
		return false;
	pthread_mutex_lock(&d->lock);
	ours = d->ports[r->id.lport / 8] & (1u << (r->id.lport % 8));
	pthread_mutex_unlock(&d->lock);
	return ours;
}
