#pragma once

/* The GPU pooler: which node and which GPUs a request gets. A pool is a set of nodes, each with
 * CPUs, memory and GPUs of one model; a GPU is handed out whole or in shares (milli-GPU, a share
 * never spans GPUs). Policies score the nodes a request fits on and the best one wins. The
 * baselines (best-fit, FGD) score as the published simulator does, in whole points; ties go to
 * the node that comes first in the pool's order, which pool_seed() shuffles (the simulator
 * orders its nodes by a random prefix per seed). Pure: no I/O, no logging, no clock, no global
 * state; the same seed and calls give the same placements. Used by arkd for its host and by
 * bench/trace-replay for the Alibaba trace. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/mig.h"

#define POOL_GPUS_MAX 16
#define POOL_MODELS_MAX 32
#define POOL_MILLI 1000 /* a whole GPU */
#define POOL_LEVELS_MAX 64

typedef struct PoolGpu {
        uint16_t milli_left; /* POOL_MILLI = free; 0 while in MIG mode */
        int16_t numa;        /* NUMA node, -1 = unknown (pool_set_topology()) */
        int16_t sw;          /* PCIe switch it is behind, -1 = none or unknown */
        bool mig;            /* partitioned into MIG instances (pool_set_mig()) */
        MigGpu instances;
} PoolGpu;

typedef struct PoolNode {
        const char *name;              /* borrowed */
        int64_t cpu_milli, memory_mib; /* capacity (1000 = one vCPU) */
        int64_t cpu_left, memory_left;
        int model; /* index into Pool.models; -1 = no GPUs */
        unsigned n_gpus;
        PoolGpu gpu[POOL_GPUS_MAX];
        /* Policy caches, valid until the node changes (pool_commit/pool_release). */
        uint32_t version; /* bumped on every change */
        bool cache_valid;
        double frag; /* its fragmentation under the pool's workload (FGD, ark) */
} PoolNode;

/* A node's score for one class of request (CPU, GPU count and milli: what scores depend on),
 * kept until the node changes: a decision rescans the nodes but scores only those changed since
 * the class was last seen. */
typedef struct PoolScore {
        uint32_t version; /* the node's version + 1 when computed; 0 = none */
        uint8_t gpu;      /* the share's GPU */
        double score;
} PoolScore;

typedef struct PoolRequest {
        int64_t cpu_milli, memory_mib;
        unsigned num_gpu;   /* 0: no GPU */
        unsigned gpu_milli; /* per GPU: POOL_MILLI whole, 1..999 a share of one GPU (num_gpu 1) */
        uint32_t models;    /* acceptable models, bit i = Pool.models[i]; 0 = any */
        int8_t mig;         /* 0, or a MIG instance of profile mig - 1 (then num_gpu 1, gpu_milli 0) */
} PoolRequest;

typedef struct PoolPlacement {
        size_t node;
        unsigned n_gpus;             /* as many as the request's num_gpu */
        uint8_t gpus[POOL_GPUS_MAX]; /* GPU indices on the node, ascending */
        uint8_t mig_start;           /* a MIG instance: its first memory slice */
} PoolPlacement;

typedef enum PoolPolicy {
        POOL_POLICY_FIRST_FIT, /* the first node it fits on; the first GPUs that fit */
        POOL_POLICY_BEST_FIT,  /* the node left with the least free resources */
        POOL_POLICY_FGD,       /* fragmentation gradient descent (Weng et al., ATC'23) */
        POOL_POLICY_ARK,       /* Ark's own (docs/pooler.md) */
        _POOL_POLICY_MAX,
        _POOL_POLICY_INVALID = -EINVAL,
} PoolPolicy;

const char *pool_policy_to_string(PoolPolicy p);
PoolPolicy pool_policy_from_string(const char *s);

/* One kind of request the workload is expected to bring, and how often (weights need not add
 * up to 1). FGD and Ark's policy measure fragmentation against it. */
typedef struct PoolShape {
        PoolRequest request;
        double weight;
} PoolShape;

typedef struct Pool {
        PoolNode *nodes;
        size_t n_nodes, n_alloc;
        char *models[POOL_MODELS_MAX];
        size_t n_models;
        PoolShape *shapes;
        size_t n_shapes;
        /* The shapes' distinct GPU milli ("levels", at most POOL_LEVELS_MAX, else none) and each
         * shape's: a node's fragmentation counts its GPUs once per level, not once per shape. */
        uint16_t levels[POOL_LEVELS_MAX];
        size_t n_levels;
        uint8_t *shape_level;
        uint32_t *order;                  /* order[i] = the node scored i-th; NULL = by index */
        double cpu_per_gpu;               /* CPU milli the workload's GPU requests bring per GPU milli */
        double pressure[POOL_MODELS_MAX]; /* per model: how wanted by requests bound to models */
        double cpu_slack;                 /* the pool's CPU per GPU milli, less what the workload's CPU-only
                                 * requests take of it, over cpu_per_gpu (> 1: CPU to spare) */
        PoolRequest *classes;             /* request classes seen (cpu_milli, num_gpu, gpu_milli) */
        size_t n_classes, class_cap;
        PoolScore *scores;        /* n_nodes x class_cap */
        size_t scores_nodes;      /* nodes the score table was made for */
        PoolPolicy scores_policy; /* the policy whose scores it holds */
        bool tuned;               /* pool_tune() chose what POOL_POLICY_ARK places under: */
        PoolPolicy ark_under;     /* POOL_POLICY_ARK = Ark's own keys, else that policy */
} Pool;

/* Puts the nodes in an order drawn from the seed (ties go to the earlier node); seed 0 = by
 * index. Call after the nodes are added. */
int pool_seed(Pool *p, uint64_t seed);

void pool_done(Pool *p);

/* The index of a GPU model by name, added when new. -E2BIG past POOL_MODELS_MAX. */
int pool_model(Pool *p, const char *name);
/* Adds a node (name borrowed; model -1 when it has no GPUs). Returns its index or -errno. */
int pool_add_node(Pool *p, const char *name, int64_t cpu_milli, int64_t memory_mib, int model,
                  unsigned n_gpus);
/* The workload fragmentation is measured against (copied). */
int pool_set_workload(Pool *p, const PoolShape *shapes, size_t n);

/* Whether the request can go on the node at all (CPU, memory, model, GPUs). */
bool pool_node_fits(const Pool *p, const PoolNode *n, const PoolRequest *r);
/* The fragmentation of a node: the GPU milli that the workload's requests, weighted by how
 * often they come, could not use on it (FGD's definition: all of the node's free GPU milli for a
 * request that does not fit for its CPU, model or GPUs, or that wants no GPU; else the free milli
 * of the GPUs too small for it). Memory does not count, as in the published simulator. */
double pool_node_fragmentation(const Pool *p, const PoolNode *n);

/* Where the request should go under the policy. -ENOSPC when it fits nowhere, -EINVAL for a
 * malformed request. The pool is not changed. */
int pool_place(Pool *p, PoolPolicy policy, const PoolRequest *r, PoolPlacement *ret);
/* Where a GPU sits: its NUMA node and PCIe switch (-1 = unknown / none). Whole GPUs are then
 * picked on one NUMA node where possible, behind one switch where possible, from the NUMA node
 * and switch with the fewest free GPUs that suffice (keeping larger groups whole). -EINVAL for
 * no such GPU. */
int pool_set_topology(Pool *p, size_t node, unsigned gpu, int numa, int sw);

/* Puts a free GPU into MIG mode (it then only takes MIG instances) or back. -EOPNOTSUPP for a
 * model without the MIG geometry (mig.h), -EBUSY for a GPU in use, -EINVAL for no such GPU. */
int pool_set_mig(Pool *p, size_t node, unsigned gpu, bool on);

/* Ark's policy is a portfolio: its own keys, FGD and best-fit. pool_tune() replays, on copies
 * of the pool as it is now, streams of requests drawn from the expected distribution (the shapes
 * with their weights, memory included) until they bring the pool's free GPU milli, the same
 * stream under each candidate: `rounds` streams, and more (up to 4 x rounds) while a challenger
 * of FGD gains in the mean but not significantly: by less than Student's t (one-sided 97.5 %)
 * standard errors of the paired differences. From then on POOL_POLICY_ARK places under FGD,
 * unless Ark's keys or best-fit gained significantly; then under the one of those that allocated
 * the most, until pool_untune() or the next pool_tune() (a new workload does not undo it).
 * Deterministic for the same pool, shapes, rounds and seed. Only the pool's state and
 * the distribution are read. With no GPU milli free, or no weight on shapes with GPUs, Ark's keys.
 * -EINVAL for no shapes, a bad or MIG shape, a negative or infinite weight, or rounds outside
 * 1..1000; -E2BIG when a stream would take more than about 2^23 requests; -ENOMEM; the pool is
 * then as it was. */
typedef struct PoolTune {
        PoolPolicy chosen;
        double allocated[_POOL_POLICY_MAX]; /* per candidate: mean GPU milli allocated per round, as a
                                             * share of the free milli (NAN: not a candidate) */
        double margin[_POOL_POLICY_MAX];    /* per challenger of FGD: its mean gain over FGD less t
                                             * standard errors, as a share (> 0: it beat FGD) */
        unsigned rounds;                    /* streams replayed */
        size_t requests;                    /* requests drawn in the last */
} PoolTune;

int pool_tune(Pool *p, const PoolShape *expect, size_t n, unsigned rounds, uint64_t seed, PoolTune *ret);
/* Forgets the tuning: POOL_POLICY_ARK is Ark's own keys again. */
void pool_untune(Pool *p);

/* Every node empty again (what was committed is forgotten; MIG modes stay). */
void pool_reset(Pool *p);
/* Takes / gives back what the placement holds. -EINVAL for a placement that does not match the
 * request or the node, -EBUSY when the node cannot take it, -ENOENT when it does not hold it;
 * nothing changes then. */
int pool_commit(Pool *p, const PoolRequest *r, const PoolPlacement *pl);
int pool_release(Pool *p, const PoolRequest *r, const PoolPlacement *pl);
