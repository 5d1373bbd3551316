/* The GPU pooler; see pool.h and docs/pooler.md. */

#include <math.h>
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
        free(p->shape_level);
        free(p->order);
        free(p->classes);
        free(p->scores);
        *p = (Pool) {};
}

static uint32_t *mfree_u32(uint32_t *p) {
        free(p);
        return NULL;
}

static uint8_t *mfree_u8(uint8_t *p) {
        free(p);
        return NULL;
}

static uint64_t rng_next(uint64_t *s) {
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

int pool_seed(Pool *p, uint64_t seed) {
        uint64_t s = seed;

        p->order = mfree_u32(p->order);
        if (seed == 0)
                return 0;
        p->order = malloc(p->n_nodes * sizeof(uint32_t) + 1);
        if (!p->order)
                return -ENOMEM;
        for (size_t k = 0; k < p->n_nodes; k++)
                p->order[k] = (uint32_t) k;
        for (size_t k = p->n_nodes; k > 1; k--) {
                size_t j = (size_t) (rng_next(&s) % k);
                uint32_t t = p->order[k - 1];

                p->order[k - 1] = p->order[j];
                p->order[j] = t;
        }
        return 0;
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

int pool_add_node(Pool *p, const char *name, int64_t cpu_milli, int64_t memory_mib, int model,
                  unsigned n_gpus) {
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
                .name = name,
                .cpu_milli = cpu_milli,
                .memory_mib = memory_mib,
                .cpu_left = cpu_milli,
                .memory_left = memory_mib,
                .model = n_gpus > 0 ? model : -1,
                .n_gpus = n_gpus,
        };
        for (unsigned g = 0; g < n_gpus; g++)
                n->gpu[g] = (PoolGpu) { .milli_left = POOL_MILLI, .numa = -1, .sw = -1 };
        p->order = mfree_u32(p->order); /* by index until seeded again */
        return (int) p->n_nodes++;
}

static void compute_pressure(Pool *p);

/* The shapes' distinct GPU milli, and each shape's index among them; none (n_levels 0) when there
 * are more than POOL_LEVELS_MAX, a milli past a whole GPU, or no memory for the index. */
static void set_levels(Pool *p) {
        p->shape_level = mfree_u8(p->shape_level);
        p->n_levels = 0;
        if (p->n_shapes == 0)
                return;
        p->shape_level = malloc(p->n_shapes);
        if (!p->shape_level)
                return;
        for (size_t k = 0; k < p->n_shapes; k++) {
                unsigned m = p->shapes[k].request.gpu_milli;
                size_t j;

                for (j = 0; j < p->n_levels && p->levels[j] != m; j++)
                        ;
                if (j == p->n_levels) {
                        if (p->n_levels == POOL_LEVELS_MAX || m > POOL_MILLI) {
                                p->shape_level = mfree_u8(p->shape_level);
                                p->n_levels = 0;
                                return;
                        }
                        p->levels[p->n_levels++] = (uint16_t) m;
                }
                p->shape_level[k] = (uint8_t) j;
        }
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
        set_levels(p);
        for (size_t k = 0; k < p->n_nodes; k++) {
                p->nodes[k].cache_valid = false;
                p->nodes[k].version++;
        }
        {
                double cpu = 0, gpu = 0;

                for (size_t k = 0; k < n; k++)
                        if (c[k].request.num_gpu > 0) {
                                cpu += c[k].weight * (double) c[k].request.cpu_milli;
                                gpu += c[k].weight *
                                        (double) (c[k].request.num_gpu * c[k].request.gpu_milli);
                        }
                p->cpu_per_gpu = gpu > 0 ? cpu / gpu : 0;
        }
        compute_pressure(p);
        return 0;
}

static bool request_valid(const PoolRequest *r) {
        if (r->cpu_milli < 0 || r->memory_mib < 0 || r->num_gpu > POOL_GPUS_MAX)
                return false;
        if (r->mig)
                return r->mig > 0 && r->mig <= _MIG_PROFILE_MAX && r->num_gpu == 1 && r->gpu_milli == 0;
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

/* The GPU and start for a MIG request on node n: the GPU left with the least room (packing
 * instances), -1 when none takes it. */
static int mig_pick(const PoolNode *n, const PoolRequest *r, unsigned *ret_start) {
        int best = -1;
        unsigned best_room = 0;

        for (unsigned g = 0; g < n->n_gpus; g++) {
                MigGpu t = n->gpu[g].instances;
                unsigned s, room;

                if (!n->gpu[g].mig || mig_choose(&t, (MigProfile) (r->mig - 1), &s) < 0)
                        continue;
                (void) mig_add(&t, (MigProfile) (r->mig - 1), s);
                room = mig_room(&t);
                if (best < 0 || room < best_room) {
                        best = (int) g;
                        best_room = room;
                        *ret_start = s;
                }
        }
        return best;
}

bool pool_node_fits(const Pool *p, const PoolNode *n, const PoolRequest *r) {
        unsigned s;

        (void) p;
        if (n->cpu_left < r->cpu_milli || n->memory_left < r->memory_mib || !model_ok(n, r))
                return false;
        if (r->mig)
                return mig_pick(n, r, &s) >= 0;
        return r->num_gpu == 0 || gpus_with(n, r->gpu_milli) >= r->num_gpu;
}

/* ------------------------------------------------------------------------------------------ */
/* fragmentation */

/* The GPU milli of node n that request r could not use (FGD's F_n(m)); see pool.h. */
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
        if (r->num_gpu == 0 || !model_ok(n, r) || big < r->num_gpu || n->cpu_left < r->cpu_milli)
                return free_total;
        return unusable;
}

double pool_node_fragmentation(const Pool *p, const PoolNode *n) {
        double f = 0, w = 0;

        if (p->n_levels > 0) {
                /* The same sum, with each level's GPUs counted once. */
                unsigned big[POOL_LEVELS_MAX], unusable[POOL_LEVELS_MAX], free_total = 0;

                for (unsigned g = 0; g < n->n_gpus; g++)
                        free_total += n->gpu[g].milli_left;
                for (size_t j = 0; j < p->n_levels; j++) {
                        big[j] = unusable[j] = 0;
                        for (unsigned g = 0; g < n->n_gpus; g++)
                                if (n->gpu[g].milli_left >= p->levels[j])
                                        big[j]++;
                                else
                                        unusable[j] += n->gpu[g].milli_left;
                }
                for (size_t k = 0; k < p->n_shapes; k++) {
                        const PoolRequest *r = &p->shapes[k].request;
                        size_t j = p->shape_level[k];
                        unsigned x = free_total == 0 ? 0
                                : r->num_gpu == 0 || !model_ok(n, r) || big[j] < r->num_gpu ||
                                        n->cpu_left < r->cpu_milli
                                ? free_total
                                : unusable[j];

                        f += p->shapes[k].weight * x;
                        w += p->shapes[k].weight;
                }
                return w > 0 ? f / w : 0;
        }
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
        if (r->mig && pl->n_gpus == 1) {
                if (sign > 0)
                        (void) mig_add(&n->gpu[pl->gpus[0]].instances, (MigProfile) (r->mig - 1),
                                       pl->mig_start);
                else
                        mig_remove(&n->gpu[pl->gpus[0]].instances, (MigProfile) (r->mig - 1), pl->mig_start);
                n->cache_valid = false;
                n->version++;
                return;
        }
        for (unsigned k = 0; k < pl->n_gpus; k++)
                n->gpu[pl->gpus[k]].milli_left =
                        (uint16_t) (n->gpu[pl->gpus[k]].milli_left - sign * (int) r->gpu_milli);
        n->cache_valid = false;
        n->version++;
}

int pool_set_topology(Pool *p, size_t node, unsigned gpu, int numa, int sw) {
        PoolNode *n;

        if (node >= p->n_nodes || gpu >= p->nodes[node].n_gpus || numa < -1 || numa > INT16_MAX || sw < -1 ||
            sw > INT16_MAX)
                return -EINVAL;
        n = &p->nodes[node];
        n->gpu[gpu].numa = (int16_t) numa;
        n->gpu[gpu].sw = (int16_t) sw;
        n->cache_valid = false;
        n->version++;
        return 0;
}

int pool_set_mig(Pool *p, size_t node, unsigned gpu, bool on) {
        PoolNode *n;
        PoolGpu *g;

        if (node >= p->n_nodes || gpu >= p->nodes[node].n_gpus)
                return -EINVAL;
        n = &p->nodes[node];
        g = &n->gpu[gpu];
        if (on && !mig_model_supported(p->models[n->model]))
                return -EOPNOTSUPP;
        if (g->mig == on)
                return 0;
        if ((g->mig && g->instances.used) || (!g->mig && g->milli_left != POOL_MILLI))
                return -EBUSY;
        g->mig = on;
        g->instances = (MigGpu) {};
        g->milli_left = on ? 0 : POOL_MILLI;
        n->cache_valid = false;
        n->version++;
        return 0;
}

void pool_reset(Pool *p) {
        for (size_t k = 0; k < p->n_nodes; k++) {
                PoolNode *n = &p->nodes[k];

                n->cpu_left = n->cpu_milli;
                n->memory_left = n->memory_mib;
                for (unsigned g = 0; g < n->n_gpus; g++) {
                        n->gpu[g].milli_left = n->gpu[g].mig ? 0 : POOL_MILLI;
                        n->gpu[g].instances = (MigGpu) {};
                }
                n->cache_valid = false;
                n->version++;
        }
}

/* Whether pl is a placement of r the node can take (commit) or give back (release). */
static int placement_check(const Pool *p, const PoolRequest *r, const PoolPlacement *pl, bool take) {
        const PoolNode *n;

        if (!request_valid(r) || pl->node >= p->n_nodes || pl->n_gpus != r->num_gpu ||
            pl->n_gpus > POOL_GPUS_MAX)
                return -EINVAL;
        n = &p->nodes[pl->node];
        for (unsigned k = 0; k < pl->n_gpus; k++)
                if (pl->gpus[k] >= n->n_gpus || (k > 0 && pl->gpus[k - 1] >= pl->gpus[k]))
                        return -EINVAL;
        if (take) {
                if (n->cpu_left < r->cpu_milli || n->memory_left < r->memory_mib || !model_ok(n, r))
                        return -EBUSY;
                if (r->mig)
                        return n->gpu[pl->gpus[0]].mig ? mig_check(&n->gpu[pl->gpus[0]].instances,
                                                                   (MigProfile) (r->mig - 1), pl->mig_start)
                                                       : -EBUSY;
                for (unsigned k = 0; k < pl->n_gpus; k++) {
                        const PoolGpu *g = &n->gpu[pl->gpus[k]];

                        if (g->mig || g->milli_left < r->gpu_milli ||
                            (r->num_gpu > 1 && g->milli_left != POOL_MILLI))
                                return -EBUSY;
                }
                return 0;
        }
        if (n->cpu_left + r->cpu_milli > n->cpu_milli || n->memory_left + r->memory_mib > n->memory_mib)
                return -ENOENT;
        if (r->mig)
                return n->gpu[pl->gpus[0]].mig && pl->mig_start < MIG_MEMORY_SLICES &&
                                n->gpu[pl->gpus[0]].instances.at[pl->mig_start] == r->mig
                        ? 0
                        : -ENOENT;
        for (unsigned k = 0; k < pl->n_gpus; k++) {
                const PoolGpu *g = &n->gpu[pl->gpus[k]];

                if (g->mig || g->milli_left + r->gpu_milli > POOL_MILLI)
                        return -ENOENT;
        }
        return 0;
}

int pool_commit(Pool *p, const PoolRequest *r, const PoolPlacement *pl) {
        int k = placement_check(p, r, pl, true);

        if (k < 0)
                return k;
        apply(&p->nodes[pl->node], r, pl, 1);
        return 0;
}

int pool_release(Pool *p, const PoolRequest *r, const PoolPlacement *pl) {
        int k = placement_check(p, r, pl, false);

        if (k < 0)
                return k;
        apply(&p->nodes[pl->node], r, pl, -1);
        return 0;
}

/* The first GPUs (ascending) that take the request. */
/* Whole free GPUs of node n within a group (numa, sw; -2 = any) and how many. */
static unsigned free_in(const PoolNode *n, int numa, int sw) {
        unsigned c = 0;

        for (unsigned g = 0; g < n->n_gpus; g++)
                c += n->gpu[g].milli_left == POOL_MILLI && !n->gpu[g].mig &&
                        (numa == -2 || n->gpu[g].numa == numa) && (sw == -2 || n->gpu[g].sw == sw);
        return c;
}

/* Whole GPUs with topology: the NUMA node, then within it the switch, with the fewest free GPUs
 * that still suffice; lowest indices within. False when the node has no topology or no NUMA node
 * has enough (the caller then takes the first ones). */
static bool pick_topology(const PoolNode *n, unsigned k, PoolPlacement *pl) {
        int numa = -2, sw = -2;
        unsigned best = UINT32_MAX;

        for (unsigned g = 0; g < n->n_gpus; g++) {
                unsigned c;

                if (n->gpu[g].numa < 0)
                        continue;
                c = free_in(n, n->gpu[g].numa, -2);
                if (c >= k && c < best) {
                        best = c;
                        numa = n->gpu[g].numa;
                }
        }
        if (numa == -2)
                return false;
        best = UINT32_MAX;
        for (unsigned g = 0; g < n->n_gpus; g++) {
                unsigned c;

                if (n->gpu[g].numa != numa || n->gpu[g].sw < 0)
                        continue;
                c = free_in(n, numa, n->gpu[g].sw);
                if (c >= k && c < best) {
                        best = c;
                        sw = n->gpu[g].sw;
                }
        }
        pl->n_gpus = 0;
        for (unsigned g = 0; g < n->n_gpus && pl->n_gpus < k; g++)
                if (n->gpu[g].milli_left == POOL_MILLI && !n->gpu[g].mig && n->gpu[g].numa == numa &&
                    (sw == -2 || n->gpu[g].sw == sw))
                        pl->gpus[pl->n_gpus++] = (uint8_t) g;
        return pl->n_gpus == k;
}

/* The first GPUs (ascending) that take the request; whole GPUs by topology when known. */
static void pick_first(const PoolNode *n, const PoolRequest *r, PoolPlacement *pl) {
        if (r->gpu_milli == POOL_MILLI && r->num_gpu > 0 && pick_topology(n, r->num_gpu, pl))
                return;
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

/* The CPU a request counts with in scores: kube-scheduler's non-zero request (100m for none). */
static int64_t score_cpu(const PoolRequest *r) {
        return r->cpu_milli > 0 ? r->cpu_milli : 100;
}

static unsigned free_milli(const PoolNode *n) {
        unsigned f = 0;

        for (unsigned g = 0; g < n->n_gpus; g++)
                f += n->gpu[g].milli_left;
        return f;
}

/* Best fit, as the published simulator scores it: 100 x (1 - what is left of CPU and GPU, each
 * against the largest node spec of 128 CPUs and 8 GPUs, half and half), whole points. */
static int best_fit_score(const PoolNode *n, const PoolRequest *r) {
        double s = 0.5 * (double) (n->cpu_left - score_cpu(r)) / 128000.0 +
                0.5 * ((double) free_milli(n) - (double) (r->num_gpu * r->gpu_milli)) / 8000.0;

        return (int) ((1 - s) * 100);
}

/* FGD's score of a fragmentation change: the sigmoid of the reduction in GPUs, in whole points
 * (50 = no change). */
static int fgd_points(double before, double after) {
        return (int) (100.0 / (1.0 + exp(-(before - after) / 1000.0)));
}

/* FGD on node n: a share goes to the GPU that scores best (the lowest index on ties); whole GPUs
 * are the first free ones. Returns the score, the GPUs in pl: in whole points as published, or
 * (exact) the reduction of fragmentation itself. */
static double fgd_eval(const Pool *p, PoolNode *n, const PoolRequest *r, PoolPlacement *pl, bool exact) {
        double before = node_frag_cached(p, n), best = -1e18;
        PoolRequest c = *r;

        c.cpu_milli = score_cpu(r);
        if (r->num_gpu != 1 || r->gpu_milli == POOL_MILLI) {
                double after;

                pick_first(n, r, pl);
                apply(n, &c, pl, 1);
                after = pool_node_fragmentation(p, n);
                apply(n, &c, pl, -1);
                n->cache_valid = true; /* as it was */
                n->version -= 2;
                return exact ? before - after : fgd_points(before, after);
        }
        for (unsigned g = 0; g < n->n_gpus; g++) {
                PoolPlacement t = { .node = pl->node, .n_gpus = 1, .gpus = { (uint8_t) g } };
                double sc, after;

                if (n->gpu[g].milli_left < r->gpu_milli)
                        continue;
                apply(n, &c, &t, 1);
                after = pool_node_fragmentation(p, n);
                apply(n, &c, &t, -1);
                n->cache_valid = true; /* as it was */
                n->version -= 2;
                sc = exact ? before - after : fgd_points(before, after);
                if (sc > best) {
                        best = sc;
                        pl->n_gpus = 1;
                        pl->gpus[0] = (uint8_t) g;
                }
        }
        return best;
}

/* The class of request r (what scores depend on), added when new; the score table grows with
 * the classes. -ENOMEM. */
static int request_class(Pool *p, const PoolRequest *r) {
        int found = -1;

        for (size_t k = 0; k < p->n_classes && found < 0; k++)
                if (p->classes[k].cpu_milli == r->cpu_milli && p->classes[k].num_gpu == r->num_gpu &&
                    p->classes[k].gpu_milli == r->gpu_milli && p->classes[k].models == r->models &&
                    p->classes[k].mig == r->mig)
                        found = (int) k;
        if (found >= 0 && p->scores_nodes == p->n_nodes)
                return found;
        /* A new class in a full table, or nodes added since the table was made: (re)make it. A new
         * class with room left takes its column as it is (all zero: no scores yet). */
        if ((found < 0 && p->n_classes == p->class_cap) || p->scores_nodes != p->n_nodes) {
                size_t cap =
                        p->n_classes == p->class_cap ? (p->class_cap ? p->class_cap * 2 : 64) : p->class_cap;
                PoolRequest *c = realloc(p->classes, cap * sizeof(PoolRequest));
                PoolScore *s;

                if (!c)
                        return -ENOMEM;
                p->classes = c;
                s = calloc(p->n_nodes * cap + 1, sizeof(PoolScore));
                if (!s)
                        return -ENOMEM;
                for (size_t n = 0; n < p->n_nodes && n < p->scores_nodes; n++)
                        memcpy(&s[n * cap], &p->scores[n * p->class_cap], p->class_cap * sizeof(PoolScore));
                free(p->scores);
                p->scores = s;
                p->class_cap = cap;
                p->scores_nodes = p->n_nodes;
        }
        if (found >= 0)
                return found;
        p->classes[p->n_classes] = (PoolRequest) { .cpu_milli = r->cpu_milli,
                                                   .num_gpu = r->num_gpu,
                                                   .gpu_milli = r->gpu_milli,
                                                   .models = r->models,
                                                   .mig = r->mig };
        return (int) p->n_classes++;
}

/* How much of a model's capacity the requests that can only run on some models want: their
 * share of the workload's GPU demand that falls on the model (split over the models they accept
 * by capacity), over the model's share of the pool's GPUs. And how much CPU the pool has to
 * spare for GPU requests: its CPU per GPU milli, less what the CPU-only requests take per GPU
 * milli of demand, over what GPU requests bring per GPU milli. Computed with the workload. */
static void compute_pressure(Pool *p) {
        double cap[POOL_MODELS_MAX] = {}, d[POOL_MODELS_MAX] = {}, tot = 0, all = 0, pool_cpu = 0,
               cpu_only = 0;

        for (size_t k = 0; k < p->n_nodes; k++) {
                pool_cpu += (double) p->nodes[k].cpu_milli;
                if (p->nodes[k].model >= 0)
                        cap[p->nodes[k].model] += p->nodes[k].n_gpus * POOL_MILLI;
        }
        for (size_t m = 0; m < POOL_MODELS_MAX; m++)
                all += cap[m];
        for (size_t k = 0; k < p->n_shapes; k++) {
                const PoolRequest *q = &p->shapes[k].request;
                double acc = 0, dem = p->shapes[k].weight * q->num_gpu * q->gpu_milli;

                tot += dem;
                if (q->num_gpu == 0)
                        cpu_only += p->shapes[k].weight * (double) q->cpu_milli;
                if (q->num_gpu == 0 || q->models == 0)
                        continue;
                for (size_t m = 0; m < p->n_models; m++)
                        if ((q->models >> m) & 1)
                                acc += cap[m];
                for (size_t m = 0; acc > 0 && m < p->n_models; m++)
                        if ((q->models >> m) & 1)
                                d[m] += dem * cap[m] / acc;
        }
        for (size_t m = 0; m < POOL_MODELS_MAX; m++)
                p->pressure[m] = tot > 0 && cap[m] > 0 ? (d[m] / tot) / (cap[m] / all) : 0;
        p->cpu_slack = all > 0 && tot > 0 && p->cpu_per_gpu > 0
                ? (pool_cpu / all - cpu_only / tot) / p->cpu_per_gpu
                : 0;
}

/* Ark's policy (docs/pooler.md). Keys, most important first, packed into one number:
 *   CPU-only requests: the node with the most CPU left over beyond what its free GPUs will need
 *   (at the workload's CPU per GPU), in steps of 16 CPUs (nodes within a step are equal and go
 *   by the pool's order, which spreads them);
 *   GPU requests: for a request any model can take, first the model least wanted by requests
 *   bound to models (their share of demand on it over its share of the GPUs, in steps of 1/4: a
 *   scarce model is kept for the requests that can only run there); then, when the pool has CPU
 *   to spare (cpu_slack > 1), the smallest CPU shortfall left on the node: how far its CPU left
 *   falls short of what its free GPU milli will need at the workload's CPU per GPU, times
 *   (cpu_slack - 1), in whole steps of 1.6 CPUs. GPUs left without the CPU to use them are
 *   lost; the more CPU the pool has to spare, the more finely it keeps it next to the GPUs; a
 *   pool short of CPU cannot keep it, and the key would only fight fragmentation. Then FGD's
 *   points; then the node whose CPU and GPU left over stay in the workload's proportion (steps
 *   of 4 CPUs); then the node left with the fewest whole free GPUs. */
#define ARK_CPU_STEP 16000.0
#define ARK_BALANCE_STEP 4000.0
#define ARK_SHORTFALL_STEP 1600.0
#define ARK_PRESSURE_STEPS 4.0

static double ark_score(Pool *p, PoolNode *n, const PoolRequest *r, PoolPlacement *pl) {
        double fgd, pressure, balance, excess, shortfall = 0;
        unsigned whole = 0;

        if (r->num_gpu == 0) {
                pl->n_gpus = 0;
                return floor(
                        ((double) (n->cpu_left - r->cpu_milli) - (double) free_milli(n) * p->cpu_per_gpu) /
                        ARK_CPU_STEP);
        }
        fgd = fgd_eval(p, n, r, pl, false);
        pressure = r->models == 0 && n->model >= 0 ? floor(p->pressure[n->model] * ARK_PRESSURE_STEPS) : 0;
        /* CPU left over beyond what the GPU milli left will need (negative: short). */
        excess = (double) (n->cpu_left - r->cpu_milli) -
                ((double) free_milli(n) - (double) (r->num_gpu * r->gpu_milli)) * p->cpu_per_gpu;
        if (p->cpu_slack > 1 && excess < 0)
                shortfall = fmin(999, floor(-excess * (p->cpu_slack - 1) / ARK_SHORTFALL_STEP));
        balance = fmin(999, floor(fabs(excess) / ARK_BALANCE_STEP));
        for (unsigned g = 0; g < n->n_gpus; g++)
                whole += n->gpu[g].milli_left == POOL_MILLI;
        if (r->gpu_milli == POOL_MILLI)
                whole -= r->num_gpu;
        else if (n->gpu[pl->gpus[0]].milli_left == POOL_MILLI)
                whole--;
        /* Packed exactly (well below 2^53): each key within its range, most important highest. */
        pressure = fmin(pressure, 999);
        return ((((999 - pressure) * 1000 + (999 - shortfall)) * 101 + fgd) * 1000 + (999 - balance)) * 17 +
                (16 - whole);
}

/* The fragmentation-based scores (FGD, ark) of node n for request r; GPUs in pl. */
static double frag_policy_score(Pool *p, PoolPolicy policy, PoolNode *n, const PoolRequest *r,
                                PoolPlacement *pl) {
        return policy == POOL_POLICY_FGD ? fgd_eval(p, n, r, pl, false) : ark_score(p, n, r, pl);
}

int pool_place(Pool *p, PoolPolicy policy, const PoolRequest *r, PoolPlacement *ret) {
        PoolPlacement best = {}, cur;
        double best_score = 0;
        bool found = false;
        int cls = -1;

        if (!request_valid(r) || policy < 0 || policy >= _POOL_POLICY_MAX)
                return -EINVAL;
        if (policy == POOL_POLICY_ARK && p->tuned)
                policy = p->ark_under;
        if (r->mig) {
                /* MIG instances pack: the GPU (on any node) left with the least room. */
                for (size_t i = 0; i < p->n_nodes; i++) {
                        size_t k = p->order ? p->order[i] : i;
                        PoolNode *n = &p->nodes[k];
                        unsigned s = 0;
                        int g;
                        double score;

                        if (n->cpu_left < r->cpu_milli || n->memory_left < r->memory_mib || !model_ok(n, r))
                                continue;
                        g = mig_pick(n, r, &s);
                        if (g < 0)
                                continue;
                        {
                                MigGpu t = n->gpu[g].instances;
                                (void) mig_add(&t, (MigProfile) (r->mig - 1), s);
                                score = -(double) mig_room(&t);
                        }
                        if (!found || score > best_score) {
                                best = (PoolPlacement) { .node = k,
                                                         .n_gpus = 1,
                                                         .gpus = { (uint8_t) g },
                                                         .mig_start = (uint8_t) s };
                                best_score = score;
                                found = true;
                        }
                }
                if (!found)
                        return -ENOSPC;
                *ret = best;
                return 0;
        }
        if (policy == POOL_POLICY_FGD || policy == POOL_POLICY_ARK) {
                cls = request_class(p, r);
                if (cls < 0)
                        return cls;
                /* The table holds one policy's scores: another's are not reused. */
                if (p->scores_policy != policy) {
                        memset(p->scores, 0, p->scores_nodes * p->class_cap * sizeof(PoolScore));
                        p->scores_policy = policy;
                }
        }
        for (size_t i = 0; i < p->n_nodes; i++) {
                size_t k = p->order ? p->order[i] : i;
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
                case POOL_POLICY_ARK: {
                        PoolScore *e = &p->scores[k * p->class_cap + (size_t) cls];

                        if (e->version == n->version + 1) {
                                score = e->score;
                                if (r->num_gpu == 1 && r->gpu_milli < POOL_MILLI) {
                                        cur.n_gpus = 1;
                                        cur.gpus[0] = e->gpu;
                                } else
                                        pick_first(n, r, &cur);
                        } else {
                                score = frag_policy_score(p, policy, n, r, &cur);
                                *e = (PoolScore) { .version = n->version + 1,
                                                   .score = score,
                                                   .gpu = cur.n_gpus > 0 ? cur.gpus[0] : 0 };
                        }
                        break;
                }
                default:
                        return -EINVAL;
                }
                /* The best score; among equals the first in the pool's order. */
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

void pool_untune(Pool *p) {
        p->tuned = false;
        p->ark_under = POOL_POLICY_ARK;
}

#define TUNE_MORE 4

/* A copy of the pool to replay on: its own nodes, order and score table; the models, shapes and
 * node names borrowed. Freed with rollout_done(). */
static int rollout_copy(const Pool *p, Pool *c) {
        *c = *p;
        c->nodes = malloc(p->n_nodes * sizeof(PoolNode) + 1);
        c->order = p->order ? malloc(p->n_nodes * sizeof(uint32_t) + 1) : NULL;
        c->classes = NULL;
        c->scores = NULL;
        c->n_classes = c->class_cap = c->scores_nodes = 0;
        c->tuned = false;
        if (!c->nodes || (p->order && !c->order)) {
                free(c->nodes);
                free(c->order);
                return -ENOMEM;
        }
        memcpy(c->nodes, p->nodes, p->n_nodes * sizeof(PoolNode));
        c->n_alloc = p->n_nodes;
        if (p->order)
                memcpy(c->order, p->order, p->n_nodes * sizeof(uint32_t));
        return 0;
}

static void rollout_done(Pool *c) {
        free(c->nodes);
        free(c->order);
        free(c->classes);
        free(c->scores);
}

#define TUNE_CANDIDATES 3
#define TUNE_STREAM_MAX (1u << 24)
static const PoolPolicy tune_candidates[TUNE_CANDIDATES] = { POOL_POLICY_FGD, POOL_POLICY_ARK,
                                                             POOL_POLICY_BEST_FIT };

/* Requests drawn from the shapes (cum: their cumulative weights, total the last) until they bring
 * `milli` GPU milli. */
static int draw_stream(const PoolShape *expect, const double *cum, size_t n, double milli, uint64_t s,
                       PoolRequest **stream, size_t *cap, size_t *ret_len) {
        double total = cum[n - 1], arrived = 0;
        size_t len = 0;

        while (arrived < milli) {
                double u = (double) (rng_next(&s) >> 11) * 0x1.0p-53 * total;
                size_t lo = 0, hi = n - 1;

                while (lo < hi) {
                        size_t mid = (lo + hi) / 2;
                        if (cum[mid] > u)
                                hi = mid;
                        else
                                lo = mid + 1;
                }
                if (len == TUNE_STREAM_MAX)
                        return -E2BIG;
                if (len == *cap) {
                        size_t c = *cap ? *cap * 2 : 1024;
                        PoolRequest *x = realloc(*stream, c * sizeof(PoolRequest));

                        if (!x)
                                return -ENOMEM;
                        *stream = x;
                        *cap = c;
                }
                (*stream)[len++] = expect[lo].request;
                arrived += (double) (expect[lo].request.num_gpu * expect[lo].request.gpu_milli);
        }
        *ret_len = len;
        return 0;
}

/* The GPU milli the policy allocates of the stream, arriving in order on a copy of the pool. */
static int replay(const Pool *p, PoolPolicy policy, const PoolRequest *stream, size_t len, double *ret) {
        Pool copy;
        double got = 0;
        int r = rollout_copy(p, &copy);

        if (r < 0)
                return r;
        for (size_t e = 0; e < len && r >= 0; e++) {
                PoolPlacement pl;
                int x = pool_place(&copy, policy, &stream[e], &pl);

                if (x == -ENOSPC)
                        continue;
                if (x >= 0)
                        x = pool_commit(&copy, &stream[e], &pl);
                if (x < 0)
                        r = x;
                else
                        got += (double) (stream[e].num_gpu * stream[e].gpu_milli);
        }
        rollout_done(&copy);
        *ret = got;
        return r;
}

/* Student's t, one-sided 97.5 %, for the mean of `rounds` paired differences. */
static double t_crit(unsigned rounds) {
        static const double t[] = { 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                    2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131 };

        return rounds < 2 ? INFINITY : rounds - 2 < sizeof(t) / sizeof(t[0]) ? t[rounds - 2] : 1.96;
}

/* Mean and standard error of challenger c's gain over FGD in the rounds run so far. */
static void gain(const double *got, unsigned rounds, size_t c, double *ret_mean, double *ret_se) {
        double m = 0, v = 0;

        for (unsigned i = 0; i < rounds; i++)
                m += got[i * TUNE_CANDIDATES + c] - got[i * TUNE_CANDIDATES];
        m /= rounds;
        for (unsigned i = 0; i < rounds; i++) {
                double d = got[i * TUNE_CANDIDATES + c] - got[i * TUNE_CANDIDATES] - m;
                v += d * d;
        }
        *ret_mean = m;
        *ret_se = rounds > 1 ? sqrt(v / (rounds - 1) / rounds) : INFINITY;
}

int pool_tune(Pool *p, const PoolShape *expect, size_t n, unsigned rounds, uint64_t seed, PoolTune *ret) {
        unsigned max_rounds = rounds * TUNE_MORE, done = 0;
        double *cum, *got, total = 0, gpu_weight = 0, free_milli_all = 0, best = -1;
        PoolTune t = { .chosen = POOL_POLICY_ARK };
        PoolRequest *stream = NULL;
        size_t cap = 0;
        int r = 0;

        if (rounds == 0 || rounds > 1000 || n == 0)
                return -EINVAL;
        for (size_t k = 0; k < n; k++)
                if (!request_valid(&expect[k].request) || expect[k].request.mig ||
                    !(expect[k].weight >= 0) || !isfinite(expect[k].weight))
                        return -EINVAL;
        for (size_t k = 0; k < p->n_nodes; k++)
                for (unsigned g = 0; g < p->nodes[k].n_gpus; g++)
                        if (!p->nodes[k].gpu[g].mig)
                                free_milli_all += p->nodes[k].gpu[g].milli_left;
        cum = malloc(n * sizeof(double));
        got = calloc((size_t) max_rounds * TUNE_CANDIDATES, sizeof(double));
        if (!cum || !got) {
                free(cum);
                free(got);
                return -ENOMEM;
        }
        for (size_t k = 0; k < n; k++) {
                cum[k] = total += expect[k].weight;
                gpu_weight += expect[k].weight * expect[k].request.num_gpu * expect[k].request.gpu_milli;
        }
        if (!isfinite(total) || !isfinite(gpu_weight)) {
                free(cum);
                free(got);
                return -EINVAL;
        }
        /* A stream takes about free / (GPU milli per request) requests: refuse a very long one
         * before drawing it. */
        if (gpu_weight > 0 && free_milli_all / (gpu_weight / total) > 0.5 * TUNE_STREAM_MAX) {
                free(cum);
                free(got);
                return -E2BIG;
        }
        for (int k = 0; k < _POOL_POLICY_MAX; k++)
                t.allocated[k] = t.margin[k] = NAN;

        /* `rounds` rounds, then more while a challenger gains in the mean but not significantly (by
         * t_crit() standard errors), up to TUNE_MORE times as many. */
        while (gpu_weight > 0 && free_milli_all > 0 && r >= 0 && done < max_rounds) {
                bool unsure = false;
                size_t len = 0;

                r = draw_stream(expect, cum, n, free_milli_all, seed + done * UINT64_C(0x632be59bd9b4e019),
                                &stream, &cap, &len);
                for (size_t c = 0; c < TUNE_CANDIDATES && r >= 0; c++)
                        r = replay(p, tune_candidates[c], stream, len, &got[done * TUNE_CANDIDATES + c]);
                if (r < 0)
                        break;
                t.requests = len;
                done++;
                if (done < rounds)
                        continue;
                for (size_t c = 1; c < TUNE_CANDIDATES; c++) {
                        double m, se;

                        gain(got, done, c, &m, &se);
                        unsure = unsure || (m > 0 && m - t_crit(done) * se <= 0);
                }
                if (!unsure)
                        break;
        }
        if (r >= 0 && done > 0) {
                /* FGD, unless a challenger gained by more than t standard errors; then the one
                 * of those that allocated the most. */
                t.chosen = POOL_POLICY_FGD;
                for (size_t c = 0; c < TUNE_CANDIDATES; c++) {
                        double sum = 0;

                        for (unsigned i = 0; i < done; i++)
                                sum += got[i * TUNE_CANDIDATES + c];
                        t.allocated[tune_candidates[c]] = sum / done / free_milli_all;
                }
                for (size_t c = 1; c < TUNE_CANDIDATES; c++) {
                        double m, se;

                        gain(got, done, c, &m, &se);
                        t.margin[tune_candidates[c]] = (m - t_crit(done) * se) / free_milli_all;
                        if (m - t_crit(done) * se > 0 && t.allocated[tune_candidates[c]] > best) {
                                best = t.allocated[tune_candidates[c]];
                                t.chosen = tune_candidates[c];
                        }
                }
        }
        t.rounds = done;
        free(got);
        free(stream);
        free(cum);
        if (r < 0)
                return r;
        p->tuned = true;
        p->ark_under = t.chosen;
        if (ret)
                *ret = t;
        return 0;
}
