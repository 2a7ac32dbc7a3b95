/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel types tcptop's BPF programs read, hand-kept (never generated from the build host).
 * Only the members used are listed; preserve_access_index makes libbpf relocate each access
 * against the running kernel's BTF, so layout and order here do not matter. */
#ifndef TCPTOP_VMLINUX_MIN_H
#define TCPTOP_VMLINUX_MIN_H
/* bpf_tracing.h: the kernel's pt_regs member names (di, si, ...), as below */
#define __VMLINUX_H__

#include <linux/types.h>
#include <linux/bpf.h>

typedef _Bool bool;
typedef unsigned long size_t;
enum {
	false = 0,
	true = 1
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* x86-64 registers, for the kprobe programs (PT_REGS_PARMn) */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di;
	unsigned long orig_ax, ip, cs, flags, sp, ss;
};

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

typedef struct {
	__s64 counter;
} atomic64_t;

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
	atomic64_t skc_cookie;
	unsigned long skc_flags; /* sk_flags: SOCK_DONE and the others */
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
	int sk_rx_dst_ifindex; /* 5.16+; before, struct inet_sock's rx_dst_ifindex */
	__u16 sk_protocol;
	__u16 sk_type;
	struct dst_entry *sk_dst_cache;
	void *sk_bpf_storage; /* struct bpf_local_storage *: only tested for NULL */
};

enum sock_flags {
	SOCK_DEAD = 0,
	SOCK_DONE = 1,
};

struct inet_sock {
	struct sock sk;
	__be16 inet_sport; /* kept after the port is released at the close (skc_num is not) */
};

/* The kernels before 5.16 */
struct inet_sock___old {
	int rx_dst_ifindex;
};

struct minmax_sample {
	__u32 t, v;
};

struct minmax {
	struct minmax_sample s[3];
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
	/* what ss -ti reports (tcp_get_info()); the same in 5.10 to 7.2 */
	__u32 snd_cwnd, snd_ssthresh, reordering, mss_cache;
	__u32 packets_out, sacked_out, lost_out, retrans_out, lost;
	__u32 write_seq, snd_nxt;
	__u32 mdev_us;
	struct minmax rtt_min;
	__u32 rate_delivered, rate_interval_us;
	__u8 rate_app_limited : 1;
	/* a 2-bit field up to 6.12, a byte from 6.18: read by its relocated offset and size */
	__u8 chrono_type : 2;
	__u32 chrono_start;
	__u32 chrono_stat[3];
};

struct udp_sock {
	struct inet_sock inet;
};

struct kernfs_node {
	__u64 id;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

struct file;

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	struct files_struct *files;
	struct css_set *cgroups;
};

struct socket {
	struct sock *sk;
};

struct inode {
	unsigned short i_mode;
};

struct file {
	struct inode *f_inode;
	void *private_data;
};

struct msghdr {
	void *msg_name;
};

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

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
	void *key;
	void *value;
};

#pragma clang attribute pop

/* UAPI layouts, fixed: no relocation (the kernel's BTF may not even have them) */
struct sockaddr {
	unsigned short sa_family;
};

struct sockaddr_in {
	unsigned short sin_family;
	__be16 sin_port;
	__be32 sin_addr;
};

struct sockaddr_in6 {
	unsigned short sin6_family;
	__be16 sin6_port;
	__u32 sin6_flowinfo;
	struct in6_addr sin6_addr;
};

#endif /* TCPTOP_VMLINUX_MIN_H */
