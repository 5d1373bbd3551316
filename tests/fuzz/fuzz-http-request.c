/* libFuzzer target for http_parse_request(): the metrics endpoint reads whatever anyone who can
 * reach its port sends. Beyond the sanitizers, checks the contract: on success the method and
 * path are NUL-terminated, printable, the path starts with '/' and has no '?'; -EAGAIN only for
 * inputs shorter than the limit. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        } else if (rc == -EAGAIN) {
                if (size >= HTTP_REQUEST_MAX)
                        abort();
        } else if (rc != -EBADMSG && rc != -E2BIG)
                abort();
        return 0;
}
