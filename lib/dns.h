/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Remote host names: reverse DNS in a thread of its own, cached with the answer's TTL. */
#ifndef TCPTOP_DNS_H
#define TCPTOP_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* dns_start() starts the resolver thread, asking server (ADDR or ADDR:PORT, NULL: the first
 * nameserver of /etc/resolv.conf); *wake_fd becomes readable when answers arrive. Returns 0, or
 * -1 with a reason in err. */
int dns_start(const char *server, int *wake_fd, char *err, size_t errsz);
void dns_stop(void);
/* Drain the wake-up descriptor; true if some answer arrived since the last call. */
bool dns_drain(void);
/* The cached host name of addr (family FAMILY_INET or FAMILY_INET6) copied into buf (true), or
 * false: asked now if not yet, never waiting. A failed lookup stays unknown (the address is
 * shown) until its entry expires. */
bool dns_host(int family, const uint8_t addr[16], char *buf, size_t size);
/* The resolver's own socket (local port) and server (port), to tell its queries from the
 * user's traffic; port 0 when not running. */
void dns_self(uint16_t *local_port, uint16_t *server_port);

#endif /* TCPTOP_DNS_H */
