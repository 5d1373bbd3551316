/* Tests for lib/pool/mig: NVIDIA's A100/H100 80GB MIG geometry, placed exactly. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pool/mig.h"

static void test_profiles(void **state) {
        assert_int_equal(mig_profile_from_string("3g.40gb"), MIG_3G_40GB);
        assert_int_equal(mig_profile_from_string("7G.80GB"), MIG_7G_80GB);
        assert_int_equal(mig_profile_from_string("1g.5gb"), _MIG_PROFILE_INVALID); /* the 40GB A100's */
        assert_int_equal(mig_profile_info(MIG_4G_40GB)->compute, 4);
        assert_int_equal(mig_profile_info(MIG_4G_40GB)->slices, 4);
        assert_null(mig_profile_info(_MIG_PROFILE_MAX));
        assert_true(mig_model_supported("NVIDIA A100-SXM4-80GB"));
        assert_true(mig_model_supported("NVIDIA H100 SXM5 80GB"));
        assert_true(mig_model_supported("NVIDIA H100 80GB HBM3"));
        assert_false(mig_model_supported("NVIDIA A100-SXM4-40GB"));
        assert_false(mig_model_supported("NVIDIA L40S"));
        assert_false(mig_model_supported(NULL));
}

static void test_forbidden(void **state) {
        MigGpu g = {};

        /* A 4g.40gb next to another: the second has no legal start left. */
        assert_int_equal(mig_add(&g, MIG_4G_40GB, 0), 0);
        assert_int_equal(mig_check(&g, MIG_4G_40GB, 4), -EINVAL);
        assert_int_equal(mig_check(&g, MIG_4G_40GB, 0), -EBUSY);
        {
                unsigned s;
                assert_int_equal(mig_choose(&g, MIG_4G_40GB, &s), -EBUSY);
        }
        /* No 1g starts in slice 7, even on an empty GPU. */
        g = (MigGpu) {};
        assert_int_equal(mig_check(&g, MIG_1G_10GB, 7), -EINVAL);
        assert_int_equal(mig_check(&g, MIG_1G_10GB, 6), 0);
        /* Odd starts for the 2-slice profiles, 3g only at 0 and 4, 7g only at 0. */
        assert_int_equal(mig_check(&g, MIG_1G_20GB, 1), -EINVAL);
        assert_int_equal(mig_check(&g, MIG_2G_20GB, 6), -EINVAL);
        assert_int_equal(mig_check(&g, MIG_3G_40GB, 2), -EINVAL);
        assert_int_equal(mig_check(&g, MIG_7G_80GB, 1), -EINVAL);
        assert_int_equal(mig_check(&g, MIG_3G_40GB, 8), -EINVAL);
        /* A 7g.80gb takes the whole GPU. */
        assert_int_equal(mig_add(&g, MIG_7G_80GB, 0), 0);
        for (int p = 0; p < _MIG_PROFILE_MAX; p++) {
                unsigned s;
                assert_int_equal(mig_choose(&g, (MigProfile) p, &s), -EBUSY);
        }
        assert_int_equal(mig_remove(&g, MIG_1G_10GB, 0), -ENOENT); /* not what is there */
        assert_int_equal(mig_remove(&g, MIG_7G_80GB, 0), 0);
        assert_int_equal(mig_remove(&g, MIG_7G_80GB, 0), -ENOENT);
        assert_int_equal(g.used, 0);
        assert_int_equal(g.compute, 0);
}

static void test_mixes(void **state) {
        MigGpu g = {};
        unsigned s;

        /* 4g + 3g: all 7 compute slices. */
        assert_int_equal(mig_add(&g, MIG_4G_40GB, 0), 0);
        assert_int_equal(mig_add(&g, MIG_3G_40GB, 4), 0);
        assert_int_equal(g.compute, 7);
        assert_int_equal(mig_choose(&g, MIG_1G_10GB, &s), -EBUSY);

        /* Seven 1g.10gb, and no eighth: slice 7 is no start, and compute would be 8. */
        g = (MigGpu) {};
        for (int k = 0; k < 7; k++) {
                assert_int_equal(mig_choose(&g, MIG_1G_10GB, &s), 0);
                assert_int_equal(mig_add(&g, MIG_1G_10GB, s), 0);
        }
        assert_int_equal(g.used, 0x7f);
        assert_int_equal(mig_choose(&g, MIG_1G_10GB, &s), -EBUSY);

        /* Three 2g.20gb and a 1g.20gb at 6. */
        g = (MigGpu) {};
        assert_int_equal(mig_add(&g, MIG_2G_20GB, 0), 0);
        assert_int_equal(mig_add(&g, MIG_2G_20GB, 2), 0);
        assert_int_equal(mig_add(&g, MIG_2G_20GB, 4), 0);
        assert_int_equal(mig_check(&g, MIG_1G_20GB, 6), 0);
        assert_int_equal(mig_add(&g, MIG_1G_20GB, 6), 0);
        assert_int_equal(g.used, 0xff);
        assert_int_equal(g.compute, 7);

        /* Two 3g.40gb use all memory with 6 compute slices: the seventh cannot be used. */
        g = (MigGpu) {};
        assert_int_equal(mig_add(&g, MIG_3G_40GB, 0), 0);
        assert_int_equal(mig_add(&g, MIG_3G_40GB, 4), 0);
        assert_int_equal(mig_choose(&g, MIG_1G_10GB, &s), -EBUSY);
}

/* Small instances are put where they keep slice 0 (4g, 7g) and the halves (3g) free. */
static void test_choice_keeps_room(void **state) {
        MigGpu g = {};
        unsigned s;

        assert_int_equal(mig_choose(&g, MIG_1G_10GB, &s), 0);
        assert_true(s >= 4); /* not in the first half, where a 4g must go */
        assert_int_equal(mig_add(&g, MIG_1G_10GB, s), 0);
        assert_int_equal(mig_check(&g, MIG_4G_40GB, 0), 0);
        assert_int_equal(mig_choose(&g, MIG_2G_20GB, &s), 0);
        assert_int_equal(mig_add(&g, MIG_2G_20GB, s), 0);
        /* The 4g still fits after both. */
        assert_int_equal(mig_choose(&g, MIG_4G_40GB, &s), 0);
        assert_int_equal(s, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_profiles),
                cmocka_unit_test(test_forbidden),
                cmocka_unit_test(test_mixes),
                cmocka_unit_test(test_choice_keeps_room),
        };
        return cmocka_run_group_tests_name("mig", tests, NULL, NULL);
}
