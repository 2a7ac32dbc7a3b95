// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop's BPF programs: per-socket byte accounting on the send and receive paths, TCP
 * lifecycle from the state tracepoint, per-peer UDP flows from cgroup_skb, and the iterators
 * that bootstrap existing connections and read counters in batches once per sample period.
 *
 * Program names carry the backend that provides them: tp__* (tp_btf), it__* (iterators),
 * cg__* (cgroup hooks); bpf/backends.bpf.h adds fe__* (fentry) and kp__* (kprobe). User space
 * chooses by name and disables the rest before load.
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
#define ETH_P_IP    0x0800
#define ETH_P_IPV6  0x86DD
#define IP_OFFSET   0x1fff

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
const volatile __u32 filter_pid = 0;
const volatile __u16 filter_port = 0;
const volatile __u8 want_tcp = 1;
const volatile __u8 want_udp = 1;
const volatile __u64 wake_bytes = 1 << 20; /* wake the reader once this much is queued */

/* Set by user space once the bootstrap iterators have run: from then on a TCP socket seen
 * without an announcement is announced by the event that finds it. */
volatile __u32 bootstrapped;
__u64 udp_next_id;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tt_sk);
} sk_stor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* --max-flows */
	__type(key, struct tt_udp_key);
	__type(value, struct tt_udp_val);
} udp_flows SEC(".maps");

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

static __always_inline void loss_inc(__u32 code)
{
	__u64 *c = bpf_map_lookup_elem(&loss, &code);

	if (c)
		*c += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline bool sk_wanted(struct sock *sk, __u8 *protop)
{
	__u16 family = sk->__sk_common.skc_family;
	__u16 proto;

	if (family != AF_INET && family != AF_INET6)
		return false;
	proto = sk->sk_protocol;
	if (proto == IPPROTO_TCP) {
		if (!want_tcp)
			return false;
	} else if (proto == IPPROTO_UDP) {
		if (!want_udp)
			return false;
	} else {
		return false;
	}
	if (filter_port) {
		__u16 lport = sk->__sk_common.skc_num;
		__u16 rport = bpf_ntohs(sk->__sk_common.skc_dport);

		if (lport != filter_port && rport != filter_port)
			return false;
	}
	*protop = proto;
	return true;
}

static __always_inline struct tt_sk *sk_get(struct sock *sk, __u8 proto)
{
	struct tt_sk *v = bpf_sk_storage_get(&sk_stor, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (!v) {
		loss_inc(TT_LOSS_FLOW_FULL);
		return 0;
	}
	if (!v->proto) {
		v->cookie = bpf_get_socket_cookie(sk);
		v->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		v->proto = proto;
	}
	return v;
}

/* The owner is whoever last sent or received on the socket, in process context. */
static __always_inline void set_owner(struct tt_sk *v)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (v->pid != tgid) {
		bpf_get_current_comm(v->comm, sizeof(v->comm));
		v->pid = tgid;
	}
}

/* Identity of a connection: addresses, ports, netns, interface (bound device, else the
 * device of the cached route, else the device packets arrive on). */
static __always_inline void fill_id(struct tt_event *e, struct sock *sk, struct tt_sk *v)
{
	struct net_device *dev;
	int ifindex;

	e->proto = v->proto;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET) {
		bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	e->netns = v->netns;
	e->cookie = v->cookie;
	e->flow = v->cookie;
	ifindex = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	dev = BPF_CORE_READ(sk, sk_dst_cache, dev);
	if (dev) {
		int dev_index = BPF_CORE_READ(dev, ifindex);

		if (!ifindex)
			ifindex = dev_index;
		if (ifindex == dev_index)
			bpf_probe_read_kernel_str(e->ifname, sizeof(e->ifname), dev->name);
	}
	if (!ifindex)
		ifindex = BPF_CORE_READ(sk, sk_rx_dst_ifindex);
	e->ifindex = ifindex;
	if (v->pid) {
		e->pid = v->pid;
		__builtin_memcpy(e->comm, v->comm, sizeof(e->comm));
		e->flags |= TT_F_OWNER;
	}
	if (v->boot)
		e->flags |= TT_F_BOOT;
}

static __always_inline void fill_tcp_counters(struct tt_event *e, struct sock *sk, struct tt_sk *v)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	e->bytes_in = v->bytes_in;
	e->bytes_out = v->bytes_out;
	if (tp) {
		e->pkts_in = tp->segs_in;
		e->pkts_out = tp->segs_out;
		e->srtt_us = tp->srtt_us >> 3;
		e->retrans = tp->total_retrans;
	}
}

static __always_inline long wake_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_bytes ? BPF_RB_FORCE_WAKEUP
									   : BPF_RB_NO_WAKEUP;
}

/* Tell user space about a TCP connection, once: whoever wins the compare-and-swap (the state
 * change to ESTABLISHED, the bootstrap iterator, or a late send/receive) announces it. */
static __always_inline void announce_tcp(struct sock *sk, struct tt_sk *v, __u8 state)
{
	struct tt_event *e;

	if (__sync_val_compare_and_swap(&v->announced, 0, 1) != 0)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		loss_inc(TT_LOSS_RINGBUF);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = TT_EV_OPEN;
	e->ts = bpf_ktime_get_ns();
	e->state = state;
	fill_id(e, sk, v);
	fill_tcp_counters(e, sk, v);
	bpf_ringbuf_submit(e, wake_flag());
}

static __always_inline void account(struct sock *sk, long bytes, bool out)
{
	struct tt_sk *v;
	__u8 proto, state;

	if (!sk_wanted(sk, &proto))
		return;
	if (filter_pid && (bpf_get_current_pid_tgid() >> 32) != filter_pid)
		return;
	v = sk_get(sk, proto);
	if (!v)
		return;
	set_owner(v);
	if (proto != IPPROTO_TCP)
		return; /* UDP bytes are counted per peer by cg__udp_* */
	if (out)
		__sync_fetch_and_add(&v->bytes_out, bytes);
	else
		__sync_fetch_and_add(&v->bytes_in, bytes);
	if (!v->announced && bootstrapped) {
		state = sk->__sk_common.skc_state;
		if (state != TCP_LISTEN && state != TCP_CLOSE)
			announce_tcp(sk, v, state);
	}
}

/* Called by every backend's send and receive programs: bytes > 0, MSG_PEEK excluded. */
static __always_inline void account_send(struct sock *sk, long bytes)
{
	account(sk, bytes, true);
}

static __always_inline void account_recv(struct sock *sk, long bytes)
{
	account(sk, bytes, false);
}

/* ---- the kprobe backend's accounting ----
 * A kprobe program gets the socket as a plain address and, on 6.1, may not call
 * bpf_sk_storage_get, bpf_get_socket_cookie or bpf_skc_to_tcp_sock. It keeps what it sees per
 * socket address in kp_socks; the programs that hold the socket as a trusted pointer (the
 * sample iterator, the state tracepoint, sock_release) fold that into the socket's tt_sk. */
const volatile __u8 kp_mode = 0; /* set by user space when kprobes count the bytes */

struct tt_kp {
	__u64 bytes_in, bytes_out;   /* counted by the kretprobes */
	__u64 folded_in, folded_out; /* already added to tt_sk */
	__u16 lport, rport;	     /* which socket lived at this address */
	__u32 pid;
	char comm[TT_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tt_kp);
} kp_socks SEC(".maps");

static __always_inline void account_kp(__u64 addr, long bytes, bool out)
{
	struct sock *sk = (struct sock *)addr;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct tt_kp *k, zero = {};
	__u16 family, proto, lport, rport;

	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return;
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto == IPPROTO_TCP ? !want_tcp : proto == IPPROTO_UDP ? !want_udp : 1)
		return;
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (filter_port && lport != filter_port && rport != filter_port)
		return;
	if (filter_pid && tgid != filter_pid)
		return;
	k = bpf_map_lookup_elem(&kp_socks, &addr);
	if (k && proto == IPPROTO_TCP && (k->lport != lport || k->rport != rport)) {
		/* a socket freed without its CLOSE folded: another one lives here now */
		bpf_map_delete_elem(&kp_socks, &addr);
		k = 0;
	}
	if (!k) {
		zero.lport = lport;
		zero.rport = rport;
		bpf_map_update_elem(&kp_socks, &addr, &zero, BPF_NOEXIST);
		k = bpf_map_lookup_elem(&kp_socks, &addr);
		if (!k) {
			loss_inc(TT_LOSS_FLOW_FULL);
			return;
		}
	}
	if (k->pid != tgid) {
		bpf_get_current_comm(k->comm, sizeof(k->comm));
		k->pid = tgid;
	}
	if (proto != IPPROTO_TCP)
		return; /* UDP bytes are counted per peer by cg__udp_* */
	if (out)
		__sync_fetch_and_add(&k->bytes_out, bytes);
	else
		__sync_fetch_and_add(&k->bytes_in, bytes);
}

/* Adds what the kprobes counted since the last fold to the socket's tt_sk, and its owner. */
static __always_inline void kp_fold(struct sock *sk, struct tt_sk *v, bool forget)
{
	__u64 addr = (__u64)sk, in, out;
	struct tt_kp *k;

	if (!kp_mode)
		return;
	k = bpf_map_lookup_elem(&kp_socks, &addr);
	if (!k)
		return;
	in = k->bytes_in;
	out = k->bytes_out;
	__sync_fetch_and_add(&v->bytes_in, in - k->folded_in);
	__sync_fetch_and_add(&v->bytes_out, out - k->folded_out);
	k->folded_in = in;
	k->folded_out = out;
	if (k->pid && v->pid != k->pid) {
		__builtin_memcpy(v->comm, k->comm, sizeof(v->comm));
		v->pid = k->pid;
	}
	if (forget)
		bpf_map_delete_elem(&kp_socks, &addr);
}

#define TCPTOP_KP_ACCOUNT_SEND(sk, bytes) account_kp(sk, bytes, true)
#define TCPTOP_KP_ACCOUNT_RECV(sk, bytes) account_kp(sk, bytes, false)

SEC("tp_btf/sock_send_length")
int BPF_PROG(tp__send, struct sock *sk, int ret, int flags)
{
	if (ret > 0)
		account_send(sk, ret);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tp__recv, struct sock *sk, int ret, int flags)
{
	if (ret > 0 && !(flags & MSG_PEEK))
		account_recv(sk, ret);
	return 0;
}

/* TCP state changes, often in softirq: the current task is unrelated, never take the pid. */
static __always_inline void state_change(struct sock *sk, int oldstate, int newstate)
{
	struct tt_event *e;
	struct tt_sk *v;
	__u8 proto;

	if (oldstate == TCP_LISTEN || newstate == TCP_LISTEN)
		return;
	if (!sk_wanted(sk, &proto) || proto != IPPROTO_TCP)
		return;
	if (newstate == TCP_ESTABLISHED) {
		v = sk_get(sk, proto);
		if (!v || (filter_pid && v->pid != filter_pid))
			return;
		announce_tcp(sk, v, newstate);
		return;
	}
	v = bpf_sk_storage_get(&sk_stor, sk, 0, 0);
	if (v && v->announced && !v->closed)
		kp_fold(sk, v, false);
	if (kp_mode && newstate == TCP_CLOSE) {
		__u64 addr = (__u64)sk;

		bpf_map_delete_elem(&kp_socks, &addr);
	}
	if (!v || !v->announced || v->closed)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		loss_inc(TT_LOSS_RINGBUF);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts = bpf_ktime_get_ns();
	e->old_state = oldstate;
	e->state = newstate;
	e->type = TT_EV_STATE;
	if (newstate == TCP_CLOSE) {
		e->type = TT_EV_CLOSE;
		v->closed = 1;
	}
	fill_id(e, sk, v);
	fill_tcp_counters(e, sk, v);
	bpf_ringbuf_submit(e, wake_flag());
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tp__state, struct sock *sk, int oldstate, int newstate)
{
	state_change(sk, oldstate, newstate);
	return 0;
}

/* ---- UDP: one flow per socket and peer, from the datagrams themselves ---- */

struct l3l4 {
	__u8 family;
	__u8 saddr[16], daddr[16];
	__u16 sport, dport, len;
};

static __always_inline int parse_udp(struct __sk_buff *skb, struct l3l4 *p)
{
	__u8 hdr[40];
	__u16 udp[4];
	__u32 off;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, 0, hdr, 20))
			return -1;
		if (hdr[9] != IPPROTO_UDP)
			return -1;
		if (((hdr[6] << 8) | hdr[7]) & IP_OFFSET)
			return -1; /* a later fragment: no UDP header */
		off = (hdr[0] & 0x0f) * 4;
		p->family = AF_INET;
		__builtin_memcpy(p->saddr, hdr + 12, 4);
		__builtin_memcpy(p->daddr, hdr + 16, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, 0, hdr, 40))
			return -1;
		if (hdr[6] != IPPROTO_UDP)
			return -1; /* extension headers are not followed */
		off = 40;
		p->family = AF_INET6;
		__builtin_memcpy(p->saddr, hdr + 8, 16);
		__builtin_memcpy(p->daddr, hdr + 24, 16);
	} else {
		return -1;
	}
	if (off < 20 || off > 60)
		return -1;
	if (bpf_skb_load_bytes(skb, off, udp, 8))
		return -1;
	p->sport = bpf_ntohs(udp[0]);
	p->dport = bpf_ntohs(udp[1]);
	p->len = bpf_ntohs(udp[2]);
	return p->len >= 8 ? 0 : -1;
}

static __always_inline void udp_account(struct __sk_buff *skb, bool in)
{
	struct tt_udp_val *val, nv = {};
	struct tt_udp_key key = {};
	struct bpf_sock *bs;
	struct l3l4 p = {};
	__u64 now, payload;
	long err;

	if (!want_udp)
		return;
	bs = skb->sk;
	if (!bs)
		return;
	bs = bpf_sk_fullsock(bs);
	if (!bs || bs->protocol != IPPROTO_UDP)
		return;
	if (parse_udp(skb, &p))
		return;
	key.cookie = bpf_get_socket_cookie(skb);
	if (kp_mode) {
		/* the kprobes cannot create it: the sample iterator folds the owner in */
		struct tt_sk *v = bpf_sk_storage_get(&sk_stor, bs, 0, BPF_SK_STORAGE_GET_F_CREATE);

		if (v && !v->proto) {
			v->cookie = key.cookie;
			v->proto = IPPROTO_UDP;
		}
	}
	key.family = p.family;
	if (in) {
		__builtin_memcpy(key.laddr, p.daddr, 16);
		__builtin_memcpy(key.raddr, p.saddr, 16);
		key.lport = p.dport;
		key.rport = p.sport;
	} else {
		__builtin_memcpy(key.laddr, p.saddr, 16);
		__builtin_memcpy(key.raddr, p.daddr, 16);
		key.lport = p.sport;
		key.rport = p.dport;
	}
	if (filter_port && key.lport != filter_port && key.rport != filter_port)
		return;
	now = bpf_ktime_get_ns();
	val = bpf_map_lookup_elem(&udp_flows, &key);
	if (!val) {
		nv.flow = TT_UDP_FLOW_BIT | (__sync_fetch_and_add(&udp_next_id, 1) + 1);
		nv.first_ts = now;
		nv.ifindex = skb->ifindex;
		err = bpf_map_update_elem(&udp_flows, &key, &nv, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: another CPU created it */) {
			loss_inc(TT_LOSS_FLOW_FULL);
			return;
		}
		val = bpf_map_lookup_elem(&udp_flows, &key);
		if (!val)
			return;
	}
	payload = p.len - 8;
	if (in) {
		__sync_fetch_and_add(&val->bytes_in, payload);
		__sync_fetch_and_add(&val->pkts_in, 1);
	} else {
		__sync_fetch_and_add(&val->bytes_out, payload);
		__sync_fetch_and_add(&val->pkts_out, 1);
	}
	val->last_ts = now;
}

SEC("cgroup_skb/ingress")
int cg__udp_in(struct __sk_buff *skb)
{
	udp_account(skb, true);
	return 1;
}

SEC("cgroup_skb/egress")
int cg__udp_out(struct __sk_buff *skb)
{
	udp_account(skb, false);
	return 1;
}

/* A UDP socket going away ends its flows; its owner and netns travel with the event since
 * the socket storage goes with the socket. */
SEC("cgroup/sock_release")
int cg__release(struct bpf_sock *ctx)
{
	struct tt_event *e;
	struct tt_sk *v;

	if (ctx->protocol != IPPROTO_UDP || (ctx->family != AF_INET && ctx->family != AF_INET6))
		return 1;
	v = bpf_sk_storage_get(&sk_stor, ctx, 0, 0);
	if (kp_mode) {
		__u64 addr = (__u64)ctx;
		struct tt_kp *k = bpf_map_lookup_elem(&kp_socks, &addr);

		if (k && v && k->pid && v->pid != k->pid) {
			__builtin_memcpy(v->comm, k->comm, sizeof(v->comm));
			v->pid = k->pid;
		}
		bpf_map_delete_elem(&kp_socks, &addr);
	}
	if (!v)
		return 1;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		loss_inc(TT_LOSS_RINGBUF);
		return 1;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = TT_EV_RELEASE;
	e->ts = bpf_ktime_get_ns();
	e->proto = IPPROTO_UDP;
	e->cookie = v->cookie;
	e->netns = v->netns;
	if (v->pid) {
		e->pid = v->pid;
		__builtin_memcpy(e->comm, v->comm, sizeof(e->comm));
		e->flags |= TT_F_OWNER;
	}
	bpf_ringbuf_submit(e, wake_flag());
	return 1;
}

/* ---- iterators: bootstrap at start, samples once per period ---- */

/* Owners of sockets that exist at start: the first task found holding each one. */
SEC("iter/task_file")
int it__owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct socket *sock;
	struct sock *sk;
	struct tt_sk *v;
	__u8 proto;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk;
	if (!sk || !sk_wanted(sk, &proto))
		return 0;
	if (sk->__sk_common.skc_state == TCP_LISTEN)
		return 0;
	v = sk_get(sk, proto);
	if (!v)
		return 0;
	v->boot = 1;
	if (!v->pid) {
		bpf_probe_read_kernel_str(v->comm, sizeof(v->comm), task->comm);
		v->pid = task->tgid;
	}
	return 0;
}

/* TCP connections that exist at start, with their counters so far. */
SEC("iter/tcp")
int it__boot_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	struct tt_event e = {};
	struct sock *sk;
	struct tt_sk *v;
	__u64 received;
	__u8 proto, state;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* request and time-wait sockets */
	sk = (struct sock *)tp;
	state = sk->__sk_common.skc_state;
	if (state == TCP_LISTEN || state == TCP_CLOSE)
		return 0;
	if (!sk_wanted(sk, &proto))
		return 0;
	v = sk_get(sk, proto);
	if (!v || (filter_pid && v->pid != filter_pid))
		return 0;
	if (__sync_val_compare_and_swap(&v->announced, 0, 1) != 0)
		return 0;
	v->boot = 1;
	/* Counters so far, as the kernel keeps them: bytes sent once (retransmissions left
	 * out) and bytes received in sequence, less the FIN's sequence number once one came. */
	received = tp->bytes_received;
	if (received && (state == TCP_CLOSE_WAIT || state == TCP_LAST_ACK || state == TCP_CLOSING))
		received--;
	__sync_fetch_and_add(&v->bytes_in, received);
	__sync_fetch_and_add(&v->bytes_out, tp->bytes_sent - tp->bytes_retrans);
	e.type = TT_IT_BOOT;
	e.ts = bpf_ktime_get_ns();
	e.state = state;
	fill_id(&e, sk, v);
	fill_tcp_counters(&e, sk, v);
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

/* Once per period: the TCP connections whose counters or owner changed, and the UDP sockets
 * whose owner changed. */
SEC("iter/bpf_sk_storage_map")
int it__sample(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	struct tt_sk *v = ctx->value;
	struct tt_event e = {};
	struct tcp_sock *tp;
	__u32 segs_in, segs_out, retrans;

	if (!sk || !v)
		return 0;
	if (kp_mode) {
		if (!v->netns)
			v->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		kp_fold(sk, v, false);
	}
	if (v->proto == IPPROTO_UDP) {
		if (v->pid == v->rep_pid)
			return 0;
		v->rep_pid = v->pid;
		e.type = TT_IT_SOCK;
		e.proto = IPPROTO_UDP;
		e.cookie = v->cookie;
		e.netns = v->netns;
		e.pid = v->pid;
		__builtin_memcpy(e.comm, v->comm, sizeof(e.comm));
		e.flags = TT_F_OWNER | (v->boot ? TT_F_BOOT : 0);
		bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
		return 0;
	}
	if (!v->announced || v->closed)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	segs_in = tp->segs_in;
	segs_out = tp->segs_out;
	retrans = tp->total_retrans;
	if (v->bytes_in == v->rep_in && v->bytes_out == v->rep_out && segs_in == v->rep_segs_in &&
	    segs_out == v->rep_segs_out && retrans == v->rep_retrans && v->pid == v->rep_pid)
		return 0;
	v->rep_in = v->bytes_in;
	v->rep_out = v->bytes_out;
	v->rep_segs_in = segs_in;
	v->rep_segs_out = segs_out;
	v->rep_retrans = retrans;
	v->rep_pid = v->pid;
	e.type = TT_IT_SAMPLE;
	e.ts = bpf_ktime_get_ns();
	e.state = sk->__sk_common.skc_state;
	fill_id(&e, sk, v);
	e.bytes_in = v->rep_in;
	e.bytes_out = v->rep_out;
	e.pkts_in = segs_in;
	e.pkts_out = segs_out;
	e.srtt_us = tp->srtt_us >> 3;
	e.retrans = retrans;
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

/* Once per period: new UDP flows and those whose counters changed. */
SEC("iter/bpf_map_elem")
int it__udp(struct bpf_iter__bpf_map_elem *ctx)
{
	struct tt_udp_key *k = ctx->key;
	struct tt_udp_val *val = ctx->value;
	struct tt_event e = {};
	__u64 pkts;

	if (!k || !val)
		return 0;
	pkts = val->pkts_in + val->pkts_out;
	if (val->announced && pkts == val->rep_pkts)
		return 0;
	e.type = val->announced ? TT_IT_UDP_SAMPLE : TT_IT_UDP_NEW;
	val->announced = 1;
	val->rep_pkts = pkts;
	e.ts = bpf_ktime_get_ns();
	e.proto = IPPROTO_UDP;
	e.family = k->family;
	e.lport = k->lport;
	e.rport = k->rport;
	__builtin_memcpy(e.laddr, k->laddr, 16);
	__builtin_memcpy(e.raddr, k->raddr, 16);
	e.cookie = k->cookie;
	e.flow = val->flow;
	e.ifindex = val->ifindex;
	e.bytes_in = val->bytes_in;
	e.bytes_out = val->bytes_out;
	e.pkts_in = val->pkts_in;
	e.pkts_out = val->pkts_out;
	e.last_ts = val->last_ts;
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}

#if __has_include("backends.bpf.h")
#include "backends.bpf.h"
#endif
