/* Tables, field lists and JSON for arkctl. */

#include <langinfo.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "basic/parse-util.h"
#include "basic/string-util.h"
#include "output.h"

#define TABLE_GAP 2

struct Table {
        size_t n_columns;
        bool fields;  /* label/value list instead of a table */
        bool header;  /* print the first row (the headers) */
        bool oom;     /* an add failed: table_print() reports -ENOMEM */
        char **cells; /* row-major; row 0 holds the headers of a table */
        size_t n_cells, n_alloc;
        bool *shrinkable;
        size_t *min_width;
};

static Table *table_alloc(size_t n_columns, bool fields) {
        Table *t = calloc(1, sizeof(Table));

        if (!t)
                return NULL;
        t->n_columns = n_columns;
        t->fields = fields;
        t->header = !fields;
        t->shrinkable = calloc(n_columns, sizeof(bool));
        t->min_width = calloc(n_columns, sizeof(size_t));
        if (!t->shrinkable || !t->min_width)
                return table_free(t);
        return t;
}

Table *table_new(const char *first_header, ...) {
        const char *h;
        size_t n = 0;
        va_list ap;
        Table *t;

        va_start(ap, first_header);
        for (h = first_header; h; h = va_arg(ap, const char *))
                n++;
        va_end(ap);

        t = table_alloc(n, false);
        if (!t)
                return NULL;

        {
                _cleanup_free_ const char **headers = calloc(n, sizeof(char *));
                size_t i = 0;

                if (!headers)
                        return table_free(t);
                va_start(ap, first_header);
                for (h = first_header; h; h = va_arg(ap, const char *))
                        headers[i++] = h;
                va_end(ap);
                if (table_add_cells(t, headers) < 0)
                        return table_free(t);
        }
        return t;
}

Table *table_new_fields(void) {
        return table_alloc(2, true);
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->shrinkable);
        free(t->min_width);
        free(t);
        return NULL;
}

void table_set_shrinkable(Table *t, size_t column, size_t min_width) {
        if (column >= t->n_columns)
                return;
        t->shrinkable[column] = true;
        t->min_width[column] = MAX(min_width, (size_t) 4);
}

void table_set_header(Table *t, bool header) {
        if (!t->fields)
                t->header = header;
}

size_t table_rows(const Table *t) {
        size_t rows = t->n_columns ? t->n_cells / t->n_columns : 0;

        return t->fields ? rows : rows - 1;
}

int table_add_cells(Table *t, const char *const *cells) {
        size_t n = t->n_cells;

        if (n + t->n_columns > t->n_alloc) {
                size_t a = MAX(t->n_alloc * 2, n + t->n_columns + 16);
                char **c = realloc(t->cells, a * sizeof(char *));

                if (!c) {
                        t->oom = true;
                        return -ENOMEM;
                }
                t->cells = c;
                t->n_alloc = a;
        }
        for (size_t i = 0; i < t->n_columns; i++) {
                const char *s = cells[i];

                if (!s)
                        s = "";
                else if (!s[0] && !t->fields)
                        s = "-";
                t->cells[n + i] = strdup(s);
                if (!t->cells[n + i]) {
                        for (size_t j = 0; j < i; j++)
                                free(t->cells[n + j]);
                        t->oom = true;
                        return -ENOMEM;
                }
        }
        t->n_cells += t->n_columns;
        return 0;
}

int table_add_row(Table *t, ...) {
        _cleanup_free_ const char **cells = calloc(t->n_columns, sizeof(char *));
        va_list ap;

        if (!cells) {
                t->oom = true;
                return -ENOMEM;
        }
        va_start(ap, t);
        for (size_t i = 0; i < t->n_columns; i++)
                cells[i] = va_arg(ap, const char *);
        va_end(ap);
        return table_add_cells(t, cells);
}

/* Display width of a UTF-8 string: one column per code point. Good enough for names,
 * descriptions in Latin scripts and hardware model strings; wide CJK characters count as one. */
static size_t utf8_width(const char *s) {
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        w++;
        return w;
}

static const char *ellipsis(size_t *ret_width) {
        static int utf8 = -1;

        if (utf8 < 0)
                utf8 = streq(nl_langinfo(CODESET), "UTF-8");
        *ret_width = utf8 ? 1 : 3;
        return utf8 ? "\xe2\x80\xa6" : "...";
}

/* Prints s in exactly `width` columns: ellipsized when longer, padded with spaces when `pad`. */
static void print_cell(FILE *f, const char *s, size_t width, bool pad) {
        size_t w = utf8_width(s);

        if (w > width) {
                size_t ew, keep, n = 0;
                const char *e = ellipsis(&ew);
                const char *p = s;

                keep = width > ew ? width - ew : 0;
                /* Copy `keep` code points, never splitting a multi-byte sequence. */
                while (*p) {
                        if (((unsigned char) *p & 0xC0) != 0x80) {
                                if (n == keep)
                                        break;
                                n++;
                        }
                        p++;
                }
                fprintf(f, "%.*s%s", (int) (p - s), s, width >= ew ? e : "");
                w = n + (width >= ew ? ew : 0);
        } else
                fputs(s, f);
        if (pad)
                for (; w < width; w++)
                        fputc(' ', f);
}

size_t output_columns(void) {
        const char *e = getenv("COLUMNS");
        struct winsize ws = {};
        uint32_t c;

        if (e && parse_u32(e, &c) >= 0 && c > 0)
                return c;
        if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0 && ws.ws_col > 0)
                return ws.ws_col;
        return 80;
}

static int table_print_fields(Table *t, FILE *f) {
        size_t label_width = 0, rows = t->n_cells / 2;

        for (size_t r = 0; r < rows; r++)
                label_width = MAX(label_width, utf8_width(t->cells[2 * r]));

        for (size_t r = 0; r < rows; r++) {
                const char *label = t->cells[2 * r], *value = t->cells[2 * r + 1];
                size_t lw = utf8_width(label);
                const char *nl;

                fprintf(f, "%*s%s: ", (int) (label_width - lw), "", label);
                /* Continuation lines start under the first character of the value. */
                while ((nl = strchr(value, '\n'))) {
                        fprintf(f, "%.*s\n%*s", (int) (nl - value), value, (int) label_width + 2, "");
                        value = nl + 1;
                }
                fprintf(f, "%s\n", value);
        }
        return fflush(f) == EOF ? negative_errno() : 0;
}

int table_print(Table *t, FILE *f) {
        size_t n = t->n_columns, rows, total, avail;
        _cleanup_free_ size_t *width = NULL;

        if (t->oom)
                return -ENOMEM;
        if (t->fields)
                return table_print_fields(t, f);

        rows = t->n_cells / n;
        width = calloc(n, sizeof(size_t));
        if (!width)
                return -ENOMEM;
        for (size_t r = t->header ? 0 : 1; r < rows; r++)
                for (size_t c = 0; c < n; c++)
                        width[c] = MAX(width[c], utf8_width(t->cells[r * n + c]));

        total = TABLE_GAP * (n - 1);
        for (size_t c = 0; c < n; c++)
                total += width[c];

        /* Shrink the shrinkable columns, rightmost first, until the table fits: the columns to
         * the left carry what matters more (the model name before the driver name). When
         * nothing can shrink any more the terminal wraps. */
        avail = output_columns();
        for (size_t c = n; c > 0 && total > avail; c--) {
                size_t i = c - 1, cut;

                if (!t->shrinkable[i] || width[i] <= t->min_width[i])
                        continue;
                cut = MIN(total - avail, width[i] - t->min_width[i]);
                width[i] -= cut;
                total -= cut;
        }

        for (size_t r = t->header ? 0 : 1; r < rows; r++) {
                size_t last = n - 1;

                /* No trailing blanks: stop after the last non-empty cell, unpadded. */
                while (last > 0 && isempty(t->cells[r * n + last]))
                        last--;
                for (size_t c = 0; c <= last; c++) {
                        print_cell(f, t->cells[r * n + c], width[c], c != last);
                        if (c != last)
                                fprintf(f, "%*s", TABLE_GAP, "");
                }
                fputc('\n', f);
        }
        return fflush(f) == EOF ? negative_errno() : 0;
}

int output_json(json_t *v) {
        _cleanup_free_ char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

        if (!s)
                return -ENOMEM;
        if (puts(s) == EOF || fflush(stdout) == EOF)
                return negative_errno();
        return 0;
}

const char *format_timestamp(char *buf, size_t l, uint64_t usec) {
        time_t sec;
        struct tm tm;

        if (usec == 0) {
                snprintf(buf, l, "never");
                return buf;
        }
        sec = (time_t) (usec / 1000000);
        if (!localtime_r(&sec, &tm) || strftime(buf, l, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, l, "@%llu", (unsigned long long) (usec / 1000000));
        return buf;
}

const char *strdash(const char *s) {
        return isempty(s) ? "-" : s;
}
