// SPDX-License-Identifier: GPL-2.0-or-later
/* Sanitiser, bounded parsing, time and address formatting shared by every tool. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "stream.h"
#include "util.h"

/* Decode one UTF-8 sequence at s (n bytes available). Returns its length and the code point, or
 * 0 when the bytes are not valid UTF-8 (overlong, surrogate, above U+10FFFF, cut short). */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0], v, min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static bool invisible(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) ||
	       (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

size_t text_sanitize(char *dst, size_t dstsz, const void *src, size_t srclen)
{
	const unsigned char *s = src;
	size_t i = 0, o = 0;

	const unsigned char *nul = memchr(s, 0, srclen);

	if (!dstsz)
		return 0;
	if (nul)
		srclen = nul - s;
	while (i < srclen) {
		char tmp[16];
		size_t tl, sl;
		unsigned cp;
		sl = utf8_decode(s + i, srclen - i, &cp);
		if (!sl) {
			tl = snprintf(tmp, sizeof(tmp), "\\x%02X", s[i]);
			sl = 1;
		} else if (cp == '\\') {
			tl = 2, memcpy(tmp, "\\\\", 2);
		} else if (cp < 0x20 || cp == 0x7F) {
			tl = snprintf(tmp, sizeof(tmp), "\\x%02X", cp);
		} else if (invisible(cp)) {
			tl = snprintf(tmp, sizeof(tmp), "\\u{%04X}", cp);
		} else {
			tl = sl;
			memcpy(tmp, s + i, sl);
		}
		if (o + tl + 1 > dstsz)
			break;
		memcpy(dst + o, tmp, tl);
		o += tl;
		i += sl;
	}
	dst[o] = '\0';
	return o;
}

size_t text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), w = 0;

	while (n) {
		unsigned cp;
		size_t l = utf8_decode(p, n, &cp);
		int cw;

		if (!l) { /* not reached for sanitised text */
			l = 1;
			cp = '?';
		}
		cw = wcwidth((wchar_t)cp);
		/* without a UTF-8 locale wcwidth knows nothing: assume one column */
		w += cw < 0 ? 1 : (size_t)cw;
		p += l;
		n -= l;
	}
	return w;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char **errstr)
{
	unsigned long long v;
	char *end;

	*errstr = NULL;
	if (!s || !*s || *s < '0' || *s > '9') {
		*errstr = "invalid";
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end) {
		*errstr = "invalid";
		return -1;
	}
	if (errno == ERANGE || v > max) {
		*errstr = "too large";
		return -1;
	}
	if (v < min) {
		*errstr = "too small";
		return -1;
	}
	*out = v;
	return 0;
}

int parse_seconds(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns,
		  const char **errstr)
{
	uint64_t whole = 0, frac = 0, scale = 100000000;
	const char *p = s;
	bool digits = false;

	*errstr = NULL;
	if (!s || !*s) {
		*errstr = "invalid";
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		digits = true;
		if (whole > (UINT64_MAX / 1000000000 - 9) / 10) {
			*errstr = "too large";
			return -1;
		}
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			digits = true;
			if (scale) { /* digits past nanoseconds are ignored */
				frac += (*p - '0') * scale;
				scale /= 10;
			}
		}
	}
	if (*p || !digits) {
		*errstr = "invalid";
		return -1;
	}
	whole = whole * 1000000000 + frac;
	if (whole > max_ns) {
		*errstr = "too large";
		return -1;
	}
	if (whole < min_ns) {
		*errstr = "too small";
		return -1;
	}
	*out_ns = whole;
	return 0;
}

int parse_double(const char *s, double min, double max, double *out, const char **errstr)
{
	char *end;
	double v;

	*errstr = NULL;
	if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '.')) {
		*errstr = "invalid";
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || v != v) {
		*errstr = "invalid";
		return -1;
	}
	if (v > max) {
		*errstr = "too large";
		return -1;
	}
	if (v <= min) {
		*errstr = "too small";
		return -1;
	}
	*out = v;
	return 0;
}

void time_format_rfc3339(int64_t ns, char *buf, size_t size)
{
	int64_t sec = ns / 1000000000, rem = ns % 1000000000;
	struct tm tm;
	time_t t;

	if (rem < 0) {
		rem += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, size, "invalid-time");
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000000));
}

void addr_format(int family, const uint8_t addr[16], char *buf, size_t size)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char tmp[INET6_ADDRSTRLEN];

	if (family == FAMILY_INET6 && memcmp(addr, mapped, 12) == 0)
		inet_ntop(AF_INET, addr + 12, tmp, sizeof(tmp));
	else if (family == FAMILY_INET6)
		inet_ntop(AF_INET6, addr, tmp, sizeof(tmp));
	else if (family == FAMILY_INET)
		inet_ntop(AF_INET, addr, tmp, sizeof(tmp));
	else
		snprintf(tmp, sizeof(tmp), "?");
	snprintf(buf, size, "%s", tmp);
}

int boot_id_read(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	int e = 0;

	if (!size)
		return -EINVAL;
	buf[0] = '\0';
	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f)) {
		e = ferror(f) ? -EIO : -ENODATA;
		buf[0] = '\0';
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return e;
}
