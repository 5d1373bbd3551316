#pragma once

/* The workload a pool expects, as an admin writes it: a CSV file with the header
 *
 *     cpu_milli,num_gpu,gpu_milli,gpu_spec,weight
 *
 * and one line per kind of request (gpu_spec: model names joined by '|', as the pool names
 * them; empty = any model; weight > 0, how often it comes, relative to the others). Blank lines
 * and lines starting with '#' are skipped. FGD and Ark's policy measure fragmentation against it
 * (pool.h). Pure: no I/O, no logging. */

#include <stddef.h>
#include <stdint.h>

typedef struct Pool Pool;

#define POOL_WORKLOAD_SHAPES_MAX 100000
#define POOL_WORKLOAD_SPEC_MAX 255

typedef struct PoolWorkloadShape {
        int64_t cpu_milli;
        unsigned num_gpu;
        unsigned gpu_milli; /* per GPU: 1000 whole, 1..999 a share of one GPU (num_gpu 1) */
        char *spec;         /* "V100M16|V100M32"; "" = any model */
        double weight;
} PoolWorkloadShape;

typedef struct PoolWorkload {
        PoolWorkloadShape *shapes;
        size_t n_shapes;
} PoolWorkload;

void pool_workload_done(PoolWorkload *w);

/* Parses `size` bytes of `text` (file `name`, for messages). Returns 0 and the shapes in their
 * order in *ret (the caller frees it with pool_workload_done()), or -EINVAL with a sentence
 * naming the file, line and field in *ret_error (malloc'd; may be NULL), or -ENOMEM. */
int pool_workload_parse(const char *name, const char *text, size_t size, PoolWorkload *ret,
                        char **ret_error);

/* The workload arkd assumes when none is configured: whole-GPU VMs of 1, 2, 4 and 8 GPUs of
 * any model, equally often, asking no CPU (the pool then weighs GPUs alone). */
int pool_workload_default(PoolWorkload *ret);

/* The pool's models a gpu_spec accepts, as a PoolRequest.models mask: names matched exactly;
 * names the pool lacks add nothing; a spec naming none of the pool's models gets bit 31, which
 * no node has (so the shape fits nowhere). 0 for "" (any). */
uint32_t pool_spec_mask(const Pool *p, const char *spec);

/* Sets the pool's workload (pool_set_workload()) from w, the specs matched to the pool's models
 * as pool_spec_mask() does. Call after the nodes are added. -ENOMEM. */
int pool_workload_apply(Pool *p, const PoolWorkload *w);
