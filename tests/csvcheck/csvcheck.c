// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * csvcheck: a strict CSV reader for the tests, built on libcsv's own parser (an implementation
 * independent of Python's csv module). Prints each record as one line, its fields joined by TAB,
 * and fails (exit 1, a message naming the record) when the input does not parse in strict mode,
 * when a record has a different number of fields than the header or fewer than --min-fields,
 * when a field is not valid UTF-8 or holds a control character, or when the last line is not
 * complete. Usage: csvcheck [--min-fields N] [FILE]
 */
#include <err.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>

struct check {
	unsigned long record; /* 1 = the header */
	size_t fields, header_fields, min_fields;
	bool bad;
};

static void fail(struct check *c, const char *what)
{
	if (!c->bad)
		warnx("record %lu: %s", c->record, what);
	c->bad = true;
}

/* Valid UTF-8 without C0, DEL or C1 controls. */
static bool clean_text(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], v, len, min;
		if (c < 0x20 || c == 0x7F)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2, v = c & 0x1F, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3, v = c & 0x0F, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4, v = c & 0x07, min = 0x10000;
		else
			return false;
		if (i + len > n)
			return false;
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			v = v << 6 | (s[i + k] & 0x3F);
		}
		if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ||
		    (v >= 0x80 && v <= 0x9F))
			return false;
		i += len;
	}
	return true;
}

static void on_field(void *s, size_t n, void *data)
{
	struct check *c = data;

	if (c->fields)
		putchar('\t');
	if (!clean_text(s, n))
		fail(c, "a field is not valid UTF-8 or holds a control character");
	fwrite(s, 1, n, stdout);
	c->fields++;
}

static void on_record(int term, void *data)
{
	struct check *c = data;

	(void)term;
	putchar('\n');
	if (c->record == 1)
		c->header_fields = c->fields;
	else if (c->fields != c->header_fields)
		fail(c, "not as many fields as the header");
	if (c->fields < c->min_fields)
		fail(c, "fewer fields than --min-fields");
	c->record++;
	c->fields = 0;
}

int main(int argc, char **argv)
{
	struct check c = { .record = 1 };
	struct csv_parser p;
	char buf[65536];
	char last = '\n';
	ssize_t n;
	int fd = STDIN_FILENO;

	if (argc > 2 && strcmp(argv[1], "--min-fields") == 0) {
		c.min_fields = strtoul(argv[2], NULL, 10);
		argc -= 2, argv += 2;
	}
	if (argc > 2)
		errx(2, "usage: csvcheck [--min-fields N] [FILE]");
	if (argc == 2 && (fd = open(argv[1], O_RDONLY)) < 0)
		err(2, "%s", argv[1]);
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI))
		errx(2, "csv_init failed");
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (csv_parse(&p, buf, n, on_field, on_record, &c) != (size_t)n) {
			fail(&c, csv_strerror(csv_error(&p)));
			break;
		}
		last = buf[n - 1];
	}
	if (n < 0)
		err(2, "read");
	if (!c.bad && csv_fini(&p, on_field, on_record, &c))
		fail(&c, csv_strerror(csv_error(&p)));
	if (last != '\n')
		fail(&c, "the last line is not complete (no newline at the end)");
	csv_free(&p);
	if (fflush(stdout))
		err(2, "write");
	if (!c.bad)
		fprintf(stderr, "csvcheck: %lu records of %zu fields\n", c.record - 1,
			c.header_fields);
	return c.bad ? 1 : 0;
}
