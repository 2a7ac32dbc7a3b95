// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: lib/dns.c's reply parser, the one reader of bytes from the network, on any
 * reply. Input: byte 0 (bit 0: the address is IPv6), the address (16 bytes), then the reply.
 * The parser is run twice: against the PTR question of that address, and against the question
 * the reply itself holds when its name is plain labels (so that answers are reached without
 * the fuzzer having to find a question first). Whatever it names must be sanitised text that
 * fits DNS_HOST_MAX, with a TTL below 2^31.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *m, size_t len, const uint8_t *q, size_t qlen)
{
	char name[DNS_HOST_MAX];
	uint32_t ttl = 0;
	uint16_t id = len >= 2 ? (uint16_t)(m[0] << 8 | m[1]) : 0;
	size_t n;

	memset(name, 0x55, sizeof(name));
	if (dns_reply_parse(m, len, id, q, qlen, name, sizeof(name), &ttl) != DNS_REPLY_NAME)
		return;
	n = strnlen(name, sizeof(name));
	if (!n || n == sizeof(name) || ttl >= 0x80000000u)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)name[i] < 0x20 || name[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t q[DNS_NAME_WIRE];
	const uint8_t *m;
	size_t len, qlen, o;

	if (size < 17)
		return 0;
	m = data + 17;
	len = size - 17;
	qlen = dns_ptr_qname(data[0] & 1 ? FAMILY_INET6 : FAMILY_INET, data + 1, q);
	check(m, len, q, qlen);

	/* the reply's own question, when it is labels up to the root */
	for (o = 12; o < len && m[o] && m[o] < 64; o += 1 + (size_t)m[o])
		;
	if (o < len && !m[o] && o + 1 - 12 <= DNS_NAME_WIRE)
		check(m, len, m + 12, o + 1 - 12);
	return 0;
}
