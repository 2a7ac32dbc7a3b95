/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-collect's view of live flows and UDP sockets: two small chained hash tables. */
#ifndef TCPTOP_COLLECT_FLOWS_H
#define TCPTOP_COLLECT_FLOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "stream.h"
#include "tcptop.h"

struct sockinfo;

/* A connection announced in the stream (a TCP socket, or one UDP socket and peer). */
struct flow {
	struct flow *next;	/* hash chain */
	struct flow *sock_next; /* UDP: next flow of the same socket */
	uint64_t flow;		/* stream key */
	uint64_t cookie;
	uint8_t proto, state;
	bool owner_known;
	uint32_t pid;
	char comm[COMM_LEN];
	struct conn_counters c; /* as last written */
	uint64_t last_active;	/* UDP: monotonic ns of the last datagram */
	struct tt_udp_key key;	/* UDP: key in the kernel's flow map */
	struct sockinfo *sock;	/* UDP: the socket */
};

/* What is known about a UDP socket (owner, netns), by cookie. */
struct sockinfo {
	struct sockinfo *next;
	uint64_t cookie;
	uint32_t pid, netns;
	char comm[COMM_LEN];
	bool owner_known, boot, released;
	struct flow *flows;
};

struct flow_table {
	struct flow **b;
	uint64_t nb, n;
	struct sockinfo **sb;
	uint64_t nsb, ns;
};

int flows_init(struct flow_table *t);
void flows_free(struct flow_table *t);
struct flow *flows_find(struct flow_table *t, uint64_t flow);
/* A new zeroed flow under the key, or NULL (ENOMEM). */
struct flow *flows_add(struct flow_table *t, uint64_t flow);
void flows_del(struct flow_table *t, struct flow *f);
struct sockinfo *socks_find(struct flow_table *t, uint64_t cookie);
struct sockinfo *socks_get(struct flow_table *t, uint64_t cookie);
void socks_del(struct flow_table *t, struct sockinfo *s);
void socks_link(struct sockinfo *s, struct flow *f);

#endif /* TCPTOP_COLLECT_FLOWS_H */
