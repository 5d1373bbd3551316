#pragma once

/* A screen's worth of cells that the console draws into: the same drawing goes to the terminal
 * (ncursesw) or, for --dump, to plain text, so what tests and docs capture is what the admin sees.
 * Each cell holds one character; a wide character (CJK) takes two cells, the second marked as its
 * continuation. Widths are wcwidth()'s, never byte lengths. Pure: no I/O but canvas_dump(). */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <wchar.h>

typedef enum CanvasAttr {
        ATTR_NORMAL,
        ATTR_BOLD,
        ATTR_DIM,
        ATTR_TITLE,    /* screen title and tab bar */
        ATTR_SELECTED, /* the selected row or tab */
        ATTR_OK,       /* green */
        ATTR_WARN,     /* yellow */
        ATTR_BAD,      /* red */
        ATTR_BAR,      /* a filled bar segment */
        _ATTR_MAX,
} CanvasAttr;

typedef struct Cell {
        wchar_t ch; /* 0 = the right half of the wide character before it */
        uint8_t attr;
} Cell;

typedef struct Canvas {
        int cols, rows;
        bool ascii; /* line drawing and bars in ASCII (a terminal without UTF-8) */
        Cell *cells;
} Canvas;

int canvas_init(Canvas *c, int cols, int rows, bool ascii);
void canvas_done(Canvas *c);
void canvas_clear(Canvas *c);

/* The display width of UTF-8 text (invalid bytes count as one column each, shown as '?'). */
int text_width(const char *s);
/* Draws UTF-8 text at (x, y), at most `max` columns (cut with "…"/"~" when longer; a wide
 * character that would not fit whole is not drawn). Returns the columns used. */
int canvas_text(Canvas *c, int x, int y, int max, CanvasAttr attr, const char *s);
/* Same, padded with spaces to `width` columns, or right-aligned within it. */
int canvas_cell(Canvas *c, int x, int y, int width, bool right, CanvasAttr attr, const char *s);
int canvas_printf(Canvas *c, int x, int y, int max, CanvasAttr attr, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
void canvas_hline(Canvas *c, int x, int y, int w);
/* Blanks w columns at (x, y). */
void canvas_fill(Canvas *c, int x, int y, int w);
/* Draws text wrapped at spaces into lines of at most w columns, from (x, y), at most `lines` of
 * them. Returns the lines used. */
int canvas_wrap(Canvas *c, int x, int y, int w, int lines, CanvasAttr attr, const char *s);
void canvas_box(Canvas *c, int x, int y, int w, int h, const char *title);
/* A bar of w columns, `fill` of it (0..1) filled. */
void canvas_bar(Canvas *c, int x, int y, int w, double fill, CanvasAttr attr);

/* Writes the canvas as UTF-8 text, one line per row, trailing spaces dropped. */
int canvas_dump(const Canvas *c, FILE *f);
