/* Whole-GPU selection for VMs; see gpu-select.h for the policy. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/macro.h"
#include "gpu-select.h"

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

static bool usable(const GpuCandidate *c, const GpuRequest *req) {
        return !c->blocker && model_matches(c->model, req->model);
}

static int compare_index_by_address(const void *a, const void *b, void *userdata) {
        const GpuCandidate *c = userdata;
        return strcmp(c[*(const size_t *) a].address, c[*(const size_t *) b].address);
}

static bool same_switch(const GpuCandidate *a, const GpuCandidate *b) {
        return a->switch_port && b->switch_port && strcmp(a->switch_port, b->switch_port) == 0;
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

/* Number of usable candidates on NUMA node `node` (-1 counts the unknown ones). */
static size_t free_on_node(const GpuCandidate *c, size_t n, const GpuRequest *req, int node) {
        size_t f = 0;

        for (size_t j = 0; j < n; j++)
                if (usable(&c[j], req) && c[j].numa_node == node)
                        f++;
        return f;
}

/* Takes up to `want` usable GPUs of `node` not taken yet, switch by switch: first the GPUs of the
 * switch with the most usable GPUs, then the next; candidates without a switch last. */
static size_t take_from_node(const GpuCandidate *c, size_t n, const GpuRequest *req, int node, bool *taken,
                             size_t want, size_t *out, size_t have) {
        while (want > 0) {
                size_t best = SIZE_MAX, best_count = 0;

                for (size_t j = 0; j < n; j++) {
                        size_t count = 0;

                        if (taken[j] || !usable(&c[j], req) || c[j].numa_node != node)
                                continue;
                        for (size_t l = 0; l < n; l++)
                                if (!taken[l] && usable(&c[l], req) && c[l].numa_node == node &&
                                    (l == j || same_switch(&c[j], &c[l])))
                                        count++;
                        if (!c[j].switch_port)
                                count = 1; /* on its own */
                        if (best == SIZE_MAX || count > best_count ||
                            (count == best_count && strcmp(c[j].address, c[best].address) < 0)) {
                                best = j;
                                best_count = count;
                        }
                }
                if (best == SIZE_MAX)
                        break;
                /* The whole switch of `best`, in address order, as far as wanted. */
                for (size_t j = 0; j < n && want > 0; j++)
                        if (!taken[j] && usable(&c[j], req) && c[j].numa_node == node &&
                            (j == best || same_switch(&c[best], &c[j]))) {
                                taken[j] = true;
                                out[have++] = j;
                                want--;
                        }
        }
        return have;
}

int gpu_select(const GpuCandidate *c, size_t n, const GpuRequest *req, size_t ret[static GPU_SELECT_MAX],
               size_t *ret_n, size_t *ret_index) {
        bool taken_buf[256] = {}, *taken = taken_buf;
        _cleanup_free_ bool *taken_heap = NULL;
        int nodes[256];
        size_t n_nodes = 0, total = 0, have = 0;

        if (!c && n > 0)
                return -EINVAL;
        if (req->addresses)
                return select_exact(c, n, req, ret, ret_n, ret_index);
        if (req->count == 0 || req->count > GPU_SELECT_MAX)
                return -EINVAL;
        if (n > ELEMENTSOF(taken_buf)) {
                taken = taken_heap = calloc(n, sizeof(bool));
                if (!taken)
                        return -ENOMEM;
        }

        /* The NUMA nodes that have usable GPUs, and how many there are in all. */
        for (size_t j = 0; j < n; j++) {
                bool seen = false;

                if (!usable(&c[j], req))
                        continue;
                total++;
                for (size_t k = 0; k < n_nodes; k++)
                        seen = seen || nodes[k] == c[j].numa_node;
                if (!seen && n_nodes < ELEMENTSOF(nodes))
                        nodes[n_nodes++] = c[j].numa_node;
        }
        if (total < req->count) {
                *ret_n = total;
                return -ENOSPC;
        }

        /* Best fit: the node with the fewest usable GPUs that still holds the whole request, the
         * lower node id on a tie. */
        {
                int best = 0;
                size_t best_free = SIZE_MAX;

                for (size_t k = 0; k < n_nodes; k++) {
                        size_t f = free_on_node(c, n, req, nodes[k]);

                        if (f >= req->count && (f < best_free || (f == best_free && nodes[k] < best))) {
                                best = nodes[k];
                                best_free = f;
                        }
                }
                if (best_free != SIZE_MAX)
                        have = take_from_node(c, n, req, best, taken, req->count, ret, 0);
        }

        /* No node holds it all: span nodes, the fullest first. */
        while (have < req->count) {
                int best = 0;
                size_t best_free = 0;

                for (size_t k = 0; k < n_nodes; k++) {
                        size_t f = 0;

                        for (size_t j = 0; j < n; j++)
                                if (!taken[j] && usable(&c[j], req) && c[j].numa_node == nodes[k])
                                        f++;
                        if (f > best_free || (f == best_free && f > 0 && nodes[k] < best)) {
                                best = nodes[k];
                                best_free = f;
                        }
                }
                if (best_free == 0)
                        break; /* cannot happen: total >= count */
                have = take_from_node(c, n, req, best, taken, req->count - have, ret, have);
        }

        qsort_r(ret, have, sizeof(size_t), compare_index_by_address, (void *) c);
        *ret_n = have;
        return 0;
}
