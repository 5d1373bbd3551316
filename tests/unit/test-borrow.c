/* Tests for lib/pool/borrow: whether unused guarantees can still be kept, and which borrowing
 * instances are stopped first. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "pool/borrow.h"

#define H100 "NVIDIA H100 SXM5 80GB"
#define L40S "NVIDIA L40S"

static void test_demands(void **state) {
        const char *const two_h100_one_l40s[] = { H100, L40S, H100 };
        BorrowDemand any2 = { "", 2 }, h100_2 = { "H100", 2 }, l40s_1 = { "L40S", 1 }, any1 = { "", 1 };

        /* Nothing to keep is always kept, even with nothing at all. */
        assert_int_equal(borrow_demands_met(NULL, 0, NULL, 0), 1);
        assert_int_equal(borrow_demands_met(&(BorrowDemand) { "", 0 }, 1, NULL, 0), 1);
        assert_int_equal(borrow_demands_met(&any1, 1, NULL, 0), 0);

        assert_int_equal(borrow_demands_met(&any2, 1, two_h100_one_l40s, 3), 1);
        assert_int_equal(borrow_demands_met(&(BorrowDemand) { "", 4 }, 1, two_h100_one_l40s, 3), 0);
        assert_int_equal(borrow_demands_met(&h100_2, 1, two_h100_one_l40s, 3), 1);
        assert_int_equal(borrow_demands_met(&(BorrowDemand) { "H100", 3 }, 1, two_h100_one_l40s, 3), 0);
        /* Whole words: an A10 guarantee is not met by an A100. */
        assert_int_equal(borrow_demands_met(&(BorrowDemand) { "A10", 1 }, 1,
                                            (const char *const[]) { "NVIDIA A100" }, 1),
                         0);

        /* The any-model demand must not be counted on the GPUs the model demands need: the
         * L40S is the only GPU left for it. Taking GPUs in order would give the any-GPU unit an
         * H100 and leave an H100 demand unmet; the matching finds the assignment that works. */
        {
                const BorrowDemand d[] = { any1, h100_2 };
                assert_int_equal(borrow_demands_met(d, 2, two_h100_one_l40s, 3), 1);
        }
        {
                const BorrowDemand d[] = { any2, h100_2 };
                assert_int_equal(borrow_demands_met(d, 2, two_h100_one_l40s, 3), 0);
        }
        {
                const BorrowDemand d[] = { any1, l40s_1, h100_2 };
                assert_int_equal(borrow_demands_met(d, 3, two_h100_one_l40s, 3), 0);
        }
        {
                const BorrowDemand d[] = { l40s_1, h100_2 };
                assert_int_equal(borrow_demands_met(d, 2, two_h100_one_l40s, 3), 1);
                /* A GPU with no model name only serves any-model demands. */
                assert_int_equal(borrow_demands_met(d, 2, (const char *const[]) { H100, NULL, H100 }, 3), 0);
        }
}

static void test_victims(void **state) {
        /* 0 = research (guaranteed 4, asks), 1 = retail (no guarantee), 2 = risk (guaranteed 2). */
        BorrowTenant t[] = { { 4, 0 }, { 0, 5 }, { 2, 3 } };
        BorrowInstance in[] = {
                { "p1", 1, 100, 1, true, true, false },     { "p2", 1, 200, 1, true, true, false },
                { "p4", 1, 400, 1, true, true, false },     { "p3", 1, 300, 1, true, true, false },
                { "big", 1, 50, 2, false, true, false },   /* not preemptible: never */
                { "l40s", 1, 500, 1, true, false, false }, /* of no use to the request */
                { "risk-a", 2, 600, 1, true, true, false }, { "risk-b", 2, 700, 1, true, true, false },
                { "own", 0, 900, 1, true, true, false }, /* the requester's own */
        };
        ssize_t order[ELEMENTSOF(in)];
        size_t n = 0;
        ssize_t k;

        assert_true(borrow_is_borrowing(&in[0], t));
        assert_false(borrow_is_borrowing(&in[4], t));

        while ((k = borrow_next_victim(in, ELEMENTSOF(in), t, 0)) >= 0)
                order[n++] = k;
        /* Youngest first: risk-b (700) takes risk from 3 to 2 GPUs, its guarantee, so risk-a
         * stays; then retail's p4, p3, p2, p1. */
        assert_int_equal(n, 5);
        assert_string_equal(in[order[0]].name, "risk-b");
        assert_string_equal(in[order[1]].name, "p4");
        assert_string_equal(in[order[2]].name, "p3");
        assert_string_equal(in[order[3]].name, "p2");
        assert_string_equal(in[order[4]].name, "p1");
        assert_int_equal(t[2].held, 2);
        assert_int_equal(t[1].held, 1);
        assert_false(in[4].chosen);
        assert_false(in[5].chosen);
        assert_false(in[6].chosen);
        assert_false(in[8].chosen);
}

static void test_victims_partial(void **state) {
        /* A two-GPU borrower of a tenant one GPU above its guarantee is still taken (it is partly
         * on borrowed capacity); after it, the tenant is below its guarantee and keeps the rest. */
        BorrowTenant t[] = { { 2, 0 }, { 2, 3 } };
        BorrowInstance in[] = {
                { "old", 1, 10, 1, true, true, false },
                { "new", 1, 20, 2, true, true, false },
        };

        assert_int_equal(borrow_next_victim(in, 2, t, 0), 1);
        assert_int_equal(t[1].held, 1);
        assert_int_equal(borrow_next_victim(in, 2, t, 0), -1);

        /* Equal ages: the greater name goes first, so the order is the same every time. */
        {
                BorrowTenant u[] = { { 1, 0 }, { 0, 2 } };
                BorrowInstance same[] = {
                        { "a", 1, 10, 1, true, true, false },
                        { "b", 1, 10, 1, true, true, false },
                };
                assert_int_equal(borrow_next_victim(same, 2, u, 0), 1);
                assert_int_equal(borrow_next_victim(same, 2, u, 0), 0);
                assert_int_equal(borrow_next_victim(same, 2, u, 0), -1);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_demands),
                cmocka_unit_test(test_victims),
                cmocka_unit_test(test_victims_partial),
        };
        return cmocka_run_group_tests_name("borrow", tests, NULL, NULL);
}
