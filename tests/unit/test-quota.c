/* Tests for lib/pool/quota: resource names, usage by model, admission against limits. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "pool/mig.h"
#include "pool/quota.h"

#define GiB(x) ((uint64_t) (x) << 30)

static void test_names(void **state) {
        for (int r = 0; r < _QUOTA_RESOURCE_MAX; r++)
                assert_int_equal(quota_resource_from_string(quota_resource_to_string((QuotaResource) r)), r);
        assert_int_equal(quota_resource_from_string("gpu"), _QUOTA_RESOURCE_INVALID);
        assert_int_equal(quota_resource_from_string(NULL), _QUOTA_RESOURCE_INVALID);
        assert_null(quota_resource_to_string(_QUOTA_RESOURCE_MAX));
        assert_true(quota_resource_is_bytes(QUOTA_MEMORY));
        assert_false(quota_resource_is_bytes(QUOTA_GPUS));
}

static void test_admit(void **state) {
        static const char *const used_models[] = { "NVIDIA H100 SXM5 80GB", "NVIDIA L40S" };
        static const char *const one_h100[] = { "NVIDIA H100 SXM5 80GB" };
        Quota q[] = {
                { .resource = QUOTA_GPUS, .limit = 2 },
                { .resource = QUOTA_GPUS, .model = "h100", .limit = 1 },
                { .resource = QUOTA_MEMORY, .limit = GiB(64) },
                { .resource = QUOTA_INSTANCES, .limit = QUOTA_UNLIMITED },
        };
        QuotaUsage used = { .gpu_models = used_models, .n_gpu_models = 2 }, req = {}, none = {};
        size_t idx = 99;
        uint64_t total = 0;

        used.amount[QUOTA_GPUS] = 2;
        used.amount[QUOTA_MEMORY] = GiB(32);
        used.amount[QUOTA_INSTANCES] = 1000;

        /* Usage by model: one of the two GPUs is an H100 (case does not matter). */
        assert_int_equal(quota_used(&q[1], &used), 1);
        assert_int_equal(quota_used(&q[0], &used), 2);

        /* Memory within the limit, no GPU: admitted; instances have no limit. */
        req.amount[QUOTA_MEMORY] = GiB(32);
        req.amount[QUOTA_INSTANCES] = 1;
        assert_int_equal(quota_admit(q, ELEMENTSOF(q), &used, &req, &idx, &total), 0);
        /* One byte more is not. */
        req.amount[QUOTA_MEMORY] = GiB(32) + 1;
        assert_int_equal(quota_admit(q, ELEMENTSOF(q), &used, &req, &idx, &total), -EDQUOT);
        assert_int_equal(idx, 2);
        assert_true(total == GiB(64) + 1);

        /* A third GPU: the GPU limit (2) is the first exceeded, at 3. */
        req = (QuotaUsage) { .gpu_models = one_h100, .n_gpu_models = 1 };
        req.amount[QUOTA_GPUS] = 1;
        assert_int_equal(quota_admit(q, ELEMENTSOF(q), &used, &req, &idx, &total), -EDQUOT);
        assert_int_equal(idx, 0);
        assert_int_equal(total, 3);
        /* With room for GPUs in general, the H100 limit still holds. */
        q[0].limit = 8;
        assert_int_equal(quota_admit(q, ELEMENTSOF(q), &used, &req, &idx, &total), -EDQUOT);
        assert_int_equal(idx, 1);
        assert_int_equal(total, 2);
        /* An L40S is not an H100. */
        {
                static const char *const l40s[] = { "NVIDIA L40S" };
                req.gpu_models = l40s;
                assert_int_equal(quota_admit(q, ELEMENTSOF(q), &used, &req, NULL, NULL), 0);
        }
        /* Models match as whole words: an A10 quota does not count A100s, but counts "a10" GPUs. */
        {
                static const char *const models[] = { "NVIDIA A100-SXM4-80GB", "NVIDIA A10G", "NVIDIA a10" };
                Quota a10 = { .resource = QUOTA_GPUS, .model = "A10", .limit = 1 };
                QuotaUsage u = { .gpu_models = models, .n_gpu_models = ELEMENTSOF(models) };

                assert_int_equal(quota_used(&a10, &u), 1);
                snprintf(a10.model, sizeof(a10.model), "A100");
                assert_int_equal(quota_used(&a10, &u), 1);
                snprintf(a10.model, sizeof(a10.model), "NVIDIA");
                assert_int_equal(quota_used(&a10, &u), 3);
        }
        /* Asking for nothing of a resource is never refused, even over the limit already. */
        used.amount[QUOTA_MEMORY] = GiB(100);
        assert_int_equal(quota_admit(q, ELEMENTSOF(q), &used, &none, NULL, NULL), 0);
        /* No overflow into a small number. */
        req = (QuotaUsage) {};
        req.amount[QUOTA_MEMORY] = UINT64_MAX;
        assert_int_equal(quota_admit(q, ELEMENTSOF(q), &used, &req, &idx, &total), -EDQUOT);
        assert_true(total == UINT64_MAX);
}

/* Partitions count fractions of a GPU, in milli-GPUs: a limit of 1 GPU holds four 0.25 shares, not
 * five; a model quota counts each entry's milli; whole-GPU usage counts as before. */
static void test_fractional(void **state) {
        static const char *const models[] = { "NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3",
                                              "NVIDIA L40S" };
        static const uint16_t milli[] = { 250, 1000, 500 };
        Quota any = { .resource = QUOTA_GPUS, .limit = 1 },
              h100 = { .resource = QUOTA_GPUS, .model = "H100", .limit = 1 };
        QuotaUsage used = { .gpu_milli = 750 }, share = { .gpu_milli = 250 },
                   mixed = {
                           .gpu_models = models,
                           .n_gpu_models = 3,
                           .gpu_milli_of = milli,
                           .gpu_milli = 750,
                   };
        size_t idx = 99;
        uint64_t total = 0;

        assert_int_equal(quota_used_fine(&any, &used), 750);
        assert_int_equal(quota_used(&any, &used), 1); /* rounded up */
        assert_int_equal(quota_admit(&any, 1, &used, &share, &idx, &total), 0);
        used.gpu_milli = 1000;
        assert_int_equal(quota_admit(&any, 1, &used, &share, &idx, &total), -EDQUOT);
        assert_int_equal(idx, 0);
        assert_int_equal(total, 2); /* 1.25 GPUs, rounded up */
        /* Whole GPUs and partitions together. */
        mixed.amount[QUOTA_GPUS] = 1;
        assert_int_equal(quota_used_fine(&any, &mixed), 1750);
        assert_int_equal(quota_used_fine(&h100, &mixed), 1250);
        assert_int_equal(quota_used(&h100, &mixed), 2);
        /* Without gpu_milli_of every entry is a whole GPU, as before. */
        mixed.gpu_milli_of = NULL;
        assert_int_equal(quota_used(&h100, &mixed), 2);
        assert_int_equal(quota_used_fine(&h100, &mixed), 2000);
        /* A MIG slice counts its compute over 7, rounded down, and its memory slices. */
        assert_int_equal(mig_profile_milli(MIG_1G_10GB), 142);
        assert_int_equal(mig_profile_milli(MIG_3G_40GB) + mig_profile_milli(MIG_4G_40GB), 999);
        assert_int_equal(mig_profile_milli(MIG_7G_80GB), 1000);
        assert_true(mig_profile_memory(MIG_3G_40GB, GiB(80)) == GiB(40));
        assert_true(mig_profile_memory(MIG_1G_20GB, 0) == GiB(20));
        assert_true(mig_profile_memory(_MIG_PROFILE_INVALID, GiB(80)) == 0);
        /* A GPU memory quota counts a share's memory as bytes, as ever. */
        {
                Quota mem = { .resource = QUOTA_GPU_MEMORY, .limit = GiB(80) };
                QuotaUsage u = { .amount = { [QUOTA_GPU_MEMORY] = GiB(60) } },
                           r = { .amount = { [QUOTA_GPU_MEMORY] = GiB(20) } };

                assert_int_equal(quota_admit(&mem, 1, &u, &r, NULL, NULL), 0);
                r.amount[QUOTA_GPU_MEMORY]++;
                assert_int_equal(quota_admit(&mem, 1, &u, &r, NULL, NULL), -EDQUOT);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_admit),
                cmocka_unit_test(test_fractional),
        };
        return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
