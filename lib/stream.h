/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tcptop stream: record definitions, writer and reader (man/tcptop-stream.5 is normative). */
#ifndef TCPTOP_STREAM_H
#define TCPTOP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define STREAM_MAJOR 1
#define STREAM_MINOR 1

/* Every record: u32 type | u32 total length | body | u32 total length. */
#define STREAM_FRAME_MIN  16	/* type, length, trailer, rounded to 8 */
#define STREAM_RECORD_MAX 65536 /* cap on any record's total length */
#define STREAM_ALIGN	  8

/* The stream header is itself a record; its type reads the same in either byte order and
 * catches CR/LF translation, like pcapng's section header block. */
#define REC_HEADER	 0x0A0D0D0Au
#define STREAM_SIGNATURE "tcptop\x89\x1a" /* 8 bytes at offset 8: catches 7-bit and ^Z mangling */
#define STREAM_BOM	 0x1A2B3C4Du

enum stream_kind {
	STREAM_KIND_RAW = 1,	  /* tcptop-collect's events */
	STREAM_KIND_SNAPSHOT = 2, /* tcptop-agg's per-interval tables */
};

enum rec_type {
	REC_END = 0x0001, /* both vocabularies: clean end of a section */

	/* raw vocabulary */
	REC_CONN_OPEN = 0x0010,
	REC_CONN_STATE = 0x0011,
	REC_CONN_SAMPLE = 0x0012,
	REC_CONN_CLOSE = 0x0013,
	REC_CONN_OWNER = 0x0014,
	REC_TICK = 0x0015,
	REC_IFNAME = 0x0016,
	REC_LOSS = 0x0017,
	REC_CGROUP = 0x0018, /* both vocabularies: a cgroup id's path, before the first use */

	/* snapshot vocabulary */
	REC_SNAP_BEGIN = 0x0020,
	REC_SNAP_ROW = 0x0021,
	REC_SNAP_END = 0x0022,
	REC_HOST = 0x0023, /* one host of a merged snapshot stream (tcptop-agg --merge) */
	/* 1.1: a delta snapshot carries only what changed since the previous snapshot; bodies as
	 * SNAP_BEGIN, SNAP_ROW, HOST, SNAP_END (decoded into the same members of struct rec) */
	REC_DELTA_BEGIN = 0x0024,
	REC_DELTA_ROW = 0x0025,
	REC_DELTA_HOST = 0x0026,
	REC_DELTA_END = 0x0027,
};

/* Header option codes: {u16 code, u16 length, value, pad to 4}, ended by code 0. */
enum hdr_opt {
	HOPT_END = 0,
	HOPT_PRODUCER = 1, /* string: program name */
	HOPT_VERSION = 2,  /* string: program version */
	HOPT_HOSTNAME = 3, /* string */
	HOPT_BOOT_ID = 4,  /* string: /proc/sys/kernel/random/boot_id */
	HOPT_KERNEL = 5,   /* string: uname -r */
	HOPT_BACKEND = 6,  /* string: "hook=backend ..." chosen by the collector */
	HOPT_INTERVAL = 7, /* u64 ns: sample period (raw) or snapshot interval (snapshot) */
	HOPT_FILTER = 8,   /* string: filters applied by the producer, human readable */
	HOPT_MISSING = 9,  /* string: features left out, space separated (see below) */
};

/* The feature names HOPT_MISSING may list: the collector could not load what each needs, so
 * the corresponding columns are unknown (not zero) for the whole section. */
#define FEATURE_NAMES "udp owners rtt retrans packets state cgroup failed-connects"

#define HDR_STR_MAX 256

struct stream_header {
	uint16_t major, minor;
	uint16_t kind;	     /* enum stream_kind */
	int64_t anchor_real; /* CLOCK_REALTIME ns ... */
	uint64_t
		anchor_mono; /* ... at this CLOCK_MONOTONIC ns: wall = anchor_real + (t - anchor_mono) */
	uint64_t interval_ns;
	char producer[HDR_STR_MAX];
	char version[HDR_STR_MAX];
	char hostname[HDR_STR_MAX];
	char boot_id[HDR_STR_MAX];
	char kernel[HDR_STR_MAX];
	char backend[HDR_STR_MAX];
	char filter[HDR_STR_MAX];
	char missing[HDR_STR_MAX]; /* HOPT_MISSING, "" when nothing is missing */
};

/* True when the header's HOPT_MISSING names feature (one of FEATURE_NAMES). */
int stream_missing(const struct stream_header *h, const char *feature);

#define COMM_LEN   16
#define IFNAME_LEN 16

/* Protocol numbers and families as the kernel spells them. */
#define PROTO_TCP    6
#define PROTO_UDP    17
#define FAMILY_INET  2
#define FAMILY_INET6 10

/* Flags of a connection (CONN_OPEN.flags, SNAP_ROW.flags). */
#define CONN_F_BEGUN_BEFORE 0x01 /* existed before the collector started; counters so far */
#define CONN_F_CLOSED	    0x02 /* closed (or expired) during the snapshot's interval */
#define CONN_F_NEW	    0x04 /* first seen during the snapshot's interval */
#define CONN_F_NO_OWNER	    0x08 /* no process context seen yet: pid and comm unknown */
#define CONN_F_FAILED	    0x10 /* TCP: closed without reaching ESTABLISHED (SNAP_ROW only) */

/* A cgroup v2 path relative to the cgroup2 mount ("/system.slice/nginx.service"): raw kernel
 * bytes, hostile. Longer paths are cut to CGROUP_PATH_MAX - 1 bytes. */
#define CGROUP_PATH_MAX 512

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT	2
#define TCP_CLOSE	7

/* Counters carried by OPEN, SAMPLE and CLOSE: cumulative since the connection began. */
struct conn_counters {
	uint64_t bytes_in, bytes_out; /* payload bytes received / sent by the application */
	uint64_t pkts_in, pkts_out;   /* TCP segments, UDP datagrams */
	uint32_t srtt_us;	      /* TCP smoothed RTT, microseconds; 0 unknown or UDP */
	uint32_t retrans;	      /* TCP retransmitted segments */
};

/* Why a TCP connection goes at its pace: the kernel's own figures (struct tcp_sock, as
 * tcp_get_info() and ss -ti report them), an optional trailing block of CONN_OPEN, CONN_SAMPLE,
 * CONN_CLOSE and SNAP_ROW (TCP_FIGS_LEN bytes). The clocks, retrans_bytes and lost count since
 * the connection began and wrap at 2^32: a reader takes differences modulo 2^32 (lib/limit.h).
 * A field the collector could not read is flagged by the header's missing features
 * (tcp-limits: the clocks; tcp-figures: all of them), never written as 0 for unknown. */
struct tcp_figs {
	uint32_t busy_ms;	/* with data to send (tcpi_busy_time): the next two included */
	uint32_t rwnd_ms;	/* of which the peer's receive window held the data back */
	uint32_t sndbuf_ms;	/* of which our send buffer was full */
	uint32_t retrans_bytes; /* bytes retransmitted (tcpi_bytes_retrans, mod 2^32) */
	uint32_t lost;		/* segments lost (tcp_sock.lost) */
	uint32_t cwnd;		/* congestion window, segments */
	uint16_t ssthresh;	/* slow-start threshold, segments; TCP_NO_SSTHRESH: none (ss too
				 * shows none from 65535 up: the initial one is "infinite") */
	uint16_t reordering;	/* reordering degree, segments (65535 at most) */
	uint32_t in_flight;	/* segments sent and not acknowledged, less those SACKed or
				 * lost, plus retransmissions (tcp_packets_in_flight) */
	uint32_t unsent;	/* bytes written not yet sent (tcpi_notsent_bytes) */
	uint32_t min_rtt_us;	/* lowest RTT seen (windowed: tcp_min_rtt) */
	uint32_t rttvar_us;	/* RTT variation (tcpi_rttvar) */
	float delivery_rate;	/* bytes/s of the latest delivery rate sample (IEEE single) */
};
#define TCP_FIGS_LEN	48
#define TCP_NO_SSTHRESH 0xFFFF

/* What identifies a connection on the host. Addresses are in network byte order; an IPv4
 * address occupies the first 4 bytes with the rest zero. */
struct conn_id {
	uint64_t flow;	 /* key of the connection within a section (unique while it lives) */
	uint64_t cookie; /* socket cookie (several UDP flows share one) */
	uint32_t netns;	 /* network namespace inode */
	uint32_t ifindex;
	uint8_t proto, family;
	uint16_t lport, rport; /* host order */
	uint8_t laddr[16], raddr[16];
};

struct rec_conn_open {
	uint64_t ts; /* collector CLOCK_MONOTONIC ns */
	struct conn_id id;
	uint8_t state; /* TCP state (1 ESTABLISHED ... 12 NEW_SYN_RECV), 0 for UDP */
	uint8_t flags; /* CONN_F_* */
	uint32_t pid;
	char comm[COMM_LEN]; /* raw kernel bytes, NUL padded: hostile */
	struct conn_counters c;
	uint64_t cgroup_id; /* the owner's cgroup v2 id, 0 unknown (optional trailing field) */
	uint8_t has_figs;   /* TCP: the trailing figures are there */
	struct tcp_figs figs;
};

struct rec_conn_state {
	uint64_t ts, flow;
	uint8_t old_state, new_state;
};

struct rec_conn_sample {
	uint64_t ts, flow;
	struct conn_counters c;
	uint8_t has_figs; /* TCP: the trailing figures are there */
	struct tcp_figs figs;
};

struct rec_conn_close {
	uint64_t ts, flow;
	uint8_t state; /* last state seen */
	struct conn_counters c;
	uint8_t has_figs; /* TCP: the trailing figures are there */
	struct tcp_figs figs;
};

struct rec_conn_owner {
	uint64_t ts, flow;
	uint32_t pid;
	char comm[COMM_LEN];
	uint64_t cgroup_id; /* as in CONN_OPEN (optional trailing field) */
};

/* The path of a cgroup id; comes before the first record of its section that names the id
 * (raw: before CONN_OPEN/CONN_OWNER; snapshot: before the SNAP_BEGIN of the first snapshot
 * with a row naming it). A later CGROUP for the same id replaces the path. In a merged stream
 * ids of two hosts may collide: a reader keys a path by (host, id). */
struct rec_cgroup {
	uint64_t id;
	uint32_t host; /* snapshot streams: the REC_HOST index whose id it is (as SNAP_ROW.host);
			* 0 when alone, and in raw streams */
	char path[CGROUP_PATH_MAX]; /* NUL terminated here; length-prefixed on the wire */
};

struct rec_tick {
	uint64_t ts; /* every record before this one describes time up to ts */
};

struct rec_ifname {
	uint32_t netns, ifindex;
	char name[IFNAME_LEN];
};

/* Loss counters: codes below; values cumulative since the section began. */
enum loss_code {
	LOSS_RINGBUF = 1,	    /* collector: failed ring buffer reserves (events lost) */
	LOSS_FLOW_TABLE_FULL = 2,   /* collector: flows not tracked, kernel map full */
	LOSS_FLOW_EVICTED = 3,	    /* collector: flows dropped before their close */
	LOSS_KPROBE_MISSED = 4,	    /* collector: kretprobe returns the kernel missed */
	LOSS_WALK_FAILED = 5,	    /* collector: walks or refreshes failed or cut short */
	LOSS_OWNERS_FULL = 6,	    /* collector: owners not recorded, kernel map full */
	LOSS_UDP_PEERS_EVICTED = 7, /* collector: UDP peers evicted before their flow ended */
	LOSS_AGG_TABLE_FULL = 16,   /* agg: connections not shown, --max-flows reached */
	LOSS_AGG_UNKNOWN_FLOW = 17, /* agg: records naming a flow never opened */
	LOSS_AGG_GAP = 18,	    /* agg: intervals skipped by a time jump */
	LOSS_AGG_NAMES_FULL = 19,   /* agg: interface names or cgroup paths not kept */
	LOSS_AGG_LOSS_OTHER = 20,   /* agg: loss counters of codes a snapshot had no room for */
};
#define LOSS_MAX 16

struct loss_entry {
	uint32_t code;
	uint64_t value;
};

struct rec_loss {
	uint64_t ts;
	uint32_t n;
	struct loss_entry e[LOSS_MAX];
};

#define SNAP_F_PARTIAL 0x01 /* the input ended without END: the interval is incomplete */
#define SNAP_F_LOSS    0x02 /* some loss counter is non-zero */

struct rec_snap_begin {
	uint64_t seq;		       /* 1, 2, ... within the section */
	int64_t time_ns;	       /* wall clock ns since the epoch: end of the interval */
	uint64_t mono_ns;	       /* the same instant on the collector's monotonic clock */
	uint64_t span_ns;	       /* time actually covered since the previous snapshot */
	uint64_t interval_ns;	       /* nominal interval */
	uint32_t flags;		       /* SNAP_F_* */
	uint32_t rows;		       /* number of SNAP_ROW records that follow */
	uint32_t tcp_conns, udp_flows; /* rows by protocol */
	uint64_t bytes_in, bytes_out;  /* sums over the rows: cumulative bytes */
	double rate_in, rate_out;      /* sums over the rows: bytes/s */
	uint32_t hidden;	       /* connections left out by filters */
	uint32_t nloss;
	struct loss_entry loss[LOSS_MAX];
	uint32_t table_rows; /* 1.1, trailing: rows of the whole table (after a delta), 0 unknown */
};

struct rec_snap_row {
	struct conn_id id;
	uint8_t state, flags; /* flags: CONN_F_* */
	/* TCP with figures: what held it back during the interval (enum limit, lib/limit.h) and
	 * the share of the interval that cause took, percent; 0 0 otherwise */
	uint8_t limit, limit_pct;
	uint32_t pid;
	char comm[COMM_LEN];
	char ifname[IFNAME_LEN];
	struct conn_counters c;
	double rate_in, rate_out; /* bytes/s over the interval */
	uint64_t first_ns;	  /* monotonic: first seen */
	uint64_t last_ns;	  /* monotonic: last sample or event */
	uint64_t cgroup_id;	  /* 0 unknown (optional trailing field) */
	uint32_t
		host; /* trailing, after cgroup_id: index of a REC_HOST of the snapshot; 0 when alone */
	uint8_t has_figs; /* TCP: the trailing figures are there (after host) */
	struct tcp_figs figs;
};

/* A host's state in a merged snapshot stream. */
enum host_state {
	HOST_LIVE = 1,	  /* its input is open and keeps up */
	HOST_ENDED = 2,	  /* its input ended: its last rows are shown no more */
	HOST_LAGGING = 3, /* its input is open but behind the others: its last rows are shown */
};

#define HOST_BOOT_LEN 64

/* Written after SNAP_BEGIN for every host of a merged stream, before the rows. */
struct rec_host {
	uint32_t index;	 /* what SNAP_ROW.host names; 0 is never used */
	uint32_t state;	 /* enum host_state */
	int64_t time_ns; /* wall clock: end of the host's latest interval */
	uint32_t nloss;	 /* the host's loss counters, cumulative */
	struct loss_entry loss[LOSS_MAX];
	char hostname[HDR_STR_MAX]; /* raw, from the host's header: hostile */
	char boot_id[HOST_BOOT_LEN];
};

struct rec_snap_end {
	uint64_t seq;
};

struct rec_end {
	uint64_t ts;
};

struct rec {
	uint32_t type;
	uint64_t offset; /* byte offset of the record in its input (reader) */
	union {
		struct stream_header header;
		struct rec_end end;
		struct rec_conn_open open;
		struct rec_conn_state state;
		struct rec_conn_sample sample;
		struct rec_conn_close close;
		struct rec_conn_owner owner;
		struct rec_tick tick;
		struct rec_ifname ifname;
		struct rec_loss loss;
		struct rec_cgroup cgroup;
		struct rec_snap_begin snap_begin;
		struct rec_snap_row row;
		struct rec_snap_end snap_end;
		struct rec_host host;
	} u;
};

const char *stream_kind_name(unsigned kind);

/* The record kinds, in one table (stream.c): a known record of the other vocabulary is corrupt,
 * an unknown one is skipped. */
struct rec_kind {
	uint32_t type;
	const char *name; /* "CONN_OPEN" */
	unsigned vocab;	  /* bits 1 << STREAM_KIND_*: the stream kinds it belongs to */
	size_t body_min;  /* bytes of body every writer writes */
};
extern const struct rec_kind rec_kinds[];
extern const size_t rec_nkinds;
/* The kind of type, or NULL (unknown: skipped by readers). */
const struct rec_kind *rec_kind(uint32_t type);
const char *rec_type_name(uint32_t type);
/* The loss codes in one table (stream.c), in the order readers show them; loss_code_name()
 * gives "unknown" for a code not in it (a newer writer's). */
struct loss_kind {
	uint32_t code;
	const char *name;    /* "flow_evicted": CSV column loss_NAME, exporter label */
	const char *meaning; /* for man pages and help */
};
extern const struct loss_kind loss_kinds[];
extern const size_t loss_nkinds;
const char *loss_code_name(uint32_t code);
const char *tcp_state_name(unsigned state);

/* Writer: buffered, writes whole records only; stream_flush() on record boundaries. */
struct stream_writer;

struct stream_writer *stream_writer_new(int fd);
void stream_writer_free(struct stream_writer *w);
/* Each returns 0, or -errno with the writer left unusable (EPIPE included). */
int stream_write_header(struct stream_writer *w, const struct stream_header *h);
int stream_write(struct stream_writer *w, const struct rec *r);
int stream_flush(struct stream_writer *w);
uint64_t stream_writer_offset(const struct stream_writer *w);
/* Encode one record into buf (at least STREAM_RECORD_MAX bytes); returns its length. */
size_t stream_encode(const struct rec *r, uint8_t *buf);

/* Reader */
enum stream_status {
	STREAM_OK = 0,	      /* a record was read into *r */
	STREAM_EOF = 1,	      /* clean end: input ended right after an END record */
	STREAM_NO_END = 2,    /* input ended on a record boundary without END */
	STREAM_TRUNCATED = 3, /* input ended inside a record */
	STREAM_CORRUPT = 4,   /* bad magic, length, trailer, version, body */
	STREAM_IO = 5,	      /* read(2) failed */
	STREAM_STOPPED = 6,   /* the wait hook asked to stop (stream_reader_set_wait) */
};

struct stream_reader;

/* name is used in messages ("-" or a path). Reads from fd with read(2). */
struct stream_reader *stream_reader_new(int fd, const char *name);
/* Read from memory instead (tests, fuzzing). */
struct stream_reader *stream_reader_mem(const void *buf, size_t len, const char *name);
void stream_reader_free(struct stream_reader *rd);
/* Reads of up to size bytes (128 KiB unless set larger): fewer read(2)s, each with its wait
 * (stream_reader_set_wait()), for a reader of large inputs, at the cost of a buffer as large.
 * 0, or -ENOMEM (the buffer left as it was). */
int stream_reader_set_read_size(struct stream_reader *rd, size_t size);
/* Next record. The first is always a REC_HEADER; after an END, a further REC_HEADER starts a
 * new section (concatenated streams); any other record after END is corrupt. */
int stream_read(struct stream_reader *rd, struct rec *r);
/* As stream_read(), but a SNAP_ROW or DELTA_ROW is decoded into row (unless NULL) instead of
 * r->u.row, which is left as it was: a reader that keeps rows has them decoded where they stay
 * (snaptab_place() of lib/snaptab.h), not copied there. */
int stream_read_row(struct stream_reader *rd, struct rec *r, struct rec_snap_row *row);
/* One line, no program name, no newline: "-: truncated record at byte 1234 (...)". */
const char *stream_error(const struct stream_reader *rd);
uint64_t stream_reader_offset(const struct stream_reader *rd);
/* The header of the current section (valid after the first STREAM_OK). */
const struct stream_header *stream_reader_header(const struct stream_reader *rd);
/* When set, a header of a different kind is refused with a message naming both (and what to
 * pipe through). 0 accepts any. */
void stream_reader_expect(struct stream_reader *rd, unsigned kind);
/* When set, wait(ctx, fd) runs before each read(2) of a file descriptor input: 0 reads, -1
 * stops the reader with STREAM_STOPPED (a tool told to stop while its input is stalled; see
 * stop.h), after every complete record already read in. */
void stream_reader_set_wait(struct stream_reader *rd, int (*wait)(void *ctx, int fd), void *ctx);

/* Helpers shared by the tools. */
int64_t stream_wall_ns(const struct stream_header *h, uint64_t mono_ns);

#endif /* TCPTOP_STREAM_H */
