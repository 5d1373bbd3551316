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

typedef struct HostGpu {
        const char *address;     /* "0000:18:00.0" */
        const char *model;       /* NULL = unknown (matches any-model requests only) */
        int numa_node;           /* -1 = unknown */
        const char *switch_port; /* upstream port of its PCIe switch, NULL = none */
        bool blocked;            /* cannot be given out now (claimed, reserved, not ready, ...) */
        bool held;               /* held by an instance: it comes back when that lets it go */
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
 * `numa`: nodes as above, blocked GPUs taken, the workload set (w; NULL = the default), nodes
 * ordered by `seed` (pool_seed(); 0 = by index). -EINVAL for a NULL address, -ENOMEM, -E2BIG for
 * more than POOL_MODELS_MAX models. */
int host_pool_make(HostPool *h, const HostGpu *gpus, size_t n, const HostNuma *numa, size_t n_numa,
                   const PoolWorkload *w, uint64_t seed);
void host_pool_done(HostPool *h);

/* Books an instance that holds the GPUs gpus[0..n) (indices into the pool's GPUs): its CPU
 * (milli) and memory (MiB) on the node of its first GPU (by address), and the GPUs that are not
 * taken yet. -EINVAL for an index out of range. */
int host_pool_occupy(HostPool *h, int64_t cpu_milli, int64_t memory_mib, const size_t *gpus, size_t n);

typedef struct HostRequest {
        int64_t cpu_milli, memory_mib;
        unsigned count;    /* whole GPUs, 1..HOST_GPUS_MAX */
        const char *model; /* case-insensitive substring of the model, NULL = any */
} HostRequest;

typedef enum HostShort {
        HOST_SHORT_GPUS,       /* fewer free GPUs (of the model) than asked for */
        HOST_SHORT_SPREAD,     /* enough free, but no node has them together */
        HOST_SHORT_CPU_MEMORY, /* nodes have the GPUs free, but not the CPU or memory */
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

/* Exact devices: the GPUs at `addresses` (NULL-terminated), by address, in ret. Returns 0, or
 *   -EINVAL  none listed, more than HOST_GPUS_MAX, one listed twice, or `count` (0 = any) not
 *            their number;
 *   -ENOENT  an address is not one of the GPUs (*ret_index = its index in `addresses`);
 *   -EBUSY   it is blocked (*ret_index likewise).
 * ret_index may be NULL. */
int host_gpus_exact(const HostGpu *gpus, size_t n, const char *const *addresses, unsigned count,
                    size_t ret[static HOST_GPUS_MAX], size_t *ret_n, size_t *ret_index);
