/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Types shared by the BPF programs (bpf/tcptop.bpf.c) and tcptop-collect: fixed width only. */
#ifndef TCPTOP_BPF_TCPTOP_H
#define TCPTOP_BPF_TCPTOP_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* What a ring buffer event or an iterator record describes (struct tt_event.type). */
enum tt_event_type {
	/* ring buffer, as they happen */
	TT_EV_OPEN = 1,	   /* TCP connection reached ESTABLISHED (or found late) */
	TT_EV_STATE = 2,   /* TCP state change of an announced connection */
	TT_EV_CLOSE = 3,   /* TCP connection reached CLOSE: final counters */
	TT_EV_RELEASE = 4, /* UDP socket released: its flows end */
	/* iterators, in batches */
	TT_IT_BOOT = 10,       /* iter/tcp: connection that existed before the collector */
	TT_IT_SAMPLE = 11,     /* iter/bpf_sk_storage_map: TCP counters or owner changed */
	TT_IT_SOCK = 12,       /* iter/bpf_sk_storage_map: a UDP socket's owner or netns */
	TT_IT_UDP_NEW = 13,    /* iter/bpf_map_elem: a UDP flow seen for the first time */
	TT_IT_UDP_SAMPLE = 14, /* iter/bpf_map_elem: a UDP flow's counters changed */
};

/* Per-CPU loss counters (index into the loss map). */
enum tt_loss {
	TT_LOSS_RINGBUF = 0,   /* bpf_ringbuf_reserve failed: an event is lost */
	TT_LOSS_FLOW_FULL = 1, /* a socket or UDP flow could not be tracked */
	TT_LOSS_EVICTED = 2,   /* a tracked flow was dropped before its end */
	TT_LOSS_N = 3,
};

#define TT_COMM_LEN 16

/* One shape for every event and iterator record, so that one decoder serves both. */
struct tt_event {
	__u8 type; /* enum tt_event_type */
	__u8 proto, family;
	__u8 old_state, state;
	__u8 flags;	    /* TT_F_* */
	__u16 lport, rport; /* host order */
	__u32 netns, ifindex, pid, pad;
	__u64 ts;     /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u64 cookie; /* socket cookie */
	__u64 flow;   /* TCP: the cookie; UDP: the flow id */
	__u8 laddr[16], raddr[16];
	char comm[TT_COMM_LEN];
	char ifname[16];
	__u64 bytes_in, bytes_out, pkts_in, pkts_out;
	__u32 srtt_us, retrans;
	__u64 last_ts; /* UDP: last datagram */
};

#define TT_F_OWNER 0x01 /* pid and comm are known */
#define TT_F_BOOT  0x02 /* the socket existed before the collector started */

/* Per-socket state in BPF_MAP_TYPE_SK_STORAGE: freed with the socket. */
struct tt_sk {
	__u64 cookie;
	__u64 bytes_in, bytes_out; /* TCP: application payload bytes */
	__u64 rep_in, rep_out;	   /* as last reported by the sample iterator */
	__u32 rep_segs_in, rep_segs_out, rep_retrans, rep_srtt;
	__u32 pid, rep_pid;
	__u32 netns;
	__u32 announced; /* 0/1, set once by whoever announces the connection first */
	__u8 closed, boot, proto, pad;
	__u32 pad2;
	char comm[TT_COMM_LEN];
};

/* UDP flow: one socket and one peer. */
struct tt_udp_key {
	__u64 cookie;
	__u8 laddr[16], raddr[16];
	__u16 lport, rport; /* host order */
	__u8 family, pad[3];
};

struct tt_udp_val {
	__u64 flow;
	__u64 bytes_in, bytes_out, pkts_in, pkts_out;
	__u64 first_ts, last_ts;
	__u64 rep_pkts; /* pkts_in + pkts_out as last reported */
	__u32 ifindex;
	__u32 announced;
};

/* UDP flow ids never collide with socket cookies (which count up from 1). */
#define TT_UDP_FLOW_BIT (1ULL << 63)

#endif /* TCPTOP_BPF_TCPTOP_H */
