// SPDX-License-Identifier: GPL-2.0-or-later
/* The text form of stream records: tokenising, quoting, times, endpoints, TCP state names. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescape a quoted value in place starting at p (just after the opening quote); returns the
 * position after the closing quote, or NULL. */
static char *unquote(char *p, char **out, size_t *outlen)
{
	char *o = p;

	*out = p;
	while (*p && *p != '"') {
		if (*p == '\\') {
			p++;
			switch (*p) {
			case 'n':
				*o++ = '\n';
				p++;
				break;
			case 't':
				*o++ = '\t';
				p++;
				break;
			case 'r':
				*o++ = '\r';
				p++;
				break;
			case '\\':
			case '"':
				*o++ = *p++;
				break;
			case 'x': {
				int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
				if (lo < 0)
					return NULL;
				*o++ = (char)(hi << 4 | lo);
				p += 3;
				break;
			}
			default:
				return NULL;
			}
		} else {
			*o++ = *p++;
		}
	}
	if (*p != '"')
		return NULL;
	*outlen = o - *out;
	*o = '\0';
	return p + 1;
}

int script_split(char *line, struct script_line *sl, const char **err)
{
	char *p = line;

	sl->verb = NULL;
	sl->nwords = 0;
	for (;;) {
		char *start;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			break;
		start = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '=' && *p != '\n' && *p != '\r')
			p++;
		if (!sl->verb) {
			if (*p == '=') {
				*err = "a line must start with a directive";
				return -1;
			}
			sl->verb = start;
			if (*p)
				*p++ = '\0';
			continue;
		}
		if (sl->nwords == SCRIPT_MAX_WORDS) {
			*err = "too many words";
			return -1;
		}
		struct script_word *w = &sl->w[sl->nwords++];
		w->key = start;
		w->val = NULL;
		w->vlen = 0;
		if (*p == '=') {
			*p++ = '\0';
			if (*p == '"') {
				p = unquote(p + 1, &w->val, &w->vlen);
				if (!p) {
					*err = "bad quoted value";
					return -1;
				}
				if (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
					*err = "junk after a quoted value";
					return -1;
				}
				if (*p)
					p++;
			} else {
				w->val = p;
				while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
					p++;
				w->vlen = p - w->val;
				if (*p)
					*p++ = '\0';
			}
		} else if (*p) {
			*p++ = '\0';
		}
	}
	return sl->verb ? 1 : 0;
}

void script_put_str(FILE *f, const char *key, const void *s, size_t n)
{
	const unsigned char *b = s;

	fprintf(f, " %s=\"", key);
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '"' || b[i] == '\\')
			fprintf(f, "\\%c", b[i]);
		else if (b[i] < 0x20 || b[i] >= 0x7F)
			fprintf(f, "\\x%02x", b[i]);
		else
			fputc(b[i], f);
	}
	fputc('"', f);
}

void script_put_time(FILE *f, const char *key, uint64_t ns)
{
	fprintf(f, " %s=%llu.%09llu", key, (unsigned long long)(ns / 1000000000),
		(unsigned long long)(ns % 1000000000));
}

int script_time(const char *s, uint64_t *ns)
{
	uint64_t whole = 0, frac = 0, scale = 100000000;
	const char *p = s;

	if (!s || !*s)
		return -1;
	for (; isdigit((unsigned char)*p); p++)
		whole = whole * 10 + (*p - '0');
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	if (*p)
		return -1;
	*ns = whole * 1000000000 + frac;
	return 0;
}

int script_endpoint(const char *s, uint8_t *family, uint8_t addr[16], uint16_t *port)
{
	char buf[128];
	const char *colon;
	char *end;
	unsigned long p;

	memset(addr, 0, 16);
	if (strlen(s) >= sizeof(buf))
		return -1;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -1;
		memcpy(buf, s + 1, rb - s - 1);
		buf[rb - s - 1] = '\0';
		if (inet_pton(AF_INET6, buf, addr) != 1)
			return -1;
		*family = FAMILY_INET6;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		memcpy(buf, s, colon - s);
		buf[colon - s] = '\0';
		if (inet_pton(AF_INET, buf, addr) != 1)
			return -1;
		*family = FAMILY_INET;
	}
	p = strtoul(colon + 1, &end, 10);
	if (*end || p > 65535 || end == colon + 1)
		return -1;
	*port = p;
	return 0;
}

void script_put_endpoint(FILE *f, const char *key, int family, const uint8_t addr[16],
			 uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	if (family == FAMILY_INET6) {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		fprintf(f, " %s=[%s]:%u", key, a, port);
	} else {
		inet_ntop(AF_INET, addr, a, sizeof(a));
		fprintf(f, " %s=%s:%u", key, a, port);
	}
}

int script_state(const char *s, uint8_t *state)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s && !*end && v < 256) {
		*state = v;
		return 0;
	}
	for (unsigned i = 1; i <= 12; i++)
		if (strcasecmp(s, tcp_state_name(i)) == 0) {
			*state = i;
			return 0;
		}
	return -1;
}
