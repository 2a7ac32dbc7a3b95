/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel types tcptop's BPF programs read, hand-kept (never generated from the build host).
 * Only the members used are listed; preserve_access_index makes libbpf relocate each access
 * against the running kernel's BTF, so layout and order here do not matter. */
#ifndef TCPTOP_VMLINUX_MIN_H
#define TCPTOP_VMLINUX_MIN_H

#include <linux/types.h>
#include <linux/bpf.h>

typedef _Bool bool;
enum {
	false = 0,
	true = 1
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be32 u6_addr32[4];
	} in6_u;
};

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	int skc_bound_dev_if;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct net_device {
	char name[16];
	int ifindex;
};

struct dst_entry {
	struct net_device *dev;
};

struct sock {
	struct sock_common __sk_common;
	int sk_rx_dst_ifindex;
	__u16 sk_protocol;
	__u16 sk_type;
	struct dst_entry *sk_dst_cache;
};

struct inet_sock {
	struct sock sk;
};

struct tcp_sock {
	struct inet_sock inet_conn;
	__u32 srtt_us;
	__u32 total_retrans;
	__u32 segs_in;
	__u32 segs_out;
	__u64 bytes_sent;
	__u64 bytes_retrans;
	__u64 bytes_received;
};

struct udp_sock {
	struct inet_sock inet;
};

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
};

struct socket {
	struct sock *sk;
};

struct file;
struct seq_file;
struct bpf_map;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
	__u32 uid;
};

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
	__u32 uid;
	int bucket;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
};

struct bpf_iter__bpf_sk_storage_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	struct sock *sk;
	void *value;
};

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
};

#pragma clang attribute pop

#endif /* TCPTOP_VMLINUX_MIN_H */
