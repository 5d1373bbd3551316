/* Request parsing and bearer tokens for the metrics endpoint; see http.h. */

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static const char *find_head_end(const char *buf, size_t len) {
        for (size_t k = 0; k < len; k++) {
                if (buf[k] == '\n' && k + 1 < len && buf[k + 1] == '\n')
                        return buf + k;
                if (buf[k] == '\n' && k + 2 < len && buf[k + 1] == '\r' && buf[k + 2] == '\n')
                        return buf + k;
        }
        return NULL;
}

/* tchar of RFC 9110 §5.6.2: what a header name is made of. */
static bool is_tchar(unsigned char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* One header line, [l, e) without its line end. Keeps Authorization in ret. */
static int parse_header(const char *l, const char *e, HttpRequest *ret, bool *seen_authorization) {
        const char *colon, *v, *ve;

        /* A line starting with white space continues the previous one (obs-fold): RFC 9112 §5.2
         * lets a server refuse it, and two readings of one header are how requests get smuggled. */
        if (l == e || *l == ' ' || *l == '\t')
                return -EBADMSG;
        colon = memchr(l, ':', (size_t) (e - l));
        if (!colon || colon == l)
                return -EBADMSG;
        for (const char *p = l; p < colon; p++)
                if (!is_tchar((unsigned char) *p))
                        return -EBADMSG;
        for (const char *p = colon + 1; p < e; p++)
                if (((unsigned char) *p < 0x20 && *p != '\t') || (unsigned char) *p == 0x7f)
                        return -EBADMSG;
        if ((size_t) (colon - l) != strlen("Authorization") ||
            strncasecmp(l, "Authorization", (size_t) (colon - l)) != 0)
                return 0;

        if (*seen_authorization)
                return -EBADMSG;
        *seen_authorization = true;
        for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
                ;
        for (ve = e; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
                ;
        if ((size_t) (ve - v) >= sizeof(ret->authorization))
                return -EBADMSG;
        memcpy(ret->authorization, v, (size_t) (ve - v));
        ret->authorization[ve - v] = 0;
        return 0;
}

int http_parse_request(const char *buf, size_t len, HttpRequest *ret) {
        const char *end, *nl, *line_end, *sp1, *sp2, *q;
        bool seen_authorization = false;
        size_t l;
        int r;

        if (memchr(buf, 0, len))
                return -EBADMSG;
        end = find_head_end(buf, len);
        if (!end)
                return len >= HTTP_REQUEST_MAX ? -E2BIG : -EAGAIN;
        nl = memchr(buf, '\n', (size_t) (end - buf) + 1);
        line_end = nl;
        if (line_end > buf && line_end[-1] == '\r')
                line_end--;
        for (const char *p = buf; p < line_end; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
                        return -EBADMSG;
        sp1 = memchr(buf, ' ', (size_t) (line_end - buf));
        if (!sp1 || sp1 == buf)
                return -EBADMSG;
        sp2 = memchr(sp1 + 1, ' ', (size_t) (line_end - sp1 - 1));
        if (!sp2 || sp2 == sp1 + 1)
                return -EBADMSG;
        l = (size_t) (line_end - sp2 - 1);
        if (l != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
                return -EBADMSG;
        if ((size_t) (sp1 - buf) >= sizeof(ret->method))
                return -EBADMSG;
        q = memchr(sp1 + 1, '?', (size_t) (sp2 - sp1 - 1));
        l = (size_t) ((q ?: sp2) - sp1 - 1);
        if (l >= sizeof(ret->path) || sp1[1] != '/')
                return -EBADMSG;

        /* The header lines lie between the request line's end and `end`, the line end before the
         * empty line. ret is written only on success, so they go to a copy first. */
        {
                HttpRequest h = {};

                for (const char *p = nl + 1; p <= end;) {
                        const char *e = memchr(p, '\n', (size_t) (end - p) + 1), *next = e + 1;

                        if (e > p && e[-1] == '\r')
                                e--;
                        r = parse_header(p, e, &h, &seen_authorization);
                        if (r < 0)
                                return r;
                        p = next;
                }
                memcpy(ret->authorization, h.authorization, sizeof(ret->authorization));
        }
        memcpy(ret->method, buf, (size_t) (sp1 - buf));
        ret->method[sp1 - buf] = 0;
        memcpy(ret->path, sp1 + 1, l);
        ret->path[l] = 0;
        return 0;
}

bool http_token_is_valid(const char *s) {
        const char *p = s;

        while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
               (*p && strchr("-._~+/", *p)))
                p++;
        if (p == s)
                return false;
        while (*p == '=')
                p++;
        return *p == 0;
}

int http_request_bearer_token(const HttpRequest *req, const char **ret_token) {
        const char *a = req->authorization, *t;

        if (a[0] == 0)
                return -ENOENT;
        if (strncasecmp(a, "Bearer", 6) != 0 || (a[6] != 0 && a[6] != ' '))
                return -EOPNOTSUPP;
        for (t = a + 6; *t == ' '; t++)
                ;
        if (t == a + 6 || !http_token_is_valid(t))
                return -EBADMSG;
        *ret_token = t;
        return 0;
}

bool http_token_equal(const char *given, const char *expected) {
        size_t n = strlen(given), m = strlen(expected);
        /* volatile: the compiler must not turn the loop into an early exit. */
        volatile unsigned char d = n != m;

        if (m == 0)
                return false;
        for (size_t k = 0; k < n; k++)
                d |= (unsigned char) given[k] ^ (unsigned char) expected[k % m];
        return d == 0;
}
