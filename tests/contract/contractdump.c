// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcptop-contract: prints the contracts between stages (lib/contract.c, lib/stream.c), one
 * fact per line, for tests/025-exit-status.bats to hold every tool, man page and stream to:
 *   exit TOOL CODE        a status TOOL may end with (CODE 128+N for the signal row)
 *   feature WORD          a missing-feature word
 *   loss CODE NAME        a loss code
 *   record TYPE NAME raw|snapshot|both BODY_MIN
 */
#include <stdio.h>

#include "contract.h"
#include "stream.h"

int main(void)
{
	static const unsigned tools[] = { TOOL_COLLECT, TOOL_AGG, TOOL_VIEW,
					  TOOL_PROM,	TOOL_CSV, TOOL_WRAPPER };

	for (size_t t = 0; t < sizeof(tools) / sizeof(tools[0]); t++)
		for (size_t i = 0; i < exit_nstatuses; i++)
			if (exit_statuses[i].tools & tools[t]) {
				if (exit_statuses[i].code < 0)
					printf("exit %s 128+N\n", tool_name(tools[t]));
				else
					printf("exit %s %d\n", tool_name(tools[t]),
					       exit_statuses[i].code);
			}
	for (int f = 0; f < FEAT_N; f++)
		printf("feature %s\n", features[f].word);
	for (size_t i = 0; i < loss_nkinds; i++)
		printf("loss %u %s\n", loss_kinds[i].code, loss_kinds[i].name);
	for (size_t i = 0; i < rec_nkinds; i++) {
		unsigned v = rec_kinds[i].vocab;

		printf("record %#06x %s %s %zu\n", rec_kinds[i].type, rec_kinds[i].name,
		       v == ((1u << STREAM_KIND_RAW) | (1u << STREAM_KIND_SNAPSHOT)) ? "both"
		       : v == (1u << STREAM_KIND_RAW)				     ? "raw"
										     : "snapshot",
		       rec_kinds[i].body_min);
	}
	return 0;
}
