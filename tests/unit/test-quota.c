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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_admit),
        };
        return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
