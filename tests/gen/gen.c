// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-gen: writes tcptop streams from a text script, or broken ones on purpose (tests only). */
#include <err.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "limit.h"
#include "script.h"
#include "stream.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tcptop-gen [-o FILE] [--truncate N] [--corrupt-trailer K] [--oversize K]\n"
		"                  [--misalign K] [--bad-magic] [SCRIPT]\n"
		"       tcptop-gen --bulk-raw CONNS,RECORDS [-o FILE]\n"
		"       tcptop-gen --bulk-snap ROWS,SNAPSHOTS [-o FILE]\n"
		"\n"
		"Writes a tcptop stream from a script (stdin or SCRIPT), for tests and fuzz seeds.\n"
		"One directive a line, '#' comments, key=value words, \"quoted\" values with\n"
		"\\xHH \\n \\t \\r \\\\ \\\" escapes; times in seconds (t=1.25):\n"
		"  header [kind=raw|snapshot] [real=EPOCH_S] [mono=S] [interval=S] [host=..]\n"
		"         [backend=..] [producer=..] [version=..] [boot=..] [kernel=..] [filter=..]\n"
		"         [missing=\"rtt retrans ...\"]\n"
		"         [major=N] [minor=N]\n"
		"  open t=S flow=N [cookie=N] [proto=tcp|udp] [src=ADDR:PORT] [dst=ADDR:PORT]\n"
		"       [netns=N] [if=N] [state=NAME|N] [pid=N] [comm=STR] [begun] [noowner]\n"
		"       [in=N] [out=N] [pin=N] [pout=N] [rtt=US] [retrans=N]   (IPv6: [::1]:443)\n"
		"       [cgroup=ID]\n"
		"       [FIGURES]                  (TCP figures: any of busy= rwnd= sndbuf= (ms)\n"
		"       rbytes= lost= cwnd= ssthresh=N|none reord= inflight= unsent= minrtt=\n"
		"       rttvar= (us) drate= (bytes/s) writes the block; the rest are 0)\n"
		"  sample t=S flow=N [in= out= pin= pout= rtt= retrans=] [FIGURES]\n"
		"  state t=S flow=N [old=NAME] new=NAME\n"
		"  owner t=S flow=N pid=N comm=STR [cgroup=ID]\n"
		"  cgroup id=N [host=N] path=STR      (a cgroup id's path, before its first use)\n"
		"  close t=S flow=N [state=NAME] [in= out= pin= pout= rtt= retrans=] [FIGURES]\n"
		"  tick t=S\n"
		"  ifname [netns=N] if=N name=STR\n"
		"  loss t=S [ringbuf=N] [flow_table_full=N] [flow_evicted=N] [walk_failed=N]...\n"
		"       (every name of loss_kinds[] in lib/stream.c)\n"
		"  end [t=S]\n"
		"  snap seq=N time=EPOCH_S [mono=S] [span=S] [interval=S] [partial] [hidden=N]\n"
		"       [LOSSNAME=N ...]           (rows and totals come from the rows that follow)\n"
		"  row <open's keys> [ifname=STR] [rate_in=X] [rate_out=X] [closed] [new] [failed]\n"
		"       [first=S] [last=S] [cgroup=N] [host=N] [FIGURES]\n"
		"       [limit=none|app|rwnd|sndbuf|cwnd|unknown|N] [limit_pct=N]\n"
		"  hostrec index=N [state=live|ended|lagging] [time=EPOCH_S] [name=STR] [boot=STR]\n"
		"       [LOSSNAME=N ...]           (inside snap: written before the rows)\n"
		"  snapend\n"
		"  delta ... [table=N] ... deltaend   (as snap ... snapend, in DELTA_* records: the\n"
		"                                 rows are those carried, table= the whole table's)\n"
		"  rawrec type=N hex=HEXBYTES       (any record body, e.g. an unknown type)\n"
		"A script without a header directive gets a default raw header; END is never added.\n"
		"\n"
		"Broken streams: --truncate N keeps the first N bytes; --corrupt-trailer K,\n"
		"--oversize K and --misalign K damage the K-th record (the header is record 0);\n"
		"--bad-magic damages the header's signature.\n");
}

/* ---- output buffer ---- */

static uint8_t *out;
static size_t out_len, out_cap;
static size_t *rec_off;
static size_t nrec, rec_cap;

/* Room for one more record of n bytes at the end of the output; remembers where it starts. */
static uint8_t *out_append(size_t n)
{
	if (out_len + n > out_cap) {
		out_cap = (out_cap + n) * 2;
		out = realloc(out, out_cap);
		if (!out)
			err(EX_OSERR, "realloc");
	}
	if (nrec == rec_cap) {
		rec_cap = rec_cap ? rec_cap * 2 : 64;
		rec_off = realloc(rec_off, rec_cap * sizeof(*rec_off));
		if (!rec_off)
			err(EX_OSERR, "realloc");
	}
	rec_off[nrec++] = out_len;
	out_len += n;
	return out + out_len - n;
}

static void emit(const struct rec *r)
{
	uint8_t tmp[STREAM_RECORD_MAX];
	size_t n = stream_encode(r, tmp);

	if (!n)
		errx(EX_SOFTWARE, "cannot encode record type %u", r->type);
	memcpy(out_append(n), tmp, n);
}

/* ---- script interpretation ---- */

static const char *path = "-";
static unsigned lineno;

__attribute__((noreturn, format(printf, 1, 2))) static void bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tcptop-gen: %s:%u: ", path, lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EX_DATAERR);
}

static const struct script_word *find(const struct script_line *sl, const char *key)
{
	for (int i = 0; i < sl->nwords; i++)
		if (strcmp(sl->w[i].key, key) == 0)
			return &sl->w[i];
	return NULL;
}

static bool flag(const struct script_line *sl, const char *key)
{
	return find(sl, key) != NULL;
}

static uint64_t num(const struct script_line *sl, const char *key, uint64_t def)
{
	const struct script_word *w = find(sl, key);
	const char *e;
	uint64_t v;

	if (!w)
		return def;
	if (!w->val || parse_uint(w->val, 0, UINT64_MAX, &v, &e))
		bad("%s: bad number", key);
	return v;
}

static double dbl(const struct script_line *sl, const char *key, double def)
{
	const struct script_word *w = find(sl, key);
	char *end;
	double v;

	if (!w)
		return def;
	if (!w->val)
		bad("%s: needs a value", key);
	v = strtod(w->val, &end);
	if (*end)
		bad("%s: bad number", key);
	return v;
}

static uint64_t tm(const struct script_line *sl, const char *key, uint64_t def)
{
	const struct script_word *w = find(sl, key);
	uint64_t v;

	if (!w)
		return def;
	if (!w->val || script_time(w->val, &v))
		bad("%s: bad time", key);
	return v;
}

static void str(const struct script_line *sl, const char *key, char *dst, size_t size)
{
	const struct script_word *w = find(sl, key);
	size_t n;

	if (!w || !w->val)
		return;
	n = w->vlen < size ? w->vlen : size;
	memset(dst, 0, size);
	memcpy(dst, w->val, n);
}

static void hstr(const struct script_line *sl, const char *key, char *dst)
{
	const struct script_word *w = find(sl, key);

	if (w && w->val)
		snprintf(dst, HDR_STR_MAX, "%s", w->val);
}

static void counters(const struct script_line *sl, struct conn_counters *c)
{
	c->bytes_in = num(sl, "in", 0);
	c->bytes_out = num(sl, "out", 0);
	c->pkts_in = num(sl, "pin", 0);
	c->pkts_out = num(sl, "pout", 0);
	c->srtt_us = num(sl, "rtt", 0);
	c->retrans = num(sl, "retrans", 0);
}

/* The TCP figures, when any of their keys is there. */
static uint8_t figures(const struct script_line *sl, struct tcp_figs *f)
{
	static const char *const keys[] = { "busy",   "rwnd",	  "sndbuf", "rbytes",	"lost",
					    "cwnd",   "ssthresh", "reord",  "inflight", "unsent",
					    "minrtt", "rttvar",	  "drate" };
	const struct script_word *w = find(sl, "ssthresh");
	bool any = false;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		any |= find(sl, keys[i]) != NULL;
	memset(f, 0, sizeof(*f));
	if (!any)
		return 0;
	f->busy_ms = num(sl, "busy", 0);
	f->rwnd_ms = num(sl, "rwnd", 0);
	f->sndbuf_ms = num(sl, "sndbuf", 0);
	f->retrans_bytes = num(sl, "rbytes", 0);
	f->lost = num(sl, "lost", 0);
	f->cwnd = num(sl, "cwnd", 0);
	f->ssthresh =
		w && w->val && !strcmp(w->val, "none") ? TCP_NO_SSTHRESH : num(sl, "ssthresh", 0);
	f->reordering = num(sl, "reord", 0);
	f->in_flight = num(sl, "inflight", 0);
	f->unsent = num(sl, "unsent", 0);
	f->min_rtt_us = num(sl, "minrtt", 0);
	f->rttvar_us = num(sl, "rttvar", 0);
	f->delivery_rate = (float)dbl(sl, "drate", 0);
	return 1;
}

/* limit=NAME or a number (a newer writer's verdict). */
static uint8_t limit_of(const struct script_line *sl)
{
	const struct script_word *w = find(sl, "limit");

	if (!w || !w->val)
		return 0;
	if (!strcmp(w->val, "none"))
		return LIMIT_NONE;
	if (!strcmp(w->val, "unknown"))
		return LIMIT_UNKNOWN;
	for (unsigned l = LIMIT_APP; l < LIMIT_N; l++)
		if (!strcmp(w->val, limit_name(l)))
			return l;
	return num(sl, "limit", 0);
}

static uint8_t state_of(const struct script_line *sl, const char *key, uint8_t def)
{
	const struct script_word *w = find(sl, key);
	uint8_t s;

	if (!w)
		return def;
	if (!w->val || script_state(w->val, &s))
		bad("%s: bad TCP state", key);
	return s;
}

static void conn_id(const struct script_line *sl, struct conn_id *id, uint8_t *proto_out)
{
	const struct script_word *w;
	uint8_t fam = FAMILY_INET;

	memset(id, 0, sizeof(*id));
	id->flow = num(sl, "flow", 0);
	id->cookie = num(sl, "cookie", id->flow);
	id->netns = num(sl, "netns", 4026531840u);
	id->ifindex = num(sl, "if", 1);
	w = find(sl, "proto");
	id->proto = PROTO_TCP;
	if (w && w->val && strcmp(w->val, "udp") == 0)
		id->proto = PROTO_UDP;
	else if (w && (!w->val || strcmp(w->val, "tcp") != 0))
		bad("proto: tcp or udp");
	if ((w = find(sl, "src")) &&
	    (!w->val || script_endpoint(w->val, &fam, id->laddr, &id->lport)))
		bad("src: ADDR:PORT");
	id->family = fam;
	if ((w = find(sl, "dst")) &&
	    (!w->val || script_endpoint(w->val, &fam, id->raddr, &id->rport)))
		bad("dst: ADDR:PORT");
	if (w)
		id->family = fam;
	*proto_out = id->proto;
}

static uint32_t losses(const struct script_line *sl, struct loss_entry *e)
{
	uint32_t n = 0;

	/* every code of lib/stream.h's table, by its name */
	for (size_t i = 0; i < loss_nkinds && n < LOSS_MAX; i++)
		if (find(sl, loss_kinds[i].name)) {
			e[n].code = loss_kinds[i].code;
			e[n].value = num(sl, loss_kinds[i].name, 0);
			n++;
		}
	return n;
}

static bool have_header;
static struct rec snap;	 /* pending SNAP_BEGIN */
static struct rec *rows; /* its rows */
static size_t nrows, rows_cap;
static struct rec hostrecs[64]; /* its HOST records */
static size_t nhostrecs;
static bool in_snap;
static bool in_delta;  /* the pending snapshot is a delta (DELTA_* records) */
static bool table_set; /* its table= was given */

static void default_header(struct stream_header *h, unsigned kind)
{
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->anchor_real = 1700000000LL * 1000000000LL;
	h->anchor_mono = 0;
	h->interval_ns = 1000000000;
	snprintf(h->producer, HDR_STR_MAX, "tcptop-gen");
	snprintf(h->version, HDR_STR_MAX, "%s", TCPTOP_VERSION);
	snprintf(h->hostname, HDR_STR_MAX, "testhost");
	snprintf(h->boot_id, HDR_STR_MAX, "00000000-0000-0000-0000-000000000000");
	snprintf(h->kernel, HDR_STR_MAX, "6.18.0-test");
	snprintf(h->backend, HDR_STR_MAX, "send=generated recv=generated");
}

static void directive(const struct script_line *sl)
{
	struct rec r;
	const char *v = sl->verb;
	uint8_t proto;

	memset(&r, 0, sizeof(r));
	if (strcmp(v, "header") == 0) {
		const struct script_word *w = find(sl, "kind");
		struct stream_header *h = &r.u.header;
		unsigned kind = STREAM_KIND_RAW;

		if (w && w->val && strcmp(w->val, "snapshot") == 0)
			kind = STREAM_KIND_SNAPSHOT;
		else if (w && (!w->val || strcmp(w->val, "raw") != 0))
			kind = num(sl, "kind", 0);
		default_header(h, kind);
		r.type = REC_HEADER;
		h->anchor_real = (int64_t)tm(sl, "real", (uint64_t)h->anchor_real);
		h->anchor_mono = tm(sl, "mono", 0);
		h->interval_ns = tm(sl, "interval", h->interval_ns);
		hstr(sl, "host", h->hostname);
		hstr(sl, "backend", h->backend);
		hstr(sl, "producer", h->producer);
		hstr(sl, "version", h->version);
		hstr(sl, "boot", h->boot_id);
		hstr(sl, "kernel", h->kernel);
		hstr(sl, "filter", h->filter);
		hstr(sl, "missing", h->missing);
		emit(&r);
		/* the encoder writes the current version: patch the fields in place */
		size_t o = rec_off[nrec - 1];
		uint16_t major = num(sl, "major", STREAM_MAJOR),
			 minor = num(sl, "minor", STREAM_MINOR);
		out[o + 20] = major, out[o + 21] = major >> 8;
		out[o + 22] = minor, out[o + 23] = minor >> 8;
		have_header = true;
		return;
	}
	if (!have_header) {
		default_header(&r.u.header, STREAM_KIND_RAW);
		r.type = REC_HEADER;
		emit(&r);
		have_header = true;
		memset(&r, 0, sizeof(r));
	}
	if (strcmp(v, "open") == 0 || strcmp(v, "row") == 0) {
		bool is_row = v[0] == 'r';
		struct conn_id id;
		struct conn_counters c;
		uint8_t flags = 0, state;
		char comm[COMM_LEN] = { 0 };

		conn_id(sl, &id, &proto);
		counters(sl, &c);
		state = state_of(sl, "state", proto == PROTO_TCP ? 1 : 0);
		str(sl, "comm", comm, COMM_LEN);
		if (flag(sl, "begun"))
			flags |= CONN_F_BEGUN_BEFORE;
		if (flag(sl, "noowner"))
			flags |= CONN_F_NO_OWNER;
		if (flag(sl, "closed"))
			flags |= CONN_F_CLOSED;
		if (flag(sl, "new"))
			flags |= CONN_F_NEW;
		if (flag(sl, "failed"))
			flags |= CONN_F_FAILED;
		if (!is_row) {
			r.type = REC_CONN_OPEN;
			r.u.open.ts = tm(sl, "t", 0);
			r.u.open.id = id;
			r.u.open.state = state;
			r.u.open.flags = flags;
			r.u.open.pid = num(sl, "pid", 0);
			memcpy(r.u.open.comm, comm, COMM_LEN);
			r.u.open.c = c;
			r.u.open.cgroup_id = num(sl, "cgroup", 0);
			r.u.open.has_figs = figures(sl, &r.u.open.figs);
			emit(&r);
			return;
		}
		if (!in_snap)
			bad("row outside snap ... snapend");
		if (nrows == rows_cap) {
			rows_cap = rows_cap ? 2 * rows_cap : 64;
			rows = realloc(rows, rows_cap * sizeof(*rows));
			if (!rows)
				err(EX_OSERR, "realloc");
		}
		struct rec *rr = &rows[nrows++];
		memset(rr, 0, sizeof(*rr));
		rr->type = in_delta ? REC_DELTA_ROW : REC_SNAP_ROW;
		rr->u.row.id = id;
		rr->u.row.state = state;
		rr->u.row.flags = flags;
		rr->u.row.pid = num(sl, "pid", 0);
		memcpy(rr->u.row.comm, comm, COMM_LEN);
		str(sl, "ifname", rr->u.row.ifname, IFNAME_LEN);
		rr->u.row.c = c;
		rr->u.row.rate_in = dbl(sl, "rate_in", 0);
		rr->u.row.rate_out = dbl(sl, "rate_out", 0);
		rr->u.row.first_ns = tm(sl, "first", 0);
		rr->u.row.last_ns = tm(sl, "last", 0);
		rr->u.row.cgroup_id = num(sl, "cgroup", 0);
		rr->u.row.host = num(sl, "host", 0);
		rr->u.row.has_figs = figures(sl, &rr->u.row.figs);
		rr->u.row.limit = limit_of(sl);
		rr->u.row.limit_pct = num(sl, "limit_pct", 0);
		return;
	}
	if (strcmp(v, "hostrec") == 0) {
		const struct script_word *w = find(sl, "state");
		struct rec_host *h;

		if (!in_snap)
			bad("hostrec outside snap ... snapend");
		if (nhostrecs == sizeof(hostrecs) / sizeof(hostrecs[0]))
			bad("too many hostrec in one snap");
		memset(&hostrecs[nhostrecs], 0, sizeof(hostrecs[0]));
		hostrecs[nhostrecs].type = in_delta ? REC_DELTA_HOST : REC_HOST;
		h = &hostrecs[nhostrecs++].u.host;
		h->index = num(sl, "index", 1);
		h->state = HOST_LIVE;
		if (w && w->val && strcmp(w->val, "ended") == 0)
			h->state = HOST_ENDED;
		else if (w && w->val && strcmp(w->val, "lagging") == 0)
			h->state = HOST_LAGGING;
		else if (w && (!w->val || strcmp(w->val, "live") != 0))
			h->state = num(sl, "state", 0);
		h->time_ns = (int64_t)tm(sl, "time", 0);
		str(sl, "name", h->hostname, HDR_STR_MAX);
		str(sl, "boot", h->boot_id, HOST_BOOT_LEN);
		h->nloss = losses(sl, h->loss);
		return;
	}
	if (strcmp(v, "sample") == 0) {
		r.type = REC_CONN_SAMPLE;
		r.u.sample.ts = tm(sl, "t", 0);
		r.u.sample.flow = num(sl, "flow", 0);
		counters(sl, &r.u.sample.c);
		r.u.sample.has_figs = figures(sl, &r.u.sample.figs);
	} else if (strcmp(v, "state") == 0) {
		r.type = REC_CONN_STATE;
		r.u.state.ts = tm(sl, "t", 0);
		r.u.state.flow = num(sl, "flow", 0);
		r.u.state.old_state = state_of(sl, "old", 0);
		r.u.state.new_state = state_of(sl, "new", 0);
	} else if (strcmp(v, "owner") == 0) {
		r.type = REC_CONN_OWNER;
		r.u.owner.ts = tm(sl, "t", 0);
		r.u.owner.flow = num(sl, "flow", 0);
		r.u.owner.pid = num(sl, "pid", 0);
		str(sl, "comm", r.u.owner.comm, COMM_LEN);
		r.u.owner.cgroup_id = num(sl, "cgroup", 0);
	} else if (strcmp(v, "cgroup") == 0) {
		const struct script_word *w = find(sl, "path");

		r.type = REC_CGROUP;
		r.u.cgroup.id = num(sl, "id", 0);
		r.u.cgroup.host = num(sl, "host", 0);
		if (w && w->val) {
			size_t n = w->vlen < CGROUP_PATH_MAX - 1 ? w->vlen : CGROUP_PATH_MAX - 1;
			memcpy(r.u.cgroup.path, w->val, n);
		}
	} else if (strcmp(v, "close") == 0) {
		r.type = REC_CONN_CLOSE;
		r.u.close.ts = tm(sl, "t", 0);
		r.u.close.flow = num(sl, "flow", 0);
		r.u.close.state = state_of(sl, "state", 7);
		counters(sl, &r.u.close.c);
		r.u.close.has_figs = figures(sl, &r.u.close.figs);
	} else if (strcmp(v, "tick") == 0) {
		r.type = REC_TICK;
		r.u.tick.ts = tm(sl, "t", 0);
	} else if (strcmp(v, "ifname") == 0) {
		r.type = REC_IFNAME;
		r.u.ifname.netns = num(sl, "netns", 4026531840u);
		r.u.ifname.ifindex = num(sl, "if", 1);
		str(sl, "name", r.u.ifname.name, IFNAME_LEN);
	} else if (strcmp(v, "loss") == 0) {
		r.type = REC_LOSS;
		r.u.loss.ts = tm(sl, "t", 0);
		r.u.loss.n = losses(sl, r.u.loss.e);
	} else if (strcmp(v, "end") == 0) {
		r.type = REC_END;
		r.u.end.ts = tm(sl, "t", 0);
	} else if (strcmp(v, "snap") == 0 || strcmp(v, "delta") == 0) {
		if (in_snap)
			bad("snap inside snap (missing snapend)");
		memset(&snap, 0, sizeof(snap));
		in_delta = v[0] == 'd';
		snap.type = in_delta ? REC_DELTA_BEGIN : REC_SNAP_BEGIN;
		struct rec_snap_begin *b = &snap.u.snap_begin;
		b->seq = num(sl, "seq", 1);
		b->time_ns = (int64_t)tm(sl, "time", 1700000001ULL * 1000000000ULL);
		b->mono_ns = tm(sl, "mono", 0);
		b->interval_ns = tm(sl, "interval", 1000000000);
		b->span_ns = tm(sl, "span", b->interval_ns);
		b->flags = flag(sl, "partial") ? SNAP_F_PARTIAL : 0;
		b->hidden = num(sl, "hidden", 0);
		table_set = find(sl, "table") != NULL;
		b->table_rows = num(sl, "table", 0);
		b->nloss = losses(sl, b->loss);
		for (uint32_t i = 0; i < b->nloss; i++)
			if (b->loss[i].value)
				b->flags |= SNAP_F_LOSS;
		in_snap = true;
		nrows = 0;
		nhostrecs = 0;
		return;
	} else if (strcmp(v, "snapend") == 0 || strcmp(v, "deltaend") == 0) {
		struct rec_snap_begin *b = &snap.u.snap_begin;

		if (!in_snap || in_delta != (v[0] == 'd'))
			bad("snapend without snap, or deltaend without delta");
		b->rows = nrows;
		if (!table_set && !in_delta)
			b->table_rows = nrows;
		for (size_t i = 0; i < nrows; i++) {
			const struct rec_snap_row *w = &rows[i].u.row;
			if (w->id.proto == PROTO_TCP)
				b->tcp_conns++;
			else
				b->udp_flows++;
			b->bytes_in += w->c.bytes_in;
			b->bytes_out += w->c.bytes_out;
			b->rate_in += w->rate_in;
			b->rate_out += w->rate_out;
		}
		emit(&snap);
		for (size_t i = 0; i < nhostrecs; i++)
			emit(&hostrecs[i]);
		for (size_t i = 0; i < nrows; i++)
			emit(&rows[i]);
		r.type = in_delta ? REC_DELTA_END : REC_SNAP_END;
		r.u.snap_end.seq = b->seq;
		in_snap = false;
	} else if (strcmp(v, "rawrec") == 0) {
		const struct script_word *w = find(sl, "hex");
		uint32_t type = num(sl, "type", 0x7777);
		size_t hl = w && w->val ? strlen(w->val) : 0, body = hl / 2;
		size_t total = (8 + body + 4 + 7) & ~(size_t)7;

		if (hl % 2)
			bad("hex: even number of digits");
		uint8_t *p = out_append(total);
		memset(p, 0, total);
		for (int i = 0; i < 4; i++) {
			p[i] = type >> (8 * i);
			p[4 + i] = total >> (8 * i);
			p[total - 4 + i] = total >> (8 * i);
		}
		for (size_t i = 0; i < body; i++) {
			unsigned x;
			if (sscanf(w->val + 2 * i, "%2x", &x) != 1)
				bad("hex: bad digit");
			p[8 + i] = x;
		}
		return;
	} else {
		bad("unknown directive '%s'", v);
	}
	emit(&r);
}

/* ---- bulk streams for benchmarks, written straight through a stream_writer ---- */

static void bulk(int fd, bool snapshot, uint64_t a, uint64_t b)
{
	struct stream_writer *w = stream_writer_new(fd);
	struct stream_header h;
	struct rec r;
	int e = 0;

	if (!w)
		err(EX_OSERR, "stream_writer_new");
	default_header(&h, snapshot ? STREAM_KIND_SNAPSHOT : STREAM_KIND_RAW);
	e |= stream_write_header(w, &h);
	memset(&r, 0, sizeof(r));
	if (!snapshot) {
		/* a CONNS live connections, then RECORDS samples round-robin, a tick per round */
		uint64_t t = 1000000000;
		for (uint64_t i = 0; i < a && !e; i++) {
			r.type = REC_CONN_OPEN;
			memset(&r.u.open, 0, sizeof(r.u.open));
			r.u.open.ts = t;
			r.u.open.id.flow = r.u.open.id.cookie = i + 1;
			r.u.open.id.netns = 4026531840u;
			r.u.open.id.ifindex = 1;
			r.u.open.id.proto = i % 4 ? PROTO_TCP : PROTO_UDP;
			r.u.open.id.family = FAMILY_INET;
			r.u.open.id.laddr[0] = 127, r.u.open.id.laddr[3] = 1;
			r.u.open.id.raddr[0] = 10, r.u.open.id.raddr[2] = i >> 8,
			r.u.open.id.raddr[3] = i;
			r.u.open.id.lport = 1024 + i % 60000;
			r.u.open.id.rport = 443;
			r.u.open.state = r.u.open.id.proto == PROTO_TCP ? 1 : 0;
			r.u.open.pid = 1000 + i % 500;
			snprintf(r.u.open.comm, COMM_LEN, "proc%llu",
				 (unsigned long long)(i % 500));
			e |= stream_write(w, &r);
		}
		for (uint64_t i = 0; i < b && !e; i++) {
			uint64_t k = a ? i % a : 0;
			if (k == 0 && i) {
				t += 1000000000;
				r.type = REC_TICK;
				r.u.tick.ts = t;
				e |= stream_write(w, &r);
			}
			r.type = REC_CONN_SAMPLE;
			memset(&r.u.sample, 0, sizeof(r.u.sample));
			r.u.sample.ts = t;
			r.u.sample.flow = k + 1;
			r.u.sample.c.bytes_in = (i / (a ? a : 1) + 1) * 1000 + k;
			r.u.sample.c.bytes_out = (i / (a ? a : 1) + 1) * 500;
			r.u.sample.c.pkts_in = i / (a ? a : 1) + 1;
			r.u.sample.c.pkts_out = i / (a ? a : 1) + 1;
			r.u.sample.c.srtt_us = 100 + k % 1000;
			e |= stream_write(w, &r);
		}
		r.type = REC_TICK;
		r.u.tick.ts = t + 1000000000;
		e |= stream_write(w, &r);
	} else {
		/* SNAPSHOTS snapshots of ROWS rows each */
		for (uint64_t s = 0; s < b && !e; s++) {
			memset(&r, 0, sizeof(r));
			r.type = REC_SNAP_BEGIN;
			r.u.snap_begin.seq = s + 1;
			r.u.snap_begin.time_ns = h.anchor_real + (int64_t)(s + 1) * 1000000000;
			r.u.snap_begin.mono_ns = (s + 1) * 1000000000;
			r.u.snap_begin.span_ns = r.u.snap_begin.interval_ns = 1000000000;
			r.u.snap_begin.rows = r.u.snap_begin.table_rows = a;
			r.u.snap_begin.tcp_conns = a;
			e |= stream_write(w, &r);
			for (uint64_t i = 0; i < a && !e; i++) {
				struct rec_snap_row *x = &r.u.row;
				memset(x, 0, sizeof(*x));
				r.type = REC_SNAP_ROW;
				x->id.flow = x->id.cookie = i + 1;
				x->id.netns = 4026531840u;
				x->id.ifindex = 1;
				x->id.proto = PROTO_TCP;
				x->id.family = FAMILY_INET;
				x->id.laddr[0] = 127, x->id.laddr[3] = 1;
				x->id.raddr[0] = 10, x->id.raddr[2] = i >> 8, x->id.raddr[3] = i;
				x->id.lport = 1024 + i % 60000;
				x->id.rport = 443;
				x->state = 1;
				x->pid = 1000 + i % 500;
				snprintf(x->comm, COMM_LEN, "proc%llu",
					 (unsigned long long)(i % 500));
				snprintf(x->ifname, IFNAME_LEN, "eth0");
				x->c.bytes_in = (s + 1) * 1000 + i;
				x->c.bytes_out = (s + 1) * 500;
				x->c.pkts_in = x->c.pkts_out = s + 1;
				x->c.srtt_us = 100 + i % 1000;
				x->rate_in = 1000.0 + (double)(i % 97) / 4;
				x->rate_out = 500;
				e |= stream_write(w, &r);
			}
			r.type = REC_SNAP_END;
			r.u.snap_end.seq = s + 1;
			e |= stream_write(w, &r);
		}
	}
	r.type = REC_END;
	r.u.end.ts = 0;
	e |= stream_write(w, &r);
	e |= stream_flush(w);
	if (e)
		errx(EX_IOERR, "write failed");
	stream_writer_free(w);
}

static void put32at(size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		out[off + i] = v >> (8 * i);
}

static size_t rec_index(const char *s, const char *opt)
{
	uint64_t v;
	const char *e;

	if (parse_uint(s, 0, 1u << 30, &v, &e))
		errx(EX_USAGE, "%s: %s", opt, e);
	return v;
}

int main(int argc, char **argv)
{
	enum {
		OPT_TRUNC = 256,
		O_TRAILER,
		O_OVERSIZE,
		O_MISALIGN,
		O_MAGIC,
		O_BRAW,
		O_BSNAP
	};
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "truncate", required_argument, NULL, OPT_TRUNC },
		{ "corrupt-trailer", required_argument, NULL, O_TRAILER },
		{ "oversize", required_argument, NULL, O_OVERSIZE },
		{ "misalign", required_argument, NULL, O_MISALIGN },
		{ "bad-magic", no_argument, NULL, O_MAGIC },
		{ "bulk-raw", required_argument, NULL, O_BRAW },
		{ "bulk-snap", required_argument, NULL, O_BSNAP },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long long truncate_at = -1, trailer = -1, oversize = -1, misalign = -1;
	bool bad_magic = false;
	const char *outpath = NULL, *bulkspec = NULL;
	bool bulk_snap = false;
	int c, fd = STDOUT_FILENO;
	FILE *in = stdin;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outpath = optarg;
			break;
		case OPT_TRUNC:
			truncate_at = rec_index(optarg, "--truncate");
			break;
		case O_TRAILER:
			trailer = rec_index(optarg, "--corrupt-trailer");
			break;
		case O_OVERSIZE:
			oversize = rec_index(optarg, "--oversize");
			break;
		case O_MISALIGN:
			misalign = rec_index(optarg, "--misalign");
			break;
		case O_MAGIC:
			bad_magic = true;
			break;
		case O_BRAW:
		case O_BSNAP:
			bulkspec = optarg;
			bulk_snap = c == O_BSNAP;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (outpath) {
		fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			err(EX_CANTCREAT, "%s", outpath);
	}
	if (bulkspec) {
		unsigned long long a, b;
		if (sscanf(bulkspec, "%llu,%llu", &a, &b) != 2)
			errx(EX_USAGE, "bulk: N,M");
		bulk(fd, bulk_snap, a, b);
		return 0;
	}
	if (optind < argc) {
		path = argv[optind];
		in = fopen(path, "r");
		if (!in)
			err(EX_NOINPUT, "%s", path);
	}

	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, in) > 0) {
		struct script_line sl;
		const char *e;
		int r;

		lineno++;
		r = script_split(line, &sl, &e);
		if (r < 0)
			bad("%s", e);
		if (r > 0)
			directive(&sl);
	}
	free(line);
	if (in_snap)
		bad("snap without snapend at end of script");

	if (trailer >= 0 && (size_t)trailer < nrec) {
		size_t o = rec_off[trailer];
		uint32_t len = out[o + 4] | out[o + 5] << 8 | out[o + 6] << 16 |
			       (uint32_t)out[o + 7] << 24;
		out[o + len - 4] ^= 0x08;
	}
	if (oversize >= 0 && (size_t)oversize < nrec)
		put32at(rec_off[oversize] + 4, 1u << 20);
	if (misalign >= 0 && (size_t)misalign < nrec) {
		size_t o = rec_off[misalign];
		uint32_t len = out[o + 4] | out[o + 5] << 8 | out[o + 6] << 16 |
			       (uint32_t)out[o + 7] << 24;
		put32at(o + 4, len - 4);
	}
	if (bad_magic && nrec)
		out[rec_off[0] + 14] ^= 0x80;
	size_t n = out_len;
	if (truncate_at >= 0 && (size_t)truncate_at < n)
		n = truncate_at;
	for (size_t done = 0; done < n;) {
		ssize_t w = write(fd, out + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			err(EX_IOERR, "write");
		}
		done += w;
	}
	return 0;
}
