#pragma once

/* Choosing which whole GPUs a VM gets: any N free ones, N of a model, or exact devices. Counted
 * requests are placed by the pooler (lib/pool, Ark's policy) with the host as a pool: one pool
 * node per GPU model, each GPU with its NUMA node and PCIe switch. Multi-GPU requests get GPUs of
 * one model, on one NUMA node where possible and behind one switch where possible, from the
 * group with the fewest free GPUs that suffice, so larger groups stay whole for the multi-GPU
 * requests that need them; a single GPU likewise comes from the fullest group. Only a request
 * that no model can hold alone (any model allowed) spans models, the fullest first. Pure (no
 * I/O, deterministic), so it is tested on its own. Nothing here logs. */

#include <stddef.h>

typedef struct GpuCandidate {
        const char *address;     /* "0000:18:00.0" */
        const char *model;       /* "NVIDIA H100 SXM5 80GB" */
        int numa_node;           /* -1 when unknown */
        const char *switch_port; /* upstream port of its PCIe switch, NULL when none */
        const char *blocker;     /* NULL when it can be given out; else why not, one sentence
                                  * ("it is claimed by instance 'x'") */
} GpuCandidate;

typedef struct GpuRequest {
        unsigned count;               /* how many; 0 = as many as `addresses` lists */
        const char *model;            /* case-insensitive substring of the model, NULL = any */
        const char *const *addresses; /* exact devices (NULL-terminated), NULL = any */
} GpuRequest;

#define GPU_SELECT_MAX 64

/* Picks GPUs for `req` among `c` and writes their indices to ret (room for GPU_SELECT_MAX), in
 * address order, with their number in *ret_n. Returns 0, or:
 *   -EINVAL  the request is malformed (count 0 without addresses, more than GPU_SELECT_MAX, a count
 *            that disagrees with the addresses, an address listed twice);
 *   -ENOENT  an exact address is not a GPU here (*ret_index = its index in req->addresses);
 *   -EBUSY   an exact address cannot be given out (*ret_index as above; its blocker says why);
 *   -ENOSPC  fewer usable GPUs (of the model) than asked for (*ret_n = how many there are).
 * ret_index may be NULL. */
int gpu_select(const GpuCandidate *c, size_t n, const GpuRequest *req, size_t ret[static GPU_SELECT_MAX],
               size_t *ret_n, size_t *ret_index);
