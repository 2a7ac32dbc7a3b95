/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cgroups for people: the short form of a cgroup v2 path, and a table of id to path. */
#ifndef TCPTOP_CGROUP_H
#define TCPTOP_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CGROUP_SHORT_MAX 256

/*
 * The name people know a cgroup by: the 12 first hex digits of a container id (docker, podman,
 * containerd, CRI-O, kubernetes: the last component holding a run of 64 hex digits), else the
 * last component ending in ".service" or ".scope" (the systemd unit), else the path itself.
 * Writes raw bytes (not sanitised) of at most size - 1 bytes, NUL terminated; returns dst.
 */
char *cgroup_short(const char *path, char *dst, size_t size);

/* True when the shell glob pattern matches the short form or the whole path. */
bool cgroup_match(const char *pattern, const char *path);

/*
 * (host, id) -> path, open addressing; at most CGROUP_TABLE_CAP ids (more are ignored: their rows
 * show the number). host is a merged stream's host index (CGROUP.host, SNAP_ROW.host; ids of two
 * kernels may collide), 0 for a stream of one host. Each entry has a user word the owner uses
 * as it likes (agg: written yet?; prom: its interned label).
 */
#define CGROUP_TABLE_CAP 65536

struct cgroup_ent {
	uint64_t id; /* 0: empty slot */
	uint32_t host;
	char *path;
	char *short_name; /* cgroup_short(path), raw */
	uint32_t user;	  /* the owner's; 0 when the path is set or replaced */
};

struct cgroup_table {
	struct cgroup_ent *e;
	size_t cap, n;
	uint64_t gen; /* changes when entries move or change */
};

void cgroup_table_init(struct cgroup_table *t);
void cgroup_table_free(struct cgroup_table *t);
void cgroup_table_clear(struct cgroup_table *t);
/* Sets or replaces the path of host's id; returns the entry, or NULL (no memory, or the table
 * is full). */
struct cgroup_ent *cgroup_table_set_host(struct cgroup_table *t, uint32_t host, uint64_t id,
					 const char *path);
struct cgroup_ent *cgroup_table_get_host(const struct cgroup_table *t, uint32_t host, uint64_t id);
/* The same for host 0 (a stream of one host). */
struct cgroup_ent *cgroup_table_set(struct cgroup_table *t, uint64_t id, const char *path);
struct cgroup_ent *cgroup_table_get(const struct cgroup_table *t, uint64_t id);

#endif /* TCPTOP_CGROUP_H */
