/* Tests for lib/pool/host: which GPUs a VM gets on a host seen as a pool of (NUMA node, model)
 * nodes. Hosts shaped like the fixtures (a DGX with one switch per GPU, a server with two GPUs
 * per switch and a model per NUMA node, a workstation without NUMA information), GPUs taken as
 * instances claim them, CPU and memory per NUMA node, models, exact devices, the workload file. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "pool/host.h"

#define H100 "NVIDIA H100 SXM5 80GB"
#define L40S "NVIDIA L40S"
#define GIB (UINT64_C(1) << 30)

/* 8 GPUs, 4 per NUMA node, each behind a switch of its own (dgx-h100): 112 CPUs and 1 TiB per
 * NUMA node. */
static HostGpu dgx[] = {
        { "0000:18:00.0", H100, 0, "0000:16:00.0" }, { "0000:2a:00.0", H100, 0, "0000:28:00.0" },
        { "0000:3a:00.0", H100, 0, "0000:38:00.0" }, { "0000:5d:00.0", H100, 0, "0000:5b:00.0" },
        { "0000:9a:00.0", H100, 1, "0000:98:00.0" }, { "0000:ab:00.0", H100, 1, "0000:a9:00.0" },
        { "0000:ba:00.0", H100, 1, "0000:b8:00.0" }, { "0000:db:00.0", H100, 1, "0000:d9:00.0" },
};
static const HostNuma dgx_numa[] = { { 0, 112, 1024 * GIB }, { 1, 112, 1024 * GIB } };

/* 8 GPUs, 4 per NUMA node, two behind each switch; the model differs between the nodes. */
static HostGpu paired[] = {
        { "0000:1b:00.0", H100, 0, "0000:19:00.0" }, { "0000:1c:00.0", H100, 0, "0000:19:00.0" },
        { "0000:3b:00.0", H100, 0, "0000:39:00.0" }, { "0000:3c:00.0", H100, 0, "0000:39:00.0" },
        { "0000:9b:00.0", L40S, 1, "0000:99:00.0" }, { "0000:9c:00.0", L40S, 1, "0000:99:00.0" },
        { "0000:bb:00.0", L40S, 1, "0000:b9:00.0" }, { "0000:bc:00.0", L40S, 1, "0000:b9:00.0" },
};
static const HostNuma paired_numa[] = { { 0, 64, 512 * GIB }, { 1, 64, 512 * GIB } };

static void reset(HostGpu *c, size_t n) {
        for (size_t k = 0; k < n; k++)
                c[k].blocked = c[k].held = false;
}

static void claim(HostGpu *c, const size_t *idx, size_t n) {
        for (size_t k = 0; k < n; k++) {
                assert_false(c[idx[k]].blocked);
                c[idx[k]].blocked = c[idx[k]].held = true;
        }
}

/* Places a request on a fresh pool of the host under Ark's policy: 0 or -errno. */
static int place(const HostGpu *c, size_t n, const HostNuma *numa, size_t n_numa, const HostRequest *req,
                 size_t out[static HOST_GPUS_MAX], size_t *ret_n, HostShortage *sh) {
        HostPool h;
        int r;

        assert_int_equal(host_pool_make(&h, c, n, numa, n_numa, NULL, 0), 0);
        r = host_pool_place(&h, POOL_POLICY_ARK, req, out, ret_n, sh);
        host_pool_done(&h);
        return r;
}

static size_t pick(HostGpu *c, size_t n, const HostNuma *numa, size_t n_numa, unsigned count,
                   const char *model, size_t out[static HOST_GPUS_MAX]) {
        HostRequest req = { .cpu_milli = 4000, .memory_mib = 16384, .count = count, .model = model };
        size_t got = 0;

        assert_int_equal(place(c, n, numa, n_numa, &req, out, &got, NULL), 0);
        assert_int_equal(got, count);
        for (size_t k = 1; k < got; k++)
                assert_true(strcmp(c[out[k - 1]].address, c[out[k]].address) < 0); /* address order */
        return got;
}

static void test_two_on_one_node(void **state) {
        size_t out[HOST_GPUS_MAX], n;

        reset(dgx, ELEMENTSOF(dgx));
        n = pick(dgx, ELEMENTSOF(dgx), dgx_numa, 2, 2, NULL, out);
        assert_int_equal(dgx[out[0]].numa_node, dgx[out[1]].numa_node);
        claim(dgx, out, n);

        /* Node 0 has 2 left, node 1 has 4: the next pair comes from node 0, which keeps node 1
         * whole for a 4-GPU VM. */
        n = pick(dgx, ELEMENTSOF(dgx), dgx_numa, 2, 2, NULL, out);
        assert_int_equal(dgx[out[0]].numa_node, 0);
        assert_int_equal(dgx[out[1]].numa_node, 0);
        claim(dgx, out, n);
        n = pick(dgx, ELEMENTSOF(dgx), dgx_numa, 2, 4, NULL, out);
        for (size_t k = 0; k < n; k++)
                assert_int_equal(dgx[out[k]].numa_node, 1);
}

static void test_single_best_fit(void **state) {
        size_t out[HOST_GPUS_MAX], n;

        reset(dgx, ELEMENTSOF(dgx));
        /* Take one from node 1: the next single GPU comes from node 1 too (3 free there, 4 on
         * node 0), so node 0 stays whole. */
        dgx[4].blocked = dgx[4].held = true;
        n = pick(dgx, ELEMENTSOF(dgx), dgx_numa, 2, 1, NULL, out);
        assert_int_equal(n, 1);
        assert_string_equal(dgx[out[0]].address, "0000:ab:00.0");
}

static void test_spans_nodes_when_it_must(void **state) {
        size_t out[HOST_GPUS_MAX], n;
        unsigned per_node[2] = {};

        reset(dgx, ELEMENTSOF(dgx));
        dgx[0].blocked = dgx[0].held = dgx[4].blocked = dgx[4].held = true;
        /* 6 free, 3 per node, 4 per node at most: a 5-GPU VM spans both, 3 from one and 2 from
         * the other. */
        n = pick(dgx, ELEMENTSOF(dgx), dgx_numa, 2, 5, NULL, out);
        for (size_t k = 0; k < n; k++)
                per_node[dgx[out[k]].numa_node]++;
        assert_true((per_node[0] == 3 && per_node[1] == 2) || (per_node[0] == 2 && per_node[1] == 3));
        /* All 8 at once when all are free. */
        reset(dgx, ELEMENTSOF(dgx));
        n = pick(dgx, ELEMENTSOF(dgx), dgx_numa, 2, 8, NULL, out);
        assert_int_equal(n, 8);
}

/* A request a node could hold, but none holds now, is refused: it does not span (changed from
 * gpu-select, which spanned any request no node had free; the pooler places on one node or
 * refuses, as bench/trace-replay does). */
static void test_spread_refused(void **state) {
        size_t out[HOST_GPUS_MAX], n = 0;
        HostRequest req = { .cpu_milli = 1000, .memory_mib = 1024, .count = 2 };
        HostShortage sh = {};

        reset(dgx, ELEMENTSOF(dgx));
        for (size_t k = 0; k < ELEMENTSOF(dgx); k++)
                if (k != 3 && k != 7)
                        dgx[k].blocked = dgx[k].held = true;
        assert_int_equal(place(dgx, ELEMENTSOF(dgx), dgx_numa, 2, &req, out, &n, &sh), -ENOSPC);
        assert_int_equal(sh.why, HOST_SHORT_SPREAD);
        assert_int_equal(sh.free_gpus, 2);
        assert_int_equal(sh.most_on_node, 1);
        /* Reserved GPUs (blocked, not held) are no node's to count: 3 per node at most, so a
         * 4-GPU VM spans. */
        reset(dgx, ELEMENTSOF(dgx));
        dgx[0].blocked = dgx[4].blocked = true;
        req.count = 4;
        assert_int_equal(place(dgx, ELEMENTSOF(dgx), dgx_numa, 2, &req, out, &n, &sh), 0);
        assert_int_equal(n, 4);
}

static void test_same_switch(void **state) {
        size_t out[HOST_GPUS_MAX], n;

        reset(paired, ELEMENTSOF(paired));
        /* Break up the first switch: the pair then comes from the switch that is whole. */
        paired[0].blocked = paired[0].held = true;
        n = pick(paired, ELEMENTSOF(paired), paired_numa, 2, 2, "H100", out);
        assert_int_equal(n, 2);
        assert_string_equal(paired[out[0]].switch_port, "0000:39:00.0");
        assert_string_equal(paired[out[1]].switch_port, "0000:39:00.0");
}

static void test_model(void **state) {
        size_t out[HOST_GPUS_MAX], n = 99;
        HostRequest req = { .count = 3, .model = "l40s" };
        HostShortage sh;

        reset(paired, ELEMENTSOF(paired));
        assert_int_equal(place(paired, ELEMENTSOF(paired), paired_numa, 2, &req, out, &n, &sh), 0);
        for (size_t k = 0; k < n; k++)
                assert_string_equal(paired[out[k]].model, L40S);
        req.count = 5;
        assert_int_equal(place(paired, ELEMENTSOF(paired), paired_numa, 2, &req, out, &n, &sh), -ENOSPC);
        assert_int_equal(sh.why, HOST_SHORT_GPUS);
        assert_int_equal(sh.free_gpus, 4); /* how many L40S there are */
        req = (HostRequest) { .count = 1, .model = "A100" };
        assert_int_equal(place(paired, ELEMENTSOF(paired), paired_numa, 2, &req, out, &n, &sh), -ENOSPC);
        assert_int_equal(sh.free_gpus, 0);
}

/* The last free GPU goes to exactly one request; the next gets -ENOSPC. */
static void test_last_gpu(void **state) {
        size_t out[HOST_GPUS_MAX], n;
        HostRequest one = { .count = 1 };
        HostShortage sh;

        reset(dgx, ELEMENTSOF(dgx));
        for (unsigned k = 0; k < 8; k++) {
                assert_int_equal(place(dgx, ELEMENTSOF(dgx), dgx_numa, 2, &one, out, &n, &sh), 0);
                claim(dgx, out, n);
        }
        assert_int_equal(place(dgx, ELEMENTSOF(dgx), dgx_numa, 2, &one, out, &n, &sh), -ENOSPC);
        assert_int_equal(sh.free_gpus, 0);
}

static void test_exact(void **state) {
        const char *const ok[] = { "0000:ab:00.0", "0000:18:00.0", NULL };
        const char *const unknown[] = { "0000:18:00.0", "0000:ff:00.0", NULL };
        const char *const twice[] = { "0000:18:00.0", "0000:18:00.0", NULL };
        const char *const none[] = { NULL };
        size_t out[HOST_GPUS_MAX], n = 0, bad = 99;
        HostRequest req = { .count = 0 };

        reset(dgx, ELEMENTSOF(dgx));
        assert_int_equal(host_gpus_exact(dgx, ELEMENTSOF(dgx), ok, 0, out, &n, &bad), 0);
        assert_int_equal(n, 2);
        assert_string_equal(dgx[out[0]].address, "0000:18:00.0"); /* sorted */
        assert_string_equal(dgx[out[1]].address, "0000:ab:00.0");

        assert_int_equal(host_gpus_exact(dgx, ELEMENTSOF(dgx), unknown, 0, out, &n, &bad), -ENOENT);
        assert_int_equal(bad, 1);
        dgx[5].blocked = true;
        assert_int_equal(host_gpus_exact(dgx, ELEMENTSOF(dgx), ok, 0, out, &n, &bad), -EBUSY);
        assert_int_equal(bad, 0);
        assert_int_equal(host_gpus_exact(dgx, ELEMENTSOF(dgx), twice, 0, out, &n, &bad), -EINVAL);
        assert_int_equal(host_gpus_exact(dgx, ELEMENTSOF(dgx), none, 0, out, &n, &bad), -EINVAL);
        /* A count that disagrees with the list is a malformed request. */
        reset(dgx, ELEMENTSOF(dgx));
        assert_int_equal(host_gpus_exact(dgx, ELEMENTSOF(dgx), ok, 3, out, &n, &bad), -EINVAL);
        assert_int_equal(place(dgx, ELEMENTSOF(dgx), dgx_numa, 2, &req, out, &n, NULL), -EINVAL);
        req.count = HOST_GPUS_MAX + 1;
        assert_int_equal(place(dgx, ELEMENTSOF(dgx), dgx_numa, 2, &req, out, &n, NULL), -EINVAL);
}

/* Without NUMA information (-1 everywhere) and without switches, GPUs are still given out, and
 * CPU and memory are not limited. */
static void test_workstation(void **state) {
        HostGpu ws[] = {
                { "0000:17:00.0", "NVIDIA GeForce RTX 2080 SUPER", -1, NULL },
                { "0000:39:00.0", "NVIDIA GeForce RTX 2080 Ti", -1, NULL, .blocked = true },
        };
        const HostNuma numa[] = { { 0, 32, 128 * GIB } };
        size_t out[HOST_GPUS_MAX], n;
        HostRequest two = { .count = 2 }, one = { .count = 1, .cpu_milli = 1000000, .memory_mib = 1 << 30 };
        HostShortage sh;

        assert_int_equal(place(ws, ELEMENTSOF(ws), numa, 1, &one, out, &n, &sh), 0);
        assert_string_equal(ws[out[0]].address, "0000:17:00.0");
        assert_int_equal(place(ws, ELEMENTSOF(ws), numa, 1, &two, out, &n, &sh), -ENOSPC);
        assert_int_equal(sh.free_gpus, 1);
        assert_int_equal(place(NULL, 0, numa, 1, &one, out, &n, &sh), -ENOSPC);
        assert_int_equal(sh.free_gpus, 0);
}

/* Any model: a pair is never split across models; the fuller model's side gives the single GPU;
 * only a request no node holds alone spans them, all of the fuller side first. */
static void test_models_mixed(void **state) {
        size_t out[HOST_GPUS_MAX], n;
        unsigned h100 = 0;

        reset(paired, ELEMENTSOF(paired));
        paired[0].blocked = paired[0].held = true;
        n = pick(paired, ELEMENTSOF(paired), paired_numa, 2, 1, NULL, out);
        assert_string_equal(paired[out[0]].model, H100); /* 3 H100 left against 4 L40S */
        claim(paired, out, n);
        n = pick(paired, ELEMENTSOF(paired), paired_numa, 2, 2, NULL, out);
        assert_string_equal(paired[out[0]].model, paired[out[1]].model);
        assert_string_equal(paired[out[0]].switch_port, paired[out[1]].switch_port);

        reset(paired, ELEMENTSOF(paired));
        paired[4].blocked = paired[4].held = true;
        n = pick(paired, ELEMENTSOF(paired), paired_numa, 2, 6, NULL, out);
        for (size_t k = 0; k < n; k++)
                h100 += streq(paired[out[k]].model, H100);
        assert_int_equal(h100, 4); /* 4 H100 + 2 of the 3 L40S */
        claim(paired, out, n);
        n = pick(paired, ELEMENTSOF(paired), paired_numa, 2, 1, NULL, out);
        assert_string_equal(paired[out[0]].model, L40S);
}

/* More GPUs of one model than a pool node holds (16): all of them still go to one VM. */
static void test_many_gpus(void **state) {
        HostGpu big[24];
        const HostNuma numa[] = { { 0, 64, 512 * GIB }, { 1, 64, 512 * GIB } };
        char addr[24][16];
        size_t out[HOST_GPUS_MAX], n;
        HostShortage sh;

        for (size_t k = 0; k < ELEMENTSOF(big); k++) {
                snprintf(addr[k], sizeof(addr[k]), "0000:%02zx:00.0", k + 1);
                big[k] = (HostGpu) { addr[k], H100, (int) (k / 12), NULL };
        }
        n = pick(big, ELEMENTSOF(big), numa, 2, 24, NULL, out);
        assert_int_equal(n, 24);
        n = pick(big, ELEMENTSOF(big), numa, 2, 12, "h100", out);
        for (size_t k = 0; k < n; k++)
                assert_int_equal(big[out[k]].numa_node, big[out[0]].numa_node);
        claim(big, out, n);
        n = pick(big, ELEMENTSOF(big), numa, 2, 12, NULL, out);
        claim(big, out, n);
        assert_int_equal(place(big, ELEMENTSOF(big), numa, 2, &(HostRequest) { .count = 1 }, out, &n, &sh),
                         -ENOSPC);
        assert_int_equal(sh.free_gpus, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* the pool's shape */

static void test_nodes(void **state) {
        /* Addresses out of order; NUMA node 0 has two models; 20 GPUs of one model on NUMA node
         * 1 make two nodes (16 + 4); a GPU on an unknown NUMA node and one on a node the host
         * does not list are unlimited. */
        HostGpu g[26];
        char addr[26][16];
        const HostNuma numa[] = { { 1, 100, 100 * GIB }, { 0, 30, 30 * GIB } };
        HostPool h;

        for (size_t k = 0; k < 20; k++) {
                snprintf(addr[k], sizeof(addr[k]), "0000:%02zx:00.0", 0x80 + k);
                g[k] = (HostGpu) { addr[k], H100, 1, NULL };
        }
        g[20] = (HostGpu) { "0000:30:00.0", L40S, 0, NULL };
        g[21] = (HostGpu) { "0000:10:00.0", H100, 0, NULL };
        g[22] = (HostGpu) { "0000:11:00.0", H100, 0, NULL };
        g[23] = (HostGpu) { "0000:f0:00.0", L40S, -1, NULL };
        g[24] = (HostGpu) { "0000:f1:00.0", L40S, 7, NULL };
        g[25] = (HostGpu) { "0000:12:00.0", NULL, 0, NULL, .blocked = true };
        assert_int_equal(host_pool_make(&h, g, ELEMENTSOF(g), numa, ELEMENTSOF(numa), NULL, 0), 0);
        assert_int_equal(h.pool.n_nodes, 7);
        /* numa0 H100 (10, 11), numa0 unknown model (12), numa0 L40S (30), numa1 H100 x16 (80..),
         * numa1 H100 x4 (90..), numa? L40S (f0), numa7 L40S (f1) */
        assert_string_equal(h.pool.nodes[0].name, "numa0 " H100);
        assert_int_equal(h.pool.nodes[0].n_gpus, 2);
        assert_string_equal(h.pool.nodes[1].name, "numa0 ");
        assert_string_equal(h.pool.nodes[2].name, "numa0 " L40S);
        assert_int_equal(h.pool.nodes[3].n_gpus, 16);
        assert_int_equal(h.pool.nodes[4].n_gpus, 4);
        assert_string_equal(h.pool.nodes[5].name, "numa? " L40S);
        assert_string_equal(h.pool.nodes[6].name, "numa7 " L40S);
        /* NUMA node 0: 4 GPUs share 30 CPUs and 30 GiB: 15 + 7.5 + 7.5, the first gets what
         * rounding leaves. */
        assert_int_equal(h.pool.nodes[0].cpu_milli, 15000);
        assert_int_equal(h.pool.nodes[1].cpu_milli, 7500);
        assert_int_equal(h.pool.nodes[2].cpu_milli, 7500);
        assert_int_equal(h.pool.nodes[0].memory_mib, 15 * 1024);
        assert_int_equal(h.pool.nodes[0].memory_mib + h.pool.nodes[1].memory_mib +
                                 h.pool.nodes[2].memory_mib,
                         30 * 1024);
        assert_int_equal(h.pool.nodes[3].cpu_milli, 80000);
        assert_int_equal(h.pool.nodes[4].cpu_milli, 20000);
        assert_int_equal(h.pool.nodes[5].cpu_milli, HOST_UNLIMITED);
        assert_int_equal(h.pool.nodes[6].memory_mib, HOST_UNLIMITED);
        /* The blocked GPU is taken; topology as given. */
        assert_int_equal(h.pool.nodes[1].gpu[0].milli_left, 0);
        assert_int_equal(h.pool.nodes[0].gpu[1].numa, 0);
        assert_int_equal(h.pool.nodes[5].gpu[0].numa, -1);
        host_pool_done(&h);
}

/* CPU and memory come from the NUMA node of the GPUs; a VM that fits no node is refused with
 * what is short. */
static void test_cpu_memory(void **state) {
        size_t out[HOST_GPUS_MAX], n;
        HostShortage sh;
        HostPool h;
        HostRequest big = { .cpu_milli = 100000, .memory_mib = 100 * 1024, .count = 1 };
        size_t first[] = { 1, 2 };

        reset(dgx, ELEMENTSOF(dgx));
        assert_int_equal(host_pool_make(&h, dgx, ELEMENTSOF(dgx), dgx_numa, 2, NULL, 0), 0);
        /* An instance with GPUs 1 and 2 (NUMA node 0) takes 100 CPUs there. */
        claim(dgx, first, 2);
        assert_int_equal(host_pool_occupy(&h, 100000, 512 * 1024, first, 2), 0);
        assert_int_equal(h.pool.nodes[0].cpu_left, 12000);
        assert_int_equal(h.pool.nodes[0].memory_left, 512 * 1024);
        /* The next 100-CPU VM goes to NUMA node 1 although node 0 has GPUs free. */
        assert_int_equal(host_pool_place(&h, POOL_POLICY_ARK, &big, out, &n, &sh), 0);
        assert_int_equal(dgx[out[0]].numa_node, 1);
        /* A VM of 200 CPUs fits nowhere: CPU is short, memory is not. */
        big.cpu_milli = 200000;
        assert_int_equal(host_pool_place(&h, POOL_POLICY_ARK, &big, out, &n, &sh), -ENOSPC);
        assert_int_equal(sh.why, HOST_SHORT_CPU_MEMORY);
        assert_true(sh.cpu);
        assert_false(sh.memory);
        assert_int_equal(sh.cpu_left, 112000);
        /* Memory short. */
        big = (HostRequest) { .cpu_milli = 1000, .memory_mib = 2000 * 1024, .count = 1 };
        assert_int_equal(host_pool_place(&h, POOL_POLICY_ARK, &big, out, &n, &sh), -ENOSPC);
        assert_false(sh.cpu);
        assert_true(sh.memory);
        assert_int_equal(sh.memory_left, 1024 * 1024);
        /* Booked beyond what a node has (a VM spanning nodes): the node is full, not negative. */
        {
                size_t more[] = { 3 };

                assert_int_equal(host_pool_occupy(&h, 50000, 1, more, 1), 0);
                assert_int_equal(h.pool.nodes[0].cpu_left, 0);
        }
        host_pool_done(&h);
        reset(dgx, ELEMENTSOF(dgx));
}

/* ------------------------------------------------------------------------------------------ */
/* equality with the plain pool */

static uint64_t lcg(uint64_t *s) {
        *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        return *s >> 33;
}

/* A node whose GPUs share one NUMA node and have no switch places exactly as a node without
 * topology (bench/trace-replay's nodes), under every policy and seed. */
static void test_topology_neutral(void **state) {
        for (PoolPolicy policy = 0; policy < _POOL_POLICY_MAX; policy++)
                for (uint64_t seed = 0; seed < 3; seed++) {
                        Pool a = {}, b = {};
                        PoolShape shapes[] = {
                                { { .cpu_milli = 8000, .num_gpu = 1, .gpu_milli = 1000 }, 3 },
                                { { .cpu_milli = 4000, .num_gpu = 1, .gpu_milli = 500 }, 2 },
                                { { .cpu_milli = 16000, .num_gpu = 2, .gpu_milli = 1000 }, 1 },
                                { { .cpu_milli = 2000 }, 1 },
                        };
                        uint64_t s = seed + 1;

                        assert_int_equal(pool_model(&a, "A"), 0);
                        assert_int_equal(pool_model(&a, "B"), 1);
                        assert_int_equal(pool_model(&b, "A"), 0);
                        assert_int_equal(pool_model(&b, "B"), 1);
                        for (int k = 0; k < 6; k++) {
                                unsigned gpus = k % 3 == 0 ? 8 : k % 3 == 1 ? 4 : 2;

                                assert_int_equal(pool_add_node(&a, "n", 64000, 256000, k % 2, gpus), k);
                                assert_int_equal(pool_add_node(&b, "n", 64000, 256000, k % 2, gpus), k);
                                for (unsigned g = 0; g < gpus; g++)
                                        assert_int_equal(pool_set_topology(&b, (size_t) k, g, k, -1), 0);
                        }
                        assert_int_equal(pool_set_workload(&a, shapes, ELEMENTSOF(shapes)), 0);
                        assert_int_equal(pool_set_workload(&b, shapes, ELEMENTSOF(shapes)), 0);
                        assert_int_equal(pool_seed(&a, seed), 0);
                        assert_int_equal(pool_seed(&b, seed), 0);
                        for (int e = 0; e < 200; e++) {
                                static const unsigned counts[] = { 1, 1, 1, 2, 4, 8 };
                                unsigned c = counts[lcg(&s) % ELEMENTSOF(counts)];
                                PoolRequest r = { .cpu_milli = (int64_t) (lcg(&s) % 16) * 1000,
                                                  .memory_mib = (int64_t) (lcg(&s) % 64) * 1024,
                                                  .num_gpu = c,
                                                  .gpu_milli = c == 1 && lcg(&s) % 3 == 0 ? 250 : 1000,
                                                  .models = (uint32_t) (lcg(&s) % 4) & 3 };
                                PoolPlacement pa, pb;
                                int ra = pool_place(&a, policy, &r, &pa),
                                    rb = pool_place(&b, policy, &r, &pb);

                                assert_int_equal(ra, rb);
                                if (ra < 0)
                                        continue;
                                assert_int_equal(pa.node, pb.node);
                                assert_int_equal(pa.n_gpus, pb.n_gpus);
                                assert_memory_equal(pa.gpus, pb.gpus, pa.n_gpus);
                                assert_int_equal(pool_commit(&a, &r, &pa), 0);
                                assert_int_equal(pool_commit(&b, &r, &pb), 0);
                        }
                        pool_done(&a);
                        pool_done(&b);
                }
}

/* The host pool with a workload file places as a plain pool made the way bench/trace-replay
 * makes one (nodes in the same order, the same workload, seed and policy). */
static void test_same_as_plain_pool(void **state) {
        static const char csv[] = "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n"
                                  "4000,1,1000,,5\n8000,2,1000," H100 ",2\n16000,4,1000,,1\n";
        HostGpu g[12];
        char addr[12][16];
        const HostNuma numa[] = { { 0, 32, 64 * GIB }, { 1, 16, 32 * GIB }, { 2, 48, 64 * GIB } };
        PoolWorkload w = {};
        HostPool h;
        Pool plain = {};

        for (size_t k = 0; k < ELEMENTSOF(g); k++) {
                snprintf(addr[k], sizeof(addr[k]), "0000:%02zx:00.0", k * 16 + 1);
                g[k] = (HostGpu) { addr[k], k < 8 ? H100 : L40S, (int) (k / 4), NULL };
        }
        assert_int_equal(pool_workload_parse("w.csv", csv, strlen(csv), &w, NULL), 0);
        for (uint64_t seed = 0; seed < 4; seed++) {
                uint64_t s = seed + 7;

                assert_int_equal(host_pool_make(&h, g, ELEMENTSOF(g), numa, ELEMENTSOF(numa), &w, seed), 0);
                plain = (Pool) {};
                for (int k = 0; k < 3; k++)
                        assert_int_equal(pool_add_node(&plain, "n", (int64_t) numa[k].n_cpus * 1000,
                                                       (int64_t) (numa[k].memory_bytes >> 20),
                                                       pool_model(&plain, k < 2 ? H100 : L40S), 4),
                                         k);
                assert_int_equal(pool_workload_apply(&plain, &w), 0);
                assert_int_equal(pool_seed(&plain, seed), 0);
                for (int e = 0; e < 40; e++) {
                        unsigned c = 1u << (lcg(&s) % 3);
                        HostRequest hr = { .cpu_milli = (int64_t) (1 + lcg(&s) % 12) * 1000,
                                           .memory_mib = (int64_t) (1 + lcg(&s) % 16) * 1024,
                                           .count = c };
                        PoolRequest pr = { .cpu_milli = hr.cpu_milli,
                                           .memory_mib = hr.memory_mib,
                                           .num_gpu = c,
                                           .gpu_milli = POOL_MILLI };
                        size_t out[HOST_GPUS_MAX], n;
                        PoolPlacement pl;
                        int rh = host_pool_place(&h, POOL_POLICY_ARK, &hr, out, &n, NULL);
                        int rp = pool_place(&plain, POOL_POLICY_ARK, &pr, &pl);

                        assert_int_equal(rh, rp);
                        if (rh < 0)
                                continue;
                        assert_int_equal(n, pl.n_gpus);
                        for (unsigned k = 0; k < n; k++)
                                assert_int_equal(out[k], pl.node * 4 + pl.gpus[k]);
                        assert_int_equal(pool_commit(&plain, &pr, &pl), 0);
                        assert_int_equal(host_pool_occupy(&h, hr.cpu_milli, hr.memory_mib, out, n), 0);
                }
                host_pool_done(&h);
                pool_done(&plain);
        }
        pool_workload_done(&w);
}

/* ------------------------------------------------------------------------------------------ */
/* the workload file */

static void test_workload_parse(void **state) {
        static const char ok[] = "# expected VMs\n"
                                 "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\r\n"
                                 "\n"
                                 "8000,1,1000,,3\n"
                                 "4000,1,500,V100M16|V100M32,0.5\n"
                                 "2000,0,0,,1";
        static const struct {
                const char *text, *needle;
        } bad[] = {
                { "", "w.csv: no request shapes" },
                { "cpu,gpus\n1,2\n", "w.csv:1: expected the header" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n", "no request shapes" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,1,1000,,1\nx,1,1000,,1\n",
                  "w.csv:3: cpu_milli: 'x'" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,17,1000,,1\n",
                  "w.csv:2: num_gpu: '17'" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,1,1001,,1\n",
                  "w.csv:2: gpu_milli: '1001'" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,2,500,,1\n",
                  "w.csv:2: gpu_milli: a share" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,0,500,,1\n",
                  "w.csv:2: gpu_milli: 500 with num_gpu 0" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,1,1000,A||B,1\n",
                  "w.csv:2: gpu_spec: 'A||B'" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,1,1000,,0\n", "w.csv:2: weight: '0'" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,1,1000,,nan\n",
                  "w.csv:2: weight: 'nan'" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,1,1000,\n", "w.csv:2: 4 fields" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n1000,1,1000,,1,2\n",
                  "w.csv:2: more than 5 fields" },
                { "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n-1,1,1000,,1\n",
                  "w.csv:2: cpu_milli: '-1'" },
        };
        PoolWorkload w = {};
        char *err = NULL;
        Pool p = {};

        assert_int_equal(pool_workload_parse("w.csv", ok, strlen(ok), &w, &err), 0);
        assert_null(err);
        assert_int_equal(w.n_shapes, 3);
        assert_int_equal(w.shapes[0].cpu_milli, 8000);
        assert_string_equal(w.shapes[1].spec, "V100M16|V100M32");
        assert_int_equal(w.shapes[1].gpu_milli, 500);
        assert_true(w.shapes[1].weight == 0.5);
        assert_int_equal(w.shapes[2].num_gpu, 0);
        /* Specs match the pool's models exactly; one naming none of them fits nowhere. */
        assert_int_equal(pool_model(&p, "V100M32"), 0);
        assert_int_equal(pool_model(&p, "V100M16"), 1);
        assert_int_equal(pool_model(&p, "T4"), 2);
        assert_int_equal(pool_spec_mask(&p, "V100M16|V100M32"), 3);
        assert_int_equal(pool_spec_mask(&p, "V100M"), UINT32_C(1) << 31);
        assert_int_equal(pool_spec_mask(&p, "A100|T4"), 4);
        assert_int_equal(pool_spec_mask(&p, ""), 0);
        assert_int_equal(pool_workload_apply(&p, &w), 0);
        assert_int_equal(p.n_shapes, 3);
        assert_int_equal(p.shapes[1].request.models, 3);
        pool_done(&p);
        pool_workload_done(&w);

        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                assert_int_equal(pool_workload_parse("w.csv", bad[k].text, strlen(bad[k].text), &w, &err),
                                 -EINVAL);
                if (!err || !strstr(err, bad[k].needle))
                        fail_msg("case %zu: '%s' does not contain '%s'", k, strna(err), bad[k].needle);
                err = mfree(err);
        }
        assert_int_equal(pool_workload_parse("w.csv", "a\0b", 3, &w, &err), -EINVAL);
        free(err);
        assert_int_equal(pool_workload_default(&w), 0);
        assert_int_equal(w.n_shapes, 4);
        assert_int_equal(w.shapes[3].num_gpu, 8);
        pool_workload_done(&w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_on_one_node),
                cmocka_unit_test(test_single_best_fit),
                cmocka_unit_test(test_spans_nodes_when_it_must),
                cmocka_unit_test(test_spread_refused),
                cmocka_unit_test(test_same_switch),
                cmocka_unit_test(test_model),
                cmocka_unit_test(test_last_gpu),
                cmocka_unit_test(test_exact),
                cmocka_unit_test(test_workstation),
                cmocka_unit_test(test_models_mixed),
                cmocka_unit_test(test_many_gpus),
                cmocka_unit_test(test_nodes),
                cmocka_unit_test(test_cpu_memory),
                cmocka_unit_test(test_topology_neutral),
                cmocka_unit_test(test_same_as_plain_pool),
                cmocka_unit_test(test_workload_parse),
        };
        return cmocka_run_group_tests_name("pool-host", tests, NULL, NULL);
}
