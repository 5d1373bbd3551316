/* Tests for appliance/compute-unit: which model gets which rating, and lists of GPUs. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "compute-unit.h"

static void test_models(void **state) {
        assert_float_equal(compute_unit_factor("NVIDIA A100-SXM4-80GB"), 1.0, 1e-9);
        assert_float_equal(compute_unit_factor("NVIDIA A100 80GB PCIe"), 1.0, 1e-9);
        assert_float_equal(compute_unit_tflops("NVIDIA H100 SXM5 80GB"), 989, 1e-9);
        assert_float_equal(compute_unit_factor("NVIDIA H100 SXM5 80GB"), 989 / 312.0, 1e-9);
        /* The more specific name wins over the family. */
        assert_float_equal(compute_unit_tflops("NVIDIA H100 NVL"), 835, 1e-9);
        assert_float_equal(compute_unit_tflops("NVIDIA H100 PCIe"), 756, 1e-9);
        assert_float_equal(compute_unit_tflops("NVIDIA L40S"), 362, 1e-9);
        assert_float_equal(compute_unit_tflops("NVIDIA L40"), 181, 1e-9);
        assert_float_equal(compute_unit_tflops("NVIDIA L4"), 121, 1e-9);
        /* Whole words: an A10 is not an A100, a GH200 not an H200 (both happen to be listed). */
        assert_float_equal(compute_unit_tflops("NVIDIA A10"), 125, 1e-9);
        assert_float_equal(compute_unit_tflops("NVIDIA GH200 480GB"), 989, 1e-9);
        assert_float_equal(compute_unit_tflops("AMD Instinct MI300X"), 1307, 1e-9);
        assert_float_equal(compute_unit_tflops("NVIDIA GeForce RTX 2080 Ti"), 54, 1e-9);
        /* Unknown, empty, missing: not rated. */
        assert_float_equal(compute_unit_factor("Matrox G200eW3"), 0, 1e-9);
        assert_float_equal(compute_unit_factor(""), 0, 1e-9);
        assert_float_equal(compute_unit_factor(NULL), 0, 1e-9);
}

static void test_lists(void **state) {
        assert_float_equal(compute_units_of_list(""), 0, 1e-9);
        assert_float_equal(compute_units_of_list(NULL), 0, 1e-9);
        assert_float_equal(compute_units_of_list("NVIDIA A100-SXM4-80GB,NVIDIA A100-SXM4-80GB"), 2.0, 1e-9);
        assert_float_equal(compute_units_of_list("NVIDIA H100 SXM5 80GB,NVIDIA L40S,Unknown GPU"),
                           (989 + 362) / 312.0, 1e-9);
        /* An address stands in for a GPU the inventory did not know: not rated. */
        assert_float_equal(compute_units_of_list("0000:18:00.0"), 0, 1e-9);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_models),
                cmocka_unit_test(test_lists),
        };
        return cmocka_run_group_tests_name("compute-unit", tests, NULL, NULL);
}
