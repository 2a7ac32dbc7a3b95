/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Remote host names: reverse DNS in a thread of its own, cached with the answer's TTL; the
 * reply parser (exposed for its fuzz target and unit tests); and what tells the resolver's own
 * queries from everyone else's traffic in a snapshot. */
#ifndef TCPTOP_DNS_H
#define TCPTOP_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

/* A buffer of this size holds any name dns_host() gives, uncut (255 wire bytes, sanitised). */
#define DNS_HOST_MAX 1024
/* A name in wire form: at most 255 bytes (RFC 1035 section 2.3.4). */
#define DNS_NAME_WIRE 255

struct dns;

/* Starts a resolver thread asking server (ADDR or ADDR:PORT, IPv6 in brackets with a port;
 * NULL: the first nameserver of /etc/resolv.conf) into *out; its dns_wake_fd() becomes readable
 * when answers arrive. Returns 0, or a negative errno with a reason in err: -EINVAL server is
 * not an address, -ENOENT no nameserver in /etc/resolv.conf, -ENOMEM, or the failed call's. */
int dns_start(struct dns **out, const char *server, char *err, size_t errsz);
/* Ends the thread, closes the sockets, frees d (NULL: nothing). */
void dns_stop(struct dns *d);
int dns_wake_fd(const struct dns *d);
/* Drain the wake-up descriptor; true if some answer arrived since the last call. */
bool dns_drain(struct dns *d);
/* The cached host name of addr (family FAMILY_INET or FAMILY_INET6; an IPv4-mapped IPv6
 * address is asked as IPv4) copied into buf (true), or false. With ask, an address not cached
 * yet, or whose entry expired, is asked now, never waiting (the thread sends at most 128
 * queries at a time, the older questions first); without, only the cache is read. The name is
 * sanitised (text_sanitize of lib/util.h; a dot inside a label is "\x2E"). A failed lookup
 * stays unknown until its entry expires (60 s). */
bool dns_host(struct dns *d, int family, const uint8_t addr[16], bool ask, char *buf, size_t size);
/* Rounds, for a caller that may wait a little for names (tcptop-csv, per snapshot):
 * dns_round() starts one, and dns_waiting() counts the lookups dns_host() started (or started
 * again) since then that have neither a name nor a failure yet. Lookups of earlier rounds still
 * in flight are not counted: each is waited for in one round at most. */
void dns_round(struct dns *d);
size_t dns_waiting(struct dns *d);

/*
 * Whether snapshot row r is this resolver's own traffic: a UDP flow owned by this process
 * (its pid), in its network namespace, on this host (boot_id: the boot id of the row's host,
 * from the section's header or the merged stream's HOST record), from a local port one of the
 * resolver's sockets had, to the server's address and port. Anything else, the same ports
 * from another process, namespace or host included, is not ours. False when d is NULL.
 */
bool dns_own_row(struct dns *d, const struct rec_snap_row *r, const char *boot_id);

/* ---- the wire format, for the resolver and its tests ---- */

/* The PTR question for addr ("4.3.2.1.in-addr.arpa." or the ip6.arpa nibbles) in wire form
 * into q; returns its length. */
size_t dns_ptr_qname(int family, const uint8_t addr[16], uint8_t q[DNS_NAME_WIRE]);
/* A query for qname (qlen bytes) with id, recursion desired, into m (at least 12 + qlen + 4
 * bytes); returns its length. */
size_t dns_query_encode(uint16_t id, const uint8_t *qname, size_t qlen, uint8_t *m);

enum dns_reply {
	DNS_REPLY_NOT_OURS, /* no answer to this query: wrong ID, not a response (QR 0), another
			     * opcode, another question (name, type PTR, class IN), malformed
			     * header or question: ignored, the real answer may still come */
	DNS_REPLY_NAME,	    /* the answer names the address: name and ttl set */
	DNS_REPLY_NONE,	    /* the server's answer gives no name: an error code (NXDOMAIN...),
			     * truncated, no PTR for the name asked, or a malformed or refused
			     * answer (a NUL or nothing in a name) */
};

/*
 * Reads reply m (len bytes) as the answer to the query with id and qname (wire form, qlen
 * bytes), as a stub resolver does: QR 1 and opcode 0, one question equal to the one asked
 * (names compared case-insensitively), type PTR, class IN; then the answer records in order,
 * from the name asked: a CNAME whose owner is the current name moves it to its target (at
 * most 8, RFC 2317's delegation of reverse zones uses them), a PTR whose owner is the current
 * name is the answer; records of other owners or classes are passed over. Compression
 * pointers must point backwards. On DNS_REPLY_NAME, name (size >= DNS_HOST_MAX) holds the
 * target sanitised and ttl the least TTL of the chain, a TTL with its top bit set read as 0
 * (RFC 2181 section 8).
 */
enum dns_reply dns_reply_parse(const uint8_t *m, size_t len, uint16_t id, const uint8_t *qname,
			       size_t qlen, char *name, size_t size, uint32_t *ttl);

#endif /* TCPTOP_DNS_H */
