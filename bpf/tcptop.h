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
	TT_EV_CLOSE = 1,       /* TCP socket reached CLOSE: final counters (also failed connects) */
	TT_EV_UDP_RELEASE = 2, /* a UDP socket released, in any namespace: its flows end */
	/* iterators, in batches */
	TT_IT_TCP = 10, /* iter/tcp: a connection of our namespace */
	TT_IT_UDP = 11, /* iter/udp: a UDP socket of our namespace */
	/* the polled map, read once per period */
	TT_POLLED = 20, /* a connection whose counters are read every period */
};

/* Per-CPU loss counters (index into the loss map). */
enum tt_loss {
	TT_LOSS_RINGBUF = 0,	 /* bpf_ringbuf_reserve failed: an event is lost */
	TT_LOSS_FLOW_FULL = 1,	 /* a UDP flow or a polled connection not tracked, a map full */
	TT_LOSS_OWNERS_FULL = 2, /* an owner not recorded: the owners map full */
	TT_LOSS_PEERS_FULL = 3,	 /* an unconnected UDP socket's peer not kept: udp_peer full */
	TT_LOSS_KP_ARGS = 4,	 /* a kprobe's arguments not kept: kp_args full */
	TT_LOSS_N = 5,
};

#define TT_COMM_LEN 16

/* Who owns a socket: the process seen connecting, accepting, sending or holding it. */
struct tt_owner {
	__u32 pid;
	__u32 pad;
	__u64 cgroup; /* cgroup v2 id (kernfs node id: the directory's inode number) */
	char comm[TT_COMM_LEN];
};

/* TCP counters as the kernel keeps them in struct tcp_sock. */
struct tt_tcp_counters {
	__u64 bytes_in;	 /* bytes_received, less the FIN once one came */
	__u64 bytes_out; /* bytes_sent - bytes_retrans: payload sent, each byte once */
	__u32 segs_in, segs_out;
	__u32 srtt_us; /* srtt_us >> 3 */
	__u32 retrans; /* total_retrans */
};

/* Why a TCP connection goes at the pace it does, from struct tcp_sock, as tcp_get_info()
 * reports it (ss -ti). Read by the walk, the periodic refresh and the close only, never per
 * packet. */
struct tt_tcp_figs {
	/* the chronograph (chrono_stat[], plus the clock running now up to now), in jiffies,
	 * wrapping as the kernel's: with data to send (the next two included), limited by the
	 * peer's receive window, limited by our send buffer */
	__u32 busy, rwnd, sndbuf;
	__u32 cwnd, ssthresh, reordering; /* segments */
	__u32 in_flight;		  /* segments: packets_out - sacked - lost + retrans_out */
	__u32 unsent;			  /* bytes: write_seq - snd_nxt */
	__u32 min_rtt_us, rttvar_us;	  /* rtt_min, mdev_us >> 2 */
	__u32 rate_delivered, rate_interval_us, mss; /* the delivery rate's parts */
	__u32 lost;				     /* segments lost since the start */
	__u64 bytes_retrans;
	__u8 app_limited; /* the delivery rate sample was limited by the application */
	__u8 pad[7];
};

/* One shape for every event and iterator record, so that one decoder serves both. */
struct tt_event {
	__u8 type; /* enum tt_event_type */
	__u8 proto, family;
	__u8 old_state, state;
	__u8 flags;	    /* TT_F_* */
	__u16 lport, rport; /* host order */
	__u32 netns, ifindex;
	__u64 ts;     /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u64 sock;   /* the socket's kernel address: its key here, never written to the stream */
	__u64 cookie; /* socket cookie where the kernel made one, else 0 */
	__u8 laddr[16], raddr[16];
	char ifname[16];
	struct tt_owner owner;
	struct tt_tcp_counters c;
	struct tt_tcp_figs f; /* TCP, with TT_F_FIGS */
};

#define TT_F_OWNER 0x01 /* owner is known */
#define TT_F_NEW   0x02 /* polled from its connect or establishment: begun after the start */
#define TT_F_FIGS  0x04 /* f was read (a polled entry is described before its first refresh) */

/* What iter/tcp last reported of a connection (socket storage, where the kernel allows it and
 * no activation is in use; with activation, the storage only marks a socket as polled). */
struct tt_sk {
	struct tt_tcp_counters c;
	__u32 busy; /* f.busy: a stalled connection's counters stand still, its clock runs */
	__u8 state, owner_seen, pad[2];
};

/* UDP flow: one socket and one peer. */
struct tt_udp_key {
	__u64 sock; /* kernel address of the socket */
	__u8 laddr[16], raddr[16];
	__u16 lport, rport; /* host order */
	__u8 family, pad[3];
};

struct tt_udp_val {
	__u64 bytes_in, bytes_out, pkts_in, pkts_out;
	__u64 first_ts, last_ts;
	__u32 netns, ifindex;
	struct tt_owner owner;
};

/* A TCP connection read every period (the polled map, by socket address): another
 * namespace's from its establishment to its close, one of ours while it is active. Its
 * identity is written once; counters, state and owner are refreshed in place. */
struct tt_polled {
	struct tt_event e; /* type TT_POLLED; e.ts: when last read */
	__u64 changed;	   /* when its counters or state last changed */
};

/* When a CPU last counted a UDP datagram: one cache line each. */
struct tt_udp_touch {
	__u64 ts, pad[7];
};

/* The peer an unconnected UDP socket's sendmsg or recvmsg names, kept from the cgroup hook
 * to the length tracepoint of the same call. */
struct tt_peer {
	__u64 sock;
	__u8 addr[16];
	__u16 port;
	__u8 family, pad[5];
};

#endif /* TCPTOP_BPF_TCPTOP_H */
