// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of lib/util.c: sanitiser, number parsing, time and address formatting. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "stream.h"
#include "tap.h"
#include "util.h"

/* Strict check of sanitiser output: valid UTF-8, no C0/DEL/C1/bidi/invisible code points, and
 * every backslash starts one of the documented escapes. */
static bool safe_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, cp, len, min;

		if (c == '\\') {
			if (p[1] == '\\') {
				p += 2;
				continue;
			}
			if (p[1] == 'x' && p[2] && p[3]) {
				p += 4;
				continue;
			}
			if (p[1] == 'u' && p[2] == '{') {
				const unsigned char *q = p + 3;
				while (*q && *q != '}')
					q++;
				if (*q != '}')
					return false;
				p = q + 1;
				continue;
			}
			return false;
		}
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7F)
				return false;
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2, cp = c & 0x1F, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3, cp = c & 0x0F, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4, cp = c & 0x07, min = 0x10000;
		else
			return false;
		for (unsigned i = 1; i < len; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) ||
		    (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) ||
		    cp == 0xFEFF)
			return false;
		p += len;
	}
	return true;
}

static void test_sanitize(void)
{
	char out[SANITIZE_SIZE(16)];
	int bad = 0;

	/* every byte value at every position of a short name */
	for (int pos = 0; pos < 5; pos++)
		for (int b = 1; b < 256; b++) {
			unsigned char in[6] = "abcde";
			in[pos] = b;
			text_sanitize(out, sizeof(out), in, 5);
			if (!safe_text(out)) {
				if (bad++ < 5)
					printf("# unsafe output for byte 0x%02x at %d: %s\n", b,
					       pos, out);
			}
		}
	ok(!bad, "every byte value at every position gives safe text");

	/* every pair of bytes: catches broken multi-byte handling */
	bad = 0;
	for (int a = 1; a < 256; a++)
		for (int b = 1; b < 256; b++) {
			unsigned char in[4] = { 'x', a, b, 0 };
			text_sanitize(out, sizeof(out), in, 3);
			if (!safe_text(out))
				bad++;
		}
	ok(!bad, "every byte pair gives safe text (%d unsafe)", bad);

	/* random 16-byte names, and the output never overflows SANITIZE_SIZE */
	bad = 0;
	srand(1);
	for (int i = 0; i < 200000; i++) {
		unsigned char in[16];
		char big[SANITIZE_SIZE(16) + 8];
		memset(big, 'Z', sizeof(big));
		for (int j = 0; j < 16; j++)
			in[j] = rand() % 255 + 1;
		size_t n = text_sanitize(big, SANITIZE_SIZE(16), in, 16);
		if (!safe_text(big) || n >= SANITIZE_SIZE(16) || big[SANITIZE_SIZE(16)] != 'Z')
			bad++;
	}
	ok(!bad, "random names: safe and within SANITIZE_SIZE (%d bad)", bad);

	text_sanitize(out, sizeof(out), "curl", 16);
	is_str(out, "curl", "plain ASCII unchanged");
	text_sanitize(out, sizeof(out), "a\x1b[31mb", 16);
	is_str(out, "a\\x1B[31mb", "ESC becomes \\x1B");
	text_sanitize(out, sizeof(out), "a\\b", 16);
	is_str(out, "a\\\\b", "backslash doubled");
	text_sanitize(out, sizeof(out), "t\tn\nr\r\x7f", 16);
	is_str(out, "t\\x09n\\x0Ar\\x0D\\x7F", "TAB LF CR DEL escaped");
	text_sanitize(out, sizeof(out), "caf\xc3\xa9", 16);
	is_str(out, "caf\xc3\xa9", "valid UTF-8 kept");
	text_sanitize(out, sizeof(out), "\xc0\x80", 16);
	is_str(out, "\\xC0\\x80", "overlong encoding escaped byte by byte");
	text_sanitize(out, sizeof(out), "\xed\xa0\x80", 16);
	is_str(out, "\\xED\\xA0\\x80", "surrogate escaped");
	text_sanitize(out, sizeof(out), "\xf4\x90\x80\x80", 16);
	is_str(out, "\\xF4\\x90\\x80\\x80", "above U+10FFFF escaped");
	text_sanitize(out, sizeof(out), "ab\xe2\x80", 16);
	is_str(out, "ab\\xE2\\x80", "sequence cut short escaped");
	text_sanitize(out, sizeof(out), "a\xe2\x80\xaeZ", 16);
	is_str(out, "a\\u{202E}Z", "bidi override escaped");
	text_sanitize(out, sizeof(out),
		      "\xc2\x9b"
		      "1m",
		      16);
	is_str(out, "\\u{009B}1m", "C1 CSI escaped");
	text_sanitize(out, sizeof(out), "\xef\xbb\xbfx", 16);
	is_str(out, "\\u{FEFF}x", "BOM escaped");
	text_sanitize(out, sizeof(out), "abc\0def", 16);
	is_str(out, "abc", "stops at NUL");
	text_sanitize(out, sizeof(out), "abcdefgh", 4);
	is_str(out, "abcd", "stops at srclen");

	char small[6];
	text_sanitize(small, sizeof(small), "ab\x1b", 3);
	is_str(small, "ab", "never cuts an escape in half");
	text_sanitize(small, sizeof(small), "abcd\xc3\xa9", 6);
	is_str(small, "abcd", "never cuts a UTF-8 sequence in half");
	ok(text_width("abc") == 3, "width of ASCII");
}

static void test_parse(void)
{
	uint64_t v;
	double d;
	const char *e;

	ok(parse_uint("42", 1, 100, &v, &e) == 0 && v == 42, "parse_uint in range");
	ok(parse_uint("0", 1, 100, &v, &e) < 0 && !strcmp(e, "too small"), "parse_uint below min");
	ok(parse_uint("101", 1, 100, &v, &e) < 0 && !strcmp(e, "too large"),
	   "parse_uint above max");
	ok(parse_uint("18446744073709551616", 0, UINT64_MAX, &v, &e) < 0 && !strcmp(e, "too large"),
	   "parse_uint overflow");
	ok(parse_uint("-1", 0, 100, &v, &e) < 0 && !strcmp(e, "invalid"), "parse_uint negative");
	ok(parse_uint("12x", 0, 100, &v, &e) < 0 && !strcmp(e, "invalid"), "parse_uint junk");
	ok(parse_uint("", 0, 100, &v, &e) < 0, "parse_uint empty");
	ok(parse_uint(" 5", 0, 100, &v, &e) < 0, "parse_uint leading space");
	ok(parse_uint("65535", 0, 65535, &v, &e) == 0 && v == 65535, "parse_uint at max");

	ok(parse_seconds("1", 1, UINT64_MAX, &v, &e) == 0 && v == 1000000000, "seconds: 1");
	ok(parse_seconds("0.1", 1, UINT64_MAX, &v, &e) == 0 && v == 100000000, "seconds: 0.1");
	ok(parse_seconds("2.5", 1, UINT64_MAX, &v, &e) == 0 && v == 2500000000ull, "seconds: 2.5");
	ok(parse_seconds(".25", 1, UINT64_MAX, &v, &e) == 0 && v == 250000000, "seconds: .25");
	ok(parse_seconds("0", 1, UINT64_MAX, &v, &e) < 0 && !strcmp(e, "too small"),
	   "seconds: 0 refused when min is 1 ns");
	ok(parse_seconds("-1", 1, UINT64_MAX, &v, &e) < 0 && !strcmp(e, "invalid"),
	   "seconds: negative refused");
	ok(parse_seconds("1e3", 1, UINT64_MAX, &v, &e) < 0, "seconds: exponent refused");
	ok(parse_seconds(".", 1, UINT64_MAX, &v, &e) < 0, "seconds: lone dot refused");
	ok(parse_seconds("99999999999999999999", 1, UINT64_MAX, &v, &e) < 0 &&
		   !strcmp(e, "too large"),
	   "seconds: overflow refused");
	ok(parse_seconds("0.0000000001", 1, UINT64_MAX, &v, &e) < 0,
	   "seconds: below a nanosecond is zero, refused");

	ok(parse_double("2", 0, 1000, &d, &e) == 0 && d == 2, "double: 2");
	ok(parse_double("0.5", 0, 1000, &d, &e) == 0 && d == 0.5, "double: 0.5");
	ok(parse_double("0", 0, 1000, &d, &e) < 0, "double: 0 refused (min exclusive)");
	ok(parse_double("nan", 0, 1000, &d, &e) < 0, "double: nan refused");
	ok(parse_double("1001", 0, 1000, &d, &e) < 0, "double: above max");
}

static void test_time_addr(void)
{
	char b[RFC3339_LEN], a[ADDR_LEN];
	uint8_t v4[16] = { 127, 0, 0, 1 }, v6[16] = { 0 }, mapped[16] = { 0 };

	time_format_rfc3339(0, b, sizeof(b));
	is_str(b, "1970-01-01T00:00:00.000Z", "epoch");
	time_format_rfc3339(1700000000123456789LL, b, sizeof(b));
	is_str(b, "2023-11-14T22:13:20.123Z", "milliseconds truncated, UTC");
	time_format_rfc3339(1700000000999999999LL, b, sizeof(b));
	is_str(b, "2023-11-14T22:13:20.999Z", "never rounds into the next second");
	time_format_rfc3339(-1, b, sizeof(b));
	is_str(b, "1969-12-31T23:59:59.999Z", "before the epoch");

	addr_format(FAMILY_INET, v4, a, sizeof(a));
	is_str(a, "127.0.0.1", "IPv4");
	v6[15] = 1;
	addr_format(FAMILY_INET6, v6, a, sizeof(a));
	is_str(a, "::1", "IPv6 loopback");
	mapped[10] = mapped[11] = 0xff;
	mapped[12] = 10, mapped[15] = 7;
	addr_format(FAMILY_INET6, mapped, a, sizeof(a));
	is_str(a, "10.0.0.7", "IPv4-mapped IPv6 shown as IPv4");
	uint8_t doc[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	addr_format(FAMILY_INET6, doc, a, sizeof(a));
	is_str(a, "2001:db8::1", "IPv6 compressed (RFC 5952)");
}

static void test_boot_id(void)
{
	char a[64], b[64] = "", tiny[1];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	if (f && !fgets(b, sizeof(b), f))
		b[0] = '\0';
	if (f)
		fclose(f);
	b[strcspn(b, "\n")] = '\0';
	ok(boot_id_read(a, sizeof(a)) == 0 && strlen(a) == 36 && !strcmp(a, b),
	   "boot_id_read: this boot's id, no newline (%s)", a);
	ok(boot_id_read(tiny, sizeof(tiny)) != 0 || tiny[0] == '\0', "a buffer too small: no id");
}

int main(void)
{
	test_sanitize();
	test_parse();
	test_time_addr();
	test_boot_id();
	return done_testing();
}
