// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of lib/priv.c: open_output() and priv_target_init() as any user; priv_drop() in
 * forked children, as root (skipped with the reason otherwise), read back from
 * /proc/self/status the way an outsider would see the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "priv.h"
#include "tap.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT	     47
#define PR_CAP_AMBIENT_RAISE 2
#endif

static char dir[] = "/tmp/tcptop-test-priv.XXXXXX";

static void path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

/* The value of a /proc/self/status field, for example "CapBnd". */
static const char *status_field(const char *name, char *buf, size_t n)
{
	char line[512];
	size_t l = strlen(name);
	FILE *f = fopen("/proc/self/status", "r");

	buf[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, l) && line[l] == ':') {
			char *v = line + l + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			snprintf(buf, n, "%s", v);
			break;
		}
	}
	if (f)
		fclose(f);
	return buf;
}

static void test_open_output(void)
{
	char p[256], l[256], e[512], buf[16];
	mode_t old = umask(022);
	struct stat sb;
	int fd;

	path_in(p, sizeof(p), "new.csv");
	fd = open_output(p, O_TRUNC, e, sizeof(e));
	ok(fd >= 0, "open_output creates a new file");
	if (fstat(fd, &sb))
		sb.st_mode = 0;
	ok((sb.st_mode & 07777) == 0644, "mode 0666 less the umask (022): %o", sb.st_mode & 07777);
	ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "close-on-exec");
	ok(write(fd, "hello\n", 6) == 6, "writable");
	close(fd);

	fd = open_output(p, 0, e, sizeof(e));
	ok(fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size == 6, "without O_TRUNC: kept as it was");
	close(fd);
	fd = open_output(p, O_TRUNC, e, sizeof(e));
	ok(fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size == 0, "O_TRUNC: emptied");
	close(fd);

	path_in(l, sizeof(l), "link.csv");
	if (symlink(p, l))
		perror("symlink");
	fd = open(p, O_WRONLY);
	ok(write(fd, "keep", 4) == 4, "content for the symlink test");
	close(fd);
	fd = open_output(l, O_TRUNC, e, sizeof(e));
	ok(fd < 0, "a symbolic link as the last component is refused");
	ok(strstr(e, "link.csv: a symbolic link") != NULL, "and says so: %s", e);
	fd = open(p, O_RDONLY);
	ok(fd >= 0 && read(fd, buf, sizeof(buf)) == 4, "the file it points to is untouched");
	close(fd);

	path_in(p, sizeof(p), "no/such/dir.csv");
	ok(open_output(p, O_TRUNC, e, sizeof(e)) < 0 && strstr(e, "No such file or directory"),
	   "a missing directory: %s", e);
	umask(old);
}

static void test_target(void)
{
	struct priv_target t;
	char e[256];
	int r;

	unsetenv("SUDO_UID");
	unsetenv("SUDO_GID");
	r = priv_target_init(&t, PRIV_FALLBACK_REAL, e, sizeof(e));
	ok(r == 0 && t.uid == getuid() && t.gid == getgid() && t.invoking_user,
	   "no sudo, fallback real: the real user (%s)", t.why);
	r = priv_target_init(&t, PRIV_FALLBACK_NOBODY, e, sizeof(e));
	if (geteuid() == 0)
		ok(r == 0 && t.uid != 0 && t.ngroups == 0 && !strcmp(t.why, "nobody") &&
			   !t.invoking_user,
		   "root, no sudo, fallback nobody: nobody (uid %u), no groups", (unsigned)t.uid);
	else
		ok(r == 0 && t.uid == getuid() && t.gid == getgid() && t.invoking_user,
		   "not root, fallback nobody: stays the real user (%s)", t.why);
	setenv("SUDO_UID", "65534", 1);
	setenv("SUDO_GID", "65533", 1);
	if (geteuid() == 0) {
		r = priv_target_init(&t, PRIV_FALLBACK_NOBODY, e, sizeof(e));
		ok(r == 0 && t.uid == 65534 && t.gid == 65533 && t.ngroups >= 1 && t.invoking_user,
		   "root under sudo: SUDO_UID and SUDO_GID (%s)", t.why);
		setenv("SUDO_UID", "12x", 1);
		ok(priv_target_init(&t, PRIV_FALLBACK_NOBODY, e, sizeof(e)) < 0 &&
			   strstr(e, "SUDO_UID=12x"),
		   "a SUDO_UID that is not a number is an error: %s", e);
	} else {
		ok(priv_target_init(&t, PRIV_FALLBACK_REAL, e, sizeof(e)) == 0 && t.uid == getuid(),
		   "not root: SUDO_UID is ignored (it could not be honoured)");
		ok(1, "# SKIP a bad SUDO_UID: needs root");
	}
	unsetenv("SUDO_UID");
	unsetenv("SUDO_GID");
}

/* Runs fn in a child; its exit status is the number of failed checks (or 100+ for setup). */
static int in_child(int (*fn)(void))
{
	int st;
	pid_t p;

	fflush(stdout);
	p = fork();
	if (p == 0)
		_exit(fn());
	if (p < 0 || waitpid(p, &st, 0) < 0 || !WIFEXITED(st))
		return 200;
	return WEXITSTATUS(st);
}

#define CHECK(c, ...)                                      \
	do {                                               \
		if (!(c)) {                                \
			printf("#   child: " __VA_ARGS__); \
			printf("\n");                      \
			bad++;                             \
		}                                          \
	} while (0)

static char root_file[256];

/* The /proc/self/status field NAME is WANT; else 0, saying what it is. */
static int field_is(const char *name, const char *want)
{
	char v[128];

	if (!strcmp(status_field(name, v, sizeof(v)), want))
		return 1;
	printf("#   child: %s '%s', not '%s'\n", name, v, want);
	return 0;
}

/* What a drop that keeps nothing leaves: every user id UID, every group id GID, no
 * supplementary group, no capability inheritable, permitted, effective or ambient, and
 * no_new_privs. Returns how many of those do not hold. */
static int dropped_to(unsigned uid, unsigned gid)
{
	static const char *const sets[] = { "CapInh", "CapPrm", "CapEff", "CapAmb" };
	char ids[64];
	int bad = 0;

	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", uid, uid, uid, uid);
	bad += !field_is("Uid", ids);
	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", gid, gid, gid, gid);
	bad += !field_is("Gid", ids);
	bad += !field_is("Groups", "");
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		bad += !field_is(sets[i], "0000000000000000");
	bad += !field_is("NoNewPrivs", "1");
	return bad;
}

static int drop_to_nobody(void)
{
	struct priv_target t = { .uid = 65534, .gid = 65534, .ngroups = 0 };
	char e[256];
	int bad, fd;

	snprintf(t.why, sizeof(t.why), "nobody");
	if (priv_drop(&t, 0, e, sizeof(e))) {
		printf("#   child: priv_drop: %s\n", e);
		return 100;
	}
	bad = dropped_to(65534, 65534);
	bad += !field_is("CapBnd", "0000000000000000");
	CHECK(setuid(0) < 0 && errno == EPERM, "setuid(0) after the drop");
	fd = open_output(root_file, O_TRUNC, e, sizeof(e));
	CHECK(fd < 0 && strstr(e, "Permission denied"), "open_output of a root file: %s", e);
	return bad;
}

static int keep_cap_bpf(void)
{
	struct priv_target t = { .uid = 65534, .gid = 65534, .ngroups = 0 };
	char e[256], v[128], want[32];
	int bad = 0;

	if (priv_drop(&t, PRIV_CAP(CAP_BPF), e, sizeof(e))) {
		printf("#   child: priv_drop keeping CAP_BPF: %s\n", e);
		return 100;
	}
	snprintf(want, sizeof(want), "%016llx", 1ULL << CAP_BPF);
	CHECK(!strcmp(status_field("Uid", v, sizeof(v)), "65534\t65534\t65534\t65534"), "Uid %s",
	      v);
	CHECK(!strcmp(status_field("CapPrm", v, sizeof(v)), want), "CapPrm %s", v);
	CHECK(!strcmp(status_field("CapEff", v, sizeof(v)), want), "CapEff %s", v);
	CHECK(!strcmp(status_field("CapBnd", v, sizeof(v)), want), "CapBnd %s", v);
	CHECK(!strcmp(status_field("CapInh", v, sizeof(v)), "0000000000000000"), "CapInh %s", v);
	CHECK(!strcmp(status_field("NoNewPrivs", v, sizeof(v)), "1"), "NoNewPrivs %s", v);
	return bad;
}

/* A user who has nothing to drop: the drop succeeds, sets no_new_privs, changes nothing else. */
static int unprivileged_real_user(void)
{
	struct priv_target t;
	char e[256], v[128];
	int bad = 0;

	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 101;
	if (priv_target_init(&t, PRIV_FALLBACK_REAL, e, sizeof(e)))
		return 102;
	if (priv_drop(&t, 0, e, sizeof(e))) {
		printf("#   child: priv_drop as an unprivileged user: %s\n", e);
		return 100;
	}
	CHECK(!strcmp(status_field("NoNewPrivs", v, sizeof(v)), "1"), "NoNewPrivs %s", v);
	CHECK(!strcmp(status_field("CapPrm", v, sizeof(v)), "0000000000000000"), "CapPrm %s", v);
	return bad;
}

/*
 * A service's dedicated user: not root, holding capabilities, as systemd starts a unit with
 * User= (or DynamicUser=) and AmbientCapabilities= (the capabilities permitted, effective,
 * inheritable and ambient). The nobody fallback leaves it that user, and the drop takes only
 * its capabilities; a SUDO_UID in its environment is not obeyed (it is not root).
 */
static int service_user(void)
{
	uint64_t caps = PRIV_CAP(CAP_BPF) | PRIV_CAP(CAP_PERFMON) | PRIV_CAP(CAP_NET_ADMIN);
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)caps, (uint32_t)caps, (uint32_t)caps },
		{ (uint32_t)(caps >> 32), (uint32_t)(caps >> 32), (uint32_t)(caps >> 32) },
	};
	struct priv_target t;
	char e[256];
	int bad = 0;

	if (setgroups(0, NULL) || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    setresgid(4343, 4343, 4343) || setresuid(4242, 4242, 4242))
		return 101;
	if (syscall(SYS_capset, &h, d))
		return 102;
	for (int c = 0; c < 64; c++)
		if (caps & PRIV_CAP(c) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0))
			return 103;
	setenv("SUDO_UID", "1000", 1);
	setenv("SUDO_GID", "1000", 1);
	if (priv_target_init(&t, PRIV_FALLBACK_NOBODY, e, sizeof(e))) {
		printf("#   child: priv_target_init: %s\n", e);
		return 100;
	}
	CHECK(t.uid == 4242 && t.gid == 4343 && t.ngroups == 0 && t.invoking_user,
	      "target %u:%u (%s), %d groups, not itself", (unsigned)t.uid, (unsigned)t.gid, t.why,
	      t.ngroups);
	if (priv_drop(&t, 0, e, sizeof(e))) {
		printf("#   child: priv_drop as a service user: %s\n", e);
		return 100 + bad;
	}
	return bad + dropped_to(4242, 4343);
}

/* All or nothing: a failing step is an error, never a half drop reported as done. */
static int failure_is_reported(void)
{
	struct priv_target t = { .uid = 65534, .gid = 65534, .ngroups = 0 };
	char e[256];
	int bad = 0;

	/* without CAP_SETGID (gone from the effective set), setgroups cannot work */
	struct caps c;
	if (caps_get(&c))
		return 101;
	c.effective &= ~CAPS_BIT(CAP_SETGID);
	if (caps_set(&c))
		return 102;
	t.ngroups = 1;
	t.groups[0] = 12345;
	CHECK(priv_drop(&t, 0, e, sizeof(e)) < 0, "priv_drop without CAP_SETGID succeeded");
	CHECK(strstr(e, "setgroups") != NULL, "the error names setgroups: %s", e);
	CHECK(priv_drop(&t, 1ULL << 62, e, sizeof(e)) < 0,
	      "keeping a capability not held succeeded");
	return bad;
}

int main(void)
{
	int r;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_open_output();
	test_target();
	if (geteuid() != 0) {
		ok(1, "# SKIP priv_drop to nobody: needs root");
		ok(1, "# SKIP priv_drop keeping CAP_BPF: needs root");
		ok(1, "# SKIP priv_drop as an unprivileged user: needs root to become one");
		ok(1,
		   "# SKIP priv_drop as a service user with capabilities: needs root to become one");
		ok(1, "# SKIP priv_drop failures: needs root");
	} else {
		int fd;
		chmod(dir, 0755);
		snprintf(root_file, sizeof(root_file), "%s/root-owned", dir);
		fd = open(root_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			close(fd);
		r = in_child(drop_to_nobody);
		ok(r == 0,
		   "priv_drop to nobody: ids, no groups, no capabilities in any set, "
		   "no_new_privs, root files refused (%d failed)",
		   r);
		r = in_child(keep_cap_bpf);
		ok(r == 0, "priv_drop keeping CAP_BPF: exactly that one, everywhere (%d failed)",
		   r);
		r = in_child(unprivileged_real_user);
		ok(r == 0, "priv_drop as an unprivileged user: nothing to drop, no error (%d)", r);
		r = in_child(service_user);
		ok(r == 0,
		   "a service user holding capabilities stays that user and drops only its "
		   "capabilities, SUDO_UID ignored (%d failed)",
		   r);
		r = in_child(failure_is_reported);
		ok(r == 0,
		   "priv_drop without CAP_SETGID, or keeping a capability not held: an "
		   "error (%d failed)",
		   r);
		unlink(root_file);
	}
	{
		char p[256];
		path_in(p, sizeof(p), "new.csv");
		unlink(p);
		path_in(p, sizeof(p), "link.csv");
		unlink(p);
		rmdir(dir);
	}
	return done_testing();
}
