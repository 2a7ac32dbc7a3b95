// SPDX-License-Identifier: GPL-2.0-or-later
/* Cgroup short forms and the id -> path table shared by tcptop-agg, -view, -csv and -prom. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "htab.h"

static bool ishex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Start of a run of exactly 64 hex digits in [s, s+n), or NULL. */
static const char *hex64(const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && ishex(s[i])) {
			run++;
			continue;
		}
		if (run == 64)
			return s + i - 64;
		run = 0;
	}
	return NULL;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n > k && memcmp(s + n - k, suffix, k) == 0;
}

char *cgroup_short(const char *path, char *dst, size_t size)
{
	const char *unit = NULL, *end = path + strlen(path);
	size_t unit_len = 0;

	if (!size)
		return dst;
	/* from the last component up: the deepest container or unit is the most specific */
	while (end > path) {
		const char *c = end;
		size_t n;

		while (c > path && c[-1] != '/')
			c--;
		n = end - c;
		if (n) {
			const char *h = hex64(c, n);

			if (h) {
				size_t k = size - 1 < 12 ? size - 1 : 12;
				memcpy(dst, h, k);
				dst[k] = '\0';
				return dst;
			}
			if (!unit && (ends_with(c, n, ".service") || ends_with(c, n, ".scope"))) {
				unit = c;
				unit_len = n;
			}
		}
		end = c > path ? c - 1 : path;
	}
	if (!unit) {
		unit = path;
		unit_len = strlen(path);
	}
	if (unit_len > size - 1)
		unit_len = size - 1;
	memcpy(dst, unit, unit_len);
	dst[unit_len] = '\0';
	return dst;
}

bool cgroup_match(const char *pattern, const char *path)
{
	char s[CGROUP_SHORT_MAX];

	return fnmatch(pattern, cgroup_short(path, s, sizeof(s)), 0) == 0 ||
	       fnmatch(pattern, path, 0) == 0;
}

void cgroup_table_init(struct cgroup_table *t)
{
	memset(t, 0, sizeof(*t));
}

void cgroup_table_clear(struct cgroup_table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		free(t->e[i].path);
		free(t->e[i].short_name);
	}
	if (t->e)
		memset(t->e, 0, t->cap * sizeof(*t->e));
	t->n = 0;
	t->gen++;
}

void cgroup_table_free(struct cgroup_table *t)
{
	cgroup_table_clear(t);
	free(t->e);
	t->e = NULL;
	t->cap = 0;
}

static size_t slot(const struct cgroup_ent *e, size_t cap, uint32_t host, uint64_t id)
{
	size_t i = hash_u64x2(host, id) & (cap - 1);

	while (e[i].id && (e[i].id != id || e[i].host != host))
		i = (i + 1) & (cap - 1);
	return i;
}

struct cgroup_ent *cgroup_table_get_host(const struct cgroup_table *t, uint32_t host, uint64_t id)
{
	size_t i;

	if (!id || !t->cap)
		return NULL;
	i = slot(t->e, t->cap, host, id);
	return t->e[i].id ? &t->e[i] : NULL;
}

struct cgroup_ent *cgroup_table_get(const struct cgroup_table *t, uint64_t id)
{
	return cgroup_table_get_host(t, 0, id);
}

static int grow(struct cgroup_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct cgroup_ent *e = calloc(cap, sizeof(*e));

	if (!e)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].id)
			e[slot(e, cap, t->e[i].host, t->e[i].id)] = t->e[i];
	free(t->e);
	t->e = e;
	t->cap = cap;
	t->gen++;
	return 0;
}

struct cgroup_ent *cgroup_table_set_host(struct cgroup_table *t, uint32_t host, uint64_t id,
					 const char *path)
{
	struct cgroup_ent *e = id ? cgroup_table_get_host(t, host, id) : NULL;
	char s[CGROUP_SHORT_MAX], *p, *sn;

	if (!id)
		return NULL;
	if (!e) {
		if (t->n >= CGROUP_TABLE_CAP)
			return NULL;
		if ((t->n + 1) * 2 > t->cap && grow(t))
			return NULL;
		e = &t->e[slot(t->e, t->cap, host, id)];
	} else if (strcmp(e->path, path) == 0) {
		return e;
	}
	p = strdup(path);
	sn = strdup(cgroup_short(path, s, sizeof(s)));
	if (!p || !sn) {
		free(p);
		free(sn);
		return NULL;
	}
	if (!e->id)
		t->n++;
	else {
		free(e->path);
		free(e->short_name);
	}
	e->id = id;
	e->host = host;
	e->path = p;
	e->short_name = sn;
	e->user = 0;
	t->gen++;
	return e;
}

struct cgroup_ent *cgroup_table_set(struct cgroup_table *t, uint64_t id, const char *path)
{
	return cgroup_table_set_host(t, 0, id, path);
}
