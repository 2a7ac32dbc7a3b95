// SPDX-License-Identifier: GPL-2.0-or-later
/* The curses layer: the only file that draws. Rows arrive as text from table.c; this file picks
 * attributes by meaning, places text, and owns the terminal's state. */
#include <curses.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

#include "dns.h"
#include "limit.h"
#include "names.h"
#include "trend.h"
#include "ui.h"

/* What things mean, not what they look like: colour or monochrome attributes below. */
enum role {
	ROLE_NORMAL,
	ROLE_TITLE,
	ROLE_TABLE_HEAD,
	ROLE_SORT_HEAD,
	ROLE_SELECTED,
	ROLE_CLOSED,
	ROLE_NEW,
	ROLE_WARN,
	ROLE_STATUS,
	ROLE_KEY,
	ROLE_FAILED,
	ROLE_GROUP,
	NROLES
};

static attr_t role_attr[NROLES];

static SCREEN *screen;
static int tty_fd = -1;
static struct termios saved_tio;
static bool saved_ok;
/* terminfo strings that undo what curses did, copied for the fatal signal handler */
static char restore_seq[256];
static size_t restore_len;

static void set_roles(bool color)
{
	static const struct {
		short fg, bg;
		attr_t extra, mono;
	} def[NROLES] = {
		[ROLE_NORMAL] = { -1, -1, 0, 0 },
		[ROLE_TITLE] = { COLOR_CYAN, -1, A_BOLD, A_BOLD },
		[ROLE_TABLE_HEAD] = { COLOR_BLACK, COLOR_GREEN, 0, A_REVERSE },
		[ROLE_SORT_HEAD] = { COLOR_BLACK, COLOR_CYAN, A_BOLD,
				     A_REVERSE | A_BOLD | A_UNDERLINE },
		[ROLE_SELECTED] = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
		[ROLE_CLOSED] = { -1, -1, A_DIM, A_DIM },
		[ROLE_NEW] = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
		[ROLE_WARN] = { COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD },
		[ROLE_STATUS] = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
		[ROLE_KEY] = { COLOR_CYAN, -1, A_BOLD, A_BOLD },
		[ROLE_FAILED] = { COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
		[ROLE_GROUP] = { -1, -1, A_BOLD, A_BOLD },
	};

	for (int r = 0; r < NROLES; r++) {
		role_attr[r] = def[r].mono;
		if (color && (def[r].fg >= 0 || def[r].bg >= 0) && r < COLOR_PAIRS) {
			init_pair(r, def[r].fg, def[r].bg);
			role_attr[r] = COLOR_PAIR(r) | def[r].extra;
		} else if (color) {
			role_attr[r] = def[r].extra;
		}
	}
}

static void keep_restore_string(const char *cap)
{
	char *s = tigetstr(cap);
	size_t n;

	if (!s || s == (char *)-1)
		return;
	n = strlen(s);
	if (restore_len + n < sizeof(restore_seq)) {
		memcpy(restore_seq + restore_len, s, n);
		restore_len += n;
	}
}

int ui_open(FILE *tty, const char *term, bool color, char *err, size_t errsz)
{
	tty_fd = fileno(tty);
	saved_ok = tcgetattr(tty_fd, &saved_tio) == 0;
	screen = newterm(term, tty, tty);
	if (!screen) {
		snprintf(err, errsz, "cannot drive terminal type '%s'",
			 term		  ? term
			 : getenv("TERM") ? getenv("TERM")
					  : "(TERM unset)");
		return -1;
	}
	set_term(screen);
	keep_restore_string("sgr0");
	keep_restore_string("cnorm");
	keep_restore_string("rmkx");
	keep_restore_string("rmcup");
	cbreak(); /* not raw: Ctrl-C must reach every stage of the pipeline */
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	color = color && has_colors();
	if (color) {
		start_color();
		use_default_colors();
	}
	set_roles(color);
	return 0;
}

void ui_close(void)
{
	if (!screen)
		return;
	endwin();
	delscreen(screen);
	screen = NULL;
	if (saved_ok)
		tcsetattr(tty_fd, TCSADRAIN, &saved_tio);
}

void ui_restore_emergency(void)
{
	ssize_t n;

	if (tty_fd < 0)
		return;
	if (restore_len)
		n = write(tty_fd, restore_seq, restore_len);
	n = write(tty_fd, "\r\n", 2);
	(void)n;
	if (saved_ok)
		tcsetattr(tty_fd, TCSANOW, &saved_tio);
}

void ui_resize(void)
{
	struct winsize ws;

	if (ioctl(tty_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
}

void ui_set_size(int rows, int cols)
{
	resizeterm(rows, cols);
}

int ui_key(void)
{
	int k = wgetch(stdscr);

	return k == ERR ? -1 : k;
}

void ui_repaint(void)
{
	clearok(curscr, TRUE);
}

/* ---- drawing ---- */

/* Every string from the stream goes through here before it is drawn. */
static void screen_text(char *dst, size_t size, const char *src, size_t len)
{
	text_sanitize(dst, size, src, len);
	if (!table_utf8)
		text_fold_ascii(dst);
}

/* Text at (y, x), cut to the screen width; returns the column after it. */
static int put(int y, int x, const char *s, enum role role)
{
	char buf[LINE_MAX_BYTES];
	int room = COLS - x - (y == LINES - 1); /* the last cell would scroll */
	size_t w;

	if (room <= 0 || y < 0 || y >= LINES)
		return x;
	w = text_width(s);
	if ((int)w > room) {
		put_field(buf, sizeof(buf), s, w, room, false, false);
		s = buf;
		w = room;
	}
	attrset(role_attr[role]);
	mvaddstr(y, x, s);
	attrset(A_NORMAL);
	return x + w;
}

static void fill_line(int y, enum role role)
{
	attrset(role_attr[role]);
	mvhline(y, 0, ' ', COLS);
	attrset(A_NORMAL);
}

static void fmt_secs(uint64_t ns, char *buf, size_t size)
{
	char *p;

	snprintf(buf, size, "%.3f", ns / 1e9);
	p = buf + strlen(buf) - 1;
	while (*p == '0')
		*p-- = '\0';
	if (*p == '.')
		*p = '\0';
}

/* The header's missing list as the contract reads it: the known words in the table's order,
 * then those this version does not know (a newer collector's), sanitised, as they came. */
static void missing_text(const struct stream_header *h, char *buf, size_t size)
{
	char unknown[HDR_STR_MAX];
	unsigned mask = features_missing(h, unknown, sizeof(unknown));
	size_t o = 0;

	buf[0] = '\0';
	for (int f = 0; f < FEAT_N && o < size; f++)
		if (mask & (1u << f))
			o += snprintf(buf + o, size - o, "%s%s", o ? " " : "", features[f].word);
	if (o >= size)
		return;
	if (unknown[0] && o + 2 < size) {
		if (o)
			buf[o++] = ' ';
		screen_text(buf + o, size - o, unknown, strlen(unknown));
	}
}

static void draw_header(struct view *v)
{
	const struct snapshot *s = v->shown;
	char host[SANITIZE_SIZE(HDR_STR_MAX)], backend[SANITIZE_SIZE(HDR_STR_MAX)];
	char kernel[SANITIZE_SIZE(HDR_STR_MAX)], filt[SANITIZE_SIZE(HDR_STR_MAX)];
	char buf[4400], a[32], b[32], c[32], d[32], t[RFC3339_LEN];
	int x;

	if (!s) {
		put(0, 0, "tcptop-view", ROLE_TITLE);
		put(2, 0,
		    v->ended ? "the stream ended before its first snapshot (press q to quit)"
			     : "waiting for the first snapshot...",
		    ROLE_STATUS);
		return;
	}
	screen_text(host, sizeof(host), s->hdr.hostname, sizeof(s->hdr.hostname));
	if (s->nhosts) {
		/* a merged stream: every host with its state */
		static const char *const state[] = { "?", "live", "ended", "lagging" };
		size_t o = 0;

		for (size_t i = 0; i < s->nhosts && o + 1 < sizeof(host); i++) {
			const struct vhost *h = &s->hosts[i];

			if (!h->state)
				continue;
			o += snprintf(host + o, sizeof(host) - o, "%s%s (%s)", o ? ", " : "",
				      str_text(s->st, h->name), state[h->state < 4 ? h->state : 0]);
		}
	}
	screen_text(backend, sizeof(backend), s->hdr.backend, sizeof(s->hdr.backend));
	screen_text(kernel, sizeof(kernel), s->hdr.kernel, sizeof(s->hdr.kernel));
	screen_text(filt, sizeof(filt), s->hdr.filter, sizeof(s->hdr.filter));
	time_format_rfc3339(s->b.time_ns, t, sizeof(t));
	fmt_secs(s->b.interval_ns ? s->b.interval_ns : s->hdr.interval_ns, a, sizeof(a));
	fmt_secs(s->b.span_ns, b, sizeof(b));
	snprintf(buf, sizeof(buf), "%s  %s  interval %ss  span %ss  #%" PRIu64,
		 host[0] ? host : "?", t, a, b, s->b.seq);
	x = put(0, 0, buf, ROLE_TITLE);
	snprintf(buf, sizeof(buf), "  backend %s  kernel %s", backend[0] ? backend : "?",
		 kernel[0] ? kernel : "?");
	put(0, x, buf, ROLE_NORMAL);

	fmt_bytes(s->b.rate_in, a, sizeof(a));
	fmt_bytes(s->b.rate_out, b, sizeof(b));
	fmt_bytes(s->b.bytes_in, c, sizeof(c));
	fmt_bytes(s->b.bytes_out, d, sizeof(d));
	if (v->raw_units)
		snprintf(buf, sizeof(buf),
			 "TCP %" PRIu32 "  UDP %" PRIu32
			 "  RX %.0f B/s  TX %.0f B/s  total RX %" PRIu64 " B  TX %" PRIu64 " B",
			 s->b.tcp_conns, s->b.udp_flows, s->b.rate_in, s->b.rate_out, s->b.bytes_in,
			 s->b.bytes_out);
	else
		snprintf(buf, sizeof(buf),
			 "TCP %" PRIu32 "  UDP %" PRIu32 "  RX %s/s  TX %s/s  total RX %s  TX %s",
			 s->b.tcp_conns, s->b.udp_flows, a, b, c, d);
	x = put(1, 0, buf, ROLE_NORMAL);
	if (s->b.hidden) {
		snprintf(buf, sizeof(buf), "  hidden by filters %" PRIu32, s->b.hidden);
		x = put(1, x, buf, ROLE_NORMAL);
	}
	if (v->t.self_hidden) {
		snprintf(buf, sizeof(buf), "  our DNS queries %zu", v->t.self_hidden);
		x = put(1, x, buf, ROLE_NORMAL);
	}
	if (v->skipped) {
		snprintf(buf, sizeof(buf), "  %" PRIu64 " snapshots skipped (too slow)",
			 v->skipped);
		x = put(1, x, buf, ROLE_WARN);
	}
	if (v->deltas_skipped) {
		snprintf(buf, sizeof(buf),
			 "  %" PRIu64 " delta snapshots not applied (out of step until a full one)",
			 v->deltas_skipped);
		x = put(1, x, buf, ROLE_WARN);
	}
	if (filt[0]) {
		snprintf(buf, sizeof(buf), "  [%s]", filt);
		x = put(1, x, buf, ROLE_NORMAL);
	}
	if (s->dropped) {
		snprintf(buf, sizeof(buf), "  %" PRIu64 " rows not shown (too many)", s->dropped);
		x = put(1, x, buf, ROLE_WARN);
	}
	if (strtab_dropped(s->st)) {
		snprintf(buf, sizeof(buf), "  %" PRIu64 " names shown as ? (too many)",
			 strtab_dropped(s->st));
		x = put(1, x, buf, ROLE_WARN);
	}
	if (s->hdr.missing[0]) {
		char miss[SANITIZE_SIZE(HDR_STR_MAX)];

		missing_text(&s->hdr, miss, sizeof(miss));
		snprintf(buf, sizeof(buf), "  missing: %s", miss);
		put(1, x, buf, ROLE_WARN);
	}

	/* status line: loss first, then the modes */
	x = 0;
	/* producers list every counter they keep: only those above zero are loss */
	if (s->b.nloss) {
		size_t o = snprintf(buf, sizeof(buf), "LOSS:"), start = o;

		for (uint32_t i = 0; i < s->b.nloss && i < LOSS_MAX && o < sizeof(buf); i++)
			if (s->b.loss[i].value)
				o += snprintf(buf + o, sizeof(buf) - o, " %s=%" PRIu64,
					      loss_code_name(s->b.loss[i].code),
					      s->b.loss[i].value);
		if (o > start)
			x = put(2, x, buf, ROLE_WARN) + 2;
	}
	if (v->note[0])
		x = put(2, x, v->note, ROLE_WARN) + 2;
	if (s->b.flags & SNAP_F_PARTIAL)
		x = put(2, x, "PARTIAL interval", ROLE_WARN) + 2;
	if (v->end_mark)
		x = put(2, x, "END OF RECORDING: the last snapshot with connections", ROLE_WARN) +
		    2;
	else if (v->travel) {
		snprintf(buf, sizeof(buf), "TIME TRAVEL %ld/%zu ([ older, ] newer)", v->travel,
			 v->nhist);
		x = put(2, x, buf, ROLE_STATUS) + 2;
	}
	if (v->show_closed) {
		snprintf(buf, sizeof(buf), "CLOSED: last %zu (at most %zu)", v->nclosed,
			 v->closed_max);
		x = put(2, x, buf, ROLE_STATUS) + 2;
	}
	if (v->t.group != GROUP_NONE)
		x = put(2, x, v->t.group == GROUP_PROCESS ? "by process" : "by cgroup",
			ROLE_STATUS) +
		    2;
	if (v->paused) {
		snprintf(buf, sizeof(buf), "PAUSED (%" PRIu64 " newer snapshots read, p resumes)",
			 v->arrived - v->paused_at);
		x = put(2, x, buf, ROLE_STATUS) + 2;
	}
	if (v->ended && !v->end_mark)
		x = put(2, x,
			v->ended == END_CLEAN
				? "stream ended: press q to quit"
				: "stream ended without END (producer killed?): press q",
			ROLE_STATUS) +
		    2;
	snprintf(buf, sizeof(buf), "sort %s %s", column_title(v->t.sort),
		 column_descending(v->t.sort) != v->t.reverse ? "(largest first)"
							      : "(smallest first)");
	x = put(2, x, buf, ROLE_NORMAL) + 2;
	if (v->t.filter[0] && !v->editing) {
		char f[SANITIZE_SIZE(sizeof(v->t.filter))];

		screen_text(f, sizeof(f), v->t.filter, strlen(v->t.filter));
		snprintf(buf, sizeof(buf), "filter \"%s\": %zu of %zu", f, v->t.n, s->n);
		put(2, x, buf, ROLE_STATUS);
	}
}

/* A host name as the cache holds it (never cut, so never cut inside a character) and a port */
#define ENDPOINT_NAME_MAX (DNS_HOST_MAX + 48)

/* "host:port" or "addr:service" for the names modes; numbers where no name is known. */
static void endpoint_names(const struct view *v, const struct vrow *r, char *lbuf, size_t lsz,
			   char *rbuf, size_t rsz)
{
	const struct strtab *st = v->t.snap ? v->t.snap->st : NULL;
	const struct vid *id = &r->r.id;
	char addr[ADDR_LEN], host[DNS_HOST_MAX], lp[40], rp[40];
	uint8_t la[16], ra[16];
	const char *svc;
	bool v6;

	snprintf(lp, sizeof(lp), "%u", id->lport);
	snprintf(rp, sizeof(rp), "%u", id->rport);
	if (v->svc_on) {
		/* the well-known side: a server's port names the service, a client's is random */
		if ((svc = service_name(id->lport, id->proto)))
			snprintf(lp, sizeof(lp), "%s", svc);
		if ((svc = service_name(id->rport, id->proto)))
			snprintf(rp, sizeof(rp), "%s", svc);
	}
	vrow_addr(st, r, true, la);
	vrow_addr(st, r, false, ra);
	addr_format(id->family, la, addr, sizeof(addr));
	v6 = strchr(addr, ':') != NULL;
	snprintf(lbuf, lsz, v6 ? "[%s]:%s" : "%s:%s", addr, lp);
	addr_format(id->family, ra, addr, sizeof(addr));
	v6 = strchr(addr, ':') != NULL;
	if (v->dns_on && dns_host(v->dns, id->family, ra, true, host, sizeof(host))) {
		if (!table_utf8)
			text_fold_ascii(host);
		snprintf(rbuf, rsz, "%s:%s", host, rp);
	} else {
		snprintf(rbuf, rsz, v6 ? "[%s]:%s" : "%s:%s", addr, rp);
	}
}

void ui_draw_table(struct view *v)
{
	char line[LINE_MAX_BYTES], cut[LINE_MAX_BYTES];
	struct layout l;
	int y0 = 3, rows = LINES - y0 - 2;

	v->page = rows > 0 ? rows : 0;
	if ((v->dns_on || v->svc_on) && rows > 0) {
		/* names are wider than numbers: the layout makes room for those on screen */
		struct widest keep = v->t.widest;
		char lname[ENDPOINT_NAME_MAX], rname[ENDPOINT_NAME_MAX];

		for (int i = 0; i < rows && v->top + i < v->t.n; i++) {
			const struct vrow *r = v->t.v[v->top + i];

			if (vrow_conns(r))
				continue;
			endpoint_names(v, r, lname, sizeof(lname), rname, sizeof(rname));
			if ((int)text_width(lname) > v->t.widest.local)
				v->t.widest.local = text_width(lname);
			if ((int)text_width(rname) > v->t.widest.remote)
				v->t.widest.remote = text_width(rname);
		}
		table_layout(&v->t, COLS, v->raw_units, v->trend_on && v->trends ? TREND_SHORT : 0,
			     &l);
		v->t.widest = keep;
	} else {
		table_layout(&v->t, COLS, v->raw_units, v->trend_on && v->trends ? TREND_SHORT : 0,
			     &l);
	}
	fill_line(y0, ROLE_TABLE_HEAD);
	table_format_title(&l, v->raw_units, line, sizeof(line));
	put(y0, 0, line, ROLE_TABLE_HEAD);
	if (l.width[v->t.sort]) {
		char t[64];

		put_field(t, sizeof(t), column_title(v->t.sort), strlen(column_title(v->t.sort)),
			  l.width[v->t.sort], column_descending(v->t.sort), false);
		put(y0, l.x[v->t.sort], t, ROLE_SORT_HEAD);
	}
	if (v->top > v->t.n)
		v->top = 0;
	if (!v->t.n && rows > 0)
		put(y0 + 1, 2,
		    v->t.filter[0] ? "(no connection matches the filter)" : "(no connections)",
		    ROLE_STATUS);
	for (int i = 0; i < rows && v->top + i < v->t.n; i++) {
		const struct vrow *r = v->t.v[v->top + i];
		size_t idx = v->top + i;
		enum role role = ROLE_NORMAL;
		struct row_style st = {
			.st = v->shown ? v->shown->st : NULL,
			.raw_units = v->raw_units,
			.missing = v->shown ? v->shown->missing : 0,
			.depth = v->t.depth ? v->t.depth[idx] : 0,
		};
		char spark[TREND_SHORT * 4 + 1], lname[ENDPOINT_NAME_MAX], rname[ENDPOINT_NAME_MAX];

		if (vrow_conns(r))
			st.open = table_expanded(&v->t, r->r.id.cookie);
		if (l.trend && !vrow_conns(r)) {
			float pts[TREND_SHORT];
			struct conn_key k = vrow_key(r);

			if (trends_get(v->trends, &k, v->shown->tick, r->since, v->shown->tick,
				       TREND_SHORT, pts)) {
				st.trend_w = trend_spark(pts, TREND_SHORT, table_utf8, spark,
							 sizeof(spark));
				st.trend = spark;
			}
		}
		if ((v->dns_on || v->svc_on) && !vrow_conns(r)) {
			endpoint_names(v, r, lname, sizeof(lname), rname, sizeof(rname));
			st.local = lname;
			st.remote = rname;
		}
		table_format_row(r, &l, &st, line, sizeof(line));
		/* pad to the full width so the selection bar spans the screen */
		put_field(cut, sizeof(cut), line, l.total, COLS, false, false);
		if (v->have_sel && idx == v->sel)
			role = ROLE_SELECTED;
		else if (vrow_conns(r))
			role = ROLE_GROUP;
		else if (r->r.flags & CONN_F_FAILED)
			role = ROLE_FAILED;
		else if (r->r.flags & CONN_F_CLOSED)
			role = ROLE_CLOSED;
		else if (r->r.flags & CONN_F_NEW)
			role = ROLE_NEW;
		put(y0 + 1 + i, 0, cut, role);
		if (role == ROLE_SELECTED && (r->r.flags & CONN_F_CLOSED))
			mvchgat(y0 + 1 + i, 0, COLS, role_attr[ROLE_SELECTED] | A_DIM,
				PAIR_NUMBER(role_attr[ROLE_SELECTED]), NULL);
	}
}

static const char *const help_text[] = {
	"tcptop-view keys",
	"",
	"  q, Ctrl-C          quit",
	"  Up, Down, j, k     move the selection",
	"  PgUp, PgDn, Space  move the selection a page",
	"  Home, End, g, G    first, last connection",
	"  Left, Right, <, >  sort by the previous, next column",
	"  r                  reverse the sort order",
	"  /                  filter by address, port, process name or PID as you type;",
	"                     Enter keeps the filter, Esc clears it",
	"  p                  pause the display (input is still read); p again resumes",
	"  u                  human units (KiB/s ...) or raw numbers",
	"  Enter              every field of the selected connection and its rate graph",
	"                     (Esc returns; g, G: the next, the previous graph: a TCP",
	"                     connection's LIMIT clocks, cwnd, delivery rate, RTT, in flight,",
	"                     unsent, retransmits, lost); on a group: open or close it",
	"  a                  group by process, then by cgroup, then no grouping",
	"  c                  the last closed connections (c again: back to the live table)",
	"  t                  a trend of each row's rate over the last 8 snapshots",
	"  [, ]               time travel: the previous, the next snapshot (past the newest:",
	"                     live again)",
	"  d                  remote addresses as host names (reverse DNS, never waits)",
	"  n                  ports as service names (/etc/services)",
	"  ?, h, F1           this help",
	"  Ctrl-L             repaint the screen;  Ctrl-Z  suspend (fg resumes)",
	"",
	"Rows: '+' marks a connection new in this interval, '-' (dimmed) one that closed;",
	"FAILED (red) a TCP connect that closed before it was established.",
	"",
	"Press any key to return.",
};

static void draw_help(void)
{
	int n = sizeof(help_text) / sizeof(help_text[0]);

	for (int y = 3; y < LINES - 1; y++) {
		move(y, 0);
		clrtoeol();
	}
	for (int i = 0; i < n && 3 + i < LINES - 1; i++)
		put(3 + i, 1, help_text[i], i == 0 ? ROLE_TITLE : ROLE_NORMAL);
}

/* The detail view's graph: the connection's rate (in + out) over the last TREND_LEN snapshots,
 * one column each, bars in eighths of a line (or '#' without UTF-8). */
static void draw_graph(struct view *v, int y0)
{
	static const char *const eighth[] = { " ",	"\u2581", "\u2582", "\u2583", "\u2584",
					      "\u2585", "\u2586", "\u2587", "\u2588" };
	float pts[TREND_LEN], max = 0;
	struct conn_key k = vrow_key(&v->detail_row);
	enum trend_series ts = v->detail_has_figs ? v->graph : TS_RATE;
	int h = LINES - 2 - y0 - 1, known;
	char buf[200], m[32];

	if (!v->trends || !v->shown || h < 3)
		return;
	if (h > 8)
		h = 8;
	known = trends_get_series(v->trends, &k, ts, v->shown->tick, v->detail_row.since,
				  v->detail_gone ? v->detail_until : v->shown->tick,
				  v->detail_has_figs ? &v->detail_figs : NULL,
				  v->detail_row.r.c.srtt_us, TREND_LEN, pts);
	for (int i = 0; i < TREND_LEN; i++)
		if (pts[i] > max)
			max = pts[i];
	if (trend_series_bytes(ts)) {
		fmt_bytes(max, m, sizeof(m));
		strcat(m, "/s");
		if (ts == TS_UNSENT)
			m[strlen(m) - 2] = '\0';
	} else if (ts >= TS_BUSY && ts <= TS_SNDBUF) {
		snprintf(m, sizeof(m), "%.0f%%", max);
	} else {
		snprintf(m, sizeof(m), "%.0f", max);
	}
	snprintf(buf, sizeof(buf), "%s, last %d snapshots (%d seen), top %s%s",
		 trend_series_title(ts), TREND_LEN, known, m,
		 v->detail_has_figs ? "   (g, G: other graphs)" : "");
	put(y0, 1, buf, ROLE_TITLE);
	for (int row = 0; row < h; row++) {
		int y = y0 + 1 + row, level0 = (h - 1 - row) * 8;

		put(y, 1, "|", ROLE_NORMAL);
		for (int i = 0; i < TREND_LEN && 2 + i < COLS; i++) {
			int e = max > 0 ? (int)(pts[i] / max * 8 * h + 0.5f) : 0;
			int f = e - level0;

			if (pts[i] > 0 && e == 0 && row == h - 1)
				f = 1; /* something moved: at least a sliver */
			f = f < 0 ? 0 : f > 8 ? 8 : f;
			put(y, 2 + i, table_utf8 ? eighth[f] : f >= 4 ? "#" : " ", ROLE_NORMAL);
		}
	}
	put(y0 + 1 + h, 1, "+", ROLE_NORMAL);
	for (int i = 0; i < TREND_LEN && 2 + i < COLS; i++)
		put(y0 + 1 + h, 2 + i, "-", ROLE_NORMAL);
}

/* Packs the detail lines until at most want remain: each line after the first joins the one
 * before, its label's padding squeezed to one space, when the two fit in width. Returns the
 * number of lines. */
static int detail_pack(char text[][300], int n, int width, int want)
{
	int m = 0;

	for (int i = 1; i < n; i++) {
		if (m + 1 + (n - i) <= want) { /* the rest fits as it is */
			memmove(text[m + 1], text[i], (size_t)(n - i) * sizeof(text[0]));
			return m + 1 + (n - i);
		}
		char t[300], joined[300], *pad;
		int len;

		memcpy(t, text[i], sizeof(t));
		pad = strstr(t, "  ");
		if (pad && pad > t)
			memmove(pad + 1, pad + strspn(pad, " "),
				strlen(pad + strspn(pad, " ")) + 1);
		len = snprintf(joined, sizeof(joined), "%s   %s", text[m], t);
		if (len < (int)sizeof(joined) && (int)text_width(joined) <= width) {
			memcpy(text[m], joined, (size_t)len + 1);
		} else {
			m++;
			if (m != i)
				memcpy(text[m], text[i], sizeof(text[0]));
		}
	}
	return n ? m + 1 : 0;
}

/* A TCP connection's figures for the detail view: LIMIT and the numbers behind it. Returns
 * the lines written into text (at most max). */
static int detail_figs(const struct view *v, char text[][300], int max)
{
	const struct vrow *d = &v->detail_row;
	const struct tcp_figs *f = &v->detail_figs;
	unsigned missing = v->shown ? v->shown->missing : 0;
	char a[32], b[32], c[32], e[32];
	int n = 0;

#define FLINE(...) (n < max ? snprintf(text[n++], sizeof(text[0]), __VA_ARGS__) : 0)
	if (missing & FIELD_TCP_FIGS) {
		FLINE("limit         ? (the collector could not read TCP figures: tcp-figures)");
		return n;
	}
	if (!vrow_has_figs(d) || !v->detail_has_figs) {
		FLINE("limit         - (no TCP figures in this stream: an older collector)");
		return n;
	}
	if (missing & FIELD_TCP_LIMIT)
		FLINE("limit         ? (the kernel's HZ is unknown: tcp-limits)");
	else if (d->r.limit == LIMIT_NONE)
		FLINE("limit         none: %s", limit_meaning(LIMIT_NONE));
	else if (limit_meaning(d->r.limit))
		FLINE("limit         %s of the interval: %s",
		      limit_text(d->r.limit, d->r.limit_pct, a, sizeof(a)),
		      limit_meaning(d->r.limit));
	else
		FLINE("limit         ? (no earlier reading to compare, or a verdict unknown here)");
	if (missing & FIELD_TCP_LIMIT)
		FLINE("limited       ? (busy, rwnd_limited, sndbuf_limited)");
	else
		FLINE("limited       busy %" PRIu32 " ms   rwnd_limited %" PRIu32
		      " ms   sndbuf_limited %" PRIu32 " ms   (since it began, mod 2^32)",
		      f->busy_ms, f->rwnd_ms, f->sndbuf_ms);
	if (f->ssthresh == TCP_NO_SSTHRESH)
		snprintf(a, sizeof(a), "none");
	else
		snprintf(a, sizeof(a), "%u", f->ssthresh);
	fmt_bytes(f->unsent, b, sizeof(b));
	FLINE("window        cwnd %" PRIu32 "   ssthresh %s   in flight %" PRIu32
	      "   unsent %s   reordering %u",
	      f->cwnd, a, f->in_flight, b, f->reordering);
	fmt_bytes(f->delivery_rate, b, sizeof(b));
	if (f->min_rtt_us == UINT32_MAX)
		snprintf(c, sizeof(c), "-");
	else
		fmt_rtt(f->min_rtt_us, c, sizeof(c));
	fmt_rtt(f->rttvar_us, e, sizeof(e));
	FLINE("delivery      %.0f B/s (%s/s)   rtt min %s   var %s", (double)f->delivery_rate, b, c,
	      e);
	FLINE("losses        retransmits %" PRIu32 " (%" PRIu32 " bytes, mod 2^32)   lost %" PRIu32,
	      d->r.c.retrans, f->retrans_bytes, f->lost);
#undef FLINE
	return n;
}

static void draw_detail(struct view *v)
{
	const struct vrow *d = &v->detail_row;
	const struct vfields *r = &d->r;
	const struct strtab *st = v->shown ? v->shown->st : NULL;
	char text[30][300], a[32], b[32], t1[RFC3339_LEN], t2[RFC3339_LEN];
	char local[ENDPOINT_LEN], remote[ENDPOINT_LEN];
	const char *ifname = str_text(st, d->r.id.ifname);
	const char *nsname = v->shown ? netns_name(&v->shown->hdr, r->id.netns) : NULL;
	const struct stream_header *h = v->shown ? &v->shown->hdr : NULL;
	int n = 0;

	vrow_endpoint(st, d, true, local, sizeof(local));
	vrow_endpoint(st, d, false, remote, sizeof(remote));
	for (int y = 3; y < LINES - 1; y++) {
		move(y, 0);
		clrtoeol();
	}
#define LINE(...) snprintf(text[n++], sizeof(text[0]), __VA_ARGS__)
	LINE("protocol      %s, %s",
	     r->id.proto == PROTO_TCP	? "TCP"
	     : r->id.proto == PROTO_UDP ? "UDP"
					: "?",
	     r->id.family == FAMILY_INET6 ? "IPv6" : "IPv4");
	LINE("local         %s", local);
	LINE("remote        %s", remote);
	LINE("interface     %s (index %" PRIu32 ")", ifname[0] ? ifname : "?", vrow_ifindex(st, d));
	if (nsname)
		LINE("netns         %" PRIu32 " (%s)", r->id.netns, nsname);
	else
		LINE("netns         %" PRIu32, r->id.netns);
	if (d->cgroup)
		LINE("cgroup        %s   id %" PRIu64, str_text(st, d->cgroup), r->cgroup_id);
	else
		LINE("cgroup        %s", v->shown && (v->shown->missing & FIELD_CGROUP)
						 ? "? (the collector could not read cgroups)"
						 : "unknown");
	LINE("socket cookie %" PRIu64 "   flow %" PRIu64, r->id.cookie, r->id.flow);
	if (r->flags & CONN_F_NO_OWNER)
		LINE("process       unknown (no process context seen yet)");
	else
		LINE("process       %s   pid %" PRIu32, str_text(st, r->comm), r->pid);
	LINE("state         %s%s",
	     r->id.proto == PROTO_TCP ? tcp_state_name(r->state) : "- (UDP flow)",
	     r->flags & CONN_F_FAILED ? " (FAILED: closed before it was established)" : "");
	LINE("flags        %s%s%s%s%s%s", r->flags & CONN_F_NEW ? " new" : "",
	     r->flags & CONN_F_FAILED ? " failed" : "", r->flags & CONN_F_CLOSED ? " closed" : "",
	     r->flags & CONN_F_BEGUN_BEFORE ? " begun-before-the-collector" : "",
	     r->flags & CONN_F_NO_OWNER ? " no-owner" : "",
	     r->flags & (CONN_F_NEW | CONN_F_CLOSED | CONN_F_BEGUN_BEFORE | CONN_F_NO_OWNER)
		     ? ""
		     : " -");
	fmt_bytes(r->c.bytes_in, a, sizeof(a));
	LINE("received      %" PRIu64 " bytes (%s)  %" PRIu64 " packets", r->c.bytes_in, a,
	     r->c.pkts_in);
	fmt_bytes(r->c.bytes_out, a, sizeof(a));
	LINE("sent          %" PRIu64 " bytes (%s)  %" PRIu64 " packets", r->c.bytes_out, a,
	     r->c.pkts_out);
	fmt_bytes(r->rate_in, a, sizeof(a));
	fmt_bytes(r->rate_out, b, sizeof(b));
	LINE("rate          in %.0f B/s (%s/s)  out %.0f B/s (%s/s)", r->rate_in, a, r->rate_out,
	     b);
	LINE("rtt           %" PRIu32 " us   retransmits %" PRIu32, r->c.srtt_us, r->c.retrans);
	if (r->id.proto == PROTO_TCP)
		n += detail_figs(v, text + n, 30 - 1 - n);
	if (h) {
		time_format_rfc3339(stream_wall_ns(h, r->first_ns), t1, sizeof(t1));
		time_format_rfc3339(stream_wall_ns(h, r->last_ns), t2, sizeof(t2));
		LINE("first seen    %s   last seen %s", t1, t2);
	}
#undef LINE
	/* a short screen (80x24): fields share lines as far as the width allows, so that the
	 * graph below keeps some height (it needs the fields, a title, 8 rows and an axis) */
	if (LINES < 5 + n + 12)
		n = detail_pack(text, n, COLS - 2, LINES - 5 - 12);
	put(3, 1, "Connection details (Esc or Enter returns)", ROLE_TITLE);
	if (v->detail_gone)
		put(4, 1, "no longer in the snapshot: last values shown", ROLE_STATUS);
	for (int i = 0; i < n && 5 + i < LINES - 1; i++)
		put(5 + i, 1, text[i], ROLE_NORMAL);
	draw_graph(v, 5 + n + 1);
}

static void draw_footer(struct view *v)
{
	static const struct {
		const char *key, *what;
	} keys[] = {
		{ "q", "quit" },   { "Up/Dn", "select" }, { "</>", "sort" }, { "r", "reverse" },
		{ "/", "filter" }, { "p", "pause" },	  { "u", "units" },  { "Enter", "details" },
		{ "a", "group" },  { "c", "closed" },	  { "?", "help" },
	};
	int y = LINES - 1, x = 0;

	move(y, 0);
	clrtoeol();
	if (v->editing) {
		x = put(y, 0, "filter: ", ROLE_KEY);
		x = put(y, x, v->t.filter, ROLE_NORMAL);
		put(y, x, "_   (Enter keeps, Esc clears)", ROLE_NORMAL);
		return;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		x = put(y, x, keys[i].key, ROLE_KEY);
		x = put(y, x + 1, keys[i].what, ROLE_NORMAL) + 2;
	}
}

void ui_draw(struct view *v)
{
	erase();
	draw_header(v);
	if (v->help)
		draw_help();
	else if (v->detail)
		draw_detail(v);
	else if (v->shown)
		ui_draw_table(v);
	draw_footer(v);
	wnoutrefresh(stdscr);
	doupdate();
}
