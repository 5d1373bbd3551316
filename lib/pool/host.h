#pragma once

/* One host as a pool (pool.h), for arkd: which whole GPUs a VM gets.
 *
 * - One pool node per (NUMA node, GPU model) group of the host's GPUs, split every POOL_GPUS_MAX
 *   GPUs; nodes ordered by the lowest PCI address of their GPUs, GPUs within a node in address
 *   order, each with its NUMA node and PCIe switch (pool_set_topology()).
 * - A node has its NUMA node's CPUs (x 1000 milli) and memory (MiB). A NUMA node whose GPUs
 *   form several groups (two models, or more than POOL_GPUS_MAX GPUs) shares its CPU and memory
 *   among them in proportion to their GPUs (rounded down; what rounding leaves goes to the first
 *   of them). GPUs on an unknown NUMA node (-1, or one the host's list lacks) form groups of
 *   their own with unlimited CPU and memory. The CPUs of NUMA nodes without GPUs are not in
 *   the pool: VMs without GPUs are not placed by the pooler and take no node's CPU.
 * - Occupancy: each instance holding GPUs takes its CPU and memory from the node of its first
 *   GPU (in address order), and its GPUs. GPUs that cannot be given out are taken. A node
 *   booked beyond its CPU or memory (a VM spanning nodes, below) counts as full.
 * - A request for N whole GPUs (of models whose name contains a substring, or any) goes where
 *   pool_place() puts it under the policy, with its CPU and memory. When no node has N GPUs of
 *   an accepted model at all (an 8-GPU VM on a host with 4 GPUs per NUMA node), the GPUs span
 *   nodes: as many as the fullest node has free, again and again, without CPU or memory checked
 *   per node. A request some node could hold, but none holds now, is refused.
 * - A node whose GPUs share one NUMA node and have no switch places exactly as a node without
 *   topology, so arkd places as bench/trace-replay does.
 * - Partitions, for containers (host_pool_place_partition()): a GPU in MIG mode carries MIG
 *   instances only, and a GPU that carries shares carries those of one tenant, all of one size
 *   (docs/gpu-sharing.md: MPS runs one server per UID at a time with one limit per server). A GPU
 *   with a partition (or in MIG mode) is never given whole; a GPU given whole (blocked) takes no
 *   partition. The pool holds a GPU's MIG instances as they are and its shares as the milli-GPU
 *   they take, so whole GPUs and partitions are placed by pool_place() on one pool.
 *
 * Pure: no I/O, no logging, deterministic. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/pool.h"
#include "pool/workload.h"

#define HOST_GPUS_MAX 64
#define HOST_UNLIMITED (INT64_C(1) << 40)

typedef struct HostNuma {
        int id;
        unsigned n_cpus;
        uint64_t memory_bytes;
} HostNuma;

/* The shares given out on a GPU: n of one size, of one tenant. */
typedef struct HostShares {
        const char *tenant;    /* whose they are */
        unsigned n;            /* 0 = none */
        unsigned milli;        /* each one's milli-GPU, 1..999 */
        uint64_t memory_bytes; /* each one's GPU memory */
} HostShares;

typedef struct HostGpu {
        const char *address;     /* "0000:18:00.0" */
        const char *model;       /* NULL = unknown (matches any-model requests only) */
        int numa_node;           /* -1 = unknown */
        const char *switch_port; /* upstream port of its PCIe switch, NULL = none */
        bool blocked;            /* cannot be given out now (claimed, reserved, not ready, ...), whole
                                  * or in partitions; its partitions below are then not looked at */
        bool held;               /* held by an instance: it comes back when that lets it go */
        uint64_t memory_bytes;   /* its memory; 0 = unknown (it then takes no share) */
        bool mig;                /* in MIG mode (only on models mig_model_supported() accepts) */
        MigGpu instances;        /* mig: the MIG instances on it */
        HostShares shares;       /* not mig: the shares on it */
} HostGpu;

typedef struct HostPool {
        Pool pool;
        const HostGpu *gpus; /* borrowed */
        size_t n_gpus;
        size_t *order; /* the GPUs by address */
        size_t *slot;  /* GPU -> node * POOL_GPUS_MAX + index on the node */
        size_t *at;    /* node * POOL_GPUS_MAX + index -> GPU */
        char **names;  /* the nodes' names ("numa0 NVIDIA H100 SXM5 80GB") */
} HostPool;

/* Makes the pool of `gpus` (borrowed until host_pool_done()) on a host with the NUMA nodes
 * `numa`: nodes as above, blocked GPUs taken, the partitions of the others taken (MIG mode and
 * instances, shares), the workload set (w; NULL = the default), nodes ordered by `seed`
 * (pool_seed(); 0 = by index). -EINVAL for a NULL address or partitions that cannot be (shares
 * beyond the GPU, an instance overlapping another), -EOPNOTSUPP for MIG mode on a model without
 * the geometry, -ENOMEM, -E2BIG for more than POOL_MODELS_MAX models. */
int host_pool_make(HostPool *h, const HostGpu *gpus, size_t n, const HostNuma *numa, size_t n_numa,
                   const PoolWorkload *w, uint64_t seed);
void host_pool_done(HostPool *h);

/* Books an instance that holds the GPUs gpus[0..n) (indices into the pool's GPUs): its CPU
 * (milli) and memory (MiB) on the node of its first GPU (by address), and the GPUs that are not
 * taken yet. An instance holding a partition passes the partition's GPU: its CPU and memory are
 * booked there, and the GPU (partitioned, so not free whole) is not taken. -EINVAL for an index
 * out of range. */
int host_pool_occupy(HostPool *h, int64_t cpu_milli, int64_t memory_mib, const size_t *gpus, size_t n);

typedef struct HostRequest {
        int64_t cpu_milli, memory_mib;
        unsigned count;    /* whole GPUs, 1..HOST_GPUS_MAX; 0 for a partition */
        const char *model; /* case-insensitive substring of the model, NULL = any */
        /* A partition (host_pool_place_partition()): a share or a MIG instance. */
        unsigned share_milli;  /* a share of one GPU, 1..999 */
        uint64_t share_memory; /* the share's GPU memory, > 0 */
        const char *tenant;    /* whose share: it joins only that tenant's shares */
        bool mig;              /* a MIG instance of mig_profile */
        MigProfile mig_profile;
} HostRequest;

typedef enum HostShort {
        HOST_SHORT_GPUS,         /* fewer free GPUs (of the model) than asked for; none of the model */
        HOST_SHORT_SPREAD,       /* enough free, but no node has them together */
        HOST_SHORT_CPU_MEMORY,   /* nodes have the GPUs (room for the partition), but not the CPU or
                                  * memory */
        HOST_SHORT_MIG_MODEL,    /* no GPU of the model has the MIG geometry */
        HOST_SHORT_MIG_ROOM,     /* no GPU in MIG mode has room for the profile, and no GPU that could
                                  * be put in MIG mode is wholly free */
        HOST_SHORT_SHARE_MEMORY, /* GPUs the share could join or start on, but none with its memory
                                  * left */
        HOST_SHORT_SHARE_JOIN,   /* no GPU the share could join (another tenant's shares, shares of
                                  * another size, full) and none wholly free */
} HostShort;

/* Why a request was refused (-ENOSPC). */
typedef struct HostShortage {
        HostShort why;
        unsigned free_gpus;            /* free GPUs of the accepted models */
        unsigned most_on_node;         /* the most of them free on one node */
        bool cpu, memory;              /* HOST_SHORT_CPU_MEMORY: no node with the GPUs free has the CPU
                                        * (memory) asked for */
        int64_t cpu_left, memory_left; /* the most CPU (milli) and memory (MiB) left on such a node */
} HostShortage;

/* Where the request goes under `policy`: the GPUs' indices (into the pool's GPUs, by address)
 * in ret, their number in *ret_n. Returns 0, -EINVAL for a malformed request, -ENOSPC when it
 * does not fit (*ret_short says why; may be NULL), -ENOMEM. The pool is not changed. */
int host_pool_place(HostPool *h, PoolPolicy policy, const HostRequest *req, size_t ret[static HOST_GPUS_MAX],
                    size_t *ret_n, HostShortage *ret_short);

/* Where a partition goes. */
typedef struct HostPartition {
        size_t gpu;         /* index into the pool's GPUs */
        unsigned mig_start; /* MIG: the instance's first memory slice (mig_choose() on that GPU) */
        bool mig_enable;    /* MIG: the GPU is wholly free and not in MIG mode yet: put it in MIG mode
                             * first */
} HostPartition;

/* Where a partition (req->count 0, and a share or a MIG instance) goes under `policy`:
 * - a MIG instance: pool_place() of it among the GPUs in MIG mode (of the models accepted that
 *   have the geometry); when none has room, the GPU pool_place() picks for one whole GPU of those
 *   models, put in MIG mode (mig_enable), and the instance placed there;
 * - a share: pool_place() of its milli-GPU among the GPUs it may go on: wholly free ones with the
 *   memory, and those carrying shares of the same tenant and size with its memory left beside
 *   them ((n + 1) x memory within the GPU's), the others held back while it is placed.
 * CPU and memory go on the GPU's node, as for whole GPUs. Returns 0, -EINVAL for a malformed
 * request, -ENOSPC (*ret_short says why; may be NULL), -ENOMEM. The pool is not changed. */
int host_pool_place_partition(HostPool *h, PoolPolicy policy, const HostRequest *req, HostPartition *ret,
                              HostShortage *ret_short);

/* Whether the GPU carries partitions (is in MIG mode, or has shares): it cannot be given whole. */
bool host_gpu_partitioned(const HostGpu *g);

/* Exact devices: the GPUs at `addresses` (NULL-terminated), by address, in ret. Returns 0, or
 *   -EINVAL  none listed, more than HOST_GPUS_MAX, one listed twice, or `count` (0 = any) not
 *            their number;
 *   -ENOENT  an address is not one of the GPUs (*ret_index = its index in `addresses`);
 *   -EBUSY   it is blocked or partitioned (*ret_index likewise).
 * ret_index may be NULL. */
int host_gpus_exact(const HostGpu *gpus, size_t n, const char *const *addresses, unsigned count,
                    size_t ret[static HOST_GPUS_MAX], size_t *ret_n, size_t *ret_index);
