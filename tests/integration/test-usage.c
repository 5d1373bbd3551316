/* Metering through arkctl against arkd on the fixture host: a VM that ran for a known time is
 * reported with that time (within a second per interval) and its GPU-, vCPU- and memory-seconds;
 * after arkd is killed with -9 mid-run the interval is closed at the last heartbeat, not left
 * open or counted twice, and the restored VM gets a new one; windows clip intervals; CSV. */

#include "itest.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "basic/time-util.h"

static Harness H;

static int setup(void **state) {
        if (harness_setup(&H, *state) < 0)
                return -1;
        if (harness_start_arkd(&H, NULL) < 0)
                return -1;
        free(itest_arkctl_expect(&H, 0, NULL, "tenant", "create", "risk", NULL));
        return 0;
}

static int teardown(void **state) {
        harness_teardown(&H);
        return 0;
}

static double now_s(void) {
        return (double) now_usec(CLOCK_REALTIME) / 1e6;
}

/* The report row of instance `name`: a new reference. */
static json_t *report_row(const char *name, const char *from) {
        json_t *j = from
                ? harness_arkctl_json(&H, "usage", "report", "--tenant", "risk", "--from", from, NULL)
                : harness_arkctl_json(&H, "usage", "report", "--tenant", "risk", NULL);
        json_t *row, *found = NULL;
        size_t k;

        assert_non_null(j);
        json_array_foreach(j, k, row)
                if (streq(json_string_value(json_object_get(row, "instance")), name))
                        found = json_incref(row);
        json_decref(j);
        if (!found)
                fail_msg("no usage of '%s'", name);
        return found;
}

static double num(json_t *row, const char *key) {
        return json_real_value(json_object_get(row, key));
}

static void assert_near(double got, double want, double slack, const char *what) {
        if (fabs(got - want) > slack)
                fail_msg("%s: %.3f, want %.3f ± %.1f", what, got, want, slack);
}

static void test_known_time_and_kill9(void **state) {
        double t0, t1, t2, t3, t4, t5, want;
        _cleanup_free_ char *from = NULL, *csv = NULL;
        json_t *row;

        assert_arkctl(&H, 0, NULL, "vm", "create", "a", "--tenant", "risk", "--vcpus", "2", "--memory", "2G",
                      "--gpus", "1");
        t0 = now_s();
        assert_arkctl(&H, 0, NULL, "vm", "start", "a");
        sleep(3);
        assert_arkctl(&H, 0, NULL, "vm", "stop", "a", "--force");
        t1 = now_s();

        row = report_row("a", NULL);
        assert_int_equal(json_integer_value(json_object_get(row, "intervals")), 1);
        assert_near(num(row, "seconds"), t1 - t0, 1.0, "seconds");
        assert_near(num(row, "gpu_seconds"), num(row, "seconds"), 0.001, "gpu_seconds");
        assert_near(num(row, "vcpu_seconds"), 2 * num(row, "seconds"), 0.001, "vcpu_seconds");
        assert_near(num(row, "memory_gib_seconds"), 2 * num(row, "seconds"), 0.001, "memory_gib_seconds");
        assert_near(num(row, "gpu_memory_gib_seconds"), 80 * num(row, "seconds"), 0.01,
                    "gpu_memory_gib_seconds");
        /* An H100 SXM5 is 989 dense BF16 TFLOPS, 989/312 compute units of the A100 reference. */
        assert_near(num(row, "compute_unit_seconds"), 989.0 / 312.0 * num(row, "gpu_seconds"), 0.01,
                    "compute_unit_seconds");
        assert_non_null(strstr(json_string_value(json_object_get(row, "gpu_models")), "H100"));
        json_decref(row);

        /* Across kill -9: the run before the kill is closed at its last heartbeat (at most a second
         * short), the restored run is a new interval, nothing is counted twice. */
        t2 = now_s();
        assert_arkctl(&H, 0, NULL, "vm", "start", "a");
        sleep(3);
        t3 = now_s();
        assert_int_equal(harness_stop_arkd(&H, SIGKILL), 128 + SIGKILL);
        sleep(1); /* arkd is down: this second is not known to anyone and not billed */
        assert_int_equal(harness_start_arkd(&H, NULL), 0);
        t4 = now_s();
        sleep(2);
        assert_arkctl(&H, 0, NULL, "vm", "stop", "a", "--force");
        t5 = now_s();
        want = (t1 - t0) + (t3 - t2) + (t5 - t4);
        row = report_row("a", NULL);
        assert_int_equal(json_integer_value(json_object_get(row, "intervals")), 3);
        if (num(row, "seconds") < want - 3.0 || num(row, "seconds") > want + 1.5)
                fail_msg("seconds across kill -9: %.3f, want %.3f (-3, +1.5)", num(row, "seconds"), want);
        json_decref(row);

        /* A window that starts at the restart holds only the last run. */
        from = strprintf("@%.0f", ceil(t4));
        row = report_row("a", from);
        assert_near(num(row, "seconds"), t5 - ceil(t4), 1.0, "windowed seconds");
        json_decref(row);

        csv = itest_arkctl_expect(&H, 0, "tenant,instance,gpu_models,intervals,seconds", "-o", "csv",
                                  "usage", "report", NULL);
        assert_non_null(strstr(csv, "\nrisk,a,NVIDIA H100"));
        assert_arkctl(&H, 2, "-o csv is only for 'usage report'", "-o", "csv", "tenant", "list");
        assert_arkctl(&H, 2, "is not a time", "usage", "report", "--from", "yesterday");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_prestate_setup_teardown(test_known_time_and_kill9, setup, teardown,
                                                         "dgx-h100"),
        };
        return cmocka_run_group_tests_name("integration: usage", tests, NULL, NULL);
}
