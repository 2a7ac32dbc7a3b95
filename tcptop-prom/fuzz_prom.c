// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: tcptop-prom's exposition from a snapshot stream. Byte 0 chooses the options
 * (--max-series 3, --series-ttl 1, every port ephemeral, OpenMetrics, a snapshot held to 2 rows);
 * the rest is the stream, read by the exporter's own reader loop (feed.c). After every snapshot
 * and at the end, the exposition is checked for what Prometheus and OpenMetrics parsers demand:
 * every line a "# HELP", "# TYPE" or "name{label="value",...} value" line, names and label names
 * of the allowed characters, label values valid UTF-8 with only \\, \" and \n escapes, no label
 * twice in a sample, no series twice, every sample under its family's TYPE, "# EOF" last in
 * OpenMetrics; counters never negative and never going down from one snapshot to the next; and
 * the HTTP path's body and tail (prom_expose_body, prom_tail_line) the same text as prom_expose.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "feed.h"
#include "htab.h"
#include "prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The checks are not what is fuzzed: no coverage for them (faster, and their branches would
 * only add noise to what guides the mutations). */
#define CHECKER __attribute__((no_sanitize("coverage")))

/* A series seen in an exposition (and, for a counter, its value), in an arena: the checker
 * allocates nothing per line (ASan's allocator cost more than the code under test). */
struct seen {
	struct hnode hn;
	uint64_t value;
	size_t len;
	char series[];
};

#define ARENA_SIZE (32u << 20)

struct set {
	struct htab t;
	char *arena;
	size_t used;
};

struct check {
	bool om;
	struct prom *p;
	struct prom_buf buf, body;
	struct set prev, cur; /* counters: the previous exposition's, this one's */
	struct set dup;	      /* every series and family of this exposition */
};

CHECKER static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* Valid UTF-8, no control character (the sanitiser's promise), from s to e. */
CHECKER static void utf8_check(const unsigned char *s, const unsigned char *e)
{
	while (s < e) {
		unsigned c = *s++, n = c < 0x80		       ? 0
				       : c >= 0xc2 && c < 0xe0 ? 1
				       : c >= 0xe0 && c < 0xf0 ? 2
				       : c >= 0xf0 && c < 0xf5 ? 3
							       : 9;

		if (n == 9 || (n == 0 && (c < 0x20 || c == 0x7f)) || e - s < (long)n)
			abort();
		for (unsigned i = 0; i < n; i++)
			if ((*s++ & 0xc0) != 0x80)
				abort();
	}
}

CHECKER static void set_clear(struct set *t)
{
	htab_clear(&t->t);
	t->used = 0;
}

CHECKER static struct seen *set_find(struct set *t, const char *s, size_t len, uint64_t h)
{
	struct hnode *n;

	htab_for_hash(&t->t, n, h)
	{
		struct seen *e = container_of(n, struct seen, hn);

		if (e->len == len && memcmp(e->series, s, len) == 0)
			return e;
	}
	return NULL;
}

CHECKER static void set_add(struct set *t, const char *s, size_t len, uint64_t h, uint64_t v)
{
	size_t need = (sizeof(struct seen) + len + 7) & ~(size_t)7;
	struct seen *e;

	if (!t->arena && !(t->arena = malloc(ARENA_SIZE)))
		abort();
	if (t->used + need > ARENA_SIZE)
		abort(); /* the checker's limit, far beyond what 16 KiB of input can make */
	e = (struct seen *)(t->arena + t->used);
	t->used += need;
	e->value = v;
	e->len = len;
	memcpy(e->series, s, len);
	if (htab_add(&t->t, &e->hn, h))
		abort();
}

/* name{labels} from s: the labels checked; returns the end of the series. */
CHECKER static const char *series_check(const char *s, const char *end, const char **name_end)
{
	char names[64][64];
	int nnames = 0;

	if (!name_char(*s, true))
		abort();
	while (s < end && name_char(*s, false))
		s++;
	*name_end = s;
	if (s == end || *s != '{')
		return s;
	s++;
	while (s < end && *s != '}') {
		const char *l = s;

		if (!name_char(*s, true) || *s == ':')
			abort();
		while (s < end && name_char(*s, false) && *s != ':')
			s++;
		if (s - l >= 64 || s + 2 > end || s[0] != '=' || s[1] != '"')
			abort();
		for (int i = 0; i < nnames; i++)
			if (strlen(names[i]) == (size_t)(s - l) && !memcmp(names[i], l, s - l))
				abort(); /* a label twice */
		if (nnames == 64)
			abort();
		memcpy(names[nnames], l, s - l);
		names[nnames++][s - l] = '\0';
		const char *v = s += 2;
		while (s < end && *s != '"') {
			if (*s == '\\' &&
			    (s + 1 == end || (s[1] != '\\' && s[1] != '"' && s[1] != 'n')))
				abort();
			s += *s == '\\' ? 2 : 1;
		}
		if (s >= end)
			abort();
		utf8_check((const unsigned char *)v, (const unsigned char *)s);
		s++;
		if (s < end && *s == ',')
			s++;
		else if (s < end && *s != '}')
			abort();
	}
	if (s >= end)
		abort();
	return s + 1;
}

/* "123", "1.500", "-0.001500": a counter is never negative. Its value in thousandths (what the
 * seconds counters print), saturating, for the check that it never goes down. */
CHECKER static uint64_t value_check(const char *s, const char *end, bool counter)
{
	uint64_t v = 0, frac = 0;
	int fdigits = 0;
	bool dot = false;

	if (s < end && *s == '-' && !counter)
		s++;
	if (s == end || *s < '0' || *s > '9')
		abort();
	for (; s < end; s++) {
		if (*s == '.' && !dot && s + 1 < end) {
			dot = true;
			continue;
		}
		if (*s < '0' || *s > '9')
			abort();
		if (!dot)
			v = v * 10 + (*s - '0');
		else if (fdigits < 3)
			frac = frac * 10 + (*s - '0'), fdigits++;
	}
	for (; fdigits < 3; fdigits++)
		frac *= 10;
	return v > (UINT64_MAX - 999) / 1000 ? UINT64_MAX : v * 1000 + frac;
}

CHECKER static void expo_check(struct check *c, const char *text, size_t len)
{
	const char *s = text, *end = text + len;
	char family[128] = "";
	bool counter = false, eof = false;

	set_clear(&c->dup);
	if (!len || text[len - 1] != '\n')
		abort();
	while (s < end) {
		const char *nl = memchr(s, '\n', end - s), *ne, *se;

		if (eof || nl == s)
			abort(); /* nothing after # EOF, no empty line */
		if (*s == '#') {
			if (nl - s == 5 && !memcmp(s, "# EOF", 5) && c->om) {
				eof = true;
			} else if (nl - s > 7 && !memcmp(s, "# TYPE ", 7)) {
				const char *n = s + 7, *sp = memchr(n, ' ', nl - n);

				if (!sp || sp - n >= (long)sizeof(family))
					abort();
				memcpy(family, n, sp - n);
				family[sp - n] = '\0';
				/* a family once: its TYPE line, as a key no series can have */
				uint64_t h = hash_bytes(s, sp - s);
				if (set_find(&c->dup, s, sp - s, h))
					abort();
				set_add(&c->dup, s, sp - s, h, 0);
				counter = nl - sp == 8 && !memcmp(sp, " counter", 8);
				if (!counter && !(nl - sp == 6 && !memcmp(sp, " gauge", 6)))
					abort();
			} else if (nl - s < 7 || memcmp(s, "# HELP ", 7)) {
				abort();
			}
			utf8_check((const unsigned char *)s, (const unsigned char *)nl);
			s = nl + 1;
			continue;
		}
		se = series_check(s, nl, &ne);
		/* under its family: the same name, or the family and _total for an OpenMetrics
		 * counter */
		size_t fl = strlen(family), nlen = ne - s;
		if (!fl ||
		    !(nlen == fl ||
		      (c->om && counter && nlen == fl + 6 && !memcmp(s + fl, "_total", 6))) ||
		    memcmp(s, family, fl))
			abort();
		if (se >= nl || *se != ' ')
			abort();
		uint64_t v = value_check(se + 1, nl, counter);
		uint64_t h = hash_bytes(s, se - s);
		if (set_find(&c->dup, s, se - s, h))
			abort(); /* a series twice */
		set_add(&c->dup, s, se - s, h, v);
		if (counter) {
			struct seen *was = set_find(&c->prev, s, se - s, h);

			if (was && v < was->value)
				abort(); /* a counter went down */
			set_add(&c->cur, s, se - s, h, v);
		}
		s = nl + 1;
	}
	if (c->om != eof)
		abort();
	/* this exposition's counters are the next one's previous */
	struct set t = c->prev;

	c->prev = c->cur;
	c->cur = t;
	set_clear(&c->cur);
}

/* a and b are the same text, but for the value of the build time they report. */
CHECKER static bool same_but_duration(const char *a, size_t alen, const char *b, size_t blen)
{
	static const char key[] = "\ntcptop_exporter_scrape_duration_seconds ";
	const char *x = memmem(a, alen, key, sizeof(key) - 1),
		   *y = memmem(b, blen, key, sizeof(key) - 1);
	const char *xe, *ye;

	if (!x || !y || x - a != y - b || memcmp(a, b, x - a))
		return false;
	xe = memchr(x + 1, '\n', a + alen - (x + 1));
	ye = memchr(y + 1, '\n', b + blen - (y + 1));
	return xe && ye && a + alen - xe == b + blen - ye && !memcmp(xe, ye, a + alen - xe);
}

/* The HTTP path (the body, then the tail a line at a time) gives prom_expose's text. */
CHECKER static void http_path_check(struct check *c, int64_t now)
{
	struct prom_tail t = { 0 };
	size_t n;

	c->body.len = 0;
	if (prom_expose_body(c->p, &c->body, c->om) || prom_tail_capture(c->p, &t, c->om, 0))
		abort();
	for (size_t i = 0;; i++) {
		if (prom_buf_reserve(&c->body, PROM_TAIL_LINE_MAX))
			abort();
		n = prom_tail_line(&t, i, now, c->body.p + c->body.len, PROM_TAIL_LINE_MAX);
		if (!n)
			break;
		c->body.len += n;
	}
	prom_tail_free(&t);
	if (!same_but_duration(c->buf.p, c->buf.len, c->body.p, c->body.len))
		abort();
}

CHECKER static int applied(void *ctx, char *msg, size_t size)
{
	struct check *c = ctx;
	const int64_t now = 1700000100000000000LL;

	(void)msg;
	(void)size;
	c->buf.len = 0;
	if (prom_expose(c->p, &c->buf, c->om, now))
		abort();
	expo_check(c, c->buf.p, c->buf.len);
	http_path_check(c, now);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct check c;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	uint8_t k = size ? data[0] : 0;
	struct prom_opts o = {
		.max_series = k & 1 ? 3 : 10000,
		.ttl_ns = k & 2 ? 1000000000ULL : 0,
		.eph_lo = k & 4 ? 1 : 32768,
		.eph_hi = k & 4 ? 65535 : 60999,
	};
	struct stream_reader *rd;
	struct feed f = { .lock = &lock, .applied = applied, .ctx = &c };

	if (size < 1)
		return 0;
	c.om = k & 8;
	f.rows_max = k & 16 ? 2 : 0;
	c.p = f.p = prom_new(&o);
	rd = stream_reader_mem(data + 1, size - 1, "fuzz");
	if (!c.p || !rd)
		abort();
	if (feed_run(&f, rd) == EX_OSERR) /* nothing fails to allocate here */
		abort();
	stream_reader_free(rd);
	feed_free(&f);
	prom_free(c.p);
	set_clear(&c.prev);
	set_clear(&c.cur);
	set_clear(&c.dup);
	return 0;
}
