/* bench/trace-replay: replays the Alibaba GPU cluster trace (openb, USENIX ATC'23) through the GPU
 * pooler under the published protocol, and says how much of the cluster's GPU capacity stays
 * unallocated. See bench/README.md and docs/pooler.md.
 *
 *   trace-replay --nodes FILE --pods FILE --policy P --seed N [--log FILE] [--workload-out FILE]
 *   trace-replay --nodes FILE --pods FILE --bound --seed N
 *   trace-replay --summary --data DIR [--policies P,P...] [--seeds A-B] [--no-bound]
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/macro.h"
#include "bound.h"
#include "pool/pool.h"

/* ------------------------------------------------------------------------------------------ */
/* input */

typedef struct Pod {
        char name[40];
        PoolRequest req;
        char spec[80]; /* gpu_spec as given */
} Pod;

typedef struct Trace {
        Pool pool;
        char **node_names;
        size_t n_nodes;
        Pod *pods;
        size_t n_pods;
        int64_t total_gpu_milli;
        unsigned total_gpus;
} Trace;

static void trace_done(Trace *t) {
        for (size_t k = 0; k < t->n_nodes; k++)
                free(t->node_names[k]);
        free(t->node_names);
        free(t->pods);
        pool_done(&t->pool);
        *t = (Trace) {};
}

/* Splits a CSV line in place (no quoting in these files). Returns the number of fields. */
static size_t split(char *line, char **f, size_t max) {
        size_t n = 0;

        line[strcspn(line, "\r\n")] = 0;
        while (n < max) {
                f[n++] = line;
                line = strchr(line, ',');
                if (!line)
                        break;
                *line++ = 0;
        }
        return n;
}

/* A line that did not fit the buffer is an error, not two lines. */
static bool line_complete(const char *line, FILE *f) {
        size_t l = strlen(line);

        return (l > 0 && line[l - 1] == '\n') || feof(f);
}

static int parse_i64(const char *s, int64_t *ret) {
        char *e;
        long long v;

        errno = 0;
        v = strtoll(s, &e, 10);
        if (errno || e == s || *e || v < 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int read_nodes(Trace *t, const char *path) {
        FILE *f = fopen(path, "re");
        char line[512], *fl[8];
        unsigned lineno = 0;

        if (!f) {
                fprintf(stderr, "trace-replay: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        while (fgets(line, sizeof(line), f)) {
                int64_t cpu, mem, gpus;
                int model = -1, r;
                char **nn;

                if (!line_complete(line, f)) {
                        fprintf(stderr, "trace-replay: %s:%u: line too long\n", path, lineno + 1);
                        fclose(f);
                        return -EINVAL;
                }
                if (++lineno == 1)
                        continue; /* header */
                if (split(line, fl, 8) < 5 || parse_i64(fl[1], &cpu) < 0 || parse_i64(fl[2], &mem) < 0 ||
                    parse_i64(fl[3], &gpus) < 0 || gpus > POOL_GPUS_MAX) {
                        fprintf(stderr, "trace-replay: %s:%u: not 'sn,cpu_milli,memory_mib,gpu,model'\n",
                                path, lineno);
                        fclose(f);
                        return -EINVAL;
                }
                if (gpus > 0) {
                        model = pool_model(&t->pool, fl[4]);
                        if (model < 0) {
                                fclose(f);
                                return model;
                        }
                }
                nn = realloc(t->node_names, (t->n_nodes + 1) * sizeof(char *));
                if (!nn || !(nn[t->n_nodes] = strdup(fl[0]))) {
                        fclose(f);
                        return -ENOMEM;
                }
                t->node_names = nn;
                r = pool_add_node(&t->pool, nn[t->n_nodes], cpu, mem, model, (unsigned) gpus);
                if (r < 0) {
                        fclose(f);
                        return r;
                }
                t->n_nodes++;
                t->total_gpus += (unsigned) gpus;
        }
        fclose(f);
        /* The node names moved with realloc: point the pool at the final array. */
        for (size_t k = 0; k < t->n_nodes; k++)
                t->pool.nodes[k].name = t->node_names[k];
        t->total_gpu_milli = (int64_t) t->total_gpus * POOL_MILLI;
        if (t->total_gpus == 0) {
                fprintf(stderr, "trace-replay: %s: no node has GPUs\n", path);
                return -ENODATA;
        }
        return 0;
}

/* "V100M16|V100M32" -> a mask of the pool's models; models the pool lacks add nothing. A spec
 * naming only models the pool lacks gets the impossible mask bit 31 (never a node's). */
static uint32_t spec_mask(Pool *p, const char *spec) {
        uint32_t m = 0;
        char buf[sizeof(((Pod *) NULL)->spec)], *s, *save = NULL;

        if (!*spec)
                return 0;
        snprintf(buf, sizeof(buf), "%s", spec);
        for (s = strtok_r(buf, "|", &save); s; s = strtok_r(NULL, "|", &save))
                for (size_t k = 0; k < p->n_models; k++)
                        if (strcmp(p->models[k], s) == 0)
                                m |= UINT32_C(1) << k;
        return m ? m : UINT32_C(1) << 31;
}

static int compare_pods(const void *a, const void *b) {
        return strcmp(((const Pod *) a)->name, ((const Pod *) b)->name);
}

static int read_pods(Trace *t, const char *path) {
        FILE *f = fopen(path, "re");
        char line[1024], *fl[16];
        unsigned lineno = 0;
        size_t alloc = 0;

        if (!f) {
                fprintf(stderr, "trace-replay: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        while (fgets(line, sizeof(line), f)) {
                int64_t cpu, mem, ng, gm;
                size_t n;
                Pod *pod;

                if (!line_complete(line, f)) {
                        fprintf(stderr, "trace-replay: %s:%u: line too long\n", path, lineno + 1);
                        fclose(f);
                        return -EINVAL;
                }
                if (++lineno == 1)
                        continue;
                n = split(line, fl, 16);
                if (n < 5 || parse_i64(fl[1], &cpu) < 0 || parse_i64(fl[2], &mem) < 0 ||
                    parse_i64(fl[3], &ng) < 0 || parse_i64(fl[4], &gm) < 0 || ng > POOL_GPUS_MAX ||
                    gm > POOL_MILLI || (ng > 1 && gm != POOL_MILLI) || (ng == 0) != (gm == 0)) {
                        fprintf(stderr,
                                "trace-replay: %s:%u: not 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,...' "
                                "with a request the protocol knows\n",
                                path, lineno);
                        fclose(f);
                        return -EINVAL;
                }
                if (t->n_pods == alloc) {
                        Pod *np = realloc(t->pods, (alloc = alloc ? alloc * 2 : 4096) * sizeof(Pod));
                        if (!np) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        t->pods = np;
                }
                if (strlen(fl[0]) >= sizeof(pod->name) || (n > 5 && strlen(fl[5]) >= sizeof(pod->spec))) {
                        fprintf(stderr,
                                "trace-replay: %s:%u: the pod name or gpu_spec is too long (at most %zu and "
                                "%zu characters)\n",
                                path, lineno, sizeof(pod->name) - 1, sizeof(pod->spec) - 1);
                        fclose(f);
                        return -EINVAL;
                }
                pod = &t->pods[t->n_pods++];
                *pod = (Pod) { .req = { .cpu_milli = cpu,
                                        .memory_mib = mem,
                                        .num_gpu = (unsigned) ng,
                                        .gpu_milli = (unsigned) gm } };
                snprintf(pod->name, sizeof(pod->name), "%s", fl[0]);
                snprintf(pod->spec, sizeof(pod->spec), "%s", n > 5 ? fl[5] : "");
                pod->req.models = spec_mask(&t->pool, pod->spec);
        }
        fclose(f);
        qsort(t->pods, t->n_pods, sizeof(Pod), compare_pods);
        return t->n_pods > 0 ? 0 : -ENODATA;
}

/* ------------------------------------------------------------------------------------------ */
/* the protocol */

/* splitmix64: small, fast, and the same everywhere. */
static uint64_t rng_next(uint64_t *s) {
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n) {
        return (size_t) (rng_next(s) % n);
}

static int64_t demand(const Pod *p) {
        return (int64_t) p->req.num_gpu * p->req.gpu_milli;
}

/* The arrivals for a seed: sorted by name, shuffled, tuned to 1.3 x the cluster's GPU capacity. */
static int make_arrivals(const Trace *t, uint64_t seed, Pod **ret, size_t *ret_n) {
        uint64_t s = seed;
        int64_t target = t->total_gpu_milli * 13 / 10, sum = 0;
        size_t n = t->n_pods, alloc = n + n / 2 + 16;
        Pod *a = malloc(alloc * sizeof(Pod));

        if (!a)
                return -ENOMEM;
        memcpy(a, t->pods, n * sizeof(Pod));
        for (size_t k = n; k > 1; k--) {
                size_t j = rng_below(&s, k);
                Pod tmp = a[k - 1];

                a[k - 1] = a[j];
                a[j] = tmp;
        }
        for (size_t k = 0; k < n; k++)
                sum += demand(&a[k]);
        if (sum < target) {
                while (sum < target) {
                        const Pod *d = &t->pods[rng_below(&s, t->n_pods)];

                        /* The published tuner compares with the per-GPU milli, so a multi-GPU
                         * pod may overshoot the target. */
                        if (sum + d->req.gpu_milli > target)
                                break;
                        if (n == alloc) {
                                Pod *na = realloc(a, (alloc *= 2) * sizeof(Pod));
                                if (!na) {
                                        free(a);
                                        return -ENOMEM;
                                }
                                a = na;
                        }
                        a[n++] = *d;
                        sum += demand(d);
                }
        } else
                while (sum > target && n > 0) {
                        size_t j = rng_below(&s, n);

                        sum -= demand(&a[j]);
                        memmove(&a[j], &a[j + 1], (n - j - 1) * sizeof(Pod));
                        n--;
                }
        *ret = a;
        *ret_n = n;
        return 0;
}

typedef struct Shape {
        PoolShape shape;
        const char *spec;
} Shape;

/* By count, then larger first: CPU, GPU milli, GPU count, model list (the published order). */
static int compare_shape(const void *a, const void *b) {
        const Shape *x = a, *y = b;
        const PoolRequest *p = &x->shape.request, *q = &y->shape.request;

        if (x->shape.weight != y->shape.weight)
                return x->shape.weight < y->shape.weight ? 1 : -1;
        if (p->cpu_milli != q->cpu_milli)
                return p->cpu_milli < q->cpu_milli ? 1 : -1;
        if (p->gpu_milli != q->gpu_milli)
                return p->gpu_milli < q->gpu_milli ? 1 : -1;
        if (p->num_gpu != q->num_gpu)
                return p->num_gpu < q->num_gpu ? 1 : -1;
        return -strcmp(x->spec, y->spec);
}

/* FGD's target workload ("typical pods"): the trace's pods grouped by CPU, GPU milli, GPU count
 * and model list (not memory), the most frequent groups that together make up 95 % of the pods,
 * weighted by frequency. With out, the shapes kept are also written there as
 * cpu_milli,num_gpu,gpu_milli,gpu_spec,weight (the file arkd's [Placement] Workload= reads). */
static int set_workload(Trace *t, FILE *out) {
        Shape *s = calloc(t->n_pods, sizeof(Shape));
        PoolShape *ps;
        size_t n = 0, keep = 0;
        double covered = 0;
        int r;

        if (!s)
                return -ENOMEM;
        for (size_t k = 0; k < t->n_pods; k++) {
                const Pod *pod = &t->pods[k];
                size_t j;

                for (j = 0; j < n; j++) {
                        const PoolRequest *q = &s[j].shape.request;

                        if (q->cpu_milli == pod->req.cpu_milli && q->gpu_milli == pod->req.gpu_milli &&
                            q->num_gpu == pod->req.num_gpu && strcmp(s[j].spec, pod->spec) == 0)
                                break;
                }
                if (j == n) {
                        s[n] = (Shape) { .shape.request = pod->req, .spec = pod->spec };
                        s[n++].shape.request.memory_mib = 0;
                }
                s[j].shape.weight += 1;
        }
        qsort(s, n, sizeof(Shape), compare_shape);
        while (keep < n && covered < 0.95 * (double) t->n_pods)
                covered += s[keep++].shape.weight;
        ps = calloc(keep + 1, sizeof(PoolShape));
        if (!ps) {
                free(s);
                return -ENOMEM;
        }
        for (size_t k = 0; k < keep; k++)
                ps[k] = s[k].shape;
        if (out) {
                fprintf(out, "cpu_milli,num_gpu,gpu_milli,gpu_spec,weight\n");
                for (size_t k = 0; k < keep; k++)
                        fprintf(out, "%" PRId64 ",%u,%u,%s,%.17g\n", s[k].shape.request.cpu_milli,
                                s[k].shape.request.num_gpu, s[k].shape.request.gpu_milli, s[k].spec,
                                s[k].shape.weight);
        }
        r = pool_set_workload(&t->pool, ps, keep);
        free(ps);
        free(s);
        return r;
}

/* An accounting of its own, kept beside the pool's: every placement is checked against it, so a
 * bug in the pool cannot hide an overcommitted node. */
typedef struct Ledger {
        int64_t *cpu, *mem;
        int *milli; /* node * POOL_GPUS_MAX + gpu */
        char why[256];
} Ledger;

static int ledger_init(Ledger *l, const Trace *t) {
        size_t n = t->pool.n_nodes;

        *l = (Ledger) {};
        l->cpu = calloc(n + 1, sizeof(int64_t));
        l->mem = calloc(n + 1, sizeof(int64_t));
        l->milli = calloc(n * POOL_GPUS_MAX + 1, sizeof(int));
        if (!l->cpu || !l->mem || !l->milli)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                l->cpu[k] = t->pool.nodes[k].cpu_milli;
                l->mem[k] = t->pool.nodes[k].memory_mib;
                for (unsigned g = 0; g < t->pool.nodes[k].n_gpus; g++)
                        l->milli[k * POOL_GPUS_MAX + g] = POOL_MILLI;
        }
        return 0;
}

static void ledger_done(Ledger *l) {
        free(l->cpu);
        free(l->mem);
        free(l->milli);
}

/* Whether the gpu_spec string ("" = any) names the model: from the pod's text, not the pool's
 * masks. */
static bool spec_allows(const char *spec, const char *model) {
        size_t l;

        if (!*spec)
                return model != NULL;
        if (!model)
                return false;
        l = strlen(model);
        for (const char *s = spec; (s = strstr(s, model)); s += l)
                if ((s == spec || s[-1] == '|') && (s[l] == '|' || s[l] == 0))
                        return true;
        return false;
}

/* Whether the pod fits anywhere on the ledger: a failure must be one. */
static bool ledger_fits_somewhere(const Ledger *l, const Trace *t, const Pod *pod) {
        const PoolRequest *r = &pod->req;

        for (size_t k = 0; k < t->pool.n_nodes; k++) {
                const PoolNode *nd = &t->pool.nodes[k];
                const int *m = &l->milli[k * POOL_GPUS_MAX];
                unsigned ok = 0;

                if (l->cpu[k] < r->cpu_milli || l->mem[k] < r->memory_mib)
                        continue;
                if (r->num_gpu == 0)
                        return true;
                if (!spec_allows(pod->spec, nd->model >= 0 ? t->pool.models[nd->model] : NULL))
                        continue;
                for (unsigned g = 0; g < nd->n_gpus; g++)
                        ok += m[g] >= (int) r->gpu_milli;
                if (ok >= r->num_gpu)
                        return true;
        }
        return false;
}

/* Whether the placement is feasible on the ledger (then books it); else says why. */
static bool ledger_take(Ledger *l, const Trace *t, const Pod *pod, const PoolPlacement *pl) {
        const PoolNode *nd = &t->pool.nodes[pl->node];
        const PoolRequest *r = &pod->req;
        int *m = &l->milli[pl->node * POOL_GPUS_MAX];

        if (pl->node >= t->pool.n_nodes) {
                snprintf(l->why, sizeof(l->why), "%s: no such node", pod->name);
                return false;
        }
        if (l->cpu[pl->node] < r->cpu_milli || l->mem[pl->node] < r->memory_mib) {
                snprintf(l->why, sizeof(l->why), "%s on %s: CPU or memory exceeded", pod->name, nd->name);
                return false;
        }
        if (r->num_gpu > 0 && !spec_allows(pod->spec, nd->model >= 0 ? t->pool.models[nd->model] : NULL)) {
                snprintf(l->why, sizeof(l->why), "%s on %s: model %s not in '%s'", pod->name, nd->name,
                         nd->model >= 0 ? t->pool.models[nd->model] : "none", pod->spec);
                return false;
        }
        if (pl->n_gpus != r->num_gpu) {
                snprintf(l->why, sizeof(l->why), "%s on %s: %u GPUs for a request of %u", pod->name,
                         nd->name, pl->n_gpus, r->num_gpu);
                return false;
        }
        for (unsigned k = 0; k < pl->n_gpus; k++) {
                unsigned g = pl->gpus[k];

                if (g >= nd->n_gpus || (k > 0 && pl->gpus[k - 1] >= g) || m[g] < (int) r->gpu_milli ||
                    (r->num_gpu > 1 && m[g] != POOL_MILLI)) {
                        snprintf(l->why, sizeof(l->why), "%s on %s: GPU %u cannot take %u milli (it has %d)",
                                 pod->name, nd->name, g, r->gpu_milli, g < nd->n_gpus ? m[g] : -1);
                        return false;
                }
        }
        l->cpu[pl->node] -= r->cpu_milli;
        l->mem[pl->node] -= r->memory_mib;
        for (unsigned k = 0; k < pl->n_gpus; k++)
                m[pl->gpus[k]] -= (int) r->gpu_milli;
        return true;
}

typedef struct Result {
        double unalloc100, unalloc130;
        double usec_per_pod, cpu_seconds;
        size_t arrivals, failed;
        bool feasible;
        char infeasible[320]; /* the first placement that was not */
} Result;

static double round_to(double v, int digits) {
        double m = pow(10, digits);
        return round(v * m) / m;
}

/* One run; the pool starts empty. */
static int run(Trace *t, PoolPolicy policy, uint64_t seed, FILE *log, Result *ret) {
        Pod *a = NULL;
        size_t n = 0;
        int64_t arrived = 0, allocated = 0;
        double sum[131] = {}, near_sum[131] = {};
        size_t cnt[131] = {}, near_cnt[131] = {};
        double cap = (double) t->total_gpus * 10; /* milli per percent */
        struct timespec t0, t1;
        int r;

        pool_reset(&t->pool);
        r = pool_seed(&t->pool, seed);
        if (r < 0)
                return r;
        Ledger ledger;

        r = make_arrivals(t, seed, &a, &n);
        if (r < 0)
                return r;
        r = ledger_init(&ledger, t);
        if (r < 0) {
                free(a);
                ledger_done(&ledger);
                return r;
        }
        *ret = (Result) { .arrivals = n, .feasible = true };
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        for (size_t e = 0; e < n; e++) {
                PoolPlacement pl;
                int x;

                r = pool_place(&t->pool, policy, &a[e].req, &pl);
                if (r == 0) {
                        if (!ledger_take(&ledger, t, &a[e], &pl) && ret->feasible) {
                                ret->feasible = false;
                                snprintf(ret->infeasible, sizeof(ret->infeasible), "arrival %zu: %s", e,
                                         ledger.why);
                        }
                        if (pool_commit(&t->pool, &a[e].req, &pl) < 0 && ret->feasible) {
                                ret->feasible = false;
                                snprintf(ret->infeasible, sizeof(ret->infeasible),
                                         "arrival %zu: the pool refused its own placement", e);
                        }
                        allocated += demand(&a[e]);
                } else {
                        ret->failed++;
                        if (ledger_fits_somewhere(&ledger, t, &a[e]) && ret->feasible) {
                                ret->feasible = false;
                                snprintf(ret->infeasible, sizeof(ret->infeasible),
                                         "arrival %zu: %s was refused but fits on some node", e, a[e].name);
                        }
                }
                arrived += demand(&a[e]);
                if (log) {
                        fprintf(log, "%zu,%s,%" PRId64 ",%" PRId64 ",%u,%u,%s,%s,", e, a[e].name,
                                a[e].req.cpu_milli, a[e].req.memory_mib, a[e].req.num_gpu,
                                a[e].req.gpu_milli, a[e].spec,
                                r == 0 ? t->pool.nodes[pl.node].name : "FAIL");
                        for (unsigned g = 0; r == 0 && g < pl.n_gpus; g++)
                                fprintf(log, "%s%u", g ? "+" : "", pl.gpus[g]);
                        fputc('\n', log);
                }
                /* round half to even, as Python's round() */
                x = (int) nearbyint((double) arrived / cap);
                if (x >= 0 && x <= 130) {
                        sum[x] += round_to((double) allocated / cap, 2);
                        cnt[x]++;
                }
                for (int d = -1; d <= 1; d++)
                        if (x + d >= 0 && x + d <= 130) {
                                near_sum[x + d] += round_to((double) allocated / cap, 2);
                                near_cnt[x + d]++;
                        }
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        ret->cpu_seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        ret->usec_per_pod = ret->cpu_seconds * 1e6 / (double) (n ? n : 1);
        /* No event at (or next to) x: no value (NAN, printed n/a). */
        ret->unalloc100 = cnt[100] ? 100 - sum[100] / (double) cnt[100]
                : near_cnt[100]    ? 100 - near_sum[100] / (double) near_cnt[100]
                                   : NAN;
        ret->unalloc130 = cnt[130] ? 100 - sum[130] / (double) cnt[130]
                : near_cnt[130]    ? 100 - near_sum[130] / (double) near_cnt[130]
                                   : NAN;
        /* And the pool's own books agree with the ledger at the end. */
        for (size_t k = 0; k < t->pool.n_nodes && ret->feasible; k++) {
                const PoolNode *nd = &t->pool.nodes[k];

                if (nd->cpu_left != ledger.cpu[k] || nd->memory_left != ledger.mem[k])
                        ret->feasible = false;
                for (unsigned g = 0; g < nd->n_gpus; g++)
                        if (nd->gpu[g].milli_left != ledger.milli[k * POOL_GPUS_MAX + g])
                                ret->feasible = false;
                if (!ret->feasible)
                        snprintf(ret->infeasible, sizeof(ret->infeasible),
                                 "node %s: the pool's books differ", nd->name);
        }
        ledger_done(&ledger);
        free(a);
        return 0;
}

typedef struct BoundResult {
        double unalloc100; /* no placement of the same arrivals leaves fewer GPUs unallocated */
        double cpu_seconds;
        size_t solves, rows, cols;
} BoundResult;

/* The bound for a seed's arrivals (bench/bound.h): at every arrival that run() averages over for
 * arrived = 100 %, the LP bound on the GPU milli any placement of the arrivals so far allocates,
 * rounded and averaged as run() does. A policy's allocation at each of these arrivals is a
 * placement of a subset of them, so its unallocated % is at least this. */
static int bound_run(Trace *t, uint64_t seed, BoundResult *ret) {
        _cleanup_free_ Pod *a = NULL;
        _cleanup_free_ PoolRequest *reqs = NULL;
        TraceBound *b = NULL;
        size_t n = 0, cnt[3] = {};
        double sum[3] = {}, cap = (double) t->total_gpus * 10;
        int64_t arrived = 0;
        int r;

        r = make_arrivals(t, seed, &a, &n);
        if (r < 0)
                return r;
        reqs = calloc(t->n_pods + 1, sizeof(PoolRequest));
        if (!reqs)
                return -ENOMEM;
        for (size_t k = 0; k < t->n_pods; k++)
                reqs[k] = t->pods[k].req; /* the arrivals are drawn from these */
        r = trace_bound_new(&t->pool, reqs, t->n_pods, &b);
        if (r < 0)
                return r;
        *ret = (BoundResult) {};
        for (size_t e = 0; e < n && r >= 0; e++) {
                double milli;
                int x;

                r = trace_bound_add(b, &a[e].req);
                if (r < 0)
                        break;
                arrived += demand(&a[e]);
                x = (int) nearbyint((double) arrived / cap);
                if (x < 99 || x > 101)
                        continue;
                r = trace_bound_solve(b, &milli);
                if (r < 0)
                        break;
                ret->solves++;
                sum[x - 99] += round_to(milli / cap, 2);
                cnt[x - 99]++;
        }
        trace_bound_stats(b, &ret->rows, &ret->cols, &ret->cpu_seconds);
        trace_bound_free(b);
        if (r < 0)
                return r;
        /* As run(): the arrivals at x = 100, else those at 99-101. */
        ret->unalloc100 = cnt[1] ? 100 - sum[1] / (double) cnt[1]
                : cnt[0] + cnt[1] + cnt[2]
                ? 100 - (sum[0] + sum[1] + sum[2]) / (double) (cnt[0] + cnt[1] + cnt[2])
                : NAN;
        return 0;
}

static int load(Trace *t, const char *nodes, const char *pods, FILE *workload_out) {
        int r = read_nodes(t, nodes);

        if (r >= 0)
                r = read_pods(t, pods);
        if (r >= 0)
                r = set_workload(t, workload_out);
        return r;
}

/* ------------------------------------------------------------------------------------------ */
/* summary */

static const char *const published_traces[] = {
        "default",    "cpu050",     "cpu100",      "cpu200",     "cpu250",     "gpushare40",
        "gpushare60", "gpushare80", "gpushare100", "gpuspec10",  "gpuspec20",  "gpuspec25",
        "gpuspec33",  "multigpu20", "multigpu30",  "multigpu40", "multigpu50",
};

/* Mean unallocated % at x = 100 of a published policy on a trace, NAN when not found. */
static double published_mean(const char *dir, const char *trace, const char *policy) {
        char path[4096], line[8192], *fl[160], want[64];
        FILE *f;
        double sum = 0;
        int n = 0, col = -1;

        snprintf(path, sizeof(path), "%s/published_fgd_results_alloc.csv", dir);
        snprintf(want, sizeof(want), "openb_pod_list_%s", trace);
        f = fopen(path, "re");
        if (!f)
                return NAN;
        while (fgets(line, sizeof(line), f)) {
                size_t nf = split(line, fl, 160);

                if (col < 0) {
                        for (size_t k = 0; k < nf; k++)
                                if (strcmp(fl[k], "100") == 0)
                                        col = (int) k;
                        continue;
                }
                if (nf > (size_t) col && strcmp(fl[0], want) == 0 && strcmp(fl[1], policy) == 0) {
                        sum += 100 - strtod(fl[col], NULL);
                        n++;
                }
        }
        fclose(f);
        return n ? sum / n : NAN;
}

static bool listed(const char *list, const char *name) {
        size_t l = strlen(name);

        if (!list)
                return true;
        for (const char *s = list; (s = strstr(s, name)); s += l)
                if ((s == list || s[-1] == ',') && (s[l] == ',' || s[l] == 0))
                        return true;
        return false;
}

static int summary(const char *dir, const char *traces, const PoolPolicy *policies, size_t n_pol,
                   unsigned seed_from, unsigned seed_to, bool with_bound) {
        char nodes[4096], pods[4096];
        bool all_feasible = true;

        snprintf(nodes, sizeof(nodes), "%s/openb_node_list_gpu_node.csv", dir);
        printf("%-12s %9s %9s", "trace", "pub-BF", "pub-FGD");
        for (size_t k = 0; k < n_pol; k++)
                printf(" %9s", pool_policy_to_string(policies[k]));
        if (with_bound)
                printf(" %9s", "bound");
        printf("   (unallocated GPU %% at arrived = 100 %%, mean of seeds %u-%u; us/pod last)\n", seed_from,
               seed_to);
        for (size_t tr = 0; tr < sizeof(published_traces) / sizeof(published_traces[0]); tr++) {
                Trace t = {};
                double us = 0;
                int r;

                if (!listed(traces, published_traces[tr]))
                        continue;
                snprintf(pods, sizeof(pods), "%s/openb_pod_list_%s.csv", dir, published_traces[tr]);
                r = load(&t, nodes, pods, NULL);
                if (r < 0) {
                        fprintf(stderr, "trace-replay: cannot load %s: %s\n", pods, strerror(-r));
                        trace_done(&t);
                        return r;
                }
                printf("%-12s %9.2f %9.2f", published_traces[tr],
                       published_mean(dir, published_traces[tr], "05-BestFit"),
                       published_mean(dir, published_traces[tr], "06-FGD"));
                for (size_t k = 0; k < n_pol; k++) {
                        double sum = 0;

                        for (unsigned s = seed_from; s <= seed_to; s++) {
                                Result res;

                                r = run(&t, policies[k], s, NULL, &res);
                                if (r < 0) {
                                        trace_done(&t);
                                        return r;
                                }
                                sum += res.unalloc100;
                                us = res.usec_per_pod;
                                if (!res.feasible) {
                                        fprintf(stderr, "trace-replay: %s %s seed %u: infeasible: %s\n",
                                                published_traces[tr], pool_policy_to_string(policies[k]), s,
                                                res.infeasible);
                                        all_feasible = false;
                                }
                        }
                        printf(" %9.2f", sum / (seed_to - seed_from + 1));
                }
                if (with_bound) {
                        double sum = 0;

                        for (unsigned s = seed_from; s <= seed_to; s++) {
                                BoundResult br;

                                r = bound_run(&t, s, &br);
                                if (r < 0) {
                                        fprintf(stderr, "trace-replay: %s seed %u: the bound: %s\n",
                                                published_traces[tr], s, strerror(-r));
                                        trace_done(&t);
                                        return r;
                                }
                                sum += br.unalloc100;
                        }
                        printf(" %9.2f", sum / (seed_to - seed_from + 1));
                }
                printf("   %.1f\n", us);
                fflush(stdout);
                trace_done(&t);
        }
        if (!all_feasible) {
                fprintf(stderr, "trace-replay: a run ended infeasible\n");
                return -EBADMSG;
        }
        return 0;
}

/* ------------------------------------------------------------------------------------------ */

static void usage(FILE *f) {
        fprintf(f,
                "Usage: trace-replay --nodes FILE --pods FILE --policy first-fit|best-fit|fgd|ark --seed N [--log FILE]\n"
                "                    [--workload-out FILE]\n"
                "       trace-replay --nodes FILE --pods FILE --bound --seed N\n"
                "       trace-replay --summary --data DIR [--policies P,P...] [--traces T,T...] [--seeds FROM-TO]\n"
                "                    [--no-bound]\n");
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "nodes", required_argument, NULL, 'n' },
                { "pods", required_argument, NULL, 'p' },
                { "policy", required_argument, NULL, 'P' },
                { "seed", required_argument, NULL, 's' },
                { "log", required_argument, NULL, 'l' },
                { "summary", no_argument, NULL, 'S' },
                { "data", required_argument, NULL, 'd' },
                { "policies", required_argument, NULL, 'A' },
                { "seeds", required_argument, NULL, 'R' },
                { "help", no_argument, NULL, 'h' },
                { "traces", required_argument, NULL, 'T' },
                { "workload-out", required_argument, NULL, 'W' },
                { "bound", no_argument, NULL, 'B' },
                { "no-bound", no_argument, NULL, 'N' },
                {},
        };
        const char *nodes = NULL, *pods = NULL, *logpath = NULL, *data = NULL,
                   *policies = "best-fit,fgd,ark", *traces = NULL, *workload_out = NULL;
        PoolPolicy policy = _POOL_POLICY_INVALID, list[_POOL_POLICY_MAX];
        unsigned long long seed = 42;
        unsigned seed_from = 42, seed_to = 51;
        bool have_seed = false, do_summary = false, do_bound = false, no_bound = false;
        size_t n_list = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'n':
                        nodes = optarg;
                        break;
                case 'p':
                        pods = optarg;
                        break;
                case 'P':
                        policy = pool_policy_from_string(optarg);
                        if (policy < 0) {
                                fprintf(stderr, "trace-replay: --policy: unknown policy '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 's': {
                        char *e;
                        errno = 0;
                        seed = strtoull(optarg, &e, 10);
                        if (errno || e == optarg || *e) {
                                fprintf(stderr, "trace-replay: --seed: '%s' is not a number\n", optarg);
                                return 2;
                        }
                        have_seed = true;
                        break;
                }
                case 'l':
                        logpath = optarg;
                        break;
                case 'W':
                        workload_out = optarg;
                        break;
                case 'S':
                        do_summary = true;
                        break;
                case 'B':
                        do_bound = true;
                        break;
                case 'N':
                        no_bound = true;
                        break;
                case 'd':
                        data = optarg;
                        break;
                case 'A':
                        policies = optarg;
                        break;
                case 'T':
                        traces = optarg;
                        break;
                case 'R':
                        if (sscanf(optarg, "%u-%u", &seed_from, &seed_to) != 2 || seed_from > seed_to) {
                                fprintf(stderr, "trace-replay: --seeds: '%s' is not FROM-TO\n", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }

        if (do_summary) {
                char buf[256], *s, *save = NULL;

                if (!data) {
                        fprintf(stderr, "trace-replay: --summary needs --data DIR\n");
                        return 2;
                }
                snprintf(buf, sizeof(buf), "%s", policies);
                for (s = strtok_r(buf, ",", &save); s && n_list < _POOL_POLICY_MAX;
                     s = strtok_r(NULL, ",", &save)) {
                        list[n_list] = pool_policy_from_string(s);
                        if (list[n_list] < 0) {
                                fprintf(stderr, "trace-replay: --policies: unknown policy '%s'\n", s);
                                return 2;
                        }
                        n_list++;
                }
                return summary(data, traces, list, n_list, seed_from, seed_to,
                               !no_bound && trace_bound_available()) < 0
                        ? 1
                        : 0;
        }

        if (do_bound) {
                Trace t = {};
                BoundResult br;

                if (!nodes || !pods || !have_seed) {
                        fprintf(stderr, "trace-replay: --bound needs --nodes, --pods and --seed\n");
                        return 2;
                }
                if (!trace_bound_available()) {
                        fprintf(stderr,
                                "trace-replay: the bound is not built in (CONFIG_BENCH_BOUND, GLPK)\n");
                        return 2;
                }
                r = load(&t, nodes, pods, NULL);
                if (r >= 0)
                        r = bound_run(&t, seed, &br);
                trace_done(&t);
                if (r < 0) {
                        fprintf(stderr, "trace-replay: the bound: %s\n", strerror(-r));
                        return 1;
                }
                printf("bound seed %llu: no placement of these arrivals leaves less than %.2f %% of the GPUs "
                       "unallocated at arrived 100 %%; LP of %zu rows and %zu columns, %zu solves, %.3f s CPU\n",
                       seed, br.unalloc100, br.rows, br.cols, br.solves, br.cpu_seconds);
                return 0;
        }

        if (!nodes || !pods || policy < 0 || !have_seed) {
                fprintf(stderr, "trace-replay: --nodes, --pods, --policy and --seed are needed\n");
                usage(stderr);
                return 2;
        }
        {
                Trace t = {};
                Result res;
                FILE *log = NULL, *wl = NULL;

                if (workload_out) {
                        wl = fopen(workload_out, "we");
                        if (!wl) {
                                fprintf(stderr, "trace-replay: %s: %s\n", workload_out, strerror(errno));
                                return 1;
                        }
                }
                r = load(&t, nodes, pods, wl);
                if (wl && fclose(wl) != 0 && r >= 0) {
                        fprintf(stderr, "trace-replay: %s: %s\n", workload_out, strerror(errno));
                        trace_done(&t);
                        return 1;
                }
                if (r < 0) {
                        fprintf(stderr, "trace-replay: cannot load the trace: %s\n", strerror(-r));
                        trace_done(&t);
                        return 1;
                }
                if (logpath) {
                        log = fopen(logpath, "we");
                        if (!log) {
                                fprintf(stderr, "trace-replay: %s: %s\n", logpath, strerror(errno));
                                trace_done(&t);
                                return 1;
                        }
                        fprintf(log, "seq,pod,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,node,gpus\n");
                }
                r = run(&t, policy, seed, log, &res);
                if (log && fclose(log) != 0)
                        r = -EIO;
                if (r < 0) {
                        fprintf(stderr, "trace-replay: %s\n", strerror(-r));
                        trace_done(&t);
                        return 1;
                }
                {
                        char u100[16] = "n/a", u130[16] = "n/a";

                        if (!isnan(res.unalloc100))
                                snprintf(u100, sizeof(u100), "%.2f", res.unalloc100);
                        if (!isnan(res.unalloc130))
                                snprintf(u130, sizeof(u130), "%.2f", res.unalloc130);
                        printf("policy %s seed %llu: %zu arrivals, %zu failed; unallocated GPU %% at arrived 100 %%: %s, "
                               "at 130 %%: %s; %.2f us per decision, %.3f s CPU in all; every placement feasible: %s\n",
                               pool_policy_to_string(policy), seed, res.arrivals, res.failed, u100, u130,
                               res.usec_per_pod, res.cpu_seconds, res.feasible ? "yes" : "NO");
                }
                if (!res.feasible)
                        fprintf(stderr, "trace-replay: infeasible: %s\n", res.infeasible);
                trace_done(&t);
                return res.feasible ? 0 : 1;
        }
}
