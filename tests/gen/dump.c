// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-dump: prints every record of a tcptop stream as a line of tcptop-gen's script. */
#include <err.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "limit.h"
#include "script.h"
#include "stream.h"

static void put_counters(const struct conn_counters *c)
{
	printf(" in=%llu out=%llu pin=%llu pout=%llu rtt=%u retrans=%u",
	       (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
	       (unsigned long long)c->pkts_in, (unsigned long long)c->pkts_out, c->srtt_us,
	       c->retrans);
}

/* The TCP figures, as tcptop-gen reads them back. */
static void put_figs(uint8_t has, const struct tcp_figs *f)
{
	if (!has)
		return;
	printf(" busy=%u rwnd=%u sndbuf=%u rbytes=%u lost=%u cwnd=%u", f->busy_ms, f->rwnd_ms,
	       f->sndbuf_ms, f->retrans_bytes, f->lost, f->cwnd);
	if (f->ssthresh == TCP_NO_SSTHRESH)
		printf(" ssthresh=none");
	else
		printf(" ssthresh=%u", f->ssthresh);
	printf(" reord=%u inflight=%u unsent=%u minrtt=%u rttvar=%u drate=%.0f", f->reordering,
	       f->in_flight, f->unsent, f->min_rtt_us, f->rttvar_us, (double)f->delivery_rate);
}

static void put_id(const struct conn_id *id)
{
	printf(" flow=%llu cookie=%llu proto=%s", (unsigned long long)id->flow,
	       (unsigned long long)id->cookie, id->proto == PROTO_UDP ? "udp" : "tcp");
	script_put_endpoint(stdout, "src", id->family, id->laddr, id->lport);
	script_put_endpoint(stdout, "dst", id->family, id->raddr, id->rport);
	printf(" netns=%u if=%u", id->netns, id->ifindex);
}

static void put_flags(unsigned flags)
{
	if (flags & CONN_F_BEGUN_BEFORE)
		printf(" begun");
	if (flags & CONN_F_NO_OWNER)
		printf(" noowner");
	if (flags & CONN_F_CLOSED)
		printf(" closed");
	if (flags & CONN_F_NEW)
		printf(" new");
	if (flags & CONN_F_FAILED)
		printf(" failed");
}

static void put_loss(uint32_t n, const struct loss_entry *e)
{
	for (uint32_t i = 0; i < n; i++) {
		const char *name = loss_code_name(e[i].code);
		if (strcmp(name, "unknown") == 0)
			printf(" loss%u=%llu", e[i].code, (unsigned long long)e[i].value);
		else
			printf(" %s=%llu", name, (unsigned long long)e[i].value);
	}
}

/* Only when known: streams from before the field read 0 and dump as they always did. */
static void put_cgroup(uint64_t id)
{
	if (id)
		printf(" cgroup=%llu", (unsigned long long)id);
}

static void put_hstr(const char *key, const char *s)
{
	if (*s)
		script_put_str(stdout, key, s, strlen(s));
}

static void dump(const struct rec *r, int offsets)
{
	const struct stream_header *h;

	if (offsets)
		printf("@%llu ", (unsigned long long)r->offset);
	switch (r->type) {
	case REC_HEADER:
		h = &r->u.header;
		printf("header kind=%s major=%u minor=%u", stream_kind_name(h->kind), h->major,
		       h->minor);
		script_put_time(stdout, "real", (uint64_t)h->anchor_real);
		script_put_time(stdout, "mono", h->anchor_mono);
		script_put_time(stdout, "interval", h->interval_ns);
		put_hstr("producer", h->producer);
		put_hstr("version", h->version);
		put_hstr("host", h->hostname);
		put_hstr("boot", h->boot_id);
		put_hstr("kernel", h->kernel);
		put_hstr("backend", h->backend);
		put_hstr("filter", h->filter);
		put_hstr("missing", h->missing);
		break;
	case REC_END:
		printf("end");
		script_put_time(stdout, "t", r->u.end.ts);
		break;
	case REC_CONN_OPEN:
		printf("open");
		script_put_time(stdout, "t", r->u.open.ts);
		put_id(&r->u.open.id);
		printf(" state=%s pid=%u",
		       r->u.open.id.proto == PROTO_TCP ? tcp_state_name(r->u.open.state) : "0",
		       r->u.open.pid);
		script_put_str(stdout, "comm", r->u.open.comm, strnlen(r->u.open.comm, COMM_LEN));
		put_flags(r->u.open.flags);
		put_counters(&r->u.open.c);
		put_cgroup(r->u.open.cgroup_id);
		put_figs(r->u.open.has_figs, &r->u.open.figs);
		break;
	case REC_CONN_STATE:
		printf("state");
		script_put_time(stdout, "t", r->u.state.ts);
		printf(" flow=%llu old=%s new=%s", (unsigned long long)r->u.state.flow,
		       tcp_state_name(r->u.state.old_state), tcp_state_name(r->u.state.new_state));
		break;
	case REC_CONN_SAMPLE:
		printf("sample");
		script_put_time(stdout, "t", r->u.sample.ts);
		printf(" flow=%llu", (unsigned long long)r->u.sample.flow);
		put_counters(&r->u.sample.c);
		put_figs(r->u.sample.has_figs, &r->u.sample.figs);
		break;
	case REC_CONN_CLOSE:
		printf("close");
		script_put_time(stdout, "t", r->u.close.ts);
		printf(" flow=%llu state=%s", (unsigned long long)r->u.close.flow,
		       r->u.close.state ? tcp_state_name(r->u.close.state) : "0");
		put_counters(&r->u.close.c);
		put_figs(r->u.close.has_figs, &r->u.close.figs);
		break;
	case REC_CONN_OWNER:
		printf("owner");
		script_put_time(stdout, "t", r->u.owner.ts);
		printf(" flow=%llu pid=%u", (unsigned long long)r->u.owner.flow, r->u.owner.pid);
		script_put_str(stdout, "comm", r->u.owner.comm, strnlen(r->u.owner.comm, COMM_LEN));
		put_cgroup(r->u.owner.cgroup_id);
		break;
	case REC_CGROUP:
		printf("cgroup id=%llu", (unsigned long long)r->u.cgroup.id);
		if (r->u.cgroup.host)
			printf(" host=%u", r->u.cgroup.host);
		script_put_str(stdout, "path", r->u.cgroup.path, strlen(r->u.cgroup.path));
		break;
	case REC_TICK:
		printf("tick");
		script_put_time(stdout, "t", r->u.tick.ts);
		break;
	case REC_IFNAME:
		printf("ifname netns=%u if=%u", r->u.ifname.netns, r->u.ifname.ifindex);
		script_put_str(stdout, "name", r->u.ifname.name,
			       strnlen(r->u.ifname.name, IFNAME_LEN));
		break;
	case REC_LOSS:
		printf("loss");
		script_put_time(stdout, "t", r->u.loss.ts);
		put_loss(r->u.loss.n, r->u.loss.e);
		break;
	case REC_SNAP_BEGIN: {
		const struct rec_snap_begin *b = &r->u.snap_begin;
		printf("snap seq=%llu", (unsigned long long)b->seq);
		script_put_time(stdout, "time", (uint64_t)b->time_ns);
		script_put_time(stdout, "mono", b->mono_ns);
		script_put_time(stdout, "span", b->span_ns);
		script_put_time(stdout, "interval", b->interval_ns);
		if (b->flags & SNAP_F_PARTIAL)
			printf(" partial");
		if (b->flags & SNAP_F_LOSS)
			printf(" lossflag");
		printf(" hidden=%u rows=%u tcp=%u udp=%u bytes_in=%llu bytes_out=%llu "
		       "rate_in=%.3f rate_out=%.3f",
		       b->hidden, b->rows, b->tcp_conns, b->udp_flows,
		       (unsigned long long)b->bytes_in, (unsigned long long)b->bytes_out,
		       b->rate_in, b->rate_out);
		put_loss(b->nloss, b->loss);
		break;
	}
	case REC_SNAP_ROW: {
		const struct rec_snap_row *w = &r->u.row;
		printf("row");
		put_id(&w->id);
		printf(" state=%s pid=%u",
		       w->id.proto == PROTO_TCP ? tcp_state_name(w->state) : "0", w->pid);
		script_put_str(stdout, "comm", w->comm, strnlen(w->comm, COMM_LEN));
		script_put_str(stdout, "ifname", w->ifname, strnlen(w->ifname, IFNAME_LEN));
		put_flags(w->flags);
		put_counters(&w->c);
		printf(" rate_in=%.3f rate_out=%.3f", w->rate_in, w->rate_out);
		script_put_time(stdout, "first", w->first_ns);
		script_put_time(stdout, "last", w->last_ns);
		put_cgroup(w->cgroup_id);
		if (w->host)
			printf(" host=%u", w->host);
		put_figs(w->has_figs, &w->figs);
		if (w->limit == LIMIT_UNKNOWN)
			printf(" limit=unknown");
		else if (w->limit >= LIMIT_N)
			printf(" limit=%u", w->limit); /* a newer writer's */
		else if (w->limit)
			printf(" limit=%s", limit_name(w->limit));
		if (w->limit_pct)
			printf(" limit_pct=%u", w->limit_pct);
		break;
	}
	case REC_HOST: {
		const struct rec_host *h = &r->u.host;
		static const char *const st[] = { "0", "live", "ended", "lagging" };
		printf("hostrec index=%u state=%s", h->index, h->state < 4 ? st[h->state] : "?");
		script_put_time(stdout, "time", (uint64_t)h->time_ns);
		script_put_str(stdout, "name", h->hostname, strnlen(h->hostname, HDR_STR_MAX));
		script_put_str(stdout, "boot", h->boot_id, strnlen(h->boot_id, HOST_BOOT_LEN));
		put_loss(h->nloss, h->loss);
		break;
	}
	case REC_SNAP_END:
		printf("snapend seq=%llu", (unsigned long long)r->u.snap_end.seq);
		break;
	default:
		printf("# record type %u", r->type);
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offsets", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, offsets = 0, status = 0;

	while ((c = getopt_long(argc, argv, "Oh", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			offsets = 1;
			break;
		case 'h':
			printf("usage: tcptop-dump [-O|--offsets] [FILE...]\n"
			       "Prints each record of a tcptop stream as a tcptop-gen script line.\n"
			       "-O prefixes each line with the record's byte offset (@N).\n"
			       "Exit: 0 clean end, 65 corrupt or truncated, 66 no such file.\n");
			return 0;
		default:
			fprintf(stderr, "usage: tcptop-dump [-O|--offsets] [FILE...]\n");
			return EX_USAGE;
		}
	}
	char *stdin_only[] = { "-", NULL };
	char **files = optind < argc ? argv + optind : stdin_only;

	for (; *files; files++) {
		int fd = strcmp(*files, "-") ? open(*files, O_RDONLY) : STDIN_FILENO;
		struct stream_reader *rd;
		struct rec *r = malloc(sizeof(*r));
		int st;

		if (fd < 0)
			err(EX_NOINPUT, "%s", *files);
		rd = stream_reader_new(fd, *files);
		if (!rd || !r)
			err(EX_OSERR, "malloc");
		while ((st = stream_read(rd, r)) == STREAM_OK)
			dump(r, offsets);
		fflush(stdout);
		if (st == STREAM_NO_END) {
			warnx("%s", stream_error(rd));
		} else if (st == STREAM_IO) {
			warnx("%s", stream_error(rd));
			status = EX_IOERR;
		} else if (st != STREAM_EOF) {
			warnx("%s", stream_error(rd));
			status = EX_DATAERR;
		}
		stream_reader_free(rd);
		free(r);
		if (fd != STDIN_FILENO)
			close(fd);
		if (status)
			break;
	}
	return status;
}
