/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The aggregator's options from one byte, for the fuzz targets (fuzz_agg.c, fuzz_merge.c). */
#ifndef TCPTOP_AGG_FUZZ_OPTS_H
#define TCPTOP_AGG_FUZZ_OPTS_H

#include <stdint.h>

#include "agg.h"

/* Bits 0-2: --port 443, --process a, --interface lo; 3: --interval 0.3 (else 1); 4:
 * --max-flows 2 (else 1000); 5-6: --tcp, --udp, both: --cgroup '*.service'. Bit 7 is the
 * target's own. */
static inline struct agg_opts fuzz_agg_opts(uint8_t k)
{
	return (struct agg_opts){
		.interval_ns = k & 8 ? 300000000 : 1000000000,
		.max_flows = k & 16 ? 2 : 1000,
		.full_every = 3, /* deltas between full snapshots, as by default */
		.filter = { .port_set = k & 1,
			    .port = 443,
			    .process = k & 2 ? "a" : NULL,
			    .interface = k & 4 ? "lo" : NULL,
			    .cgroup = (k & 96) == 96 ? "*.service" : NULL,
			    .tcp = (k & 96) == 32,
			    .udp = (k & 96) == 64 },
		.filter_text = "",
	};
}

#endif /* TCPTOP_AGG_FUZZ_OPTS_H */
