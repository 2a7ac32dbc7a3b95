/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An output file that is replaced whole, never written in place (tcptop-prom's --textfile): safe
 * in a directory that someone else owns. */
#ifndef TCPTOP_REPLACE_H
#define TCPTOP_REPLACE_H

#include <stddef.h>

/*
 * The file is never opened. Each write goes to a new temporary beside it, created with
 * O_CREAT | O_EXCL | O_NOFOLLOW under a random name (NAME.XXXXXXXXXXXX.tmp, so node_exporter,
 * which reads *.prom, ignores it), written, fsync'd and renamed over NAME in the directory
 * opened at the start (O_DIRECTORY | O_NOFOLLOW). Whatever another user planted at NAME or at
 * any temporary name (a symbolic link, a hard link to someone's file, a FIFO) is replaced or
 * passed by, never written through, truncated or opened: it cannot make us write anywhere but
 * into a file we created. Directories before the last component are followed, with the
 * permissions of the caller: open after any privilege drop, as the user who owns the output.
 */
struct replace_file {
	int dirfd;	 /* -1 when closed */
	char name[256];	 /* the file's name in the directory */
	char path[4096]; /* as given, for messages */
};

enum replace_status {
	REPLACE_OK = 0,
	REPLACE_CREATE = 1, /* the directory or the temporary cannot be had (EX_CANTCREAT) */
	REPLACE_IO = 2,	    /* writing, fsync or rename failed (EX_IOERR) */
};

/* Opens the directory of path and checks that a file can be created in it (a temporary,
 * created and removed: nothing at NAME is touched). Returns REPLACE_OK, or REPLACE_CREATE with
 * err filled ("DIR: Permission denied", "DIR: a symbolic link: give the directory it points
 * to", "PATH: no file name"). */
int replace_file_open(struct replace_file *f, const char *path, char *err, size_t errsz);

/* Replaces the file's content with buf (mode 0644 less the umask). Returns REPLACE_OK, or
 * REPLACE_CREATE / REPLACE_IO with err filled; the temporary is removed on failure. */
int replace_file_write(struct replace_file *f, const void *buf, size_t len, char *err,
		       size_t errsz);

void replace_file_close(struct replace_file *f);

/* Open and close: the check before anything starts (tcptop checks --textfile so, as the
 * invoking user). The same return values as replace_file_open(). */
int replace_file_check(const char *path, char *err, size_t errsz);

#endif /* TCPTOP_REPLACE_H */
