/* One host as a pool; see host.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pool/host.h"

#define MIB (UINT64_C(1) << 20)

static const char *model_of(const HostGpu *g) {
        return g->model ?: "";
}

static int compare_by_address(const void *a, const void *b, void *userdata) {
        const HostGpu *g = userdata;
        return strcmp(g[*(const size_t *) a].address, g[*(const size_t *) b].address);
}

void host_pool_done(HostPool *h) {
        for (size_t k = 0; h->names && k < h->pool.n_nodes; k++)
                free(h->names[k]);
        free(h->names);
        pool_done(&h->pool);
        free(h->order);
        free(h->slot);
        free(h->at);
        *h = (HostPool) {};
}

static const HostNuma *numa_find(const HostNuma *numa, size_t n, int id) {
        for (size_t k = 0; id >= 0 && k < n; k++)
                if (numa[k].id == id)
                        return &numa[k];
        return NULL;
}

/* The plan: which node each GPU goes to, the nodes in the order of their first GPU. */
typedef struct Plan {
        size_t *node_of; /* by position in address order */
        size_t *first;   /* node -> position of its first GPU */
        unsigned *count; /* node -> GPUs */
        size_t n_nodes;
} Plan;

static void plan_done(Plan *p) {
        free(p->node_of);
        free(p->first);
        free(p->count);
}

static bool same_group(const HostGpu *a, const HostGpu *b) {
        return a->numa_node == b->numa_node && strcmp(model_of(a), model_of(b)) == 0;
}

static int plan_make(const HostPool *h, Plan *p) {
        size_t n = h->n_gpus;

        p->node_of = calloc(n + 1, sizeof(size_t));
        p->first = calloc(n + 1, sizeof(size_t));
        p->count = calloc(n + 1, sizeof(unsigned));
        if (!p->node_of || !p->first || !p->count)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const HostGpu *g = &h->gpus[h->order[i]];
                size_t node = SIZE_MAX;

                /* The last node of its group, while it has room. */
                for (size_t k = p->n_nodes; k > 0 && node == SIZE_MAX; k--)
                        if (same_group(&h->gpus[h->order[p->first[k - 1]]], g)) {
                                if (p->count[k - 1] < POOL_GPUS_MAX)
                                        node = k - 1;
                                break;
                        }
                if (node == SIZE_MAX) {
                        node = p->n_nodes++;
                        p->first[node] = i;
                }
                p->node_of[i] = node;
                p->count[node]++;
        }
        return 0;
}

/* The CPU (milli) and memory (MiB) of node k: its NUMA node's, shared by GPUs (see host.h). */
static void node_capacity(const HostPool *h, const Plan *p, const HostNuma *numa, size_t n_numa, size_t k,
                          int64_t *ret_cpu, int64_t *ret_mem) {
        const HostGpu *g = &h->gpus[h->order[p->first[k]]];
        const HostNuma *nn = numa_find(numa, n_numa, g->numa_node);
        int64_t cpu, mem, cpu_given = 0, mem_given = 0;
        unsigned all = 0;
        bool first = true;

        if (!nn) {
                *ret_cpu = *ret_mem = HOST_UNLIMITED;
                return;
        }
        cpu = (int64_t) nn->n_cpus * 1000;
        mem = (int64_t) (nn->memory_bytes / MIB);
        for (size_t j = 0; j < p->n_nodes; j++)
                if (h->gpus[h->order[p->first[j]]].numa_node == g->numa_node)
                        all += p->count[j];
        for (size_t j = 0; j < p->n_nodes; j++) {
                if (h->gpus[h->order[p->first[j]]].numa_node != g->numa_node)
                        continue;
                if (j < k)
                        first = false;
                cpu_given += cpu * p->count[j] / all;
                mem_given += mem * p->count[j] / all;
        }
        *ret_cpu = cpu * p->count[k] / all + (first ? cpu - cpu_given : 0);
        *ret_mem = mem * p->count[k] / all + (first ? mem - mem_given : 0);
}

static int take_gpu(HostPool *h, size_t gpu) {
        static const PoolRequest one = { .num_gpu = 1, .gpu_milli = POOL_MILLI };
        size_t s = h->slot[gpu];
        PoolPlacement pl = { .node = s / POOL_GPUS_MAX,
                             .n_gpus = 1,
                             .gpus = { (uint8_t) (s % POOL_GPUS_MAX) } };

        if (h->pool.nodes[pl.node].gpu[pl.gpus[0]].milli_left != POOL_MILLI)
                return 0; /* taken already */
        return pool_commit(&h->pool, &one, &pl);
}

bool host_gpu_partitioned(const HostGpu *g) {
        return g->mig || g->shares.n > 0;
}

static PoolPlacement placement_of(const HostPool *h, size_t gpu) {
        size_t s = h->slot[gpu];

        return (PoolPlacement) { .node = s / POOL_GPUS_MAX,
                                 .n_gpus = 1,
                                 .gpus = { (uint8_t) (s % POOL_GPUS_MAX) } };
}

/* A GPU's MIG mode and instances, or its shares, into the pool. */
static int take_partitions(HostPool *h, size_t gpu) {
        const HostGpu *x = &h->gpus[gpu];
        PoolPlacement pl = placement_of(h, gpu);
        PoolRequest pr = { .num_gpu = 1 };
        int r;

        if (x->mig) {
                if (x->shares.n > 0)
                        return -EINVAL;
                r = pool_set_mig(&h->pool, pl.node, pl.gpus[0], true);
                if (r < 0)
                        return r;
                for (unsigned s = 0; s < MIG_MEMORY_SLICES; s++) {
                        if (x->instances.at[s] == 0)
                                continue;
                        pr.mig = x->instances.at[s];
                        pl.mig_start = (uint8_t) s;
                        if (pool_commit(&h->pool, &pr, &pl) < 0)
                                return -EINVAL;
                }
                return 0;
        }
        if (x->shares.n == 0)
                return 0;
        if (x->shares.milli == 0 || x->shares.milli >= POOL_MILLI || x->shares.n > POOL_MILLI ||
            x->shares.n * x->shares.milli > POOL_MILLI)
                return -EINVAL;
        pr.gpu_milli = x->shares.n * x->shares.milli;
        return pool_commit(&h->pool, &pr, &pl) < 0 ? -EINVAL : 0;
}

int host_pool_make(HostPool *h, const HostGpu *gpus, size_t n, const HostNuma *numa, size_t n_numa,
                   const PoolWorkload *w, uint64_t seed) {
        PoolWorkload dflt = {};
        Plan p = {};
        char **switches = NULL;
        size_t n_switches = 0;
        int r;

        *h = (HostPool) { .gpus = gpus, .n_gpus = n };
        for (size_t k = 0; k < n; k++)
                if (!gpus[k].address)
                        return -EINVAL;
        h->order = malloc((n + 1) * sizeof(size_t));
        h->slot = malloc((n + 1) * sizeof(size_t));
        switches = calloc(n + 1, sizeof(char *));
        if (!h->order || !h->slot || !switches) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t k = 0; k < n; k++)
                h->order[k] = k;
        qsort_r(h->order, n, sizeof(size_t), compare_by_address, (void *) gpus);
        r = plan_make(h, &p);
        if (r < 0)
                goto finish;
        h->names = calloc(p.n_nodes + 1, sizeof(char *));
        h->at = malloc((p.n_nodes * POOL_GPUS_MAX + 1) * sizeof(size_t));
        if (!h->names || !h->at) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t k = 0; k < p.n_nodes; k++) {
                const HostGpu *g = &gpus[h->order[p.first[k]]];
                int64_t cpu, mem;
                int model;

                model = pool_model(&h->pool, model_of(g));
                if (model < 0) {
                        r = model;
                        goto finish;
                }
                if (g->numa_node >= 0)
                        r = asprintf(&h->names[k], "numa%d %s", g->numa_node, model_of(g));
                else
                        r = asprintf(&h->names[k], "numa? %s", model_of(g));
                if (r < 0) {
                        h->names[k] = NULL;
                        r = -ENOMEM;
                        goto finish;
                }
                node_capacity(h, &p, numa, n_numa, k, &cpu, &mem);
                r = pool_add_node(&h->pool, h->names[k], cpu, mem, model, p.count[k]);
                if (r < 0)
                        goto finish;
        }
        /* Each GPU in its place, with its topology. */
        {
                unsigned *fill = calloc(p.n_nodes + 1, sizeof(unsigned));

                if (!fill) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t i = 0; i < n && r >= 0; i++) {
                        const HostGpu *g = &gpus[h->order[i]];
                        size_t node = p.node_of[i];
                        unsigned idx = fill[node]++;
                        int sw = -1;

                        if (g->switch_port) {
                                for (size_t s = 0; s < n_switches && sw < 0; s++)
                                        if (strcmp(switches[s], g->switch_port) == 0)
                                                sw = (int) s;
                                if (sw < 0) {
                                        switches[n_switches] = (char *) g->switch_port;
                                        sw = (int) n_switches++;
                                }
                        }
                        h->slot[h->order[i]] = node * POOL_GPUS_MAX + idx;
                        h->at[node * POOL_GPUS_MAX + idx] = h->order[i];
                        r = pool_set_topology(&h->pool, node, idx, g->numa_node < 0 ? -1 : g->numa_node, sw);
                }
                free(fill);
                if (r < 0)
                        goto finish;
        }
        for (size_t k = 0; k < n && r >= 0; k++)
                if (gpus[k].blocked)
                        r = take_gpu(h, k);
                else
                        r = take_partitions(h, k);
        if (r < 0)
                goto finish;
        if (!w) {
                r = pool_workload_default(&dflt);
                if (r < 0)
                        goto finish;
                w = &dflt;
        }
        r = pool_workload_apply(&h->pool, w);
        if (r >= 0)
                r = pool_seed(&h->pool, seed);
finish:
        pool_workload_done(&dflt);
        plan_done(&p);
        free(switches);
        if (r < 0) {
                host_pool_done(h);
                return r;
        }
        return 0;
}

int host_pool_occupy(HostPool *h, int64_t cpu_milli, int64_t memory_mib, const size_t *gpus, size_t n) {
        size_t first = SIZE_MAX;
        PoolNode *nd;
        int r;

        for (size_t k = 0; k < n; k++) {
                if (gpus[k] >= h->n_gpus)
                        return -EINVAL;
                if (first == SIZE_MAX || strcmp(h->gpus[gpus[k]].address, h->gpus[first].address) < 0)
                        first = gpus[k];
        }
        if (first == SIZE_MAX)
                return 0;
        nd = &h->pool.nodes[h->slot[first] / POOL_GPUS_MAX];
        {
                /* Booked beyond what the node has: full (pool_commit() books no more than that). */
                PoolRequest cm = {
                        .cpu_milli = cpu_milli < 0         ? 0
                                : cpu_milli < nd->cpu_left ? cpu_milli
                                                           : (nd->cpu_left > 0 ? nd->cpu_left : 0),
                        .memory_mib = memory_mib < 0           ? 0
                                : memory_mib < nd->memory_left ? memory_mib
                                                               : (nd->memory_left > 0 ? nd->memory_left : 0),
                };
                PoolPlacement pl = { .node = h->slot[first] / POOL_GPUS_MAX };

                r = pool_commit(&h->pool, &cm, &pl);
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < n; k++) {
                r = take_gpu(h, gpus[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool model_matches(const char *model, const char *want) {
        size_t lw;

        if (!want || !*want)
                return true;
        lw = strlen(want);
        for (const char *p = model; *p; p++)
                if (strncasecmp(p, want, lw) == 0)
                        return true;
        return false;
}

/* Whole free GPUs on node k; and those free or held by instances (what it could ever have). */
static unsigned node_free(const HostPool *h, size_t k, unsigned *ret_capacity) {
        const PoolNode *nd = &h->pool.nodes[k];
        unsigned f = 0, c = 0;

        for (unsigned g = 0; g < nd->n_gpus; g++) {
                const HostGpu *x = &h->gpus[h->at[k * POOL_GPUS_MAX + g]];
                bool free_now = nd->gpu[g].milli_left == POOL_MILLI;

                f += free_now;
                c += free_now || x->held || !x->blocked;
        }
        if (ret_capacity)
                *ret_capacity = c;
        return f;
}

static bool node_accepted(const HostPool *h, size_t k, uint32_t models) {
        return h->pool.nodes[k].model >= 0 && (models == 0 || ((models >> h->pool.nodes[k].model) & 1));
}

static int compare_gpus(const void *a, const void *b, void *userdata) {
        return compare_by_address(a, b, (void *) ((const HostPool *) userdata)->gpus);
}

/* As many as the fullest node has free, again and again (CPU and memory not checked). The parts
 * are booked while it goes and given back at the end. */
static int place_spanning(HostPool *h, PoolPolicy policy, uint32_t models, unsigned count, size_t *ret,
                          size_t *ret_n) {
        PoolRequest parts[HOST_GPUS_MAX];
        PoolPlacement pls[HOST_GPUS_MAX];
        size_t n_parts = 0, have = 0;
        int r = 0;

        while (have < count && r >= 0) {
                unsigned most = 0, want;

                for (size_t k = 0; k < h->pool.n_nodes; k++)
                        if (node_accepted(h, k, models)) {
                                unsigned f = node_free(h, k, NULL);
                                most = f > most ? f : most;
                        }
                want = most < count - have ? most : (unsigned) (count - have);
                if (want == 0) {
                        r = -ENOSPC;
                        break;
                }
                parts[n_parts] =
                        (PoolRequest) { .num_gpu = want, .gpu_milli = POOL_MILLI, .models = models };
                r = pool_place(&h->pool, policy, &parts[n_parts], &pls[n_parts]);
                if (r >= 0)
                        r = pool_commit(&h->pool, &parts[n_parts], &pls[n_parts]);
                if (r < 0)
                        break;
                for (unsigned g = 0; g < pls[n_parts].n_gpus; g++)
                        ret[have++] = h->at[pls[n_parts].node * POOL_GPUS_MAX + pls[n_parts].gpus[g]];
                n_parts++;
        }
        while (n_parts > 0) {
                n_parts--;
                (void) pool_release(&h->pool, &parts[n_parts], &pls[n_parts]);
        }
        if (r < 0)
                return r;
        *ret_n = have;
        return 0;
}

int host_pool_place(HostPool *h, PoolPolicy policy, const HostRequest *req, size_t ret[static HOST_GPUS_MAX],
                    size_t *ret_n, HostShortage *ret_short) {
        HostShortage sh = { .why = HOST_SHORT_GPUS };
        uint32_t models = 0;
        unsigned most_cap = 0;
        bool model_any = !req->model || !*req->model, some = false;
        PoolRequest pr;
        PoolPlacement pl;
        size_t n = 0;
        int r;

        if (req->count == 0 || req->count > HOST_GPUS_MAX || req->cpu_milli < 0 || req->memory_mib < 0)
                return -EINVAL;
        for (size_t m = 0; m < h->pool.n_models; m++)
                if (model_matches(h->pool.models[m], req->model)) {
                        models |= UINT32_C(1) << m;
                        some = true;
                }
        if (model_any)
                models = 0;
        for (size_t k = 0; some && k < h->pool.n_nodes; k++) {
                unsigned cap, f;

                if (!node_accepted(h, k, models))
                        continue;
                f = node_free(h, k, &cap);
                sh.free_gpus += f;
                sh.most_on_node = f > sh.most_on_node ? f : sh.most_on_node;
                most_cap = cap > most_cap ? cap : most_cap;
        }
        if (!some || sh.free_gpus < req->count)
                goto refuse;

        if (req->count <= POOL_GPUS_MAX) {
                pr = (PoolRequest) { .cpu_milli = req->cpu_milli,
                                     .memory_mib = req->memory_mib,
                                     .num_gpu = req->count,
                                     .gpu_milli = POOL_MILLI,
                                     .models = models };
                r = pool_place(&h->pool, policy, &pr, &pl);
                if (r >= 0) {
                        for (unsigned g = 0; g < pl.n_gpus; g++)
                                ret[n++] = h->at[pl.node * POOL_GPUS_MAX + pl.gpus[g]];
                        goto done;
                }
                if (r != -ENOSPC)
                        return r;
        }
        if (most_cap < req->count) {
                r = place_spanning(h, policy, models, req->count, ret, &n);
                if (r >= 0)
                        goto done;
                if (r != -ENOSPC)
                        return r;
                goto refuse;
        }
        if (sh.most_on_node < req->count) {
                sh.why = HOST_SHORT_SPREAD;
                goto refuse;
        }
        /* Some node has the GPUs free but not the CPU or memory. */
        sh.why = HOST_SHORT_CPU_MEMORY;
        sh.cpu = sh.memory = true;
        sh.cpu_left = sh.memory_left = 0;
        for (size_t k = 0; k < h->pool.n_nodes; k++) {
                const PoolNode *nd = &h->pool.nodes[k];

                if (!node_accepted(h, k, models) || node_free(h, k, NULL) < req->count)
                        continue;
                sh.cpu = sh.cpu && nd->cpu_left < req->cpu_milli;
                sh.memory = sh.memory && nd->memory_left < req->memory_mib;
                sh.cpu_left = nd->cpu_left > sh.cpu_left ? nd->cpu_left : sh.cpu_left;
                sh.memory_left = nd->memory_left > sh.memory_left ? nd->memory_left : sh.memory_left;
        }
        if (!sh.cpu && !sh.memory)
                sh.cpu = sh.memory = true; /* each somewhere, never together */
refuse:
        if (ret_short)
                *ret_short = sh;
        return -ENOSPC;
done:
        qsort_r(ret, n, sizeof(size_t), compare_gpus, h);
        *ret_n = n;
        return 0;
}

int host_gpus_exact(const HostGpu *gpus, size_t n, const char *const *addresses, unsigned count,
                    size_t ret[static HOST_GPUS_MAX], size_t *ret_n, size_t *ret_index) {
        size_t k = 0;

        for (; addresses && addresses[k]; k++) {
                size_t j;

                if (k >= HOST_GPUS_MAX)
                        return -EINVAL;
                for (size_t l = 0; l < k; l++)
                        if (strcmp(addresses[l], addresses[k]) == 0)
                                return -EINVAL;
                for (j = 0; j < n; j++)
                        if (gpus[j].address && strcmp(gpus[j].address, addresses[k]) == 0)
                                break;
                if (j == n) {
                        if (ret_index)
                                *ret_index = k;
                        return -ENOENT;
                }
                if (gpus[j].blocked || host_gpu_partitioned(&gpus[j])) {
                        if (ret_index)
                                *ret_index = k;
                        return -EBUSY;
                }
                ret[k] = j;
        }
        if (k == 0 || (count > 0 && count != k))
                return -EINVAL;
        qsort_r(ret, k, sizeof(size_t), compare_by_address, (void *) gpus);
        *ret_n = k;
        return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* partitions */

/* The pool's GPU of GPU i. */
static PoolGpu *pool_gpu(HostPool *h, size_t i) {
        return &h->pool.nodes[h->slot[i] / POOL_GPUS_MAX].gpu[h->slot[i] % POOL_GPUS_MAX];
}

static bool gpu_accepted(const HostPool *h, size_t i, uint32_t models) {
        return node_accepted(h, h->slot[i] / POOL_GPUS_MAX, models);
}

/* HOST_SHORT_CPU_MEMORY over the nodes marked in `room`. */
static void short_cpu_memory(const HostPool *h, const HostRequest *req, const bool *room, HostShortage *sh) {
        sh->why = HOST_SHORT_CPU_MEMORY;
        sh->cpu = sh->memory = true;
        sh->cpu_left = sh->memory_left = 0;
        for (size_t k = 0; k < h->pool.n_nodes; k++) {
                const PoolNode *nd = &h->pool.nodes[k];

                if (!room[k])
                        continue;
                sh->cpu = sh->cpu && nd->cpu_left < req->cpu_milli;
                sh->memory = sh->memory && nd->memory_left < req->memory_mib;
                sh->cpu_left = nd->cpu_left > sh->cpu_left ? nd->cpu_left : sh->cpu_left;
                sh->memory_left = nd->memory_left > sh->memory_left ? nd->memory_left : sh->memory_left;
        }
        if (!sh->cpu && !sh->memory)
                sh->cpu = sh->memory = true; /* each somewhere, never together */
}

static int place_mig(HostPool *h, PoolPolicy policy, const HostRequest *req, uint32_t models,
                     HostPartition *ret, HostShortage *sh, bool *room) {
        PoolRequest pr = { .cpu_milli = req->cpu_milli,
                           .memory_mib = req->memory_mib,
                           .num_gpu = 1,
                           .models = models,
                           .mig = (int8_t) (req->mig_profile + 1) },
                    whole = { .cpu_milli = req->cpu_milli,
                              .memory_mib = req->memory_mib,
                              .num_gpu = 1,
                              .gpu_milli = POOL_MILLI,
                              .models = models };
        PoolPlacement pl, wp;
        bool any = false;
        int r;

        r = pool_place(&h->pool, policy, &pr, &pl);
        if (r >= 0) {
                *ret = (HostPartition) { .gpu = h->at[pl.node * POOL_GPUS_MAX + pl.gpus[0]],
                                         .mig_start = pl.mig_start };
                return 0;
        }
        if (r != -ENOSPC)
                return r;
        /* None in MIG mode has room: the GPU the policy picks for one whole GPU, in MIG mode. */
        r = pool_place(&h->pool, policy, &whole, &wp);
        if (r >= 0) {
                r = pool_set_mig(&h->pool, wp.node, wp.gpus[0], true);
                if (r < 0)
                        return r;
                r = pool_place(&h->pool, policy, &pr, &pl);
                (void) pool_set_mig(&h->pool, wp.node, wp.gpus[0], false);
                if (r < 0)
                        return r == -ENOSPC ? -EIO : r; /* a fresh GPU in MIG mode takes any profile */
                *ret = (HostPartition) { .gpu = h->at[pl.node * POOL_GPUS_MAX + pl.gpus[0]],
                                         .mig_start = pl.mig_start,
                                         .mig_enable = pl.node == wp.node && pl.gpus[0] == wp.gpus[0] };
                return 0;
        }
        if (r != -ENOSPC)
                return r;
        /* Room for it somewhere, but not with the CPU or memory? */
        for (size_t i = 0; i < h->n_gpus; i++) {
                const PoolGpu *g = pool_gpu(h, i);
                unsigned s;

                if (h->gpus[i].blocked || !gpu_accepted(h, i, models))
                        continue;
                if ((g->mig && mig_choose(&g->instances, req->mig_profile, &s) == 0) ||
                    (!g->mig && g->milli_left == POOL_MILLI)) {
                        room[h->slot[i] / POOL_GPUS_MAX] = true;
                        any = true;
                }
                sh->free_gpus += !g->mig && g->milli_left == POOL_MILLI;
        }
        if (any)
                short_cpu_memory(h, req, room, sh);
        else
                sh->why = HOST_SHORT_MIG_ROOM;
        return -ENOSPC;
}

/* Whether a share may go on GPU i: 1 yes, 0 no, -1 only the memory is short. */
static int share_fits(HostPool *h, size_t i, const HostRequest *req) {
        const HostGpu *x = &h->gpus[i];
        const PoolGpu *g = pool_gpu(h, i);
        unsigned n = x->shares.n;

        if (x->blocked || g->mig || g->milli_left < req->share_milli)
                return 0;
        if (n == 0) {
                if (g->milli_left != POOL_MILLI)
                        return 0;
                return x->memory_bytes > 0 && req->share_memory <= x->memory_bytes ? 1 : -1;
        }
        if (!x->shares.tenant || !req->tenant || strcmp(x->shares.tenant, req->tenant) != 0 ||
            x->shares.milli != req->share_milli || x->shares.memory_bytes != req->share_memory)
                return 0;
        /* (n + 1) x its memory within the GPU's. */
        return req->share_memory <= x->memory_bytes / (n + 1) ? 1 : -1;
}

static int place_share(HostPool *h, PoolPolicy policy, const HostRequest *req, uint32_t models,
                       HostPartition *ret, HostShortage *sh, bool *room) {
        PoolRequest pr = { .cpu_milli = req->cpu_milli,
                           .memory_mib = req->memory_mib,
                           .num_gpu = 1,
                           .gpu_milli = req->share_milli,
                           .models = models };
        PoolRequest *masks = calloc(h->n_gpus + 1, sizeof(PoolRequest));
        PoolPlacement pl = {};
        bool any = false, memory_short = false;
        int r;

        if (!masks)
                return -ENOMEM;
        /* The GPUs it may not go on are held back while it is placed. */
        for (size_t i = 0; i < h->n_gpus; i++) {
                PoolGpu *g = pool_gpu(h, i);
                int f = share_fits(h, i, req);

                if (f > 0 && gpu_accepted(h, i, models)) {
                        room[h->slot[i] / POOL_GPUS_MAX] = true;
                        any = true;
                        continue;
                }
                memory_short = memory_short || (f < 0 && gpu_accepted(h, i, models));
                if (g->milli_left > 0 && !g->mig) {
                        PoolPlacement m = placement_of(h, i);

                        masks[i] = (PoolRequest) { .num_gpu = 1, .gpu_milli = g->milli_left };
                        r = pool_commit(&h->pool, &masks[i], &m);
                        if (r < 0)
                                goto finish;
                }
        }
        r = any ? pool_place(&h->pool, policy, &pr, &pl) : -ENOSPC;
finish:
        for (size_t i = 0; i < h->n_gpus; i++)
                if (masks[i].num_gpu > 0) {
                        PoolPlacement m = placement_of(h, i);

                        (void) pool_release(&h->pool, &masks[i], &m);
                }
        free(masks);
        if (r >= 0) {
                *ret = (HostPartition) { .gpu = h->at[pl.node * POOL_GPUS_MAX + pl.gpus[0]] };
                return 0;
        }
        if (r != -ENOSPC)
                return r;
        for (size_t i = 0; i < h->n_gpus; i++)
                sh->free_gpus += !h->gpus[i].blocked && gpu_accepted(h, i, models) && !pool_gpu(h, i)->mig &&
                        pool_gpu(h, i)->milli_left == POOL_MILLI;
        if (any)
                short_cpu_memory(h, req, room, sh);
        else
                sh->why = memory_short ? HOST_SHORT_SHARE_MEMORY : HOST_SHORT_SHARE_JOIN;
        return -ENOSPC;
}

int host_pool_place_partition(HostPool *h, PoolPolicy policy, const HostRequest *req, HostPartition *ret,
                              HostShortage *ret_short) {
        HostShortage sh = { .why = HOST_SHORT_GPUS };
        uint32_t models = 0, all = 0;
        bool some = false, *room = NULL;
        int r;

        if (req->count != 0 || req->cpu_milli < 0 || req->memory_mib < 0 ||
            req->mig == (req->share_milli > 0))
                return -EINVAL;
        if (req->mig ? !mig_profile_info(req->mig_profile)
                     : req->share_milli >= POOL_MILLI || req->share_memory == 0)
                return -EINVAL;
        for (size_t m = 0; m < h->pool.n_models; m++) {
                all |= UINT32_C(1) << m;
                if (!model_matches(h->pool.models[m], req->model))
                        continue;
                some = true;
                if (!req->mig || mig_model_supported(h->pool.models[m]))
                        models |= UINT32_C(1) << m;
        }
        if (!some)
                goto refuse;
        if (models == 0) {
                sh.why = HOST_SHORT_MIG_MODEL;
                goto refuse;
        }
        if (models == all)
                models = 0; /* any model: as pool_place() is asked for any (Ark's policy weighs it so) */
        room = calloc(h->pool.n_nodes + 1, sizeof(bool));
        if (!room)
                return -ENOMEM;
        r = req->mig ? place_mig(h, policy, req, models, ret, &sh, room)
                     : place_share(h, policy, req, models, ret, &sh, room);
        free(room);
        if (r != -ENOSPC)
                return r;
refuse:
        if (ret_short)
                *ret_short = sh;
        return -ENOSPC;
}
