// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-prom's HTTP server (http.h). What a client can hold, and for how long, is bounded:
 *
 * - Expositions are shared. One is built per snapshot and format, on the first scrape that
 *   needs it, and every scrape until the next snapshot is sent from it; a reply holds a
 *   reference, not a copy. At most HTTP_EXPOSITIONS_MAX exist at once (3 of one format, so that
 *   the other always has room). When every one is still being sent to someone, a scrape gets
 *   the newest of its format, a snapshot late, its stream_age_seconds telling by how much;
 *   never a refusal for lack of room, unless its format has none at all yet.
 * - The part of a reply that depends on the moment (each host's age) is written a line at a
 *   time while the reply is sent (prom_tail_line), so a reply costs a fixed few kilobytes
 *   besides libmicrohttpd's own buffer, however many hosts there are.
 * - Connections: HTTP_CONN_MAX at once, HTTP_CONN_PER_ADDR from one address, one request each
 *   ("Connection: close"), closed after HTTP_IDLE_S without traffic and cut after HTTP_LIFE_S
 *   whatever they do (a client that reads a byte now and then resets the idle timeout, not
 *   this one). The kernel's send buffer is fixed at HTTP_SNDBUF, and TCP_USER_TIMEOUT ends a
 *   connection whose peer stops acknowledging.
 */
#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"

#define PER_FORMAT_MAX (HTTP_EXPOSITIONS_MAX - 1)
#define BLOCK_SIZE     16384 /* a reply's chunks, within libmicrohttpd's buffer for it */

/* One exposition: body and what its tail needs. */
struct expo {
	struct prom_buf buf;
	struct prom_tail tail;
	uint64_t gen;
	bool om, built;
	unsigned refs; /* replies sending it */
};

/* A connection, for the cut after HTTP_LIFE_S. */
struct conn {
	int fd;
	bool used, cut;
	uint64_t start_ns;
};

struct http {
	struct MHD_Daemon *d;
	pthread_mutex_t *plock; /* guards p */
	struct prom *p;

	pthread_mutex_t lock; /* guards the rest */
	struct expo expo[HTTP_EXPOSITIONS_MAX];
	struct expo *cur[2]; /* the newest of each format (index: om) */
	struct conn conns[HTTP_CONN_MAX];
	atomic_bool started; /* libmicrohttpd's messages are shown until then only */
};

/* One reply being sent: an exposition and the tail written at its moment. */
struct reply {
	struct http *h;
	struct expo *e;
	int64_t now_ns;	   /* wall clock of the request: the hosts' ages */
	uint64_t start_ns; /* monotonic: the cut after HTTP_LIFE_S */
	uint64_t tail_pos; /* where the next tail byte goes in the reply */
	size_t line, llen, loff;
	char buf[PROM_TAIL_LINE_MAX];
};

/* ---- expositions ---- */

/* Where a new exposition of format om goes: the format's newest one when nobody holds it, else
 * any that nobody holds but the other format's newest, as long as the format keeps within
 * PER_FORMAT_MAX. NULL: no room. */
static struct expo *expo_slot(struct http *h, bool om)
{
	struct expo *e = h->cur[om];
	unsigned mine = 0;

	if (e && !e->refs)
		return e;
	for (int i = 0; i < HTTP_EXPOSITIONS_MAX; i++)
		mine += h->expo[i].built && h->expo[i].om == om;
	for (int i = 0; i < HTTP_EXPOSITIONS_MAX; i++) {
		e = &h->expo[i];
		if (e->refs || e == h->cur[!om])
			continue;
		if ((!e->built || e->om != om) && mine >= PER_FORMAT_MAX)
			continue; /* it would be one more of this format */
		return e;
	}
	return NULL;
}

/* The exposition a scrape of format om gets, with a reference taken: the current one, built now
 * when the input moved since; NULL when there is none (out of memory, or no room and none of
 * this format yet). */
static struct expo *expo_take(struct http *h, bool om)
{
	struct expo *e, *cur;
	uint64_t gen, t0;

	pthread_mutex_lock(h->plock);
	pthread_mutex_lock(&h->lock);
	gen = prom_generation(h->p);
	cur = h->cur[om];
	if (cur && cur->gen == gen) {
		e = cur;
	} else if ((e = expo_slot(h, om))) {
		e->buf.len = 0;
		e->built = false;
		e->om = om;
		t0 = prom_mono_ns();
		if (prom_expose_body(h->p, &e->buf, om) ||
		    prom_tail_capture(h->p, &e->tail, om, prom_mono_ns() - t0)) {
			/* out of memory: the one before, unless it was rebuilt in place */
			if (cur == e)
				h->cur[om] = cur = NULL;
			e = cur;
		} else {
			e->gen = gen;
			e->built = true;
			h->cur[om] = e;
		}
	} else {
		e = cur; /* every slot is being sent: the newest, a snapshot late */
	}
	if (e)
		e->refs++;
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_unlock(h->plock);
	return e;
}

static void expo_put(struct http *h, struct expo *e)
{
	pthread_mutex_lock(&h->lock);
	e->refs--;
	pthread_mutex_unlock(&h->lock);
}

/* ---- replies ---- */

static uint64_t tail_size(struct reply *r)
{
	uint64_t n = 0;

	for (size_t i = 0;; i++) {
		size_t l = prom_tail_line(&r->e->tail, i, r->now_ns, r->buf, sizeof(r->buf));

		if (!l)
			return n;
		n += l;
	}
}

/* libmicrohttpd asks for the bytes from pos on: the body's, then the tail's. */
static ssize_t reply_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct reply *r = cls;
	size_t n = 0;

	if (prom_mono_ns() - r->start_ns > (uint64_t)HTTP_LIFE_S * 1000000000ULL)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (pos < r->e->buf.len) {
		n = r->e->buf.len - pos < max ? r->e->buf.len - pos : max;
		memcpy(out, r->e->buf.p + pos, n);
		return n;
	}
	if (pos != r->tail_pos) /* the tail is written in order, once */
		return MHD_CONTENT_READER_END_WITH_ERROR;
	while (n < max) {
		size_t k;

		if (r->loff == r->llen) {
			r->llen = prom_tail_line(&r->e->tail, r->line++, r->now_ns, r->buf,
						 sizeof(r->buf));
			r->loff = 0;
			if (!r->llen)
				break;
		}
		k = r->llen - r->loff < max - n ? r->llen - r->loff : max - n;
		memcpy(out + n, r->buf + r->loff, k);
		r->loff += k;
		n += k;
	}
	r->tail_pos += n;
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void reply_free(void *cls)
{
	struct reply *r = cls;

	expo_put(r->h, r->e);
	free(r);
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned code, const char *type,
			     struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* one request a connection: its time limit is the request's */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	return queue(c, code, "text/plain; charset=utf-8",
		     MHD_create_response_from_buffer(strlen(text), (void *)text,
						     MHD_RESPMEM_PERSISTENT));
}

static enum MHD_Result send_metrics(struct http *h, struct MHD_Connection *c, bool om)
{
	struct reply *r = malloc(sizeof(*r));
	struct MHD_Response *resp;

	if (!r)
		return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	memset(r, 0, offsetof(struct reply, buf));
	r->h = h;
	r->now_ns = prom_wall_ns();
	r->start_ns = prom_mono_ns();
	if (!(r->e = expo_take(h, om))) {
		free(r);
		return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				 "no exposition can be built now (out of memory, or every one "
				 "is being sent): try again\n");
	}
	r->tail_pos = r->e->buf.len;
	resp = MHD_create_response_from_callback(r->e->buf.len + tail_size(r), BLOCK_SIZE,
						 reply_read, r, reply_free);
	if (!resp) {
		reply_free(r);
		return MHD_NO;
	}
	return queue(c, MHD_HTTP_OK,
		     om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
			: "text/plain; version=0.0.4; charset=utf-8",
		     resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	const char *accept;

	(void)version;
	(void)upload;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (*upload_size) /* a GET has no body */
		return MHD_NO;
	if (strcmp(url, "/") == 0)
		return send_text(c, MHD_HTTP_OK, "tcptop-prom: the metrics are at /metrics\n");
	if (strcmp(url, "/metrics") != 0)
		return send_text(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	return send_metrics(cls, c, accept && strstr(accept, "application/openmetrics-text"));
}

/* ---- connections ---- */

/* A connection starts (its socket's buffers and timeout set, its start noted) or ends. Called in
 * libmicrohttpd's thread; the socket is closed only after CLOSED returns, so http_tick() can use
 * it under the lock. */
static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode what)
{
	struct http *h = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *k = *ctx;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (k) {
			pthread_mutex_lock(&h->lock);
			k->used = false;
			pthread_mutex_unlock(&h->lock);
		}
		*ctx = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	{
		int fd = ci->connect_fd, sndbuf = HTTP_SNDBUF;
		unsigned user_timeout = HTTP_LIFE_S * 1000;

		/* best effort: a socket that refuses keeps the kernel's defaults */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
		pthread_mutex_lock(&h->lock);
		for (int i = 0; i < HTTP_CONN_MAX; i++) {
			if (h->conns[i].used)
				continue;
			h->conns[i] =
				(struct conn){ .fd = fd, .used = true, .start_ns = prom_mono_ns() };
			*ctx = &h->conns[i];
			break;
		}
		pthread_mutex_unlock(&h->lock);
	}
}

void http_tick(struct http *h)
{
	uint64_t now = prom_mono_ns();

	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < HTTP_CONN_MAX; i++) {
		struct conn *k = &h->conns[i];

		if (!k->used || k->cut ||
		    now - k->start_ns <= (uint64_t)HTTP_LIFE_S * 1000000000ULL)
			continue;
		/* libmicrohttpd sees the end at its next poll and closes it; what was queued for
		 * the client is dropped then (a reset), not left to a socket nobody owns */
		setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 },
			   sizeof(struct linger));
		shutdown(k->fd, SHUT_RDWR);
		k->cut = true;
	}
	pthread_mutex_unlock(&h->lock);
}

/* libmicrohttpd's messages: why it cannot listen, at the start. Later ones (a client refused at
 * the limit, a connection reset) are not shown: any client could fill the log with them. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	char msg[512];
	size_t n;

	if (h->started)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	warnx("%s", msg);
}

/* The listening socket, ours so that a failure says why: the fd, or -1 with errno set. */
static int listen_on(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int http_start(struct http **hp, const struct addrinfo *ai, pthread_mutex_t *lock, struct prom *p,
	       char *err, size_t errsz)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct http *h = calloc(1, sizeof(*h));
	int fd;

	*hp = NULL;
	if (!h) {
		snprintf(err, errsz, "out of memory");
		return EX_OSERR;
	}
	h->plock = lock;
	h->p = p;
	pthread_mutex_init(&h->lock, NULL);
	if ((fd = listen_on(ai)) < 0) {
		snprintf(err, errsz, "%s", strerror(errno));
		http_stop(h);
		return EX_CANTCREAT;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
				on_log, h, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_CONN_PER_ADDR,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
	if (!h->d) {
		close(fd);
		snprintf(err, errsz, "the HTTP server did not start");
		http_stop(h);
		return EX_OSERR;
	}
	h->started = true;
	*hp = h;
	return 0;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d); /* every reply freed: no reference left */
	for (int i = 0; i < HTTP_EXPOSITIONS_MAX; i++) {
		prom_buf_free(&h->expo[i].buf);
		prom_tail_free(&h->expo[i].tail);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}
