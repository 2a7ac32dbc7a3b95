/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Names for numbers: network namespaces (ip netns), port services (/etc/services) and remote
 * host names (reverse DNS in a thread of its own, cached with the answer's TTL). */
#ifndef TCPTOP_VIEW_NAMES_H
#define TCPTOP_VIEW_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

/* Named network namespaces of this host (/run/netns/NAME, matched by inode), read once, and
 * only when the stream comes from this boot of this host: a recording from elsewhere keeps its
 * numbers. Returns the name of netns, or NULL. */
const char *netns_name(const struct stream_header *h, uint32_t netns);

/* "https" for 443/tcp, or NULL: /etc/services through getservbyport, cached per port. */
const char *service_name(uint16_t port, uint8_t proto);

/* Reverse DNS. names_dns_start() starts the resolver thread, asking server (ADDR or ADDR:PORT,
 * NULL: the first nameserver of /etc/resolv.conf); *wake_fd becomes readable when answers
 * arrive. Returns 0, or -1 with a reason in err. */
int names_dns_start(const char *server, int *wake_fd, char *err, size_t errsz);
void names_dns_stop(void);
/* Drain the wake-up descriptor; true if some answer arrived since the last call. */
bool names_dns_drain(void);
/* The cached host name of addr copied into buf (true), or false: asked now if not yet, never
 * waiting. A failed lookup stays unknown (the address is shown) until its entry expires. */
bool names_dns_host(int family, const uint8_t addr[16], char *buf, size_t size);
/* The resolver's own socket (local port) and server (port), to tell its queries from the
 * user's traffic; port 0 when not running. */
void names_dns_self(uint16_t *local_port, uint16_t *server_port);

#endif /* TCPTOP_VIEW_NAMES_H */
