#pragma once

/* The little of HTTP/1.x the metrics endpoint needs: the request line of a request whose head has
 * arrived. Pure; untrusted input (anyone who can connect to the port): fuzzed. */

#include <stddef.h>

#define HTTP_REQUEST_MAX 8192
#define HTTP_METHOD_MAX 16
#define HTTP_PATH_MAX 256

typedef struct HttpRequest {
        char method[HTTP_METHOD_MAX];
        char path[HTTP_PATH_MAX];       /* without the query string */
} HttpRequest;

/* Parses the first `len` bytes received. Returns 0 when the head is complete and the request line
 * is well-formed, -EAGAIN when the head is not complete yet (and len < HTTP_REQUEST_MAX),
 * -E2BIG when it will not fit, -EBADMSG when it is malformed (bytes below 0x20 or above 0x7e in
 * the request line, not "METHOD SP PATH SP HTTP/1.x", method or path too long, a NUL). */
int http_parse_request(const char *buf, size_t len, HttpRequest *ret);
