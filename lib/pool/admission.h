#pragma once

/* Admission of a request for GPUs, decided on a snapshot: which GPUs it gets (lib/pool/host.h),
 * whether borrowing preemptible instances must be stopped for it first, or why it is refused.
 *
 * The rules (borrow.h has the arithmetic):
 * - the GPUs come from the host pool under the configured policy (exact devices one by one);
 * - when too few are free (or too little CPU or memory beside them) and the requester asks within
 *   its unused GPU guarantee, borrowing preemptible instances of other tenants are picked to be
 *   stopped, youngest first, each one asked about "as if stopped" on the snapshot, until the
 *   request fits; only those whose GPUs the request takes are kept, and the GPUs must all be
 *   within the requester's unused guarantees;
 * - a request that is not preemptible must leave every other tenant's unused guarantee keepable
 *   from the GPUs that are free, lent or about to be freed.
 * - a partition (a MIG instance or a share, for a container) goes where host_pool_place_partition()
 *   puts it, on a GPU that is free (hold ADMISSION_GPU_FREE) and carries no whole-GPU holder; a
 *   partition takes no reclaim (a refusal is not reclaimable), and one that starts on a wholly free
 *   GPU must leave the other tenants' guarantees keepable, as whole GPUs must.
 * Quota limits are not decided here: tenant_admit() checks them once the request's disk is known.
 *
 * It lives in lib/pool with the pool and quota.h and borrow.h, whose types it uses. Pure: no
 * I/O, no logging, no clock; the snapshot is not changed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/host.h"
#include "pool/quota.h"

#define ADMISSION_NONE SIZE_MAX

typedef struct AdmissionTenant {
        const char *name;
        const Quota *quotas;
        size_t n_quotas;
        QuotaUsage usage;      /* what its instances and its calls waiting on a reclaim use */
        uint64_t pending_gpus; /* GPUs its calls waiting on a reclaim will take */
} AdmissionTenant;

typedef struct AdmissionInstance {
        const char *name;
        size_t tenant; /* index into the tenants; ADMISSION_NONE = not known */
        unsigned vcpus;
        uint64_t memory_bytes;
        uint64_t created_usec;
        unsigned n_gpus; /* GPUs it holds */
        bool preemptible;
        bool preempting; /* being stopped for a reclaim already: its GPUs are spoken for */
} AdmissionInstance;

typedef enum AdmissionHold {
        ADMISSION_GPU_FREE,
        ADMISSION_GPU_CLAIMED,  /* held by an instance */
        ADMISSION_GPU_KEPT,     /* kept for a call waiting on a reclaim */
        ADMISSION_GPU_RESERVED, /* for the host */
        ADMISSION_GPU_QUARANTINED,
        ADMISSION_GPU_CONFLICT,  /* a domain holds it outside Ark's claims */
        ADMISSION_GPU_NOT_READY, /* cannot be passed through (unhealthy, its IOMMU group, ...) */
        _ADMISSION_HOLD_MAX,
} AdmissionHold;

typedef struct AdmissionGpu {
        const char *address; /* the GPUs are given in address order */
        const char *model;
        int numa_node;
        const char *switch_port;
        AdmissionHold hold;
        const char *why; /* not free: one sentence ("0000:18:00.0 (H100) is claimed by instance 'a'") */
        size_t holder;   /* the instance holding it (also when reserved or quarantined since);
                          * ADMISSION_NONE = none */
        bool free_if_released;        /* held: it could be given out once its holder lets it go */
        const char *const *functions; /* its device's other functions (NULL-terminated; may be NULL) */
        /* Partitions (containers). A GPU carrying them is ADMISSION_GPU_FREE with holder NONE (it is
         * held by no one whole) unless it cannot be given out at all; it is then never given whole. */
        uint64_t memory_bytes;           /* its memory; 0 = unknown (it takes no share) */
        bool mig;                        /* in MIG mode */
        MigGpu instances;                /* mig: its MIG instances */
        HostShares shares;               /* its shares (one tenant's, one size; tenant by name) */
        const size_t *partition_holders; /* the instances holding its partitions (their CPU and memory
                                          * are booked beside it) */
        size_t n_partition_holders;
} AdmissionGpu;

typedef struct AdmissionSnapshot {
        const AdmissionTenant *tenants;
        size_t n_tenants;
        const AdmissionInstance *instances;
        size_t n_instances;
        const AdmissionGpu *gpus;
        size_t n_gpus;
        const HostNuma *numa;
        size_t n_numa;
        const PoolWorkload *workload; /* NULL = the default */
        PoolPolicy policy;
        uint64_t seed;
} AdmissionSnapshot;

typedef struct AdmissionRequest {
        size_t tenant; /* index into the tenants */
        unsigned vcpus;
        uint64_t memory_bytes;
        unsigned count;               /* GPUs; 0: as many as `addresses` lists, or one of `model` */
        const char *model;            /* case-insensitive substring, NULL = any */
        const char *const *addresses; /* exact devices (NULL-terminated), NULL = any */
        size_t instance;              /* GPUs added to this instance (its CPU and memory are booked with
                                       * the GPUs it has); ADMISSION_NONE = a new instance */
        bool preemptible;
        bool may_reclaim; /* the caller can wait for victims to stop */
        /* A partition instead of whole GPUs (count 0, no model-less addresses): */
        unsigned share_milli;  /* a share of one GPU, 1..999, for the requester's tenant */
        uint64_t share_memory; /* its GPU memory (> 0) */
        bool mig;              /* a MIG instance of mig_profile */
        MigProfile mig_profile;
} AdmissionRequest;

typedef enum AdmissionVerdict {
        ADMISSION_PLACE,   /* take `gpus` now */
        ADMISSION_RECLAIM, /* stop `victims`, then take `gpus` */
        ADMISSION_REFUSE,
} AdmissionVerdict;

typedef enum AdmissionRefusal {
        ADMISSION_OK,
        ADMISSION_INVALID,     /* malformed (an address twice, a count that disagrees) */
        ADMISSION_NOT_FOUND,   /* an address is no GPU here */
        ADMISSION_IN_USE,      /* an exact GPU is claimed, reserved, quarantined or kept */
        ADMISSION_NOT_READY,   /* an exact GPU cannot be passed through */
        ADMISSION_NO_CAPACITY, /* no GPU of the model; too few free; not on one NUMA node; CPU or
                                * memory short */
        ADMISSION_GUARANTEED,  /* the free GPUs are guaranteed to other tenants */
        ADMISSION_UNSUPPORTED, /* a MIG profile on a host whose GPUs (of the model) have no MIG */
} AdmissionRefusal;

typedef struct AdmissionDecision {
        AdmissionVerdict verdict;
        size_t gpus[HOST_GPUS_MAX]; /* PLACE, RECLAIM: the GPUs (indices, by address) */
        size_t n_gpus;
        /* PLACE of a partition: its GPU is gpus[0] (n_gpus 1). */
        bool partition;
        unsigned mig_start;   /* MIG: the instance's first memory slice */
        bool mig_enable;      /* MIG: put gpus[0] in MIG mode first (it is wholly free) */
        unsigned share_milli; /* a share: its milli-GPU and memory (as asked) */
        uint64_t share_memory;
        size_t *victims; /* RECLAIM: instances to stop, in the order picked (malloc'd) */
        size_t n_victims;
        AdmissionRefusal refusal;
        bool reclaimable;   /* REFUSE: only GPUs held by instances are missing */
        char message[1536]; /* REFUSE: the sentence for the user */
} AdmissionDecision;

void admission_decision_done(AdmissionDecision *d);

/* Decides the request on the snapshot. Returns 0 with the decision in *ret (free it with
 * admission_decision_done()), or -EINVAL for a tenant or instance index out of range, -ENOMEM. */
int admission_decide(const AdmissionSnapshot *s, const AdmissionRequest *req, AdmissionDecision *ret);

/* GPUs of the tenant's guarantees it does not use now (each counted up to what its GPUs use). */
uint64_t admission_unused_guarantee(const AdmissionTenant *t);
