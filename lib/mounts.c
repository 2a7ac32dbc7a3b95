// SPDX-License-Identifier: GPL-2.0-or-later
/* Mount lookup (mounts.h). */
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>

#include "mounts.h"

int mount_find(const char *fstype, char *dir, size_t size)
{
	struct mntent me;
	char buf[8192];
	int r = -ENOENT;
	FILE *f = setmntent("/proc/self/mounts", "re");

	if (!f)
		return -errno;
	while (getmntent_r(f, &me, buf, sizeof(buf))) {
		if (strcmp(me.mnt_type, fstype))
			continue;
		if (strlen(me.mnt_dir) >= size) {
			r = -ENAMETOOLONG;
			continue;
		}
		snprintf(dir, size, "%s", me.mnt_dir);
		r = 0;
		break;
	}
	endmntent(f);
	return r;
}
