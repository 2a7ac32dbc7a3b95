/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Names for numbers the view shows: network namespaces (ip netns) and port services
 * (/etc/services). Remote host names are lib/dns.h's. */
#ifndef TCPTOP_VIEW_NAMES_H
#define TCPTOP_VIEW_NAMES_H

#include <stdint.h>

#include "stream.h"

/* Named network namespaces of this host (/run/netns/NAME, matched by inode), read once, and
 * only when the stream comes from this boot of this host: a recording from elsewhere keeps its
 * numbers. Returns the name of netns, or NULL. */
const char *netns_name(const struct stream_header *h, uint32_t netns);

/* "https" for 443/tcp, or NULL: /etc/services through getservbyport, cached per port. */
const char *service_name(uint16_t port, uint8_t proto);

#endif /* TCPTOP_VIEW_NAMES_H */
