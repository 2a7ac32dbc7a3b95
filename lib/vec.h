/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one growable array of tcptop: one growth rule (doubling, from 16), one overflow check. */
#ifndef TCPTOP_VEC_H
#define TCPTOP_VEC_H

#include <stddef.h>

/*
 * Makes room for at least need elements of esz bytes in the array *pp whose capacity is *cap
 * (elements): the capacity doubles (from at least 16) until need fits. Returns 0, or -ENOMEM
 * (no memory, or a size that overflows) with *pp and *cap untouched. pp is a pointer to the
 * array's pointer (void * so that any element type can use it):
 *
 *	struct row *rows; size_t n, cap;
 *	if (VEC_RESERVE(&rows, &cap, n + 1))
 *		return -ENOMEM;
 *	rows[n++] = r;
 */
int vec_reserve(void *pp, size_t *cap, size_t need, size_t esz);

#define VEC_RESERVE(pp, capp, need) vec_reserve((pp), (capp), (need), sizeof(**(pp)))

/* The same, growing to exactly need (no doubling): for arrays sized once by what they hold. */
int vec_resize(void *pp, size_t *cap, size_t need, size_t esz);

/* An array that held many more elements than its n now gives memory back: when its capacity is
 * above four times max(n, 16), it becomes twice that (so that pushes after it do not grow it
 * again at once). A failed realloc leaves it as it was (it still works). For tables swept of
 * stale entries, whose memory must follow what they hold. */
void vec_shrink(void *pp, size_t *cap, size_t n, size_t esz);

#define VEC_SHRINK(pp, capp, n) vec_shrink((pp), (capp), (n), sizeof(**(pp)))

#endif /* TCPTOP_VEC_H */
