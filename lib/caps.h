/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one capability reader of tcptop: this process's sets as bit masks, and their names. */
#ifndef TCPTOP_CAPS_H
#define TCPTOP_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* A capability as a bit of a mask: CAPS_BIT(CAP_BPF). */
#define CAPS_BIT(c) (1ULL << (c))

struct caps {
	uint64_t effective, permitted, inheritable;
};

/* This process's capability sets (capget(2)). 0, or -errno. */
int caps_get(struct caps *c);
/* Sets them (capset(2)). 0, or -errno. */
int caps_set(const struct caps *c);

/* "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN": the names of the capabilities in mask, ", "
 * separated but the last, which last (", " or " and ") separates; NUL terminated in buf (a
 * capability without a name here is "capability N"). Returns buf. */
char *caps_names(uint64_t mask, const char *last, char *buf, size_t size);

#endif /* TCPTOP_CAPS_H */
