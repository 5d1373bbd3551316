/* Borrowing and reclaim: see borrow.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "pool/borrow.h"
#include "pool/quota.h"

typedef struct Matching {
        const BorrowDemand *d;
        const char *const *supply;
        size_t n_supply;
        size_t *unit_demand; /* unit -> its demand */
        ssize_t *owner;      /* GPU -> the unit it serves, -1 = none */
        bool *seen;
} Matching;

/* One augmenting path from unit u (Kuhn's algorithm). The depth is at most the number of units,
 * which is at most the number of GPUs. */
static bool augment(Matching *mt, size_t u) {
        const char *want = mt->d[mt->unit_demand[u]].model;

        for (size_t g = 0; g < mt->n_supply; g++) {
                if (mt->seen[g] || !quota_model_matches(mt->supply[g] ?: "", want))
                        continue;
                mt->seen[g] = true;
                if (mt->owner[g] < 0 || augment(mt, (size_t) mt->owner[g])) {
                        mt->owner[g] = (ssize_t) u;
                        return true;
                }
        }
        return false;
}

static void matching_done(Matching *mt) {
        free(mt->unit_demand);
        free(mt->owner);
        free(mt->seen);
}

int borrow_demands_met(const BorrowDemand *d, size_t n_demands, const char *const *supply, size_t n_supply) {
        _cleanup_(matching_done) Matching mt = { .d = d, .supply = supply, .n_supply = n_supply };
        uint64_t total = 0;
        size_t u = 0;

        for (size_t k = 0; k < n_demands; k++) {
                if (d[k].units > n_supply)
                        return 0;
                total += d[k].units;
                if (total > n_supply)
                        return 0;
        }
        if (total == 0)
                return 1;
        mt.unit_demand = calloc(total, sizeof(size_t));
        mt.owner = calloc(n_supply, sizeof(ssize_t));
        mt.seen = calloc(n_supply, sizeof(bool));
        if (!mt.unit_demand || !mt.owner || !mt.seen)
                return -ENOMEM;
        for (size_t k = 0; k < n_demands; k++)
                for (uint64_t j = 0; j < d[k].units; j++)
                        mt.unit_demand[u++] = k;
        for (size_t g = 0; g < n_supply; g++)
                mt.owner[g] = -1;
        for (u = 0; u < total; u++) {
                memset(mt.seen, 0, n_supply * sizeof(bool));
                if (!augment(&mt, u))
                        return 0;
        }
        return 1;
}

bool borrow_is_borrowing(const BorrowInstance *i, const BorrowTenant *tenants) {
        return i->preemptible && i->gpus > 0 && tenants[i->tenant].held > tenants[i->tenant].guarantee;
}

ssize_t borrow_next_victim(BorrowInstance *in, size_t n, BorrowTenant *tenants, size_t requester) {
        ssize_t best = -1;

        for (size_t k = 0; k < n; k++) {
                const BorrowInstance *i = &in[k];

                if (i->chosen || !i->useful || i->tenant == requester || !borrow_is_borrowing(i, tenants))
                        continue;
                if (best < 0 || i->created_usec > in[best].created_usec ||
                    (i->created_usec == in[best].created_usec && strcmp(i->name, in[best].name) > 0))
                        best = (ssize_t) k;
        }
        if (best >= 0) {
                BorrowTenant *t = &tenants[in[best].tenant];

                in[best].chosen = true;
                t->held -= in[best].gpus < t->held ? in[best].gpus : t->held;
        }
        return best;
}
