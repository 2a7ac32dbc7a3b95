/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-collect's translation of what the kernel reports (ring buffer events, iterator
 * records, map reads) into stream records: the connection table and its rules. Pure: it
 * calls the kernel only through the callbacks it is given, so tests drive it with fakes. */
#ifndef TCPTOP_COLLECT_XLATE_H
#define TCPTOP_COLLECT_XLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "stream.h"
#include "tcptop.h"

struct xlate;

struct xlate_ops {
	void *ctx;
	/* Write one record; returns 0 or -errno (the translation stops writing). */
	int (*put)(void *ctx, const struct rec *r);
	/* The final counters of a UDP flow, read and removed from the kernel's table at once
	 * (0), or -ENOENT when it is gone already. */
	int (*udp_final)(void *ctx, const struct tt_udp_key *k, struct tt_udp_val *v);
	/* Forget the owner entry of a socket that went away (may be NULL). */
	void (*forget_owner)(void *ctx, uint64_t sock);
	/* Name of an interface of our own namespace (may be NULL): 0 and name filled, or -1. */
	int (*ifname)(void *ctx, uint32_t ifindex, char name[IFNAME_LEN]);
	/* Path of a cgroup by id (may be NULL): 0 and path filled, or -1. */
	int (*cgroup_path)(void *ctx, uint64_t id, char *path, size_t size);
};

struct xlate_config {
	uint32_t own_netns;	 /* the namespace the iterators see */
	uint64_t udp_timeout_ns; /* a UDP flow ends after this long without a datagram */
	uint32_t pid;		 /* only connections of this process (0: all) */
	uint16_t port;		 /* only connections with this port at either end (0: all) */
	bool want_tcp, want_udp;
	bool figs;   /* TCP connections' figures are written (the events carry them) */
	unsigned hz; /* the kernel's HZ: the unit of their clocks; 0 unknown (written as 0) */
};

struct xlate_stats {
	uint64_t evicted;     /* connections ended without their close (the kernel lost it) */
	uint64_t conns;	      /* connections tracked now */
	uint64_t unowned_new; /* TCP connections found without an owner since the reset */
	uint64_t unowned;     /* TCP connections of our namespace without an owner now */
	uint64_t udp_flows;   /* UDP flows tracked now */
	uint64_t tombs;	      /* closed TCP connections remembered (the last at each address) */
	uint64_t suspects;    /* connections the last whole walk missed, ended if the next does */
};

struct xlate *xlate_new(const struct xlate_config *cfg, const struct xlate_ops *ops);
void xlate_free(struct xlate *x);

/*
 * Every function below that takes records in returns the translation's error: 0, or the
 * -errno of a failed write (put) or of memory (-ENOMEM), sticky: once set, nothing more is
 * written, and the caller ends the run.
 */

/* A ring buffer event, an iterator record, or the event of an entry of the polled map (a TCP
 * connection of another namespace or an active one of ours, read this period). A TCP report
 * older than what was written of its connection (counters behind) changes nothing. */
int xlate_event(struct xlate *x, const struct tt_event *e);
/* A hint for a batch of reports: the table's memory that e's lookup will read, fetched ahead
 * (first its bucket, then with node its first entry). Changes nothing. */
void xlate_prefetch(const struct xlate *x, const struct tt_event *e, bool node);

/*
 * Periods and walks. Each sample period of TCP begins with xlate_tcp_period() (tombstones age
 * by periods). A walk of every TCP connection of our namespace may span several periods:
 * between xlate_tcp_walk_begin() and xlate_tcp_walk_end() come its records, the polled
 * connections and the closes, each period's in time order. A walk is whole when every read of
 * it succeeded and it ran to its end; the caller says so at its end. At the end of a whole full
 * walk (one that reports every connection), a connection of our namespace that existed when it
 * began and that neither it nor a polled read met since is missed; one that two whole full
 * walks in a row missed is ended (counted as evicted), and stats.suspects counts those missed
 * once, for which the caller walks again at once. A walk that is not whole ends nothing. Until
 * the first whole full walk ends, what the walks meet (and polled connections not polled from
 * their start) existed before the collector: flagged begun before.
 *
 * UDP: a whole pass of iter/udp (between begin and end) ends the flows of the sockets it no
 * longer met.
 */
void xlate_tcp_period(struct xlate *x);
void xlate_tcp_walk_begin(struct xlate *x, bool full);
int xlate_tcp_walk_end(struct xlate *x, uint64_t now, bool whole);
void xlate_udp_pass_begin(struct xlate *x);
int xlate_udp_pass_end(struct xlate *x, uint64_t now, bool whole);

/* One entry of the kernel's UDP flow table, read once per period. */
int xlate_udp_flow(struct xlate *x, const struct tt_udp_key *k, const struct tt_udp_val *v,
		   uint64_t now);
/* Ends the UDP flows idle for the timeout: only after a whole read of the flow table (the
 * last datagram's time of a flow not read is not known). */
int xlate_udp_expire(struct xlate *x, uint64_t now);
/* Ends the flows of the UDP sockets released (TT_EV_UDP_RELEASE) since the last call, with
 * their final counts: only after a whole read of the flow table, which may add flows to them. */
int xlate_udp_released(struct xlate *x, uint64_t now);

/* The sticky error (see above), 0 if none. */
int xlate_error(const struct xlate *x);
void xlate_stats(const struct xlate *x, struct xlate_stats *s);
/* Zero unowned_new: the caller looked the owners up. */
void xlate_unowned_reset(struct xlate *x);

#endif /* TCPTOP_COLLECT_XLATE_H */
