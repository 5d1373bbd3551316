#pragma once

/* Borrowing and reclaim of guaranteed GPUs, decided from counts alone (no I/O, deterministic).
 *
 * A tenant's GPU guarantee (its gpus quotas' guarantees) is capacity the host keeps for it. While
 * the tenant does not use it, preemptible instances of other tenants may run on it; an instance
 * that is not preemptible may not, since it could not be given back. When the owner asks for GPUs
 * within its guarantee and too few are free, borrowers are stopped, youngest first, until the
 * request fits. The instance code gathers the numbers and does the stopping. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* GPUs one guarantee still promises: units GPUs of a model ("" = any). */
typedef struct BorrowDemand {
        const char *model; /* whole words of a model name, as in a quota */
        uint64_t units;
} BorrowDemand;

/* Whether every demand can be met at once from `supply` (model names, one per GPU): each unit
 * of each demand with a GPU of its own whose model matches (quota_model_matches()). Exact (a
 * maximum bipartite matching), so an H100 guarantee is not counted as met by the GPUs an
 * any-model one needs. Returns 1 or 0, or -ENOMEM. */
int borrow_demands_met(const BorrowDemand *d, size_t n_demands, const char *const *supply, size_t n_supply);

typedef struct BorrowTenant {
        uint64_t guarantee; /* its GPU guarantees added up */
        uint64_t held;      /* GPUs its instances hold */
} BorrowTenant;

typedef struct BorrowInstance {
        const char *name;
        size_t tenant; /* index into the caller's BorrowTenant table */
        uint64_t created_usec;
        unsigned gpus; /* GPUs it holds */
        bool preemptible;
        bool useful; /* holds a GPU the request at hand could take */
        bool chosen; /* picked by borrow_next_victim() */
} BorrowInstance;

/* Whether i runs on borrowed capacity and may be stopped for an owner: it is preemptible and its
 * tenant holds more GPUs than it is guaranteed. */
bool borrow_is_borrowing(const BorrowInstance *i, const BorrowTenant *tenants);

/* The next instance to stop for a request of tenant `requester`: a borrowing one of another
 * tenant, not chosen yet, holding a GPU the request can take; the youngest (latest created; at
 * equal times the greater name). Marks it chosen and takes its GPUs off its tenant's `held`, so
 * a tenant is never cut below its own guarantee by more than one instance. Returns its index,
 * or -1 when there is none. */
ssize_t borrow_next_victim(BorrowInstance *instances, size_t n, BorrowTenant *tenants, size_t requester);
