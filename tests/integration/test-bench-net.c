/* bench/net keeps building and running (issue 17, acceptance 6): a small run (2 networks of 2
 * ports, one run of 1 s a path) prints the rule set's load time, three throughputs and the ratio,
 * and leaves no namespace behind; killed in the middle, it removes its namespaces too; bad
 * arguments are refused with exit status 2. It measures nothing here: the numbers of a run this
 * small say nothing (bench/README.md has the real ones). Needs root (network namespaces) and iperf3;
 * skipped with the reason otherwise. */

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"

#define SMALL "--networks 2 --ports-per-network 2 --seconds 1 --runs 1 --loads 2"

static void require_root_and_iperf3(void) {
        _cleanup_free_ char *o = NULL, *e = NULL;

        if (geteuid() != 0) {
                fprintf(stderr, "[ SKIP     ] network namespaces need root\n");
                skip();
        }
        if (harness_sh(&o, &e, "command -v iperf3") != 0) {
                fprintf(stderr, "[ SKIP     ] iperf3 is not installed (Debian package iperf3)\n");
                skip();
        }
}

/* The value after `label` on its line of out, or a negative number when the line is missing. */
static double number_after(const char *out, const char *label) {
        const char *p = strstr(out, label);

        return p ? strtod(p + strlen(label), NULL) : -1;
}

static void test_small_run(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL, *before = NULL, *after = NULL, *e = NULL;
        static const char *const paths[] = { "bare veth pair (baseline)", "bridge, no rules",
                                             "tenant network, rule set" };

        require_root_and_iperf3();
        assert_int_equal(harness_sh(&before, &e, "ls /run/netns 2>/dev/null | grep '^arkbn-' || true"), 0);
        if (harness_sh(&out, &err, "'%s/bench/net' " SMALL, harness_build_dir()) != 0)
                fail_msg("bench/net failed:\n%s%s", strempty(out), strempty(err));
        fprintf(stderr, "%s", out);

        assert_non_null(strstr(out, "bench/net: 2 networks, 4 ports (2 a network)"));
        assert_non_null(strstr(out, "rule set: "));
        assert_true(number_after(out, "load: first ") > 0);
        assert_true(number_after(out, "replacing: median ") > 0);
        for (size_t k = 0; k < ELEMENTSOF(paths); k++)
                assert_true(number_after(out, paths[k]) > 0);
        assert_true(number_after(out, "ark/baseline throughput ratio: ") > 0);
        assert_true(number_after(out, "rule set load time: ") > 0);

        e = mfree(e);
        assert_int_equal(harness_sh(&after, &e, "ls /run/netns 2>/dev/null | grep '^arkbn-' || true"), 0);
        assert_string_equal(strempty(before), strempty(after));
}

/* SIGTERM while the paths are measured: every namespace of the run goes, with its servers. */
static void test_killed(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        require_root_and_iperf3();
        if (harness_sh(&out, &err,
                       "'%s/bench/net' --networks 2 --ports-per-network 2 --seconds 5 --runs 1 >/dev/null & "
                       "p=$!; "
                       "for i in $(seq 100); do "
                       "  [ \"$(ls /run/netns | grep -c \"^arkbn-$p-\")\" = 8 ] && "
                       "    pgrep -P $p iperf3 >/dev/null && break; "
                       "  sleep 0.05; "
                       "done; "
                       "sleep 0.3; kids=$(pgrep -P $p iperf3); kill -TERM $p; wait $p; echo \"status $?\"; "
                       "echo \"left $(ls /run/netns | grep -c \"^arkbn-$p-\")\"; "
                       "echo \"iperf3 $(echo $kids | wc -w)\"; "
                       "for k in $kids; do kill -0 $k 2>/dev/null && echo \"alive $k\"; done; true",
                       harness_build_dir()) != 0)
                fail_msg("the shell failed: %s%s", strempty(out), strempty(err));
        fprintf(stderr, "%s", out);
        assert_non_null(strstr(out, "status 143"));
        assert_non_null(strstr(out, "left 0"));
        assert_null(strstr(out, "iperf3 0"));
        assert_null(strstr(out, "alive"));
}

static void test_bad_arguments(void **state) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        assert_int_equal(harness_sh(&out, &err, "'%s/bench/net' --ports-per-network 1", harness_build_dir()),
                         2);
        assert_non_null(
                strstr(strempty(err), "--ports-per-network must be a number from 2 to 250, not '1'"));
        free(err);
        err = NULL;
        out = mfree(out);
        err = mfree(err);
        assert_int_equal(harness_sh(&out, &err, "'%s/bench/net' --runs x", harness_build_dir()), 2);
        assert_non_null(strstr(strempty(err), "--runs must be a number"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_arguments),
                cmocka_unit_test(test_small_run),
                cmocka_unit_test(test_killed),
        };

        return cmocka_run_group_tests_name("integration: bench/net", tests, NULL, NULL);
}
