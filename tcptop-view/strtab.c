// SPDX-License-Identifier: GPL-2.0-or-later
/* The strings rows share, interned: each distinct (kind, raw bytes) sanitised once, found again
 * through lib/htab by its raw bytes. Entries live in chunks that never move, so that the UI
 * thread reads those of the rows handed over to it while the reader thread adds more. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "table.h"

#define CHUNK_BITS  12
#define CHUNK	    (1u << CHUNK_BITS)
#define NCHUNKS	    (STRS_MAX / CHUNK)
#define CACHE_BITS  12
#define CACHE	    (1u << CACHE_BITS)
#define FCHUNK_BITS 10
#define FCHUNK	    (1u << FCHUNK_BITS)
#define FCHUNKS	    ((FIGS_LIMIT_ONLY + 1) / FCHUNK)

struct sent {
	struct hnode hn;
	const char *text;  /* sanitised (and folded to ASCII when asked) */
	const char *extra; /* raw, "" when none */
	const char *raw;   /* the key: len bytes */
	uint32_t len, id;
	uint16_t w;
	uint8_t kind;
};

/* A TCP figures value: in the index while live, else in the chain of unused ones (by next). */
struct fent {
	struct hnode hn;
	struct tcp_figs f;
	uint32_t seq; /* live: the last snapshot that used it (strtab_figs_begin); else the next
		       * unused one, 0: none */
	uint32_t id;
	bool live;
};

struct strtab {
	bool ascii_only;
	struct sent *chunk[NCHUNKS];
	uint32_t n; /* entries; 0 is "" */
	struct htab idx;
	uint64_t dropped;
	uint32_t unknown; /* the "?" of strings not kept */
	/* the reader's: the last strings of at most 16 bytes found, by their bytes (a row's
	 * process and interface names are found here without hashing them) */
	struct {
		uint64_t a, b;
		uint32_t id;
		uint8_t kind;
	} cache[CACHE];
	/* the UI thread's: ranks of strings 0..nranked-1 */
	uint32_t *rank, nranked;
	/* addresses: chunks that never move, and the reader's index of them (open addressing:
	 * number + 1, 0 empty; a power of two, at most half full) */
	uint8_t (*addr[ADDRS_MAX / CHUNK])[16];
	uint32_t naddr;
	uint32_t *aidx;
	size_t aidx_cap;
	/* TCP figures: chunks that never move, the reader's index of the live ones and chain of
	 * the unused ones; what the UI thread released, under lock, till the reader frees it */
	struct fent *fchunk[FCHUNKS];
	uint32_t fhigh, flive, ffree, fseq;
	uint32_t fmade; /* figures added (wrapping) */
	struct htab fidx;
	pthread_mutex_t flock;
	uint64_t *frel;
	uint32_t nfrel, frel_upto;
};

static struct sent *ent(const struct strtab *st, uint32_t id)
{
	return &st->chunk[id >> CHUNK_BITS][id & (CHUNK - 1)];
}

static struct sent *add(struct strtab *st, unsigned kind, const char *raw, size_t len,
			const char *extra, uint64_t h);
static uint64_t key_hash(unsigned kind, const char *raw, size_t len, const char *extra);
#define KIND_UNKNOWN 0xff

struct strtab *strtab_new(bool ascii_only)
{
	struct strtab *st = calloc(1, sizeof(*st));
	struct sent *e;

	if (!st || !(st->chunk[0] = calloc(CHUNK, sizeof(struct sent)))) {
		free(st);
		return NULL;
	}
	st->ascii_only = ascii_only;
	st->fhigh = 1;
	pthread_mutex_init(&st->flock, NULL);
	st->chunk[0][0].text = st->chunk[0][0].extra = st->chunk[0][0].raw = "";
	st->n = 1;
	/* the "?" of strings not kept, made now so that it never fails later */
	e = add(st, KIND_UNKNOWN, "?", 1, "", key_hash(KIND_UNKNOWN, "?", 1, ""));
	if (!e) {
		strtab_free(st);
		return NULL;
	}
	st->unknown = e->id;
	return st;
}

void strtab_free(struct strtab *st)
{
	if (!st)
		return;
	for (uint32_t i = 1; i < st->n; i++)
		free((void *)ent(st, i)->text); /* text, raw and extra are one allocation */
	for (size_t c = 0; c < NCHUNKS && st->chunk[c]; c++)
		free(st->chunk[c]);
	htab_free(&st->idx);
	free(st->rank);
	for (size_t c = 0; c < ADDRS_MAX / CHUNK && st->addr[c]; c++)
		free(st->addr[c]);
	free(st->aidx);
	for (size_t c = 0; c < FCHUNKS && st->fchunk[c]; c++)
		free(st->fchunk[c]);
	htab_free(&st->fidx);
	free(st->frel);
	pthread_mutex_destroy(&st->flock);
	free(st);
}

static struct fent *fent(const struct strtab *st, uint32_t id)
{
	return &st->fchunk[id >> FCHUNK_BITS][id & (FCHUNK - 1)];
}

const struct tcp_figs *str_figs(const struct strtab *st, uint32_t id)
{
	return &fent(st, id)->f;
}

/* The figures the UI thread released, freed unless a snapshot it had not taken uses them. */
static void figs_collect(struct strtab *st)
{
	uint64_t *held;
	uint32_t n, upto;

	pthread_mutex_lock(&st->flock);
	held = st->frel;
	n = st->nfrel;
	upto = st->frel_upto;
	st->frel = NULL;
	st->nfrel = 0;
	pthread_mutex_unlock(&st->flock);
	for (uint32_t id = 1; held && id < n && id < st->fhigh; id++) {
		struct fent *e = fent(st, id);

		if (!e->live || (held[id / 64] >> (id % 64) & 1) || (int32_t)(e->seq - upto) > 0)
			continue;
		htab_del(&st->fidx, &e->hn);
		e->live = false;
		e->seq = st->ffree;
		st->ffree = id;
		__atomic_store_n(&st->flive, st->flive - 1, __ATOMIC_RELAXED);
	}
	free(held);
}

uint32_t strtab_figs_begin(struct strtab *st)
{
	figs_collect(st);
	return ++st->fseq;
}

uint32_t strtab_figs_add(struct strtab *st, const struct tcp_figs *f)
{
	uint64_t h = hash_bytes(f, sizeof(*f));
	struct hnode *p;
	struct fent *e;
	uint32_t id;

	htab_for_hash(&st->fidx, p, h)
	{
		e = container_of(p, struct fent, hn);
		if (!memcmp(&e->f, f, sizeof(*f))) {
			e->seq = st->fseq;
			return e->id;
		}
	}
	if (st->ffree) {
		id = st->ffree;
		e = fent(st, id);
		st->ffree = e->seq;
	} else {
		id = st->fhigh;
		if (id >= FIGS_LIMIT_ONLY)
			return 0;
		if (!st->fchunk[id >> FCHUNK_BITS] &&
		    !(st->fchunk[id >> FCHUNK_BITS] = malloc(FCHUNK * sizeof(struct fent))))
			return 0;
		e = fent(st, id);
		e->id = id;
		e->live = false;
		st->fhigh = id + 1;
	}
	if (htab_add(&st->fidx, &e->hn, h)) {
		e->seq = st->ffree;
		st->ffree = id;
		return 0;
	}
	e->f = *f;
	e->seq = st->fseq;
	e->live = true;
	__atomic_store_n(&st->flive, st->flive + 1, __ATOMIC_RELAXED);
	st->fmade++;
	return id;
}

uint32_t strtab_figs_high(const struct strtab *st)
{
	return st->fhigh;
}

uint32_t strtab_figs_made(const struct strtab *st)
{
	return st->fmade;
}

void strtab_figs_release(struct strtab *st, uint64_t *held, uint32_t n, uint32_t upto)
{
	pthread_mutex_lock(&st->flock);
	/* one release at a time: a later one waits for the reader to free the first */
	if (st->frel) {
		pthread_mutex_unlock(&st->flock);
		free(held);
		return;
	}
	st->frel = held;
	st->nfrel = n;
	st->frel_upto = upto;
	pthread_mutex_unlock(&st->flock);
}

uint32_t strtab_figs_count(const struct strtab *st)
{
	return __atomic_load_n(&st->flive, __ATOMIC_RELAXED);
}

size_t strtab_figs_bytes(const struct strtab *st)
{
	size_t n = 0;

	for (size_t c = 0; c < FCHUNKS && st->fchunk[c]; c++)
		n += FCHUNK * sizeof(struct fent);
	return n + st->fidx.nb * sizeof(*st->fidx.b);
}

const uint8_t *str_addr(const struct strtab *st, uint32_t id)
{
	return st->addr[id >> CHUNK_BITS][id & (CHUNK - 1)];
}

static int aidx_grow(struct strtab *st)
{
	size_t cap = st->aidx_cap ? st->aidx_cap * 2 : 1024;
	uint32_t *idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -1;
	for (uint32_t id = 0; id < st->naddr; id++) {
		size_t h = hash_bytes(str_addr(st, id), 16) & (cap - 1);

		while (idx[h])
			h = (h + 1) & (cap - 1);
		idx[h] = id + 1;
	}
	free(st->aidx);
	st->aidx = idx;
	st->aidx_cap = cap;
	return 0;
}

uint32_t strtab_addr_add(struct strtab *st, const uint8_t *a)
{
	uint32_t id = st->naddr;
	size_t h;

	if ((size_t)id * 2 + 2 > st->aidx_cap && aidx_grow(st))
		return UINT32_MAX;
	for (h = hash_bytes(a, 16) & (st->aidx_cap - 1); st->aidx[h];
	     h = (h + 1) & (st->aidx_cap - 1))
		if (!memcmp(str_addr(st, st->aidx[h] - 1), a, 16))
			return st->aidx[h] - 1;
	if (id >= ADDRS_MAX)
		return UINT32_MAX;
	if (!st->addr[id >> CHUNK_BITS] &&
	    !(st->addr[id >> CHUNK_BITS] = malloc(CHUNK * sizeof(*st->addr[0]))))
		return UINT32_MAX;
	memcpy(st->addr[id >> CHUNK_BITS][id & (CHUNK - 1)], a, 16);
	st->aidx[h] = id + 1;
	st->naddr++;
	return id;
}

static uint64_t key_hash(unsigned kind, const char *raw, size_t len, const char *extra)
{
	return hash_u64x2(hash_u64x2(hash_bytes(raw, len), hash_str(extra)), kind);
}

/* Cut a sanitised string to fit size bytes without splitting a UTF-8 sequence. */
static void cut_utf8(char *s, size_t size)
{
	size_t n = strlen(s);

	if (n < size)
		return;
	n = size - 1;
	while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

/* A new entry (or NULL when STRS_MAX are kept or out of memory): its text, raw key and extra in
 * one allocation. */
static struct sent *add(struct strtab *st, unsigned kind, const char *raw, size_t len,
			const char *extra, uint64_t h)
{
	size_t xlen = strlen(extra), tsize = SANITIZE_SIZE(len);
	uint32_t id = st->n;
	struct sent *e;
	char *mem;

	if (id >= STRS_MAX)
		return NULL;
	if (!st->chunk[id >> CHUNK_BITS] &&
	    !(st->chunk[id >> CHUNK_BITS] = calloc(CHUNK, sizeof(struct sent))))
		return NULL;
	if (!(mem = malloc(tsize + len + 1 + xlen + 1)))
		return NULL;
	e = ent(st, id);
	text_sanitize(mem, tsize, raw, len);
	if (st->ascii_only)
		text_fold_ascii(mem);
	if (kind == STR_CGROUP)
		cut_utf8(mem, CGROUP_TEXT); /* the column's short form */
	e->text = mem;
	e->raw = mem + tsize;
	memcpy(mem + tsize, raw, len);
	mem[tsize + len] = '\0';
	e->extra = mem + tsize + len + 1;
	memcpy(mem + tsize + len + 1, extra, xlen + 1);
	e->len = len;
	e->kind = kind;
	e->id = id;
	e->w = text_width(e->text);
	if (htab_add(&st->idx, &e->hn, h)) {
		free(mem);
		memset(e, 0, sizeof(*e));
		return NULL;
	}
	/* published to the UI thread with the rows that use it (strtab_count() may read it there:
	 * the entry is written before) */
	__atomic_store_n(&st->n, id + 1, __ATOMIC_RELEASE);
	return e;
}

static struct sent *find(const struct strtab *st, unsigned kind, const char *raw, size_t len,
			 const char *extra, uint64_t h)
{
	struct hnode *p;

	htab_for_hash(&st->idx, p, h)
	{
		struct sent *e = container_of(p, struct sent, hn);

		if (e->kind == kind && e->len == len && !memcmp(e->raw, raw, len) &&
		    !strcmp(e->extra, extra))
			return e;
	}
	return NULL;
}

uint32_t strtab_add(struct strtab *st, enum str_kind kind, const char *raw, size_t len,
		    const char *extra)
{
	uint64_t h;
	struct sent *e;

	if (!extra)
		extra = "";
	if (!len && !*extra)
		return 0;
	if (!*extra && len <= 16 && !memchr(raw, 0, len)) {
		/* no NUL inside: the bytes padded with zeros are the key */
		uint64_t w[2] = { 0, 0 };
		unsigned c;

		memcpy(w, raw, len);
		c = (unsigned)(((w[0] * 0x9E3779B97F4A7C15ull) ^ (w[1] * 0xC2B2AE3D27D4EB4Full) ^
				kind) >>
			       (64 - CACHE_BITS));
		if (st->cache[c].id && st->cache[c].a == w[0] && st->cache[c].b == w[1] &&
		    st->cache[c].kind == kind)
			return st->cache[c].id;
		h = key_hash(kind, raw, len, extra);
		if ((e = find(st, kind, raw, len, extra, h)) ||
		    (e = add(st, kind, raw, len, extra, h))) {
			st->cache[c].a = w[0];
			st->cache[c].b = w[1];
			st->cache[c].kind = kind;
			st->cache[c].id = e->id;
			return e->id;
		}
	} else {
		h = key_hash(kind, raw, len, extra);
		if ((e = find(st, kind, raw, len, extra, h)) ||
		    (e = add(st, kind, raw, len, extra, h)))
			return e->id;
	}
	/* not kept: counted, and shown as "?" (kept once, in room reserved for it) */
	__atomic_fetch_add(&st->dropped, 1, __ATOMIC_RELAXED);
	return st->unknown;
}

const char *str_text(const struct strtab *st, uint32_t id)
{
	return st && id < STRS_MAX && st->chunk[id >> CHUNK_BITS] ? ent(st, id)->text : "";
}

uint16_t str_width(const struct strtab *st, uint32_t id)
{
	return st && id < STRS_MAX && st->chunk[id >> CHUNK_BITS] ? ent(st, id)->w : 0;
}

const char *str_extra(const struct strtab *st, uint32_t id)
{
	return st && id < STRS_MAX && st->chunk[id >> CHUNK_BITS] && ent(st, id)->extra
		       ? ent(st, id)->extra
		       : "";
}

uint64_t strtab_dropped(const struct strtab *st)
{
	return st ? __atomic_load_n(&st->dropped, __ATOMIC_RELAXED) : 0;
}

uint32_t strtab_count(const struct strtab *st)
{
	return st ? __atomic_load_n(&st->n, __ATOMIC_ACQUIRE) : 0;
}

static int cmp_text(const void *a, const void *b, void *arg)
{
	const struct strtab *st = arg;

	return strcmp(ent(st, *(const uint32_t *)a)->text, ent(st, *(const uint32_t *)b)->text);
}

const uint32_t *strtab_ranks(struct strtab *st, uint32_t n)
{
	uint32_t *by, *rank, r = 0;

	if (!st || !n)
		return NULL;
	if (n <= st->nranked && st->rank)
		return st->rank;
	by = malloc(n * sizeof(*by));
	rank = malloc(n * sizeof(*rank));
	if (!by || !rank) {
		free(by);
		free(rank);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		by[i] = i;
	qsort_r(by, n, sizeof(*by), cmp_text, st);
	for (uint32_t i = 0; i < n; i++) {
		if (i && strcmp(ent(st, by[i - 1])->text, ent(st, by[i])->text))
			r++;
		rank[by[i]] = r;
	}
	free(by);
	free(st->rank);
	st->rank = rank;
	st->nranked = n;
	return rank;
}
