// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The BPF ring buffer read as libbpf's ring_buffer__consume() reads it (the same positions,
 * the same order of loads and stores), with its data mapped once (ring.h says why). The
 * kernel's layout: a page with the consumer's position (ours to write), a page with the
 * producer's, then the data; each record an 8-byte header (its length, with a busy and a
 * discard bit) and its bytes, rounded up to 8, at any place of the ring: the last may wrap
 * past its end to its start.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "ring.h"
#include "vec.h"

void ring_init(struct ring *r, volatile uint64_t *consumer, const volatile uint64_t *producer,
	       const void *data, size_t size, ring_fn fn, void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->consumer = consumer;
	r->producer = producer;
	r->data = data;
	r->size = size;
	r->fn = fn;
	r->ctx = ctx;
}

int ring_open(struct ring *r, int fd, ring_fn fn, void *ctx)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *cons, *prod;
	int e;

	memset(r, 0, sizeof(*r));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_RINGBUF || !info.max_entries ||
	    (info.max_entries & (info.max_entries - 1)))
		return -EINVAL;
	cons = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (cons == MAP_FAILED)
		return -errno;
	/* the producer's page and the data, once */
	prod = mmap(NULL, page + info.max_entries, PROT_READ, MAP_SHARED, fd, (off_t)page);
	if (prod == MAP_FAILED) {
		e = -errno;
		munmap(cons, page);
		return e;
	}
	ring_init(r, cons, prod, (const uint8_t *)prod + page, info.max_entries, fn, ctx);
	r->fd = fd;
	r->maps[0] = cons;
	r->map_len[0] = page;
	r->maps[1] = prod;
	r->map_len[1] = page + info.max_entries;
	return 0;
}

void ring_close(struct ring *r)
{
	for (int i = 0; i < 2; i++)
		if (r->maps[i])
			munmap(r->maps[i], r->map_len[i]);
	free(r->copy);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* The record at pos (its header read: len bytes) where fn can read it whole: in place, or
 * copied when it wraps. NULL without memory. */
static void *record_at(struct ring *r, uint64_t pos, uint32_t len)
{
	size_t mask = r->size - 1, off = (pos + BPF_RINGBUF_HDR_SZ) & mask, first;

	if (off + len <= r->size)
		return (void *)(r->data + off);
	if (len > r->copy_cap && vec_resize(&r->copy, &r->copy_cap, len, 1))
		return NULL;
	first = r->size - off;
	memcpy(r->copy, (const void *)(r->data + off), first);
	memcpy((uint8_t *)r->copy + first, (const void *)r->data, len - first);
	return r->copy;
}

int ring_consume(struct ring *r)
{
	uint64_t cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE), prod;
	size_t mask = r->size - 1;
	bool more;
	int n = 0;

	do {
		more = false;
		prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
		while (cons < prod) {
			const uint32_t *hdr = (const uint32_t *)(r->data + (cons & mask));
			uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE), size;
			uint64_t next;

			if (len & BPF_RINGBUF_BUSY_BIT)
				return n; /* not committed yet: the next call */
			more = true;
			size = len & ~(uint32_t)BPF_RINGBUF_DISCARD_BIT;
			next = cons + ((size + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL);
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				void *rec = record_at(r, cons, size);
				int e;

				if (!rec)
					return -ENOMEM;
				e = r->fn(r->ctx, rec, size);
				if (e < 0) {
					__atomic_store_n(r->consumer, next, __ATOMIC_RELEASE);
					return e;
				}
				n++;
			}
			cons = next;
			__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
		}
	} while (more);
	return n;
}
