// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-optdump: prints, for each ranged option of lib/opts.c, the values at both ends of its
 * range and just past them, one per line: "TOOL OPTION VALUE in|out", TOOL being collect,
 * agg, view or prom. tests/066-options.bats feeds them to the tools and to the wrapper.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "opts.h"

static void seconds(char *buf, size_t n, uint64_t ns)
{
	char *p;

	snprintf(buf, n, "%" PRIu64 ".%09" PRIu64, ns / 1000000000, ns % 1000000000);
	p = buf + strlen(buf) - 1;
	while (*p == '0')
		*p-- = 0;
	if (*p == '.')
		*p = 0;
}

static void text(char *buf, size_t n, uint64_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < n; i++)
		buf[i] = 'a';
	buf[i] = 0;
}

int main(void)
{
	static const struct {
		unsigned bit;
		const char *name;
	} tools[] = { { OPT_COLLECT, "collect" },
		      { OPT_AGG, "agg" },
		      { OPT_VIEW, "view" },
		      { OPT_PROM, "prom" } };

	for (size_t i = 0; i < opt_nranges; i++) {
		const struct opt_range *r = &opt_ranges[i];
		char v[4][128];

		switch (r->kind) {
		case OPT_COUNT:
			snprintf(v[0], sizeof(v[0]), "%" PRIu64, r->min);
			snprintf(v[1], sizeof(v[1]), "%" PRIu64, r->max);
			if (r->min)
				snprintf(v[2], sizeof(v[2]), "%" PRIu64, r->min - 1);
			else
				snprintf(v[2], sizeof(v[2]), "-1");
			snprintf(v[3], sizeof(v[3]), "%" PRIu64, r->max + 1);
			break;
		case OPT_SECONDS:
			seconds(v[0], sizeof(v[0]), r->min);
			seconds(v[1], sizeof(v[1]), r->max);
			if (r->min)
				seconds(v[2], sizeof(v[2]), r->min - 1);
			else
				snprintf(v[2], sizeof(v[2]), "-1");
			seconds(v[3], sizeof(v[3]), r->max + 1);
			break;
		case OPT_FACTOR:
			snprintf(v[0], sizeof(v[0]), "%.6f", r->dmin + 0.000001);
			snprintf(v[1], sizeof(v[1]), "%g", r->dmax);
			snprintf(v[2], sizeof(v[2]), "%g", r->dmin);
			snprintf(v[3], sizeof(v[3]), "%.6f", r->dmax + 0.000001);
			break;
		case OPT_TEXT:
			text(v[0], sizeof(v[0]), r->min);
			text(v[1], sizeof(v[1]), r->max);
			text(v[2], sizeof(v[2]), r->min - 1);
			text(v[3], sizeof(v[3]), r->max + 1);
			break;
		}
		for (size_t t = 0; t < sizeof(tools) / sizeof(tools[0]); t++) {
			if (!(r->tools & tools[t].bit))
				continue;
			for (int k = 0; k < 4; k++)
				printf("%s %s %s %s\n", tools[t].name, r->name, *v[k] ? v[k] : "''",
				       k < 2 ? "in" : "out");
		}
	}
	return 0;
}
