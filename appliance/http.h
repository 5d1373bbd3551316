#pragma once

/* The little of HTTP/1.x the metrics endpoint needs: the request line and the Authorization header
 * of a request whose head has arrived, and bearer tokens (RFC 6750). Pure, libc only; untrusted
 * input (anyone who can connect to the port): fuzzed. */

#include <stdbool.h>
#include <stddef.h>

#define HTTP_REQUEST_MAX 8192
#define HTTP_METHOD_MAX 16
#define HTTP_PATH_MAX 256
#define HTTP_AUTHORIZATION_MAX 1024

typedef struct HttpRequest {
        char method[HTTP_METHOD_MAX];
        char path[HTTP_PATH_MAX]; /* without the query string */
        /* The Authorization header's value without the white space around it; "" when none was
         * sent (or it was empty). */
        char authorization[HTTP_AUTHORIZATION_MAX];
} HttpRequest;

/* Parses the first `len` bytes received. Returns 0 when the head is complete and well-formed,
 * -EAGAIN when the head is not complete yet (and len < HTTP_REQUEST_MAX), -E2BIG when it will not
 * fit, -EBADMSG when it is malformed: a NUL; bytes below 0x20 or above 0x7e in the request line,
 * or one that is not "METHOD SP PATH SP HTTP/1.x", method or path too long; a header line that is
 * not "NAME: VALUE" with a token for NAME (no white space before the colon, RFC 9112 §5.1), that
 * is folded onto the line before (obs-fold), or whose value holds a control character other than
 * TAB; Authorization given twice, or its value longer than HTTP_AUTHORIZATION_MAX - 1. Other
 * headers are checked for form only and not kept. */
int http_parse_request(const char *buf, size_t len, HttpRequest *ret);

/* Whether s is a b64token (RFC 6750 §2.1): one or more of A-Z a-z 0-9 - . _ ~ + /, then any
 * number of '='. The form a bearer token takes on the wire and in a token file. */
bool http_token_is_valid(const char *s);

/* The token of "Authorization: Bearer TOKEN" (the scheme in any case, one or more spaces). Returns
 * 0 with *ret_token pointing into req; -ENOENT when the request has no Authorization header;
 * -EOPNOTSUPP when it names another scheme (Basic, ...); -EBADMSG when the scheme is Bearer but
 * what follows is not one b64token. */
int http_request_bearer_token(const HttpRequest *req, const char **ret_token);

/* Whether `given` equals `expected`, in a time that depends on the length of `given` only (not on
 * where they differ, nor on `expected`'s content), so a client cannot find a secret by timing.
 * An empty `expected` equals nothing. */
bool http_token_equal(const char *given, const char *expected);
