#pragma once

/* Tenant quotas: per resource a guaranteed amount and a limit, and the arithmetic of admission.
 * Pure (no I/O): usage is what the caller adds up from the instances. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum QuotaResource {
        QUOTA_GPUS,       /* whole GPUs (count); with a model: GPUs whose model contains it */
        QUOTA_GPU_MEMORY, /* bytes of GPU memory */
        QUOTA_VCPUS,
        QUOTA_MEMORY, /* bytes */
        QUOTA_DISK,   /* bytes */
        QUOTA_INSTANCES,
        QUOTA_NETWORKS, /* tenant networks */
        QUOTA_FORWARDS, /* ports of the host forwarded to the tenant's instances */
        _QUOTA_RESOURCE_MAX,
        _QUOTA_RESOURCE_INVALID = -22,
} QuotaResource;

/* "gpus", "gpu-memory", "vcpus", "memory", "disk", "instances", "networks", "forwards" and back. */
const char *quota_resource_to_string(QuotaResource r);
QuotaResource quota_resource_from_string(const char *s);
/* Whether amounts of the resource are bytes (shown and parsed as sizes). */
bool quota_resource_is_bytes(QuotaResource r);

#define QUOTA_UNLIMITED UINT64_MAX

typedef struct Quota {
        QuotaResource resource;
        char model[64];     /* QUOTA_GPUS only: "" = any GPU, else whole words of a model name ("H100") */
        uint64_t guarantee; /* 0 = none */
        uint64_t limit;     /* QUOTA_UNLIMITED = none */
} Quota;

/* What a tenant uses, or what a request adds. */
typedef struct QuotaUsage {
        uint64_t amount[_QUOTA_RESOURCE_MAX];
        /* GPUs by model: the model names of the GPUs, one entry per GPU (borrowed strings). */
        const char *const *gpu_models;
        size_t n_gpu_models;
} QuotaUsage;

/* Whether `want` occurs in `model` as whole words, case-insensitively ("H100" matches "NVIDIA H100
 * SXM5 80GB", "A10" does not match "NVIDIA A100"); "" matches every model. */
bool quota_model_matches(const char *model, const char *want);

/* How much of `q`'s resource `u` uses (for a model quota: the GPUs whose model matches). */
uint64_t quota_used(const Quota *q, const QuotaUsage *u);

/* Whether `used` plus `request` stays within every limit of `quotas`. Returns 0, or -EDQUOT with
 * the first quota exceeded in *ret_index and what it would come to in *ret_total. */
int quota_admit(const Quota *quotas, size_t n, const QuotaUsage *used, const QuotaUsage *request,
                size_t *ret_index, uint64_t *ret_total);
