/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The text form of stream records shared by tcptop-gen (text to stream) and tcptop-dump. */
#ifndef TCPTOP_SCRIPT_H
#define TCPTOP_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stream.h"

#define SCRIPT_MAX_WORDS 64

struct script_word {
	char *key;   /* the word before '=' (or the whole word) */
	char *val;   /* unescaped value, NULL for a bare word */
	size_t vlen; /* value length: values may hold NUL bytes */
};

struct script_line {
	char *verb;
	int nwords;
	struct script_word w[SCRIPT_MAX_WORDS];
};

/* Splits line (modified in place) into a verb and words; returns 0 for a blank or comment line,
 * 1 for a directive, -1 on a syntax error with *err set. */
int script_split(char *line, struct script_line *sl, const char **err);

/* Print bytes as a double-quoted value with C escapes, so that script_split reads them back. */
void script_put_str(FILE *f, const char *key, const void *s, size_t n);

/* Seconds with up to 9 decimals, printed exactly. */
void script_put_time(FILE *f, const char *key, uint64_t ns);

/* Parse "S.sss" into ns. */
int script_time(const char *s, uint64_t *ns);

/* Address with port: "1.2.3.4:80" or "[::1]:443". */
int script_endpoint(const char *s, uint8_t *family, uint8_t addr[16], uint16_t *port);
void script_put_endpoint(FILE *f, const char *key, int family, const uint8_t addr[16],
			 uint16_t port);

int script_state(const char *s, uint8_t *state);

#endif /* TCPTOP_SCRIPT_H */
