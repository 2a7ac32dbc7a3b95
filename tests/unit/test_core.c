// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the shared core: the hash table, the growable array, the capability reader,
 * the mount lookup and the cgroup table (lib/htab.c, lib/vec.c, lib/caps.c, lib/mounts.c,
 * lib/cgroup.c). */
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "htab.h"
#include "mounts.h"
#include "tap.h"
#include "vec.h"

struct ent {
	struct hnode hn;
	uint64_t key;
};

static struct ent *find(struct htab *t, uint64_t key)
{
	uint64_t h = hash_u64(key);
	struct hnode *n;

	htab_for_hash(t, n, h) if (container_of(n, struct ent, hn)->key ==
				   key) return container_of(n, struct ent, hn);
	return NULL;
}

/* The inverse of an odd number modulo 2^64, by Newton's iteration: hash_u64_inverse's
 * constants checked apart from the code that uses them. */
static uint64_t mul_inverse(uint64_t a)
{
	uint64_t x = a;

	for (int i = 0; i < 6; i++)
		x *= 2 - a * x;
	return x;
}

static void test_htab(void)
{
	enum {
		N = 100000
	};
	struct ent *e = calloc(N, sizeof(*e));
	struct htab t = { 0 }, z = { 0 };
	struct ent one = { .key = 7 };
	size_t found = 0, seen = 0, maxchain = 0;
	bool ok_all = true;

	ok(htab_init(&t, 5) == 0 && t.nb == 16, "htab_init rounds 5 buckets up to 16");
	for (size_t i = 0; i < N; i++) {
		e[i].key = i * 4096; /* keys that share their low bits */
		ok_all &= htab_add(&t, &e[i].hn, hash_u64(e[i].key)) == 0;
	}
	ok(ok_all && t.n == N, "100,000 adds, n = %zu", t.n);
	ok(t.nb >= N, "the buckets doubled with the entries: %zu for %zu", t.nb, t.n);
	for (size_t b = 0; b < t.nb; b++) {
		size_t len = 0;

		for (struct hnode *n = t.b[b]; n; n = n->next)
			len++;
		if (len > maxchain)
			maxchain = len;
	}
	ok(maxchain <= 12, "keys i * 4096 spread: longest chain %zu", maxchain);
	for (size_t i = 0; i < N; i++)
		found += find(&t, i * 4096) == &e[i];
	ok(found == N, "every key found: %zu", found);
	ok(!find(&t, 4095), "a key never added is not found");
	for (size_t i = 0; i < N; i += 2)
		htab_del(&t, &e[i].hn);
	ok(t.n == N / 2 && !find(&t, 0) && find(&t, 4096) == &e[1],
	   "half deleted: the others stay, n = %zu", t.n);
	htab_each(&t, n)
	{
		seen++;
		htab_del(&t, n); /* deleting the node in hand is allowed */
	}
	ok(seen == N / 2 && t.n == 0, "htab_each visits the rest (%zu) and may delete each", seen);
	ok(htab_add(&z, &one.hn, hash_u64(7)) == 0 && find(&z, 7) == &one,
	   "a zeroed table takes its first add");
	htab_clear(&z);
	ok(z.n == 0 && !find(&z, 7), "htab_clear empties it");
	htab_free(&z);
	htab_free(&t);
	ok(t.nb == 0 && !htab_chain(&t, 1), "a freed table is empty, its lookups safe");
	ok(hash_bytes("abc", 3) == hash_str("abc") && hash_str("abc") != hash_str("abd") &&
		   hash_bytes("abcdefgh1", 9) != hash_bytes("abcdefgh2", 9),
	   "hash_bytes covers the tail, hash_str is hash_bytes");
	ok(hash_u64x2(1, 2) != hash_u64x2(2, 1), "hash_u64x2 is not symmetric");
	{
		/* fmix64 undone step by step: a table that keeps the hash alone (the collector's
		 * connections, by socket address) relies on it */
		uint64_t x = 0x9e3779b97f4a7c15ULL, bad = 0;

		for (int i = 0; i < 100000;
		     i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
			bad += hash_u64_inverse(hash_u64(x)) != x ||
			       hash_u64(hash_u64_inverse(x)) != x;
		ok(!bad,
		   "hash_u64 is a bijection: hash_u64_inverse undoes it, each of 100000 words "
		   "comes back");
		ok(hash_u64_inverse(hash_u64(0)) == 0 &&
			   hash_u64_inverse(hash_u64(UINT64_MAX)) == UINT64_MAX,
		   "hash_u64_inverse at the ends of the words");
		ok(mul_inverse(0xff51afd7ed558ccdULL) == 0x4f74430c22a54005ULL &&
			   mul_inverse(0xc4ceb9fe1a85ec53ULL) == 0x9cb4b2f8129337dbULL,
		   "hash_u64_inverse's constants are the multipliers' inverses");
	}
	free(e);
}

static void test_vec(void)
{
	int *v = NULL;
	size_t n = 0, cap = 0, grows = 0, lastcap = 0;
	bool ok_all = true;
	char *big = NULL;
	size_t bigcap = 0;

	for (int i = 0; i < 100000; i++) {
		ok_all &= VEC_RESERVE(&v, &cap, n + 1) == 0;
		v[n++] = i;
		if (cap != lastcap) {
			grows++;
			lastcap = cap;
		}
	}
	ok(ok_all && n == 100000 && v[99999] == 99999, "100,000 pushes");
	ok(grows <= 14 && cap >= n && cap < 2 * n, "capacity doubled from 16: %zu grows, cap %zu",
	   grows, cap);
	ok(vec_reserve(&big, &bigcap, SIZE_MAX / 2 + 2, 4) == -ENOMEM && !big && !bigcap,
	   "an overflowing size is -ENOMEM, the array untouched");
	ok(vec_resize(&v, &cap, 10, sizeof(*v)) == 0 && cap >= 100000, "vec_resize never shrinks");
	VEC_SHRINK(&v, &cap, 40000);
	ok(cap >= 100000, "vec_shrink keeps an array at most four times too large (%zu)", cap);
	VEC_SHRINK(&v, &cap, 1000);
	ok(cap == 2000 && v[999] == 999, "and gives the rest back: twice what it holds (%zu)", cap);
	VEC_SHRINK(&v, &cap, 0);
	ok(cap == 32, "never below 32 (%zu)", cap);
	free(v);
}

static void test_caps(void)
{
	struct caps c;
	char buf[256];

	ok(caps_get(&c) == 0, "caps_get reads this process's sets");
	if (geteuid() == 0)
		ok(c.effective & CAPS_BIT(CAP_SYS_ADMIN), "root has CAP_SYS_ADMIN in effective");
	else
		ok(1, "# SKIP root's capabilities: not root");
	is_str(caps_names(CAPS_BIT(CAP_BPF) | CAPS_BIT(CAP_PERFMON) | CAPS_BIT(CAP_NET_ADMIN),
			  " and ", buf, sizeof(buf)),
	       "CAP_NET_ADMIN, CAP_PERFMON and CAP_BPF", "caps_names with ' and '");
	is_str(caps_names(CAPS_BIT(CAP_BPF), " and ", buf, sizeof(buf)), "CAP_BPF",
	       "caps_names of one");
	is_str(caps_names(CAPS_BIT(60) | CAPS_BIT(CAP_BPF), ", ", buf, sizeof(buf)),
	       "CAP_BPF, capability 60", "a capability without a name is a number");
	is_str(caps_names(0, ", ", buf, sizeof(buf)), "", "none is empty");
	caps_names(~0ULL, ", ", buf, 10);
	ok(strlen(buf) < 10, "caps_names never overruns its buffer");
}

static void test_mounts(void)
{
	char dir[4096], small[4];
	int r = mount_find("proc", dir, sizeof(dir));

	ok(r == 0 && !strcmp(dir, "/proc"), "proc is mounted at /proc (%d, %s)", r, r ? "-" : dir);
	ok(mount_find("no-such-fs-type", dir, sizeof(dir)) == -ENOENT,
	   "a type that is not mounted is -ENOENT");
	ok(mount_find("proc", small, sizeof(small)) == -ENAMETOOLONG,
	   "a mount point too long for the buffer is -ENAMETOOLONG, never cut");
	/* octal escapes: a mount point with a space, read by getmntent(3) */
	if (geteuid() == 0) {
		char base[] = "/tmp/tcptop-mnt.XXXXXX", path[256], got[4096];

		if (mkdtemp(base)) {
			snprintf(path, sizeof(path), "%s/a b", base);
			if (!mkdir(path, 0700) && !mount("none", path, "ramfs", 0, NULL)) {
				r = mount_find("ramfs", got, sizeof(got));
				if (r == 0 && strcmp(got, path) && strncmp(got, "/tmp/", 5))
					ok(1,
					   "# SKIP mount with a space: another ramfs (%s) "
					   "comes first",
					   got);
				else
					is_str(r ? "" : got, path,
					       "a mount point with a space is decoded (\\040)");
				umount2(path, MNT_DETACH);
				rmdir(path);
			} else {
				ok(1, "# SKIP mount with a space: cannot mount ramfs here");
			}
			rmdir(base);
		}
	} else {
		ok(1, "# SKIP mount with a space: needs root");
	}
}

/* A merged stream's hosts may use one cgroup id for two cgroups: the key is (host, id). */
static void test_cgroup_hosts(void)
{
	struct cgroup_table t;
	const struct cgroup_ent *a, *b, *z;
	bool all = true;

	cgroup_table_init(&t);
	cgroup_table_set_host(&t, 1, 11, "/system.slice/nginx.service");
	cgroup_table_set_host(&t, 2, 11, "/system.slice/ssh.service");
	cgroup_table_set(&t, 11, "/alone.scope");
	/* enough others to grow the table twice: the three keep their paths */
	for (uint64_t id = 100; id < 300; id++)
		all &= cgroup_table_set_host(&t, (uint32_t)(id % 3), id, "/x.service") != NULL;
	a = cgroup_table_get_host(&t, 1, 11);
	b = cgroup_table_get_host(&t, 2, 11);
	z = cgroup_table_get(&t, 11);
	ok(all && t.n == 203, "203 (host, id) pairs held: %zu", t.n);
	ok(a && !strcmp(a->path, "/system.slice/nginx.service") && a->host == 1,
	   "host 1's id 11 is its own path");
	ok(b && !strcmp(b->short_name, "ssh.service") && b->host == 2,
	   "host 2's id 11 is another, with its short form");
	ok(z && !strcmp(z->path, "/alone.scope"), "cgroup_table_get is host 0");
	ok(!cgroup_table_get_host(&t, 3, 11), "a host that never named id 11 has no path for it");
	cgroup_table_free(&t);
}

int main(void)
{
	test_htab();
	test_vec();
	test_caps();
	test_mounts();
	test_cgroup_hosts();
	return done_testing();
}
