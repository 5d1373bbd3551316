/* bench/bound: an offline upper bound on the GPU milli that any placement of a set of arrivals can
 * allocate on a pool (docs/pooler.md, "The bound"). An LP relaxation, solved with GLPK, of the
 * packing of the arrived pods onto the pool's nodes, aggregated by node type and pod class.
 *
 * Every feasible placement of any subset of the arrivals (a policy's, online, included) satisfies
 * the LP's constraints, so the LP's optimum is at least the GPU milli that any placement allocates:
 * 100 - optimum / capacity is a lower bound on the unallocated GPU %.
 *
 * Built only with CONFIG_BENCH_BOUND (GLPK); without it, trace_bound_new() returns -EOPNOTSUPP. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pool/pool.h"

typedef struct TraceBound TraceBound;

/* Whether the bound is built in (GLPK). */
bool trace_bound_available(void);

/* The LP for the pool's nodes (their capacities, not what is left) and the classes of the requests
 * in pods (every request that may arrive; equal CPU, memory, GPU count, milli and models are one
 * class). No request has arrived yet. MIG requests are refused (-EOPNOTSUPP), as is everything
 * without GLPK. */
int trace_bound_new(const Pool *p, const PoolRequest *pods, size_t n_pods, TraceBound **ret);

/* One more arrival of r, which must be of a class given to trace_bound_new() (-ENOENT if not). */
int trace_bound_add(TraceBound *b, const PoolRequest *r);

/* The LP optimum for the arrivals so far: no placement of them allocates more GPU milli. Warm
 * starts from the previous solve. -EIO when the solver fails. */
int trace_bound_solve(TraceBound *b, double *ret_milli);

/* The LP's size, and the CPU seconds spent in the solver so far. */
void trace_bound_stats(const TraceBound *b, size_t *ret_rows, size_t *ret_cols, double *ret_seconds);

void trace_bound_free(TraceBound *b);
