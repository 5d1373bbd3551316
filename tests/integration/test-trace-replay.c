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

/* Ark's portfolio: the run says what it placed under, and its log is that policy's log (Ark's
 * own keys: --ark-keys). --ark-keys does not choose. check-log --where says where the GPUs left
 * unallocated at arrived = 100 % are. */
static void test_portfolio(void **state) {
        _cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL, *e3 = NULL,
                            *a = NULL, *b = NULL, *args2 = NULL;
        _cleanup_free_ char *l1 = strprintf("%s/ark.log", dir), *l2 = strprintf("%s/under.log", dir),
                            *args1 = strprintf("--policy ark --seed 3 --log '%s'", l1);
        const char *under, *policy;

        assert_int_equal(replay(&o1, &e1, args1), 0);
        under = strstr(o1, "ark: placed under ");
        assert_non_null(under);
        under += strlen("ark: placed under ");
        policy = startswith(under, "its own keys") ? "ark --ark-keys"
                : startswith(under, "fgd ")        ? "fgd"
                : startswith(under, "best-fit ")   ? "best-fit"
                                                   : NULL;
        assert_non_null(policy);
        assert_non_null(strstr(o1, "streams of"));
        args2 = strprintf("--policy %s --seed 3 --log '%s'", policy, l2);
        assert_int_equal(replay(&o2, &e2, args2), 0);
        assert_null(strstr(o2, "ark: placed under"));
        assert_int_equal(read_full_file(l1, &a, NULL), 0);
        assert_int_equal(read_full_file(l2, &b, NULL), 0);
        assert_string_equal(a, b);

        assert_int_equal(harness_sh(&o3, &e3, "'%s/bench/check-log' --where '%s/nodes.csv' '%s'", ARK_SRCDIR,
                                    dir, l1),
                         0);
        assert_non_null(strstr(o3, "at arrived = 100 %: "));
        assert_non_null(strstr(o3, "GPUs unallocated"));
        assert_non_null(strstr(o3, "refused so far:"));
        assert_non_null(strstr(o3, "placements, all feasible"));
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

/* Counts a generated pod list's pods by kind (cpu, whole, multi, shares up to 330, 550, 999
 * milli), and checks every pod against check (NULL: none). */
typedef struct MixPod {
        long cpu, mem, num_gpu, gpu_milli;
        char spec[64];
} MixPod;

static void count_kinds(const char *text, size_t ret[6], void (*check)(const MixPod *p)) {
        const char *l = strchr(text, '\n');

        memset(ret, 0, 6 * sizeof(size_t));
        assert_non_null(l);
        assert_true(startswith(text, "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"));
        for (l++; *l; l = strchr(l, '\n') + 1) {
                MixPod p = {};
                int n = sscanf(l, "mix-%*d,%ld,%ld,%ld,%ld,%63[^\n]", &p.cpu, &p.mem, &p.num_gpu,
                               &p.gpu_milli, p.spec);

                assert_true(n == 4 || n == 5);
                ret[p.num_gpu == 0                ? 0
                            : p.num_gpu > 1       ? 2
                            : p.gpu_milli == 1000 ? 1
                            : p.gpu_milli <= 330  ? 3
                            : p.gpu_milli <= 550  ? 4
                                                  : 5]++;
                if (check)
                        check(&p);
        }
}

static int make_mix(char **text, const char *spec, const char *name) {
        _cleanup_free_ char *out = NULL, *err = NULL, *path = strprintf("%s/%s.csv", dir, name),
                            *args = strprintf("--mix '%s' --mix-out '%s'", spec, path);
        int r = replay(&out, &err, args);

        if (r != 0)
                fail_msg("--mix %s: %s %s", spec, strna(out), strna(err));
        return read_full_file(path, text, NULL);
}

/* The base pods: whole GPUs at 8 CPUs, shares at 4 and 6 CPUs. */
static void check_share_cpu(const MixPod *p) {
        if (p->num_gpu == 1 && p->gpu_milli < 1000)
                assert_true(p->cpu == 8000 || p->cpu == 12000); /* doubled */
        else if (p->num_gpu == 1)
                assert_int_equal(p->cpu, 8000); /* as it was */
}

static void check_no_spec(const MixPod *p) {
        assert_string_equal(p->spec, "");
}

/* A mix is the same pod list for the same name and another for another seed, its kinds are
 * blended exactly as its name says (to one pod), and its scales and constraints are applied. */
static void test_mix_generator(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL, *g = NULL;
        size_t n[6];

        assert_int_equal(make_mix(&a, "share-heavy:seed=7", "a"), 0);
        assert_int_equal(make_mix(&b, "share-heavy:seed=7", "b"), 0);
        assert_int_equal(make_mix(&c, "share-heavy:seed=8", "c"), 0);
        assert_string_equal(a, b);
        assert_string_not_equal(a, c);
        /* share-heavy is 10/20/1/20/25/24 % of the base's 60 pods: 6, 12, 0.6, 12, 15, 14.4, the
         * pod rounding leaves going to the largest remainder (multi). */
        count_kinds(a, n, NULL);
        assert_int_equal(n[0], 6);
        assert_int_equal(n[1], 12);
        assert_int_equal(n[2], 1);
        assert_int_equal(n[3], 12);
        assert_int_equal(n[4], 15);
        assert_int_equal(n[5], 14);
        assert_int_equal(make_mix(&d, "shares-only:pods=1000:seed=2", "d"), 0);
        count_kinds(d, n, NULL);
        assert_int_equal(n[0], 100);
        assert_int_equal(n[1] + n[2], 0);
        assert_int_equal(n[3], 300);
        assert_int_equal(n[4], 300);
        assert_int_equal(n[5], 300);
        /* Explicit kinds, shares' CPU doubled, every model constraint dropped. */
        assert_int_equal(make_mix(&e, "trace:kinds=1/1/0/0/0/2:share-cpu=2:spec=0:pods=400:seed=3", "e"), 0);
        count_kinds(e, n, check_share_cpu);
        assert_int_equal(n[0], 100);
        assert_int_equal(n[1], 100);
        assert_int_equal(n[5], 200);
        count_kinds(e, n, check_no_spec);
        /* "trace" keeps the base's own blend: 60 pods of 8 kinds in turn. */
        assert_int_equal(make_mix(&f, "trace:seed=4", "f"), 0);
        count_kinds(f, n, NULL);
        assert_int_equal(n[0], 7);  /* 12000 CPU-only */
        assert_int_equal(n[1], 15); /* two whole-GPU kinds */
        assert_int_equal(n[2], 15); /* 2 and 4 GPUs */
        assert_int_equal(n[3], 7);  /* 300 T4 */
        assert_int_equal(n[4], 8);  /* 460 */
        assert_int_equal(n[5], 8);  /* 650 */
        /* The name is the mix: parameters in any order give the same pods. */
        assert_int_equal(make_mix(&g, "trace:pods=400:seed=3:spec=0:share-cpu=2:kinds=1/1/0/0/0/2", "g"), 0);
        assert_string_equal(e, g);
}

/* A mix's node pool: nodes=big keeps the 8-GPU node only; the list has 50 mixes or more, all
 * different; a malformed name is refused. */
static void test_mix_nodes_and_list(void **state) {
        _cleanup_free_ char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL, *o3 = NULL, *e3 = NULL,
                            *log = NULL, *o4 = NULL, *e4 = NULL;
        _cleanup_free_ char *logpath = strprintf("%s/big.log", dir),
                            *args = strprintf(
                                    "--mix trace:nodes=big:seed=5 --policy ark --seed 1 --log '%s'",
                                    logpath);
        size_t placed = 0;

        if (replay(&o1, &e1, args) != 0)
                fail_msg("%s %s", strna(o1), strna(e1));
        assert_non_null(strstr(o1, "every placement feasible: yes"));
        assert_int_equal(read_full_file(logpath, &log, NULL), 0);
        for (const char *l = strchr(log, '\n') + 1; *l; l = strchr(l, '\n') + 1) {
                const char *node = l;

                for (int k = 0; k < 7; k++)
                        node = strchr(node, ',') + 1;
                assert_true(startswith(node, "n-0,") || startswith(node, "FAIL,"));
                placed += startswith(node, "n-0,") != NULL;
        }
        assert_true(placed > 0);
        assert_int_equal(harness_sh(&o2, &e2, "'%s/bench/trace-replay' --list-mixes | sort -u | wc -l",
                                    harness_build_dir()),
                         0);
        assert_true(atoi(o2) >= 50);
        assert_int_equal(replay(&o3, &e3, "--mix share-heavy:seed=x --mix-out /dev/null"), 2);
        assert_non_null(strstr(e3, "seed=x is not a number"));
        assert_int_equal(replay(&o4, &e4, "--mix heavy --mix-out /dev/null"), 2);
        assert_non_null(strstr(e4, "'heavy' names no family"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policies_feasible), cmocka_unit_test(test_deterministic_and_checked),
                cmocka_unit_test(test_bad_input),         cmocka_unit_test(test_mix_generator),
                cmocka_unit_test(test_portfolio),         cmocka_unit_test(test_mix_nodes_and_list),
        };
        return cmocka_run_group_tests_name("integration: trace-replay", tests, setup, teardown);
}
