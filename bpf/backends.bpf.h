/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Byte counting on kernels without the sock_send_length/sock_recv_length tracepoints (< 6.3):
 * fentry/fexit programs (fe__*) and kprobe/kretprobe programs (kp__*) on the protocol functions,
 * feeding the collector's account_send()/account_recv(). Included at the end of tcptop.bpf.c.
 * Names: BACKEND__HOOK_FUNCTION[_entry|_ret], e.g. fe__send_tcp_sendmsg, kp__recv_udp_recvmsg_ret:
 * the collector keeps the programs of the backend it chose for each hook (send, recv).
 *
 * Which functions, measured on Debian's 6.1 kernel (tests/vm/README.md has the details):
 * - send: tcp_sendmsg (TCP, both families); tcp_sendpage (sendfile and splice into a TCP socket
 *   take inet_sendpage -> tcp_sendpage -> do_tcp_sendpages, never tcp_sendmsg); udp_sendmsg
 *   (IPv4); udpv6_sendmsg (IPv6; it calls udp_sendmsg itself for a v4-mapped destination, so
 *   udp_sendmsg skips AF_INET6 sockets); udp_sendpage (sendfile into an IPv4 UDP socket; it calls
 *   udp_sendmsg with length 0 first, which counts nothing). tcp_sendpage and udp_sendpage are
 *   gone in 6.5 (splice became sendmsg with MSG_SPLICE_PAGES): optional hooks.
 * - receive: tcp_recvmsg, udp_recvmsg, udpv6_recvmsg (which handles v4-mapped datagrams itself);
 *   the byte count is the function's return value, never tcp_cleanup_rbuf's cumulative `copied`;
 *   MSG_PEEK calls are skipped, so peeked bytes are counted once, when they are read.
 * - The *recvmsg functions lost their `noblock` argument in 5.19, which moved `flags` from the
 *   fifth to the fourth argument: fexit asks the kernel for the argument count where it can
 *   (bpf_get_func_arg_cnt, 5.17), kprobes go by the kernel version.
 * Only a positive return value is counted, as the tracepoints do.
 */
#ifndef TCPTOP_BACKENDS_BPF_H
#define TCPTOP_BACKENDS_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#ifndef TCPTOP_MSG_PEEK
#define TCPTOP_MSG_PEEK 2
#endif
#define TCPTOP_AF_INET6 10

/* Our own views of the kernel types we read (CO-RE matches them by name without the suffix),
 * so this file works with a full vmlinux.h or a hand-kept header alike. */
struct sock_common___tcptop {
	unsigned short skc_family;
} __attribute__((preserve_access_index));

struct sock___tcptop {
	struct sock_common___tcptop __sk_common;
} __attribute__((preserve_access_index));

struct pt_regs___tcptop {
	unsigned long di, si, dx, cx, r8, ax;
} __attribute__((preserve_access_index));

enum bpf_func_id___tcptop {
	BPF_FUNC_get_func_arg_cnt___tcptop = 185
};

extern int LINUX_KERNEL_VERSION __kconfig;

static __always_inline int tcptop_sk_is_inet6(const void *sk)
{
	const struct sock___tcptop *s = sk;

	return BPF_CORE_READ(s, __sk_common.skc_family) == TCPTOP_AF_INET6;
}

/* The socket a thread passed to a function, kept from the entry probe to the return probe: for
 * every kprobe, and for the fentry of the sendpage functions, whose sendmsg calls inside must
 * not count again. A thread is in at most one call of each function at a time (udpv6_sendmsg
 * -> udp_sendmsg nests two different ones), so (thread, function) is the key. */
enum tcptop_kp_fn {
	TCPTOP_KP_TCP_SENDMSG = 1,
	TCPTOP_KP_TCP_SENDPAGE,
	TCPTOP_KP_UDP_SENDMSG,
	TCPTOP_KP_UDPV6_SENDMSG,
	TCPTOP_KP_UDP_SENDPAGE,
	TCPTOP_KP_TCP_RECVMSG,
	TCPTOP_KP_UDP_RECVMSG,
	TCPTOP_KP_UDPV6_RECVMSG,
};

struct tcptop_kp_key {
	__u64 pid_tgid;
	__u32 fn;
	__u32 pad;
};

#ifndef TCPTOP_ARGS_MAX
#define TCPTOP_ARGS_MAX 8192 /* threads inside a hooked call at one time */
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPTOP_ARGS_MAX);
	__type(key, struct tcptop_kp_key);
	__type(value, __u64);
} tcptop_args SEC(".maps");

/* Calls not counted because tcptop_args was full: the collector reports it as a loss. */
__u64 tcptop_args_full = 0;

static __always_inline void tcptop_kp_enter(enum tcptop_kp_fn fn, __u64 sk)
{
	struct tcptop_kp_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .fn = fn };

	if (bpf_map_update_elem(&tcptop_args, &key, &sk, BPF_ANY))
		__sync_fetch_and_add(&tcptop_args_full, 1);
}

/* Returns the saved socket (0 if none) and forgets it. */
static __always_inline __u64 tcptop_kp_leave(enum tcptop_kp_fn fn)
{
	struct tcptop_kp_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .fn = fn };
	__u64 *skp, sk;

	skp = bpf_map_lookup_elem(&tcptop_args, &key);
	if (!skp)
		return 0;
	sk = *skp;
	bpf_map_delete_elem(&tcptop_args, &key);
	return sk;
}

/* Whether the thread is inside a call of fn (a sendpage whose inner sendmsg must not count). */
static __always_inline int tcptop_inside(enum tcptop_kp_fn fn)
{
	struct tcptop_kp_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .fn = fn };

	return fn && bpf_map_lookup_elem(&tcptop_args, &key) != NULL;
}

/* The kprobe programs call these; a collector whose account_*() cannot run in a kprobe (no
 * sk_storage or socket cookie helpers there before 6.x) defines its own before the include. */
#ifndef TCPTOP_KP_ACCOUNT_SEND
#define TCPTOP_KP_ACCOUNT_SEND(sk, bytes) account_send((struct sock *)(sk), (bytes))
#endif
#ifndef TCPTOP_KP_ACCOUNT_RECV
#define TCPTOP_KP_ACCOUNT_RECV(sk, bytes) account_recv((struct sock *)(sk), (bytes))
#endif

/* ---- fentry/fexit ---- */

/* fexit of a send function with `nargs` arguments: ctx[0] is the socket, ctx[nargs] the
 * return value. Not counted: an IPv6 socket in udp_sendmsg (udpv6_sendmsg counts the call) and
 * a sendmsg inside a sendpage (6.1's udp_sendpage is a udp_sendmsg with the pages; the
 * sendpage counts the call). */
#define TCPTOP_FE_SEND(fn, nargs, skip_inet6, outer)                                            \
	SEC("fexit/" #fn)                                                                       \
	int fe__send_##fn(__u64 *ctx)                                                           \
	{                                                                                       \
		long ret = (int)ctx[nargs];                                                     \
		struct sock *sk = (struct sock *)ctx[0];                                        \
                                                                                                \
		if (ret <= 0 || (skip_inet6 && tcptop_sk_is_inet6(sk)) || tcptop_inside(outer)) \
			return 0;                                                               \
		account_send(sk, ret);                                                          \
		return 0;                                                                       \
	}

/* sendpage: fentry marks the thread as inside it, fexit counts and forgets. */
#define TCPTOP_FE_SENDPAGE(fn, id)                                \
	SEC("fentry/" #fn)                                        \
	int fe__send_##fn##_entry(__u64 *ctx)                     \
	{                                                         \
		tcptop_kp_enter(id, ctx[0]);                      \
		return 0;                                         \
	}                                                         \
                                                                  \
	SEC("fexit/" #fn)                                         \
	int fe__send_##fn(__u64 *ctx)                             \
	{                                                         \
		long ret = (int)ctx[5];                           \
                                                                  \
		if (tcptop_kp_leave(id) && ret > 0)               \
			account_send((struct sock *)ctx[0], ret); \
		return 0;                                         \
	}

TCPTOP_FE_SEND(tcp_sendmsg, 3, 0, TCPTOP_KP_TCP_SENDPAGE)
TCPTOP_FE_SEND(udp_sendmsg, 3, 1, TCPTOP_KP_UDP_SENDPAGE)
TCPTOP_FE_SEND(udpv6_sendmsg, 3, 0, 0)
TCPTOP_FE_SENDPAGE(tcp_sendpage, TCPTOP_KP_TCP_SENDPAGE)
TCPTOP_FE_SENDPAGE(udp_sendpage, TCPTOP_KP_UDP_SENDPAGE)

/* fexit of a recvmsg: (sk, msg, len, flags, addr_len) since 5.19, (sk, msg, len, noblock,
 * flags, addr_len) before. */
static __always_inline void tcptop_fe_recv(__u64 *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	__u64 flags, ret;

	if (bpf_core_enum_value_exists(enum bpf_func_id___tcptop,
				       BPF_FUNC_get_func_arg_cnt___tcptop)) {
		if (bpf_get_func_arg(ctx, bpf_get_func_arg_cnt(ctx) == 6 ? 4 : 3, &flags) ||
		    bpf_get_func_ret(ctx, &ret))
			return;
	} else {
		/* before 5.17: the old layout */
		flags = ctx[4];
		ret = ctx[6];
	}
	if ((int)ret <= 0 || (flags & TCPTOP_MSG_PEEK))
		return;
	account_recv(sk, (int)ret);
}

SEC("fexit/tcp_recvmsg")
int fe__recv_tcp_recvmsg(__u64 *ctx)
{
	tcptop_fe_recv(ctx);
	return 0;
}

SEC("fexit/udp_recvmsg")
int fe__recv_udp_recvmsg(__u64 *ctx)
{
	tcptop_fe_recv(ctx);
	return 0;
}

SEC("fexit/udpv6_recvmsg")
int fe__recv_udpv6_recvmsg(__u64 *ctx)
{
	tcptop_fe_recv(ctx);
	return 0;
}

/* ---- kprobe/kretprobe ---- */

static __always_inline long tcptop_kp_ret(void *ctx)
{
	struct pt_regs___tcptop *regs = ctx;

	return (int)regs->ax;
}

#define TCPTOP_KP_SEND(fn, id, skip_inet6, outer)                                           \
	SEC("kprobe/" #fn)                                                                  \
	int kp__send_##fn(void *ctx)                                                        \
	{                                                                                   \
		struct pt_regs___tcptop *regs = ctx;                                        \
		__u64 sk = regs->di;                                                        \
                                                                                            \
		if ((skip_inet6 && tcptop_sk_is_inet6((void *)sk)) || tcptop_inside(outer)) \
			return 0;                                                           \
		tcptop_kp_enter(id, sk);                                                    \
		return 0;                                                                   \
	}                                                                                   \
                                                                                            \
	SEC("kretprobe/" #fn)                                                               \
	int kp__send_##fn##_ret(void *ctx)                                                  \
	{                                                                                   \
		__u64 sk = tcptop_kp_leave(id);                                             \
		long ret = tcptop_kp_ret(ctx);                                              \
                                                                                            \
		if (sk && ret > 0)                                                          \
			TCPTOP_KP_ACCOUNT_SEND(sk, ret);                                    \
		return 0;                                                                   \
	}

TCPTOP_KP_SEND(tcp_sendmsg, TCPTOP_KP_TCP_SENDMSG, 0, TCPTOP_KP_TCP_SENDPAGE)
TCPTOP_KP_SEND(tcp_sendpage, TCPTOP_KP_TCP_SENDPAGE, 0, 0)
TCPTOP_KP_SEND(udp_sendmsg, TCPTOP_KP_UDP_SENDMSG, 1, TCPTOP_KP_UDP_SENDPAGE)
TCPTOP_KP_SEND(udpv6_sendmsg, TCPTOP_KP_UDPV6_SENDMSG, 0, 0)
TCPTOP_KP_SEND(udp_sendpage, TCPTOP_KP_UDP_SENDPAGE, 0, 0)

/* Peeking calls are not remembered, so their return counts nothing. */
#define TCPTOP_KP_RECV(fn, id)                                                          \
	SEC("kprobe/" #fn)                                                              \
	int kp__recv_##fn(void *ctx)                                                    \
	{                                                                               \
		struct pt_regs___tcptop *regs = ctx;                                    \
		__u64 arg4 = regs->cx, arg5 = regs->r8, flags;                          \
                                                                                        \
		/* both loads stay: a load at a computed ctx offset is refused */       \
		barrier_var(arg4);                                                      \
		barrier_var(arg5);                                                      \
		flags = LINUX_KERNEL_VERSION >= KERNEL_VERSION(5, 19, 0) ? arg4 : arg5; \
		if (flags & TCPTOP_MSG_PEEK)                                            \
			return 0;                                                       \
		tcptop_kp_enter(id, regs->di);                                          \
		return 0;                                                               \
	}                                                                               \
                                                                                        \
	SEC("kretprobe/" #fn)                                                           \
	int kp__recv_##fn##_ret(void *ctx)                                              \
	{                                                                               \
		__u64 sk = tcptop_kp_leave(id);                                         \
		long ret = tcptop_kp_ret(ctx);                                          \
                                                                                        \
		if (sk && ret > 0)                                                      \
			TCPTOP_KP_ACCOUNT_RECV(sk, ret);                                \
		return 0;                                                               \
	}

TCPTOP_KP_RECV(tcp_recvmsg, TCPTOP_KP_TCP_RECVMSG)
TCPTOP_KP_RECV(udp_recvmsg, TCPTOP_KP_UDP_RECVMSG)
TCPTOP_KP_RECV(udpv6_recvmsg, TCPTOP_KP_UDPV6_RECVMSG)

#endif /* TCPTOP_BACKENDS_BPF_H */
