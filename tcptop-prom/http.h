/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-prom's HTTP server (libmicrohttpd, in its own thread): /metrics from expositions that
 * every scrape of a snapshot shares, within limits that slow, idle or many clients cannot get
 * past (tcptop-prom(1) SECURITY states them and the memory they bound). */
#ifndef TCPTOP_PROM_HTTP_H
#define TCPTOP_PROM_HTTP_H

#include <netdb.h>
#include <pthread.h>
#include <stddef.h>

#include "prom.h"

#define HTTP_CONN_MAX	   256 /* connections at once */
#define HTTP_CONN_PER_ADDR 16  /* connections at once from one address */
#define HTTP_IDLE_S	   10  /* a connection silent this long is closed */
#define HTTP_LIFE_S	   30  /* a connection open this long is cut, whatever it does */
/* libmicrohttpd's memory for one connection: 32 KiB at most is malloc'd (reused as connections
 * come and go), more is mmap'd and unmapped each time */
#define HTTP_CONN_MEMORY     32768
#define HTTP_SNDBUF	     131072 /* the kernel's send buffer of a connection (doubled) */
#define HTTP_EXPOSITIONS_MAX 4	    /* expositions held at once, both formats */

struct http;

/* Serves p (read under lock) on the address ai. Returns 0, EX_CANTCREAT when it cannot listen,
 * or EX_OSERR; the message in err. */
int http_start(struct http **hp, const struct addrinfo *ai, pthread_mutex_t *lock, struct prom *p,
	       char *err, size_t errsz);
/* Cuts the connections open longer than HTTP_LIFE_S: call it about once a second. */
void http_tick(struct http *h);
/* Stops serving, closes every connection, frees everything (NULL: nothing). */
void http_stop(struct http *h);

#endif /* TCPTOP_PROM_HTTP_H */
