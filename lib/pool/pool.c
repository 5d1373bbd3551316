/* The GPU pooler; see pool.h and docs/pooler.md. */

#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"

static const char *const policy_table[_POOL_POLICY_MAX] = {
        [POOL_POLICY_FIRST_FIT] = "first-fit",
        [POOL_POLICY_BEST_FIT] = "best-fit",
        [POOL_POLICY_FGD] = "fgd",
        [POOL_POLICY_ARK] = "ark",
};

const char *pool_policy_to_string(PoolPolicy p) {
        return p >= 0 && p < _POOL_POLICY_MAX ? policy_table[p] : NULL;
}

PoolPolicy pool_policy_from_string(const char *s) {
        for (int k = 0; s && k < _POOL_POLICY_MAX; k++)
                if (strcmp(policy_table[k], s) == 0)
                        return (PoolPolicy) k;
        return _POOL_POLICY_INVALID;
}

void pool_done(Pool *p) {
        free(p->nodes);
        for (size_t k = 0; k < p->n_models; k++)
                free(p->models[k]);
        free(p->shapes);
        *p = (Pool) {};
}

int pool_model(Pool *p, const char *name) {
        for (size_t k = 0; k < p->n_models; k++)
                if (strcmp(p->models[k], name) == 0)
                        return (int) k;
        if (p->n_models >= POOL_MODELS_MAX)
                return -E2BIG;
        p->models[p->n_models] = strdup(name);
        if (!p->models[p->n_models])
                return -ENOMEM;
        return (int) p->n_models++;
}

int pool_add_node(Pool *p, const char *name, int64_t cpu_milli, int64_t memory_mib, int model, unsigned n_gpus) {
        PoolNode *n;

        if (n_gpus > POOL_GPUS_MAX || cpu_milli < 0 || memory_mib < 0 || (n_gpus > 0 && model < 0) ||
            model >= (int) p->n_models)
                return -EINVAL;
        if (p->n_nodes == p->n_alloc) {
                size_t a = p->n_alloc ? p->n_alloc * 2 : 64;
                PoolNode *nn = realloc(p->nodes, a * sizeof(PoolNode));

                if (!nn)
                        return -ENOMEM;
                p->nodes = nn;
                p->n_alloc = a;
        }
        n = &p->nodes[p->n_nodes];
        *n = (PoolNode) {
                .name = name, .cpu_milli = cpu_milli, .memory_mib = memory_mib, .cpu_left = cpu_milli,
                .memory_left = memory_mib, .model = n_gpus > 0 ? model : -1, .n_gpus = n_gpus,
        };
        for (unsigned g = 0; g < n_gpus; g++)
                n->gpu[g].milli_left = POOL_MILLI;
        return (int) p->n_nodes++;
}

int pool_set_workload(Pool *p, const PoolShape *shapes, size_t n) {
        PoolShape *c = n > 0 ? malloc(n * sizeof(PoolShape)) : NULL;

        if (n > 0 && !c)
                return -ENOMEM;
        if (n > 0)
                memcpy(c, shapes, n * sizeof(PoolShape));
        free(p->shapes);
        p->shapes = c;
        p->n_shapes = n;
        for (size_t k = 0; k < p->n_nodes; k++)
                p->nodes[k].cache_valid = false;
        return 0;
}

static bool request_valid(const PoolRequest *r) {
        if (r->cpu_milli < 0 || r->memory_mib < 0 || r->num_gpu > POOL_GPUS_MAX)
                return false;
        if (r->num_gpu == 0)
                return r->gpu_milli == 0;
        if (r->gpu_milli == 0 || r->gpu_milli > POOL_MILLI)
                return false;
        return r->gpu_milli == POOL_MILLI || r->num_gpu == 1;
}

static bool model_ok(const PoolNode *n, const PoolRequest *r) {
        if (r->num_gpu == 0 || r->models == 0)
                return true;
        return n->model >= 0 && (r->models >> n->model) & 1;
}

/* How many GPUs of the node could take a share of `milli` (whole GPUs for POOL_MILLI). */
static unsigned gpus_with(const PoolNode *n, unsigned milli) {
        unsigned c = 0;

        for (unsigned g = 0; g < n->n_gpus; g++)
                c += n->gpu[g].milli_left >= milli;
        return c;
}

bool pool_node_fits(const Pool *p, const PoolNode *n, const PoolRequest *r) {
        (void) p;
        if (n->cpu_left < r->cpu_milli || n->memory_left < r->memory_mib || !model_ok(n, r))
                return false;
        return r->num_gpu == 0 || gpus_with(n, r->gpu_milli) >= r->num_gpu;
}

/* ------------------------------------------------------------------------------------------ */
/* fragmentation */

/* The GPU milli of node n that request r could not use (FGD's F_n(m)): all of it when r does not
 * fit on the node for other reasons (CPU, memory, model); else the GPUs too small for r's
 * per-GPU demand, and for a multi-GPU request all of them when too few whole ones are left. */
static double request_fragmentation(const PoolNode *n, const PoolRequest *r) {
        unsigned free_total = 0, unusable = 0, big = 0;

        for (unsigned g = 0; g < n->n_gpus; g++) {
                free_total += n->gpu[g].milli_left;
                if (r->num_gpu > 0 && n->gpu[g].milli_left >= r->gpu_milli)
                        big++;
                else
                        unusable += n->gpu[g].milli_left;
        }
        if (free_total == 0)
                return 0;
        if (n->cpu_left < r->cpu_milli || n->memory_left < r->memory_mib || !model_ok(n, r) || r->num_gpu == 0)
                return free_total;
        if (big < r->num_gpu)
                return free_total;
        return unusable;
}

double pool_node_fragmentation(const Pool *p, const PoolNode *n) {
        double f = 0, w = 0;

        for (size_t k = 0; k < p->n_shapes; k++) {
                f += p->shapes[k].weight * request_fragmentation(n, &p->shapes[k].request);
                w += p->shapes[k].weight;
        }
        return w > 0 ? f / w : 0;
}

static double node_frag_cached(const Pool *p, PoolNode *n) {
        if (!n->cache_valid) {
                n->frag = pool_node_fragmentation(p, n);
                n->cache_valid = true;
        }
        return n->frag;
}

/* ------------------------------------------------------------------------------------------ */
/* placing */

static void apply(PoolNode *n, const PoolRequest *r, const PoolPlacement *pl, int sign) {
        n->cpu_left -= sign * r->cpu_milli;
        n->memory_left -= sign * r->memory_mib;
        for (unsigned k = 0; k < pl->n_gpus; k++)
                n->gpu[pl->gpus[k]].milli_left = (uint16_t) (n->gpu[pl->gpus[k]].milli_left - sign * (int) r->gpu_milli);
        n->cache_valid = false;
}

void pool_commit(Pool *p, const PoolRequest *r, const PoolPlacement *pl) {
        apply(&p->nodes[pl->node], r, pl, 1);
}

void pool_release(Pool *p, const PoolRequest *r, const PoolPlacement *pl) {
        apply(&p->nodes[pl->node], r, pl, -1);
}

/* The first GPUs (ascending) that take the request. */
static void pick_first(const PoolNode *n, const PoolRequest *r, PoolPlacement *pl) {
        pl->n_gpus = 0;
        for (unsigned g = 0; g < n->n_gpus && pl->n_gpus < r->num_gpu; g++)
                if (n->gpu[g].milli_left >= r->gpu_milli)
                        pl->gpus[pl->n_gpus++] = (uint8_t) g;
}

/* A share goes to the GPU with the least room that still takes it (lowest index on ties);
 * whole GPUs are the first free ones. */
static void pick_tightest(const PoolNode *n, const PoolRequest *r, PoolPlacement *pl) {
        int best = -1;

        if (r->num_gpu != 1 || r->gpu_milli == POOL_MILLI) {
                pick_first(n, r, pl);
                return;
        }
        for (unsigned g = 0; g < n->n_gpus; g++)
                if (n->gpu[g].milli_left >= r->gpu_milli &&
                    (best < 0 || n->gpu[g].milli_left < n->gpu[best].milli_left))
                        best = (int) g;
        pl->n_gpus = 1;
        pl->gpus[0] = (uint8_t) best;
}

/* For FGD: the share's GPU whose use leaves the node least fragmented. */
static double pick_least_frag(const Pool *p, PoolNode *n, const PoolRequest *r, PoolPlacement *pl) {
        double best = 0;
        int best_g = -1;

        if (r->num_gpu != 1 || r->gpu_milli == POOL_MILLI) {
                pick_first(n, r, pl);
                apply(n, r, pl, 1);
                best = pool_node_fragmentation(p, n);
                apply(n, r, pl, -1);
                return best;
        }
        for (unsigned g = 0; g < n->n_gpus; g++) {
                PoolPlacement t = { .node = pl->node, .n_gpus = 1, .gpus = { (uint8_t) g } };
                double f;

                if (n->gpu[g].milli_left < r->gpu_milli)
                        continue;
                apply(n, r, &t, 1);
                f = pool_node_fragmentation(p, n);
                apply(n, r, &t, -1);
                if (best_g < 0 || f < best) {
                        best = f;
                        best_g = (int) g;
                }
        }
        pl->n_gpus = 1;
        pl->gpus[0] = (uint8_t) best_g;
        return best;
}

/* Best fit: what is left on the node after the request, CPU and GPU as fractions of the node. */
static double best_fit_score(const PoolNode *n, const PoolRequest *r) {
        double cpu = n->cpu_milli > 0 ? (double) (n->cpu_left - r->cpu_milli) / (double) n->cpu_milli : 0;
        double gpu = 0;

        if (n->n_gpus > 0) {
                unsigned free_total = 0;

                for (unsigned g = 0; g < n->n_gpus; g++)
                        free_total += n->gpu[g].milli_left;
                gpu = (double) ((int) free_total - (int) (r->num_gpu * r->gpu_milli)) / (double) (n->n_gpus * POOL_MILLI);
        }
        return -(cpu + gpu);
}

int pool_place(Pool *p, PoolPolicy policy, const PoolRequest *r, PoolPlacement *ret) {
        PoolPlacement best = {}, cur;
        double best_score = 0;
        bool found = false;

        if (!request_valid(r) || policy < 0 || policy >= _POOL_POLICY_MAX)
                return -EINVAL;
        for (size_t k = 0; k < p->n_nodes; k++) {
                PoolNode *n = &p->nodes[k];
                double score = 0;

                if (!pool_node_fits(p, n, r))
                        continue;
                cur = (PoolPlacement) { .node = k };
                switch (policy) {
                case POOL_POLICY_FIRST_FIT:
                        pick_first(n, r, &cur);
                        *ret = cur;
                        return 0;
                case POOL_POLICY_BEST_FIT:
                        pick_tightest(n, r, &cur);
                        score = best_fit_score(n, r);
                        break;
                case POOL_POLICY_FGD:
                case POOL_POLICY_ARK:
                        score = node_frag_cached(p, n) - pick_least_frag(p, n, r, &cur);
                        break;
                default:
                        return -EINVAL;
                }
                if (!found || score > best_score) {
                        best = cur;
                        best_score = score;
                        found = true;
                }
        }
        if (!found)
                return -ENOSPC;
        *ret = best;
        return 0;
}
