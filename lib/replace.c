// SPDX-License-Identifier: GPL-2.0-or-later
/* An output file replaced whole (replace.h): a temporary beside it, then rename. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replace.h"

#define TMP_TRIES 16

/* "NAME.XXXXXXXXXXXX.tmp" with 12 random letters and digits (62 bits): another user cannot
 * guess the next one, and a name that exists already is passed by (O_EXCL), never opened. */
static int tmp_name(const struct replace_file *f, char *tmp, size_t size)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[12];
	char s[sizeof(r) + 1];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (size_t i = 0; i < sizeof(r); i++)
		s[i] = digits[r[i] % 36];
	s[sizeof(r)] = '\0';
	/* a long name is shortened: NAME_MAX holds the temporary's name too */
	snprintf(tmp, size, "%.200s.%s.tmp", f->name, s);
	return 0;
}

/* A new temporary in the directory: its fd, its name in tmp; -1 with errno set. */
static int tmp_create(const struct replace_file *f, char *tmp, size_t size)
{
	for (int i = 0; i < TMP_TRIES; i++) {
		int fd;

		if (tmp_name(f, tmp, size))
			return -1;
		fd = openat(f->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0644);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1; /* EEXIST every time: someone fills the directory with names */
}

static void dir_of(const struct replace_file *f, char *dir, size_t size)
{
	const char *slash = strrchr(f->path, '/');

	if (!slash)
		snprintf(dir, size, ".");
	else if (slash == f->path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - f->path), f->path);
}

int replace_file_open(struct replace_file *f, const char *path, char *err, size_t errsz)
{
	char dir[sizeof(f->path)], tmp[NAME_MAX + 1];
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	struct stat sb;
	int fd;

	f->dirfd = -1;
	if (strlen(path) >= sizeof(f->path) || strlen(name) >= sizeof(f->name)) {
		snprintf(err, errsz, "%s: %s", path, strerror(ENAMETOOLONG));
		return REPLACE_CREATE;
	}
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(err, errsz, "%s: no file name", path);
		return REPLACE_CREATE;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->name, sizeof(f->name), "%s", name);
	dir_of(f, dir, sizeof(dir));
	f->dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f->dirfd < 0) {
		if (lstat(dir, &sb) == 0 && S_ISLNK(sb.st_mode))
			snprintf(err, errsz, "%s: a symbolic link: give the directory it points to",
				 dir);
		else
			snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return REPLACE_CREATE;
	}
	/* can we create there? A temporary of our own, removed at once: the file is untouched */
	fd = tmp_create(f, tmp, sizeof(tmp));
	if (fd < 0) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		replace_file_close(f);
		return REPLACE_CREATE;
	}
	close(fd);
	unlinkat(f->dirfd, tmp, 0);
	return REPLACE_OK;
}

int replace_file_write(struct replace_file *f, const void *buf, size_t len, char *err, size_t errsz)
{
	char tmp[NAME_MAX + 1];
	const char *what = "writing";
	size_t off = 0;
	int fd = tmp_create(f, tmp, sizeof(tmp));

	if (fd < 0) {
		snprintf(err, errsz, "cannot create a temporary beside %s: %s", f->path,
			 strerror(errno));
		return REPLACE_CREATE;
	}
	while (off < len) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += n;
	}
	what = "fsync of";
	if (fsync(fd) < 0)
		goto fail;
	what = "closing";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	what = "renaming over";
	if (renameat(f->dirfd, tmp, f->dirfd, f->name) < 0)
		goto fail;
	return REPLACE_OK;
fail:
	snprintf(err, errsz, "%s %s: %s", what, f->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlinkat(f->dirfd, tmp, 0);
	return REPLACE_IO;
}

void replace_file_close(struct replace_file *f)
{
	if (f->dirfd >= 0)
		close(f->dirfd);
	f->dirfd = -1;
}

int replace_file_check(const char *path, char *err, size_t errsz)
{
	struct replace_file f;
	int st = replace_file_open(&f, path, err, errsz);

	replace_file_close(&f);
	return st;
}
