// SPDX-License-Identifier: GPL-2.0-or-later
/* tcptop-dump: prints every record of a tcptop stream as a line of tcptop-gen's script; with
 * --table, each snapshot as the full one a reader's table holds (delta snapshots applied). */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "limit.h"
#include "script.h"
#include "snaptab.h"
#include "stream.h"
#include "vec.h"

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

/* SNAP_BEGIN as "snap", DELTA_BEGIN as "delta" with its table_rows; rows as given. */
static void put_begin(const char *name, const struct rec_snap_begin *b, uint32_t rows)
{
	printf("%s seq=%llu", name, (unsigned long long)b->seq);
	script_put_time(stdout, "time", (uint64_t)b->time_ns);
	script_put_time(stdout, "mono", b->mono_ns);
	script_put_time(stdout, "span", b->span_ns);
	script_put_time(stdout, "interval", b->interval_ns);
	if (b->flags & SNAP_F_PARTIAL)
		printf(" partial");
	if (b->flags & SNAP_F_LOSS)
		printf(" lossflag");
	printf(" hidden=%u rows=%u", b->hidden, rows);
	/* a full snapshot's table is its rows: said only when a writer says otherwise */
	if (name[0] == 'd' || (b->table_rows && b->table_rows != rows))
		printf(" table=%u", b->table_rows);
	printf(" tcp=%u udp=%u bytes_in=%llu bytes_out=%llu rate_in=%.3f rate_out=%.3f",
	       b->tcp_conns, b->udp_flows, (unsigned long long)b->bytes_in,
	       (unsigned long long)b->bytes_out, b->rate_in, b->rate_out);
	put_loss(b->nloss, b->loss);
}

static void put_row(const char *name, const struct rec_snap_row *w)
{
	printf("%s", name);
	put_id(&w->id);
	printf(" state=%s pid=%u", w->id.proto == PROTO_TCP ? tcp_state_name(w->state) : "0",
	       w->pid);
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
}

static void put_host(const char *name, const struct rec_host *h)
{
	static const char *const st[] = { "0", "live", "ended", "lagging" };

	printf("%s index=%u state=%s", name, h->index, h->state < 4 ? st[h->state] : "?");
	script_put_time(stdout, "time", (uint64_t)h->time_ns);
	script_put_str(stdout, "name", h->hostname, strnlen(h->hostname, HDR_STR_MAX));
	script_put_str(stdout, "boot", h->boot_id, strnlen(h->boot_id, HOST_BOOT_LEN));
	put_loss(h->nloss, h->loss);
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
	case REC_SNAP_BEGIN:
	case REC_DELTA_BEGIN:
		put_begin(r->type == REC_SNAP_BEGIN ? "snap" : "delta", &r->u.snap_begin,
			  r->u.snap_begin.rows);
		break;
	case REC_SNAP_ROW:
	case REC_DELTA_ROW:
		put_row(r->type == REC_SNAP_ROW ? "row" : "drow", &r->u.row);
		break;
	case REC_HOST:
	case REC_DELTA_HOST:
		put_host(r->type == REC_HOST ? "hostrec" : "dhostrec", &r->u.host);
		break;
	case REC_SNAP_END:
		printf("snapend seq=%llu", (unsigned long long)r->u.snap_end.seq);
		break;
	case REC_DELTA_END:
		printf("deltaend seq=%llu", (unsigned long long)r->u.snap_end.seq);
		break;
	default:
		printf("# record type %u", r->type);
	}
	putchar('\n');
}

/* --table: the snapshot being read, printed whole at its end from the table. */
struct tabdump {
	struct snaptab t;
	struct rec_snap_begin b;
	bool delta;
	struct rec_host *hosts;
	size_t nhosts, hosts_cap;
	bool said;
};

/* One record under --table: 0, or EX_DATAERR (said) for a table out of step. */
static int table_rec(struct tabdump *d, const struct rec *r, int offsets, const char *name)
{
	int st;

	switch (r->type) {
	case REC_HEADER:
		snaptab_section(&d->t, &r->u.header);
		break;
	case REC_SNAP_BEGIN:
	case REC_DELTA_BEGIN:
		d->b = r->u.snap_begin;
		d->delta = r->type == REC_DELTA_BEGIN;
		d->nhosts = 0;
		if (snaptab_begin(&d->t, r->type, &r->u.snap_begin) == SNAPTAB_SKIP)
			printf("# delta seq=%llu skipped: no table in step (no full snapshot yet, "
			       "or out of step)\n",
			       (unsigned long long)d->b.seq);
		return 0;
	case REC_HOST:
	case REC_DELTA_HOST:
		if (VEC_RESERVE(&d->hosts, &d->hosts_cap, d->nhosts + 1))
			errx(EX_OSERR, "out of memory");
		d->hosts[d->nhosts++] = r->u.host;
		return 0;
	case REC_SNAP_ROW:
	case REC_DELTA_ROW:
		st = snaptab_add(&d->t, r->type, &r->u.row);
		if (st == -ENOMEM)
			errx(EX_OSERR, "out of memory");
		if (st)
			warnx("%s: %s at byte %llu outside a snapshot of its kind", name,
			      rec_type_name(r->type), (unsigned long long)r->offset);
		return st ? EX_DATAERR : 0;
	case REC_SNAP_END:
	case REC_DELTA_END:
		st = snaptab_end(&d->t);
		if (st == -ENOMEM)
			errx(EX_OSERR, "out of memory");
		if (st == SNAPTAB_OUT_OF_STEP) {
			if (!d->said)
				warnx("%s: delta snapshot %llu ends at byte %llu with %zu rows, its "
				      "DELTA_BEGIN says %u: out of step, deltas skipped until the "
				      "next full snapshot",
				      name, (unsigned long long)d->b.seq,
				      (unsigned long long)r->offset, snaptab_rows(&d->t),
				      d->b.table_rows);
			d->said = true;
			return EX_DATAERR;
		}
		if (st != SNAPTAB_READY)
			return 0;
		put_begin("snap", &d->b, (uint32_t)snaptab_rows(&d->t));
		putchar('\n');
		for (size_t i = 0; i < d->nhosts; i++) {
			put_host("hostrec", &d->hosts[i]);
			putchar('\n');
		}
		for (size_t i = 0; i < snaptab_rows(&d->t); i++) {
			put_row("row", snaptab_row(&d->t, i));
			putchar('\n');
		}
		printf("snapend seq=%llu\n", (unsigned long long)r->u.snap_end.seq);
		return 0;
	default:
		break;
	}
	dump(r, offsets);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "offsets", no_argument, NULL, 'O' },
		{ "table", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tabdump td = { 0 };
	int c, offsets = 0, table = 0, status = 0, bad = 0;

	while ((c = getopt_long(argc, argv, "Oth", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			offsets = 1;
			break;
		case 't':
			table = 1;
			break;
		case 'h':
			printf("usage: tcptop-dump [-O|--offsets] [-t|--table] [FILE...]\n"
			       "Prints each record of a tcptop stream as a tcptop-gen script line.\n"
			       "-O prefixes each line with the record's byte offset (@N).\n"
			       "-t prints each snapshot whole, as the table a reader holds at its\n"
			       "   end (delta snapshots applied, lib/snaptab.c); a delta with no\n"
			       "   full snapshot before it is a comment line.\n"
			       "Exit: 0 clean end, 65 corrupt, truncated or a table out of step,\n"
			       "66 no such file.\n");
			return 0;
		default:
			fprintf(stderr,
				"usage: tcptop-dump [-O|--offsets] [-t|--table] [FILE...]\n");
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
			if (!table)
				dump(r, offsets);
			else if (table_rec(&td, r, offsets, *files))
				bad = EX_DATAERR;
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
	snaptab_free(&td.t);
	free(td.hosts);
	return status ? status : bad;
}
