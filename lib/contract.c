// SPDX-License-Identifier: GPL-2.0-or-later
/* The contracts between the stages (contract.h): one table each. */
#include <err.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "caps.h"
#include "contract.h"

const char *tool_name(unsigned tool)
{
	switch (tool) {
	case TOOL_COLLECT:
		return "tcptop-collect";
	case TOOL_AGG:
		return "tcptop-agg";
	case TOOL_VIEW:
		return "tcptop-view";
	case TOOL_PROM:
		return "tcptop-prom";
	case TOOL_CSV:
		return "tcptop-csv";
	case TOOL_WRAPPER:
		return "tcptop";
	}
	return "?";
}

/* ---- exit statuses ---- */

#define READERS (TOOL_AGG | TOOL_VIEW | TOOL_PROM | TOOL_CSV)

const struct exit_status exit_statuses[] = {
	{ 0, TOOL_ALL,
	  "success; also after a stop by signal once the output is complete, where no input was "
	  "left unread (see 128+N)" },
	{ EX_USAGE, TOOL_ALL,
	  "usage: a bad option or value (one line names it), or a terminal where a stream must go" },
	{ EX_DATAERR, READERS | TOOL_WRAPPER,
	  "bad input data: not a tcptop stream, the wrong kind, corrupt, truncated or of an "
	  "unsupported major version (the message names the byte offset)" },
	{ EX_NOINPUT, TOOL_AGG | TOOL_PROM | TOOL_CSV | TOOL_WRAPPER,
	  "an input file cannot be opened" },
	{ EX_UNAVAILABLE, TOOL_COLLECT | TOOL_CSV | TOOL_VIEW | TOOL_WRAPPER,
	  "the kernel lacks what is needed (no BTF, no usable hook), no DNS server for --resolve, "
	  "or a tool of the pipeline cannot be found" },
	{ EX_OSERR, TOOL_ALL,
	  "out of memory, or another failure of the system (fork, pipe, thread)" },
	{ EX_CANTCREAT, TOOL_COLLECT | TOOL_CSV | TOOL_PROM | TOOL_WRAPPER,
	  "an output file cannot be created (as the invoking user), or is a symbolic link; or the "
	  "exporter cannot listen" },
	{ EX_IOERR, TOOL_ALL, "an I/O error reading or writing" },
	{ EX_NOPERM, TOOL_COLLECT | TOOL_WRAPPER,
	  "insufficient privilege for live capture, or a privilege drop that failed" },
	{ -1, READERS | TOOL_WRAPPER,
	  "128+N: stopped by signal N (SIGINT, SIGTERM, SIGHUP) before its input ended, once its "
	  "output is complete; or killed by signal N" },
};
const size_t exit_nstatuses = sizeof(exit_statuses) / sizeof(exit_statuses[0]);

bool exit_allowed(unsigned tool, int code)
{
	for (size_t i = 0; i < exit_nstatuses; i++)
		if ((exit_statuses[i].code == code || (exit_statuses[i].code < 0 && code > 128)) &&
		    (exit_statuses[i].tools & tool))
			return true;
	return false;
}

void exit_help(FILE *f, unsigned tool)
{
	fputs("Exit status (tcptop(1) EXIT STATUS):\n", f);
	for (size_t i = 0; i < exit_nstatuses; i++) {
		const struct exit_status *s = &exit_statuses[i];

		if (!(s->tools & tool))
			continue;
		if (s->code < 0)
			fprintf(f, "  %s\n", s->meaning);
		else
			fprintf(f, "  %-5d%s\n", s->code, s->meaning);
	}
}

int exit_stopped(int sig, bool input_whole)
{
	return input_whole || sig <= 0 ? 0 : 128 + sig;
}

int exit_write_status(int neg_errno)
{
	if (neg_errno == -EPIPE)
		return 0;
	return neg_errno == -ENOMEM ? EX_OSERR : EX_IOERR;
}

void exit_write_failed(int neg_errno, const char *what)
{
	int st = exit_write_status(neg_errno);

	if (st == EX_OSERR)
		warnx("out of memory");
	else if (st)
		warnx("writing %s: %s", what, strerror(-neg_errno));
	exit(st);
}

/* ---- features ---- */

const struct feature_info features[FEAT_N] = {
	[FEAT_TCP] = { "tcp", 0, "TCP connections are not seen at all" },
	[FEAT_OWNERS] = { "owners", FIELD_OWNER,
			  "the process of a connection open before the start is unknown until "
			  "it sends, receives or closes" },
	[FEAT_NETNS] = { "netns", 0,
			 "other network namespaces' connections are known at their open and "
			 "close only: their counters do not move in between" },
	[FEAT_UDP] = { "udp", 0, "UDP datagrams are not counted: no UDP rows" },
	[FEAT_UDP_CLOSE] = { "udp-close", 0,
			     "a UDP flow may end only by --udp-timeout, not when its socket closes" },
	[FEAT_UDP_PEERS] = { "udp-peers", 0,
			     "an unconnected UDP socket's peers are not told apart" },
	[FEAT_CGROUP] = { "cgroup", FIELD_CGROUP,
			  "no cgroup v2 mount: the owners' cgroups are unknown" },
	[FEAT_TCP_FIGS] = { "tcp-figures", FIELD_TCP_FIGS | FIELD_TCP_LIMIT,
			    "TCP connections' figures (congestion window, delivery rate, RTT "
			    "minimum and variation, in flight, unsent, lost, reordering) and LIMIT "
			    "are unknown" },
	[FEAT_TCP_LIMITS] = { "tcp-limits", FIELD_TCP_LIMIT,
			      "the kernel's clock rate (HZ) is unknown: LIMIT and the time "
			      "limited by each cause are unknown" },
};

unsigned features_missing(const struct stream_header *h, char *unknown, size_t size)
{
	const char *p = h->missing;
	unsigned mask = 0;
	size_t uoff = 0;

	if (unknown && size)
		unknown[0] = 0;
	while (*p) {
		size_t n = strcspn(p, " ");
		int f;

		for (f = 0; f < FEAT_N; f++)
			if (strlen(features[f].word) == n && !strncmp(features[f].word, p, n))
				break;
		if (f < FEAT_N)
			mask |= 1u << f;
		else if (n && unknown && uoff + n + 2 <= size)
			uoff += (size_t)snprintf(unknown + uoff, size - uoff, "%s%.*s",
						 uoff ? " " : "", (int)n, p);
		p += n;
		p += strspn(p, " ");
	}
	return mask;
}

unsigned features_unknown_fields(unsigned mask)
{
	unsigned fields = 0;

	for (int f = 0; f < FEAT_N; f++)
		if (mask & (1u << f))
			fields |= features[f].fields;
	return fields;
}

void features_add(char *list, size_t size, enum feature f)
{
	struct stream_header h;
	size_t n = strlen(list);

	snprintf(h.missing, sizeof(h.missing), "%s", list);
	if (features_missing(&h, NULL, 0) & (1u << f))
		return;
	snprintf(list + n, size > n ? size - n : 0, "%s%s", n ? " " : "", features[f].word);
}

/* ---- privilege ---- */

uint64_t caps_live_capture(void)
{
	return CAPS_BIT(CAP_BPF) | CAPS_BIT(CAP_PERFMON) | CAPS_BIT(CAP_NET_ADMIN);
}

int caps_live_capture_check(char *msg, size_t size)
{
	uint64_t need = caps_live_capture();
	struct caps c;
	char names[256], missing[256];
	int e = caps_get(&c);

	if (e) {
		snprintf(msg, size, "cannot read this process's capabilities: %s", strerror(-e));
		return -1;
	}
	if (!(need & ~c.effective))
		return 0;
	snprintf(msg, size, "needs root or %s (missing %s)",
		 caps_names(need, " and ", names, sizeof(names)),
		 caps_names(need & ~c.effective, ", ", missing, sizeof(missing)));
	return 1;
}
