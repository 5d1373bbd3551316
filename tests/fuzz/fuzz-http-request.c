/* libFuzzer target for http_parse_request() and http_request_bearer_token(): the metrics
 * endpoint reads whatever anyone who can reach its port sends, the bearer token included. Beyond
 * the sanitizers, checks the contract: on success the method and path are NUL-terminated,
 * printable, the path starts with '/' and has no '?'; the Authorization value is NUL-terminated,
 * without control characters but TAB and without white space at either end; a bearer token taken
 * from it is a valid b64token inside it, and equals itself and not a changed copy; -EAGAIN only
 * for inputs shorter than the limit. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_authorization(const HttpRequest *r) {
        const char *a = r->authorization, *t = NULL;
        size_t n;
        int rc;

        if (!memchr(a, 0, sizeof(r->authorization)))
                abort();
        n = strlen(a);
        if (n > 0 && (a[0] == ' ' || a[0] == '\t' || a[n - 1] == ' ' || a[n - 1] == '\t'))
                abort();
        for (const char *p = a; *p; p++)
                if (((unsigned char) *p < 0x20 && *p != '\t') || (unsigned char) *p == 0x7f)
                        abort();

        rc = http_request_bearer_token(r, &t);
        if (rc == 0) {
                char copy[HTTP_AUTHORIZATION_MAX];

                if (!t || t < a || t >= a + n || !http_token_is_valid(t))
                        abort();
                if (!http_token_equal(t, t))
                        abort();
                strcpy(copy, t);
                copy[strlen(copy) - 1] ^= 1;
                if (http_token_equal(copy, t))
                        abort();
        } else if (rc == -ENOENT) {
                if (n != 0)
                        abort();
        } else if (rc != -EOPNOTSUPP && rc != -EBADMSG)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HttpRequest r;
        int rc;

        memset(&r, 0x55, sizeof(r));
        rc = http_parse_request((const char *) data, size, &r);
        if (rc == 0) {
                if (!memchr(r.method, 0, sizeof(r.method)) || !memchr(r.path, 0, sizeof(r.path)))
                        abort();
                if (r.method[0] == 0 || r.path[0] != '/' || strchr(r.path, '?'))
                        abort();
                for (const char *p = r.method; *p; p++)
                        if ((unsigned char) *p < 0x21 || (unsigned char) *p > 0x7e)
                                abort();
                check_authorization(&r);
        } else if (rc == -EAGAIN) {
                if (size >= HTTP_REQUEST_MAX)
                        abort();
        } else if (rc != -EBADMSG && rc != -E2BIG)
                abort();
        return 0;
}
