// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The reference monitors of `make bench-collect`, against which the collector's cost is judged:
 *
 *   fl__send, fl__recv   the floor: read the socket's protocol on the send and recv tracepoints
 *                        and return (what any hook on them must pay, one returning at once
 *                        for TCP included)
 *   sa__send, sa__recv   sk_storage accounting on the same tracepoints: bytes and calls per
 *                        socket, kept in socket-local storage (the per-packet design of 27 Nov)
 *   it__walk             iter/tcp that reads each socket's family and writes nothing: the
 *                        floor of a collector that walks every TCP socket once per period
 *
 * tests/bench/floor.c loads one set. Self-contained on purpose (its own two kernel types,
 * relocated by CO-RE), so that it measures the same thing whatever the collector's headers do.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MSG_PEEK 2

struct sock_common {
	unsigned short skc_family;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

struct bpf_iter_meta;

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

char LICENSE[] SEC("license") = "GPL";

/* Sockets the iterator walked, so that the loader can say it ran. */
__u64 walked;

/* The protocol is read and kept in a register the compiler must fill: nothing else is done,
 * for TCP or not, so that no atomic or map access is counted in the floor. */
static __always_inline int read_protocol(struct sock *sk)
{
	__u16 proto = sk->sk_protocol;

	asm volatile("" : : "r"(proto));
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(fl__send, struct sock *sk, int ret, int flags)
{
	return read_protocol(sk);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(fl__recv, struct sock *sk, int ret, int flags)
{
	return read_protocol(sk);
}

struct sa_counts {
	__u64 bytes_out;
	__u64 bytes_in;
	__u64 calls_out;
	__u64 calls_in;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sa_counts);
} sa_stor SEC(".maps");

SEC("tp_btf/sock_send_length")
int BPF_PROG(sa__send, struct sock *sk, int ret, int flags)
{
	struct sa_counts *c;

	if (ret <= 0)
		return 0;
	c = bpf_sk_storage_get(&sa_stor, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!c)
		return 0;
	__sync_fetch_and_add(&c->bytes_out, ret);
	__sync_fetch_and_add(&c->calls_out, 1);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sa__recv, struct sock *sk, int ret, int flags)
{
	struct sa_counts *c;

	if (ret <= 0 || (flags & MSG_PEEK))
		return 0;
	c = bpf_sk_storage_get(&sa_stor, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!c)
		return 0;
	__sync_fetch_and_add(&c->bytes_in, ret);
	__sync_fetch_and_add(&c->calls_in, 1);
	return 0;
}

SEC("iter/tcp")
int it__walk(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	if (!skc)
		return 0;
	if (skc->skc_family)
		__sync_fetch_and_add(&walked, 1);
	return 0;
}
