/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one hash table of tcptop: chained, intrusive, keyed by a 64-bit hash the caller computes
 * with the hash functions below, so that every table of every tool grows and hashes alike. */
#ifndef TCPTOP_HTAB_H
#define TCPTOP_HTAB_H

#include <stddef.h>
#include <stdint.h>

/*
 * The caller embeds a struct hnode in its entry and owns the entry's memory; the table owns
 * only its bucket array. Lookups walk the chain of a hash and compare keys themselves:
 *
 *	struct conn { struct hnode hn; uint64_t flow; ... };
 *	uint64_t h = hash_u64(flow);
 *	struct hnode *n;
 *	htab_for_hash (&t, n, h)
 *		if (container_of(n, struct conn, hn)->flow == flow)
 *			return container_of(n, struct conn, hn);
 *
 * Buckets are a power of two and double when the table holds as many entries as buckets; a
 * failed doubling leaves longer chains, still correct, and is tried again at the next add.
 */
struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **b;
	size_t nb; /* buckets, a power of two; 0 before htab_init or after htab_free */
	size_t n;  /* entries */
};

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

/* min_buckets is rounded up to a power of two (at least 16). 0, or -ENOMEM. A zeroed struct
 * htab is an empty table too: its first add makes the buckets. */
int htab_init(struct htab *t, size_t min_buckets);
/* Frees the buckets (never the entries); the table is empty and must be init'ed again. */
void htab_free(struct htab *t);
/* Empties the table, keeping its buckets (never frees the entries). */
void htab_clear(struct htab *t);
/* 0, or -ENOMEM when the table has no bucket at all and none can be had (n not added); once a
 * table has buckets, adds never fail. */
int htab_add(struct htab *t, struct hnode *n, uint64_t hash);
/* n must be in t. */
void htab_del(struct htab *t, struct hnode *n);

static inline struct hnode *htab_chain(const struct htab *t, uint64_t hash)
{
	return t->nb ? t->b[hash & (t->nb - 1)] : NULL;
}

/* Every node of hash's chain whose hash is hash. */
#define htab_for_hash(t, n, h)                                 \
	for ((n) = htab_chain((t), (h)); (n); (n) = (n)->next) \
		if ((n)->hash == (h))

/* Every node; n may be deleted (not others) inside the loop. */
#define htab_each(t, n)                            \
	for (size_t _hb = 0; _hb < (t)->nb; _hb++) \
		for (struct hnode *n = (t)->b[_hb], *_hn; n && (_hn = n->next, 1); n = _hn)

/* The hash functions: a 64-bit finaliser (murmur3's fmix64) on words, so that keys that differ
 * in one bit land anywhere. Not keyed: no table here holds more entries than its input has
 * connections, and each is bounded by its owner. hash_u64 is a bijection of the 64-bit words
 * (each of its steps can be undone): a table keyed by one word may compare the hashes alone
 * and keep no copy of the key (tests/unit/test_core.c undoes it). */
static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The word hash_u64 came from: a table keyed by one word that keeps the hash alone gets its key
 * back (tcptop-agg's connections, whose flow id is written out). x ^= x >> 33 is its own
 * inverse; the constants are the multipliers' inverses modulo 2^64. */
static inline uint64_t hash_u64_inverse(uint64_t x)
{
	x ^= x >> 33;
	x *= 0x9cb4b2f8129337dbULL;
	x ^= x >> 33;
	x *= 0x4f74430c22a54005ULL;
	x ^= x >> 33;
	return x;
}

/* Two words (a host index and a flow, a namespace and an ifindex...). */
static inline uint64_t hash_u64x2(uint64_t a, uint64_t b)
{
	return hash_u64(hash_u64(a) ^ (b + 0x9e3779b97f4a7c15ULL));
}

uint64_t hash_bytes(const void *p, size_t n);
uint64_t hash_str(const char *s);

#endif /* TCPTOP_HTAB_H */
