// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reverse DNS for remote addresses, shared by tcptop-view and tcptop-csv. It is our own small PTR
 * client over UDP rather than getnameinfo(3): it must never block (a thread asks, the callers
 * only read the cache), it needs each answer's TTL, a server the tests can place on loopback at
 * any port, and one socket whose port identifies the lookups' own traffic in the table. c-ares
 * would give the same at the cost of a dependency for about 200 lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "stream.h"
#include "util.h"

#define DNS_CACHE    4096 /* addresses remembered (a full cache forgets the oldest half) */
#define DNS_SLOTS    (2 * DNS_CACHE) /* the index over the cache: a power of 2 */
#define DNS_TIMEOUT  2000	     /* ms per try */
#define DNS_TRIES    2
#define DNS_INFLIGHT 128 /* queries unanswered at once at most: servers cap them (dnsmasq: 150) */
#define DNS_NEG_TTL  60	 /* s a failed lookup is not asked again */
#define DNS_MIN_TTL  5
#define DNS_MAX_TTL  86400

struct dns_ent {
	int family;
	uint8_t addr[16];
	char *name;	/* NULL: not known (pending or failed) */
	bool pending;	/* asked, no answer yet */
	time_t expires; /* after this the entry is asked again */
	uint16_t id;	/* of the query in flight */
	int tries;
	long long sent_ms;
	unsigned round; /* dns_round() when it was last asked */
};

static struct {
	bool on;
	pthread_t thread;
	pthread_mutex_t lock;
	int sock;
	int wake[2]; /* the thread signals answers */
	int kick[2]; /* the view signals new questions */
	struct sockaddr_storage server;
	socklen_t server_len;
	uint16_t local_port, server_port;
	struct dns_ent *e;
	size_t n;
	/* open addressing over e by address: index + 1, 0 empty (dns_host runs once per row of
	 * tcptop-csv's snapshots: a scan of the cache each time would cost 4096 compares) */
	uint16_t slot[DNS_SLOTS];
	uint16_t next_id;
	unsigned round;
	bool news;
	bool kicked; /* a byte is in kick that the thread has not read yet: no need for another */
} dns;

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

/* "4.3.2.1.in-addr.arpa" or the ip6.arpa nibbles, as DNS labels into q; returns its length. */
static size_t ptr_qname(int family, const uint8_t *a, uint8_t *q)
{
	size_t o = 0;
	char lab[8];

	if (family == FAMILY_INET) {
		for (int i = 3; i >= 0; i--) {
			int n = snprintf(lab, sizeof(lab), "%u", a[i]);

			q[o++] = n;
			memcpy(q + o, lab, n);
			o += n;
		}
		memcpy(q + o, "\7in-addr\4arpa", 14);
		return o + 14;
	}
	for (int i = 15; i >= 0; i--) {
		static const char hex[] = "0123456789abcdef";

		q[o++] = 1;
		q[o++] = hex[a[i] & 15];
		q[o++] = 1;
		q[o++] = hex[a[i] >> 4];
	}
	memcpy(q + o, "\3ip6\4arpa", 10);
	return o + 10;
}

static void send_query(struct dns_ent *e)
{
	uint8_t q[512];
	size_t o = 12;

	memset(q, 0, 12);
	e->id = ++dns.next_id;
	q[0] = e->id >> 8;
	q[1] = e->id;
	q[2] = 0x01; /* recursion desired */
	q[5] = 1;    /* one question */
	o += ptr_qname(e->family, e->addr, q + o);
	q[o++] = 0;
	q[o++] = 12; /* PTR */
	q[o++] = 0;
	q[o++] = 1; /* IN */
	(void)!sendto(dns.sock, q, o, 0, (struct sockaddr *)&dns.server, dns.server_len);
	e->sent_ms = now_ms();
	e->tries++;
}

/* Skips a (possibly compressed) name at p; returns the offset after it or 0. */
static size_t skip_name(const uint8_t *m, size_t len, size_t p)
{
	while (p < len) {
		if (m[p] == 0)
			return p + 1;
		if ((m[p] & 0xC0) == 0xC0)
			return p + 2 <= len ? p + 2 : 0;
		p += m[p] + 1;
	}
	return 0;
}

/* Reads a name at p into out (dotted, sanitised later); follows at most 16 pointers. */
static bool read_name(const uint8_t *m, size_t len, size_t p, char *out, size_t size)
{
	size_t o = 0;
	int jumps = 0;

	while (p < len) {
		uint8_t l = m[p];

		if (l == 0) {
			if (o && out[o - 1] == '.')
				o--;
			out[o] = '\0';
			return o > 0;
		}
		if ((l & 0xC0) == 0xC0) {
			if (p + 1 >= len || ++jumps > 16)
				return false;
			p = ((size_t)(l & 0x3F) << 8) | m[p + 1];
			continue;
		}
		if (p + 1 + l > len || o + l + 2 > size)
			return false;
		memcpy(out + o, m + p + 1, l);
		o += l;
		out[o++] = '.';
		p += l + 1;
	}
	return false;
}

static void on_answer(const uint8_t *m, size_t len)
{
	uint16_t id, qd, an;
	size_t p = 12;
	char name[256];
	uint32_t ttl = DNS_NEG_TTL;
	bool found = false;
	int rcode;

	if (len < 12)
		return;
	id = m[0] << 8 | m[1];
	rcode = m[3] & 15;
	qd = m[4] << 8 | m[5];
	an = m[6] << 8 | m[7];
	for (int i = 0; i < qd && p; i++) {
		p = skip_name(m, len, p);
		p = p && p + 4 <= len ? p + 4 : 0;
	}
	for (int i = 0; i < an && p && !found; i++) {
		uint16_t type, rdlen;

		p = skip_name(m, len, p);
		if (!p || p + 10 > len)
			break;
		type = m[p] << 8 | m[p + 1];
		ttl = (uint32_t)m[p + 4] << 24 | m[p + 5] << 16 | m[p + 6] << 8 | m[p + 7];
		rdlen = m[p + 8] << 8 | m[p + 9];
		p += 10;
		if (p + rdlen > len)
			break;
		if (type == 12 && rcode == 0 && read_name(m, len, p, name, sizeof(name)))
			found = true;
		p += rdlen;
	}
	pthread_mutex_lock(&dns.lock);
	for (size_t i = 0; i < dns.n; i++) {
		struct dns_ent *e = &dns.e[i];

		if (!e->pending || e->id != id)
			continue;
		e->pending = false;
		if (found) {
			char clean[SANITIZE_SIZE(256)];

			if (ttl < DNS_MIN_TTL)
				ttl = DNS_MIN_TTL;
			if (ttl > DNS_MAX_TTL)
				ttl = DNS_MAX_TTL;
			text_sanitize(clean, sizeof(clean), name, strlen(name));
			free(e->name);
			e->name = strdup(clean);
			e->expires = now_s() + ttl;
		} else {
			e->expires = now_s() + DNS_NEG_TTL;
		}
		dns.news = true;
		break;
	}
	pthread_mutex_unlock(&dns.lock);
	(void)!write(dns.wake[1], "", 1);
}

static void *dns_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = dns.sock, .events = POLLIN },
				       { .fd = dns.kick[0], .events = POLLIN } };
		uint8_t m[1500];
		long long now;
		bool failed = false;
		size_t inflight = 0;

		if (poll(p, 2, 250) < 0 && errno != EINTR)
			return NULL;
		if (p[1].revents & (POLLHUP | POLLERR))
			return NULL;
		if (p[1].revents & POLLIN) {
			char c[64];

			if (read(dns.kick[0], c, sizeof(c)) == 0)
				return NULL; /* dns_stop() */
		}
		/* POLLERR too: an ICMP error (a server port that refuses, a host unreachable) stays
		 * pending, and poll() returns at once for ever, until recv() reports it */
		for (int errs = 0; (p[0].revents & (POLLIN | POLLERR)) && errs < 16;) {
			ssize_t n = recv(dns.sock, m, sizeof(m), MSG_DONTWAIT);

			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				errs++;
				continue;
			}
			if (n <= 0)
				break;
			on_answer(m, n);
		}
		now = now_ms();
		pthread_mutex_lock(&dns.lock);
		dns.kicked = false; /* every question asked so far is seen below */
		/* the queries in flight: answered, asked again, or given up */
		for (size_t i = 0; i < dns.n; i++) {
			struct dns_ent *e = &dns.e[i];

			if (!e->pending || !e->tries)
				continue;
			if (now - e->sent_ms < DNS_TIMEOUT) {
				inflight++;
			} else if (e->tries >= DNS_TRIES) { /* never answered: the address stays */
				e->pending = false;
				e->expires = now_s() + DNS_NEG_TTL;
				failed = true;
			} else {
				send_query(e);
				inflight++;
			}
		}
		/* then new questions, oldest first, while the server has room */
		for (size_t i = 0; i < dns.n && inflight < DNS_INFLIGHT; i++) {
			struct dns_ent *e = &dns.e[i];

			if (e->pending && !e->tries) {
				send_query(e);
				inflight++;
			}
		}
		if (failed)
			dns.news = true;
		pthread_mutex_unlock(&dns.lock);
		if (failed)
			(void)!write(dns.wake[1], "", 1);
	}
}

/* A new question for the thread (dns.lock held). */
static void kick(void)
{
	if (!dns.kicked)
		(void)!write(dns.kick[1], "", 1);
	dns.kicked = true;
}

static size_t addr_len(int family)
{
	return family == FAMILY_INET ? 4 : 16;
}

static size_t slot_of(int family, const uint8_t *addr)
{
	uint64_t h = 14695981039346656037ULL ^ (uint64_t)family; /* FNV-1a */

	for (size_t i = 0; i < addr_len(family); i++)
		h = (h ^ addr[i]) * 1099511628211ULL;
	return (h ^ h >> 32) & (DNS_SLOTS - 1);
}

static void index_add(size_t k)
{
	size_t i = slot_of(dns.e[k].family, dns.e[k].addr);

	while (dns.slot[i])
		i = (i + 1) & (DNS_SLOTS - 1);
	dns.slot[i] = k + 1;
}

static struct dns_ent *find(int family, const uint8_t *addr)
{
	for (size_t i = slot_of(family, addr); dns.slot[i]; i = (i + 1) & (DNS_SLOTS - 1)) {
		struct dns_ent *e = &dns.e[dns.slot[i] - 1];

		if (e->family == family && !memcmp(e->addr, addr, addr_len(family)))
			return e;
	}
	return NULL;
}

static int parse_server(const char *s, char *err, size_t errsz)
{
	char host[128];
	const char *port = NULL;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&dns.server;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&dns.server;
	long p = 53;

	memset(&dns.server, 0, sizeof(dns.server));
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
		dns.server_len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(p);
		dns.server_len = sizeof(*a6);
	} else {
		goto bad;
	}
	dns.server_port = p;
	return 0;
bad:
	snprintf(err, errsz, "DNS server '%s': not ADDR or ADDR:PORT", s);
	return -1;
}

int dns_start(const char *server, int *wake_fd, char *err, size_t errsz)
{
	char line[256], first[128] = "";
	struct sockaddr_storage me;
	socklen_t melen = sizeof(me);
	FILE *f;
	int e;

	if (dns.on) {
		*wake_fd = dns.wake[0];
		return 0;
	}
	if (!server) {
		f = fopen("/etc/resolv.conf", "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, " nameserver %127s", first) == 1)
				break;
		if (f)
			fclose(f);
		if (!first[0]) {
			snprintf(err, errsz, "no nameserver in /etc/resolv.conf");
			return -ENOENT;
		}
		server = first;
	}
	if (parse_server(server, err, errsz))
		return -EINVAL;
	dns.sock = dns.wake[0] = dns.wake[1] = dns.kick[0] = dns.kick[1] = -1;
	dns.sock = socket(dns.server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (dns.sock < 0 || connect(dns.sock, (struct sockaddr *)&dns.server, dns.server_len) < 0 ||
	    getsockname(dns.sock, (struct sockaddr *)&me, &melen) < 0) {
		e = errno;
		snprintf(err, errsz, "DNS socket: %s", strerror(e));
		goto fail;
	}
	dns.local_port = ntohs(me.ss_family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
						       : ((struct sockaddr_in6 *)&me)->sin6_port);
	if (pipe2(dns.wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(dns.kick, O_CLOEXEC | O_NONBLOCK) < 0) {
		e = errno;
		snprintf(err, errsz, "pipe: %s", strerror(e));
		goto fail;
	}
	pthread_mutex_init(&dns.lock, NULL);
	dns.e = calloc(DNS_CACHE, sizeof(*dns.e));
	if (!dns.e) {
		e = ENOMEM;
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if ((e = pthread_create(&dns.thread, NULL, dns_main, NULL))) {
		snprintf(err, errsz, "resolver thread: %s", strerror(e));
		goto fail;
	}
	dns.on = true;
	*wake_fd = dns.wake[0];
	return 0;
fail:
	free(dns.e);
	dns.e = NULL;
	{
		int *fds[] = { &dns.sock, &dns.wake[0], &dns.wake[1], &dns.kick[0], &dns.kick[1] };

		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			if (*fds[i] >= 0)
				close(*fds[i]);
	}
	return -e;
}

void dns_stop(void)
{
	if (!dns.on)
		return;
	close(dns.kick[1]);
	pthread_join(dns.thread, NULL);
	dns.on = false;
}

bool dns_drain(void)
{
	char buf[64];
	bool news;

	if (!dns.on)
		return false;
	while (read(dns.wake[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&dns.lock);
	news = dns.news;
	dns.news = false;
	pthread_mutex_unlock(&dns.lock);
	return news;
}

bool dns_host(int family, const uint8_t addr[16], bool ask, char *buf, size_t size)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t key[16] = { 0 };
	struct dns_ent *e;
	bool known = false;

	if (!dns.on)
		return false;
	/* an IPv4-mapped IPv6 address is the IPv4 host: its name is under in-addr.arpa */
	if (family == FAMILY_INET6 && !memcmp(addr, mapped, 12)) {
		family = FAMILY_INET;
		addr += 12;
	}
	memcpy(key, addr, addr_len(family));
	pthread_mutex_lock(&dns.lock);
	e = find(family, key);
	if (!ask) {
		/* only the cache is read */
	} else if (e && !e->pending && e->expires <= now_s()) {
		/* expired: asked again, the old name shown meanwhile */
		e->pending = true;
		e->tries = 0;
		e->round = dns.round;
		kick();
	} else if (!e) {
		if (dns.n == DNS_CACHE) { /* forget the older half */
			for (size_t i = 0; i < DNS_CACHE / 2; i++)
				free(dns.e[i].name);
			memmove(dns.e, dns.e + DNS_CACHE / 2, (DNS_CACHE / 2) * sizeof(*dns.e));
			memset(dns.e + DNS_CACHE / 2, 0, (DNS_CACHE / 2) * sizeof(*dns.e));
			dns.n = DNS_CACHE / 2;
			memset(dns.slot, 0, sizeof(dns.slot));
			for (size_t i = 0; i < dns.n; i++)
				index_add(i);
		}
		e = &dns.e[dns.n];
		memset(e, 0, sizeof(*e));
		e->family = family;
		memcpy(e->addr, key, sizeof(key));
		e->pending = true;
		e->round = dns.round;
		index_add(dns.n++);
		kick();
	}
	if (e && e->name) {
		snprintf(buf, size, "%s", e->name);
		known = true;
	}
	pthread_mutex_unlock(&dns.lock);
	return known;
}

void dns_round(void)
{
	if (!dns.on)
		return;
	pthread_mutex_lock(&dns.lock);
	dns.round++;
	pthread_mutex_unlock(&dns.lock);
}

size_t dns_waiting(void)
{
	size_t n = 0;

	if (!dns.on)
		return 0;
	pthread_mutex_lock(&dns.lock);
	for (size_t i = 0; i < dns.n; i++)
		n += dns.e[i].pending && !dns.e[i].name && dns.e[i].round == dns.round;
	pthread_mutex_unlock(&dns.lock);
	return n;
}

void dns_self(uint16_t *local_port, uint16_t *server_port)
{
	*local_port = dns.on ? dns.local_port : 0;
	*server_port = dns.on ? dns.server_port : 0;
}
