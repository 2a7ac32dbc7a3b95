/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroup v2 ids to paths, from the mounted hierarchy (a directory's inode number is the id). */
#ifndef TCPTOP_COLLECT_CGROUPS_H
#define TCPTOP_COLLECT_CGROUPS_H

#include <stddef.h>
#include <stdint.h>

struct cgroups;

/* The cgroup2 mount of this mount namespace (lib/mounts.h): 0 and *cg; -ENOENT when there is
 * none; or another -errno (the mount table unreadable, no memory). */
int cgroups_new(struct cgroups **cg);
void cgroups_free(struct cgroups *cg);
/* 0 and the path relative to the mount ("/" for the root), or -1: unknown id (a cgroup that
 * is gone, or one made since the last scan and the scan was less than a second ago). */
int cgroups_path(struct cgroups *cg, uint64_t id, char *path, size_t size);

#endif /* TCPTOP_COLLECT_CGROUPS_H */
