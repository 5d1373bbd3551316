/* Request-line parsing for the metrics endpoint; see http.h. */

#include <errno.h>
#include <string.h>

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

int http_parse_request(const char *buf, size_t len, HttpRequest *ret) {
        const char *end, *line_end, *sp1, *sp2, *q;
        size_t l;

        if (memchr(buf, 0, len))
                return -EBADMSG;
        end = find_head_end(buf, len);
        if (!end)
                return len >= HTTP_REQUEST_MAX ? -E2BIG : -EAGAIN;
        line_end = memchr(buf, '\n', (size_t) (end - buf) + 1);
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
        memcpy(ret->method, buf, (size_t) (sp1 - buf));
        ret->method[sp1 - buf] = 0;
        memcpy(ret->path, sp1 + 1, l);
        ret->path[l] = 0;
        return 0;
}
