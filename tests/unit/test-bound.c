/* Tests for bench/bound: the LP bound on the GPU milli any placement of the arrivals allocates,
 * on pools so small that the optimum is known. Skipped when the bound is not built in
 * (CONFIG_BENCH_BOUND, GLPK). */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bound.h"
#include "pool/pool.h"

#define SHARE(cpu, milli) \
        ((PoolRequest) { .cpu_milli = (cpu), .memory_mib = 1024, .num_gpu = 1, .gpu_milli = (milli) })
#define WHOLE(cpu, n) \
        ((PoolRequest) { .cpu_milli = (cpu), .memory_mib = 1024, .num_gpu = (n), .gpu_milli = 1000 })

/* The bound once every pod of the list has arrived. */
static double bound_of(const Pool *p, const PoolRequest *pods, size_t n) {
        TraceBound *b = NULL;
        double milli = -1;

        assert_int_equal(trace_bound_new(p, pods, n, &b), 0);
        assert_int_equal(trace_bound_solve(b, &milli), 0);
        assert_true(fabs(milli) < 1e-6); /* nothing arrived yet */
        for (size_t k = 0; k < n; k++)
                assert_int_equal(trace_bound_add(b, &pods[k]), 0);
        assert_int_equal(trace_bound_solve(b, &milli), 0);
        trace_bound_free(b);
        return milli;
}

static void add_nodes(Pool *p, const char *model, unsigned count, int64_t cpu, unsigned gpus) {
        static const char *const names[] = { "n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7" };
        int m = pool_model(p, model);

        assert_true(m >= 0);
        for (unsigned k = 0; k < count; k++)
                assert_true(pool_add_node(p, names[p->n_nodes % 8], cpu, 65536, m, gpus) >= 0);
}

static bool skipped(void) {
        if (trace_bound_available())
                return false;
        print_message("skipped: the bound is not built in (CONFIG_BENCH_BOUND, GLPK)\n");
        return true;
}

/* Two GPUs, three 0.6 shares: two fit. The GPU milli alone (1.8 of 2) would let all three. */
static void test_shares_need_a_gpu_each(void **state) {
        PoolRequest pods[] = { SHARE(1000, 600), SHARE(1000, 600), SHARE(1000, 600) };
        Pool p = {};

        if (skipped())
                skip();
        add_nodes(&p, "T4", 2, 8000, 1);
        assert_float_equal(bound_of(&p, pods, 3), 1200, 1e-6);
        pool_done(&p);
}

/* One GPU, a 0.7 share and two 0.4 shares: the two 0.4 shares (0.8) are the best, and the LP
 * knows that 0.7 leaves a hole no 0.4 fills. */
static void test_hole_too_small(void **state) {
        PoolRequest pods[] = { SHARE(1000, 700), SHARE(1000, 400), SHARE(1000, 400) };
        Pool p = {};

        if (skipped())
                skip();
        add_nodes(&p, "T4", 1, 8000, 1);
        assert_float_equal(bound_of(&p, pods, 3), 800, 1e-6);
        pool_done(&p);
}

/* Three 1-GPU pods with 10 CPUs on two nodes of 16 CPUs and 2 GPUs: one a node, by CPU. */
static void test_cpu_per_node(void **state) {
        PoolRequest pods[] = { WHOLE(10000, 1), WHOLE(10000, 1), WHOLE(10000, 1) };
        Pool p = {};

        if (skipped())
                skip();
        add_nodes(&p, "V100", 2, 16000, 2);
        assert_float_equal(bound_of(&p, pods, 3), 2000, 1e-6);
        pool_done(&p);
}

/* Pods bound to a model go only to its nodes; an 8-GPU pod fits on no 4-GPU node; CPU-only pods
 * allocate no GPU. */
static void test_models_and_sizes(void **state) {
        PoolRequest pods[] = { WHOLE(1000, 1), WHOLE(1000, 1), WHOLE(1000, 1),
                               WHOLE(1000, 8), WHOLE(1000, 2), { .cpu_milli = 4000, .memory_mib = 1024 } };
        Pool p = {};
        int v100;

        if (skipped())
                skip();
        add_nodes(&p, "V100", 1, 64000, 2);
        add_nodes(&p, "T4", 1, 64000, 4);
        v100 = pool_model(&p, "V100");
        for (size_t k = 0; k < 3; k++)
                pods[k].models = UINT32_C(1) << v100;
        /* Two of the V100 pods (its two GPUs), the 2-GPU pod on the T4: 4 GPUs. */
        assert_float_equal(bound_of(&p, pods, 6), 4000, 1e-6);
        pool_done(&p);
}

/* Arrivals of a class not given at the start, and MIG requests, are refused. */
static void test_refusals(void **state) {
        PoolRequest pods[] = { SHARE(1000, 600) }, other = SHARE(2000, 600),
                    mig = { .num_gpu = 1, .mig = 1 };
        TraceBound *b = NULL;
        Pool p = {};

        if (skipped())
                skip();
        add_nodes(&p, "T4", 1, 8000, 1);
        assert_int_equal(trace_bound_new(&p, pods, 1, &b), 0);
        assert_int_equal(trace_bound_add(b, &other), -ENOENT);
        trace_bound_free(b);
        assert_int_equal(trace_bound_new(&p, &mig, 1, &b), -EOPNOTSUPP);
        pool_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shares_need_a_gpu_each),
                cmocka_unit_test(test_hole_too_small),
                cmocka_unit_test(test_cpu_per_node),
                cmocka_unit_test(test_models_and_sizes),
                cmocka_unit_test(test_refusals),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
