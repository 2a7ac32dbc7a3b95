// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The exporter's state. Connections of the snapshot stream are folded into label sets (host,
 * protocol, process, cgroup when its path is known, local port when listening, remote address
 * and port, ephemeral ports folded); each label set keeps counters that only grow: a connection
 * adds what its counters moved since the previous snapshot, and its bytes stay in the label
 * set's total after it closes.
 * Label sets are chained hashes over a dense array; each keeps its labels pre-formatted, so an
 * exposition is mostly memcpy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "prom.h"
#include "util.h"

#ifndef CONN_F_FAILED
#define CONN_F_FAILED 0x10 /* TCP: closed without reaching ESTABLISHED (tcptop-stream(5)) */
#endif

#define TCP_LISTEN   10
#define TCP_SYN_SENT 2
#define HOST_MAX     4096	      /* hosts of one stream at most; more share the last */
#define LOSS_CODES   64		      /* loss codes tracked per host */
#define CGNAME_MAX   CGROUP_TABLE_CAP /* distinct cgroup label values at most; more go unlabelled */

/* What makes a label set. Zeroed before it is filled: compared and hashed as bytes. */
struct skey {
	uint32_t host;
	uint8_t proto; /* 0: the host's overflow series */
	uint8_t family;
	uint16_t lport, rport; /* 0: folded (the label is empty) */
	uint16_t pad;
	uint32_t cgroup; /* index + 1 in p->cgname; 0: no label */
	uint8_t raddr[16];
	char comm[COMM_LEN]; /* raw bytes; empty when no owner is known */
};

struct series {
	struct skey k;
	struct series *hnext;
	uint64_t pos; /* in p->series */
	uint64_t bytes_in, bytes_out, pkts_in, pkts_out, retrans;
	uint64_t opened, closed, failed;
	uint64_t rtt_sum_us;
	uint32_t rtt_n, live;
	int64_t active_ns; /* stream wall time it last had a connection or moved */
	uint32_t llen;
	char labels[]; /* host="..",protocol="..",... */
};

struct pconn {
	uint64_t flow;
	uint32_t host, seen;
	struct pconn *hnext;
	uint64_t pos;
	struct series *s;
	uint64_t bytes_in, bytes_out, pkts_in, pkts_out;
	uint32_t retrans, srtt_us;
	uint8_t proto;
};

struct loss_slot {
	uint32_t code;
	uint64_t base, cur; /* base: what earlier sections counted; the total is base + cur */
};

struct host {
	char *label; /* escaped host name */
	uint32_t state;
	int64_t time_ns;
	bool seen;
	uint32_t nloss;
	struct loss_slot loss[LOSS_CODES];
	uint8_t *listen; /* TCP ports seen in LISTEN: 65536 bits */
};

struct prom {
	struct prom_opts o;

	struct series **series;
	uint64_t nseries, series_cap;
	struct series **sbuckets;
	uint64_t nsbuckets;

	struct pconn **conns;
	uint64_t nconns, conns_cap;
	struct pconn **cbuckets;
	uint64_t ncbuckets;

	struct host *hosts;
	uint32_t nhosts;
	uint32_t *map; /* a stream's host index to hosts[] */
	uint32_t nmap;
	char section_host[HDR_STR_MAX];
	bool section_mapped; /* the section's host is index 0 (it has rows without a HOST) */

	/* cgroups: the section's id -> path (ids belong to their section), and each short form as a
	 * label value, interned for good so that a key holds a number and a restarted unit (a new
	 * id, the same name) keeps its label set */
	struct cgroup_table cg;
	bool no_cgroup; /* the section's header says the feature is missing */
	char **cgname;
	uint32_t ncgname, cgname_cap;
	uint32_t *cgslot; /* open addressing over cgname: index + 1, 0 empty */
	uint32_t ncgslot;

	uint32_t seen; /* snapshot counter, for the sweep */
	int64_t now_ns;
	uint64_t overflow_conns, expired;
	uint64_t scrape_ns;
	uint64_t label_bytes;
	size_t last_len; /* of the previous exposition: reserved at once, no doubling */
};

/* ---- buffer ---- */

int prom_buf_reserve(struct prom_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + n)
		cap *= 2;
	char *q = realloc(b->p, cap);
	if (!q)
		return -ENOMEM;
	b->p = q;
	b->cap = cap;
	return 0;
}

void prom_buf_free(struct prom_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* The callers reserve first: these never grow the buffer. */
static inline void put_mem(struct prom_buf *b, const void *s, size_t n)
{
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

#define PUT_LIT(b, s) put_mem((b), (s), sizeof(s) - 1)

static inline void put_str(struct prom_buf *b, const char *s)
{
	put_mem(b, s, strlen(s));
}

static inline void put_u64(struct prom_buf *b, uint64_t v)
{
	char t[24];
	int i = sizeof(t);

	do {
		t[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	put_mem(b, t + i, sizeof(t) - i);
}

/* Microseconds as seconds, exactly: 1234 -> 0.001234. */
static inline void put_us_as_s(struct prom_buf *b, uint64_t us)
{
	char t[8];

	put_u64(b, us / 1000000);
	snprintf(t, sizeof(t), ".%06u", (unsigned)(us % 1000000));
	put_mem(b, t, 7);
}

/* Nanoseconds as seconds to the microsecond; negative allowed. */
static void put_ns_as_s(struct prom_buf *b, int64_t ns)
{
	char t[48];
	int n = snprintf(t, sizeof(t), "%.6f", (double)ns / 1e9);

	put_mem(b, t, n);
}

/*
 * A label value: hostile bytes sanitised (valid UTF-8, no control characters, a backslash shown
 * as "\\"), then escaped for the exposition format (backslash, double quote; no newline is left
 * to escape). So a process named `x",evil="1` stays one label value.
 */
static size_t label_escape(char *dst, size_t dstsz, const void *src, size_t srclen)
{
	char tmp[SANITIZE_SIZE(HDR_STR_MAX)];
	size_t n = 0;

	if (srclen > HDR_STR_MAX)
		srclen = HDR_STR_MAX;
	text_sanitize(tmp, sizeof(tmp), src, srclen);
	for (const char *s = tmp; *s && n + 3 < dstsz; s++) {
		if (*s == '\\' || *s == '"')
			dst[n++] = '\\';
		else if (*s == '\n') {
			dst[n++] = '\\';
			dst[n++] = 'n';
			continue;
		}
		dst[n++] = *s;
	}
	dst[n] = '\0';
	return n;
}
#define LABEL_SIZE(n) (2 * SANITIZE_SIZE(n))

/* ---- setup ---- */

struct prom *prom_new(const struct prom_opts *o)
{
	struct prom *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->o = *o;
	p->nsbuckets = 1024;
	p->ncbuckets = 1024;
	p->sbuckets = calloc(p->nsbuckets, sizeof(*p->sbuckets));
	p->cbuckets = calloc(p->ncbuckets, sizeof(*p->cbuckets));
	if (!p->sbuckets || !p->cbuckets) {
		prom_free(p);
		return NULL;
	}
	return p;
}

void prom_free(struct prom *p)
{
	if (!p)
		return;
	for (uint64_t i = 0; i < p->nseries; i++)
		free(p->series[i]);
	for (uint64_t i = 0; i < p->nconns; i++)
		free(p->conns[i]);
	for (uint32_t i = 0; i < p->nhosts; i++) {
		free(p->hosts[i].label);
		free(p->hosts[i].listen);
	}
	free(p->hosts);
	free(p->map);
	cgroup_table_free(&p->cg);
	for (uint32_t i = 0; i < p->ncgname; i++)
		free(p->cgname[i]);
	free(p->cgname);
	free(p->cgslot);
	free(p->series);
	free(p->sbuckets);
	free(p->conns);
	free(p->cbuckets);
	free(p);
}

uint64_t prom_series(const struct prom *p)
{
	return p->nseries;
}

uint64_t prom_memory(const struct prom *p)
{
	return p->nseries * (sizeof(struct series) + sizeof(void *) * 2) + p->label_bytes +
	       p->nconns * (sizeof(struct pconn) + sizeof(void *) * 2);
}

void prom_set_scrape_duration(struct prom *p, uint64_t ns)
{
	p->scrape_ns = ns;
}

/* ---- hosts ---- */

static int host_get(struct prom *p, const char *raw, uint32_t *id)
{
	char label[LABEL_SIZE(HDR_STR_MAX)];
	struct host *h;

	label_escape(label, sizeof(label), raw, strnlen(raw, HDR_STR_MAX));
	for (uint32_t i = 0; i < p->nhosts; i++)
		if (strcmp(p->hosts[i].label, label) == 0) {
			*id = i;
			return 0;
		}
	if (p->nhosts == HOST_MAX) {
		*id = HOST_MAX - 1;
		return 0;
	}
	h = realloc(p->hosts, (p->nhosts + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	p->hosts = h;
	h = &p->hosts[p->nhosts];
	memset(h, 0, sizeof(*h));
	h->label = strdup(label);
	h->listen = calloc(65536 / 8, 1);
	if (!h->label || !h->listen) {
		free(h->label);
		free(h->listen);
		return -ENOMEM;
	}
	*id = p->nhosts++;
	return 0;
}

/* Map a stream's host index to a host, by name. */
static int map_set(struct prom *p, uint32_t index, const char *raw)
{
	uint32_t id;
	int err;

	if (index >= HOST_MAX)
		index = HOST_MAX - 1;
	if (index >= p->nmap) {
		uint32_t *m = realloc(p->map, (index + 1) * sizeof(*m));

		if (!m)
			return -ENOMEM;
		for (uint32_t i = p->nmap; i <= index; i++)
			m[i] = UINT32_MAX;
		p->map = m;
		p->nmap = index + 1;
	}
	if ((err = host_get(p, raw, &id)))
		return err;
	p->map[index] = id;
	return 0;
}

static void host_loss(struct host *h, const struct loss_entry *l, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j;

		for (j = 0; j < h->nloss && h->loss[j].code != l[i].code; j++)
			;
		if (j == h->nloss) {
			if (h->nloss == LOSS_CODES)
				continue;
			h->loss[h->nloss++] = (struct loss_slot){ .code = l[i].code };
		}
		/* counters restart with a section: what the last one counted stays counted */
		if (l[i].value < h->loss[j].cur)
			h->loss[j].base += h->loss[j].cur;
		h->loss[j].cur = l[i].value;
	}
}

/* A merged stream's header names no host of its own ("a+b"): the section's host becomes one only
 * when rows without a HOST record need it. */
int prom_section(struct prom *p, const struct stream_header *h)
{
	snprintf(p->section_host, sizeof(p->section_host), "%s", h->hostname);
	p->section_mapped = false;
	p->no_cgroup = stream_missing(h, "cgroup");
	cgroup_table_clear(&p->cg);
	return 0;
}

/* ---- cgroups ---- */

static uint32_t cgname_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static uint32_t *cgname_slot(uint32_t *slots, uint32_t nslots, char **names, const char *s)
{
	uint32_t i = cgname_hash(s) & (nslots - 1);

	while (slots[i] && strcmp(names[slots[i] - 1], s) != 0)
		i = (i + 1) & (nslots - 1);
	return &slots[i];
}

/* The label value's index + 1 (added if new), 0 when the table is full; -ENOMEM. */
static int64_t cgname_intern(struct prom *p, const char *label)
{
	uint32_t *slot;

	if (p->ncgslot && *(slot = cgname_slot(p->cgslot, p->ncgslot, p->cgname, label)))
		return *slot;
	if (p->ncgname == CGNAME_MAX)
		return 0;
	if ((p->ncgname + 1) * 2 > p->ncgslot) {
		uint32_t n = p->ncgslot ? p->ncgslot * 2 : 64;
		uint32_t *ns = calloc(n, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (uint32_t i = 0; i < p->ncgname; i++)
			*cgname_slot(ns, n, p->cgname, p->cgname[i]) = i + 1;
		free(p->cgslot);
		p->cgslot = ns;
		p->ncgslot = n;
	}
	if (p->ncgname == p->cgname_cap) {
		uint32_t cap = p->cgname_cap ? p->cgname_cap * 2 : 64;
		char **a = realloc(p->cgname, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		p->cgname = a;
		p->cgname_cap = cap;
	}
	if (!(p->cgname[p->ncgname] = strdup(label)))
		return -ENOMEM;
	p->label_bytes += strlen(label) + 1;
	*cgname_slot(p->cgslot, p->ncgslot, p->cgname, label) = ++p->ncgname;
	return p->ncgname;
}

int prom_cgroup(struct prom *p, uint64_t id, const char *path)
{
	char label[LABEL_SIZE(CGROUP_SHORT_MAX)];
	struct cgroup_ent *e = cgroup_table_set(&p->cg, id, path);
	int64_t v;

	if (!e) /* id 0, or the table full: its rows go unlabelled */
		return 0;
	label_escape(label, sizeof(label), e->short_name, strlen(e->short_name));
	if ((v = cgname_intern(p, label)) < 0)
		return (int)v;
	e->user = (uint32_t)v;
	return 0;
}

static int section_map(struct prom *p)
{
	int err;

	if (p->section_mapped)
		return 0;
	if ((err = map_set(p, 0, p->section_host)))
		return err;
	p->hosts[p->map[0]].state = HOST_LIVE;
	p->hosts[p->map[0]].seen = true;
	p->section_mapped = true;
	return 0;
}

void prom_input_end(struct prom *p)
{
	for (uint32_t i = 0; i < p->nhosts; i++)
		p->hosts[i].state = HOST_ENDED;
}

/* ---- label sets ---- */

static inline uint64_t hash_bytes(const void *v, size_t n)
{
	const uint8_t *s = v;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static struct series *series_find(struct prom *p, const struct skey *k, uint64_t h)
{
	struct series *s = p->sbuckets[h & (p->nsbuckets - 1)];

	while (s && memcmp(&s->k, k, sizeof(*k)) != 0)
		s = s->hnext;
	return s;
}

static int series_grow(struct prom *p)
{
	uint64_t n = p->nsbuckets * 2;
	struct series **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (uint64_t i = 0; i < p->nseries; i++) {
		struct series *s = p->series[i];
		uint64_t h = hash_bytes(&s->k, sizeof(s->k)) & (n - 1);

		s->hnext = nb[h];
		nb[h] = s;
	}
	free(p->sbuckets);
	p->sbuckets = nb;
	p->nsbuckets = n;
	return 0;
}

static const char *proto_name(uint8_t proto)
{
	return proto == PROTO_TCP ? "tcp" : proto == PROTO_UDP ? "udp" : "other";
}

/* The labels of k, host="..",protocol="..",..., in dst (size 0: only measured); their length. */
static int labels_format(const struct prom *p, const struct skey *k, char *dst, size_t size)
{
	char comm[LABEL_SIZE(COMM_LEN)], addr[ADDR_LEN];
	const char *hl = p->hosts[k->host].label;
	const char *cg = k->cgroup ? p->cgname[k->cgroup - 1] : "";
	char lp[32] = "", rp[32] = "", pl[LABEL_SIZE(COMM_LEN) + 16] = "";

	if (k->proto == 0)
		return snprintf(dst, size, "host=\"%s\",overflow=\"true\"", hl);
	label_escape(comm, sizeof(comm), k->comm, COMM_LEN);
	addr_format(k->family, k->raddr, addr, sizeof(addr));
	/* an empty label is left out: Prometheus reads both the same, and a scrape of 100,000
	 * label sets is 10% smaller */
	if (*comm)
		snprintf(pl, sizeof(pl), ",process=\"%s\"", comm);
	if (k->lport)
		snprintf(lp, sizeof(lp), ",local_port=\"%u\"", k->lport);
	if (k->rport)
		snprintf(rp, sizeof(rp), ",remote_port=\"%u\"", k->rport);
	return snprintf(dst, size, "host=\"%s\",protocol=\"%s\"%s%s%s%s%s,remote_addr=\"%s\"%s", hl,
			proto_name(k->proto), pl, *cg ? ",cgroup=\"" : "", cg, *cg ? "\"" : "", lp,
			addr, rp);
}

static struct series *series_new(struct prom *p, const struct skey *k)
{
	struct series *s;
	int n = labels_format(p, k, NULL, 0);

	if (n < 0)
		return NULL;
	s = calloc(1, sizeof(*s) + n + 1);
	if (!s)
		return NULL;
	s->k = *k;
	labels_format(p, k, s->labels, n + 1);
	s->llen = n;
	s->active_ns = p->now_ns;
	if (p->nseries == p->series_cap) {
		uint64_t cap = p->series_cap ? p->series_cap * 2 : 1024;
		struct series **a = realloc(p->series, cap * sizeof(*a));

		if (!a) {
			free(s);
			return NULL;
		}
		p->series = a;
		p->series_cap = cap;
	}
	if (p->nseries >= p->nsbuckets && series_grow(p)) {
		free(s);
		return NULL;
	}
	uint64_t h = hash_bytes(k, sizeof(*k)) & (p->nsbuckets - 1);
	s->hnext = p->sbuckets[h];
	p->sbuckets[h] = s;
	s->pos = p->nseries;
	p->series[p->nseries++] = s;
	p->label_bytes += n + 1;
	return s;
}

static void series_drop(struct prom *p, struct series *s)
{
	struct series **pp = &p->sbuckets[hash_bytes(&s->k, sizeof(s->k)) & (p->nsbuckets - 1)];
	struct series *last;

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	last = p->series[--p->nseries];
	p->series[s->pos] = last;
	last->pos = s->pos;
	p->label_bytes -= s->llen + 1;
	free(s);
}

static inline bool ephemeral(const struct prom *p, uint16_t port)
{
	return port >= p->o.eph_lo && port <= p->o.eph_hi;
}

static void key_of(const struct prom *p, uint32_t host, const struct rec_snap_row *r,
		   struct skey *k)
{
	const struct host *h = &p->hosts[host];

	memset(k, 0, sizeof(*k));
	k->host = host;
	k->proto = r->id.proto ? r->id.proto : 255;
	k->family = r->id.family;
	memcpy(k->raddr, r->id.raddr, 16);
	if (!(r->flags & CONN_F_NO_OWNER))
		memcpy(k->comm, r->comm, strnlen(r->comm, COMM_LEN));
	if (r->cgroup_id && !p->no_cgroup) {
		const struct cgroup_ent *e = cgroup_table_get(&p->cg, r->cgroup_id);

		/* a path never reported: no label rather than a number nobody knows */
		k->cgroup = e ? e->user : 0;
	}
	if (r->id.proto == PROTO_TCP && (h->listen[r->id.lport / 8] & (1u << (r->id.lport % 8)))) {
		/* accepted by a listener: the local port is the service, the peer's port noise */
		k->lport = r->id.lport;
	} else {
		k->lport = ephemeral(p, r->id.lport) ? 0 : r->id.lport;
		k->rport = ephemeral(p, r->id.rport) ? 0 : r->id.rport;
	}
}

static struct series *series_get(struct prom *p, const struct skey *k)
{
	uint64_t h = hash_bytes(k, sizeof(*k));
	struct series *s = series_find(p, k, h);
	struct skey ok;

	if (s)
		return s;
	if (p->nseries < p->o.max_series)
		return series_new(p, k);
	/* full: the host's overflow series (made even past the cap: one per host) */
	memset(&ok, 0, sizeof(ok));
	ok.host = k->host;
	p->overflow_conns++;
	s = series_find(p, &ok, hash_bytes(&ok, sizeof(ok)));
	return s ? s : series_new(p, &ok);
}

/* ---- connections ---- */

static inline uint64_t conn_hash(uint32_t host, uint64_t flow)
{
	uint64_t h = (flow ^ ((uint64_t)host << 48)) * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 32);
}

static struct pconn *conn_find(struct prom *p, uint32_t host, uint64_t flow)
{
	struct pconn *c = p->cbuckets[conn_hash(host, flow) & (p->ncbuckets - 1)];

	while (c && (c->flow != flow || c->host != host))
		c = c->hnext;
	return c;
}

static int conn_grow(struct prom *p)
{
	uint64_t n = p->ncbuckets * 2;
	struct pconn **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (uint64_t i = 0; i < p->nconns; i++) {
		struct pconn *c = p->conns[i];
		uint64_t h = conn_hash(c->host, c->flow) & (n - 1);

		c->hnext = nb[h];
		nb[h] = c;
	}
	free(p->cbuckets);
	p->cbuckets = nb;
	p->ncbuckets = n;
	return 0;
}

static struct pconn *conn_new(struct prom *p, uint32_t host, uint64_t flow)
{
	struct pconn *c;

	if (p->nconns == p->conns_cap) {
		uint64_t cap = p->conns_cap ? p->conns_cap * 2 : 1024;
		struct pconn **a = realloc(p->conns, cap * sizeof(*a));

		if (!a)
			return NULL;
		p->conns = a;
		p->conns_cap = cap;
	}
	if (p->nconns >= p->ncbuckets && conn_grow(p))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->host = host;
	c->flow = flow;
	uint64_t h = conn_hash(host, flow) & (p->ncbuckets - 1);
	c->hnext = p->cbuckets[h];
	p->cbuckets[h] = c;
	c->pos = p->nconns;
	p->conns[p->nconns++] = c;
	return c;
}

static void conn_drop(struct prom *p, struct pconn *c)
{
	struct pconn **pp = &p->cbuckets[conn_hash(c->host, c->flow) & (p->ncbuckets - 1)];
	struct pconn *last;

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	last = p->conns[--p->nconns];
	p->conns[c->pos] = last;
	last->pos = c->pos;
	free(c);
}

/* What a counter moved: a counter that went back started again (a reused flow id). */
static inline uint64_t delta(uint64_t now, uint64_t last)
{
	return now >= last ? now - last : now;
}

static int apply_row(struct prom *p, uint32_t host, const struct rec_snap_row *r)
{
	struct pconn *c = conn_find(p, host, r->id.flow);
	struct series *s;
	struct skey k;
	uint64_t din, dout;

	key_of(p, host, r, &k);
	if (!c) {
		if (!(c = conn_new(p, host, r->id.flow)))
			return -ENOMEM;
		c->proto = r->id.proto;
		if (!(c->s = series_get(p, &k)))
			return -ENOMEM;
		if ((r->flags & CONN_F_NEW) && !(r->flags & CONN_F_BEGUN_BEFORE))
			c->s->opened++;
	} else if (memcmp(&c->s->k, &k, sizeof(k)) != 0 && c->s->k.proto != 0) {
		/* its owner became known: what it moves from now on goes to the new set */
		if (!(c->s = series_get(p, &k)))
			return -ENOMEM;
	}
	s = c->s;
	din = delta(r->c.bytes_in, c->bytes_in);
	dout = delta(r->c.bytes_out, c->bytes_out);
	s->bytes_in += din;
	s->bytes_out += dout;
	s->pkts_in += delta(r->c.pkts_in, c->pkts_in);
	s->pkts_out += delta(r->c.pkts_out, c->pkts_out);
	s->retrans += delta(r->c.retrans, c->retrans);
	c->bytes_in = r->c.bytes_in;
	c->bytes_out = r->c.bytes_out;
	c->pkts_in = r->c.pkts_in;
	c->pkts_out = r->c.pkts_out;
	c->retrans = r->c.retrans;
	c->srtt_us = r->c.srtt_us;
	c->seen = p->seen;
	s->active_ns = p->now_ns;
	if (r->flags & CONN_F_CLOSED) {
		s->closed++;
		if (r->id.proto == PROTO_TCP &&
		    ((r->flags & CONN_F_FAILED) || r->state == TCP_SYN_SENT))
			s->failed++;
		conn_drop(p, c);
	}
	return 0;
}

static uint32_t row_host(const struct prom *p, const struct rec_snap_row *r)
{
	return r->host < p->nmap && p->map[r->host] != UINT32_MAX ? p->map[r->host] : p->map[0];
}

int prom_snapshot(struct prom *p, const struct rec_snap_begin *b, const struct rec_host *hosts,
		  size_t nhosts, const struct rec_snap_row *rows, size_t nrows)
{
	int err;

	p->seen++;
	if (b->time_ns > p->now_ns)
		p->now_ns = b->time_ns;
	if (nhosts) {
		for (size_t i = 0; i < nhosts; i++) {
			struct host *h;

			if (!hosts[i].index ||
			    (err = map_set(p, hosts[i].index, hosts[i].hostname)))
				continue;
			h = &p->hosts[p->map[hosts[i].index < HOST_MAX ? hosts[i].index
								       : HOST_MAX - 1]];
			h->state = hosts[i].state;
			h->time_ns = hosts[i].time_ns;
			h->seen = true;
			host_loss(h, hosts[i].loss, hosts[i].nloss);
		}
	} else {
		struct host *h;

		if ((err = section_map(p)))
			return err;
		h = &p->hosts[p->map[0]];
		h->time_ns = b->time_ns;
		h->state = HOST_LIVE;
		host_loss(h, b->loss, b->nloss);
	}

	/* a row naming no known host belongs to the section's */
	for (size_t i = 0; i < nrows && !p->section_mapped; i++)
		if (rows[i].host >= p->nmap || p->map[rows[i].host] == UINT32_MAX)
			if ((err = section_map(p)))
				return err;

	/* listeners first: a connection they accepted in this snapshot is folded like later ones */
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].id.proto == PROTO_TCP && rows[i].state == TCP_LISTEN) {
			struct host *h = &p->hosts[row_host(p, &rows[i])];

			h->listen[rows[i].id.lport / 8] |= 1u << (rows[i].id.lport % 8);
		}
	for (size_t i = 0; i < nrows; i++) {
		if (rows[i].id.proto == PROTO_TCP && rows[i].state == TCP_LISTEN)
			continue;
		if ((err = apply_row(p, row_host(p, &rows[i]), &rows[i])))
			return err;
	}

	/* connections gone without a close (filtered out, a new section, an ended host): what
	 * they moved stays counted */
	for (uint64_t i = 0; i < p->nconns;) {
		struct pconn *c = p->conns[i];

		if (c->seen != p->seen)
			conn_drop(p, c);
		else
			i++;
	}
	for (uint64_t i = 0; i < p->nseries; i++) {
		p->series[i]->live = 0;
		p->series[i]->rtt_sum_us = 0;
		p->series[i]->rtt_n = 0;
	}
	for (uint64_t i = 0; i < p->nconns; i++) {
		struct pconn *c = p->conns[i];

		c->s->live++;
		if (c->proto == PROTO_TCP && c->srtt_us) {
			c->s->rtt_sum_us += c->srtt_us;
			c->s->rtt_n++;
		}
	}
	if (p->o.ttl_ns) {
		for (uint64_t i = 0; i < p->nseries;) {
			struct series *s = p->series[i];

			if (!s->live && p->now_ns - s->active_ns > (int64_t)p->o.ttl_ns) {
				series_drop(p, s);
				p->expired++;
			} else {
				i++;
			}
		}
	}
	return 0;
}

/* ---- exposition ---- */

enum mtype {
	M_COUNTER,
	M_GAUGE
};

/* "# HELP" and "# TYPE" lines. OpenMetrics names a counter's family without "_total". */
static void family(struct prom_buf *b, const char *name, enum mtype t, const char *help, bool om)
{
	size_t n = strlen(name);

	if (om && t == M_COUNTER && n > 6 && strcmp(name + n - 6, "_total") == 0)
		n -= 6;
	PUT_LIT(b, "# HELP ");
	put_mem(b, name, n);
	put_mem(b, " ", 1);
	put_str(b, help);
	PUT_LIT(b, "\n# TYPE ");
	put_mem(b, name, n);
	if (t == M_COUNTER)
		PUT_LIT(b, " counter\n");
	else
		PUT_LIT(b, " gauge\n");
}

enum field {
	F_BYTES_IN,
	F_BYTES_OUT,
	F_PKTS_IN,
	F_PKTS_OUT,
	F_RETRANS,
	F_OPENED,
	F_CLOSED,
	F_FAILED,
	F_LIVE,
};

static inline uint64_t field(const struct series *s, enum field f)
{
	switch (f) {
	case F_BYTES_IN:
		return s->bytes_in;
	case F_BYTES_OUT:
		return s->bytes_out;
	case F_PKTS_IN:
		return s->pkts_in;
	case F_PKTS_OUT:
		return s->pkts_out;
	case F_RETRANS:
		return s->retrans;
	case F_OPENED:
		return s->opened;
	case F_CLOSED:
		return s->closed;
	case F_FAILED:
		return s->failed;
	case F_LIVE:
		return s->live;
	}
	return 0;
}

/* One sample per label set: name{labels<extra>} value. tcp_only leaves UDP sets out. */
static int samples(struct prom *p, struct prom_buf *b, const char *name, const char *extra,
		   enum field f, bool tcp_only)
{
	size_t nl = strlen(name), el = strlen(extra);

	for (uint64_t i = 0; i < p->nseries; i++) {
		const struct series *s = p->series[i];

		if (tcp_only && s->k.proto != PROTO_TCP && s->k.proto != 0)
			continue;
		if (prom_buf_reserve(b, nl + s->llen + el + 32))
			return -ENOMEM;
		put_mem(b, name, nl);
		put_mem(b, "{", 1);
		put_mem(b, s->labels, s->llen);
		put_mem(b, extra, el);
		PUT_LIT(b, "} ");
		put_u64(b, field(s, f));
		put_mem(b, "\n", 1);
	}
	return 0;
}

static const char *state_name(uint32_t st)
{
	return st == HOST_LIVE ? "live" : st == HOST_LAGGING ? "lagging" : "ended";
}

int prom_expose(struct prom *p, struct prom_buf *b, bool om, int64_t now_ns)
{
	size_t start = b->len;
	int err = 0;

	if (prom_buf_reserve(b, p->last_len + 65536))
		return -ENOMEM;
	family(b, "tcptop_network_io_bytes_total", M_COUNTER,
	       "Payload bytes received and transmitted by the application.", om);
	if ((err = samples(p, b, "tcptop_network_io_bytes_total", ",direction=\"receive\"",
			   F_BYTES_IN, false)) ||
	    (err = samples(p, b, "tcptop_network_io_bytes_total", ",direction=\"transmit\"",
			   F_BYTES_OUT, false)))
		return err;
	if (prom_buf_reserve(b, 4096))
		return -ENOMEM;
	family(b, "tcptop_network_packets_total", M_COUNTER,
	       "TCP segments and UDP datagrams received and transmitted.", om);
	if ((err = samples(p, b, "tcptop_network_packets_total", ",direction=\"receive\"",
			   F_PKTS_IN, false)) ||
	    (err = samples(p, b, "tcptop_network_packets_total", ",direction=\"transmit\"",
			   F_PKTS_OUT, false)))
		return err;
	if (prom_buf_reserve(b, 4096))
		return -ENOMEM;
	family(b, "tcptop_tcp_retransmits_total", M_COUNTER, "TCP segments retransmitted.", om);
	if ((err = samples(p, b, "tcptop_tcp_retransmits_total", "", F_RETRANS, true)))
		return err;
	if (prom_buf_reserve(b, 4096))
		return -ENOMEM;
	family(b, "tcptop_connections_opened_total", M_COUNTER,
	       "Connections and UDP flows first seen (not those begun before the collector).", om);
	if ((err = samples(p, b, "tcptop_connections_opened_total", "", F_OPENED, false)))
		return err;
	if (prom_buf_reserve(b, 4096))
		return -ENOMEM;
	family(b, "tcptop_connections_closed_total", M_COUNTER,
	       "Connections closed and UDP flows expired.", om);
	if ((err = samples(p, b, "tcptop_connections_closed_total", "", F_CLOSED, false)))
		return err;
	if (prom_buf_reserve(b, 4096))
		return -ENOMEM;
	family(b, "tcptop_connections_failed_total", M_COUNTER,
	       "TCP connections closed without reaching ESTABLISHED.", om);
	if ((err = samples(p, b, "tcptop_connections_failed_total", "", F_FAILED, true)))
		return err;
	if (prom_buf_reserve(b, 4096))
		return -ENOMEM;
	family(b, "tcptop_connections", M_GAUGE,
	       "Connections and UDP flows open at the latest snapshot.", om);
	if ((err = samples(p, b, "tcptop_connections", "", F_LIVE, false)))
		return err;
	if (prom_buf_reserve(b, 4096))
		return -ENOMEM;
	family(b, "tcptop_tcp_rtt_seconds", M_GAUGE,
	       "Mean smoothed round-trip time of the open TCP connections.", om);
	for (uint64_t i = 0; i < p->nseries; i++) {
		const struct series *s = p->series[i];

		if (!s->rtt_n)
			continue;
		if (prom_buf_reserve(b, s->llen + 64))
			return -ENOMEM;
		PUT_LIT(b, "tcptop_tcp_rtt_seconds{");
		put_mem(b, s->labels, s->llen);
		PUT_LIT(b, "} ");
		put_us_as_s(b, s->rtt_sum_us / s->rtt_n);
		put_mem(b, "\n", 1);
	}

	/* health */
	if (prom_buf_reserve(b, 8192 + (size_t)p->nhosts * (LOSS_CODES + 4) * 300))
		return -ENOMEM;
	family(b, "tcptop_loss_total", M_COUNTER,
	       "Events, flows, intervals or connections lost, by cause (tcptop-stream(5)).", om);
	for (uint32_t i = 0; i < p->nhosts; i++) {
		const struct host *h = &p->hosts[i];

		for (uint32_t j = 0; j < h->nloss; j++) {
			PUT_LIT(b, "tcptop_loss_total{host=\"");
			put_str(b, h->label);
			PUT_LIT(b, "\",cause=\"");
			put_str(b, loss_code_name(h->loss[j].code));
			if (!strcmp(loss_code_name(h->loss[j].code), "unknown")) {
				PUT_LIT(b, "_");
				put_u64(b, h->loss[j].code);
			}
			PUT_LIT(b, "\"} ");
			put_u64(b, h->loss[j].base + h->loss[j].cur);
			put_mem(b, "\n", 1);
		}
	}
	PUT_LIT(b, "tcptop_loss_total{host=\"\",cause=\"series_overflow\"} ");
	put_u64(b, p->overflow_conns);
	put_mem(b, "\n", 1);
	family(b, "tcptop_stream_up", M_GAUGE,
	       "1 while the host's input is open (live or lagging), 0 once it ended.", om);
	for (uint32_t i = 0; i < p->nhosts; i++) {
		PUT_LIT(b, "tcptop_stream_up{host=\"");
		put_str(b, p->hosts[i].label);
		PUT_LIT(b, "\",state=\"");
		put_str(b, state_name(p->hosts[i].state));
		PUT_LIT(b, "\"} ");
		put_u64(b, p->hosts[i].state != HOST_ENDED);
		put_mem(b, "\n", 1);
	}
	family(b, "tcptop_stream_age_seconds", M_GAUGE,
	       "Wall-clock age of the host's latest snapshot (replays: since it was recorded).",
	       om);
	for (uint32_t i = 0; i < p->nhosts; i++) {
		if (!p->hosts[i].time_ns)
			continue;
		PUT_LIT(b, "tcptop_stream_age_seconds{host=\"");
		put_str(b, p->hosts[i].label);
		PUT_LIT(b, "\"} ");
		put_ns_as_s(b, now_ns - p->hosts[i].time_ns);
		put_mem(b, "\n", 1);
	}
	family(b, "tcptop_exporter_series", M_GAUGE,
	       "Label sets held (the limit is --max-series, overflow series apart).", om);
	PUT_LIT(b, "tcptop_exporter_series ");
	put_u64(b, p->nseries);
	put_mem(b, "\n", 1);
	family(b, "tcptop_exporter_series_expired_total", M_COUNTER,
	       "Label sets dropped after --series-ttl without traffic.", om);
	PUT_LIT(b, "tcptop_exporter_series_expired_total ");
	put_u64(b, p->expired);
	put_mem(b, "\n", 1);
	family(b, "tcptop_exporter_connections", M_GAUGE, "Connections tracked.", om);
	PUT_LIT(b, "tcptop_exporter_connections ");
	put_u64(b, p->nconns);
	put_mem(b, "\n", 1);
	family(b, "tcptop_exporter_scrape_duration_seconds", M_GAUGE,
	       "Time the previous exposition took to build.", om);
	PUT_LIT(b, "tcptop_exporter_scrape_duration_seconds ");
	put_ns_as_s(b, (int64_t)p->scrape_ns);
	put_mem(b, "\n", 1);
	if (om)
		PUT_LIT(b, "# EOF\n");
	p->last_len = b->len - start;
	return 0;
}
