// SPDX-License-Identifier: GPL-2.0-or-later
/* The fallback backends of bpf/backends.bpf.h with trivial accounting: every byte the kernel
 * reports for one process is added to four counters, so tests/vm/hookcheck can compare them
 * with the exact traffic it made. No vmlinux.h: backends.bpf.h brings its own CO-RE types. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct sock;

const volatile __u32 target_tgid = 0;

__u64 sent_bytes = 0, sent_calls = 0, recv_bytes = 0, recv_calls = 0;

static __always_inline int hc_ours(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void account_send(struct sock *sk, long bytes)
{
	(void)sk;
	if (!hc_ours())
		return;
	__sync_fetch_and_add(&sent_bytes, bytes);
	__sync_fetch_and_add(&sent_calls, 1);
}

static __always_inline void account_recv(struct sock *sk, long bytes)
{
	(void)sk;
	if (!hc_ours())
		return;
	__sync_fetch_and_add(&recv_bytes, bytes);
	__sync_fetch_and_add(&recv_calls, 1);
}

#include "../../bpf/backends.bpf.h"

char LICENSE[] SEC("license") = "GPL";
