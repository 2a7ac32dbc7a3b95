/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers every tool needs: the sanitiser, bounded number parsing, time and address formatting. */
#ifndef TCPTOP_UTIL_H
#define TCPTOP_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The project's version: the one place it is defined is the Makefile (VERSION). */
#ifndef TCPTOP_VERSION
#define TCPTOP_VERSION "0.0.0-unknown"
#endif

/*
 * Turn hostile bytes (process names, host names, interface names) into text that is safe for a
 * terminal and a CSV cell: valid UTF-8 with no control characters. Reads src up to srclen bytes or
 * its first NUL. Printable ASCII and valid UTF-8 pass through; a backslash becomes "\\"; C0
 * controls, DEL and each byte of invalid UTF-8 become "\xHH"; C1 controls, bidi and invisible
 * format characters (U+061C, U+200B-U+200F, U+2028-U+202E, U+2060-U+2069, U+FEFF) become
 * "\u{XXXX}". The output is NUL terminated and never cut inside an escape or a UTF-8 sequence.
 * Returns the output length; a dst of SANITIZE_SIZE(srclen) bytes never truncates.
 */
#define SANITIZE_SIZE(n) (4 * (n) + 1)
size_t text_sanitize(char *dst, size_t dstsz, const void *src, size_t srclen);

/* Display columns of a sanitised string (UTF-8, no controls): wide characters count 2. */
size_t text_width(const char *s);

/* strtonum-style: decimal, whole string, min <= v <= max. Returns 0, or -1 with *errstr set to
 * "invalid", "too small" or "too large". */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char **errstr);

/* Seconds with up to 9 decimals ("1", "0.1", "2.5") to nanoseconds, min_ns <= v <= max_ns. */
int parse_seconds(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns,
		  const char **errstr);

/* A positive decimal number such as a speed factor ("2", "0.5"); min < v <= max. */
int parse_double(const char *s, double min, double max, double *out, const char **errstr);

/* RFC 3339 UTC with milliseconds: "2026-11-27T00:01:15.123Z" (25 bytes with the NUL). */
#define RFC3339_LEN 32
void time_format_rfc3339(int64_t ns_since_epoch, char *buf, size_t size);

/* Address text: IPv4 dotted, IPv6 RFC 5952, IPv4-mapped IPv6 shown as IPv4. */
#define ADDR_LEN 48
void addr_format(int family, const uint8_t addr[16], char *buf, size_t size);

/* This boot's id (/proc/sys/kernel/random/boot_id, as the collector writes it in its header),
 * its newline cut, into buf: 0, or -errno with buf "". */
int boot_id_read(char *buf, size_t size);

#endif /* TCPTOP_UTIL_H */
