/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one table of option ranges: every tool and the wrapper refuse the same values, alike. */
#ifndef TCPTOP_OPTS_H
#define TCPTOP_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "contract.h"

/*
 * Whose option an entry is. The wrapper checks a value against each tool it passes it to (the
 * collector first, then the aggregator), so it refuses exactly what that tool would refuse,
 * with the same message, before anything starts.
 */
enum opt_tool {
	OPT_COLLECT = TOOL_COLLECT,
	OPT_AGG = TOOL_AGG,
	OPT_VIEW = TOOL_VIEW,
	OPT_PROM = TOOL_PROM,
};

enum opt_kind {
	OPT_COUNT,   /* a whole number, min to max */
	OPT_SECONDS, /* seconds with up to 9 decimals; min and max in nanoseconds */
	OPT_FACTOR,  /* a positive decimal number, above dmin, at most dmax */
	OPT_TEXT,    /* a string of min to max bytes */
};

struct opt_range {
	const char *name; /* the long option without its dashes: "interval" */
	unsigned tools;	  /* enum opt_tool bits */
	enum opt_kind kind;
	uint64_t min, max;
	double dmin, dmax;
	const char *range; /* the accepted values in words, for messages: "0.01 to 3600 seconds" */
};

extern const struct opt_range opt_ranges[];
extern const size_t opt_nranges;

/* The entry for --name of tool, or NULL. */
const struct opt_range *opt_find(unsigned tool, const char *name);

/*
 * Check val for --name of tool. Returns 0 with the value in *out (OPT_COUNT: the number;
 * OPT_SECONDS: nanoseconds; OPT_TEXT: the length; unused for OPT_FACTOR, see opt_factor), or
 * -1 with msg set to the one-line reason every program prints after its name, for example
 * "--interval 0: too small (0.01 to 3600 seconds)", for EX_USAGE. An option that is not in the
 * table for that tool is accepted (0, *out untouched).
 */
int opt_parse(unsigned tool, const char *name, const char *val, uint64_t *out, char *msg,
	      size_t msgsz);

/* The same for an OPT_FACTOR option (--speed). */
int opt_factor(unsigned tool, const char *name, const char *val, double *out, char *msg,
	       size_t msgsz);

#endif /* TCPTOP_OPTS_H */
