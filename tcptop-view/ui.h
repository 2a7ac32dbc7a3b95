/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one layer that touches curses: terminal setup and restore, colours by meaning, drawing
 * the view, reading keys. */
#ifndef TCPTOP_VIEW_UI_H
#define TCPTOP_VIEW_UI_H

#include <stdbool.h>
#include <stdio.h>

#include "view.h"

/* Start curses on the terminal open as tty (read and write). term NULL uses $TERM. Returns 0,
 * or -1 with a reason in err. */
int ui_open(FILE *tty, const char *term, bool color, char *err, size_t errsz);
/* Leave curses and put the terminal back as it was; safe to call twice. */
void ui_close(void);
/* For fatal signal handlers: async-signal-safe restore of the terminal modes and screen. */
void ui_restore_emergency(void);
/* The terminal changed size (SIGWINCH): ask it, and resize the screen. */
void ui_resize(void);
/* A key, or -1 when none is waiting. */
int ui_key(void);
void ui_draw(struct view *v);
/* Draw only the table region (the benchmark's frame and part of ui_draw). */
void ui_draw_table(struct view *v);
/* Repaint every cell at the next draw (Ctrl-L). */
void ui_repaint(void);
/* For tests and the benchmark: force a size. */
void ui_set_size(int rows, int cols);

#endif /* TCPTOP_VIEW_UI_H */
