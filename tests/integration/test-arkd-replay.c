/* arkd places as the library does (issue 16, acceptance 2): bench/arkd-replay on a small trace
 * written here (the real one stays out of the repository) replays trace-replay's arrivals
 * through arkd over D-Bus on a fixture host made from the trace's nodes, and every placement and
 * every refusal must be trace-replay's, for Ark's policy and FGD, two seeds each. arkd given
 * another seed than trace-replay must differ somewhere: the comparison can fail. And
 * trace-replay's --workload-out writes the workload it measures fragmentation against. */

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

/* Four nodes alike (the seed decides among them), two more alike, two of their own. The pods ask
 * for 1, 2, 4 or 8 whole GPUs of any model or of one, one model this trace has no node of (refused
 * by both), CPU in parts of a core (rounded up); GPU shares, CPU-only pods, pods naming several
 * models and pods asking for more GPUs of a model than any node has of it are left out of the
 * replay. */
static int setup(void **state) {
        char tmpl[] = "/tmp/ark-arkd-replay-XXXXXX";
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
                              "n-1,96000,393216,8,G2\n"
                              "n-2,96000,393216,8,G2\n"
                              "n-3,96000,393216,8,G2\n"
                              "n-4,104000,524288,2,T4\n"
                              "n-5,104000,524288,2,T4\n"
                              "n-6,32000,131072,4,V100M16\n"
                              "n-7,16000,122880,2,P100\n",
                              WRITE_CREATE) < 0)
                return -1;
        strbuf_append(&pods,
                      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
                      "deletion_time,scheduled_time\n");
        for (int k = 0; k < 120; k++) {
                static const char *const kinds[] = {
                        "8000,16384,1,1000,",   "2500,4000,1,1000,",   "4000,8192,1,1000,T4",
                        "16000,32768,2,1000,",  "4000,8192,1,460,",    "8000,16384,1,1000,V100M16",
                        "12000,24576,0,0,",     "6000,12288,1,1000,",  "8000,16384,1,1000,V100M16|P100",
                        "32000,65536,4,1000,",  "12000,16384,1,1000,", "1000,4096,1,1000,A10",
                        "8000,16384,4,1000,T4",
                };
                strbuf_printf(&pods, "pod-%03d,%s,LS,Running,0,0,0\n", k,
                              k % 40 == 0 ? "48000,98304,8,1000," : kinds[k % ELEMENTSOF(kinds)]);
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

static int arkd_replay(char **out, char **err, const char *policy, unsigned seed, unsigned arkd_seed) {
        _cleanup_free_ char *sub = strprintf("%s/%s-%u-%u", dir, policy, seed, arkd_seed);

        return harness_sh(
                out, err,
                "'%s/bench/arkd-replay' --nodes '%s/nodes.csv' --pods '%s/pods.csv' --policy %s --seed %u "
                "--arkd-seed %u --count 1000 --node-count 8 --dir '%s'",
                harness_build_dir(), dir, dir, policy, seed, arkd_seed, sub);
}

static void test_same_placements(void **state) {
        static const char *const policies[] = { "ark", "fgd" };
        static const unsigned seeds[] = { 3, 11 };

        for (size_t p = 0; p < ELEMENTSOF(policies); p++)
                for (size_t s = 0; s < ELEMENTSOF(seeds); s++) {
                        _cleanup_free_ char *out = NULL, *err = NULL, *log = NULL, *logpath = NULL;
                        int r = arkd_replay(&out, &err, policies[p], seeds[s], seeds[s]);

                        if (r != 0)
                                fail_msg("%s seed %u: exit %d\n%s%s", policies[p], seeds[s], r, strna(out),
                                         strna(err));
                        assert_non_null(strstr(out, " 0 mismatches"));
                        /* Refusals were compared too: the trace has pods that fit nowhere. */
                        logpath = strprintf("%s/%s-%u-%u/log.csv", dir, policies[p], seeds[s], seeds[s]);
                        assert_int_equal(read_full_file(logpath, &log, NULL), 0);
                        assert_non_null(strstr(log, ",FAIL,"));
                        /* The slice kept whole-GPU pods only, CPU rounded up to whole cores. */
                        assert_null(strstr(log, ",460,"));
                        assert_null(strstr(log, ",0,0,"));
                        assert_null(strstr(log, "|"));
                        assert_null(strstr(log, ",2500,"));
                        /* Nor pods asking for more GPUs of a model than any node has of it. */
                        assert_null(strstr(log, ",4,1000,NVIDIA T4,"));
                }
}

/* arkd on another seed than trace-replay's must differ somewhere, where the library's own
 * placements for the two seeds differ. */
static void test_other_seed_mismatches(void **state) {
        _cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *a = NULL, *b = NULL;
        _cleanup_free_ char *sub = strprintf("%s/ark-3-11", dir), *la = strprintf("%s/log.csv", sub),
                            *lb = strprintf("%s/log-11.csv", sub);

        assert_int_equal(arkd_replay(&o1, &e1, "ark", 3, 11), 1);
        assert_non_null(strstr(o1, "MISMATCH arrival"));
        assert_null(strstr(o1, " 0 mismatches"));
        /* The library on the same slice with seed 11 places otherwise than with seed 3. */
        assert_int_equal(
                harness_sh(
                        &o2, &e2,
                        "'%s/bench/trace-replay' --nodes '%s/nodes.csv' --pods '%s/pods.csv' --policy ark "
                        "--ark-keys --seed 11 --log '%s'",
                        harness_build_dir(), sub, sub, lb),
                0);
        assert_int_equal(read_full_file(la, &a, NULL), 0);
        assert_int_equal(read_full_file(lb, &b, NULL), 0);
        assert_string_not_equal(a, b);
}

/* --workload-out: the shapes of the pods trace-replay read (grouped without memory), the most
 * frequent first, in the format arkd's [Placement] Workload= reads. */
static void test_workload_out(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *o2 = NULL, *e2 = NULL, *wl = NULL,
                            *path = strprintf("%s/workload.csv", dir);

        assert_int_equal(
                harness_sh(
                        &out, &err,
                        "'%s/bench/trace-replay' --nodes '%s/nodes.csv' --pods '%s/pods.csv' --policy fgd "
                        "--seed 1 --workload-out '%s'",
                        harness_build_dir(), dir, dir, path),
                0);
        assert_int_equal(read_full_file(path, &wl, NULL), 0);
        /* 120 pods: 13 kinds 9 times each, 3 of 8 GPUs; the most frequent shapes that cover 95 %
         * of the pods (not the 8-GPU one), by count, then larger first: CPU, GPU milli, GPU count,
         * model list. */
        assert_string_equal(wl,
                            "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n"
                            "32000,4,1000,,9\n"
                            "16000,2,1000,,9\n"
                            "12000,1,1000,,9\n"
                            "12000,0,0,,9\n"
                            "8000,4,1000,T4,9\n"
                            "8000,1,1000,V100M16|P100,9\n"
                            "8000,1,1000,V100M16,9\n"
                            "8000,1,1000,,9\n"
                            "6000,1,1000,,9\n"
                            "4000,1,1000,T4,9\n"
                            "4000,1,460,,9\n"
                            "2500,1,1000,,9\n"
                            "1000,1,1000,A10,9\n");
        assert_int_equal(
                harness_sh(
                        &o2, &e2,
                        "'%s/bench/trace-replay' --nodes '%s/nodes.csv' --pods '%s/pods.csv' --policy fgd "
                        "--seed 1 --workload-out '%s/no/such/dir/w.csv'",
                        harness_build_dir(), dir, dir, dir),
                1);
        assert_non_null(strstr(e2, "w.csv: No such file or directory"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_workload_out),
                cmocka_unit_test(test_same_placements),
                cmocka_unit_test(test_other_seed_mismatches),
        };
        return cmocka_run_group_tests_name("integration: arkd-replay", tests, setup, teardown);
}
