/* Quota arithmetic; see quota.h. */

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "basic/macro.h"
#include "pool/quota.h"

static const char *const resource_table[_QUOTA_RESOURCE_MAX] = {
        [QUOTA_GPUS] = "gpus",         [QUOTA_GPU_MEMORY] = "gpu-memory",
        [QUOTA_VCPUS] = "vcpus",       [QUOTA_MEMORY] = "memory",
        [QUOTA_DISK] = "disk",         [QUOTA_INSTANCES] = "instances",
        [QUOTA_NETWORKS] = "networks", [QUOTA_FORWARDS] = "forwards",
};

const char *quota_resource_to_string(QuotaResource r) {
        if (r < 0 || r >= _QUOTA_RESOURCE_MAX)
                return NULL;
        return resource_table[r];
}

QuotaResource quota_resource_from_string(const char *s) {
        for (size_t k = 0; s && k < ELEMENTSOF(resource_table); k++)
                if (strcmp(s, resource_table[k]) == 0)
                        return (QuotaResource) k;
        return _QUOTA_RESOURCE_INVALID;
}

bool quota_resource_is_bytes(QuotaResource r) {
        return r == QUOTA_GPU_MEMORY || r == QUOTA_MEMORY || r == QUOTA_DISK;
}

bool quota_model_matches(const char *model, const char *want) {
        size_t lw;

        if (!want || !*want)
                return true;
        lw = strlen(want);
        for (const char *p = model; p && *p; p++)
                if ((p == model || !isalnum((unsigned char) p[-1])) && strncasecmp(p, want, lw) == 0 &&
                    !isalnum((unsigned char) p[lw]))
                        return true;
        return false;
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b) {
        return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

uint64_t quota_used_fine(const Quota *q, const QuotaUsage *u) {
        uint64_t n = 0;

        if (q->resource != QUOTA_GPUS)
                return u->amount[q->resource];
        if (q->model[0] == 0)
                return add_sat(mul_sat(u->amount[QUOTA_GPUS], QUOTA_MILLI_GPU), u->gpu_milli);
        for (size_t k = 0; k < u->n_gpu_models; k++)
                if (quota_model_matches(u->gpu_models[k], q->model))
                        n += u->gpu_milli_of ? u->gpu_milli_of[k] : QUOTA_MILLI_GPU;
        return n;
}

/* Milli-GPUs back to GPUs, rounded up. */
static uint64_t coarse(const Quota *q, uint64_t fine) {
        if (q->resource != QUOTA_GPUS)
                return fine;
        return fine / QUOTA_MILLI_GPU + (fine % QUOTA_MILLI_GPU != 0);
}

uint64_t quota_used(const Quota *q, const QuotaUsage *u) {
        return coarse(q, quota_used_fine(q, u));
}

int quota_admit(const Quota *quotas, size_t n, const QuotaUsage *used, const QuotaUsage *request,
                size_t *ret_index, uint64_t *ret_total) {
        for (size_t k = 0; k < n; k++) {
                const Quota *q = &quotas[k];
                uint64_t have = quota_used_fine(q, used), want = quota_used_fine(q, request), total;

                if (want == 0 || q->limit == QUOTA_UNLIMITED)
                        continue;
                total = add_sat(have, want);
                if (total > (q->resource == QUOTA_GPUS ? mul_sat(q->limit, QUOTA_MILLI_GPU) : q->limit)) {
                        if (ret_index)
                                *ret_index = k;
                        if (ret_total)
                                *ret_total = coarse(q, total);
                        return -EDQUOT;
                }
        }
        return 0;
}
