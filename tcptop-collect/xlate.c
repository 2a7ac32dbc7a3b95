// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The connection table of tcptop-collect and the rules that turn kernel reports into stream
 * records (man/tcptop-stream.5):
 * - a connection is written as OPEN once, then SAMPLE when its counters change, STATE when its
 *   state changes, OWNER when its owner becomes known or changes, CLOSE once;
 * - TCP connections are keyed by the socket's address, UDP flows by socket and peer; stream
 *   flow ids count up from 1 and never reveal a kernel address;
 * - a closed TCP socket is remembered for two passes (a pass a period), so that an iterator
 *   that met it just before it went away does not open it again; they go oldest first, with
 *   no scan of the table;
 * - a connection of our namespace ends without its close only when two whole walks in a row
 *   missed it: the kernel's iterator may skip a socket whose bucket changed between two reads
 *   (before 6.16), and a walk that failed or was cut short (not whole) proves nothing;
 * - counters never go backwards (a stale read changes nothing), and the kernel's 32-bit
 *   segment counters are unwrapped into the stream's 64-bit ones;
 * - a TCP connection's figures (stream.h struct tcp_figs) ride with its counters: a SAMPLE is
 *   written when either changed (a stalled sender's clock runs while its counters stand
 *   still); their clocks, in jiffies in the kernel, are unwrapped and turned into
 *   milliseconds as tcp_get_info() does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "xlate.h"

struct usock;

struct conn {
	struct hnode hn;
	uint64_t sock;		/* TCP: the socket's address; UDP: the flow's socket */
	struct tt_udp_key ukey; /* UDP */
	struct conn *sock_next; /* UDP: next flow of the same socket */
	struct usock *us;	/* UDP */
	uint64_t flow;
	struct conn_id id;
	struct conn_counters c; /* as last written */
	struct tcp_figs figs;	/* TCP: as last written, with has_figs */
	uint64_t clk[3];	/* TCP: the clocks busy, rwnd, sndbuf in jiffies, unwrapped */
	bool has_figs;
	uint64_t owner_cgroup;
	uint64_t last_active;	/* UDP: monotonic ns of the last datagram */
	uint64_t seen_pass;	/* TCP: the last pass that reported it */
	uint64_t closed_pass;	/* TCP: closed at this pass (a tombstone until two later) */
	uint8_t missed;		/* TCP: whole walks in a row that missed it */
	struct conn *tomb_next; /* TCP: the next tombstone, in the order they were made */
	uint32_t pid;
	char comm[COMM_LEN];
	uint8_t proto, state, flags; /* CONN_F_BEGUN_BEFORE */
	bool owner_known, written, hidden, closed, unhashed;
};

/* A UDP socket: its flows, and whether an iterator pass still sees it. */
struct usock {
	struct hnode hn;
	uint64_t sock;
	uint16_t lport;
	uint32_t netns;
	uint64_t created_pass, seen_pass;
	struct conn *flows;
};

/* A name written once: IFNAME by (netns, ifindex), CGROUP by id. */
struct seen {
	struct hnode h;
	uint64_t key;
};

struct xlate {
	struct xlate_config cfg;
	struct xlate_ops ops;
	struct htab tcp, udp, socks;
	uint64_t next_flow;
	uint64_t tcp_pass, udp_pass;
	uint64_t tcp_walked, udp_walked; /* whole full passes so far: 0, what is met began before */
	bool tcp_full;
	struct conn *tomb_head, *tomb_tail; /* closed TCP connections, oldest first */
	uint64_t last_ts;
	int error;
	struct xlate_stats st;
	struct htab ifs, cgs; /* struct seen: the IFNAME and CGROUP records written */
};

/* ---- the tables (lib/htab.h) ---- */

#define CONN(n)	 container_of(n, struct conn, hn)
#define USOCK(n) container_of(n, struct usock, hn)

static uint64_t hash_ukey(const struct tt_udp_key *k)
{
	return hash_bytes(k, sizeof(*k));
}

static struct conn *tcp_find(struct xlate *x, uint64_t sock)
{
	struct hnode *n;

	htab_for_hash(&x->tcp, n, hash_u64(sock)) if (CONN(n)->sock == sock) return CONN(n);
	return NULL;
}

static struct conn *udp_find(struct xlate *x, const struct tt_udp_key *k)
{
	struct hnode *n;

	htab_for_hash(&x->udp, n,
		      hash_ukey(k)) if (!memcmp(&CONN(n)->ukey, k, sizeof(*k))) return CONN(n);
	return NULL;
}

static struct usock *sock_find(struct xlate *x, uint64_t sock)
{
	struct hnode *n;

	htab_for_hash(&x->socks, n, hash_u64(sock)) if (USOCK(n)->sock == sock) return USOCK(n);
	return NULL;
}

/* ---- writing ---- */

static void put(struct xlate *x, const struct rec *r)
{
	int e;

	if (x->error)
		return;
	e = x->ops.put(x->ops.ctx, r);
	if (e)
		x->error = e;
}

static bool seen(const struct htab *t, uint64_t key)
{
	struct hnode *n;

	htab_for_hash(t, n,
		      hash_u64(key)) if (container_of(n, struct seen, h)->key == key) return true;
	return false;
}

/* Remembers key; without memory the record is written again next time, no error. */
static void seen_add(struct htab *t, uint64_t key)
{
	struct seen *n = malloc(sizeof(*n));

	if (!n)
		return;
	n->key = key;
	htab_add(t, &n->h, hash_u64(key));
}

static void put_ifname(struct xlate *x, uint32_t netns, uint32_t ifindex, const char *bpf_name)
{
	struct rec r = { .type = REC_IFNAME };
	char name[IFNAME_LEN] = "";
	uint64_t key = (uint64_t)netns << 32 | ifindex;

	/* looked up before the name is asked for: that costs a socket and an ioctl */
	if (!ifindex || seen(&x->ifs, key))
		return;
	if (bpf_name && bpf_name[0])
		memcpy(name, bpf_name, IFNAME_LEN - 1);
	else if (netns != x->cfg.own_netns || !x->ops.ifname ||
		 x->ops.ifname(x->ops.ctx, ifindex, name))
		return; /* no name known yet: the next connection on it may bring one */
	seen_add(&x->ifs, key);
	r.u.ifname.netns = netns;
	r.u.ifname.ifindex = ifindex;
	memcpy(r.u.ifname.name, name, IFNAME_LEN);
	r.u.ifname.name[IFNAME_LEN - 1] = 0;
	put(x, &r);
}

static void put_cgroup(struct xlate *x, uint64_t id)
{
	struct rec r = { .type = REC_CGROUP };

	if (!id || !x->ops.cgroup_path || seen(&x->cgs, id))
		return;
	if (x->ops.cgroup_path(x->ops.ctx, id, r.u.cgroup.path, sizeof(r.u.cgroup.path)))
		return;
	seen_add(&x->cgs, id);
	r.u.cgroup.id = id;
	put(x, &r);
}

/* A 32-bit counter of the kernel, read again: the 64-bit one it continues (prev's low half is
 * the last value read). Fewer than 2^31 steps between two reads (a period); a value behind the
 * last one is a stale read. Returns false for that. */
static bool unwrap32(uint64_t *v, uint64_t prev, uint32_t raw)
{
	uint32_t d = raw - (uint32_t)prev;

	if (d >= 1u << 31)
		return false;
	*v = prev + d;
	return true;
}

/* The kernel's counters of a TCP connection (t) as the stream carries them, continuing prev
 * (NULL for a connection met for the first time). A read behind the last (a stale polled entry
 * read before a newer walk record) leaves c as prev: false. */
static bool tcp_counters(struct conn_counters *c, const struct conn_counters *prev,
			 const struct tt_tcp_counters *t)
{
	struct conn_counters n = { .bytes_in = t->bytes_in,
				   .bytes_out = t->bytes_out,
				   .pkts_in = t->segs_in,
				   .pkts_out = t->segs_out,
				   .srtt_us = t->srtt_us,
				   .retrans = t->retrans };

	if (!prev) {
		*c = n;
		return true;
	}
	if (t->bytes_in < prev->bytes_in || t->bytes_out < prev->bytes_out ||
	    !unwrap32(&n.pkts_in, prev->pkts_in, t->segs_in) ||
	    !unwrap32(&n.pkts_out, prev->pkts_out, t->segs_out) ||
	    (uint32_t)(t->retrans - prev->retrans) >= 1u << 31) {
		*c = *prev;
		return false;
	}
	*c = n;
	return true;
}

/* New figures of a TCP connection: t (the kernel's) as the stream carries them, its clocks
 * continuing f's (its first figures: from t's). The clocks in milliseconds as
 * tcp_get_info() reckons them, USEC_PER_SEC / HZ a jiffy (3333 us at HZ 300), written modulo
 * 2^32; 0 while HZ is unknown (the header says tcp-limits). A clock behind the last read is a
 * stale read: false, n and clk untouched. */
static bool tcp_figs(const struct xlate *x, const struct conn *f, const struct tt_tcp_figs *t,
		     struct tcp_figs *n, uint64_t clk[3])
{
	const uint32_t raw[3] = { t->busy, t->rwnd, t->sndbuf };
	uint64_t c[3], rate = 0;

	for (int i = 0; i < 3; i++)
		if (!f->has_figs)
			c[i] = raw[i];
		else if (!unwrap32(&c[i], f->clk[i], raw[i]))
			return false;
	memcpy(clk, c, sizeof(c));
	memset(n, 0, sizeof(*n));
	if (x->cfg.hz) {
		uint64_t us = 1000000 / x->cfg.hz;

		n->busy_ms = (uint32_t)(c[0] * us / 1000);
		n->rwnd_ms = (uint32_t)(c[1] * us / 1000);
		n->sndbuf_ms = (uint32_t)(c[2] * us / 1000);
	}
	n->retrans_bytes = (uint32_t)t->bytes_retrans;
	n->lost = t->lost;
	n->cwnd = t->cwnd;
	n->ssthresh = t->ssthresh >= TCP_NO_SSTHRESH ? TCP_NO_SSTHRESH : t->ssthresh;
	n->reordering = t->reordering > 0xFFFF ? 0xFFFF : t->reordering;
	n->in_flight = t->in_flight;
	n->unsent = t->unsent;
	n->min_rtt_us = t->min_rtt_us;
	n->rttvar_us = t->rttvar_us;
	/* tcp_compute_delivery_rate() */
	if (t->rate_delivered && t->rate_interval_us)
		rate = (uint64_t)t->rate_delivered * t->mss * 1000000 / t->rate_interval_us;
	n->delivery_rate = (float)rate;
	return true;
}

/* The figures of event e for f, when it carries them: true with n and clk filled. */
static bool event_figs(const struct xlate *x, const struct conn *f, const struct tt_event *e,
		       struct tcp_figs *n, uint64_t clk[3])
{
	return x->cfg.figs && (e->flags & TT_F_FIGS) && tcp_figs(x, f, &e->f, n, clk);
}

static void set_figs(struct conn *f, const struct tcp_figs *n, const uint64_t clk[3])
{
	f->figs = *n;
	memcpy(f->clk, clk, sizeof(f->clk));
	f->has_figs = true;
}

static bool wanted(const struct xlate *x, const struct conn *f)
{
	if (x->cfg.port && f->id.lport != x->cfg.port && f->id.rport != x->cfg.port)
		return false;
	if (x->cfg.pid && (!f->owner_known || f->pid != x->cfg.pid))
		return false;
	return true;
}

/* OPEN, once the connection passes the filters; with --pid, one whose owner is not known
 * yet waits (hidden) until it is. */
static void put_open(struct xlate *x, struct conn *f, uint64_t ts)
{
	struct rec r = { .type = REC_CONN_OPEN };
	struct rec_conn_open *o = &r.u.open;

	if (f->written || f->closed)
		return;
	f->hidden = !wanted(x, f);
	if (f->hidden)
		return;
	put_ifname(x, f->id.netns, f->id.ifindex, NULL);
	if (f->owner_known)
		put_cgroup(x, f->owner_cgroup);
	o->ts = ts;
	o->id = f->id;
	o->state = f->state;
	o->flags = f->flags;
	if (f->owner_known) {
		o->pid = f->pid;
		memcpy(o->comm, f->comm, COMM_LEN);
		o->cgroup_id = f->owner_cgroup;
	} else {
		o->flags |= CONN_F_NO_OWNER;
	}
	o->c = f->c;
	o->has_figs = f->has_figs;
	o->figs = f->figs;
	f->written = true;
	put(x, &r);
}

static void set_owner(struct xlate *x, struct conn *f, const struct tt_owner *o, uint64_t ts)
{
	struct rec r = { .type = REC_CONN_OWNER };

	if (f->owner_known && f->pid == o->pid && f->owner_cgroup == o->cgroup &&
	    !memcmp(f->comm, o->comm, COMM_LEN))
		return;
	f->owner_known = true;
	f->pid = o->pid;
	f->owner_cgroup = o->cgroup;
	memcpy(f->comm, o->comm, COMM_LEN);
	if (!f->written) {
		put_open(x, f, ts); /* a connection that waited for its owner */
		return;
	}
	put_cgroup(x, o->cgroup);
	r.u.owner.ts = ts;
	r.u.owner.flow = f->flow;
	r.u.owner.pid = o->pid;
	memcpy(r.u.owner.comm, o->comm, COMM_LEN);
	r.u.owner.cgroup_id = o->cgroup;
	put(x, &r);
}

/* Counters c and, when n is not NULL, figures n (their clocks clk): a SAMPLE if either
 * changed. */
static void put_sample(struct xlate *x, struct conn *f, uint64_t ts, const struct conn_counters *c,
		       const struct tcp_figs *n, const uint64_t clk[3])
{
	struct rec r = { .type = REC_CONN_SAMPLE };
	bool figs_moved = n && (!f->has_figs || memcmp(&f->figs, n, sizeof(*n)));

	if (!memcmp(&f->c, c, sizeof(*c)) && !figs_moved)
		return;
	f->c = *c;
	if (n)
		set_figs(f, n, clk);
	if (!f->written)
		return;
	r.u.sample.ts = ts;
	r.u.sample.flow = f->flow;
	r.u.sample.c = *c;
	r.u.sample.has_figs = f->has_figs;
	r.u.sample.figs = f->figs;
	put(x, &r);
}

static void put_state(struct xlate *x, struct conn *f, uint64_t ts, uint8_t state)
{
	struct rec r = { .type = REC_CONN_STATE };

	if (f->state == state)
		return;
	if (f->written) {
		r.u.state.ts = ts;
		r.u.state.flow = f->flow;
		r.u.state.old_state = f->state;
		r.u.state.new_state = state;
		put(x, &r);
	}
	f->state = state;
}

static void put_close(struct xlate *x, struct conn *f, uint64_t ts)
{
	struct rec r = { .type = REC_CONN_CLOSE };

	if (f->written) {
		r.u.close.ts = ts;
		r.u.close.flow = f->flow;
		r.u.close.state = f->state;
		r.u.close.c = f->c;
		r.u.close.has_figs = f->has_figs;
		r.u.close.figs = f->figs;
		put(x, &r);
	}
	f->closed = true;
}

/* ---- connections ---- */

static struct conn *conn_new(struct xlate *x, uint8_t proto)
{
	struct conn *f = calloc(1, sizeof(*f));

	if (!f) {
		x->error = -ENOMEM;
		return NULL;
	}
	f->proto = proto;
	f->flow = ++x->next_flow;
	f->id.flow = f->flow;
	f->id.proto = proto;
	return f;
}

static void id_from_event(struct conn_id *id, const struct tt_event *e)
{
	id->cookie = e->cookie;
	id->netns = e->netns;
	id->ifindex = e->ifindex;
	id->family = e->family;
	id->lport = e->lport;
	id->rport = e->rport;
	memcpy(id->laddr, e->laddr, 16);
	memcpy(id->raddr, e->raddr, 16);
}

static struct conn *tcp_new(struct xlate *x, const struct tt_event *e, uint8_t flags, bool insert)
{
	struct conn *f = conn_new(x, PROTO_TCP);

	if (!f)
		return NULL;
	f->sock = e->sock;
	id_from_event(&f->id, e);
	f->state = e->state;
	f->flags = flags;
	tcp_counters(&f->c, NULL, &e->c);
	{
		struct tcp_figs n;
		uint64_t clk[3];

		if (event_figs(x, f, e, &n, clk))
			set_figs(f, &n, clk);
	}
	if (e->flags & TT_F_OWNER) {
		f->owner_known = true;
		f->pid = e->owner.pid;
		f->owner_cgroup = e->owner.cgroup;
		memcpy(f->comm, e->owner.comm, COMM_LEN);
	}
	if (!insert)
		return f;
	htab_add(&x->tcp, &f->hn, hash_u64(f->sock));
	x->st.conns++;
	if (!f->owner_known)
		x->st.unowned_new++;
	put_ifname(x, e->netns, e->ifindex, e->ifname);
	return f;
}

static void conn_free_tcp(struct xlate *x, struct conn *f)
{
	htab_del(&x->tcp, &f->hn);
	x->st.conns--;
	free(f);
}

/* A closed connection stays as a tombstone for two passes. */
static void tomb_add(struct xlate *x, struct conn *f)
{
	f->closed_pass = x->tcp_pass;
	if (x->tomb_tail)
		x->tomb_tail->tomb_next = f;
	else
		x->tomb_head = f;
	x->tomb_tail = f;
}

/* Another socket took a tombstone's address: out of the table now, freed in its turn. */
static void tomb_unhash(struct xlate *x, struct conn *f)
{
	htab_del(&x->tcp, &f->hn);
	x->st.conns--;
	f->unhashed = true;
}

static void tomb_expire(struct xlate *x)
{
	struct conn *f;

	while ((f = x->tomb_head) && x->tcp_pass >= f->closed_pass + 2) {
		x->tomb_head = f->tomb_next;
		if (!x->tomb_head)
			x->tomb_tail = NULL;
		if (f->unhashed)
			free(f);
		else
			conn_free_tcp(x, f);
	}
}

/* The socket the record names is the one we know, or a new one at the same address. */
static bool same_tcp(const struct conn *f, const struct tt_event *e)
{
	return (f->id.lport == e->lport || !f->id.lport || !e->lport) && f->id.rport == e->rport &&
	       f->id.family == e->family && !memcmp(f->id.raddr, e->raddr, 16);
}

static void tcp_report(struct xlate *x, const struct tt_event *e, uint8_t flags)
{
	struct conn *f = tcp_find(x, e->sock);
	struct conn_counters c;
	struct tcp_figs n;
	uint64_t clk[3];
	bool figs;

	if (f && f->closed) {
		if (same_tcp(f, e))
			return; /* met by the iterator just before it went away */
		tomb_unhash(x, f);
		f = NULL;
	}
	if (f && !same_tcp(f, e) && e->state != 2 /* SYN_SENT: ports may still change */) {
		put_close(x, f, e->ts); /* another socket lives at the address: ours went */
		x->st.evicted++;
		conn_free_tcp(x, f);
		f = NULL;
	}
	if (!f) {
		f = tcp_new(x, e, flags, true);
		if (!f)
			return;
		put_open(x, f, e->ts);
	} else {
		if (!tcp_counters(&c, &f->c, &e->c)) {
			f->seen_pass = x->tcp_pass;
			f->missed = 0;
			return; /* older than what was written: changes nothing */
		}
		figs = event_figs(x, f, e, &n, clk);
		if (!f->written) {
			f->c = c; /* an OPEN still to come carries the newest counters */
			if (figs)
				set_figs(f, &n, clk);
		}
		if (e->flags & TT_F_OWNER)
			set_owner(x, f, &e->owner, e->ts);
		if (!f->written && !f->hidden)
			put_open(x, f, e->ts);
		put_state(x, f, e->ts, e->state);
		put_sample(x, f, e->ts, &c, figs ? &n : NULL, clk);
	}
	f->seen_pass = x->tcp_pass;
	f->missed = 0;
}

static void tcp_closed(struct xlate *x, const struct tt_event *e)
{
	struct conn *f = tcp_find(x, e->sock);
	struct conn_counters c;
	struct tcp_figs n;
	uint64_t clk[3];

	if (f && f->closed) {
		if (same_tcp(f, e))
			return;	   /* the close of a connection ended already */
		tomb_unhash(x, f); /* a tombstone of another socket at the address */
		f = NULL;
	}
	if (f && !same_tcp(f, e)) {
		/* another socket than the one we know at this address: the close of one
		 * we never met, while ours lives on */
		struct tt_event o = *e;
		struct conn *g;

		o.state = e->old_state;
		g = tcp_new(x, &o, x->tcp_pass ? 0 : CONN_F_BEGUN_BEFORE, false);
		if (!g)
			return;
		put_open(x, g, e->ts);
		put_state(x, g, e->ts, e->state);
		put_close(x, g, e->ts);
		free(g);
		return;
	}
	if (!f) {
		/* opened and closed between two passes: OPEN in the state it was last in */
		struct tt_event o = *e;

		o.state = e->old_state;
		f = tcp_new(x, &o, x->tcp_pass ? 0 : CONN_F_BEGUN_BEFORE, true);
		if (!f)
			return;
		put_open(x, f, e->ts);
	} else if (e->flags & TT_F_OWNER) {
		set_owner(x, f, &e->owner, e->ts);
	}
	if (!f->written && !f->hidden)
		put_open(x, f, e->ts);
	id_from_event(&f->id, e); /* the final ports and interface */
	if (tcp_counters(&c, &f->c, &e->c))
		put_sample(x, f, e->ts, &c, event_figs(x, f, e, &n, clk) ? &n : NULL, clk);
	put_state(x, f, e->ts, e->state);
	put_close(x, f, e->ts);
	tomb_add(x, f);
}

static void udp_flow(struct xlate *x, const struct tt_udp_key *k, const struct tt_udp_val *v,
		     uint64_t now, uint8_t flags);

/* A UDP socket met for the first time in this pass (by the iterator or by a flow of it). */
static struct usock *usock_new(struct xlate *x, uint64_t sock, uint16_t lport, uint32_t netns)
{
	struct usock *s = calloc(1, sizeof(*s));

	if (!s) {
		x->error = -ENOMEM;
		return NULL;
	}
	s->sock = sock;
	s->lport = lport;
	s->netns = netns;
	s->created_pass = x->udp_pass;
	s->seen_pass = x->udp_pass;
	htab_add(&x->socks, &s->hn, hash_u64(s->sock));
	return s;
}

int xlate_event(struct xlate *x, const struct tt_event *e)
{
	if (e->ts > x->last_ts)
		x->last_ts = e->ts;
	switch (e->type) {
	case TT_EV_CLOSE:
		if (x->cfg.want_tcp)
			tcp_closed(x, e);
		break;
	case TT_IT_TCP:
		if (x->cfg.want_tcp)
			tcp_report(x, e, !x->tcp_walked ? CONN_F_BEGUN_BEFORE : 0);
		break;
	case TT_POLLED:
		/* before the first whole walk ends, one not seen opening was there before us */
		if (x->cfg.want_tcp)
			tcp_report(x, e,
				   !x->tcp_walked && !(e->flags & TT_F_NEW) ? CONN_F_BEGUN_BEFORE
									    : 0);
		break;
	case TT_IT_UDP: {
		struct usock *s;

		if (!x->cfg.want_udp)
			break;
		s = sock_find(x, e->sock);
		if (s && s->lport != e->lport) {
			s->seen_pass = 0; /* another socket at the address: the old one went */
			s->created_pass = 0;
			s = NULL;
		}
		if (!s && !(s = usock_new(x, e->sock, e->lport, e->netns)))
			break;
		s->seen_pass = x->udp_pass;
		/* a connected socket that existed before the collector: its flow, counted
		 * from now */
		if (!x->udp_walked && e->rport) {
			struct tt_udp_key k = { .sock = e->sock,
						.lport = e->lport,
						.rport = e->rport,
						.family = e->family };
			struct tt_udp_val v = { .netns = e->netns, .ifindex = e->ifindex };

			memcpy(k.laddr, e->laddr, 16);
			memcpy(k.raddr, e->raddr, 16);
			if (e->flags & TT_F_OWNER)
				v.owner = e->owner;
			v.last_ts = e->ts;
			udp_flow(x, &k, &v, e->ts, CONN_F_BEGUN_BEFORE);
		}
		break;
	}
	}
	return x->error;
}

void xlate_tcp_pass_begin(struct xlate *x, bool full)
{
	x->tcp_pass++;
	x->tcp_full = full;
}

int xlate_tcp_pass_end(struct xlate *x, uint64_t now, bool whole)
{
	tomb_expire(x);
	if (!x->tcp_full || !whole)
		return x->error; /* what it did not meet may still be there */
	x->tcp_walked++;
	x->st.suspects = 0;
	htab_each(&x->tcp, n)
	{
		struct conn *f = CONN(n);

		if (f->closed || f->seen_pass == x->tcp_pass || f->id.netns != x->cfg.own_netns)
			continue;
		/* missed once: the next walk, due at once, decides */
		if (++f->missed < 2) {
			x->st.suspects++;
			continue;
		}
		/* the kernel no longer has it and no close came: the close was lost */
		put_close(x, f, now);
		tomb_add(x, f);
		x->st.evicted++;
	}
	return x->error;
}

/* ---- UDP ---- */

static void udp_end(struct xlate *x, struct conn *f, uint64_t ts)
{
	struct tt_udp_val v;
	struct conn_counters c = f->c;

	if (x->ops.udp_final && !x->ops.udp_final(x->ops.ctx, &f->ukey, &v)) {
		c.bytes_in = v.bytes_in;
		c.bytes_out = v.bytes_out;
		c.pkts_in = v.pkts_in;
		c.pkts_out = v.pkts_out;
		put_sample(x, f, ts, &c, NULL, NULL);
	}
	put_close(x, f, ts);
	if (f->us) {
		for (struct conn **p = &f->us->flows; *p; p = &(*p)->sock_next) {
			if (*p == f) {
				*p = f->sock_next;
				break;
			}
		}
	}
	htab_del(&x->udp, &f->hn);
	x->st.conns--;
	free(f);
}

void xlate_udp_pass_begin(struct xlate *x)
{
	x->udp_pass++;
}

int xlate_udp_pass_end(struct xlate *x, uint64_t now, bool whole)
{
	if (!whole)
		return x->error; /* the sockets it did not meet may still be there */
	x->udp_walked++;
	htab_each(&x->socks, n)
	{
		struct usock *s = USOCK(n);

		if (s->seen_pass == x->udp_pass || s->created_pass == x->udp_pass ||
		    s->netns != x->cfg.own_netns)
			continue;
		/* the socket went away: its flows end with their final counts */
		while (s->flows)
			udp_end(x, s->flows, now);
		if (x->ops.forget_owner)
			x->ops.forget_owner(x->ops.ctx, s->sock);
		htab_del(&x->socks, &s->hn);
		free(s);
	}
	return x->error;
}

static void udp_flow(struct xlate *x, const struct tt_udp_key *k, const struct tt_udp_val *v,
		     uint64_t now, uint8_t flags)
{
	struct conn *f = udp_find(x, k);
	struct conn_counters c = { 0 };
	struct usock *s;

	if (!x->cfg.want_udp)
		return;
	c.bytes_in = v->bytes_in;
	c.bytes_out = v->bytes_out;
	c.pkts_in = v->pkts_in;
	c.pkts_out = v->pkts_out;
	if (!f) {
		f = conn_new(x, PROTO_UDP);
		if (!f)
			return;
		f->ukey = *k;
		f->sock = k->sock;
		f->flags = flags;
		f->id.netns = v->netns;
		f->id.ifindex = v->ifindex;
		f->id.family = k->family;
		f->id.lport = k->lport;
		f->id.rport = k->rport;
		memcpy(f->id.laddr, k->laddr, 16);
		memcpy(f->id.raddr, k->raddr, 16);
		if (v->owner.pid) {
			f->owner_known = true;
			f->pid = v->owner.pid;
			f->owner_cgroup = v->owner.cgroup;
			memcpy(f->comm, v->owner.comm, COMM_LEN);
		}
		f->last_active = v->last_ts ? v->last_ts : now;
		htab_add(&x->udp, &f->hn, hash_ukey(k));
		x->st.conns++;
		s = sock_find(x, k->sock);
		if (!s && !(s = usock_new(x, k->sock, k->lport, v->netns)))
			return;
		f->us = s;
		f->sock_next = s->flows;
		s->flows = f;
		/* OPEN with zero counters, then a SAMPLE: the datagrams belong to this period */
		put_open(x, f, now);
	}
	if (v->last_ts > f->last_active)
		f->last_active = v->last_ts;
	put_sample(x, f, now, &c, NULL, NULL);
}

int xlate_udp_flow(struct xlate *x, const struct tt_udp_key *k, const struct tt_udp_val *v,
		   uint64_t now)
{
	udp_flow(x, k, v, now, 0);
	return x->error;
}

int xlate_udp_expire(struct xlate *x, uint64_t now)
{
	htab_each(&x->udp, n)
	{
		struct conn *f = CONN(n);

		if (f->last_active <= now && now - f->last_active >= x->cfg.udp_timeout_ns)
			udp_end(x, f, now);
	}
	return x->error;
}

/* ---- life ---- */

struct xlate *xlate_new(const struct xlate_config *cfg, const struct xlate_ops *ops)
{
	struct xlate *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->cfg = *cfg;
	x->ops = *ops;
	if (htab_init(&x->tcp, 1024) || htab_init(&x->udp, 1024) || htab_init(&x->socks, 1024) ||
	    htab_init(&x->ifs, 16) || htab_init(&x->cgs, 16)) {
		xlate_free(x);
		return NULL;
	}
	return x;
}

void xlate_free(struct xlate *x)
{
	if (!x)
		return;
	for (struct conn *f = x->tomb_head, *next; f; f = next) {
		next = f->tomb_next;
		if (f->unhashed)
			free(f);
	}
	htab_each(&x->tcp, n) free(CONN(n));
	htab_each(&x->udp, n) free(CONN(n));
	htab_each(&x->socks, n) free(USOCK(n));
	htab_each(&x->ifs, n) free(container_of(n, struct seen, h));
	htab_each(&x->cgs, n) free(container_of(n, struct seen, h));
	htab_free(&x->tcp);
	htab_free(&x->udp);
	htab_free(&x->socks);
	htab_free(&x->ifs);
	htab_free(&x->cgs);
	free(x);
}

int xlate_error(const struct xlate *x)
{
	return x->error;
}

void xlate_stats(const struct xlate *x, struct xlate_stats *s)
{
	*s = x->st;
}

void xlate_unowned_reset(struct xlate *x)
{
	x->st.unowned_new = 0;
}
