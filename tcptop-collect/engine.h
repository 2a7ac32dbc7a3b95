/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-collect's engine: one sample period's reads of the kernel (the ring buffer, the polled
 * connections, the walks, the UDP flow table, the loss counters), handed to the translation
 * in time order, then the LOSS and TICK records. Its state for the run is one struct engine. */
#ifndef TCPTOP_COLLECT_ENGINE_H
#define TCPTOP_COLLECT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tcptop.h"
#include "xlate.h"

struct ring;
struct cgroups;

/* How the polled connections' counters are refreshed each period. */
enum poll_mech {
	POLL_NONE, /* not at all: other namespaces' connections at their start and close only */
	POLL_RUN,  /* rf__polled, run by BPF_PROG_TEST_RUN (5.13+) */
	POLL_ITER, /* it__polled, a map-element iterator */
};

/*
 * The kernel as the engine reads it: descriptors that probe.c fills from the loaded object
 * (-1: not loaded) and the BPF programs' globals. On these the engine makes only these
 * libbpf calls: bpf_iter_create, bpf_prog_test_run_opts, bpf_map_lookup_batch,
 * bpf_map_get_next_key, bpf_map_lookup_elem, bpf_map_lookup_and_delete_elem,
 * bpf_map_delete_elem and libbpf_num_possible_cpus, and ring_consume (ring.h); a unit test
 * (tests/unit/test_engine.c) links it against its own definitions of them, a fake kernel
 * that can fail any read. Iterator descriptors are read with read(2), and stay open across
 * periods while a walk is spread over them.
 */
struct kern {
	int polled, polled_out, udp_flows, owners, loss; /* maps */
	int it_tcp, it_udp, it_polled, it_owners;	 /* iterators' links */
	int rf_polled;					 /* rf__polled's program (POLL_RUN) */
	enum poll_mech poll;
	bool tcp;	 /* TCP connections */
	bool udp;	 /* UDP datagrams (the flow table) */
	bool sk_storage; /* iter/tcp reports only what changed, unless told to report all */
	bool active;	 /* active connections polled, the walk made seldom */
	bool accept;	 /* owners of accepted connections come from a hook */
	bool udp_peers;	 /* the peer table of unconnected UDP sockets is in use */
	/* the programs' globals (see tcptop.bpf.c) */
	volatile uint32_t *full_pass, *unmarkable, *walk_owners;
	volatile uint32_t *npolled, *npolled_more, *polled_read, *udp_nflows;
	volatile uint64_t *owners_added, *owners_removed;
	/* udp_touch[i * udp_touch_stride], i < udp_touch_n: when CPU i last counted a datagram */
	volatile uint64_t *udp_touch;
	unsigned udp_touch_n, udp_touch_stride;
	struct ring *rb; /* ring.h */
	/* The kprobes' misses since start (NULL: no kprobes): 0 and *n, or -errno. */
	int (*kprobe_missed)(void *ctx, uint64_t *n);
	void *kprobe_ctx;
};

/* Periods a walk of the processes' sockets that found the owners map full waits at least
 * before the next for connections without owner (see struct engine's owners_full). */
#define OWNERS_FULL_WAIT 60

struct engine_config {
	uint64_t interval_ns;
	uint64_t full_walk_ns; /* 0: as often as keeps the walk under 1% of a core */
	bool verbose;
};

/* An iterator read across periods: its descriptor stays open between them (the kernel keeps
 * its place and holds no lock nor reference between two reads). */
struct iter_run {
	int fd;	    /* -1: none under way */
	int err;    /* the first error of its reads, 0 while whole */
	size_t len; /* bytes of a record cut at the end of the chunk, kept for the next */
	int again;  /* EAGAIN in a row */
};

/* A growing array of events (lib/vec.h). */
struct evbuf {
	struct tt_event *v;
	size_t n, cap;
};

/* The kernel's reads that can fail, each said once on stderr. */
enum engine_read {
	READ_WALK,	/* iter/tcp */
	READ_UDP_WALK,	/* iter/udp */
	READ_OWNERS,	/* iter/task_file */
	READ_REFRESH,	/* rf__polled or it__polled */
	READ_POLLED,	/* the polled map */
	READ_UDP_FLOWS, /* the UDP flow table */
	READ_LOSS,	/* the loss counters */
	READ_KPROBE,	/* the kprobes' misses */
	READ_N
};

/* Everything a run of the collector keeps between periods. */
struct engine {
	struct engine_config cfg;
	struct kern k;
	struct stream_writer *wr;
	struct xlate *xl;
	struct cgroups *cgs; /* NULL: no cgroup v2 mount */
	struct evbuf queued; /* ring buffer events that wait for the kernel's reads, by time */
	struct evbuf polled; /* the polled connections of this period (POLL_NONE) */
	bool queueing;
	char *chunk;	   /* records of an iterator or a map, a chunk at a time (CHUNK bytes) */
	char *keys, *vals; /* one batch of a map */
	size_t kcap, vcap;
	uint64_t deadline; /* this period's reads of a walk stop here (0: not before its end) */
	struct {
		struct iter_run it;   /* the walk under way (it.fd -1: none) */
		uint64_t began, cpu;  /* when it began; the CPU its slices took so far */
		uint64_t periods;     /* the periods it spans so far */
		uint64_t lost;	      /* ring buffer losses when it began */
		bool full;	      /* it reports every connection */
		bool paced;	      /* it was due (not forced): read at the pace below */
		bool chain;	      /* the first ended: the next begins at once, paced */
		uint64_t pace;	      /* CPU ns a period that spreads a walk over its gap */
		bool polled_failed;   /* a polled read failed while it ran: it is not whole */
		uint64_t last, every; /* when the last walk began, and the gap to the next (ns) */
		uint64_t lost_seen;   /* ring buffer losses at the last whole full walk */
		bool force;	      /* the next period walks, every connection */
		bool owners_due;      /* the next walk looks the owners up (until one whole did) */
		uint64_t owners_seen; /* owners_added when a walk last looked them up */
		bool said_unmarkable;
	} walk;
	struct iter_run owners; /* the walk of the processes' sockets under way */
	bool owners_due;	/* the walk of the processes' sockets is to run (again) */
	bool owners_once;	/* one of them ran to its end (the first TCP walk waits) */
	/* The last one that ran to its end found the owners map full (owners_full grew while it
	 * ran): without an accept hook, the next for connections without owner waits until the
	 * map has room (an owner removed since) and OWNERS_FULL_WAIT periods have passed, or it
	 * would walk every socket again, each period, for owners it cannot record. */
	bool owners_full;
	bool owners_check;	 /* one ended: owners_full is to be found (next period) */
	uint64_t owners_loss;	 /* owners_full losses when the walk under way began */
	uint64_t owners_removed; /* owners removed (the programs' and ours) when it ended */
	uint64_t owners_wait;	 /* periods since it ended */
	uint64_t forgotten;	 /* owners this program removed from the map */
	bool ending;		 /* the last period: no walk begins, one under way is dropped */
	bool udp_walked;	 /* iter/udp ran whole once (the flows of sockets older than us) */
	uint64_t udp_touch[64];	 /* the programs' udp_touch when the flow table was last read */
	uint64_t kloss[TT_LOSS_N]; /* the kernel's loss counters, as last read */
	uint64_t kprobe_missed;	   /* as last read */
	uint64_t read_failed;	   /* LOSS_WALK_FAILED */
	unsigned said;		   /* 1 << enum engine_read: said on stderr */
	int ncpu;
};

/*
 * Return values: 0; a negative errno that ends the run (a failed write, whose status main()
 * decides with exit_write_failed(), or -ENOMEM). A read of the kernel that fails or is cut
 * short is not one of them: it is counted (walk_failed), said once on stderr, ends no
 * connection, and is tried again the next period.
 */

/* Sets up g (the translation on wr, with xc's filters); 0 or -ENOMEM. */
int engine_init(struct engine *g, const struct engine_config *cfg, const struct kern *k,
		struct stream_writer *wr, const struct xlate_config *xc, struct cgroups *cgs);
void engine_free(struct engine *g);
/* What exists already: the owners, then the walks of every connection, each spread over the
 * periods it needs (a slice of a quarter of the interval each period). */
int engine_start(struct engine *g);
/* One sample period: the kernel's reads, then LOSS and TICK, flushed. */
int engine_period(struct engine *g);
/* The ring buffer has events: to the translation. */
int engine_events(struct engine *g);
/* The last period (final counters: polled connections; without activation, a whole walk),
 * then END, flushed. */
int engine_end(struct engine *g);

/* The ring buffer's callback (ring_open's ctx: the engine). */
int engine_ringbuf_event(void *ctx, void *data, size_t size);

/* Runs the polled map's refresh once (k->poll): 0, or the errno of the failure. */
int kern_refresh(const struct kern *k);
/* Whether the reads each period needs work (an iterator made, the refresh run): 0 or errno. */
int kern_check(const struct kern *k);

#endif /* TCPTOP_COLLECT_ENGINE_H */
