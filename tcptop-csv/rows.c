// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-csv's row writer: one line per connection per snapshot, as CSV (quoted through libcsv)
 * or as JSON Lines, with the same column names. Cells are formatted straight into one output
 * buffer that is only written out on row boundaries, so a reader (or a kill -9) never sees half
 * a row. Per-snapshot cells (time, sequence, loss counters) are formatted once per snapshot.
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>

#include "changes.h"
#include "contract.h"
#include "dns.h"
#include "htab.h"
#include "limit.h"
#include "rows.h"
#include "util.h"
#include "vec.h"

#define BUF_SIZE (256 * 1024) /* a write(2) every 1,000 rows or so; at least four rows of ROW_MAX */
#define ROW_MAX	 16384 /* bound on one formatted row (a cgroup path quoted: 4 kB), with room */

/* The columns, in order. The first 16 are fixed (scripts rely on them); new columns go at the
 * end, never between; man/tcptop-csv.1 documents every one. The loss columns are loss_kinds[] of
 * lib/stream.h in its order: its first LOSS_COLS_FIRST where they were in 0.1, then after host
 * (C_MORE on) those up to LOSS_COLS_LIMIT, then limit and limit_pct, then each code added since,
 * then the TCP figures (--figures), then remote_host (--resolve): the optional columns last. */
#define LOSS_COLS_FIRST 6
#define LOSS_COLS_LIMIT 12 /* the loss codes there were when limit came */
#define COLS_MAX	96

/* The TCP figures' columns (--figures), in order. */
enum fig_col {
	F_BUSY,
	F_RWND,
	F_SNDBUF,
	F_CWND,
	F_SSTHRESH,
	F_IN_FLIGHT,
	F_UNSENT,
	F_REORDERING,
	F_DELIVERY,
	F_MIN_RTT,
	F_RTTVAR,
	F_RETRANS_BYTES,
	F_LOST,
	F_N
};

static const char *const fig_names[F_N] = {
	"busy_ms",	"rwnd_limited_ms", "sndbuf_limited_ms",
	"cwnd",		"ssthresh",	   "in_flight",
	"unsent_bytes", "reordering",	   "delivery_rate_bytes_sec",
	"min_rtt_us",	"rttvar_us",	   "retrans_bytes",
	"lost",
};

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
	/* appended after 0.1 */
	C_FAILED = C_LOSS_FIRST + LOSS_COLS_FIRST,
	C_CGROUP,
	C_CGROUP_PATH,
	C_CONNECTIONS,
	C_HOST,
	C_MORE, /* the other loss columns, then remote_host */
};

static const char *const fixed_names[C_MORE] = {
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
	[C_FAILED] = "failed",
	"cgroup",
	"cgroup_path",
	"connections",
	"host",
};

/* Where the columns after host are: the loss codes up to LOSS_COLS_LIMIT, limit and limit_pct,
 * the later codes, the figures (with --figures), remote_host (with --resolve), each the number
 * of its first column. */
struct col_map {
	int limit, more2, figs, remote_host, n;
};

static struct col_map col_map(bool figs, bool remote_host)
{
	size_t before = loss_nkinds < LOSS_COLS_LIMIT ? loss_nkinds : LOSS_COLS_LIMIT;
	struct col_map m;

	m.limit = C_MORE + (int)(before - LOSS_COLS_FIRST);
	m.more2 = m.limit + 2;
	m.figs = m.more2 + (int)(loss_nkinds - before);
	m.remote_host = m.figs + (figs ? F_N : 0);
	m.n = m.remote_host + (remote_host ? 1 : 0);
	return m;
}

/* Column c's name into buf (loss columns from loss_kinds[]); NULL past the last column. */
static const char *col_name(int c, bool figs, bool remote_host, char *buf, size_t size)
{
	struct col_map m = col_map(figs, remote_host);
	size_t loss;

	if (c >= C_LOSS_FIRST && c < C_FAILED) {
		loss = (size_t)(c - C_LOSS_FIRST);
	} else if (c < C_MORE) {
		return fixed_names[c];
	} else if (c < m.limit) {
		loss = LOSS_COLS_FIRST + (size_t)(c - C_MORE);
	} else if (c < m.more2) {
		return c == m.limit ? "limit" : "limit_pct";
	} else if (c < m.figs) {
		loss = LOSS_COLS_LIMIT + (size_t)(c - m.more2);
	} else if (c < m.remote_host) {
		return fig_names[c - m.figs];
	} else {
		return c < m.n ? "remote_host" : NULL;
	}
	snprintf(buf, size, "loss_%s", loss_kinds[loss].name);
	return buf;
}

void rows_help_columns(FILE *f)
{
	char buf[64], next[64];
	const char *n;
	size_t x = 0;

	for (int c = 0; (n = col_name(c, true, true, buf, sizeof(buf))); c++) {
		if (x + strlen(n) + 2 > 88) {
			fputc('\n', f);
			x = 0;
		}
		x += (size_t)fprintf(f, "%s%s", n,
				     col_name(c + 1, true, true, next, sizeof(next)) ? ", " : "\n");
	}
}

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

#define FLAG_CELLS_MASK (CONN_F_CLOSED | CONN_F_BEGUN_BEFORE | CONN_F_NEW)
_Static_assert(FLAG_CELLS_MASK == 7, "the flags of the cells closed, begun_before and new");

struct rows {
	int fd;
	struct rows_opts o;
	int ncols;	   /* with remote_host, the last */
	int c_remote_host; /* its number, with or without it */
	/* CSV, each row written as it comes: no group, --changes, remote_host nor own_row */
	bool csv_direct;
	struct col_map m;
	char *buf;
	size_t len;
	uint64_t written; /* bytes written out so far */
	uint64_t snap_at; /* output byte where the current snapshot's rows start */
	unsigned long long count;
	/* JSON Lines: ","name":" for each column ("{" and no comma for the first) */
	char key[COLS_MAX][40];
	size_t key_len[COLS_MAX];
	/* the current snapshot's cells: the row's start (timestamp), its middle (from seq on),
	 * the loss cells after host (up to LOSS_COLS_LIMIT, the others), and the line end */
	char head[128], tail[1024], more[1024], more2[1024], end[4];
	size_t head_len, tail_len, more_len, more2_len, end_len;
	/* a connection row's cells from seq to the last loss column before limit, as the last row
	 * had them: the same while failed (or its null), cgroup and host are (sfx_ok false: not
	 * known) */
	char sfx[512] __attribute__((aligned(16)));
	size_t sfx_len;
	bool sfx_ok;
	uint8_t sfx_failed;
	uint32_t sfx_host;
	uint64_t sfx_cgroup;
	/* a connection row's interface, ifindex and netns cells, as the last row had them */
	char where[128] __attribute__((aligned(16)));
	size_t where_len;
	bool where_ok;
	char where_if[IFNAME_LEN];
	uint32_t where_ifindex;
	uint64_t where_netns;
	/* TCP state names (tcp_state_name(), UNKNOWN from 15 on), each in 16 bytes, and their
	 * lengths */
	char state_name[16][16];
	uint8_t state_len[16];
	uint64_t rate_fast_bits; /* RATE_FAST's bits as a double (cell_rate()) */
	/* IPv4 octets' text in decimal and a dot ("7.", "255."), and its length */
	struct {
		char text[7];
		uint8_t len;
	} octet[256];
	/* CSV: the cells closed, begun_before and new (",c,b,n") of each value of a row's flags
	 * & FLAG_CELLS_MASK */
	char flag_cells[8][8];
	/* LIMIT verdicts' names (limit_name()) and their lengths */
	const char *limit_name[LIMIT_N];
	uint8_t limit_len[LIMIT_N];
	struct text_cache comm, ifname;
	struct addr_cache addr[2]; /* local, remote */
	/* host names, sanitised, and boot ids: [0] the section's header, [i] the merged stream's
	 * HOST i */
	struct host *hosts;
	size_t nhosts, hosts_cap;
	/* features the section's producer left out: the cgroup cells stay empty, LIMIT and the
	 * clocks, the other figures */
	bool no_cgroup, no_limit, no_figs;
	struct cgroup_table cg; /* (host, id) -> path: a merged stream's hosts may share an id */
	/* the cgroup cells of the last host and id, sanitised */
	uint64_t cg_id;
	uint32_t cg_host;
	bool cg_known;
	char cg_short[SANITIZE_SIZE(CGROUP_SHORT_MAX)];
	char cg_path[SANITIZE_SIZE(CGROUP_PATH_MAX)];
	size_t cg_short_len, cg_path_len;
	/* group modes: the snapshot's groups in order of first appearance, and by key */
	struct group *groups;
	size_t ngroups, groups_cap;
	struct htab gtab;
	struct changes *ch; /* --changes */
	/* remote_host: the snapshot's rows, held until its end */
	struct rec_snap_row *held;
	size_t nheld, held_cap;
};

struct host {
	char *name; /* NULL: none */
	size_t len;
	char boot_id[HOST_BOOT_LEN];
};

struct group {
	struct hnode hn;
	struct rec_snap_row sum; /* host, pid, comm, flags (no-owner), cgroup_id: the key; sums */
	uint64_t conns;
};

/* ---- cells ----
 *
 * Every cell function takes json, the format, as a constant: write_row() is made once per format
 * (always inlined into write_row_csv and write_row_jsonl, and write_row_csv_direct for the
 * usual rows), so that the CSV path carries no test of the format per cell. */

#define CELL static inline __attribute__((always_inline))

static const char digits2[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* The numbers below 1,000 with three digits and a byte of pad: a 3-digit one is one load and
 * one store of 4 bytes (its pad lands where the next byte of the output goes, or past it). */
#define D3(a, b, c)		  #a #b #c " "
#define D3_5(a, b, c, d, e, f, g) D3(a, b, c) D3(a, b, d) D3(a, b, e) D3(a, b, f) D3(a, b, g)
#define D3_10(a, b)		  D3_5(a, b, 0, 1, 2, 3, 4) D3_5(a, b, 5, 6, 7, 8, 9)
#define D3_50(a, b, c, d, e, f)	  D3_10(a, b) D3_10(a, c) D3_10(a, d) D3_10(a, e) D3_10(a, f)
#define D3_100(a)		  D3_50(a, 0, 1, 2, 3, 4) D3_50(a, 5, 6, 7, 8, 9)
static const char digits3[4001] = D3_100(0) D3_100(1) D3_100(2) D3_100(3) D3_100(4) D3_100(5)
	D3_100(6) D3_100(7) D3_100(8) D3_100(9);

/* Four digits of u (below 10,000), leading zeros kept: two pairs, each from the table. */
CELL char *put_4(char *p, uint32_t u)
{
	memcpy(p, digits2 + 2 * (u / 100), 2);
	memcpy(p + 2, digits2 + 2 * (u % 100), 2);
	return p + 4;
}

/* 1 to 4 digits of u (below 10,000), no leading zero. */
CELL char *put_upto4(char *p, uint32_t u)
{
	if (u < 10) {
		*p = (char)('0' + u);
		return p + 1;
	}
	if (u < 100) {
		memcpy(p, digits2 + 2 * u, 2);
		return p + 2;
	}
	if (u < 1000) {
		memcpy(p, digits3 + 4 * u, 4);
		return p + 3;
	}
	return put_4(p, u);
}

/* 1 to 8 digits of u (below 10^8): above 4, its two halves apart, so that the divisions (each a
 * multiplication) of one do not wait for the other's. */
CELL char *put_upto8(char *p, uint32_t u)
{
	if (u < 10000)
		return put_upto4(p, u);
	return put_4(put_upto4(p, u / 10000), u % 10000);
}

/* Decimal digits of v: by magnitude, eight digits at a time (each call site is inlined: its
 * branches follow its column's usual size). */
CELL char *put_u64(char *p, uint64_t v)
{
	if (v < 100000000)
		return put_upto8(p, (uint32_t)v);
	if (v < 10000000000000000ULL) {
		p = put_upto8(p, (uint32_t)(v / 100000000));
		v %= 100000000;
	} else {
		p = put_upto4(p, (uint32_t)(v / 10000000000000000ULL));
		v %= 10000000000000000ULL;
		p = put_4(put_4(p, (uint32_t)(v / 1000000000000ULL % 10000)),
			  (uint32_t)(v / 100000000 % 10000));
		v %= 100000000;
	}
	return put_4(put_4(p, (uint32_t)v / 10000), (uint32_t)v % 10000);
}

/* n bytes of s: short ones (most cells) by two overlapping loads and stores, not by the string
 * instructions or the library call a plain memcpy of a variable size becomes. */
CELL char *put_mem(char *p, const char *s, size_t n)
{
	if (n >= 8 && n <= 16) {
		memcpy(p, s, 8);
		memcpy(p + n - 8, s + n - 8, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(p, s, 4);
		memcpy(p + n - 4, s + n - 4, 4);
	} else if (n && n < 4) {
		p[0] = s[0];
		p[n / 2] = s[n / 2];
		p[n - 1] = s[n - 1];
	} else if (n) {
		memcpy(p, s, n);
	}
	return p + n;
}

/* n bytes of s, with s readable to the next multiple of 16 and for 64 bytes at least (an array
 * of struct rows): up to 32 in one copy of 32, up to 64 (the usual) in two, more 16 at a time;
 * the output buffer has room past a row. */
CELL char *put_blocks(char *p, const char *s, size_t n)
{
	memcpy(p, s, 32);
	if (n > 32) {
		memcpy(p + 32, s + 32, 32);
		for (size_t i = 64; i < n; i += 16)
			memcpy(p + i, s + i, 16);
	}
	return p + n;
}

/* n bytes of s, n at most 16, with s readable for 16 bytes: one copy of 16. */
CELL char *put_upto16(char *p, const char *s, size_t n)
{
	memcpy(p, s, 16);
	return p + n;
}

/* n bytes of s, n at most 32, with s readable for 32 bytes (one of struct rows' arrays): one copy
 * of 32 bytes without a call (the output buffer has ROW_MAX bytes of room past a row). */
CELL char *put_upto32(char *p, const char *s, size_t n)
{
	if (n > 32)
		return put_mem(p, s, n);
	memcpy(p, s, 32);
	return p + n;
}

/* Starts cell c: the separator, or the JSON key. */
CELL char *sep(const struct rows *w, bool json, char *p, int c)
{
	if (json)
		return put_mem(p, w->key[c], w->key_len[c]);
	if (c != C_TIMESTAMP)
		*p++ = ',';
	return p;
}

CELL char *cell_u64(const struct rows *w, bool json, char *p, int c, uint64_t v)
{
	return put_u64(sep(w, json, p, c), v);
}

/* A value that does not apply: an empty CSV field, a JSON null. */
CELL char *cell_null(const struct rows *w, bool json, char *p, int c)
{
	p = sep(w, json, p, c);
	if (json)
		p = put_mem(p, "null", 4);
	return p;
}

CELL char *cell_flag(const struct rows *w, bool json, char *p, int c, bool v)
{
	p = sep(w, json, p, c);
	if (json)
		return v ? put_mem(p, "true", 4) : put_mem(p, "false", 5);
	*p++ = v ? '1' : '0';
	return p;
}

/* Text made by us (protocol, address, state, time): never needs quoting or escaping. */
CELL char *cell_plain(const struct rows *w, bool json, char *p, int c, const char *s, size_t n)
{
	p = sep(w, json, p, c);
	if (json) {
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
static char *cell_text(const struct rows *w, bool json, char *p, int c, const char *s, size_t n)
{
	p = sep(w, json, p, c);
	if (json) {
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

	/* remote_host always: a PTR name is the peer's choice, and no host name starts so */
	bool formula = (w->o.excel_safe || c == w->c_remote_host) && n && formula_start(s[0]);
	bool quote = formula;
	for (size_t i = 0; i < n && !quote; i++) {
		unsigned char ch = s[i];
		quote = ch == ',' || ch == '"' || ch == ' ' || ch < 0x20;
	}
	if (!quote)
		return put_mem(p, s, n);
	if (formula) {
		char tmp[SANITIZE_SIZE(CGROUP_PATH_MAX) + 1];
		if (n + 1 > sizeof(tmp))
			n = sizeof(tmp) - 1;
		tmp[0] = '\'';
		memcpy(tmp + 1, s, n);
		return p + csv_write(p, 2 * sizeof(tmp) + 2, tmp, n + 1);
	}
	return p + csv_write(p, 2 * n + 2, s, n);
}

/* The length of a kernel string of at most n bytes (to its NUL) when it is its own sanitised form
 * and its own cell, neither quoted nor escaped: printable ASCII without a backslash (the
 * sanitiser's escape), a double quote, and in CSV a comma or a space; -1 when it is not. The
 * formula rule of --excel-safe is the caller's. This spares the sanitiser and libcsv on almost
 * every process and interface name. */
CELL int plain_len(bool json, const char *s, size_t n)
{
	size_t i = 0;

	for (; i < n && s[i]; i++) {
		unsigned char ch = s[i];

		if (ch < (json ? 0x20 : 0x21) || ch > 0x7e || ch == '\\' || ch == '"' ||
		    (!json && ch == ','))
			return -1;
	}
	return (int)i;
}

/* 16 bytes as one vector (GCC's and clang's vector extension: SSE2 on x86-64, plain words
 * elsewhere); a comparison gives each byte 0xff where it holds, 0 where not. */
typedef uint8_t bytes16 __attribute__((vector_size(16)));

/* plain_len() of the 16 bytes of a process or interface name, all at once: the first byte that
 * is a NUL or not plain (in either half's word, the lower bytes first) says which. */
CELL int plain_len16(bool json, const char *s)
{
	const uint8_t lo = json ? 0x20 : 0x21;
	bytes16 x, bad;
	uint64_t half[2];

	/* flagged: NUL and controls (CSV: space), 0x7f and above, a backslash, a double quote,
	 * and in CSV a comma */
	memcpy(&x, s, sizeof(x));
	bad = (bytes16)(x - lo > (uint8_t)(0x7e - lo)) | (bytes16)(x == '\\') | (bytes16)(x == '"');
	if (!json)
		bad |= (bytes16)(x == ',');
	memcpy(half, &bad, sizeof(half));
	for (int k = 0; k < 2; k++) {
		if (half[k]) {
			int at = 8 * k + __builtin_ctzll(le64toh(half[k])) / 8;

			return s[at] ? -1 : at;
		}
	}
	return 16;
}

/* Rates with 2 decimals, as printf's "%.2f" rounds them (the exact binary value, to nearest);
 * the fast path is taken only where it cannot differ. Not a number: empty. */
#define RATE_FAST 1e9 /* the fast path's bound: below it, 100 times a rate is exact in whole part */
CELL char *cell_rate(const struct rows *w, bool json, char *p, int c, double v)
{
	uint64_t bits;

	p = sep(w, json, p, c);
	memcpy(&bits, &v, sizeof(bits));
	if (!(bits << 1)) /* an idle connection's 0 (and -0, which the rounding below makes 0.00) */
		return put_mem(p, "0.00", 4);
	/* above 0, below RATE_FAST (not a NaN nor an infinity): a positive double's bits are in
	 * the order of its value, a negative one's sign bit makes them larger */
	if (bits < w->rate_fast_bits) {
		/* below 1e11 the whole part of x is exact, and x less it too */
		double x = v * 100;
		int64_t whole = (int64_t)x;
		double f = x - (double)whole;

		if (fabs(f - 0.5) > 1e-3) {
			uint64_t cents = (uint64_t)whole + (f > 0.5);
			uint32_t c2;

			if (cents < 100000000) { /* below a million: 32-bit divisions, cheaper */
				p = put_upto8(p, (uint32_t)cents / 100);
				c2 = (uint32_t)cents % 100;
			} else {
				p = put_u64(p, cents / 100);
				c2 = (uint32_t)(cents % 100);
			}
			*p++ = '.';
			memcpy(p, digits2 + 2 * c2, 2);
			return p + 2;
		}
	}
	if (!isfinite(v))
		return json ? put_mem(p, "null", 4) : p;
	/* up to 309 digits for the largest double: a row has room for two of them */
	char tmp[330];
	int n = snprintf(tmp, sizeof(tmp), "%.2f", v);
	return put_mem(p, tmp, n > 0 && (size_t)n < sizeof(tmp) ? (size_t)n : 0);
}

/* IPv4 in the text inet_ntop gives, without its sprintf: each octet's text and dot from the
 * table, in one store of 4 bytes; the last dot is past the end (the next cell's separator or
 * quote lands on it), with 4 bytes of room past the text. */
CELL char *put_octet(const struct rows *w, char *p, uint8_t o)
{
	memcpy(p, w->octet[o].text, 4);
	return p + w->octet[o].len;
}

CELL char *put_v4(const struct rows *w, char *p, const uint8_t *v4)
{
	/* not a loop: GCC -O2 leaves one of 4 rolled */
	p = put_octet(w, p, v4[0]);
	p = put_octet(w, p, v4[1]);
	p = put_octet(w, p, v4[2]);
	return put_octet(w, p, v4[3]) - 1;
}

/* An address, IPv4-mapped IPv6 as IPv4. The local one is remembered while it comes again (a
 * server's connections share a few); the remote one mostly differs from the last row's: IPv4
 * is written at once, IPv6 through addr_format() and remembered. */
CELL char *cell_addr(struct rows *w, bool json, char *p, int c, int family, const uint8_t *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct addr_cache *ac = &w->addr[c == C_REMOTE_ADDR];
	const uint8_t *v4 = NULL;

	if (family == FAMILY_INET)
		v4 = a;
	else if (family == FAMILY_INET6 && memcmp(a, mapped, 12) == 0)
		v4 = a + 12;
	if (v4 && c == C_REMOTE_ADDR) {
		p = sep(w, json, p, c);
		if (json)
			*p++ = '"';
		p = put_v4(w, p, v4);
		if (json)
			*p++ = '"';
		return p;
	}
	if (!ac->valid || ac->family != family || memcmp(ac->addr, a, 16) != 0) {
		if (v4) {
			ac->len = put_v4(w, ac->text, v4) - ac->text;
		} else {
			addr_format(family, a, ac->text, sizeof(ac->text));
			ac->len = strlen(ac->text);
		}
		ac->family = family;
		memcpy(ac->addr, a, 16);
		ac->valid = true;
	}
	return cell_plain(w, json, p, c, ac->text, ac->len);
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

/* A kernel string of n bytes (a process or interface name) as cell c: written as it is when it
 * is plain, else sanitised (remembered while the same bytes come again) and quoted or escaped.
 * An empty one is a null cell when empty_null. */
CELL char *cell_kernel_text(struct rows *w, bool json, char *p, int c, struct text_cache *tc,
			    const char *raw, size_t n, bool empty_null)
{
	int k = n == 16 ? plain_len16(json, raw) : plain_len(json, raw, n);
	const char *s;
	size_t len;

	if (k > 0 && !(w->o.excel_safe && formula_start(raw[0])))
		return cell_plain(w, json, p, c, raw, (size_t)k);
	if (k == 0)
		return empty_null ? cell_null(w, json, p, c) : cell_plain(w, json, p, c, "", 0);
	s = cached_text(tc, raw, n, &len);
	if (!len && empty_null)
		return cell_null(w, json, p, c);
	return cell_text(w, json, p, c, s, len);
}

/* ---- the writer ---- */

struct rows *rows_new(int fd, const struct rows_opts *o)
{
	struct rows *w = calloc(1, sizeof(*w));

	if (!w || !(w->buf = malloc(BUF_SIZE)) ||
	    (o->changes && !(w->ch = changes_new(o->figures)))) {
		if (w)
			free(w->buf);
		free(w);
		return NULL;
	}
	w->fd = fd;
	w->o = *o;
	w->m = col_map(o->figures, o->remote_host != NULL);
	w->csv_direct = o->format == ROWS_CSV && o->group == GROUP_NONE && !w->ch &&
			!o->remote_host && !o->own_row;
	w->c_remote_host = w->m.remote_host;
	for (unsigned i = 0; i < 16; i++) {
		w->state_len[i] = (uint8_t)snprintf(w->state_name[i], sizeof(w->state_name[i]),
						    "%s", tcp_state_name(i));
	}
	{
		double d = RATE_FAST;

		memcpy(&w->rate_fast_bits, &d, sizeof(d));
	}
	for (unsigned i = 0; i < 8; i++)
		snprintf(w->flag_cells[i], sizeof(w->flag_cells[i]), ",%d,%d,%d",
			 !!(i & CONN_F_CLOSED), !!(i & CONN_F_BEGUN_BEFORE), !!(i & CONN_F_NEW));
	for (unsigned i = 0; i < 256; i++)
		w->octet[i].len =
			(uint8_t)snprintf(w->octet[i].text, sizeof(w->octet[i].text), "%u.", i);
	for (unsigned i = 0; i < LIMIT_N; i++) {
		w->limit_name[i] = limit_name(i);
		w->limit_len[i] = (uint8_t)strlen(w->limit_name[i]);
	}
	for (int c = 0; c < COLS_MAX; c++) {
		char buf[40];
		const char *n = col_name(c, o->figures, o->remote_host != NULL, buf, sizeof(buf));

		if (!n)
			break;
		w->key_len[c] = snprintf(w->key[c], sizeof(w->key[c]),
					 "%s\"%s\":", c == C_TIMESTAMP ? "{" : ",", n);
		w->ncols = c + 1;
	}
	return w;
}

void rows_free(struct rows *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nhosts; i++)
		free(w->hosts[i].name);
	free(w->hosts);
	cgroup_table_free(&w->cg);
	free(w->groups);
	htab_free(&w->gtab);
	free(w->held);
	changes_free(w->ch);
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
	for (int c = 0; c < w->ncols; c++) {
		char buf[40];
		const char *n =
			col_name(c, w->o.figures, w->o.remote_host != NULL, buf, sizeof(buf));

		if (c)
			*p++ = ',';
		p = put_mem(p, n, strlen(n));
	}
	end = line_end(w, &n);
	p = put_mem(p, end, n);
	w->len = p - w->buf;
}

/* The snapshot's loss counter of loss_kinds[i] (0: not in it). */
static uint64_t loss_value(const struct rec_snap_begin *b, size_t i)
{
	for (uint32_t j = 0; j < b->nloss && j < LOSS_MAX; j++)
		if (b->loss[j].code == loss_kinds[i].code)
			return b->loss[j].value;
	return 0;
}

int rows_snapshot(struct rows *w, const struct rec_snap_begin *b, bool full)
{
	bool json = w->o.format == ROWS_JSONL;
	char ts[RFC3339_LEN];
	const char *end;
	char *p;

	w->snap_at = w->written + w->len;
	if (w->ch && changes_snapshot(w->ch, full))
		return -ENOMEM;
	time_format_rfc3339(b->time_ns, ts, sizeof(ts));
	p = cell_plain(w, json, w->head, C_TIMESTAMP, ts, strlen(ts));
	w->head_len = p - w->head;

	p = cell_u64(w, json, w->tail, C_SNAPSHOT_SEQ, b->seq);
	p = cell_flag(w, json, p, C_PARTIAL, b->flags & SNAP_F_PARTIAL);
	for (size_t i = 0; i < LOSS_COLS_FIRST; i++)
		p = cell_u64(w, json, p, C_LOSS_FIRST + (int)i, loss_value(b, i));
	w->tail_len = p - w->tail;
	p = w->more;
	for (size_t i = LOSS_COLS_FIRST; i < loss_nkinds && i < LOSS_COLS_LIMIT; i++)
		p = cell_u64(w, json, p, C_MORE + (int)(i - LOSS_COLS_FIRST), loss_value(b, i));
	w->more_len = p - w->more;
	p = w->more2;
	for (size_t i = LOSS_COLS_LIMIT; i < loss_nkinds; i++)
		p = cell_u64(w, json, p, w->m.more2 + (int)(i - LOSS_COLS_LIMIT), loss_value(b, i));
	w->more2_len = p - w->more2;
	end = line_end(w, &w->end_len);
	memcpy(w->end, end, w->end_len);
	w->sfx_ok = false;
	return 0;
}

void rows_section(struct rows *w, const struct stream_header *h)
{
	/* only the fields a missing feature leaves unknown; words this reader does not know (a
	 * newer collector's, or the old rtt, retrans... that none ever wrote) change no cell */
	unsigned unknown = features_unknown_fields(features_missing(h, NULL, 0));

	w->no_cgroup = unknown & FIELD_CGROUP;
	w->no_limit = unknown & FIELD_TCP_LIMIT;
	w->no_figs = unknown & FIELD_TCP_FIGS;
	cgroup_table_clear(&w->cg);
	w->cg_id = 0;
	if (w->ch)
		changes_section(w->ch);
	w->sfx_ok = false;
}

#define HOSTS_MAX 4096

/* Host i's name and boot id (0: the section's, from its header). 0 or -ENOMEM. */
static int host_set(struct rows *w, uint32_t i, const char *raw, const char *boot_id)
{
	char tmp[SANITIZE_SIZE(HDR_STR_MAX)];
	struct host *h;
	size_t n;

	if (i >= HOSTS_MAX)
		return 0;
	if (i >= w->nhosts) {
		if (VEC_RESERVE(&w->hosts, &w->hosts_cap, (size_t)i + 1))
			return -ENOMEM;
		memset(w->hosts + w->nhosts, 0, (i + 1 - w->nhosts) * sizeof(*w->hosts));
		w->nhosts = (size_t)i + 1;
	}
	h = &w->hosts[i];
	w->sfx_ok = false;
	n = text_sanitize(tmp, sizeof(tmp), raw, strnlen(raw, HDR_STR_MAX));
	free(h->name);
	if (!(h->name = strdup(tmp)))
		return -ENOMEM;
	h->len = n;
	snprintf(h->boot_id, sizeof(h->boot_id), "%.*s", (int)sizeof(h->boot_id) - 1, boot_id);
	return 0;
}

int rows_section_host(struct rows *w, const struct stream_header *h)
{
	return host_set(w, 0, h->hostname, h->boot_id);
}

int rows_host(struct rows *w, const struct rec_host *h)
{
	return h->index ? host_set(w, h->index, h->hostname, h->boot_id) : 0;
}

/* The host of a row: its HOST record's, else the section's (NULL: none). */
static const struct host *row_host(const struct rows *w, uint32_t i)
{
	if (i < w->nhosts && w->hosts[i].name)
		return &w->hosts[i];
	return w->nhosts && w->hosts[0].name ? &w->hosts[0] : NULL;
}

void rows_cgroup(struct rows *w, uint32_t host, uint64_t id, const char *path)
{
	cgroup_table_set_host(&w->cg, host, id, path);
	if (id == w->cg_id && host == w->cg_host)
		w->cg_id = 0; /* its cells change */
	w->sfx_ok = false;
}

/* The cgroup cells of host's id: the short form and the path, sanitised once per change. */
CELL char *cells_cgroup(struct rows *w, bool json, char *p, uint32_t host, uint64_t id)
{
	if (!id || w->no_cgroup)
		return cell_null(w, json, cell_null(w, json, p, C_CGROUP), C_CGROUP_PATH);
	if (id != w->cg_id || host != w->cg_host) {
		const struct cgroup_ent *c = cgroup_table_get_host(&w->cg, host, id);

		w->cg_id = id;
		w->cg_host = host;
		w->cg_known = c != NULL;
		if (c) {
			w->cg_short_len = text_sanitize(w->cg_short, sizeof(w->cg_short),
							c->short_name, strlen(c->short_name));
			w->cg_path_len = text_sanitize(w->cg_path, sizeof(w->cg_path), c->path,
						       strlen(c->path));
		}
	}
	if (!w->cg_known) {
		/* a path never reported: the id says which cgroup, at least */
		char tmp[24];
		int n = snprintf(tmp, sizeof(tmp), "#%llu", (unsigned long long)id);

		return cell_null(w, json, cell_plain(w, json, p, C_CGROUP, tmp, n), C_CGROUP_PATH);
	}
	p = cell_text(w, json, p, C_CGROUP, w->cg_short, w->cg_short_len);
	return cell_text(w, json, p, C_CGROUP_PATH, w->cg_path, w->cg_path_len);
}

/* A row's cells from snapshot_seq to the last loss column: the snapshot's, failed, cgroup,
 * connections (conns), host, then the loss columns appended after it. */
CELL char *cells_after(struct rows *w, bool json, char *p, const struct rec_snap_row *r, bool tcp,
		       uint64_t conns)
{
	const struct host *host = row_host(w, r->host);

	p = put_upto32(p, w->tail, w->tail_len);
	if (!tcp)
		p = cell_null(w, json, p, C_FAILED);
	else
		p = cell_flag(w, json, p, C_FAILED, r->flags & CONN_F_FAILED);
	if (w->o.group == GROUP_PROCESS)
		p = cell_null(w, json, cell_null(w, json, p, C_CGROUP), C_CGROUP_PATH);
	else
		p = cells_cgroup(w, json, p, r->host, r->cgroup_id);
	p = cell_u64(w, json, p, C_CONNECTIONS, conns);
	p = host ? cell_text(w, json, p, C_HOST, host->name, host->len)
		 : cell_null(w, json, p, C_HOST);
	return put_upto32(p, w->more, w->more_len);
}

/* limit and limit_pct: a TCP connection's verdict for the interval (a group's: its worst
 * connection's); "" and 0 for none, nothing where unknown or not TCP. */
CELL char *cells_limit(const struct rows *w, bool json, char *p, const struct rec_snap_row *r,
		       bool group)
{
	int c = w->m.limit;

	if ((!group && r->id.proto != PROTO_TCP) || !r->has_figs || w->no_limit ||
	    r->limit == LIMIT_UNKNOWN || r->limit >= LIMIT_N)
		return cell_null(w, json, cell_null(w, json, p, c), c + 1);
	p = cell_plain(w, json, p, c, w->limit_name[r->limit], w->limit_len[r->limit]);
	return cell_u64(w, json, p, c + 1, r->limit_pct);
}

/* The TCP figures of a connection (none for a group, UDP, or a row without them); the clocks
 * empty where the collector could not know them. */
static char *cells_figs(const struct rows *w, bool json, char *p, const struct rec_snap_row *r,
			bool tcp)
{
	const struct tcp_figs *f = &r->figs;
	uint64_t v[F_N];
	int c = w->m.figs;

	if (!tcp || !r->has_figs || w->no_figs) {
		for (int i = 0; i < F_N; i++)
			p = cell_null(w, json, p, c + i);
		return p;
	}
	v[F_BUSY] = f->busy_ms;
	v[F_RWND] = f->rwnd_ms;
	v[F_SNDBUF] = f->sndbuf_ms;
	v[F_CWND] = f->cwnd;
	v[F_SSTHRESH] = f->ssthresh;
	v[F_IN_FLIGHT] = f->in_flight;
	v[F_UNSENT] = f->unsent;
	v[F_REORDERING] = f->reordering;
	v[F_DELIVERY] = (uint64_t)f->delivery_rate;
	v[F_MIN_RTT] = f->min_rtt_us;
	v[F_RTTVAR] = f->rttvar_us;
	v[F_RETRANS_BYTES] = f->retrans_bytes;
	v[F_LOST] = f->lost;
	for (int i = 0; i < F_N; i++) {
		bool unknown = (i <= F_SNDBUF && w->no_limit) ||
			       (i == F_SSTHRESH && f->ssthresh == TCP_NO_SSTHRESH) ||
			       (i == F_MIN_RTT && f->min_rtt_us == UINT32_MAX);

		p = unknown ? cell_null(w, json, p, c + i) : cell_u64(w, json, p, c + i, v[i]);
	}
	return p;
}

/* One line: a connection (conns 0), or a group of conns connections whose identity cells are
 * empty but for its key (pid and name, or cgroup). direct, a constant as json is: a connection's
 * row with neither a group mode nor remote_host (csv_direct). */
CELL int write_row_fmt(struct rows *w, bool json, bool direct, const struct rec_snap_row *r,
		       uint64_t conns)
{
	const struct conn_id *id = &r->id;
	bool group = !direct && conns > 0;
	bool tcp = !group && id->proto == PROTO_TCP;
	bool owner = !(r->flags & CONN_F_NO_OWNER) && (direct || w->o.group != GROUP_CGROUP);
	char *p;
	int e;

	if (w->len + ROW_MAX > BUF_SIZE && (e = rows_flush(w)))
		return e;
	p = put_upto32(w->buf + w->len, w->head, w->head_len);

	if (group) {
		p = cell_null(w, json, p, C_PROTOCOL);
		p = cell_null(w, json, p, C_LOCAL_ADDR);
		p = cell_null(w, json, p, C_LOCAL_PORT);
		p = cell_null(w, json, p, C_REMOTE_ADDR);
		p = cell_null(w, json, p, C_REMOTE_PORT);
	} else {
		if (tcp)
			p = cell_plain(w, json, p, C_PROTOCOL, "tcp", 3);
		else if (id->proto == PROTO_UDP)
			p = cell_plain(w, json, p, C_PROTOCOL, "udp", 3);
		else
			p = cell_u64(w, json, p, C_PROTOCOL, id->proto);
		p = cell_addr(w, json, p, C_LOCAL_ADDR, id->family, id->laddr);
		p = cell_u64(w, json, p, C_LOCAL_PORT, id->lport);
		p = cell_addr(w, json, p, C_REMOTE_ADDR, id->family, id->raddr);
		p = cell_u64(w, json, p, C_REMOTE_PORT, id->rport);
	}
	if (owner) {
		p = cell_u64(w, json, p, C_PID, r->pid);
		p = cell_kernel_text(w, json, p, C_PROCESS_NAME, &w->comm, r->comm, COMM_LEN,
				     false);
	} else {
		p = cell_null(w, json, p, C_PID);
		p = cell_null(w, json, p, C_PROCESS_NAME);
	}
	if (tcp) {
		unsigned st = r->state < 16 ? r->state : 15;

		p = json ? cell_plain(w, json, p, C_STATE, w->state_name[st], w->state_len[st])
			 : put_upto16(sep(w, json, p, C_STATE), w->state_name[st],
				      w->state_len[st]);
	} else {
		p = cell_null(w, json, p, C_STATE);
	}
	p = cell_u64(w, json, p, C_BYTES_IN, r->c.bytes_in);
	p = cell_u64(w, json, p, C_BYTES_OUT, r->c.bytes_out);
	p = cell_u64(w, json, p, C_PACKETS_IN, r->c.pkts_in);
	p = cell_u64(w, json, p, C_PACKETS_OUT, r->c.pkts_out);
	p = cell_rate(w, json, p, C_RATE_IN, r->rate_in);
	p = cell_rate(w, json, p, C_RATE_OUT, r->rate_out);
	if (tcp && r->c.srtt_us)
		p = cell_u64(w, json, p, C_RTT_US, r->c.srtt_us);
	else
		p = cell_null(w, json, p, C_RTT_US);

	if (tcp)
		p = cell_u64(w, json, p, C_RETRANSMITS, r->c.retrans);
	else
		p = cell_null(w, json, p, C_RETRANSMITS);
	if (group) {
		p = cell_null(w, json, p, C_INTERFACE);
		p = cell_null(w, json, p, C_IFINDEX);
		p = cell_null(w, json, p, C_NETNS);
		p = cell_null(w, json, p, C_CLOSED);
		p = cell_null(w, json, p, C_BEGUN_BEFORE);
		p = cell_null(w, json, p, C_NEW);
	} else {
		if (w->where_ok && w->where_ifindex == id->ifindex && w->where_netns == id->netns &&
		    memcmp(w->where_if, r->ifname, IFNAME_LEN) == 0) {
			p = put_blocks(p, w->where, w->where_len);
		} else {
			char *q = p;

			p = cell_kernel_text(w, json, p, C_INTERFACE, &w->ifname, r->ifname,
					     IFNAME_LEN, true);
			p = id->ifindex ? cell_u64(w, json, p, C_IFINDEX, id->ifindex)
					: cell_null(w, json, p, C_IFINDEX);
			p = cell_u64(w, json, p, C_NETNS, id->netns);
			w->where_ok = (size_t)(p - q) <= sizeof(w->where) - 16;
			if (w->where_ok) {
				w->where_len = p - q;
				memcpy(w->where, q, w->where_len);
				memcpy(w->where_if, r->ifname, IFNAME_LEN);
				w->where_ifindex = id->ifindex;
				w->where_netns = id->netns;
			}
		}
		if (json) {
			p = cell_flag(w, json, p, C_CLOSED, r->flags & CONN_F_CLOSED);
			p = cell_flag(w, json, p, C_BEGUN_BEFORE, r->flags & CONN_F_BEGUN_BEFORE);
			p = cell_flag(w, json, p, C_NEW, r->flags & CONN_F_NEW);
		} else {
			/* the three flag cells in one store: ",c,b,n" */
			memcpy(p, w->flag_cells[r->flags & FLAG_CELLS_MASK], 8);
			p += 6;
		}
	}

	if (!direct && (group || w->o.group != GROUP_NONE)) {
		p = cells_after(w, json, p, r, tcp, group ? conns : 1);
	} else {
		uint8_t failed = tcp ? !!(r->flags & CONN_F_FAILED) : 2;

		if (w->sfx_ok && w->sfx_failed == failed && w->sfx_host == r->host &&
		    w->sfx_cgroup == r->cgroup_id) {
			p = put_blocks(p, w->sfx, w->sfx_len);
		} else {
			char *q = p;

			p = cells_after(w, json, p, r, tcp, 1);
			w->sfx_ok = (size_t)(p - q) <= sizeof(w->sfx) - 16;
			if (w->sfx_ok) {
				w->sfx_len = p - q;
				memcpy(w->sfx, q, w->sfx_len);
				w->sfx_failed = failed;
				w->sfx_host = r->host;
				w->sfx_cgroup = r->cgroup_id;
			}
		}
	}
	/* the columns appended since: limit, the later loss codes, the figures */
	p = cells_limit(w, json, p, r, group);
	p = put_mem(p, w->more2, w->more2_len);
	if (w->o.figures)
		p = cells_figs(w, json, p, r, tcp);
	if (!direct && w->o.remote_host) {
		char name[DNS_HOST_MAX];

		if (!group &&
		    w->o.remote_host(w->o.ctx, id->family, id->raddr, false, name, sizeof(name)))
			p = cell_text(w, json, p, w->c_remote_host, name, strlen(name));
		else
			p = cell_null(w, json, p, w->c_remote_host);
	}
	memcpy(p, w->end, sizeof(w->end));
	p += w->end_len;
	w->len = p - w->buf;
	w->count++;
	return 0;
}

static int write_row_csv(struct rows *w, const struct rec_snap_row *r, uint64_t conns)
{
	return write_row_fmt(w, false, false, r, conns);
}

static int write_row_jsonl(struct rows *w, const struct rec_snap_row *r, uint64_t conns)
{
	return write_row_fmt(w, true, false, r, conns);
}

/* csv_direct: a connection's row as it comes. */
static int write_row_csv_direct(struct rows *w, const struct rec_snap_row *r)
{
	return write_row_fmt(w, false, true, r, 0);
}

static int write_row(struct rows *w, const struct rec_snap_row *r, uint64_t conns)
{
	return w->o.format == ROWS_JSONL ? write_row_jsonl(w, r, conns)
					 : write_row_csv(w, r, conns);
}

/* A group is one host's: a merged stream's pids and cgroup ids are each kernel's own. */
static uint64_t group_hash(const struct rows *w, const struct rec_snap_row *r)
{
	uint64_t h;

	if (w->o.group == GROUP_CGROUP)
		h = hash_u64(r->cgroup_id);
	else if (r->flags & CONN_F_NO_OWNER)
		h = hash_u64(0);
	else
		h = hash_u64x2(r->pid + 1ULL, hash_bytes(r->comm, COMM_LEN));
	return hash_u64x2(h, r->host);
}

static bool group_same(const struct rows *w, const struct rec_snap_row *a,
		       const struct rec_snap_row *b)
{
	bool ao = !(a->flags & CONN_F_NO_OWNER), bo = !(b->flags & CONN_F_NO_OWNER);

	if (a->host != b->host)
		return false;
	if (w->o.group == GROUP_CGROUP)
		return a->cgroup_id == b->cgroup_id;
	if (ao != bo)
		return false;
	return !ao || (a->pid == b->pid && memcmp(a->comm, b->comm, COMM_LEN) == 0);
}

/* r's group, a new one at the end when it has none yet; NULL when out of memory. The groups
 * move when their array grows: the index is made again then. */
static struct group *group_of(struct rows *w, const struct rec_snap_row *r)
{
	uint64_t h = group_hash(w, r);
	size_t cap = w->groups_cap;
	struct hnode *n;
	struct group *g;

	htab_for_hash(&w->gtab, n, h)
	{
		g = container_of(n, struct group, hn);
		if (group_same(w, &g->sum, r))
			return g;
	}
	if (VEC_RESERVE(&w->groups, &w->groups_cap, w->ngroups + 1))
		return NULL;
	if (w->groups_cap != cap) {
		htab_clear(&w->gtab);
		for (size_t i = 0; i < w->ngroups; i++)
			htab_add(&w->gtab, &w->groups[i].hn, w->groups[i].hn.hash);
	}
	g = &w->groups[w->ngroups];
	memset(g, 0, sizeof(*g));
	if (htab_add(&w->gtab, &g->hn, h))
		return NULL;
	w->ngroups++;
	g->sum.pid = r->pid;
	memcpy(g->sum.comm, r->comm, COMM_LEN);
	g->sum.flags = r->flags & CONN_F_NO_OWNER;
	g->sum.cgroup_id = r->cgroup_id;
	g->sum.host = r->host;
	return g;
}

static int group_add(struct rows *w, const struct rec_snap_row *r)
{
	struct group *g = group_of(w, r);

	if (!g)
		return -ENOMEM;
	g->conns++;
	g->sum.c.bytes_in += r->c.bytes_in;
	g->sum.c.bytes_out += r->c.bytes_out;
	g->sum.c.pkts_in += r->c.pkts_in;
	g->sum.c.pkts_out += r->c.pkts_out;
	g->sum.c.retrans += r->c.retrans;
	g->sum.rate_in += r->rate_in;
	g->sum.rate_out += r->rate_out;
	/* LIMIT: the worst connection's */
	if (r->id.proto == PROTO_TCP && r->has_figs &&
	    (!g->sum.has_figs || limit_severity(r->limit, r->limit_pct) >
					 limit_severity(g->sum.limit, g->sum.limit_pct))) {
		g->sum.has_figs = 1;
		g->sum.limit = r->limit;
		g->sum.limit_pct = r->limit_pct;
	}
	return 0;
}

/* remote_host: the row waits for the snapshot's end, its name asked now. */
static int hold(struct rows *w, const struct rec_snap_row *r)
{
	char name[DNS_HOST_MAX];

	if (VEC_RESERVE(&w->held, &w->held_cap, w->nheld + 1))
		return -ENOMEM;
	w->held[w->nheld++] = *r;
	w->o.remote_host(w->o.ctx, r->id.family, r->id.raddr, true, name, sizeof(name));
	return 0;
}

/* rows_add() but for csv_direct (apart: its registers are not saved for the direct path). */
static __attribute__((noinline)) int add_row(struct rows *w, const struct rec_snap_row *r)
{
	if (w->o.own_row) {
		const struct host *h = row_host(w, r->host);

		if (w->o.own_row(w->o.ctx, r, h ? h->boot_id : NULL))
			return 0;
	}
	if (w->ch) {
		int k = changes_row(w->ch, r);

		if (k <= 0)
			return k;
	}
	if (w->o.group != GROUP_NONE)
		return group_add(w, r);
	if (w->o.remote_host)
		return hold(w, r);
	return write_row(w, r, 0);
}

int rows_add(struct rows *w, const struct rec_snap_row *r)
{
	return w->csv_direct ? write_row_csv_direct(w, r) : add_row(w, r);
}

int rows_delta(struct rows *w, struct snaptab *t)
{
	int e = 0;

	if (!w->ch) {
		for (size_t i = 0; i < snaptab_rows(t) && !e; i++)
			e = rows_add(w, snaptab_row(t, i));
		return e;
	}
	changes_table_seen(w->ch);
	if (snaptab_carried(t))
		return -ENOMEM;
	for (size_t i = 0; i < snaptab_ncarried(t) && !e; i++)
		e = rows_add(w, snaptab_carried_row(t, i));
	return e;
}

int rows_snapshot_end(struct rows *w)
{
	int e = 0;

	for (size_t i = 0; i < w->nheld && !e; i++)
		e = write_row(w, &w->held[i], 0);
	w->nheld = 0;

	for (size_t i = 0; i < w->ngroups && !e; i++)
		e = write_row(w, &w->groups[i].sum, w->groups[i].conns);
	w->ngroups = 0;
	htab_clear(&w->gtab);
	return e;
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
		w->written += k;
	}
	w->len = 0;
	return 0;
}

int rows_discard_snapshot(struct rows *w)
{
	struct stat sb;
	off_t at;

	w->nheld = 0;
	if (w->snap_at >= w->written) { /* all of it still here */
		w->len = w->snap_at - w->written;
		return 0;
	}
	/* where the snapshot starts in the file: the offset now, less what it wrote */
	w->len = 0;
	at = lseek(w->fd, 0, SEEK_CUR);
	if (at < 0 || fstat(w->fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return -1;
	at -= (off_t)(w->written - w->snap_at);
	if (at < 0 || ftruncate(w->fd, at) < 0 || lseek(w->fd, at, SEEK_SET) < 0)
		return -1;
	w->written = w->snap_at;
	return 0;
}

unsigned long long rows_count(const struct rows *w)
{
	return w->count;
}
