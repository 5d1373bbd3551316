/* bench/trace-replay: replays the Alibaba GPU cluster trace (openb, USENIX ATC'23) through the GPU
 * pooler under the published protocol, and says how much of the cluster's GPU capacity stays
 * unallocated. See bench/README.md and docs/pooler.md.
 *
 *   trace-replay --nodes FILE --pods FILE --policy P --seed N [--log FILE] [--workload-out FILE]
 *   trace-replay --nodes FILE --pods FILE --bound --seed N
 *   trace-replay --summary --data DIR [--policies P,P...] [--seeds A-B] [--no-bound]
 *   trace-replay --nodes FILE --pods FILE --mix SPEC (--mix-out FILE | --policy P --seed N ...)
 *   trace-replay --mixes --data DIR [--mix SPEC]... [--mix-count N] [--seeds A-B]
 *   trace-replay --list-mixes
 *
 * A mix is the trace's pods drawn again under another blend of request kinds, CPU and memory
 * scales, model constraints and node pool, named by its parameters and seed (docs/pooler.md,
 * "Generated mixes"). */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

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
        bool tuned;          /* tune() ran */
        PoolTune tune;       /* what Ark's portfolio chose (pool_tune()) */
        double tune_seconds; /* CPU time it took */
} Trace;

static void trace_done(Trace *t) {
        for (size_t k = 0; k < t->n_nodes; k++)
                free(t->node_names[k]);
        free(t->node_names);
        free(t->pods);
        pool_done(&t->pool);
        *t = (Trace) {};
}

/* ------------------------------------------------------------------------------------------ */
/* generated mixes (docs/pooler.md, "Generated mixes") */

/* The kinds of request a mix re-weights. Shares are split by size where the trace's own share
 * sizes cluster: up to 330 milli, up to 550, and above. */
typedef enum Kind {
        KIND_CPU,     /* no GPU */
        KIND_WHOLE,   /* one whole GPU */
        KIND_MULTI,   /* several whole GPUs */
        KIND_SHARE_S, /* a share of 1-330 milli */
        KIND_SHARE_M, /* 331-550 */
        KIND_SHARE_L, /* 551-999 */
        _KIND_MAX,
} Kind;

static const char *const kind_names[_KIND_MAX] = {
        "cpu", "whole", "multi", "share-s", "share-m", "share-l"
};

static Kind pod_kind(const PoolRequest *r) {
        if (r->num_gpu == 0)
                return KIND_CPU;
        if (r->num_gpu > 1)
                return KIND_MULTI;
        if (r->gpu_milli >= POOL_MILLI)
                return KIND_WHOLE;
        return r->gpu_milli <= 330 ? KIND_SHARE_S : r->gpu_milli <= 550 ? KIND_SHARE_M : KIND_SHARE_L;
}

/* A family names a blend of kinds, in percent of the pods (cpu, whole, multi, share-s, share-m,
 * share-l). "trace" keeps the base trace's own blend (the default trace: 13.3, 48.0, 0.9, 7.9,
 * 12.6, 17.2). */
typedef struct Family {
        const char *name;
        double w[_KIND_MAX];
} Family;

static const Family families[] = {
        { "trace", { -1 } },
        { "share-heavy", { 10, 20, 1, 20, 25, 24 } },
        { "whole-heavy", { 10, 75, 3, 4, 4, 4 } },
        { "multi-heavy", { 10, 40, 20, 10, 10, 10 } },
        { "cpu-heavy", { 35, 35, 1, 9, 10, 10 } },
        { "no-cpu", { 0, 55, 1, 10, 14, 20 } },
        { "small-shares", { 13, 35, 1, 35, 8, 8 } },
        { "mid-shares", { 13, 35, 1, 8, 35, 8 } },
        { "large-shares", { 13, 35, 1, 5, 10, 36 } },
        { "shares-only", { 10, 0, 0, 30, 30, 30 } },
};

/* Which of the trace's nodes make the pool. */
typedef enum NodeSet {
        NODES_ALL,
        NODES_HALF,  /* each node kept with probability 1/2, drawn from the mix's seed */
        NODES_BIG,   /* nodes with 8 GPUs or more */
        NODES_SMALL, /* nodes with fewer than 8 GPUs */
        _NODES_MAX,
} NodeSet;

static const char *const node_set_names[_NODES_MAX] = { "all", "half", "big", "small" };

/* A mix: the base trace's pods drawn again under other weights and scales. Its name
 * (mix_name()) is its parameters and seed, and parses back to the same mix. */
typedef struct Mix {
        const Family *family;
        double w[_KIND_MAX]; /* kinds=: overrides the family's blend (w[0] < 0: not given) */
        double cpu;          /* every pod's CPU x this */
        double share_cpu;    /* a share's CPU x this as well */
        double mem;          /* every pod's memory x this */
        double spec;         /* < 0: pods keep their own gpu_spec; else the share of GPU pods that
                                get one (drawn from gpuspec_blend), the others none */
        NodeSet nodes;
        size_t pods; /* how many pods; 0 = as many as the base trace has */
        uint64_t seed;
} Mix;

/* The model constraints a mix with spec= gives, and how often: the blend of the published
 * gpuspec traces (gpuspec33's constrained pods). A spec naming no model of the pool's nodes is
 * left out of the draw. */
static const struct {
        const char *spec;
        double weight;
} gpuspec_blend[] = {
        { "T4", 1291 },
        { "G2", 331 },
        { "P100", 279 },
        { "V100M16|V100M32", 141 },
        { "P100|V100M16|V100M32", 103 },
        { "G3", 86 },
        { "G2|P100|T4|V100M16|V100M32", 39 },
        { "P100|T4|V100M16|V100M32", 33 },
        { "A10|G2|T4|V100M16|V100M32", 24 },
};

static void mix_name(const Mix *m, char *buf, size_t size) {
        size_t l = (size_t) snprintf(buf, size, "%s", m->family->name);

#define APPEND(...) \
        do { \
                if (l < size) \
                        l += (size_t) snprintf(buf + l, size - l, __VA_ARGS__); \
        } while (0)
        if (m->w[0] >= 0)
                APPEND(":kinds=%g/%g/%g/%g/%g/%g", m->w[0], m->w[1], m->w[2], m->w[3], m->w[4], m->w[5]);
        if (m->cpu != 1)
                APPEND(":cpu=%g", m->cpu);
        if (m->share_cpu != 1)
                APPEND(":share-cpu=%g", m->share_cpu);
        if (m->mem != 1)
                APPEND(":mem=%g", m->mem);
        if (m->spec >= 0)
                APPEND(":spec=%g", m->spec);
        if (m->nodes != NODES_ALL)
                APPEND(":nodes=%s", node_set_names[m->nodes]);
        if (m->pods)
                APPEND(":pods=%zu", m->pods);
        APPEND(":seed=%" PRIu64, m->seed);
#undef APPEND
}

static int parse_scale(const char *key, const char *v, double lo, double hi, double *ret) {
        char *e;
        double d;

        errno = 0;
        d = strtod(v, &e);
        if (errno || e == v || *e || !(d >= lo && d <= hi)) {
                fprintf(stderr, "trace-replay: --mix: %s=%s is not a number from %g to %g\n", key, v, lo,
                        hi);
                return -EINVAL;
        }
        *ret = d;
        return 0;
}

/* FAMILY[:kinds=C/W/M/S/M/L][:cpu=X][:share-cpu=X][:mem=X][:spec=P][:nodes=all|half|big|small]
 * [:pods=N][:seed=N], in any order after the family (seed 1 when not given). */
static int mix_parse(const char *s, Mix *ret) {
        char buf[512], *tok, *save = NULL;
        Mix m = { .w = { -1 }, .cpu = 1, .share_cpu = 1, .mem = 1, .spec = -1, .seed = 1 };

        if (strlen(s) >= sizeof(buf)) {
                fprintf(stderr, "trace-replay: --mix: too long\n");
                return -EINVAL;
        }
        snprintf(buf, sizeof(buf), "%s", s);
        tok = strtok_r(buf, ":", &save);
        for (size_t k = 0; tok && k < sizeof(families) / sizeof(families[0]); k++)
                if (strcmp(families[k].name, tok) == 0)
                        m.family = &families[k];
        if (!m.family) {
                fprintf(stderr, "trace-replay: --mix: '%s' names no family (--list-mixes lists them)\n", s);
                return -EINVAL;
        }
        while ((tok = strtok_r(NULL, ":", &save))) {
                char *v = strchr(tok, '=');
                int r = 0;

                if (!v) {
                        fprintf(stderr, "trace-replay: --mix: '%s' is not KEY=VALUE\n", tok);
                        return -EINVAL;
                }
                *v++ = 0;
                if (strcmp(tok, "kinds") == 0) {
                        double sum = 0;
                        char end;

                        if (sscanf(v, "%lf/%lf/%lf/%lf/%lf/%lf%c", &m.w[0], &m.w[1], &m.w[2], &m.w[3],
                                   &m.w[4], &m.w[5], &end) != 6)
                                r = -EINVAL;
                        for (size_t k = 0; k < _KIND_MAX; k++) {
                                if (!(m.w[k] >= 0 && m.w[k] <= 1e6))
                                        r = -EINVAL;
                                sum += m.w[k];
                        }
                        if (r < 0 || sum <= 0) {
                                fprintf(stderr,
                                        "trace-replay: --mix: kinds=%s is not six weights >= 0 (cpu/whole/multi/"
                                        "share-s/share-m/share-l), not all 0\n",
                                        v);
                                return -EINVAL;
                        }
                } else if (strcmp(tok, "cpu") == 0)
                        r = parse_scale(tok, v, 0.01, 16, &m.cpu);
                else if (strcmp(tok, "share-cpu") == 0)
                        r = parse_scale(tok, v, 0.01, 16, &m.share_cpu);
                else if (strcmp(tok, "mem") == 0)
                        r = parse_scale(tok, v, 0.01, 16, &m.mem);
                else if (strcmp(tok, "spec") == 0)
                        r = parse_scale(tok, v, 0, 1, &m.spec);
                else if (strcmp(tok, "nodes") == 0) {
                        size_t k;

                        for (k = 0; k < _NODES_MAX; k++)
                                if (strcmp(node_set_names[k], v) == 0)
                                        break;
                        if (k == _NODES_MAX) {
                                fprintf(stderr,
                                        "trace-replay: --mix: nodes=%s is not all, half, big or small\n", v);
                                return -EINVAL;
                        }
                        m.nodes = (NodeSet) k;
                } else if (strcmp(tok, "pods") == 0 || strcmp(tok, "seed") == 0) {
                        char *e;
                        unsigned long long n;

                        errno = 0;
                        n = strtoull(v, &e, 10);
                        if (errno || e == v || *e || (tok[0] == 'p' && (n < 1 || n > 10000000))) {
                                fprintf(stderr, "trace-replay: --mix: %s=%s is not a number%s\n", tok, v,
                                        tok[0] == 'p' ? " from 1 to 10000000" : "");
                                return -EINVAL;
                        }
                        if (tok[0] == 'p')
                                m.pods = (size_t) n;
                        else
                                m.seed = n;
                } else {
                        fprintf(stderr, "trace-replay: --mix: unknown key '%s'\n", tok);
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        *ret = m;
        return 0;
}

/* The listed mixes (--list-mixes, and what --mixes evaluates by default): every family plain,
 * and each family with one change: CPU-intensive (x 1.5) or light (x 0.6), CPU-heavy shares
 * (x 2), memory-heavy (x 2), model constraints on 30 % of GPU pods, and three node pools. */
static const char *const mix_variants[] = {
        "",          ":cpu=1.5",    ":cpu=0.6",   ":share-cpu=2", ":mem=2",
        ":spec=0.3", ":nodes=half", ":nodes=big", ":nodes=small",
};

#define N_LISTED_MIXES \
        (sizeof(families) / sizeof(families[0]) * sizeof(mix_variants) / sizeof(mix_variants[0]))

/* The k-th listed mix's name, as mix_parse() reads it. */
static void listed_mix(size_t k, char *buf, size_t size) {
        size_t nv = sizeof(mix_variants) / sizeof(mix_variants[0]);

        snprintf(buf, size, "%s%s:seed=1", families[k / nv].name, mix_variants[k % nv]);
}

/* Whether the mix's pool keeps the node; draws from *s for NODES_HALF (once per node, in the
 * file's order, so the same seed keeps the same nodes). */
static bool mix_keeps_node(const Mix *m, unsigned gpus, uint64_t *s);

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

static int read_nodes(Trace *t, const char *path, const Mix *mix) {
        FILE *f = fopen(path, "re");
        char line[512], *fl[8];
        unsigned lineno = 0;
        uint64_t keep_seed = mix ? mix->seed ^ UINT64_C(0x6e6f6465732d6b65) : 0; /* "nodes-ke" */

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
                if (mix && !mix_keeps_node(mix, (unsigned) gpus, &keep_seed))
                        continue;
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

/* ------------------------------------------------------------------------------------------ */
/* generating a mix */

static bool mix_keeps_node(const Mix *m, unsigned gpus, uint64_t *s) {
        switch (m->nodes) {
        case NODES_HALF:
                return rng_next(s) >> 63;
        case NODES_BIG:
                return gpus >= 8;
        case NODES_SMALL:
                return gpus < 8;
        default:
                return true;
        }
}

static bool pool_has_model(const Pool *p, const char *name) {
        for (size_t k = 0; k < p->n_nodes; k++)
                if (p->nodes[k].model >= 0 && p->nodes[k].n_gpus > 0 &&
                    strcmp(p->models[p->nodes[k].model], name) == 0)
                        return true;
        return false;
}

/* Whether a spec names a model that some node of the pool has. */
static bool spec_placeable(const Pool *p, const char *spec) {
        char buf[sizeof(((Pod *) NULL)->spec)], *s, *save = NULL;

        snprintf(buf, sizeof(buf), "%s", spec);
        for (s = strtok_r(buf, "|", &save); s; s = strtok_r(NULL, "|", &save))
                if (pool_has_model(p, s))
                        return true;
        return false;
}

/* How many pods of each kind: n split by the weights, rounded by largest remainder (ties to the
 * earlier kind), so a mix's blend is exact to one pod. */
static void kind_counts(const double w[_KIND_MAX], size_t n, size_t ret[_KIND_MAX]) {
        double sum = 0, frac[_KIND_MAX];
        size_t given = 0;

        for (size_t k = 0; k < _KIND_MAX; k++)
                sum += w[k];
        for (size_t k = 0; k < _KIND_MAX; k++) {
                double exact = (double) n * w[k] / sum;

                ret[k] = (size_t) floor(exact);
                frac[k] = exact - (double) ret[k];
                given += ret[k];
        }
        while (given < n) {
                size_t best = 0;

                for (size_t k = 1; k < _KIND_MAX; k++)
                        if (frac[k] > frac[best])
                                best = k;
                ret[best]++;
                frac[best] = -1;
                given++;
        }
}

/* Replaces the trace's pods with the mix drawn from them: for each kind its count of pods
 * (kind_counts()), each a copy of a pod of that kind drawn uniformly (with replacement) from
 * the seed, its CPU and memory scaled (rounded to the milli-CPU and MiB), its model constraint
 * kept or drawn as spec= says; then shuffled and named mix-0000000 on. Call after the nodes are
 * read (constraints are drawn among the pool's models). */
static int mix_generate(Trace *t, const Mix *m) {
        size_t *of_kind[_KIND_MAX] = {}, n_kind[_KIND_MAX] = {}, count[_KIND_MAX], n, e = 0;
        double w[_KIND_MAX], blend_sum = 0;
        bool blend_ok[sizeof(gpuspec_blend) / sizeof(gpuspec_blend[0])];
        uint64_t s = m->seed ^ UINT64_C(0x6d69782d67656e21); /* "mix-gen!" */
        Pod *out = NULL;
        int r = 0;

        for (size_t k = 0; k < _KIND_MAX; k++) {
                of_kind[k] = malloc((t->n_pods + 1) * sizeof(size_t));
                if (!of_kind[k]) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        for (size_t k = 0; k < t->n_pods; k++) {
                Kind kd = pod_kind(&t->pods[k].req);

                of_kind[kd][n_kind[kd]++] = k;
        }
        for (size_t k = 0; k < _KIND_MAX; k++)
                w[k] = m->w[0] >= 0 ? m->w[k] : m->family->w[0] >= 0 ? m->family->w[k] : (double) n_kind[k];
        n = m->pods ? m->pods : t->n_pods;
        kind_counts(w, n, count);
        for (size_t k = 0; k < _KIND_MAX; k++)
                if (count[k] > 0 && n_kind[k] == 0) {
                        fprintf(stderr, "trace-replay: the mix wants %s pods and the base trace has none\n",
                                kind_names[k]);
                        r = -ENODATA;
                        goto finish;
                }
        for (size_t b = 0; b < sizeof(gpuspec_blend) / sizeof(gpuspec_blend[0]); b++) {
                blend_ok[b] = spec_placeable(&t->pool, gpuspec_blend[b].spec);
                blend_sum += blend_ok[b] ? gpuspec_blend[b].weight : 0;
        }
        out = calloc(n + 1, sizeof(Pod));
        if (!out) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t k = 0; k < _KIND_MAX; k++)
                for (size_t c = 0; c < count[k]; c++) {
                        Pod *p = &out[e++];
                        double cpu = m->cpu * (k >= KIND_SHARE_S ? m->share_cpu : 1);

                        *p = t->pods[of_kind[k][rng_below(&s, n_kind[k])]];
                        p->req.cpu_milli = llround((double) p->req.cpu_milli * cpu);
                        p->req.memory_mib = llround((double) p->req.memory_mib * m->mem);
                        if (m->spec >= 0 && p->req.num_gpu > 0) {
                                /* Always two draws, so the pods drawn do not depend on the pool. */
                                double u = (double) (rng_next(&s) >> 11) / 9007199254740992.0,
                                       v = (double) (rng_next(&s) >> 11) / 9007199254740992.0 * blend_sum;

                                p->spec[0] = 0;
                                if (u < m->spec && blend_sum > 0)
                                        for (size_t b = 0;
                                             b < sizeof(gpuspec_blend) / sizeof(gpuspec_blend[0]); b++) {
                                                if (!blend_ok[b])
                                                        continue;
                                                if (v < gpuspec_blend[b].weight) {
                                                        snprintf(p->spec, sizeof(p->spec), "%s",
                                                                 gpuspec_blend[b].spec);
                                                        break;
                                                }
                                                v -= gpuspec_blend[b].weight;
                                        }
                        }
                        p->req.models = spec_mask(&t->pool, p->spec);
                }
        for (size_t k = n; k > 1; k--) {
                size_t j = rng_below(&s, k);
                Pod tmp = out[k - 1];

                out[k - 1] = out[j];
                out[j] = tmp;
        }
        for (size_t k = 0; k < n; k++)
                snprintf(out[k].name, sizeof(out[k].name), "mix-%07zu", k);
        free(t->pods);
        t->pods = out;
        t->n_pods = n;
        out = NULL;
finish:
        for (size_t k = 0; k < _KIND_MAX; k++)
                free(of_kind[k]);
        free(out);
        return r;
}

/* The pods as a pod list trace-replay reads back (--pods). */
static int write_pods(const Trace *t, const char *path) {
        FILE *f = fopen(path, "we");

        if (!f) {
                fprintf(stderr, "trace-replay: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        fprintf(f, "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n");
        for (size_t k = 0; k < t->n_pods; k++)
                fprintf(f, "%s,%" PRId64 ",%" PRId64 ",%u,%u,%s\n", t->pods[k].name,
                        t->pods[k].req.cpu_milli, t->pods[k].req.memory_mib, t->pods[k].req.num_gpu,
                        t->pods[k].req.gpu_milli, t->pods[k].spec);
        if (fclose(f) != 0) {
                fprintf(stderr, "trace-replay: %s: %s\n", path, strerror(errno));
                return -EIO;
        }
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

static bool arg_ark_keys = false; /* --ark-keys: Ark's own keys, untuned, as arkd places */
static int tune(Trace *t);

/* One run; the pool starts empty. Ark's policy chooses what it places under first (once per
 * trace), unless --ark-keys. */
static int run(Trace *t, PoolPolicy policy, uint64_t seed, FILE *log, Result *ret) {
        Pod *a = NULL;
        size_t n = 0;
        int64_t arrived = 0, allocated = 0;
        double sum[131] = {}, near_sum[131] = {};
        size_t cnt[131] = {}, near_cnt[131] = {};
        double cap = (double) t->total_gpus * 10; /* milli per percent */
        struct timespec t0, t1;
        int r;

        if (policy == POOL_POLICY_ARK && !arg_ark_keys && !t->tuned) {
                r = tune(t);
                if (r < 0)
                        return r;
        }
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

static int compare_request(const void *a, const void *b) {
        const PoolRequest *x = a, *y = b;

        if (x->cpu_milli != y->cpu_milli)
                return x->cpu_milli < y->cpu_milli ? -1 : 1;
        if (x->memory_mib != y->memory_mib)
                return x->memory_mib < y->memory_mib ? -1 : 1;
        if (x->num_gpu != y->num_gpu)
                return x->num_gpu < y->num_gpu ? -1 : 1;
        if (x->gpu_milli != y->gpu_milli)
                return x->gpu_milli < y->gpu_milli ? -1 : 1;
        return x->models < y->models ? -1 : x->models > y->models;
}

#define TUNE_ROUNDS 4
#define TUNE_SEED UINT64_C(0x41726b) /* fixed: the choice is the same for every replay seed */

/* Ark's portfolio (pool_tune()): the requests to expect are the pods' distribution, every
 * request with its memory and how often it comes (the workload FGD is given keeps the 95 % most
 * frequent CPU/GPU groups, without memory). Replays on the empty pool, its nodes in an order drawn
 * from TUNE_SEED: the same for every replay seed, so every seed gets the same choice. */
static int tune(Trace *t) {
        PoolRequest *q = malloc((t->n_pods + 1) * sizeof(PoolRequest));
        PoolShape *s = calloc(t->n_pods + 1, sizeof(PoolShape));
        struct timespec t0, t1;
        size_t n = 0;
        int r;

        if (!q || !s) {
                free(q);
                free(s);
                return -ENOMEM;
        }
        for (size_t k = 0; k < t->n_pods; k++)
                q[k] = t->pods[k].req;
        qsort(q, t->n_pods, sizeof(PoolRequest), compare_request);
        for (size_t k = 0; k < t->n_pods; k++) {
                if (n == 0 || compare_request(&s[n - 1].request, &q[k]) != 0)
                        s[n++].request = q[k];
                s[n - 1].weight += 1;
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        pool_reset(&t->pool);
        pool_untune(&t->pool);
        r = pool_seed(&t->pool, TUNE_SEED);
        if (r >= 0)
                r = pool_tune(&t->pool, s, n, TUNE_ROUNDS, TUNE_SEED, &t->tune);
        pool_reset(&t->pool);
        t->tuned = r >= 0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        t->tune_seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        free(q);
        free(s);
        return r;
}

/* What Ark's portfolio chose, from what, and what it cost. */
static void print_tune(const Trace *t) {
        printf("ark: placed under %s (%u streams of %zu requests: fgd allocated %.2f %%, ark's keys %.2f %% "
               "(margin %+.2f), best-fit %.2f %% (margin %+.2f)); choosing took %.3f s CPU, once\n",
               t->tune.chosen == POOL_POLICY_ARK ? "its own keys" : pool_policy_to_string(t->tune.chosen),
               t->tune.rounds, t->tune.requests, 100 * t->tune.allocated[POOL_POLICY_FGD],
               100 * t->tune.allocated[POOL_POLICY_ARK], 100 * t->tune.margin[POOL_POLICY_ARK],
               100 * t->tune.allocated[POOL_POLICY_BEST_FIT], 100 * t->tune.margin[POOL_POLICY_BEST_FIT],
               t->tune_seconds);
}

/* The trace, or with mix the mix drawn from its pods (and its node pool); the workload is then
 * the mix's own. */
static int load(Trace *t, const char *nodes, const char *pods, FILE *workload_out, const Mix *mix) {
        int r = read_nodes(t, nodes, mix);

        if (r >= 0)
                r = read_pods(t, pods);
        if (r >= 0 && mix)
                r = mix_generate(t, mix);
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
        printf("   (unallocated GPU %% at arrived = 100 %%, mean of seeds %u-%u; us/pod of the last policy, "
               "then what ark placed under)\n",
               seed_from, seed_to);
        for (size_t tr = 0; tr < sizeof(published_traces) / sizeof(published_traces[0]); tr++) {
                Trace t = {};
                double us = 0;
                int r;

                if (!listed(traces, published_traces[tr]))
                        continue;
                snprintf(pods, sizeof(pods), "%s/openb_pod_list_%s.csv", dir, published_traces[tr]);
                r = load(&t, nodes, pods, NULL, NULL);
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
                printf("   %.1f", us);
                if (t.tuned)
                        printf("   ark under %s (choosing: %.1f s)",
                               t.tune.chosen == POOL_POLICY_ARK ? "its keys"
                                                                : pool_policy_to_string(t.tune.chosen),
                               t.tune_seconds);
                printf("\n");
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
/* evaluating mixes */

#define MIXES_LOSS 0.2 /* points: a loss the policy work must fix (issue 19) */

static ssize_t policy_index(const PoolPolicy *policies, size_t n, PoolPolicy p) {
        for (size_t k = 0; k < n; k++)
                if (policies[k] == p)
                        return (ssize_t) k;
        return -1;
}

/* Each mix, drawn from the default trace, replayed with every policy on every seed; the mean
 * unallocated % at arrived = 100 % per policy, Ark's gap to the better of FGD and best-fit, and
 * a summary: how often Ark is no worse, the mean and worst gap, and the mixes it loses by more
 * than MIXES_LOSS. */
static int mixes_eval(const char *dir, const char *const *names, size_t n_names, const PoolPolicy *policies,
                      size_t n_pol, unsigned seed_from, unsigned seed_to) {
        char nodes[4096], pods[4096], worst_mix[512] = "";
        ssize_t i_ark = policy_index(policies, n_pol, POOL_POLICY_ARK),
                i_fgd = policy_index(policies, n_pol, POOL_POLICY_FGD),
                i_bf = policy_index(policies, n_pol, POOL_POLICY_BEST_FIT);
        bool gaps = i_ark >= 0 && i_fgd >= 0 && i_bf >= 0, all_feasible = true;
        double cpu_s[_POOL_POLICY_MAX] = {}, gap_sum = 0, worst = -INFINITY, tune_s = 0;
        size_t decisions[_POOL_POLICY_MAX] = {}, wins = 0, done = 0, n_losses = 0;
        char(*losses)[600] = calloc(n_names + 1, sizeof(*losses));
        struct timespec w0, w1;

        if (!losses)
                return -ENOMEM;
        clock_gettime(CLOCK_MONOTONIC, &w0);
        snprintf(nodes, sizeof(nodes), "%s/openb_node_list_gpu_node.csv", dir);
        snprintf(pods, sizeof(pods), "%s/openb_pod_list_default.csv", dir);
        printf("%-40s", "mix");
        for (size_t k = 0; k < n_pol; k++)
                printf(" %9s", pool_policy_to_string(policies[k]));
        if (gaps)
                printf(" %7s", "gap");
        if (i_ark >= 0)
                printf(" %-9s", "ark-under");
        printf("   (unallocated GPU %% at arrived = 100 %%, mean of seeds %u-%u; gap: ark - min(best-fit, fgd))\n",
               seed_from, seed_to);
        for (size_t mi = 0; mi < n_names; mi++) {
                Trace t = {};
                Mix mix;
                char name[512];
                double mean[_POOL_POLICY_MAX];
                int r = mix_parse(names[mi], &mix);

                if (r < 0) {
                        free(losses);
                        return r;
                }
                mix_name(&mix, name, sizeof(name));
                r = load(&t, nodes, pods, NULL, &mix);
                if (r < 0) {
                        fprintf(stderr, "trace-replay: cannot make mix %s: %s\n", name, strerror(-r));
                        trace_done(&t);
                        free(losses);
                        return r;
                }
                printf("%-40s", name);
                for (size_t k = 0; k < n_pol; k++) {
                        double sum = 0;

                        for (unsigned s = seed_from; s <= seed_to; s++) {
                                Result res;

                                r = run(&t, policies[k], s, NULL, &res);
                                if (r < 0) {
                                        trace_done(&t);
                                        free(losses);
                                        return r;
                                }
                                sum += res.unalloc100;
                                cpu_s[k] += res.cpu_seconds;
                                decisions[k] += res.arrivals;
                                if (!res.feasible) {
                                        fprintf(stderr, "trace-replay: %s %s seed %u: infeasible: %s\n",
                                                name, pool_policy_to_string(policies[k]), s, res.infeasible);
                                        all_feasible = false;
                                }
                        }
                        mean[k] = sum / (seed_to - seed_from + 1);
                        printf(" %9.2f", mean[k]);
                }
                if (gaps) {
                        double gap = mean[i_ark] - fmin(mean[i_fgd], mean[i_bf]);

                        printf(" %+7.2f", gap);
                        wins += gap <= 1e-9;
                        gap_sum += gap;
                        if (gap > worst) {
                                worst = gap;
                                snprintf(worst_mix, sizeof(worst_mix), "%s", name);
                        }
                        if (gap > MIXES_LOSS)
                                snprintf(losses[n_losses++], sizeof(losses[0]),
                                         "%s (ark %.2f, fgd %.2f, best-fit %.2f)", name, mean[i_ark],
                                         mean[i_fgd], mean[i_bf]);
                }
                if (i_ark >= 0 && t.tuned) {
                        printf(" %-9s",
                               t.tune.chosen == POOL_POLICY_ARK ? "keys"
                                                                : pool_policy_to_string(t.tune.chosen));
                        tune_s += t.tune_seconds;
                }
                printf("\n");
                fflush(stdout);
                done++;
                trace_done(&t);
        }
        clock_gettime(CLOCK_MONOTONIC, &w1);
        printf("\n%zu mixes x seeds %u-%u in %.0f s\n", done, seed_from, seed_to,
               (double) (w1.tv_sec - w0.tv_sec) + (double) (w1.tv_nsec - w0.tv_nsec) / 1e9);
        if (gaps && done > 0) {
                printf("ark <= min(best-fit, fgd) on %zu of %zu mixes (%.1f %%); mean gap %+.3f points, worst %+.2f (%s)\n",
                       wins, done, 100.0 * (double) wins / (double) done, gap_sum / (double) done, worst,
                       worst_mix);
                printf("mixes where ark loses by more than %.1f points: %zu\n", MIXES_LOSS, n_losses);
                for (size_t k = 0; k < n_losses; k++)
                        printf("  %s\n", losses[k]);
        }
        printf("CPU time per decision:");
        for (size_t k = 0; k < n_pol; k++)
                printf(" %s %.1f us%s", pool_policy_to_string(policies[k]),
                       decisions[k] ? cpu_s[k] * 1e6 / (double) decisions[k] : 0.0,
                       k + 1 < n_pol ? "," : "\n");
        if (i_ark >= 0 && done > 0)
                printf("ark's choice of policy (pool_tune, once per mix): %.2f s CPU per mix\n",
                       tune_s / (double) done);
        free(losses);
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
                "                    [--workload-out FILE] [--ark-keys]\n"
                "                    [--mix SPEC [--mix-out FILE]]\n"
                "       trace-replay --nodes FILE --pods FILE --bound --seed N\n"
                "       trace-replay --summary --data DIR [--policies P,P...] [--traces T,T...] [--seeds FROM-TO]\n"
                "                    [--no-bound]\n"
                "       trace-replay --mixes --data DIR [--mix SPEC]... [--mix-count N] [--policies P,P...]\n"
                "                    [--seeds FROM-TO]\n"
                "       trace-replay --list-mixes\n"
                "A mix SPEC is FAMILY[:kinds=C/W/M/S/M/L][:cpu=X][:share-cpu=X][:mem=X][:spec=P]\n"
                "[:nodes=all|half|big|small][:pods=N][:seed=N] (docs/pooler.md, \"Generated mixes\").\n");
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
                { "mix", required_argument, NULL, 'm' },
                { "mix-out", required_argument, NULL, 'o' },
                { "mixes", no_argument, NULL, 'M' },
                { "mix-count", required_argument, NULL, 'c' },
                { "list-mixes", no_argument, NULL, 'L' },
                { "bound", no_argument, NULL, 'B' },
                { "no-bound", no_argument, NULL, 'N' },
                { "ark-keys", no_argument, NULL, 'K' },
                {},
        };
        const char *nodes = NULL, *pods = NULL, *logpath = NULL, *data = NULL,
                   *policies = "best-fit,fgd,ark", *traces = NULL, *workload_out = NULL;
        PoolPolicy policy = _POOL_POLICY_INVALID, list[_POOL_POLICY_MAX];
        unsigned long long seed = 42;
        unsigned seed_from = 42, seed_to = 51;
        bool have_seed = false, do_summary = false, do_mixes = false, have_mix = false, have_seeds = false,
             do_bound = false, no_bound = false;
        size_t n_list = 0, n_mix_args = 0, mix_count = N_LISTED_MIXES;
        const char *mix_out = NULL;
        _cleanup_free_ const char **mix_args = calloc((size_t) argc + 1, sizeof(char *));
        Mix mix;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'n':
                        nodes = optarg;
                        break;
                case 'K':
                        arg_ark_keys = true;
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
                case 'm':
                        if (mix_parse(optarg, &mix) < 0)
                                return 2;
                        if (!mix_args)
                                return 1;
                        mix_args[n_mix_args++] = optarg;
                        have_mix = true;
                        break;
                case 'o':
                        mix_out = optarg;
                        break;
                case 'M':
                        do_mixes = true;
                        break;
                case 'c':
                        if (sscanf(optarg, "%zu", &mix_count) != 1 || mix_count < 1) {
                                fprintf(stderr, "trace-replay: --mix-count: '%s' is not a number >= 1\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'L':
                        for (size_t k = 0; k < N_LISTED_MIXES; k++) {
                                char name[512];

                                listed_mix(k, name, sizeof(name));
                                printf("%s\n", name);
                        }
                        return 0;
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
                        have_seeds = true;
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

        if (do_summary || do_mixes) {
                char buf[256], *s, *save = NULL;

                if (!data) {
                        fprintf(stderr, "trace-replay: --summary and --mixes need --data DIR\n");
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
                if (do_summary)
                        return summary(data, traces, list, n_list, seed_from, seed_to,
                                       !no_bound && trace_bound_available()) < 0
                                ? 1
                                : 0;
                if (!have_seeds) /* three seeds a mix, by default */
                        seed_from = 42, seed_to = 44;
                if (n_mix_args == 0) {
                        _cleanup_free_ char *names = calloc(N_LISTED_MIXES, 512);
                        const char *ptrs[N_LISTED_MIXES];

                        if (!names)
                                return 1;
                        mix_count = mix_count < N_LISTED_MIXES ? mix_count : N_LISTED_MIXES;
                        for (size_t k = 0; k < mix_count; k++) {
                                listed_mix(k, names + k * 512, 512);
                                ptrs[k] = names + k * 512;
                        }
                        return mixes_eval(data, ptrs, mix_count, list, n_list, seed_from, seed_to) < 0 ? 1
                                                                                                       : 0;
                }
                return mixes_eval(data, mix_args, n_mix_args, list, n_list, seed_from, seed_to) < 0 ? 1 : 0;
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
                r = load(&t, nodes, pods, NULL, NULL);
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
        if (n_mix_args > 1) {
                fprintf(stderr, "trace-replay: one --mix at a time, but with --mixes\n");
                return 2;
        }
        if (mix_out && !have_mix) {
                fprintf(stderr, "trace-replay: --mix-out needs --mix\n");
                return 2;
        }
        /* Only the mix's pod list: nothing to replay. */
        if (mix_out && nodes && pods && policy < 0 && !have_seed) {
                Trace t = {};

                r = load(&t, nodes, pods, NULL, &mix);
                if (r >= 0)
                        r = write_pods(&t, mix_out);
                else
                        fprintf(stderr, "trace-replay: cannot make the mix: %s\n", strerror(-r));
                trace_done(&t);
                return r < 0 ? 1 : 0;
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
                r = load(&t, nodes, pods, wl, have_mix ? &mix : NULL);
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
                        if (policy == POOL_POLICY_ARK && t.tuned)
                                print_tune(&t);
                }
                if (!res.feasible)
                        fprintf(stderr, "trace-replay: infeasible: %s\n", res.infeasible);
                trace_done(&t);
                return res.feasible ? 0 : 1;
        }
}
