#pragma once

/* Tenant quotas: per resource a guaranteed amount and a limit, and the arithmetic of admission.
 * Pure (no I/O): usage is what the caller adds up from the instances. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum QuotaResource {
        QUOTA_GPUS,       /* GPUs (count; partitions count fractions, in milli-GPUs internally); with a
                           * model: GPUs whose model contains it */
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

/* QUOTA_GPUS amounts in milli-GPUs: a share counts its gpu_milli, a MIG slice its compute over 7
 * (mig_profile_milli()), a whole GPU 1000. */
#define QUOTA_MILLI_GPU 1000

/* What a tenant uses, or what a request adds. */
typedef struct QuotaUsage {
        uint64_t amount[_QUOTA_RESOURCE_MAX]; /* QUOTA_GPUS: whole GPUs (partitions: gpu_milli) */
        /* GPUs by model: the model names of the GPUs and partitions, one entry per GPU or partition
         * (borrowed strings). */
        const char *const *gpu_models;
        size_t n_gpu_models;
        /* Partitions (shares, MIG slices) beside the whole GPUs: their milli-GPUs together, and for
         * each gpu_models entry its milli-GPUs (QUOTA_MILLI_GPU for a whole GPU; NULL = every entry
         * is a whole GPU). A partition's GPU memory goes into amount[QUOTA_GPU_MEMORY] as a whole
         * GPU's does: a share's memory_bytes, a slice's mig_profile_memory(). */
        uint64_t gpu_milli;
        const uint16_t *gpu_milli_of;
} QuotaUsage;

/* Whether `want` occurs in `model` as whole words, case-insensitively ("H100" matches "NVIDIA H100
 * SXM5 80GB", "A10" does not match "NVIDIA A100"); "" matches every model. */
bool quota_model_matches(const char *model, const char *want);

/* How much of `q`'s resource `u` uses (for a model quota: the GPUs whose model matches), in the
 * quota's units: GPUs rounded up (2.25 GPUs of partitions count 3). */
uint64_t quota_used(const Quota *q, const QuotaUsage *u);
/* The same exactly: milli-GPUs for QUOTA_GPUS (whole GPUs x 1000 plus the partitions), the amount
 * for the other resources. */
uint64_t quota_used_fine(const Quota *q, const QuotaUsage *u);

/* Whether `used` plus `request` stays within every limit of `quotas`, GPUs compared in milli-GPUs
 * (a limit of 1 GPU holds four 0.25 shares, not five). Returns 0, or -EDQUOT with the first quota
 * exceeded in *ret_index and what it would come to in *ret_total (GPUs rounded up). */
int quota_admit(const Quota *quotas, size_t n, const QuotaUsage *used, const QuotaUsage *request,
                size_t *ret_index, uint64_t *ret_total);
