/* The metrics endpoint's request parser: the request line, the Authorization header and the
 * headers' form, and bearer tokens (RFC 6750): what is a token, how one is taken from a request,
 * and the comparison that must not stop at the first difference. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http.h"

static int parse(const char *s, HttpRequest *r) {
        return http_parse_request(s, strlen(s), r);
}

static void test_good(void **state) {
        HttpRequest r;

        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &r), 0);
        assert_string_equal(r.method, "GET");
        assert_string_equal(r.path, "/metrics");
        assert_int_equal(parse("GET /metrics?x=1 HTTP/1.0\n\n", &r), 0);
        assert_string_equal(r.path, "/metrics");
        assert_int_equal(parse("POST /other HTTP/1.1\r\n\r\n", &r), 0);
        assert_string_equal(r.method, "POST");
        assert_string_equal(r.authorization, ""); /* none sent */
}

/* What Prometheus (Go's net/http) and curl send. */
static void test_authorization(void **state) {
        HttpRequest r;

        assert_int_equal(
                parse("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nUser-Agent: Prometheus/2.45.3\r\n"
                      "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
                      "Authorization: Bearer 0123456789abcdef0123456789abcdef\r\n"
                      "X-Prometheus-Scrape-Timeout-Seconds: 10\r\nAccept-Encoding: gzip\r\n\r\n",
                      &r),
                0);
        assert_string_equal(r.authorization, "Bearer 0123456789abcdef0123456789abcdef");

        /* The name in any case; white space around the value is not part of it. */
        assert_int_equal(parse("GET /metrics HTTP/1.0\nauthorization: \t Bearer abc \t\n\n", &r), 0);
        assert_string_equal(r.authorization, "Bearer abc");
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nAUTHORIZATION:Basic dXNlcjpwYXNz\r\n\r\n", &r), 0);
        assert_string_equal(r.authorization, "Basic dXNlcjpwYXNz");
        /* Empty counts as none; other headers that merely start alike are not it. */
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nAuthorization:\r\n\r\n", &r), 0);
        assert_string_equal(r.authorization, "");
        assert_int_equal(
                parse("GET /metrics HTTP/1.1\r\nAuthorization-X: Bearer x\r\nX-Authorization: Bearer y\r\n\r\n",
                      &r),
                0);
        assert_string_equal(r.authorization, "");
        /* Bytes above 0x7e (obs-text) are allowed in values; taking a token out refuses them. */
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n", &r), 0);
}

static void test_bad_headers(void **state) {
        char big[HTTP_AUTHORIZATION_MAX + 64];
        HttpRequest r;

        memset(&r, 0, sizeof(r));
        strcpy(r.path, "/untouched");
        /* Twice: which one counts would depend on who reads it. */
        assert_int_equal(
                parse("GET /metrics HTTP/1.1\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
                      &r),
                -EBADMSG);
        assert_string_equal(r.path, "/untouched"); /* nothing written on failure */
        /* White space before the colon (RFC 9112 §5.1), a folded line, no colon, an empty name. */
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nAuthorization : Bearer a\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nAuthorization: Bearer\r\n a\r\n\r\n", &r),
                         -EBADMSG);
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nX: 1\r\n\tcontinued\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\n: value\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nX Y: value\r\n\r\n", &r), -EBADMSG);
        /* Control characters in a value: a bare CR, an escape, DEL. */
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nAuthorization: Bearer a\rb\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nX: \x1b[2J\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nX: a\x7f\r\n\r\n", &r), -EBADMSG);
        /* An Authorization value that does not fit is refused, not cut short. */
        snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nAuthorization: Bearer %0*d\r\n\r\n",
                 HTTP_AUTHORIZATION_MAX - 7, 0);
        assert_int_equal(parse(big, &r), -EBADMSG);
        snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nAuthorization: Bearer %0*d\r\n\r\n",
                 HTTP_AUTHORIZATION_MAX - 8, 0);
        assert_int_equal(parse(big, &r), 0);
        assert_int_equal(strlen(r.authorization), HTTP_AUTHORIZATION_MAX - 1);
}

static void test_token_is_valid(void **state) {
        static const char *const good[] = {
                "a", "0123456789abcdef", "A-Z.a_z~0+9/", "dG9rZW4=", "dG9rZW4x==", "x==========",
        };
        static const char *const bad[] = {
                "",        "=",      "==abc",  "a=b",         "a b", "a\tb", "a\n", "a\r",
                "tok\"en", "tok,en", "tok;en", "caf\xc3\xa9", "a:b", "a@b",  "%41",
        };

        for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++)
                if (!http_token_is_valid(good[k]))
                        fail_msg("'%s' refused", good[k]);
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
                if (http_token_is_valid(bad[k]))
                        fail_msg("'%s' accepted", bad[k]);
}

static int bearer(const char *header, const char **ret) {
        HttpRequest r;
        char req[HTTP_REQUEST_MAX];

        snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\n%s\r\n", header);
        assert_int_equal(parse(req, &r), 0);
        return http_request_bearer_token(&r, ret);
}

static void test_bearer_token(void **state) {
        const char *t = NULL;
        HttpRequest r;

        assert_int_equal(bearer("Authorization: Bearer s3cr3t-t0ken\r\n", &t), 0);
        assert_string_equal(t, "s3cr3t-t0ken");
        /* The scheme is case-insensitive (RFC 9110 §11.1); several spaces may follow it. */
        assert_int_equal(bearer("Authorization: bearer   abc==\r\n", &t), 0);
        assert_string_equal(t, "abc==");
        assert_int_equal(bearer("Authorization: BEARER abc\r\n", &t), 0);
        assert_string_equal(t, "abc");

        t = NULL;
        assert_int_equal(bearer("Host: x\r\n", &t), -ENOENT);
        assert_int_equal(bearer("Authorization:\r\n", &t), -ENOENT);
        assert_int_equal(bearer("Authorization: Basic dXNlcjpwYXNz\r\n", &t), -EOPNOTSUPP);
        assert_int_equal(bearer("Authorization: Bearerabc\r\n", &t), -EOPNOTSUPP);
        assert_int_equal(bearer("Authorization: Token abc\r\n", &t), -EOPNOTSUPP);
        assert_int_equal(bearer("Authorization: Bearer\r\n", &t), -EBADMSG);
        assert_int_equal(bearer("Authorization: Bearer a b\r\n", &t), -EBADMSG);
        assert_int_equal(bearer("Authorization: Bearer a,b\r\n", &t), -EBADMSG);
        assert_int_equal(bearer("Authorization: Bearer\tabc\r\n", &t), -EOPNOTSUPP);
        assert_int_equal(bearer("Authorization: Bearer \"abc\"\r\n", &t), -EBADMSG);
        assert_int_equal(bearer("Authorization: Bearer caf\xc3\xa9\r\n", &t), -EBADMSG);
        assert_null(t); /* written only on success */

        memset(&r, 0, sizeof(r));
        assert_int_equal(http_request_bearer_token(&r, &t), -ENOENT);
}

static void test_token_equal(void **state) {
        static const char secret[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

        assert_true(http_token_equal(secret, secret));
        assert_true(http_token_equal("abc", "abc"));
        /* A difference anywhere, a prefix, a longer string, the case of a letter. */
        assert_false(http_token_equal("0f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                                      secret));
        assert_false(http_token_equal("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a09",
                                      secret));
        assert_false(http_token_equal("9f86d081884c7d65", secret));
        assert_false(http_token_equal("abcabc", "abc")); /* the comparison wraps around `expected` */
        assert_false(http_token_equal("ab", "abc"));
        assert_false(http_token_equal("ABC", "abc"));
        assert_false(http_token_equal("", secret));
        /* An empty expected token matches nothing, not even an empty one. */
        assert_false(http_token_equal("", ""));
        assert_false(http_token_equal("a", ""));
}

static void test_incomplete_and_bad(void **state) {
        char big[HTTP_REQUEST_MAX + 1];
        HttpRequest r;

        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n", &r), -EAGAIN);
        assert_int_equal(parse("", &r), -EAGAIN);
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        assert_int_equal(parse(big, &r), -E2BIG);
        assert_int_equal(parse("GET /metrics\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET metrics HTTP/1.1\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET /metrics HTTP/2.0\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET  /metrics HTTP/1.1\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("GET /met\x01rics HTTP/1.1\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(parse("VERYLONGMETHODNAME /metrics HTTP/1.1\r\n\r\n", &r), -EBADMSG);
        assert_int_equal(http_parse_request("GET /\0 HTTP/1.1\r\n\r\n", 20, &r), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good),           cmocka_unit_test(test_incomplete_and_bad),
                cmocka_unit_test(test_authorization),  cmocka_unit_test(test_bad_headers),
                cmocka_unit_test(test_token_is_valid), cmocka_unit_test(test_bearer_token),
                cmocka_unit_test(test_token_equal),
        };
        return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
