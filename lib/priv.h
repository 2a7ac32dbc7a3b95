/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one privilege drop of tcptop (collector and wrapper), and output files opened as the user. */
#ifndef TCPTOP_PRIV_H
#define TCPTOP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Supplementary groups kept at most (the user's groups from the group database). */
#define PRIV_MAX_GROUPS 1024

/*
 * Whom to become. Under sudo (we are root and SUDO_UID is set) it is the invoking user:
 * SUDO_UID, SUDO_GID (else that user's primary group) and that user's supplementary groups.
 * A process that is not root (effective uid other than 0: a service's dedicated user given
 * capabilities by systemd's AmbientCapabilities=, a program with file capabilities) stays the
 * real user (getuid, getgid, the current supplementary groups) whatever the fallback: it drops
 * its capabilities only. Otherwise (root, no sudo) it depends on the fallback:
 * PRIV_FALLBACK_NOBODY becomes nobody (the passwd entry, else 65534:65534) with no
 * supplementary groups; PRIV_FALLBACK_REAL stays the real user, which for a root login means
 * uid 0 with no capabilities.
 *
 * Supplementary groups: the target user's own, not none. Every file the drop protects is then
 * opened with exactly the rights the user has at a login shell: a --log in a directory the
 * user may write through a group is allowed, a root-owned file is not. Dropping to no groups
 * would refuse what the user may do; keeping root's groups would allow what the user may not.
 */
enum priv_fallback {
	PRIV_FALLBACK_NOBODY,
	PRIV_FALLBACK_REAL,
};

struct priv_target {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[PRIV_MAX_GROUPS];
	char why[64];	    /* "sudo user 1000", "nobody", "the real user 0": for -v */
	bool invoking_user; /* the user who ran us (sudo or real, or not root), not nobody */
};

/* Fill *t as described above. Reads the environment, the passwd and group databases: call it
 * before parsing untrusted input. Returns 0, or -1 with err filled (SUDO_UID or SUDO_GID set
 * but not a number, too many groups). */
int priv_target_init(struct priv_target *t, enum priv_fallback fb, char *err, size_t errsz);

/* A capability as a bit of keep_caps: PRIV_CAP(CAP_BPF). */
#define PRIV_CAP(c) (1ULL << (c))

/*
 * Become t, all or nothing, then check that it holds. In order: PR_SET_KEEPCAPS when
 * keep_caps is not 0; the bounding set emptied of every capability not in keep_caps (when we
 * hold CAP_SETPCAP; without it no capability can come back anyway, see below); the ambient set
 * cleared; setgroups(t->groups); setresgid(t->gid x3); setresuid(t->uid x3); capset with
 * permitted = effective = keep_caps and inheritable = 0; PR_SET_KEEPCAPS off;
 * PR_SET_NO_NEW_PRIVS. Each identity step is skipped when the process already has that
 * identity (an unprivileged user reading a recording has nothing to drop and may not call
 * setgroups), never when it does not. Then it verifies with getresuid, getresgid, getgroups,
 * capget, PR_CAP_AMBIENT_IS_SET, PR_CAPBSET_READ and PR_GET_NO_NEW_PRIVS, and, unless
 * CAP_SETUID is kept, that setuid(0) is refused.
 *
 * Without CAP_SETPCAP the bounding set cannot be changed; it does not matter then: the
 * permitted set ends as keep_caps and no_new_privs stops execve from adding any (setuid bits
 * and file capabilities are ignored, and a uid 0 process gets no more than it had).
 *
 * Returns 0, or -1 with err filled ("setgroups: Operation not permitted"): the caller must
 * then exit with EX_NOPERM before it writes anything, since the process may be half dropped.
 * Keeping a capability the process does not hold is an error.
 *
 * The collector (after attach, before the first record, before opening -o):
 *
 *	struct priv_target t;
 *	char e[256];
 *	if (priv_target_init(&t, PRIV_FALLBACK_NOBODY, e, sizeof(e)))
 *		errx(EX_NOPERM, "%s", e);     // at start, before loading anything
 *	...load, attach, map the ring buffer...
 *	if (priv_drop(&t, keep, e, sizeof(e)))  // keep: 0, or PRIV_CAP(CAP_BPF) on kernels
 *		errx(EX_NOPERM, "cannot drop privilege: %s", e);  // that need it for bpf()
 *	fd = open_output(opt.output, O_TRUNC, e, sizeof(e));     // now, as the user
 *	if (fd < 0)
 *		errx(EX_CANTCREAT, "%s", e);
 *
 * With the nobody fallback (a root login, no sudo: t.invoking_user is false) the invoking user
 * is root itself: open -o before the drop then, or nobody could not write to root's folders.
 * To refuse an unwritable -o before loading anything, check it first the way tcptop does
 * (check_creatable() in tcptop/main.c: a child that drops, then open_output without O_TRUNC).
 */
int priv_drop(const struct priv_target *t, uint64_t keep_caps, char *err, size_t errsz);

/* The check priv_drop ends with, on its own (for tests and -v). */
int priv_verify(const struct priv_target *t, uint64_t keep_caps, char *err, size_t errsz);

/*
 * Create or open an output file as the calling process may: O_WRONLY | O_CREAT | O_CLOEXEC |
 * O_NOFOLLOW | flags (O_TRUNC to overwrite, O_APPEND, O_EXCL), mode 0666 less the umask. A
 * symbolic link as the last component is refused (it could lead where the user did not mean to
 * write; the directories on the way are followed, as the user). Call it after priv_drop, never
 * with privilege: the kernel's permission checks are what protect other users' files. Returns
 * the fd, or -1 with err filled ("PATH: Permission denied", "PATH: a symbolic link: give the
 * file it points to") for the caller's EX_CANTCREAT.
 */
int open_output(const char *path, int flags, char *err, size_t errsz);

#endif /* TCPTOP_PRIV_H */
