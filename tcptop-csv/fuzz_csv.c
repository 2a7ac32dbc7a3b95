// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: tcptop-csv's snapshot reader and row writer on any bytes, in the format and
 * options chosen by byte 0, the output checked for what the writer promises. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rows.h"
#include "snaptab.h"
#include "stream.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every CSV line has as many cells as the header row, every JSON line is one object; no control
 * byte but the line end reaches the output (kernel strings are sanitised). */
static void check_output(int fd, const struct rows_opts *o)
{
	static char buf[1 << 20];
	off_t len = lseek(fd, 0, SEEK_CUR);
	ssize_t n;
	size_t i, cells = 1, ncols = 0;
	bool quoted = false;

	if (len <= 0)
		return;
	if (len > (off_t)sizeof(buf))
		len = sizeof(buf); /* checked up to here */
	n = pread(fd, buf, len, 0);
	if (n != len)
		abort();
	for (i = 0; i < (size_t)n; i++) {
		unsigned char c = buf[i];

		if (c == '\n') {
			if (!ncols)
				ncols = cells; /* the header row */
			if (quoted || (o->format == ROWS_CSV && (cells != ncols || ncols < 16)))
				abort();
			if (o->format == ROWS_JSONL && (i == 0 || buf[i - 1] != '}'))
				abort();
			cells = 1;
			continue;
		}
		if (c == '\r' && o->crlf && i + 1 < (size_t)n && buf[i + 1] == '\n')
			continue;
		if (c < 0x20 || c == 0x7f)
			abort();
		if (o->format == ROWS_CSV) {
			if (c == '"')
				quoted = !quoted; /* "" inside a cell toggles twice */
			else if (c == ',' && !quoted)
				cells++;
		}
	}
	if (len == n && n > 0 && buf[n - 1] != '\n' && len < (off_t)sizeof(buf))
		abort(); /* written out on row boundaries only */
}

/* --resolve's lookup, played by the address itself: its 16 bytes as a name (sanitised, as
 * dns_host() gives names), or no name when its first byte is odd. */
static bool fake_host(void *ctx, int family, const uint8_t addr[16], bool ask, char *buf,
		      size_t size)
{
	(void)ctx;
	(void)family;
	(void)ask;
	if (addr[0] & 1)
		return false;
	text_sanitize(buf, size, addr, 16);
	return true;
}

/* The resolver's own rows, played by a rule on the row and its host: UDP from port 5353 to 53
 * of a host whose boot id starts with 'a'. */
static bool fake_own(void *ctx, const struct rec_snap_row *r, const char *boot_id)
{
	(void)ctx;
	return r->id.proto == PROTO_UDP && r->id.lport == 5353 && r->id.rport == 53 && boot_id &&
	       boot_id[0] == 'a';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int out_fd = -1;
	static struct rec r;
	uint8_t k = size ? data[0] : 0;
	struct rows_opts o = {
		.format = k & 1 ? ROWS_JSONL : ROWS_CSV,
		.excel_safe = !(k & 1) && (k & 2),
		.crlf = !(k & 1) && (k & 4),
		/* bits 3-4: one row per connection, per process or per cgroup (--group) */
		.group = (k >> 3 & 3) == 1   ? GROUP_PROCESS
			 : (k >> 3 & 3) == 2 ? GROUP_CGROUP
					     : GROUP_NONE,
		/* bit 5: --resolve (its own queries left out) */
		.remote_host = (k & 0x20) && (k >> 3 & 3) == 0 ? fake_host : NULL,
		.own_row = k & 0x20 ? fake_own : NULL,
		/* bit 6: --changes (connection rows only) */
		.changes = (k & 0x40) && (k >> 3 & 3) == 0,
	};
	struct stream_reader *rd;
	struct rows *w;
	struct snaptab tab = { 0 };
	struct rec_snap_row *row;
	bool in_snap = false, header = false;
	int st, kind = 0, e;

	if (out_fd < 0)
		out_fd = memfd_create("fuzz-csv", MFD_CLOEXEC);
	if (out_fd < 0 || ftruncate(out_fd, 0) || lseek(out_fd, 0, SEEK_SET))
		abort();
	rd = stream_reader_mem(data, size, "fuzz");
	w = rows_new(out_fd, &o);
	if (!rd || !w)
		abort();
	/* byte 0's high bit: any kind, as a reader that was not told what to expect */
	stream_reader_expect(rd, k & 0x80 ? 0 : STREAM_KIND_SNAPSHOT);
	/* the same decisions as tcptop-csv's loop (main.c), minus the exits */
	while ((st = stream_read_row(rd, &r, row = snaptab_place(&tab))) == STREAM_OK) {
		if (!row)
			row = &r.u.row;
		switch (r.type) {
		case REC_HEADER:
			if (!header)
				rows_header(w);
			header = true;
			in_snap = false;
			rows_section(w, &r.u.header);
			snaptab_section(&tab, &r.u.header);
			if (rows_section_host(w, &r.u.header))
				abort();
			break;
		case REC_HOST:
		case REC_DELTA_HOST:
			if (rows_host(w, &r.u.host))
				abort();
			break;
		case REC_CGROUP:
			rows_cgroup(w, r.u.cgroup.host, r.u.cgroup.id, r.u.cgroup.path);
			break;
		case REC_SNAP_BEGIN:
		case REC_DELTA_BEGIN:
			if (in_snap)
				goto out;
			kind = snaptab_begin(&tab, r.type, &r.u.snap_begin);
			if (kind != SNAPTAB_SKIP &&
			    rows_snapshot(w, &r.u.snap_begin, kind == SNAPTAB_FULL))
				abort();
			in_snap = true;
			break;
		case REC_SNAP_ROW:
		case REC_DELTA_ROW:
			e = snaptab_add(&tab, r.type, row);
			if (!in_snap || e == -EPROTO)
				goto out;
			if (e || (r.type == REC_SNAP_ROW && rows_add(w, row)))
				abort(); /* a memfd never refuses, nor malloc here */
			break;
		case REC_SNAP_END:
		case REC_DELTA_END:
			in_snap = false;
			e = snaptab_end(&tab);
			if (e < 0)
				abort();
			if (e != SNAPTAB_READY)
				break;
			if (kind == SNAPTAB_DELTA) {
				if (snaptab_rows(&tab) != tab.want)
					abort(); /* READY means the table has its rows */
				if (rows_delta(w, &tab))
					abort();
			}
			if (rows_snapshot_end(w) || rows_flush(w))
				abort();
			break;
		case REC_END:
			in_snap = false;
			if (rows_snapshot_end(w) || rows_flush(w))
				abort();
			break;
		default:
			break;
		}
	}
out:
	if (rows_flush(w))
		abort();
	check_output(out_fd, &o);
	stream_reader_free(rd);
	rows_free(w);
	snaptab_free(&tab);
	return 0;
}
