#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "string-util.h"

const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);

        if (strncmp(s, prefix, l) != 0)
                return NULL;
        return s + l;
}

bool endswith(const char *s, const char *suffix) {
        size_t ls = strlen(s), lx = strlen(suffix);

        return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

const char *path_last(const char *p) {
        const char *slash = strrchr(p, '/');

        return slash ? slash + 1 : p;
}

char *strstrip(char *s) {
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                e--;
        *e = 0;
        return s;
}

char *strprintf(const char *format, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

/* Whether s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool unichar_is_bidi_control(uint32_t c) {
        return c == 0x061c || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
                (c >= 0x2066 && c <= 0x2069);
}

bool utf8_has_display_trap(const char *s) {
        const unsigned char *u = (const unsigned char *) s;

        while (u && *u) {
                uint32_t c;

                if (u[0] < 0x80) {
                        u++;
                        continue;
                }
                if ((u[0] & 0xe0) == 0xc0 && u[1]) {
                        c = ((uint32_t) (u[0] & 0x1f) << 6) | (u[1] & 0x3f);
                        u += 2;
                } else if ((u[0] & 0xf0) == 0xe0 && u[1] && u[2]) {
                        c = ((uint32_t) (u[0] & 0x0f) << 12) | ((uint32_t) (u[1] & 0x3f) << 6) |
                                (u[2] & 0x3f);
                        u += 3;
                } else {
                        u++; /* four-byte characters (and stray bytes) hold none */
                        continue;
                }
                if ((c >= 0x80 && c < 0xa0) || unichar_is_bidi_control(c))
                        return true;
        }
        return false;
}

bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned n, cp;

                if (*p < 0x80) {
                        p++;
                        continue;
                }
                if ((*p & 0xe0) == 0xc0)
                        n = 1, cp = *p & 0x1f;
                else if ((*p & 0xf0) == 0xe0)
                        n = 2, cp = *p & 0x0f;
                else if ((*p & 0xf8) == 0xf0)
                        n = 3, cp = *p & 0x07;
                else
                        return false;
                for (unsigned k = 1; k <= n; k++) {
                        if ((p[k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[k] & 0x3f);
                }
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += n + 1;
        }
        return true;
}

size_t terminal_escape(const char *in, size_t n, char *out) {
        const unsigned char *p = (const unsigned char *) in;
        size_t o = 0;

        for (size_t k = 0; k < n; k++) {
                unsigned len = p[k] < 0x80      ? 1
                        : (p[k] & 0xe0) == 0xc0 ? 2
                        : (p[k] & 0xf0) == 0xe0 ? 3
                        : (p[k] & 0xf8) == 0xf0 ? 4
                                                : 0;
                bool ok = len > 0 && k + len <= n;

                if (len == 1) {
                        if ((p[k] < 0x20 && p[k] != '\n' && p[k] != '\t') || p[k] == 0x7f) {
                                out[o++] = '^';
                                out[o++] = (char) (p[k] ^ 0x40);
                        } else
                                out[o++] = (char) p[k];
                        continue;
                }
                for (unsigned j = 1; ok && j < len; j++)
                        ok = (p[k + j] & 0xc0) == 0x80;
                /* A C1 control (U+0080-U+009F: 0xc2 0x80-0x9f), a stray or cut byte: "?". */
                if (!ok || (p[k] == 0xc2 && p[k + 1] <= 0x9f)) {
                        out[o++] = '?';
                        if (ok)
                                k += len - 1;
                        continue;
                }
                memcpy(out + o, p + k, len);
                o += len;
                k += len - 1;
        }
        return o;
}

const char *printable(const char *s) {
        static _Thread_local char bufs[4][260];
        static _Thread_local unsigned next;
        char *out = bufs[next++ % 4];
        const unsigned char *p = (const unsigned char *) (s ?: "");
        size_t o = 0;

        while (*p && o < 200) {
                unsigned n = *p < 0x80        ? 0
                        : (*p & 0xe0) == 0xc0 ? 1
                        : (*p & 0xf0) == 0xe0 ? 2
                        : (*p & 0xf8) == 0xf0 ? 3
                                              : 9;
                bool ok = n <= 3;
                char one[5] = {};

                for (unsigned k = 1; ok && k <= n; k++)
                        ok = (p[k] & 0xc0) == 0x80;
                if (ok && n > 0) {
                        memcpy(one, p, n + 1);
                        ok = utf8_is_valid(one);
                }
                if (!ok || *p < 0x20 || *p == 0x7f) {
                        o += (size_t) snprintf(out + o, 260 - o, "\\x%02x", *p);
                        p++;
                } else {
                        memcpy(out + o, p, n + 1);
                        o += n + 1;
                        p += n + 1;
                }
        }
        if (*p)
                o += (size_t) snprintf(out + o, 260 - o, "...");
        out[o] = 0;
        return out;
}

void utf8_sanitize(char *s) {
        char one[5];

        for (unsigned char *p = (unsigned char *) s; p && *p;) {
                unsigned n = *p < 0x80        ? 0
                        : (*p & 0xe0) == 0xc0 ? 1
                        : (*p & 0xf0) == 0xe0 ? 2
                        : (*p & 0xf8) == 0xf0 ? 3
                                              : 9;
                bool ok = n <= 3;

                for (unsigned k = 1; ok && k <= n; k++)
                        ok = (p[k] & 0xc0) == 0x80;
                if (ok && n > 0) {
                        memcpy(one, p, n + 1);
                        one[n + 1] = 0;
                        ok = utf8_is_valid(one);
                }
                if (!ok) {
                        *p++ = '?';
                        continue;
                }
                p += n + 1;
        }
}

int set_error_sentence(char **ret_error, int r, const char *format, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        if (ret_error) {
                free(*ret_error);
                *ret_error = s;
        } else
                free(s);
        return s ? r : -ENOMEM;
}

int free_and_strdup(char **p, const char *s) {
        char *t = NULL;

        if (s) {
                t = strdup(s);
                if (!t)
                        return -ENOMEM;
        }
        free(*p);
        *p = t;
        return 0;
}

static bool strbuf_reserve(StrBuf *b, size_t extra) {
        if (b->oom)
                return false;
        if (b->len + extra + 1 > b->alloc) {
                size_t a = MAX(b->alloc * 2, b->len + extra + 64);
                char *n = realloc(b->buf, a);
                if (!n) {
                        b->oom = true;
                        return false;
                }
                b->buf = n;
                b->alloc = a;
        }
        return true;
}

void strbuf_append(StrBuf *b, const char *s) {
        size_t l = strlen(s);

        if (!strbuf_reserve(b, l))
                return;
        memcpy(b->buf + b->len, s, l + 1);
        b->len += l;
}

void strbuf_printf(StrBuf *b, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0) {
                s = NULL;
                b->oom = true;
                return;
        }
        strbuf_append(b, s);
}

void strbuf_append_xml(StrBuf *b, const char *s) {
        _cleanup_free_ char *e = xml_escape(s);

        if (!e) {
                b->oom = true;
                return;
        }
        strbuf_append(b, e);
}

char *strbuf_steal(StrBuf *b) {
        char *r;

        if (b->oom) {
                strbuf_done(b);
                return NULL;
        }
        if (!b->buf && !strbuf_reserve(b, 0))
                return NULL;
        if (b->len == 0)
                b->buf[0] = 0;
        r = b->buf;
        *b = (StrBuf) {};
        return r;
}

void strbuf_done(StrBuf *b) {
        free(b->buf);
        *b = (StrBuf) {};
}

char *xml_escape(const char *s) {
        StrBuf b = {};
        char one[2] = {};

        if (!strbuf_reserve(&b, strlen(s)))
                return NULL;
        for (; *s; s++) {
                switch (*s) {
                case '&':
                        strbuf_append(&b, "&amp;");
                        break;
                case '<':
                        strbuf_append(&b, "&lt;");
                        break;
                case '>':
                        strbuf_append(&b, "&gt;");
                        break;
                case '\'':
                        strbuf_append(&b, "&apos;");
                        break;
                case '"':
                        strbuf_append(&b, "&quot;");
                        break;
                default:
                        one[0] = *s;
                        strbuf_append(&b, one);
                }
        }
        return strbuf_steal(&b);
}

char **strv_free(char **l) {
        if (l)
                for (char **i = l; *i; i++)
                        free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        if (l)
                while (l[n])
                        n++;
        return n;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c = realloc(*l, sizeof(char *) * (n + 2));

        if (!c)
                return -ENOMEM;
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);

        if (!v)
                return -ENOMEM;
        if (strv_push(l, v) < 0) {
                free(v);
                return -ENOMEM;
        }
        return 0;
}

bool strv_contains(char *const *l, const char *s) {
        if (l)
                for (char *const *i = l; *i; i++)
                        if (streq(*i, s))
                                return true;
        return false;
}

char *strip_final_period(char *s) {
        size_t n = strlen(s);

        while (n > 0 && (s[n - 1] == '.' || s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t'))
                s[--n] = 0;
        return s;
}

int strv_copy(char ***dst, char *const *src) {
        char **l = NULL;

        for (char *const *p = src; p && *p; p++)
                if (strv_extend(&l, *p) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        strv_free(*dst);
        *dst = l;
        return 0;
}

size_t string_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        /* Three rows of the dynamic programming table: i - 2, i - 1 and i. */
        size_t d[3][256];

        if (la > 255 || lb > 255)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];

                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = a[i - 1] != b[j - 1], v = prev[j - 1] + cost;

                        v = MIN(v, prev[j] + 1);
                        v = MIN(v, cur[j - 1] + 1);
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                                v = MIN(v, prev2[j - 2] + 1);
                        cur[j] = v;
                }
        }
        return d[la % 3][lb];
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

char *strv_join(char *const *l, const char *sep) {
        StrBuf b = {};

        for (char *const *s = l; s && *s; s++) {
                if (s != l)
                        strbuf_append(&b, sep);
                strbuf_append(&b, *s);
        }
        return strbuf_steal(&b);
}

char **strv_sort(char **l) {
        if (l)
                qsort(l, strv_length(l), sizeof(char *), compare_strings);
        return l;
}

int strdup_or_null(char **dst, const char *s) {
        *dst = s ? strdup(s) : NULL;
        return !s || *dst ? 0 : -ENOMEM;
}
