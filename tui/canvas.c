/* The console's drawing surface (canvas.h). */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "canvas.h"
#include "basic/macro.h"
#include "basic/string-util.h"

int canvas_init(Canvas *c, int cols, int rows, bool ascii) {
        if (cols < 1 || rows < 1 || cols > 1000 || rows > 1000)
                return -EINVAL;
        *c = (Canvas) { .cols = cols, .rows = rows, .ascii = ascii };
        c->cells = calloc((size_t) cols * (size_t) rows, sizeof(Cell));
        if (!c->cells)
                return -ENOMEM;
        canvas_clear(c);
        return 0;
}

void canvas_done(Canvas *c) {
        free(c->cells);
        c->cells = NULL;
}

void canvas_clear(Canvas *c) {
        for (int k = 0; k < c->cols * c->rows; k++)
                c->cells[k] = (Cell) { .ch = L' ' };
}

static Cell *at(Canvas *c, int x, int y) {
        return x >= 0 && y >= 0 && x < c->cols && y < c->rows ? &c->cells[y * c->cols + x] : NULL;
}

/* One character of UTF-8 at s: its code point and length; an invalid byte is '?' of length 1, and
 * a control or bidirectional formatting character (which would make text display as something
 * else, say a name written backwards) is '?' too. */
static wchar_t next_char(const char *s, size_t *len) {
        mbstate_t st = {};
        wchar_t w;
        size_t n = mbrtowc(&w, s, strlen(s), &st);

        if (n == (size_t) -1 || n == (size_t) -2 || n == 0) {
                *len = 1;
                return L'?';
        }
        *len = n;
        if ((uint32_t) w < 0x20 || ((uint32_t) w >= 0x7f && (uint32_t) w < 0xa0) ||
            unichar_is_bidi_control((uint32_t) w))
                return L'?';
        return w;
}

static int char_width(wchar_t w) {
        int n = wcwidth(w);

        return n < 0 ? 1 : n; /* control characters are drawn as one '?' */
}

int text_width(const char *s) {
        int w = 0;

        while (s && *s) {
                size_t len;
                wchar_t ch = next_char(s, &len);

                w += char_width(ch);
                s += len;
        }
        return w;
}

/* Makes cell (x, y) a whole cell of its own: a wide character it is half of becomes a blank. */
static void split(Canvas *c, int x, int y) {
        Cell *a = at(c, x, y), *l = at(c, x - 1, y), *r = at(c, x + 1, y);

        if (!a)
                return;
        if (a->ch == 0 && l) /* the right half: its left half goes */
                *l = (Cell) { .ch = L' ', .attr = l->attr };
        else if (a->ch != 0 && r && r->ch == 0) /* the left half: its right half goes */
                *r = (Cell) { .ch = L' ', .attr = r->attr };
}

/* Puts one character of display width cw at (x, y). */
static void put(Canvas *c, int x, int y, wchar_t ch, int cw, CanvasAttr attr) {
        Cell *a = at(c, x, y);

        if (!a)
                return;
        if (cw == 2 && !at(c, x + 1, y))
                return; /* a wide character never lands in the last column */
        split(c, x, y);
        if (cw == 2) {
                split(c, x + 1, y);
                *at(c, x + 1, y) = (Cell) { .ch = 0, .attr = (uint8_t) attr };
        }
        *a = (Cell) { .ch = cw == 0 ? L' ' : ch, .attr = (uint8_t) attr };
}

int canvas_text(Canvas *c, int x, int y, int max, CanvasAttr attr, const char *s) {
        int used = 0, total = text_width(s);

        if (max < 0 || x + max > c->cols)
                max = c->cols - x;
        if (max <= 0 || y < 0 || y >= c->rows)
                return 0;
        while (s && *s) {
                size_t len;
                wchar_t ch = next_char(s, &len);
                int cw = char_width(ch);

                if (ch < 0x20 || ch == 0x7f)
                        ch = L'?';
                /* Cut: keep room for the ellipsis when the rest does not fit. */
                if (total > max && used + cw > max - 1) {
                        put(c, x + used, y, c->ascii ? L'~' : L'…', 1, attr);
                        return used + 1;
                }
                if (used + cw > max)
                        break;
                put(c, x + used, y, ch, cw, attr);
                used += cw;
                s += len;
        }
        return used;
}

int canvas_cell(Canvas *c, int x, int y, int width, bool right, CanvasAttr attr, const char *s) {
        int w = text_width(s);

        if (right && w < width)
                x += width - w;
        canvas_text(c, x, y, width, attr, s);
        return width;
}

int canvas_printf(Canvas *c, int x, int y, int max, CanvasAttr attr, const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return canvas_text(c, x, y, max, attr, buf);
}

void canvas_fill(Canvas *c, int x, int y, int w) {
        for (int k = 0; k < w; k++)
                put(c, x + k, y, L' ', 1, ATTR_NORMAL);
}

int canvas_wrap(Canvas *c, int x, int y, int w, int lines, CanvasAttr attr, const char *s) {
        int used = 0;

        while (s && *s && used < lines) {
                const char *p = s, *cut = NULL;
                int width = 0;

                /* As far as fits; back to the last space when the rest goes on. */
                while (*p) {
                        size_t len;
                        wchar_t ch = next_char(p, &len);
                        int cw = char_width(ch);

                        if (width + cw > w)
                                break;
                        if (ch == L' ')
                                cut = p;
                        width += cw;
                        p += len;
                }
                if (*p && cut && cut > s && used < lines - 1)
                        p = cut;
                {
                        char line[1024];
                        size_t n = MIN((size_t) (p - s), sizeof(line) - 1);

                        memcpy(line, s, n);
                        line[n] = 0;
                        canvas_text(c, x, y + used, w, attr, used == lines - 1 ? s : line);
                }
                used++;
                s = p;
                while (*s == ' ')
                        s++;
        }
        return used;
}

void canvas_hline(Canvas *c, int x, int y, int w) {
        for (int k = 0; k < w; k++)
                put(c, x + k, y, c->ascii ? L'-' : L'─', 1, ATTR_DIM);
}

void canvas_box(Canvas *c, int x, int y, int w, int h, const char *title) {
        wchar_t tl = c->ascii ? L'+' : L'┌', tr = c->ascii ? L'+' : L'┐', bl = c->ascii ? L'+' : L'└',
                br = c->ascii ? L'+' : L'┘', hz = c->ascii ? L'-' : L'─', vt = c->ascii ? L'|' : L'│';

        if (w < 2 || h < 2)
                return;
        for (int k = 1; k < w - 1; k++) {
                put(c, x + k, y, hz, 1, ATTR_DIM);
                put(c, x + k, y + h - 1, hz, 1, ATTR_DIM);
        }
        for (int k = 1; k < h - 1; k++) {
                put(c, x, y + k, vt, 1, ATTR_DIM);
                put(c, x + w - 1, y + k, vt, 1, ATTR_DIM);
        }
        put(c, x, y, tl, 1, ATTR_DIM);
        put(c, x + w - 1, y, tr, 1, ATTR_DIM);
        put(c, x, y + h - 1, bl, 1, ATTR_DIM);
        put(c, x + w - 1, y + h - 1, br, 1, ATTR_DIM);
        if (title && *title) {
                int n = canvas_text(c, x + 2, y, w - 4, ATTR_BOLD, " ");
                n += canvas_text(c, x + 2 + n, y, w - 4 - n, ATTR_BOLD, title);
                canvas_text(c, x + 2 + n, y, w - 4 - n, ATTR_BOLD, " ");
        }
}

void canvas_bar(Canvas *c, int x, int y, int w, double fill, CanvasAttr attr) {
        int full;

        if (w <= 0)
                return;
        if (fill < 0)
                fill = 0;
        if (fill > 1)
                fill = 1;
        full = (int) (fill * w + 0.5);
        for (int k = 0; k < w; k++)
                put(c, x + k, y, k < full ? (c->ascii ? L'#' : L'█') : (c->ascii ? L'.' : L'░'), 1,
                    k < full ? attr : ATTR_DIM);
}

int canvas_dump(const Canvas *c, FILE *f) {
        for (int y = 0; y < c->rows; y++) {
                int last = c->cols - 1;

                while (last >= 0 && c->cells[y * c->cols + last].ch == L' ')
                        last--;
                for (int x = 0; x <= last; x++) {
                        wchar_t ch = c->cells[y * c->cols + x].ch;
                        char mb[MB_LEN_MAX];
                        mbstate_t st = {};
                        size_t n;

                        if (ch == 0)
                                continue; /* the right half of a wide character */
                        n = wcrtomb(mb, ch, &st);
                        if (n == (size_t) -1)
                                fputc('?', f);
                        else
                                fwrite(mb, 1, n, f);
                }
                fputc('\n', f);
        }
        return ferror(f) ? -EIO : 0;
}
