// SPDX-License-Identifier: GPL-2.0-or-later
/* bench-view-stream: what tcptop-view costs a second on a stream of idle connections, through
 * the reader thread, the view and curses (to /dev/null as an xterm of 200x50), as tcptop-view
 * runs them. A child writes the stream into a pipe as tcptop-agg would (a full snapshot every
 * --full-every intervals, deltas of the rows that changed between them); this process reads it.
 *
 * usage: tcptop-view-bench-stream [ROWS [INTERVALS [FULL_EVERY [BUSY [MODE]]]]]
 *        tcptop-view-bench-stream FILE [MODE]
 * (defaults 100000 120 60 5 conn): BUSY rows move bytes each interval, one connection opens and
 * one closes in every interval; MODE conn (a row per connection), process (grouped by process)
 * or trend (with the trends shown). FILE: a snapshot stream read instead (tcptop-agg's output of
 * a recording: a real table's first deltas carry every connection as new, which the generated
 * stream does not), each of its snapshots an interval. Prints the CPU time of this process (reader thread included)
 * per interval, the slowest interval of the view's thread, RSS at the end and what the view
 * holds. */
#include <ctype.h>
#include <err.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "feed.h"
#include "stream.h"
#include "ui.h"
#include "view.h"

static double cpu_ms(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
	       ru.ru_stime.tv_usec / 1e3;
}

static double thread_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The writer's side: one connection's row (flows numbered as tcptop-agg numbers them). */
static void row_of(struct rec_snap_row *r, uint64_t flow)
{
	memset(r, 0, sizeof(*r));
	r->id.flow = flow;
	r->id.cookie = 0x1000000 + flow * 7;
	r->id.proto = PROTO_TCP;
	r->id.family = FAMILY_INET;
	r->id.laddr[0] = r->id.raddr[0] = 127;
	r->id.laddr[3] = r->id.raddr[3] = 1;
	r->id.lport = 20000 + flow % 40000;
	r->id.rport = 5000 + flow % 11;
	r->state = 1; /* ESTABLISHED */
	r->pid = 3000 + flow % 11;
	snprintf(r->comm, sizeof(r->comm), "idle-%u", (unsigned)(flow % 11));
	snprintf(r->ifname, sizeof(r->ifname), "lo");
	r->c.bytes_in = r->c.bytes_out = 64;
	r->c.pkts_in = r->c.pkts_out = 2;
	r->c.srtt_us = 30 + flow % 50;
	r->first_ns = r->last_ns = 1000000000ull + flow;
	r->cgroup_id = 0;
	r->has_figs = 1;
	r->figs.cwnd = 10;
	r->figs.min_rtt_us = 20;
}

static void put(struct stream_writer *w, uint32_t type, const void *body, size_t size)
{
	struct rec r = { .type = type };

	memcpy(&r.u, body, size);
	if (stream_write(w, &r))
		_exit(1); /* the reader went away */
}

static void writer(int fd, size_t rows, int intervals, int full_every, size_t busy)
{
	struct stream_writer *w = stream_writer_new(fd);
	struct stream_header h = { .major = 1, .minor = 1, .kind = STREAM_KIND_SNAPSHOT };
	struct rec_snap_row *t = malloc((rows + intervals + 1) * sizeof(*t)), r;
	uint64_t next_flow = 1;
	size_t n = 0;

	if (!w || !t)
		_exit(1);
	h.interval_ns = 1000000000ull;
	strcpy(h.producer, "bench");
	strcpy(h.hostname, "bench");
	strcpy(h.backend, "send=tp_btf recv=tp_btf state=tp_btf");
	if (stream_write_header(w, &h))
		_exit(1);
	for (; n < rows; n++)
		row_of(&t[n], next_flow++);
	for (int i = 0; i < intervals; i++) {
		bool full = i % full_every == 0;
		struct rec_snap_begin b = { .seq = i + 1,
					    .interval_ns = 1000000000ull,
					    .span_ns = 1000000000ull };
		struct rec_snap_end e = { .seq = i + 1 };
		size_t closing = n / 2 + (size_t)i * 13 % (n / 2), carried = 0;
		uint32_t begin = full ? REC_SNAP_BEGIN : REC_DELTA_BEGIN,
			 row = full ? REC_SNAP_ROW : REC_DELTA_ROW;

		/* the previous interval's closed row leaves, its rates go (the reader's settle) */
		for (size_t k = 0; k < n; k++) {
			t[k].rate_in = t[k].rate_out = 0;
			t[k].flags &= ~CONN_F_NEW;
			if (t[k].flags & CONN_F_CLOSED)
				t[k--] = t[--n];
		}
		/* busy rows move bytes, one opens, one closes */
		for (size_t k = 0; k < busy && k < n; k++) {
			size_t x = (k * 7919 + (size_t)i * 104729) % n;

			t[x].c.bytes_in += 1000 * (k + 1);
			t[x].c.pkts_in++;
			t[x].rate_in = 1000.0 * (k + 1);
			t[x].last_ns += 1000000000ull;
		}
		row_of(&t[n], next_flow++);
		t[n++].flags = CONN_F_NEW;
		t[closing].flags |= CONN_F_CLOSED;
		t[closing].state = 7;
		for (size_t k = 0; k < n; k++)
			carried += full || t[k].rate_in > 0 || t[k].flags;
		b.rows = carried;
		b.tcp_conns = n;
		b.table_rows = n;
		b.time_ns = 1795996875000000000ll + (int64_t)i * 1000000000;
		b.mono_ns = 2000000000ull + (uint64_t)i * 1000000000;
		put(w, begin, &b, sizeof(b));
		for (size_t k = 0; k < n; k++) {
			if (!full && !(t[k].rate_in > 0) && !t[k].flags)
				continue;
			r = t[k];
			put(w, row, &r, sizeof(r));
		}
		put(w, full ? REC_SNAP_END : REC_DELTA_END, &e, sizeof(e));
		if (stream_flush(w))
			_exit(1);
	}
	put(w, REC_END, &(struct rec_end){ 0 }, sizeof(struct rec_end));
	stream_flush(w);
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *file = argc > 1 && !isdigit((unsigned char)argv[1][0]) ? argv[1] : NULL;
	size_t rows = argc > 1 && !file ? strtoul(argv[1], NULL, 10) : 100000;
	int intervals = argc > 2 && !file ? atoi(argv[2]) : 120;
	int full_every = argc > 3 && !file ? atoi(argv[3]) : 60;
	size_t busy = argc > 4 && !file ? strtoul(argv[4], NULL, 10) : 5;
	const char *mode = file ? (argc > 2 ? argv[2] : "conn") : argc > 5 ? argv[5] : "conn";
	struct view v = { .t.sort = COL_RX_RATE, .page = 45 };
	struct stream_reader *rd;
	struct feed *f;
	struct rec first;
	double c0, ui_max = 0, ui_total = 0, full_max = 0;
	char why[256];
	int p[2], wake, got = 0;
	pid_t child = -1;
	FILE *out;

	mallopt(M_MMAP_THRESHOLD, 1 << 20); /* as tcptop-view */
	setlocale(LC_ALL, "C.UTF-8");
	if (rows < 4 || intervals < 1 || full_every < 1 ||
	    (strcmp(mode, "conn") && strcmp(mode, "process") && strcmp(mode, "trend")))
		errx(EX_USAGE,
		     "usage: %s [ROWS [INTERVALS [FULL_EVERY [BUSY [conn|process|trend]]]]]\n"
		     "       %s FILE [conn|process|trend]",
		     argv[0], argv[0]);
	v.t.group = !strcmp(mode, "process") ? GROUP_PROCESS : GROUP_NONE;
	v.trend_on = !strcmp(mode, "trend");
	if (file) {
		p[0] = open(file, O_RDONLY | O_CLOEXEC);
		if (p[0] < 0)
			err(EX_NOINPUT, "%s", file);
	} else {
		if (pipe(p))
			err(1, "pipe");
		child = fork();
		if (child < 0)
			err(1, "fork");
		if (!child) {
			close(p[0]);
			writer(p[1], rows, intervals, full_every, busy);
		}
		close(p[1]);
	}
	out = fopen("/dev/null", "r+");
	if (!out || ui_open(out, "xterm-256color", true, why, sizeof(why)) < 0)
		errx(1, "curses: %s", why);
	ui_set_size(50, 200);
	view_init(&v);
	rd = stream_reader_new(p[0], "bench");
	if (!rd)
		err(1, "reader");
	stream_reader_expect(rd, STREAM_KIND_SNAPSHOT);
	if (stream_read(rd, &first) != STREAM_OK)
		errx(1, "%s", stream_error(rd));
	c0 = cpu_ms(RUSAGE_SELF);
	f = feed_start(rd, false, &wake);
	if (!f)
		err(1, "feed");
	for (;;) {
		struct pollfd pfd = { .fd = wake, .events = POLLIN };
		struct snapshot *s;
		int st;

		poll(&pfd, 1, -1);
		feed_drain(f);
		while ((s = feed_take(f, NULL))) {
			double t0 = thread_ms(), dt;
			bool delta = s->delta;

			view_install(&v, s);
			ui_draw(&v);
			dt = thread_ms() - t0;
			ui_total += dt;
			if (dt > ui_max && delta)
				ui_max = dt;
			if (dt > full_max && got && !delta) /* a full one's, not the first */
				full_max = dt;
			got++;
		}
		st = feed_status(f);
		if (st != STREAM_OK) {
			if (st != STREAM_EOF)
				errx(1, "%s", stream_error(rd));
			break;
		}
	}
	c0 = cpu_ms(RUSAGE_SELF) - c0;
	ui_close();
	if (file) {
		intervals = got ? got : 1;
		printf("bench-view-stream: %s, %s, %d shown, %zu rows in the last\n", file, mode,
		       got, v.shown ? v.shown->n : 0);
	} else {
		waitpid(child, NULL, 0);
		printf("bench-view-stream: %zu idle rows, %d intervals (full every %d, %zu busy "
		       "rows, one opens and one closes each), %s, %d shown, %zu rows in the last\n",
		       rows, intervals, full_every, busy, mode, got, v.shown ? v.shown->n : 0);
	}
	printf("  CPU %.2f ms an interval (reader thread and view), of which the view's thread "
	       "%.2f; slowest in the view's thread: a delta %.1f ms, a full snapshot %.1f ms; RSS "
	       "%.1f MiB (peak %.1f)\n",
	       c0 / intervals, ui_total / intervals, ui_max, full_max, vm_kib("VmRSS") / 1024.0,
	       vm_kib("VmHWM") / 1024.0);
	if (v.shown && v.shown->rows)
		printf("  held: rows %.1f MiB (%zu of %zu bytes), TCP figures %.2f MiB (%u "
		       "different, %" PRIu64 " sweeps), history %.1f MiB in %zu snapshots, the "
		       "table's order %.1f MiB\n",
		       v.shown->n * sizeof(struct vrow) / 1048576.0, v.shown->n,
		       sizeof(struct vrow), strtab_figs_bytes(v.shown->st) / 1048576.0,
		       strtab_figs_count(v.shown->st), v.figs_sweeps, v.hist_bytes / 1048576.0,
		       v.nhist, v.t.cap * (sizeof(*v.t.v) + 1) / 1048576.0);
	view_free(&v);
	return got == intervals ? 0 : 1;
}
