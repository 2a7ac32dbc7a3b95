// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One sample period of tcptop-collect: closes so far (the ring buffer), the polled connections
 * (other namespaces', our active ones), a slice of the walk of our TCP connections when one is
 * due or under way (every one reported on a full walk, which also finds closes the kernel
 * could not report), the UDP sockets that went away, the UDP flows, loss, tick. What the
 * kernel reports goes to the translation (xlate.c) in time order.
 *
 * A walk is read a chunk at a time until a quarter of the interval has passed, then goes on
 * the next period from where it stopped (its iterator stays open: the kernel keeps its place
 * and holds nothing between two reads), so that a million connections delay no period and
 * need no more memory than a hundred. What holds nothing costs no system call: the programs
 * count the polled connections and the UDP flows, and stamp each datagram's time.
 *
 * A read of the kernel that fails or is cut short is no news of what it did not report: the
 * pass is not whole, so it ends nothing; it is counted (LOSS_WALK_FAILED), said once, and the
 * next period reads again (a walk that failed, or that missed a connection once, is followed
 * by a full one).
 */
#include <err.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroups.h"
#include "engine.h"
#include "ring.h"
#include "vec.h"

#define NSEC		1000000000ULL
#define ENOTSUPP	524 /* the kernel's "operation not supported", as bpf() returns it */
#define WALK_BUDGET	200 /* the walk's CPU: 1/200 of a core, */
#define WALK_MIN_GAP	(10 * NSEC) /* a walk at most every 10 s (a quiet host), */
#define WALK_MAX_GAP	(60 * NSEC) /* and at least every minute, */
#define WALK_BUDGET_MAX 50	    /* unless that costs more than 1/50 of a core */
#define MAP_BATCH	1024
#define PREFETCH_AHEAD	16 /* records */
/* Records are read a chunk at a time: an iterator's read(2) returns up to the kernel's buffer
 * (8 pages), so a chunk takes four of them; the memory of a walk is this, whatever its size. */
#define ITER_BUF (32 * 1024)
#define CHUNK	 (4 * ITER_BUF)
/* The least slice of a period (an interval of 10 ms still walks 2.5 ms each period). */
#define SLICE_MIN (NSEC / 1000)
/* EAGAIN from an iterator: the kernel visited a million objects (MAX_ITER_OBJECTS) without a
 * byte to show and gave the CPU back; the walk goes on where it stopped. This many in a row
 * (10^9 objects) is a walk that does not end. */
#define ITER_AGAIN_MAX 1000

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* ---- reads that fail ---- */

static const char *const read_what[READ_N] = {
	[READ_WALK] = "the walk of the TCP connections (iter/tcp)",
	[READ_UDP_WALK] = "the walk of the UDP sockets (iter/udp)",
	[READ_OWNERS] = "the walk of the processes' sockets (iter/task_file)",
	[READ_REFRESH] = "the refresh of the polled connections",
	[READ_POLLED] = "reading the polled connections",
	[READ_UDP_FLOWS] = "reading the UDP flow table",
	[READ_LOSS] = "reading the kernel's loss counters",
	[READ_KPROBE] = "reading the kprobes' misses",
};

/* Counted, said once: it ends nothing, the next period reads again. */
static void read_failed(struct engine *g, enum engine_read what, int err)
{
	g->read_failed++;
	if (g->said & (1u << what))
		return;
	g->said |= 1u << what;
	warnx("%s failed: %s (nothing ended by it; read again each period, counted as "
	      "walk_failed; said once)",
	      read_what[what], strerror(err));
}

/* A read's result: 0 whole, > 0 the kernel's errno (counted here), < 0 the run's end. */
static int read_result(struct engine *g, enum engine_read what, int r)
{
	if (r > 0)
		read_failed(g, what, r);
	return r;
}

/* ---- writing ---- */

static int put_rec(void *ctx, const struct rec *r)
{
	struct engine *g = ctx;

	return stream_write(g->wr, r);
}

/* ---- the kernel, through the callbacks the translation uses ---- */

/* An entry removed from the UDP flow table: the programs' count of them, one less. */
static void udp_removed(struct engine *g)
{
	if (g->k.udp_nflows)
		__atomic_fetch_sub((uint32_t *)g->k.udp_nflows, 1, __ATOMIC_RELAXED);
}

static int udp_final(void *ctx, const struct tt_udp_key *k, struct tt_udp_val *v)
{
	struct engine *g = ctx;

	if (!bpf_map_lookup_and_delete_elem(g->k.udp_flows, k, v)) {
		udp_removed(g);
		return 0;
	}
	if (errno != EINVAL && errno != ENOTSUPP && errno != EOPNOTSUPP)
		return -ENOENT;
	/* before 5.14: read, then remove (a datagram in between is lost, counted nowhere) */
	if (bpf_map_lookup_elem(g->k.udp_flows, k, v))
		return -ENOENT;
	if (!bpf_map_delete_elem(g->k.udp_flows, k))
		udp_removed(g);
	return 0;
}

static void forget_owner(void *ctx, uint64_t sock)
{
	struct engine *g = ctx;

	if (!bpf_map_delete_elem(g->k.owners, &sock))
		g->forgotten++;
}

static int own_ifname(void *ctx, uint32_t ifindex, char name[IFNAME_LEN])
{
	char buf[IF_NAMESIZE];

	(void)ctx;
	if (!if_indextoname(ifindex, buf))
		return -1;
	snprintf(name, IFNAME_LEN, "%s", buf);
	return 0;
}

static int cgroup_path(void *ctx, uint64_t id, char *path, size_t size)
{
	struct engine *g = ctx;

	return cgroups_path(g->cgs, id, path, size);
}

/* ---- events in time order ---- */

static int evbuf_push(struct evbuf *b, const struct tt_event *e)
{
	if (VEC_RESERVE(&b->v, &b->cap, b->n + 1))
		return -ENOMEM;
	b->v[b->n++] = *e;
	return 0;
}

/* Ring buffer events go to the translation at once, or, while the kernel's reads of this
 * period wait, into a queue merged with them by time: a socket that closed during the pass
 * and whose memory a new socket took must close before the new one is met. */
int engine_ringbuf_event(void *ctx, void *data, size_t size)
{
	struct engine *g = ctx;

	if (size < sizeof(struct tt_event))
		return 0;
	if (!g->queueing)
		return xlate_event(g->xl, data);
	return evbuf_push(&g->queued, data);
}

static int consume(struct engine *g)
{
	int n = ring_consume(g->k.rb);

	if (n < 0)
		return n; /* only our callback fails: a write or memory */
	return xlate_error(g->xl);
}

int engine_events(struct engine *g)
{
	return consume(g);
}

/* Hands records read from the kernel (iterator records, polled entries: in time order) to
 * the translation, merged by time with the ring buffer's events, read after them. */
static int merge(struct engine *g, const struct tt_event *it, size_t n_it)
{
	size_t i = 0, j = 0;
	int e;

	g->queueing = true;
	g->queued.n = 0;
	e = consume(g);
	g->queueing = false;
	if (e)
		return e;
	while (i < n_it || j < g->queued.n) {
		/* a walk's records land anywhere in a big table: its memory fetched ahead */
		if (i + PREFETCH_AHEAD < n_it)
			xlate_prefetch(g->xl, &it[i + PREFETCH_AHEAD], false);
		if (i + PREFETCH_AHEAD / 2 < n_it)
			xlate_prefetch(g->xl, &it[i + PREFETCH_AHEAD / 2], true);
		if (j == g->queued.n || (i < n_it && it[i].ts <= g->queued.v[j].ts))
			e = xlate_event(g->xl, &it[i++]);
		else
			e = xlate_event(g->xl, &g->queued.v[j++]);
		if (e)
			return e;
	}
	return 0;
}

/* ---- iterators, read a chunk at a time ---- */

/* Reads it from where it stopped, a chunk of whole records (rec bytes each) at a time, each
 * handed to fn, until its end, the period's deadline (g->deadline, 0: none) or, for a paced
 * walk, the thread CPU time cpu_until (0: none): at least one chunk. Each read(2) returns the kernel's buffer (32 KiB) whole when the chunk has room for
 * it, so that nothing waits in the kernel between periods. Returns ITER_END (it->fd closed;
 * it->err says whether every read succeeded), ITER_MORE (open: the next period goes on), or
 * fn's error (< 0: the run's end). */
enum {
	ITER_MORE,
	ITER_END
};

static int iter_read(struct engine *g, struct iter_run *it, size_t rec, uint64_t cpu_until,
		     int (*fn)(struct engine *g, void *recs, size_t n))
{
	for (;;) {
		size_t len = it->len, whole;
		bool end = false;
		int e;

		while (len + ITER_BUF <= CHUNK) {
			ssize_t n = read(it->fd, g->chunk + len, CHUNK - len);

			if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
			    ++it->again < ITER_AGAIN_MAX)
				continue;
			if (n <= 0) {
				if (n < 0)
					it->err = errno;
				end = true;
				break;
			}
			it->again = 0;
			len += n;
		}
		whole = len / rec * rec;
		e = fn(g, g->chunk, whole / rec);
		it->len = len - whole;
		memmove(g->chunk, g->chunk + whole, it->len);
		if (e || end) {
			close(it->fd);
			it->fd = -1;
			it->len = 0;
			return e ? e : ITER_END;
		}
		if ((g->deadline && mono_ns() >= g->deadline) ||
		    (cpu_until && thread_cpu_ns() >= cpu_until))
			return ITER_MORE;
	}
}

/* An iterator begun: 0, or the errno of bpf_iter_create. */
static int iter_begin(struct iter_run *it, int link)
{
	*it = (struct iter_run){ .fd = bpf_iter_create(link) };
	if (it->fd < 0)
		return errno ? errno : EIO;
	return 0;
}

/* A whole run of an iterator (link), each record to fn: 0 whole, > 0 errno (what was read was
 * handed on), < 0 fn's error. */
static int iter_whole(struct engine *g, int link, size_t rec,
		      int (*fn)(struct engine *g, void *recs, size_t n))
{
	uint64_t deadline = g->deadline;
	struct iter_run it;
	int r = iter_begin(&it, link);

	if (r)
		return r;
	g->deadline = 0;
	r = iter_read(g, &it, rec, 0, fn);
	g->deadline = deadline;
	return r < 0 ? r : it.err;
}

static int merge_recs(struct engine *g, void *recs, size_t n)
{
	return merge(g, recs, n);
}

static int ignore_recs(struct engine *g, void *recs, size_t n)
{
	(void)g;
	(void)recs;
	(void)n;
	return 0;
}

/* Every entry of a hash map to fn, in batches where the kernel has them (5.6+). Returns 0
 * whole, > 0 errno (what was read was handed on), < 0 fn's error. */
static int map_each(struct engine *g, int fd, size_t ksz, size_t vsz,
		    int (*fn)(struct engine *g, const void *k, const void *v, uint64_t now),
		    uint64_t now)
{
	uint64_t token = 0;
	bool first = true;
	char k[64], nk[64], v[256];
	int e;

	if (vec_resize(&g->keys, &g->kcap, MAP_BATCH * ksz, 1) ||
	    vec_resize(&g->vals, &g->vcap, MAP_BATCH * vsz, 1))
		return -ENOMEM;
	for (;;) {
		__u32 count = MAP_BATCH;
		int r = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, g->keys, g->vals,
					     &count, NULL);
		int err = r ? errno : 0;

		if (r && err != ENOENT) {
			if (!first || (err != EINVAL && err != ENOTSUPP && err != EOPNOTSUPP))
				return err;
			break; /* no batches here: one by one */
		}
		for (__u32 i = 0; i < count; i++)
			if ((e = fn(g, g->keys + i * ksz, g->vals + i * vsz, now)))
				return e;
		if (r)
			return 0;
		first = false;
	}
	if (ksz > sizeof(k) || vsz > sizeof(v))
		return EINVAL;
	for (int r = bpf_map_get_next_key(fd, NULL, nk);; r = bpf_map_get_next_key(fd, k, nk)) {
		if (r)
			return errno == ENOENT ? 0 : errno;
		memcpy(k, nk, ksz);
		if (bpf_map_lookup_elem(fd, k, v)) {
			if (errno == ENOENT)
				continue; /* gone since */
			return errno;
		}
		if ((e = fn(g, k, v, now)))
			return e;
	}
}

static int on_udp_flow(struct engine *g, const void *k, const void *v, uint64_t now)
{
	return xlate_udp_flow(g->xl, k, v, now);
}

/* ---- the polled connections ---- */

/* A connect() between its SYN_SENT and its choice of a local port: next period. */
static bool polled_ready(const struct tt_event *e)
{
	return e->lport != 0;
}

/* Polled entries in time order to the translation, those not ready left out. */
static int merge_polled(struct engine *g, void *recs, size_t n)
{
	struct tt_event *e = recs;
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (polled_ready(&e[i]))
			e[m++] = e[i];
	return merge(g, e, m);
}

static int on_polled(struct engine *g, const void *k, const void *v, uint64_t now)
{
	const struct tt_polled *p = v;

	(void)now;
	if (p->e.sock != *(const uint64_t *)k || !polled_ready(&p->e))
		return 0;
	return evbuf_push(&g->polled, &p->e);
}

static int by_ts(const void *a, const void *b)
{
	const struct tt_event *x = a, *y = b;

	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

int kern_refresh(const struct kern *k)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);
	char buf[4096];
	int fd, again = 0;

	switch (k->poll) {
	case POLL_RUN:
		if (bpf_prog_test_run_opts(k->rf_polled, &t))
			return errno ? errno : EIO;
		/* rf__polled returns 1 when bpf_for_each_map_elem failed, 2 when polled_out
		 * could not take every entry (a map that grew while it ran) */
		return t.retval == 1 ? EIO : t.retval ? ENOBUFS : 0;
	case POLL_ITER:
		fd = bpf_iter_create(k->it_polled);
		if (fd < 0)
			return errno ? errno : EIO;
		for (;;) {
			/* the refresh is the walk; what it writes is not read here */
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
			    ++again < ITER_AGAIN_MAX)
				continue;
			if (n <= 0) {
				int e = n < 0 ? errno : 0;

				close(fd);
				return e;
			}
		}
	default:
		return 0;
	}
}

int kern_check(const struct kern *k)
{
	int link = k->it_tcp >= 0 ? k->it_tcp : k->it_udp, fd;

	if (link >= 0) {
		fd = bpf_iter_create(link);
		if (fd < 0)
			return errno ? errno : EIO;
		close(fd);
	}
	return kern_refresh(k);
}

/* What rf__polled copied into polled_out, the first n entries, a chunk at a time (each in time
 * order, and each after the one before): 0 whole, > 0 errno, < 0 the run's end. */
static int read_polled_out(struct engine *g, uint32_t n)
{
	size_t per = CHUNK / sizeof(struct tt_event);
	uint32_t at = 0, next = 0;
	int e;

	if (vec_resize(&g->keys, &g->kcap, per * sizeof(uint32_t), 1))
		return -ENOMEM;
	while (at < n) {
		__u32 count = n - at < per ? n - at : per;
		int r = bpf_map_lookup_batch(g->k.polled_out, at ? &next : NULL, &next, g->keys,
					     g->chunk, &count, NULL);

		if (r && errno != ENOENT)
			return errno;
		if (!count)
			return EIO; /* an array that ends before what rf__polled wrote */
		if ((e = merge_polled(g, g->chunk, count)))
			return e;
		at += count;
	}
	return 0;
}

/* The polled connections, refreshed in the kernel, read and merged in time order: 0 whole,
 * > 0 errno, < 0 the run's end. None polled (the count the programs keep): no system call. A
 * refresh that failed leaves the entries as they were: they are not read (nothing new). */
static int read_polled(struct engine *g, uint64_t now)
{
	int r, e;

	if (g->k.npolled && !*g->k.npolled && (!g->k.npolled_more || !*g->k.npolled_more))
		return 0;
	switch (g->k.poll) {
	case POLL_RUN:
		r = kern_refresh(&g->k);
		if (r && r != ENOBUFS)
			return read_result(g, READ_REFRESH, r);
		e = read_result(g, READ_POLLED, read_polled_out(g, *g->k.polled_read));
		return e ? e : read_result(g, READ_REFRESH, r);
	case POLL_ITER:
		return read_result(
			g, READ_REFRESH,
			iter_whole(g, g->k.it_polled, sizeof(struct tt_event), merge_polled));
	default:
		g->polled.n = 0;
		r = read_result(g, READ_POLLED,
				map_each(g, g->k.polled, sizeof(uint64_t), sizeof(struct tt_polled),
					 on_polled, now));
		if (r < 0)
			return r;
		qsort(g->polled.v, g->polled.n, sizeof(*g->polled.v), by_ts);
		return merge(g, g->polled.v, g->polled.n) ?: r;
	}
}

/* ---- the walk ---- */

/* With activation (active connections polled), as often as --full-walk says, by default as
 * often as keeps it under WALK_BUDGET of a core (measured on the walk before), at most every
 * WALK_MIN_GAP and at least every WALK_MAX_GAP, unless that costs more than WALK_BUDGET_MAX
 * of a core (a million connections); at once after the first walk (the next, paced, takes
 * about the gap), a lost event, a walk that failed, or one that missed a connection. Without
 * activation, each period where none is under way. */
static bool walk_due(const struct engine *g, uint64_t now)
{
	if (!g->k.active || !g->walk.last || g->kloss[TT_LOSS_RINGBUF] != g->walk.lost_seen ||
	    g->walk.force || g->walk.chain)
		return true;
	return now - g->walk.last + g->cfg.interval_ns / 2 >= g->walk.every;
}

/* After a walk that cost cost ns of CPU (the kernel's, the programs', ours), the next one.
 * Sockets that another BPF program gave socket storage cannot be activated (the tracepoints
 * test the socket's storage pointer): while there are any, every period walks. */
static void walk_plan(struct engine *g, uint64_t cost, uint32_t unmarkable)
{
	uint64_t prev = g->walk.every;

	if (unmarkable) {
		g->walk.every = 0;
		if (g->cfg.verbose && !g->walk.said_unmarkable)
			warnx("%u connections carry another BPF program's socket storage: their "
			      "activity cannot be seen between walks, so every period walks",
			      (unsigned)unmarkable);
		g->walk.said_unmarkable = true;
	} else if (g->cfg.full_walk_ns) {
		g->walk.every = g->cfg.full_walk_ns;
	} else {
		g->walk.every = cost * WALK_BUDGET;
		if (g->walk.every < WALK_MIN_GAP)
			g->walk.every = WALK_MIN_GAP;
		if (g->walk.every > WALK_MAX_GAP)
			g->walk.every = cost * WALK_BUDGET_MAX > WALK_MAX_GAP
						? cost * WALK_BUDGET_MAX
						: WALK_MAX_GAP;
	}
	/* the next, begun on time, spreads its CPU over the gap: this one's cost in as many parts
	 * as periods */
	g->walk.pace = g->walk.every > g->cfg.interval_ns
			       ? (uint64_t)((double)cost * g->cfg.interval_ns / g->walk.every)
			       : 0;
	/* said when the gap halves or doubles, not each time */
	if (!g->cfg.verbose || !g->k.active ||
	    (g->walk.every <= 2 * prev && 2 * g->walk.every >= prev))
		return;
	if (g->walk.chain && g->walk.pace)
		warnx("the walk of every connection took %.1f ms of CPU over %llu period%s: the "
		      "next now, paced at %.3g ms of CPU a period",
		      cost / 1e6, (unsigned long long)g->walk.periods,
		      g->walk.periods == 1 ? "" : "s", g->walk.pace / 1e6);
	else
		warnx("the walk of every connection took %.1f ms of CPU over %llu period%s: the "
		      "next in %.2f s",
		      cost / 1e6, (unsigned long long)g->walk.periods,
		      g->walk.periods == 1 ? "" : "s",
		      (g->walk.every > g->cfg.interval_ns ? g->walk.every : g->cfg.interval_ns) /
			      1e9);
}

/* A walk begins: its iterator made, the programs told what it reports. 0, or > 0 the errno
 * of an iterator not made (counted; a full walk is tried again the next period). */
static int walk_begin(struct engine *g, uint64_t now)
{
	uint64_t lost = g->kloss[TT_LOSS_RINGBUF];
	bool on_time = g->k.active && g->walk.last && lost == g->walk.lost_seen && !g->walk.force;
	bool full = g->k.active || !g->k.sk_storage || lost != g->walk.lost_seen || g->walk.force;
	struct xlate_stats st;
	int r;

	*g->k.full_pass = full;
	*g->k.unmarkable = 0;
	if (g->k.walk_owners) {
		uint64_t added = *g->k.owners_added;

		xlate_stats(g->xl, &st);
		*g->k.walk_owners =
			g->walk.owners_due || (st.unowned && added != g->walk.owners_seen);
		if (*g->k.walk_owners)
			g->walk.owners_seen = added;
	}
	r = read_result(g, READ_WALK, iter_begin(&g->walk.it, g->k.it_tcp));
	if (r) {
		g->walk.force = true;
		return r;
	}
	g->walk.began = now;
	g->walk.cpu = 0;
	g->walk.periods = 0;
	g->walk.lost = lost;
	g->walk.full = full;
	g->walk.paced = on_time && g->walk.pace;
	g->walk.chain = false;
	g->walk.polled_failed = false;
	xlate_tcp_walk_begin(g->xl, full);
	return 0;
}

/* The walk ran to its end: what it missed, and when the next. */
static int walk_end(struct engine *g)
{
	bool whole = !g->walk.it.err && !g->walk.polled_failed;
	struct xlate_stats st;
	int r;

	if (g->walk.it.err)
		read_failed(g, READ_WALK, g->walk.it.err);
	r = xlate_tcp_walk_end(g->xl, mono_ns(), whole);
	if (r)
		return r;
	/* the first walk is followed at once by the next, paced: its cost is the same each second
	 * from then on, not nothing for minutes then a walk's worth (1,000,000 connections: the
	 * next was due 185 s after the first) */
	g->walk.chain = !g->walk.last;
	g->walk.last = g->walk.began;
	walk_plan(g, g->walk.cpu, *g->k.unmarkable);
	if (g->walk.full && whole)
		g->walk.lost_seen = g->walk.lost;
	if (whole && g->k.walk_owners && *g->k.walk_owners)
		g->walk.owners_due = false;
	/* a walk cut short, or one that missed a connection: a full one next period */
	xlate_stats(g->xl, &st);
	g->walk.force = !whole || st.suspects;
	return 0;
}

/* This period's slice of the walk under way (one begun if due): its records until the period's
 * deadline, or its end. A walk begun on time is paced: each period reads it for the CPU that
 * spreads it over the gap to the next (the last one's cost over as many periods), so that its
 * cost is the same every second (the one that follows the first at once is paced too); the
 * first, one forced by a loss or a miss, and one under way when events are lost go as fast as
 * the deadline allows. */
static int walk_slice(struct engine *g, uint64_t now)
{
	uint64_t cpu;
	int r;

	if (g->walk.it.fd < 0) {
		if (g->ending && g->k.active)
			return 0; /* the polled reads have the final counters */
		/* the first waits for the owners of what exists (unless their walk failed) */
		if (!walk_due(g, now) || (g->owners.fd >= 0 && !g->owners_once))
			return 0;
		if ((r = walk_begin(g, now)))
			return r < 0 ? r : 0;
	} else if (g->ending && g->k.active) {
		close(g->walk.it.fd); /* the rest of it is not needed: dropped, ends nothing */
		g->walk.it.fd = -1;
		return 0;
	}
	if (g->kloss[TT_LOSS_RINGBUF] != g->walk.lost)
		g->walk.paced = false; /* closes were lost: this walk and the next find them */
	cpu = thread_cpu_ns();
	g->walk.periods++;
	r = iter_read(g, &g->walk.it, sizeof(struct tt_event),
		      g->walk.paced && !g->ending ? cpu + g->walk.pace : 0, merge_recs);
	g->walk.cpu += thread_cpu_ns() - cpu;
	if (r < 0)
		return r;
	return r == ITER_END ? walk_end(g) : 0;
}

/* A TCP period: the polled connections, then a slice of the walk (which ends the polling of
 * those found quiet); a whole full walk also finds closes the kernel lost. */
static int tcp_pass(struct engine *g)
{
	uint64_t now = mono_ns();
	int r;

	xlate_tcp_period(g->xl);
	if (g->k.tcp) {
		r = read_polled(g, now);
		if (r < 0)
			return r;
		if (r)
			g->walk.polled_failed = true;
	}
	if (g->k.it_tcp < 0)
		return 0;
	return walk_slice(g, now);
}

/* ---- UDP ---- */

/* Whether a datagram was counted since the flow table was last read (each CPU stamps the time
 * of its last); without the stamps, always. */
static bool udp_counted(struct engine *g)
{
	bool any = !g->k.udp_touch;

	for (unsigned i = 0; g->k.udp_touch && i < g->k.udp_touch_n && i < 64; i++) {
		uint64_t ts = g->k.udp_touch[i * g->k.udp_touch_stride];

		if (ts != g->udp_touch[i]) {
			g->udp_touch[i] = ts;
			any = true;
		}
	}
	return any;
}

/* iter/udp ends the flows of sockets that went away: at start (connected sockets that existed
 * before us have flows), then each period while there are flows. The flow table is read while
 * it holds any (the programs count its entries). */
static int udp_pass(struct engine *g)
{
	struct xlate_stats st;
	uint64_t now;
	int r;

	xlate_stats(g->xl, &st);
	if (g->k.it_udp >= 0 && (!g->udp_walked || st.udp_flows)) {
		xlate_udp_pass_begin(g->xl);
		r = read_result(g, READ_UDP_WALK,
				iter_whole(g, g->k.it_udp, sizeof(struct tt_event), merge_recs));
		if (r < 0)
			return r;
		g->udp_walked |= !r;
		r = xlate_udp_pass_end(g->xl, mono_ns(), !r);
		if (r)
			return r;
	}
	now = mono_ns();
	/* the released sockets' flows end once the table is read, or known unchanged */
	if (!g->k.udp || (g->k.udp_nflows && !*g->k.udp_nflows && !st.udp_flows))
		return xlate_udp_released(g->xl, now);
	if (!udp_counted(g)) { /* no datagram since the last read */
		if ((r = xlate_udp_released(g->xl, now)))
			return r;
		return xlate_udp_expire(g->xl, now);
	}
	r = read_result(g, READ_UDP_FLOWS,
			map_each(g, g->k.udp_flows, sizeof(struct tt_udp_key),
				 sizeof(struct tt_udp_val), on_udp_flow, now));
	if (r)
		return r < 0 ? r : 0; /* no flow ends on a table read only in part */
	if ((r = xlate_udp_released(g->xl, now)))
		return r;
	return xlate_udp_expire(g->xl, now);
}

/* ---- loss ---- */

/* The kernel's per-CPU loss counters; a failed read keeps the last values (they only grow). */
static void read_loss(struct engine *g)
{
	uint64_t vals[g->ncpu];

	for (uint32_t code = 0; code < TT_LOSS_N; code++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(g->k.loss, &code, vals)) {
			read_failed(g, READ_LOSS, errno);
			return;
		}
		for (int c = 0; c < g->ncpu; c++)
			sum += vals[c];
		g->kloss[code] = sum;
	}
	if (g->k.kprobe_missed) {
		uint64_t n;
		int e = g->k.kprobe_missed(g->k.kprobe_ctx, &n);

		if (e)
			read_failed(g, READ_KPROBE, -e);
		else
			g->kprobe_missed = n;
	}
}

static int put_loss(struct engine *g, uint64_t ts)
{
	struct rec r = { .type = REC_LOSS };
	struct rec_loss *l = &r.u.loss;
	struct xlate_stats st;

	xlate_stats(g->xl, &st);
	l->ts = ts;
	l->e[l->n++] = (struct loss_entry){ LOSS_RINGBUF, g->kloss[TT_LOSS_RINGBUF] };
	l->e[l->n++] = (struct loss_entry){ LOSS_FLOW_TABLE_FULL, g->kloss[TT_LOSS_FLOW_FULL] };
	l->e[l->n++] = (struct loss_entry){ LOSS_FLOW_EVICTED, st.evicted };
	l->e[l->n++] = (struct loss_entry){ LOSS_WALK_FAILED, g->read_failed };
	l->e[l->n++] = (struct loss_entry){ LOSS_OWNERS_FULL, g->kloss[TT_LOSS_OWNERS_FULL] };
	if (g->k.udp_peers)
		l->e[l->n++] =
			(struct loss_entry){ LOSS_UDP_PEERS_EVICTED, g->kloss[TT_LOSS_PEERS_FULL] };
	if (g->k.kprobe_missed)
		l->e[l->n++] = (struct loss_entry){ LOSS_KPROBE_MISSED,
						    g->kprobe_missed + g->kloss[TT_LOSS_KP_ARGS] };
	return stream_write(g->wr, &r);
}

/* ---- the period ---- */

/* The walk of every process's sockets (their owners): at start, before the first walk of the
 * connections, and without an accept hook each time new connections without owner appear (or
 * again after one that failed); spread over periods as the walk is. */
static uint64_t owners_removed(const struct engine *g)
{
	return (g->k.owners_removed ? *g->k.owners_removed : 0) + g->forgotten;
}

/* Whether a walk for connections found without owner may record some: not while the map the
 * last walk found full has had no owner removed since, nor for OWNERS_FULL_WAIT periods. */
static bool owners_room(struct engine *g)
{
	if (g->owners_check) { /* the last walk's losses are all read now */
		g->owners_check = false;
		g->owners_full = g->kloss[TT_LOSS_OWNERS_FULL] != g->owners_loss;
		g->owners_removed = owners_removed(g);
		g->owners_wait = 0;
	}
	if (!g->owners_full)
		return true;
	g->owners_wait++;
	return g->owners_wait > OWNERS_FULL_WAIT && owners_removed(g) != g->owners_removed;
}

static int owners_walk(struct engine *g)
{
	struct xlate_stats st;
	int r;

	if (g->k.it_owners < 0)
		return 0;
	if (g->owners.fd < 0) {
		bool room = owners_room(g);

		xlate_stats(g->xl, &st);
		if (g->ending || (!g->owners_due && (g->k.accept || !st.unowned_new || !room)))
			return 0;
		r = read_result(g, READ_OWNERS, iter_begin(&g->owners, g->k.it_owners));
		if (r) {
			g->owners_due = true;
			return r < 0 ? r : 0;
		}
		g->owners_due = false;
		g->owners_loss = g->kloss[TT_LOSS_OWNERS_FULL];
		xlate_unowned_reset(g->xl);
	} else if (g->ending) {
		close(g->owners.fd);
		g->owners.fd = -1;
		return 0;
	}
	r = iter_read(g, &g->owners, sizeof(uint64_t), 0, ignore_recs);
	if (r < 0 || r == ITER_MORE)
		return r < 0 ? r : 0;
	if (read_result(g, READ_OWNERS, g->owners.err))
		g->owners_due = true; /* again */
	else
		g->owners_once = g->owners_check = true;
	return 0;
}

/* The memory a period's reads took, given back when they needed much more than now. */
static void period_shrink(struct engine *g)
{
	VEC_SHRINK(&g->queued.v, &g->queued.cap, g->queued.n);
	VEC_SHRINK(&g->polled.v, &g->polled.cap, g->polled.n);
}

int engine_period(struct engine *g)
{
	struct rec r = { .type = REC_TICK };
	uint64_t slice = g->cfg.interval_ns / 4;
	int e;

	/* the walks read until a quarter of the interval has passed, then go on next period */
	g->deadline = g->ending ? 0 : mono_ns() + (slice > SLICE_MIN ? slice : SLICE_MIN);
	if ((e = consume(g)) || (e = owners_walk(g)))
		return e;
	read_loss(g); /* a lost event since the last period: the next walk is full */
	if ((e = tcp_pass(g)) || (e = udp_pass(g)))
		return e;
	read_loss(g); /* and what the period lost, in its LOSS record */
	period_shrink(g);
	r.u.tick.ts = mono_ns();
	if ((e = put_loss(g, r.u.tick.ts)) || (e = stream_write(g->wr, &r)))
		return e;
	return stream_flush(g->wr);
}

int engine_start(struct engine *g)
{
	g->owners_due = true;
	return engine_period(g);
}

int engine_end(struct engine *g)
{
	struct rec r = { .type = REC_END };
	int e;

	g->ending = true;
	if ((e = engine_period(g))) /* final counters */
		return e;
	r.u.end.ts = mono_ns();
	if ((e = stream_write(g->wr, &r)))
		return e;
	return stream_flush(g->wr);
}

/* ---- life ---- */

int engine_init(struct engine *g, const struct engine_config *cfg, const struct kern *k,
		struct stream_writer *wr, const struct xlate_config *xc, struct cgroups *cgs)
{
	struct xlate_ops xo = { .ctx = g,
				.put = put_rec,
				.udp_final = udp_final,
				.forget_owner = forget_owner,
				.ifname = own_ifname,
				.cgroup_path = cgs ? cgroup_path : NULL };

	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	g->k = *k;
	g->wr = wr;
	g->cgs = cgs;
	g->walk.it.fd = g->owners.fd = -1;
	g->walk.lost_seen = UINT64_MAX;
	g->walk.owners_due = true;
	g->ncpu = libbpf_num_possible_cpus();
	if (g->ncpu < 1)
		g->ncpu = 1;
	g->chunk = malloc(CHUNK);
	g->xl = xlate_new(xc, &xo);
	return g->xl && g->chunk ? 0 : -ENOMEM;
}

void engine_free(struct engine *g)
{
	if (g->walk.it.fd >= 0)
		close(g->walk.it.fd);
	if (g->owners.fd >= 0)
		close(g->owners.fd);
	xlate_free(g->xl);
	free(g->queued.v);
	free(g->polled.v);
	free(g->chunk);
	free(g->keys);
	free(g->vals);
	memset(g, 0, sizeof(*g));
}
