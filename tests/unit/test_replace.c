// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of lib/replace.c, the textfile written the safe way: symbolic links, hard links and
 * FIFOs planted at the file's name and at the temporaries' names are never written through, and
 * the files they lead to stay byte for byte as they were. The temporaries' random names come
 * from getrandom(2), played here by a function of the same name that the linker prefers to
 * libc's, so that a test knows the names in advance, as an attacker who guessed them would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replace.h"
#include "tap.h"

static unsigned draws; /* calls so far: call k names the temporary with 12 times digit k */

ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
	(void)flags;
	memset(buf, draws++ % 36, len);
	return len;
}

static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static char dir[] = "/tmp/tcptop-test-replace.XXXXXX";

static const char *in_dir(const char *name)
{
	static char buf[4][600];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* The name of the temporary that draw k makes for "m.prom". */
static const char *tmp_of(unsigned k)
{
	static char buf[4][64];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "m.prom.%.12s.tmp",
		 (char[]){ [0 ... 11] = digits[k % 36], [12] = 0 });
	return buf[i];
}

static void put(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(s, f) < 0 || fclose(f))
		abort();
}

static int same(const char *path, const char *want)
{
	char got[256] = "";
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	return strcmp(got, want) == 0;
}

static int is_type(const char *path, mode_t type)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && (sb.st_mode & S_IFMT) == type;
}

static void test_plants(void)
{
	struct replace_file f;
	char e[512], nm[512], victim[512], target[512];
	struct stat sb;
	unsigned k;

	snprintf(victim, sizeof(victim), "%s", in_dir("victim"));
	snprintf(target, sizeof(target), "%s", in_dir("d/m.prom"));
	mkdir(in_dir("d"), 0755);
	put(victim, "the victim's own bytes\n");
	draws = 0;
	ok(replace_file_open(&f, target, e, sizeof(e)) == REPLACE_OK, "open: %s", e);
	ok(draws == 1 && !is_type(in_dir("d/m.prom.aaaaaaaaaaaa.tmp"), S_IFREG),
	   "the check created one temporary and removed it");

	/* the file's name is a symbolic link; the next three temporaries' names are taken by a
	 * symbolic link, a hard link and a FIFO */
	k = draws;
	snprintf(nm, sizeof(nm), "d/%s", tmp_of(k));
	if (symlink(victim, target) || symlink(victim, in_dir(nm)))
		abort();
	snprintf(nm, sizeof(nm), "d/%s", tmp_of(k + 1));
	if (link(victim, in_dir(nm)))
		abort();
	snprintf(nm, sizeof(nm), "d/%s", tmp_of(k + 2));
	if (mkfifo(in_dir(nm), 0644))
		abort();
	ok(replace_file_write(&f, "new\n", 4, e, sizeof(e)) == REPLACE_OK, "write: %s", e);
	ok(draws == k + 4, "three names passed by, the fourth taken (%u draws)", draws - k);
	ok(same(victim, "the victim's own bytes\n"), "the file the links lead to is untouched");
	ok(is_type(target, S_IFREG) && same(target, "new\n"), "the link at the name was replaced");
	snprintf(nm, sizeof(nm), "d/%s", tmp_of(k));
	ok(is_type(in_dir(nm), S_IFLNK), "the planted symbolic link is still there");
	snprintf(nm, sizeof(nm), "d/%s", tmp_of(k + 2));
	ok(is_type(in_dir(nm), S_IFIFO), "the planted FIFO is still a FIFO");
	snprintf(nm, sizeof(nm), "d/%s", tmp_of(k + 3));
	ok(!is_type(in_dir(nm), S_IFREG), "no temporary left behind");

	/* a hard link at the name, then a FIFO: replaced, never opened (a FIFO would block) */
	unlink(target);
	if (link(victim, target))
		abort();
	ok(replace_file_write(&f, "newer\n", 6, e, sizeof(e)) == REPLACE_OK &&
		   same(target, "newer\n") && same(victim, "the victim's own bytes\n") &&
		   stat(victim, &sb) == 0 && sb.st_nlink == 2,
	   "a hard link at the name: replaced, its other name untouched");
	unlink(target);
	if (mkfifo(target, 0644))
		abort();
	ok(replace_file_write(&f, "newest\n", 7, e, sizeof(e)) == REPLACE_OK &&
		   is_type(target, S_IFREG) && same(target, "newest\n"),
	   "a FIFO at the name: replaced without blocking");

	/* every name it tries is taken: refused, nothing opened */
	k = draws;
	for (unsigned i = 0; i < 16; i++) {
		snprintf(nm, sizeof(nm), "d/%s", tmp_of(k + i));
		unlink(in_dir(nm));
		if (symlink(victim, in_dir(nm)))
			abort();
	}
	ok(replace_file_write(&f, "x", 1, e, sizeof(e)) == REPLACE_CREATE &&
		   strstr(e, "File exists") && same(target, "newest\n") &&
		   same(victim, "the victim's own bytes\n"),
	   "16 names taken: refused (%s)", e);

	/* a rename that fails (a directory at the name) removes its temporary */
	unlink(target);
	mkdir(target, 0755);
	put(in_dir("d/m.prom/x"), "x");
	k = draws;
	snprintf(nm, sizeof(nm), "d/%s", tmp_of(k));
	ok(replace_file_write(&f, "y", 1, e, sizeof(e)) == REPLACE_IO &&
		   !is_type(in_dir(nm), S_IFREG),
	   "a directory at the name: an I/O error (%s), the temporary removed", e);
	replace_file_close(&f);
}

static void test_refusals(void)
{
	char e[512];

	if (mkdir(in_dir("real"), 0755) || symlink("real", in_dir("sym")))
		abort();
	ok(replace_file_check(in_dir("sym/m.prom"), e, sizeof(e)) == REPLACE_CREATE &&
		   strstr(e, "a symbolic link"),
	   "a symbolic link as the directory is refused: %s", e);
	ok(replace_file_check(in_dir("real/"), e, sizeof(e)) == REPLACE_CREATE &&
		   strstr(e, "no file name"),
	   "a path ending in / is refused: %s", e);
	ok(replace_file_check(in_dir("none/m.prom"), e, sizeof(e)) == REPLACE_CREATE &&
		   strstr(e, "No such file"),
	   "a missing directory is refused: %s", e);
	ok(replace_file_check(in_dir("real/m.prom"), e, sizeof(e)) == REPLACE_OK &&
		   !is_type(in_dir("real/m.prom"), S_IFREG),
	   "the check creates nothing at the name");
}

int main(void)
{
	char cmd[600];

	if (!mkdtemp(dir))
		return 1;
	test_plants();
	test_refusals();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return 1;
	return done_testing();
}
