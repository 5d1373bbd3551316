/* Prometheus metrics from arkd on the fixture host: the exposition passes `promtool check
 * metrics`, and it says what the tenants were given, their quota limits, which tenant holds each
 * GPU, refused admissions by reason and API calls. */

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static Harness H;

static int setup(void **state) {
        if (harness_setup(&H, *state) < 0)
                return -1;
        return harness_start_arkd(&H, NULL);
}

static int teardown(void **state) {
        harness_teardown(&H);
        return 0;
}

static char *fetch(const char *path, int *ret_status) {
        _cleanup_free_ char *file = strprintf("%s/metrics.address", H.state_dir), *addr = NULL, *err = NULL;
        char *out = NULL;
        int r;

        assert_int_equal(read_one_line_file(file, &addr), 0);
        r = harness_sh(&out, &err, "curl -s -o - -w '\\n%%{http_code}' 'http://%s%s'", addr, path);
        if (r != 0)
                fail_msg("curl http://%s%s failed: %s", addr, path, strna(err));
        {
                char *nl = strrchr(out, '\n');
                assert_non_null(nl);
                *ret_status = atoi(nl + 1);
                *nl = 0;
        }
        return out;
}

static void assert_line(const char *text, const char *line) {
        _cleanup_free_ char *needle = strprintf("\n%s\n", line);

        if (!strstr(text, needle))
                fail_msg("metrics lack the line '%s':\n%s", line, text);
}

static void test_metrics(void **state) {
        _cleanup_free_ char *text = NULL, *out = NULL, *err = NULL, *file = NULL, *nf = NULL;
        int status = 0;

        assert_arkctl(&H, 0, NULL, "tenant", "create", "risk");
        assert_arkctl(&H, 0, NULL, "tenant", "quota", "set", "risk", "gpus=1", "memory=8G");
        assert_arkctl(&H, 0, NULL, "vm", "create", "a", "--tenant", "risk", "--vcpus", "2", "--memory", "2G", "--gpu",
                      "0000:18:00.0");
        assert_arkctl(&H, 1, "would use 2 of its 1 GPUs", "vm", "create", "b", "--tenant", "risk", "--vcpus", "1",
                      "--memory", "1G", "--gpus", "1");

        text = fetch("/metrics", &status);
        assert_int_equal(status, 200);
        file = strprintf("%s/metrics.txt", H.tmp);
        assert_int_equal(write_string_file(file, text, WRITE_CREATE), 0);
        if (harness_sh(&out, &err, "promtool check metrics < '%s'", file) != 0)
                fail_msg("promtool check metrics: %s %s\n%s", strna(out), strna(err), text);

        assert_line(text, "ark_tenants 1");
        assert_line(text, "ark_tenant_quota_limit{tenant=\"risk\",resource=\"gpus\",model=\"\"} 1");
        assert_line(text, "ark_tenant_quota_limit{tenant=\"risk\",resource=\"memory\",model=\"\"} 8589934592");
        assert_line(text, "ark_tenant_allocated{tenant=\"risk\",resource=\"gpus\"} 1");
        assert_line(text, "ark_tenant_allocated{tenant=\"risk\",resource=\"vcpus\"} 2");
        assert_line(text, "ark_instances{state=\"stopped\"} 1");
        assert_line(text, "ark_accelerator_info{address=\"0000:18:00.0\",model=\"NVIDIA H100 SXM5 80GB\",state=\"claimed\","
                          "instance=\"a\",tenant=\"risk\"} 1");
        assert_line(text, "ark_admission_refusals_total{call=\"Manager.CreateInstance\",reason=\"QuotaExceeded\"} 1");
        assert_line(text, "ark_preemptions_total 0");
        assert_line(text, "ark_api_calls_total{method=\"Manager.CreateTenant\",result=\"ok\"} 1");
        assert_line(text, "ark_api_calls_total{method=\"Manager.CreateInstance\",result=\"error\"} 1");
        assert_line(text, "ark_api_call_duration_seconds_count{method=\"Manager.CreateInstance\"} 2");

        nf = fetch("/other", &status);
        assert_int_equal(status, 404);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_prestate_setup_teardown(test_metrics, setup, teardown, "dgx-h100"),
        };
        return cmocka_run_group_tests_name("integration: metrics", tests, NULL, NULL);
}
