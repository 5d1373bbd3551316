/* The metrics endpoint's request-line parser. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
                cmocka_unit_test(test_good),
                cmocka_unit_test(test_incomplete_and_bad),
        };
        return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
