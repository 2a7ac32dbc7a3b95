// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ranges of every option that takes a number or a name, for tcptop-collect, tcptop-agg,
 * tcptop-view, tcptop-prom and the tcptop wrapper (tcptop-csv takes none). The man pages give the same
 * ranges; tests/066-options.bats walks each one at both ends.
 */
#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "stream.h"
#include "util.h"

#define NSEC 1000000000ULL

const struct opt_range opt_ranges[] = {
	/* the collector's sample period: a tick at least every 10 ms, at most hourly */
	{ "interval", OPT_COLLECT, OPT_SECONDS, NSEC / 100, 3600 * NSEC, 0, 0,
	  "0.01 to 3600 seconds" },
	/* the aggregator cuts intervals from stream time: finer and coarser cuts of a recording */
	{ "interval", OPT_AGG, OPT_SECONDS, NSEC / 1000, 86400 * NSEC, 0, 0,
	  "0.001 to 86400 seconds" },
	{ "duration", OPT_COLLECT, OPT_SECONDS, NSEC / 1000, 365 * 86400 * NSEC, 0, 0,
	  "0.001 to 31536000 seconds" },
	{ "udp-timeout", OPT_COLLECT, OPT_SECONDS, NSEC / 10, 86400 * NSEC, 0, 0,
	  "0.1 to 86400 seconds" },
	/* how often the walk of every connection runs where active ones are polled: 0 is as
	 * often as keeps it under 1% of a core */
	{ "full-walk", OPT_COLLECT, OPT_SECONDS, 0, 3600 * NSEC, 0, 0, "0 (auto) to 3600 seconds" },
	/* the kernel's UDP flow table: a map of that many entries */
	{ "max-flows", OPT_COLLECT, OPT_COUNT, 16, 1 << 24, 0, 0, "16 to 16777216" },
	/* the aggregator's table of rows */
	{ "max-flows", OPT_AGG, OPT_COUNT, 1, 100000000, 0, 0, "1 to 100000000" },
	/* PID_MAX_LIMIT: no pid is larger on any Linux */
	{ "pid", OPT_COLLECT | OPT_AGG, OPT_COUNT, 1, 4194304, 0, 0, "1 to 4194304" },
	{ "port", OPT_COLLECT | OPT_AGG, OPT_COUNT, 0, 65535, 0, 0, "0 to 65535" },
	/* a full snapshot every N, deltas between; 1: full ones only (readers of format 1.0) */
	{ "full-every", OPT_AGG, OPT_COUNT, 1, 1000000, 0, 0, "1 to 1000000" },
	{ "speed", OPT_AGG, OPT_FACTOR, 0, 0, 0, 1000, "above 0, at most 1000" },
	/* matched against sanitised names, which are at most 4 bytes per kernel byte */
	{ "process", OPT_AGG, OPT_TEXT, 1, 4 * COMM_LEN, 0, 0, "1 to 64 bytes" },
	{ "interface", OPT_AGG, OPT_TEXT, 1, 4 * IFNAME_LEN, 0, 0, "1 to 64 bytes" },
	/* closed connections the view keeps for its closed list */
	{ "closed", OPT_VIEW, OPT_COUNT, 0, 1000000, 0, 0, "0 to 1000000" },
	/* label sets the exporter holds at most */
	{ "max-series", OPT_PROM, OPT_COUNT, 1, 100000000, 0, 0, "1 to 100000000" },
	/* how long an idle label set stays: 0 is never */
	{ "series-ttl", OPT_PROM, OPT_SECONDS, 0, 365 * 86400 * NSEC, 0, 0,
	  "0 (never) to 31536000 seconds" },
};
const size_t opt_nranges = sizeof(opt_ranges) / sizeof(opt_ranges[0]);

const struct opt_range *opt_find(unsigned tool, const char *name)
{
	for (size_t i = 0; i < opt_nranges; i++)
		if ((opt_ranges[i].tools & tool) && !strcmp(opt_ranges[i].name, name))
			return &opt_ranges[i];
	return NULL;
}

int opt_parse(unsigned tool, const char *name, const char *val, uint64_t *out, char *msg,
	      size_t msgsz)
{
	const struct opt_range *r = opt_find(tool, name);
	const char *e = NULL;
	size_t len;
	double d;

	if (!r)
		return 0;
	switch (r->kind) {
	case OPT_COUNT:
		if (!parse_uint(val, r->min, r->max, out, &e))
			return 0;
		break;
	case OPT_SECONDS:
		if (!parse_seconds(val, r->min, r->max, out, &e))
			return 0;
		break;
	case OPT_FACTOR:
		return opt_factor(tool, name, val, &d, msg, msgsz);
	case OPT_TEXT:
		len = strlen(val);
		if (len < r->min) {
			snprintf(msg, msgsz, "--%s: empty name", name);
			return -1;
		}
		if (len <= r->max) {
			*out = len;
			return 0;
		}
		e = "too long";
		break;
	}
	snprintf(msg, msgsz, "--%s %s: %s (%s)", name, val, e, r->range);
	return -1;
}

int opt_factor(unsigned tool, const char *name, const char *val, double *out, char *msg,
	       size_t msgsz)
{
	const struct opt_range *r = opt_find(tool, name);
	const char *e;

	if (!r || !parse_double(val, r->dmin, r->dmax, out, &e))
		return 0;
	snprintf(msg, msgsz, "--%s %s: %s (%s)", name, val, e, r->range);
	return -1;
}
