/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tcptop-collect's reader of the BPF ring buffer (BPF_MAP_TYPE_RINGBUF), its data mapped once:
 * libbpf's ring_buffer maps it twice in a row (a record that wraps reads on), and the kernel
 * fills every page of a mapping when it is made, so each copy counted in the resident memory
 * (4 MiB of ring, 8 of RSS). Here a record that wraps is copied whole before it is handed on. */
#ifndef TCPTOP_COLLECT_RING_H
#define TCPTOP_COLLECT_RING_H

#include <stddef.h>
#include <stdint.h>

/* A record, as libbpf's ring_buffer_sample_fn: 0 goes on, < 0 stops the read (returned). */
typedef int (*ring_fn)(void *ctx, void *data, size_t size);

struct ring {
	int fd;				   /* the map's descriptor: poll it for data (not owned) */
	volatile uint64_t *consumer;	   /* the consumer's position (our page, written) */
	const volatile uint64_t *producer; /* the producer's position (the kernel's page) */
	const uint8_t *data;		   /* the ring, size bytes (a power of two) */
	size_t size;
	ring_fn fn;
	void *ctx;
	void *copy; /* a record that wraps, copied whole (copy_cap bytes) */
	size_t copy_cap;
	void *maps[2]; /* the mappings made by ring_open (NULL: none) */
	size_t map_len[2];
};

/* Maps the ring buffer map fd (max_entries bytes of ring): 0, or -errno. */
int ring_open(struct ring *r, int fd, ring_fn fn, void *ctx);
/* The same on memory the caller laid out as the kernel does (the unit test's ring). */
void ring_init(struct ring *r, volatile uint64_t *consumer, const volatile uint64_t *producer,
	       const void *data, size_t size, ring_fn fn, void *ctx);
/* Every record committed so far to fn, the consumer's position moved past each: the number
 * handed on, or fn's error (< 0; the position is past the record that failed), or -ENOMEM (a
 * record that wraps could not be copied: it stays for the next call). */
int ring_consume(struct ring *r);
/* Unmaps what ring_open mapped; a zeroed struct ring is fine. */
void ring_close(struct ring *r);

#endif /* TCPTOP_COLLECT_RING_H */
