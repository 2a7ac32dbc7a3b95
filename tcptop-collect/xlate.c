// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The connection table of tcptop-collect and the rules that turn kernel reports into stream
 * records (man/tcptop-stream.5):
 * - a connection is written as OPEN once, then SAMPLE when its counters change, STATE when its
 *   state changes, OWNER when its owner becomes known or changes, CLOSE once;
 * - TCP connections are keyed by the socket's address, UDP flows by socket and peer; stream
 *   flow ids count up from 1 and never reveal a kernel address;
 * - a TCP connection is kept in 80 bytes of a pool, named by a 32-bit index, with no allocation
 *   of its own (a million connections are two million sockets): what its later records need
 *   (flow, counters, state, owner), what tells another socket at the same address from it
 *   (ports, peer) and whether its figures moved (their clocks as last read, a hash of those
 *   last written); its identity and figures are written from the report in hand. Its flow id
 *   and 64-bit counters keep their low halves there, and the rare connection with a high
 *   half that is not 0 (4 GiB moved, 2^32 segments, 2^32 flows before it) has the high
 *   halves in a side table;
 * - a closed TCP socket leaves a tombstone for two periods, so that an iterator that met it
 *   just before it went away does not open it again; they go oldest first, with no scan;
 * - a walk of every connection may span several periods; a connection of our namespace ends
 *   without its close only when two whole walks in a row missed it (existed when the walk
 *   began, met neither by it nor by a polled read since): the kernel's iterator may skip a
 *   socket whose bucket changed between two reads (before 6.16), and a walk that failed or was
 *   cut short (not whole) proves nothing;
 * - counters never go backwards (a stale read changes nothing), and the kernel's 32-bit
 *   segment counters are unwrapped into the stream's 64-bit ones;
 * - a TCP connection's figures (stream.h struct tcp_figs) ride with its counters: a SAMPLE is
 *   written when either changed (a stalled sender's clock runs while its counters stand
 *   still); their clocks, in jiffies in the kernel, are unwrapped and turned into
 *   milliseconds as tcp_get_info() does; figures behind the last read change nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "htab.h"
#include "vec.h"
#include "xlate.h"

#define AF_INET6_ 10

/* struct tcp's bits */
enum {
	T_OWNER = 1 << 0,   /* the owner is known (pid, owner_tag) */
	T_WRITTEN = 1 << 1, /* OPEN written */
	T_HIDDEN = 1 << 2,  /* not wanted by the filters (yet) */
	T_FOREIGN = 1 << 3, /* of another namespace: no walk meets it */
	T_V6 = 1 << 4,	    /* the peer's address is IPv6 (peer hashed) */
	T_MISSED = 1 << 5,  /* the last whole full walk missed it (a second one ends it) */
	T_CLOCKS = 1 << 6,  /* figures were read: clk and clk_hi hold their clocks */
	T_FIGS = 1 << 7,    /* figures were written: figs_hash is theirs */
	T_BEGUN = 1 << 8,   /* CONN_F_BEGUN_BEFORE */
	T_WIDE = 1 << 9,    /* the high halves of lo[] are in x->wide */
};

/* A TCP connection's 64-bit values, their low halves in struct tcp's lo[]. */
enum {
	W_FLOW,
	W_BYTES_IN,
	W_BYTES_OUT,
	W_PKTS_IN,
	W_PKTS_OUT,
	W_N
};

/* A TCP connection, in the table by hash_u64(socket address): that hash is a bijection, so two
 * equal hashes are the same address, and the address itself is not kept. */
struct tcp {
	uint64_t hash;	  /* hash_u64(socket address) */
	uint32_t next;	  /* the next in its chain of the table, or of the unused entries */
	uint32_t lo[W_N]; /* flow id and counters as last written (srtt_us, retrans below) */
	uint32_t srtt_us, retrans;
	uint32_t peer;	    /* the remote address: IPv4 as is, IPv6 hashed */
	uint32_t pid;	    /* the owner, once known */
	uint32_t owner_tag; /* a hash of the owner's cgroup and name: a change is an OWNER */
	uint32_t clk[3];    /* the clocks busy, rwnd, sndbuf as last read: the kernel's jiffies */
	uint32_t figs_hash; /* a hash of the figures last written (T_FIGS) */
	uint16_t lport, rport;
	uint16_t seen; /* the walk under way or last begun when a report last met it */
	uint16_t bits; /* T_* */
	uint8_t state;
	uint8_t clk_hi[3]; /* clk's wraps past 2^32 jiffies (2^40 in all: 34 years at HZ 1000) */
};

/* Every connection of a big server pays each byte (a million connections are two million
 * sockets): 24 bytes of counters, 16 of key and chain, and 40 that tell apart two sockets at
 * one address and whether its figures moved: their clocks as last read (12 bytes, and 3 of
 * their wraps), to unwrap the next and tell a stale read, and a 32-bit hash of those last
 * written (4) instead of their 48 bytes, to tell a change. */
_Static_assert(sizeof(struct tcp) == 80, "struct tcp grows with every connection of a big server");

/* The high halves of a TCP connection's 64-bit values, for the few that need them: by the
 * address of its struct tcp (an entry of the pool does not move). */
struct wide {
	struct hnode hn;
	uint32_t hi[W_N];
};

/* The pool of struct tcp: blocks of TCP_BLOCK entries, allocated as they are needed. */
#define TCP_SHIFT 12
#define TCP_BLOCK (1u << TCP_SHIFT)

/* A TCP connection that closed (or was ended), for two periods, by the same hash: the last
 * at each address (the kernel gives a socket's memory to the next one at once, and churn
 * closes thousands at one address within two periods). */
struct tomb {
	struct hnode hn;
	struct tomb *next; /* the next tombstone, in the order they were made */
	uint64_t period;   /* closed in this period */
	uint32_t peer;
	uint16_t lport, rport;
	uint8_t bits;
	bool unhashed; /* a later one at its address took its place: freed in its turn */
};

struct usock;

/* A UDP flow: one socket and one peer. */
struct udp {
	struct hnode hn;
	struct tt_udp_key ukey;
	struct udp *sock_next; /* the next flow of the same socket */
	struct usock *us;
	uint64_t flow;
	struct conn_id id;
	struct conn_counters c; /* as last written */
	uint64_t last_active;	/* monotonic ns of the last datagram */
	struct tt_owner owner;
	uint8_t flags;
	bool owner_known, written, hidden;
};

/* A UDP socket: its flows, and whether an iterator pass still sees it. */
struct usock {
	struct hnode hn;
	uint64_t sock;
	uint16_t lport;
	uint32_t netns;
	uint64_t created_pass, seen_pass;
	struct udp *flows;
	struct usock *released_next; /* released: its flows end after the next read of them */
	bool released;
};

/* A name written once: IFNAME by (netns, ifindex), CGROUP by id. */
struct seen {
	struct hnode h;
	uint64_t key;
};

struct xlate {
	struct xlate_config cfg;
	struct xlate_ops ops;
	/* TCP connections: the pool, by index (0: none; indexes below tcp_nidx handed out, the
	 * unused ones linked from tcp_free_idx), and the table, chains of indexes from tcp_b
	 * (lib/htab.h's rules, with indexes for pointers: a power of two of buckets, as many as
	 * entries at least, a new entry first in its chain, the same order of visit) */
	struct tcp **tcp_blocks;
	size_t tcp_nblocks, tcp_blocks_cap;
	uint32_t tcp_nidx, tcp_free_idx;
	uint32_t *tcp_b;
	size_t tcp_nb, tcp_n;
	struct htab wide; /* struct wide */
	struct htab tombs, udp, socks;
	uint64_t next_flow;
	uint64_t period;     /* TCP periods so far */
	uint64_t walk;	     /* walks begun so far (their low 16 bits in struct tcp's seen) */
	uint64_t tcp_walked; /* whole full walks so far: 0, what is met began before */
	bool walk_full;	     /* the walk under way reports every connection */
	uint64_t udp_pass, udp_walked;
	struct tomb *tomb_head, *tomb_tail; /* oldest first */
	struct usock *released;		    /* UDP sockets released, their flows to end */
	uint64_t last_ts;
	int error;
	struct xlate_stats st;
	struct htab ifs, cgs; /* struct seen: the IFNAME and CGROUP records written */
};

#define TOMB(n)	 container_of(n, struct tomb, hn)
#define UDP(n)	 container_of(n, struct udp, hn)
#define USOCK(n) container_of(n, struct usock, hn)

/* ---- the tables (lib/htab.h) ---- */

static uint64_t hash_ukey(const struct tt_udp_key *k)
{
	return hash_bytes(k, sizeof(*k));
}

static inline struct tcp *tcp_at(const struct xlate *x, uint32_t i)
{
	return &x->tcp_blocks[i >> TCP_SHIFT][i & (TCP_BLOCK - 1)];
}

static struct tcp *tcp_find(const struct xlate *x, uint64_t h)
{
	if (!x->tcp_nb)
		return NULL;
	for (uint32_t i = x->tcp_b[h & (x->tcp_nb - 1)]; i;) {
		struct tcp *f = tcp_at(x, i);

		if (f->hash == h)
			return f;
		i = f->next;
	}
	return NULL;
}

/* A zeroed entry of the pool (not in the table yet), with its index; NULL without memory. */
static struct tcp *tcp_alloc(struct xlate *x, uint32_t *idx)
{
	uint32_t i = x->tcp_free_idx;
	struct tcp *f;

	if (i) {
		f = tcp_at(x, i);
		x->tcp_free_idx = f->next;
	} else {
		i = x->tcp_nidx ? x->tcp_nidx : 1; /* 0 is none */
		if (i == UINT32_MAX)
			return NULL;
		if ((i >> TCP_SHIFT) >= x->tcp_nblocks) {
			struct tcp *b;

			if (VEC_RESERVE(&x->tcp_blocks, &x->tcp_blocks_cap, x->tcp_nblocks + 1))
				return NULL;
			b = calloc(TCP_BLOCK, sizeof(*b));
			if (!b)
				return NULL;
			x->tcp_blocks[x->tcp_nblocks++] = b;
		}
		x->tcp_nidx = i + 1;
		f = tcp_at(x, i);
	}
	memset(f, 0, sizeof(*f));
	*idx = i;
	return f;
}

/* The buckets are mapped, not malloc'd: the array a doubling leaves goes back to the system at
 * once, where malloc's heap kept it (0.7 MiB of the arrays before at 200,000 sockets). Zeroed,
 * or NULL. */
static uint32_t *buckets_new(size_t nb)
{
	void *b = mmap(NULL, nb * sizeof(uint32_t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return b == MAP_FAILED ? NULL : b;
}

static void buckets_free(uint32_t *b, size_t nb)
{
	if (b)
		munmap(b, nb * sizeof(uint32_t));
}

static void tcp_grow(struct xlate *x)
{
	size_t nb = x->tcp_nb ? x->tcp_nb * 2 : 1024;
	uint32_t *b;

	if (nb < x->tcp_nb || nb > (size_t)UINT32_MAX + 1)
		return;
	b = buckets_new(nb);
	if (!b)
		return; /* longer chains, still correct */
	for (size_t k = 0; k < x->tcp_nb; k++) {
		for (uint32_t i = x->tcp_b[k], next; i; i = next) {
			struct tcp *f = tcp_at(x, i);

			next = f->next;
			f->next = b[f->hash & (nb - 1)];
			b[f->hash & (nb - 1)] = i;
		}
	}
	buckets_free(x->tcp_b, x->tcp_nb);
	x->tcp_b = b;
	x->tcp_nb = nb;
}

/* Entry i (f), hash h, into the table; false without a bucket at all. */
static bool tcp_hash_add(struct xlate *x, uint32_t i, struct tcp *f, uint64_t h)
{
	if (x->tcp_n >= x->tcp_nb)
		tcp_grow(x);
	if (!x->tcp_nb)
		return false;
	f->hash = h;
	f->next = x->tcp_b[h & (x->tcp_nb - 1)];
	x->tcp_b[h & (x->tcp_nb - 1)] = i;
	x->tcp_n++;
	return true;
}

/* f out of the table, its index back to the unused ones. */
static void tcp_hash_del(struct xlate *x, struct tcp *f)
{
	for (uint32_t *p = &x->tcp_b[f->hash & (x->tcp_nb - 1)]; *p; p = &tcp_at(x, *p)->next) {
		if (tcp_at(x, *p) == f) {
			uint32_t i = *p;

			*p = f->next;
			x->tcp_n--;
			f->next = x->tcp_free_idx;
			x->tcp_free_idx = i;
			return;
		}
	}
}

/* ---- a TCP connection's 64-bit values ---- */

static struct wide *wide_find(const struct xlate *x, const struct tcp *f)
{
	uint64_t h = hash_u64((uintptr_t)f);
	struct hnode *n;

	/* hash_u64 is a bijection: the hash is the address */
	htab_for_hash(&x->wide, n, h) return container_of(n, struct wide, hn);
	return NULL;
}

static void wide_get(const struct xlate *x, const struct tcp *f, uint64_t v[W_N])
{
	const struct wide *w = f->bits & T_WIDE ? wide_find(x, f) : NULL;

	for (int i = 0; i < W_N; i++)
		v[i] = f->lo[i];
	if (w)
		for (int i = 0; i < W_N; i++)
			v[i] |= (uint64_t)w->hi[i] << 32;
}

/* Values v into f; the first high half that is not 0 takes a side entry (-ENOMEM without). */
static void wide_set(struct xlate *x, struct tcp *f, const uint64_t v[W_N])
{
	struct wide *w = f->bits & T_WIDE ? wide_find(x, f) : NULL;
	uint32_t hi = 0;

	for (int i = 0; i < W_N; i++) {
		f->lo[i] = (uint32_t)v[i];
		hi |= (uint32_t)(v[i] >> 32);
	}
	if (!w && hi) {
		w = malloc(sizeof(*w));
		if (!w) {
			x->error = -ENOMEM;
			return;
		}
		htab_add(&x->wide, &w->hn, hash_u64((uintptr_t)f));
		f->bits |= T_WIDE;
	}
	if (w)
		for (int i = 0; i < W_N; i++)
			w->hi[i] = (uint32_t)(v[i] >> 32);
}

/* f's side entry, if any, goes (f is freed or reused). */
static void wide_drop(struct xlate *x, struct tcp *f)
{
	struct wide *w = f->bits & T_WIDE ? wide_find(x, f) : NULL;

	if (w) {
		htab_del(&x->wide, &w->hn);
		free(w);
	}
	f->bits &= ~T_WIDE;
}

static uint64_t tcp_flow(const struct xlate *x, const struct tcp *f)
{
	uint64_t v[W_N];

	if (!(f->bits & T_WIDE))
		return f->lo[W_FLOW];
	wide_get(x, f, v);
	return v[W_FLOW];
}

/* The counters as last written. */
static void tcp_get_c(const struct xlate *x, const struct tcp *f, struct conn_counters *c)
{
	uint64_t v[W_N];

	wide_get(x, f, v);
	c->bytes_in = v[W_BYTES_IN];
	c->bytes_out = v[W_BYTES_OUT];
	c->pkts_in = v[W_PKTS_IN];
	c->pkts_out = v[W_PKTS_OUT];
	c->srtt_us = f->srtt_us;
	c->retrans = f->retrans;
}

/* The flow id (and counters c, NULL: unchanged) as written. */
static void tcp_set(struct xlate *x, struct tcp *f, uint64_t flow, const struct conn_counters *c)
{
	uint64_t v[W_N];

	wide_get(x, f, v);
	v[W_FLOW] = flow;
	if (c) {
		v[W_BYTES_IN] = c->bytes_in;
		v[W_BYTES_OUT] = c->bytes_out;
		v[W_PKTS_IN] = c->pkts_in;
		v[W_PKTS_OUT] = c->pkts_out;
		f->srtt_us = c->srtt_us;
		f->retrans = c->retrans;
	}
	wide_set(x, f, v);
}

static void tcp_set_c(struct xlate *x, struct tcp *f, const struct conn_counters *c)
{
	if (!(f->bits & T_WIDE) &&
	    !((c->bytes_in | c->bytes_out | c->pkts_in | c->pkts_out) >> 32)) {
		/* the usual case, every walk of a busy host: no high half */
		f->lo[W_BYTES_IN] = (uint32_t)c->bytes_in;
		f->lo[W_BYTES_OUT] = (uint32_t)c->bytes_out;
		f->lo[W_PKTS_IN] = (uint32_t)c->pkts_in;
		f->lo[W_PKTS_OUT] = (uint32_t)c->pkts_out;
		f->srtt_us = c->srtt_us;
		f->retrans = c->retrans;
		return;
	}
	tcp_set(x, f, tcp_flow(x, f), c);
}

static struct udp *udp_find(struct xlate *x, const struct tt_udp_key *k)
{
	struct hnode *n;

	htab_for_hash(&x->udp, n,
		      hash_ukey(k)) if (!memcmp(&UDP(n)->ukey, k, sizeof(*k))) return UDP(n);
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

static bool wanted(const struct xlate *x, uint16_t lport, uint16_t rport, const struct tt_owner *o)
{
	if (x->cfg.port && lport != x->cfg.port && rport != x->cfg.port)
		return false;
	if (x->cfg.pid && (!o || o->pid != x->cfg.pid))
		return false;
	return true;
}

/* OPEN: the connection's identity, owner (NULL: none known), first counters and figures (NULL:
 * none). */
static void put_open(struct xlate *x, const struct conn_id *id, uint8_t state, uint8_t flags,
		     const struct tt_owner *o, const struct conn_counters *c,
		     const struct tcp_figs *n, uint64_t ts)
{
	struct rec r = { .type = REC_CONN_OPEN };
	struct rec_conn_open *op = &r.u.open;

	put_ifname(x, id->netns, id->ifindex, NULL);
	if (o)
		put_cgroup(x, o->cgroup);
	op->ts = ts;
	op->id = *id;
	op->state = state;
	op->flags = flags;
	if (o) {
		op->pid = o->pid;
		memcpy(op->comm, o->comm, COMM_LEN);
		op->cgroup_id = o->cgroup;
	} else {
		op->flags |= CONN_F_NO_OWNER;
	}
	op->c = *c;
	if (n) {
		op->has_figs = 1;
		op->figs = *n;
	}
	put(x, &r);
}

static void put_owner(struct xlate *x, uint64_t flow, const struct tt_owner *o, uint64_t ts)
{
	struct rec r = { .type = REC_CONN_OWNER };

	put_cgroup(x, o->cgroup);
	r.u.owner.ts = ts;
	r.u.owner.flow = flow;
	r.u.owner.pid = o->pid;
	memcpy(r.u.owner.comm, o->comm, COMM_LEN);
	r.u.owner.cgroup_id = o->cgroup;
	put(x, &r);
}

/* SAMPLE when the counters differ from those last written (*last) or the figures moved, with
 * the figures n (NULL: none read); a connection not written yet keeps the counters for its
 * OPEN. True when it wrote one. */
static bool put_sample(struct xlate *x, uint64_t flow, bool written, struct conn_counters *last,
		       const struct conn_counters *c, const struct tcp_figs *n, bool figs_moved,
		       uint64_t ts)
{
	struct rec r = { .type = REC_CONN_SAMPLE };

	if (!memcmp(last, c, sizeof(*c)) && !figs_moved)
		return false;
	*last = *c;
	if (!written)
		return false;
	r.u.sample.ts = ts;
	r.u.sample.flow = flow;
	r.u.sample.c = *c;
	if (n) {
		r.u.sample.has_figs = 1;
		r.u.sample.figs = *n;
	}
	put(x, &r);
	return true;
}

static void put_state(struct xlate *x, uint64_t flow, bool written, uint8_t *last, uint8_t state,
		      uint64_t ts)
{
	struct rec r = { .type = REC_CONN_STATE };

	if (*last == state)
		return;
	if (written) {
		r.u.state.ts = ts;
		r.u.state.flow = flow;
		r.u.state.old_state = *last;
		r.u.state.new_state = state;
		put(x, &r);
	}
	*last = state;
}

/* CLOSE with the last counters and the figures of the report that closes it (NULL: none). */
static void put_close(struct xlate *x, uint64_t flow, bool written, uint8_t state,
		      const struct conn_counters *c, const struct tcp_figs *n, uint64_t ts)
{
	struct rec r = { .type = REC_CONN_CLOSE };

	if (!written)
		return;
	r.u.close.ts = ts;
	r.u.close.flow = flow;
	r.u.close.state = state;
	r.u.close.c = *c;
	if (n) {
		r.u.close.has_figs = 1;
		r.u.close.figs = *n;
	}
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

/* The figures e brings for f (n), as the stream carries them: false when it brings none or
 * their clocks are behind those last read (a stale read: f untouched). The clocks continue
 * f's (its first figures: from e's) and are kept in f; in milliseconds as tcp_get_info()
 * reckons them, USEC_PER_SEC / HZ a jiffy (3333 us at HZ 300), written modulo 2^32; 0 while
 * HZ is unknown (the header says tcp-limits). */
static bool tcp_figs(const struct xlate *x, struct tcp *f, const struct tt_event *e,
		     struct tcp_figs *n)
{
	const struct tt_tcp_figs *t = &e->f;
	const uint32_t raw[3] = { t->busy, t->rwnd, t->sndbuf };
	uint64_t c[3], rate = 0;

	if (!x->cfg.figs || !(e->flags & TT_F_FIGS))
		return false;
	for (int i = 0; i < 3; i++)
		if (!(f->bits & T_CLOCKS))
			c[i] = raw[i];
		else if (!unwrap32(&c[i], (uint64_t)f->clk_hi[i] << 32 | f->clk[i], raw[i]))
			return false;
	for (int i = 0; i < 3; i++) {
		f->clk[i] = (uint32_t)c[i];
		f->clk_hi[i] = (uint8_t)(c[i] >> 32);
	}
	f->bits |= T_CLOCKS;
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

/* The hash struct tcp keeps of figures written. Two different ones hash alike once in 2^32:
 * that change is then written with the next one, or with the close. */
static uint32_t figs_hash(const struct tcp_figs *n)
{
	return (uint32_t)hash_bytes(n, sizeof(*n));
}

/* Figures n (NULL: none) now in the stream for f. */
static void figs_written(struct tcp *f, const struct tcp_figs *n)
{
	if (!n)
		return;
	f->figs_hash = figs_hash(n);
	f->bits |= T_FIGS;
}

static uint64_t next_flow(struct xlate *x)
{
	return ++x->next_flow;
}

/* ---- TCP ---- */

static void id_from_event(struct conn_id *id, const struct tt_event *e, uint64_t flow)
{
	memset(id, 0, sizeof(*id));
	id->flow = flow;
	id->proto = PROTO_TCP;
	id->cookie = e->cookie;
	id->netns = e->netns;
	id->ifindex = e->ifindex;
	id->family = e->family;
	id->lport = e->lport;
	id->rport = e->rport;
	memcpy(id->laddr, e->laddr, 16);
	memcpy(id->raddr, e->raddr, 16);
}

/* The peer as struct tcp keeps it: an IPv4 address exactly, an IPv6 one by a 32-bit hash. */
static uint32_t peer_of(const struct tt_event *e)
{
	uint32_t a;

	if (e->family == AF_INET6_)
		return (uint32_t)hash_bytes(e->raddr, 16);
	memcpy(&a, e->raddr, 4);
	return a;
}

/* The socket a record names is the one we know (ports, peer), or a new one at its address. A
 * port of 0 is one not chosen yet (connect() before its bind) or given back (closing). */
static bool same_peer(uint16_t lport, uint16_t rport, uint32_t peer, uint16_t bits,
		      const struct tt_event *e)
{
	return (lport == e->lport || !lport || !e->lport) && rport == e->rport &&
	       !!(bits & T_V6) == (e->family == AF_INET6_) && peer == peer_of(e);
}

static bool same_tcp(const struct tcp *f, const struct tt_event *e)
{
	return same_peer(f->lport, f->rport, f->peer, f->bits, e);
}

/* The tombstone of the socket e names, if it closed in the last two periods. */
static bool tomb_of(const struct xlate *x, uint64_t h, const struct tt_event *e)
{
	struct hnode *n;

	htab_for_hash(&x->tombs, n, h) if (same_peer(TOMB(n)->lport, TOMB(n)->rport, TOMB(n)->peer,
						     TOMB(n)->bits, e)) return true;
	return false;
}

static uint32_t owner_tag(const struct tt_owner *o)
{
	return (uint32_t)hash_u64x2(o->cgroup, hash_bytes(o->comm, COMM_LEN));
}

static bool is_ours(const struct tcp *f)
{
	return !(f->bits & T_FOREIGN);
}

/* OPEN from the report in hand (e: the identity), with the owner (NULL: none) and figures
 * (NULL: none) it brings, once the connection passes the filters; with --pid, one whose owner
 * is not known yet waits (hidden) until a report brings it. */
static void tcp_open(struct xlate *x, struct tcp *f, const struct tt_event *e,
		     const struct tt_owner *o, const struct tcp_figs *n)
{
	struct conn_counters c;
	struct conn_id id;

	if (f->bits & T_WRITTEN)
		return;
	if (!wanted(x, e->lport, e->rport, o)) {
		f->bits |= T_HIDDEN;
		return;
	}
	f->bits = (f->bits & ~T_HIDDEN) | T_WRITTEN;
	id_from_event(&id, e, tcp_flow(x, f));
	tcp_get_c(x, f, &c);
	put_open(x, &id, f->state, f->bits & T_BEGUN ? CONN_F_BEGUN_BEFORE : 0, o, &c, n, e->ts);
	figs_written(f, n);
}

static const struct tt_owner *owner_in(const struct tt_event *e)
{
	return e->flags & TT_F_OWNER ? &e->owner : NULL;
}

/* The owner a report brings: OWNER when it differs from the one known; a connection that
 * waited for its owner is opened, with the figures n of the report (NULL: none). */
static void set_owner(struct xlate *x, struct tcp *f, const struct tt_event *e,
		      const struct tcp_figs *n)
{
	const struct tt_owner *o = &e->owner;
	uint32_t tag = owner_tag(o);

	if ((f->bits & T_OWNER) && f->pid == o->pid && f->owner_tag == tag)
		return;
	if (!(f->bits & T_OWNER) && is_ours(f))
		x->st.unowned--;
	f->bits |= T_OWNER;
	f->pid = o->pid;
	f->owner_tag = tag;
	if (!(f->bits & T_WRITTEN))
		tcp_open(x, f, e, o, n);
	else
		put_owner(x, tcp_flow(x, f), o, e->ts);
}

/* SAMPLE of a TCP connection whose counters as last written are *last: counters c and figures
 * n (NULL: none read), when either moved. */
static void tcp_sample(struct xlate *x, struct tcp *f, struct conn_counters *last,
		       const struct conn_counters *c, const struct tcp_figs *n, uint64_t ts)
{
	bool moved = n && (!(f->bits & T_FIGS) || f->figs_hash != figs_hash(n));
	bool changed = memcmp(last, c, sizeof(*c)) != 0;

	if (!changed && !moved)
		return;
	if (changed)
		tcp_set_c(x, f, c);
	if (put_sample(x, tcp_flow(x, f), f->bits & T_WRITTEN, last, c, n, moved, ts))
		figs_written(f, n);
}

/* A connection met for the first time: in the table, or in *tmp (not NULL), a connection that
 * is written and forgotten at once (its side entry, if any, dropped by the caller). */
static struct tcp *tcp_new(struct xlate *x, struct tcp *tmp, uint64_t h, const struct tt_event *e,
			   uint8_t flags)
{
	struct conn_counters c;
	uint32_t idx = 0;
	struct tcp *f = tmp;

	if (f)
		memset(f, 0, sizeof(*f));
	else if (!(f = tcp_alloc(x, &idx))) {
		x->error = -ENOMEM;
		return NULL;
	}
	f->lport = e->lport;
	f->rport = e->rport;
	f->peer = peer_of(e);
	f->bits = (e->family == AF_INET6_ ? T_V6 : 0) |
		  (e->netns != x->cfg.own_netns ? T_FOREIGN : 0) |
		  (flags & CONN_F_BEGUN_BEFORE ? T_BEGUN : 0);
	f->state = e->state;
	f->seen = (uint16_t)x->walk;
	tcp_counters(&c, NULL, &e->c);
	tcp_set(x, f, next_flow(x), &c);
	if (e->flags & TT_F_OWNER) {
		f->bits |= T_OWNER;
		f->pid = e->owner.pid;
		f->owner_tag = owner_tag(&e->owner);
	}
	/* the name now: one of another namespace is only in what the kernel reports */
	put_ifname(x, e->netns, e->ifindex, e->ifname);
	if (tmp)
		return f;
	if (!tcp_hash_add(x, idx, f, h)) {
		/* no bucket at all: as htab_add, the entry is not tracked */
		wide_drop(x, f);
		f->next = x->tcp_free_idx;
		x->tcp_free_idx = idx;
		x->error = -ENOMEM;
		return NULL;
	}
	x->st.conns++;
	if (!(f->bits & T_OWNER)) {
		x->st.unowned_new++;
		if (is_ours(f))
			x->st.unowned++;
	}
	return f;
}

static void tcp_free(struct xlate *x, struct tcp *f)
{
	if (!(f->bits & T_OWNER) && is_ours(f))
		x->st.unowned--;
	wide_drop(x, f);
	tcp_hash_del(x, f);
	x->st.conns--;
}

/* A tombstone for two periods. Without memory for one, a late report of the connection may
 * open it again: the run ends anyway (-ENOMEM). */
static void tomb_make(struct xlate *x, uint64_t h, const struct tcp *f)
{
	struct tomb *t = malloc(sizeof(*t));
	struct hnode *n;

	if (!t) {
		x->error = -ENOMEM;
		return;
	}
	*t = (struct tomb){ .period = x->period,
			    .peer = f->peer,
			    .lport = f->lport,
			    .rport = f->rport,
			    .bits = (uint8_t)(f->bits & T_V6) };
	htab_for_hash(&x->tombs, n, h)
	{
		htab_del(&x->tombs, n);
		TOMB(n)->unhashed = true;
		x->st.tombs--;
		break;
	}
	htab_add(&x->tombs, &t->hn, h);
	x->st.tombs++;
	if (x->tomb_tail)
		x->tomb_tail->next = t;
	else
		x->tomb_head = t;
	x->tomb_tail = t;
}

/* A closed (or ended) connection leaves the table, and a tombstone. */
static void tomb_add(struct xlate *x, struct tcp *f)
{
	tomb_make(x, f->hash, f);
	tcp_free(x, f);
}

static void tomb_expire(struct xlate *x)
{
	struct tomb *t;

	while ((t = x->tomb_head) && x->period >= t->period + 2) {
		x->tomb_head = t->next;
		if (!x->tomb_head)
			x->tomb_tail = NULL;
		if (!t->unhashed) {
			htab_del(&x->tombs, &t->hn);
			x->st.tombs--;
		}
		free(t);
	}
}

static void met(struct xlate *x, struct tcp *f)
{
	f->seen = (uint16_t)x->walk;
	f->bits &= ~T_MISSED;
}

static void tcp_report(struct xlate *x, const struct tt_event *e, uint8_t flags)
{
	uint64_t h = hash_u64(e->sock);
	struct tcp *f = tcp_find(x, h);
	struct conn_counters c, last;
	struct tcp_figs n;
	bool written, figs;

	if (f && !same_tcp(f, e) && e->state != TCP_SYN_SENT /* ports may still change */) {
		if (tomb_of(x, h, e))
			return; /* a late report of the socket that lived here before ours */
		/* another socket lives at the address: ours went */
		tcp_get_c(x, f, &c);
		put_close(x, tcp_flow(x, f), f->bits & T_WRITTEN, f->state, &c, NULL, e->ts);
		x->st.evicted++;
		tcp_free(x, f);
		f = NULL;
	}
	if (!f) {
		if (tomb_of(x, h, e))
			return; /* met by the iterator just before it went away */
		f = tcp_new(x, NULL, h, e, flags);
		if (f) {
			figs = tcp_figs(x, f, e, &n);
			tcp_open(x, f, e, owner_in(e), figs ? &n : NULL);
			met(x, f);
		}
		return;
	}
	met(x, f);
	tcp_get_c(x, f, &last);
	if (!tcp_counters(&c, &last, &e->c))
		return; /* older than what was written: changes nothing */
	figs = tcp_figs(x, f, e, &n);
	written = f->bits & T_WRITTEN;
	if (!written) {
		tcp_set_c(x, f, &c); /* an OPEN still to come carries the newest counters */
		last = c;
	}
	if (e->flags & TT_F_OWNER)
		set_owner(x, f, e, figs ? &n : NULL);
	written = f->bits & T_WRITTEN;
	put_state(x, tcp_flow(x, f), written, &f->state, e->state, e->ts);
	tcp_sample(x, f, &last, &c, figs ? &n : NULL, e->ts);
}

/* The close of a socket we never met at an address where another lives on (or met none):
 * OPEN in the state it was last in, STATE, CLOSE. */
static void tcp_born_closed(struct xlate *x, uint64_t h, const struct tt_event *e, bool tomb)
{
	struct tt_event o = *e;
	struct conn_counters c;
	struct tcp_figs n;
	struct tcp tmp, *g;
	uint64_t flow;
	bool figs;

	o.state = e->old_state;
	g = tcp_new(x, &tmp, h, &o, x->period ? 0 : CONN_F_BEGUN_BEFORE);
	figs = tcp_figs(x, g, e, &n);
	tcp_open(x, g, &o, owner_in(e), figs ? &n : NULL);
	flow = tcp_flow(x, g);
	tcp_get_c(x, g, &c);
	put_state(x, flow, g->bits & T_WRITTEN, &g->state, e->state, e->ts);
	put_close(x, flow, g->bits & T_WRITTEN, g->state, &c, figs ? &n : NULL, e->ts);
	if (tomb)
		tomb_make(x, h, g);
	wide_drop(x, g);
}

static void tcp_closed(struct xlate *x, const struct tt_event *e)
{
	uint64_t h = hash_u64(e->sock);
	struct tcp *f = tcp_find(x, h);
	struct conn_counters c, last;
	struct tcp_figs n;
	uint64_t flow;
	bool written, figs;

	if (f && !same_tcp(f, e)) {
		/* the close of one ended already, or of another socket than the one we know at
		 * this address, one we never met, while ours lives on */
		if (!tomb_of(x, h, e))
			tcp_born_closed(x, h, e, false);
		return;
	}
	if (!f) {
		/* the close of one ended already, or of one opened and closed between two
		 * reads of the kernel */
		if (!tomb_of(x, h, e))
			tcp_born_closed(x, h, e, true);
		return;
	}
	figs = tcp_figs(x, f, e, &n);
	if (e->flags & TT_F_OWNER)
		set_owner(x, f, e, figs ? &n : NULL);
	written = f->bits & T_WRITTEN;
	tcp_get_c(x, f, &last);
	if (tcp_counters(&c, &last, &e->c))
		tcp_sample(x, f, &last, &c, figs ? &n : NULL, e->ts);
	flow = tcp_flow(x, f);
	tcp_get_c(x, f, &c);
	put_state(x, flow, written, &f->state, e->state, e->ts);
	put_close(x, flow, written, f->state, &c, figs ? &n : NULL, e->ts);
	tomb_add(x, f);
}

/* ---- UDP ---- */

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

static void udp_socket(struct xlate *x, const struct tt_event *e)
{
	struct usock *s = sock_find(x, e->sock);

	if (s && s->released)
		return; /* released: its flows end after the next read */
	if (s && s->lport != e->lport) {
		s->seen_pass = 0; /* another socket at the address: the old one went */
		s->created_pass = 0;
		s = NULL;
	}
	if (!s && !(s = usock_new(x, e->sock, e->lport, e->netns)))
		return;
	s->seen_pass = x->udp_pass;
	/* a connected socket that existed before the collector: its flow, counted from now */
	if (!x->udp_walked && e->rport) {
		struct tt_udp_key k = {
			.sock = e->sock, .lport = e->lport, .rport = e->rport, .family = e->family
		};
		struct tt_udp_val v = { .netns = e->netns, .ifindex = e->ifindex };

		memcpy(k.laddr, e->laddr, 16);
		memcpy(k.raddr, e->raddr, 16);
		if (e->flags & TT_F_OWNER)
			v.owner = e->owner;
		v.last_ts = e->ts;
		udp_flow(x, &k, &v, e->ts, CONN_F_BEGUN_BEFORE);
	}
}

/* A socket released (in any namespace): one whose flows are not read yet is made now, and they
 * join it when read. */
static void udp_released(struct xlate *x, const struct tt_event *e)
{
	struct usock *s = sock_find(x, e->sock);

	if (!s && !(s = usock_new(x, e->sock, e->lport, 0)))
		return;
	if (!s->released) {
		s->released = true;
		s->released_next = x->released;
		x->released = s;
	}
}

void xlate_prefetch(const struct xlate *x, const struct tt_event *e, bool node)
{
	const uint32_t *slot;

	if (!x->tcp_nb || (e->type != TT_IT_TCP && e->type != TT_POLLED))
		return;
	slot = &x->tcp_b[hash_u64(e->sock) & (x->tcp_nb - 1)];
	if (!node)
		__builtin_prefetch(slot);
	else if (*slot)
		__builtin_prefetch(tcp_at(x, *slot));
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
	case TT_EV_UDP_RELEASE:
		if (x->cfg.want_udp)
			udp_released(x, e);
		break;
	case TT_IT_UDP:
		if (x->cfg.want_udp)
			udp_socket(x, e);
		break;
	}
	return x->error;
}

void xlate_tcp_period(struct xlate *x)
{
	x->period++;
	tomb_expire(x);
}

void xlate_tcp_walk_begin(struct xlate *x, bool full)
{
	x->walk++;
	x->walk_full = full;
}

int xlate_tcp_walk_end(struct xlate *x, uint64_t now, bool whole)
{
	uint16_t walk = (uint16_t)x->walk;

	if (!x->walk_full || !whole)
		return x->error; /* what it did not meet may still be there */
	x->tcp_walked++;
	x->st.suspects = 0;
	for (size_t k = 0; k < x->tcp_nb; k++) {
		for (uint32_t i = x->tcp_b[k], next; i; i = next) {
			struct tcp *f = tcp_at(x, i);
			struct conn_counters c;

			next = f->next; /* f may go */
			if (f->seen == walk || !is_ours(f))
				continue;
			/* missed once: the next walk, due at once, decides */
			if (!(f->bits & T_MISSED)) {
				f->bits |= T_MISSED;
				x->st.suspects++;
				continue;
			}
			/* the kernel no longer has it and no close came: the close was lost */
			tcp_get_c(x, f, &c);
			put_close(x, tcp_flow(x, f), f->bits & T_WRITTEN, f->state, &c, NULL, now);
			x->st.evicted++;
			tomb_add(x, f);
		}
	}
	return x->error;
}

static void udp_end(struct xlate *x, struct udp *f, uint64_t ts)
{
	struct tt_udp_val v;
	struct conn_counters c = f->c;

	if (x->ops.udp_final && !x->ops.udp_final(x->ops.ctx, &f->ukey, &v)) {
		c.bytes_in = v.bytes_in;
		c.bytes_out = v.bytes_out;
		c.pkts_in = v.pkts_in;
		c.pkts_out = v.pkts_out;
		put_sample(x, f->flow, f->written, &f->c, &c, NULL, false, ts);
	}
	put_close(x, f->flow, f->written, 0, &f->c, NULL, ts);
	if (f->us) {
		for (struct udp **p = &f->us->flows; *p; p = &(*p)->sock_next) {
			if (*p == f) {
				*p = f->sock_next;
				break;
			}
		}
	}
	htab_del(&x->udp, &f->hn);
	x->st.conns--;
	x->st.udp_flows--;
	free(f);
}

static void usock_end(struct xlate *x, struct usock *s, uint64_t now)
{
	while (s->flows)
		udp_end(x, s->flows, now);
	if (x->ops.forget_owner)
		x->ops.forget_owner(x->ops.ctx, s->sock);
	htab_del(&x->socks, &s->hn);
	free(s);
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
		    s->netns != x->cfg.own_netns || s->released)
			continue;
		/* the socket went away: its flows end with their final counts */
		usock_end(x, s, now);
	}
	return x->error;
}

/* Released sockets: their flows, read since (and one first met in that read), end now. */
int xlate_udp_released(struct xlate *x, uint64_t now)
{
	while (x->released) {
		struct usock *s = x->released;

		x->released = s->released_next;
		usock_end(x, s, now);
	}
	return x->error;
}

static void udp_flow(struct xlate *x, const struct tt_udp_key *k, const struct tt_udp_val *v,
		     uint64_t now, uint8_t flags)
{
	struct udp *f = udp_find(x, k);
	struct conn_counters c = { 0 };
	struct usock *s;

	if (!x->cfg.want_udp)
		return;
	c.bytes_in = v->bytes_in;
	c.bytes_out = v->bytes_out;
	c.pkts_in = v->pkts_in;
	c.pkts_out = v->pkts_out;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			x->error = -ENOMEM;
			return;
		}
		f->flow = next_flow(x);
		f->ukey = *k;
		f->flags = flags;
		f->id.flow = f->flow;
		f->id.proto = PROTO_UDP;
		f->id.netns = v->netns;
		f->id.ifindex = v->ifindex;
		f->id.family = k->family;
		f->id.lport = k->lport;
		f->id.rport = k->rport;
		memcpy(f->id.laddr, k->laddr, 16);
		memcpy(f->id.raddr, k->raddr, 16);
		if (v->owner.pid) {
			f->owner_known = true;
			f->owner = v->owner;
		}
		f->last_active = v->last_ts ? v->last_ts : now;
		htab_add(&x->udp, &f->hn, hash_ukey(k));
		x->st.conns++;
		x->st.udp_flows++;
		s = sock_find(x, k->sock);
		if (!s && !(s = usock_new(x, k->sock, k->lport, v->netns)))
			return;
		f->us = s;
		f->sock_next = s->flows;
		s->flows = f;
		/* OPEN with zero counters, then a SAMPLE: the datagrams belong to this period */
		f->hidden = !wanted(x, f->id.lport, f->id.rport, f->owner_known ? &f->owner : NULL);
		if (!f->hidden) {
			f->written = true;
			put_open(x, &f->id, 0, f->flags, f->owner_known ? &f->owner : NULL, &f->c,
				 NULL, now);
		}
	}
	if (v->last_ts > f->last_active)
		f->last_active = v->last_ts;
	put_sample(x, f->flow, f->written, &f->c, &c, NULL, false, now);
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
		struct udp *f = UDP(n);

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
	x->tcp_b = buckets_new(1024);
	x->tcp_nb = x->tcp_b ? 1024 : 0;
	if (!x->tcp_b || htab_init(&x->wide, 16) || htab_init(&x->tombs, 64) ||
	    htab_init(&x->udp, 1024) || htab_init(&x->socks, 1024) || htab_init(&x->ifs, 16) ||
	    htab_init(&x->cgs, 16)) {
		xlate_free(x);
		return NULL;
	}
	return x;
}

void xlate_free(struct xlate *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->tcp_nblocks; i++)
		free(x->tcp_blocks[i]);
	free(x->tcp_blocks);
	buckets_free(x->tcp_b, x->tcp_nb);
	htab_each(&x->wide, n) free(container_of(n, struct wide, hn));
	for (struct tomb *t = x->tomb_head, *next; t; t = next) {
		next = t->next;
		free(t);
	}
	htab_each(&x->udp, n) free(UDP(n));
	htab_each(&x->socks, n) free(USOCK(n));
	htab_each(&x->ifs, n) free(container_of(n, struct seen, h));
	htab_each(&x->cgs, n) free(container_of(n, struct seen, h));
	htab_free(&x->wide);
	htab_free(&x->tombs);
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
