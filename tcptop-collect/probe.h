/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-collect's loading: which programs this kernel takes, feature by feature, and how
 * each is attached. What the kernel refuses is left out with its reason, never fatal, unless
 * no byte accounting remains. */
#ifndef TCPTOP_COLLECT_PROBE_H
#define TCPTOP_COLLECT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "stream.h"

enum backend {
	BK_AUTO,
	BK_TP,
	BK_FENTRY,
	BK_KPROBE,
	BK_N
};

/* "auto", "tracepoint", "fentry", "kprobe"; returns -1 for an unknown name. */
int backend_parse(const char *name);
const char *backend_name(enum backend b);

struct probe_opts {
	enum backend backend; /* for the UDP datagrams; TCP needs none */
	bool want_tcp, want_udp, verbose;
	uint32_t own_netns;
	uint64_t max_flows;
	uint32_t ringbuf_bytes;
	uint64_t quiet_ns; /* an active connection unchanged this long stops being polled */
};

#define PROBE_MAX_LINKS 32

struct collector {
	struct tcptop_bpf *skel;
	enum backend udp;	   /* BK_AUTO: no UDP accounting */
	bool tcp;		   /* iter/tcp and the state tracepoint */
	bool sk_storage;	   /* iter/tcp reports only what changed */
	bool active;		   /* active connections polled, the walk made seldom */
	enum poll_mech poll;	   /* how the polled map is refreshed */
	bool owners;		   /* owners of the sockets that existed at start */
	bool accept;		   /* owners of accepted connections */
	bool udp_peers;		   /* cgroup hooks name unconnected peers (backend tracepoint) */
	bool udp_close;		   /* iter/udp: flows end with their socket */
	bool figs;		   /* TCP connections' figures are read */
	unsigned hz;		   /* the kernel's HZ, 0 unknown (the clocks then missing) */
	char backend[HDR_STR_MAX]; /* for the stream header: "tcp=iter udp=tracepoint ..." */
	char missing[HDR_STR_MAX]; /* features left out, space separated (contract.h) */
	struct bpf_link *it_tcp, *it_udp, *it_polled, *it_owners;
	struct bpf_link *links[PROBE_MAX_LINKS];
	int nlinks;
	int kprobe_events;    /* kprobes made in tracefs, whose misses kprobe_profile counts */
	int kprobe_uncounted; /* kprobes attached through libbpf: misses not countable */
	uint64_t kprobe_base; /* their misses in kprobe_profile when attached */
	int kprobe_profile;   /* tracefs' kprobe_profile, opened as root (-1: none) */
};

/* Opens, loads and attaches what this kernel takes. Returns 0, or -1 with err filled: the
 * kernel can account no bytes at all (or the forced backend is unavailable). Features left
 * out are reported on stderr, one line each, and listed in c->missing. */
int probe_setup(struct collector *c, const struct probe_opts *o, char *err, size_t errsz);
void probe_destroy(struct collector *c);

/* The engine's view of what probe_setup loaded (engine.h); k->rb is the caller's. */
void probe_kern(struct collector *c, struct kern *k);
/* The ring buffer's map, for ring_open() (ring.h). */
int probe_events_fd(const struct collector *c);

#endif /* TCPTOP_COLLECT_PROBE_H */
