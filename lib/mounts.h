/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where a file system type is mounted, read with getmntent(3) (which decodes the octal escapes
 * of /proc/self/mounts: a mount point with a space in it is read right). */
#ifndef TCPTOP_MOUNTS_H
#define TCPTOP_MOUNTS_H

#include <stddef.h>

/*
 * The mount point of the first mount of fstype ("cgroup2") in this process's mount namespace,
 * copied into dir. Returns 0; -ENOENT when there is none; -ENAMETOOLONG when it does not fit
 * in size bytes; or the -errno of opening /proc/self/mounts (a failed read is never "none").
 */
int mount_find(const char *fstype, char *dir, size_t size);

#endif /* TCPTOP_MOUNTS_H */
