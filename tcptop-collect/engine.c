// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One sample period of tcptop-collect: closes so far (the ring buffer), the polled connections
 * (other namespaces', our active ones), the walk of our TCP connections when due (every one
 * reported on a full pass, which also finds closes the kernel could not report), the UDP
 * sockets that went away, the UDP flows, loss, tick. What the kernel reports goes to the
 * translation (xlate.c) in time order.
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
#include "vec.h"

#define NSEC	     1000000000ULL
#define ENOTSUPP     524 /* the kernel's "operation not supported", as bpf() returns it */
#define WALK_BUDGET  100 /* the walk's CPU: 1/100 of a core */
#define WALK_MAX_GAP (60 * NSEC)
#define MAP_BATCH    1024
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

static int udp_final(void *ctx, const struct tt_udp_key *k, struct tt_udp_val *v)
{
	struct engine *g = ctx;

	if (!bpf_map_lookup_and_delete_elem(g->k.udp_flows, k, v))
		return 0;
	if (errno != EINVAL && errno != ENOTSUPP && errno != EOPNOTSUPP)
		return -ENOENT;
	/* before 5.14: read, then remove (a datagram in between is lost, counted nowhere) */
	if (bpf_map_lookup_elem(g->k.udp_flows, k, v))
		return -ENOENT;
	bpf_map_delete_elem(g->k.udp_flows, k);
	return 0;
}

static void forget_owner(void *ctx, uint64_t sock)
{
	struct engine *g = ctx;

	bpf_map_delete_elem(g->k.owners, &sock);
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
	int n = ring_buffer__consume(g->k.rb);

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
		if (j == g->queued.n || (i < n_it && it[i].ts <= g->queued.v[j].ts))
			e = xlate_event(g->xl, &it[i++]);
		else
			e = xlate_event(g->xl, &g->queued.v[j++]);
		if (e)
			return e;
	}
	return 0;
}

/* Runs an iterator (its link's fd) and hands each record it writes to the translation. What
 * a run that failed part way read is handed on too (each record is true), and the run is not
 * whole. Returns 0 whole, > 0 errno, < 0 the run's end. */
static int run_iter(struct engine *g, int link)
{
	size_t len = 0;
	int fd, err = 0, again = 0, e;

	fd = bpf_iter_create(link);
	if (fd < 0)
		return errno ? errno : EIO;
	for (;;) {
		ssize_t n;

		if (vec_reserve(&g->buf, &g->cap, len + 65536, 1)) {
			close(fd);
			return -ENOMEM;
		}
		n = read(fd, g->buf + len, g->cap - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR) && ++again < ITER_AGAIN_MAX)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0)
			break;
		again = 0;
		len += n;
	}
	close(fd);
	e = merge(g, (const struct tt_event *)g->buf, len / sizeof(struct tt_event));
	return e ? e : err;
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

static int on_polled(struct engine *g, const void *k, const void *v, uint64_t now)
{
	const struct tt_polled *p = v;

	(void)now;
	/* a connect() between its SYN_SENT and its choice of a local port: next period */
	if (p->e.sock != *(const uint64_t *)k || !p->e.lport)
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
	char buf[64];
	int fd, again = 0;

	switch (k->poll) {
	case POLL_RUN:
		if (bpf_prog_test_run_opts(k->rf_polled, &t))
			return errno ? errno : EIO;
		/* rf__polled returns whether bpf_for_each_map_elem failed */
		return t.retval ? EIO : 0;
	case POLL_ITER:
		fd = bpf_iter_create(k->it_polled);
		if (fd < 0)
			return errno ? errno : EIO;
		for (;;) {
			/* it writes nothing: the walk is the work */
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

/* The polled connections: refreshed in the kernel, read, sorted by time, merged. 0 whole,
 * > 0 errno, < 0 the run's end. A refresh that failed leaves the entries as they were: they
 * are not read (nothing new in them). */
static int read_polled(struct engine *g, uint64_t now)
{
	int r = read_result(g, READ_REFRESH, kern_refresh(&g->k));

	if (r)
		return r;
	g->polled.n = 0;
	r = read_result(g, READ_POLLED,
			map_each(g, g->k.polled, sizeof(uint64_t), sizeof(struct tt_polled),
				 on_polled, now));
	if (r < 0)
		return r;
	qsort(g->polled.v, g->polled.n, sizeof(*g->polled.v), by_ts);
	return merge(g, g->polled.v, g->polled.n) ?: r;
}

/* ---- the walk ---- */

/* Each period where nothing but the walk reads connections; with activation (active ones
 * polled), as often as --full-walk says, by default as often as keeps it under WALK_BUDGET of
 * a core (measured on the walk before) and at least every WALK_MAX_GAP; at once after a lost
 * event, a walk that failed, or one that missed a connection. */
static bool walk_due(const struct engine *g, uint64_t now, uint64_t lost)
{
	if (!g->k.active || !g->walk.last || lost != g->walk.lost_seen || g->walk.force)
		return true;
	return now - g->walk.last + g->cfg.interval_ns / 2 >= g->walk.every;
}

/* After a walk that cost cost ns of CPU (the kernel's, the programs', ours), the next one.
 * Sockets that another BPF program gave socket storage cannot be activated (the tracepoints
 * test the socket's storage pointer): while there are any, every period walks. */
static void walk_plan(struct engine *g, uint64_t now, uint64_t cost, uint32_t unmarkable)
{
	uint64_t prev = g->walk.every;

	g->walk.last = now;
	if (unmarkable) {
		g->walk.every = 0;
		if (g->cfg.verbose && !g->walk.said_unmarkable)
			warnx("%u connections carry another BPF program's socket storage: their "
			      "activity cannot be seen between walks, so every period walks",
			      (unsigned)unmarkable);
		g->walk.said_unmarkable = true;
	} else if (g->cfg.full_walk_ns) {
		g->walk.every = g->cfg.full_walk_ns;
	} else if (cost > WALK_MAX_GAP / WALK_BUDGET) {
		g->walk.every = WALK_MAX_GAP;
	} else {
		g->walk.every = cost * WALK_BUDGET;
	}
	/* said when the gap halves or doubles, not each time */
	if (g->cfg.verbose && g->k.active && (g->walk.every > 2 * prev || 2 * g->walk.every < prev))
		warnx("the walk of every connection took %.1f ms of CPU: the next in %.2f s",
		      cost / 1e6,
		      (g->walk.every > g->cfg.interval_ns ? g->walk.every : g->cfg.interval_ns) /
			      1e9);
}

/* A TCP pass: the polled connections, then the walk when due (it ends the polling of those
 * found quiet); a full one also finds closes the kernel lost. */
static int tcp_pass(struct engine *g)
{
	uint64_t now = mono_ns(), lost = g->kloss[TT_LOSS_RINGBUF], cpu = 0;
	bool walking = g->k.it_tcp >= 0 && walk_due(g, now, lost), full, whole = true;
	struct xlate_stats st;
	int r;

	full = walking &&
	       (g->k.active || !g->k.sk_storage || lost != g->walk.lost_seen || g->walk.force);
	xlate_tcp_pass_begin(g->xl, full);
	if (g->k.tcp) {
		r = read_polled(g, now);
		if (r < 0)
			return r;
		whole = !r;
	}
	if (walking) {
		cpu = thread_cpu_ns();
		*g->k.full_pass = full;
		*g->k.unmarkable = 0;
		r = read_result(g, READ_WALK, run_iter(g, g->k.it_tcp));
		if (r < 0)
			return r;
		whole = whole && !r;
	}
	r = xlate_tcp_pass_end(g->xl, mono_ns(), whole);
	if (r)
		return r;
	if (walking) {
		walk_plan(g, now, thread_cpu_ns() - cpu, *g->k.unmarkable);
		if (full && whole)
			g->walk.lost_seen = lost;
		/* a walk cut short, or one that missed a connection: a full one next period */
		xlate_stats(g->xl, &st);
		g->walk.force = !whole || st.suspects;
	}
	return 0;
}

/* ---- UDP ---- */

static int udp_pass(struct engine *g)
{
	uint64_t now;
	int r;

	if (g->k.it_udp >= 0) {
		xlate_udp_pass_begin(g->xl);
		r = read_result(g, READ_UDP_WALK, run_iter(g, g->k.it_udp));
		if (r < 0)
			return r;
		r = xlate_udp_pass_end(g->xl, mono_ns(), !r);
		if (r)
			return r;
	}
	if (!g->k.udp)
		return 0;
	now = mono_ns();
	r = read_result(g, READ_UDP_FLOWS,
			map_each(g, g->k.udp_flows, sizeof(struct tt_udp_key),
				 sizeof(struct tt_udp_val), on_udp_flow, now));
	if (r)
		return r < 0 ? r : 0; /* no flow ends on a table read only in part */
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

/* Without an accept hook, owners of connections accepted since are found by a walk of every
 * process's sockets, once each time new ones appear (or again after one that failed). */
static int owners_walk(struct engine *g)
{
	struct xlate_stats st;
	int r;

	if (g->k.it_owners < 0)
		return 0;
	xlate_stats(g->xl, &st);
	if (!g->owners_due && (g->k.accept || !st.unowned_new))
		return 0;
	r = read_result(g, READ_OWNERS, run_iter(g, g->k.it_owners));
	if (r < 0)
		return r;
	g->owners_due = r > 0;
	if (!r)
		xlate_unowned_reset(g->xl);
	return 0;
}

int engine_period(struct engine *g)
{
	struct rec r = { .type = REC_TICK };
	int e;

	if ((e = consume(g)) || (e = owners_walk(g)))
		return e;
	read_loss(g); /* a lost event since the last period: this one's walk is full */
	if ((e = tcp_pass(g)) || (e = udp_pass(g)))
		return e;
	read_loss(g); /* and what the period lost, in its LOSS record */
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
	int e = engine_period(g); /* final counters */

	if (e)
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
	g->walk.lost_seen = UINT64_MAX;
	g->ncpu = libbpf_num_possible_cpus();
	if (g->ncpu < 1)
		g->ncpu = 1;
	g->xl = xlate_new(xc, &xo);
	return g->xl ? 0 : -ENOMEM;
}

void engine_free(struct engine *g)
{
	xlate_free(g->xl);
	free(g->queued.v);
	free(g->polled.v);
	free(g->buf);
	free(g->keys);
	free(g->vals);
	memset(g, 0, sizeof(*g));
}
