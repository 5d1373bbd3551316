/* Tests for lib/pool: what fits where, FGD's fragmentation and scores, the baselines' choices,
 * determinism, the score cache, and Ark's policy on small pools built by hand. */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "pool/pool.h"

static PoolRequest gpu_req(int64_t cpu, unsigned n, unsigned milli) {
        return (PoolRequest) { .cpu_milli = cpu, .memory_mib = 1024, .num_gpu = n, .gpu_milli = milli };
}

static void test_names_and_validation(void **state) {
        Pool p = {};
        PoolPlacement pl;
        PoolRequest bad[] = {
                { .cpu_milli = 1000, .num_gpu = 2, .gpu_milli = 500 },  /* a share spans GPUs */
                { .cpu_milli = 1000, .num_gpu = 1, .gpu_milli = 1001 }, /* more than a GPU */
                { .cpu_milli = 1000, .num_gpu = 0, .gpu_milli = 100 },  /* milli without GPUs */
                { .cpu_milli = -1 },
                { .cpu_milli = 1000, .num_gpu = POOL_GPUS_MAX + 1, .gpu_milli = 1000 },
        };

        for (int k = 0; k < _POOL_POLICY_MAX; k++)
                assert_int_equal(pool_policy_from_string(pool_policy_to_string((PoolPolicy) k)), k);
        assert_int_equal(pool_policy_from_string("worst-fit"), _POOL_POLICY_INVALID);
        assert_null(pool_policy_to_string(_POOL_POLICY_MAX));

        assert_int_equal(pool_model(&p, "A100"), 0);
        assert_int_equal(pool_model(&p, "H100"), 1);
        assert_int_equal(pool_model(&p, "A100"), 0);
        assert_int_equal(pool_add_node(&p, "n0", 64000, 262144, 0, 8), 0);
        assert_int_equal(pool_add_node(&p, "bad", 1000, 1000, 5, 1), -EINVAL); /* no such model */
        assert_int_equal(pool_add_node(&p, "bad", 1000, 1000, 0, POOL_GPUS_MAX + 1), -EINVAL);
        for (size_t k = 0; k < ELEMENTSOF(bad); k++)
                assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &bad[k], &pl), -EINVAL);
        assert_int_equal(pool_place(&p, _POOL_POLICY_MAX, &(PoolRequest) { .cpu_milli = 1 }, &pl), -EINVAL);
        pool_done(&p);
}

static void test_fits(void **state) {
        Pool p = {};
        PoolRequest r;
        PoolPlacement pl;
        int a100 = pool_model(&p, "A100"), h100 = pool_model(&p, "H100");

        assert_int_equal(pool_add_node(&p, "a", 16000, 65536, a100, 2), 0);
        assert_int_equal(pool_add_node(&p, "h", 16000, 65536, h100, 2), 1);
        assert_int_equal(pool_add_node(&p, "cpu", 64000, 65536, -1, 0), 2);

        r = gpu_req(8000, 1, 1000);
        assert_true(pool_node_fits(&p, &p.nodes[0], &r));
        assert_false(pool_node_fits(&p, &p.nodes[2], &r)); /* no GPUs */
        r.models = UINT32_C(1) << h100;
        assert_false(pool_node_fits(&p, &p.nodes[0], &r));
        assert_true(pool_node_fits(&p, &p.nodes[1], &r));
        r = gpu_req(17000, 1, 1000); /* more CPU than the node */
        assert_false(pool_node_fits(&p, &p.nodes[0], &r));
        r = gpu_req(1000, 1, 1000);
        r.memory_mib = 65537;
        assert_false(pool_node_fits(&p, &p.nodes[0], &r));
        /* CPU-only requests fit anywhere with the CPU, whatever the models they name. */
        r = (PoolRequest) { .cpu_milli = 32000, .models = UINT32_C(1) << h100 };
        assert_true(pool_node_fits(&p, &p.nodes[2], &r));

        /* Shares: 600 + 400 fill a GPU; another 400 needs the other GPU; a 2-GPU request then
         * needs two whole GPUs and there are none. */
        r = gpu_req(1000, 1, 600);
        assert_int_equal(pool_place(&p, POOL_POLICY_FIRST_FIT, &r, &pl), 0);
        assert_int_equal(pl.node, 0);
        assert_int_equal(pl.n_gpus, 1);
        assert_int_equal(pl.gpus[0], 0);
        assert_int_equal(pool_commit(&p, &r, &pl), 0);
        r = gpu_req(1000, 1, 400);
        assert_int_equal(pool_place(&p, POOL_POLICY_BEST_FIT, &r, &pl), 0);
        assert_int_equal(pl.node, 0);
        assert_int_equal(pl.gpus[0], 0); /* the tightest GPU that takes it */
        assert_int_equal(pool_commit(&p, &r, &pl), 0);
        assert_int_equal(p.nodes[0].gpu[0].milli_left, 0);
        r = gpu_req(1000, 2, 1000);
        assert_false(pool_node_fits(&p, &p.nodes[0], &r));
        assert_true(pool_node_fits(&p, &p.nodes[1], &r));
        r.models = UINT32_C(1) << a100;
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &r, &pl), -ENOSPC);

        /* Release gives everything back. */
        pl = (PoolPlacement) { .node = 0, .n_gpus = 1, .gpus = { 0 } };
        r = gpu_req(1000, 1, 400);
        assert_int_equal(pool_release(&p, &r, &pl), 0);
        r = gpu_req(1000, 1, 600);
        assert_int_equal(pool_release(&p, &r, &pl), 0);
        assert_int_equal(p.nodes[0].gpu[0].milli_left, POOL_MILLI);
        assert_int_equal(p.nodes[0].cpu_left, 16000);
        assert_int_equal(p.nodes[0].memory_left, 65536);
        pool_done(&p);
}

static void test_fragmentation(void **state) {
        Pool p = {};
        int m = pool_model(&p, "T4");
        PoolShape shapes[] = {
                { .request = { .cpu_milli = 2000, .num_gpu = 1, .gpu_milli = 1000 }, .weight = 1 },
                { .request = { .cpu_milli = 2000, .num_gpu = 1, .gpu_milli = 500 }, .weight = 1 },
                { .request = { .cpu_milli = 4000 }, .weight = 2 },
        };
        PoolNode *n;

        assert_int_equal(pool_add_node(&p, "n", 10000, 65536, m, 2), 0);
        assert_int_equal(pool_set_workload(&p, shapes, ELEMENTSOF(shapes)), 0);
        n = &p.nodes[0];
        n->gpu[1].milli_left = 300;
        /* Whole GPU and 500-share: the 300 left on GPU 1 is too small (fragment); CPU-only: all
         * 1300 free milli are fragment. (300 + 300 + 2 x 1300) / 4. */
        assert_float_equal(pool_node_fragmentation(&p, n), 800, 1e-9);
        /* Without the CPU for the GPU requests everything free is fragment. */
        n->cpu_left = 1000;
        assert_float_equal(pool_node_fragmentation(&p, n), 1300, 1e-9);
        n->cpu_left = 10000;
        /* A model the requests cannot use: all fragment. */
        shapes[0].request.models = shapes[1].request.models = UINT32_C(1) << 7;
        assert_int_equal(pool_set_workload(&p, shapes, ELEMENTSOF(shapes)), 0);
        assert_float_equal(pool_node_fragmentation(&p, n), 1300, 1e-9);
        /* A multi-GPU request with too few whole GPUs: all fragment. */
        shapes[0] = (PoolShape) { .request = { .cpu_milli = 2000, .num_gpu = 2, .gpu_milli = 1000 },
                                  .weight = 1 };
        assert_int_equal(pool_set_workload(&p, shapes, 1), 0);
        assert_float_equal(pool_node_fragmentation(&p, n), 1300, 1e-9);
        n->gpu[1].milli_left = 1000;
        assert_float_equal(pool_node_fragmentation(&p, n), 0, 1e-9);
        /* Nothing free, nothing fragmented. */
        n->gpu[0].milli_left = n->gpu[1].milli_left = 0;
        assert_float_equal(pool_node_fragmentation(&p, n), 0, 1e-9);
        pool_done(&p);
}

/* FGD puts a share where it fills a GPU's gap rather than opening a whole GPU. */
static void test_fgd_choice(void **state) {
        Pool p = {};
        int m = pool_model(&p, "V100");
        PoolShape shapes[] = {
                { .request = { .cpu_milli = 1000, .num_gpu = 1, .gpu_milli = 1000 }, .weight = 3 },
                { .request = { .cpu_milli = 1000, .num_gpu = 1, .gpu_milli = 300 }, .weight = 1 },
        };
        PoolRequest r = gpu_req(1000, 1, 300);
        PoolPlacement pl;

        assert_int_equal(pool_add_node(&p, "fresh", 32000, 65536, m, 2), 0);
        assert_int_equal(pool_add_node(&p, "used", 32000, 65536, m, 2), 1);
        assert_int_equal(pool_set_workload(&p, shapes, ELEMENTSOF(shapes)), 0);
        p.nodes[1].gpu[1].milli_left = 300; /* a 300 gap on node "used", GPU 1 */
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &r, &pl), 0);
        assert_int_equal(pl.node, 1);
        assert_int_equal(pl.n_gpus, 1);
        assert_int_equal(pl.gpus[0], 1);
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &r, &pl), 0);
        assert_int_equal(pl.node, 1);
        assert_int_equal(pl.gpus[0], 1);
        /* First fit takes the first node and GPU that fit. */
        assert_int_equal(pool_place(&p, POOL_POLICY_FIRST_FIT, &r, &pl), 0);
        assert_int_equal(pl.node, 0);
        assert_int_equal(pl.gpus[0], 0);
        pool_done(&p);
}

/* Best fit scores 100 x (1 - (CPU left / 128 CPUs + GPU left / 8 GPUs) / 2) in whole points:
 * the node that is left with less wins; equal points go to the earlier node in the order. */
static void test_best_fit(void **state) {
        Pool p = {};
        int m = pool_model(&p, "G2");
        PoolRequest r = gpu_req(8000, 1, 1000);
        PoolPlacement pl;

        assert_int_equal(pool_add_node(&p, "big", 96000, 393216, m, 8), 0);
        assert_int_equal(pool_add_node(&p, "small", 16000, 65536, m, 2), 1);
        assert_int_equal(pool_add_node(&p, "small2", 16000, 65536, m, 2), 2);
        assert_int_equal(pool_place(&p, POOL_POLICY_BEST_FIT, &r, &pl), 0);
        assert_int_equal(pl.node, 1);
        /* With the order reversed, the tie between the two small ones goes to the other. */
        assert_int_equal(pool_seed(&p, 0), 0);
        p.order = malloc(3 * sizeof(uint32_t));
        assert_non_null(p.order);
        p.order[0] = 2, p.order[1] = 1, p.order[2] = 0;
        assert_int_equal(pool_place(&p, POOL_POLICY_BEST_FIT, &r, &pl), 0);
        assert_int_equal(pl.node, 2);
        pool_done(&p);
}

/* The same seed gives the same order; another seed another; 0 the index order. */
static void test_seed_order(void **state) {
        Pool p = {};
        uint32_t first[64];
        bool differs = false;

        for (int k = 0; k < 64; k++)
                assert_int_equal(pool_add_node(&p, "n", 1000, 1000, -1, 0), k);
        assert_int_equal(pool_seed(&p, 42), 0);
        memcpy(first, p.order, sizeof(first));
        assert_int_equal(pool_seed(&p, 42), 0);
        assert_memory_equal(first, p.order, sizeof(first));
        assert_int_equal(pool_seed(&p, 43), 0);
        for (int k = 0; k < 64; k++)
                differs = differs || first[k] != p.order[k];
        assert_true(differs);
        /* A permutation. */
        {
                bool seen[64] = {};
                for (int k = 0; k < 64; k++) {
                        assert_true(p.order[k] < 64);
                        assert_false(seen[p.order[k]]);
                        seen[p.order[k]] = true;
                }
        }
        assert_int_equal(pool_seed(&p, 0), 0);
        assert_null(p.order);
        pool_done(&p);
}

/* Scores kept per node and request class give the placements a fresh computation gives. */
static void test_cache_consistent(void **state) {
        static const PoolRequest kinds[] = {
                { .cpu_milli = 4000, .memory_mib = 8192, .num_gpu = 1, .gpu_milli = 300 },
                { .cpu_milli = 8000, .memory_mib = 8192, .num_gpu = 1, .gpu_milli = 700 },
                { .cpu_milli = 12000, .memory_mib = 8192, .num_gpu = 1, .gpu_milli = 1000 },
                { .cpu_milli = 16000, .memory_mib = 8192, .num_gpu = 2, .gpu_milli = 1000 },
                { .cpu_milli = 6000, .memory_mib = 8192 },
                /* The same class as the third but bound to T4 (model 1): its score differs. */
                { .cpu_milli = 12000, .memory_mib = 8192, .num_gpu = 1, .gpu_milli = 1000, .models = 2 },
        };
        PoolShape shapes[ELEMENTSOF(kinds)];
        Pool a = {}, b = {};
        uint64_t s = 7;

        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                shapes[k] = (PoolShape) { .request = kinds[k], .weight = (double) (k + 1) };
        for (int k = 0; k < 40; k++) {
                int ma = pool_model(&a, k % 3 ? "T4" : "G2"), mb = pool_model(&b, k % 3 ? "T4" : "G2");

                assert_int_equal(pool_add_node(&a, "n", 32000 + 8000 * (k % 4), 131072, ma, k % 3 ? 2 : 8),
                                 k);
                assert_int_equal(pool_add_node(&b, "n", 32000 + 8000 * (k % 4), 131072, mb, k % 3 ? 2 : 8),
                                 k);
        }
        assert_int_equal(pool_set_workload(&a, shapes, ELEMENTSOF(shapes)), 0);
        assert_int_equal(pool_set_workload(&b, shapes, ELEMENTSOF(shapes)), 0);
        assert_int_equal(pool_seed(&a, 9), 0);
        assert_int_equal(pool_seed(&b, 9), 0);
        for (PoolPolicy pol = POOL_POLICY_FGD; pol <= POOL_POLICY_ARK; pol++) {
                pool_reset(&a);
                pool_reset(&b);
                for (int e = 0; e < 300; e++) {
                        PoolPlacement pa, pb;
                        const PoolRequest *r;
                        int ra, rb;

                        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                        r = &kinds[(s >> 33) % ELEMENTSOF(kinds)];
                        /* b forgets every kept score before each decision. */
                        assert_int_equal(pool_set_workload(&b, shapes, ELEMENTSOF(shapes)), 0);
                        ra = pool_place(&a, pol, r, &pa);
                        rb = pool_place(&b, pol, r, &pb);
                        assert_int_equal(ra, rb);
                        if (ra < 0)
                                continue;
                        assert_int_equal(pa.node, pb.node);
                        assert_int_equal(pa.n_gpus, pb.n_gpus);
                        assert_memory_equal(pa.gpus, pb.gpus, pa.n_gpus);
                        assert_int_equal(pool_commit(&a, r, &pa), 0);
                        assert_int_equal(pool_commit(&b, r, &pb), 0);
                }
        }
        pool_done(&a);
        pool_done(&b);
}

/* Ark: a CPU-only request goes where CPU is left over beyond the free GPUs' needs; a request
 * any model can take stays off the model that model-bound requests want. */
static void test_ark(void **state) {
        Pool p = {};
        int g2 = pool_model(&p, "G2"), t4 = pool_model(&p, "T4");
        PoolShape shapes[] = {
                { .request = { .cpu_milli = 12000, .num_gpu = 1, .gpu_milli = 1000 }, .weight = 4 },
                { .request = { .cpu_milli = 12000,
                               .num_gpu = 1,
                               .gpu_milli = 1000,
                               .models = UINT32_C(1) << 1 },
                  .weight = 4 },
        };
        PoolRequest cpu = { .cpu_milli = 8000, .memory_mib = 1024 }, any = gpu_req(12000, 1, 1000);
        PoolPlacement pl;

        assert_int_equal(t4, 1);
        assert_int_equal(pool_add_node(&p, "g2", 96000, 393216, g2, 8), 0);  /* 12 CPUs per GPU */
        assert_int_equal(pool_add_node(&p, "t4", 104000, 524288, t4, 2), 1); /* 52 CPUs per GPU */
        assert_int_equal(pool_set_workload(&p, shapes, ELEMENTSOF(shapes)), 0);
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &cpu, &pl), 0);
        assert_int_equal(pl.node, 1);
        assert_int_equal(pl.n_gpus, 0);
        /* Half of the GPU demand can only run on T4, which has a fifth of the GPUs. */
        assert_true(p.pressure[t4] > p.pressure[g2]);
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &any, &pl), 0);
        assert_int_equal(pl.node, 0);
        pool_done(&p);
}

/* Ark: where the pool has CPU to spare, a GPU request goes where it leaves the free GPUs the
 * CPU they will need; where it has none to spare, that key is off. */
static void test_ark_cpu_shortfall(void **state) {
        Pool p = {};
        int m = pool_model(&p, "V100");
        PoolShape shapes[] = {
                { .request = { .cpu_milli = 8000, .num_gpu = 1, .gpu_milli = 1000 }, .weight = 4 },
                { .request = { .cpu_milli = 40000 }, .weight = 4 },
        };
        PoolRequest hungry = gpu_req(24000, 1, 1000);
        PoolPlacement pl;

        assert_int_equal(pool_add_node(&p, "poor", 32000, 262144, m, 4), 0);  /* 8 CPUs per GPU */
        assert_int_equal(pool_add_node(&p, "rich", 104000, 262144, m, 2), 1); /* 52 CPUs per GPU */
        /* GPU requests only: 136 CPUs for 6 GPUs, 8 wanted per GPU. */
        assert_int_equal(pool_set_workload(&p, shapes, 1), 0);
        assert_true(p.cpu_slack > 2.8 && p.cpu_slack < 2.9);
        /* FGD scores both the same (the typical request still fits on either): the first node. On
         * the first, 8 CPUs would be left for 3 GPUs that need 24. */
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &hungry, &pl), 0);
        assert_int_equal(pl.node, 0);
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &hungry, &pl), 0);
        assert_int_equal(pl.node, 1);
        /* CPU-only requests as well, taking more CPU than the pool has: no slack, so by balance
         * (CPU and GPU left in proportion), which the CPU-poor node keeps better. */
        assert_int_equal(pool_set_workload(&p, shapes, 2), 0);
        assert_true(p.cpu_slack < 1);
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &hungry, &pl), 0);
        assert_int_equal(pl.node, 0);
        pool_done(&p);
}

/* MIG: a GPU in MIG mode takes instances by NVIDIA's geometry and nothing else; instances pack
 * onto the fullest GPU that takes them. */
static void test_mig(void **state) {
        Pool p = {};
        int h100 = pool_model(&p, "NVIDIA H100 SXM5 80GB"), l40s = pool_model(&p, "NVIDIA L40S");
        PoolRequest g3 = { .cpu_milli = 4000, .memory_mib = 1024, .num_gpu = 1, .mig = MIG_3G_40GB + 1 };
        PoolRequest g4 = { .cpu_milli = 4000, .memory_mib = 1024, .num_gpu = 1, .mig = MIG_4G_40GB + 1 };
        PoolRequest g1 = { .cpu_milli = 1000, .memory_mib = 1024, .num_gpu = 1, .mig = MIG_1G_10GB + 1 };
        PoolRequest whole = gpu_req(4000, 1, 1000);
        PoolPlacement pl, a, b;

        assert_int_equal(pool_add_node(&p, "h", 64000, 262144, h100, 2), 0);
        assert_int_equal(pool_add_node(&p, "l", 64000, 262144, l40s, 1), 1);
        assert_int_equal(pool_set_mig(&p, 1, 0, true), -EOPNOTSUPP);
        assert_int_equal(pool_set_mig(&p, 0, 5, true), -EINVAL);
        /* No GPU in MIG mode: no instance anywhere. */
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &g3, &pl), -ENOSPC);
        assert_int_equal(pool_set_mig(&p, 0, 0, true), 0);
        /* A malformed MIG request. */
        {
                PoolRequest bad = g3;
                bad.gpu_milli = 500;
                assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &bad, &pl), -EINVAL);
        }
        /* Two 3g.40gb on GPU 0, in its two halves; a third has nowhere to go. */
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &g3, &a), 0);
        assert_int_equal(a.node, 0);
        assert_int_equal(a.gpus[0], 0);
        assert_int_equal(pool_commit(&p, &g3, &a), 0);
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &g3, &b), 0);
        assert_int_equal(b.gpus[0], 0);
        assert_int_not_equal(a.mig_start, b.mig_start);
        assert_int_equal(pool_commit(&p, &g3, &b), 0);
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &g3, &pl), -ENOSPC);
        /* The seventh compute slice is there, but no memory: no 1g either. */
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &g1, &pl), -ENOSPC);
        /* A whole GPU goes to GPU 1; GPU 0 is not for whole or shared use. */
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &whole, &pl), 0);
        assert_int_equal(pl.gpus[0], 1);
        assert_int_equal(pool_commit(&p, &whole, &pl), 0);
        assert_int_equal(pool_set_mig(&p, 0, 1, true), -EBUSY);  /* in use */
        assert_int_equal(pool_set_mig(&p, 0, 0, false), -EBUSY); /* has instances */
        /* Free one half: a 4g.40gb only starts at 0, so it fits only if the half at 0 is free. */
        assert_int_equal(pool_release(&p, &g3, a.mig_start == 0 ? &a : &b), 0);
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &g4, &pl), 0);
        assert_int_equal(pl.mig_start, 0);
        assert_int_equal(pool_commit(&p, &g4, &pl), 0);
        assert_int_equal(p.nodes[0].gpu[0].instances.compute, 7);
        assert_int_equal(p.nodes[0].cpu_left, 64000 - 4000 - 4000 - 4000);
        pool_done(&p);
}

/* Placements that do not fit are refused by commit and release, with nothing changed; nodes
 * added after requests were scored, or after seeding, are scored too. */
static void test_commit_checks(void **state) {
        Pool p = {};
        int m = pool_model(&p, "T4");
        PoolRequest share = gpu_req(1000, 1, 600), two = gpu_req(1000, 2, 1000);
        PoolPlacement g0 = { .node = 0, .n_gpus = 1, .gpus = { 0 } }, pl;

        assert_int_equal(pool_add_node(&p, "n", 16000, 65536, m, 2), 0);
        assert_int_equal(pool_commit(&p, &share, &g0), 0);
        assert_int_equal(pool_commit(&p, &share, &g0), -EBUSY); /* 600 + 600 > 1000 */
        assert_int_equal(p.nodes[0].gpu[0].milli_left, 400);
        assert_int_equal(
                pool_commit(&p, &two, &(PoolPlacement) { .node = 0, .n_gpus = 2, .gpus = { 0, 1 } }),
                -EBUSY);
        assert_int_equal(
                pool_commit(&p, &two, &(PoolPlacement) { .node = 0, .n_gpus = 2, .gpus = { 1, 1 } }),
                -EINVAL);
        assert_int_equal(pool_commit(&p, &share, &(PoolPlacement) { .node = 0, .n_gpus = 1, .gpus = { 2 } }),
                         -EINVAL);
        assert_int_equal(pool_commit(&p, &share, &(PoolPlacement) { .node = 3, .n_gpus = 1 }), -EINVAL);
        assert_int_equal(pool_commit(&p, &share, &(PoolPlacement) { .node = 0, .n_gpus = 0 }), -EINVAL);
        assert_int_equal(
                pool_release(&p, &share, &(PoolPlacement) { .node = 0, .n_gpus = 1, .gpus = { 1 } }),
                -ENOENT);
        assert_int_equal(pool_release(&p, &share, &g0), 0);
        assert_int_equal(pool_release(&p, &share, &g0), -ENOENT);
        assert_int_equal(p.nodes[0].gpu[0].milli_left, POOL_MILLI);
        assert_int_equal(p.nodes[0].cpu_left, 16000);

        /* Score a class, then add nodes (and seed first): the new node is scored, not read past
         * the table; a seed taken before the node was added no longer applies. */
        assert_int_equal(pool_set_workload(&p, &(PoolShape) { .request = share, .weight = 1 }, 1), 0);
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &two, &pl), 0);
        assert_int_equal(pool_commit(&p, &two, &pl), 0);
        assert_int_equal(pool_seed(&p, 5), 0);
        for (int k = 1; k <= 70; k++)
                assert_int_equal(pool_add_node(&p, "more", 16000, 65536, m, 2), k);
        assert_null(p.order);
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &two, &pl), 0);
        assert_true(pl.node >= 1);
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &two, &pl), 0);
        assert_true(pl.node >= 1);
        pool_done(&p);
}

/* Whole GPUs by topology: two GPUs behind one switch, four on one NUMA node, a single GPU from
 * the NUMA node with the fewest free (keeping the other whole). */
static void test_topology(void **state) {
        Pool p = {};
        int m = pool_model(&p, "H100");
        PoolRequest one = gpu_req(1000, 1, 1000), two = gpu_req(1000, 2, 1000),
                    four = gpu_req(1000, 4, 1000);
        PoolPlacement pl;

        /* 8 GPUs: 0-3 on NUMA 0 (switches 0: GPUs 0, 2; 1: GPUs 1, 3), 4-7 on NUMA 1 (switches 2, 3). */
        assert_int_equal(pool_add_node(&p, "dgx", 224000, 2097152, m, 8), 0);
        for (unsigned g = 0; g < 8; g++)
                assert_int_equal(
                        pool_set_topology(&p, 0, g, g < 4 ? 0 : 1, (int) (g < 4 ? g % 2 : 2 + g % 2)), 0);
        assert_int_equal(pool_set_topology(&p, 0, 8, 0, 0), -EINVAL);
        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &two, &pl), 0);
        assert_int_equal(pl.n_gpus, 2);
        assert_int_equal(pl.gpus[0], 0);
        assert_int_equal(pl.gpus[1], 2); /* behind one switch, not 0 and 1 */
        assert_int_equal(pool_commit(&p, &two, &pl), 0);
        /* Four: NUMA 0 has two free, so NUMA 1. */
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &four, &pl), 0);
        assert_int_equal(pl.gpus[0], 4);
        assert_int_equal(pl.gpus[3], 7);
        /* One: from NUMA 0 (two free), keeping NUMA 1's four together. */
        assert_int_equal(pool_place(&p, POOL_POLICY_BEST_FIT, &one, &pl), 0);
        assert_true(pl.gpus[0] == 1 || pl.gpus[0] == 3);
        assert_int_equal(pool_commit(&p, &one, &pl), 0);
        /* Five whole GPUs are not free on one NUMA node: the first free ones. */
        {
                PoolRequest six = gpu_req(1000, 5, 1000);
                assert_int_equal(pool_place(&p, POOL_POLICY_FIRST_FIT, &six, &pl), 0);
                assert_int_equal(pl.n_gpus, 5);
        }
        pool_done(&p);
}

/* FGD's definition, written out again: the oracle for pool_node_fragmentation(). */
static double oracle_fragmentation(const PoolShape *shapes, size_t n_shapes, const PoolNode *n) {
        double f = 0, w = 0;

        for (size_t k = 0; k < n_shapes; k++) {
                const PoolRequest *r = &shapes[k].request;
                unsigned free_total = 0, small = 0, fit = 0;
                bool model = r->models == 0 || (r->models >> n->model) & 1;

                for (unsigned g = 0; g < n->n_gpus; g++) {
                        free_total += n->gpu[g].milli_left;
                        if (n->gpu[g].milli_left >= r->gpu_milli)
                                fit++;
                        else
                                small += n->gpu[g].milli_left;
                }
                f += shapes[k].weight *
                        (r->num_gpu == 0 || !model || fit < r->num_gpu || n->cpu_left < r->cpu_milli
                                 ? free_total
                                 : small);
                w += shapes[k].weight;
        }
        return f / w;
}

/* A node's fragmentation counts each distinct GPU milli of the workload once ("levels"), and
 * falls back to a shape-by-shape count past POOL_LEVELS_MAX of them: both give FGD's value. */
static void test_fragmentation_levels(void **state) {
        static const size_t shares[] = { 8, 62, 63 }; /* 10, 64 and 65 levels with the 0 and 1000 below */
        uint64_t x = 12345;

        for (size_t c = 0; c < ELEMENTSOF(shares); c++) {
                Pool p = {};
                int m0 = pool_model(&p, "T4"), m1 = pool_model(&p, "G2");
                PoolShape shapes[80];
                size_t n = 0;

                for (size_t k = 0; k < shares[c]; k++) {
                        x = x * 6364136223846793005u + 1442695040888963407u;
                        shapes[n++] = (PoolShape) {
                                .request = { .cpu_milli = (int64_t) (x >> 40) % 16000,
                                             .num_gpu = 1,
                                             .gpu_milli = 1 + (unsigned) k * 15,
                                             .models = k % 3 == 0 ? UINT32_C(1) << (x >> 10) % 2 : 0 },
                                .weight = 1 + (double) ((x >> 30) % 9),
                        };
                }
                shapes[n++] = (PoolShape) { .request = { .cpu_milli = 3000 }, .weight = 2 };
                shapes[n++] = (PoolShape) { .request = { .cpu_milli = 1000, .num_gpu = 1, .mig = 1 },
                                            .weight = 1 };
                shapes[n++] = (PoolShape) {
                        .request = { .cpu_milli = 8000, .num_gpu = 2, .gpu_milli = POOL_MILLI }, .weight = 3
                };
                shapes[n++] = (PoolShape) { .request = { .cpu_milli = 4000,
                                                         .num_gpu = 1,
                                                         .gpu_milli = POOL_MILLI,
                                                         .models = UINT32_C(1) << m1 },
                                            .weight = 2 };
                for (int k = 0; k < 4; k++)
                        assert_int_equal(pool_add_node(&p, "n", 16000, 65536, k % 2 ? m1 : m0, 8), k);
                assert_int_equal(pool_set_workload(&p, shapes, n), 0);
                assert_int_equal(p.n_levels, shares[c] + 2 <= POOL_LEVELS_MAX ? shares[c] + 2 : 0);
                for (int round = 0; round < 300; round++) {
                        PoolNode *nd = &p.nodes[round % 4];

                        x = x * 6364136223846793005u + 1442695040888963407u;
                        nd->cpu_left = (int64_t) (x >> 33) % 16001;
                        for (unsigned g = 0; g < nd->n_gpus; g++)
                                nd->gpu[g].milli_left = (uint16_t) ((x >> (g * 4)) % 3 == 0 ? 1000
                                                                            : (x >> (g * 7)) % 5 == 0
                                                                            ? 0
                                                                            : (x >> (g * 7)) % 1001);
                        assert_float_equal(pool_node_fragmentation(&p, nd),
                                           oracle_fragmentation(shapes, n, nd), 1e-6);
                }
                pool_done(&p);
        }
}

/* Ark's portfolio: pool_tune() replays the expected requests under FGD, Ark's keys and best-fit
 * on copies and places under the one that allocated the most. */
static void test_tune(void **state) {
        Pool p = {};
        int g2 = pool_model(&p, "G2"), t4 = pool_model(&p, "T4");
        PoolShape shapes[] = {
                { gpu_req(4000, 1, 1000), 4 },  { gpu_req(2000, 1, 500), 3 }, { gpu_req(8000, 1, 300), 2 },
                { gpu_req(30000, 2, 1000), 1 }, { gpu_req(6000, 0, 0), 2 },
        };
        PoolShape whole[] = { { gpu_req(1000, 1, 1000), 1 } };
        PoolTune t1, t2;
        PoolNode before[12];
        PoolPlacement a, b;

        for (int k = 0; k < 12; k++)
                assert_int_equal(pool_add_node(&p, "n", k % 3 ? 32000 : 96000, 262144, k % 2 ? g2 : t4,
                                               k % 3 ? 4 : 8),
                                 k);
        assert_int_equal(pool_set_workload(&p, shapes, ELEMENTSOF(shapes)), 0);
        assert_int_equal(pool_seed(&p, 7), 0);
        /* A commitment first: the replays start from the pool as it is. */
        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &shapes[3].request, &a), 0);
        assert_int_equal(pool_commit(&p, &shapes[3].request, &a), 0);
        memcpy(before, p.nodes, sizeof(before));

        assert_int_equal(pool_tune(&p, shapes, ELEMENTSOF(shapes), 0, 1, &t1), -EINVAL);
        assert_int_equal(pool_tune(&p, shapes, 0, 3, 1, &t1), -EINVAL);
        {
                PoolShape neg = { gpu_req(1000, 1, 1000), -1 };
                assert_int_equal(pool_tune(&p, &neg, 1, 3, 1, &t1), -EINVAL);
        }
        {
                /* So few GPU requests that a stream would be endless: refused before drawing. */
                PoolShape sparse[] = { { gpu_req(1000, 0, 0), 1e12 }, { gpu_req(1000, 1, 1), 1 } };
                PoolShape inf[] = { { gpu_req(1000, 1, 500), 1e308 }, { gpu_req(1000, 1, 500), 1e308 } };

                assert_int_equal(pool_tune(&p, sparse, 2, 3, 1, &t1), -E2BIG);
                assert_int_equal(pool_tune(&p, inf, 2, 3, 1, &t1), -EINVAL); /* weights add up to infinity */
        }
        assert_false(p.tuned);

        assert_int_equal(pool_tune(&p, shapes, ELEMENTSOF(shapes), 3, 1, &t1), 0);
        /* The pool itself is as it was. */
        for (int k = 0; k < 12; k++) {
                assert_int_equal(p.nodes[k].cpu_left, before[k].cpu_left);
                assert_memory_equal(p.nodes[k].gpu, before[k].gpu, sizeof(before[k].gpu));
        }
        /* Three candidates, each allocated a share of the free milli. FGD, or a challenger that
         * beat it by its margin and allocated the most of those that did. */
        assert_true(isnan(t1.allocated[POOL_POLICY_FIRST_FIT]));
        for (PoolPolicy c = POOL_POLICY_BEST_FIT; c <= POOL_POLICY_ARK; c++) {
                assert_true(t1.allocated[c] > 0.3 && t1.allocated[c] <= 1.0);
                if (c != POOL_POLICY_FGD && t1.margin[c] > 0)
                        assert_true(t1.allocated[c] <= t1.allocated[t1.chosen]);
        }
        if (t1.chosen != POOL_POLICY_FGD) {
                assert_true(t1.margin[t1.chosen] > 0);
                assert_true(t1.allocated[t1.chosen] > t1.allocated[POOL_POLICY_FGD]);
        }
        assert_true(t1.requests > 0);
        assert_true(p.tuned);
        assert_int_equal(p.ark_under, t1.chosen);
        /* Deterministic. */
        assert_int_equal(pool_tune(&p, shapes, ELEMENTSOF(shapes), 3, 1, &t2), 0);
        assert_int_equal(t2.chosen, t1.chosen);
        assert_memory_equal(t2.allocated, t1.allocated, sizeof(t1.allocated));
        /* Ark now places as the chosen policy does. */
        for (size_t k = 0; k < ELEMENTSOF(shapes); k++) {
                assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &shapes[k].request, &a), 0);
                assert_int_equal(pool_place(&p, t1.chosen, &shapes[k].request, &b), 0);
                assert_int_equal(a.node, b.node);
                assert_memory_equal(a.gpus, b.gpus, sizeof(a.gpus));
        }

        /* Whole single GPUs on plenty of CPU: every candidate allocates all the free milli; the
         * tie goes to FGD, which no challenger beats. */
        assert_int_equal(pool_tune(&p, whole, 1, 2, 5, &t1), 0);
        for (PoolPolicy c = POOL_POLICY_BEST_FIT; c <= POOL_POLICY_ARK; c++)
                assert_true(t1.allocated[c] == 1.0);
        assert_true(t1.margin[POOL_POLICY_ARK] <= 0 && t1.margin[POOL_POLICY_BEST_FIT] <= 0);
        assert_int_equal(t1.chosen, POOL_POLICY_FGD);
        /* Ark now places as FGD, not as its keys, which place some of these elsewhere. */
        {
                bool differs = false;

                for (size_t k = 0; k < ELEMENTSOF(shapes); k++) {
                        PoolPlacement keys;

                        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &shapes[k].request, &a), 0);
                        assert_int_equal(pool_place(&p, POOL_POLICY_FGD, &shapes[k].request, &b), 0);
                        assert_int_equal(a.node, b.node);
                        assert_memory_equal(a.gpus, b.gpus, sizeof(a.gpus));
                        pool_untune(&p);
                        assert_int_equal(pool_place(&p, POOL_POLICY_ARK, &shapes[k].request, &keys), 0);
                        differs = differs || keys.node != a.node ||
                                memcmp(keys.gpus, a.gpus, sizeof(a.gpus)) != 0;
                        p.tuned = true;
                        p.ark_under = POOL_POLICY_FGD;
                }
                assert_true(differs);
        }

        /* Nothing to learn from requests without GPUs: Ark's keys, at once. */
        {
                PoolShape cpu_only = { gpu_req(2000, 0, 0), 1 };

                assert_int_equal(pool_tune(&p, &cpu_only, 1, 4, 1, &t1), 0);
                assert_int_equal(t1.chosen, POOL_POLICY_ARK);
                assert_int_equal(t1.rounds, 0);
                assert_int_equal(p.ark_under, POOL_POLICY_ARK);
        }

        /* Forgotten: Ark's own keys again. */
        pool_untune(&p);
        assert_false(p.tuned);
        pool_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names_and_validation),
                cmocka_unit_test(test_fits),
                cmocka_unit_test(test_fragmentation),
                cmocka_unit_test(test_fgd_choice),
                cmocka_unit_test(test_best_fit),
                cmocka_unit_test(test_seed_order),
                cmocka_unit_test(test_cache_consistent),
                cmocka_unit_test(test_ark),
                cmocka_unit_test(test_ark_cpu_shortfall),
                cmocka_unit_test(test_mig),
                cmocka_unit_test(test_commit_checks),
                cmocka_unit_test(test_topology),
                cmocka_unit_test(test_tune),
                cmocka_unit_test(test_fragmentation_levels),
        };
        return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
