/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The contracts between tcptop's stages, each in one table that every tool reads: the tools,
 * their exit statuses (with the rule for a stop by signal), the features a collector may leave
 * out, and the capabilities live capture needs. tests/unit/test_contract.c and
 * tests/025-exit-status.bats walk them across the tools; tcptop(1) documents them once. */
#ifndef TCPTOP_CONTRACT_H
#define TCPTOP_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stream.h"

/* The programs, as bits (lib/opts.h's option table uses the same). */
enum tool {
	TOOL_COLLECT = 1 << 0,
	TOOL_AGG = 1 << 1,
	TOOL_VIEW = 1 << 2,
	TOOL_PROM = 1 << 3,
	TOOL_CSV = 1 << 4,
	TOOL_WRAPPER = 1 << 5,
	TOOL_ALL = (1 << 6) - 1,
};

/* "tcptop-agg" for TOOL_AGG (one bit), "tcptop" for the wrapper. */
const char *tool_name(unsigned tool);

/* ---- exit statuses (sysexits.h) ---- */

struct exit_status {
	int code;	     /* 0, EX_USAGE...; -1 for the row "128+N" */
	unsigned tools;	     /* TOOL_* that can end with it */
	const char *meaning; /* "bad input data: corrupt, truncated, ..." */
};

extern const struct exit_status exit_statuses[];
extern const size_t exit_nstatuses;

/* True when tool may exit with code (128+N: any code above 128). */
bool exit_allowed(unsigned tool, int code);

/* The "Exit status:" paragraph of tool's --help, from the table: one line per status. */
void exit_help(FILE *f, unsigned tool);

/*
 * The status of a stage that a stop request (SIGINT, SIGTERM, SIGHUP: signal sig) ended, after
 * cleanup, once its output is complete (the last snapshot or row whole, END written). A stop
 * is an ordinary end where the stage still delivers everything it was asked for: the collector
 * (a live capture ends by being stopped), a reader that read its input to its end (a pipe:
 * the upstream stage ended its stream), and the wrapper once every stage did; 0 then. A stop
 * that left input unread (a file cut short, a stalled input given up, the exporter and the
 * table, which read until told to stop) ends with 128+sig, as a shell expects of a command
 * interrupted. tcptop(1) EXIT STATUS says the same.
 */
int exit_stopped(int sig, bool input_whole);

/* A failed write's status: -EPIPE (the reader went away: a quiet end) 0, -ENOMEM 71 (EX_OSERR),
 * any other 74 (EX_IOERR). */
int exit_write_status(int neg_errno);

/* For main() only: reports a failed write of what ("standard output", a path) on stderr,
 * unless it was EPIPE, and exits with exit_write_status(). */
__attribute__((noreturn)) void exit_write_failed(int neg_errno, const char *what);

/* ---- features a collector may leave out (HOPT_MISSING) ---- */

enum feature {
	FEAT_TCP,	 /* TCP connections (iter/tcp and the state tracepoint) */
	FEAT_OWNERS,	 /* owners of the connections that existed at start */
	FEAT_NETNS,	 /* other network namespaces' counters between open and close */
	FEAT_UDP,	 /* UDP datagram accounting */
	FEAT_UDP_CLOSE,	 /* UDP flows ending with their socket */
	FEAT_UDP_PEERS,	 /* the peers of unconnected UDP sockets */
	FEAT_CGROUP,	 /* owners' cgroups (no cgroup v2 mount) */
	FEAT_TCP_FIGS,	 /* TCP connections' figures (struct tcp_sock's, as ss -ti shows them) */
	FEAT_TCP_LIMITS, /* their clocks (busy, rwnd, sndbuf) and LIMIT: the kernel's HZ unknown */
	FEAT_N
};

/* What a reader shows as unknown ("?", an empty CSV cell, no label) when a feature is missing:
 * bits of the row fields it leaves without a value. */
enum field_bit {
	FIELD_CGROUP = 1 << 0,
	FIELD_OWNER = 1 << 1,	  /* pid and process of connections open before the start */
	FIELD_TCP_LIMIT = 1 << 2, /* LIMIT and the clocks behind it (busy, rwnd, sndbuf) */
	FIELD_TCP_FIGS = 1 << 3,  /* cwnd, ssthresh, delivery rate, RTT min and var, in flight,
				   * unsent, lost, reordering, retransmitted bytes */
};

struct feature_info {
	const char *word;    /* in HOPT_MISSING: "udp-peers" */
	unsigned fields;     /* enum field_bit */
	const char *meaning; /* for help screens and man pages: what is lost */
};

extern const struct feature_info features[FEAT_N];

/* Bits (1 << FEAT_*) of the features h's missing list names. Words not in the table (a newer
 * collector's) are kept in *unknown (NULL: not wanted), space separated, raw. */
unsigned features_missing(const struct stream_header *h, char *unknown, size_t size);
/* The field bits (enum field_bit) that the missing features in mask leave unknown. */
unsigned features_unknown_fields(unsigned mask);
/* Appends feature f's word to a missing list (HOPT_MISSING), once. */
void features_add(char *list, size_t size, enum feature f);

/* ---- privilege ---- */

/* What live capture needs in the effective set (root has them): CAP_BPF and CAP_PERFMON load
 * and attach, CAP_NET_ADMIN attaches the cgroup programs. The collector checks it at start and
 * the wrapper before it starts anything, with the same message. */
uint64_t caps_live_capture(void);
/* "needs root or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (missing CAP_NET_ADMIN)" when the
 * effective set lacks some (1, message in msg), else 0; -1 when the sets cannot be read
 * (message in msg). */
int caps_live_capture_check(char *msg, size_t size);

#endif /* TCPTOP_CONTRACT_H */
