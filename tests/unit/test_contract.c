// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the contracts between stages (lib/contract.c) and of the record kinds' table
 * (lib/stream.c): each list walked whole. tests/025-exit-status.bats walks them across the
 * programs. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "contract.h"
#include "stream.h"
#include "tap.h"

static void test_exits(void)
{
	static const unsigned tools[] = { TOOL_COLLECT, TOOL_AGG, TOOL_VIEW,
					  TOOL_PROM,	TOOL_CSV, TOOL_WRAPPER };
	char *buf;
	size_t len;
	bool every = true;

	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		FILE *f = open_memstream(&buf, &len);

		exit_help(f, tools[i]);
		fclose(f);
		every &= strstr(buf, "  0    success") && strstr(buf, "  64   usage") &&
			 strstr(buf, "  71   out of memory") && strstr(buf, "  74   an I/O error");
		for (size_t k = 0; k < exit_nstatuses; k++) {
			char code[16];

			snprintf(code, sizeof(code), "  %-5d", exit_statuses[k].code);
			if (exit_statuses[k].code >= 0 &&
			    !!strstr(buf, code) != !!(exit_statuses[k].tools & tools[i]))
				every = false;
		}
		free(buf);
	}
	ok(every, "each tool's help lists exactly the statuses the table gives it");
	ok(exit_allowed(TOOL_COLLECT, EX_NOPERM) && !exit_allowed(TOOL_AGG, EX_NOPERM),
	   "77 is the collector's and the wrapper's only");
	ok(!exit_allowed(TOOL_COLLECT, 130) && exit_allowed(TOOL_AGG, 130) &&
		   exit_allowed(TOOL_WRAPPER, 143),
	   "128+N: every reader and the wrapper, never the collector (a stop is its end)");
	ok(exit_stopped(SIGINT, true) == 0 && exit_stopped(SIGINT, false) == 130 &&
		   exit_stopped(SIGTERM, false) == 143 && exit_stopped(0, false) == 0,
	   "a stop: 0 when the input was read whole, else 128+N");
	ok(exit_write_status(-EPIPE) == 0 && exit_write_status(-ENOMEM) == EX_OSERR &&
		   exit_write_status(-EIO) == EX_IOERR && exit_write_status(-ENOSPC) == EX_IOERR,
	   "a failed write: EPIPE 0, ENOMEM 71, others 74");
	for (size_t k = 0; k < exit_nstatuses; k++)
		every &= exit_statuses[k].tools && exit_statuses[k].meaning &&
			 (exit_statuses[k].tools & ~TOOL_ALL) == 0;
	ok(every, "every status names its tools and its meaning");
	is_str(tool_name(TOOL_WRAPPER), "tcptop", "the wrapper is tcptop");
}

static void test_features(void)
{
	struct stream_header h = { 0 };
	char unknown[64], list[HDR_STR_MAX] = "";
	unsigned all = 0;
	bool distinct = true;

	for (int f = 0; f < FEAT_N; f++) {
		ok(features[f].word && features[f].meaning && !strchr(features[f].word, ' '),
		   "feature %d has a one-word name (%s) and a meaning", f, features[f].word);
		for (int g = 0; g < f; g++)
			distinct &= strcmp(features[f].word, features[g].word) != 0;
		features_add(list, sizeof(list), f);
		all |= 1u << f;
	}
	ok(distinct, "the feature words are distinct");
	snprintf(h.missing, sizeof(h.missing), "%s", list);
	ok(features_missing(&h, unknown, sizeof(unknown)) == all && !unknown[0],
	   "every word written is read back (%s)", list);
	features_add(list, sizeof(list), FEAT_UDP);
	snprintf(h.missing, sizeof(h.missing), "%s", list);
	ok(features_missing(&h, NULL, 0) == all && strlen(list) == strlen(h.missing),
	   "features_add adds a word once");
	snprintf(h.missing, sizeof(h.missing), "udp  tcp-info udp-peers future");
	ok(features_missing(&h, unknown, sizeof(unknown)) ==
		   ((1u << FEAT_UDP) | (1u << FEAT_UDP_PEERS)),
	   "udp is not udp-peers, nor a prefix of a longer word");
	is_str(unknown, "tcp-info future", "words of a newer collector are kept for display");
	ok(features_unknown_fields(1u << FEAT_CGROUP) == FIELD_CGROUP &&
		   features_unknown_fields(1u << FEAT_UDP) == 0,
	   "the cgroup feature leaves the cgroup field unknown, udp none");
	ok(features_unknown_fields(1u << FEAT_TCP_FIGS) == (FIELD_TCP_FIGS | FIELD_TCP_LIMIT) &&
		   features_unknown_fields(1u << FEAT_TCP_LIMITS) == FIELD_TCP_LIMIT,
	   "tcp-figures leaves every TCP figure and LIMIT unknown, tcp-limits only LIMIT and "
	   "its clocks");
	snprintf(h.missing, sizeof(h.missing), "tcp-limits");
	ok(features_missing(&h, NULL, 0) == 1u << FEAT_TCP_LIMITS,
	   "tcp-limits is not tcp, nor tcp-figures");
}

static void test_record_kinds(void)
{
	bool named = true, sized = true, once = true;

	for (size_t i = 0; i < rec_nkinds; i++) {
		const struct rec_kind *k = &rec_kinds[i];

		named &= strcmp(rec_type_name(k->type), k->name) == 0 && k->vocab != 0;
		sized &= k->body_min >= 8 && k->body_min % 8 == 0;
		once &= rec_kind(k->type) == k;
	}
	ok(named, "every record kind has its name and a vocabulary");
	ok(sized, "every record kind's shortest body is 8-byte aligned");
	ok(once, "no record type is listed twice");
	ok(!rec_kind(0x7777) && !strcmp(rec_type_name(0x7777), "unknown"),
	   "an unknown type has no kind (readers skip it)");
	ok(rec_kind(REC_CGROUP)->vocab == ((1u << STREAM_KIND_RAW) | (1u << STREAM_KIND_SNAPSHOT)),
	   "CGROUP belongs to both vocabularies");
}

static void test_loss_kinds(void)
{
	bool good = true;

	for (size_t i = 0; i < loss_nkinds; i++) {
		good &= !strcmp(loss_code_name(loss_kinds[i].code), loss_kinds[i].name) &&
			loss_kinds[i].meaning && !strchr(loss_kinds[i].name, ' ');
		for (size_t j = 0; j < i; j++)
			good &= loss_kinds[i].code != loss_kinds[j].code &&
				strcmp(loss_kinds[i].name, loss_kinds[j].name);
	}
	ok(good, "every loss code has one distinct one-word name and a meaning (%zu codes)",
	   loss_nkinds);
	ok(loss_nkinds <= LOSS_MAX, "they fit in one LOSS record (%zu of %d)", loss_nkinds,
	   LOSS_MAX);
	is_str(loss_code_name(999), "unknown", "a newer writer's code is unknown");
}

int main(void)
{
	char msg[256];
	int r;

	test_exits();
	test_features();
	test_record_kinds();
	test_loss_kinds();
	r = caps_live_capture_check(msg, sizeof(msg));
	ok(r == 0 ||
		   (r == 1 && strstr(msg, "needs root or CAP_NET_ADMIN, CAP_PERFMON and CAP_BPF")),
	   "live capture's check: %s", r ? msg : "held");
	return done_testing();
}
