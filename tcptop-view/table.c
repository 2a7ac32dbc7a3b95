// SPDX-License-Identifier: GPL-2.0-or-later
/* The view's data layer: snapshots, filter, sort, column layout and row text. No curses here. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "table.h"

bool table_utf8 = true;

/* A snapshot larger than this is shown in part (the header says how many rows were left out):
 * it bounds memory whatever the input claims. */
#define SNAPSHOT_ROWS_MAX    (4u << 20)
#define SNAPSHOT_RESERVE_MAX (128u << 10)

struct snapshot *snapshot_new(const struct stream_header *hdr, const struct rec_snap_begin *b)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->hdr = *hdr;
	s->b = *b;
	/* room for the rows the snapshot announces, within a bound: a count read from the input
	 * is a hint, never a size to trust */
	s->cap = b->rows < SNAPSHOT_RESERVE_MAX ? b->rows : SNAPSHOT_RESERVE_MAX;
	if (s->cap) {
		s->rows = malloc(s->cap * sizeof(*s->rows));
		if (!s->rows)
			s->cap = 0;
	}
	return s;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	free(s->hosts);
	free(s->rows);
	free(s);
}

static void endpoint_format(int family, const uint8_t addr[16], uint16_t port, char *buf,
			    size_t size)
{
	char a[ADDR_LEN];

	addr_format(family, addr, a, sizeof(a));
	if (strchr(a, ':'))
		snprintf(buf, size, "[%s]:%u", a, port);
	else
		snprintf(buf, size, "%s:%u", a, port);
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

#define HOSTS_MAX 4096

int snapshot_add_host(struct snapshot *s, const struct rec_host *h, bool ascii_only)
{
	struct vhost *vh;

	if (!h->index || h->index > HOSTS_MAX)
		return 0;
	if (h->index > s->nhosts) {
		vh = realloc(s->hosts, h->index * sizeof(*vh));
		if (!vh)
			return -1;
		memset(vh + s->nhosts, 0, (h->index - s->nhosts) * sizeof(*vh));
		s->hosts = vh;
		s->nhosts = h->index;
	}
	vh = &s->hosts[h->index - 1];
	text_sanitize(vh->name, sizeof(vh->name), h->hostname, strnlen(h->hostname, HDR_STR_MAX));
	if (ascii_only)
		text_fold_ascii(vh->name);
	vh->w = text_width(vh->name);
	vh->state = h->state ? h->state : HOST_LIVE;
	return 0;
}

int snapshot_add(struct snapshot *s, const struct rec_snap_row *r, bool ascii_only)
{
	struct vrow *v;

	if (s->n >= SNAPSHOT_ROWS_MAX) {
		s->dropped++;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct vrow *rows = realloc(s->rows, cap * sizeof(*rows));

		if (!rows)
			return -1;
		s->rows = rows;
		s->cap = cap;
	}
	v = &s->rows[s->n++];
	v->r = *r;
	endpoint_format(r->id.family, r->id.laddr, r->id.lport, v->local, sizeof(v->local));
	endpoint_format(r->id.family, r->id.raddr, r->id.rport, v->remote, sizeof(v->remote));
	text_sanitize(v->comm, sizeof(v->comm), r->comm, COMM_LEN);
	if (ascii_only)
		text_fold_ascii(v->comm);
	v->local_w = strlen(v->local);
	v->remote_w = strlen(v->remote);
	if (r->host && r->host <= s->nhosts && s->hosts[r->host - 1].state) {
		v->host = s->hosts[r->host - 1].name;
		v->host_w = s->hosts[r->host - 1].w;
	} else {
		v->host = "";
		v->host_w = 0;
	}
	v->comm_w = text_width(v->comm);
	return 0;
}

/* ---- columns ---- */

static const struct {
	const char *title, *raw_title, *name;
	bool numeric; /* right aligned, sorted largest first */
} columns[NCOLS] = {
	[COL_HOST] = { "HOST", "HOST", "host", false },
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

bool vrow_matches(const struct vrow *v, const char *filter)
{
	char pid[16];

	if (!*filter)
		return true;
	if (strcasestr(v->local, filter) || strcasestr(v->remote, filter) ||
	    strcasestr(v->comm, filter))
		return true;
	snprintf(pid, sizeof(pid), "%" PRIu32, v->r.pid);
	return !(v->r.flags & CONN_F_NO_OWNER) && !strcmp(pid, filter);
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

static int cmp_addr(const struct conn_id *a, const struct conn_id *b, bool local)
{
	int d = CMP(a->family, b->family);

	if (d)
		return d;
	d = memcmp(local ? a->laddr : a->raddr, local ? b->laddr : b->raddr, 16);
	if (d)
		return d;
	return local ? CMP(a->lport, b->lport) : CMP(a->rport, b->rport);
}

static int cmp_column(const struct vrow *a, const struct vrow *b, enum column c)
{
	const struct rec_snap_row *x = &a->r, *y = &b->r;

	switch (c) {
	case COL_HOST:
		return strcmp(a->host, b->host);
	case COL_PROTO:
		return x->id.proto != y->id.proto ? CMP(x->id.proto, y->id.proto)
						  : CMP(x->id.family, y->id.family);
	case COL_LOCAL:
		return cmp_addr(&x->id, &y->id, true);
	case COL_REMOTE:
		return cmp_addr(&x->id, &y->id, false);
	case COL_PID:
		return CMP(x->pid, y->pid);
	case COL_PROCESS:
		return strcmp(a->comm, b->comm);
	case COL_STATE:
		return strcmp(x->id.proto == PROTO_TCP ? tcp_state_name(x->state) : "-",
			      y->id.proto == PROTO_TCP ? tcp_state_name(y->state) : "-");
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
	int d = cmp_column(a, b, t->sort);

	if (column_descending(t->sort) != t->reverse)
		d = -d;
	/* ties in a stable order, so rows do not jump between snapshots */
	if (!d)
		d = CMP(a->r.id.flow, b->r.id.flow);
	if (!d)
		d = CMP(a->r.id.cookie, b->r.id.cookie);
	return d;
}

/* Sorting 100,000 rows within a frame: each row gets a key of up to three 64-bit words whose
 * unsigned order is the column's order (inverted for descending), then a stable LSD radix sort,
 * word by word from the last, on 16-byte elements (key word, row index). Rows enter in (flow,
 * cookie) order, so stability gives cmp_rows()'s tie-break for free. Process names sort by their
 * rank in the snapshot; without ranks (out of memory) a name longer than 24 bytes (escaped) can
 * leave equal keys for different rows, and such runs are finished with qsort. */
#define KEY_WORDS 3

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

/* Fills k (zeroed); returns whether the key decides the column's order alone. */
static bool sort_key(const struct vrow *v, enum column c, bool ranked, uint64_t *k)
{
	const struct rec_snap_row *r = &v->r;

	switch (c) {
	case COL_HOST: {
		size_t n = strlen(v->host);

		pack(k, (const uint8_t *)v->host, n);
		return n < 8 * KEY_WORDS;
	}
	case COL_PROTO:
		k[0] = (uint64_t)r->id.proto << 8 | r->id.family;
		break;
	case COL_LOCAL:
	case COL_REMOTE: {
		uint16_t port = c == COL_LOCAL ? r->id.lport : r->id.rport;
		uint8_t b[19];

		b[0] = r->id.family;
		memcpy(b + 1, c == COL_LOCAL ? r->id.laddr : r->id.raddr, 16);
		b[17] = port >> 8;
		b[18] = port;
		pack(k, b, sizeof(b));
		break;
	}
	case COL_PID:
		k[0] = r->pid;
		break;
	case COL_PROCESS: {
		size_t n = strlen(v->comm);

		if (ranked) {
			k[0] = v->comm_rank;
			break;
		}
		pack(k, (const uint8_t *)v->comm, n);
		return n < 8 * KEY_WORDS;
	}
	case COL_STATE: {
		const char *name = r->id.proto == PROTO_TCP ? tcp_state_name(r->state) : "-";

		pack(k, (const uint8_t *)name, strlen(name));
		break;
	}
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

/* Words of key the column uses: numbers one, text as many as it needs. */
static int key_words(enum column c, bool ranked)
{
	switch (c) {
	case COL_PROCESS:
		return ranked ? 1 : 3;
	case COL_HOST:
		return 3;
	case COL_LOCAL:
	case COL_REMOTE:
		return 3;
	case COL_STATE:
		return 2;
	default:
		return 1;
	}
}

void table_sort(struct table *t)
{
	bool desc = column_descending(t->sort) != t->reverse, exact = true;
	bool ranked = t->snap && t->snap->ranked;
	int words = key_words(t->sort, ranked);
	size_t n = t->n, need = n * (KEY_WORDS * sizeof(uint64_t) + 2 * sizeof(struct elem) +
				     sizeof(struct vrow *));
	uint64_t *kw;
	struct elem *a, *b;
	const struct vrow **orig;

	if (n < 2)
		return;
	if (t->keys_cap < need) {
		free(t->keys);
		t->keys = malloc(need);
		t->keys_cap = t->keys ? need : 0;
	}
	if (!t->keys) { /* slower, but right */
		qsort_r(t->v, n, sizeof(*t->v), cmp_rows, t);
		return;
	}
	kw = t->keys; /* kw[w * n + i]: word w of row i's key */
	a = (struct elem *)(kw + KEY_WORDS * n);
	b = a + n;
	orig = (const struct vrow **)(b + n);
	for (size_t i = 0; i < n; i++) {
		uint64_t k[KEY_WORDS] = { 0 };

		exact &= sort_key(t->v[i], t->sort, ranked, k);
		for (int w = 0; w < words; w++)
			kw[w * n + i] = desc ? ~k[w] : k[w];
		orig[i] = t->v[i];
		a[i].idx = i;
	}
	for (int w = words - 1; w >= 0; w--) {
		struct elem *sorted;

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
			differ = differ || cmp_column(t->v[i], t->v[j], t->sort);
		}
		if (differ)
			qsort_r(t->v + i, j - i, sizeof(*t->v), cmp_rows, t);
		i = j;
	}
}

bool table_sorted(const struct table *t)
{
	for (size_t i = 1; i < t->n; i++)
		if (cmp_rows(&t->v[i - 1], &t->v[i], (void *)t) >= 0)
			return false;
	return true;
}

static int cmp_flow(const void *pa, const void *pb)
{
	const struct vrow *a = pa, *b = pb;
	int d = CMP(a->r.id.flow, b->r.id.flow);

	return d ? d : CMP(a->r.id.cookie, b->r.id.cookie);
}

static int cmp_comm(const void *pa, const void *pb)
{
	const struct vrow *a = *(const struct vrow *const *)pa,
			  *b = *(const struct vrow *const *)pb;

	return strcmp(a->comm, b->comm);
}

void snapshot_finish(struct snapshot *s)
{
	struct vrow **by_name;
	uint32_t rank = 0;

	for (size_t i = 1; i < s->n; i++) {
		if (cmp_flow(&s->rows[i - 1], &s->rows[i]) > 0) {
			qsort(s->rows, s->n, sizeof(*s->rows), cmp_flow);
			break;
		}
	}
	by_name = malloc(s->n * sizeof(*by_name));
	if (!by_name)
		return; /* the sort falls back to the names themselves */
	for (size_t i = 0; i < s->n; i++)
		by_name[i] = &s->rows[i];
	qsort(by_name, s->n, sizeof(*by_name), cmp_comm);
	for (size_t i = 0; i < s->n; i++) {
		if (i && strcmp(by_name[i - 1]->comm, by_name[i]->comm))
			rank++;
		by_name[i]->comm_rank = rank;
	}
	free(by_name);
	s->ranked = true;
}

int table_rebuild(struct table *t)
{
	const struct snapshot *s = t->snap;

	t->n = 0;
	if (!s)
		return 0;
	if (t->cap < s->n) {
		const struct vrow **v = realloc(t->v, s->n * sizeof(*v));

		if (!v)
			return -1;
		t->v = v;
		t->cap = s->n;
	}
	memset(&t->widest, 0, sizeof(t->widest));
	for (size_t i = 0; i < s->n; i++) {
		const struct vrow *v = &s->rows[i];
		const struct rec_snap_row *r = &v->r;

		if (t->filter[0] && !vrow_matches(v, t->filter))
			continue;
		t->v[t->n++] = v;
		t->widest.local = imax(t->widest.local, v->local_w);
		t->widest.remote = imax(t->widest.remote, v->remote_w);
		t->widest.comm = imax(t->widest.comm, v->comm_w);
		if (r->id.proto == PROTO_TCP)
			t->widest.state = imax(t->widest.state, strlen(tcp_state_name(r->state)));
		if (!(r->flags & CONN_F_NO_OWNER))
			t->widest.pid = imax(t->widest.pid, digits(r->pid));
		if (r->rate_in > t->widest.rate)
			t->widest.rate = r->rate_in;
		if (r->rate_out > t->widest.rate)
			t->widest.rate = r->rate_out;
		t->widest.bytes = umax(t->widest.bytes, umax(r->c.bytes_in, r->c.bytes_out));
		t->widest.pkts = umax(t->widest.pkts, umax(r->c.pkts_in, r->c.pkts_out));
		t->widest.rtt = umax(t->widest.rtt, r->c.srtt_us);
	}
	table_sort(t);
	return 0;
}

void table_free(struct table *t)
{
	free(t->v);
	free(t->keys);
	t->v = NULL;
	t->keys = NULL;
	t->n = t->cap = t->keys_cap = 0;
}

struct conn_key vrow_key(const struct vrow *v)
{
	struct conn_key k = {
		.flow = v->r.id.flow,
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

	if (v < 1024) {
		snprintf(buf, size, "%.0f B", v < 0 ? 0 : v);
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

const char *cell_text(const struct vrow *v, enum column c, bool raw, char *buf, size_t size)
{
	const struct rec_snap_row *r = &v->r;
	bool tcp = r->id.proto == PROTO_TCP;

	switch (c) {
	case COL_HOST:
		return v->host[0] ? v->host : "-";
	case COL_PROTO:
		snprintf(buf, size, "%s%s",
			 tcp			    ? "tcp"
			 : r->id.proto == PROTO_UDP ? "udp"
						    : "?",
			 r->id.family == FAMILY_INET6 ? "6" : "");
		break;
	case COL_LOCAL:
		return v->local;
	case COL_REMOTE:
		return v->remote;
	case COL_PID:
		if (r->flags & CONN_F_NO_OWNER)
			snprintf(buf, size, "-");
		else
			snprintf(buf, size, "%" PRIu32, r->pid);
		break;
	case COL_PROCESS:
		return (r->flags & CONN_F_NO_OWNER) || !v->comm[0] ? "-" : v->comm;
	case COL_STATE:
		return tcp ? tcp_state_name(r->state) : "-";
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
	case NCOLS:
		buf[0] = '\0';
		break;
	}
	return buf;
}

/* ---- layout ---- */

/* Columns whose text can be elided: addresses and the process name. */
static const enum column var[] = { COL_REMOTE, COL_LOCAL, COL_PROCESS, COL_HOST };

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

void table_layout(const struct table *t, int cols, bool raw, struct layout *l)
{
	/* dropped first to last when the terminal is narrow */
	static const enum column drop[] = { COL_PKT_TX, COL_PKT_RX, COL_TX,  COL_RX,
					    COL_RTT,	COL_STATE,  COL_PID, COL_PROTO };
	int want[NCOLS], min[NCOLS], total = 1;
	int lw = t->widest.local, rw = t->widest.remote, cw = t->widest.comm;
	int sw = imax(5, t->widest.state), pw = imax(3, t->widest.pid);
	double maxrate = t->widest.rate;
	uint64_t maxb = t->widest.bytes, maxp = t->widest.pkts, maxrtt = t->widest.rtt;
	/* the host column only when the stream has hosts of its own */
	want[COL_HOST] = 0;
	for (size_t i = 0; t->snap && i < t->snap->nhosts; i++)
		want[COL_HOST] = imax(want[COL_HOST], imax(t->snap->hosts[i].w, 4));
	if (want[COL_HOST] > 20)
		want[COL_HOST] = 20;
	want[COL_PROTO] = 5;
	want[COL_LOCAL] = imax(lw, 5);
	want[COL_REMOTE] = imax(rw, 6);
	want[COL_PID] = pw;
	want[COL_PROCESS] = imax(imax(cw, 7), 7) > 32 ? 32 : imax(cw, 7);
	want[COL_STATE] = sw;
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
	/* an IPv4 endpoint fits in 21 columns: longer ones are elided before a column is dropped,
	 * columns are dropped before anything is elided further */
	min[COL_LOCAL] = want[COL_LOCAL] < 21 ? want[COL_LOCAL] : 21;
	min[COL_REMOTE] = want[COL_REMOTE] < 21 ? want[COL_REMOTE] : 21;
	min[COL_PROCESS] = want[COL_PROCESS] < 12 ? want[COL_PROCESS] : 12;
	min[COL_HOST] = want[COL_HOST] < 8 ? want[COL_HOST] : 8;
	total = shrink(l, min, total, cols);
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]) && total > cols; i++) {
		total -= l->width[drop[i]] + 1;
		l->width[drop[i]] = 0;
	}
	if (total > cols) {
		min[COL_LOCAL] = min[COL_LOCAL] < 9 ? min[COL_LOCAL] : 9;
		min[COL_REMOTE] = min[COL_REMOTE] < 9 ? min[COL_REMOTE] : 9;
		min[COL_PROCESS] = min[COL_PROCESS] < 7 ? min[COL_PROCESS] : 7;
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

size_t table_format_row(const struct vrow *v, const struct layout *l, bool raw, char *buf,
			size_t size)
{
	size_t o = 0;

	if (size < 2)
		return 0;
	/* opened and closed in one interval: it leaves with the next snapshot, so it shows closed */
	buf[o++] = v->r.flags & CONN_F_CLOSED ? '-' : v->r.flags & CONN_F_NEW ? '+' : ' ';
	for (int c = 0; c < NCOLS && o + 1 < size; c++) {
		char tmp[64];
		const char *s;
		size_t w;

		if (!l->width[c])
			continue;
		buf[o++] = ' ';
		s = cell_text(v, c, raw, tmp, sizeof(tmp));
		w = c == COL_PROCESS && s == v->comm ? v->comm_w
		    : c == COL_HOST && s == v->host  ? v->host_w
		    : c == COL_LOCAL		     ? v->local_w
		    : c == COL_REMOTE		     ? v->remote_w
						     : strlen(s);
		o += put_field(buf + o, size - o, s, w, l->width[c], columns[c].numeric,
			       c == COL_LOCAL || c == COL_REMOTE);
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
	buf[o < size ? o : size - 1] = '\0';
	return o;
}
