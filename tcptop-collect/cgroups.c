// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cgroup v2 ids to paths. The kernel names a cgroup by the id of its kernfs node, which is
 * the inode number of its directory in the cgroup2 hierarchy: a walk of the mounted hierarchy
 * maps one to the other. A miss rescans, at most once a second (cgroups come and go with
 * every container and every systemd scope); the table is rebuilt, not grown, so cgroups that
 * went away leave with the next scan.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroups.h"
#include "mounts.h"
#include "vec.h"

#define SCAN_DEPTH 32

struct cg_entry {
	uint64_t id;
	char *path;
};

struct cgroups {
	char root[4096];
	struct cg_entry *v;
	size_t n, cap;
	struct timespec last_scan;
	int scanned;
};

/* Without memory, an id is left out: its lookups fail, and the next scan tries again. */
static void add(struct cgroups *cg, uint64_t id, const char *path)
{
	if (VEC_RESERVE(&cg->v, &cg->cap, cg->n + 1))
		return;
	cg->v[cg->n].path = strdup(path);
	if (!cg->v[cg->n].path)
		return;
	cg->v[cg->n++].id = id;
}

static void walk(struct cgroups *cg, int dfd, char *rel, size_t len, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int fd;
		size_t l;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		l = strlen(de->d_name);
		if (len + 1 + l >= 4096 || depth >= SCAN_DEPTH)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (fstat(fd, &st)) {
			close(fd);
			continue;
		}
		rel[len] = '/';
		memcpy(rel + len + 1, de->d_name, l + 1);
		add(cg, st.st_ino, rel);
		walk(cg, fd, rel, len + 1 + l, depth + 1);
		rel[len] = 0;
	}
	closedir(d);
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = ((const struct cg_entry *)a)->id, y = ((const struct cg_entry *)b)->id;

	return x < y ? -1 : x > y;
}

static void scan(struct cgroups *cg)
{
	char rel[4096] = "";
	struct stat st;
	int fd;

	for (size_t i = 0; i < cg->n; i++)
		free(cg->v[i].path);
	cg->n = 0;
	clock_gettime(CLOCK_MONOTONIC, &cg->last_scan);
	cg->scanned = 1;
	fd = open(cg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!fstat(fd, &st))
		add(cg, st.st_ino, "/");
	walk(cg, fd, rel, 0, 0);
	qsort(cg->v, cg->n, sizeof(*cg->v), by_id);
}

int cgroups_new(struct cgroups **out)
{
	struct cgroups *cg = calloc(1, sizeof(*cg));
	int e;

	*out = NULL;
	if (!cg)
		return -ENOMEM;
	e = mount_find("cgroup2", cg->root, sizeof(cg->root));
	if (e) {
		free(cg);
		return e;
	}
	*out = cg;
	return 0;
}

void cgroups_free(struct cgroups *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n; i++)
		free(cg->v[i].path);
	free(cg->v);
	free(cg);
}

static const struct cg_entry *find(const struct cgroups *cg, uint64_t id)
{
	struct cg_entry k = { .id = id };

	return cg->n ? bsearch(&k, cg->v, cg->n, sizeof(*cg->v), by_id) : NULL;
}

int cgroups_path(struct cgroups *cg, uint64_t id, char *path, size_t size)
{
	const struct cg_entry *e;
	struct timespec now;

	if (!cg || !id)
		return -1;
	e = find(cg, id);
	if (!e) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (cg->scanned && now.tv_sec - cg->last_scan.tv_sec < 1)
			return -1;
		scan(cg);
		e = find(cg, id);
	}
	if (!e)
		return -1;
	snprintf(path, size, "%s", e->path);
	return 0;
}
