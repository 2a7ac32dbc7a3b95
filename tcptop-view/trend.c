// SPDX-License-Identifier: GPL-2.0-or-later
/* Rate history: one entry per connection that moved bytes in the last TREND_LEN snapshots, in a
 * growable array, found through lib/htab by its key, swept of stale entries every TREND_LEN
 * snapshots. An idle connection has no entry (its rates were all 0): memory follows the busy
 * connections of the last minute, not the table. Which ticks are known is the caller's (the
 * ticks its row was in the snapshots). A TCP connection whose figures changed has an entry too
 * (a stalled sender moves no byte, but its clocks run); its figures' series are allocated at
 * their first change. A connection that appears idle with figures is due such an entry, made
 * only when it first moves (its row keeps what the entry would hold till then: the figures are
 * its row's, unchanged, and the last tick it was active in is its quiet): 100,000 idle
 * connections opened cost no entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "trend.h"
#include "vec.h"

struct tent {
	struct hnode hn;
	struct conn_key k;
	uint64_t first, last; /* ticks: the first and last it moved bytes in */
	float r[TREND_LEN];   /* r[tick % TREND_LEN] */
	/* TCP figures: the last seen (has_figs), and from the first change on the series of
	 * TS_BUSY.. (f[(ts - 1) * TREND_LEN + tick % TREND_LEN], allocated then) */
	struct tcp_figs figs;
	uint32_t retrans, srtt_us;
	bool has_figs;
	float *f;
};

struct trends {
	struct tent *e; /* the entries; they move when the array grows or is swept */
	size_t n, cap;
	struct htab by_key;
	uint64_t swept; /* tick of the last sweep */
};

static uint64_t key_hash(const struct conn_key *k)
{
	return hash_u64x2(hash_u64x2(k->flow, k->cookie),
			  (uint64_t)k->netns << 32 | (uint64_t)k->lport << 16 | k->rport) ^
	       k->proto;
}

static struct tent *find(const struct trends *tr, const struct conn_key *k)
{
	struct hnode *n;

	htab_for_hash(&tr->by_key, n,
		      key_hash(k)) if (conn_key_eq(&container_of(n, struct tent, hn)->k,
						   k)) return container_of(n, struct tent, hn);
	return NULL;
}

/* The index again, after the entries moved. */
static void reindex(struct trends *tr)
{
	htab_clear(&tr->by_key);
	for (size_t i = 0; i < tr->n; i++)
		htab_add(&tr->by_key, &tr->e[i].hn, tr->e[i].hn.hash);
}

struct trends *trends_new(void)
{
	return calloc(1, sizeof(struct trends));
}

void trends_free(struct trends *tr)
{
	if (!tr)
		return;
	for (size_t i = 0; i < tr->n; i++)
		free(tr->e[i].f);
	free(tr->e);
	htab_free(&tr->by_key);
	free(tr);
}

/* Keeps the entries seen since tick - TREND_LEN. */
static void sweep(struct trends *tr, uint64_t tick)
{
	size_t n = 0;

	for (size_t i = 0; i < tr->n; i++)
		if (tr->e[i].last + TREND_LEN >= tick)
			tr->e[n++] = tr->e[i];
		else
			free(tr->e[i].f);
	tr->n = n;
	tr->swept = tick;
	VEC_SHRINK(&tr->e, &tr->cap, n);
	reindex(tr);
}

/* A connection's state at a snapshot, as the series TS_CWND.. hold it: vals[ts - 1]. */
static void state_values(const struct tcp_figs *f, uint32_t srtt_us, float *vals)
{
	vals[TS_CWND - 1] = (float)f->cwnd;
	vals[TS_DELIVERY - 1] = f->delivery_rate;
	vals[TS_RTT - 1] = (float)srtt_us;
	vals[TS_MINRTT - 1] = f->min_rtt_us == UINT32_MAX ? 0 : (float)f->min_rtt_us;
	vals[TS_INFLIGHT - 1] = (float)f->in_flight;
	vals[TS_UNSENT - 1] = (float)f->unsent;
}

/* The series' values at tick t when nothing moved: the clocks and counts 0, the state e's. */
static void still(struct tent *e, uint64_t t)
{
	float vals[TS_N - 1] = { 0 };

	state_values(&e->figs, e->srtt_us, vals);
	for (int ts = 0; ts < TS_N - 1; ts++)
		e->f[ts * TREND_LEN + t % TREND_LEN] = vals[ts];
}

/* What moved in the interval from e's last figures to f (span ms): the clocks as shares of it,
 * retransmissions and losses; then f's state. vals[ts - 1]. */
static void figs_values(const struct tent *e, const struct tcp_figs *f, const struct vfields *r,
			uint32_t span, float *vals)
{
	const struct tcp_figs *p = &e->figs;
	float pct = span ? 100.0f / (float)span : 0;

	vals[TS_BUSY - 1] = (float)(uint32_t)(f->busy_ms - p->busy_ms) * pct;
	vals[TS_RWND - 1] = (float)(uint32_t)(f->rwnd_ms - p->rwnd_ms) * pct;
	vals[TS_SNDBUF - 1] = (float)(uint32_t)(f->sndbuf_ms - p->sndbuf_ms) * pct;
	for (int i = TS_BUSY; i <= TS_SNDBUF; i++)
		if (vals[i - 1] > 100)
			vals[i - 1] = 100; /* a jiffy past the span, or a reading not of it */
	vals[TS_RETRANS - 1] = (float)(uint32_t)(r->c.retrans - e->retrans);
	vals[TS_LOST - 1] = (float)(uint32_t)(f->lost - p->lost);
	state_values(f, r->c.srtt_us, vals);
}

/* The figures f of row r at tick. The series begin at the first snapshot in which they moved;
 * the ticks before hold the state as it was then, and nothing moving. */
static int trend_figs(struct tent *e, const struct tcp_figs *f, const struct vfields *r,
		      uint64_t tick, uint32_t span)
{
	float vals[TS_N - 1];

	if (e->has_figs && !e->f &&
	    (memcmp(&e->figs, f, sizeof(*f)) || e->retrans != r->c.retrans ||
	     e->srtt_us != r->c.srtt_us)) {
		e->f = calloc((TS_N - 1) * TREND_LEN, sizeof(*e->f));
		if (!e->f)
			return -1;
		for (uint64_t t = tick > TREND_LEN ? tick - TREND_LEN : 0; t < tick; t++)
			if (t >= e->first)
				still(e, t);
	}
	if (e->f) {
		figs_values(e, f, r, span, vals);
		for (int ts = 0; ts < TS_N - 1; ts++)
			e->f[ts * TREND_LEN + tick % TREND_LEN] = vals[ts];
	}
	e->figs = *f;
	e->retrans = r->c.retrans;
	e->srtt_us = r->c.srtt_us;
	e->has_figs = true;
	return 0;
}

/* A new entry for row v of s: its figures in prev, when it was there with them, are what its first
 * interval is measured from (a connection idle until now, then stalled). */
static void seed(struct tent *e, const struct snapshot *prev, const struct snapshot *s,
		 const struct vrow *v)
{
	const struct tcp_figs *f = NULL;
	const struct vrow *p =
		prev && vrow_has_figs(v) ? snapshot_row_before(prev, s, v, &f) : NULL;

	if (!p || !f)
		return;
	e->figs = *f;
	e->retrans = p->r.c.retrans;
	e->srtt_us = p->r.c.srtt_us;
	e->has_figs = true;
}

/* Row v's entry not made yet (v->quiet) is still due: a sweep since its last tick would have
 * taken it. */
static bool entry_due(const struct trends *tr, const struct vrow *v)
{
	return v->quiet && tr->swept <= (uint64_t)v->since + v->quiet - 1 + TREND_LEN;
}

/* Row v of s, active at tick without an entry, did not move since prev (no rate, not closed,
 * its figures as the entry made when it appeared would hold them): the entry stays due, and v
 * remembers the tick. False when the entry must be made now. */
static bool still_due(const struct trends *tr, const struct snapshot *s,
		      const struct snapshot *prev, struct vrow *v, const struct tcp_figs *fg,
		      uint64_t tick)
{
	const struct tcp_figs *pf = NULL;
	const struct vrow *p;

	if (v->r.rate_in + v->r.rate_out > 0 || (v->r.flags & CONN_F_CLOSED))
		return false;
	if (v->since == tick) { /* appeared now */
		v->quiet = 1;
		return true;
	}
	if (!entry_due(tr, v) || tick - v->since >= UINT8_MAX || !prev)
		return false;
	p = snapshot_row_before(prev, s, v, &pf);
	if (!p || !pf || memcmp(pf, fg, sizeof(*fg)) || p->r.c.retrans != v->r.c.retrans ||
	    p->r.c.srtt_us != v->r.c.srtt_us)
		return false;
	v->quiet = (uint8_t)(1 + tick - v->since);
	return true;
}

int trends_add(struct trends *tr, struct snapshot *s, const struct snapshot *prev)
{
	uint32_t span = (uint32_t)((s->b.span_ns + 500000) / 1000000);
	uint64_t tick = s->tick;

	if (tick >= tr->swept + TREND_LEN)
		sweep(tr, tick);
	/* the rows that moved bytes, when the snapshot knows them (snapshot_thin), else all */
	size_t n = s->have_active ? s->nactive : s->n;

	for (size_t a = 0; a < n; a++) {
		struct vrow *v = &s->rows[s->have_active ? s->active[a] : a];
		double rate = v->r.rate_in + v->r.rate_out;
		/* figures that changed (active without a rate: snapshot_thin) */
		const struct tcp_figs *fg = vrow_has_figs(v) ? snapshot_figs(s, v) : NULL;
		struct conn_key k;
		struct tent *e;

		if (!(rate > 0) && !(fg && s->have_active))
			continue; /* 0 where it has no entry or a gap */
		k = vrow_key(v);
		e = find(tr, &k);

		if (!e) {
			size_t cap = tr->cap;

			if (fg && still_due(tr, s, prev, v, fg, tick))
				continue;
			if (VEC_RESERVE(&tr->e, &tr->cap, tr->n + 1))
				return -1;
			if (tr->cap != cap)
				reindex(tr);
			e = &tr->e[tr->n];
			memset(e, 0, sizeof(*e));
			e->k = k;
			e->first = tick;
			seed(e, prev, s, v);
			/* the entry due since it appeared, as it would be by now */
			if (e->has_figs && entry_due(tr, v)) {
				e->first = v->since;
				e->last = (uint64_t)v->since + v->quiet - 1;
			}
			v->quiet = 0;
			if (htab_add(&tr->by_key, &e->hn, key_hash(&k)))
				return -1;
			tr->n++;
		}
		if (e->last && e->last < tick) {
			/* snapshots it was not in: nothing moved */
			uint64_t gap = tick - e->last - 1;

			if (gap >= TREND_LEN)
				memset(e->r, 0, sizeof(e->r));
			else
				for (uint64_t t = e->last + 1; t < tick; t++)
					e->r[t % TREND_LEN] = 0;
			for (uint64_t t = tick - (gap < TREND_LEN ? gap : TREND_LEN);
			     e->f && t < tick; t++)
				still(e, t);
		}
		e->r[tick % TREND_LEN] = rate > 0 ? (float)rate : 0;
		e->last = tick;
		if (fg && trend_figs(e, fg, &v->r, tick, span))
			return -1;
	}
	return 0;
}

/* Whether the tick back before tick is known for a connection seen from since to until (entry
 * e, or NULL): not before it was seen or after it left, nor overwritten since (travelling
 * back). */
static bool tick_known(const struct tent *e, uint64_t tick, int back, uint64_t since,
		       uint64_t until)
{
	uint64_t t = tick - (uint64_t)back;

	return tick >= (uint64_t)back && t >= since && t <= until &&
	       !(e && t + TREND_LEN <= e->last);
}

int trends_get(const struct trends *tr, const struct conn_key *k, uint64_t tick, uint64_t since,
	       uint64_t until, int n, float *out)
{
	const struct tent *e;
	int known = 0;

	memset(out, 0, n * sizeof(*out));
	if (!tr || n <= 0)
		return 0;
	e = find(tr, k);
	for (int i = 0; i < n; i++) {
		uint64_t t = tick - (uint64_t)(n - 1 - i);

		if (!tick_known(e, tick, n - 1 - i, since, until))
			continue;
		if (e && t >= e->first && t <= e->last)
			out[i] = e->r[t % TREND_LEN];
		known++;
	}
	return known;
}

static const struct {
	const char *title;
	bool bytes;
} series[TS_N] = {
	[TS_RATE] = { "rate in+out", true },
	[TS_BUSY] = { "busy: % of each interval with data to send", false },
	[TS_RWND] = { "rwnd_limited: % of each interval held back by the peer's window", false },
	[TS_SNDBUF] = { "sndbuf_limited: % of each interval held back by the send buffer", false },
	[TS_CWND] = { "cwnd (segments)", false },
	[TS_DELIVERY] = { "delivery rate", true },
	[TS_RTT] = { "smoothed RTT (us)", false },
	[TS_MINRTT] = { "minimum RTT (us)", false },
	[TS_INFLIGHT] = { "in flight (segments)", false },
	[TS_UNSENT] = { "unsent", true },
	[TS_RETRANS] = { "retransmitted segments in each interval", false },
	[TS_LOST] = { "lost segments in each interval", false },
};

const char *trend_series_title(enum trend_series ts)
{
	return ts < TS_N ? series[ts].title : "?";
}

bool trend_series_bytes(enum trend_series ts)
{
	return ts < TS_N && series[ts].bytes;
}

int trends_get_series(const struct trends *tr, const struct conn_key *k, enum trend_series ts,
		      uint64_t tick, uint64_t since, uint64_t until, const struct tcp_figs *figs,
		      uint32_t srtt_us, int n, float *out)
{
	const struct tent *e;
	float state[TS_N - 1];
	int known = 0;

	if (ts == TS_RATE)
		return trends_get(tr, k, tick, since, until, n, out);
	memset(out, 0, n * sizeof(*out));
	if (!tr || n <= 0 || ts >= TS_N)
		return 0;
	e = find(tr, k);
	if (e && e->has_figs)
		state_values(&e->figs, e->srtt_us, state);
	else if (figs)
		state_values(figs, srtt_us, state);
	else
		return 0;
	for (int i = 0; i < n; i++) {
		uint64_t t = tick - (uint64_t)(n - 1 - i);

		if (!tick_known(e, tick, n - 1 - i, since, until))
			continue;
		if (e && e->f && t >= e->first && t <= e->last)
			out[i] = e->f[(ts - 1) * TREND_LEN + t % TREND_LEN];
		else if (ts >= TS_CWND && ts <= TS_UNSENT)
			out[i] =
				state[ts - 1]; /* never moved: the state as it has been all along */
		known++;
	}
	return known;
}

int trend_spark(const float *v, int n, bool utf8, char *buf, size_t size)
{
	static const char *const blocks[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					      "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[] = "._-=+*#@";
	float max = 0;
	size_t o = 0;

	for (int i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	for (int i = 0; i < n && o + 4 < size; i++) {
		int level = max > 0 && v[i] > 0 ? (int)(v[i] / max * 8 + 0.999f) : 0;

		if (level > 8)
			level = 8;
		if (!level)
			buf[o++] = ' ';
		else if (utf8)
			o += (size_t)snprintf(buf + o, size - o, "%s", blocks[level - 1]);
		else
			buf[o++] = ascii[level - 1];
	}
	buf[o] = '\0';
	return n;
}
