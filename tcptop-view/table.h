/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The view's data layer: snapshots, prepared rows, filtering, sorting and formatting into text
 * buffers. Nothing here touches curses, so the benchmark and the UI share it. */
#ifndef TCPTOP_VIEW_TABLE_H
#define TCPTOP_VIEW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "contract.h"
#include "stream.h"
#include "util.h"

/* "[addr]:port" for IPv6: ADDR_LEN plus brackets, colon and five digits. */
#define ENDPOINT_LEN (ADDR_LEN + 8)
#define COMM_TEXT    SANITIZE_SIZE(COMM_LEN)
#define IFNAME_TEXT  SANITIZE_SIZE(IFNAME_LEN)
#define CGROUP_TEXT  64 /* the short form, sanitised, cut on a character boundary */

/* Strings rows share (process names, cgroups, interfaces, hosts), sanitised once and kept for
 * the view's life: a row holds their numbers (0: ""). The reader thread adds them; the UI thread
 * reads those of the rows handed over to it (entries never move). At most STRS_MAX: past that a
 * new string reads "?" and is counted in dropped. */
#define STRS_MAX (1u << 22)
enum str_kind {
	STR_COMM,
	STR_CGROUP,
	STR_IFNAME,
	STR_HOST
};
struct strtab;
struct strtab *strtab_new(bool ascii_only);
void strtab_free(struct strtab *st);
/* The number of the string of kind whose raw bytes (hostile: sanitised here) are raw[0..len);
 * extra: kept raw beside it (a host's boot id), or NULL. 0 for an empty string. */
uint32_t strtab_add(struct strtab *st, enum str_kind kind, const char *raw, size_t len,
		    const char *extra);
const char *str_text(const struct strtab *st, uint32_t id);
uint16_t str_width(const struct strtab *st, uint32_t id);
const char *str_extra(const struct strtab *st, uint32_t id); /* "" when none */
uint64_t strtab_dropped(const struct strtab *st);
uint32_t strtab_count(const struct strtab *st); /* reader thread: strings so far */
/* Every string's rank in text order (equal texts, equal ranks), for strings 0..n-1: computed
 * again when strings were added since; NULL when out of memory. UI thread only. */
const uint32_t *strtab_ranks(struct strtab *st, uint32_t n);

/* Addresses rows share (a server's local ones, many remote ones), kept for the view's life as
 * strings are, in the strings' table: a row holds their numbers. At most ADDRS_MAX: past that
 * a row with a new one is not kept (counted as out of memory). Reader thread adds, UI thread
 * reads those of the rows handed over (entries never move). */
#define ADDRS_MAX (1u << 22)
/* The number of address a (16 bytes), UINT32_MAX when out of memory or ADDRS_MAX are kept. */
uint32_t strtab_addr_add(struct strtab *st, const uint8_t *a);
const uint8_t *str_addr(const struct strtab *st, uint32_t id);

/* TCP figures rows share (an idle connection's repeat those of many others), kept in the strings'
 * table, each distinct value once, named by a number below FIGS_LIMIT_ONLY (0: none). The reader
 * thread adds them and frees those the UI thread no longer holds; the UI thread reads those of
 * the rows handed over to it (entries never move while a row holds them). */
/* Reader thread: a snapshot begins; the figures it adds are marked with its number (returned),
 * and those the UI thread released are freed first, unless a snapshot after the ones the UI had
 * then uses them. */
uint32_t strtab_figs_begin(struct strtab *st);
/* Reader thread: the number of figures f, 0 when out of memory or FIGS_LIMIT_ONLY - 1 are kept. */
uint32_t strtab_figs_add(struct strtab *st, const struct tcp_figs *f);
/* Figures held: numbers below this (reader thread; recorded in each snapshot). */
uint32_t strtab_figs_high(const struct strtab *st);
/* Figures added so far, wrapping (reader thread; recorded in each snapshot). */
uint32_t strtab_figs_made(const struct strtab *st);
const struct tcp_figs *str_figs(const struct strtab *st, uint32_t id);
/* UI thread: of the numbers below n, those whose bit in held (n bits) is clear are no longer
 * used by any row it holds, nor by the snapshots it took up to the one numbered upto; the table
 * takes held (malloc'd; freed). */
void strtab_figs_release(struct strtab *st, uint64_t *held, uint32_t n, uint32_t upto);
/* Figures kept and the bytes they take. */
uint32_t strtab_figs_count(const struct strtab *st);
size_t strtab_figs_bytes(const struct strtab *st);

/* A connection's identity as a row keeps it: struct conn_id with its addresses as numbers, an
 * IPv4 address (its other 12 bytes 0) the 4 bytes themselves (inl), any other one interned
 * (strtab_addr_add), and its interface as the number of its name with its index (vrow_ifindex):
 * 40 bytes instead of 64. */
#define VID_L_V4  1u
#define VID_R_V4  2u
#define VID_GROUP 4u /* a group's row (struct table's groups): vrow_conns() */
struct vid {
	uint64_t flow, cookie;
	uint32_t netns;
	uint32_t ifname; /* strtab STR_IFNAME: the interface's name, extra: its index in decimal */
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint8_t proto, family;
	uint8_t inl; /* VID_L_V4, VID_R_V4: laddr, raddr are the IPv4 bytes themselves; VID_GROUP */
};

/* The stream's fields a row keeps: struct rec_snap_row without its strings and figures, plus its
 * process name's number. */
struct vfields {
	struct vid id;
	struct conn_counters c;
	double rate_in, rate_out; /* bytes/s over the interval */
	uint64_t first_ns, last_ns, cgroup_id;
	uint32_t pid, host;
	uint8_t state, flags;
	/* TCP with figures (vrow_has_figs): what held it back during the interval (enum limit,
	 * lib/limit.h) and that cause's share of it, percent */
	uint8_t limit, limit_pct;
	uint32_t comm; /* strtab number */
};

/* One connection as the view keeps it: no pointer, no string, no heap of its own; every byte up
 * to quiet is the row's value (zeroed padding), so two rows compare with memcmp. */
struct vrow {
	struct vfields r;
	uint32_t cgroup;   /* strtab: the short form, "" when unknown */
	uint32_t hostname; /* strtab: its host's name (merged streams; extra: its boot id), or 0 */
	/* TCP with figures: the number of its figures in the view's table of them (strtab_figs_add,
	 * 24 bits, little-endian: vrow_figs()), which equal figures share; 0 without figures,
	 * FIGS_LIMIT_ONLY with a LIMIT but no figures kept (out of memory, a group's row) */
	uint8_t figs[3];
	/* its trend entry not made yet (trend.c): 0 none, else 1 + the ticks from since to the
	 * last snapshot it was active in without moving */
	uint8_t quiet;
	union {
		uint32_t
			since; /* a connection's: the view's tick of the first snapshot it was in */
		uint32_t nconns; /* a group's (VID_GROUP): its connections */
	};
};
#define VROW_VALUE_BYTES offsetof(struct vrow, quiet)
/* Every byte is 0.2 MiB at 209,000 rows (issue 22): look twice before making it bigger. */
_Static_assert(sizeof(struct vrow) == 152, "struct vrow grew");

#define FIGS_LIMIT_ONLY 0xFFFFFFu

static inline uint32_t vrow_figs(const struct vrow *v)
{
	return v->figs[0] | (uint32_t)v->figs[1] << 8 | (uint32_t)v->figs[2] << 16;
}

static inline void vrow_set_figs(struct vrow *v, uint32_t id)
{
	v->figs[0] = (uint8_t)id;
	v->figs[1] = (uint8_t)(id >> 8);
	v->figs[2] = (uint8_t)(id >> 16);
}

/* A TCP row with figures: its LIMIT is known (the figures themselves may not be kept). */
static inline bool vrow_has_figs(const struct vrow *v)
{
	return vrow_figs(v) != 0;
}

/* A group's row: its connections; 0 for a connection's. */
static inline uint32_t vrow_conns(const struct vrow *v)
{
	return v->r.id.inl & VID_GROUP ? v->nconns : 0;
}

/* The widest values of a set of rows, for the layout. */
struct widest {
	int local, remote, comm, state, pid;
	double rate;
	uint64_t bytes, pkts, rtt;
	int limit; /* a TCP row with figures: the LIMIT column shows */
	int cgroup;
	int host;
};

/* A host of a merged stream (HOST record): its name (strtab, with its boot id), its state. */
struct vhost {
	uint32_t name;
	uint32_t state; /* enum host_state; 0: no such host */
};

/* A row's identity within a snapshot: rows are kept in this order. */
struct vkey {
	uint64_t flow, cookie;
	uint32_t host;
};

/* While a snapshot is read: the string of a (host, cgroup id) met in it. */
#define CGMEMO 256
struct cgmemo {
	uint64_t id;
	uint32_t host, str;
};

/* A CGROUP record read between two snapshots: the string rows of (host, id) show from now on. */
struct cgupd {
	uint64_t id;
	uint32_t host, str;
};

/* One complete snapshot (SNAP_BEGIN .. SNAP_END) with the header of its section. The view keeps
 * the newest and the one shown whole; the others of its history thin: rows NULL, and what makes
 * them again from the next one (the keys whose rows differ, and this one's rows of them). */
struct snapshot {
	struct stream_header hdr;
	struct rec_snap_begin b;
	struct strtab *st; /* the view's strings (not owned) */
	struct vrow *rows; /* in key order once finished; NULL when thin */
	size_t n, cap;	   /* n: its rows, thin or not */
	uint32_t fseq;	   /* its number among the snapshots read (strtab_figs_begin) */
	uint32_t fhigh; /* figures held when it was read: its rows' are below (strtab_figs_high) */
	uint32_t fmade; /* ... and figures added until then (strtab_figs_made) */
	struct vkey *dkeys;  /* thin: keys (in order) whose rows differ from the next snapshot's */
	struct vrow *drows;  /* ... this snapshot's rows of them (in order; a key may have none) */
	struct vrow *drnext; /* ... and the next one's, kept while travelling (NULL otherwise) */
	size_t ndkeys, ndrows, ndrnext;
	/* thin: bit k set, dkeys[k]'s row is the next one's with NEW still set (a connection
	 * new here, settled there, as the first walk's deltas carry every connection): no row
	 * is kept for it in drows (ndnew: 64-bit words) */
	uint64_t *dnew;
	size_t ndnew;
	/* thin: the rows of the next one that this one brought (since its tick) and dkeys does not
	 * list are this one's with NEW set (the first walk's connections, settled in the next one:
	 * no key kept for them) */
	bool dnew_implicit;
	uint32_t nbrought; /* rows it brought: its tick is their since */
	bool thin_ok;	   /* dkeys and drows are made (snapshot_thin) */
	/* made by snapshot_thin(prev, this) for the view's next steps, freed when this one is
	 * thinned in turn: the rows that matter beyond the table (a rate or closed), by index; the
	 * rows of prev unchanged here (prev's index -> this one's, UINT32_MAX: changed or gone),
	 * and this one's rows new or changed since prev (index, in order) */
	uint32_t *active, *from_prev, *fresh;
	size_t nactive, nfrom_prev, nfresh;
	bool have_active, have_map;
	uintptr_t prev_rows; /* prev's rows (an address only, to number them) */
	uint64_t prev_tick;
	uint64_t dropped; /* rows beyond the view's cap */
	/* the fields the features its producer left out leave unknown (FIELD_* of lib/contract.h,
	 * from the header's missing list): their cells show "?" */
	unsigned missing;
	struct widest all; /* over every row (snapshot_finish) */
	/* per row: its group by process, by cgroup (index), made when first grouped */
	uint32_t *grp[2];
	uint32_t ngrp[2];
	uint32_t nstr;	       /* strings its rows use: numbers below this */
	bool any_v6;	       /* some row is not IPv4 (addresses sort on three words) */
	uint64_t tick;	       /* the view's count of snapshots when this one was installed */
	struct cgmemo *cgmemo; /* until snapshot_finish(): CGMEMO slots, or NULL */
	/* while its rows are read: the string of the last row's interface (index and raw name),
	 * which most rows share (str 0: none yet) */
	struct {
		uint32_t ifindex, str;
		char name[IFNAME_LEN];
	} ifmemo;
	struct vhost *hosts; /* by HOST index - 1; the stream puts them before the rows */
	size_t nhosts;
	struct snapshot *next; /* the reader's queue */
	/* a delta (DELTA_BEGIN .. DELTA_END) as the reader hands it over: rows holds the rows it
	 * carries, b.table_rows the whole table's; snapshot_apply() makes it whole */
	bool delta;
	bool after_gap;	     /* the reader dropped the snapshot before it (the view fell behind) */
	struct cgupd *cgupd; /* CGROUP records read since the snapshot before */
	size_t ncgupd;
	/* the keys of its rows the next delta settles (rates, NEW or CLOSED), in key order, when
	 * settle_ok */
	struct vkey *settle;
	size_t nsettle;
	bool settle_ok;
};

struct snapshot *snapshot_new(const struct stream_header *hdr, const struct rec_snap_begin *b,
			      struct strtab *st);
void snapshot_free(struct snapshot *s);
/* Append a row, interning its strings (the cgroup's short form from cg, which may be NULL); -1
 * on allocation failure. */
int snapshot_add(struct snapshot *s, const struct rec_snap_row *r, const struct cgroup_table *cg);
/* A HOST record of a merged stream; -1 on allocation failure. */
int snapshot_add_host(struct snapshot *s, const struct rec_host *h);
/* After the last row: put rows in key order (flow, cookie, host), the tie-break of every sort,
 * and gather the widest values. */
void snapshot_finish(struct snapshot *s);
static inline struct vkey vrow_vkey(const struct vrow *v)
{
	struct vkey k = { .flow = v->r.id.flow, .cookie = v->r.id.cookie, .host = v->r.host };

	return k;
}

static inline int vkey_cmp(const struct vkey *a, const struct vkey *b)
{
	if (a->flow != b->flow)
		return a->flow < b->flow ? -1 : 1;
	if (a->cookie != b->cookie)
		return a->cookie < b->cookie ? -1 : 1;
	return a->host < b->host ? -1 : a->host > b->host;
}

/* The TCP figures of row v of s, NULL when it has none kept. */
const struct tcp_figs *snapshot_figs(const struct snapshot *s, const struct vrow *v);

/* The order of two rows' keys (vkey_cmp of their keys). */
static inline int vrow_key_cmp(const struct vrow *a, const struct vrow *b)
{
	if (a->r.id.flow != b->r.id.flow)
		return a->r.id.flow < b->r.id.flow ? -1 : 1;
	if (a->r.id.cookie != b->r.id.cookie)
		return a->r.id.cookie < b->r.id.cookie ? -1 : 1;
	return a->r.host < b->r.host ? -1 : a->r.host > b->r.host;
}
/* Thin prev (the snapshot before next, both whole): keep in it what makes it again from next;
 * rows of next that equal prev's take prev's since, the others next->tick. -1 when out of memory
 * (prev stays whole). */
int snapshot_thin(struct snapshot *prev, struct snapshot *next);
/* Apply delta d (d->delta; d->tick set) to prev, the newest snapshot (whole): d becomes the whole
 * snapshot, prev keeps what makes it again (as snapshot_thin(prev, d) leaves both), in time
 * proportional to the rows d carries and prev's rows to settle, not to the table. steal: d takes
 * prev's rows (nobody reads them again), else a copy. 0; -EPROTO: the table is not the one d
 * applies to (out of step: its table_rows differ); -ENOMEM (d's rows may be gone: only to be
 * freed). Either way prev is as it was. */
int snapshot_apply(struct snapshot *prev, struct snapshot *d, bool steal);
/* The keys of s's rows the next delta settles (s->settle); -1 when out of memory. */
int snapshot_settle_list(struct snapshot *s);
/* A row the next delta settles: it has rates, or is new or closed (tcptop-stream(5)). */
bool vrow_unsettled(const struct vrow *v);
/* prev's row of the key of next's row v, whole or thin (the next is whole), and its figures
 * (NULL when none); NULL when prev had no such row. */
const struct vrow *snapshot_row_before(const struct snapshot *prev, const struct snapshot *next,
				       const struct vrow *v, const struct tcp_figs **figs);
/* Add row v to the widest values w. */
void vrow_widen(const struct strtab *st, struct widest *w, const struct vrow *v);
/* Make s whole again from the next snapshot of the history (whole): -1 out of memory. */
int snapshot_thicken(struct snapshot *s, struct snapshot *next);
/* Make next whole again from s (whole, before it, its drnext kept): -1 out of memory. */
int snapshot_thicken_next(struct snapshot *s, struct snapshot *next);
/* Drop what snapshot_thin() made for the view's next steps (active, from_prev, fresh). */
void snapshot_drop_steps(struct snapshot *s);
/* Drop the rows of a whole snapshot that a thin one can make again. */
void snapshot_drop_rows(struct snapshot *s);
/* Bytes of what makes s again (keys and rows): what the history counts. */
size_t snapshot_delta_bytes(const struct snapshot *s);
/* The text of a row's endpoint as numbers ("10.0.0.1:443", "[::1]:53") into buf (ENDPOINT_LEN);
 * returns its length. */
size_t vrow_endpoint(const struct strtab *st, const struct vrow *v, bool local, char *buf,
		     size_t size);
/* The 16 bytes of a row's local or remote address (as struct conn_id has them) into a. */
void vrow_addr(const struct strtab *st, const struct vrow *v, bool local, uint8_t *a);
/* The index of a row's interface (0: unknown). */
uint32_t vrow_ifindex(const struct strtab *st, const struct vrow *v);
/* The row's identity as the stream has it. */
void vrow_conn_id(const struct strtab *st, const struct vrow *v, struct conn_id *id);
/* Shorthands for a row's strings */
const char *vrow_comm(const struct snapshot *s, const struct vrow *v);

enum column {
	COL_PROTO,
	COL_LOCAL,
	COL_REMOTE,
	COL_PID,
	COL_PROCESS,
	COL_STATE,
	COL_RX_RATE,
	COL_TX_RATE,
	COL_RX,
	COL_TX,
	COL_PKT_RX,
	COL_PKT_TX,
	COL_RTT,
	COL_LIMIT,  /* shown when some TCP row has figures */
	COL_CGROUP, /* shown when some row has a cgroup */
	COL_HOST,   /* shown for a merged stream of several hosts */
	NCOLS
};

enum group_mode {
	GROUP_NONE,
	GROUP_PROCESS, /* a row per process: pid and name */
	GROUP_CGROUP,  /* a row per cgroup */
	NGROUP_MODES
};

const char *column_title(enum column c);
/* The name used by --sort ("rx-rate"), or -1 from column_by_name for an unknown name. */
const char *column_name(enum column c);
int column_by_name(const char *name);
/* Numbers sort largest first, text smallest first, until reversed. */
bool column_descending(enum column c);

/* The rows shown: a filtered, sorted list of pointers into a snapshot. */
struct table {
	struct snapshot *snap;
	const struct vrow **v;
	size_t n, cap;
	enum column sort;
	bool reverse;	  /* opposite of the column's natural direction */
	char filter[256]; /* as typed; empty shows everything */
	void *keys;	  /* sort scratch, kept between frames */
	size_t keys_cap;
	enum group_mode group;
	struct vrow *groups; /* group rows of the last rebuild */
	size_t ngroups, groups_cap;
	uint8_t *depth; /* per entry of v: 1 for a connection under its expanded group */
	size_t depth_cap;
	uint64_t *expanded; /* keys of the groups shown open */
	size_t nexpanded, expanded_cap;
	void *gscratch; /* group building scratch */
	size_t gscratch_cap;
	/* the view's own DNS queries (dns_own_row() of lib/dns.h through own_row): left out,
	 * counted; own_row NULL: none */
	bool (*own_row)(void *ctx, const struct strtab *st, const struct vrow *v,
			const char *boot_id);
	void *own_ctx;
	size_t self_hidden;
	/* widest values of the rows shown, gathered while filtering, for the layout */
	struct widest widest;
	struct gsum *gsum; /* group sums scratch */
	size_t gsum_cap;
	/* the last rebuild, for the next one to sort only what changed: every row of the
	 * snapshot whose rows were at last_rows, sorted by last_sort, last_reverse */
	uintptr_t last_rows;
	uint64_t last_tick;
	enum column last_sort;
	bool last_reverse, last_whole;
	size_t resorted; /* rebuilds that sorted only what changed (the benchmark shows it) */
};

/* Rebuild t->v from t->snap: apply the filter and sort. -1 on allocation failure. */
int table_rebuild(struct table *t);
void table_sort(struct table *t);
/* Whether t->v is in the order the comparator defines (the benchmark checks the fast sort). */
bool table_sorted(const struct table *t);
void table_free(struct table *t);
bool vrow_matches(const struct strtab *st, const struct vrow *v, const char *filter);
/* The sort key of the LIMIT column: its worst first when descending, 0 without figures. */
uint64_t vrow_limit_key(const struct vrow *v);
/* The STATE cell: the TCP state, FAILED for a connection that never got established, "-" for
 * UDP. */
const char *vrow_state(const struct vrow *v);

/* The identity used to keep a selection on the same connection across snapshots. */
struct conn_key {
	uint64_t flow, cookie;
	uint32_t netns;
	uint16_t lport, rport;
	uint8_t proto;
};
struct conn_key vrow_key(const struct vrow *v);
/* A group's identity (for expanding it): the hash of its key, never 0. */
uint64_t group_key(const struct vrow *v, enum group_mode mode);
bool table_expanded(const struct table *t, uint64_t key);
void table_toggle(struct table *t, uint64_t key);
bool conn_key_eq(const struct conn_key *a, const struct conn_key *b);
/* Index in t->v of the row with key k, or -1. */
long table_find(const struct table *t, const struct conn_key *k);

/* Column layout for a terminal width: which columns show and how wide. */
struct layout {
	int width[NCOLS]; /* 0: hidden */
	int x[NCOLS];
	int trend; /* width of the trend at the end of a row, 0: none */
	int total;
};

/* trend: columns wanted for the trend at the end of each row (0 for none). */
void table_layout(const struct table *t, int cols, bool raw_units, int trend, struct layout *l);

/* Text of one cell (human or raw units) into buf; returns buf. missing: FIELD_* of the
 * snapshot. */
const char *cell_text(const struct strtab *st, const struct vrow *v, enum column c, bool raw_units,
		      unsigned missing, char *buf, size_t size);

/* One table line into buf (UTF-8, exactly l->total display columns, a leading marker column:
 * '-' closed, '+' new, ' ' otherwise). Returns the length in bytes. */
#define LINE_MAX_BYTES 4096
struct row_style {
	const struct strtab *st; /* the rows' strings */
	bool raw_units;
	unsigned missing;  /* FIELD_* */
	int depth;	   /* 1: a connection under its group, indented */
	bool open;	   /* a group row shown expanded */
	const char *trend; /* sparkline text for the trend field, or NULL */
	int trend_w;
	const char *local, *remote; /* names instead of the endpoints' numbers, or NULL */
};
size_t table_format_row(const struct vrow *v, const struct layout *l, const struct row_style *st,
			char *buf, size_t size);
size_t table_format_title(const struct layout *l, bool raw_units, char *buf, size_t size);

/* Units: "1.50 KiB", "999 B"; packets "12.3k"; RTT "1.25ms". */
void fmt_bytes(double v, char *buf, size_t size);
void fmt_count(uint64_t v, char *buf, size_t size);
void fmt_rtt(uint32_t us, char *buf, size_t size);

/* Copy at most width display columns of s into buf, eliding with "~" (ASCII) or an ellipsis
 * in the middle (mid) or at the end, and pad with spaces to width (left or right aligned).
 * Returns bytes written. */
size_t put_field(char *buf, size_t size, const char *s, size_t s_w, int width, bool right,
		 bool mid);
extern bool table_utf8;
/* Without a UTF-8 locale curses would show each byte of a multibyte character as a cell of its
 * own: every character beyond ASCII becomes '?', in place. */
void text_fold_ascii(char *s); /* the locale can show UTF-8: use an ellipsis, keep non-ASCII */

#endif /* TCPTOP_VIEW_TABLE_H */
