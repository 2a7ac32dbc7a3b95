// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The privilege drop shared by tcptop-collect and tcptop, hand-written on capget/capset and
 * prctl (a few system calls: not worth a libcap-ng dependency for every package), and
 * open_output(), which creates output files as the user they belong to.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "priv.h"
#include "util.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT		 47
#define PR_CAP_AMBIENT_IS_SET	 1
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_id(const char *s, uint64_t *v)
{
	const char *e;

	return parse_uint(s, 0, UINT32_MAX - 1, v, &e);
}

int priv_target_init(struct priv_target *t, enum priv_fallback fb, char *err, size_t errsz)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	struct passwd *pw;
	uint64_t v;

	memset(t, 0, sizeof(*t));
	if (su && geteuid() == 0) {
		if (parse_id(su, &v))
			return fail(err, errsz, "SUDO_UID=%s: not a user id", su);
		t->uid = v;
		pw = getpwuid(t->uid);
		t->gid = pw ? pw->pw_gid : t->uid;
		if (sg) {
			if (parse_id(sg, &v))
				return fail(err, errsz, "SUDO_GID=%s: not a group id", sg);
			t->gid = v;
		}
		t->groups[0] = t->gid;
		t->ngroups = 1;
		if (pw) {
			int n = PRIV_MAX_GROUPS;
			if (getgrouplist(pw->pw_name, t->gid, t->groups, &n) < 0)
				return fail(err, errsz, "user %s is in more than %d groups",
					    pw->pw_name, PRIV_MAX_GROUPS);
			t->ngroups = n;
		}
		snprintf(t->why, sizeof(t->why), "sudo user %u", (unsigned)t->uid);
		t->invoking_user = true;
		return 0;
	}
	/* A user who is not root stays itself: becoming nobody would take CAP_SETUID, and a
	 * service's dedicated user is better than the shared nobody (whom any other nobody
	 * process may signal or trace). */
	if (fb == PRIV_FALLBACK_REAL || geteuid() != 0) {
		int n = getgroups(PRIV_MAX_GROUPS, t->groups);
		if (n < 0)
			return fail(err, errsz, "getgroups: %s", strerror(errno));
		t->uid = getuid();
		t->gid = getgid();
		t->ngroups = n;
		snprintf(t->why, sizeof(t->why), "the real user %u", (unsigned)t->uid);
		t->invoking_user = true;
		return 0;
	}
	pw = getpwnam("nobody");
	t->uid = pw ? pw->pw_uid : 65534;
	t->gid = pw ? pw->pw_gid : 65534;
	t->ngroups = 0;
	snprintf(t->why, sizeof(t->why), "nobody");
	return 0;
}

/* The highest capability this kernel knows. */
static int cap_last(void)
{
	int c = 40;

	while (c < 63 && prctl(PR_CAPBSET_READ, c + 1, 0, 0, 0) >= 0)
		c++;
	while (c > 0 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
		c--;
	return c;
}

static int gid_cmp(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

/* The supplementary groups are t's, as sets (order and duplicates do not matter). */
static int groups_match(const struct priv_target *t)
{
	gid_t cur[PRIV_MAX_GROUPS], want[PRIV_MAX_GROUPS];
	int n = getgroups(PRIV_MAX_GROUPS, cur), m = 0, k = 0;

	if (n < 0)
		return 0;
	memcpy(want, t->groups, t->ngroups * sizeof(gid_t));
	qsort(cur, n, sizeof(gid_t), gid_cmp);
	qsort(want, t->ngroups, sizeof(gid_t), gid_cmp);
	for (int i = 0; i < n; i++)
		if (!i || cur[i] != cur[i - 1])
			cur[m++] = cur[i];
	for (int i = 0; i < t->ngroups; i++)
		if (!i || want[i] != want[i - 1])
			want[k++] = want[i];
	return m == k && !memcmp(cur, want, m * sizeof(gid_t));
}

static int ids_are(uid_t u, gid_t g, int which)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (which == 'u')
		return !getresuid(&r, &e, &s) && r == u && e == u && s == u;
	return !getresgid(&rg, &eg, &sg) && rg == g && eg == g && sg == g;
}

int priv_verify(const struct priv_target *t, uint64_t keep_caps, char *err, size_t errsz)
{
	struct caps c;
	int last = cap_last(), e;

	if (!ids_are(t->uid, t->gid, 'u'))
		return fail(err, errsz, "the user ids are not all %u", (unsigned)t->uid);
	if (!ids_are(t->uid, t->gid, 'g'))
		return fail(err, errsz, "the group ids are not all %u", (unsigned)t->gid);
	if (!groups_match(t))
		return fail(err, errsz, "the supplementary groups are not %s's", t->why);
	if ((e = caps_get(&c)))
		return fail(err, errsz, "capget: %s", strerror(-e));
	if (c.effective != keep_caps || c.permitted != keep_caps || c.inheritable)
		return fail(err, errsz,
			    "capabilities left: effective %#llx, permitted %#llx, inheritable "
			    "%#llx (kept: %#llx)",
			    (unsigned long long)c.effective, (unsigned long long)c.permitted,
			    (unsigned long long)c.inheritable, (unsigned long long)keep_caps);
	for (int c = 0; c <= last; c++) {
		int r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);
		if (r < 0 && errno == EINVAL && c == 0)
			break; /* a kernel without ambient capabilities (before 4.3) */
		if (r > 0)
			return fail(err, errsz, "capability %d is still ambient", c);
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return fail(err, errsz, "no_new_privs is not set");
	if (t->uid != 0 && !(keep_caps & PRIV_CAP(CAP_SETUID)) && setuid(0) == 0)
		return fail(err, errsz, "setuid(0) still works");
	return 0;
}

int priv_drop(const struct priv_target *t, uint64_t keep_caps, char *err, size_t errsz)
{
	struct caps c;
	int last = cap_last(), e;

	if ((e = caps_get(&c)))
		return fail(err, errsz, "capget: %s", strerror(-e));
	if (keep_caps & ~c.permitted)
		return fail(err, errsz, "cannot keep capabilities %#llx: not held",
			    (unsigned long long)(keep_caps & ~c.permitted));
	if (keep_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return fail(err, errsz, "PR_SET_KEEPCAPS: %s", strerror(errno));
	if (c.effective & PRIV_CAP(CAP_SETPCAP)) {
		for (int c = 0; c <= last; c++) {
			if (keep_caps & PRIV_CAP(c) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
				continue;
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
				return fail(err, errsz,
					    "dropping capability %d from the bounding "
					    "set: %s",
					    c, strerror(errno));
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return fail(err, errsz, "clearing the ambient capabilities: %s", strerror(errno));
	if (!groups_match(t) && setgroups(t->ngroups, t->groups))
		return fail(err, errsz, "setgroups: %s", strerror(errno));
	if (!ids_are(t->uid, t->gid, 'g') && setresgid(t->gid, t->gid, t->gid))
		return fail(err, errsz, "setresgid %u: %s", (unsigned)t->gid, strerror(errno));
	if (!ids_are(t->uid, t->gid, 'u') && setresuid(t->uid, t->uid, t->uid))
		return fail(err, errsz, "setresuid %u: %s", (unsigned)t->uid, strerror(errno));
	c = (struct caps){ keep_caps, keep_caps, 0 };
	if ((e = caps_set(&c)))
		return fail(err, errsz, "capset: %s", strerror(-e));
	if (keep_caps && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
		return fail(err, errsz, "PR_SET_KEEPCAPS: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail(err, errsz, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return priv_verify(t, keep_caps, err, errsz);
}

int open_output(const char *path, int flags, char *err, size_t errsz)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0666);
	struct stat sb;

	if (fd >= 0)
		return fd;
	if (errno == ELOOP && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
		return fail(err, errsz, "%s: a symbolic link: give the file it points to", path);
	return fail(err, errsz, "%s: %s", path, strerror(errno));
}
