/* bench/trace-replay on a small trace written here (the real one stays out of the repository):
 * every policy places feasibly (checked by the benchmark's own ledger and by bench/check-log),
 * the log has the documented columns, and bad input is refused naming the file and line. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"

static char *dir;

static int setup(void **state) {
        char tmpl[] = "/tmp/ark-trace-XXXXXX";
        StrBuf pods = {};
        _cleanup_free_ char *nodes = NULL, *podfile = NULL, *pods_text = NULL;

        if (!mkdtemp(tmpl))
                return -1;
        dir = strdup(tmpl);
        nodes = strprintf("%s/nodes.csv", dir);
        podfile = strprintf("%s/pods.csv", dir);
        if (!dir || !nodes || !podfile)
                return -1;
        if (write_string_file(nodes,
                              "sn,cpu_milli,memory_mib,gpu,model\n"
                              "n-0,96000,393216,8,G2\n"
                              "n-1,104000,524288,2,T4\n"
                              "n-2,16000,122880,2,P100\n"
                              "n-3,32000,131072,4,V100M16\n",
                              WRITE_CREATE) < 0)
                return -1;
        strbuf_append(&pods,
                      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
                      "deletion_time,scheduled_time\n");
        for (int k = 0; k < 60; k++) {
                static const char *const kinds[] = {
                        "8000,16384,1,1000,",
                        "4000,8192,1,460,",
                        "6000,12288,1,650,",
                        "16000,32768,2,1000,",
                        "12000,24576,0,0,",
                        "4000,8192,1,300,T4",
                        "8000,16384,1,1000,V100M16|P100",
                        "32000,65536,4,1000,",
                };
                strbuf_printf(&pods, "pod-%03d,%s,LS,Running,0,0,0\n", k, kinds[k % ELEMENTSOF(kinds)]);
        }
        pods_text = strbuf_steal(&pods);
        return pods_text && write_string_file(podfile, pods_text, WRITE_CREATE) >= 0 ? 0 : -1;
}

static int teardown(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (dir && !getenv("ARK_TEST_KEEP"))
                (void) harness_sh(&out, &err, "rm -rf '%s'", dir);
        free(dir);
        return 0;
}

static int replay(char **out, char **err, const char *args) {
        return harness_sh(out, err, "'%s/bench/trace-replay' --nodes '%s/nodes.csv' --pods '%s/pods.csv' %s",
                          harness_build_dir(), dir, dir, args);
}

static void test_policies_feasible(void **state) {
        static const char *const policies[] = { "first-fit", "best-fit", "fgd", "ark" };

        for (size_t k = 0; k < ELEMENTSOF(policies); k++) {
                _cleanup_free_ char *out = NULL, *err = NULL, *args = NULL, *log = NULL, *o2 = NULL,
                                    *e2 = NULL;
                _cleanup_free_ char *logpath = strprintf("%s/%s.log", dir, policies[k]);

                args = strprintf("--policy %s --seed 42 --log '%s'", policies[k], logpath);
                if (replay(&out, &err, args) != 0)
                        fail_msg("%s: %s %s", policies[k], strna(out), strna(err));
                assert_non_null(strstr(out, "every placement feasible: yes"));
                assert_non_null(strstr(out, "us per decision"));
                assert_int_equal(read_full_file(logpath, &log, NULL), 0);
                assert_true(startswith(
                        log, "seq,pod,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,node,gpus\n"));
                assert_non_null(strstr(log, "FAIL")); /* 1.3 x the capacity arrives: some fail */
                if (harness_sh(&o2, &e2, "'%s/bench/check-log' '%s/nodes.csv' '%s'", ARK_SRCDIR, dir,
                               logpath) != 0)
                        fail_msg("check-log %s: %s %s", policies[k], strna(o2), strna(e2));
                assert_non_null(strstr(o2, "all feasible"));
        }
}

/* The same seed gives the same log; the log checker catches an overcommitted GPU. */
static void test_deterministic_and_checked(void **state) {
        _cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *a = NULL, *b = NULL, *o3 = NULL,
                            *e3 = NULL;
        _cleanup_free_ char *l1 = strprintf("%s/a.log", dir), *l2 = strprintf("%s/b.log", dir),
                            *bad = strprintf("%s/bad.log", dir);
        _cleanup_free_ char *args1 = strprintf("--policy ark --seed 7 --log '%s'", l1),
                            *args2 = strprintf("--policy ark --seed 7 --log '%s'", l2);

        assert_int_equal(replay(&o1, &e1, args1), 0);
        assert_int_equal(replay(&o2, &e2, args2), 0);
        assert_int_equal(read_full_file(l1, &a, NULL), 0);
        assert_int_equal(read_full_file(l2, &b, NULL), 0);
        assert_string_equal(a, b);
        /* Two whole-GPU pods on the same GPU of n-0. */
        assert_int_equal(
                write_string_file(bad,
                                  "seq,pod,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,node,gpus\n"
                                  "0,p0,1000,1024,1,1000,,n-0,3\n"
                                  "1,p1,1000,1024,1,1000,,n-0,3\n",
                                  WRITE_CREATE),
                0);
        assert_int_equal(
                harness_sh(&o3, &e3, "'%s/bench/check-log' '%s/nodes.csv' '%s'", ARK_SRCDIR, dir, bad), 1);
        assert_non_null(strstr(e3, "arrival 1 (p1) on n-0: GPU 3 cannot take 1000 milli"));
}

static void test_bad_input(void **state) {
        _cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL, *e3 = NULL;
        _cleanup_free_ char *badpods = strprintf("%s/bad.csv", dir);

        assert_int_equal(harness_sh(&o1, &e1,
                                    "'%s/bench/trace-replay' --nodes '%s/none.csv' --pods '%s/pods.csv' "
                                    "--policy ark --seed 1",
                                    harness_build_dir(), dir, dir),
                         1);
        assert_non_null(strstr(e1, "none.csv: No such file or directory"));
        assert_int_equal(write_string_file(badpods,
                                           "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1000,1,2,500\n",
                                           WRITE_CREATE),
                         0);
        assert_int_equal(
                harness_sh(&o2, &e2,
                           "'%s/bench/trace-replay' --nodes '%s/nodes.csv' --pods '%s' --policy ark "
                           "--seed 1",
                           harness_build_dir(), dir, badpods),
                1);
        assert_non_null(strstr(e2, "bad.csv:2:"));
        assert_int_equal(replay(&o3, &e3, "--policy worst-fit --seed 1"), 2);
        assert_non_null(strstr(e3, "unknown policy 'worst-fit'"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policies_feasible),
                cmocka_unit_test(test_deterministic_and_checked),
                cmocka_unit_test(test_bad_input),
        };
        return cmocka_run_group_tests_name("integration: trace-replay", tests, setup, teardown);
}
