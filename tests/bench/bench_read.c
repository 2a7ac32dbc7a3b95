// SPDX-License-Identifier: GPL-2.0-or-later
/* Reads a stream to its end through lib's reader and prints records, bytes and seconds. */
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "stream.h"

int main(int argc, char **argv)
{
	struct timespec a, b;
	struct stream_reader *rd;
	struct rec *r = malloc(sizeof(*r));
	unsigned long long n = 0;
	int fd, st;

	if (argc != 2)
		errx(64, "usage: bench-read FILE");
	fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		err(66, "%s", argv[1]);
	rd = stream_reader_new(fd, argv[1]);
	if (!rd || !r)
		err(71, "malloc");
	clock_gettime(CLOCK_MONOTONIC, &a);
	while ((st = stream_read(rd, r)) == STREAM_OK)
		n++;
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (st != STREAM_EOF)
		errx(65, "%s", stream_error(rd));
	printf("%llu %llu %.6f\n", n, (unsigned long long)stream_reader_offset(rd),
	       (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
