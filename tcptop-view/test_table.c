// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the view's data layer (TAP): units, field elision in display columns, column
 * layout, the radix sort against the comparator, the filter, and the selection across snapshots. */
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tests/unit/tap.h"
#include <curses.h>

#include "limit.h"
#include "table.h"
#include "trend.h"
#include "reader.h"
#include "view.h"
#include "vec.h"

/* The rows' strings, as the reader thread keeps them. */
static struct strtab *ST;

static const char *comm_of(const struct vrow *v)
{
	return str_text(ST, v->r.comm);
}

static const char *cgroup_of(const struct vrow *v)
{
	return str_text(ST, v->cgroup);
}

static const char *host_of(const struct vrow *v)
{
	return str_text(ST, v->hostname);
}

static struct rec_snap_row row(uint64_t flow, const char *comm, uint32_t pid, double rate_in)
{
	struct rec_snap_row r = { 0 };

	r.id.flow = flow;
	r.id.cookie = 100 + flow;
	r.id.proto = PROTO_TCP;
	r.id.family = FAMILY_INET;
	r.id.laddr[0] = 10;
	r.id.laddr[3] = flow;
	r.id.raddr[0] = 192;
	r.id.raddr[1] = 168;
	r.id.raddr[3] = 255 - flow;
	r.id.lport = 1000 + flow;
	r.id.rport = 443;
	r.state = 1;
	r.pid = pid;
	snprintf(r.comm, sizeof(r.comm), "%s", comm);
	r.rate_in = rate_in;
	return r;
}

static void test_units(void)
{
	char b[32];

	fmt_bytes(0, b, sizeof(b));
	is_str(b, "0 B", "0 bytes");
	fmt_bytes(1023, b, sizeof(b));
	is_str(b, "1023 B", "1023 bytes stay bytes");
	fmt_bytes(1024, b, sizeof(b));
	is_str(b, "1.00 KiB", "1024 bytes are 1.00 KiB");
	fmt_bytes(1536, b, sizeof(b));
	is_str(b, "1.50 KiB", "three significant digits");
	fmt_bytes(10 * 1048576.0, b, sizeof(b));
	is_str(b, "10.0 MiB", "MiB");
	fmt_bytes(300 * 1073741824.0, b, sizeof(b));
	is_str(b, "300 GiB", "GiB");
	fmt_count(99999, b, sizeof(b));
	is_str(b, "99999", "counts below 100000 exact");
	fmt_count(100000, b, sizeof(b));
	is_str(b, "100k", "then k");
	fmt_count(1234567, b, sizeof(b));
	is_str(b, "1.23M", "and M");
	fmt_rtt(999, b, sizeof(b));
	is_str(b, "999us", "RTT in us");
	fmt_rtt(1500, b, sizeof(b));
	is_str(b, "1.50ms", "RTT in ms");
	fmt_rtt(250000, b, sizeof(b));
	is_str(b, "250ms", "RTT 250 ms");
	fmt_rtt(2500000, b, sizeof(b));
	is_str(b, "2.50s", "RTT in s");
}

static void test_fields(void)
{
	char b[64];

	put_field(b, sizeof(b), "abc", 3, 5, false, false);
	is_str(b, "abc  ", "left aligned, padded");
	put_field(b, sizeof(b), "abc", 3, 5, true, false);
	is_str(b, "  abc", "right aligned, padded");
	put_field(b, sizeof(b), "abcdefgh", 8, 5, false, false);
	is_str(b, "abcd\u2026", "cut at the end with an ellipsis");
	put_field(b, sizeof(b), "[2001:db8::1]:443", 17, 9, false, true);
	is_str(b, "[200\u2026:443", "elided in the middle: start and port kept");
	put_field(b, sizeof(b), "\u65e5\u672c\u8a9e", 6, 5, false, false);
	is_str(b, "\u65e5\u672c\u2026", "wide characters count two columns");
	put_field(b, sizeof(b), "\u65e5\u672c\u8a9e", 6, 4, false, false);
	is_str(b, "\u65e5\u2026 ", "a wide character is never cut in half");
	ok(text_width(b) == 4, "and the field is 4 columns wide");
	table_utf8 = false;
	put_field(b, sizeof(b), "abcdefgh", 8, 5, false, false);
	is_str(b, "abcd~", "outside UTF-8 the ellipsis is '~'");
	table_utf8 = true;
	strcpy(b, "caf\u00e9\u65e5!");
	text_fold_ascii(b);
	is_str(b,
	       "caf??"
	       "!",
	       "ASCII fold: one '?' per character");
}

static void test_layout(void)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { .seq = 1 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	struct table t = { .sort = COL_RX_RATE };
	struct layout l;
	struct rec_snap_row r = row(1, "curl", 1234, 10);
	char line[LINE_MAX_BYTES];

	snapshot_add(s, &r, NULL);
	snapshot_finish(s);
	t.snap = s;
	table_rebuild(&t);
	table_layout(&t, 200, false, 0, &l);
	ok(l.width[COL_PKT_TX] && l.width[COL_PKT_RX] && l.width[COL_RTT],
	   "200 columns: all shown");
	ok(l.width[COL_LOCAL] == (int)strlen("10.0.0.1:1001"), "LOCAL as wide as its widest value");
	ok(l.width[COL_PID] == 4, "PID as wide as its widest value");
	table_format_row(t.v[0], &l, &(struct row_style){ 0 }, line, sizeof(line));
	ok(text_width(line) == (size_t)l.total, "a row is exactly the layout's width");
	table_layout(&t, 70, false, 0, &l);
	ok(!l.width[COL_PKT_TX] && !l.width[COL_PKT_RX] && !l.width[COL_TX] && !l.width[COL_RX] &&
		   l.width[COL_RX_RATE] && l.width[COL_PROCESS],
	   "70 columns: packets and totals dropped first");
	ok(l.total <= 70, "and the table fits (%d)", l.total);
	table_layout(&t, 30, false, 0, &l);
	ok(l.width[COL_LOCAL] && l.width[COL_REMOTE] && l.width[COL_RX_RATE], "30: the essentials");
	table_free(&t);
	snapshot_free(s);
}

static uint64_t seed = 42;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static void test_sort(bool ranked, bool v4)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { .seq = 1 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	struct table t = { 0 };
	int bad = 0;

	for (int i = 0; i < 3000; i++) {
		struct rec_snap_row r = row(3000 - i, "x", rnd() % 50, (double)(rnd() % 4));
		int k;

		/* ties everywhere, IPv6, and long escaped names that share their first 24 bytes */
		if (v4) {
			/* every row IPv4: addresses sort on one word */
			r.id.laddr[rnd() % 4] = rnd() % 3;
			r.id.raddr[rnd() % 4] = rnd() % 3;
		} else if (rnd() % 3 == 0) {
			r.id.family = FAMILY_INET6;
			r.id.laddr[15] = rnd() % 3;
			r.id.raddr[1] = rnd() % 2;
		}
		if (rnd() % 4 == 0) {
			for (k = 0; k < 15; k++)
				r.comm[k] = 1 + k;
			r.comm[14] = 1 + rnd() % 5;
		} else {
			snprintf(r.comm, sizeof(r.comm), "p%u", (unsigned)(rnd() % 20));
		}
		r.id.proto = rnd() % 2 ? PROTO_TCP : PROTO_UDP;
		r.state = rnd() % 13;
		r.c.bytes_in = rnd() % 5;
		r.c.pkts_out = rnd() % 1000000;
		r.c.srtt_us = rnd() % 3;
		r.rate_out = rnd() % 2 ? 0 : (double)(rnd() % 100000) / 7;
		r.has_figs = rnd() % 2;
		r.limit = rnd() % 3 ? rnd() % LIMIT_N : rnd() % 2 ? LIMIT_UNKNOWN : 9;
		r.limit_pct = rnd() % 4 * 33;
		snapshot_add(s, &r, NULL);
	}
	snapshot_finish(s);
	if (!ranked) {
		/* the string table's ranks given up (as when out of memory): texts sort by their
		 * first bytes, ties finished by the comparator */
		s->nstr = 0;
	}
	t.snap = s;
	for (int c = 0; c < NCOLS; c++) {
		for (int rev = 0; rev < 2; rev++) {
			t.sort = c;
			t.reverse = rev;
			table_rebuild(&t);
			if (t.n != s->n || !table_sorted(&t)) {
				bad++;
				printf("# column %s reverse %d out of order\n", column_name(c),
				       rev);
			}
		}
	}
	ok(!bad, "radix sort agrees with the comparator on every column, both ways (%s, %s)",
	   ranked ? "ranked names" : "names as keys", v4 ? "IPv4 only" : "IPv4 and IPv6");
	table_free(&t);
	snapshot_free(s);
}

static void test_filter(void)
{
	struct rec_snap_row r = row(7, "Nginx", 4242, 0);
	struct snapshot *s;
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { 0 };

	s = snapshot_new(&h, &sb, ST);
	snapshot_add(s, &r, NULL);
	ok(vrow_matches(ST, &s->rows[0], "nginx"), "process name, case ignored");
	ok(vrow_matches(ST, &s->rows[0], "10.0.0.7"), "local address");
	ok(vrow_matches(ST, &s->rows[0], ":443"), "remote port");
	ok(vrow_matches(ST, &s->rows[0], "4242"), "PID");
	ok(!vrow_matches(ST, &s->rows[0], "424"), "PID only whole");
	ok(!vrow_matches(ST, &s->rows[0], "apache"), "no match");
	snapshot_free(s);
}

static struct snapshot *three(double a, double b, double c)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { 0 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	struct rec_snap_row r;

	r = row(1, "one", 1, a);
	snapshot_add(s, &r, NULL);
	r = row(2, "two", 2, b);
	snapshot_add(s, &r, NULL);
	r = row(3, "three", 3, c);
	snapshot_add(s, &r, NULL);
	snapshot_finish(s);
	return s;
}

/* A key as the main loop applies it. */
static enum action key(struct view *v, int k)
{
	enum action a = view_key(v, k);

	if (a == ACT_REBUILD)
		view_rebuild(v);
	return a;
}

static void test_selection(void)
{
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };

	view_install(&v, three(30, 20, 10));
	ok(v.have_sel && v.sel == 0 && !strcmp(comm_of(v.t.v[v.sel]), "one"), "first row selected");
	view_install(&v, three(20, 30, 10));
	ok(v.sel == 0 && v.top == 0 && !strcmp(comm_of(v.t.v[v.sel]), "two"),
	   "untouched, the selection stays at the top: a row sorting above shows");
	key(&v, 'g');
	view_install(&v, three(30, 20, 10));
	key(&v, 'j');
	ok(!strcmp(comm_of(v.t.v[v.sel]), "two"), "down selects the next");
	view_install(&v, three(10, 30, 20));
	ok(v.sel == 0 && !strcmp(comm_of(v.t.v[v.sel]), "two"),
	   "the selection follows the connection");
	key(&v, 'p');
	view_install(&v, three(10, 20, 30));
	ok(!strcmp(comm_of(v.t.v[0]), "two"), "paused: the shown snapshot stays");
	key(&v, 'p');
	ok(!strcmp(comm_of(v.t.v[0]), "three") && !strcmp(comm_of(v.t.v[v.sel]), "two"),
	   "resumed: the newest, selection kept");
	key(&v, '/');
	key(&v, 'o');
	key(&v, 'n');
	ok(v.t.n == 1 && !strcmp(comm_of(v.t.v[0]), "one"), "typing filters");
	ok(key(&v, 27) == ACT_REBUILD && !v.t.filter[0], "Esc clears the filter");
	ok(key(&v, 'q') == ACT_QUIT, "q quits");
	view_free(&v);
}

/* The resolver's own rows, played by a rule: the pid in ctx, on the host whose boot id is
 * "ours". */
static bool own_row(void *ctx, const struct strtab *st, const struct vrow *v, const char *boot_id)
{
	(void)st;
	return v->r.pid == *(const uint32_t *)ctx && boot_id && !strcmp(boot_id, "ours");
}

/* Five connections of three processes, two cgroups; one failed connect, one closed. */
static struct snapshot *groups_snap(void)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { 0 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	struct cgroup_table cg;
	struct rec_snap_row r;

	cgroup_table_init(&cg);
	cgroup_table_set(&cg, 7, "/system.slice/nginx.service");
	cgroup_table_set(
		&cg, 8,
		"/kubepods.slice/kubepods-pod1.slice/"
		"cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope");
	for (int i = 1; i <= 5; i++) {
		r = row(i,
			i <= 3	 ? "nginx"
			: i == 4 ? "curl"
				 : "dig",
			i <= 3 ? 10 : 10 + i, 100 * i);
		r.c.bytes_in = 1000 * i;
		r.cgroup_id = i <= 3 ? 7 : i == 4 ? 8 : 0;
		if (i == 4) {
			r.state = TCP_SYN_SENT;
			r.flags = CONN_F_CLOSED | CONN_F_FAILED;
		}
		snapshot_add(s, &r, &cg);
	}
	snapshot_finish(s);
	cgroup_table_free(&cg);
	return s;
}

static void test_groups(void)
{
	struct snapshot *s = groups_snap();
	struct table t = { .sort = COL_RX_RATE };
	char b[64];

	is_str(cgroup_of(&s->rows[0]), "nginx.service", "cgroup short form: the systemd unit");
	is_str(cgroup_of(&s->rows[3]), "0123456789ab", "a kubernetes container: 12 hex digits");
	is_str(cgroup_of(&s->rows[4]), "", "no cgroup: empty");
	is_str(vrow_state(&s->rows[3]), "FAILED", "a failed connect's state reads FAILED");
	is_str(cell_text(ST, &s->rows[4], COL_CGROUP, false, FIELD_CGROUP, b, sizeof(b)), "?",
	       "a field a missing feature leaves unknown is ?");
	is_str(cell_text(ST, &s->rows[4], COL_CGROUP, false, 0, b, sizeof(b)), "-",
	       "and - where there is none to show");
	is_str(cell_text(ST, &s->rows[0], COL_RTT, false, FIELD_CGROUP | FIELD_OWNER, b, sizeof(b)),
	       "-", "no other cell becomes ?");
	{
		struct vrow o = s->rows[0];

		o.r.flags |= CONN_F_NO_OWNER | CONN_F_BEGUN_BEFORE;
		is_str(cell_text(ST, &o, COL_PROCESS, false, FIELD_OWNER, b, sizeof(b)), "?",
		       "without owners: a connection open before the start has an unknown owner");
		o.r.flags &= ~CONN_F_BEGUN_BEFORE;
		is_str(cell_text(ST, &o, COL_PID, false, FIELD_OWNER, b, sizeof(b)), "-",
		       "one opened since has none seen yet");
	}
	t.snap = s;
	t.group = GROUP_PROCESS;
	table_rebuild(&t);
	ok(t.n == 3 && vrow_conns(t.v[0]) == 3 && !strcmp(comm_of(t.v[0]), "nginx") &&
		   t.v[0]->r.rate_in == 600 && t.v[0]->r.c.bytes_in == 6000,
	   "by process: nginx's three connections summed, largest rate first");
	ok(table_sorted(&t), "group rows in the comparator's order");
	table_toggle(&t, t.v[0]->r.id.cookie);
	table_rebuild(&t);
	ok(t.n == 6 && t.depth[1] == 1 && t.depth[3] == 1 && t.depth[4] == 0 &&
		   t.v[1]->r.rate_in == 300 && t.v[3]->r.rate_in == 100,
	   "an open group lists its connections under it, in sort order");
	t.group = GROUP_CGROUP;
	t.nexpanded = 0;
	table_rebuild(&t);
	ok(t.n == 3, "by cgroup: three groups (no cgroup is one)");
	strcpy(t.filter, "curl");
	table_rebuild(&t);
	ok(t.n == 1 && vrow_conns(t.v[0]) == 1 && !strcmp(cgroup_of(t.v[0]), "0123456789ab"),
	   "the filter chooses connections, groups sum those");
	t.filter[0] = '\0';
	t.group = GROUP_NONE;
	t.own_row = own_row;
	t.own_ctx = &(uint32_t){ 10 };
	snprintf(s->hdr.boot_id, sizeof(s->hdr.boot_id), "ours");
	table_rebuild(&t);
	ok(t.n == 2 && t.self_hidden == 3,
	   "the resolver's own rows (its pid, on its host) are left out and counted");
	snprintf(s->hdr.boot_id, sizeof(s->hdr.boot_id), "theirs");
	table_rebuild(&t);
	ok(t.n == 5 && t.self_hidden == 0, "the same rows of another host are shown");
	table_free(&t);
	snapshot_free(s);
}

/* A merged stream: each row's host is its HOST record's, and that is whose boot id counts. */
static void test_own_merged(void)
{
	struct stream_header h = { .boot_id = "" };
	struct rec_snap_begin sb = { 0 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	struct rec_host a = {
		.index = 1, .state = HOST_LIVE, .hostname = "here", .boot_id = "ours"
	};
	struct rec_host b = {
		.index = 2, .state = HOST_LIVE, .hostname = "there", .boot_id = "theirs"
	};
	struct table t = { .sort = COL_RX_RATE, .own_row = own_row, .own_ctx = &(uint32_t){ 7 } };
	struct rec_snap_row r;

	snapshot_add_host(s, &a);
	r = row(1, "other", 8, 1);
	r.host = 1;
	snapshot_add(s, &r, NULL);
	/* a HOST after rows (a hostile stream may): the array moves, the rows follow it */
	snapshot_add_host(s, &b);
	r = row(2, "view", 7, 2);
	r.host = 2;
	snapshot_add(s, &r, NULL);
	r = row(3, "view", 7, 3);
	r.host = 1;
	snapshot_add(s, &r, NULL);
	snapshot_finish(s);
	t.snap = s;
	table_rebuild(&t);
	ok(t.n == 2 && t.self_hidden == 1 && !strcmp(host_of(t.v[0]), "there") &&
		   !strcmp(host_of(t.v[1]), "here"),
	   "merged: our pid's row on our host is ours, on another host it is shown");
	table_free(&t);
	snapshot_free(s);
}

/* A merged stream of two hosts that share a pid, a process name and a cgroup id (11: nginx on
 * one, postgres on the other): each row shows its host's cgroup, and a group is one host's. */
static void test_groups_merged(void)
{
	struct stream_header h = { .hostname = "one+two" };
	struct rec_snap_begin sb = { 0 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	struct rec_host a = { .index = 1, .state = HOST_LIVE, .hostname = "one" };
	struct rec_host b = { .index = 2, .state = HOST_LIVE, .hostname = "two" };
	struct table t = { .sort = COL_HOST };
	struct cgroup_table cg;
	struct rec_snap_row r;

	cgroup_table_init(&cg);
	cgroup_table_set_host(&cg, 1, 11, "/system.slice/nginx.service");
	cgroup_table_set_host(&cg, 2, 11, "/system.slice/postgres.service");
	snapshot_add_host(s, &a);
	snapshot_add_host(s, &b);
	for (int i = 1; i <= 4; i++) {
		r = row(i, "worker", 10, 100 * i);
		r.host = i <= 2 ? 1 : 2;
		r.cgroup_id = 11;
		snapshot_add(s, &r, &cg);
	}
	snapshot_finish(s);
	cgroup_table_free(&cg);
	t.snap = s;
	table_rebuild(&t);
	ok(t.n == 4 && !strcmp(host_of(t.v[0]), "one") &&
		   !strcmp(cgroup_of(t.v[0]), "nginx.service") && !strcmp(host_of(t.v[3]), "two") &&
		   !strcmp(cgroup_of(t.v[3]), "postgres.service"),
	   "merged: a cgroup id two hosts share names each host's own cgroup");
	for (int m = 0; m < 2; m++) {
		t.group = m ? GROUP_CGROUP : GROUP_PROCESS;
		table_rebuild(&t);
		ok(t.n == 2 && vrow_conns(t.v[0]) == 2 && vrow_conns(t.v[1]) == 2 &&
			   !strcmp(host_of(t.v[0]), "one") && !strcmp(host_of(t.v[1]), "two") &&
			   !strcmp(cgroup_of(t.v[1]), "postgres.service") &&
			   t.v[0]->r.id.cookie != t.v[1]->r.id.cookie,
		   m ? "merged, by cgroup: a group per host, named for its host"
		     : "merged, by process: a group per host, named for its host");
	}
	table_free(&t);
	snapshot_free(s);
}

/* A closed row outlives its snapshot in the ring: its host name must too. */
static void test_closed_host(void)
{
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { 0 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	struct rec_host a = { .index = 1, .state = HOST_LIVE, .hostname = "alpha-host-name" };
	struct rec_snap_row r = row(9, "gone", 9, 1);

	view_init(&v);
	snapshot_add_host(s, &a);
	r.host = 1;
	r.flags = CONN_F_CLOSED;
	snapshot_add(s, &r, NULL);
	snapshot_finish(s);
	view_install(&v, s);
	for (int i = 0; i < HISTORY_MAX + 10; i++)
		view_install(&v, three(1, 2, 3));
	key(&v, 'c');
	ok(v.t.n == 1 && !strcmp(host_of(v.t.v[0]), "alpha-host-name"),
	   "the closed view names the host of a row whose snapshot is gone");
	view_free(&v);
}

static void test_history(void)
{
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { 0 };
	struct snapshot *empty;
	float pts[TREND_LEN];
	struct conn_key k;

	view_init(&v);
	view_install(&v, three(100, 20, 10));
	view_install(&v, three(200, 20, 10));
	view_install(&v, three(400, 20, 10));
	empty = snapshot_new(&h, &sb, ST);
	snapshot_finish(empty);
	view_install(&v, empty);
	ok(v.t.n == 0 && v.nhist == 4, "four snapshots held, the last empty");
	view_input_ended(&v);
	ok(v.end_mark && v.t.n == 3 && v.travel == 3, "the end keeps the last snapshot with rows");
	k = vrow_key(&v.shown->rows[0]);
	ok(trends_get(v.trends, &k, v.shown->tick, v.shown->rows[0].since, v.shown->tick, 4, pts) ==
			   3 &&
		   pts[0] == 0 && pts[1] == 100 && pts[3] == 400,
	   "the trend: 100, 200, 400 B/s, nothing before");
	key(&v, '[');
	ok(v.travel == 2 && !v.end_mark && v.shown == v.hist[1], "[ steps back");
	key(&v, ']');
	key(&v, ']');
	ok(v.travel == 0 && v.shown == v.hist[3], "] past the newest follows the input");
	view_free(&v);
}

/* A snapshot of n rows (flows 1..n, a few process names) in which the rows whose flow is a
 * multiple of busy (0: none) moved k bytes, and flows up to gone are closed and gone. */
static struct snapshot *many(size_t n, size_t busy, uint64_t k, size_t gone)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { .rows = n };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	char name[16];

	for (size_t i = gone + 1; i <= n; i++) {
		struct rec_snap_row r;

		snprintf(name, sizeof(name), "p%zu", i % 7);
		r = row(i, name, 100 + i % 7, busy && i % busy == 0 ? (double)k : 0);
		if (busy && i % busy == 0)
			r.c.bytes_in = 1000 * k + i;
		snapshot_add(s, &r, NULL);
	}
	snapshot_finish(s);
	return s;
}

static bool same_rows(const struct snapshot *a, const struct snapshot *b)
{
	if (!a->rows || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(&a->rows[i], &b->rows[i], VROW_VALUE_BYTES))
			return false;
	return true;
}

/* The view's memory for idle rows: a row holds no pointer and no string of its own, strings are
 * kept once, and the history keeps nothing for rows that did not change. */
static void test_compact(void)
{
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
	struct snapshot *copy[12];
	uint32_t nstr;
	size_t whole = 0;
	int same = 0;

	ok(sizeof(struct vrow) <= 152, "a row is at most 152 bytes (%zu)", sizeof(struct vrow));
	{
		/* the widths a row keeps are those of its endpoints' text */
		struct stream_header h = { 0 };
		struct rec_snap_begin sb = { 0 };
		struct snapshot *s = snapshot_new(&h, &sb, ST);
		char ep[ENDPOINT_LEN];
		int wrong = 0;

		for (int i = 0; i < 2000; i++) {
			struct rec_snap_row r = row(i + 1, "w", 1, 0);

			for (int k = 0; k < 16; k++)
				r.id.laddr[k] = rnd() % (k % 3 ? 256 : 12);
			r.id.family = i % 5 ? FAMILY_INET : FAMILY_INET6;
			r.id.lport = rnd() % 65536;
			snapshot_add(s, &r, NULL);
		}
		for (size_t i = 0; i < s->n; i++)
			wrong += vrow_endpoint(ST, &s->rows[i], true, NULL, 0) !=
					 vrow_endpoint(ST, &s->rows[i], true, ep, sizeof(ep)) ||
				 vrow_endpoint(ST, &s->rows[i], true, NULL, 0) != strlen(ep);
		ok(!wrong, "an endpoint's width is its text's, IPv4 and IPv6 (%d wrong)", wrong);
		snapshot_free(s);
	}
	view_init(&v);
	for (int k = 0; k < 12; k++)
		view_install(&v, many(2000, 0, 0, 0));
	nstr = strtab_count(ST);
	for (size_t i = 0; i < v.nhist; i++)
		whole += v.hist[i]->rows != NULL;
	ok(v.nhist == 12 && whole == 1 && v.hist_bytes == 0,
	   "12 snapshots of 2000 idle rows: one whole, no byte of history (%zu whole, %zu bytes)",
	   whole, v.hist_bytes);
	view_install(&v, many(2000, 0, 0, 0));
	ok(strtab_count(ST) == nstr, "the same names again: no new string");
	view_free(&v);

	/* rows moving, others closing: every snapshot travelled to is the one installed */
	memset(&v, 0, sizeof(v));
	v.t.sort = COL_RX_RATE;
	v.page = 10;
	view_init(&v);
	for (int k = 0; k < 12; k++) {
		struct snapshot *s = many(2000, 3 + k % 4, k + 1, (size_t)k * 5);

		copy[k] = many(2000, 3 + k % 4, k + 1, (size_t)k * 5);
		view_install(&v, s);
	}
	ok(v.hist_bytes > 0 && v.hist_bytes < 12 * 2000 * sizeof(struct vrow) / 2,
	   "busy rows: the history keeps those that changed (%zu bytes)", v.hist_bytes);
	for (int k = 11; k >= 0; k--) {
		same += same_rows(v.shown, copy[k]);
		if (k)
			key(&v, '[');
	}
	ok(same == 12, "[ back through 12 snapshots: each exactly as it came (%d)", same);
	for (int k = 1; k < 12; k++) {
		key(&v, ']');
		if (k < 11)
			same += same_rows(v.shown, copy[k]);
	}
	ok(same == 22 && v.travel == 0, "] forward again to the live table (%d)", same);
	whole = 0;
	for (size_t i = 0; i < v.nhist; i++)
		whole += v.hist[i]->rows != NULL;
	ok(whole == 1, "back live: only the newest whole (%zu)", whole);
	for (int k = 0; k < 12; k++)
		snapshot_free(copy[k]);
	view_free(&v);
}

/* A snapshot in which few rows changed is sorted by putting those in the last order: the same
 * order a whole sort gives, on every column, both ways. */
static void test_resort(void)
{
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
	const struct vrow **order = malloc(2100 * sizeof(*order));
	int k = 0, differ = 0, unsorted = 0;
	size_t before, resorted = 0;

	view_init(&v);
	view_install(&v, many(2000, 50, 1, 0));
	for (int c = 0; c < NCOLS; c++) {
		for (int rev = 0; rev < 2; rev++) {
			v.t.sort = c;
			v.t.reverse = rev;
			view_rebuild(&v);
			for (int i = 0; i < 2; i++, k++) {
				/* a few rows move, a few close and go, a few are new */
				struct snapshot *s = many(2000 + k % 3, 40 + k % 13, k + 2, k % 4);

				before = v.t.resorted;
				view_install(&v, s);
				resorted += v.t.resorted - before;
				unsorted += !table_sorted(&v.t);
				memcpy(order, v.t.v, v.t.n * sizeof(*order));
				v.t.last_whole = false; /* a whole sort, to compare */
				view_rebuild(&v);
				differ += memcmp(order, v.t.v, v.t.n * sizeof(*order)) != 0;
			}
		}
	}
	ok(resorted == 2 * 2 * NCOLS && !unsorted && !differ,
	   "few rows changed: only they are placed, as a whole sort places them (%zu of %d, "
	   "%d unsorted, %d differ)",
	   resorted, 2 * 2 * NCOLS, unsorted, differ);
	free(order);
	view_free(&v);
}

static void test_closed_and_filter(void)
{
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
	struct snapshot *s;

	view_init(&v);
	v.closed_max = 2;
	for (int i = 0; i < 3; i++) {
		s = three(30, 20, 10);
		s->rows[i].r.flags |= CONN_F_CLOSED;
		s->rows[i].r.c.bytes_in = 1000 + i;
		view_install(&v, s);
	}
	key(&v, 'c');
	ok(v.show_closed && v.t.n == 2 && v.nclosed == 2, "c: the last two closed (--closed 2)");
	ok(v.t.v[0]->r.c.bytes_in + v.t.v[1]->r.c.bytes_in == 1001 + 1002,
	   "with their final totals, the oldest forgotten");
	key(&v, 'c');
	ok(!v.show_closed && v.t.n == 3, "c again: the live table");
	key(&v, '/');
	key(&v, 0xc3);
	key(&v, 0xa4);
	ok(!strcmp(v.t.filter, "\xc3\xa4"), "the filter takes UTF-8 bytes");
	key(&v, KEY_BACKSPACE);
	ok(v.t.filter[0] == '\0', "Backspace removes the whole character");
	view_free(&v);
}

/* Rows of s with figures. */
static size_t nfigs(const struct snapshot *s)
{
	size_t n = 0;

	for (size_t i = 0; s->rows && i < s->n; i++)
		n += snapshot_figs(s, &s->rows[i]) != NULL;
	return n;
}

/* Whether the rows of a and b (as many) have the same figures. */
static bool snap_figs_same(const struct snapshot *a, const struct snapshot *b)
{
	if (!a->rows || !b->rows || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct tcp_figs *x = snapshot_figs(a, &a->rows[i]),
				      *y = snapshot_figs(b, &b->rows[i]);

		if (!x != !y || (x && memcmp(x, y, sizeof(*x))))
			return false;
	}
	return true;
}

/* LIMIT: its cell, the filter that finds a cause, its order, a group's worst connection. */
static void test_limit(void)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { 0 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);
	struct table t = { .sort = COL_LIMIT };
	static const struct {
		const char *comm;
		uint8_t proto, figs, limit, pct;
	} rows[] = {
		{ "web", PROTO_TCP, 1, LIMIT_APP, 80 },
		{ "web", PROTO_TCP, 1, LIMIT_RWND, 55 },
		{ "db", PROTO_TCP, 1, LIMIT_CWND, 100 },
		{ "db", PROTO_TCP, 1, LIMIT_NONE, 0 },
		{ "dns", PROTO_UDP, 0, 0, 0 },
		{ "old", PROTO_TCP, 0, 0, 0 },
		{ "bk", PROTO_TCP, 1, LIMIT_SNDBUF, 90 },
		{ "bk", PROTO_TCP, 1, LIMIT_UNKNOWN, 0 },
	};
	char b[64];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rec_snap_row r = row(i + 1, rows[i].comm, rows[i].comm[0], 0);

		r.id.proto = rows[i].proto;
		r.has_figs = rows[i].figs;
		r.limit = rows[i].limit;
		r.limit_pct = rows[i].pct;
		r.figs.cwnd = 10 + i;
		snapshot_add(s, &r, NULL);
	}
	snapshot_finish(s);
	ok(nfigs(s) == 6 && snapshot_figs(s, &s->rows[2])->cwnd == 12 &&
		   !snapshot_figs(s, &s->rows[4]) && !snapshot_figs(s, &s->rows[5]),
	   "figures named from the rows, for the TCP rows that have them only");
	is_str(cell_text(ST, &s->rows[1], COL_LIMIT, false, 0, b, sizeof(b)), "rwnd 55%",
	       "LIMIT: the cause and its share of the interval");
	is_str(cell_text(ST, &s->rows[3], COL_LIMIT, false, 0, b, sizeof(b)), "",
	       "an idle or receive-only connection: empty");
	is_str(cell_text(ST, &s->rows[4], COL_LIMIT, false, 0, b, sizeof(b)), "-", "UDP: -");
	is_str(cell_text(ST, &s->rows[5], COL_LIMIT, false, 0, b, sizeof(b)), "-",
	       "TCP without figures (an older collector): -");
	is_str(cell_text(ST, &s->rows[5], COL_LIMIT, false, FIELD_TCP_LIMIT, b, sizeof(b)), "?",
	       "... ? where the collector could not know it (tcp-limits)");
	is_str(cell_text(ST, &s->rows[1], COL_LIMIT, false, FIELD_TCP_LIMIT, b, sizeof(b)), "?",
	       "... also where a row carries figures");
	is_str(cell_text(ST, &s->rows[7], COL_LIMIT, false, 0, b, sizeof(b)), "?",
	       "an unknown verdict (no earlier reading): ?");
	ok(vrow_matches(ST, &s->rows[1], "rwnd") && !vrow_matches(ST, &s->rows[0], "rwnd") &&
		   vrow_matches(ST, &s->rows[6], "SNDBUF") &&
		   !vrow_matches(ST, &s->rows[3], "rwnd"),
	   "/rwnd finds the connections the receiver's window holds back");
	t.snap = s;
	table_rebuild(&t);
	ok(t.n == 8 && !strcmp(str_text(ST, t.v[0]->r.comm), "web") &&
		   t.v[0]->r.limit == LIMIT_RWND && t.v[1]->r.limit == LIMIT_SNDBUF &&
		   t.v[2]->r.limit == LIMIT_CWND && t.v[3]->r.limit == LIMIT_APP &&
		   t.v[4]->r.limit == LIMIT_NONE && t.v[5]->r.limit == LIMIT_UNKNOWN,
	   "sorted by LIMIT: rwnd, sndbuf, cwnd, app, none, unknown, then no figures");
	ok(table_sorted(&t), "... in the comparator's order");
	t.group = GROUP_PROCESS;
	table_rebuild(&t);
	ok(t.n == 5 && !strcmp(str_text(ST, t.v[0]->r.comm), "web") &&
		   !strcmp(cell_text(ST, t.v[0], COL_LIMIT, false, 0, b, sizeof(b)), "rwnd 55%") &&
		   !strcmp(str_text(ST, t.v[1]->r.comm), "bk") &&
		   !strcmp(cell_text(ST, t.v[1], COL_LIMIT, false, 0, b, sizeof(b)),
			   "sndbuf 90%") &&
		   !strcmp(cell_text(ST, t.v[2], COL_LIMIT, false, 0, b, sizeof(b)), "cwnd 100%"),
	   "grouped by process: each shows its worst connection, worst first");
	ok(!strcmp(cell_text(ST, t.v[4], COL_LIMIT, false, 0, b, sizeof(b)), ""),
	   "... a process without figures shows nothing");
	table_free(&t);
	snapshot_free(s);
}

/* A snapshot of n TCP rows with figures, row i's cwnd cwnd[i] (tick t), busy and rwnd clocks
 * at busy ms. */
static struct snapshot *figs_snapshot_busy(const uint32_t *cwnd, size_t n, uint64_t t,
					   uint32_t busy)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { 0 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);

	for (size_t i = 0; i < n; i++) {
		/* in reverse: the figures are put in key order with the rows */
		struct rec_snap_row r = row(n - i, "tcp", 1, 0);

		r.id.proto = PROTO_TCP;
		r.has_figs = 1;
		r.figs.cwnd = cwnd[n - 1 - i];
		r.figs.busy_ms = r.figs.rwnd_ms = busy;
		snapshot_add(s, &r, NULL);
	}
	snapshot_finish(s);
	s->tick = t;
	return s;
}

static struct snapshot *figs_snapshot(const uint32_t *cwnd, size_t n, uint64_t t)
{
	return figs_snapshot_busy(cwnd, n, t, 0);
}

/* The history keeps a row's figures as it keeps its fields: what changed only. */
static void test_figs_history(void)
{
	static const uint32_t c1[] = { 10, 20, 30, 40 }, c2[] = { 10, 21, 30, 40 };
	struct snapshot *a = figs_snapshot(c1, 4, 1), *b = figs_snapshot(c2, 4, 2);
	int right = 0;

	ok(!snapshot_thin(a, b) && a->ndkeys == 1 && a->ndrows == 1 && b->nactive == 1 &&
		   b->active[0] == 1,
	   "a row whose figures alone changed is kept in the history, and is active");
	snapshot_drop_rows(a);
	ok(!a->rows && snapshot_delta_bytes(a) > 0, "thinned: its figures gone too");
	ok(!snapshot_thicken(a, b) && nfigs(a) == 4, "made whole again from the next one");
	for (size_t i = 0; i < 4 && a->rows; i++)
		right += snapshot_figs(a, &a->rows[i]) &&
			 snapshot_figs(a, &a->rows[i])->cwnd == c1[i];
	ok(right == 4, "... with the figures it had (%d of 4)", right);
	snapshot_drop_rows(b);
	ok(!snapshot_thicken_next(a, b) && nfigs(b) == 4 && snapshot_figs(b, &b->rows[1]) &&
		   snapshot_figs(b, &b->rows[1])->cwnd == 21,
	   "and the next one from it");
	snapshot_free(a);
	snapshot_free(b);
}

/* Snapshot k of the sweep's table, read as the reader thread does (its number and the figures
 * held then): flows 1-3 with figures new each time (cwnd 1000k + flow), flow 4 with one of 650
 * values that come back (cwnd 5000000 + k % 650, gone from the history long before), flow 5
 * always the same (cwnd 7). */
static struct snapshot *sweep_snapshot(struct strtab *st, uint64_t k)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { .span_ns = 1000000000 };
	uint32_t seq = strtab_figs_begin(st);
	struct snapshot *s = snapshot_new(&h, &sb, st);

	s->fseq = seq;
	for (uint64_t f = 1; f <= 5; f++) {
		struct rec_snap_row r = row(f, "tcp", 1, 0);

		r.has_figs = 1;
		r.figs.cwnd = f <= 3   ? (uint32_t)(1000 * k + f)
			      : f == 4 ? (uint32_t)(5000000 + k % 650)
				       : 7;
		snapshot_add(s, &r, NULL);
	}
	s->fhigh = strtab_figs_high(st);
	s->fmade = strtab_figs_made(st);
	snapshot_finish(s);
	return s;
}

/* Rows of s (snapshot tick - 1 of the sweep's table) with the figures they came with. */
static size_t sweep_right(const struct snapshot *s)
{
	size_t right = 0;

	for (size_t r = 0; s && r < s->n; r++) {
		const struct tcp_figs *f = snapshot_figs(s, &s->rows[r]);
		uint64_t k = s->tick - 1, fl = s->rows[r].r.id.flow;
		uint32_t want = fl <= 3	  ? (uint32_t)(1000 * k + fl)
				: fl == 4 ? (uint32_t)(5000000 + k % 650)
					  : 7;

		right += f && f->cwnd == want;
	}
	return right;
}

/* The figures no row holds any more are freed and their numbers used again, never those of a
 * row held, nor of a snapshot read but not handed over yet: 3000 snapshots, the history's 600
 * made again with the figures each had. */
static void test_figs_sweep(void)
{
	struct strtab *st = strtab_new(false);
	struct view v = { .t.sort = COL_RX_RATE, .page = 10, .figs_sweep_min = 16 };
	struct snapshot *ahead;
	uint64_t n = 3000;
	size_t right = 0, seen = 0, live = 0, kept = 0;

	view_init(&v);
	/* one snapshot read ahead of the one installed, as the reader's queue holds it */
	ahead = sweep_snapshot(st, 0);
	for (uint64_t k = 0; k < n; k++) {
		struct snapshot *s = ahead;

		ahead = k + 1 < n ? sweep_snapshot(st, k + 1) : NULL;
		/* read, not handed over, while the reader freed what the view released */
		for (size_t r = 0; r < s->n; r++)
			kept += strtab_figs_add(st, snapshot_figs(s, &s->rows[r])) ==
				vrow_figs(&s->rows[r]);
		view_install(&v, s);
		live += sweep_right(v.shown);
	}
	ok(live == 5 * n && kept == 5 * n,
	   "each snapshot shown with its figures as it came (%zu of %zu), those of the one read "
	   "ahead kept (%zu)",
	   live, 5 * (size_t)n, kept);
	/* 12,000 different figures: the history holds 2,400 of them (four rows differ from one
	 * snapshot to the next), the table twice that and the sweep's least at most */
	ok(v.figs_sweeps > 8 && strtab_figs_high(st) < 2 * 2420 + 16 + 4,
	   "figures no row holds are freed and their numbers used again (%" PRIu64
	   " sweeps, %u numbers, %u held)",
	   v.figs_sweeps, strtab_figs_high(st), strtab_figs_count(st));
	for (size_t i = 0; i < v.nhist; i++) {
		const struct snapshot *s;

		if (i)
			key(&v, '[');
		s = v.shown;
		seen++;
		right += sweep_right(s);
	}
	ok(seen == 600 && right == 5 * seen,
	   "[ back through the history: every row with the figures it had (%zu of %zu)", right,
	   5 * seen);
	view_free(&v);
	strtab_free(st);
}

/* A stalled sender moves no byte: its figures' graphs follow it from the interval it stalled
 * in, measured from its figures in the snapshot before (where it was idle). */
static void test_figs_trend(void)
{
	static const uint32_t c[] = { 10 };
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
	struct snapshot *s[3];
	struct conn_key k;
	float pts[3];
	int known;

	view_init(&v);
	for (int i = 0; i < 3; i++) {
		/* idle, then held back by the peer's window 90% of a second, then 100% */
		s[i] = figs_snapshot_busy(c, 1, 0, 1000 + (i > 0) * 900 + (i > 1) * 1000);
		s[i]->b.span_ns = 1000000000;
	}
	for (int i = 0; i < 3; i++)
		view_install(&v, s[i]);
	k = vrow_key(&v.shown->rows[0]);
	known = trends_get_series(v.trends, &k, TS_RWND, v.shown->tick, 1, v.shown->tick, NULL, 0,
				  3, pts);
	ok(known == 3 && pts[0] == 0 && pts[1] == 90 && pts[2] == 100,
	   "rwnd_limited of a stalled sender first seen idle: 0 90 100 (%d known: %.0f %.0f %.0f)",
	   known, pts[0], pts[1], pts[2]);
	known = trends_get_series(v.trends, &k, TS_CWND, v.shown->tick, 1, v.shown->tick, NULL, 0,
				  3, pts);
	ok(known == 3 && pts[0] == 10 && pts[1] == 10 && pts[2] == 10, "its cwnd all along");
	view_free(&v);
}

/* Tick t of a table: flow 1, and flow 2 (cwnd c2) from tick 2 on, new then. */
static struct snapshot *appeared_snapshot(uint64_t t, uint32_t c2)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { .span_ns = 1000000000 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);

	for (uint64_t f = 1; f <= (t >= 2 ? 2u : 1u); f++) {
		struct rec_snap_row r = row(f, "tcp", 1, 0);

		r.id.proto = PROTO_TCP;
		r.has_figs = 1;
		r.figs.cwnd = f == 2 ? c2 : 10;
		r.flags = f == 2 && t == 2 ? CONN_F_NEW : 0;
		snapshot_add(s, &r, NULL);
	}
	snapshot_finish(s);
	return s;
}

/* A connection that appears idle with figures has its trend entry made only when it moves: its
 * graphs are those of an entry made when it appeared (its cwnd before the move is the one it
 * had), unless a sweep would have taken that entry since. */
static void test_figs_appeared(void)
{
	static const struct {
		uint64_t moves, back;
		float before, at;
		int known;
	} c[] = { { 7, 6, 20, 30, 6 }, { 62, 60, 20, 30, 60 }, { 130, 60, 30, 30, 60 } };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
		struct conn_key k;
		float pts[TREND_LEN], rate[TREND_LEN];
		int known, rknown, right = 0;

		view_init(&v);
		for (uint64_t t = 1; t <= c[i].moves; t++)
			view_install(&v, appeared_snapshot(t, t < c[i].moves ? 20 : 30));
		k = vrow_key(&v.shown->rows[1]);
		known = trends_get_series(v.trends, &k, TS_CWND, v.shown->tick, 2, v.shown->tick,
					  NULL, 0, (int)c[i].back, pts);
		rknown = trends_get(v.trends, &k, v.shown->tick, 2, v.shown->tick, (int)c[i].back,
				    rate);
		for (uint64_t b = 0; b < c[i].back; b++)
			right += pts[b] == (b + 1 < c[i].back ? c[i].before : c[i].at) && !rate[b];
		ok(known == c[i].known && rknown == known && right == (int)c[i].back,
		   "appeared idle at tick 2, moved at %d: cwnd %.0f before, %.0f then (%d known, "
		   "%d right)",
		   (int)c[i].moves, c[i].before, c[i].at, known, right);
		view_free(&v);
	}
}

/* ---- deltas applied in place (snapshot_apply) against the same tables sent whole ---- */

/* The writer's table, as tcptop-agg keeps it: rows, and which ones the next snapshot carries. */
#define MODEL_MAX 400
struct model {
	struct rec_snap_row r[MODEL_MAX];
	bool carried[MODEL_MAX];
	size_t n;
	uint64_t next_flow;
	const char *host2; /* the second host's name */
};

static bool model_has(const struct model *m, uint64_t flow, uint32_t host)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].id.flow == flow && m->r[i].host == host)
			return true;
	return false;
}

/* A new connection: a flow id above every one or, now and then, a free one among them (its row
 * goes between others), of host 1 or 2, with figures or none. */
static void model_open(struct model *m, bool closing)
{
	struct rec_snap_row *r;
	uint64_t flow = m->next_flow++;
	uint32_t host = 1 + rnd() % 2;
	char name[16];

	if (m->n >= MODEL_MAX)
		return;
	if (rnd() % 3 == 0 && flow > 1) {
		flow = 1 + rnd() % (flow - 1);
		if (model_has(m, flow, host))
			return;
	}
	snprintf(name, sizeof(name), "p%u", (unsigned)(rnd() % 6));
	r = &m->r[m->n];
	*r = row(flow, name, 100 + rnd() % 6, 0);
	r->id.cookie = 1000 + flow;
	r->host = host;
	r->flags = CONN_F_NEW | (closing ? CONN_F_CLOSED : 0);
	r->c.bytes_in = rnd() % 5000;
	r->c.srtt_us = 10 + rnd() % 900;
	if (rnd() % 2) {
		r->has_figs = 1;
		r->figs.cwnd = 10;
		r->limit = LIMIT_NONE;
	}
	m->carried[m->n++] = true;
}

/* One interval: the last one's closed rows go, rates and NEW are cleared (a reader's settle),
 * then rows move bytes, change owner, RTT or figures, close and open. */
static void model_settle(struct model *m)
{
	size_t i = 0;

	while (i < m->n) {
		m->carried[i] = false;
		m->r[i].rate_in = m->r[i].rate_out = 0;
		m->r[i].flags &= ~CONN_F_NEW;
		if (m->r[i].flags & CONN_F_CLOSED) {
			m->r[i] = m->r[--m->n];
			continue;
		}
		i++;
	}
}

static void model_step(struct model *m, int k)
{
	model_settle(m);
	for (int c = 0; c < 1 + k % 5 && m->n; c++) {
		struct rec_snap_row *r = &m->r[rnd() % m->n];
		size_t x = r - m->r;

		m->carried[x] = true;
		switch (rnd() % 7) {
		case 0: /* moved bytes */
		case 1:
			r->c.bytes_in += 1 + rnd() % 100000;
			r->rate_in = (double)(1 + rnd() % 100000);
			r->c.pkts_in++;
			r->figs.busy_ms += r->has_figs ? rnd() % 300 : 0;
			break;
		case 2: /* its busiest RTT falls: the widest values may shrink */
			r->c.srtt_us = 5 + rnd() % 50;
			break;
		case 3: /* another process owns it now: it changes group */
			snprintf(r->comm, sizeof(r->comm), "p%u", (unsigned)(rnd() % 6));
			r->pid = 100 + rnd() % 6;
			break;
		case 4: /* its figures moved without a byte: a stalled sender's clocks run */
			if (r->has_figs) {
				r->figs.cwnd++;
				r->figs.busy_ms += 1 + rnd() % 500;
				r->figs.rwnd_ms += rnd() % 300;
				r->limit = 1 + rnd() % 3;
				r->limit_pct = rnd() % 101;
			}
			break;
		case 5: /* closed */
			r->flags |= CONN_F_CLOSED;
			r->state = 7;
			break;
		default: /* sent, counted only */
			r->c.bytes_out += 10;
			r->rate_out = 0.5;
			break;
		}
	}
	for (int c = 0; c < k % 3; c++)
		model_open(m, rnd() % 8 == 0);
}

static void add_hosts(struct snapshot *s, const struct model *m)
{
	struct rec_host h = { .index = 1, .state = HOST_LIVE };

	strcpy(h.hostname, "alpha");
	snapshot_add_host(s, &h);
	h.index = 2;
	snprintf(h.hostname, sizeof(h.hostname), "%s", m->host2);
	snapshot_add_host(s, &h);
}

/* The interval's snapshot: whole, or the delta of the rows carried. */
static struct snapshot *model_snap(const struct model *m, bool delta)
{
	struct stream_header h = { .major = 1, .minor = 1, .kind = STREAM_KIND_SNAPSHOT };
	struct rec_snap_begin b = { .table_rows = m->n, .span_ns = 1000000000 };
	struct snapshot *s;

	for (size_t i = 0; i < m->n; i++)
		b.rows += !delta || m->carried[i];
	s = snapshot_new(&h, &b, ST);
	s->delta = delta;
	add_hosts(s, m);
	for (size_t i = 0; i < m->n; i++)
		if (!delta || m->carried[i])
			snapshot_add(s, &m->r[i], NULL);
	snapshot_finish(s);
	return s;
}

static bool rows_same(const struct vrow *a, const struct vrow *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], VROW_VALUE_BYTES) || a[i].since != b[i].since)
			return false;
	return true;
}

static bool keys_same(const struct vkey *a, const struct vkey *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (vkey_cmp(&a[i], &b[i]))
			return false;
	return true;
}

static bool u32_same(const uint32_t *a, const uint32_t *b, size_t n)
{
	return !n || !memcmp(a, b, n * sizeof(*a));
}

/* What the delta made (d, and prev thinned) is what the whole snapshot made (f, pf). */
static const char *apply_differs(const struct snapshot *pf, const struct snapshot *f,
				 const struct snapshot *pd, const struct snapshot *d)
{
	struct vkey *keys = NULL;
	size_t nkeys = 0, cap = 0;
	const char *why = NULL;

	if (d->delta || d->n != f->n || !rows_same(d->rows, f->rows, f->n))
		return "rows";
	if (!snap_figs_same(d, f))
		return "figures";
	if (memcmp(&d->all, &f->all, sizeof(f->all)))
		return "widest values";
	if (pd->ndkeys != pf->ndkeys || !keys_same(pd->dkeys, pf->dkeys, pf->ndkeys))
		return "the keys that differ";
	if (pd->ndrows != pf->ndrows || !rows_same(pd->drows, pf->drows, pf->ndrows) ||
	    pd->ndnew != pf->ndnew || pd->dnew_implicit != pf->dnew_implicit ||
	    (pf->ndnew && memcmp(pd->dnew, pf->dnew, pf->ndnew * sizeof(*pf->dnew))))
		return "what makes the one before again";
	if (d->nactive != f->nactive || !u32_same(d->active, f->active, f->nactive) ||
	    d->nfresh != f->nfresh || !u32_same(d->fresh, f->fresh, f->nfresh) ||
	    d->nfrom_prev != f->nfrom_prev || !u32_same(d->from_prev, f->from_prev, f->nfrom_prev))
		return "the steps (active, fresh, map)";
	for (size_t i = 0; i < f->n; i++) {
		if (!vrow_unsettled(&f->rows[i]))
			continue;
		VEC_RESERVE(&keys, &cap, nkeys + 1);
		keys[nkeys++] = vrow_vkey(&f->rows[i]);
	}
	if (!d->settle_ok || d->nsettle != nkeys || !keys_same(d->settle, keys, nkeys))
		why = "the rows to settle";
	free(keys);
	return why;
}

/* Snapshot k of a table whose connections open (new in it: NEW) and close: flows 1 + 2k to
 * 100 + 3k, TCP with figures, flow f's cwnd f, one busy. */
static struct snapshot *opening_snapshot(int k)
{
	struct stream_header h = { 0 };
	struct rec_snap_begin sb = { .span_ns = 1000000000 };
	struct snapshot *s = snapshot_new(&h, &sb, ST);

	for (uint64_t f = 1 + 2 * (uint64_t)k; f <= 100 + 3 * (uint64_t)k; f++) {
		struct rec_snap_row r = row(f, "tcp", 1, f % 17 == (uint64_t)k ? 500 : 0);

		r.id.proto = PROTO_TCP;
		r.has_figs = 1;
		r.figs.cwnd = (uint32_t)f;
		r.flags = k && f > 100 + 3 * (uint64_t)(k - 1) ? CONN_F_NEW : 0;
		snapshot_add(s, &r, NULL);
	}
	snapshot_finish(s);
	return s;
}

static bool same_figs(const struct snapshot *a, const struct snapshot *b)
{
	return snap_figs_same(a, b);
}

/* The connections a snapshot brought cost no key in the history of the one before (their rows'
 * since tell them), and the connections settled only their key: [ and ] make every snapshot,
 * rows and figures, as it came; the trends find no row before a new one. */
static void test_opening_history(void)
{
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
	struct snapshot *copy[8];
	int same = 0, implicit = 0;
	size_t keys = 0, want = 0;

	view_init(&v);
	for (int k = 0; k < 8; k++) {
		copy[k] = opening_snapshot(k);
		view_install(&v, opening_snapshot(k));
	}
	for (size_t i = 0; i + 1 < v.nhist; i++)
		keys += v.hist[i]->ndkeys;
	/* the keys of a snapshot's rows gone or different in the next one; not the new ones, nor
	 * those it brought (NEW) settled only in the next one (but in the first, whose rows are
	 * not NEW: every row's key there would be needed) */
	for (int k = 0; k < 7; k++) {
		const struct snapshot *a = copy[k], *b = copy[k + 1];

		implicit += v.hist[k]->dnew_implicit;
		for (size_t i = 0, j = 0; i < a->n; i++) {
			bool differ;

			while (j < b->n && vrow_key_cmp(&b->rows[j], &a->rows[i]) < 0)
				j++;
			differ = j >= b->n || vrow_key_cmp(&b->rows[j], &a->rows[i]) ||
				 memcmp(&a->rows[i], &b->rows[j], VROW_VALUE_BYTES);
			if (differ && j < b->n && !vrow_key_cmp(&b->rows[j], &a->rows[i]) &&
			    v.hist[k]->dnew_implicit && (a->rows[i].r.flags & CONN_F_NEW)) {
				struct vrow x = b->rows[j];

				x.r.flags |= CONN_F_NEW;
				differ = memcmp(&a->rows[i], &x, VROW_VALUE_BYTES) != 0;
			}
			want += differ;
		}
	}
	ok(keys == want, "the keys kept: the rows gone or changed, none of the new (%zu of %zu)",
	   keys, want);
	ok(implicit == 6 && !v.hist[0]->dnew_implicit,
	   "... nor those brought and settled only, after the first snapshot (%d of 6)", implicit);
	for (int k = 7; k >= 0; k--) {
		same += same_rows(v.shown, copy[k]) && same_figs(v.shown, copy[k]);
		if (k)
			key(&v, '[');
	}
	ok(same == 8, "[ back through 8 snapshots: rows and figures as they came (%d)", same);
	for (int k = 1; k < 8; k++) {
		key(&v, ']');
		if (k < 7)
			same += same_rows(v.shown, copy[k]) && same_figs(v.shown, copy[k]);
	}
	ok(same == 14 && v.travel == 0, "] forward again to the live table (%d)", same);
	{
		const struct tcp_figs *f;
		const struct vrow *last = &v.shown->rows[v.shown->n - 1];

		ok(!snapshot_row_before(v.hist[v.nhist - 2], v.shown, last, &f) && !f &&
			   snapshot_row_before(v.hist[v.nhist - 2], v.shown, &v.shown->rows[0],
					       &f) &&
			   f,
		   "a row brought has none before it, an old one has its own");
	}
	for (int k = 0; k < 8; k++)
		snapshot_free(copy[k]);
	view_free(&v);
}

/* A connection new in one snapshot and only settled in the next (the first walk's deltas carry
 * every connection so) costs its key in the history, not its row nor figures; made whole again
 * either way, it is what it was. */
static void test_settled_history(void)
{
	struct snapshot *a = appeared_snapshot(2, 20), *b = appeared_snapshot(3, 20);
	struct snapshot *a0 = appeared_snapshot(2, 20), *b0 = appeared_snapshot(3, 20);
	int thin;

	a->tick = a0->tick = 2;
	b->tick = b0->tick = 3;
	thin = snapshot_thin(a, b);
	ok(!thin && a->ndkeys == 1 && a->ndrows == 0 && a->ndnew == 1 && a->dnew[0] == 1,
	   "a row settled only: its key kept, no row, no figures (%zu keys, %zu rows)", a->ndkeys,
	   a->ndrows);
	snapshot_drop_rows(a);
	ok(!snapshot_thicken(a, b) && a->n == 2 && rows_same(a->rows, a0->rows, 2) &&
		   nfigs(a) == 2 && snap_figs_same(a, a0),
	   "made whole again from the next one: NEW again, its figures");
	snapshot_drop_rows(b);
	ok(!snapshot_thicken_next(a, b) && b->n == 2 && rows_same(b->rows, b0->rows, 2) &&
		   nfigs(b) == 2 && snap_figs_same(b, b0),
	   "and the next one from it");
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(a0);
	snapshot_free(b0);
}

/* Snapshot by snapshot: a delta applied in place (taking the rows, or copying them) leaves what
 * the whole snapshot of the same interval leaves after snapshot_thin(): rows, figures, widest
 * values, what makes the one before again and the steps the view takes from there. */
static void test_apply(void)
{
	static struct model m;
	struct snapshot *pf, *pd;
	int bad = 0, steps = 0, slow = 0;
	const char *why = NULL;

	seed = 7;
	memset(&m, 0, sizeof(m));
	m.next_flow = 1;
	m.host2 = "beta";
	for (int i = 0; i < 150; i++)
		model_open(&m, false);
	pf = model_snap(&m, false);
	pd = model_snap(&m, false);
	pf->tick = pd->tick = 1;
	for (int k = 2; k < 400; k++) {
		struct snapshot *f, *d;
		const char *w;

		model_step(&m, k);
		if (k % 50 == 0) { /* a host's name changes: the rows not carried too */
			m.host2 = k % 100 ? "gamma" : "beta";
			slow++;
		}
		f = model_snap(&m, false);
		d = model_snap(&m, true);
		f->tick = d->tick = k;
		if (snapshot_thin(pf, f) || snapshot_apply(pd, d, k % 3 != 0)) {
			bad++;
			why = "failed";
		} else if ((w = apply_differs(pf, f, pd, d))) {
			bad++;
			why = why ? why : w;
		}
		if (k % 3 == 0 && !pd->rows)
			why = why ? why : "copied: the one before stays whole", bad++;
		snapshot_free(pf);
		snapshot_free(pd);
		pf = f;
		pd = d;
		steps++;
	}
	ok(!bad, "%d deltas applied in place are the whole snapshots (%d with a host renamed): %s",
	   steps, slow, bad ? why : "rows, figures, widest, history, steps, rows to settle");
	{
		/* a delta whose table_rows is not the table's is refused, prev untouched */
		struct snapshot *d;
		size_t n = pd->n;

		model_step(&m, 5);
		d = model_snap(&m, true);
		d->b.table_rows++;
		d->tick = 1000;
		ok(snapshot_apply(pd, d, true) == -EPROTO && pd->rows && pd->n == n && d->delta,
		   "a delta out of step is refused, the table as it was");
		snapshot_free(d);
	}
	snapshot_free(pf);
	snapshot_free(pd);
}

/* Two views, one given whole snapshots, one the deltas between them: every screen the same
 * (rows in order, their order by every column both ways, groups open and closed, a filter, time
 * travel back over deltas and forward, the closed view, the trends). */
struct pair {
	struct view a, b;
};

static const char *views_differ(struct view *a, struct view *b)
{
	if (a->t.n != b->t.n)
		return "rows shown";
	for (size_t i = 0; i < a->t.n; i++) {
		const struct vrow *x = a->t.v[i], *y = b->t.v[i];

		if (memcmp(x, y, VROW_VALUE_BYTES) || vrow_conns(x) != vrow_conns(y) ||
		    x->since != y->since || a->t.depth[i] != b->t.depth[i])
			return "a row, its place or its depth";
	}
	if (memcmp(&a->t.widest, &b->t.widest, sizeof(a->t.widest)))
		return "widest values (the layout)";
	if (a->nclosed != b->nclosed || a->sel != b->sel || a->top != b->top)
		return "closed ring or selection";
	for (size_t i = 0; i < a->t.n && i < 8; i++) {
		struct conn_key k = vrow_key(a->t.v[i]);
		float pa[TREND_LEN], pb[TREND_LEN];
		const struct tcp_figs *fa = snapshot_figs(a->t.snap, a->t.v[i]),
				      *fb = snapshot_figs(b->t.snap, b->t.v[i]);

		if (!fa != !fb || (fa && memcmp(fa, fb, sizeof(*fa))))
			return "figures";
		if (vrow_conns(a->t.v[i]))
			continue;
		if (trends_get(a->trends, &k, a->shown->tick, a->t.v[i]->since, a->shown->tick,
			       TREND_LEN, pa) != trends_get(b->trends, &k, b->shown->tick,
							    b->t.v[i]->since, b->shown->tick,
							    TREND_LEN, pb) ||
		    memcmp(pa, pb, sizeof(pa)))
			return "trends";
		for (int ts = TS_BUSY; ts < TS_N; ts++) {
			trends_get_series(a->trends, &k, ts, a->shown->tick, a->t.v[i]->since,
					  a->shown->tick, fa, a->t.v[i]->r.c.srtt_us, TREND_LEN,
					  pa);
			trends_get_series(b->trends, &k, ts, b->shown->tick, b->t.v[i]->since,
					  b->shown->tick, fb, b->t.v[i]->r.c.srtt_us, TREND_LEN,
					  pb);
			if (memcmp(pa, pb, sizeof(pa)))
				return "figure trends";
		}
	}
	return NULL;
}

static void keys2(struct pair *p, const int *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		key(&p->a, k[i]);
		key(&p->b, k[i]);
	}
}

static void test_delta_views(void)
{
	static struct model m;
	static struct pair p;
	int bad = 0, screens = 0, travels = 0, grouped = 0;
	const char *why = NULL;

	seed = 11;
	memset(&m, 0, sizeof(m));
	memset(&p, 0, sizeof(p));
	m.next_flow = 1;
	m.host2 = "beta";
	p.a.t.sort = p.b.t.sort = COL_RX_RATE;
	p.a.page = p.b.page = 10;
	view_init(&p.a);
	view_init(&p.b);
	for (int i = 0; i < 120; i++)
		model_open(&m, false);
	view_install(&p.a, model_snap(&m, false));
	view_install(&p.b, model_snap(&m, false));
	for (int k = 1; k < 300; k++) {
		const char *w;

		model_step(&m, k);
		if (k % 97 == 0)
			m.host2 = k % 2 ? "gamma" : "beta";
		view_install(&p.a, model_snap(&m, false));
		view_install(&p.b, model_snap(&m, k % 40 != 0)); /* a full one now and then */
		/* the settings change every few snapshots, so that rebuilds follow each other */
		if (k % 4 == 0) {
			int ks[] = { '>' };

			keys2(&p, ks, 1);
		}
		if (k % 6 == 0) {
			int ks[] = { 'r' };

			keys2(&p, ks, 1);
		}
		if (k % 23 == 0) { /* group by process, by cgroup, none */
			int ks[] = { 'a' };

			keys2(&p, ks, 1);
		}
		if (k % 23 == 1 && p.a.t.group != GROUP_NONE) { /* open the first group */
			int ks[] = { KEY_HOME, '\n' };

			keys2(&p, ks, 2);
		}
		if (k % 31 == 0) { /* a filter, for a few snapshots */
			int ks[] = { '/', 'p', '3', '\n' };

			keys2(&p, ks, 4);
		}
		if (k % 31 == 5) {
			int ks[] = { '/', 27 };

			keys2(&p, ks, 2);
		}
		if (k % 17 == 0) {
			int ks[] = { KEY_DOWN, KEY_DOWN };

			keys2(&p, ks, 2);
		}
		if ((w = views_differ(&p.a, &p.b))) {
			bad++;
			why = why ? why : w;
		}
		screens++;
		grouped += p.b.t.group != GROUP_NONE && !p.b.paused && !p.b.show_closed;
		if (k % 29 == 0) { /* back over deltas, a pause in the past, and forward again */
			for (int t = 0; t < 1 + k % 9; t++) {
				int ks[] = { '[' };

				keys2(&p, ks, 1);
				if ((w = views_differ(&p.a, &p.b))) {
					bad++;
					why = why ? why : w;
				}
				travels++;
			}
		}
		if (k % 29 == 3) { /* deltas came while travelling: forward to the live table */
			for (int t = 0; t < 12 && (p.a.travel || p.b.travel); t++) {
				int ks[] = { ']' };

				keys2(&p, ks, 1);
				if ((w = views_differ(&p.a, &p.b))) {
					bad++;
					why = why ? why : w;
				}
				travels++;
			}
		}
		if (k % 37 == 10 || k % 37 == 12) { /* paused, two snapshots come, unpaused */
			int ks[] = { 'p' };

			keys2(&p, ks, 1);
		}
		if (k % 43 == 20 || k % 43 == 23) { /* the closed view, and back */
			int ks[] = { 'c' };

			keys2(&p, ks, 1);
		}
	}
	ok(!bad && p.b.deltas_skipped == 0 && grouped > 100 && !p.b.paused && !p.b.show_closed,
	   "%d screens (%d grouped) and %d steps of time travel from deltas are those from whole "
	   "snapshots (every column both ways, groups, a filter, pause, closed view, trends): %s",
	   screens, grouped, travels, bad ? why : "same");
	view_free(&p.a);
	view_free(&p.b);
}

/* The row of flow f in the model (carried from now on). */
static struct rec_snap_row *model_row(struct model *m, uint64_t f)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].id.flow == f) {
			m->carried[i] = true;
			return &m->r[i];
		}
	return NULL;
}

/* The next interval to both views: whole to a, its delta to b. */
static void both(struct pair *p, const struct model *m)
{
	view_install(&p->a, model_snap(m, false));
	view_install(&p->b, model_snap(m, true));
}

static const char *flows_shown(const struct view *v)
{
	static char buf[128];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < v->t.n && o + 24 < sizeof(buf); i++)
		o += snprintf(buf + o, sizeof(buf) - o, "%s%s%" PRIu64, i ? " " : "",
			      vrow_conns(v->t.v[i]) ? "g" : "",
			      vrow_conns(v->t.v[i]) ? (uint64_t)vrow_conns(v->t.v[i])
						    : v->t.v[i]->r.id.flow);
	return buf;
}

/* One case at a time, the delta view against the whole one and against what it must show. */
static void test_delta_cases(void)
{
	static struct model m;
	static struct pair p;
	const char *names[] = { "", "a", "a", "b", "b", "c" };
	const char *w;

	memset(&m, 0, sizeof(m));
	memset(&p, 0, sizeof(p));
	m.host2 = "beta";
	p.a.t.sort = p.b.t.sort = COL_RX_RATE;
	p.a.page = p.b.page = 10;
	view_init(&p.a);
	view_init(&p.b);
	for (uint64_t f = 1; f <= 5; f++) {
		m.r[m.n] = row(f, names[f], (uint32_t)(100 + (f + 1) / 2), f == 3 ? 100 : 0);
		m.r[m.n].host = 1;
		m.r[m.n++].id.cookie = 1000 + f;
	}
	view_install(&p.a, model_snap(&m, false)); /* the first is whole in both */
	view_install(&p.b, model_snap(&m, false));
	is_str(flows_shown(&p.b), "3 1 2 4 5", "a full snapshot: the busy row first");

	model_settle(&m);
	model_row(&m, 5)->rate_in = 500;
	model_row(&m, 5)->c.bytes_in = 500;
	both(&p, &m);
	w = views_differ(&p.a, &p.b);
	is_str(flows_shown(&p.b), "5 1 2 3 4",
	       "a delta: the row that moved bytes goes to the top, the one that stopped back among "
	       "the idle ones (%s)",
	       w ? w : "as the whole snapshot");

	model_settle(&m);
	model_row(&m, 2)->flags |= CONN_F_CLOSED;
	both(&p, &m);
	ok(p.b.t.n == 5 && !views_differ(&p.a, &p.b), "a row closed: still shown, closed");
	model_settle(&m);
	both(&p, &m);
	w = views_differ(&p.a, &p.b);
	is_str(flows_shown(&p.b), "1 3 4 5", "the next delta, empty: the closed row has left (%s)",
	       w ? w : "as the whole snapshot");
	ok(p.b.nclosed == 1 && p.b.closed[0].r.id.flow == 2, "and it is in the closed ring");

	model_settle(&m);
	m.r[m.n] = row(6, "c", 103, 50);
	m.r[m.n].host = 1;
	m.r[m.n].id.cookie = 1006;
	m.r[m.n].flags = CONN_F_NEW;
	m.carried[m.n++] = true;
	both(&p, &m);
	w = views_differ(&p.a, &p.b);
	is_str(flows_shown(&p.b), "6 1 3 4 5",
	       "a new row in a delta: shown, first by its rate (%s)",
	       w ? w : "as the whole snapshot");

	key(&p.a, 'a');
	key(&p.b, 'a');
	model_settle(&m);
	model_row(&m, 4)->rate_in = 1000;
	both(&p, &m);
	w = views_differ(&p.a, &p.b);
	ok(p.b.t.n == 3 && vrow_conns(p.b.t.v[0]) == 2 && p.b.t.v[0]->r.rate_in == 1000 &&
		   !strcmp(comm_of(p.b.t.v[0]), "b") && !w,
	   "grouped by process: a member moved bytes, its group goes first with its sum (%s)",
	   w ? w : "as the whole snapshot");
	key(&p.a, 'a');
	key(&p.b, 'a');
	key(&p.a, 'a');
	key(&p.b, 'a');

	/* back over the deltas: each snapshot as it was shown */
	{
		static const char *const back[] = { "6 1 3 4 5", "1 3 4 5", "1 2 3 4 5",
						    "5 1 2 3 4" };
		int good = 0;

		for (int i = 0; i < 4; i++) {
			key(&p.a, '[');
			key(&p.b, '[');
			good += !strcmp(flows_shown(&p.b), back[i]) && !views_differ(&p.a, &p.b);
		}
		ok(good == 4 && p.b.travel == 2,
		   "[ back over four deltas: each table as it was (%d)", good);
		for (int i = 0; i < 4; i++) {
			key(&p.a, ']');
			key(&p.b, ']');
		}
		w = views_differ(&p.a, &p.b);
		is_str(flows_shown(&p.b), "4 1 3 5 6", "] forward again to the live table (%s)",
		       w ? w : "as the whole snapshot");
	}
	view_free(&p.a);
	view_free(&p.b);
}

/* A CGROUP record that names a path again between two snapshots: the rows of that cgroup a
 * delta does not carry show the new name too, and the snapshot before keeps the old one. */
static void test_delta_cgroup(void)
{
	static struct model m;
	struct snapshot *prev, *d, *was;
	uint32_t old_str, new_str;
	struct cgupd *u = malloc(sizeof(*u));

	memset(&m, 0, sizeof(m));
	m.host2 = "beta";
	for (uint64_t f = 1; f <= 4; f++) {
		m.r[m.n] = row(f, "c", 7, 0);
		m.r[m.n].cgroup_id = f <= 2 ? 42 : 43;
		m.r[m.n++].host = 1;
	}
	prev = model_snap(&m, false);
	prev->tick = 1;
	old_str = prev->rows[0].cgroup;
	new_str = strtab_add(ST, STR_CGROUP, "web.service", 11, NULL);
	model_settle(&m);
	model_row(&m, 4)->rate_in = 10;
	d = model_snap(&m, true);
	d->tick = 2;
	*u = (struct cgupd){ .id = 42, .host = 1, .str = new_str };
	d->cgupd = u;
	d->ncgupd = 1;
	ok(snapshot_apply(prev, d, true) == 0 && d->rows[0].cgroup == new_str &&
		   d->rows[1].cgroup == new_str && d->rows[2].cgroup != new_str &&
		   d->all.cgroup == (int)strlen("web.service"),
	   "a cgroup named again: the rows no delta carried show its new name, its width counts");
	ok(prev->rows && prev->ndkeys == 3, "the one before stays whole, three keys differ (%zu)",
	   prev->ndkeys);
	was = prev;
	snapshot_drop_rows(was);
	ok(snapshot_thicken(was, d) == 0 && was->rows[0].cgroup == old_str &&
		   was->rows[3].r.rate_in == 0,
	   "made again from the next one: the old name");
	snapshot_free(prev);
	snapshot_free(d);
}

/* A stream (1.1) of the model's snapshots into a memfd: "d" a delta, "f" a full one, "b" a
 * delta whose table_rows is one too many (a record lost). */
static int model_stream(struct model *m, const char *plan)
{
	struct stream_header h = { .major = 1, .minor = 1, .kind = STREAM_KIND_SNAPSHOT };
	int fd = memfd_create("stream", 0);
	struct stream_writer *w = stream_writer_new(fd);
	struct rec r = { 0 };

	stream_write_header(w, &h);
	for (size_t k = 0; plan[k]; k++) {
		bool full = plan[k] == 'f';

		model_step(m, (int)k + 1);
		memset(&r, 0, sizeof(r));
		r.type = full ? REC_SNAP_BEGIN : REC_DELTA_BEGIN;
		r.u.snap_begin.seq = k + 1;
		r.u.snap_begin.table_rows = m->n + (plan[k] == 'b');
		for (size_t i = 0; i < m->n; i++)
			r.u.snap_begin.rows += full || m->carried[i];
		stream_write(w, &r);
		for (size_t i = 0; i < m->n; i++) {
			if (!full && !m->carried[i])
				continue;
			r.type = full ? REC_SNAP_ROW : REC_DELTA_ROW;
			r.u.row = m->r[i];
			stream_write(w, &r);
		}
		r.type = full ? REC_SNAP_END : REC_DELTA_END;
		r.u.snap_end.seq = k + 1;
		stream_write(w, &r);
	}
	stream_flush(w);
	stream_writer_free(w);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The reader and the view on a stream: a late joiner waits for the first full snapshot; a
 * delta out of step is not shown, nor those after it until the next full one. */
static void test_delta_stream(void)
{
	static struct model m;
	struct view v = { .t.sort = COL_RX_RATE, .page = 10 };
	struct snapreader sr = { 0 };
	struct stream_reader *rd;
	struct rec r;
	uint64_t seqs[16];
	int fd, n = 0, handed = 0;

	seed = 5;
	memset(&m, 0, sizeof(m));
	m.next_flow = 1;
	m.host2 = "beta";
	for (int i = 0; i < 30; i++)
		model_open(&m, false);
	fd = model_stream(&m, "ddfddbddfd");
	rd = stream_reader_new(fd, "memfd");
	view_init(&v);
	stream_reader_expect(rd, STREAM_KIND_SNAPSHOT);
	while (stream_read(rd, &r) == STREAM_OK) {
		struct snapshot *s;

		if (r.type == REC_HEADER) {
			snapreader_start(&sr, ST, &r.u.header);
			continue;
		}
		if (!(s = snapreader_step(&sr, rd, &r)))
			continue;
		handed++;
		view_install(&v, s);
		if (v.shown && n < 16 && (n == 0 || seqs[n - 1] != v.shown->b.seq))
			seqs[n++] = v.shown->b.seq;
	}
	ok(handed == 8,
	   "a late joiner: the two deltas before the first full snapshot are not handed "
	   "over (%d of 10)",
	   handed);
	ok(n == 5 && seqs[0] == 3 && seqs[1] == 4 && seqs[2] == 5 && seqs[3] == 9 && seqs[4] == 10,
	   "shown: the full one, two deltas, then none from the one out of step until the next "
	   "full one, and the delta after it");
	ok(v.deltas_skipped == 3 && v.shown && v.shown->n == m.n,
	   "three deltas not applied, counted; the last table has every row (%zu of %zu)",
	   v.shown ? v.shown->n : 0, m.n);
	snapreader_free(&sr);
	stream_reader_free(rd);
	close(fd);
	view_free(&v);
}

int main(void)
{
	setlocale(LC_ALL, "C.UTF-8");
	ST = strtab_new(false);
	test_units();
	test_compact();
	test_resort();
	test_fields();
	test_layout();
	test_sort(true, false);
	test_sort(false, false);
	test_sort(true, true);
	test_filter();
	test_selection();
	test_groups();
	test_own_merged();
	test_groups_merged();
	test_history();
	test_closed_host();
	test_closed_and_filter();
	test_limit();
	test_figs_history();
	test_figs_trend();
	test_figs_sweep();
	test_figs_appeared();
	test_settled_history();
	test_opening_history();
	test_apply();
	test_delta_views();
	test_delta_cases();
	test_delta_cgroup();
	test_delta_stream();
	return done_testing();
}
