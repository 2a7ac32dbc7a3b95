// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The exporter's state. Connections of the snapshot stream are folded into label sets (host,
 * protocol, process, cgroup when its path is known, local port when listening, remote address
 * and port, ephemeral ports folded); each label set keeps counters that only grow: a connection
 * adds what its counters moved since the previous snapshot, and its bytes stay in the label
 * set's total after it closes.
 * Label sets, connections, hosts and cgroup names are lib/htab.h tables over lib/vec.h arrays;
 * each label set keeps its labels pre-formatted, so an exposition is mostly memcpy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup.h"
#include "contract.h"
#include "htab.h"
#include "prom.h"
#include "util.h"
#include "vec.h"

/* Sanitised bytes of a label value at most: a host name or a unit's name fits, and a longer
 * cgroup path (anyone may name cgroups under their own) cannot make a label set cost more. */
#define LABEL_VALUE_MAX 128
#define TCP_LISTEN	10
#define TCP_SYN_SENT	2
#define LOSS_CODES	64		 /* loss codes tracked per host */
#define CGNAME_MAX	CGROUP_TABLE_CAP /* distinct cgroup label values at most; more go unlabelled */
#define HOST_NONE	UINT32_MAX	 /* a stream's host index not (yet) mapped */
#define HOST_OVER	(UINT32_MAX - 1) /* a stream's host beyond PROM_HOST_MAX: rows not applied */

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
	struct hnode hn;
	struct skey k;
	size_t pos; /* in p->series */
	uint64_t bytes_in, bytes_out, pkts_in, pkts_out, retrans;
	uint64_t opened, closed, failed;
	uint64_t rtt_sum_us;
	uint32_t rtt_n, live;
	int64_t active_ns; /* stream wall time it last had a connection or moved */
	uint32_t llen;
	char labels[]; /* host="..",protocol="..",... */
};

struct pconn {
	struct hnode hn;
	uint64_t flow;
	uint32_t host, seen;
	size_t pos; /* in p->conns */
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
	struct hnode hn;
	uint32_t id; /* in p->hosts */
	char *label; /* escaped host name */
	uint32_t state;
	int64_t time_ns;
	uint32_t nloss;
	struct loss_slot loss[LOSS_CODES];
	uint8_t *listen; /* TCP ports seen in LISTEN, 65536 bits; NULL until the first */
	uint64_t
		sections; /* sections of its stream read: one more at each restart of its collector */
};

/* An interned cgroup label value: its index + 1 is what a key holds. */
struct cgname {
	struct hnode hn;
	uint32_t id; /* in p->cgname */
	char label[];
};

struct prom {
	struct prom_opts o;

	struct series **series;
	size_t nseries, series_cap;
	struct htab series_by_key;

	struct pconn **conns;
	size_t nconns, conns_cap;
	struct htab conns_by_flow;

	struct host **hosts;
	size_t nhosts, hosts_cap;
	struct htab hosts_by_label;
	uint32_t *map; /* a stream's host index to hosts[], HOST_NONE or HOST_OVER */
	size_t nmap, map_cap;
	char section_host[HDR_STR_MAX];
	bool section_mapped; /* the section's host is index 0 (it has rows without a HOST) */

	/* cgroups: the section's id -> path (ids belong to their section), and each short form as a
	 * label value, interned for good so that a key holds a number and a restarted unit (a new
	 * id, the same name) keeps its label set */
	struct cgroup_table cg;
	bool no_cgroup; /* the section's header says the feature is missing */
	struct cgname **cgname;
	size_t ncgname, cgname_cap;
	struct htab cgname_by_label;

	uint32_t seen; /* snapshot counter, for the sweep */
	uint64_t gen;  /* prom_generation() */
	int64_t now_ns;
	/* what the exporter itself could not count (tcptop_loss_total{host=""}) */
	uint64_t overflow_conns, rows_dropped, host_rows_dropped;
	uint64_t expired;
	uint64_t label_bytes;
	size_t last_len; /* of the previous body: reserved at once, no doubling */
};

/* Totals only grow: one that would pass 2^64 - 1 stays there rather than wrap to a small one. */
static inline void add_sat(uint64_t *total, uint64_t d)
{
	*total = *total + d < *total ? UINT64_MAX : *total + d;
}

/* ---- buffer ---- */

int prom_buf_reserve(struct prom_buf *b, size_t n)
{
	if (n > SIZE_MAX - b->len)
		return -ENOMEM;
	return vec_reserve(&b->p, &b->cap, b->len + n, 1);
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

/*
 * A label value: hostile bytes sanitised (valid UTF-8, no control characters, a backslash shown
 * as "\\"), cut to LABEL_VALUE_MAX bytes of sanitised text (never inside an escape or a
 * character), then escaped for the exposition format (backslash, double quote; no newline is
 * left to escape). So a process named `x",evil="1` stays one label value, and no value is longer
 * than 2 * LABEL_VALUE_MAX: what a label set costs in an exposition is bounded.
 */
static size_t label_escape(char *dst, size_t dstsz, const void *src, size_t srclen)
{
	char tmp[LABEL_VALUE_MAX + 1];
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
#define LABEL_SIZE (2 * LABEL_VALUE_MAX + 1)

/* ---- setup ---- */

struct prom *prom_new(const struct prom_opts *o)
{
	struct prom *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->o = *o;
	if (htab_init(&p->series_by_key, 16) || htab_init(&p->conns_by_flow, 16) ||
	    htab_init(&p->hosts_by_label, 16) || htab_init(&p->cgname_by_label, 64)) {
		prom_free(p);
		return NULL;
	}
	return p;
}

void prom_free(struct prom *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nseries; i++)
		free(p->series[i]);
	for (size_t i = 0; i < p->nconns; i++)
		free(p->conns[i]);
	for (size_t i = 0; i < p->nhosts; i++) {
		free(p->hosts[i]->label);
		free(p->hosts[i]->listen);
		free(p->hosts[i]);
	}
	for (size_t i = 0; i < p->ncgname; i++)
		free(p->cgname[i]);
	cgroup_table_free(&p->cg);
	htab_free(&p->series_by_key);
	htab_free(&p->conns_by_flow);
	htab_free(&p->hosts_by_label);
	htab_free(&p->cgname_by_label);
	free(p->series);
	free(p->conns);
	free(p->hosts);
	free(p->map);
	free(p->cgname);
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

uint64_t prom_generation(const struct prom *p)
{
	return p->gen;
}

/* ---- hosts ---- */

/* The host named raw: its index in p->hosts, added if new; HOST_OVER when PROM_HOST_MAX hosts
 * are known already; -ENOMEM. */
static int host_get(struct prom *p, const char *raw, uint32_t *id)
{
	char label[LABEL_SIZE];
	uint64_t h;
	struct hnode *n;
	struct host *ho;

	label_escape(label, sizeof(label), raw, strnlen(raw, HDR_STR_MAX));
	h = hash_str(label);
	htab_for_hash(&p->hosts_by_label, n, h)
	{
		ho = container_of(n, struct host, hn);
		if (strcmp(ho->label, label) == 0) {
			*id = ho->id;
			return 0;
		}
	}
	if (p->nhosts == PROM_HOST_MAX) {
		*id = HOST_OVER;
		return 0;
	}
	if (VEC_RESERVE(&p->hosts, &p->hosts_cap, p->nhosts + 1))
		return -ENOMEM;
	ho = calloc(1, sizeof(*ho));
	if (!ho || !(ho->label = strdup(label)) || htab_add(&p->hosts_by_label, &ho->hn, h)) {
		if (ho)
			free(ho->label);
		free(ho);
		return -ENOMEM;
	}
	*id = ho->id = p->nhosts;
	p->hosts[p->nhosts++] = ho;
	return 0;
}

/* Map a stream's host index to a host, by name. An index at or beyond PROM_HOST_MAX is a host
 * over the limit too: nothing that large is kept. */
static int map_set(struct prom *p, uint32_t index, const char *raw, uint32_t *id)
{
	int err;

	*id = HOST_OVER;
	if (index >= PROM_HOST_MAX)
		return 0;
	if (index >= p->nmap) {
		if (vec_resize(&p->map, &p->map_cap, index + 1, sizeof(*p->map)))
			return -ENOMEM;
		for (size_t i = p->nmap; i <= index; i++)
			p->map[i] = HOST_NONE;
		p->nmap = index + 1;
	}
	if ((err = host_get(p, raw, id)))
		return err;
	p->map[index] = *id;
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
			add_sat(&h->loss[j].base, h->loss[j].cur);
		h->loss[j].cur = l[i].value;
	}
}

static void conn_drop(struct prom *p, struct pconn *c);

/* A merged stream's header names no host of its own ("a+b"): the section's host becomes one only
 * when rows without a HOST record need it. */
int prom_section(struct prom *p, const struct stream_header *h)
{
	snprintf(p->section_host, sizeof(p->section_host), "%s", h->hostname);
	p->section_mapped = false;
	/* a new section numbers its flows anew: the last one's connections are gone, what they
	 * moved stays counted (a flow id met again is another connection) */
	while (p->nconns)
		conn_drop(p, p->conns[p->nconns - 1]);
	p->no_cgroup = features_missing(h, NULL, 0) & (1u << FEAT_CGROUP);
	cgroup_table_clear(&p->cg);
	p->gen++;
	return 0;
}

/* ---- cgroups ---- */

/* The label value's index + 1 (added if new), 0 when the table is full; -ENOMEM. */
static int64_t cgname_intern(struct prom *p, const char *label)
{
	uint64_t h = hash_str(label);
	size_t len = strlen(label);
	struct hnode *n;
	struct cgname *c;

	htab_for_hash(&p->cgname_by_label, n, h)
	{
		c = container_of(n, struct cgname, hn);
		if (strcmp(c->label, label) == 0)
			return (int64_t)c->id + 1;
	}
	if (p->ncgname == CGNAME_MAX)
		return 0;
	if (VEC_RESERVE(&p->cgname, &p->cgname_cap, p->ncgname + 1) ||
	    !(c = malloc(sizeof(*c) + len + 1)))
		return -ENOMEM;
	memcpy(c->label, label, len + 1);
	if (htab_add(&p->cgname_by_label, &c->hn, h)) {
		free(c);
		return -ENOMEM;
	}
	p->label_bytes += len + 1;
	c->id = p->ncgname;
	p->cgname[p->ncgname++] = c;
	return (int64_t)p->ncgname;
}

int prom_cgroup(struct prom *p, uint32_t host, uint64_t id, const char *path)
{
	char label[LABEL_SIZE];
	struct cgroup_ent *e = cgroup_table_set_host(&p->cg, host, id, path);
	int64_t v;

	if (!e) /* id 0, or the table full: its rows go unlabelled */
		return 0;
	/* an empty name is no label: a label left out and an empty one are the same series */
	if (!label_escape(label, sizeof(label), e->short_name, strlen(e->short_name))) {
		e->user = 0;
		return 0;
	}
	if ((v = cgname_intern(p, label)) < 0)
		return (int)v;
	e->user = (uint32_t)v;
	return 0;
}

static int section_map(struct prom *p)
{
	uint32_t id;
	int err;

	if (p->section_mapped)
		return 0;
	if ((err = map_set(p, 0, p->section_host, &id)))
		return err;
	if (id != HOST_OVER) {
		p->hosts[id]->state = HOST_LIVE;
		p->hosts[id]->sections++;
	}
	p->section_mapped = true;
	return 0;
}

void prom_input_end(struct prom *p)
{
	for (size_t i = 0; i < p->nhosts; i++)
		p->hosts[i]->state = HOST_ENDED;
	p->gen++;
}

/* ---- label sets ---- */

static struct series *series_find(struct prom *p, const struct skey *k, uint64_t h)
{
	struct hnode *n;

	htab_for_hash(&p->series_by_key, n,
		      h) if (memcmp(&container_of(n, struct series, hn)->k, k, sizeof(*k)) ==
			     0) return container_of(n, struct series, hn);
	return NULL;
}

static const char *proto_name(uint8_t proto)
{
	return proto == PROTO_TCP ? "tcp" : proto == PROTO_UDP ? "udp" : "other";
}

/* The labels of k, host="..",protocol="..",..., in dst (size 0: only measured); their length. */
static int labels_format(const struct prom *p, const struct skey *k, char *dst, size_t size)
{
	char comm[LABEL_SIZE], addr[ADDR_LEN];
	const char *hl = p->hosts[k->host]->label;
	const char *cg = k->cgroup ? p->cgname[k->cgroup - 1]->label : "";
	char lp[32] = "", rp[32] = "", pl[LABEL_SIZE + 16] = "";

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

static struct series *series_new(struct prom *p, const struct skey *k, uint64_t h)
{
	struct series *s;
	int n = labels_format(p, k, NULL, 0);

	if (n < 0 || VEC_RESERVE(&p->series, &p->series_cap, p->nseries + 1))
		return NULL;
	s = calloc(1, sizeof(*s) + n + 1);
	if (!s)
		return NULL;
	s->k = *k;
	labels_format(p, k, s->labels, n + 1);
	s->llen = n;
	s->active_ns = p->now_ns;
	if (htab_add(&p->series_by_key, &s->hn, h)) {
		free(s);
		return NULL;
	}
	s->pos = p->nseries;
	p->series[p->nseries++] = s;
	p->label_bytes += n + 1;
	return s;
}

static void series_drop(struct prom *p, struct series *s)
{
	struct series *last = p->series[--p->nseries];

	htab_del(&p->series_by_key, &s->hn);
	p->series[s->pos] = last;
	last->pos = s->pos;
	p->label_bytes -= s->llen + 1;
	free(s);
}

static inline bool ephemeral(const struct prom *p, uint16_t port)
{
	return port >= p->o.eph_lo && port <= p->o.eph_hi;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void key_of(const struct prom *p, uint32_t host, const struct rec_snap_row *r,
		   struct skey *k)
{
	const struct host *h = p->hosts[host];

	memset(k, 0, sizeof(*k));
	k->host = host;
	/* a key is what its labels show, no more: keys that would print the same labels are one
	 * (two label sets with the same labels are a duplicate series Prometheus refuses) */
	k->proto = r->id.proto == PROTO_TCP || r->id.proto == PROTO_UDP ? r->id.proto : 255;
	if (r->id.family == FAMILY_INET6 && memcmp(r->id.raddr, v4mapped, 12) != 0) {
		k->family = FAMILY_INET6;
		memcpy(k->raddr, r->id.raddr, 16);
	} else if (r->id.family == FAMILY_INET6) { /* shown as IPv4 */
		k->family = FAMILY_INET;
		memcpy(k->raddr, r->id.raddr + 12, 4);
	} else if (r->id.family == FAMILY_INET) {
		k->family = FAMILY_INET;
		memcpy(k->raddr, r->id.raddr, 4);
	}
	if (!(r->flags & CONN_F_NO_OWNER))
		memcpy(k->comm, r->comm, strnlen(r->comm, COMM_LEN));
	if (r->cgroup_id && !p->no_cgroup) {
		/* a merged stream's ids are its hosts' (CGROUP.host is SNAP_ROW.host) */
		const struct cgroup_ent *e = cgroup_table_get_host(&p->cg, r->host, r->cgroup_id);

		/* a path never reported: no label rather than a number nobody knows */
		k->cgroup = e ? e->user : 0;
	}
	if (r->id.proto == PROTO_TCP && h->listen &&
	    (h->listen[r->id.lport / 8] & (1u << (r->id.lport % 8)))) {
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
		return series_new(p, k, h);
	/* full: the host's overflow series (made even past the cap: one per host) */
	memset(&ok, 0, sizeof(ok));
	ok.host = k->host;
	p->overflow_conns++;
	h = hash_bytes(&ok, sizeof(ok));
	s = series_find(p, &ok, h);
	return s ? s : series_new(p, &ok, h);
}

/* ---- connections ---- */

static struct pconn *conn_find(struct prom *p, uint32_t host, uint64_t flow, uint64_t h)
{
	struct hnode *n;

	htab_for_hash(&p->conns_by_flow, n, h)
	{
		struct pconn *c = container_of(n, struct pconn, hn);

		if (c->flow == flow && c->host == host)
			return c;
	}
	return NULL;
}

static struct pconn *conn_new(struct prom *p, uint32_t host, uint64_t flow, uint64_t h)
{
	struct pconn *c;

	if (VEC_RESERVE(&p->conns, &p->conns_cap, p->nconns + 1) || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->host = host;
	c->flow = flow;
	if (htab_add(&p->conns_by_flow, &c->hn, h)) {
		free(c);
		return NULL;
	}
	c->pos = p->nconns;
	p->conns[p->nconns++] = c;
	return c;
}

static void conn_drop(struct prom *p, struct pconn *c)
{
	struct pconn *last = p->conns[--p->nconns];

	htab_del(&p->conns_by_flow, &c->hn);
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
	uint64_t h = hash_u64x2(host, r->id.flow);
	struct pconn *c = conn_find(p, host, r->id.flow, h);
	struct series *s;
	struct skey k;

	key_of(p, host, r, &k);
	if (!c) {
		if (!(c = conn_new(p, host, r->id.flow, h)))
			return -ENOMEM;
		c->proto = r->id.proto;
		if (!(c->s = series_get(p, &k))) {
			conn_drop(p, c);
			return -ENOMEM;
		}
		if ((r->flags & CONN_F_NEW) && !(r->flags & CONN_F_BEGUN_BEFORE))
			c->s->opened++;
		if ((r->flags & CONN_F_BEGUN_BEFORE) && p->hosts[host]->sections > 1) {
			/* begun before a restarted collector: the section before counted what it
			 * moved until then; from here on, what it moves (what moved between the
			 * two collectors is not known) */
			c->bytes_in = r->c.bytes_in;
			c->bytes_out = r->c.bytes_out;
			c->pkts_in = r->c.pkts_in;
			c->pkts_out = r->c.pkts_out;
			c->retrans = r->c.retrans;
		}
	} else if (memcmp(&c->s->k, &k, sizeof(k)) != 0 && c->s->k.proto != 0) {
		/* its owner became known: what it moves from now on goes to the new set */
		if (!(s = series_get(p, &k)))
			return -ENOMEM;
		c->s = s;
	}
	s = c->s;
	add_sat(&s->bytes_in, delta(r->c.bytes_in, c->bytes_in));
	add_sat(&s->bytes_out, delta(r->c.bytes_out, c->bytes_out));
	add_sat(&s->pkts_in, delta(r->c.pkts_in, c->pkts_in));
	add_sat(&s->pkts_out, delta(r->c.pkts_out, c->pkts_out));
	add_sat(&s->retrans, delta(r->c.retrans, c->retrans));
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

/* A TCP port the host listens on (8 KiB of bits, made at its first listener). */
static int listen_add(struct host *h, uint16_t port)
{
	if (!h->listen && !(h->listen = calloc(65536 / 8, 1)))
		return -ENOMEM;
	h->listen[port / 8] |= 1u << (port % 8);
	return 0;
}

/* The host a row belongs to: its HOST record's, else the section's; HOST_OVER for a host
 * beyond the limit. */
static uint32_t row_host(const struct prom *p, const struct rec_snap_row *r)
{
	if (r->host >= PROM_HOST_MAX)
		return HOST_OVER;
	return r->host < p->nmap && p->map[r->host] != HOST_NONE ? p->map[r->host] : p->map[0];
}

static int snapshot_hosts(struct prom *p, const struct rec_snap_begin *b,
			  const struct rec_host *hosts, size_t nhosts)
{
	struct host *h;
	uint32_t id;
	int err;

	if (!nhosts) {
		if ((err = section_map(p)))
			return err;
		if (p->map[0] == HOST_OVER)
			return 0;
		h = p->hosts[p->map[0]];
		h->time_ns = b->time_ns;
		h->state = HOST_LIVE;
		host_loss(h, b->loss, b->nloss);
		return 0;
	}
	for (size_t i = 0; i < nhosts; i++) {
		if (!hosts[i].index)
			continue;
		if ((err = map_set(p, hosts[i].index, hosts[i].hostname, &id)))
			return err;
		if (id == HOST_OVER)
			continue;
		h = p->hosts[id];
		h->state = hosts[i].state;
		h->time_ns = hosts[i].time_ns;
		host_loss(h, hosts[i].loss, hosts[i].nloss);
	}
	/* a row naming no known host belongs to the section's */
	return 0;
}

int prom_snapshot(struct prom *p, const struct rec_snap_begin *b, const struct rec_host *hosts,
		  size_t nhosts, const struct rec_snap_row *rows, size_t nrows,
		  uint64_t rows_dropped)
{
	int err;

	p->seen++;
	p->gen++;
	add_sat(&p->rows_dropped, rows_dropped);
	if (b->time_ns > p->now_ns)
		p->now_ns = b->time_ns;
	if ((err = snapshot_hosts(p, b, hosts, nhosts)))
		return err;
	for (size_t i = 0; i < nrows && !p->section_mapped; i++)
		if (rows[i].host < PROM_HOST_MAX &&
		    (rows[i].host >= p->nmap || p->map[rows[i].host] == HOST_NONE))
			if ((err = section_map(p)))
				return err;

	/* listeners first: a connection they accepted in this snapshot is folded like later ones */
	for (size_t i = 0; i < nrows; i++) {
		uint32_t host = row_host(p, &rows[i]);

		if (host == HOST_OVER) {
			p->host_rows_dropped++;
			continue;
		}
		if (rows[i].id.proto == PROTO_TCP && rows[i].state == TCP_LISTEN &&
		    (err = listen_add(p->hosts[host], rows[i].id.lport)))
			return err;
	}
	for (size_t i = 0; i < nrows; i++) {
		uint32_t host = row_host(p, &rows[i]);

		if (host == HOST_OVER ||
		    (rows[i].id.proto == PROTO_TCP && rows[i].state == TCP_LISTEN))
			continue;
		if ((err = apply_row(p, host, &rows[i])))
			return err;
	}

	/* connections gone without a close (filtered out, a new section, an ended host): what
	 * they moved stays counted. Not after a snapshot cut short: its missing rows are not
	 * gone, and would come back as new connections counted again from zero. */
	for (size_t i = 0; i < p->nconns && !rows_dropped;) {
		struct pconn *c = p->conns[i];

		if (c->seen != p->seen)
			conn_drop(p, c);
		else
			i++;
	}
	for (size_t i = 0; i < p->nseries; i++) {
		p->series[i]->live = 0;
		p->series[i]->rtt_sum_us = 0;
		p->series[i]->rtt_n = 0;
	}
	for (size_t i = 0; i < p->nconns; i++) {
		struct pconn *c = p->conns[i];

		c->s->live++;
		if (c->proto == PROTO_TCP && c->srtt_us) {
			c->s->rtt_sum_us += c->srtt_us;
			c->s->rtt_n++;
		}
	}
	if (p->o.ttl_ns) {
		for (size_t i = 0; i < p->nseries;) {
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

	for (size_t i = 0; i < p->nseries; i++) {
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

/* The counter families of the label sets, in the order they are written. */
static const struct {
	const char *name, *extra;
	enum field f;
	bool tcp_only, first_of_family;
	enum mtype t;
	const char *help;
} families[] = {
	{ "tcptop_network_io_bytes_total", ",direction=\"receive\"", F_BYTES_IN, false, true,
	  M_COUNTER, "Payload bytes received and transmitted by the application." },
	{ "tcptop_network_io_bytes_total", ",direction=\"transmit\"", F_BYTES_OUT, false, false,
	  M_COUNTER, NULL },
	{ "tcptop_network_packets_total", ",direction=\"receive\"", F_PKTS_IN, false, true,
	  M_COUNTER, "TCP segments and UDP datagrams received and transmitted." },
	{ "tcptop_network_packets_total", ",direction=\"transmit\"", F_PKTS_OUT, false, false,
	  M_COUNTER, NULL },
	{ "tcptop_tcp_retransmits_total", "", F_RETRANS, true, true, M_COUNTER,
	  "TCP segments retransmitted." },
	{ "tcptop_connections_opened_total", "", F_OPENED, false, true, M_COUNTER,
	  "Connections and UDP flows first seen (not those begun before the collector)." },
	{ "tcptop_connections_closed_total", "", F_CLOSED, false, true, M_COUNTER,
	  "Connections closed and UDP flows expired." },
	{ "tcptop_connections_failed_total", "", F_FAILED, true, true, M_COUNTER,
	  "TCP connections closed without reaching ESTABLISHED." },
	{ "tcptop_connections", "", F_LIVE, false, true, M_GAUGE,
	  "Connections and UDP flows open at the latest snapshot." },
};

static const char *state_name(uint32_t st)
{
	return st == HOST_LIVE ? "live" : st == HOST_LAGGING ? "lagging" : "ended";
}

/* The exporter's own losses: host="" and a cause of its own. */
static void own_loss(struct prom_buf *b, const char *cause, uint64_t v)
{
	PUT_LIT(b, "tcptop_loss_total{host=\"\",cause=\"");
	put_str(b, cause);
	PUT_LIT(b, "\"} ");
	put_u64(b, v);
	put_mem(b, "\n", 1);
}

static int expose_health(struct prom *p, struct prom_buf *b, bool om)
{
	size_t need = 8192; /* the families' lines and the exporter's own */

	for (size_t i = 0; i < p->nhosts; i++) /* its losses and its stream_up */
		need += (p->hosts[i]->nloss + 1) * (strlen(p->hosts[i]->label) + 96);
	if (prom_buf_reserve(b, need))
		return -ENOMEM;
	family(b, "tcptop_loss_total", M_COUNTER,
	       "Events, flows, intervals or connections lost, by cause (tcptop-stream(5)).", om);
	for (size_t i = 0; i < p->nhosts; i++) {
		const struct host *h = p->hosts[i];

		for (uint32_t j = 0; j < h->nloss; j++) {
			uint64_t total = h->loss[j].base;

			add_sat(&total, h->loss[j].cur);
			PUT_LIT(b, "tcptop_loss_total{host=\"");
			put_str(b, h->label);
			PUT_LIT(b, "\",cause=\"");
			put_str(b, loss_code_name(h->loss[j].code));
			if (!strcmp(loss_code_name(h->loss[j].code), "unknown")) {
				PUT_LIT(b, "_");
				put_u64(b, h->loss[j].code);
			}
			PUT_LIT(b, "\"} ");
			put_u64(b, total);
			put_mem(b, "\n", 1);
		}
	}
	own_loss(b, "series_overflow", p->overflow_conns);
	own_loss(b, "snapshot_rows_limit", p->rows_dropped);
	own_loss(b, "host_limit", p->host_rows_dropped);
	family(b, "tcptop_stream_up", M_GAUGE,
	       "1 while the host's input is open (live or lagging), 0 once it ended.", om);
	for (size_t i = 0; i < p->nhosts; i++) {
		PUT_LIT(b, "tcptop_stream_up{host=\"");
		put_str(b, p->hosts[i]->label);
		PUT_LIT(b, "\",state=\"");
		put_str(b, state_name(p->hosts[i]->state));
		PUT_LIT(b, "\"} ");
		put_u64(b, p->hosts[i]->state != HOST_ENDED);
		put_mem(b, "\n", 1);
	}
	family(b, "tcptop_stream_sections_total", M_COUNTER,
	       "Sections of the host's stream read: 1, and one more at each restart of its "
	       "collector.",
	       om);
	for (size_t i = 0; i < p->nhosts; i++) {
		if (!p->hosts[i]->sections)
			continue; /* a host of a merged stream: its sections are its own input's */
		PUT_LIT(b, "tcptop_stream_sections_total{host=\"");
		put_str(b, p->hosts[i]->label);
		PUT_LIT(b, "\"} ");
		put_u64(b, p->hosts[i]->sections);
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
	return 0;
}

int prom_expose_body(struct prom *p, struct prom_buf *b, bool om)
{
	size_t start = b->len;
	int err;

	if (prom_buf_reserve(b, p->last_len + 65536))
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		if (families[i].first_of_family) {
			if (prom_buf_reserve(b, 4096))
				return -ENOMEM;
			family(b, families[i].name, families[i].t, families[i].help, om);
		}
		if ((err = samples(p, b, families[i].name, families[i].extra, families[i].f,
				   families[i].tcp_only)))
			return err;
	}
	if (prom_buf_reserve(b, 4096))
		return -ENOMEM;
	family(b, "tcptop_tcp_rtt_seconds", M_GAUGE,
	       "Mean smoothed round-trip time of the open TCP connections.", om);
	for (size_t i = 0; i < p->nseries; i++) {
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
	if ((err = expose_health(p, b, om)))
		return err;
	p->last_len = b->len - start;
	return 0;
}

/* ---- the tail ---- */

int prom_tail_capture(const struct prom *p, struct prom_tail *t, bool om, uint64_t build_ns)
{
	t->om = om;
	t->build_ns = build_ns;
	t->nhosts = 0;
	if (VEC_RESERVE(&t->hosts, &t->cap, p->nhosts))
		return -ENOMEM;
	for (size_t i = 0; i < p->nhosts; i++)
		if (p->hosts[i]->time_ns)
			t->hosts[t->nhosts++] =
				(struct prom_tail_host){ p->hosts[i]->label, p->hosts[i]->time_ns };
	return 0;
}

void prom_tail_free(struct prom_tail *t)
{
	free(t->hosts);
	t->hosts = NULL;
	t->nhosts = t->cap = 0;
}

#define AGE_HELP                                                                                   \
	"# HELP tcptop_stream_age_seconds Wall-clock age of the host's latest snapshot (replays: " \
	"since it was recorded).\n# TYPE tcptop_stream_age_seconds gauge\n"
#define DURATION_HELP                                                                              \
	"# HELP tcptop_exporter_scrape_duration_seconds Time this exposition took to build (once " \
	"a snapshot and format: scrapes share it).\n"                                              \
	"# TYPE tcptop_exporter_scrape_duration_seconds gauge\n"

/* Nanoseconds as seconds to the microsecond; negative allowed. */
static int ns_as_s(char *dst, size_t size, int64_t ns)
{
	return snprintf(dst, size, "%.6f", (double)ns / 1e9);
}

size_t prom_tail_line(const struct prom_tail *t, size_t i, int64_t now_ns, char *dst, size_t size)
{
	char v[48];
	int n;

	/* the families' HELP and TYPE lines are one "line" each: what matters is that the same i
	 * gives the same text */
	if (i == 0)
		n = snprintf(dst, size, "%s", AGE_HELP);
	else if (i - 1 < t->nhosts) {
		/* unsigned: an absurd time from hostile input wraps instead of overflowing */
		ns_as_s(v, sizeof(v),
			(int64_t)((uint64_t)now_ns - (uint64_t)t->hosts[i - 1].time_ns));
		n = snprintf(dst, size, "tcptop_stream_age_seconds{host=\"%s\"} %s\n",
			     t->hosts[i - 1].label, v);
	} else if (i - 1 == t->nhosts) {
		ns_as_s(v, sizeof(v), (int64_t)t->build_ns);
		n = snprintf(dst, size, "%stcptop_exporter_scrape_duration_seconds %s\n",
			     DURATION_HELP, v);
	} else if (i - 1 == t->nhosts + 1 && t->om) {
		n = snprintf(dst, size, "# EOF\n");
	} else {
		n = 0;
	}
	if (n < 0 || (size_t)n >= size) { /* cannot happen with PROM_TAIL_LINE_MAX */
		if (size)
			*dst = '\0';
		return 0;
	}
	return n;
}

uint64_t prom_mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

int64_t prom_wall_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int prom_expose(struct prom *p, struct prom_buf *b, bool om, int64_t now_ns)
{
	struct prom_tail t = { 0 };
	uint64_t t0 = prom_mono_ns();
	int err;

	if ((err = prom_expose_body(p, b, om)) ||
	    (err = prom_tail_capture(p, &t, om, prom_mono_ns() - t0)))
		goto out;
	for (size_t i = 0;; i++) {
		if ((err = prom_buf_reserve(b, PROM_TAIL_LINE_MAX)))
			goto out;
		size_t n = prom_tail_line(&t, i, now_ns, b->p + b->len, PROM_TAIL_LINE_MAX);

		if (!n)
			break;
		b->len += n;
	}
out:
	prom_tail_free(&t);
	return err;
}
