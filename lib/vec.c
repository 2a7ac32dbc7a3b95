// SPDX-License-Identifier: GPL-2.0-or-later
/* The one growable array (vec.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

int vec_resize(void *pp, size_t *cap, size_t need, size_t esz)
{
	void **p = pp, *q;

	if (need <= *cap)
		return 0;
	if (esz && need > SIZE_MAX / esz)
		return -ENOMEM;
	q = realloc(*p, need * esz);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = need;
	return 0;
}

int vec_reserve(void *pp, size_t *cap, size_t need, size_t esz)
{
	size_t n = *cap < 16 ? 16 : *cap;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	return vec_resize(pp, cap, n, esz);
}

void vec_shrink(void *pp, size_t *cap, size_t n, size_t esz)
{
	void **p = pp, *q;
	size_t keep = n < 16 ? 16 : n;

	if (*cap / 4 <= keep || !esz)
		return;
	q = realloc(*p, 2 * keep * esz);
	if (!q)
		return;
	*p = q;
	*cap = 2 * keep;
}
