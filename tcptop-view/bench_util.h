/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the view's two benchmarks share (bench.c, bench_stream.c). */
#ifndef TCPTOP_VIEW_BENCH_UTIL_H
#define TCPTOP_VIEW_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A field of /proc/self/status in KiB ("VmRSS:"), -1 when not found. */
static inline long vm_kib(const char *field)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			kib = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return kib;
}

#endif /* TCPTOP_VIEW_BENCH_UTIL_H */
