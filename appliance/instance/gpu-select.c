/* Whole-GPU selection for VMs; see gpu-select.h for the policy. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/macro.h"
#include "gpu-select.h"
#include "pool/pool.h"

static bool model_matches(const char *model, const char *want) {
        size_t lw;

        if (!want || !*want)
                return true;
        if (!model)
                return false;
        lw = strlen(want);
        for (const char *p = model; *p; p++)
                if (strncasecmp(p, want, lw) == 0)
                        return true;
        return false;
}

static int compare_index_by_address(const void *a, const void *b, void *userdata) {
        const GpuCandidate *c = userdata;
        return strcmp(c[*(const size_t *) a].address, c[*(const size_t *) b].address);
}

static int select_exact(const GpuCandidate *c, size_t n, const GpuRequest *req, size_t ret[static GPU_SELECT_MAX],
                        size_t *ret_n, size_t *ret_index) {
        size_t k = 0;

        for (; req->addresses[k]; k++) {
                size_t j;

                if (k >= GPU_SELECT_MAX)
                        return -EINVAL;
                for (size_t l = 0; l < k; l++)
                        if (strcmp(req->addresses[l], req->addresses[k]) == 0)
                                return -EINVAL;
                for (j = 0; j < n; j++)
                        if (strcmp(c[j].address, req->addresses[k]) == 0)
                                break;
                if (j == n) {
                        if (ret_index)
                                *ret_index = k;
                        return -ENOENT;
                }
                if (c[j].blocker) {
                        if (ret_index)
                                *ret_index = k;
                        return -EBUSY;
                }
                ret[k] = j;
        }
        if (k == 0 || (req->count > 0 && req->count != k))
                return -EINVAL;
        qsort_r(ret, k, sizeof(size_t), compare_index_by_address, (void *) c);
        *ret_n = k;
        return 0;
}

/* The host as a pool (lib/pool): one pool node per GPU model (a pool node has GPUs of one model),
 * split in nodes of POOL_GPUS_MAX; GPUs in address order with their NUMA node and switch; the
 * GPUs that cannot be given out are taken. CPU and memory are not the pooler's business here
 * (arkd checks them against the quotas), so the nodes have plenty. */
typedef struct HostPool {
        Pool pool;
        size_t *cand;           /* pool node k, GPU g -> candidate index: cand[k * POOL_GPUS_MAX + g] */
        uint32_t models;        /* the pool models the request accepts */
} HostPool;

static void host_pool_done(HostPool *h) {
        pool_done(&h->pool);
        free(h->cand);
}

static int host_pool_make(HostPool *h, const GpuCandidate *c, size_t n, const GpuRequest *req) {
        _cleanup_free_ size_t *order = NULL;
        _cleanup_free_ char **switches = NULL;
        size_t n_switches = 0;
        int r;

        order = malloc(MAX(n, 1U) * sizeof(size_t));
        switches = calloc(MAX(n, 1U), sizeof(char *));
        h->cand = malloc(MAX(n, 1U) * POOL_GPUS_MAX * sizeof(size_t));
        if (!order || !switches || !h->cand)
                return -ENOMEM;
        for (size_t j = 0; j < n; j++)
                order[j] = j;
        qsort_r(order, n, sizeof(size_t), compare_index_by_address, (void *) c);

        /* Models in the order they first come, each one's GPUs in nodes of up to POOL_GPUS_MAX. */
        for (size_t i = 0; i < n; i++) {
                const GpuCandidate *first = &c[order[i]];
                bool seen = false;
                int model, node = -1;
                unsigned g = 0;

                for (size_t l = 0; l < i && !seen; l++)
                        seen = strcmp(c[order[l]].model ?: "", first->model ?: "") == 0;
                if (seen)
                        continue;
                model = pool_model(&h->pool, first->model ?: "");
                if (model < 0)
                        return model;
                if (model_matches(first->model, req->model))
                        h->models |= UINT32_C(1) << model;
                for (size_t l = i; l < n; l++) {
                        const GpuCandidate *x = &c[order[l]];
                        int sw = -1;

                        if (strcmp(x->model ?: "", first->model ?: "") != 0)
                                continue;
                        if (node < 0 || g == POOL_GPUS_MAX) {
                                size_t left = 0;

                                for (size_t q = l; q < n; q++)
                                        left += strcmp(c[order[q]].model ?: "", first->model ?: "") == 0;
                                node = pool_add_node(&h->pool, first->model ?: "", INT64_C(1) << 40, INT64_C(1) << 40,
                                                     model, (unsigned) MIN(left, (size_t) POOL_GPUS_MAX));
                                if (node < 0)
                                        return node;
                                g = 0;
                        }
                        if (x->switch_port) {
                                for (size_t s = 0; s < n_switches && sw < 0; s++)
                                        if (strcmp(switches[s], x->switch_port) == 0)
                                                sw = (int) s;
                                if (sw < 0) {
                                        switches[n_switches] = (char *) x->switch_port;
                                        sw = (int) n_switches++;
                                }
                        }
                        r = pool_set_topology(&h->pool, (size_t) node, g, x->numa_node, sw);
                        if (r < 0)
                                return r;
                        h->cand[(size_t) node * POOL_GPUS_MAX + g] = order[l];
                        if (x->blocker) {
                                PoolRequest one = { .num_gpu = 1, .gpu_milli = POOL_MILLI };
                                PoolPlacement pl = { .node = (size_t) node, .n_gpus = 1, .gpus = { (uint8_t) g } };

                                r = pool_commit(&h->pool, &one, &pl);
                                if (r < 0)
                                        return r;
                        }
                        g++;
                }
        }
        return 0;
}

/* Free GPUs of the accepted models on the node. */
static unsigned node_free(const HostPool *h, size_t k) {
        const PoolNode *nd = &h->pool.nodes[k];
        unsigned f = 0;

        if (nd->model < 0 || !((h->models >> nd->model) & 1))
                return 0;
        for (unsigned g = 0; g < nd->n_gpus; g++)
                f += nd->gpu[g].milli_left == POOL_MILLI;
        return f;
}

int gpu_select(const GpuCandidate *c, size_t n, const GpuRequest *req, size_t ret[static GPU_SELECT_MAX],
               size_t *ret_n, size_t *ret_index) {
        _cleanup_(host_pool_done) HostPool h = {};
        size_t total = 0, have = 0;
        int r;

        if (!c && n > 0)
                return -EINVAL;
        if (req->addresses)
                return select_exact(c, n, req, ret, ret_n, ret_index);
        if (req->count == 0 || req->count > GPU_SELECT_MAX)
                return -EINVAL;
        r = host_pool_make(&h, c, n, req);
        if (r < 0)
                return r;
        for (size_t k = 0; k < h.pool.n_nodes; k++)
                total += node_free(&h, k);
        if (total < req->count) {
                *ret_n = total;
                return -ENOSPC;
        }

        /* The pooler's choice among the nodes that hold the whole request; when none does (a
         * request for more GPUs than one model has, with any model allowed), as many as the
         * fullest node holds, again and again. */
        while (have < req->count) {
                unsigned most = 0, want;
                PoolRequest pr;
                PoolPlacement pl;

                for (size_t k = 0; k < h.pool.n_nodes; k++)
                        most = MAX(most, node_free(&h, k));
                want = (unsigned) MIN((size_t) most, req->count - have);
                if (want == 0)
                        return -ENOSPC; /* cannot happen: total >= count */
                pr = (PoolRequest) { .num_gpu = want, .gpu_milli = POOL_MILLI, .models = h.models };
                r = pool_place(&h.pool, POOL_POLICY_ARK, &pr, &pl);
                if (r >= 0)
                        r = pool_commit(&h.pool, &pr, &pl);
                if (r < 0)
                        return r;
                for (unsigned g = 0; g < pl.n_gpus; g++)
                        ret[have++] = h.cand[pl.node * POOL_GPUS_MAX + pl.gpus[g]];
        }

        qsort_r(ret, have, sizeof(size_t), compare_index_by_address, (void *) c);
        *ret_n = have;
        return 0;
}
