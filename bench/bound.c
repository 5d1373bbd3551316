/* bench/bound: the LP relaxation of the packing of arrivals onto a pool (bound.h, docs/pooler.md).
 *
 * Variables: x[c][t] >= 0, how many pods of class c go to nodes of type t (same CPU, memory, GPU
 * count and model), for the pairs where one such pod fits on one empty such node. Maximise the
 * GPU milli allocated, sum of x[c][t] * num_gpu(c) * gpu_milli(c), subject to:
 *   - arrivals:  sum over t of x[c][t] <= the pods of class c arrived so far;
 *   - per type t with m(t) nodes: CPU, memory and GPU milli summed over its pods within m(t) times
 *     one node's;
 *   - per type, dual feasible functions (Fekete and Schepers, 2001) of the items a GPU holds: a
 *     function f with f(x1) + ... + f(xn) <= 1 whenever x1 + ... + xn <= 1 gives, summed over a
 *     type's GPUs, sum of x[c][t] * num_gpu(c) * f(gpu_milli(c) / 1000) <= m(t) * gpus(t). This is
 *     what says that a 0.81 share leaves a 0.19 hole only small shares fill, and that two 0.6
 *     shares need two GPUs;
 *   - per type, the same functions of each node's items in CPU, memory and GPU milli (a pod asking
 *     more than half of a node's CPU takes a node of its own).
 * Each constraint holds for every feasible placement of every subset of the arrivals, so the LP's
 * optimum bounds what any placement allocates from above. It relaxes: integrality, which GPU and
 * node within a type (CPU, memory and GPUs are pooled over a type's nodes, tied per node and per
 * GPU only through the dual feasible functions), and the online order. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/macro.h"
#include "bound.h"

#if IS_ENABLED(CONFIG_BENCH_BOUND)

#include <glpk.h>

typedef struct NodeType {
        int64_t cpu_milli, memory_mib;
        unsigned n_gpus;
        int model;
        unsigned count;
} NodeType;

typedef struct PodClass {
        PoolRequest req;
        unsigned arrived;
        int row; /* its arrivals row in the LP */
} PodClass;

struct TraceBound {
        glp_prob *lp;
        NodeType *types;
        size_t n_types;
        PodClass *classes;
        size_t n_classes;
        size_t rows, cols;
        double seconds;
};

bool trace_bound_available(void) {
        return true;
}

static bool same_class(const PoolRequest *a, const PoolRequest *b) {
        return a->cpu_milli == b->cpu_milli && a->memory_mib == b->memory_mib && a->num_gpu == b->num_gpu &&
                a->gpu_milli == b->gpu_milli && a->models == b->models;
}

/* Whether one pod of the class fits on one empty node of the type. */
static bool fits(const PodClass *c, const NodeType *t) {
        const PoolRequest *r = &c->req;

        if (r->cpu_milli > t->cpu_milli || r->memory_mib > t->memory_mib)
                return false;
        if (r->num_gpu == 0)
                return true;
        if (r->num_gpu > t->n_gpus || t->model < 0)
                return false;
        return r->models == 0 || (r->models & (UINT32_C(1) << t->model));
}

/* Fekete and Schepers' u^(k), k >= 1, of a/b (0 <= a <= b): a/b where (k + 1) a/b is whole, else
 * floor((k + 1) a/b) / k. A dual feasible function. */
static double dff_u(int64_t a, int64_t b, int k) {
        if (((int64_t) (k + 1) * a) % b == 0)
                return (double) a / (double) b;
        return (double) (((int64_t) (k + 1) * a) / b) / k;
}

/* Their U^(eps), 0 < eps <= 1/2, of a/b with eps = e/b: 1 above 1 - eps, 0 below eps, else a/b. */
static double dff_eps(int64_t a, int64_t b, int64_t e) {
        if (a > b - e)
                return 1;
        if (a < e)
                return 0;
        return (double) a / (double) b;
}

typedef struct Matrix {
        int *ia, *ja;
        double *ar;
        size_t n, alloc;
} Matrix;

static int matrix_add(Matrix *m, int row, int col, double v) {
        if (v == 0)
                return 0;
        if (m->n + 1 >= m->alloc) {
                size_t na = m->alloc ? m->alloc * 2 : 4096;
                int *ia = realloc(m->ia, na * sizeof(int)), *ja;
                double *ar;

                if (!ia)
                        return -ENOMEM;
                m->ia = ia;
                ja = realloc(m->ja, na * sizeof(int));
                if (!ja)
                        return -ENOMEM;
                m->ja = ja;
                ar = realloc(m->ar, na * sizeof(double));
                if (!ar)
                        return -ENOMEM;
                m->ar = ar;
                m->alloc = na;
        }
        m->n++; /* GLPK's arrays start at 1 */
        m->ia[m->n] = row;
        m->ja[m->n] = col;
        m->ar[m->n] = v;
        return 0;
}

/* A row "sum over the type's columns of coef(class) * x <= cap"; coef gives each class's weight. */
typedef double (*CoefFn)(const PodClass *c, const NodeType *t, int64_t arg);

static int add_row(TraceBound *b, Matrix *m, const int *col_of, size_t t, CoefFn coef, int64_t arg,
                   double cap) {
        int row = 0, r;

        for (size_t c = 0; c < b->n_classes; c++) {
                int col = col_of[c * b->n_types + t];
                double v;

                if (!col)
                        continue;
                v = coef(&b->classes[c], &b->types[t], arg);
                if (v == 0)
                        continue;
                if (!row) {
                        row = glp_add_rows(b->lp, 1);
                        glp_set_row_bnds(b->lp, row, GLP_UP, 0, cap);
                }
                r = matrix_add(m, row, col, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static double coef_cpu(const PodClass *c, const NodeType *t, int64_t k) {
        return (double) c->req.cpu_milli;
}
static double coef_memory(const PodClass *c, const NodeType *t, int64_t k) {
        return (double) c->req.memory_mib;
}
static double coef_milli(const PodClass *c, const NodeType *t, int64_t k) {
        return (double) c->req.num_gpu * c->req.gpu_milli;
}
/* Per GPU: num_gpu items of gpu_milli / 1000 each. */
static double coef_gpu_u(const PodClass *c, const NodeType *t, int64_t k) {
        return c->req.num_gpu * dff_u(c->req.gpu_milli, POOL_MILLI, (int) k);
}
static double coef_gpu_eps(const PodClass *c, const NodeType *t, int64_t e) {
        return c->req.num_gpu * dff_eps(c->req.gpu_milli, POOL_MILLI, e);
}
/* Per node: one item of the pod's share of the node's CPU, memory or GPU milli. */
static double coef_node_cpu_u(const PodClass *c, const NodeType *t, int64_t k) {
        return dff_u(c->req.cpu_milli, t->cpu_milli, (int) k);
}
static double coef_node_memory_u(const PodClass *c, const NodeType *t, int64_t k) {
        return dff_u(c->req.memory_mib, t->memory_mib, (int) k);
}
static double coef_node_gpu_u(const PodClass *c, const NodeType *t, int64_t k) {
        return dff_u((int64_t) c->req.num_gpu * c->req.gpu_milli, (int64_t) t->n_gpus * POOL_MILLI, (int) k);
}

static int build(TraceBound *b) {
        _cleanup_free_ int *col_of = calloc(b->n_classes * b->n_types + 1, sizeof(int));
        int64_t eps[POOL_MILLI + 1];
        size_t n_eps = 0;
        Matrix m = {};
        int r = 0;

        if (!col_of)
                return -ENOMEM;
        b->lp = glp_create_prob();
        glp_set_obj_dir(b->lp, GLP_MAX);
        for (size_t c = 0; c < b->n_classes; c++) {
                b->classes[c].row = glp_add_rows(b->lp, 1);
                glp_set_row_bnds(b->lp, b->classes[c].row, GLP_UP, 0, 0);
                for (size_t t = 0; t < b->n_types; t++) {
                        int col;

                        if (!fits(&b->classes[c], &b->types[t]))
                                continue;
                        col = glp_add_cols(b->lp, 1);
                        glp_set_col_bnds(b->lp, col, GLP_LO, 0, 0);
                        glp_set_obj_coef(b->lp, col, coef_milli(&b->classes[c], &b->types[t], 0));
                        col_of[c * b->n_types + t] = col;
                        r = matrix_add(&m, b->classes[c].row, col, 1);
                        if (r < 0)
                                goto out;
                }
        }
        /* The thresholds of U^(eps) that the shares make count: a share s <= 1/2 as eps = s
         * (smaller shares count nothing), a share s > 1/2 as eps = 1 - s + 1 milli (s counts 1). */
        for (unsigned s = 1; s < POOL_MILLI; s++) {
                bool seen = false;

                for (size_t c = 0; c < b->n_classes && !seen; c++)
                        seen = b->classes[c].req.num_gpu > 0 && b->classes[c].req.gpu_milli == s;
                if (seen)
                        eps[n_eps++] = s <= POOL_MILLI / 2 ? s : POOL_MILLI - s + 1;
        }
        for (size_t t = 0; t < b->n_types && r >= 0; t++) {
                const NodeType *nt = &b->types[t];
                double gpus = (double) nt->count * nt->n_gpus;

                r = add_row(b, &m, col_of, t, coef_cpu, 0, (double) nt->count * nt->cpu_milli);
                if (r >= 0)
                        r = add_row(b, &m, col_of, t, coef_memory, 0, (double) nt->count * nt->memory_mib);
                if (r >= 0)
                        r = add_row(b, &m, col_of, t, coef_milli, 0, gpus * POOL_MILLI);
                for (int k = 1; k <= 8 && r >= 0; k++)
                        r = add_row(b, &m, col_of, t, coef_gpu_u, k, gpus);
                for (size_t e = 0; e < n_eps && r >= 0; e++)
                        r = add_row(b, &m, col_of, t, coef_gpu_eps, eps[e], gpus);
                for (int k = 1; k <= 4 && r >= 0; k++) {
                        if (nt->cpu_milli > 0)
                                r = add_row(b, &m, col_of, t, coef_node_cpu_u, k, nt->count);
                        if (r >= 0 && nt->memory_mib > 0)
                                r = add_row(b, &m, col_of, t, coef_node_memory_u, k, nt->count);
                        if (r >= 0 && nt->n_gpus > 0)
                                r = add_row(b, &m, col_of, t, coef_node_gpu_u, k, nt->count);
                }
        }
        if (r < 0)
                goto out;
        glp_load_matrix(b->lp, (int) m.n, m.ia, m.ja, m.ar);
        b->rows = (size_t) glp_get_num_rows(b->lp);
        b->cols = (size_t) glp_get_num_cols(b->lp);
out:
        free(m.ia);
        free(m.ja);
        free(m.ar);
        return r;
}

int trace_bound_new(const Pool *p, const PoolRequest *pods, size_t n_pods, TraceBound **ret) {
        TraceBound *b = calloc(1, sizeof(TraceBound));
        int r;

        if (!b)
                return -ENOMEM;
        b->types = calloc(p->n_nodes + 1, sizeof(NodeType));
        b->classes = calloc(n_pods + 1, sizeof(PodClass));
        if (!b->types || !b->classes) {
                trace_bound_free(b);
                return -ENOMEM;
        }
        for (size_t k = 0; k < p->n_nodes; k++) {
                const PoolNode *nd = &p->nodes[k];
                NodeType t = { nd->cpu_milli, nd->memory_mib, nd->n_gpus, nd->n_gpus ? nd->model : -1, 1 };
                size_t j;

                for (j = 0; j < b->n_types; j++)
                        if (b->types[j].cpu_milli == t.cpu_milli && b->types[j].memory_mib == t.memory_mib &&
                            b->types[j].n_gpus == t.n_gpus && b->types[j].model == t.model)
                                break;
                if (j == b->n_types)
                        b->types[b->n_types++] = t;
                else
                        b->types[j].count++;
        }
        for (size_t k = 0; k < n_pods; k++) {
                size_t j;

                if (pods[k].mig) {
                        trace_bound_free(b);
                        return -EOPNOTSUPP;
                }
                for (j = 0; j < b->n_classes; j++)
                        if (same_class(&b->classes[j].req, &pods[k]))
                                break;
                if (j == b->n_classes)
                        b->classes[b->n_classes++] = (PodClass) { .req = pods[k] };
        }
        r = build(b);
        if (r < 0) {
                trace_bound_free(b);
                return r;
        }
        *ret = b;
        return 0;
}

int trace_bound_add(TraceBound *b, const PoolRequest *r) {
        for (size_t c = 0; c < b->n_classes; c++)
                if (same_class(&b->classes[c].req, r)) {
                        b->classes[c].arrived++;
                        glp_set_row_bnds(b->lp, b->classes[c].row, GLP_UP, 0, b->classes[c].arrived);
                        return 0;
                }
        return -ENOENT;
}

int trace_bound_solve(TraceBound *b, double *ret_milli) {
        struct timespec t0, t1;
        glp_smcp parm;
        int r;

        glp_init_smcp(&parm);
        parm.msg_lev = GLP_MSG_OFF;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        r = glp_simplex(b->lp, &parm);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        b->seconds += (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (r != 0 || glp_get_status(b->lp) != GLP_OPT)
                return -EIO;
        *ret_milli = glp_get_obj_val(b->lp);
        return 0;
}

void trace_bound_stats(const TraceBound *b, size_t *ret_rows, size_t *ret_cols, double *ret_seconds) {
        *ret_rows = b->rows;
        *ret_cols = b->cols;
        *ret_seconds = b->seconds;
}

void trace_bound_free(TraceBound *b) {
        if (!b)
                return;
        if (b->lp)
                glp_delete_prob(b->lp);
        free(b->types);
        free(b->classes);
        free(b);
}

#else /* !CONFIG_BENCH_BOUND */

bool trace_bound_available(void) {
        return false;
}

int trace_bound_new(const Pool *p, const PoolRequest *pods, size_t n_pods, TraceBound **ret) {
        return -EOPNOTSUPP;
}

int trace_bound_add(TraceBound *b, const PoolRequest *r) {
        return -EOPNOTSUPP;
}

int trace_bound_solve(TraceBound *b, double *ret_milli) {
        return -EOPNOTSUPP;
}

void trace_bound_stats(const TraceBound *b, size_t *ret_rows, size_t *ret_cols, double *ret_seconds) {
        *ret_rows = *ret_cols = 0;
        *ret_seconds = 0;
}

void trace_bound_free(TraceBound *b) {
}

#endif
