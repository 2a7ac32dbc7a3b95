// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop's BPF programs. The TCP path runs no program per packet, and per call only a test of
 * one field of the socket: the kernel already keeps exact per-connection counters in struct
 * tcp_sock. They are read in two ways. The polled map holds the connections read every period
 * (rf__polled, run on demand, or it__polled): other namespaces' from their establishment, and
 * ours while they are active: a socket is activated (socket storage marks it, an entry in the
 * polled map describes it) by its establishment or by its first send or receive call since it
 * was last found quiet (tp__*_act, st__activate). iter/tcp walks every connection of our
 * namespace, as seldom as its cost asks: it finds what no call announced, and ends the
 * polling of the quiet ones. Without the send/recv tracepoints, iter/tcp reads every
 * connection each period (only those that changed, where socket storage is allowed). The
 * state tracepoint sends the final counters at the close. UDP has no such counters, so each
 * datagram is counted per socket and peer by one of three backends: the send/recv length
 * tracepoints (tp__*, returning at once for anything but UDP) with the cgroup sendmsg/recvmsg
 * hooks naming the peer of unconnected sockets (cg__*), or fexit (fe__*) or kprobes (kp__*)
 * on the UDP functions. Owners come from the connect (SYN_SENT) and accept paths, and at
 * start from iter/task_file.
 *
 * Program names carry their mechanism; tcptop-collect/probe.c chooses and disables the rest
 * before load, one feature at a time.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcptop.h"

#define AF_INET	    2
#define AF_INET6    10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define MSG_PEEK    2
#define S_IFMT	    00170000
#define S_IFSOCK    0140000
#define EEXIST	    17
#define E2BIG	    7

enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT,
	TCP_SYN_RECV,
	TCP_FIN_WAIT1,
	TCP_FIN_WAIT2,
	TCP_TIME_WAIT,
	TCP_CLOSE,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
	TCP_LISTEN,
	TCP_CLOSING,
	TCP_NEW_SYN_RECV,
};

char LICENSE[] SEC("license") = "GPL";

/* Load-time configuration (set by tcptop-collect between open and load). */
const volatile __u8 want_tcp = 1;
const volatile __u8 want_udp = 1;
const volatile __u8 use_sk_storage = 0;	    /* iter/tcp reports only what changed */
const volatile __u8 activation = 0;	    /* sockets are polled while active */
const volatile __u64 quiet_ns = 2000000000; /* ... and quiet after this long unchanged */
const volatile __u8 udp_by_tp = 0;	    /* the send/recv tracepoints count UDP */
const volatile __u32 own_netns = 0;	    /* the namespace iter/tcp and iter/udp see */
const volatile __u64 wake_bytes = 1 << 20;  /* wake the reader once this much is queued */
const volatile __u8 polled_tiers = 0;	    /* polled_more takes what polled cannot */
const volatile __u8 want_figs = 1;	    /* TCP connections' figures (TCP_FIGS) */

/* Set by user space before an iter/tcp run that must report every connection. */
volatile __u32 full_pass = 1;

/* Counted by iter/tcp with activation: sockets that carry another BPF program's socket
 * storage and none of ours, so that the send/recv tracepoints cannot tell them apart from
 * active ones. Zeroed by user space before each walk. */
volatile __u32 unmarkable;

/* Set by user space before each walk with activation: whether iter/tcp looks the owners up
 * (a lookup costs a third of a walk). Only the first walk, and walks while some connection
 * lacks an owner that the owners map may have received since, need them. */
volatile __u32 walk_owners = 1;

/* Read by user space each period (this .bss is mapped), so that a quiet host makes no
 * system call for what holds nothing: the polled map's entries (no refresh, no read when
 * none), the UDP flow table's (user space counts down what it removes), and the owners
 * recorded since start (a walk looks owners up only when some came). */
volatile __u32 npolled, npolled_more;
volatile __u32 udp_nflows;
volatile __u64 owners_added;
/* Owners taken out of the owners map by the programs (at a TCP close): room made in it. */
volatile __u64 owners_removed;
/* When a datagram was last counted, by CPU (a cache line each, so that CPUs do not take it
 * from one another): user space reads the UDP flow table only after one. */
struct tt_udp_touch udp_touch[64];
/* Written by rf__polled: the entries it refreshed, copied in its order into polled_out. */
volatile __u32 polled_read;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TT_LOSS_N);
	__type(key, __u32);
	__type(value, __u64);
} loss SEC(".maps");

/* Owner of a socket by its kernel address; removed at the TCP close or by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, __u64);
	__type(value, struct tt_owner);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tt_sk);
} sk_stor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536); /* --max-flows */
	__type(key, struct tt_udp_key);
	__type(value, struct tt_udp_val);
} udp_flows SEC(".maps");

/* Peer named by a cgroup sendmsg/recvmsg hook, by thread, until the length tracepoint of the
 * same call: one entry a thread inside a UDP call. Not an LRU map: that one may evict live
 * entries long before it is full (its free lists are per CPU) and says nothing; a full table
 * here refuses the insert, which is counted (TT_LOSS_PEERS_FULL). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tt_peer);
} udp_peer SEC(".maps");

/* TCP connections read every period, by address: other namespaces' (iter/tcp sees only
 * ours), and our active ones. A walk of a hash map visits every bucket, empty or not (65,536
 * of them cost 0.4 ms): with polled_tiers, polled is small and polled_more, as big as
 * --max-flows, takes what it cannot, and each is walked only while it holds any entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, __u64);
	__type(value, struct tt_polled);
} polled SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct tt_polled);
} polled_more SEC(".maps");

/* What rf__polled refreshed, in its order (that is time order): user space reads the first
 * polled_read entries, and no empty bucket of the polled map. Sized by --max-flows at load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tt_event);
} polled_out SEC(".maps");

static __always_inline void loss_inc(__u32 code)
{
	__u64 *c = bpf_map_lookup_elem(&loss, &code);

	if (c)
		*c += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline long wake_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes ? BPF_RB_FORCE_WAKEUP
									   : BPF_RB_NO_WAKEUP;
}

/* The current task as an owner: only where the task is the socket's user (process context). */
static __always_inline void current_owner(struct tt_owner *o)
{
	o->pid = bpf_get_current_pid_tgid() >> 32;
	o->cgroup = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

static __always_inline __u32 sk_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Identity of a connection: addresses, ports, netns, interface (bound device, else the device
 * of the cached route, else the device packets arrive on). Probe reads: any socket pointer. */
static __always_inline void fill_id(struct tt_event *e, struct sock *sk)
{
	struct net_device *dev;
	int ifindex = 0;

	e->sock = (__u64)sk;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!e->lport) /* a closing socket whose port went back to the pool */
		e->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET) {
		bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	e->netns = sk_netns(sk);
	e->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	ifindex = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	dev = BPF_CORE_READ(sk, sk_dst_cache, dev);
	if (dev) {
		int dev_index = BPF_CORE_READ(dev, ifindex);

		if (!ifindex)
			ifindex = dev_index;
		if (ifindex == dev_index)
			bpf_probe_read_kernel_str(e->ifname, sizeof(e->ifname), dev->name);
	}
	if (!ifindex) {
		if (bpf_core_field_exists(sk->sk_rx_dst_ifindex)) {
			ifindex = BPF_CORE_READ(sk, sk_rx_dst_ifindex);
		} else {
			struct inet_sock___old *inet = (void *)sk;

			ifindex = BPF_CORE_READ(inet, rx_dst_ifindex);
		}
	}
	e->ifindex = ifindex;
}

/* The kernel's counters of a TCP socket (probe reads: any pointer, any context). Bytes in are
 * those received in sequence: bytes_received counts the FIN's sequence number too, once one
 * came (SOCK_DONE, set by tcp_fin() alone; not RCV_SHUTDOWN, which close() sets as well, and
 * an orphan that closes from FIN_WAIT2 never gets the FIN). Bytes out are those sent, each
 * once: bytes_sent less retransmissions. */
static __always_inline void tcp_counters(struct tt_tcp_counters *c, struct tcp_sock *tp)
{
	struct sock *sk = (struct sock *)tp;
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);

	if (received && (flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		received--;
	c->bytes_in = received;
	c->bytes_out = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans);
	c->segs_in = BPF_CORE_READ(tp, segs_in);
	c->segs_out = BPF_CORE_READ(tp, segs_out);
	c->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	c->retrans = BPF_CORE_READ(tp, total_retrans);
}

static __always_inline void tcp_counters_direct(struct tt_tcp_counters *c, struct tcp_sock *tp)
{
	struct sock *sk = (struct sock *)tp;
	__u64 received = tp->bytes_received;

	if (received &&
	    (sk->__sk_common.skc_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		received--;
	c->bytes_in = received;
	c->bytes_out = tp->bytes_sent - tp->bytes_retrans;
	c->segs_in = tp->segs_in;
	c->segs_out = tp->segs_out;
	c->srtt_us = tp->srtt_us >> 3;
	c->retrans = tp->total_retrans;
}

static __always_inline bool same_counters(const struct tt_tcp_counters *a,
					  const struct tt_tcp_counters *b)
{
	return a->bytes_in == b->bytes_in && a->bytes_out == b->bytes_out &&
	       a->segs_in == b->segs_in && a->segs_out == b->segs_out && a->retrans == b->retrans;
}

/* An owner into the owners map, counted in owners_added when it went in. */
static __always_inline long owner_record(__u64 key, struct tt_owner *o, __u64 flags)
{
	long err = bpf_map_update_elem(&owners, &key, o, flags);

	if (!err)
		__sync_fetch_and_add(&owners_added, 1);
	return err;
}

/* The entry of a polled connection, in polled or polled_more. */
static __always_inline struct tt_polled *polled_find(__u64 key)
{
	struct tt_polled *p = bpf_map_lookup_elem(&polled, &key);

	if (!p && polled_tiers && npolled_more)
		p = bpf_map_lookup_elem(&polled_more, &key);
	return p;
}

/* An entry out of the polled maps, counted in npolled or npolled_more when it was there. */
static __always_inline void polled_delete(__u64 key)
{
	if (!bpf_map_delete_elem(&polled, &key))
		__sync_fetch_and_add(&npolled, -1);
	else if (polled_tiers && npolled_more && !bpf_map_delete_elem(&polled_more, &key))
		__sync_fetch_and_add(&npolled_more, -1);
}

enum {
	TCP_CHRONO_BUSY = 1,
	TCP_CHRONO_RWND_LIMITED,
	TCP_CHRONO_SNDBUF_LIMITED,
};

#define DIRECT(p, field)	  ((p)->field)
#define DIRECT_BITFIELD(p, field) BPF_CORE_READ_BITFIELD(p, field)

/*
 * Why the connection goes at its pace (struct tt_tcp_figs), as tcp_get_info() reports it, with
 * RD and RD_BF (a field, a bitfield) reading tp: probe reads (BPF_CORE_READ) for any pointer,
 * direct ones where the verifier knows tp. The clocks are tcp_get_info_chrono_stats()'s: each
 * kind's past time, the one running now (chrono_type) counted up to now, busy the sum of the
 * three. chrono_type is a 2-bit field up to 6.12, a byte from 6.18: the bitfield reads take
 * the running kernel's offset and size either way. Only the walk, the refresh and the close
 * read them: never the send/recv tracepoints.
 */
#define TCP_FIGS(f, tp, RD, RD_BF)                                                             \
	do {                                                                                   \
		__u32 now_ = (__u32)bpf_jiffies64(), start_ = RD(tp, chrono_start);            \
		__u32 rwnd_ = RD(tp, chrono_stat[1]), sndbuf_ = RD(tp, chrono_stat[2]);        \
		__u32 busy_ = RD(tp, chrono_stat[0]);                                          \
		__u8 type_ = RD_BF(tp, chrono_type);                                           \
                                                                                               \
		if (type_ == TCP_CHRONO_BUSY)                                                  \
			busy_ += now_ - start_;                                                \
		else if (type_ == TCP_CHRONO_RWND_LIMITED)                                     \
			rwnd_ += now_ - start_;                                                \
		else if (type_ == TCP_CHRONO_SNDBUF_LIMITED)                                   \
			sndbuf_ += now_ - start_;                                              \
		(f)->busy = busy_ + rwnd_ + sndbuf_;                                           \
		(f)->rwnd = rwnd_;                                                             \
		(f)->sndbuf = sndbuf_;                                                         \
		(f)->cwnd = RD(tp, snd_cwnd);                                                  \
		(f)->ssthresh = RD(tp, snd_ssthresh);                                          \
		(f)->reordering = RD(tp, reordering);                                          \
		(f)->in_flight = RD(tp, packets_out) - RD(tp, sacked_out) - RD(tp, lost_out) + \
				 RD(tp, retrans_out);                                          \
		(f)->unsent = RD(tp, write_seq) - RD(tp, snd_nxt);                             \
		(f)->min_rtt_us = RD(tp, rtt_min.s[0].v);                                      \
		(f)->rttvar_us = RD(tp, mdev_us) >> 2;                                         \
		(f)->rate_delivered = RD(tp, rate_delivered);                                  \
		(f)->rate_interval_us = RD(tp, rate_interval_us);                              \
		(f)->mss = RD(tp, mss_cache);                                                  \
		(f)->lost = RD(tp, lost);                                                      \
		(f)->bytes_retrans = RD(tp, bytes_retrans);                                    \
		(f)->app_limited = RD_BF(tp, rate_app_limited);                                \
	} while (0)

static __always_inline bool same_clocks(const struct tt_tcp_figs *a, const struct tt_tcp_figs *b)
{
	return a->busy == b->busy && a->rwnd == b->rwnd && a->sndbuf == b->sndbuf;
}

static __always_inline bool owner_copy(struct tt_event *e, __u64 key)
{
	struct tt_owner *o = bpf_map_lookup_elem(&owners, &key);

	if (!o)
		return false;
	e->owner = *o;
	e->flags |= TT_F_OWNER;
	return true;
}

/* ---- TCP: lifecycle from the state tracepoint ---- */

static __always_inline void tcp_close(struct sock *sk, int oldstate, __u64 key)
{
	struct tt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		loss_inc(TT_LOSS_RINGBUF);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = TT_EV_CLOSE;
	e->ts = bpf_ktime_get_ns();
	e->proto = IPPROTO_TCP;
	e->old_state = oldstate;
	e->state = TCP_CLOSE;
	fill_id(e, sk);
	tcp_counters(&e->c, (struct tcp_sock *)sk);
	if (want_figs) {
		TCP_FIGS(&e->f, (struct tcp_sock *)sk, BPF_CORE_READ,
			 BPF_CORE_READ_BITFIELD_PROBED);
		e->flags = TT_F_FIGS;
	}
	owner_copy(e, key);
	bpf_ringbuf_submit(e, wake_flag());
}

/* A connection into the polled map, described once (probe reads: any socket pointer). Not
 * inlined: its stack stays out of the programs that call it. An entry there already stays. */
static __noinline void poll_start(struct sock *sk, __u8 state, __u8 flags)
{
	struct tt_polled p = {};
	__u64 key = (__u64)sk;
	long err;

	p.e.type = TT_POLLED;
	p.e.ts = p.changed = bpf_ktime_get_ns();
	p.e.proto = IPPROTO_TCP;
	p.e.state = state;
	p.e.flags = flags;
	fill_id(&p.e, sk);
	tcp_counters(&p.e.c, (struct tcp_sock *)sk);
	owner_copy(&p.e, key);
	if (polled_tiers && npolled_more && bpf_map_lookup_elem(&polled_more, &key))
		return;
	err = bpf_map_update_elem(&polled, &key, &p, BPF_NOEXIST);
	if (!err) {
		__sync_fetch_and_add(&npolled, 1);
		return;
	}
	if (err == -E2BIG && polled_tiers) {
		err = bpf_map_update_elem(&polled_more, &key, &p, BPF_NOEXIST);
		if (!err) {
			__sync_fetch_and_add(&npolled_more, 1);
			return;
		}
	}
	if (err != -EEXIST)
		loss_inc(TT_LOSS_FLOW_FULL);
}

/* Transitions run in process context for connect() (CLOSE -> SYN_SENT) and for close() and
 * shutdown() (-> FIN_WAIT1, -> LAST_ACK), often in softirq otherwise: the current task is
 * taken only at those. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(st__state, struct sock *sk, int oldstate, int newstate)
{
	__u16 family = sk->__sk_common.skc_family;
	__u64 key = (__u64)sk;
	struct tt_owner o = {};

	if (!want_tcp || sk->sk_protocol != IPPROTO_TCP ||
	    (family != AF_INET && family != AF_INET6))
		return 0;
	if (newstate == TCP_SYN_SENT || newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK) {
		/* connect(), and close() or shutdown() of a socket whose owner is not known
		 * yet (accepted while no accept hook ran): the task holds the socket */
		if (newstate != TCP_SYN_SENT && bpf_map_lookup_elem(&owners, &key))
			return 0;
		current_owner(&o);
		if (owner_record(key, &o, BPF_ANY))
			loss_inc(TT_LOSS_OWNERS_FULL);
		return 0;
	}
	if (newstate == TCP_ESTABLISHED) {
		if (sk_netns(sk) != own_netns)
			poll_start(sk, TCP_ESTABLISHED, TT_F_NEW);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	if (oldstate != TCP_LISTEN && oldstate != TCP_CLOSE)
		tcp_close(sk, oldstate, key);
	if (!bpf_map_delete_elem(&owners, &key))
		__sync_fetch_and_add(&owners_removed, 1);
	polled_delete(key);
	return 0;
}

/* Activation: a socket with our storage is polled (the send/recv tracepoints pass over it by
 * a field of the socket itself), one without is not, and its first call makes it so. The
 * storage is made before the entry: a walk that meets storage without an entry removes it. */
static __noinline void activate(struct sock *sk, __u8 state, __u8 flags)
{
	if (state == TCP_LISTEN || state == TCP_CLOSE || state == TCP_NEW_SYN_RECV ||
	    state == TCP_TIME_WAIT)
		return; /* the close that would end its polling has passed, or never comes */
	if (bpf_sk_storage_get(&sk_stor, sk, 0, 0))
		return; /* active already (a change of state) */
	if (!bpf_sk_storage_get(&sk_stor, sk, 0, BPF_SK_STORAGE_GET_F_CREATE)) {
		loss_inc(TT_LOSS_FLOW_FULL);
		return;
	}
	poll_start(sk, state, flags);
}

/* Every state a connection of ours moves to activates it: new connections are polled from
 * their connect or establishment, and a quiet one whose peer closes is polled again. Other
 * namespaces' sockets get their storage here, so that the tracepoints pass over them
 * (st__state describes them). A program of its own: tracing programs may use socket storage
 * from 5.11 on only. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(st__activate, struct sock *sk, int oldstate, int newstate)
{
	bool fresh;

	if (sk->sk_protocol != IPPROTO_TCP || newstate == TCP_CLOSE || newstate == TCP_LISTEN ||
	    newstate == TCP_SYN_RECV)
		return 0;
	if (sk_netns(sk) != own_netns) {
		bpf_sk_storage_get(&sk_stor, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		return 0;
	}
	fresh = newstate == TCP_SYN_SENT ||
		(newstate == TCP_ESTABLISHED &&
		 (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV));
	/* the state tracepoint runs before the socket takes the new state */
	activate(sk, newstate, fresh ? TT_F_NEW : 0);
	return 0;
}

/* accept(2) returns in process context: the returned descriptor's socket belongs to the
 * caller. The fd table is read by probe (untrusted: the socket is only a key here). */
struct sys_exit_ctx {
	__u64 common;
	int nr;
	long ret;
};

static __always_inline void accepted(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt;
	struct file **fds, *file;
	struct socket *sock;
	struct tt_owner o = {};
	__u64 key;

	if (fd < 0 || !want_tcp)
		return;
	fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return;
	sock = BPF_CORE_READ(file, private_data);
	key = (__u64)BPF_CORE_READ(sock, sk);
	if (!key)
		return;
	current_owner(&o);
	if (owner_record(key, &o, BPF_ANY))
		loss_inc(TT_LOSS_OWNERS_FULL);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sc__accept4(struct sys_exit_ctx *ctx)
{
	accepted(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sc__accept(struct sys_exit_ctx *ctx)
{
	accepted(ctx->ret);
	return 0;
}

/* ---- TCP: counters once per period ---- */

/* Connections of our namespace. With activation, every one, and the polling of those quiet
 * for quiet_ns ends here (an entry without storage or storage without an entry ends too).
 * Without, every one on a full pass, else those whose counters, state or owner changed since
 * they were last written (socket storage remembers, where allowed). What was reported is
 * remembered only once bpf_seq_write() took the record: a full seq buffer makes the kernel
 * run this program again for the same socket. */
SEC("iter/tcp")
int it__tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tt_tcp_counters c = {};
	struct tt_tcp_figs f = {};
	struct tt_event e = {};
	struct tt_sk *v = 0;
	struct tcp_sock *tp;
	struct sock *sk;
	__u8 state, owned;

	if (!skc || !want_tcp)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* request and time-wait sockets */
	sk = (struct sock *)tp;
	state = sk->__sk_common.skc_state;
	if (state == TCP_LISTEN || state == TCP_CLOSE)
		return 0;
	tcp_counters_direct(&c, tp);
	if (want_figs)
		TCP_FIGS(&f, tp, DIRECT, DIRECT_BITFIELD);
	e.ts = bpf_ktime_get_ns();
	if (activation) {
		__u64 key = (__u64)sk;
		/* a socket without any program's storage is neither active nor polled: no
		 * lookup (a hash map's costs as much as the rest of this program) */
		bool stored = sk->sk_bpf_storage;
		struct tt_polled *p = stored ? polled_find(key) : 0;
		bool ours;

		/* a clock that runs is not quiet: a stalled sender's counters stand still */
		if (p && e.ts - p->changed >= quiet_ns && p->e.state == state &&
		    same_counters(&p->e.c, &c) && same_clocks(&p->e.f, &f)) {
			polled_delete(key);
			p = 0;
		}
		ours = stored && bpf_sk_storage_get(&sk_stor, sk, 0, 0) != 0;
		if (ours && !p) {
			bpf_sk_storage_delete(&sk_stor, sk);
			ours = false;
		}
		if (!ours && sk->sk_bpf_storage)
			unmarkable++;
	} else if (use_sk_storage) {
		v = bpf_sk_storage_get(&sk_stor, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		/* an owner once seen stays: the owners map is looked up until then only */
		owned = (v && v->owner_seen) || bpf_map_lookup_elem(&owners, &(__u64){ (__u64)sk });
		if (v && !full_pass && v->state == state && v->owner_seen == owned &&
		    same_counters(&v->c, &c) && v->busy == f.busy)
			return 0;
	}
	owned = (!activation || walk_owners) && owner_copy(&e, (__u64)sk);
	e.type = TT_IT_TCP;
	e.proto = IPPROTO_TCP;
	e.state = state;
	if (want_figs)
		e.flags |= TT_F_FIGS;
	fill_id(&e, sk);
	e.c = c;
	e.f = f;
	if (bpf_seq_write(ctx->meta->seq, &e, sizeof(e)) == 0 && v) {
		v->c = c;
		v->busy = f.busy;
		v->state = state;
		v->owner_seen = owned;
	}
	return 0;
}

/* The polled connections: their counters, state and owner refreshed in place (the value is
 * writable), then user space reads the map. Probe reads: the key is a plain address, removed
 * at the close. An entry whose socket closed unseen (activated as it closed) or whose memory
 * another connection took goes. Ports and interface are read again while the local port is
 * unknown (connect() moves to SYN_SENT before it picks one). */
static __always_inline bool refresh(__u64 key, struct tt_polled *v, __u64 now)
{
	struct sock *sk = (struct sock *)key;
	struct tt_tcp_counters c = {};
	struct tt_tcp_figs f = {};
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);

	if (state == TCP_CLOSE || state == TCP_LISTEN ||
	    bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) != v->e.rport ||
	    (v->e.lport && lport != v->e.lport) || (v->e.cookie && cookie != v->e.cookie)) {
		polled_delete(key);
		return false;
	}
	if (!v->e.lport)
		fill_id(&v->e, sk);
	tcp_counters(&c, (struct tcp_sock *)sk);
	if (want_figs)
		TCP_FIGS(&f, (struct tcp_sock *)sk, BPF_CORE_READ, BPF_CORE_READ_BITFIELD_PROBED);
	if (state != v->e.state || !same_counters(&c, &v->e.c) ||
	    (want_figs && (!(v->e.flags & TT_F_FIGS) || !same_clocks(&f, &v->e.f))))
		v->changed = now;
	v->e.c = c;
	if (want_figs) {
		v->e.f = f;
		v->e.flags |= TT_F_FIGS;
	}
	v->e.state = state;
	if (!(v->e.flags & TT_F_OWNER))
		owner_copy(&v->e, key);
	v->e.ts = now;
	return true;
}

struct refresh_out {
	__u32 n;
	bool full;
};

/* Each entry refreshed, and copied to polled_out (full: a map that grew during the walk of
 * it, past polled_out's size: what did not fit is read the next period). */
static long refresh_one(struct bpf_map *map, __u64 *key, struct tt_polled *v,
			struct refresh_out *out)
{
	__u32 i = out->n;
	struct tt_event *o;

	if (!refresh(*key, v, bpf_ktime_get_ns()))
		return 0;
	o = bpf_map_lookup_elem(&polled_out, &i);
	if (!o) {
		out->full = true;
		return 0;
	}
	*o = v->e;
	out->n = i + 1;
	return 0;
}

/* Run by user space (BPF_PROG_TEST_RUN) once per period: the whole map in one call (5.13+).
 * Returns 1 when bpf_for_each_map_elem failed, 2 when polled_out could not take them all. */
SEC("raw_tp")
int rf__polled(void *ctx)
{
	struct refresh_out out = {};
	long err = 0;

	if (npolled)
		err = bpf_for_each_map_elem(&polled, refresh_one, &out, 0);
	if (polled_tiers && npolled_more && err >= 0)
		err = bpf_for_each_map_elem(&polled_more, refresh_one, &out, 0);
	polled_read = out.n;
	return err < 0 ? 1 : out.full ? 2 : 0;
}

/* Jiffies and the monotonic clock read together, run by user space (BPF_PROG_TEST_RUN) twice
 * to learn the kernel's HZ, the unit of the clocks above, where its configuration cannot be
 * read (tcptop-collect/probe.c). */
__u64 clock_jiffies, clock_ns;

SEC("raw_tp")
int ck__jiffies(void *ctx)
{
	clock_ns = bpf_ktime_get_ns();
	clock_jiffies = bpf_jiffies64();
	return 0;
}

/* The same as an iterator, where the kernel has map-element iterators but no bpf_loop-style
 * helper (5.9 to 5.12). */
SEC("iter/bpf_map_elem")
int it__polled(struct bpf_iter__bpf_map_elem *ctx)
{
	__u64 *key = ctx->key;
	struct tt_polled *v = ctx->value;

	if (key && v && refresh(*key, v, bpf_ktime_get_ns()))
		bpf_seq_write(ctx->meta->seq, &v->e, sizeof(v->e));
	return 0;
}

/* ---- UDP: every socket of our namespace once per period (user space ends the flows of
 * those that went away), and the datagrams themselves ---- */

SEC("iter/udp")
int it__udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct tt_event e = {};
	struct sock *sk;
	__u16 family;

	if (!udp || !want_udp)
		return 0;
	sk = (struct sock *)udp;
	family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	e.type = TT_IT_UDP;
	e.ts = bpf_ktime_get_ns();
	e.proto = IPPROTO_UDP;
	e.state = sk->__sk_common.skc_state;
	fill_id(&e, sk);
	owner_copy(&e, (__u64)sk);
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

/* One datagram (or one send or receive call) of bytes on a UDP socket, to or from a peer:
 * the one named by the call (peer != 0), else the connected one, else unknown (zero). */
/* Not inlined: its stack (keys and events, hundreds of bytes) stays out of the programs
 * whose TCP path must cost no more than reading the protocol. */
static __noinline void udp_count(struct sock *sk, long bytes, bool out, const struct tt_peer *peer)
{
	struct tt_udp_val *val, nv = {};
	struct tt_udp_key key = {};
	struct tt_event id = {};
	__u64 now;
	long err;

	fill_id(&id, sk);
	key.sock = (__u64)sk;
	key.family = id.family;
	key.lport = id.lport;
	__builtin_memcpy(key.laddr, id.laddr, 16);
	if (peer && peer->family) {
		key.rport = peer->port;
		if (id.family == AF_INET6 && peer->family == AF_INET) {
			/* a v4 peer of a dual-stack socket: ::ffff:a.b.c.d */
			key.raddr[10] = 0xff;
			key.raddr[11] = 0xff;
			__builtin_memcpy(key.raddr + 12, peer->addr, 4);
		} else {
			__builtin_memcpy(key.raddr, peer->addr, 16);
		}
	} else if (id.rport) {
		key.rport = id.rport;
		__builtin_memcpy(key.raddr, id.raddr, 16);
	}
	now = bpf_ktime_get_ns();
	udp_touch[bpf_get_smp_processor_id() & 63].ts = now;
	val = bpf_map_lookup_elem(&udp_flows, &key);
	if (!val) {
		nv.first_ts = now;
		nv.netns = id.netns;
		nv.ifindex = id.ifindex;
		current_owner(&nv.owner);
		err = bpf_map_update_elem(&udp_flows, &key, &nv, BPF_NOEXIST);
		if (!err) {
			__sync_fetch_and_add(&udp_nflows, 1);
		} else if (err != -EEXIST) {
			loss_inc(TT_LOSS_FLOW_FULL);
			return;
		}
		val = bpf_map_lookup_elem(&udp_flows, &key);
		if (!val)
			return;
	}
	if (out) {
		__sync_fetch_and_add(&val->bytes_out, bytes);
		__sync_fetch_and_add(&val->pkts_out, 1);
	} else {
		__sync_fetch_and_add(&val->bytes_in, bytes);
		__sync_fetch_and_add(&val->pkts_in, 1);
	}
	val->last_ts = now;
}

/* ---- backend "tracepoint": the send/recv length tracepoints (6.3+) ---- */

/* The peer the thread's cgroup hook saw in this same call, forgotten once read. */
static __always_inline bool take_peer(struct tt_peer *p, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tt_peer *v = bpf_map_lookup_elem(&udp_peer, &id);

	if (!v)
		return false;
	*p = *v;
	bpf_map_delete_elem(&udp_peer, &id);
	return p->pad[0] == dir;
}

static __noinline void tp_udp(struct sock *sk, int ret, bool out)
{
	struct tt_peer p = {};
	bool named = take_peer(&p, out);

	if (ret > 0 && want_udp)
		udp_count(sk, ret, out, named ? &p : 0);
}

/*
 * The send/recv length tracepoints. Their TCP path must touch nothing but the socket: each
 * other page (a global, a map value, the namespace) costs 30-40 ns a call here, measured
 * (bench-collect: +4 ns over the floor with no access, +42 with one global read). Hence two
 * pairs, one chosen at load: tp__send/recv return at the protocol test (UDP only); with
 * activation, tp__*_act pass over a TCP socket that has socket storage (a field of the
 * socket itself) and activate one that has none.
 */
static __always_inline int tp_len(struct sock *sk, int ret, int flags, bool out, bool act)
{
	if (sk->sk_protocol != IPPROTO_UDP) {
		if (act && sk->sk_protocol == IPPROTO_TCP && !sk->sk_bpf_storage)
			activate(sk, sk->__sk_common.skc_state, 0);
		return 0;
	}
	if (!udp_by_tp)
		return 0;
	if (!out && (flags & MSG_PEEK))
		ret = 0; /* the datagram is still queued: counted when it is read */
	tp_udp(sk, ret, out);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tp__send, struct sock *sk, int ret, int flags)
{
	return tp_len(sk, ret, flags, true, false);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tp__recv, struct sock *sk, int ret, int flags)
{
	return tp_len(sk, ret, flags, false, false);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tp__send_act, struct sock *sk, int ret, int flags)
{
	return tp_len(sk, ret, flags, true, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tp__recv_act, struct sock *sk, int ret, int flags)
{
	return tp_len(sk, ret, flags, false, true);
}

static __always_inline void keep_peer(struct bpf_sock_addr *ctx, bool v6, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tt_peer p = {};

	if (ctx->protocol != IPPROTO_UDP)
		return;
	p.port = bpf_ntohs(ctx->user_port);
	if (v6) {
		p.family = AF_INET6;
		__builtin_memcpy(p.addr, ctx->user_ip6, 16);
	} else {
		__u32 a = ctx->user_ip4;

		p.family = AF_INET;
		__builtin_memcpy(p.addr, &a, 4);
	}
	p.pad[0] = dir;
	if (bpf_map_update_elem(&udp_peer, &id, &p, BPF_ANY))
		loss_inc(TT_LOSS_PEERS_FULL); /* the datagram goes to the unknown peer */
}

SEC("cgroup/sendmsg4")
int cg__sendmsg4(struct bpf_sock_addr *ctx)
{
	keep_peer(ctx, false, 1);
	return 1;
}

SEC("cgroup/sendmsg6")
int cg__sendmsg6(struct bpf_sock_addr *ctx)
{
	keep_peer(ctx, true, 1);
	return 1;
}

SEC("cgroup/recvmsg4")
int cg__recvmsg4(struct bpf_sock_addr *ctx)
{
	keep_peer(ctx, false, 0);
	return 1;
}

SEC("cgroup/recvmsg6")
int cg__recvmsg6(struct bpf_sock_addr *ctx)
{
	keep_peer(ctx, true, 0);
	return 1;
}

/* A UDP socket's release (the cgroup hook, 5.9+), in every network namespace: its flows end
 * with it. The walk of iter/udp sees only our own namespace's sockets, and a lost event here
 * (counted) leaves the flow to it, or to --udp-timeout. The context is the socket itself: its
 * address is the key the flows were counted under. */
SEC("cgroup/sock_release")
int cgr__release(struct bpf_sock *ctx)
{
	struct tt_event *e;

	if (ctx->protocol != IPPROTO_UDP || !want_udp)
		return 1;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		loss_inc(TT_LOSS_RINGBUF);
		return 1;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = TT_EV_UDP_RELEASE;
	e->ts = bpf_ktime_get_ns();
	e->proto = IPPROTO_UDP;
	e->family = ctx->family;
	e->sock = (__u64)ctx;
	bpf_ringbuf_submit(e, wake_flag());
	return 1;
}

/* ---- backends "fentry" and "kprobe": the UDP functions themselves ---- */

/* The peer a msghdr names (the destination of a send, the source a receive filled in). */
static __always_inline bool msg_peer(struct msghdr *msg, struct tt_peer *p)
{
	void *name = BPF_CORE_READ(msg, msg_name);
	__u16 family = 0;

	if (!name || bpf_probe_read_kernel(&family, sizeof(family), name))
		return false;
	if (family == AF_INET) {
		struct sockaddr_in sin = {};

		bpf_probe_read_kernel(&sin, sizeof(sin), name);
		p->family = AF_INET;
		p->port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(p->addr, &sin.sin_addr, 4);
		return true;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 sin6 = {};

		bpf_probe_read_kernel(&sin6, sizeof(sin6), name);
		p->family = AF_INET6;
		p->port = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(p->addr, &sin6.sin6_addr, 16);
		return true;
	}
	return false;
}

static __always_inline void fn_udp(struct sock *sk, struct msghdr *msg, long ret, int flags,
				   bool out)
{
	struct tt_peer p = {};

	if (ret <= 0 || !want_udp || (!out && (flags & MSG_PEEK)))
		return;
	udp_count(sk, ret, out, msg_peer(msg, &p) ? &p : 0);
}

/* udpv6_sendmsg hands a v4-mapped destination to udp_sendmsg: counted once, by udpv6. */
SEC("fexit/udp_sendmsg")
int BPF_PROG(fe__udp_sendmsg, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	if (sk->__sk_common.skc_family == AF_INET)
		fn_udp(sk, msg, ret, 0, true);
	return 0;
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(fe__udpv6_sendmsg, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	fn_udp(sk, msg, ret, 0, true);
	return 0;
}

/* udp_recvmsg lost its noblock argument in 5.19 and its addr_len in 7.x: one program for each
 * signature (fe6__, fe__, fe4__), chosen by the function's BTF. */
SEC("fexit/udp_recvmsg")
int BPF_PROG(fe__udp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	fn_udp(sk, msg, ret, flags, false);
	return 0;
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(fe__udpv6_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	fn_udp(sk, msg, ret, flags, false);
	return 0;
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(fe4__udp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags, int ret)
{
	fn_udp(sk, msg, ret, flags, false);
	return 0;
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(fe4__udpv6_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int ret)
{
	fn_udp(sk, msg, ret, flags, false);
	return 0;
}

SEC("fexit/udp_recvmsg")
int BPF_PROG(fe6__udp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int noblock,
	     int flags, int *addr_len, int ret)
{
	fn_udp(sk, msg, ret, flags, false);
	return 0;
}

SEC("fexit/udpv6_recvmsg")
int BPF_PROG(fe6__udpv6_recvmsg, struct sock *sk, struct msghdr *msg, size_t len, int noblock,
	     int flags, int *addr_len, int ret)
{
	fn_udp(sk, msg, ret, flags, false);
	return 0;
}

/* kprobes: the arguments are kept from the entry to the return by thread and function. A
 * return whose entry was missed finds nothing and counts nothing; an entry whose return was
 * missed (kretprobe instances exhausted) is overwritten by the thread's next call. Both are
 * counted by the kernel as missed kprobes (kprobe_profile), which tcptop-collect reports, as
 * it does an entry that finds the table full (TT_LOSS_KP_ARGS). Not an LRU map: that one
 * evicts live entries before it is full, silently. */
const volatile __u8 kp_recv_noblock = 0; /* udp_recvmsg has the noblock argument (< 5.19) */

struct tt_kp_key {
	__u64 pid_tgid;
	__u32 fn;
	__u32 pad;
};

struct tt_kp_args {
	__u64 sk, msg;
	__u32 flags, pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tt_kp_key);
	__type(value, struct tt_kp_args);
} kp_args SEC(".maps");

enum {
	KP_UDP_SEND = 1,
	KP_UDP6_SEND,
	KP_UDP_RECV,
	KP_UDP6_RECV
};

static __always_inline void kp_enter(__u32 fn, struct pt_regs *ctx, bool recv)
{
	struct tt_kp_key k = { .pid_tgid = bpf_get_current_pid_tgid(), .fn = fn };
	struct tt_kp_args a = {};

	a.sk = PT_REGS_PARM1(ctx);
	a.msg = PT_REGS_PARM2(ctx);
	if (recv) {
		/* both loads at fixed offsets: a load through a chosen offset of ctx is refused */
		unsigned long p4 = PT_REGS_PARM4(ctx), p5 = PT_REGS_PARM5(ctx);

		barrier_var(p4);
		barrier_var(p5);
		a.flags = kp_recv_noblock ? p5 : p4;
	}
	if (bpf_map_update_elem(&kp_args, &k, &a, BPF_ANY))
		loss_inc(TT_LOSS_KP_ARGS);
}

static __always_inline void kp_leave(__u32 fn, struct pt_regs *ctx, bool out)
{
	struct tt_kp_key k = { .pid_tgid = bpf_get_current_pid_tgid(), .fn = fn };
	struct tt_kp_args *a = bpf_map_lookup_elem(&kp_args, &k), args;
	struct sock *sk;

	if (!a)
		return;
	args = *a;
	bpf_map_delete_elem(&kp_args, &k);
	sk = (struct sock *)args.sk;
	if (fn == KP_UDP_SEND && BPF_CORE_READ(sk, __sk_common.skc_family) != AF_INET)
		return;
	fn_udp(sk, (struct msghdr *)args.msg, PT_REGS_RC(ctx), args.flags, out);
}

SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(kp__udp_sendmsg)
{
	kp_enter(KP_UDP_SEND, ctx, false);
	return 0;
}

SEC("kretprobe/udp_sendmsg")
int BPF_KRETPROBE(kp__udp_sendmsg_ret)
{
	kp_leave(KP_UDP_SEND, ctx, true);
	return 0;
}

SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(kp__udpv6_sendmsg)
{
	kp_enter(KP_UDP6_SEND, ctx, false);
	return 0;
}

SEC("kretprobe/udpv6_sendmsg")
int BPF_KRETPROBE(kp__udpv6_sendmsg_ret)
{
	kp_leave(KP_UDP6_SEND, ctx, true);
	return 0;
}

SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(kp__udp_recvmsg)
{
	kp_enter(KP_UDP_RECV, ctx, true);
	return 0;
}

SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(kp__udp_recvmsg_ret)
{
	kp_leave(KP_UDP_RECV, ctx, false);
	return 0;
}

SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(kp__udpv6_recvmsg)
{
	kp_enter(KP_UDP6_RECV, ctx, true);
	return 0;
}

SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(kp__udpv6_recvmsg_ret)
{
	kp_leave(KP_UDP6_RECV, ctx, false);
	return 0;
}

/* ---- owners of the sockets that exist at start ---- */

/* Every socket file of every process: the first holder found owns it. A connection of
 * another namespace that is established already is also put in the polled map (iter/tcp
 * cannot see it). Probe reads: this kernel may refuse the socket as a
 * trusted pointer here. */
SEC("iter/task_file")
int it__owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tt_owner o = {};
	struct socket *sock;
	struct sock *sk;
	__u16 family, proto;
	__u64 key;
	long err;

	if (!task || !file)
		return 0;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if ((family != AF_INET && family != AF_INET6) ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return 0;
	key = (__u64)sk;
	/* a word for each socket: the read returns every few thousand of them, so that user
	 * space can spread this walk over periods (it reads nothing else here) */
	bpf_seq_write(ctx->meta->seq, &key, sizeof(key));
	o.pid = BPF_CORE_READ(task, tgid);
	o.cgroup = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	bpf_probe_read_kernel_str(o.comm, sizeof(o.comm), task->comm);
	err = owner_record(key, &o, BPF_NOEXIST);
	if (err) {
		if (err != -EEXIST) /* not held by an earlier task too: the map is full */
			loss_inc(TT_LOSS_OWNERS_FULL);
		return 0;
	}
	if (proto == IPPROTO_TCP && want_tcp && sk_netns(sk) != own_netns) {
		__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);

		if (state != TCP_LISTEN && state != TCP_CLOSE && state != TCP_SYN_SENT)
			poll_start(sk, state, 0);
	}
	return 0;
}
