/* Tests for appliance/gpu-select: which GPUs a VM gets. Hosts shaped like the fixtures (a DGX
 * with one switch per GPU, a server with two GPUs per switch, a workstation without NUMA
 * information), GPUs taken one by one as instances claim them, models, exact devices. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "gpu-select.h"

#define H100 "NVIDIA H100 SXM5 80GB"
#define L40S "NVIDIA L40S"

/* 8 GPUs, 4 per NUMA node, each behind a switch of its own (dgx-h100). */
static GpuCandidate dgx[] = {
        { "0000:18:00.0", H100, 0, "0000:16:00.0", NULL }, { "0000:2a:00.0", H100, 0, "0000:28:00.0", NULL },
        { "0000:3a:00.0", H100, 0, "0000:38:00.0", NULL }, { "0000:5d:00.0", H100, 0, "0000:5b:00.0", NULL },
        { "0000:9a:00.0", H100, 1, "0000:98:00.0", NULL }, { "0000:ab:00.0", H100, 1, "0000:a9:00.0", NULL },
        { "0000:ba:00.0", H100, 1, "0000:b8:00.0", NULL }, { "0000:db:00.0", H100, 1, "0000:d9:00.0", NULL },
};

/* 8 GPUs, 4 per node, two behind each switch; the model differs between the nodes. */
static GpuCandidate paired[] = {
        { "0000:1b:00.0", H100, 0, "0000:19:00.0", NULL }, { "0000:1c:00.0", H100, 0, "0000:19:00.0", NULL },
        { "0000:3b:00.0", H100, 0, "0000:39:00.0", NULL }, { "0000:3c:00.0", H100, 0, "0000:39:00.0", NULL },
        { "0000:9b:00.0", L40S, 1, "0000:99:00.0", NULL }, { "0000:9c:00.0", L40S, 1, "0000:99:00.0", NULL },
        { "0000:bb:00.0", L40S, 1, "0000:b9:00.0", NULL }, { "0000:bc:00.0", L40S, 1, "0000:b9:00.0", NULL },
};

static void reset(GpuCandidate *c, size_t n) {
        for (size_t k = 0; k < n; k++)
                c[k].blocker = NULL;
}

static size_t pick(GpuCandidate *c, size_t n, unsigned count, const char *model, size_t out[static GPU_SELECT_MAX]) {
        GpuRequest req = { .count = count, .model = model };
        size_t got = 0;

        assert_int_equal(gpu_select(c, n, &req, out, &got, NULL), 0);
        assert_int_equal(got, count);
        return got;
}

static void claim(GpuCandidate *c, const size_t *idx, size_t n) {
        for (size_t k = 0; k < n; k++) {
                assert_null(c[idx[k]].blocker);
                c[idx[k]].blocker = "it is claimed";
        }
}

static void test_two_on_one_node(void **state) {
        size_t out[GPU_SELECT_MAX], n;

        reset(dgx, ELEMENTSOF(dgx));
        n = pick(dgx, ELEMENTSOF(dgx), 2, NULL, out);
        assert_int_equal(dgx[out[0]].numa_node, dgx[out[1]].numa_node);
        assert_true(strcmp(dgx[out[0]].address, dgx[out[1]].address) < 0); /* address order */
        claim(dgx, out, n);

        /* Node 0 has 2 left, node 1 has 4: the next pair comes from node 0 (best fit), which
         * keeps node 1 whole for a 4-GPU VM. */
        n = pick(dgx, ELEMENTSOF(dgx), 2, NULL, out);
        assert_int_equal(dgx[out[0]].numa_node, 0);
        assert_int_equal(dgx[out[1]].numa_node, 0);
        claim(dgx, out, n);
        n = pick(dgx, ELEMENTSOF(dgx), 4, NULL, out);
        for (size_t k = 0; k < n; k++)
                assert_int_equal(dgx[out[k]].numa_node, 1);
}

static void test_single_best_fit(void **state) {
        size_t out[GPU_SELECT_MAX], n;

        reset(dgx, ELEMENTSOF(dgx));
        /* Take one from node 1: the next single GPU comes from node 1 too (3 free there, 4 on
         * node 0), so node 0 stays whole. */
        dgx[4].blocker = "it is claimed";
        n = pick(dgx, ELEMENTSOF(dgx), 1, NULL, out);
        assert_int_equal(n, 1);
        assert_int_equal(dgx[out[0]].numa_node, 1);
        assert_string_equal(dgx[out[0]].address, "0000:ab:00.0");
}

static void test_spans_nodes_when_it_must(void **state) {
        size_t out[GPU_SELECT_MAX], n;
        unsigned per_node[2] = {};

        reset(dgx, ELEMENTSOF(dgx));
        dgx[0].blocker = dgx[4].blocker = "it is claimed";
        /* 6 free, 3 per node: a 5-GPU VM must span both, 3 from one and 2 from the other. */
        n = pick(dgx, ELEMENTSOF(dgx), 5, NULL, out);
        for (size_t k = 0; k < n; k++)
                per_node[dgx[out[k]].numa_node]++;
        assert_true((per_node[0] == 3 && per_node[1] == 2) || (per_node[0] == 2 && per_node[1] == 3));
        /* All 8 at once when all are free. */
        reset(dgx, ELEMENTSOF(dgx));
        n = pick(dgx, ELEMENTSOF(dgx), 8, NULL, out);
        assert_int_equal(n, 8);
}

static void test_same_switch(void **state) {
        size_t out[GPU_SELECT_MAX], n;

        reset(paired, ELEMENTSOF(paired));
        /* Break up the first switch: the pair then comes from the switch that is whole. */
        paired[0].blocker = "it is claimed";
        n = pick(paired, ELEMENTSOF(paired), 2, "H100", out);
        assert_int_equal(n, 2);
        assert_string_equal(paired[out[0]].switch_port, "0000:39:00.0");
        assert_string_equal(paired[out[1]].switch_port, "0000:39:00.0");
}

static void test_model(void **state) {
        size_t out[GPU_SELECT_MAX], n = 99;
        GpuRequest req = { .count = 3, .model = "l40s" };

        reset(paired, ELEMENTSOF(paired));
        assert_int_equal(gpu_select(paired, ELEMENTSOF(paired), &req, out, &n, NULL), 0);
        for (size_t k = 0; k < n; k++)
                assert_string_equal(paired[out[k]].model, L40S);
        req.count = 5;
        assert_int_equal(gpu_select(paired, ELEMENTSOF(paired), &req, out, &n, NULL), -ENOSPC);
        assert_int_equal(n, 4); /* how many L40S there are */
        req = (GpuRequest) { .count = 1, .model = "A100" };
        assert_int_equal(gpu_select(paired, ELEMENTSOF(paired), &req, out, &n, NULL), -ENOSPC);
        assert_int_equal(n, 0);
}

/* The last free GPU goes to exactly one request; the next gets -ENOSPC. */
static void test_last_gpu(void **state) {
        size_t out[GPU_SELECT_MAX], n;
        GpuRequest one = { .count = 1 };

        reset(dgx, ELEMENTSOF(dgx));
        for (unsigned k = 0; k < 8; k++) {
                assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &one, out, &n, NULL), 0);
                claim(dgx, out, n);
        }
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &one, out, &n, NULL), -ENOSPC);
        assert_int_equal(n, 0);
}

static void test_exact(void **state) {
        const char *const ok[] = { "0000:ab:00.0", "0000:18:00.0", NULL };
        const char *const unknown[] = { "0000:18:00.0", "0000:ff:00.0", NULL };
        const char *const twice[] = { "0000:18:00.0", "0000:18:00.0", NULL };
        const char *const none[] = { NULL };
        size_t out[GPU_SELECT_MAX], n = 0, bad = 99;
        GpuRequest req = { .addresses = ok };

        reset(dgx, ELEMENTSOF(dgx));
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &req, out, &n, &bad), 0);
        assert_int_equal(n, 2);
        assert_string_equal(dgx[out[0]].address, "0000:18:00.0"); /* sorted */
        assert_string_equal(dgx[out[1]].address, "0000:ab:00.0");

        req.addresses = unknown;
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &req, out, &n, &bad), -ENOENT);
        assert_int_equal(bad, 1);
        dgx[5].blocker = "it is reserved for the host";
        req.addresses = ok;
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &req, out, &n, &bad), -EBUSY);
        assert_int_equal(bad, 0);
        req.addresses = twice;
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &req, out, &n, &bad), -EINVAL);
        req.addresses = none;
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &req, out, &n, &bad), -EINVAL);
        /* A count that disagrees with the list is a malformed request. */
        reset(dgx, ELEMENTSOF(dgx));
        req = (GpuRequest) { .count = 3, .addresses = ok };
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &req, out, &n, &bad), -EINVAL);
        req = (GpuRequest) { .count = 0 };
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &req, out, &n, &bad), -EINVAL);
        req = (GpuRequest) { .count = GPU_SELECT_MAX + 1 };
        assert_int_equal(gpu_select(dgx, ELEMENTSOF(dgx), &req, out, &n, &bad), -EINVAL);
}

/* Without NUMA information (-1 everywhere) and without switches, GPUs are still given out. */
static void test_workstation(void **state) {
        GpuCandidate ws[] = {
                { "0000:17:00.0", "NVIDIA GeForce RTX 2080 SUPER", -1, NULL, NULL },
                { "0000:39:00.0", "NVIDIA GeForce RTX 2080 Ti", -1, NULL, "its IOMMU group holds the management NIC" },
        };
        size_t out[GPU_SELECT_MAX], n;
        GpuRequest two = { .count = 2 }, one = { .count = 1 };

        assert_int_equal(gpu_select(ws, ELEMENTSOF(ws), &one, out, &n, NULL), 0);
        assert_string_equal(ws[out[0]].address, "0000:17:00.0");
        assert_int_equal(gpu_select(ws, ELEMENTSOF(ws), &two, out, &n, NULL), -ENOSPC);
        assert_int_equal(n, 1);
        assert_int_equal(gpu_select(NULL, 0, &one, out, &n, NULL), -ENOSPC);
}

/* Any model: a pair is never split across models; the fuller model's side gives the single GPU;
 * only a request no model holds alone spans them, all of the fuller side first. */
static void test_models_mixed(void **state) {
        size_t out[GPU_SELECT_MAX], n;
        unsigned h100 = 0;

        reset(paired, ELEMENTSOF(paired));
        paired[0].blocker = "it is claimed";
        n = pick(paired, ELEMENTSOF(paired), 1, NULL, out);
        assert_string_equal(paired[out[0]].model, H100); /* 3 H100 left against 4 L40S */
        claim(paired, out, n);
        n = pick(paired, ELEMENTSOF(paired), 2, NULL, out);
        assert_string_equal(paired[out[0]].model, paired[out[1]].model);
        assert_string_equal(paired[out[0]].switch_port, paired[out[1]].switch_port);

        reset(paired, ELEMENTSOF(paired));
        paired[4].blocker = "it is claimed";
        n = pick(paired, ELEMENTSOF(paired), 6, NULL, out);
        for (size_t k = 0; k < n; k++)
                h100 += streq(paired[out[k]].model, H100);
        assert_int_equal(h100, 4); /* 4 H100 + 2 of the 3 L40S */
        claim(paired, out, n);
        n = pick(paired, ELEMENTSOF(paired), 1, NULL, out);
        assert_string_equal(paired[out[0]].model, L40S);
}

/* More GPUs of one model than a pool node holds (16): all of them still go to one VM. */
static void test_many_gpus(void **state) {
        GpuCandidate big[24];
        char addr[24][16];
        size_t out[GPU_SELECT_MAX], n;

        for (size_t k = 0; k < ELEMENTSOF(big); k++) {
                snprintf(addr[k], sizeof(addr[k]), "0000:%02zx:00.0", k + 1);
                big[k] = (GpuCandidate) { addr[k], H100, (int) (k / 12), NULL, NULL };
        }
        n = pick(big, ELEMENTSOF(big), 24, NULL, out);
        assert_int_equal(n, 24);
        for (size_t k = 1; k < n; k++)
                assert_true(strcmp(big[out[k - 1]].address, big[out[k]].address) < 0);
        n = pick(big, ELEMENTSOF(big), 12, "h100", out);
        for (size_t k = 0; k < n; k++)
                assert_int_equal(big[out[k]].numa_node, big[out[0]].numa_node);
        claim(big, out, n);
        n = pick(big, ELEMENTSOF(big), 12, NULL, out);
        claim(big, out, n);
        assert_int_equal(gpu_select(big, ELEMENTSOF(big), &(GpuRequest) { .count = 1 }, out, &n, NULL), -ENOSPC);
        assert_int_equal(n, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_on_one_node),
                cmocka_unit_test(test_single_best_fit),
                cmocka_unit_test(test_spans_nodes_when_it_must),
                cmocka_unit_test(test_same_switch),
                cmocka_unit_test(test_model),
                cmocka_unit_test(test_last_gpu),
                cmocka_unit_test(test_exact),
                cmocka_unit_test(test_workstation),
                cmocka_unit_test(test_models_mixed),
                cmocka_unit_test(test_many_gpus),
        };
        return cmocka_run_group_tests_name("gpu-select", tests, NULL, NULL);
}
