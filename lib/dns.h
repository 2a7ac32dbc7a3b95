/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Remote host names: reverse DNS in a thread of its own, cached with the answer's TTL. */
#ifndef TCPTOP_DNS_H
#define TCPTOP_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A buffer of this size holds any name dns_host() gives, uncut (253 bytes, sanitised). */
#define DNS_HOST_MAX 1024

/* dns_start() starts the resolver thread, asking server (ADDR or ADDR:PORT, IPv6 in brackets
 * with a port; NULL: the first nameserver of /etc/resolv.conf); *wake_fd becomes readable when
 * answers arrive. Returns 0, or a negative errno with a reason in err: -EINVAL server is not
 * an address, -ENOENT no nameserver in /etc/resolv.conf, -ENOMEM, or the failed call's. */
int dns_start(const char *server, int *wake_fd, char *err, size_t errsz);
void dns_stop(void);
/* Drain the wake-up descriptor; true if some answer arrived since the last call. */
bool dns_drain(void);
/* The cached host name of addr (family FAMILY_INET or FAMILY_INET6; an IPv4-mapped IPv6
 * address is asked as IPv4) copied into buf (true), or false. With ask, an address not cached
 * yet, or whose entry expired, is asked now, never waiting (the thread sends at most 128
 * queries at a time, the older questions first); without, only the cache is read. The name is
 * sanitised (text_sanitize of lib/util.h). A failed lookup stays unknown until its entry
 * expires (60 s). */
bool dns_host(int family, const uint8_t addr[16], bool ask, char *buf, size_t size);
/* Rounds, for a caller that may wait a little for names (tcptop-csv, per snapshot):
 * dns_round() starts one, and dns_waiting() counts the lookups dns_host() started (or started
 * again) since then that have neither a name nor a failure yet. Lookups of earlier rounds still
 * in flight are not counted: each is waited for in one round at most. */
void dns_round(void);
size_t dns_waiting(void);
/* The resolver's own socket (local port) and server (port), to tell its queries from the
 * user's traffic; port 0 when not running. */
void dns_self(uint16_t *local_port, uint16_t *server_port);

#endif /* TCPTOP_DNS_H */
