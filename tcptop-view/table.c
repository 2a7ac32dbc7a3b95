// SPDX-License-Identifier: GPL-2.0-or-later
/* The view's data layer: snapshots, filter, sort, column layout and row text. No curses here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "htab.h"
#include "limit.h"
#include "table.h"
#include "vec.h"

bool table_utf8 = true;

static size_t append(char *buf, size_t size, size_t o, const char *s, size_t n);
static bool group_same(const struct vrow *g, const struct vrow *v, enum group_mode mode);

/* A snapshot larger than this is shown in part (the header says how many rows were left out):
 * it bounds memory whatever the input claims. */
#define SNAPSHOT_ROWS_MAX    (4u << 20)
#define SNAPSHOT_RESERVE_MAX (8u << 10) /* rows: 3.8 MB; more grow by doubling */

struct snapshot *snapshot_new(const struct stream_header *hdr, const struct rec_snap_begin *b,
			      struct strtab *st)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->hdr = *hdr;
	s->b = *b;
	s->st = st;
	s->missing = features_unknown_fields(features_missing(hdr, NULL, 0));
	/* room for the rows the snapshot announces, within a bound: a count read from the input
	 * is a hint, never a size to trust; at least one, as rows NULL means a thin snapshot */
	if (vec_resize(&s->rows, &s->cap,
		       !b->rows				? 1
		       : b->rows < SNAPSHOT_RESERVE_MAX ? b->rows
							: SNAPSHOT_RESERVE_MAX,
		       sizeof(*s->rows))) {
		free(s);
		return NULL;
	}
	return s;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	free(s->hosts);
	free(s->cgmemo);
	free(s->rows);
	free(s->dkeys);
	free(s->dnew);
	free(s->drows);
	free(s->drnext);
	free(s->active);
	free(s->from_prev);
	free(s->fresh);
	free(s->grp[0]);
	free(s->grp[1]);
	free(s->settle);
	free(s->cgupd);
	free(s);
}

void text_fold_ascii(char *s)
{
	char *o = s;

	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (*p < 0x80) {
			*o++ = *p++;
			continue;
		}
		*o++ = '?';
		p++;
		while ((*p & 0xC0) == 0x80)
			p++;
	}
	*o = '\0';
}

/* Decimal digits of v into p; returns their count. */
static size_t put_dec(char *p, unsigned v)
{
	char t[12];
	size_t n = 0, i = 0;

	do
		t[n++] = '0' + v % 10;
	while ((v /= 10));
	while (n)
		p[i++] = t[--n];
	return i;
}

static size_t dec_width(unsigned v)
{
	return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : 5;
}

void vrow_addr(const struct strtab *st, const struct vrow *v, bool local, uint8_t *a)
{
	uint32_t x = local ? v->r.id.laddr : v->r.id.raddr;

	if (v->r.id.inl & (local ? VID_L_V4 : VID_R_V4)) {
		memcpy(a, &x, 4);
		memset(a + 4, 0, 12);
	} else if (st) {
		memcpy(a, str_addr(st, x), 16);
	} else {
		memset(a, 0, 16); /* a detail row with no snapshot shown: nothing to show */
	}
}

uint32_t vrow_ifindex(const struct strtab *st, const struct vrow *v)
{
	return (uint32_t)strtoul(str_extra(st, v->r.id.ifname), NULL, 10);
}

void vrow_conn_id(const struct strtab *st, const struct vrow *v, struct conn_id *id)
{
	memset(id, 0, sizeof(*id));
	id->flow = v->r.id.flow;
	id->cookie = v->r.id.cookie;
	id->netns = v->r.id.netns;
	id->ifindex = vrow_ifindex(st, v);
	id->proto = v->r.id.proto;
	id->family = v->r.id.family;
	id->lport = v->r.id.lport;
	id->rport = v->r.id.rport;
	vrow_addr(st, v, true, id->laddr);
	vrow_addr(st, v, false, id->raddr);
}

/* An address of the stream into a row's: IPv4 in place, any other interned; -1 when out of
 * memory. */
static int vid_addr(struct strtab *st, uint32_t *x, struct vid *id, unsigned inl, const uint8_t *a)
{
	static const uint8_t zero[12];

	if (id->family == FAMILY_INET && !memcmp(a + 4, zero, 12)) {
		memcpy(x, a, 4);
		id->inl |= inl;
		return 0;
	}
	*x = strtab_addr_add(st, a);
	return *x == UINT32_MAX ? -1 : 0;
}

size_t vrow_endpoint(const struct strtab *st, const struct vrow *v, bool local, char *buf,
		     size_t size)
{
	const struct vid *id = &v->r.id;
	uint8_t a[16];
	uint16_t port = local ? id->lport : id->rport;
	char t[ENDPOINT_LEN];
	size_t n = 0;

	vrow_addr(st, v, local, a);
	if (!size && id->family != FAMILY_INET6) /* the width alone: every row's, as it arrives */
		return dec_width(a[0]) + dec_width(a[1]) + dec_width(a[2]) + dec_width(a[3]) + 4 +
		       dec_width(port);
	if (id->family != FAMILY_INET6) {
		/* IPv4 by hand: the filter formats every row */
		for (int i = 0; i < 4; i++) {
			n += put_dec(t + n, a[i]);
			t[n++] = i < 3 ? '.' : ':';
		}
		n += put_dec(t + n, port);
		t[n] = '\0';
	} else {
		char s[ADDR_LEN];

		addr_format(id->family, a, s, sizeof(s));
		n = (size_t)snprintf(t, sizeof(t), strchr(s, ':') ? "[%s]:%u" : "%s:%u", s, port);
		if (n >= sizeof(t))
			n = sizeof(t) - 1;
	}
	if (!size)
		return n;
	if (n >= size)
		n = size - 1;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return n;
}

const char *vrow_comm(const struct snapshot *s, const struct vrow *v)
{
	return str_text(s->st, v->r.comm);
}

#define HOSTS_MAX 4096

int snapshot_add_host(struct snapshot *s, const struct rec_host *h)
{
	struct vhost *vh;

	if (!h->index || h->index > HOSTS_MAX)
		return 0;
	if (h->index > s->nhosts) {
		size_t cap = s->nhosts;

		if (vec_resize(&s->hosts, &cap, h->index, sizeof(*s->hosts)))
			return -1;
		memset(s->hosts + s->nhosts, 0, (h->index - s->nhosts) * sizeof(*s->hosts));
		s->nhosts = h->index;
	}
	vh = &s->hosts[h->index - 1];
	{
		char boot[HOST_BOOT_LEN];

		snprintf(boot, sizeof(boot), "%s", h->boot_id);
		vh->name = strtab_add(s->st, STR_HOST, h->hostname,
				      strnlen(h->hostname, HDR_STR_MAX), boot);
	}
	vh->state = h->state ? h->state : HOST_LIVE;
	/* a HOST after rows (the stream puts them before, a hostile one need not) */
	for (size_t i = 0; i < s->n; i++)
		if (s->rows[i].r.host == h->index)
			s->rows[i].hostname = vh->name;
	return 0;
}

/* The short form of a cgroup, interned (the table cuts it to CGROUP_TEXT bytes). */
static uint32_t cgroup_str(struct snapshot *s, const struct rec_snap_row *r,
			   const struct cgroup_table *cg)
{
	const struct cgroup_ent *ce = cg ? cgroup_table_get_host(cg, r->host, r->cgroup_id) : NULL;
	char num[32];

	if (ce)
		return strtab_add(s->st, STR_CGROUP, ce->short_name, strlen(ce->short_name), NULL);
	snprintf(num, sizeof(num), "#%llu", (unsigned long long)r->cgroup_id);
	return strtab_add(s->st, STR_CGROUP, num, strlen(num), NULL);
}

/* The string of r's interface: the pair of its name and index (rows keep no index of their
 * own). The last row's is looked up again without the index's text or the strings' hash; one
 * not kept ("?", counted as dropped) is looked up each time, and counted each time. */
static uint32_t row_ifname(struct snapshot *s, const struct rec_snap_row *r)
{
	uint64_t dropped = strtab_dropped(s->st);
	char ifx[11];
	uint32_t str;

	if (s->ifmemo.str && s->ifmemo.ifindex == r->id.ifindex &&
	    !memcmp(s->ifmemo.name, r->ifname, IFNAME_LEN))
		return s->ifmemo.str;
	if (r->id.ifindex)
		snprintf(ifx, sizeof(ifx), "%" PRIu32, r->id.ifindex);
	str = strtab_add(s->st, STR_IFNAME, r->ifname, strnlen(r->ifname, IFNAME_LEN),
			 r->id.ifindex ? ifx : NULL);
	if (str && strtab_dropped(s->st) == dropped) {
		s->ifmemo.ifindex = r->id.ifindex;
		s->ifmemo.str = str;
		memcpy(s->ifmemo.name, r->ifname, IFNAME_LEN);
	}
	return str;
}

int snapshot_add(struct snapshot *s, const struct rec_snap_row *r, const struct cgroup_table *cg)
{
	struct vrow *v;

	if (s->n >= SNAPSHOT_ROWS_MAX) {
		s->dropped++;
		return 0;
	}
	if (VEC_RESERVE(&s->rows, &s->cap, s->n + 1))
		return -1;
	v = &s->rows[s->n];
	memset(v, 0, sizeof(*v)); /* padding too: rows compare with memcmp */
	v->r.id.flow = r->id.flow;
	v->r.id.cookie = r->id.cookie;
	v->r.id.netns = r->id.netns;
	v->r.id.lport = r->id.lport;
	v->r.id.rport = r->id.rport;
	v->r.id.proto = r->id.proto;
	v->r.id.family = r->id.family;
	if (vid_addr(s->st, &v->r.id.laddr, &v->r.id, VID_L_V4, r->id.laddr) ||
	    vid_addr(s->st, &v->r.id.raddr, &v->r.id, VID_R_V4, r->id.raddr))
		return -1;
	s->n++;
	v->r.c = r->c;
	v->r.rate_in = r->rate_in;
	v->r.rate_out = r->rate_out;
	v->r.first_ns = r->first_ns;
	v->r.last_ns = r->last_ns;
	v->r.cgroup_id = r->cgroup_id;
	v->r.pid = r->pid;
	v->r.host = r->host;
	v->r.state = r->state;
	v->r.flags = r->flags;
	v->r.comm = strtab_add(s->st, STR_COMM, r->comm, strnlen(r->comm, COMM_LEN), NULL);
	v->r.id.ifname = row_ifname(s, r);
	if (r->cgroup_id && !(s->missing & FIELD_CGROUP)) {
		/* the same few cgroups come again and again: found once a snapshot, then by their
		 * (host, id) in a small table of the snapshot's (a table the size of the rows'
		 * cgroups would be no faster) */
		struct cgmemo *m = NULL;

		if (s->cgmemo || (s->cgmemo = calloc(CGMEMO, sizeof(*s->cgmemo))))
			m = &s->cgmemo[hash_u64x2(r->cgroup_id, r->host) & (CGMEMO - 1)];
		if (m && m->str && m->id == r->cgroup_id && m->host == r->host) {
			v->cgroup = m->str;
		} else {
			v->cgroup = cgroup_str(s, r, cg);
			if (m) {
				m->id = r->cgroup_id;
				m->host = r->host;
				m->str = v->cgroup;
			}
		}
	}
	if (r->host && r->host <= s->nhosts && s->hosts[r->host - 1].state)
		v->hostname = s->hosts[r->host - 1].name;
	if (r->id.proto == PROTO_TCP && r->has_figs) {
		/* out of memory: the row keeps its LIMIT, the detail view shows no figures */
		uint32_t f = strtab_figs_add(s->st, &r->figs);

		vrow_set_figs(v, f ? f : FIGS_LIMIT_ONLY);
		v->r.limit = r->limit;
		v->r.limit_pct = r->limit_pct;
	}
	return 0;
}

const struct tcp_figs *snapshot_figs(const struct snapshot *s, const struct vrow *v)
{
	uint32_t f = vrow_figs(v);

	return f && f != FIGS_LIMIT_ONLY && !vrow_conns(v) ? str_figs(s->st, f) : NULL;
}

/* The boot id of a row's host: its HOST record's, else the section's. */
static const char *row_boot_id(const struct snapshot *s, const struct vrow *v)
{
	if (v->hostname)
		return str_extra(s->st, v->hostname);
	return v->r.host ? "" : s->hdr.boot_id;
}

/* ---- columns ---- */

static const struct {
	const char *title, *raw_title, *name;
	bool numeric; /* right aligned, sorted largest first */
} columns[NCOLS] = {
	[COL_PROTO] = { "PROTO", "PROTO", "proto", false },
	[COL_LOCAL] = { "LOCAL", "LOCAL", "local", false },
	[COL_REMOTE] = { "REMOTE", "REMOTE", "remote", false },
	[COL_PID] = { "PID", "PID", "pid", false },
	[COL_PROCESS] = { "PROCESS", "PROCESS", "process", false },
	[COL_STATE] = { "STATE", "STATE", "state", false },
	[COL_RX_RATE] = { "RX/s", "RX/s", "rx-rate", true },
	[COL_TX_RATE] = { "TX/s", "TX/s", "tx-rate", true },
	[COL_RX] = { "RX", "RX", "rx", true },
	[COL_TX] = { "TX", "TX", "tx", true },
	[COL_PKT_RX] = { "PKT-RX", "PKT-RX", "pkt-rx", true },
	[COL_PKT_TX] = { "PKT-TX", "PKT-TX", "pkt-tx", true },
	[COL_RTT] = { "RTT", "RTT-us", "rtt", true },
	[COL_LIMIT] = { "LIMIT", "LIMIT", "limit", true },
	[COL_CGROUP] = { "CGROUP", "CGROUP", "cgroup", false },
	[COL_HOST] = { "HOST", "HOST", "host", false },
};

const char *column_title(enum column c)
{
	return columns[c].title;
}

const char *column_name(enum column c)
{
	return columns[c].name;
}

int column_by_name(const char *name)
{
	for (int c = 0; c < NCOLS; c++)
		if (!strcasecmp(name, columns[c].name) || !strcasecmp(name, columns[c].title))
			return c;
	return -1;
}

bool column_descending(enum column c)
{
	return columns[c].numeric;
}

/* LIMIT's order (lib/limit.h): the worst first when descending; rows without figures (UDP,
 * older collectors) last. */
uint64_t vrow_limit_key(const struct vrow *v)
{
	if (!vrow_has_figs(v) || v->r.id.proto != PROTO_TCP)
		return 0;
	return 1 + limit_severity(v->r.limit, v->r.limit_pct);
}

static int digits(uint64_t v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static int imax(int a, int b)
{
	return a > b ? a : b;
}

static uint64_t umax(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* ---- filter and sort ---- */

bool vrow_matches(const struct strtab *st, const struct vrow *v, const char *filter)
{
	char pid[16], ep[ENDPOINT_LEN];

	if (!*filter)
		return true;
	vrow_endpoint(st, v, true, ep, sizeof(ep));
	if (strcasestr(ep, filter))
		return true;
	vrow_endpoint(st, v, false, ep, sizeof(ep));
	if (strcasestr(ep, filter) || strcasestr(str_text(st, v->r.comm), filter) ||
	    strcasestr(str_text(st, v->cgroup), filter))
		return true;
	/* "rwnd" finds the connections the receiver's window holds back */
	if (vrow_has_figs(v) && v->r.limit != LIMIT_NONE &&
	    strcasestr(limit_name(v->r.limit), filter))
		return true;
	snprintf(pid, sizeof(pid), "%" PRIu32, v->r.pid);
	return !(v->r.flags & CONN_F_NO_OWNER) && !strcmp(pid, filter);
}

const char *vrow_state(const struct vrow *v)
{
	if (vrow_conns(v) || v->r.id.proto != PROTO_TCP)
		return "-";
	if (v->r.flags & CONN_F_FAILED)
		return "FAILED";
	return tcp_state_name(v->r.state);
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

static int cmp_addr(const struct strtab *st, const struct vrow *va, const struct vrow *vb,
		    bool local)
{
	const struct vid *a = &va->r.id, *b = &vb->r.id;
	uint8_t x[16], y[16];
	int d = CMP(a->family, b->family);

	if (d)
		return d;
	vrow_addr(st, va, local, x);
	vrow_addr(st, vb, local, y);
	d = memcmp(x, y, 16);
	if (d)
		return d;
	return local ? CMP(a->lport, b->lport) : CMP(a->rport, b->rport);
}

static int cmp_column(const struct strtab *st, const struct vrow *a, const struct vrow *b,
		      enum column c)
{
	const struct vfields *x = &a->r, *y = &b->r;

	switch (c) {
	case COL_PROTO:
		return x->id.proto != y->id.proto ? CMP(x->id.proto, y->id.proto)
						  : CMP(x->id.family, y->id.family);
	case COL_LOCAL:
		if (vrow_conns(a))
			return CMP(vrow_conns(a), vrow_conns(b));
		return cmp_addr(st, a, b, true);
	case COL_REMOTE:
		if (vrow_conns(a))
			return CMP(vrow_conns(a), vrow_conns(b));
		return cmp_addr(st, a, b, false);
	case COL_CGROUP:
		return strcmp(str_text(st, a->cgroup), str_text(st, b->cgroup));
	case COL_HOST:
		return strcmp(str_text(st, a->hostname), str_text(st, b->hostname));
	case COL_PID:
		return CMP(x->pid, y->pid);
	case COL_PROCESS:
		return strcmp(str_text(st, x->comm), str_text(st, y->comm));
	case COL_STATE:
		return strcmp(vrow_state(a), vrow_state(b));
	case COL_RX_RATE:
		return CMP(x->rate_in, y->rate_in);
	case COL_TX_RATE:
		return CMP(x->rate_out, y->rate_out);
	case COL_RX:
		return CMP(x->c.bytes_in, y->c.bytes_in);
	case COL_TX:
		return CMP(x->c.bytes_out, y->c.bytes_out);
	case COL_PKT_RX:
		return CMP(x->c.pkts_in, y->c.pkts_in);
	case COL_PKT_TX:
		return CMP(x->c.pkts_out, y->c.pkts_out);
	case COL_RTT:
		return CMP(x->c.srtt_us, y->c.srtt_us);
	case COL_LIMIT:
		return CMP(vrow_limit_key(a), vrow_limit_key(b));
	case NCOLS:
		break;
	}
	return 0;
}

static int cmp_rows(const void *pa, const void *pb, void *arg)
{
	const struct table *t = arg;
	const struct vrow *a = *(const struct vrow *const *)pa,
			  *b = *(const struct vrow *const *)pb;
	int d = cmp_column(t->snap ? t->snap->st : NULL, a, b, t->sort);

	if (column_descending(t->sort) != t->reverse)
		d = -d;
	/* ties in a stable order, so rows do not jump between snapshots */
	if (!d)
		d = CMP(a->r.id.flow, b->r.id.flow);
	if (!d)
		d = CMP(a->r.id.cookie, b->r.id.cookie);
	if (!d)
		d = CMP(a->r.host, b->r.host);
	return d;
}

/* Sorting 100,000 rows within a frame: each row gets a key of up to three 64-bit words whose
 * unsigned order is the column's order (inverted for descending), then a stable LSD radix sort,
 * word by word from the last, on 16-byte elements (key word, row index). Rows enter in key order
 * (flow, cookie, host), so stability gives cmp_rows()'s tie-break for free. Texts of the string
 * table sort by their rank; without ranks (out of memory) a text longer than 24 bytes (escaped)
 * can leave equal keys for different rows, and such runs are finished with qsort. */
#define KEY_WORDS 3
#define KEYS_KEEP (1u << 20) /* bytes of sort scratch kept between sorts */

struct elem {
	uint64_t k;
	uint32_t idx;
};

static uint64_t dbl_key(double d)
{
	uint64_t u;

	if (!(d > 0))
		return 0;
	memcpy(&u, &d, sizeof(u)); /* positive doubles order as their bits */
	return u;
}

/* Big-endian packing of n bytes into words: unsigned word order is memcmp order. */
static void pack(uint64_t *k, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n && i < 8 * KEY_WORDS; i++)
		k[i / 8] |= (uint64_t)b[i] << (56 - 8 * (i % 8));
}

/* A text of the string table: its rank, or its first bytes. Returns whether the key decides. */
static bool text_key(const struct strtab *st, const uint32_t *ranks, uint32_t id, uint64_t *k)
{
	const char *s;
	size_t n;

	if (ranks) {
		k[0] = ranks[id];
		return true;
	}
	s = str_text(st, id);
	n = strlen(s);
	pack(k, (const uint8_t *)s, n);
	return n < 8 * KEY_WORDS;
}

/* What a key is made from: the strings, their ranks (NULL: none), and whether every row is
 * IPv4 (an address and its port then fit one word). */
struct keyctx {
	const struct strtab *st;
	const uint32_t *ranks;
	bool v4;
};

/* Fills k (zeroed); returns whether the key decides the column's order alone. */
static bool sort_key(const struct keyctx *kc, const struct vrow *v, enum column c, uint64_t *k)
{
	const struct vfields *r = &v->r;
	const struct strtab *st = kc->st;
	const uint32_t *ranks = kc->ranks;

	switch (c) {
	case COL_PROTO:
		k[0] = (uint64_t)r->id.proto << 8 | r->id.family;
		break;
	case COL_LOCAL:
	case COL_REMOTE: {
		uint16_t port = c == COL_LOCAL ? r->id.lport : r->id.rport;
		uint8_t b[19];

		if (vrow_conns(v)) {
			k[0] = vrow_conns(v);
			break;
		}
		if (kc->v4) {
			/* family, the address's 4 bytes (the other 12 are 0), port: cmp_addr's
			 * order in one word */
			uint8_t a[16];

			vrow_addr(st, v, c == COL_LOCAL, a);
			k[0] = (uint64_t)r->id.family << 48 | (uint64_t)a[0] << 40 |
			       (uint64_t)a[1] << 32 | (uint64_t)a[2] << 24 | (uint64_t)a[3] << 16 |
			       port;
			break;
		}
		b[0] = r->id.family;
		vrow_addr(st, v, c == COL_LOCAL, b + 1);
		b[17] = port >> 8;
		b[18] = port;
		pack(k, b, sizeof(b));
		break;
	}
	case COL_PID:
		k[0] = r->pid;
		break;
	case COL_PROCESS:
		return text_key(st, ranks, r->comm, k);
	case COL_STATE: {
		const char *name = vrow_state(v);

		pack(k, (const uint8_t *)name, strlen(name));
		break;
	}
	case COL_CGROUP:
		return text_key(st, ranks, v->cgroup, k);
	case COL_HOST:
		return text_key(st, ranks, v->hostname, k);
	case COL_RX_RATE:
		k[0] = dbl_key(r->rate_in);
		break;
	case COL_TX_RATE:
		k[0] = dbl_key(r->rate_out);
		break;
	case COL_RX:
		k[0] = r->c.bytes_in;
		break;
	case COL_TX:
		k[0] = r->c.bytes_out;
		break;
	case COL_PKT_RX:
		k[0] = r->c.pkts_in;
		break;
	case COL_PKT_TX:
		k[0] = r->c.pkts_out;
		break;
	case COL_RTT:
		k[0] = r->c.srtt_us;
		break;
	case COL_LIMIT:
		k[0] = vrow_limit_key(v);
		break;
	case NCOLS:
		break;
	}
	return true;
}

/* Stable sort of n elements on their 64-bit k, 11 bits a pass (six passes, the count tables stay
 * in cache), between a and tmp; passes over a digit that every key shares are skipped (numbers
 * rarely use the top bits). Returns the array that holds the result. */
#define RADIX_BITS   11
#define RADIX_PASSES ((64 + RADIX_BITS - 1) / RADIX_BITS)
#define RADIX_MASK   ((1u << RADIX_BITS) - 1)

static struct elem *radix_sort(struct elem *a, struct elem *tmp, size_t n)
{
	static size_t count[RADIX_PASSES][1u << RADIX_BITS];

	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < RADIX_PASSES; d++)
			count[d][(a[i].k >> (RADIX_BITS * d)) & RADIX_MASK]++;
	for (int d = 0; d < RADIX_PASSES; d++) {
		size_t pos = 0, *c = count[d];
		int shift = RADIX_BITS * d;
		struct elem *swap;

		if (c[(a[0].k >> shift) & RADIX_MASK] == n)
			continue;
		for (unsigned b = 0; b <= RADIX_MASK; b++) {
			size_t k = c[b];

			c[b] = pos;
			pos += k;
		}
		for (size_t i = 0; i < n; i++)
			tmp[c[(a[i].k >> shift) & RADIX_MASK]++] = a[i];
		swap = a;
		a = tmp;
		tmp = swap;
	}
	return a;
}

/* Words of key the column uses: numbers and ranked texts one, other texts as many as they
 * need. */
static int key_words(enum column c, const struct keyctx *kc)
{
	switch (c) {
	case COL_PROCESS:
	case COL_CGROUP:
	case COL_HOST:
		return kc->ranks ? 1 : 3;
	case COL_LOCAL:
	case COL_REMOTE:
		return kc->v4 ? 1 : 3;
	case COL_STATE:
		return 2;
	default:
		return 1;
	}
}

static bool text_column(enum column c)
{
	return c == COL_PROCESS || c == COL_CGROUP || c == COL_HOST;
}

void table_sort(struct table *t)
{
	bool desc = column_descending(t->sort) != t->reverse, exact = true;
	const struct strtab *st = t->snap ? t->snap->st : NULL;
	struct keyctx kc = { .st = st, .v4 = t->snap && !t->snap->any_v6 };
	bool varies[KEY_WORDS] = { false };
	int words;
	size_t n = t->n, need;
	uint64_t *kw;
	struct elem *a, *b;
	const struct vrow **orig;

	if (n < 2)
		return;
	if (text_column(t->sort) && t->snap)
		kc.ranks = strtab_ranks(t->snap->st, t->snap->nstr);
	words = key_words(t->sort, &kc);
	need = n * (words * sizeof(uint64_t) + 2 * sizeof(struct elem) + sizeof(struct vrow *));
	if (vec_resize(&t->keys, &t->keys_cap, need, 1)) { /* slower, but right */
		qsort_r(t->v, n, sizeof(*t->v), cmp_rows, t);
		return;
	}
	kw = t->keys; /* kw[w * n + i]: word w of row i's key */
	a = (struct elem *)(kw + words * n);
	b = a + n;
	orig = (const struct vrow **)(b + n);
	for (size_t i = 0; i < n; i++) {
		uint64_t k[KEY_WORDS] = { 0 };

		/* a row is 152 bytes: ask for the ones ahead, a key reads one field of each */
		if (i + 16 < n)
			__builtin_prefetch(t->v[i + 16]);
		exact &= sort_key(&kc, t->v[i], t->sort, k);
		for (int w = 0; w < words; w++) {
			kw[w * n + i] = desc ? ~k[w] : k[w];
			varies[w] |= kw[w * n + i] != kw[w * n];
		}
		orig[i] = t->v[i];
		a[i].idx = i;
	}
	for (int w = words - 1; w >= 0; w--) {
		struct elem *sorted;

		/* a word every row shares orders nothing (every rate 0 in an idle table) */
		if (!varies[w])
			continue;
		for (size_t i = 0; i < n; i++)
			a[i].k = kw[w * n + a[i].idx];
		sorted = radix_sort(a, b, n);
		if (sorted != a) {
			b = a;
			a = sorted;
		}
	}
	for (size_t i = 0; i < n; i++)
		t->v[i] = orig[a[i].idx];
	for (size_t i = 0; !exact && i < n;) {
		size_t j = i + 1;
		bool differ = false;

		for (; j < n; j++) {
			bool same = true;

			for (int w = 0; w < words && same; w++)
				same = kw[w * n + a[j].idx] == kw[w * n + a[i].idx];
			if (!same)
				break;
			differ = differ || cmp_column(st, t->v[i], t->v[j], t->sort);
		}
		if (differ)
			qsort_r(t->v + i, j - i, sizeof(*t->v), cmp_rows, t);
		i = j;
	}
	/* 40 bytes a row, kept for nothing until the next whole sort (a sort key, a filter, a
	 * full snapshot): given back, the next one maps it again */
	if (t->keys_cap > KEYS_KEEP) {
		free(t->keys);
		t->keys = NULL;
		t->keys_cap = 0;
	}
}

bool table_sorted(const struct table *t)
{
	/* two rows may tie on everything: a flow id reused within one interval shows the closed
	 * connection and the new one, with the same flow and cookie */
	for (size_t i = 1; i < t->n; i++)
		if (cmp_rows(&t->v[i - 1], &t->v[i], (void *)t) > 0)
			return false;
	return true;
}

static int cmp_vkey_rows(const void *pa, const void *pb)
{
	struct vkey a = vrow_vkey(pa), b = vrow_vkey(pb);

	return vkey_cmp(&a, &b);
}

/* Each row's group by process or by cgroup, numbered in order of first appearance: an index of
 * the groups by their key (lib/htab), one slot per group, at most one per row. Made when the
 * table is first grouped; -1 when out of memory. */
struct gslot {
	struct hnode hn;
	uint32_t first; /* the row that opened the group */
};

static int prepare_groups(struct snapshot *s, int m)
{
	enum group_mode mode = m ? GROUP_CGROUP : GROUP_PROCESS;
	size_t n = s->n;
	struct gslot *slot;
	uint32_t *g, ng = 0;
	struct htab idx = { 0 };

	if (s->grp[m])
		return 0;
	if (!n || !s->rows)
		return -1;
	slot = malloc(n * sizeof(*slot));
	g = malloc(n * sizeof(*g));
	if (!slot || !g || htab_init(&idx, n)) {
		free(slot);
		free(g);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct vrow *v = &s->rows[i];
		uint64_t h = group_key(v, mode);
		struct hnode *p;
		uint32_t k = UINT32_MAX;

		htab_for_hash(&idx, p, h)
		{
			k = (uint32_t)(container_of(p, struct gslot, hn) - slot);
			if (group_same(&s->rows[slot[k].first], v, mode))
				break;
			k = UINT32_MAX;
		}
		if (k == UINT32_MAX) {
			k = ng++;
			slot[k].first = i;
			htab_add(&idx, &slot[k].hn, h); /* buckets made: never fails */
		}
		g[i] = k;
	}
	htab_free(&idx);
	free(slot);
	s->grp[m] = g;
	s->ngrp[m] = ng;
	return 0;
}

/* IPv4, and nothing in the 12 bytes after the address (a hostile row may put something there):
 * the one-word address key orders it as cmp_addr() does. */
static bool v4_only(const struct vid *id)
{
	return id->family == FAMILY_INET && id->inl == (VID_L_V4 | VID_R_V4);
}

void snapshot_finish(struct snapshot *s)
{
	free(s->cgmemo); /* the rows are in */
	s->cgmemo = NULL;
	for (size_t i = 1; i < s->n; i++) {
		if (vrow_key_cmp(&s->rows[i - 1], &s->rows[i]) > 0) {
			qsort(s->rows, s->n, sizeof(*s->rows), cmp_vkey_rows);
			break;
		}
	}
	s->nstr = strtab_count(s->st);
	memset(&s->all, 0, sizeof(s->all));
	s->any_v6 = false;
	for (size_t i = 0; i < s->n; i++) {
		vrow_widen(s->st, &s->all, &s->rows[i]);
		s->any_v6 |= !v4_only(&s->rows[i].r.id);
	}
	/* a whole snapshot: the rows the next delta settles (out of memory: found then) */
	if (!s->delta)
		snapshot_settle_list(s);
}

void vrow_widen(const struct strtab *st, struct widest *w, const struct vrow *v)
{
	const struct vfields *r = &v->r;

	if (!vrow_conns(v)) {
		w->local = imax(w->local, (int)vrow_endpoint(st, v, true, NULL, 0));
		w->remote = imax(w->remote, (int)vrow_endpoint(st, v, false, NULL, 0));
	}
	w->comm = imax(w->comm, str_width(st, r->comm));
	w->cgroup = imax(w->cgroup, str_width(st, v->cgroup));
	w->host = imax(w->host, str_width(st, v->hostname));
	if (r->id.proto == PROTO_TCP && !vrow_conns(v))
		w->state = imax(w->state, strlen(vrow_state(v)));
	if (!(r->flags & CONN_F_NO_OWNER))
		w->pid = imax(w->pid, digits(r->pid));
	if (r->rate_in > w->rate)
		w->rate = r->rate_in;
	if (r->rate_out > w->rate)
		w->rate = r->rate_out;
	w->bytes = umax(w->bytes, umax(r->c.bytes_in, r->c.bytes_out));
	w->pkts = umax(w->pkts, umax(r->c.pkts_in, r->c.pkts_out));
	w->rtt = umax(w->rtt, r->c.srtt_us);
	if (r->id.proto == PROTO_TCP && vrow_has_figs(v))
		w->limit = 1;
}

uint64_t group_key(const struct vrow *v, enum group_mode mode)
{
	const struct vfields *r = &v->r;
	uint64_t h;

	if (vrow_conns(v))
		return r->id.cookie; /* a group row keeps its key there */
	/* a merged stream's group is one host's (its pids and cgroup ids are that kernel's) */
	if (mode == GROUP_CGROUP)
		h = hash_u64x2(1, r->cgroup_id);
	else if (r->flags & CONN_F_NO_OWNER)
		h = hash_u64(2);
	else
		h = hash_u64x2(r->pid, hash_u64x2(3, r->comm)); /* one number per raw name */
	h = hash_u64x2(h, r->host);
	return h ? h : 1;
}

bool table_expanded(const struct table *t, uint64_t key)
{
	for (size_t i = 0; i < t->nexpanded; i++)
		if (t->expanded[i] == key)
			return true;
	return false;
}

void table_toggle(struct table *t, uint64_t key)
{

	for (size_t i = 0; i < t->nexpanded; i++) {
		if (t->expanded[i] == key) {
			t->expanded[i] = t->expanded[--t->nexpanded];
			return;
		}
	}
	if (VEC_RESERVE(&t->expanded, &t->expanded_cap, t->nexpanded + 1))
		return;
	t->expanded[t->nexpanded++] = key;
}

static bool group_same(const struct vrow *g, const struct vrow *v, enum group_mode mode)
{
	const struct vfields *a = &g->r, *b = &v->r;

	if (a->host != b->host)
		return false;
	if (mode == GROUP_CGROUP)
		return a->cgroup_id == b->cgroup_id;
	if ((a->flags ^ b->flags) & CONN_F_NO_OWNER)
		return false;
	return (a->flags & CONN_F_NO_OWNER) || (a->pid == b->pid && a->comm == b->comm);
}

struct gsum {
	double rin, rout;
	uint64_t bin, bout, pin, pout;
	uint64_t worst;		      /* the LIMIT key of its worst connection (vrow_limit_key) */
	const struct vrow *worst_row; /* that connection, when worst is not 0 */
	uint32_t conns, first;	      /* first: the index of its first connection */
	uint32_t slot;		      /* 1 + its place among this frame's groups, 0: not seen */
};

/* t->v holds the filtered connections: turn them into group rows (sorted), each followed by its
 * connections (sorted the same way) when it is expanded. The snapshot numbered the groups: a
 * pass over the rows shown, then one vrow per group. */
static int build_groups(struct table *t)
{
	struct snapshot *s = t->snap;
	int m = t->group == GROUP_CGROUP;
	const uint32_t *grp;
	size_t n = t->n, ng = 0, total;
	uint32_t *gi, *start;
	const struct vrow **conns;
	bool any_open = t->nexpanded > 0;

	if (prepare_groups(s, m))
		return -1;
	grp = s->grp[m];
	if (vec_resize(&t->gsum, &t->gsum_cap, s->ngrp[m], sizeof(*t->gsum)))
		return -1;
	memset(t->gsum, 0, s->ngrp[m] * sizeof(*t->gsum));
	if (vec_resize(&t->gscratch, &t->gscratch_cap,
		       n * (2 * sizeof(uint32_t) + sizeof(*conns)) + 4 * sizeof(uint32_t) +
			       s->ngrp[m] * sizeof(uint32_t),
		       1))
		return -1;
	conns = t->gscratch;
	gi = (uint32_t *)(conns + n);
	start = gi + n;
	for (size_t i = 0; i < n; i++) {
		size_t r = (size_t)(t->v[i] - s->rows);
		const struct vfields *f = &t->v[i]->r;
		struct gsum *g = &t->gsum[grp[r]];

		if (!g->slot) {
			g->slot = ++ng;
			g->first = r;
		}
		g->conns++;
		/* rates as the sort reads them: a NaN or negative one is 0 */
		g->rin += f->rate_in > 0 ? f->rate_in : 0;
		g->rout += f->rate_out > 0 ? f->rate_out : 0;
		g->bin += f->c.bytes_in;
		g->bout += f->c.bytes_out;
		g->pin += f->c.pkts_in;
		g->pout += f->c.pkts_out;
		if (vrow_limit_key(t->v[i]) > g->worst) {
			g->worst = vrow_limit_key(t->v[i]);
			g->worst_row = t->v[i];
		}
	}
	if (vec_resize(&t->groups, &t->groups_cap, ng, sizeof(*t->groups)))
		return -1;
	/* one row per group seen, in order of first appearance: that is the tie-break */
	for (size_t k = 0; k < s->ngrp[m]; k++) {
		const struct gsum *g = &t->gsum[k];
		const struct vrow *f;
		struct vrow *v;

		if (!g->slot)
			continue;
		f = &s->rows[g->first];
		v = &t->groups[g->slot - 1];
		memset(v, 0, sizeof(*v));
		v->r.id.inl = VID_L_V4 | VID_R_V4 | VID_GROUP; /* no address: zeros */
		v->r.id.flow = g->slot - 1;
		v->r.id.cookie = group_key(f, t->group);
		v->r.flags = t->group == GROUP_PROCESS ? (f->r.flags & CONN_F_NO_OWNER)
						       : CONN_F_NO_OWNER;
		v->r.pid = t->group == GROUP_PROCESS ? f->r.pid : 0;
		v->r.cgroup_id = f->r.cgroup_id;
		v->r.host = f->r.host;
		v->r.c.bytes_in = g->bin;
		v->r.c.bytes_out = g->bout;
		v->r.c.pkts_in = g->pin;
		v->r.c.pkts_out = g->pout;
		v->r.rate_in = g->rin;
		v->r.rate_out = g->rout;
		v->r.last_ns = g->first;
		/* LIMIT: its worst connection's (none without one that has figures) */
		vrow_set_figs(v, g->worst ? FIGS_LIMIT_ONLY : 0);
		v->r.limit = g->worst ? g->worst_row->r.limit : 0;
		v->r.limit_pct = g->worst ? g->worst_row->r.limit_pct : 0;
		v->r.id.proto = g->worst ? PROTO_TCP : 0;
		v->nconns = g->conns;
		v->r.comm = t->group == GROUP_PROCESS ? f->r.comm : 0;
		v->cgroup = f->cgroup;
		v->hostname = f->hostname;
	}
	/* the connections of open groups, each group's in sort order: sort them all, then
	 * bucket them by group (a counting sort keeps the order) */
	if (any_open) {
		table_sort(t);
		memset(start, 0, (ng + 1) * sizeof(*start));
		for (size_t i = 0; i < n; i++) {
			gi[i] = t->gsum[grp[t->v[i] - s->rows]].slot - 1;
			start[gi[i] + 1]++;
		}
		for (size_t g = 0; g < ng; g++)
			start[g + 1] += start[g];
		for (size_t i = 0; i < n; i++)
			conns[start[gi[i]]++] = t->v[i];
		/* start[g] now ends group g: shift back */
		memmove(start + 1, start, ng * sizeof(*start));
		start[0] = 0;
	}
	memset(&t->widest.rate, 0, sizeof(t->widest.rate));
	t->widest.bytes = t->widest.pkts = 0;
	t->n = ng;
	for (size_t g = 0; g < ng; g++) {
		t->v[g] = &t->groups[g];
		vrow_widen(s->st, &t->widest, &t->groups[g]);
	}
	table_sort(t);
	if (!any_open) {
		memset(t->depth, 0, ng);
		return 0;
	}
	total = ng + n;
	if (vec_resize(&t->v, &t->cap, total, sizeof(*t->v)) ||
	    vec_resize(&t->depth, &t->depth_cap, total, 1))
		return -1;
	{
		/* groups sorted in t->v[0..ng): spread them out with their open members, from the
		 * end so that nothing is overwritten before it is read */
		size_t o = 0;
		const struct vrow **gs = malloc(ng * sizeof(*gs));

		if (!gs)
			return -1;
		memcpy(gs, t->v, ng * sizeof(*gs));
		for (size_t i = 0; i < ng; i++) {
			const struct vrow *g = gs[i];
			size_t gidx = g - t->groups;

			t->depth[o] = 0;
			t->v[o++] = g;
			if (!table_expanded(t, g->r.id.cookie))
				continue;
			for (uint32_t k = start[gidx]; k < start[gidx + 1]; k++) {
				t->depth[o] = 1;
				t->v[o++] = conns[k];
				vrow_widen(s->st, &t->widest, conns[k]);
			}
		}
		free(gs);
		t->n = o;
	}
	return 0;
}

/* The sort's order of a and b (rows of s, exact keys): key words, then their place in s. */
static int cmp_keyed(const struct table *t, const struct keyctx *kc, const struct vrow *a,
		     const struct vrow *b)
{
	bool desc = column_descending(t->sort) != t->reverse;
	uint64_t ka[KEY_WORDS] = { 0 }, kb[KEY_WORDS] = { 0 };

	sort_key(kc, a, t->sort, ka);
	sort_key(kc, b, t->sort, kb);
	for (int w = 0; w < KEY_WORDS; w++) {
		uint64_t x = desc ? ~ka[w] : ka[w], y = desc ? ~kb[w] : kb[w];

		if (x != y)
			return x < y ? -1 : 1;
	}
	return a < b ? -1 : a > b;
}

struct keyed {
	const struct table *t;
	const struct keyctx *kc;
};

static int cmp_fresh(const void *pa, const void *pb, void *arg)
{
	const struct keyed *k = arg;

	return cmp_keyed(k->t, k->kc, *(const struct vrow *const *)pa,
			 *(const struct vrow *const *)pb);
}

/* Every row of s shown, sorted as the last rebuild sorted the snapshot before it: keep its order
 * for the rows that did not change and put those that did in their places (binary search), so
 * that an interval in which few rows changed costs a copy of the order, not a sort. false when
 * it cannot (another sort, a filter, groups, texts without ranks, or most rows changed). */
static bool resort_changed(struct table *t, size_t last_n)
{
	struct snapshot *s = t->snap;
	struct keyctx kc = { .st = s->st, .v4 = !s->any_v6 };
	const struct vrow **v = t->v, **fresh;
	size_t nk = 0, end;
	struct keyed arg;

	if (!t->last_whole || !s->have_map || s->prev_rows != t->last_rows ||
	    s->prev_tick != t->last_tick || t->last_sort != t->sort ||
	    t->last_reverse != t->reverse || last_n != s->nfrom_prev || s->nfresh > s->n / 8 + 16)
		return false;
	if (text_column(t->sort) && !(kc.ranks = strtab_ranks(s->st, s->nstr)))
		return false;
	if (vec_resize(&t->keys, &t->keys_cap, (s->nfresh + 1) * sizeof(*fresh), 1))
		return false;
	fresh = t->keys;
	/* the rows kept, in the last order, in place (t->v has room for every row of s); given up
	 * half way, t->v is made again whole by the caller */
	for (size_t i = 0; i < last_n; i++) {
		/* an address of the last snapshot's rows (freed maybe), numbered without reading */
		size_t old = ((uintptr_t)v[i] - s->prev_rows) / sizeof(struct vrow);
		uint32_t m = old < s->nfrom_prev ? s->from_prev[old] : UINT32_MAX;

		if (m != UINT32_MAX)
			v[nk++] = &s->rows[m];
	}
	if (nk + s->nfresh != s->n)
		return false; /* not every row accounted for: sort them all */
	for (size_t i = 0; i < s->nfresh; i++)
		fresh[i] = &s->rows[s->fresh[i]];
	arg.t = t;
	arg.kc = &kc;
	qsort_r(fresh, s->nfresh, sizeof(*fresh), cmp_fresh, &arg);
	/* from the last fresh row back: the kept rows after its place move up to make room */
	end = nk;
	for (size_t f = s->nfresh; f-- > 0;) {
		size_t lo = 0, hi = end;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (cmp_keyed(t, &kc, v[mid], fresh[f]) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		memmove(v + lo + f + 1, v + lo, (end - lo) * sizeof(*v));
		v[lo + f] = fresh[f];
		end = lo;
	}
	t->n = nk + s->nfresh;
	t->resorted++;
	return true;
}

int table_rebuild(struct table *t)
{
	const struct snapshot *s = t->snap;
	size_t last_n = t->n;

	t->n = 0;
	t->ngroups = 0;
	t->self_hidden = 0;
	if (!s || !s->rows)
		return 0;
	if (vec_resize(&t->v, &t->cap, s->n + 1, sizeof(*t->v)) ||
	    vec_resize(&t->depth, &t->depth_cap, s->n + 1, 1))
		return -1;
	if (!t->filter[0] && !t->own_row && t->group == GROUP_NONE && resort_changed(t, last_n)) {
		t->widest = s->all;
		memset(t->depth, 0, t->n);
		t->last_rows = (uintptr_t)s->rows;
		t->last_tick = s->tick;
		return 0;
	}
	t->last_whole = false;
	if (!t->filter[0] && !t->own_row) {
		/* everything shown: no row needs to be read */
		for (size_t i = 0; i < s->n; i++)
			t->v[i] = &s->rows[i];
		t->n = s->n;
		t->widest = s->all;
	} else {
		memset(&t->widest, 0, sizeof(t->widest));
		for (size_t i = 0; i < s->n; i++) {
			const struct vrow *v = &s->rows[i];

			if (t->own_row && t->own_row(t->own_ctx, s->st, v, row_boot_id(s, v))) {
				t->self_hidden++;
				continue;
			}
			if (t->filter[0] && !vrow_matches(s->st, v, t->filter))
				continue;
			t->v[t->n++] = v;
			vrow_widen(s->st, &t->widest, v);
		}
	}
	if (t->group != GROUP_NONE && t->n)
		return build_groups(t);
	table_sort(t);
	memset(t->depth, 0, t->n);
	/* every row, sorted: the next snapshot's rebuild may start from this order */
	t->last_whole = !t->filter[0] && !t->own_row && t->group == GROUP_NONE && t->n == s->n &&
			(!text_column(t->sort) || strtab_ranks(s->st, s->nstr));
	t->last_rows = (uintptr_t)s->rows;
	t->last_tick = s->tick;
	t->last_sort = t->sort;
	t->last_reverse = t->reverse;
	return 0;
}

void table_free(struct table *t)
{
	free(t->v);
	free(t->keys);
	free(t->groups);
	free(t->depth);
	free(t->expanded);
	free(t->gscratch);
	free(t->gsum);
	t->gsum = NULL;
	t->gsum_cap = 0;
	t->v = NULL;
	t->keys = NULL;
	t->groups = NULL;
	t->depth = NULL;
	t->expanded = NULL;
	t->gscratch = NULL;
	t->n = t->cap = t->depth_cap = t->keys_cap = t->ngroups = t->groups_cap = 0;
	t->nexpanded = t->expanded_cap = t->gscratch_cap = 0;
}

struct conn_key vrow_key(const struct vrow *v)
{
	struct conn_key k = {
		.flow = vrow_conns(v) ? UINT64_MAX : v->r.id.flow,
		.cookie = v->r.id.cookie,
		.netns = v->r.id.netns,
		.lport = v->r.id.lport,
		.rport = v->r.id.rport,
		.proto = v->r.id.proto,
	};
	return k;
}

bool conn_key_eq(const struct conn_key *a, const struct conn_key *b)
{
	return a->flow == b->flow && a->cookie == b->cookie && a->netns == b->netns &&
	       a->lport == b->lport && a->rport == b->rport && a->proto == b->proto;
}

long table_find(const struct table *t, const struct conn_key *k)
{
	const struct snapshot *s = t->snap;

	/* a connection: its row by binary search (rows are in flow order), then its place by
	 * pointer, so that no other row is read */
	if (s && k->flow != UINT64_MAX && s->rows) {
		size_t lo = 0, hi = s->n;
		const struct vrow *p = NULL;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const struct vfields *r = &s->rows[mid].r;

			if (r->id.flow < k->flow ||
			    (r->id.flow == k->flow && r->id.cookie < k->cookie))
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < s->n && s->rows[lo].r.id.flow == k->flow &&
		       s->rows[lo].r.id.cookie == k->cookie;
		     lo++) {
			struct conn_key o = vrow_key(&s->rows[lo]);

			if (conn_key_eq(&o, k)) {
				p = &s->rows[lo];
				break;
			}
		}
		if (!p)
			return -1;
		for (size_t i = 0; i < t->n; i++)
			if (t->v[i] == p)
				return (long)i;
		return -1;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct conn_key o = vrow_key(t->v[i]);

		if (conn_key_eq(&o, k))
			return (long)i;
	}
	return -1;
}

/* ---- units ---- */

void fmt_bytes(double v, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int u = -1;

	/* a rate read from the input may be anything, NaN included: it shows as 0 */
	if (!(v >= 1024)) {
		snprintf(buf, size, "%.0f B", v > 0 ? v : 0);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void fmt_count(uint64_t n, char *buf, size_t size)
{
	static const char units[] = "kMGTPE";
	double v = n;
	int u = -1;

	if (n < 100000) {
		snprintf(buf, size, "%" PRIu64, n);
		return;
	}
	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	snprintf(buf, size, v < 10 ? "%.2f%c" : v < 100 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

void fmt_rtt(uint32_t us, char *buf, size_t size)
{
	if (us < 1000)
		snprintf(buf, size, "%uus", us);
	else if (us < 1000000)
		snprintf(buf, size,
			 us < 10000    ? "%.2fms"
			 : us < 100000 ? "%.1fms"
				       : "%.0fms",
			 us / 1000.0);
	else
		snprintf(buf, size, us < 10000000 ? "%.2fs" : "%.0fs", us / 1e6);
}

/* A connection open before the collector started whose owner it could not name (no owners
 * feature): unknown, not merely not seen yet. */
static bool owner_unknown(const struct vrow *v, unsigned missing)
{
	return !vrow_conns(v) && (missing & FIELD_OWNER) && (v->r.flags & CONN_F_BEGUN_BEFORE);
}

const char *cell_text(const struct strtab *st, const struct vrow *v, enum column c, bool raw,
		      unsigned missing, char *buf, size_t size)
{
	const struct vfields *r = &v->r;
	bool tcp = r->id.proto == PROTO_TCP;

	if (vrow_conns(v)) { /* a group's row: its key and sums */
		switch (c) {
		case COL_PROTO:
		case COL_REMOTE:
		case COL_STATE:
		case COL_RTT:
			return "";
		case COL_LIMIT:
			return vrow_has_figs(v) ? limit_text(v->r.limit, v->r.limit_pct, buf, size)
						: "";
		case COL_LOCAL:
			snprintf(buf, size, "%" PRIu32 " conn%s", vrow_conns(v),
				 vrow_conns(v) == 1 ? "" : "s");
			return buf;
		default:
			break;
		}
	}
	switch (c) {
	case COL_PROTO:
		snprintf(buf, size, "%s%s",
			 tcp			    ? "tcp"
			 : r->id.proto == PROTO_UDP ? "udp"
						    : "?",
			 r->id.family == FAMILY_INET6 ? "6" : "");
		break;
	case COL_LOCAL:
	case COL_REMOTE:
		vrow_endpoint(st, v, c == COL_LOCAL, buf, size);
		break;
	case COL_PID:
		if (r->flags & CONN_F_NO_OWNER)
			return owner_unknown(v, missing) ? "?" : "-";
		snprintf(buf, size, "%" PRIu32, r->pid);
		break;
	case COL_PROCESS:
		if (r->flags & CONN_F_NO_OWNER)
			return owner_unknown(v, missing) ? "?" : "-";
		return r->comm ? str_text(st, r->comm) : "-";
	case COL_STATE:
		return vrow_state(v);
	case COL_CGROUP:
		return v->cgroup ? str_text(st, v->cgroup) : (missing & FIELD_CGROUP) ? "?" : "-";
	case COL_HOST:
		return v->hostname && *str_text(st, v->hostname) ? str_text(st, v->hostname) : "-";
	case COL_RX_RATE:
	case COL_TX_RATE: {
		double rate = c == COL_RX_RATE ? r->rate_in : r->rate_out;

		if (raw)
			snprintf(buf, size, "%.0f", rate);
		else
			fmt_bytes(rate, buf, size);
		break;
	}
	case COL_RX:
	case COL_TX: {
		uint64_t b = c == COL_RX ? r->c.bytes_in : r->c.bytes_out;

		if (raw)
			snprintf(buf, size, "%" PRIu64, b);
		else
			fmt_bytes(b, buf, size);
		break;
	}
	case COL_PKT_RX:
	case COL_PKT_TX: {
		uint64_t p = c == COL_PKT_RX ? r->c.pkts_in : r->c.pkts_out;

		if (raw)
			snprintf(buf, size, "%" PRIu64, p);
		else
			fmt_count(p, buf, size);
		break;
	}
	case COL_RTT:
		if (!tcp || !r->c.srtt_us)
			snprintf(buf, size, "-");
		else if (raw)
			snprintf(buf, size, "%" PRIu32, r->c.srtt_us);
		else
			fmt_rtt(r->c.srtt_us, buf, size);
		break;
	case COL_LIMIT:
		/* UDP: none; TCP without figures: unknown where the collector could not read
		 * them, not there (an older collector) otherwise */
		if (!tcp)
			return "-";
		if (!vrow_has_figs(v) || (missing & FIELD_TCP_LIMIT))
			return (missing & FIELD_TCP_LIMIT) ? "?" : "-";
		return limit_text(v->r.limit, v->r.limit_pct, buf, size);
	case NCOLS:
		buf[0] = '\0';
		break;
	}
	return buf;
}

/* ---- layout ---- */

/* Columns whose text can be elided: addresses and the process name. */
static const enum column var[] = { COL_REMOTE, COL_LOCAL, COL_PROCESS, COL_CGROUP, COL_HOST };

/* Narrow the elidable columns, widest (above its minimum) first, until total fits in cols. */
static int shrink(struct layout *l, const int *min, int total, int cols)
{
	while (total > cols) {
		int best = -1;

		for (size_t i = 0; i < sizeof(var) / sizeof(var[0]); i++) {
			int c = var[i];

			if (l->width[c] > min[c] &&
			    (best < 0 || l->width[c] - min[c] > l->width[best] - min[best]))
				best = c;
		}
		if (best < 0)
			break;
		l->width[best]--;
		total--;
	}
	return total;
}

void table_layout(const struct table *t, int cols, bool raw, int trend, struct layout *l)
{
	/* dropped first to last when the terminal is narrow */
	static const enum column drop[] = { COL_PKT_TX, COL_PKT_RX, COL_TX,    COL_RX,	COL_RTT,
					    COL_LIMIT,	COL_CGROUP, COL_STATE, COL_PID, COL_PROTO };
	int want[NCOLS], min[NCOLS], total = 1;
	int lw = t->widest.local, rw = t->widest.remote, cw = t->widest.comm;
	int sw = imax(5, t->widest.state), pw = imax(3, t->widest.pid);
	double maxrate = t->widest.rate;
	uint64_t maxb = t->widest.bytes, maxp = t->widest.pkts, maxrtt = t->widest.rtt;
	if (t->group != GROUP_NONE)
		lw = imax(lw, 11); /* "12345 conns" */
	/* a group's connections are indented by two: "  tcp6" */
	want[COL_PROTO] = t->group != GROUP_NONE ? 6 : 5;
	want[COL_LOCAL] = imax(lw, 5);
	want[COL_REMOTE] = imax(rw, 6);
	want[COL_PID] = pw;
	want[COL_PROCESS] = imax(imax(cw, 7), 7) > 32 ? 32 : imax(cw, 7);
	want[COL_STATE] = sw;
	/* no row with a cgroup (an older collector, or none known): no column */
	want[COL_CGROUP] =
		t->widest.cgroup ? imax(6, t->widest.cgroup > 24 ? 24 : t->widest.cgroup) : 0;
	/* LIMIT only when some TCP row has figures: "sndbuf 100%" */
	want[COL_LIMIT] = t->widest.limit ? 11 : 0;
	/* the host column only when the stream has hosts of its own */
	want[COL_HOST] = t->widest.host ? imax(4, t->widest.host > 20 ? 20 : t->widest.host) : 0;
	if (raw) {
		int rd = maxrate < 1e18 ? digits((uint64_t)maxrate) : 20;

		want[COL_RX_RATE] = want[COL_TX_RATE] = imax(rd, 8);
		want[COL_RX] = want[COL_TX] = imax(digits(maxb), 8);
		want[COL_PKT_RX] = want[COL_PKT_TX] = imax(digits(maxp), 6);
		want[COL_RTT] = imax(digits(maxrtt), 6);
	} else {
		want[COL_RX_RATE] = want[COL_TX_RATE] = 8;
		want[COL_RX] = want[COL_TX] = 8;
		want[COL_PKT_RX] = want[COL_PKT_TX] = 6;
		want[COL_RTT] = 6;
	}
	for (int c = 0; c < NCOLS; c++) {
		l->width[c] = want[c];
		total += want[c] ? want[c] + 1 : 0;
	}
	/* the trend goes before the packets: dropped after them, before the totals */
	l->trend = trend;
	total += trend ? trend + 1 : 0;

	/* an IPv4 endpoint fits in 21 columns: longer ones are elided before a column is dropped,
	 * columns are dropped before anything is elided further */
	min[COL_LOCAL] = want[COL_LOCAL] < 21 ? want[COL_LOCAL] : 21;
	min[COL_REMOTE] = want[COL_REMOTE] < 21 ? want[COL_REMOTE] : 21;
	min[COL_PROCESS] = want[COL_PROCESS] < 12 ? want[COL_PROCESS] : 12;
	min[COL_CGROUP] = want[COL_CGROUP] < 12 ? want[COL_CGROUP] : 12;
	min[COL_HOST] = want[COL_HOST] < 8 ? want[COL_HOST] : 8;
	total = shrink(l, min, total, cols);
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]) && total > cols; i++) {
		if (drop[i] == COL_RX && l->trend) { /* the trend goes before the totals */
			total -= l->trend + 1;
			l->trend = 0;
			if (total <= cols)
				break;
		}
		if (!l->width[drop[i]])
			continue;
		total -= l->width[drop[i]] + 1;
		l->width[drop[i]] = 0;
	}
	if (total > cols) {
		min[COL_LOCAL] = min[COL_LOCAL] < 9 ? min[COL_LOCAL] : 9;
		min[COL_REMOTE] = min[COL_REMOTE] < 9 ? min[COL_REMOTE] : 9;
		min[COL_PROCESS] = min[COL_PROCESS] < 7 ? min[COL_PROCESS] : 7;
		min[COL_CGROUP] = min[COL_CGROUP] < 7 ? min[COL_CGROUP] : 7;
		total = shrink(l, min, total, cols);
	}
	/* room left after dropping: give it back, narrowest elided column first */
	while (total < cols) {
		int best = -1;

		for (size_t i = 0; i < sizeof(var) / sizeof(var[0]); i++) {
			int c = var[i];

			if (l->width[c] < want[c] && (best < 0 || l->width[c] < l->width[best]))
				best = c;
		}
		if (best < 0)
			break;
		l->width[best]++;
		total++;
	}
	/* columns that still do not fit are cut at the right edge by the caller */
	l->total = 1;
	for (int c = 0; c < NCOLS; c++) {
		l->x[c] = l->total + 1;
		if (l->width[c])
			l->total += l->width[c] + 1;
	}
	if (l->trend)
		l->total += l->trend + 1;
}

/* ---- text ---- */

static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static int char_width(const char *p, size_t len)
{
	wchar_t wc;
	mbstate_t st = { 0 };
	int w;

	if (len == 1)
		return 1;
	if (mbrtowc(&wc, p, len, &st) != len)
		return 1;
	w = wcwidth(wc);
	return w < 0 ? 1 : w;
}

/* Bytes of s's longest prefix of at most w columns; its width in *got. */
static size_t prefix_cols(const char *s, int w, int *got)
{
	size_t i = 0;
	int cols = 0;

	while (s[i]) {
		size_t n = utf8_len((unsigned char)s[i]);
		int cw = char_width(s + i, n);

		if (cols + cw > w)
			break;
		cols += cw;
		i += n;
	}
	*got = cols;
	return i;
}

/* Byte offset of s's shortest suffix of at most w columns. */
static size_t suffix_cols(const char *s, size_t len, int w, int *got)
{
	size_t i = len;
	int cols = 0;

	while (i > 0) {
		size_t j = i - 1;
		int cw;

		while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
			j--;
		cw = char_width(s + j, i - j);
		if (cols + cw > w)
			break;
		cols += cw;
		i = j;
	}
	*got = cols;
	return i;
}

static size_t append(char *buf, size_t size, size_t o, const char *s, size_t n)
{
	if (o + n >= size)
		n = o < size ? size - o - 1 : 0;
	memcpy(buf + o, s, n);
	return o + n;
}

static size_t pad(char *buf, size_t size, size_t o, int n)
{
	while (n-- > 0 && o + 1 < size)
		buf[o++] = ' ';
	return o;
}

size_t put_field(char *buf, size_t size, const char *s, size_t s_w, int width, bool right, bool mid)
{
	const char *ell = table_utf8 ? "\u2026" : "~";
	size_t o = 0, len = strlen(s);
	int got, got2;

	if (width <= 0)
		return 0;
	if ((int)s_w <= width) {
		if (right)
			o = pad(buf, size, o, width - s_w);
		o = append(buf, size, o, s, len);
		if (!right)
			o = pad(buf, size, o, width - s_w);
	} else if (mid && width >= 3) {
		int head = (width - 1) / 2, tail = width - 1 - head;
		size_t h = prefix_cols(s, head, &got);
		size_t t = suffix_cols(s, len, tail, &got2);

		o = append(buf, size, o, s, h);
		o = append(buf, size, o, ell, strlen(ell));
		o = append(buf, size, o, s + t, len - t);
		o = pad(buf, size, o, width - 1 - got - got2);
	} else {
		size_t h = prefix_cols(s, width - 1, &got);

		o = append(buf, size, o, s, h);
		o = append(buf, size, o, ell, strlen(ell));
		o = pad(buf, size, o, width - 1 - got);
	}
	if (o < size)
		buf[o] = '\0';
	return o;
}

size_t table_format_row(const struct vrow *v, const struct layout *l, const struct row_style *st,
			char *buf, size_t size)
{
	size_t o = 0;

	if (size < 8)
		return 0;
	if (vrow_conns(v)) { /* a group: open or closed */
		const char *m =
			table_utf8 ? (st->open ? "\u25be" : "\u25b8") : (st->open ? "v" : ">");

		o = append(buf, size, o, m, strlen(m));
	} else {
		/* opened and closed in one interval: it leaves with the next snapshot, so it
		 * shows closed */
		buf[o++] = v->r.flags & CONN_F_CLOSED ? '-' : v->r.flags & CONN_F_NEW ? '+' : ' ';
	}
	for (int c = 0; c < NCOLS && o + 1 < size; c++) {
		char tmp[64], ind[COMM_TEXT + 4];
		bool named = false;
		const char *s;
		size_t w;
		int width = l->width[c];

		if (!width)
			continue;
		buf[o++] = ' ';
		s = cell_text(st->st, v, c, st->raw_units, st->missing, tmp, sizeof(tmp));
		if (c == COL_LOCAL && st->local && !vrow_conns(v))
			s = st->local, named = true;
		if (c == COL_REMOTE && st->remote && !vrow_conns(v))
			s = st->remote, named = true;
		/* widths known already: strings' from the table, endpoints' from the row */
		w = c == COL_PROCESS && v->r.comm && s == str_text(st->st, v->r.comm)
			    ? str_width(st->st, v->r.comm)
		    : c == COL_LOCAL && !named && !vrow_conns(v)
			    ? vrow_endpoint(st->st, v, true, NULL, 0)
		    : c == COL_REMOTE && !named && !vrow_conns(v)
			    ? vrow_endpoint(st->st, v, false, NULL, 0)
		    : c == COL_CGROUP && v->cgroup && s == str_text(st->st, v->cgroup)
			    ? str_width(st->st, v->cgroup)
		    : c == COL_HOST && v->hostname && s == str_text(st->st, v->hostname)
			    ? str_width(st->st, v->hostname)
			    : text_width(s);
		if (c == COL_PROTO && st->depth && width >= 4) {
			/* a group's connection: indented under it */
			snprintf(ind, sizeof(ind), "  %s", s);
			s = ind;
			w += 2;
		}
		o += put_field(buf + o, size - o, s, w, width, columns[c].numeric && c != COL_LIMIT,
			       c == COL_LOCAL || c == COL_REMOTE);
	}
	if (l->trend && o + 1 < size) {
		buf[o++] = ' ';
		o += put_field(buf + o, size - o, st->trend ? st->trend : "",
			       st->trend ? st->trend_w : 0, l->trend, false, false);
	}
	buf[o < size ? o : size - 1] = '\0';
	return o;
}

size_t table_format_title(const struct layout *l, bool raw, char *buf, size_t size)
{
	size_t o = 0;

	if (size < 2)
		return 0;
	buf[o++] = ' ';
	for (int c = 0; c < NCOLS && o + 1 < size; c++) {
		if (!l->width[c])
			continue;
		const char *title = raw ? columns[c].raw_title : columns[c].title;

		buf[o++] = ' ';
		o += put_field(buf + o, size - o, title, strlen(title), l->width[c],
			       columns[c].numeric, false);
	}
	if (l->trend && o + 1 < size) {
		buf[o++] = ' ';
		o += put_field(buf + o, size - o, "TREND", 5, l->trend, false, false);
	}
	buf[o < size ? o : size - 1] = '\0';
	return o;
}
