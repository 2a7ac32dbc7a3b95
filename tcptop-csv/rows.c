// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-csv's row writer: one line per connection per snapshot, as CSV (quoted through libcsv)
 * or as JSON Lines, with the same column names. Cells are formatted straight into one output
 * buffer that is only written out on row boundaries, so a reader (or a kill -9) never sees half
 * a row. Per-snapshot cells (time, sequence, loss counters) are formatted once per snapshot.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>

#include "rows.h"
#include "util.h"

#define BUF_SIZE (256 * 1024)
#define ROW_MAX	 4096 /* bound on one formatted row, far above the longest possible */

/* The columns, in order. The first 16 are fixed (scripts rely on them); man/tcptop-csv.1 documents
 * every one. */
enum col {
	C_TIMESTAMP,
	C_PROTOCOL,
	C_LOCAL_ADDR,
	C_LOCAL_PORT,
	C_REMOTE_ADDR,
	C_REMOTE_PORT,
	C_PID,
	C_PROCESS_NAME,
	C_STATE,
	C_BYTES_IN,
	C_BYTES_OUT,
	C_PACKETS_IN,
	C_PACKETS_OUT,
	C_RATE_IN,
	C_RATE_OUT,
	C_RTT_US,
	C_RETRANSMITS,
	C_INTERFACE,
	C_IFINDEX,
	C_NETNS,
	C_CLOSED,
	C_BEGUN_BEFORE,
	C_NEW,
	C_SNAPSHOT_SEQ,
	C_PARTIAL,
	C_LOSS_FIRST,
	C_HOST = C_LOSS_FIRST + 6,
	C_COUNT,
};

static const char *const col_names[C_COUNT] = {
	"timestamp",
	"protocol",
	"local_addr",
	"local_port",
	"remote_addr",
	"remote_port",
	"pid",
	"process_name",
	"state",
	"bytes_in",
	"bytes_out",
	"packets_in",
	"packets_out",
	"rate_in_bytes_sec",
	"rate_out_bytes_sec",
	"rtt_us",
	"retransmits",
	"interface",
	"ifindex",
	"netns",
	"closed",
	"begun_before",
	"new",
	"snapshot_seq",
	"partial",
	"loss_ringbuf",
	"loss_flow_table_full",
	"loss_flow_evicted",
	"loss_agg_table_full",
	"loss_agg_unknown_flow",
	"loss_agg_gap",
	"host",
};

/* The loss codes behind the loss_* columns, in column order. */
static const uint32_t loss_codes[C_HOST - C_LOSS_FIRST] = {
	LOSS_RINGBUF,	     LOSS_FLOW_TABLE_FULL,  LOSS_FLOW_EVICTED,
	LOSS_AGG_TABLE_FULL, LOSS_AGG_UNKNOWN_FLOW, LOSS_AGG_GAP,
};

/* A sanitised kernel string, kept while the same raw bytes come again (they usually do). */
struct text_cache {
	char raw[COMM_LEN > IFNAME_LEN ? COMM_LEN : IFNAME_LEN];
	size_t len;
	bool valid;
	char text[SANITIZE_SIZE(COMM_LEN > IFNAME_LEN ? COMM_LEN : IFNAME_LEN)];
};

struct addr_cache {
	uint8_t addr[16];
	int family;
	bool valid;
	char text[ADDR_LEN];
	size_t len;
};

struct rows {
	int fd;
	struct rows_opts o;
	char *buf;
	size_t len;
	unsigned long long count;
	/* JSON Lines: ","name":" for each column ("{" and no comma for the first) */
	char key[C_COUNT][32];
	size_t key_len[C_COUNT];
	/* the current snapshot's cells: the row's start (timestamp) and its end (from seq on) */
	char head[128], tail[1024];
	size_t head_len, tail_len;
	struct text_cache comm, ifname;
	struct addr_cache addr[2]; /* local, remote */
	/* host names, sanitised: [0] the section's header, [i] the merged stream's HOST i */
	char **hosts;
	size_t *host_len;
	uint32_t nhosts;
};

#define HOSTS_MAX 4096

/* ---- cells ---- */

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_mem(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* Starts cell c: the separator, or the JSON key. */
static char *sep(const struct rows *w, char *p, enum col c)
{
	if (w->o.format == ROWS_JSONL)
		return put_mem(p, w->key[c], w->key_len[c]);
	if (c != C_TIMESTAMP)
		*p++ = ',';
	return p;
}

static char *cell_u64(const struct rows *w, char *p, enum col c, uint64_t v)
{
	return put_u64(sep(w, p, c), v);
}

/* A value that does not apply: an empty CSV field, a JSON null. */
static char *cell_null(const struct rows *w, char *p, enum col c)
{
	p = sep(w, p, c);
	if (w->o.format == ROWS_JSONL)
		p = put_mem(p, "null", 4);
	return p;
}

static char *cell_flag(const struct rows *w, char *p, enum col c, bool v)
{
	p = sep(w, p, c);
	if (w->o.format == ROWS_JSONL)
		return v ? put_mem(p, "true", 4) : put_mem(p, "false", 5);
	*p++ = v ? '1' : '0';
	return p;
}

/* Text made by us (protocol, address, state, time): never needs quoting or escaping. */
static char *cell_plain(const struct rows *w, char *p, enum col c, const char *s, size_t n)
{
	p = sep(w, p, c);
	if (w->o.format == ROWS_JSONL) {
		*p++ = '"';
		p = put_mem(p, s, n);
		*p++ = '"';
		return p;
	}
	return put_mem(p, s, n);
}

/* Cells a spreadsheet would evaluate as a formula start with one of these (OWASP's list). */
static bool formula_start(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

/* Sanitised text (valid UTF-8, no controls) that came from the kernel: quoted through libcsv when
 * it holds a comma, a quote or a space, or escaped as a JSON string. */
static char *cell_text(const struct rows *w, char *p, enum col c, const char *s, size_t n)
{
	p = sep(w, p, c);
	if (w->o.format == ROWS_JSONL) {
		*p++ = '"';
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = s[i];
			if (ch == '"' || ch == '\\') {
				*p++ = '\\';
				*p++ = ch;
			} else if (ch < 0x20) { /* not after the sanitiser; kept for safety */
				p += sprintf(p, "\\u%04x", ch);
			} else {
				*p++ = ch;
			}
		}
		*p++ = '"';
		return p;
	}

	bool formula = w->o.excel_safe && n && formula_start(s[0]);
	bool quote = formula;
	for (size_t i = 0; i < n && !quote; i++) {
		unsigned char ch = s[i];
		quote = ch == ',' || ch == '"' || ch == ' ' || ch < 0x20;
	}
	if (!quote)
		return put_mem(p, s, n);
	if (formula) {
		char tmp[SANITIZE_SIZE(HDR_STR_MAX) + 1];
		if (n + 1 > sizeof(tmp))
			n = sizeof(tmp) - 1;
		tmp[0] = '\'';
		memcpy(tmp + 1, s, n);
		return p + csv_write(p, 2 * sizeof(tmp) + 2, tmp, n + 1);
	}
	return p + csv_write(p, 2 * n + 2, s, n);
}

/* Rates with 2 decimals, as printf's "%.2f" rounds them (the exact binary value, to nearest);
 * the fast path is taken only where it cannot differ. Not a number: empty. */
static char *cell_rate(const struct rows *w, char *p, enum col c, double v)
{
	p = sep(w, p, c);
	if (!isfinite(v))
		return w->o.format == ROWS_JSONL ? put_mem(p, "null", 4) : p;
	if (v >= 0 && v < 1e9) {
		double x = v * 100, f = x - floor(x);
		if (fabs(f - 0.5) > 1e-3) {
			uint64_t cents = (uint64_t)x + (f > 0.5);
			p = put_u64(p, cents / 100);
			*p++ = '.';
			*p++ = '0' + cents % 100 / 10;
			*p++ = '0' + cents % 10;
			return p;
		}
	}
	/* up to 309 digits for the largest double: a row has room for two of them */
	char tmp[330];
	int n = snprintf(tmp, sizeof(tmp), "%.2f", v);
	return put_mem(p, tmp, n > 0 && (size_t)n < sizeof(tmp) ? (size_t)n : 0);
}

/* IPv4 (and IPv4-mapped IPv6) in the text inet_ntop gives, without its sprintf; IPv6 through
 * addr_format(), remembered while the same address comes again. */
static char *cell_addr(struct rows *w, char *p, enum col c, int family, const uint8_t *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct addr_cache *ac = &w->addr[c == C_REMOTE_ADDR];
	const uint8_t *v4 = NULL;

	if (family == FAMILY_INET)
		v4 = a;
	else if (family == FAMILY_INET6 && memcmp(a, mapped, 12) == 0)
		v4 = a + 12;
	if (v4) {
		p = sep(w, p, c);
		if (w->o.format == ROWS_JSONL)
			*p++ = '"';
		for (int i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p = put_u64(p, v4[i]);
		}
		if (w->o.format == ROWS_JSONL)
			*p++ = '"';
		return p;
	}
	if (!ac->valid || ac->family != family || memcmp(ac->addr, a, 16) != 0) {
		addr_format(family, a, ac->text, sizeof(ac->text));
		ac->len = strlen(ac->text);
		ac->family = family;
		memcpy(ac->addr, a, 16);
		ac->valid = true;
	}
	return cell_plain(w, p, c, ac->text, ac->len);
}

static const char *cached_text(struct text_cache *tc, const char *raw, size_t n, size_t *len)
{
	if (!tc->valid || memcmp(tc->raw, raw, n) != 0) {
		memcpy(tc->raw, raw, n);
		tc->len = text_sanitize(tc->text, sizeof(tc->text), raw, n);
		tc->valid = true;
	}
	*len = tc->len;
	return tc->text;
}

/* ---- the writer ---- */

struct rows *rows_new(int fd, const struct rows_opts *o)
{
	struct rows *w = calloc(1, sizeof(*w));

	if (!w || !(w->buf = malloc(BUF_SIZE))) {
		free(w);
		return NULL;
	}
	w->fd = fd;
	w->o = *o;
	for (int c = 0; c < C_COUNT; c++)
		w->key_len[c] = snprintf(w->key[c], sizeof(w->key[c]),
					 "%s\"%s\":", c == C_TIMESTAMP ? "{" : ",", col_names[c]);
	return w;
}

void rows_free(struct rows *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->nhosts; i++)
		free(w->hosts[i]);
	free(w->hosts);
	free(w->host_len);
	free(w->buf);
	free(w);
}

static const char *line_end(const struct rows *w, size_t *n)
{
	if (w->o.format == ROWS_JSONL) {
		*n = 2;
		return "}\n";
	}
	*n = w->o.crlf ? 2 : 1;
	return w->o.crlf ? "\r\n" : "\n";
}

void rows_header(struct rows *w)
{
	char *p = w->buf + w->len;
	const char *end;
	size_t n;

	if (w->o.format == ROWS_JSONL)
		return;
	for (int c = 0; c < C_COUNT; c++) {
		if (c)
			*p++ = ',';
		p = put_mem(p, col_names[c], strlen(col_names[c]));
	}
	end = line_end(w, &n);
	p = put_mem(p, end, n);
	w->len = p - w->buf;
}

void rows_snapshot(struct rows *w, const struct rec_snap_begin *b)
{
	char ts[RFC3339_LEN];
	char *p;

	time_format_rfc3339(b->time_ns, ts, sizeof(ts));
	p = cell_plain(w, w->head, C_TIMESTAMP, ts, strlen(ts));
	w->head_len = p - w->head;

	p = cell_u64(w, w->tail, C_SNAPSHOT_SEQ, b->seq);
	p = cell_flag(w, p, C_PARTIAL, b->flags & SNAP_F_PARTIAL);
	for (int i = 0; i < C_HOST - C_LOSS_FIRST; i++) {
		uint64_t v = 0;
		for (uint32_t j = 0; j < b->nloss && j < LOSS_MAX; j++)
			if (b->loss[j].code == loss_codes[i])
				v = b->loss[j].value;
		p = cell_u64(w, p, C_LOSS_FIRST + i, v);
	}
	w->tail_len = p - w->tail;
}

/* Host i's name (0: the section's, from its header). 0 or -ENOMEM. */
static int host_set(struct rows *w, uint32_t i, const char *raw)
{
	char tmp[SANITIZE_SIZE(HDR_STR_MAX)];
	size_t n;

	if (i >= HOSTS_MAX)
		return 0;
	if (i >= w->nhosts) {
		char **h = realloc(w->hosts, (i + 1) * sizeof(*h));
		size_t *l = h ? realloc(w->host_len, (i + 1) * sizeof(*l)) : NULL;

		if (h)
			w->hosts = h;
		if (!l)
			return -ENOMEM;
		w->host_len = l;
		for (uint32_t j = w->nhosts; j <= i; j++) {
			w->hosts[j] = NULL;
			w->host_len[j] = 0;
		}
		w->nhosts = i + 1;
	}
	n = text_sanitize(tmp, sizeof(tmp), raw, strnlen(raw, HDR_STR_MAX));
	free(w->hosts[i]);
	if (!(w->hosts[i] = strdup(tmp)))
		return -ENOMEM;
	w->host_len[i] = n;
	return 0;
}

int rows_section(struct rows *w, const struct stream_header *h)
{
	return host_set(w, 0, h->hostname);
}

int rows_host(struct rows *w, const struct rec_host *h)
{
	return h->index ? host_set(w, h->index, h->hostname) : 0;
}

int rows_add(struct rows *w, const struct rec_snap_row *r)
{
	const struct conn_id *id = &r->id;
	bool tcp = id->proto == PROTO_TCP;
	bool owner = !(r->flags & CONN_F_NO_OWNER);
	const char *s;
	size_t n;
	char *p;
	int e;

	if (w->len + ROW_MAX > BUF_SIZE && (e = rows_flush(w)))
		return e;
	p = put_mem(w->buf + w->len, w->head, w->head_len);

	if (tcp)
		p = cell_plain(w, p, C_PROTOCOL, "tcp", 3);
	else if (id->proto == PROTO_UDP)
		p = cell_plain(w, p, C_PROTOCOL, "udp", 3);
	else
		p = cell_u64(w, p, C_PROTOCOL, id->proto);
	p = cell_addr(w, p, C_LOCAL_ADDR, id->family, id->laddr);
	p = cell_u64(w, p, C_LOCAL_PORT, id->lport);
	p = cell_addr(w, p, C_REMOTE_ADDR, id->family, id->raddr);
	p = cell_u64(w, p, C_REMOTE_PORT, id->rport);
	if (owner) {
		p = cell_u64(w, p, C_PID, r->pid);
		s = cached_text(&w->comm, r->comm, COMM_LEN, &n);
		p = cell_text(w, p, C_PROCESS_NAME, s, n);
	} else {
		p = cell_null(w, p, C_PID);
		p = cell_null(w, p, C_PROCESS_NAME);
	}
	if (tcp) {
		s = tcp_state_name(r->state);
		p = cell_plain(w, p, C_STATE, s, strlen(s));
	} else {
		p = cell_null(w, p, C_STATE);
	}
	p = cell_u64(w, p, C_BYTES_IN, r->c.bytes_in);
	p = cell_u64(w, p, C_BYTES_OUT, r->c.bytes_out);
	p = cell_u64(w, p, C_PACKETS_IN, r->c.pkts_in);
	p = cell_u64(w, p, C_PACKETS_OUT, r->c.pkts_out);
	p = cell_rate(w, p, C_RATE_IN, r->rate_in);
	p = cell_rate(w, p, C_RATE_OUT, r->rate_out);
	if (tcp && r->c.srtt_us)
		p = cell_u64(w, p, C_RTT_US, r->c.srtt_us);
	else
		p = cell_null(w, p, C_RTT_US);

	if (tcp)
		p = cell_u64(w, p, C_RETRANSMITS, r->c.retrans);
	else
		p = cell_null(w, p, C_RETRANSMITS);
	s = cached_text(&w->ifname, r->ifname, IFNAME_LEN, &n);
	p = n ? cell_text(w, p, C_INTERFACE, s, n) : cell_null(w, p, C_INTERFACE);
	p = id->ifindex ? cell_u64(w, p, C_IFINDEX, id->ifindex) : cell_null(w, p, C_IFINDEX);
	p = cell_u64(w, p, C_NETNS, id->netns);
	p = cell_flag(w, p, C_CLOSED, r->flags & CONN_F_CLOSED);
	p = cell_flag(w, p, C_BEGUN_BEFORE, r->flags & CONN_F_BEGUN_BEFORE);
	p = cell_flag(w, p, C_NEW, r->flags & CONN_F_NEW);

	p = put_mem(p, w->tail, w->tail_len);
	if (r->host < w->nhosts && w->hosts[r->host])
		p = cell_text(w, p, C_HOST, w->hosts[r->host], w->host_len[r->host]);
	else if (w->nhosts && w->hosts[0])
		p = cell_text(w, p, C_HOST, w->hosts[0], w->host_len[0]);
	else
		p = cell_null(w, p, C_HOST);
	s = line_end(w, &n);
	p = put_mem(p, s, n);
	w->len = p - w->buf;
	w->count++;
	return 0;
}

int rows_flush(struct rows *w)
{
	const char *b = w->buf;
	size_t n = w->len;

	while (n) {
		ssize_t k = write(w->fd, b, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			w->len = 0;
			return -errno;
		}
		b += k;
		n -= k;
	}
	w->len = 0;
	return 0;
}

unsigned long long rows_count(const struct rows *w)
{
	return w->count;
}
